build-clang/io/crc32.o: io/crc32.c core/vae.h

core/vae.h:

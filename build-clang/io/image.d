build-clang/io/image.o: io/image.c core/internal.h core/vae.h \
  io/io_internal.h

core/internal.h:

core/vae.h:

io/io_internal.h:

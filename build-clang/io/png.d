build-clang/io/png.o: io/png.c core/internal.h core/vae.h \
  io/io_internal.h

core/internal.h:

core/vae.h:

io/io_internal.h:

build-clang/io/inflate.o: io/inflate.c core/internal.h core/vae.h \
  io/io_internal.h

core/internal.h:

core/vae.h:

io/io_internal.h:

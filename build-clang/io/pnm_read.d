build-clang/io/pnm_read.o: io/pnm_read.c core/internal.h core/vae.h \
  io/io_internal.h

core/internal.h:

core/vae.h:

io/io_internal.h:

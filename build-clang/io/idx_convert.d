build-clang/io/idx_convert.o: io/idx_convert.c core/internal.h core/vae.h \
  io/io_internal.h

core/internal.h:

core/vae.h:

io/io_internal.h:

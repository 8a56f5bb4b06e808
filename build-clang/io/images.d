build-clang/io/images.o: io/images.c core/internal.h core/vae.h \
  io/io_internal.h simd/kernels.h core/pool.h

core/internal.h:

core/vae.h:

io/io_internal.h:

simd/kernels.h:

core/pool.h:

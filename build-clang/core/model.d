build-clang/core/model.o: core/model.c simd/kernels.h core/model.h \
  core/internal.h core/vae.h core/pool.h

simd/kernels.h:

core/model.h:

core/internal.h:

core/vae.h:

core/pool.h:

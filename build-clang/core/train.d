build-clang/core/train.o: core/train.c simd/kernels.h core/model.h \
  core/internal.h core/vae.h

simd/kernels.h:

core/model.h:

core/internal.h:

core/vae.h:

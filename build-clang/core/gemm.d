build-clang/core/gemm.o: core/gemm.c core/internal.h core/vae.h \
  simd/kernels.h core/pool.h

core/internal.h:

core/vae.h:

simd/kernels.h:

core/pool.h:

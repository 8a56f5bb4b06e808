build-clang/simd/dispatch.o: simd/dispatch.c core/internal.h core/vae.h \
  simd/kernels.h

core/internal.h:

core/vae.h:

simd/kernels.h:

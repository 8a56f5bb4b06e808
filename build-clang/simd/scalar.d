build-clang/simd/scalar.o: simd/scalar.c simd/kernels.h core/vae.h

simd/kernels.h:

core/vae.h:

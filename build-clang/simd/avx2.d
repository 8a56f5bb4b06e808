build-clang/simd/avx2.o: simd/avx2.c simd/kernels.h simd/vec_avx2.h \
  simd/vec_x86.h simd/fused.h simd/vmath.h simd/vmath_test.h

simd/kernels.h:

simd/vec_avx2.h:

simd/vec_x86.h:

simd/fused.h:

simd/vmath.h:

simd/vmath_test.h:

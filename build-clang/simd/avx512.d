build-clang/simd/avx512.o: simd/avx512.c simd/kernels.h simd/vec_avx512.h \
  simd/vec_x86.h simd/fused.h simd/vmath.h simd/vmath_test.h

simd/kernels.h:

simd/vec_avx512.h:

simd/vec_x86.h:

simd/fused.h:

simd/vmath.h:

simd/vmath_test.h:

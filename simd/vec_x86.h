/* vec_x86.h - what vec_avx2.h and vec_avx512.h share: the store of a
 * vector's partial tail. */
#ifndef VAE_VEC_X86_H
#define VAE_VEC_X86_H

#include <immintrin.h>

/* Stores the first n < 8 lanes of a vector, given as its low and high
 * 128-bit halves, as 4, 2 and 1 lanes: plain stores of exactly the bytes
 * written. A masked store (vmaskmovps, or AVX-512's with an opmask) also
 * covers the lanes left out as far as the CPU's store-to-load checks go:
 * on Zen 5 a load of the next row's first vector then waits for it, and a
 * 40-column row takes 2 to 4 times as long. */
static inline void store_tail_xmm(float *p, int n, __m128 lo, __m128 hi)
{
    if (n & 4) {
        _mm_storeu_ps(p, lo);
        lo = hi;
        p += 4;
    }
    if (n & 2) {
        _mm_storel_epi64((__m128i *)p, _mm_castps_si128(lo));
        lo = _mm_movehl_ps(lo, lo);
        p += 2;
    }
    if (n & 1) _mm_store_ss(p, lo);
}

#endif /* VAE_VEC_X86_H */

/* vec_avx2.h - the vector primitives that simd/vmath.h and simd/fused.h are
 * written in, for AVX2 + FMA: 8 float lanes (vf), 8 uint32 lanes (vi) and
 * lane masks (vmask, all ones where true). Included only by simd/avx2.c,
 * which is compiled with -mavx2 -mfma. vec_avx512.h and vec_neon.h define
 * the same names for their ISA. */
#ifndef VAE_VEC_AVX2_H
#define VAE_VEC_AVX2_H

#include <immintrin.h>
#include <stdint.h>

#include "vec_x86.h"

#define VEC_ISA avx2
#define VEC_LANES 8

typedef __m256 vf;
typedef __m256i vi;
typedef __m256 vmask;

static inline vf vf_set1(float x) { return _mm256_set1_ps(x); }
static inline vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm256_storeu_ps(p, v); }

/* The mask of the first n lanes (0 <= n <= 8). */
static inline vmask vmask_first(int n)
{
    return _mm256_castsi256_ps(
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
}

/* The first min(n, 8) lanes (n >= 1) of p, the others 0: a plain load
 * for a whole vector, a masked one (which never touches the memory of the
 * lanes left out) for the tail; stores of the first min(n, 8) lanes write
 * exactly those (store_tail_xmm). */
static inline vf vf_load_upto(const float *p, int n)
{
    if (n >= VEC_LANES) return _mm256_loadu_ps(p);
    return _mm256_maskload_ps(p, _mm256_castps_si256(vmask_first(n)));
}
static inline void vf_store_upto(float *p, int n, vf v)
{
    if (n >= VEC_LANES) _mm256_storeu_ps(p, v);
    else store_tail_xmm(p, n, _mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
}

static inline vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm256_div_ps(a, b); }
static inline vf vf_sqrt(vf a) { return _mm256_sqrt_ps(a); }
static inline vf vf_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }   /* a*b + c */
static inline vf vf_fms(vf a, vf b, vf c) { return _mm256_fmsub_ps(a, b, c); }   /* a*b - c */
static inline vf vf_fnma(vf a, vf b, vf c) { return _mm256_fnmadd_ps(a, b, c); } /* c - a*b */
/* min and max return b where either is NaN (x86 semantics); vmath.h orders
 * its operands so that a NaN argument comes through. */
static inline vf vf_min(vf a, vf b) { return _mm256_min_ps(a, b); }
static inline vf vf_max(vf a, vf b) { return _mm256_max_ps(a, b); }

static inline vmask vf_gt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
static inline vmask vf_lt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
static inline vmask vf_ge(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
static inline vf vf_select(vmask m, vf a, vf b) { return _mm256_blendv_ps(b, a, m); } /* m ? a : b */
static inline vf vf_and_mask(vmask m, vf a) { return _mm256_and_ps(m, a); }          /* m ? a : 0 */

static inline vi vi_set1(uint32_t x) { return _mm256_set1_epi32((int)x); }
static inline vi vi_load(const uint32_t *p) { return _mm256_loadu_si256((const __m256i *)p); }
static inline void vi_store(uint32_t *p, vi v) { _mm256_storeu_si256((__m256i *)p, v); }
static inline vi vi_add(vi a, vi b) { return _mm256_add_epi32(a, b); }
static inline vi vi_sub(vi a, vi b) { return _mm256_sub_epi32(a, b); }
static inline vi vi_and(vi a, vi b) { return _mm256_and_si256(a, b); }
static inline vi vi_or(vi a, vi b) { return _mm256_or_si256(a, b); }
static inline vi vi_xor(vi a, vi b) { return _mm256_xor_si256(a, b); }
#define vi_shl(a, n) _mm256_slli_epi32(a, n)
#define vi_shr(a, n) _mm256_srli_epi32(a, n)
#define vi_sra(a, n) _mm256_srai_epi32(a, n)
/* Lanes where a & bits != 0; bits must leave the sign bit out. */
static inline vmask vi_test(vi a, vi bits)
{
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_and_si256(a, bits), _mm256_setzero_si256()));
}
static inline vi vf_as_vi(vf a) { return _mm256_castps_si256(a); }
static inline vf vi_as_vf(vi a) { return _mm256_castsi256_ps(a); }
/* Signed 32-bit integers to float. */
static inline vf vi_to_vf(vi a) { return _mm256_cvtepi32_ps(a); }
/* 8 bytes at p, as floats 0..255. */
static inline vf vf_from_bytes(const uint8_t *p)
{
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

/* The 64-bit products a * m of each lane, split into high and low words:
 * _mm256_mul_epu32 multiplies the even lanes; the odd lanes are shifted
 * down into even position for a second multiply. */
static inline void vi_mulhilo(vi a, vi m, vi *hi, vi *lo)
{
    __m256i even = _mm256_mul_epu32(a, m);
    __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    *hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
    *lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
}

/* The sum of the 8 lanes, always added in the same order:
 * ((0+4) + (2+6)) + ((1+5) + (3+7)). */
static inline float vf_sum(vf a)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* dst[4*i + k] = (a, b, c, d)[k] lane i, for i < 8: four vectors of one
 * value per lane to 8 runs of four. */
static inline void vf_store4_interleaved(float *dst, vf a, vf b, vf c, vf d)
{
    __m256 t0 = _mm256_unpacklo_ps(a, b), t1 = _mm256_unpackhi_ps(a, b);
    __m256 t2 = _mm256_unpacklo_ps(c, d), t3 = _mm256_unpackhi_ps(c, d);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE); /* lanes 0|4, 1|5 */
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE); /* lanes 2|6, 3|7 */
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps(u0, u1, 0x20));
    _mm256_storeu_ps(dst + 8, _mm256_permute2f128_ps(u2, u3, 0x20));
    _mm256_storeu_ps(dst + 16, _mm256_permute2f128_ps(u0, u1, 0x31));
    _mm256_storeu_ps(dst + 24, _mm256_permute2f128_ps(u2, u3, 0x31));
}

#endif /* VAE_VEC_AVX2_H */

/* vec_avx512.h - the vector primitives of simd/vmath.h and simd/fused.h for
 * AVX-512F: 16 float lanes (vf), 16 uint32 lanes (vi) and opmask registers
 * (vmask). Included only by simd/avx512.c (-mavx512f -mavx2 -mfma); uses
 * AVX-512F instructions only (no DQ, BW or VL), which is all the dispatch
 * checks for. Same names as vec_avx2.h. */
#ifndef VAE_VEC_AVX512_H
#define VAE_VEC_AVX512_H

#include <immintrin.h>
#include <stdint.h>

#include "vec_x86.h"

#define VEC_ISA avx512
#define VEC_LANES 16

typedef __m512 vf;
typedef __m512i vi;
typedef __mmask16 vmask;

static inline vf vf_set1(float x) { return _mm512_set1_ps(x); }
static inline vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
static inline void vf_store(float *p, vf v) { _mm512_storeu_ps(p, v); }

/* The mask of the first n lanes (all for n >= 16). */
static inline vmask vmask_first(int n)
{
    return n >= VEC_LANES ? (vmask)0xFFFF : n <= 0 ? (vmask)0 : (vmask)((1u << n) - 1);
}

/* The first min(n, 16) lanes (n >= 1) of p, the others 0: one masked load,
 * which never touches the memory of the lanes left out; stores of the
 * first min(n, 16) lanes write exactly those. */
static inline vf vf_load_upto(const float *p, int n) { return _mm512_maskz_loadu_ps(vmask_first(n), p); }
static inline void vf_store_upto(float *p, int n, vf v)
{
    if (n >= VEC_LANES) {
        _mm512_storeu_ps(p, v);
        return;
    }
    __m256 half = _mm512_castps512_ps256(v);
    if (n & 8) {
        _mm256_storeu_ps(p, half);
        half = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
        p += 8;
    }
    store_tail_xmm(p, n & 7, _mm256_castps256_ps128(half), _mm256_extractf128_ps(half, 1));
}

static inline vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
static inline vf vf_sqrt(vf a) { return _mm512_sqrt_ps(a); }
static inline vf vf_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }   /* a*b + c */
static inline vf vf_fms(vf a, vf b, vf c) { return _mm512_fmsub_ps(a, b, c); }   /* a*b - c */
static inline vf vf_fnma(vf a, vf b, vf c) { return _mm512_fnmadd_ps(a, b, c); } /* c - a*b */
/* min and max return b where either is NaN, as on AVX2. */
static inline vf vf_min(vf a, vf b) { return _mm512_min_ps(a, b); }
static inline vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }

static inline vmask vf_gt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
static inline vmask vf_lt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
static inline vmask vf_ge(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
static inline vf vf_select(vmask m, vf a, vf b) { return _mm512_mask_blend_ps(m, b, a); } /* m ? a : b */
static inline vf vf_and_mask(vmask m, vf a) { return _mm512_maskz_mov_ps(m, a); }        /* m ? a : 0 */

static inline vi vi_set1(uint32_t x) { return _mm512_set1_epi32((int)x); }
static inline vi vi_load(const uint32_t *p) { return _mm512_loadu_si512(p); }
static inline void vi_store(uint32_t *p, vi v) { _mm512_storeu_si512(p, v); }
static inline vi vi_add(vi a, vi b) { return _mm512_add_epi32(a, b); }
static inline vi vi_sub(vi a, vi b) { return _mm512_sub_epi32(a, b); }
static inline vi vi_and(vi a, vi b) { return _mm512_and_si512(a, b); }
static inline vi vi_or(vi a, vi b) { return _mm512_or_si512(a, b); }
static inline vi vi_xor(vi a, vi b) { return _mm512_xor_si512(a, b); }
#define vi_shl(a, n) _mm512_slli_epi32(a, n)
#define vi_shr(a, n) _mm512_srli_epi32(a, n)
#define vi_sra(a, n) _mm512_srai_epi32(a, n)
/* Lanes where a & bits != 0. */
static inline vmask vi_test(vi a, vi bits) { return _mm512_test_epi32_mask(a, bits); }
static inline vi vf_as_vi(vf a) { return _mm512_castps_si512(a); }
static inline vf vi_as_vf(vi a) { return _mm512_castsi512_ps(a); }
/* Signed 32-bit integers to float. */
static inline vf vi_to_vf(vi a) { return _mm512_cvtepi32_ps(a); }
/* 16 bytes at p, as floats 0..255. */
static inline vf vf_from_bytes(const uint8_t *p)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p)));
}

/* The 64-bit products a * m of each lane, split into high and low words
 * (_mm512_mul_epu32 on the even lanes, then on the odd ones shifted down). */
static inline void vi_mulhilo(vi a, vi m, vi *hi, vi *lo)
{
    __m512i even = _mm512_mul_epu32(a, m);
    __m512i odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    *hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
    *lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
}

/* The sum of the 16 lanes, always added in the same order: halves, then
 * quarters, then as vf_sum of AVX2 on the 4 remaining lanes. */
static inline float vf_sum(vf a)
{
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(a),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* dst[4*i + k] = (a, b, c, d)[k] lane i, for i < 16: a 4 x 4 transpose in
 * each 128-bit lane, then the lanes put in order. */
static inline void vf_store4_interleaved(float *dst, vf a, vf b, vf c, vf d)
{
    __m512 t0 = _mm512_unpacklo_ps(a, b), t1 = _mm512_unpackhi_ps(a, b);
    __m512 t2 = _mm512_unpacklo_ps(c, d), t3 = _mm512_unpackhi_ps(c, d);
    __m512 u0 = _mm512_shuffle_ps(t0, t2, 0x44), u1 = _mm512_shuffle_ps(t0, t2, 0xEE); /* runs 0,4,8,12; 1,5,.. */
    __m512 u2 = _mm512_shuffle_ps(t1, t3, 0x44), u3 = _mm512_shuffle_ps(t1, t3, 0xEE); /* runs 2,6,..; 3,7,.. */
    __m512 v0 = _mm512_shuffle_f32x4(u0, u1, 0x44), v1 = _mm512_shuffle_f32x4(u2, u3, 0x44); /* 0 4 1 5; 2 6 3 7 */
    __m512 v2 = _mm512_shuffle_f32x4(u0, u1, 0xEE), v3 = _mm512_shuffle_f32x4(u2, u3, 0xEE);
    _mm512_storeu_ps(dst, _mm512_shuffle_f32x4(v0, v1, 0x88));
    _mm512_storeu_ps(dst + 16, _mm512_shuffle_f32x4(v0, v1, 0xDD));
    _mm512_storeu_ps(dst + 32, _mm512_shuffle_f32x4(v2, v3, 0x88));
    _mm512_storeu_ps(dst + 48, _mm512_shuffle_f32x4(v2, v3, 0xDD));
}

#endif /* VAE_VEC_AVX512_H */

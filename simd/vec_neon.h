/* vec_neon.h - the vector primitives of simd/vmath.h and simd/fused.h for
 * AArch64 Advanced SIMD (NEON, the baseline of every aarch64 CPU): 4 float
 * lanes (vf), 4 uint32 lanes (vi) and lane masks (vmask, all ones where
 * true). Included only by simd/neon.c. Same names as vec_avx2.h. */
#ifndef VAE_VEC_NEON_H
#define VAE_VEC_NEON_H

#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

#define VEC_ISA neon
#define VEC_LANES 4

typedef float32x4_t vf;
typedef uint32x4_t vi;
typedef uint32x4_t vmask;

static inline vf vf_set1(float x) { return vdupq_n_f32(x); }
static inline vf vf_load(const float *p) { return vld1q_f32(p); }
static inline void vf_store(float *p, vf v) { vst1q_f32(p, v); }

/* The mask of the first n lanes (0 <= n <= 4). */
static inline vmask vmask_first(int n)
{
    static const uint32_t iota[4] = {0, 1, 2, 3};
    return vcltq_u32(vld1q_u32(iota), vdupq_n_u32((uint32_t)n));
}

/* The first min(n, 4) lanes (n >= 1) of p, the others 0; the tail goes
 * through a small buffer, so memory past the n values is never touched. */
static inline vf vf_load_upto(const float *p, int n)
{
    if (n >= VEC_LANES) return vld1q_f32(p);
    float buf[VEC_LANES] = {0};
    memcpy(buf, p, sizeof(float) * (size_t)n);
    return vld1q_f32(buf);
}
static inline void vf_store_upto(float *p, int n, vf v)
{
    if (n >= VEC_LANES) {
        vst1q_f32(p, v);
        return;
    }
    float buf[VEC_LANES];
    vst1q_f32(buf, v);
    memcpy(p, buf, sizeof(float) * (size_t)n);
}

static inline vf vf_add(vf a, vf b) { return vaddq_f32(a, b); }
static inline vf vf_sub(vf a, vf b) { return vsubq_f32(a, b); }
static inline vf vf_mul(vf a, vf b) { return vmulq_f32(a, b); }
static inline vf vf_div(vf a, vf b) { return vdivq_f32(a, b); }
static inline vf vf_sqrt(vf a) { return vsqrtq_f32(a); }
static inline vf vf_fma(vf a, vf b, vf c) { return vfmaq_f32(c, a, b); }             /* a*b + c */
static inline vf vf_fms(vf a, vf b, vf c) { return vnegq_f32(vfmsq_f32(c, a, b)); } /* a*b - c */
static inline vf vf_fnma(vf a, vf b, vf c) { return vfmsq_f32(c, a, b); }           /* c - a*b */
/* min and max return NaN where either is NaN. */
static inline vf vf_min(vf a, vf b) { return vminq_f32(a, b); }
static inline vf vf_max(vf a, vf b) { return vmaxq_f32(a, b); }

static inline vmask vf_gt(vf a, vf b) { return vcgtq_f32(a, b); }
static inline vmask vf_lt(vf a, vf b) { return vcltq_f32(a, b); }
static inline vmask vf_ge(vf a, vf b) { return vcgeq_f32(a, b); }
static inline vf vf_select(vmask m, vf a, vf b) { return vbslq_f32(m, a, b); } /* m ? a : b */
static inline vf vf_and_mask(vmask m, vf a)                                    /* m ? a : 0 */
{
    return vreinterpretq_f32_u32(vandq_u32(m, vreinterpretq_u32_f32(a)));
}

static inline vi vi_set1(uint32_t x) { return vdupq_n_u32(x); }
static inline vi vi_load(const uint32_t *p) { return vld1q_u32(p); }
static inline void vi_store(uint32_t *p, vi v) { vst1q_u32(p, v); }
static inline vi vi_add(vi a, vi b) { return vaddq_u32(a, b); }
static inline vi vi_sub(vi a, vi b) { return vsubq_u32(a, b); }
static inline vi vi_and(vi a, vi b) { return vandq_u32(a, b); }
static inline vi vi_or(vi a, vi b) { return vorrq_u32(a, b); }
static inline vi vi_xor(vi a, vi b) { return veorq_u32(a, b); }
#define vi_shl(a, n) vshlq_n_u32(a, n)
#define vi_shr(a, n) vshrq_n_u32(a, n)
#define vi_sra(a, n) vreinterpretq_u32_s32(vshrq_n_s32(vreinterpretq_s32_u32(a), n))
/* Lanes where a & bits != 0. */
static inline vmask vi_test(vi a, vi bits) { return vtstq_u32(a, bits); }
static inline vi vf_as_vi(vf a) { return vreinterpretq_u32_f32(a); }
static inline vf vi_as_vf(vi a) { return vreinterpretq_f32_u32(a); }
/* Signed 32-bit integers to float. */
static inline vf vi_to_vf(vi a) { return vcvtq_f32_s32(vreinterpretq_s32_u32(a)); }
/* 4 bytes at p, as floats 0..255. */
static inline vf vf_from_bytes(const uint8_t *p)
{
    uint32_t word;
    memcpy(&word, p, 4);
    return vcvtq_f32_u32(vmovl_u16(vget_low_u16(vmovl_u8(vcreate_u8(word)))));
}

/* The 64-bit products a * m of each lane, split into high and low words:
 * vmull_u32 on the low and the high pair, then the words unzipped. */
static inline void vi_mulhilo(vi a, vi m, vi *hi, vi *lo)
{
    uint32x4_t p01 = vreinterpretq_u32_u64(vmull_u32(vget_low_u32(a), vget_low_u32(m)));
    uint32x4_t p23 = vreinterpretq_u32_u64(vmull_high_u32(a, m));
    *lo = vuzp1q_u32(p01, p23);
    *hi = vuzp2q_u32(p01, p23);
}

/* The sum of the 4 lanes, always added in the same order: (0+2) + (1+3),
 * as the last steps of vf_sum on AVX2. */
static inline float vf_sum(vf a)
{
    float32x2_t s = vadd_f32(vget_low_f32(a), vget_high_f32(a));
    return vget_lane_f32(s, 0) + vget_lane_f32(s, 1);
}

/* dst[4*i + k] = (a, b, c, d)[k] lane i, for i < 4 (ST4 interleaves). */
static inline void vf_store4_interleaved(float *dst, vf a, vf b, vf c, vf d)
{
    float32x4x4_t v = {{a, b, c, d}};
    vst4q_f32(dst, v);
}

#endif /* VAE_VEC_NEON_H */

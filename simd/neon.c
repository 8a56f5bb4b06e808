/* neon.c - kernels for aarch64 with Advanced SIMD (NEON). NEON is part of the
 * AArch64 baseline, so this file needs no extra compiler flags and its table
 * is usable on every aarch64 CPU. Kernels this file leaves NULL in its table
 * (the packing, the transposed tile store) come from scalar.c. */
#include <arm_neon.h>

#include "kernels.h"

/* The fused element-wise kernels (bias_act_forward_neon, ...) and the test
 * hooks vae_vmath_neon: simd/fused.h on the NEON vectors of vec_neon.h. */
#include "vec_neon.h"
#include "fused.h"

/* ------------------------------------------------------------------ GEMM */

/* 8 x 12 register tile (BLIS's armv8a kernel shape): 24 q-register
 * accumulators, 2 q-registers of A and 3 of B per k step, 29 of the 32
 * vector registers. Each A value is used in place with a by-lane FMA, so A
 * needs no broadcasts: 24 FMAs per 5 loads. */
#define NEON_MR 8
#define NEON_NR 12

/* Row i of the tile: c_i0, c_i1, c_i2 += a[i] * (b[0:4], b[4:8], b[8:12]),
 * a[i] being lane `lane` of the A vector `av`. */
#define ROW_FMA(i, av, lane)                                  \
    do {                                                      \
        c##i##0 = vfmaq_laneq_f32(c##i##0, b0, av, lane);     \
        c##i##1 = vfmaq_laneq_f32(c##i##1, b1, av, lane);     \
        c##i##2 = vfmaq_laneq_f32(c##i##2, b2, av, lane);     \
    } while (0)

/* Stores alpha * (x0 | x1 | x2) + beta * C to the 12 floats at cr, without
 * reading C when beta == 0. */
static inline void store_row(float *cr, float32x4_t x0, float32x4_t x1, float32x4_t x2, float alpha,
                             float beta)
{
    x0 = vmulq_n_f32(x0, alpha);
    x1 = vmulq_n_f32(x1, alpha);
    x2 = vmulq_n_f32(x2, alpha);
    if (beta != 0.0f) {
        x0 = vfmaq_n_f32(x0, vld1q_f32(cr), beta);
        x1 = vfmaq_n_f32(x1, vld1q_f32(cr + 4), beta);
        x2 = vfmaq_n_f32(x2, vld1q_f32(cr + 8), beta);
    }
    vst1q_f32(cr, x0);
    vst1q_f32(cr + 4, x1);
    vst1q_f32(cr + 8, x2);
}

/* C[0:m, 0:n] = alpha * A_panel * B_panel + beta * C  (see kernels.h).
 * Full tiles are stored straight from the registers; edge tiles go through a
 * local tile and vae_store_tile_corner, which writes only the m x n corner. */
static void gemm_microkernel_neon(int m, int n, int kc, const float *a, const float *b, float *c, int ldc,
                                  float alpha, float beta)
{
    float32x4_t z = vdupq_n_f32(0.0f);
    float32x4_t c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z, c20 = z, c21 = z, c22 = z;
    float32x4_t c30 = z, c31 = z, c32 = z, c40 = z, c41 = z, c42 = z, c50 = z, c51 = z, c52 = z;
    float32x4_t c60 = z, c61 = z, c62 = z, c70 = z, c71 = z, c72 = z;
    for (int p = 0; p < kc; p++) {
        float32x4_t a0 = vld1q_f32(a), a1 = vld1q_f32(a + 4);
        float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), b2 = vld1q_f32(b + 8);
        ROW_FMA(0, a0, 0); ROW_FMA(1, a0, 1); ROW_FMA(2, a0, 2); ROW_FMA(3, a0, 3);
        ROW_FMA(4, a1, 0); ROW_FMA(5, a1, 1); ROW_FMA(6, a1, 2); ROW_FMA(7, a1, 3);
        a += NEON_MR;
        b += NEON_NR;
    }
    int full = m == NEON_MR && n == NEON_NR;
    float tile[NEON_MR * NEON_NR];
    float *dst = full ? c : tile;
    int ld = full ? ldc : NEON_NR;
    float beta_dst = full ? beta : 0.0f;
#define STORE_ROW(i) store_row(dst + (size_t)(i) * ld, c##i##0, c##i##1, c##i##2, alpha, beta_dst)
    STORE_ROW(0); STORE_ROW(1); STORE_ROW(2); STORE_ROW(3);
    STORE_ROW(4); STORE_ROW(5); STORE_ROW(6); STORE_ROW(7);
#undef STORE_ROW
    if (!full) vae_store_tile_corner(m, n, tile, NEON_NR, c, ldc, beta);
}

const vae_kernels vae_kernels_neon = {
    .name = "neon",
    /* A block of 128 x 256 floats (128 KiB) for L2, a B panel of
     * 256 x 3072 (3 MiB) for the last-level cache; 128 is a multiple of MR,
     * 3072 of NR, and a 12-column B sliver of 256 rows (12 KiB) stays in L1. */
    .mr = NEON_MR, .nr = NEON_NR, .mc = 128, .kc = 256, .nc = 3072,
    .gemm_microkernel = gemm_microkernel_neon,
    .bias_act_forward = bias_act_forward_neon,
    .act_backward = act_backward_neon,
    .bias_grad = bias_grad_neon,
    .reparam_kl_forward = reparam_kl_forward_neon,
    .reparam_kl_backward = reparam_kl_backward_neon,
    .bernoulli_loss = bernoulli_loss_neon,
    .gaussian_loss = gaussian_loss_neon,
    .adam_update = adam_update_neon,
    .bytes_to_unit = bytes_to_unit_neon,
};

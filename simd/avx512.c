/* avx512.c - kernels for x86-64 with AVX-512F (Skylake-SP and later, Zen 4/5).
 * Compiled with -mavx512f -mavx2 -mfma and reached only through the kernel
 * table. Kernels this file leaves NULL in its table come from scalar.c. */
#include <immintrin.h>

#include "kernels.h"

/* The fused element-wise kernels (bias_act_forward_avx512, ...): simd/fused.h
 * on the AVX-512 vectors of vec_avx512.h. */
#include "vec_avx512.h"
#include "fused.h"

/* ------------------------------------------------------------------ GEMM */

/* 10 x 32 register tile: 20 zmm accumulators, 2 zmm of B, broadcasts of A
 * folded into the FMAs; 20 FMAs per k step, more than the 8 in flight that
 * two 4-cycle FMA pipes need. Ten rows (not twelve) divide the VAE's thin
 * 20- and 40-wide layers exactly and waste 2 of 130 rows at a batch of 128. */
#define AVX512_MR 10
#define AVX512_NR 32

#define ROW_FMA(i)                                            \
    do {                                                      \
        __m512 ai = _mm512_set1_ps(a[i]);                     \
        c##i##a = _mm512_fmadd_ps(ai, b0, c##i##a);           \
        c##i##b = _mm512_fmadd_ps(ai, b1, c##i##b);           \
    } while (0)

/* Stores row i of the tile: alpha * acc (+ beta * C), masked to n columns. */
static inline void store_row(float *cr, __m512 lo, __m512 hi, __m512 va, __m512 vb, float beta,
                             __mmask16 mask_lo, __mmask16 mask_hi)
{
    lo = _mm512_mul_ps(va, lo);
    hi = _mm512_mul_ps(va, hi);
    if (beta != 0.0f) {
        lo = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask_lo, cr), lo);
        hi = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask_hi, cr + 16), hi);
    }
    _mm512_mask_storeu_ps(cr, mask_lo, lo);
    _mm512_mask_storeu_ps(cr + 16, mask_hi, hi);
}

/* The mask of the first n of 16 lanes (all for n >= 16, none for n <= 0). */
static inline __mmask16 first_lanes(int n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* The left half of the tile, for n <= 16: 10 x 16, ten accumulators, half
 * the FMAs of the whole tile. The frame's last tile of a row of tiles is
 * often half wide (the VAE's 400 and 784 are 12.5 and 24.5 tiles), and it
 * splits columns between threads in half tiles; this kernel makes such a
 * tile cost half a tile. Element (i, p) of A is a[i * rs_a + p * cs_a]
 * (rs_a = 1, cs_a = MR for a packed panel); rows past m repeat row m - 1,
 * as in the A-in-place kernel. Each element sums its products in the same
 * order as the whole tile does, so the bits are the same. */
static void gemm_microkernel_half_avx512(int m, int n, int kc, const float *a, int rs_a, int cs_a,
                                         const float *b, float *c, int ldc, float alpha, float beta)
{
    const float *a_row[AVX512_MR];
    for (int i = 0; i < AVX512_MR; i++) a_row[i] = a + (size_t)(i < m ? i : m - 1) * (size_t)rs_a;
    const float *r0 = a_row[0], *r1 = a_row[1], *r2 = a_row[2], *r3 = a_row[3], *r4 = a_row[4];
    const float *r5 = a_row[5], *r6 = a_row[6], *r7 = a_row[7], *r8 = a_row[8], *r9 = a_row[9];
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0,
           c9 = c0;
    for (size_t q = 0, step = (size_t)cs_a, end = (size_t)kc * step; q < end; q += step) {
        __m512 b0 = _mm512_loadu_ps(b);
        c0 = _mm512_fmadd_ps(_mm512_set1_ps(r0[q]), b0, c0);
        c1 = _mm512_fmadd_ps(_mm512_set1_ps(r1[q]), b0, c1);
        c2 = _mm512_fmadd_ps(_mm512_set1_ps(r2[q]), b0, c2);
        c3 = _mm512_fmadd_ps(_mm512_set1_ps(r3[q]), b0, c3);
        c4 = _mm512_fmadd_ps(_mm512_set1_ps(r4[q]), b0, c4);
        c5 = _mm512_fmadd_ps(_mm512_set1_ps(r5[q]), b0, c5);
        c6 = _mm512_fmadd_ps(_mm512_set1_ps(r6[q]), b0, c6);
        c7 = _mm512_fmadd_ps(_mm512_set1_ps(r7[q]), b0, c7);
        c8 = _mm512_fmadd_ps(_mm512_set1_ps(r8[q]), b0, c8);
        c9 = _mm512_fmadd_ps(_mm512_set1_ps(r9[q]), b0, c9);
        b += AVX512_NR;
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __mmask16 mask = first_lanes(n);
    __m512 rows[AVX512_MR] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9};
    for (int i = 0; i < m; i++) {
        float *cr = c + (size_t)i * ldc;
        __m512 v = _mm512_mul_ps(va, rows[i]);
        if (beta != 0.0f) v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(mask, cr), v);
        _mm512_mask_storeu_ps(cr, mask, v);
    }
}

/* C[0:m, 0:n] = alpha * A_panel * B_panel + beta * C  (see kernels.h).
 * Edge columns use masked loads and stores, edge rows are not stored. */
static void gemm_microkernel_avx512(int m, int n, int kc, const float *a, const float *b, float *c,
                                    int ldc, float alpha, float beta)
{
    if (n <= AVX512_NR / 2) {
        gemm_microkernel_half_avx512(m, n, kc, a, 1, AVX512_MR, b, c, ldc, alpha, beta);
        return;
    }
    /* C is read (or written) only after the k loop: start its lines on
     * their way from memory now, so the loop hides the latency. */
    for (int i = 0; i < m; i++) {
        _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)i * ldc + AVX512_NR - 1), _MM_HINT_T0);
    }
    __m512 z = _mm512_setzero_ps();
    __m512 c0a = z, c0b = z, c1a = z, c1b = z, c2a = z, c2b = z, c3a = z, c3b = z, c4a = z, c4b = z;
    __m512 c5a = z, c5b = z, c6a = z, c6b = z, c7a = z, c7b = z, c8a = z, c8b = z, c9a = z, c9b = z;
    for (int p = 0; p < kc; p++) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
        ROW_FMA(0); ROW_FMA(1); ROW_FMA(2); ROW_FMA(3); ROW_FMA(4);
        ROW_FMA(5); ROW_FMA(6); ROW_FMA(7); ROW_FMA(8); ROW_FMA(9);
        a += AVX512_MR;
        b += AVX512_NR;
    }
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __mmask16 mask_lo = first_lanes(n), mask_hi = first_lanes(n - 16);
    __m512 rows[AVX512_MR][2] = {{c0a, c0b}, {c1a, c1b}, {c2a, c2b}, {c3a, c3b}, {c4a, c4b},
                                 {c5a, c5b}, {c6a, c6b}, {c7a, c7b}, {c8a, c8b}, {c9a, c9b}};
    for (int i = 0; i < m; i++)
        store_row(c + (size_t)i * ldc, rows[i][0], rows[i][1], va, vb, beta, mask_lo, mask_hi);
}

/* The tile of gemm_microkernel_avx512 with A in place (see kernels.h):
 * a_row[i] walks row i of the tile's A, cs_a floats a step. Rows past m
 * repeat row m - 1 (computed, never stored), so no row past A is read. */
static void gemm_microkernel_a_strided_avx512(int m, int n, int kc, const float *a, int rs_a, int cs_a,
                                              const float *b, float *c, int ldc, float alpha, float beta)
{
    if (n <= AVX512_NR / 2) {
        gemm_microkernel_half_avx512(m, n, kc, a, rs_a, cs_a, b, c, ldc, alpha, beta);
        return;
    }
    for (int i = 0; i < m; i++) {
        _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)i * ldc + AVX512_NR - 1), _MM_HINT_T0);
    }
    const float *a_row[AVX512_MR];
    for (int i = 0; i < AVX512_MR; i++) a_row[i] = a + (size_t)(i < m ? i : m - 1) * (size_t)rs_a;
    __m512 z = _mm512_setzero_ps();
    __m512 c0a = z, c0b = z, c1a = z, c1b = z, c2a = z, c2b = z, c3a = z, c3b = z, c4a = z, c4b = z;
    __m512 c5a = z, c5b = z, c6a = z, c6b = z, c7a = z, c7b = z, c8a = z, c8b = z, c9a = z, c9b = z;
#define ROW_FMA_AT(i, x)                                      \
    do {                                                      \
        __m512 ai = _mm512_set1_ps(x);                        \
        c##i##a = _mm512_fmadd_ps(ai, b0, c##i##a);           \
        c##i##b = _mm512_fmadd_ps(ai, b1, c##i##b);           \
    } while (0)
    if (cs_a == 1) {
        /* A not transposed: ten rows, each read left to right. */
        const float *r0 = a_row[0], *r1 = a_row[1], *r2 = a_row[2], *r3 = a_row[3], *r4 = a_row[4];
        const float *r5 = a_row[5], *r6 = a_row[6], *r7 = a_row[7], *r8 = a_row[8], *r9 = a_row[9];
        for (int p = 0; p < kc; p++) {
            __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
            ROW_FMA_AT(0, r0[p]); ROW_FMA_AT(1, r1[p]); ROW_FMA_AT(2, r2[p]); ROW_FMA_AT(3, r3[p]);
            ROW_FMA_AT(4, r4[p]); ROW_FMA_AT(5, r5[p]); ROW_FMA_AT(6, r6[p]); ROW_FMA_AT(7, r7[p]);
            ROW_FMA_AT(8, r8[p]); ROW_FMA_AT(9, r9[p]);
            b += AVX512_NR;
        }
    } else {
        /* A transposed: a step's ten values lie side by side (at offsets
         * off[i], 0..9 when m is whole), steps cs_a apart. */
        size_t off[AVX512_MR];
        for (int i = 0; i < AVX512_MR; i++) off[i] = (size_t)(a_row[i] - a);
        for (int p = 0; p < kc; p++, a += cs_a) {
            __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
            ROW_FMA_AT(0, a[off[0]]); ROW_FMA_AT(1, a[off[1]]); ROW_FMA_AT(2, a[off[2]]);
            ROW_FMA_AT(3, a[off[3]]); ROW_FMA_AT(4, a[off[4]]); ROW_FMA_AT(5, a[off[5]]);
            ROW_FMA_AT(6, a[off[6]]); ROW_FMA_AT(7, a[off[7]]); ROW_FMA_AT(8, a[off[8]]);
            ROW_FMA_AT(9, a[off[9]]);
            b += AVX512_NR;
        }
    }
#undef ROW_FMA_AT
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    __mmask16 mask_lo = first_lanes(n), mask_hi = first_lanes(n - 16);
    __m512 rows[AVX512_MR][2] = {{c0a, c0b}, {c1a, c1b}, {c2a, c2b}, {c3a, c3b}, {c4a, c4b},
                                 {c5a, c5b}, {c6a, c6b}, {c7a, c7b}, {c8a, c8b}, {c9a, c9b}};
    for (int i = 0; i < m; i++)
        store_row(c + (size_t)i * ldc, rows[i][0], rows[i][1], va, vb, beta, mask_lo, mask_hi);
}

/* ------------------------------------------------------------- packing */

/* Transposes the 16 x 16 block held in r[0..15] (row i in r[i]) in place:
 * afterwards r[j] holds column j. Four rounds of shuffles, 64 in all. */
static inline void transpose16x16(__m512 r[16])
{
    __m512 t[16], u[16];
    #pragma GCC unroll 16
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);     /* a0 b0 a1 b1 per 128-bit lane */
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]); /* a2 b2 a3 b3 */
    }
    #pragma GCC unroll 16
    for (int i = 0; i < 16; i += 4) {
        __m512d t0 = _mm512_castps_pd(t[i]), t1 = _mm512_castps_pd(t[i + 1]);
        __m512d t2 = _mm512_castps_pd(t[i + 2]), t3 = _mm512_castps_pd(t[i + 3]);
        u[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(t0, t2));     /* column 0 of 4 rows, per lane */
        u[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(t0, t2)); /* column 1 */
        u[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(t1, t3)); /* column 2 */
        u[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(t1, t3)); /* column 3 */
    }
    /* u[4g + c] lane l holds column 4l + c of rows 4g..4g+3. */
    #pragma GCC unroll 16
    for (int c = 0; c < 4; c++) {
        __m512 v0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);      /* cols c, c+8 of rows 0-7 */
        __m512 v1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xDD);      /* cols c+4, c+12 */
        __m512 v2 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88); /* same for rows 8-15 */
        __m512 v3 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xDD);
        r[c] = _mm512_shuffle_f32x4(v0, v2, 0x88);
        r[c + 8] = _mm512_shuffle_f32x4(v0, v2, 0xDD);
        r[c + 4] = _mm512_shuffle_f32x4(v1, v3, 0x88);
        r[c + 12] = _mm512_shuffle_f32x4(v1, v3, 0xDD);
    }
}

/* dst[p * width + r] = src[p * ld + r] for r < count (zero up to width), p < kc:
 * masked 16-float moves. */
static void pack_copied_avx512(const float *src, int ld, int count, int kc, int width, float *dst)
{
    for (int r0 = 0; r0 < width; r0 += 16) {
        __mmask16 load_mask = first_lanes(count - r0), store_mask = first_lanes(width - r0);
        for (int p = 0; p < kc; p++)
            _mm512_mask_storeu_ps(dst + (size_t)p * width + r0, store_mask,
                                  _mm512_maskz_loadu_ps(load_mask, src + (size_t)p * ld + r0));
    }
}

/* C[j][i] = tile[i][j] (+ beta * C[j][i]) for i < m, j < n: the tile (rows
 * ld_tile apart, at most 16 x 32) is transposed 16 x 16 at a time in
 * registers, and each column goes out as one masked store of m values. */
static void store_tile_transposed_avx512(int m, int n, const float *tile, int ld_tile, float *c, int ldc,
                                         float beta)
{
    __mmask16 row_mask = first_lanes(m);
    __m512 vb = _mm512_set1_ps(beta);
    for (int j0 = 0; j0 < n; j0 += 16) {
        __m512 r[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++)
            r[i] = i < m ? _mm512_maskz_loadu_ps(first_lanes(n - j0), tile + (size_t)i * ld_tile + j0)
                         : _mm512_setzero_ps();
        transpose16x16(r);
#pragma GCC unroll 16
        for (int q = 0; q < 16; q++) {
            if (j0 + q >= n) break;
            float *crow = c + (size_t)(j0 + q) * ldc;
            __m512 v = r[q];
            if (beta != 0.0f) v = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(row_mask, crow), v);
            _mm512_mask_storeu_ps(crow, row_mask, v);
        }
    }
}

const vae_kernels vae_kernels_avx512 = {
    .name = "avx512",
    .mr = AVX512_MR, .nr = AVX512_NR, .mc = 240, .kc = 256, .nc = 4096, .half_tiles = 1,
    .gemm_microkernel = gemm_microkernel_avx512,
    .gemm_microkernel_a_strided = gemm_microkernel_a_strided_avx512,
    .pack_copied = pack_copied_avx512,
    .pack_transposed = vae_pack_transposed_avx2, /* see kernels.h */
    .store_tile_transposed = store_tile_transposed_avx512,
    .bias_act_forward = bias_act_forward_avx512,
    .act_backward = act_backward_avx512,
    .bias_grad = bias_grad_avx512,
    .reparam_kl_forward = reparam_kl_forward_avx512,
    .reparam_kl_backward = reparam_kl_backward_avx512,
    .bernoulli_loss = bernoulli_loss_avx512,
    .gaussian_loss = gaussian_loss_avx512,
    .adam_update = adam_update_avx512,
    .bytes_to_unit = bytes_to_unit_avx512,
};

/* avx2.c - kernels for x86-64 with AVX2 and FMA (Haswell and later, Zen).
 * Compiled with -mavx2 -mfma and reached only through the kernel table, so
 * the rest of the program runs on any x86-64 CPU. Kernels this file leaves
 * NULL in its table come from scalar.c. */
#include <immintrin.h>

#include "kernels.h"

/* The fused element-wise kernels (bias_act_forward_avx2, ...): simd/fused.h
 * on the AVX2 vectors of vec_avx2.h; bias + activation 4 rows at a time
 * (measured faster here, see bias_act_rows). */
#define BIAS_ROWS 4
#include "vec_avx2.h"
#include "fused.h"

/* ------------------------------------------------------------------ GEMM */

/* 6 x 16 register tile (BLIS haswell): 12 ymm accumulators, 2 ymm of B and
 * one broadcast of A per row; 12 FMAs per k step cover the FMA latency of
 * two pipes. */
#define AVX2_MR 6
#define AVX2_NR 16

/* Rows i of the tile: acc[2*i], acc[2*i+1] += a[i] * (b[0:8], b[8:16]). */
#define ROW_FMA(i)                                            \
    do {                                                      \
        __m256 ai = _mm256_broadcast_ss(a + (i));             \
        c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);           \
        c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);           \
    } while (0)

/* C[0:m, 0:n] = alpha * A_panel * B_panel + beta * C  (see kernels.h) */
static void gemm_microkernel_avx2(int m, int n, int kc, const float *a, const float *b, float *c,
                                  int ldc, float alpha, float beta)
{
    /* C is read (or written) only after the k loop: start its lines on
     * their way from memory now, so the loop hides the latency. */
    for (int i = 0; i < m; i++) {
        _mm_prefetch((const char *)(c + (size_t)i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + (size_t)i * ldc + AVX2_NR - 1), _MM_HINT_T0);
    }
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int p = 0; p < kc; p++) {
        __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        ROW_FMA(0); ROW_FMA(1); ROW_FMA(2); ROW_FMA(3); ROW_FMA(4); ROW_FMA(5);
        a += AVX2_MR;
        b += AVX2_NR;
    }
    __m256 rows[AVX2_MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    if (m == AVX2_MR && n == AVX2_NR) {
        for (int i = 0; i < AVX2_MR; i++) {
            float *cr = c + (size_t)i * ldc;
            __m256 r0 = _mm256_mul_ps(va, rows[i][0]), r1 = _mm256_mul_ps(va, rows[i][1]);
            if (beta != 0.0f) {
                r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr), r0);
                r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(cr + 8), r1);
            }
            _mm256_storeu_ps(cr, r0);
            _mm256_storeu_ps(cr + 8, r1);
        }
        return;
    }
    float tile[AVX2_MR * AVX2_NR];
    for (int i = 0; i < AVX2_MR; i++) {
        _mm256_storeu_ps(tile + i * AVX2_NR, _mm256_mul_ps(va, rows[i][0]));
        _mm256_storeu_ps(tile + i * AVX2_NR + 8, _mm256_mul_ps(va, rows[i][1]));
    }
    vae_store_tile_corner(m, n, tile, AVX2_NR, c, ldc, beta);
}

/* ------------------------------------------------------------- packing */

/* Transposes the 8 x 8 block in r[0..7] (row i in r[i]) in place. */
static inline void transpose8x8(__m256 r[8])
{
    __m256 t[8], u[8];
    #pragma GCC unroll 16
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    #pragma GCC unroll 16
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    #pragma GCC unroll 16
    for (int c = 0; c < 4; c++) {
        r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
        r[c + 4] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
    }
}

/* The mask of the first n of 8 lanes. */
static inline __m256i first_lanes(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* dst[p * width + r] = src[p * ld + r] for r < count (zero up to width), p < kc:
 * masked 8-float moves. */
static void pack_copied_avx2(const float *src, int ld, int count, int kc, int width, float *dst)
{
    for (int r0 = 0; r0 < width; r0 += 8) {
        __m256i load_mask = first_lanes(count - r0), store_mask = first_lanes(width - r0);
        for (int p = 0; p < kc; p++)
            _mm256_maskstore_ps(dst + (size_t)p * width + r0, store_mask,
                                _mm256_maskload_ps(src + (size_t)p * ld + r0, load_mask));
    }
}

/* The transposing pack of a group of two rows (AVX-512's slivers of 10 rows
 * end with one): dst[p * width + i] = row i's p-th value for i < valid of
 * 2 (zero for the others), p < kc8 (a multiple of 8). The two rows are
 * interleaved in pairs and stored 8 bytes at a time, instead of a whole
 * 8 x 8 transpose for two rows and masked stores (1024^3 with the AVX-512
 * kernels: 0.3-1.1 % faster, in turns in one process). */
static void pack_transposed_pair(const float *src, int ld, int valid, int kc8, int width, float *dst)
{
    const float *s0 = src, *s1 = valid > 1 ? src + ld : src; /* no pointer past the rows */
    size_t w = (size_t)width;
    for (int p0 = 0; p0 < kc8; p0 += 8, dst += 8 * w) {
        __m256 x = valid > 0 ? _mm256_loadu_ps(s0 + p0) : _mm256_setzero_ps();
        __m256 y = valid > 1 ? _mm256_loadu_ps(s1 + p0) : _mm256_setzero_ps();
        __m256 lo = _mm256_unpacklo_ps(x, y); /* x0 y0 x1 y1 | x4 y4 x5 y5 */
        __m256 hi = _mm256_unpackhi_ps(x, y); /* x2 y2 x3 y3 | x6 y6 x7 y7 */
        __m128 l0 = _mm256_castps256_ps128(lo), l1 = _mm256_extractf128_ps(lo, 1);
        __m128 h0 = _mm256_castps256_ps128(hi), h1 = _mm256_extractf128_ps(hi, 1);
        _mm_storel_pi((__m64 *)dst, l0);
        _mm_storeh_pi((__m64 *)(dst + w), l0);
        _mm_storel_pi((__m64 *)(dst + 2 * w), h0);
        _mm_storeh_pi((__m64 *)(dst + 3 * w), h0);
        _mm_storel_pi((__m64 *)(dst + 4 * w), l1);
        _mm_storeh_pi((__m64 *)(dst + 5 * w), l1);
        _mm_storel_pi((__m64 *)(dst + 6 * w), h1);
        _mm_storeh_pi((__m64 *)(dst + 7 * w), h1);
    }
}

/* dst[p * width + r] = src[r * ld + p] for r < rows (zero up to width), p < kc:
 * 8 x 8 blocks transposed in registers (a last group of two rows in pairs);
 * the last partial block of p in C. */
void vae_pack_transposed_avx2(const float *src, int ld, int rows, int kc, int width, float *dst)
{
    int kc8 = kc & ~7;
    for (int r0 = 0; r0 < width; r0 += 8) {
        int lanes = width - r0 < 8 ? width - r0 : 8;
        int valid = rows - r0 < 0 ? 0 : rows - r0 < lanes ? rows - r0 : lanes;
        if (lanes == 2) {
            pack_transposed_pair(src + (size_t)r0 * ld, ld, valid, kc8, width, dst + r0);
        } else {
            __m256i store_mask = first_lanes(lanes);
            for (int p0 = 0; p0 < kc8; p0 += 8) {
                __m256 r[8];
                #pragma GCC unroll 16
                for (int i = 0; i < 8; i++)
                    r[i] = i < valid ? _mm256_loadu_ps(src + (size_t)(r0 + i) * ld + p0) : _mm256_setzero_ps();
                transpose8x8(r);
                #pragma GCC unroll 16
                for (int q = 0; q < 8; q++) _mm256_maskstore_ps(dst + (size_t)(p0 + q) * width + r0, store_mask, r[q]);
            }
        }
        for (int p = kc8; p < kc; p++)
            for (int i = 0; i < lanes; i++)
                dst[(size_t)p * width + r0 + i] = i < valid ? src[(size_t)(r0 + i) * ld + p] : 0.0f;
    }
}

const vae_kernels vae_kernels_avx2 = {
    .name = "avx2",
    .mr = AVX2_MR, .nr = AVX2_NR, .mc = 144, .kc = 256, .nc = 4080,
    .gemm_microkernel = gemm_microkernel_avx2,
    .pack_copied = pack_copied_avx2,
    .pack_transposed = vae_pack_transposed_avx2,
    .bias_act_forward = bias_act_forward_avx2,
    .act_backward = act_backward_avx2,
    .bias_grad = bias_grad_avx2,
    .reparam_kl_forward = reparam_kl_forward_avx2,
    .reparam_kl_backward = reparam_kl_backward_avx2,
    .bernoulli_loss = bernoulli_loss_avx2,
    .gaussian_loss = gaussian_loss_avx2,
    .adam_update = adam_update_avx2,
    .bytes_to_unit = bytes_to_unit_avx2,
};

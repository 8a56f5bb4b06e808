/* kernels.h - the kernel table: one struct of function pointers that each
 * ISA file (scalar.c, avx2.c, neon.c, ...) fills, and dispatch.c picks one of
 * at start-up. A kernel knows nothing of layers or models: it takes pointers,
 * sizes and strides. The scalar kernels are the reference every SIMD kernel is
 * tested against.
 *
 * Matrices are row-major; "ld" is the distance between rows, in floats. */
#ifndef VAE_KERNELS_H
#define VAE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* What follows a linear layer's bias. */
enum { VAE_KERNEL_ACT_NONE = 0, VAE_KERNEL_ACT_RELU = 1, VAE_KERNEL_ACT_TANH = 2 };

/* One Adam step's scalars, bias corrections folded in:
 * lr_t = lr / (1 - beta1^t), and v is corrected by 1 / (1 - beta2^t). */
typedef struct vae_adam_params {
    float lr, beta1, beta2, eps;
    float bias_correction1; /* 1 - beta1^t */
    float bias_correction2; /* 1 - beta2^t */
} vae_adam_params;

typedef struct vae_kernels {
    const char *name;

    /* GEMM register tile and cache blocking, used by the frame in core/gemm.c
     * (BLIS's microkernel contract). The microkernel computes one tile of C:
     *     C[0:m, 0:n] = alpha * A_panel * B_panel + beta * C[0:m, 0:n]
     * where A_panel is kc columns of mr values (packed column by column, rows
     * past m zero) and B_panel is kc rows of nr values (columns past n zero),
     * with m <= mr and n <= nr. It writes only the m x n corner of C, and with
     * beta == 0 it never reads C (which may hold NaN). */
    int mr, nr, mc, kc, nc;
    /* 1 when a tile of n <= nr / 2 columns costs half a tile (the kernels
     * compute only its left half): the frame then splits columns between
     * threads at half-tile boundaries, which balances widths that are an odd
     * number of half tiles (the VAE's 400 = 12.5 tiles of 32). */
    int half_tiles;
    void (*gemm_microkernel)(int m, int n, int kc, const float *a_panel, const float *b_panel,
                             float *c, int ldc, float alpha, float beta);
    /* The same tile with A read in place instead of packed: element (i, p)
     * of the tile's A at a[i * rs_a + p * cs_a], rows i >= m never read.
     * Optional (NULL: the frame packs A). Since the kernel broadcasts A one
     * element at a time, A needs no transposing pack; for the VAE's batch of
     * 128 rows that pack is a large part of a GEMM. */
    void (*gemm_microkernel_a_strided)(int m, int n, int kc, const float *a, int rs_a, int cs_a,
                                       const float *b_panel, float *c, int ldc, float alpha, float beta);
    /* The packing that copies runs (op(A) transposed, op(B) not transposed):
     *     dst[p * width + r] = src[p * ld + r]   for r < count, p < kc
     *     dst[p * width + r] = 0                 for count <= r < width      */
    void (*pack_copied)(const float *src, int ld, int count, int kc, int width, float *dst);
    /* The packing that transposes (op(A) not transposed, op(B) transposed):
     *     dst[p * width + r] = src[r * ld + p]   for r < rows, p < kc
     *     dst[p * width + r] = 0                 for rows <= r < width
     * width is mr or nr. */
    void (*pack_transposed)(const float *src, int ld, int rows, int kc, int width, float *dst);
    /* Writes the transpose of an m x n tile (rows ld_tile apart) to C:
     *     C[j][i] = tile[i][j] + beta * C[j][i]    (tile only when beta == 0)
     * for i < m <= mr, j < n <= nr; the frame's store for a transposed problem. */
    void (*store_tile_transposed)(int m, int n, const float *tile, int ld_tile, float *c, int ldc,
                                  float beta);

    /* y[r, j] = act(y[r, j] + bias[j]) for r < rows, j < cols (in place). */
    void (*bias_act_forward)(int rows, int cols, float *y, int ldy, const float *bias, int act);
    /* dy[r, j] *= act'(...), written in terms of the activation's output a:
     * ReLU: a > 0 ? 1 : 0; tanh: 1 - a^2. */
    void (*act_backward)(int rows, int cols, const float *a, int lda, float *dy, int lddy, int act);
    /* db[j] = sum over r of dy[r, j], rows added in order 0, 1, 2, ... */
    void (*bias_grad)(int rows, int cols, const float *dy, int lddy, float *db);

    /* Reparameterization and KL, forward, for rows of mulv = [mu | logvar]
     * (latent values each, row stride 2*latent):
     *     eps = N(0,1) from (seed, stream, step, row0 + r, column)
     *     z   = mu + exp(logvar / 2) * eps
     *     kl[r] = -1/2 * sum_j (1 + logvar - mu^2 - exp(logvar))        */
    void (*reparam_kl_forward)(int rows, int latent, const float *mulv, uint64_t seed,
                               uint32_t stream, uint64_t step, uint32_t row0, float *eps,
                               float *z, float *kl);
    /* Backward of  z-terms + beta*KL  given dz (= d loss / d z):
     *     d mu     = dz + beta * mu
     *     d logvar = dz * eps * exp(logvar / 2) / 2 + beta * (exp(logvar) - 1) / 2 */
    void (*reparam_kl_backward)(int rows, int latent, const float *mulv, const float *eps,
                                const float *dz, float beta, float *dmulv);

    /* Bernoulli likelihood from logits l, stable (never log(sigmoid(l))):
     *     loss[r] = sum_j softplus(l) - x*l,   softplus(l) = max(l,0) + log1p(exp(-|l|))
     *     dl      = sigmoid(l) - x                       (dl may be NULL) */
    void (*bernoulli_loss)(int rows, int cols, const float *logits, const float *x,
                           float *loss, float *dlogits);
    /* Gaussian likelihood, identity covariance, constant (D/2) log 2pi left out:
     *     mean = sigmoid(l) (sigmoid_mean) or l
     *     loss[r] = 1/2 * sum_j (mean - x)^2
     *     dl      = (mean - x) * dmean/dl                (dl may be NULL) */
    void (*gaussian_loss)(int rows, int cols, const float *logits, const float *x,
                          int sigmoid_mean, float *loss, float *dlogits);

    /* Adam over n parameters (Kingma & Ba, algorithm 1):
     *     m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
     *     p -= lr * (m / bc1) / (sqrt(v / bc2) + eps)                      */
    void (*adam_update)(size_t n, float *p, const float *g, float *m, float *v,
                        const vae_adam_params *hp);

    /* Bytes to floats in [0, 1]: dst[i] = src[i] / 255, correctly rounded
     * (the same bits in every table), for gathering 8-bit images. */
    void (*bytes_to_unit)(size_t n, const uint8_t *src, float *dst);
} vae_kernels;

/* The largest register tile any table may declare (the frame keeps a local
 * tile of this size). */
#define VAE_MAX_MR 16
#define VAE_MAX_NR 64

/* Writes an m x n corner of a tile computed in a local buffer (row stride
 * ld_tile) to C: C = tile + beta * C, or C = tile when beta == 0. Used by
 * the SIMD microkernels for edge tiles. */
static inline void vae_store_tile_corner(int m, int n, const float *tile, int ld_tile, float *c, int ldc,
                                         float beta)
{
    for (int i = 0; i < m; i++) {
        float *crow = c + (size_t)i * ldc;
        const float *trow = tile + (size_t)i * ld_tile;
        if (beta == 0.0f)
            for (int j = 0; j < n; j++) crow[j] = trow[j];
        else
            for (int j = 0; j < n; j++) crow[j] = trow[j] + beta * crow[j];
    }
}

/* The tables each ISA file defines (only those this build compiled). An ISA
 * table may leave an element-wise kernel NULL: dispatch then fills it from
 * the scalar table. */
extern const vae_kernels vae_kernels_scalar;
#if defined(__x86_64__) || defined(_M_X64)
extern const vae_kernels vae_kernels_avx2;
extern const vae_kernels vae_kernels_avx512;
/* AVX2's transposing pack (8 x 8 blocks), which the AVX-512 table uses too:
 * on Zen 5 it packs a 784 x 400 matrix in 36 us against 45 us for 16 x 16
 * zmm blocks (fewer shuffles per value, and 8 row streams, which the
 * hardware prefetcher follows). */
void vae_pack_transposed_avx2(const float *src, int ld, int rows, int kc, int width, float *dst);
#endif
#if defined(__aarch64__)
extern const vae_kernels vae_kernels_neon;
#endif

/* The active table; picked once from the CPU and VAE_ISA. */
const vae_kernels *vae_kernels_active(void);

/* The tables this build has and this CPU can run, best first: fills up to
 * max entries of list and returns how many there are. Tests use it to check
 * every SIMD table against the scalar one. */
int vae_kernels_available(const vae_kernels **list, int max);

#endif /* VAE_KERNELS_H */

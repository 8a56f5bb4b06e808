/* scalar.c - the portable kernels: plain C, double-checked against the math
 * in kernels.h, and the reference every SIMD kernel is tested against. */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "vae.h"

/* ------------------------------------------------------------------ GEMM */

/* Register tile of the portable microkernel. 4 x 8 keeps 32 accumulators,
 * which a compiler can hold in 8 SSE or 16 NEON registers. */
#define SCALAR_MR 4
#define SCALAR_NR 8

/* C[0:m, 0:n] = alpha * sum_p a_panel[p][0:4] (outer) b_panel[p][0:8] + beta * C */
static void gemm_microkernel_scalar(int m, int n, int kc, const float *a_panel, const float *b_panel,
                                    float *c, int ldc, float alpha, float beta)
{
    float acc[SCALAR_MR][SCALAR_NR] = {{0}};
    for (int p = 0; p < kc; p++) {
        const float *a = a_panel + (size_t)p * SCALAR_MR;
        const float *b = b_panel + (size_t)p * SCALAR_NR;
        for (int i = 0; i < SCALAR_MR; i++)
            for (int j = 0; j < SCALAR_NR; j++) acc[i][j] += a[i] * b[j];
    }
    for (int i = 0; i < m; i++) {
        float *crow = c + (size_t)i * ldc;
        if (beta == 0.0f)
            for (int j = 0; j < n; j++) crow[j] = alpha * acc[i][j];
        else
            for (int j = 0; j < n; j++) crow[j] = alpha * acc[i][j] + beta * crow[j];
    }
}

/* dst[p * width + r] = src[p * ld + r] for r < count (zero up to width), p < kc. */
static void pack_copied_scalar(const float *src, int ld, int count, int kc, int width, float *dst)
{
    for (int p = 0; p < kc; p++) {
        const float *s = src + (size_t)p * ld;
        float *d = dst + (size_t)p * width;
        for (int r = 0; r < count; r++) d[r] = s[r];
        for (int r = count; r < width; r++) d[r] = 0.0f;
    }
}

/* dst[p * width + r] = src[r * ld + p] for r < rows (zero up to width), p < kc.
 * Reads each source row in order; the writes stride by width within a
 * sliver that stays in L1. */
static void pack_transposed_scalar(const float *src, int ld, int rows, int kc, int width, float *dst)
{
    for (int r = 0; r < rows; r++) {
        const float *s = src + (size_t)r * ld;
        for (int p = 0; p < kc; p++) dst[(size_t)p * width + r] = s[p];
    }
    for (int r = rows; r < width; r++)
        for (int p = 0; p < kc; p++) dst[(size_t)p * width + r] = 0.0f;
}

/* C[j][i] = tile[i][j] (+ beta * C[j][i]) for i < m, j < n; walks C in
 * memory order. */
static void store_tile_transposed_scalar(int m, int n, const float *tile, int ld_tile, float *c, int ldc,
                                         float beta)
{
    for (int j = 0; j < n; j++) {
        float *crow = c + (size_t)j * ldc;
        for (int i = 0; i < m; i++) {
            float t = tile[(size_t)i * ld_tile + j];
            crow[i] = beta == 0.0f ? t : t + beta * crow[i];
        }
    }
}

/* ------------------------------------------------------- bias, activation */

/* The activation is chosen once per call, outside the loops. */
static void bias_act_forward_scalar(int rows, int cols, float *y, int ldy, const float *bias, int act)
{
    for (int r = 0; r < rows; r++) {
        float *row = y + (size_t)r * ldy;
        for (int j = 0; j < cols; j++) row[j] += bias[j];
        if (act == VAE_KERNEL_ACT_RELU)
            for (int j = 0; j < cols; j++) row[j] = row[j] > 0.0f ? row[j] : 0.0f;
        else if (act == VAE_KERNEL_ACT_TANH)
            for (int j = 0; j < cols; j++) row[j] = tanhf(row[j]);
    }
}

static void act_backward_scalar(int rows, int cols, const float *a, int lda, float *dy, int lddy, int act)
{
    for (int r = 0; r < rows; r++) {
        const float *arow = a + (size_t)r * lda;
        float *drow = dy + (size_t)r * lddy;
        if (act == VAE_KERNEL_ACT_RELU)
            for (int j = 0; j < cols; j++) drow[j] = arow[j] > 0.0f ? drow[j] : 0.0f;
        else if (act == VAE_KERNEL_ACT_TANH)
            for (int j = 0; j < cols; j++) drow[j] *= 1.0f - arow[j] * arow[j];
    }
}

static void bias_grad_scalar(int rows, int cols, const float *dy, int lddy, float *db)
{
    memset(db, 0, sizeof(float) * (size_t)cols);
    for (int r = 0; r < rows; r++) {
        const float *drow = dy + (size_t)r * lddy;
        for (int j = 0; j < cols; j++) db[j] += drow[j];
    }
}

/* ------------------------------------------- reparameterization and KL */

static void reparam_kl_forward_scalar(int rows, int latent, const float *mulv, uint64_t seed,
                                      uint32_t stream, uint64_t step, uint32_t row0, float *eps,
                                      float *z, float *kl)
{
    for (int r = 0; r < rows; r++) {
        const float *mu = mulv + (size_t)r * 2 * latent;
        const float *logvar = mu + latent;
        float *e = eps + (size_t)r * latent;
        float *zr = z + (size_t)r * latent;
        for (int j = 0; j < latent; j += 4) {
            float n[4];
            vae_normal4(seed, stream, step, row0 + (uint32_t)r, (uint32_t)(j / 4), n);
            for (int t = 0; t < 4 && j + t < latent; t++) e[j + t] = n[t];
        }
        float sum = 0.0f;
        for (int j = 0; j < latent; j++) {
            float var = expf(logvar[j]);
            zr[j] = mu[j] + sqrtf(var) * e[j];
            sum += 1.0f + logvar[j] - mu[j] * mu[j] - var;
        }
        kl[r] = -0.5f * sum;
    }
}

static void reparam_kl_backward_scalar(int rows, int latent, const float *mulv, const float *eps,
                                       const float *dz, float beta, float *dmulv)
{
    for (int r = 0; r < rows; r++) {
        const float *mu = mulv + (size_t)r * 2 * latent;
        const float *logvar = mu + latent;
        const float *e = eps + (size_t)r * latent;
        const float *g = dz + (size_t)r * latent;
        float *dmu = dmulv + (size_t)r * 2 * latent;
        float *dlogvar = dmu + latent;
        for (int j = 0; j < latent; j++) {
            float var = expf(logvar[j]);
            dmu[j] = g[j] + beta * mu[j];
            dlogvar[j] = 0.5f * g[j] * e[j] * sqrtf(var) + 0.5f * beta * (var - 1.0f);
        }
    }
}

/* ------------------------------------------------------------ likelihoods */

static float sigmoid_scalar(float l)
{
    /* Both branches take exp of a non-positive number: no overflow. */
    if (l >= 0.0f) return 1.0f / (1.0f + expf(-l));
    float e = expf(l);
    return e / (1.0f + e);
}

static void bernoulli_loss_scalar(int rows, int cols, const float *logits, const float *x,
                                  float *loss, float *dlogits)
{
    for (int r = 0; r < rows; r++) {
        const float *l = logits + (size_t)r * cols;
        const float *xr = x + (size_t)r * cols;
        float sum = 0.0f;
        for (int j = 0; j < cols; j++) {
            float softplus = fmaxf(l[j], 0.0f) + log1pf(expf(-fabsf(l[j])));
            sum += softplus - xr[j] * l[j];
            if (dlogits) dlogits[(size_t)r * cols + j] = sigmoid_scalar(l[j]) - xr[j];
        }
        loss[r] = sum;
    }
}

static void gaussian_loss_scalar(int rows, int cols, const float *logits, const float *x,
                                 int sigmoid_mean, float *loss, float *dlogits)
{
    for (int r = 0; r < rows; r++) {
        const float *l = logits + (size_t)r * cols;
        const float *xr = x + (size_t)r * cols;
        float sum = 0.0f;
        for (int j = 0; j < cols; j++) {
            float mean = sigmoid_mean ? sigmoid_scalar(l[j]) : l[j];
            float diff = mean - xr[j];
            sum += 0.5f * diff * diff;
            if (dlogits) dlogits[(size_t)r * cols + j] = sigmoid_mean ? diff * mean * (1.0f - mean) : diff;
        }
        loss[r] = sum;
    }
}

/* ------------------------------------------------------------------ Adam */

static void adam_update_scalar(size_t n, float *p, const float *g, float *m, float *v,
                               const vae_adam_params *hp)
{
    float step_size = hp->lr / hp->bias_correction1;
    float inv_sqrt_bc2 = 1.0f / sqrtf(hp->bias_correction2);
    for (size_t i = 0; i < n; i++) {
        m[i] = hp->beta1 * m[i] + (1.0f - hp->beta1) * g[i];
        v[i] = hp->beta2 * v[i] + (1.0f - hp->beta2) * g[i] * g[i];
        p[i] -= step_size * m[i] / (sqrtf(v[i]) * inv_sqrt_bc2 + hp->eps);
    }
}

/* ------------------------------------------------------- bytes to [0, 1] */

/* The 256 quotients b / 255, folded by the compiler with IEEE rounding: the
 * bits of a division at run time, for a load a value. */
#define UNIT(b) ((float)(b) / 255.0f)
#define UNIT4(b) UNIT(b), UNIT(b + 1), UNIT(b + 2), UNIT(b + 3)
#define UNIT16(b) UNIT4(b), UNIT4(b + 4), UNIT4(b + 8), UNIT4(b + 12)
#define UNIT64(b) UNIT16(b), UNIT16(b + 16), UNIT16(b + 32), UNIT16(b + 48)
static const float byte_to_unit[256] = {UNIT64(0), UNIT64(64), UNIT64(128), UNIT64(192)};

static void bytes_to_unit_scalar(size_t n, const uint8_t *src, float *dst)
{
    for (size_t i = 0; i < n; i++) dst[i] = byte_to_unit[src[i]];
}

const vae_kernels vae_kernels_scalar = {
    .name = "scalar",
    .mr = SCALAR_MR, .nr = SCALAR_NR, .mc = 128, .kc = 256, .nc = 2048,
    .gemm_microkernel = gemm_microkernel_scalar,
    .pack_copied = pack_copied_scalar,
    .pack_transposed = pack_transposed_scalar,
    .store_tile_transposed = store_tile_transposed_scalar,
    .bias_act_forward = bias_act_forward_scalar,
    .act_backward = act_backward_scalar,
    .bias_grad = bias_grad_scalar,
    .reparam_kl_forward = reparam_kl_forward_scalar,
    .reparam_kl_backward = reparam_kl_backward_scalar,
    .bernoulli_loss = bernoulli_loss_scalar,
    .gaussian_loss = gaussian_loss_scalar,
    .adam_update = adam_update_scalar,
    .bytes_to_unit = bytes_to_unit_scalar,
};

/* eval.c - evaluating a model on a set of images: the ELBO (its
 * reconstruction and KL terms) and the importance-weighted estimate of the
 * marginal likelihood -log p(x) (Burda, Grosse, Salakhutdinov, "Importance
 * Weighted Autoencoders", ICLR 2016).
 *
 * For image x with q(z|x) = N(mu, diag(exp(logvar))) and k samples
 *     z_s = mu + exp(logvar/2) * eps_s,   eps_s ~ N(0, I),   s = 0 .. k-1
 *     log w_s = log p(x|z_s) + log p(z_s) - log q(z_s|x)
 *             = log p(x|z_s) + sum_j 1/2 (eps_sj^2 - z_sj^2 + logvar_j)
 *     log p(x) ~= logsumexp_s(log w_s) - log k
 * (the -1/2 log 2pi of p(z) and q(z|x) cancel). The estimate is a lower bound
 * of log p(x) that tightens as k grows; k = 1 is the one-sample ELBO.
 *
 * The ELBO lines: rec = -log p(x|z_0) with the first of those samples, and
 * the KL of q(z|x) from the prior in closed form,
 *     KL = -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j)).
 *
 * Likelihoods, from the decoder's logits l:
 *     Bernoulli  log p(x|z) = sum_d x_d l_d - softplus(l_d)
 *     Gaussian   log p(x|z) = -1/2 sum_d (x_d - mean_d)^2 - D/2 log 2pi
 *                (identity covariance; mean = sigmoid(l) or l)
 * rec and the ELBO loss keep the training convention and leave the Gaussian
 * constant D/2 log 2pi out; the IWAE NLL includes it, so it is a true -log p(x)
 * (vae_eval_result.rec_constant says how much that is).
 *
 * How it runs: images are encoded a block at a time; then the block's
 * (image, sample) pairs, in order, go through the decoder a chunk of rows at
 * a time, so the decoder's GEMMs see large batches however small k is. The
 * noise of (image i, sample s, latent j) is (seed, VAE_STREAM_EVAL, step i,
 * row s, column j), and each row's work depends only on its own values, so
 * the result is the same bits for any thread count and any chunking. The
 * per-row likelihood sums come from the kernel table (float, lane partials);
 * the log-weights, the logsumexp and every mean are in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "model.h"
#include "pool.h"

/* Decoder rows per call (fewer for very large images: see chunk_rows). */
#define EVAL_ROWS 1024
/* Floats of logits (and of input images) one chunk (block) may take. */
#define EVAL_VALUES_BUDGET ((size_t)1 << 21)
/* Images encoded at once, and the log-weights a block may keep. */
#define EVAL_MAX_BLOCK 256
#define EVAL_LOGW_BUDGET ((size_t)1 << 20)
#define LOG_2PI 1.83787706640934548356065947281123527

/* Below this many values a chunk's element-wise work stays on one thread. */
#define EVAL_PARALLEL_MIN 16384

void vae_eval_options_default(vae_eval_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->n = 0;
    opt->iwae_k = 1000;
    opt->seed = 1;
}

/* The work of one chunk of decoder rows, shared with the threads. Row t of
 * the chunk is pair q = first + t of the block: image q / S, sample q % S. */
typedef struct eval_chunk {
    const vae_kernels *k;
    const vae_model *m;
    int D, Z, S;        /* input values, latent size, samples per image */
    size_t first;       /* the block's pair index of row 0 */
    uint64_t image0;    /* the set's index of the block's image 0 */
    uint64_t seed;
    const float *x;     /* [block, D] the block's images */
    const float *mulv;  /* [block, 2Z] their mu | logvar */
    float *mulv_rows;   /* [rows, 2Z] mu | logvar repeated for each row */
    float *eps, *z;     /* [rows, Z] */
    float *kl_rows;     /* [rows], the kernel's KL (unused here) */
    const float *logits;/* [rows, D] */
    double constant;    /* D/2 log 2pi for the Gaussian, else 0 */
    double *logw;       /* [block * S] log-weights, pair order */
    double *rec0;       /* [block] -log p(x|z_0), the constant left out */
} eval_chunk;

/* eps and z for rows [t0, t1): each run of rows of one image draws its
 * samples' noise with the reparameterization kernel, whose noise row is the
 * sample index and whose step is the image's index in the set. */
static void draw_rows(void *ctx, int t0, int t1)
{
    eval_chunk *c = ctx;
    size_t Z2 = 2 * (size_t)c->Z;
    for (int t = t0; t < t1; t++) {
        size_t q = c->first + (size_t)t;
        memcpy(c->mulv_rows + (size_t)t * Z2, c->mulv + q / (size_t)c->S * Z2, sizeof(float) * Z2);
    }
    for (int t = t0; t < t1;) {
        size_t q = c->first + (size_t)t;
        size_t image = q / (size_t)c->S;
        int s = (int)(q % (size_t)c->S);
        int run = c->S - s < t1 - t ? c->S - s : t1 - t;
        c->k->reparam_kl_forward(run, c->Z, c->mulv_rows + (size_t)t * Z2, c->seed, VAE_STREAM_EVAL,
                                 c->image0 + image, (uint32_t)s, c->eps + (size_t)t * c->Z,
                                 c->z + (size_t)t * c->Z, c->kl_rows + t);
        t += run;
    }
}

/* The log-weight of rows [t0, t1), from the logits the decoder left:
 *     log w = -rec - constant + sum_j 1/2 (eps_j^2 - z_j^2 + logvar_j)
 * where rec = -log p(x|z) without the Gaussian constant (the loss kernels). */
static void weigh_rows(void *ctx, int t0, int t1)
{
    eval_chunk *c = ctx;
    const vae_config *cfg = &c->m->cfg;
    for (int t = t0; t < t1; t++) {
        size_t q = c->first + (size_t)t;
        size_t image = q / (size_t)c->S;
        const float *x = c->x + image * (size_t)c->D, *l = c->logits + (size_t)t * c->D;
        float rec;
        if (cfg->likelihood == VAE_LIK_BERNOULLI)
            c->k->bernoulli_loss(1, c->D, l, x, &rec, NULL);
        else
            c->k->gaussian_loss(1, c->D, l, x, cfg->gaussian_mean == VAE_MEAN_SIGMOID, &rec, NULL);
        const float *eps = c->eps + (size_t)t * c->Z, *z = c->z + (size_t)t * c->Z;
        const float *logvar = c->mulv + image * 2 * (size_t)c->Z + c->Z;
        double prior_over_q = 0.0;
        for (int j = 0; j < c->Z; j++) {
            double e = eps[j], zj = z[j];
            prior_over_q += 0.5 * (e * e - zj * zj + (double)logvar[j]);
        }
        c->logw[q] = -(double)rec - c->constant + prior_over_q;
        if (q % (size_t)c->S == 0) c->rec0[image] = rec;
    }
}

/* logsumexp(v[0..n)) - log n, stably: the largest term factored out,
 *     max + log(sum_s exp(v_s - max)) - log n. */
static double log_mean_exp(const double *v, int n)
{
    double top = v[0];
    for (int s = 1; s < n; s++)
        if (v[s] > top) top = v[s];
    if (!isfinite(top)) return top; /* -inf: every weight 0; +inf or NaN as they are */
    double sum = 0.0;
    for (int s = 0; s < n; s++) sum += exp(v[s] - top);
    return top + log(sum) - log((double)n);
}

static void run_rows(int rows, size_t values, vae_range_fn fn, void *ctx)
{
    if (values < EVAL_PARALLEL_MIN) vae_serial_for(rows, fn, ctx);
    else vae_parallel_for(rows, fn, ctx);
}

/* The buffers of an evaluation, taken once. */
typedef struct eval_buffers {
    float *x, *mu, *logvar, *mulv, *mulv_rows, *eps, *z, *kl_rows;
    double *logw, *rec0, *nll;
} eval_buffers;

static void free_buffers(eval_buffers *b)
{
    free(b->x);
    free(b->mu);
    free(b->logvar);
    free(b->mulv);
    free(b->mulv_rows);
    free(b->eps);
    free(b->z);
    free(b->kl_rows);
    free(b->logw);
    free(b->rec0);
    free(b->nll);
}

/* n elements of size bytes each, or NULL (also on overflow). */
static void *alloc_array(size_t n, size_t size)
{
    size_t bytes;
    if (!vae_mul_size(n, size, &bytes)) return NULL;
    return malloc(bytes ? bytes : 1);
}

static int alloc_buffers(eval_buffers *b, int n, int block, int rows, int D, int Z, int S)
{
    memset(b, 0, sizeof *b);
    size_t pairs;
    if (!vae_mul_size((size_t)block, (size_t)S, &pairs)) return -1;
    b->x = alloc_array((size_t)block * D, sizeof(float));
    b->mu = alloc_array((size_t)block * Z, sizeof(float));
    b->logvar = alloc_array((size_t)block * Z, sizeof(float));
    b->mulv = alloc_array((size_t)block * 2 * Z, sizeof(float));
    b->mulv_rows = alloc_array((size_t)rows * 2 * Z, sizeof(float));
    b->eps = alloc_array((size_t)rows * Z, sizeof(float));
    b->z = alloc_array((size_t)rows * Z, sizeof(float));
    b->kl_rows = alloc_array((size_t)rows, sizeof(float));
    b->logw = alloc_array(pairs, sizeof(double));
    b->rec0 = alloc_array((size_t)block, sizeof(double));
    b->nll = alloc_array((size_t)n, sizeof(double));
    if (!b->x || !b->mu || !b->logvar || !b->mulv || !b->mulv_rows || !b->eps || !b->z || !b->kl_rows ||
        !b->logw || !b->rec0 || !b->nll)
        return -1;
    return 0;
}

int vae_evaluate(vae_model *m, const vae_images *images, const vae_eval_options *opt, vae_eval_result *out)
{
    memset(out, 0, sizeof *out);
    const vae_config *cfg = &m->cfg;
    if (opt->n < 0) return vae_fail(VAE_ERR_ARG, "evaluation of %d images: must be >= 0 (0: all)", opt->n);
    if (opt->iwae_k < 0)
        return vae_fail(VAE_ERR_ARG, "%d importance samples: must be >= 0 (0: no IWAE estimate)", opt->iwae_k);
    if (!images || images->count <= 0) return vae_fail(VAE_ERR_ARG, "no images to evaluate");
    if (images->rows != cfg->image_rows || images->cols != cfg->image_cols ||
        images->channels != cfg->image_channels)
        return vae_fail(VAE_ERR_ARG, "images are %d x %d x %d but the model takes %d x %d x %d", images->rows,
                        images->cols, images->channels, cfg->image_rows, cfg->image_cols, cfg->image_channels);
    int n = opt->n == 0 || opt->n > images->count ? images->count : opt->n;
    int D = m->input_dim, Z = m->latent;
    int S = opt->iwae_k > 0 ? opt->iwae_k : 1; /* samples per image; sample 0 also gives rec */

    /* Chunk rows and block images: as many as the budgets allow. */
    size_t by_values = EVAL_VALUES_BUDGET / (size_t)D;
    int rows = by_values < 1 ? 1 : by_values < EVAL_ROWS ? (int)by_values : EVAL_ROWS;
    size_t by_logw = EVAL_LOGW_BUDGET / (size_t)S;
    int block = by_logw < 1 ? 1 : by_logw < EVAL_MAX_BLOCK ? (int)by_logw : EVAL_MAX_BLOCK;
    if ((size_t)block > by_values) block = by_values < 1 ? 1 : (int)by_values;
    if (block > n) block = n;
    if ((int64_t)block * S < rows) rows = block * S;

    int rc = vae_model_reserve(m, rows > block ? rows : block);
    if (rc != VAE_OK) return rc;
    eval_buffers buf;
    if (alloc_buffers(&buf, n, block, rows, D, Z, S) != 0) {
        free_buffers(&buf);
        return vae_fail(VAE_ERR_NOMEM, "out of memory for an evaluation with %d samples per image", S);
    }

    eval_chunk c = {
        .k = vae_kernels_active(), .m = m, .D = D, .Z = Z, .S = S, .seed = opt->seed,
        .x = buf.x, .mulv = buf.mulv, .mulv_rows = buf.mulv_rows, .eps = buf.eps, .z = buf.z,
        .kl_rows = buf.kl_rows, .logw = buf.logw, .rec0 = buf.rec0,
        .constant = cfg->likelihood == VAE_LIK_GAUSSIAN ? 0.5 * D * LOG_2PI : 0.0,
    };
    double rec_sum = 0.0, kl_sum = 0.0;
    for (int b0 = 0; b0 < n; b0 += block) {
        int nb = n - b0 < block ? n - b0 : block;
        vae_images_copy_float(images, (size_t)b0, (size_t)nb, buf.x);
        if ((rc = vae_encode(m, buf.x, nb, buf.mu, buf.logvar)) != VAE_OK) goto done;
        for (int i = 0; i < nb; i++) {
            memcpy(buf.mulv + (size_t)i * 2 * Z, buf.mu + (size_t)i * Z, sizeof(float) * (size_t)Z);
            memcpy(buf.mulv + (size_t)i * 2 * Z + Z, buf.logvar + (size_t)i * Z, sizeof(float) * (size_t)Z);
        }
        c.image0 = (uint64_t)b0;
        size_t pairs = (size_t)nb * (size_t)S;
        for (size_t first = 0; first < pairs; first += (size_t)rows) {
            int nr = pairs - first < (size_t)rows ? (int)(pairs - first) : rows;
            c.first = first;
            run_rows(nr, (size_t)nr * Z * 8, draw_rows, &c);
            if ((rc = vae_model_decode_logits(m, buf.z, nr)) != VAE_OK) goto done;
            c.logits = m->logits;
            run_rows(nr, (size_t)nr * D, weigh_rows, &c);
            if (opt->progress) opt->progress(b0 + (int)((first + (size_t)nr) / (size_t)S), n, opt->user);
        }
        /* Per image, in order: KL in closed form, rec of sample 0, and
         * -log p(x) ~= -(logsumexp_s log w_s - log S). */
        for (int i = 0; i < nb; i++) {
            const float *mu = buf.mu + (size_t)i * Z, *lv = buf.logvar + (size_t)i * Z;
            double kl = 0.0;
            for (int j = 0; j < Z; j++) {
                double mj = mu[j], lj = lv[j];
                kl += -0.5 * (1.0 + lj - mj * mj - exp(lj));
            }
            kl_sum += kl;
            rec_sum += buf.rec0[i];
            buf.nll[b0 + i] = -log_mean_exp(buf.logw + (size_t)i * S, S);
        }
    }
    out->images = n;
    out->iwae_k = opt->iwae_k;
    out->rec = rec_sum / n;
    out->kl = kl_sum / n;
    out->loss = out->rec + out->kl;
    out->rec_constant = c.constant;
    if (opt->iwae_k > 0) {
        /* the mean, and its standard error over images sqrt(var / n), with
         * var = sum_i (nll_i - mean)^2 / (n - 1) */
        double sum = 0.0, sq = 0.0;
        for (int i = 0; i < n; i++) sum += buf.nll[i];
        out->nll = sum / n;
        for (int i = 0; i < n; i++) sq += (buf.nll[i] - out->nll) * (buf.nll[i] - out->nll);
        out->nll_se = n > 1 ? sqrt(sq / (n - 1) / n) : 0.0;
    }
    rc = VAE_OK;
done:
    free_buffers(&buf);
    return rc;
}

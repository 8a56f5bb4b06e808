/* model.c - the VAE: layers, forward, backward and the Adam step.
 *
 * Shapes: B = rows in the batch, D = input values per image, Z = latent size.
 *
 *   encoder  x[B,D] -> linear+act ... -> mulv[B,2Z] = [mu | logvar]
 *   reparam  z = mu + exp(logvar/2) * eps,  eps ~ N(0,1);  KL per row
 *   decoder  z[B,Z] -> linear+act ... -> logits[B,D]
 *   loss     per row: -log p(x|z) + beta * KL, summed over the batch (the
 *            gradient is that of the sum, as PyTorch's reduction="sum")
 *
 * Each linear layer's forward and backward sit side by side below; the
 * element-wise work goes through the active kernel table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "model.h"
#include "pool.h"

/* ---------------------------------------------------------------- config */

void vae_config_default(vae_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->image_rows = 28;
    cfg->image_cols = 28;
    cfg->image_channels = 1;
    cfg->n_hidden = 1;
    cfg->hidden[0] = 400;
    cfg->latent = 20;
    cfg->activation = VAE_ACT_RELU;
    cfg->likelihood = VAE_LIK_BERNOULLI;
    cfg->gaussian_mean = VAE_MEAN_SIGMOID;
    cfg->beta = 1.0f;
}

int vae_config_input_dim(const vae_config *cfg)
{
    return cfg->image_rows * cfg->image_cols * cfg->image_channels;
}

/* Limits that keep every size product far from int overflow. */
#define MAX_INPUT_DIM (1 << 24)
#define MAX_WIDTH 65536

int vae_config_check(const vae_config *cfg)
{
    if (cfg->image_rows <= 0 || cfg->image_cols <= 0 || cfg->image_rows > MAX_INPUT_DIM ||
        cfg->image_cols > MAX_INPUT_DIM)
        return vae_fail(VAE_ERR_ARG, "image size %d x %d is impossible", cfg->image_rows, cfg->image_cols);
    if (cfg->image_channels != 1 && cfg->image_channels != 3)
        return vae_fail(VAE_ERR_ARG, "images must have 1 or 3 channels, not %d", cfg->image_channels);
    if ((int64_t)cfg->image_rows * cfg->image_cols * cfg->image_channels > MAX_INPUT_DIM)
        return vae_fail(VAE_ERR_ARG, "images of %d x %d x %d values exceed the limit of %d",
                        cfg->image_rows, cfg->image_cols, cfg->image_channels, MAX_INPUT_DIM);
    if (cfg->n_hidden < 0 || cfg->n_hidden > VAE_MAX_HIDDEN)
        return vae_fail(VAE_ERR_ARG, "%d hidden layers: between 0 and %d are supported", cfg->n_hidden,
                        VAE_MAX_HIDDEN);
    for (int l = 0; l < cfg->n_hidden; l++)
        if (cfg->hidden[l] <= 0 || cfg->hidden[l] > MAX_WIDTH)
            return vae_fail(VAE_ERR_ARG, "hidden layer %d has width %d: must be 1..%d", l + 1,
                            cfg->hidden[l], MAX_WIDTH);
    if (cfg->latent <= 0 || cfg->latent > MAX_WIDTH / 2)
        return vae_fail(VAE_ERR_ARG, "latent size %d: must be 1..%d", cfg->latent, MAX_WIDTH / 2);
    if (cfg->activation != VAE_ACT_RELU && cfg->activation != VAE_ACT_TANH)
        return vae_fail(VAE_ERR_ARG, "unknown activation %d", (int)cfg->activation);
    if (cfg->likelihood != VAE_LIK_BERNOULLI && cfg->likelihood != VAE_LIK_GAUSSIAN)
        return vae_fail(VAE_ERR_ARG, "unknown likelihood %d", (int)cfg->likelihood);
    if (cfg->gaussian_mean != VAE_MEAN_SIGMOID && cfg->gaussian_mean != VAE_MEAN_LINEAR)
        return vae_fail(VAE_ERR_ARG, "unknown Gaussian mean %d", (int)cfg->gaussian_mean);
    if (!(cfg->beta >= 0.0f) || !isfinite(cfg->beta))
        return vae_fail(VAE_ERR_ARG, "beta %g: must be a finite number >= 0", (double)cfg->beta);
    return VAE_OK;
}

/* ------------------------------------------------------------ creation */

static int kernel_act(vae_activation a)
{
    return a == VAE_ACT_TANH ? VAE_KERNEL_ACT_TANH : VAE_KERNEL_ACT_RELU;
}

/* i rounded up to a whole 64-byte line of floats. */
static size_t line_up(size_t i) { return (i + 15) & ~(size_t)15; }

/* Lays out the layers and the parameter block (each tensor on its own
 * line, the block's length in m->n_floats); returns the parameter count. */
static size_t layout_layers(vae_model *m)
{
    const vae_config *cfg = &m->cfg;
    int n = cfg->n_hidden;
    size_t offset = 0;
    m->n_layers = n + 1;
    for (int l = 0; l <= n; l++) {
        vae_linear *e = &m->enc[l];
        e->in = l == 0 ? m->input_dim : cfg->hidden[l - 1];
        e->out = l == n ? 2 * m->latent : cfg->hidden[l];
        e->act = l == n ? VAE_KERNEL_ACT_NONE : kernel_act(cfg->activation);
    }
    for (int l = 0; l <= n; l++) {
        vae_linear *d = &m->dec[l];
        d->in = l == 0 ? m->latent : cfg->hidden[n - l];
        d->out = l == n ? m->input_dim : cfg->hidden[n - 1 - l];
        d->act = l == n ? VAE_KERNEL_ACT_NONE : kernel_act(cfg->activation);
    }
    size_t count = 0;
    for (int side = 0; side < 2; side++)
        for (int l = 0; l <= n; l++) {
            vae_linear *L = side == 0 ? &m->enc[l] : &m->dec[l];
            L->w = offset = line_up(offset);
            offset += (size_t)L->in * L->out;
            L->b = offset = line_up(offset);
            offset += (size_t)L->out;
            count += (size_t)L->in * L->out + (size_t)L->out;
        }
    m->n_floats = line_up(offset);
    return count;
}

int vae_model_tensor(const vae_model *m, int i, size_t *offset, size_t *count)
{
    if (i < 0 || i >= 4 * m->n_layers) return 0;
    int layer = i / 2 % m->n_layers;
    const vae_linear *L = i < 2 * m->n_layers ? &m->enc[layer] : &m->dec[layer];
    *offset = i % 2 ? L->b : L->w;
    *count = i % 2 ? (size_t)L->out : (size_t)L->in * L->out;
    return 1;
}

/* PyTorch's nn.Linear initialization: W and b uniform in +-1/sqrt(fan_in),
 * drawn from the INIT stream, step 2*layer for W and 2*layer+1 for b. */
static void init_parameters(vae_model *m)
{
    for (int side = 0; side < 2; side++)
        for (int l = 0; l < m->n_layers; l++) {
            const vae_linear *L = side == 0 ? &m->enc[l] : &m->dec[l];
            uint64_t id = (uint64_t)(side * m->n_layers + l);
            float bound = 1.0f / sqrtf((float)L->in);
            float *w = m->params + L->w, *b = m->params + L->b;
            for (int o = 0; o < L->out; o++) {
                for (int i = 0; i < L->in; i++) {
                    float u = vae_uniform(m->seed, VAE_STREAM_INIT, 2 * id, (uint32_t)o, (uint32_t)i);
                    w[(size_t)o * L->in + i] = (2.0f * u - 1.0f) * bound;
                }
                float u = vae_uniform(m->seed, VAE_STREAM_INIT, 2 * id + 1, (uint32_t)o, 0);
                b[o] = (2.0f * u - 1.0f) * bound;
            }
        }
}

size_t vae_config_param_count(const vae_config *cfg)
{
    vae_model shape;
    memset(&shape, 0, sizeof shape);
    shape.cfg = *cfg;
    shape.input_dim = vae_config_input_dim(cfg);
    shape.latent = cfg->latent;
    return layout_layers(&shape);
}

int vae_model_create(const vae_config *cfg, uint64_t seed, vae_model **out)
{
    *out = NULL;
    int rc = vae_config_check(cfg);
    if (rc != VAE_OK) return rc;
    vae_model *m = calloc(1, sizeof *m);
    if (!m) return vae_fail(VAE_ERR_NOMEM, "out of memory creating the model");
    m->cfg = *cfg;
    m->input_dim = vae_config_input_dim(cfg);
    m->latent = cfg->latent;
    m->seed = seed;
    m->n_params = layout_layers(m);
    /* Each of the four arrays starts on a 64-byte line (n_floats is whole
     * lines), and so does each tensor in them (layout_layers). */
    size_t stride = m->n_floats, bytes;
    if (!vae_mul_size(stride, 4 * sizeof(float), &bytes) || !(m->params = vae_alloc_aligned(bytes))) {
        size_t n = m->n_params;
        free(m);
        return vae_fail(VAE_ERR_NOMEM, "out of memory for %zu parameters", n);
    }
    memset(m->params, 0, bytes);
    m->grads = m->params + stride;
    m->adam_m = m->grads + stride;
    m->adam_v = m->adam_m + stride;
    init_parameters(m);
    *out = m;
    return VAE_OK;
}

void vae_model_free(vae_model *m)
{
    if (!m) return;
    vae_free_aligned(m->params);
    vae_free_aligned(m->workspace);
    free(m);
}

const vae_config *vae_model_get_config(const vae_model *m) { return &m->cfg; }
size_t vae_model_param_count(const vae_model *m) { return m->n_params; }
uint64_t vae_model_seed(const vae_model *m) { return m->seed; }
uint64_t vae_model_step(const vae_model *m) { return m->step; }
int vae_model_epoch(const vae_model *m) { return m->epoch; }

/* ------------------------------------------------------------ workspace */

/* Hands out 64-byte aligned pieces of the workspace (or just counts them
 * when base is NULL). */
typedef struct carver {
    float *base;
    size_t used; /* floats */
    int overflow;
} carver;

static float *carve(carver *c, size_t rows, size_t cols)
{
    size_t n;
    if (!vae_mul_size(rows, cols, &n) || !vae_add_size(n, 15, &n)) {
        c->overflow = 1;
        return NULL;
    }
    n &= ~(size_t)15;
    float *p = c->base ? c->base + c->used : NULL;
    if (!vae_add_size(c->used, n, &c->used)) c->overflow = 1;
    return p;
}

static void carve_workspace(vae_model *m, carver *c, size_t B)
{
    int widest = m->input_dim > 2 * m->latent ? m->input_dim : 2 * m->latent;
    for (int l = 0; l < m->cfg.n_hidden; l++)
        if (m->cfg.hidden[l] > widest) widest = m->cfg.hidden[l];
    m->x = carve(c, B, (size_t)m->input_dim);
    for (int l = 0; l < m->cfg.n_hidden; l++) m->enc_out[l] = carve(c, B, (size_t)m->enc[l].out);
    m->mulv = carve(c, B, 2 * (size_t)m->latent);
    m->eps = carve(c, B, (size_t)m->latent);
    m->z = carve(c, B, (size_t)m->latent);
    for (int l = 0; l < m->cfg.n_hidden; l++) m->dec_out[l] = carve(c, B, (size_t)m->dec[l].out);
    m->logits = carve(c, B, (size_t)m->input_dim);
    m->row_rec = carve(c, B, 1);
    m->row_kl = carve(c, B, 1);
    m->grad_a = carve(c, B, (size_t)widest);
    m->grad_b = carve(c, B, (size_t)widest);
    m->dz = carve(c, B, (size_t)m->latent);
    m->dmulv = carve(c, B, 2 * (size_t)m->latent);
}

int vae_model_reserve(vae_model *m, int max_batch)
{
    if (max_batch <= 0) return vae_fail(VAE_ERR_ARG, "batch size %d: must be positive", max_batch);
    if (max_batch <= m->max_batch) return VAE_OK;
    carver count = {NULL, 0, 0};
    carve_workspace(m, &count, (size_t)max_batch);
    size_t bytes;
    if (count.overflow || !vae_mul_size(count.used, sizeof(float), &bytes))
        return vae_fail(VAE_ERR_NOMEM, "batch size %d: workspace size overflows", max_batch);
    float *ws = vae_alloc_aligned(bytes);
    if (!ws) return vae_fail(VAE_ERR_NOMEM, "batch size %d: out of memory for a %zu-byte workspace",
                             max_batch, bytes);
    memset(ws, 0, bytes);
    vae_free_aligned(m->workspace);
    m->workspace = ws;
    m->max_batch = max_batch;
    carver real = {ws, 0, 0};
    carve_workspace(m, &real, (size_t)max_batch);
    return VAE_OK;
}

/* --------------------------------------------------------------- profile */

double vae_seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Times the statement into p->field when p (a vae_profile *) is not NULL. */
#define PROFILED(p, field, statement)                                   \
    do {                                                                \
        double profile_t0 = (p) ? vae_seconds_now() : 0.0;              \
        statement;                                                      \
        if (p) (p)->field += vae_seconds_now() - profile_t0;            \
    } while (0)

/* The profile slot of layer L's GEMM in a pass. */
#define GEMM_SLOT(m, L, pass)                                                               \
    gemm[(L) >= (m)->dec][(L) >= (m)->dec ? (L) - (m)->dec : (L) - (m)->enc][pass]

/* ------------------------------------- element-wise kernels on threads */

/* Each element-wise kernel runs over shares of its rows, so every output is
 * computed by exactly one thread, as it would be by one (bias gradients and
 * Adam run in the weight-gradient GEMM's epilogue, over the rows of W each
 * thread computed). Rows cost the same wherever they run, so they are handed
 * out in chunks (see vae_parallel_for_chunked). Below PARALLEL_MIN_VALUES
 * values the work stays on the calling thread. */
#define PARALLEL_MIN_VALUES 16384

static void run_rows(int rows, size_t values, vae_range_fn fn, void *ctx)
{
    if (values < PARALLEL_MIN_VALUES) vae_serial_for(rows, fn, ctx);
    else vae_parallel_for_chunked(rows, vae_chunk_size(rows, 1), fn, ctx);
}

typedef struct reparam_job {
    const vae_kernels *k;
    int latent;
    const float *mulv, *eps, *dz;
    uint64_t seed, step;
    uint32_t stream, row0;
    float beta;
    float *eps_out, *z, *kl, *dmulv;
} reparam_job;

static void reparam_forward_rows(void *ctx, int r0, int r1)
{
    reparam_job *j = ctx;
    size_t Z = (size_t)j->latent;
    j->k->reparam_kl_forward(r1 - r0, j->latent, j->mulv + (size_t)r0 * 2 * Z, j->seed, j->stream, j->step,
                             j->row0 + (uint32_t)r0, j->eps_out + r0 * Z, j->z + r0 * Z, j->kl + r0);
}

static void reparam_backward_rows(void *ctx, int r0, int r1)
{
    reparam_job *j = ctx;
    size_t Z = (size_t)j->latent;
    j->k->reparam_kl_backward(r1 - r0, j->latent, j->mulv + (size_t)r0 * 2 * Z, j->eps + r0 * Z, j->dz + r0 * Z,
                              j->beta, j->dmulv + (size_t)r0 * 2 * Z);
}

typedef struct loss_job {
    const vae_kernels *k;
    int cols, likelihood, sigmoid_mean;
    const float *logits, *x;
    float *loss, *dlogits;
} loss_job;

static void loss_rows(void *ctx, int r0, int r1)
{
    loss_job *j = ctx;
    size_t off = (size_t)r0 * j->cols;
    float *dl = j->dlogits ? j->dlogits + off : NULL;
    if (j->likelihood == VAE_LIK_BERNOULLI)
        j->k->bernoulli_loss(r1 - r0, j->cols, j->logits + off, j->x + off, j->loss + r0, dl);
    else
        j->k->gaussian_loss(r1 - r0, j->cols, j->logits + off, j->x + off, j->sigmoid_mean, j->loss + r0, dl);
}

/* Adam's hyperparameters for the step after m->step. */
static vae_adam_params adam_params(const vae_model *m, float lr)
{
    const double beta1 = 0.9, beta2 = 0.999;
    double t = (double)(m->step + 1);
    vae_adam_params hp = {
        .lr = lr, .beta1 = (float)beta1, .beta2 = (float)beta2, .eps = 1e-8f,
        .bias_correction1 = (float)(1.0 - pow(beta1, t)),
        .bias_correction2 = (float)(1.0 - pow(beta2, t)),
    };
    return hp;
}

/* ------------------------------------------------------ GEMM epilogues */

/* Element-wise work fused into a layer's GEMMs (see vae_sgemm_fused): each
 * epilogue runs on the block of C a thread has just finished, while it is in
 * that core's cache, so it costs no pass over memory and no extra wake-up of
 * the pool. Every element gets the same operations as in a separate pass,
 * so the results do not depend on the blocking or the thread count.
 *
 * For the profile, the calling thread times its own epilogues (the other
 * threads do the same share of the work at the same time). */
static _Thread_local int epilogue_timing;
static _Thread_local double epilogue_seconds, bias_epilogue_seconds;

typedef struct epilogue_job {
    const vae_kernels *k;
    const vae_linear *L;
    vae_model *m;
    int act;
    const float *a;         /* activations whose derivative applies */
    int ld_a;
    const vae_adam_params *adam;
    const float *dy;        /* weight gradient: the layer's dy, rows x L->out */
    int rows;
} epilogue_job;

/* Runs body, adding its time to seconds when the calling thread is timing
 * its epilogues. */
#define EPILOGUE_TIMED(seconds, body)                                     \
    do {                                                                  \
        double epilogue_t0 = epilogue_timing ? vae_seconds_now() : 0.0;   \
        body;                                                             \
        if (epilogue_timing) (seconds) += vae_seconds_now() - epilogue_t0; \
    } while (0)

/* y = act(y + b) on the block (forward). */
static void epilogue_bias_act(void *ctx, int i0, int i1, int j0, int j1, float *y, int ld)
{
    epilogue_job *e = ctx;
    (void)i0;
    EPILOGUE_TIMED(epilogue_seconds,
                   e->k->bias_act_forward(i1 - i0, j1 - j0, y, ld, e->m->params + e->L->b + j0, e->act));
}

/* dx *= act'(a) on the block (backward through the previous layer's
 * activation, a being that layer's output, ld_a floats a row). */
static void epilogue_act_backward(void *ctx, int i0, int i1, int j0, int j1, float *dx, int ld)
{
    epilogue_job *e = ctx;
    const float *a = e->a + (size_t)i0 * e->ld_a + j0;
    EPILOGUE_TIMED(epilogue_seconds, e->k->act_backward(i1 - i0, j1 - j0, a, e->ld_a, dx, ld, e->act));
}

/* On the block of a weight gradient just computed, rows [i0, i1) (output
 * units), columns [j0, j1) (inputs): with adam, Adam on W's block; and on
 * the block that holds column 0, once per unit, the bias gradient of units
 * [i0, i1) (db = column sums of dy, each in row order) and, with adam, its
 * Adam step. The thread that owns a unit's row of W thus also owns its bias,
 * reading the columns of dy it has just packed, and no separate job is
 * started for it (at 2 threads, 0.11 -> 0.05 s of bias gradients over 8
 * epochs, epochs 1.3 % faster; at 1 thread 1-4 % faster, in turns in one
 * process, same bits). */
static void epilogue_weight_grad(void *ctx, int i0, int i1, int j0, int j1, float *dw, int ld)
{
    epilogue_job *e = ctx;
    vae_model *m = e->m;
    if (j0 == 0)
        EPILOGUE_TIMED(bias_epilogue_seconds, {
            size_t b = e->L->b + (size_t)i0;
            e->k->bias_grad(e->rows, i1 - i0, e->dy + i0, e->L->out, m->grads + b);
            if (e->adam)
                e->k->adam_update((size_t)(i1 - i0), m->params + b, m->grads + b, m->adam_m + b, m->adam_v + b,
                                  e->adam);
        });
    if (!e->adam) return;
    EPILOGUE_TIMED(epilogue_seconds, for (int i = i0; i < i1; i++) {
        size_t off = e->L->w + (size_t)i * e->L->in + (size_t)j0;
        e->k->adam_update((size_t)(j1 - j0), m->params + off, dw + (size_t)(i - i0) * ld, m->adam_m + off,
                          m->adam_v + off, e->adam);
    });
}

/* Runs a fused GEMM; with a gemm_slot (profiling), its time goes there and
 * the calling thread's epilogue time to epilogue_slot (bias gradients in a
 * weight-gradient epilogue to the bias-gradient slot). */
static void fused_gemm(vae_model *m, double *gemm_slot, double *epilogue_slot, vae_transpose ta,
                       vae_transpose tb, int M, int N, int K, const float *a, int lda, const float *b, int ldb,
                       float *c, int ldc, vae_gemm_epilogue epilogue, epilogue_job *e, int flags)
{
    double t0 = 0.0;
    if (gemm_slot) {
        t0 = vae_seconds_now();
        epilogue_timing = 1;
        epilogue_seconds = bias_epilogue_seconds = 0.0;
    }
    vae_sgemm_fused(ta, tb, M, N, K, 1.0f, a, lda, b, ldb, 0.0f, c, ldc, epilogue, e, flags);
    if (gemm_slot) {
        double total = vae_seconds_now() - t0;
        epilogue_timing = 0;
        *gemm_slot += total - epilogue_seconds - bias_epilogue_seconds;
        *epilogue_slot += epilogue_seconds;
        m->profile->bias_grad += bias_epilogue_seconds;
    }
}

/* --------------------------------------------------------- linear layer */

/* y[B,out] = act(x[B,in] * W^T + b), the bias and activation applied as
 * the GEMM's epilogue; p: the profile to time it in, or NULL. */
static void linear_forward(vae_model *m, vae_profile *p, const vae_linear *L, int B, const float *x, float *y)
{
    epilogue_job e = {.k = vae_kernels_active(), .L = L, .m = m, .act = L->act};
    fused_gemm(m, p ? &p->GEMM_SLOT(m, L, VAE_PASS_FORWARD) : NULL, p ? &p->bias_act : NULL, VAE_NO_TRANS,
               VAE_TRANS, B, L->out, L->in, x, L->in, m->params + L->w, L->in, y, L->out, epilogue_bias_act, &e,
               VAE_GEMM_SPLIT_AUTO);
}

/* Given dy[B,out] = d loss / d (x W^T + b) (the activation's derivative
 * already applied): dx[B,in] = dy W, then, when act_in is not NONE,
 * dx *= act_in'(x) (the previous layer's activation, x its output).
 * p: the profile to time it in, or NULL. */
static void linear_backward_data(vae_model *m, vae_profile *p, const vae_linear *L, int B, const float *x,
                                 const float *dy, float *dx, int act_in)
{
    epilogue_job e = {.k = vae_kernels_active(), .L = L, .m = m, .act = act_in, .a = x, .ld_a = L->in};
    fused_gemm(m, p ? &p->GEMM_SLOT(m, L, VAE_PASS_BACKWARD_DATA) : NULL, p ? &p->act_backward : NULL,
               VAE_NO_TRANS, VAE_NO_TRANS, B, L->in, L->out, dy, L->out, m->params + L->w, L->in, dx, L->in,
               act_in == VAE_KERNEL_ACT_NONE ? NULL : epilogue_act_backward, &e, VAE_GEMM_SPLIT_AUTO);
}

/* dW[out,in] = dy^T x and db[out] = the sum over rows of dy, db in the
 * weight-gradient GEMM's epilogue; with adam (a training step), W and b
 * take their Adam step there too, as soon as their gradients are complete
 * (the caller has computed dx from the old W first). split: how threads
 * share dW; VAE_GEMM_SPLIT_ROWS shares it as the forward pass shares W
 * (see internal.h). */
static void linear_weight_grad(vae_model *m, const vae_linear *L, int B, const float *x, const float *dy,
                               const vae_adam_params *adam, int split)
{
    vae_profile *p = m->profile;
    epilogue_job e = {.k = vae_kernels_active(), .L = L, .m = m, .adam = adam, .dy = dy, .rows = B};
    /* With Adam, dW is consumed block by block in the epilogue: it need not
     * reach memory (VAE_GEMM_C_TRANSIENT). */
    fused_gemm(m, p ? &p->GEMM_SLOT(m, L, VAE_PASS_WEIGHT_GRAD) : NULL, p ? &p->adam : NULL, VAE_TRANS,
               VAE_NO_TRANS, L->out, L->in, B, dy, L->out, x, L->in, m->grads + L->w, L->in, epilogue_weight_grad,
               &e, split | (adam ? VAE_GEMM_C_TRANSIENT : 0));
}

/* Both, dx skipped when NULL. */
static void linear_backward(vae_model *m, const vae_linear *L, int B, const float *x, const float *dy,
                            float *dx, int act_in, const vae_adam_params *adam)
{
    if (dx) linear_backward_data(m, m->profile, L, B, x, dy, dx, act_in);
    linear_weight_grad(m, L, B, x, dy, adam, VAE_GEMM_SPLIT_ROWS);
}

/* ------------------------------------------------------ whole network */

static void encoder_forward(vae_model *m, const float *x, int B)
{
    const float *h = x;
    for (int l = 0; l < m->n_layers; l++) {
        float *y = l == m->n_layers - 1 ? m->mulv : m->enc_out[l];
        linear_forward(m, m->profile, &m->enc[l], B, h, y);
        h = y;
    }
}

static void decoder_forward(vae_model *m, const float *z, int B)
{
    const float *h = z;
    for (int l = 0; l < m->n_layers; l++) {
        float *y = l == m->n_layers - 1 ? m->logits : m->dec_out[l];
        linear_forward(m, m->profile, &m->dec[l], B, h, y);
        h = y;
    }
}

/* The middle of the network, between its wide layers: forward, the
 * encoder's last layer (to mu | logvar, 2Z wide), the reparameterization
 * and the decoder's first layer (from z, Z wide); backward, the decoder's
 * first layer's dx, the reparameterization and the encoder's last layer's
 * dx. Their GEMMs are thin (2-4 MFLOP each at batch 128): shared out one by
 * one, each costs a wake-up of the pool and a wait for the slower thread,
 * and at 2 threads they ran no faster than on one. So each pass of the
 * middle is one job over shares of the batch's rows, every thread taking
 * its rows through the three steps: one wake-up instead of three, and each
 * thread reads the rows it has just written. Every thread reads the two
 * weight matrices whole; they are small (40 x 400 and 400 x 20 by default).
 * The shares change no result: a GEMM's element sums its k products in the
 * same order however C is split, and the noise depends on the row, not on
 * the thread. The weight gradients of these layers sum over the batch, so
 * they run afterwards as GEMMs of their own. */
typedef struct middle_job {
    vae_model *m;
    const float *in; /* forward: enc[n-1]'s input; backward: d loss / d dec[0]'s output */
    float *out;      /* forward: dec[0]'s output; backward: d loss / d enc[n-1]'s input, or NULL */
    /* forward: the noise's stream and step, and the batch's first row */
    uint32_t stream, row0;
    uint64_t step;
} middle_job;

static void run_middle(vae_model *m, int B, vae_range_fn fn, middle_job *j)
{
    const vae_linear *E = &m->enc[m->n_layers - 1], *D = &m->dec[0];
    double flops = 2.0 * B * ((double)E->in * E->out + (double)D->in * D->out);
    if (flops < VAE_MIDDLE_MIN_FLOPS) vae_serial_for(B, fn, j);
    else vae_parallel_for(B, fn, j);
}

/* Rows [r0, r1) of the middle, forward. The share that starts at row 0 (the
 * calling thread's) times its steps in the profile; the others do the same
 * work at the same time. */
static void middle_forward_rows(void *ctx, int r0, int r1)
{
    middle_job *j = ctx;
    vae_model *m = j->m;
    if (r1 <= r0) return;
    vae_profile *p = r0 == 0 ? m->profile : NULL;
    const vae_linear *E = &m->enc[m->n_layers - 1], *D = &m->dec[0];
    size_t Z = (size_t)m->latent;
    linear_forward(m, p, E, r1 - r0, j->in + (size_t)r0 * E->in, m->mulv + (size_t)r0 * 2 * Z);
    reparam_job rj = {.k = vae_kernels_active(), .latent = m->latent, .mulv = m->mulv, .seed = m->seed,
                      .step = j->step, .stream = j->stream, .row0 = j->row0, .eps_out = m->eps, .z = m->z,
                      .kl = m->row_kl};
    PROFILED(p, reparam, reparam_forward_rows(&rj, r0, r1));
    linear_forward(m, p, D, r1 - r0, m->z + (size_t)r0 * Z, j->out + (size_t)r0 * D->out);
}

/* Rows [r0, r1) of the middle, backward: dz, then d mu | d logvar (through
 * the reparameterization and beta * KL) in m->dz and m->dmulv, then, when
 * there is a hidden encoder layer, its output's gradient in j->out. */
static void middle_backward_rows(void *ctx, int r0, int r1)
{
    middle_job *j = ctx;
    vae_model *m = j->m;
    if (r1 <= r0) return;
    vae_profile *p = r0 == 0 ? m->profile : NULL;
    int n = m->n_layers;
    const vae_linear *E = &m->enc[n - 1], *D = &m->dec[0];
    size_t Z = (size_t)m->latent;
    linear_backward_data(m, p, D, r1 - r0, NULL, j->in + (size_t)r0 * D->out, m->dz + (size_t)r0 * Z,
                         VAE_KERNEL_ACT_NONE);
    reparam_job rj = {.k = vae_kernels_active(), .latent = m->latent, .mulv = m->mulv, .eps = m->eps,
                      .dz = m->dz, .beta = m->cfg.beta, .dmulv = m->dmulv};
    PROFILED(p, reparam, reparam_backward_rows(&rj, r0, r1));
    if (j->out)
        linear_backward_data(m, p, E, r1 - r0, m->enc_out[n - 2] + (size_t)r0 * E->in,
                             m->dmulv + (size_t)r0 * 2 * Z, j->out + (size_t)r0 * E->in, m->enc[n - 2].act);
}

/* Forward through the loss for x[B,D]; with want_grad the gradient of the
 * summed loss with respect to the logits is left in grad_a. */
static void forward_loss(vae_model *m, const float *x, int B, uint32_t stream, uint64_t step,
                         uint32_t row0, int want_grad, vae_batch_stats *out)
{
    const vae_kernels *k = vae_kernels_active();
    int n = m->n_layers;
    const float *h = x;
    for (int l = 0; l < n - 1; l++) {
        linear_forward(m, m->profile, &m->enc[l], B, h, m->enc_out[l]);
        h = m->enc_out[l];
    }
    middle_job mj = {.m = m, .in = h, .out = n > 1 ? m->dec_out[0] : m->logits, .stream = stream, .row0 = row0,
                     .step = step};
    run_middle(m, B, middle_forward_rows, &mj);
    h = mj.out;
    for (int l = 1; l < n; l++) {
        float *y = l == n - 1 ? m->logits : m->dec_out[l];
        linear_forward(m, m->profile, &m->dec[l], B, h, y);
        h = y;
    }
    loss_job lj = {k, m->input_dim, (int)m->cfg.likelihood, m->cfg.gaussian_mean == VAE_MEAN_SIGMOID,
                   m->logits, x, m->row_rec, want_grad ? m->grad_a : NULL};
    PROFILED(m->profile, loss, run_rows(B, (size_t)B * m->input_dim, loss_rows, &lj));
    double rec = 0.0, kl = 0.0;
    for (int r = 0; r < B; r++) {
        rec += m->row_rec[r];
        kl += m->row_kl[r];
    }
    out->rec = rec;
    out->kl = kl;
    out->loss = rec + (double)m->cfg.beta * kl;
}

/* Backward from d loss / d logits in grad_a to every parameter gradient;
 * with adam, each layer's parameters take their Adam step as soon as their
 * gradients are complete and every dx that needs them is computed. */
static void backward(vae_model *m, const float *x, int B, const vae_adam_params *adam)
{
    int n = m->n_layers;
    float *dy = m->grad_a, *dx = m->grad_b, *t;
    for (int l = n - 1; l >= 1; l--) {
        linear_backward(m, &m->dec[l], B, m->dec_out[l - 1], dy, dx, m->dec[l - 1].act, adam);
        t = dy; dy = dx; dx = t;
    }
    /* dy is d loss / d dec[0]'s output. The middle's dx, then its two
     * weight gradients (both layers' dx used the old weights), split as
     * the frame likes: every thread reads these weights whole in the
     * middle's job, so no split keeps them on one core, and the 40-row dW
     * of the encoder's last layer has only 4 row strips to share. */
    middle_job mj = {.m = m, .in = dy, .out = n > 1 ? dx : NULL};
    run_middle(m, B, middle_backward_rows, &mj);
    linear_weight_grad(m, &m->dec[0], B, m->z, dy, adam, VAE_GEMM_SPLIT_AUTO);
    linear_weight_grad(m, &m->enc[n - 1], B, n > 1 ? m->enc_out[n - 2] : x, m->dmulv, adam, VAE_GEMM_SPLIT_AUTO);
    t = dy; dy = dx; dx = t;
    for (int l = n - 2; l >= 0; l--) {
        const float *in = l == 0 ? x : m->enc_out[l - 1];
        int act_in = l == 0 ? VAE_KERNEL_ACT_NONE : m->enc[l - 1].act;
        linear_backward(m, &m->enc[l], B, in, dy, l == 0 ? NULL : dx, act_in, adam);
        t = dy; dy = dx; dx = t;
    }
}

static int check_batch(vae_model *m, int batch)
{
    if (batch <= 0) return vae_fail(VAE_ERR_ARG, "batch of %d rows: must be positive", batch);
    return vae_model_reserve(m, batch);
}

int vae_model_gradients(vae_model *m, const float *x, int batch, uint32_t stream, uint64_t step,
                        vae_batch_stats *out)
{
    int rc = check_batch(m, batch);
    if (rc != VAE_OK) return rc;
    forward_loss(m, x, batch, stream, step, 0, 1, out);
    backward(m, x, batch, NULL);
    return VAE_OK;
}

/* A training step: the gradients with Adam fused into the backward pass
 * (see linear_backward). The same updates as vae_model_gradients followed
 * by one Adam pass over every parameter, bit for bit. */
int vae_train_step(vae_model *m, const float *x, int batch, float lr, vae_batch_stats *out)
{
    vae_batch_stats stats;
    int rc = check_batch(m, batch);
    if (rc != VAE_OK) return rc;
    vae_adam_params hp = adam_params(m, lr);
    forward_loss(m, x, batch, VAE_STREAM_NOISE, m->step, 0, 1, &stats);
    backward(m, x, batch, &hp);
    m->step++;
    if (out) *out = stats;
    return VAE_OK;
}

int vae_eval_batch(vae_model *m, const float *x, int batch, uint32_t stream, uint64_t step,
                   uint32_t row0, vae_batch_stats *out)
{
    int rc = check_batch(m, batch);
    if (rc != VAE_OK) return rc;
    vae_batch_stats stats;
    forward_loss(m, x, batch, stream, step, row0, 0, &stats);
    if (out) *out = stats;
    return VAE_OK;
}

int vae_encode(vae_model *m, const float *x, int batch, float *mu, float *logvar)
{
    int rc = check_batch(m, batch);
    if (rc != VAE_OK) return rc;
    encoder_forward(m, x, batch);
    int Z = m->latent;
    for (int r = 0; r < batch; r++) {
        if (mu) memcpy(mu + (size_t)r * Z, m->mulv + (size_t)r * 2 * Z, sizeof(float) * (size_t)Z);
        if (logvar) memcpy(logvar + (size_t)r * Z, m->mulv + (size_t)r * 2 * Z + Z, sizeof(float) * (size_t)Z);
    }
    return VAE_OK;
}

int vae_decode(vae_model *m, const float *z, int batch, float *mean)
{
    int rc = check_batch(m, batch);
    if (rc != VAE_OK) return rc;
    decoder_forward(m, z, batch);
    size_t n = (size_t)batch * (size_t)m->input_dim;
    int linear = m->cfg.likelihood == VAE_LIK_GAUSSIAN && m->cfg.gaussian_mean == VAE_MEAN_LINEAR;
    for (size_t i = 0; i < n; i++) {
        float l = m->logits[i];
        mean[i] = linear ? l : 1.0f / (1.0f + expf(-l));
    }
    return VAE_OK;
}

/* The decoder alone, its logits left in m->logits: the evaluation (eval.c)
 * needs log p(x|z) of many z per image, which the logits give stably. */
int vae_model_decode_logits(vae_model *m, const float *z, int batch)
{
    int rc = check_batch(m, batch);
    if (rc != VAE_OK) return rc;
    decoder_forward(m, z, batch);
    return VAE_OK;
}

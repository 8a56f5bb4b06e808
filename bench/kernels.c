/* bench/kernels.c - the fused element-wise kernels against plain unfused
 * scalar code, one core, on the shapes of the default VAE (784-400-20) at a
 * batch of 128.
 *
 * The unfused versions below are what the math reads like without fusing
 * or SIMD: one loop per step of the formula over the whole array, libm for
 * exp, log1p and sqrt, the noise from vae_normal one value at a time. Each
 * line gives millions of elements (values of the output) per second for
 * the unfused code and for one kernel table, and ends in the table's
 * speed-up over the unfused code.
 *
 * The second table is one training step's element-wise calls (how many of
 * each, microseconds) per kernel table, beside the step's 11 GEMMs on the
 * same table: the share of the step outside GEMM before (the scalar
 * kernels, which every table used before the SIMD ones) and after.
 *
 *   bench/kernels [--quick] [--min] [--only TEXT]
 *     --quick      shorter timings
 *     --min        the fastest run instead of the median (for tuning)
 *     --only TEXT  only the kernels whose name contains TEXT, no step table */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "vae.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int use_min;
static double target_seconds = 0.25;

/* Median (or fastest) seconds of one call of each of fn[0..n-1](ctx),
 * called in turns (fn[0], fn[1], ..., fn[0], ...) for about target_seconds
 * in all, so that all see the same load on a shared machine and their
 * ratio holds even when the absolute times move. */
static void time_turns(void (*const *fn)(void *), int n, void *ctx, double *out)
{
    /* reps calls per sample, so that a sample lasts 20 us or more and the
     * clock's own cost stays out of the numbers */
    double once = 0;
    for (int f = 0; f < n; f++) {
        fn[f](ctx); /* warm-up */
        double t0 = now();
        fn[f](ctx);
        once += now() - t0;
    }
    int reps = (int)(20e-6 * n / (once + 1e-9)) + 1;
    int runs = (int)(target_seconds / (reps * once + 1e-9));
    runs = runs < 5 ? 5 : runs > 2001 ? 2001 : runs;
    double *t = malloc(sizeof(double) * (size_t)runs * (size_t)n);
    for (int r = 0; r < runs; r++)
        for (int f = 0; f < n; f++) {
            double t0 = now();
            for (int i = 0; i < reps; i++) fn[f](ctx);
            t[(size_t)f * runs + (size_t)r] = (now() - t0) / reps;
        }
    for (int f = 0; f < n; f++) {
        double *tf = t + (size_t)f * runs;
        qsort(tf, (size_t)runs, sizeof(double), cmp_double);
        out[f] = use_min ? tf[0] : tf[runs / 2];
    }
    free(t);
}

static double time_call(void (*fn)(void *), void *ctx)
{
    double s;
    time_turns(&fn, 1, ctx, &s);
    return s;
}

/* ------------------------------------------------------------ buffers */

enum { B = 128, D = 784, H = 400, Z = 20, ENC2 = 40 };
#define N_PARAMS 652824 /* 784*400+400 + 400*40+40 + 20*400+400 + 400*784+784 */

typedef struct bench {
    const vae_kernels *k; /* the table; NULL for the unfused code */
    int rows, cols, act;
    float *y, *bias, *a, *dy, *db;                 /* layers */
    float *logits, *x, *loss, *dl, *t1, *t2, *t3;  /* likelihoods, scratch */
    float *mulv, *eps, *z, *kl, *dz, *dmulv;       /* reparameterization */
    float *p, *g, *m, *v, *mhat, *vhat;            /* Adam */
    vae_adam_params hp;
    uint64_t step;
} bench;

/* n floats, 64-byte aligned as the model's workspace is, filled with
 * pseudo-random values in [lo, hi). */
static float *buffer(size_t n, unsigned seed, float lo, float hi)
{
    float *p = aligned_alloc(64, (sizeof(float) * n + 63) / 64 * 64);
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = lo + (hi - lo) * (float)(s >> 8) * 0x1p-24f;
    }
    return p;
}

/* ----------------------------------------------------- unfused scalar */

/* The bias passes work in place on y, call after call: y drifts by the
 * bias each call, which changes no timing. (Restoring y by a memcpy before
 * each call, and taking the memcpy's time off, undercounted the speed of
 * the short kernels: the 40-wide bias, in L1, ran at half its speed right
 * behind the copy.) */
static void unfused_bias_act(void *ctx)
{
    bench *b = ctx;
    size_t n = (size_t)b->rows * b->cols;
    for (int r = 0; r < b->rows; r++) /* pass 1: + bias */
        for (int j = 0; j < b->cols; j++) b->y[(size_t)r * b->cols + j] += b->bias[j];
    if (b->act == VAE_KERNEL_ACT_RELU) /* pass 2: ReLU */
        for (size_t i = 0; i < n; i++) b->y[i] = fmaxf(b->y[i], 0.0f);
}

static void unfused_relu_backward(void *ctx)
{
    bench *b = ctx;
    size_t n = (size_t)b->rows * b->cols;
    for (size_t i = 0; i < n; i++) b->t1[i] = b->a[i] > 0.0f ? 1.0f : 0.0f; /* pass 1: ReLU' */
    for (size_t i = 0; i < n; i++) b->dy[i] *= b->t1[i];                   /* pass 2: times dy */
}

static void unfused_bias_grad(void *ctx)
{
    bench *b = ctx;
    for (int j = 0; j < b->cols; j++) { /* a column at a time, rows in order */
        float s = 0.0f;
        for (int r = 0; r < b->rows; r++) s += b->dy[(size_t)r * b->cols + j];
        b->db[j] = s;
    }
}

static void unfused_bernoulli(void *ctx)
{
    bench *b = ctx;
    size_t n = (size_t)b->rows * b->cols;
    for (size_t i = 0; i < n; i++) b->t1[i] = fmaxf(b->logits[i], 0.0f) + log1pf(expf(-fabsf(b->logits[i])));
    for (size_t i = 0; i < n; i++) b->t2[i] = b->t1[i] - b->x[i] * b->logits[i];
    for (int r = 0; r < b->rows; r++) {
        float s = 0.0f;
        for (int j = 0; j < b->cols; j++) s += b->t2[(size_t)r * b->cols + j];
        b->loss[r] = s;
    }
    for (size_t i = 0; i < n; i++) b->t3[i] = 1.0f / (1.0f + expf(-b->logits[i]));
    for (size_t i = 0; i < n; i++) b->dl[i] = b->t3[i] - b->x[i];
}

static void unfused_gaussian(void *ctx)
{
    bench *b = ctx;
    size_t n = (size_t)b->rows * b->cols;
    for (size_t i = 0; i < n; i++) b->t1[i] = 1.0f / (1.0f + expf(-b->logits[i])); /* mean */
    for (size_t i = 0; i < n; i++) b->t2[i] = b->t1[i] - b->x[i];                  /* diff */
    for (int r = 0; r < b->rows; r++) {
        float s = 0.0f;
        for (int j = 0; j < b->cols; j++) s += 0.5f * b->t2[(size_t)r * b->cols + j] * b->t2[(size_t)r * b->cols + j];
        b->loss[r] = s;
    }
    for (size_t i = 0; i < n; i++) b->dl[i] = b->t2[i] * b->t1[i] * (1.0f - b->t1[i]);
}

static void unfused_reparam_forward(void *ctx)
{
    bench *b = ctx;
    int L = b->cols;
    for (int r = 0; r < b->rows; r++) /* pass 1: the noise */
        for (int j = 0; j < L; j++)
            b->eps[r * L + j] = vae_normal(7, VAE_STREAM_NOISE, b->step, (uint32_t)r, (uint32_t)j);
    for (int r = 0; r < b->rows; r++) /* pass 2: std */
        for (int j = 0; j < L; j++) b->t1[r * L + j] = expf(0.5f * b->mulv[r * 2 * L + L + j]);
    for (int r = 0; r < b->rows; r++) /* pass 3: z */
        for (int j = 0; j < L; j++) b->z[r * L + j] = b->mulv[r * 2 * L + j] + b->t1[r * L + j] * b->eps[r * L + j];
    for (int r = 0; r < b->rows; r++) { /* pass 4: KL */
        float s = 0.0f;
        for (int j = 0; j < L; j++) {
            float mu = b->mulv[r * 2 * L + j], lv = b->mulv[r * 2 * L + L + j];
            s += 1.0f + lv - mu * mu - expf(lv);
        }
        b->kl[r] = -0.5f * s;
    }
}

static void unfused_reparam_backward(void *ctx)
{
    bench *b = ctx;
    int L = b->cols;
    const float beta = 1.0f;
    for (int r = 0; r < b->rows; r++) /* pass 1: std and var */
        for (int j = 0; j < L; j++) {
            b->t1[r * L + j] = expf(0.5f * b->mulv[r * 2 * L + L + j]);
            b->t2[r * L + j] = expf(b->mulv[r * 2 * L + L + j]);
        }
    for (int r = 0; r < b->rows; r++) /* pass 2: d mu */
        for (int j = 0; j < L; j++) b->dmulv[r * 2 * L + j] = b->dz[r * L + j] + beta * b->mulv[r * 2 * L + j];
    for (int r = 0; r < b->rows; r++) /* pass 3: d logvar */
        for (int j = 0; j < L; j++)
            b->dmulv[r * 2 * L + L + j] = 0.5f * b->dz[r * L + j] * b->eps[r * L + j] * b->t1[r * L + j] +
                                          0.5f * beta * (b->t2[r * L + j] - 1.0f);
}

static void unfused_adam(void *ctx)
{
    bench *b = ctx;
    const vae_adam_params *hp = &b->hp;
    size_t n = N_PARAMS;
    for (size_t i = 0; i < n; i++) b->m[i] = hp->beta1 * b->m[i] + (1.0f - hp->beta1) * b->g[i];
    for (size_t i = 0; i < n; i++) b->v[i] = hp->beta2 * b->v[i] + (1.0f - hp->beta2) * b->g[i] * b->g[i];
    for (size_t i = 0; i < n; i++) b->mhat[i] = b->m[i] / hp->bias_correction1;
    for (size_t i = 0; i < n; i++) b->vhat[i] = b->v[i] / hp->bias_correction2;
    for (size_t i = 0; i < n; i++) b->p[i] -= hp->lr * b->mhat[i] / (sqrtf(b->vhat[i]) + hp->eps);
}

/* ------------------------------------------------------- table kernels */

static void fused_bias_act(void *ctx)
{
    bench *b = ctx;
    b->k->bias_act_forward(b->rows, b->cols, b->y, b->cols, b->bias, b->act);
}
static void fused_relu_backward(void *ctx)
{
    bench *b = ctx;
    b->k->act_backward(b->rows, b->cols, b->a, b->cols, b->dy, b->cols, VAE_KERNEL_ACT_RELU);
}
static void fused_bias_grad(void *ctx)
{
    bench *b = ctx;
    b->k->bias_grad(b->rows, b->cols, b->dy, b->cols, b->db);
}
static void fused_bernoulli(void *ctx)
{
    bench *b = ctx;
    b->k->bernoulli_loss(b->rows, b->cols, b->logits, b->x, b->loss, b->dl);
}
static void fused_gaussian(void *ctx)
{
    bench *b = ctx;
    b->k->gaussian_loss(b->rows, b->cols, b->logits, b->x, 1, b->loss, b->dl);
}
static void fused_reparam_forward(void *ctx)
{
    bench *b = ctx;
    b->k->reparam_kl_forward(b->rows, b->cols, b->mulv, 7, VAE_STREAM_NOISE, b->step, 0, b->eps, b->z, b->kl);
}
static void fused_reparam_backward(void *ctx)
{
    bench *b = ctx;
    b->k->reparam_kl_backward(b->rows, b->cols, b->mulv, b->eps, b->dz, 1.0f, b->dmulv);
}
static void fused_adam(void *ctx)
{
    bench *b = ctx;
    b->k->adam_update(N_PARAMS, b->p, b->g, b->m, b->v, &b->hp);
}

/* ---------------------------------------------------------------- main */

typedef struct case_ {
    const char *name;
    int rows, cols, act;
    void (*unfused)(void *), (*fused)(void *);
    int per_step; /* calls in one training step of the default model */
} case_;

/* Seconds per call of the unfused code and of table k's kernel, timed in
 * turns. */
static void time_case(const case_ *c, bench *b, const vae_kernels *k, double *unfused, double *fused)
{
    b->k = k;
    b->rows = c->rows;
    b->cols = c->cols;
    b->act = c->act;
    void (*const fn[2])(void *) = {c->unfused, c->fused};
    double s[2];
    time_turns(fn, 2, b, s);
    *unfused = s[0] > 1e-9 ? s[0] : 1e-9;
    *fused = s[1] > 1e-9 ? s[1] : 1e-9;
}

/* The 11 GEMMs of one training step at batch B (core/model.c). */
typedef struct gemm_shape {
    int ta, tb, m, n, k;
} gemm_shape;
static const gemm_shape step_gemms[] = {
    {0, 1, B, H, D},    {1, 0, H, D, B},                                         /* encoder 1: fwd, dW */
    {0, 1, B, ENC2, H}, {1, 0, ENC2, H, B}, {0, 0, B, H, ENC2},                  /* encoder 2 */
    {0, 1, B, H, Z},    {1, 0, H, Z, B},    {0, 0, B, Z, H},                     /* decoder 1 */
    {0, 1, B, D, H},    {1, 0, D, H, B},    {0, 0, B, H, D},                     /* decoder 2 */
};

static void step_gemm_calls(void *ctx)
{
    float **abc = ctx;
    for (size_t i = 0; i < sizeof step_gemms / sizeof step_gemms[0]; i++) {
        const gemm_shape *g = &step_gemms[i];
        vae_sgemm(g->ta, g->tb, g->m, g->n, g->k, 1.0f, abc[0], g->ta ? g->m : g->k, abc[1], g->tb ? g->k : g->n,
                  0.0f, abc[2], g->n);
    }
}

int main(int argc, char **argv)
{
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) target_seconds = 0.05;
        else if (strcmp(argv[i], "--min") == 0) use_min = 1;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: bench/kernels [--quick] [--min] [--only TEXT]\n");
            return 0;
        } else {
            fprintf(stderr, "bench/kernels: unknown option or missing value: %s\n", argv[i]);
            fprintf(stderr, "usage: bench/kernels [--quick] [--min] [--only TEXT]\n");
            return 2;
        }
    }
    vae_set_threads(1);
    size_t big = (size_t)B * D;
    bench b = {0};
    b.y = buffer(big, 1, -1, 1); b.bias = buffer(D, 3, -1, 1);
    b.a = buffer(big, 4, -1, 1); b.dy = buffer(big, 5, -1, 1); b.db = buffer(D, 6, 0, 0);
    b.logits = buffer(big, 7, -10, 10); b.x = buffer(big, 8, -1, 1); b.loss = buffer(B, 9, 0, 0);
    b.dl = buffer(big, 10, 0, 0); b.t1 = buffer(big, 11, 0, 0); b.t2 = buffer(big, 12, 0, 0);
    b.t3 = buffer(big, 13, 0, 0);
    for (size_t i = 0; i < big; i++) b.x[i] = b.x[i] < 0 ? 0.0f : b.x[i]; /* half the pixels 0, as in MNIST */
    b.mulv = buffer(2 * B * Z, 14, -2, 2); b.eps = buffer(B * Z, 15, -2, 2); b.z = buffer(B * Z, 16, 0, 0);
    b.kl = buffer(B, 17, 0, 0); b.dz = buffer(B * Z, 18, -1, 1); b.dmulv = buffer(2 * B * Z, 19, 0, 0);
    b.p = buffer(N_PARAMS, 20, -0.1f, 0.1f); b.g = buffer(N_PARAMS, 21, -0.01f, 0.01f);
    b.m = buffer(N_PARAMS, 22, 0, 0); b.v = buffer(N_PARAMS, 23, 0, 0);
    b.mhat = buffer(N_PARAMS, 24, 0, 0); b.vhat = buffer(N_PARAMS, 25, 0, 0);
    b.hp = (vae_adam_params){1e-3f, 0.9f, 0.999f, 1e-8f, 1.0f - 0.9f * 0.9f, 1.0f - 0.999f * 0.999f};
    b.step = 12345;

    const case_ cases[] = {
        {"bias + relu", B, H, VAE_KERNEL_ACT_RELU, unfused_bias_act, fused_bias_act, 2},
        {"bias (decoder out)", B, D, VAE_KERNEL_ACT_NONE, unfused_bias_act, fused_bias_act, 1},
        {"bias (mu, logvar)", B, ENC2, VAE_KERNEL_ACT_NONE, unfused_bias_act, fused_bias_act, 1},
        {"relu backward", B, H, VAE_KERNEL_ACT_RELU, unfused_relu_backward, fused_relu_backward, 2},
        {"bias grad", B, D, 0, unfused_bias_grad, fused_bias_grad, 1},
        {"bias grad", B, H, 0, unfused_bias_grad, fused_bias_grad, 2},
        {"bias grad", B, ENC2, 0, unfused_bias_grad, fused_bias_grad, 1},
        {"bernoulli loss+grad", B, D, 0, unfused_bernoulli, fused_bernoulli, 1},
        {"gaussian loss+grad", B, D, 0, unfused_gaussian, fused_gaussian, 0},
        {"reparam+KL forward", B, Z, 0, unfused_reparam_forward, fused_reparam_forward, 1},
        {"reparam+KL backward", B, Z, 0, unfused_reparam_backward, fused_reparam_backward, 1},
        {"adam", 1, N_PARAMS, 0, unfused_adam, fused_adam, 1},
    };
    enum { N_CASES = sizeof cases / sizeof cases[0] };
    const vae_kernels *tables[8];
    int n_tables = vae_kernels_available(tables, 8);

    printf("# vae %s fused kernels, 1 thread, Melem/s (%s of many calls); speed-up over the unfused scalar code\n",
           VAE_VERSION, use_min ? "fastest" : "median");
    printf("%-20s %10s %10s %-7s %10s %8s\n", "kernel", "shape", "unfused", "table", "fused", "speed-up");
    double us[N_CASES][9]; /* [case][0] unfused, [case][1 + t] table t: microseconds per call */
    for (int c = 0; c < N_CASES; c++) {
        const case_ *cs = &cases[c];
        if (only && !strstr(cs->name, only)) continue;
        double elems = (double)cs->rows * cs->cols;
        char shape[32];
        snprintf(shape, sizeof shape, "%dx%d", cs->rows, cs->cols);
        for (int t = n_tables - 1; t >= 0; t--) { /* scalar first */
            double unfused, fused;
            time_case(cs, &b, tables[t], &unfused, &fused);
            us[c][0] = 1e6 * unfused; /* the last, next to the best table */
            us[c][1 + t] = 1e6 * fused;
            printf("%-20s %10s %10.1f %-7s %10.1f %7.1fx\n", cs->name, shape, elems / us[c][0], tables[t]->name,
                   elems / us[c][1 + t], unfused / fused);
            fflush(stdout);
        }
    }

    if (only) return 0;
    /* One training step: element-wise calls against GEMM, per table. */
    float *abc[3] = {buffer((size_t)D * H, 30, -1, 1), buffer((size_t)D * H, 31, -1, 1),
                     buffer((size_t)D * H, 32, 0, 0)};
    printf("\n# one training step of the default model (784-400-20, Bernoulli), batch %d, 1 thread, us per step\n", B);
    printf("%-20s %10s %5s %10s", "call", "shape", "count", "unfused");
    for (int t = n_tables - 1; t >= 0; t--) printf(" %10s", tables[t]->name);
    printf("\n");
    double total[9] = {0};
    for (int c = 0; c < N_CASES; c++) {
        const case_ *cs = &cases[c];
        if (!cs->per_step) continue;
        char shape[32];
        snprintf(shape, sizeof shape, "%dx%d", cs->rows, cs->cols);
        printf("%-20s %10s %5d %10.1f", cs->name, shape, cs->per_step, cs->per_step * us[c][0]);
        total[0] += cs->per_step * us[c][0];
        for (int t = n_tables - 1; t >= 0; t--) {
            printf(" %10.1f", cs->per_step * us[c][1 + t]);
            total[1 + t] += cs->per_step * us[c][1 + t];
        }
        printf("\n");
    }
    printf("%-20s %10s %5s %10.1f", "element-wise total", "", "", total[0]);
    for (int t = n_tables - 1; t >= 0; t--) printf(" %10.1f", total[1 + t]);
    double gemm[8];
    printf("\n%-20s %10s %5d %10s", "GEMM (same table)", "", (int)(sizeof step_gemms / sizeof step_gemms[0]), "-");
    for (int t = n_tables - 1; t >= 0; t--) {
        vae_isa_select(tables[t]->name);
        gemm[t] = 1e6 * time_call(step_gemm_calls, abc);
        printf(" %10.1f", gemm[t]);
    }
    vae_isa_select(NULL);
    printf("\n%-20s %10s %5s %10s", "outside GEMM before", "", "", "-");
    /* before: the scalar element-wise kernels next to this table's GEMM */
    for (int t = n_tables - 1; t >= 0; t--)
        printf(" %9.1f%%", 100 * total[n_tables] / (total[n_tables] + gemm[t]));
    printf("\n%-20s %10s %5s %10s", "outside GEMM after", "", "", "-");
    for (int t = n_tables - 1; t >= 0; t--) printf(" %9.1f%%", 100 * total[1 + t] / (total[1 + t] + gemm[t]));
    printf("\n");
    return 0;
}

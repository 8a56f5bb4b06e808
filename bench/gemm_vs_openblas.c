/* gemm_vs_openblas.c - vae_sgemm beside OpenBLAS's cblas_sgemm on the same
 * operands, for the peer comparison in README.md. Not part of `make bench`
 * and never linked into the engine: `make bench/gemm_vs_openblas` needs
 * Debian's libopenblas-dev.
 *
 *   bench/gemm_vs_openblas [THREADS] [ONLY]
 *
 * ONLY 0 (default) alternates the two in rounds of 16 calls, so both see
 * the same machine conditions (fair at 1 thread); 1 times vae alone, 2
 * OpenBLAS alone (use separate processes at 2+ threads: OpenBLAS's threads
 * spin after a call and would slow the other library's next call). Prints
 * GFLOP/s from the median call. Run OpenBLAS with its own CPU detection:
 *   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE bench/gemm_vs_openblas 1 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vae.h"

/* From OpenBLAS's cblas.h, declared here so no header is needed. */
void cblas_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);
void openblas_set_num_threads(int threads);
char *openblas_get_corename(void);
enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The shapes of ../shared/peers/gemm (M, N, K, op(A), op(B)). */
typedef struct shape {
    const char *name;
    int m, n, k, ta, tb;
} shape;

static const shape shapes[] = {
    {"sq1024", 1024, 1024, 1024, 0, 0},   {"sq512", 512, 512, 512, 0, 0},
    {"fwd_enc1_b128", 128, 400, 784, 0, 1}, {"fwd_enc2_b128", 128, 40, 400, 0, 1},
    {"fwd_dec1_b128", 128, 400, 20, 0, 1},  {"fwd_dec2_b128", 128, 784, 400, 0, 1},
    {"bwd_dec2_b128", 128, 400, 784, 0, 0}, {"bwd_dec1_b128", 128, 20, 400, 0, 0},
    {"bwd_enc2_b128", 128, 400, 40, 0, 0},  {"wg_enc1_b128", 400, 784, 128, 1, 0},
    {"wg_dec2_b128", 784, 400, 128, 1, 0},  {"wg_enc2_b128", 40, 400, 128, 1, 0},
    {"wg_dec1_b128", 400, 20, 128, 1, 0},
};

enum { CALLS_PER_ROUND = 16 };

typedef struct operands {
    const shape *s;
    const float *a, *b;
    float *c;
    int lda, ldb;
} operands;

static void call_vae(const operands *o)
{
    const shape *s = o->s;
    vae_sgemm(s->ta ? VAE_TRANS : VAE_NO_TRANS, s->tb ? VAE_TRANS : VAE_NO_TRANS, s->m, s->n, s->k, 1.0f, o->a,
              o->lda, o->b, o->ldb, 0.0f, o->c, s->n);
}

static void call_openblas(const operands *o)
{
    const shape *s = o->s;
    cblas_sgemm(CBLAS_ROW_MAJOR, s->ta ? CBLAS_TRANS : CBLAS_NO_TRANS, s->tb ? CBLAS_TRANS : CBLAS_NO_TRANS, s->m,
                s->n, s->k, 1.0f, o->a, o->lda, o->b, o->ldb, 0.0f, o->c, s->n);
}

/* Times one round of calls into times[0 .. CALLS_PER_ROUND). */
static void time_round(void (*call)(const operands *), const operands *o, double *times)
{
    for (int i = 0; i < CALLS_PER_ROUND; i++) {
        double t0 = now();
        call(o);
        times[i] = now() - t0;
    }
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1, only = argc > 2 ? atoi(argv[2]) : 0;
    if (threads < 1 || only < 0 || only > 2) {
        fprintf(stderr, "usage: bench/gemm_vs_openblas [THREADS] [0 both | 1 vae | 2 openblas]\n");
        return 2;
    }
    vae_set_threads(threads);
    openblas_set_num_threads(threads);
    printf("# threads %d, vae kernels %s, OpenBLAS core %s; GFLOP/s of the median call\n", threads,
           vae_isa_name(), openblas_get_corename());
    printf("%-15s %9s %9s %6s\n", "shape", "vae", "openblas", "ratio");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const shape *s = &shapes[i];
        size_t na = (size_t)s->m * s->k, nb = (size_t)s->k * s->n, nc = (size_t)s->m * s->n;
        float *a = vae_alloc_aligned(na * sizeof(float)), *b = vae_alloc_aligned(nb * sizeof(float));
        float *c = vae_alloc_aligned(nc * sizeof(float));
        for (size_t j = 0; j < na; j++) a[j] = (float)((j * 7) % 13) * 0.1f;
        for (size_t j = 0; j < nb; j++) b[j] = (float)((j * 5) % 11) * 0.1f;
        operands o = {s, a, b, c, s->ta ? s->m : s->k, s->tb ? s->k : s->n};
        /* About 0.6 s of calls per library, 8 to 200 rounds. */
        double flop = 2.0 * s->m * s->n * s->k;
        int rounds = (int)(0.6 / (flop / 150e9) / CALLS_PER_ROUND / 2);
        rounds = rounds < 8 ? 8 : rounds > 200 ? 200 : rounds;
        size_t n_times = (size_t)rounds * CALLS_PER_ROUND;
        double *t_vae = calloc(n_times, sizeof(double)), *t_blas = calloc(n_times, sizeof(double));
        for (int w = 0; w < 5; w++) {
            if (only != 2) call_vae(&o);
            if (only != 1) call_openblas(&o);
        }
        for (int r = 0; r < rounds; r++) {
            if (only != 2) time_round(call_vae, &o, t_vae + (size_t)r * CALLS_PER_ROUND);
            if (only != 1) time_round(call_openblas, &o, t_blas + (size_t)r * CALLS_PER_ROUND);
        }
        qsort(t_vae, n_times, sizeof(double), compare_doubles);
        qsort(t_blas, n_times, sizeof(double), compare_doubles);
        double g_vae = only == 2 ? 0.0 : flop / t_vae[n_times / 2] / 1e9;
        double g_blas = only == 1 ? 0.0 : flop / t_blas[n_times / 2] / 1e9;
        printf("%-15s %9.1f %9.1f %6.2f\n", s->name, g_vae, g_blas, g_blas > 0 ? g_vae / g_blas : 0.0);
        fflush(stdout);
        free(t_vae);
        free(t_blas);
        vae_free_aligned(a);
        vae_free_aligned(b);
        vae_free_aligned(c);
    }
    return 0;
}

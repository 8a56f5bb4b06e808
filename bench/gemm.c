/* bench/gemm.c - GFLOP/s of vae_sgemm for each kernel table this CPU runs,
 * on square sizes and on the training shapes of the default VAE
 * (784-400-20, batch 128). Median of repeated calls, operands kept in cache
 * between calls as in consecutive training steps.
 *
 *   bench/gemm [--quick]     */
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

/* Median seconds of one call over enough runs to take about target seconds. */
static int use_min;

static double time_gemm(int ta, int tb, int m, int n, int k, const float *a, const float *b, float *c,
                        double target)
{
    int lda = ta ? m : k, ldb = tb ? k : n;
    vae_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n); /* warm-up */
    double t0 = now();
    vae_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
    double once = now() - t0;
    int runs = (int)(target / (once + 1e-9));
    if (runs < 7) runs = 7;
    if (runs > 1001) runs = 1001;
    double *t = malloc(sizeof(double) * (size_t)runs);
    for (int r = 0; r < runs; r++) {
        t0 = now();
        vae_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
        t[r] = now() - t0;
    }
    qsort(t, (size_t)runs, sizeof(double), cmp_double);
    double median = use_min ? t[0] : t[runs / 2];
    free(t);
    return median;
}

typedef struct shape {
    const char *name;
    int m, n, k, ta, tb;
} shape;

int main(int argc, char **argv)
{
    int quick = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--min") == 0) use_min = 1;
    }
    double target = quick ? 0.05 : 0.3;
    static const shape shapes[] = {
        {"square 64", 64, 64, 64, 0, 0},       {"square 128", 128, 128, 128, 0, 0},
        {"square 256", 256, 256, 256, 0, 0},   {"square 512", 512, 512, 512, 0, 0},
        {"square 1024", 1024, 1024, 1024, 0, 0},
        {"fwd enc1 B128", 128, 400, 784, 0, 1}, {"fwd enc2 B128", 128, 40, 400, 0, 1},
        {"fwd dec1 B128", 128, 400, 20, 0, 1},  {"fwd dec2 B128", 128, 784, 400, 0, 1},
        {"bwd enc2 B128", 128, 400, 40, 0, 0},  {"bwd dec1 B128", 128, 20, 400, 0, 0},
        {"bwd dec2 B128", 128, 400, 784, 0, 0}, {"wgt enc1 B128", 400, 784, 128, 1, 0},
        {"wgt enc2 B128", 40, 400, 128, 1, 0},  {"wgt dec1 B128", 400, 20, 128, 1, 0},
        {"wgt dec2 B128", 784, 400, 128, 1, 0},
    };
    int n_shapes = (int)(sizeof shapes / sizeof shapes[0]);
    const vae_kernels *tables[8];
    int n_tables = vae_kernels_available(tables, 8);
    size_t max_elems = 1024 * 1024;
    float *a = malloc(sizeof(float) * max_elems), *b = malloc(sizeof(float) * max_elems),
          *c = malloc(sizeof(float) * max_elems);
    for (size_t i = 0; i < max_elems; i++) {
        a[i] = (float)(i % 7) * 0.1f;
        b[i] = (float)(i % 5) * 0.1f;
    }
    printf("# vae %s sgemm, one thread, GFLOP/s (median)\n", VAE_VERSION);
    printf("%-16s %5s %5s %5s %3s", "shape", "m", "n", "k", "op");
    for (int t = 0; t < n_tables; t++) printf(" %10s", tables[t]->name);
    printf("\n");
    for (int s = 0; s < n_shapes; s++) {
        const shape *sh = &shapes[s];
        if (quick && sh->m * sh->n > 600 * 600) continue;
        printf("%-16s %5d %5d %5d  %c%c", sh->name, sh->m, sh->n, sh->k, sh->ta ? 'T' : 'N', sh->tb ? 'T' : 'N');
        for (int t = 0; t < n_tables; t++) {
            vae_isa_select(tables[t]->name);
            double sec = time_gemm(sh->ta, sh->tb, sh->m, sh->n, sh->k, a, b, c, target);
            printf(" %10.2f", 2.0 * sh->m * sh->n * sh->k / sec * 1e-9);
            fflush(stdout);
        }
        printf("\n");
    }
    free(a);
    free(b);
    free(c);
    return 0;
}

/* bench/gemm.c - GFLOP/s of vae_sgemm for each kernel table this CPU runs,
 * on square sizes and on the training shapes of the default VAE
 * (784-400-20, batch 128). Median of repeated calls, operands kept in cache
 * between calls as in consecutive training steps.
 *
 * Each table's column gives GFLOP/s and, after it, % of that ISA's FMA peak
 * (bench/peak's measurement, times the thread count).
 *
 *   bench/gemm [--threads N] [--quick] [--min] [--json]
 *     --threads N  threads of the pool (default 1)
 *     --quick      shorter timings, no 1024+ squares
 *     --min        the fastest call instead of the median (for tuning)
 *     --json       one JSON object instead of the table                */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "vae.h"

#define VAE_BENCH_NO_MAIN
#include "peak.c"


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
    int quick = 0, json = 0, threads = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--min") == 0) use_min = 1;
        else if (strcmp(argv[i], "--json") == 0) json = 1;
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: bench/gemm [--threads N] [--quick] [--min] [--json]\n");
            return 0;
        } else {
            fprintf(stderr, "bench/gemm: unknown option or missing value: %s\n", argv[i]);
            fprintf(stderr, "usage: bench/gemm [--threads N] [--quick] [--min] [--json]\n");
            return 2;
        }
    }
    if (threads < 1 || vae_set_threads(threads) != VAE_OK) {
        fprintf(stderr, "bench/gemm: bad thread count\n");
        return 2;
    }
    double target = quick ? 0.05 : 0.3;
    static const shape shapes[] = {
        {"square 64", 64, 64, 64, 0, 0},       {"square 128", 128, 128, 128, 0, 0},
        {"square 256", 256, 256, 256, 0, 0},   {"square 512", 512, 512, 512, 0, 0},
        {"square 1024", 1024, 1024, 1024, 0, 0}, {"square 2048", 2048, 2048, 2048, 0, 0},
        {"fwd enc1 B128", 128, 400, 784, 0, 1}, {"fwd enc2 B128", 128, 40, 400, 0, 1},
        {"fwd dec1 B128", 128, 400, 20, 0, 1},  {"fwd dec2 B128", 128, 784, 400, 0, 1},
        {"bwd enc2 B128", 128, 400, 40, 0, 0},  {"bwd dec1 B128", 128, 20, 400, 0, 0},
        {"bwd dec2 B128", 128, 400, 784, 0, 0}, {"wgt enc1 B128", 400, 784, 128, 1, 0},
        {"wgt enc2 B128", 40, 400, 128, 1, 0},  {"wgt dec1 B128", 400, 20, 128, 1, 0},
        {"wgt dec2 B128", 784, 400, 128, 1, 0},
        {"fwd enc1 B1024", 1024, 400, 784, 0, 1}, {"fwd dec2 B1024", 1024, 784, 400, 0, 1},
        {"bwd dec2 B1024", 1024, 400, 784, 0, 0}, {"bwd enc1 B1024", 1024, 784, 400, 0, 0},
        {"wgt enc1 B1024", 400, 784, 1024, 1, 0}, {"wgt dec2 B1024", 784, 400, 1024, 1, 0},
    };
    int n_shapes = (int)(sizeof shapes / sizeof shapes[0]);
    const vae_kernels *tables[8];
    int n_tables = vae_kernels_available(tables, 8);
    size_t max_elems = 2048 * 2048;
    float *a = malloc(sizeof(float) * max_elems), *b = malloc(sizeof(float) * max_elems),
          *c = malloc(sizeof(float) * max_elems);
    for (size_t i = 0; i < max_elems; i++) {
        a[i] = (float)(i % 7) * 0.1f;
        b[i] = (float)(i % 5) * 0.1f;
    }
    double peak[8];
    for (int t = 0; t < n_tables; t++) peak[t] = threads * vae_bench_peak_gflops(tables[t]->name);
    if (json) {
        printf("{\"threads\": %d, \"statistic\": \"%s\", \"peak_gflops\": {", threads, use_min ? "min" : "median");
        for (int t = 0; t < n_tables; t++) printf("%s\"%s\": %.2f", t ? ", " : "", tables[t]->name, peak[t]);
        printf("}, \"shapes\": [");
    } else {
        printf("# vae %s sgemm, %d thread%s, GFLOP/s (%s of many calls) and %% of the FMA peak\n# peak:", VAE_VERSION,
               threads, threads > 1 ? "s" : "", use_min ? "fastest" : "median");
        for (int t = 0; t < n_tables; t++) printf(" %s %.1f", tables[t]->name, peak[t]);
        printf(" GFLOP/s\n%-16s %5s %5s %5s %3s", "shape", "m", "n", "k", "op");
        for (int t = 0; t < n_tables; t++) printf(" %10s %5s", tables[t]->name, "%");
        printf("\n");
    }
    for (int s = 0; s < n_shapes; s++) {
        const shape *sh = &shapes[s];
        if (quick && sh->m * sh->n > 600 * 600) continue;
        if (json)
            printf("%s{\"shape\": \"%s\", \"m\": %d, \"n\": %d, \"k\": %d, \"op\": \"%c%c\", \"gflops\": {",
                   s ? ", " : "", sh->name, sh->m, sh->n, sh->k, sh->ta ? 'T' : 'N', sh->tb ? 'T' : 'N');
        else
            printf("%-16s %5d %5d %5d  %c%c", sh->name, sh->m, sh->n, sh->k, sh->ta ? 'T' : 'N', sh->tb ? 'T' : 'N');
        for (int t = 0; t < n_tables; t++) {
            vae_isa_select(tables[t]->name);
            double sec = time_gemm(sh->ta, sh->tb, sh->m, sh->n, sh->k, a, b, c, target);
            double gflops = 2.0 * sh->m * sh->n * sh->k / sec * 1e-9;
            if (json) printf("%s\"%s\": %.2f", t ? ", " : "", tables[t]->name, gflops);
            else if (strcmp(tables[t]->name, "scalar") == 0) printf(" %10.2f %5s", gflops, "-"); /* no ISA peak */
            else printf(" %10.2f %4.0f%%", gflops, 100 * gflops / peak[t]);
            fflush(stdout);
        }
        printf(json ? "}}" : "\n");
    }
    if (json) printf("]}\n");
    free(a);
    free(b);
    free(c);
    return 0;
}

/* bench/peak.c - the FMA peak of one core, per ISA this CPU has: the ceiling
 * a GEMM kernel is measured against.
 *
 * Each kernel runs a loop of 24 FMAs on independent chains (24 with AVX-512
 * and NEON's 32 registers, 12 with AVX2's 16; latency 4 x 2 pipes needs 8),
 * so the loop is bound by FMA throughput alone. One FMA
 * of a w-float vector is 2w flops. Best of 7 runs.
 *
 *   bench/peak [--json]      */
#include <stdio.h>
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

#define CHAINS 24
static volatile float sink;

/* The 24 chains are named variables (not an array) so that every
 * accumulator lives in a register without relying on loop unrolling. */
#define X12(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11)
#define X24(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) \
               M(12) M(13) M(14) M(15) M(16) M(17) M(18) M(19) M(20) M(21) M(22) M(23)

#if defined(__x86_64__)
#include <immintrin.h>

#define DECL256(i) __m256 a##i = _mm256_set1_ps((float)i);
#define STEP256(i) a##i = _mm256_fmadd_ps(a##i, x, y);
#define SUM256(i) s = _mm256_add_ps(s, a##i);
/* trips x 24 FMAs of 8 floats: two rounds over 12 chains, since AVX2 has
 * only 16 ymm registers. */
__attribute__((target("avx2,fma"))) static void fma_avx2(long trips)
{
    __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-7f), s = _mm256_setzero_ps();
    X12(DECL256)
    for (long t = 0; t < trips; t++) {
        X12(STEP256)
        X12(STEP256)
    }
    X12(SUM256)
    sink = _mm256_cvtss_f32(s);
}

#define DECL512(i) __m512 a##i = _mm512_set1_ps((float)i);
#define STEP512(i) a##i = _mm512_fmadd_ps(a##i, x, y);
#define SUM512(i) s = _mm512_add_ps(s, a##i);
/* trips x 24 FMAs of 16 floats */
__attribute__((target("avx512f"))) static void fma_avx512(long trips)
{
    __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-7f), s = _mm512_setzero_ps();
    X24(DECL512)
    for (long t = 0; t < trips; t++) {
        X24(STEP512)
    }
    X24(SUM512)
    sink = _mm512_reduce_add_ps(s);
}
#endif

#if defined(__aarch64__)
#include <arm_neon.h>
#define DECLQ(i) float32x4_t a##i = vdupq_n_f32((float)i);
#define STEPQ(i) a##i = vfmaq_f32(y, a##i, x);
#define SUMQ(i) s = vaddq_f32(s, a##i);
/* trips x 24 FMAs of 4 floats */
static void fma_neon(long trips)
{
    float32x4_t x = vdupq_n_f32(0.999f), y = vdupq_n_f32(1e-7f), s = vdupq_n_f32(0.0f);
    X24(DECLQ)
    for (long t = 0; t < trips; t++) {
        X24(STEPQ)
    }
    X24(SUMQ)
    sink = vaddvq_f32(s);
}
#endif

#define DECLS(i) float a##i = (float)i;
#define STEPS(i) a##i = a##i * 0.999f + 1e-7f;
#define SUMS(i) s += a##i;
/* The scalar path's ceiling: one multiply-add per float, as the compiler
 * issues it (a reference, not an ISA peak). */
static void fma_scalar(long trips)
{
    float s = 0.0f;
    X24(DECLS)
    for (long t = 0; t < trips; t++) {
        X24(STEPS)
    }
    X24(SUMS)
    sink = s;
}

typedef struct peak_kernel {
    const char *isa;
    void (*run)(long trips);
    int lanes;
} peak_kernel;

static const peak_kernel kernels[] = {
#if defined(__x86_64__)
    {"avx512", fma_avx512, 16},
    {"avx2", fma_avx2, 8},
#endif
#if defined(__aarch64__)
    {"neon", fma_neon, 4},
#endif
    {"scalar", fma_scalar, 1},
};

/* GFLOP/s of one core for the kernel, best of 7 runs of ~0.1 s. */
double vae_bench_peak_gflops(const char *isa);
double vae_bench_peak_gflops(const char *isa)
{
    for (size_t k = 0; k < sizeof kernels / sizeof kernels[0]; k++) {
        if (strcmp(kernels[k].isa, isa) != 0) continue;
        long trips = 1000;
        double t;
        for (;;) { /* grow until one run takes 0.1 s */
            double t0 = now();
            kernels[k].run(trips);
            t = now() - t0;
            if (t > 0.1) break;
            trips *= 2;
        }
        double best = t;
        for (int rep = 0; rep < 7; rep++) {
            double t0 = now();
            kernels[k].run(trips);
            t = now() - t0;
            if (t < best) best = t;
        }
        return 2.0 * kernels[k].lanes * CHAINS * (double)trips / best * 1e-9;
    }
    return 0.0;
}

#ifndef VAE_BENCH_NO_MAIN
int main(int argc, char **argv)
{
    int json = argc > 1 && strcmp(argv[1], "--json") == 0;
    const vae_kernels *tables[8];
    int n = vae_kernels_available(tables, 8);
    if (!json) printf("# FMA peak, one core\n%-8s %10s\n", "isa", "GFLOP/s");
    if (json) printf("{\"peak_gflops\": {");
    for (int t = 0; t < n; t++) {
        double g = vae_bench_peak_gflops(tables[t]->name);
        if (json) printf("%s\"%s\": %.2f", t ? ", " : "", tables[t]->name, g);
        else printf("%-8s %10.2f\n", tables[t]->name, g);
    }
    if (json) printf("}}\n");
    return 0;
}
#endif

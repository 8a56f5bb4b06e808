/* check_gemm.c - vae_sgemm against a naive double-precision reference:
 * random shapes (1x1, primes, past the cache blocks), all four transpose
 * combinations, alpha and beta, leading dimensions wider than the rows, and
 * beta = 0 over a C full of NaN (which must never be read). */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "kernels.h"
#include "pool.h"
#include "vae.h"

/* Every case runs once per kernel table this CPU has (scalar, avx2, avx512,
 * neon, ...): the loop tests pick the table from the loop index. */
static const vae_kernels *tables[8];
static int n_tables;

static void select_table(int index)
{
    n_tables = vae_kernels_available(tables, 8);
    ck_assert_int_lt(index, 8);
    if (index >= n_tables) index = n_tables - 1; /* fewer tables on this CPU: repeat the last */
    ck_assert_int_eq(vae_isa_select(tables[index]->name), VAE_OK);
}

/* Back to the table the run started with (matters when Check does not fork). */
static void restore_table(void) { vae_isa_select(getenv("VAE_ISA")); }

/* A small deterministic generator for test data (not the engine's RNG). */
static uint64_t test_rng_state = 88172645463325252ull;
static float rand_float(void)
{
    test_rng_state ^= test_rng_state << 13;
    test_rng_state ^= test_rng_state >> 7;
    test_rng_state ^= test_rng_state << 17;
    return (float)((test_rng_state >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

/* C = alpha op(A) op(B) + beta C in double; returns the worst error of the
 * float result c_test relative to sum |terms| (the error bound's scale). */
static double gemm_error(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                         const float *b, int ldb, float beta, const float *c_before, const float *c_test,
                         int ldc)
{
    double worst = 0.0;
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double sum = 0.0, mag = 0.0;
            for (int p = 0; p < k; p++) {
                double av = ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                double bv = tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                sum += av * bv;
                mag += fabs(av * bv);
            }
            double ref = alpha * sum, scale = fabs(alpha) * mag;
            if (beta != 0.0f) {
                ref += beta * (double)c_before[(size_t)i * ldc + j];
                scale += fabs(beta * (double)c_before[(size_t)i * ldc + j]);
            }
            double got = c_test[(size_t)i * ldc + j];
            if (isnan(got)) return INFINITY;
            double err = fabs(got - ref) / (scale + 1e-30);
            if (err > worst) worst = err;
        }
    return worst;
}

/* Runs one case; returns the relative error (scale: the sum of |products|). */
static double run_case(int ta, int tb, int m, int n, int k, float alpha, float beta, int pad)
{
    int rows_a = ta ? k : m, cols_a = ta ? m : k;
    int rows_b = tb ? n : k, cols_b = tb ? k : n;
    int lda = cols_a + pad, ldb = cols_b + pad, ldc = n + pad;
    float *a = malloc(sizeof(float) * (size_t)rows_a * lda);
    float *b = malloc(sizeof(float) * (size_t)rows_b * ldb);
    float *c = malloc(sizeof(float) * (size_t)m * ldc);
    float *c0 = malloc(sizeof(float) * (size_t)m * ldc);
    for (size_t i = 0; i < (size_t)rows_a * lda; i++) a[i] = rand_float();
    for (size_t i = 0; i < (size_t)rows_b * ldb; i++) b[i] = rand_float();
    for (size_t i = 0; i < (size_t)m * ldc; i++) c0[i] = c[i] = beta == 0.0f ? NAN : rand_float();
    vae_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    double err = gemm_error(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c0, c, ldc);
    /* The padding columns of C must be untouched. */
    for (int i = 0; i < m; i++)
        for (int j = n; j < ldc; j++)
            if (!(c[(size_t)i * ldc + j] == c0[(size_t)i * ldc + j] ||
                  (isnan(c[(size_t)i * ldc + j]) && isnan(c0[(size_t)i * ldc + j]))))
                err = INFINITY;
    free(a); free(b); free(c); free(c0);
    return err;
}

/* float accumulation of k terms: error below about k * 2^-24 of the scale;
 * 4e-6 * sqrt-ish margin covers k up to a few hundred with room. */
static double tolerance(int k) { return 1e-6 * (k + 8); }

START_TEST(test_gemm_one_by_one)
{
    select_table(_i);
    float a = 3.0f, b = -2.0f, c = 5.0f;
    vae_sgemm(VAE_NO_TRANS, VAE_NO_TRANS, 1, 1, 1, 0.5f, &a, 1, &b, 1, 2.0f, &c, 1);
    ck_assert_float_eq(c, 0.5f * 3.0f * -2.0f + 2.0f * 5.0f);
}
END_TEST

START_TEST(test_gemm_transposes_and_shapes)
{
    static const int sizes[] = {1, 2, 3, 5, 7, 13, 17, 31, 64, 97, 131, 257};
    int ns = sizeof sizes / sizeof sizes[0];
    select_table(_i / 4);
    int ta = _i & 1, tb = (_i >> 1) & 1;
    for (int trial = 0; trial < 40; trial++) {
        int m = sizes[(trial * 7 + 1) % ns], n = sizes[(trial * 5 + 3) % ns], k = sizes[(trial * 3 + 2) % ns];
        float alpha = trial % 3 == 0 ? 1.0f : trial % 3 == 1 ? -0.75f : 2.5f;
        float beta = trial % 4 == 0 ? 0.0f : trial % 4 == 1 ? 1.0f : trial % 4 == 2 ? -0.5f : 0.25f;
        int pad = trial % 5;
        double err = run_case(ta, tb, m, n, k, alpha, beta, pad);
        ck_assert_msg(err <= tolerance(k), "%s ta=%d tb=%d m=%d n=%d k=%d alpha=%g beta=%g pad=%d: error %g",
                      vae_isa_name(), ta, tb, m, n, k, alpha, beta, pad, err);
    }
}
END_TEST

START_TEST(test_gemm_past_cache_blocks)
{
    /* k past KC (256) and n past a packed sliver count, m past MC. */
    select_table(_i / 4);
    int ta = _i & 1, tb = (_i >> 1) & 1;
    double err = run_case(ta, tb, 150, 300, 600, 1.0f, 0.5f, 3);
    ck_assert_msg(err <= tolerance(600), "error %g", err);
    err = run_case(ta, tb, 131, 2100, 7, 1.0f, 0.0f, 1);
    ck_assert_msg(err <= tolerance(7), "error %g", err);
    /* B's rows a page or more apart (ldb 1105 when not transposed): packed
     * 16 rows at a time, with a partial group (300 = 256 + 2 x 16 + 12) and a
     * partial last sliver. */
    err = run_case(ta, tb, 37, 1100, 300, -1.5f, 0.5f, 5);
    ck_assert_msg(err <= tolerance(300), "error %g", err);
}
END_TEST

START_TEST(test_gemm_alpha_zero_and_k_zero)
{
    select_table(_i);
    /* BLAS: with alpha = 0 or k = 0, C = beta C and A, B are not read. */
    float c[4] = {1, 2, 3, 4};
    vae_sgemm(VAE_NO_TRANS, VAE_NO_TRANS, 2, 2, 3, 0.0f, NULL, 3, NULL, 2, 2.0f, c, 2);
    ck_assert_float_eq(c[3], 8.0f);
    vae_sgemm(VAE_NO_TRANS, VAE_NO_TRANS, 2, 2, 0, 1.0f, NULL, 1, NULL, 2, 0.0f, c, 2);
    ck_assert_float_eq(c[0], 0.0f);
    ck_assert_float_eq(c[3], 0.0f);
}
END_TEST

START_TEST(test_gemm_vae_shapes)
{
    select_table(_i);
    /* The training shapes of the default model at batch 128. */
    static const int shapes[][5] = {
        {128, 400, 784, 0, 1}, {128, 40, 400, 0, 1}, {128, 400, 20, 0, 1}, {128, 784, 400, 0, 1},
        {128, 400, 40, 0, 0},  {128, 20, 400, 0, 0}, {128, 400, 784, 0, 0}, {400, 784, 128, 1, 0},
        {40, 400, 128, 1, 0},  {400, 20, 128, 1, 0}, {784, 400, 128, 1, 0},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int *sh = shapes[s];
        double err = run_case(sh[3], sh[4], sh[0], sh[1], sh[2], 1.0f, 0.0f, 0);
        ck_assert_msg(err <= tolerance(sh[2]), "%s shape %d: error %g", vae_isa_name(), (int)s, err);
        /* The same shape accumulating into C (beta = 1) and scaled (alpha = -0.5). */
        err = run_case(sh[3], sh[4], sh[0], sh[1], sh[2], -0.5f, 1.0f, 1);
        ck_assert_msg(err <= tolerance(sh[2]), "%s shape %d beta 1: error %g", vae_isa_name(), (int)s, err);
    }
}
END_TEST

/* vae_sgemm_fused's epilogue: its blocks must tile C exactly once, in the
 * caller's coordinates, and each must hold its final values when handed
 * over. The epilogue records every element it is given and checks it
 * against the plain vae_sgemm result (same bits: the order of each sum does
 * not depend on the epilogue). Runs the thin (transposed) path too, and
 * with one and three threads. */
typedef struct epilogue_check {
    int n, ldc;
    const float *c, *expected;
    int *seen;     /* [m * n] visits per element */
    int bad;       /* elements not final when handed over, or out of range */
    int transient; /* C may be handed over from elsewhere than C */
    int in_c;      /* blocks handed over in C itself */
} epilogue_check;

static void record_block(void *ctx, int i0, int i1, int j0, int j1, float *block, int ld)
{
    epilogue_check *e = ctx;
    int in_c = block == e->c + (size_t)i0 * e->ldc + j0 && ld == e->ldc;
    if (i0 < 0 || j0 < 0 || i1 < i0 || j1 < j0 || j1 > e->n || (!e->transient && !in_c)) {
        __atomic_add_fetch(&e->bad, 1, __ATOMIC_RELAXED);
        return;
    }
    if (in_c) __atomic_add_fetch(&e->in_c, 1, __ATOMIC_RELAXED);
    for (int i = i0; i < i1; i++)
        for (int j = j0; j < j1; j++) {
            __atomic_add_fetch(&e->seen[(size_t)i * e->n + j], 1, __ATOMIC_RELAXED);
            if (memcmp(&block[(size_t)(i - i0) * ld + (j - j0)], &e->expected[(size_t)i * e->ldc + j],
                       sizeof(float)))
                __atomic_add_fetch(&e->bad, 1, __ATOMIC_RELAXED);
        }
}

/* Every element of e's m x n C was handed to the epilogue exactly once. */
static void assert_each_once(const epilogue_check *e, int m, int shape, int threads)
{
    for (size_t i = 0; i < (size_t)m * e->n; i++)
        ck_assert_msg(e->seen[i] == 1, "%s shape %d, %d threads: element %zu handed over %d times", vae_isa_name(),
                      shape, threads, i, e->seen[i]);
}

START_TEST(test_gemm_epilogue_covers_c_once)
{
    select_table(_i % 4);
    static const int shapes[][5] = {
        /* m, n, k, ta, tb: thin (computed transposed), the VAE's, past KC and MC */
        {128, 20, 400, 0, 0}, {400, 20, 128, 1, 0}, {128, 400, 784, 0, 1}, {784, 400, 128, 1, 0},
        {300, 150, 600, 1, 1}, {7, 3, 5, 0, 0},   {1, 1, 1, 0, 0},
    };
    ck_assert_int_eq(vae_set_threads(_i < 4 ? 1 : 3), VAE_OK);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], ta = shapes[s][3], tb = shapes[s][4];
        int ldc = n + 1;
        size_t na = (size_t)m * k, nb = (size_t)k * n, nc = (size_t)m * ldc;
        float *a = malloc(sizeof(float) * na), *b = malloc(sizeof(float) * nb);
        float *c = malloc(sizeof(float) * nc), *expected = malloc(sizeof(float) * nc);
        int *seen = calloc((size_t)m * n, sizeof(int));
        for (size_t i = 0; i < na; i++) a[i] = rand_float();
        for (size_t i = 0; i < nb; i++) b[i] = rand_float();
        for (size_t i = 0; i < nc; i++) c[i] = expected[i] = rand_float();
        int lda = ta ? m : k, ldb = tb ? k : n;
        vae_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.5f, expected, ldc);
        epilogue_check e = {n, ldc, c, expected, seen, 0, 0, 0};
        vae_sgemm_fused(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.5f, c, ldc, record_block, &e,
                        _i % 2 ? VAE_GEMM_SPLIT_ROWS : VAE_GEMM_SPLIT_AUTO);
        ck_assert_msg(e.bad == 0, "%s shape %d: %d elements not final or out of range", vae_isa_name(), (int)s,
                      e.bad);
        assert_each_once(&e, m, (int)s, vae_get_threads());
        free(a); free(b); free(c); free(expected); free(seen);
    }
    vae_set_threads(0);
}
END_TEST

/* A transient C (VAE_GEMM_C_TRANSIENT, as for a weight gradient that Adam
 * consumes in the epilogue): where the sum is one k block and beta is 0,
 * the blocks come from the thread's own buffer with the bits of a plain
 * GEMM, each element once, and C is left as it was; a longer sum (past KC)
 * or beta != 0 falls back to C. Thin (transposed) shapes too, on one and
 * three threads. */
START_TEST(test_gemm_transient_c)
{
    select_table(_i % 4);
    static const int shapes[][6] = {
        /* m, n, k, ta, tb, beta != 0: the VAE's weight gradients at batch 128,
         * a thin one (computed transposed), a ragged one, past KC, beta */
        {784, 400, 128, 1, 0, 0}, {400, 20, 128, 1, 0, 0}, {37, 53, 61, 1, 0, 0},
        {120, 90, 700, 0, 0, 0},  {50, 70, 30, 1, 0, 1},
    };
    ck_assert_int_eq(vae_set_threads(_i < 4 ? 1 : 3), VAE_OK);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], ta = shapes[s][3], tb = shapes[s][4];
        float beta = shapes[s][5] ? 0.5f : 0.0f;
        int ldc = n + 3;
        size_t na = (size_t)m * k, nb = (size_t)k * n, nc = (size_t)m * ldc;
        float *a = malloc(sizeof(float) * na), *b = malloc(sizeof(float) * nb);
        float *c = malloc(sizeof(float) * nc), *expected = malloc(sizeof(float) * nc);
        int *seen = calloc((size_t)m * n, sizeof(int));
        for (size_t i = 0; i < na; i++) a[i] = rand_float();
        for (size_t i = 0; i < nb; i++) b[i] = rand_float();
        for (size_t i = 0; i < nc; i++) c[i] = expected[i] = 1000.0f + (float)i;
        int lda = ta ? m : k, ldb = tb ? k : n;
        vae_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, expected, ldc);
        epilogue_check e = {n, ldc, c, expected, seen, 0, 1, 0};
        vae_sgemm_fused(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc, record_block, &e,
                        VAE_GEMM_SPLIT_ROWS | VAE_GEMM_C_TRANSIENT);
        ck_assert_msg(e.bad == 0, "%s shape %d: %d elements wrong or out of range", vae_isa_name(), (int)s, e.bad);
        assert_each_once(&e, m, (int)s, vae_get_threads());
        int one_block = k <= vae_kernels_active()->kc && beta == 0.0f;
        size_t untouched = 0;
        for (size_t i = 0; i < nc; i++) untouched += c[i] == 1000.0f + (float)i;
        if (one_block) {
            ck_assert_msg(e.in_c == 0 && untouched == nc, "%s shape %d: C written (%d blocks in C, %zu of %zu kept)",
                          vae_isa_name(), (int)s, e.in_c, untouched, nc);
        } else {
            ck_assert_msg(e.in_c > 0, "%s shape %d: a sum past KC or beta != 0 must use C", vae_isa_name(), (int)s);
            ck_assert_msg(memcmp(c, expected, sizeof(float) * nc) == 0, "%s shape %d: C differs", vae_isa_name(),
                          (int)s);
        }
        free(a); free(b); free(c); free(expected); free(seen);
    }
    vae_set_threads(0);
}
END_TEST

/* The threads split C at tile (or half-tile) boundaries, never along k, so
 * every element's sum runs in the same order: the bits must not depend on
 * the thread count. Widths of an odd number of half tiles (400 = 12.5 tiles
 * of 32) put a thread boundary inside a tile's width. */
START_TEST(test_gemm_bits_independent_of_threads)
{
    select_table(_i);
    static const int shapes[][5] = {
        {30, 400, 100, 0, 1}, {30, 400, 100, 0, 0}, {400, 60, 50, 1, 0}, {50, 208, 70, 0, 0},
        {33, 1000, 19, 1, 1},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], ta = shapes[s][3], tb = shapes[s][4];
        size_t na = (size_t)m * k, nb = (size_t)k * n, nc = (size_t)m * n;
        float *a = malloc(sizeof(float) * na), *b = malloc(sizeof(float) * nb);
        float *one = malloc(sizeof(float) * nc), *many = malloc(sizeof(float) * nc);
        for (size_t i = 0; i < na; i++) a[i] = rand_float();
        for (size_t i = 0; i < nb; i++) b[i] = rand_float();
        int lda = ta ? m : k, ldb = tb ? k : n;
        ck_assert_int_eq(vae_set_threads(1), VAE_OK);
        vae_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, one, n);
        for (int threads = 2; threads <= 5; threads++) {
            ck_assert_int_eq(vae_set_threads(threads), VAE_OK);
            vae_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, many, n);
            ck_assert_msg(memcmp(one, many, sizeof(float) * nc) == 0, "%s shape %d: %d threads differ from 1",
                          vae_isa_name(), (int)s, threads);
        }
        free(a); free(b); free(one); free(many);
    }
    vae_set_threads(0);
}
END_TEST

/* On many threads the frame may split C into a grid of blocks (rows x
 * columns, see choose_grid in core/gemm.c): the bits must still be those of
 * one thread, and the epilogue must still see every element once, final.
 * The shapes are ones the planner puts on a 3 x 3 grid at 9 threads (the
 * first with every kernel table); the test checks that it does for at least
 * one, so that it keeps covering the grid. (Thin problems, the ones
 * computed transposed, stay in strips.) */
START_TEST(test_gemm_grid_split)
{
    select_table(_i);
    static const int shapes[][5] = {
        {240, 320, 40, 1, 0}, {200, 300, 48, 0, 0},
    };
    static const int thread_counts[] = {9};
    int grids = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], ta = shapes[s][3], tb = shapes[s][4];
        int lda = ta ? m : k, ldb = tb ? k : n, ldc = n + 1;
        size_t na = (size_t)m * k, nb = (size_t)k * n, nc = (size_t)m * ldc;
        float *a = malloc(sizeof(float) * na), *b = malloc(sizeof(float) * nb);
        float *c0 = malloc(sizeof(float) * nc), *one = malloc(sizeof(float) * nc), *many = malloc(sizeof(float) * nc);
        int *seen = malloc(sizeof(int) * (size_t)m * n);
        for (size_t i = 0; i < na; i++) a[i] = rand_float();
        for (size_t i = 0; i < nb; i++) b[i] = rand_float();
        for (size_t i = 0; i < nc; i++) c0[i] = rand_float();
        ck_assert_int_eq(vae_set_threads(1), VAE_OK);
        memcpy(one, c0, sizeof(float) * nc);
        vae_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.5f, one, ldc);
        for (size_t t = 0; t < sizeof thread_counts / sizeof thread_counts[0]; t++) {
            int threads = thread_counts[t], row_groups, col_groups;
            vae_gemm_split_plan(ta, tb, m, n, k, lda, ldb, threads, &row_groups, &col_groups);
            grids += row_groups > 1 && col_groups > 1;
            ck_assert_int_eq(vae_set_threads(threads), VAE_OK);
            memcpy(many, c0, sizeof(float) * nc);
            memset(seen, 0, sizeof(int) * (size_t)m * n);
            epilogue_check e = {n, ldc, many, one, seen, 0, 0, 0};
            vae_sgemm_fused(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.5f, many, ldc, record_block, &e,
                            VAE_GEMM_SPLIT_AUTO);
            ck_assert_msg(memcmp(one, many, sizeof(float) * nc) == 0, "%s shape %d, %d threads (%dx%d): bits differ",
                          vae_isa_name(), (int)s, threads, row_groups, col_groups);
            ck_assert_msg(e.bad == 0, "%s shape %d, %d threads: %d elements not final or out of range",
                          vae_isa_name(), (int)s, threads, e.bad);
            assert_each_once(&e, m, (int)s, threads);
        }
        free(a); free(b); free(c0); free(one); free(many); free(seen);
    }
    ck_assert_msg(grids > 0, "%s: no shape was split into a grid: the test no longer covers it", vae_isa_name());
    vae_set_threads(0);
}
END_TEST

/* vae_parallel_for_chunked: every item exactly once, in calls of at most
 * `chunk` items inside [0, n); and a thread whose share is slow gets help:
 * here the second share's items take 20 ms each, so the calling thread,
 * done with its own share at once, must take some of them. */
typedef struct chunk_check {
    int n, chunk, slow_from;
    int *seen;
    atomic_int bad, caller_took_slow;
    pthread_t caller;
} chunk_check;

static void visit_chunk(void *ctx, int begin, int end)
{
    chunk_check *c = ctx;
    if (begin < 0 || end > c->n || end <= begin || end - begin > c->chunk) atomic_fetch_add(&c->bad, 1);
    for (int i = begin; i < end && i < c->n; i++) {
        if (i >= 0) __atomic_add_fetch(&c->seen[i], 1, __ATOMIC_RELAXED);
        if (c->slow_from > 0 && i >= c->slow_from) {
            if (pthread_equal(pthread_self(), c->caller)) atomic_fetch_add(&c->caller_took_slow, 1);
            struct timespec ms20 = {0, 20000000};
            nanosleep(&ms20, NULL);
        }
    }
}

START_TEST(test_parallel_for_chunked)
{
    static const int ns[] = {1, 2, 7, 100, 1001}, chunks[] = {1, 3, 64, 5000}, threads[] = {2, 3, 8};
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        ck_assert_int_eq(vae_set_threads(threads[t]), VAE_OK);
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
            for (size_t j = 0; j < sizeof chunks / sizeof chunks[0]; j++) {
                chunk_check c = {.n = ns[i], .chunk = chunks[j], .seen = calloc((size_t)ns[i], sizeof(int))};
                vae_parallel_for_chunked(c.n, c.chunk, visit_chunk, &c);
                int bad = atomic_load(&c.bad);
                ck_assert_msg(bad == 0, "%d threads, n %d, chunk %d: %d calls outside [0, n) or over a chunk",
                              threads[t], c.n, c.chunk, bad);
                for (int k = 0; k < c.n; k++)
                    ck_assert_msg(c.seen[k] == 1, "%d threads, n %d, chunk %d: item %d run %d times", threads[t],
                                  c.n, c.chunk, k, c.seen[k]);
                free(c.seen);
            }
    }
    ck_assert_int_eq(vae_set_threads(2), VAE_OK);
    chunk_check c = {.n = 8, .chunk = 1, .slow_from = 4, .seen = calloc(8, sizeof(int)), .caller = pthread_self()};
    vae_parallel_for_chunked(c.n, c.chunk, visit_chunk, &c);
    for (int k = 0; k < c.n; k++) ck_assert_int_eq(c.seen[k], 1);
    ck_assert_msg(atomic_load(&c.caller_took_slow) > 0, "the caller took none of the slow share's items");
    free(c.seen);
    vae_set_threads(0);
}
END_TEST

Suite *vae_gemm_suite(void)
{
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("sgemm");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, NULL, restore_table);
    /* Loop indices: table (x4 with the transposes); tables this CPU lacks
     * repeat the last one. */
    tcase_add_loop_test(tc, test_gemm_one_by_one, 0, 4);
    tcase_add_loop_test(tc, test_gemm_transposes_and_shapes, 0, 16);
    tcase_add_loop_test(tc, test_gemm_past_cache_blocks, 0, 16);
    tcase_add_loop_test(tc, test_gemm_alpha_zero_and_k_zero, 0, 4);
    tcase_add_loop_test(tc, test_gemm_vae_shapes, 0, 4);
    tcase_add_loop_test(tc, test_gemm_epilogue_covers_c_once, 0, 8);
    tcase_add_loop_test(tc, test_gemm_transient_c, 0, 8);
    tcase_add_loop_test(tc, test_gemm_bits_independent_of_threads, 0, 4);
    tcase_add_test(tc, test_parallel_for_chunked);
    suite_add_tcase(s, tc);
    TCase *grid = tcase_create("grid"); /* many threads: its own case, to time or run alone */
    tcase_set_timeout(grid, 120);
    tcase_add_checked_fixture(grid, NULL, restore_table);
    tcase_add_loop_test(grid, test_gemm_grid_split, 0, 4);
    suite_add_tcase(s, grid);
    return s;
}

/* fused.h - the element-wise kernels of the table (bias + activation,
 * likelihoods, reparameterization + KL, Adam), written once in the vector
 * primitives of a vec_<isa>.h header and compiled into each ISA file:
 *
 *     #include "vec_avx2.h"
 *     #include "fused.h"      defines bias_act_forward_avx2, ... (static)
 *                             and the test hooks vae_vmath_avx2
 *
 * Each kernel is one pass over its rows, VEC_LANES columns at a time; the
 * last, partial vector of a row uses masked loads and stores of exactly
 * its lanes (vec_<isa>.h). A row's
 * result never depends on the other rows passed in the same call, and row
 * sums are added in a fixed order (lane partials, then vf_sum), so results
 * are the same bits however the rows are split between threads. They
 * differ from the scalar kernels in the last bits (vmath.h's exp and log,
 * FMA, the order of the row sums). */
#ifndef VAE_FUSED_H
#define VAE_FUSED_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"
#include "vmath.h"
#include "vmath_test.h"

/* FUSED(name) is name_<isa>, e.g. bernoulli_loss_avx2. */
#define FUSED_CAT2(a, b) a##_##b
#define FUSED_CAT(a, b) FUSED_CAT2(a, b)
#define FUSED(name) FUSED_CAT(name, VEC_ISA)
#define FUSED_STR2(a) #a
#define FUSED_STR(a) FUSED_STR2(a)

/* The per-vector steps below take the number of lanes k as an argument;
 * the main loops pass the constant VEC_LANES, so once inlined the tail
 * handling (masked moves, masking of sums) folds away there. */
#define FUSED_INLINE static inline __attribute__((always_inline))

/* v with the lanes from k on set to 0 (for sums over a partial vector). */
FUSED_INLINE vf keep_lanes(vf v, int k) { return k < VEC_LANES ? vf_and_mask(vmask_first(k), v) : v; }

/* Runs STEP(j, k) for j = 0, VEC_LANES, 2 VEC_LANES, ... < n, where k is
 * VEC_LANES for whole vectors and n - j for the last, partial one. */
#define FOR_VECTORS(j, n, STEP)                                                   \
    do {                                                                          \
        int j = 0;                                                                \
        for (; j + VEC_LANES <= (n); j += VEC_LANES) STEP(j, VEC_LANES);          \
        if (j < (n)) STEP(j, (n) - j);                                            \
    } while (0)

/* FOR_VECTORS for a kernel that writes each output from inputs alone (out
 * of place, no sums): when n >= VEC_LANES the last, partial vector becomes
 * the whole vector that ends the row, recomputing a few lanes with the same
 * bits, so there are no masked moves (slow on AVX2). */
#define FOR_VECTORS_OVERLAPPED(j, n, STEP)                                        \
    do {                                                                          \
        if ((n) < VEC_LANES) {                                                    \
            FOR_VECTORS(j, n, STEP);                                              \
            break;                                                                \
        }                                                                         \
        int j = 0;                                                                \
        for (; j + VEC_LANES <= (n); j += VEC_LANES) STEP(j, VEC_LANES);          \
        if (j < (n)) STEP((n) - VEC_LANES, VEC_LANES);                            \
    } while (0)

/* ------------------------------------------------------- bias, activation */

/* act(v) for one of VAE_KERNEL_ACT_*: ReLU as v > 0 ? v : 0 (0 for NaN, as
 * the scalar kernel), tanh by v_tanh. */
FUSED_INLINE vf activate(vf v, int act)
{
    if (act == VAE_KERNEL_ACT_RELU) return vf_and_mask(vf_gt(v, vf_set1(0.0f)), v);
    if (act == VAE_KERNEL_ACT_TANH) return v_tanh(v);
    return v;
}

/* The whole vector of y at `at` becomes act(y + b). */
FUSED_INLINE void bias_act_vector(float *at, vf b, int act)
{
    vf_store(at, activate(vf_add(vf_load(at), b), act));
}

/* y[r, j] = act(y[r, j] + bias[j]) on one row from column j on, two
 * vectors a step, then the rest. */
FUSED_INLINE void bias_act_row_from(float *row, int j, int cols, const float *bias, int act)
{
#define BIAS_ACT_STEP(j, k) \
    vf_store_upto(row + j, k, activate(vf_add(vf_load_upto(row + j, k), vf_load_upto(bias + j, k)), act))
    for (; j + 2 * VEC_LANES <= cols; j += 2 * VEC_LANES) {
        BIAS_ACT_STEP(j, VEC_LANES);
        BIAS_ACT_STEP(j + VEC_LANES, VEC_LANES);
    }
    if (j + VEC_LANES <= cols) {
        BIAS_ACT_STEP(j, VEC_LANES);
        j += VEC_LANES;
    }
    if (j < cols) BIAS_ACT_STEP(j, cols - j);
#undef BIAS_ACT_STEP
}

/* How many rows bias_act_rows takes at a time, where rows are at least
 * BIAS_ROWS_MIN_COLS wide: set by the ISA's file (avx2.c) where it measured
 * faster, else one. */
#ifndef BIAS_ROWS
#define BIAS_ROWS 1
#endif
#define BIAS_ROWS_MIN_COLS (16 * VEC_LANES)

/* y[r, j] = act(y[r, j] + bias[j]): BIAS_ROWS rows at a time, two vectors
 * of bias loaded once for all of them, then the rows' last columns and the
 * last rows one by one (the same operations on each element, so the same
 * bits). One loop per activation, see below. AVX2 with 4 rows against one,
 * in bench/kernels: the plain bias add of the 784-wide output 7.0-7.1x ->
 * 8.1-8.6x the scalar loop (as fast as a memcpy of its 400 KB: it runs at
 * the speed of L2), bias + ReLU 26 -> 28-31 G elements/s; narrower rows
 * measured slower, hence BIAS_ROWS_MIN_COLS. AVX-512 with 4 rows was
 * slower (the 784-wide add 10x -> 8x), so it takes one. Against one vector
 * a step testing act each time, two vectors a step gave: AVX2 bias + ReLU
 * 14 -> 22 G elements/s, the 40-wide bias 18-20 -> 25 (AVX-512: 13-14 ->
 * 17-18). */
FUSED_INLINE void bias_act_rows(int rows, int cols, float *y, int ldy, const float *bias, int act)
{
    /* Narrow rows stored one after another (ldy == cols, as the 40-wide
     * mu | logvar): one long run of values in which the bias repeats every
     * `period` = lcm(cols, VEC_LANES) values. Where that is at most 8
     * vectors, those vectors of repeated bias stay in named registers and
     * the run goes by in whole vectors, a period at a time, entered by one
     * jump (a test per vector cost as much as the work); rows left over go
     * to the loops below. In bench/kernels, the 40-wide bias: AVX2 30 -> 45
     * G elements/s, AVX-512 22 -> 56 (row by row, its 16-lane vectors
     * straddled cache lines on every other 160-byte row). */
    int gcd = cols, other = VEC_LANES;
    while (other) {
        int t = gcd % other;
        gcd = other;
        other = t;
    }
    int period = cols / gcd * VEC_LANES;
    if (cols > 0 && ldy == cols && period <= 8 * VEC_LANES && rows > 0 &&
        (size_t)rows * (size_t)cols >= (size_t)period) {
        _Alignas(64) float repeated[8 * VEC_LANES];
        for (int q = 0; q < period; q += cols) memcpy(repeated + q, bias, sizeof(float) * (size_t)cols);
        int whole = period / VEC_LANES;
#define BIAS_ACT_SLOTS(DO) DO(7, b7) DO(6, b6) DO(5, b5) DO(4, b4) DO(3, b3) DO(2, b2) DO(1, b1) DO(0, b0)
#define BIAS_ACT_LOAD(v, b) vf b = (v) < whole ? vf_load(repeated + (v) * VEC_LANES) : vf_set1(0.0f);
#define BIAS_ACT_WHOLE(v, b)                           \
    case (v) + 1:                                      \
        bias_act_vector(at + (v) * VEC_LANES, b, act); \
        __attribute__((fallthrough));
        BIAS_ACT_SLOTS(BIAS_ACT_LOAD)
        size_t periods = (size_t)rows * (size_t)cols / (size_t)period;
        for (size_t k = 0; k < periods; k++) {
            float *at = y + k * (size_t)period;
            switch (whole) { /* vector whole - 1, then each one below it */
                BIAS_ACT_SLOTS(BIAS_ACT_WHOLE)
            default: break;
            }
        }
#undef BIAS_ACT_SLOTS
#undef BIAS_ACT_LOAD
#undef BIAS_ACT_WHOLE
        int done = (int)(periods * (size_t)period / (size_t)cols); /* whole rows: period is a multiple of cols */
        y += (size_t)done * (size_t)ldy;
        rows -= done;
    }
    int r = 0;
    for (; BIAS_ROWS > 1 && cols >= BIAS_ROWS_MIN_COLS && r + BIAS_ROWS <= rows; r += BIAS_ROWS) {
        float *row = y + (size_t)r * ldy;
        int j = 0;
        for (; j + 2 * VEC_LANES <= cols; j += 2 * VEC_LANES) {
            vf b0 = vf_load(bias + j), b1 = vf_load(bias + j + VEC_LANES);
            for (int q = 0; q < BIAS_ROWS; q++) {
                float *at = row + (size_t)q * ldy + j;
                bias_act_vector(at, b0, act);
                bias_act_vector(at + VEC_LANES, b1, act);
            }
        }
        for (int q = 0; q < BIAS_ROWS; q++) bias_act_row_from(row + (size_t)q * ldy, j, cols, bias, act);
    }
    for (; r < rows; r++) bias_act_row_from(y + (size_t)r * ldy, 0, cols, bias, act);
}

static void FUSED(bias_act_forward)(int rows, int cols, float *y, int ldy, const float *bias, int act)
{
    if (act == VAE_KERNEL_ACT_RELU) bias_act_rows(rows, cols, y, ldy, bias, VAE_KERNEL_ACT_RELU);
    else if (act == VAE_KERNEL_ACT_TANH) bias_act_rows(rows, cols, y, ldy, bias, VAE_KERNEL_ACT_TANH);
    else bias_act_rows(rows, cols, y, ldy, bias, VAE_KERNEL_ACT_NONE);
}

/* dy[r, j] *= act'(...) from the activation's output a:
 * ReLU: a > 0 ? dy : 0;  tanh: dy (1 - a^2). */
static void FUSED(act_backward)(int rows, int cols, const float *a, int lda, float *dy, int lddy, int act)
{
    if (act == VAE_KERNEL_ACT_NONE) return;
    for (int r = 0; r < rows; r++) {
        const float *arow = a + (size_t)r * lda;
        float *drow = dy + (size_t)r * lddy;
#define ACT_BACKWARD_STEP(j, k)                                                                       \
    do {                                                                                              \
        vf av = vf_load_upto(arow + j, k), dv = vf_load_upto(drow + j, k);                            \
        dv = act == VAE_KERNEL_ACT_RELU ? vf_and_mask(vf_gt(av, vf_set1(0.0f)), dv)                   \
                                        : vf_mul(dv, vf_fnma(av, av, vf_set1(1.0f)));                 \
        vf_store_upto(drow + j, k, dv);                                                               \
    } while (0)
        FOR_VECTORS(j, cols, ACT_BACKWARD_STEP);
#undef ACT_BACKWARD_STEP
    }
}

/* db[j] = sum over r of dy[r, j], rows added in order 0, 1, 2, ... (the
 * scalar kernel's order, so the same bits). Up to 8 vectors of columns the
 * sums stay in registers (eight independent chains of adds); wider, db
 * itself accumulates whole vectors while the rows stream through in memory
 * order (1.7x the speed of columns 8 vectors at a time at 784 columns, as
 * the prefetchers follow), and the last partial vector stays in a
 * register. */
static void FUSED(bias_grad)(int rows, int cols, const float *dy, int lddy, float *db)
{
    if (cols <= 8 * VEC_LANES) {
        /* named accumulators: an array would live in memory, every add
         * then waiting for the store of the row before */
        vf a0 = vf_set1(0.0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
#define BIAS_GRAD_SLOTS(DO) DO(0, a0) DO(1, a1) DO(2, a2) DO(3, a3) DO(4, a4) DO(5, a5) DO(6, a6) DO(7, a7)
#define BIAS_GRAD_ADD(v, acc) \
    if ((v) * VEC_LANES < cols) acc = vf_add(acc, vf_load_upto(d + (v) * VEC_LANES, cols - (v) * VEC_LANES));
#define BIAS_GRAD_STORE(v, acc) \
    if ((v) * VEC_LANES < cols) vf_store_upto(db + (v) * VEC_LANES, cols - (v) * VEC_LANES, acc);
        for (int r = 0; r < rows; r++) {
            const float *d = dy + (size_t)r * lddy;
            BIAS_GRAD_SLOTS(BIAS_GRAD_ADD)
        }
        BIAS_GRAD_SLOTS(BIAS_GRAD_STORE)
#undef BIAS_GRAD_SLOTS
#undef BIAS_GRAD_ADD
#undef BIAS_GRAD_STORE
        return;
    }
    int whole = cols / VEC_LANES * VEC_LANES, tail = cols - whole;
    vf tail_acc = vf_set1(0.0f);
    for (int j = 0; j < whole; j += VEC_LANES) vf_store(db + j, vf_set1(0.0f));
    for (int r = 0; r < rows; r++) {
        const float *d = dy + (size_t)r * lddy;
        for (int j = 0; j < whole; j += VEC_LANES) vf_store(db + j, vf_add(vf_load(db + j), vf_load(d + j)));
        if (tail) tail_acc = vf_add(tail_acc, vf_load_upto(d + whole, tail));
    }
    if (tail) vf_store_upto(db + whole, tail, tail_acc);
}

/* ------------------------------------------- reparameterization and KL */

/* eps[r * latent + j] = the standard normal of (seed, stream, step,
 * row0 + r, column j) for r < rows, j < latent: vae_normal4's numbers (to
 * v_box_muller's error). Each lane takes one Philox block (four columns),
 * the blocks of all rows numbered one after the other. Philox runs for a
 * batch of vectors before Box-Muller does: two shorter chains of dependent
 * instructions keep more vectors in flight than one long one. */
static void FUSED(draw_normals)(int rows, int latent, uint64_t seed, uint32_t stream, uint64_t step,
                                uint32_t row0, float *eps)
{
    enum { BATCH = 8 };
    uint32_t blocks = (uint32_t)(latent + 3) / 4, row = 0, block = 0;
    size_t total = (size_t)rows * blocks;
    vi c2 = vi_set1((uint32_t)step), c3 = vi_set1((uint32_t)(step >> 32 & 0xFFFFFFu) | stream << 24);
    for (size_t f0 = 0; f0 < total; f0 += BATCH * VEC_LANES) {
        uint32_t cols[BATCH][VEC_LANES], rws[BATCH][VEC_LANES];
        vi words[BATCH][4];
        size_t left = (total - f0 + VEC_LANES - 1) / VEC_LANES;
        int batch = left < BATCH ? (int)left : BATCH;
        for (int v = 0; v < batch; v++) {
            for (int i = 0; i < VEC_LANES; i++) { /* the next block, without branches */
                cols[v][i] = block;
                rws[v][i] = row;
                uint32_t wrap = ++block == blocks;
                block -= wrap * blocks;
                row += wrap;
            }
            vi *c = words[v];
            c[0] = vi_load(cols[v]);
            c[1] = vi_add(vi_load(rws[v]), vi_set1(row0));
            c[2] = c2;
            c[3] = c3;
            v_philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
        }
        for (int v = 0; v < batch; v++) {
            size_t f = f0 + (size_t)v * VEC_LANES, lanes = total - f < VEC_LANES ? total - f : VEC_LANES;
            vf n0, n1, n2, n3;
            v_box_muller(words[v][0], words[v][1], &n0, &n1);
            v_box_muller(words[v][2], words[v][3], &n2, &n3);
            if (latent % 4 == 0 && lanes == VEC_LANES) {
                vf_store4_interleaved(eps + f * 4, n0, n1, n2, n3); /* blocks are contiguous in eps */
                continue;
            }
            float runs[4 * VEC_LANES];
            vf_store4_interleaved(runs, n0, n1, n2, n3);
            for (size_t i = 0; i < lanes; i++) {
                int j = 4 * (int)cols[v][i], count = latent - j < 4 ? latent - j : 4;
                memcpy(eps + (size_t)rws[v][i] * latent + j, runs + 4 * i, sizeof(float) * (size_t)count);
            }
        }
    }
}

/* One vector of a row: z = mu + s eps with s = exp(logvar / 2), and the
 * KL terms 1 + logvar - mu^2 - s^2 (s^2 = exp(logvar); lanes past k give
 * 1 + 0 - 0 - 1 = 0). */
FUSED_INLINE vf reparam_lanes(const float *mu, const float *logvar, const float *e, float *z, int k)
{
    vf m = vf_load_upto(mu, k), lv = vf_load_upto(logvar, k);
    vf s = v_exp(vf_mul(lv, vf_set1(0.5f)));
    vf_store_upto(z, k, vf_fma(s, vf_load_upto(e, k), m));
    return vf_fnma(s, s, vf_fnma(m, m, vf_add(lv, vf_set1(1.0f))));
}

/* For rows of mulv = [mu | logvar]:
 *     eps = N(0,1) from (seed, stream, step, row0 + r, column)
 *     z   = mu + exp(logvar / 2) * eps
 *     kl[r] = -1/2 * sum_j (1 + logvar - mu^2 - exp(logvar))
 * The normals of a group of rows (about 2048 values) are drawn first and
 * read back from L1 by the pass that writes z and kl. */
static void FUSED(reparam_kl_forward)(int rows, int latent, const float *mulv, uint64_t seed, uint32_t stream,
                                       uint64_t step, uint32_t row0, float *eps, float *z, float *kl)
{
    int group = latent >= 2048 ? 1 : 2048 / latent;
    for (int g = 0; g < rows; g += group) {
        int count = rows - g < group ? rows - g : group;
        FUSED(draw_normals)(count, latent, seed, stream, step, row0 + (uint32_t)g, eps + (size_t)g * latent);
        for (int r = g; r < g + count; r++) {
            const float *mu = mulv + (size_t)r * 2 * latent, *e = eps + (size_t)r * latent;
            float *zr = z + (size_t)r * latent;
            vf acc = vf_set1(0.0f);
#define REPARAM_STEP(j, k) acc = vf_add(acc, reparam_lanes(mu + j, mu + latent + j, e + j, zr + j, k))
            FOR_VECTORS(j, latent, REPARAM_STEP);
#undef REPARAM_STEP
            kl[r] = -0.5f * vf_sum(acc);
        }
    }
}

/* Backward of z-terms + beta * KL, with s = exp(logvar / 2):
 *     d mu     = dz + beta * mu
 *     d logvar = dz * eps * s / 2 + beta * (s^2 - 1) / 2 */
static void FUSED(reparam_kl_backward)(int rows, int latent, const float *mulv, const float *eps, const float *dz,
                                        float beta, float *dmulv)
{
    vf vbeta = vf_set1(beta), half = vf_set1(0.5f), half_beta = vf_set1(0.5f * beta);
    for (int r = 0; r < rows; r++) {
        const float *mu = mulv + (size_t)r * 2 * latent, *logvar = mu + latent;
        const float *e = eps + (size_t)r * latent, *g = dz + (size_t)r * latent;
        float *dmu = dmulv + (size_t)r * 2 * latent, *dlogvar = dmu + latent;
#define REPARAM_BACKWARD_STEP(j, k)                                                                   \
    do {                                                                                              \
        vf gv = vf_load_upto(g + j, k);                                                               \
        vf s = v_exp(vf_mul(vf_load_upto(logvar + j, k), half));                                      \
        vf_store_upto(dmu + j, k, vf_fma(vbeta, vf_load_upto(mu + j, k), gv));                        \
        vf kl_part = vf_mul(half_beta, vf_fms(s, s, vf_set1(1.0f)));                                  \
        vf_store_upto(dlogvar + j, k, vf_fma(vf_mul(vf_mul(gv, half), vf_load_upto(e + j, k)), s, kl_part)); \
    } while (0)
        FOR_VECTORS_OVERLAPPED(j, latent, REPARAM_BACKWARD_STEP); /* 20 latents: no masked tail */
#undef REPARAM_BACKWARD_STEP
    }
}

/* ------------------------------------------------------------ likelihoods */

/* The likelihoods take each row ROW_CHUNK values at a time, in two passes
 * over the chunk: the first stores e = exp(-|l|) in a buffer on the stack,
 * the second does the rest. Two short chains of dependent instructions
 * keep more vectors in flight than one long one (1.8 times the speed of
 * one pass for Bernoulli on Zen 5); the chunk stays in L1. */
#define ROW_CHUNK 256

/* e[j] = exp(-|l[j]|) for j < n (-|l| by setting the sign bit). */
static inline void exp_neg_abs_pass(const float *l, int n, float *e)
{
#define EXP_NEG_ABS_STEP(j, k) \
    vf_store_upto(e + j, k, v_exp_nonpositive(vi_as_vf(vi_or(vf_as_vi(vf_load_upto(l + j, k)), vi_set1(0x80000000u)))))
    FOR_VECTORS(j, n, EXP_NEG_ABS_STEP);
#undef EXP_NEG_ABS_STEP
}

/* With e = exp(-|l|) in (0, 1] and inv_u = 1/(1 + e): sigmoid(l) as inv_u
 * for l >= 0 and e inv_u below (no overflow either way). */
FUSED_INLINE vf sigmoid_from(vf l, vf e, vf inv_u)
{
    return vf_select(vf_ge(l, vf_set1(0.0f)), inv_u, vf_mul(e, inv_u));
}

/* One vector of a Bernoulli row, given e = exp(-|l|): the terms
 * softplus(l) - x l, and dl = sigmoid(l) - x when dl is not NULL.
 * softplus(l) = max(l, 0) + log1p(e), by v_log1p_unit (e is in (0, 1]). */
FUSED_INLINE vf bernoulli_lanes(const float *logits, const float *x, const float *e_buf, float *dl, int k)
{
    vf l = vf_load_upto(logits, k), xv = vf_load_upto(x, k), e = vf_load_upto(e_buf, k);
    vf inv_u = vf_div(vf_set1(1.0f), vf_add(vf_set1(1.0f), e));
    vf softplus = vf_add(vf_max(l, vf_set1(0.0f)), v_log1p_unit(e));
    if (dl) vf_store_upto(dl, k, vf_sub(sigmoid_from(l, e, inv_u), xv));
    return keep_lanes(vf_fnma(xv, l, softplus), k);
}

/* One vector of a Gaussian row: the terms (mean - x)^2 / 2, and
 * dl = (mean - x) dmean/dl when dl is not NULL; mean = sigmoid(l) from
 * e = exp(-|l|) (dmean/dl = mean (1 - mean)), or l. */
FUSED_INLINE vf gaussian_lanes(const float *logits, const float *x, const float *e_buf, int sigmoid_mean, float *dl,
                               int k)
{
    vf l = vf_load_upto(logits, k), xv = vf_load_upto(x, k), mean = l;
    if (sigmoid_mean) {
        vf e = vf_load_upto(e_buf, k);
        mean = sigmoid_from(l, e, vf_div(vf_set1(1.0f), vf_add(vf_set1(1.0f), e)));
    }
    vf diff = vf_sub(mean, xv);
    if (dl) vf_store_upto(dl, k, sigmoid_mean ? vf_mul(diff, vf_fnma(mean, mean, mean)) : diff);
    return keep_lanes(vf_mul(vf_set1(0.5f), vf_mul(diff, diff)), k);
}

enum { LIK_BERNOULLI, LIK_GAUSSIAN_SIGMOID, LIK_GAUSSIAN_LINEAR };

/* loss[r] = the sum of row r's terms, and dl, for one of LIK_*, in chunks
 * of ROW_CHUNK values (inlined with a constant kind, so each kernel below
 * is its own loop). */
FUSED_INLINE void likelihood_rows(int kind, int rows, int cols, const float *logits, const float *x, float *loss,
                                  float *dlogits)
{
    float e[ROW_CHUNK];
    for (int r = 0; r < rows; r++) {
        vf acc = vf_set1(0.0f);
        for (int c0 = 0; c0 < cols; c0 += ROW_CHUNK) {
            int n = cols - c0 < ROW_CHUNK ? cols - c0 : ROW_CHUNK;
            size_t off = (size_t)r * cols + c0;
            const float *l = logits + off, *xr = x + off;
            float *dl = dlogits ? dlogits + off : NULL;
            if (kind != LIK_GAUSSIAN_LINEAR) exp_neg_abs_pass(l, n, e);
#define LIKELIHOOD_STEP(j, k)                                                                             \
    acc = vf_add(acc, kind == LIK_BERNOULLI                                                              \
                          ? bernoulli_lanes(l + j, xr + j, e + j, dl ? dl + j : NULL, k)                  \
                          : gaussian_lanes(l + j, xr + j, e + j, kind == LIK_GAUSSIAN_SIGMOID, dl ? dl + j : NULL, k))
            FOR_VECTORS(j, n, LIKELIHOOD_STEP);
#undef LIKELIHOOD_STEP
        }
        loss[r] = vf_sum(acc);
    }
}

/* loss[r] = sum_j softplus(l) - x l;  dl = sigmoid(l) - x  (dl may be NULL) */
static void FUSED(bernoulli_loss)(int rows, int cols, const float *logits, const float *x, float *loss,
                                   float *dlogits)
{
    likelihood_rows(LIK_BERNOULLI, rows, cols, logits, x, loss, dlogits);
}

/* loss[r] = 1/2 sum_j (mean - x)^2;  dl = (mean - x) dmean/dl  (dl may be NULL) */
static void FUSED(gaussian_loss)(int rows, int cols, const float *logits, const float *x, int sigmoid_mean,
                                  float *loss, float *dlogits)
{
    if (sigmoid_mean) likelihood_rows(LIK_GAUSSIAN_SIGMOID, rows, cols, logits, x, loss, dlogits);
    else likelihood_rows(LIK_GAUSSIAN_LINEAR, rows, cols, logits, x, loss, dlogits);
}

/* ------------------------------------------------------------------ Adam */

/* Adam's step on k <= VEC_LANES parameters. */
FUSED_INLINE void adam_lanes(float *p, const float *g, float *m, float *v, int k, vf beta1, vf one_minus_beta1,
                             vf beta2, vf one_minus_beta2, vf step_size, vf inv_sqrt_bc2, vf eps)
{
    vf gv = vf_load_upto(g, k);
    vf mv = vf_fma(beta1, vf_load_upto(m, k), vf_mul(one_minus_beta1, gv));
    vf vv = vf_fma(beta2, vf_load_upto(v, k), vf_mul(vf_mul(one_minus_beta2, gv), gv));
    vf denom = vf_fma(vf_sqrt(vv), inv_sqrt_bc2, eps);
    vf_store_upto(m, k, mv);
    vf_store_upto(v, k, vv);
    vf_store_upto(p, k, vf_sub(vf_load_upto(p, k), vf_div(vf_mul(step_size, mv), denom)));
}

/* A 64-byte cache line, in floats. */
#define LINE_FLOATS 16

/* How far ahead of the parameters it is updating Adam asks for p, m and v.
 * In training they come from the shared cache (the model's state is far
 * larger than L2) and Adam runs at the speed it can stream them; the
 * hardware prefetcher alone keeps too few lines in flight. Asked for 2 KB
 * ahead, a line at a time, in whole epochs (AVX-512, Zen 5, in turns in
 * one process, 6 epochs each): at 1 thread Adam's time went 0.466 -> 0.378
 * s and 0.449 -> 0.378 s on a busy host (epochs 1-3 % faster), 0.312 ->
 * 0.285 and 0.297 -> 0.276 s on a quiet one (epochs 0-1 % faster); at 2
 * threads 0.166 -> 0.154 and 0.303 -> 0.261 s. 1 KB ahead was slower, 4 KB
 * about the same, and asking for L2 only (locality 2) slower. */
#define ADAM_PREFETCH_BYTES 2048

/* Asks for the line `ahead` bytes past p, to be written (a hint: it never
 * faults, so it may point past the end of the array; the address is formed
 * as an integer so that no pointer leaves its object). */
FUSED_INLINE void prefetch_for_write(const float *p, size_t ahead)
{
    __builtin_prefetch((const void *)((uintptr_t)p + ahead), 1, 3);
}

/* Adam over n parameters, one pass (Kingma & Ba, algorithm 1), the scalar
 * kernel's formula:
 *     m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *     p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps) */
static void FUSED(adam_update)(size_t n, float *p, const float *g, float *m, float *v, const vae_adam_params *hp)
{
    vf beta1 = vf_set1(hp->beta1), one_minus_beta1 = vf_set1(1.0f - hp->beta1);
    vf beta2 = vf_set1(hp->beta2), one_minus_beta2 = vf_set1(1.0f - hp->beta2);
    vf step_size = vf_set1(hp->lr / hp->bias_correction1);
    vf inv_sqrt_bc2 = vf_set1(1.0f / sqrtf(hp->bias_correction2)), eps = vf_set1(hp->eps);
    size_t i = 0;
    for (; i + LINE_FLOATS <= n; i += LINE_FLOATS) {
        prefetch_for_write(p + i, ADAM_PREFETCH_BYTES);
        prefetch_for_write(m + i, ADAM_PREFETCH_BYTES);
        prefetch_for_write(v + i, ADAM_PREFETCH_BYTES);
        for (int q = 0; q < LINE_FLOATS; q += VEC_LANES)
            adam_lanes(p + i + q, g + i + q, m + i + q, v + i + q, VEC_LANES, beta1, one_minus_beta1, beta2,
                       one_minus_beta2, step_size, inv_sqrt_bc2, eps);
    }
    for (; i + VEC_LANES <= n; i += VEC_LANES)
        adam_lanes(p + i, g + i, m + i, v + i, VEC_LANES, beta1, one_minus_beta1, beta2, one_minus_beta2,
                   step_size, inv_sqrt_bc2, eps);
    if (i < n)
        adam_lanes(p + i, g + i, m + i, v + i, (int)(n - i), beta1, one_minus_beta1, beta2, one_minus_beta2,
                   step_size, inv_sqrt_bc2, eps);
}

/* ------------------------------------------------------- bytes to [0, 1] */

/* dst = src / 255, VEC_LANES bytes at a time: widened to 32-bit integers,
 * converted (exactly) and divided (correctly rounded, so the same bits as
 * the scalar table); the tail divides one by one. */
static void FUSED(bytes_to_unit)(size_t n, const uint8_t *src, float *dst)
{
    vf scale = vf_set1(255.0f);
    size_t i = 0;
    for (; i + VEC_LANES <= n; i += VEC_LANES) vf_store(dst + i, vf_div(vf_from_bytes(src + i), scale));
    for (; i < n; i++) dst[i] = (float)src[i] / 255.0f;
}

/* ------------------------------------------------- test hooks (vmath_test.h) */

#define VMATH_UNARY(fn)                                                                 \
    for (size_t i = 0; i < n; i += VEC_LANES) {                                         \
        int k = n - i < VEC_LANES ? (int)(n - i) : VEC_LANES;                           \
        vf_store_upto(y + i, k, fn(vf_load_upto(x + i, k)));                            \
    }
static void FUSED(vexp)(size_t n, const float *x, float *y) { VMATH_UNARY(v_exp) }
static void FUSED(vexp_nonpositive)(size_t n, const float *x, float *y) { VMATH_UNARY(v_exp_nonpositive) }
static void FUSED(vlog)(size_t n, const float *x, float *y) { VMATH_UNARY(v_log) }
static void FUSED(vlog1p_unit)(size_t n, const float *x, float *y) { VMATH_UNARY(v_log1p_unit) }
static void FUSED(vtanh)(size_t n, const float *x, float *y) { VMATH_UNARY(v_tanh) }
#undef VMATH_UNARY

static void FUSED(vsincos2pi)(size_t n, const float *u, float *sin_out, float *cos_out)
{
    for (size_t i = 0; i < n; i += VEC_LANES) {
        int k = n - i < VEC_LANES ? (int)(n - i) : VEC_LANES;
        vf s, c;
        v_sincos2pi(vf_load_upto(u + i, k), &s, &c);
        vf_store_upto(sin_out + i, k, s);
        vf_store_upto(cos_out + i, k, c);
    }
}

static void FUSED(vphilox)(size_t n, const uint32_t *counters, const uint32_t key[2], uint32_t *out)
{
    for (size_t i = 0; i < n; i += VEC_LANES) {
        uint32_t words[4][VEC_LANES] = {{0}};
        size_t lanes = n - i < VEC_LANES ? n - i : VEC_LANES;
        for (size_t l = 0; l < lanes; l++)
            for (int w = 0; w < 4; w++) words[w][l] = counters[4 * (i + l) + w];
        vi c[4];
        for (int w = 0; w < 4; w++) c[w] = vi_load(words[w]);
        v_philox4x32_10(c, key[0], key[1]);
        for (int w = 0; w < 4; w++) vi_store(words[w], c[w]);
        for (size_t l = 0; l < lanes; l++)
            for (int w = 0; w < 4; w++) out[4 * (i + l) + w] = words[w][l];
    }
}

const vae_vmath_hooks FUSED_CAT(vae_vmath, VEC_ISA) = {
    .name = FUSED_STR(VEC_ISA),
    .lanes = VEC_LANES,
    .exp = FUSED(vexp),
    .exp_nonpositive = FUSED(vexp_nonpositive),
    .log = FUSED(vlog),
    .log1p_unit = FUSED(vlog1p_unit),
    .tanh = FUSED(vtanh),
    .sincos2pi = FUSED(vsincos2pi),
    .philox = FUSED(vphilox),
};

#endif /* VAE_FUSED_H */

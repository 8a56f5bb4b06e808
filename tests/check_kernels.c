/* check_kernels.c - every kernel of every table this CPU can run, against
 * direct formulas evaluated in double precision (and finite differences for
 * the gradients). Loops over vae_kernels_available(), so a new SIMD table is
 * tested by the same cases as the scalar one. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "vae.h"
#include "vmath_test.h"

static const vae_kernels *tables[16];
static int n_tables;

static void setup(void) { n_tables = vae_kernels_available(tables, 16); }

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double rand_uniform(double lo, double hi)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return lo + (hi - lo) * ((rng_state >> 11) * 0x1p-53);
}

static int close_to(double got, double want, double rel, double abs_tol)
{
    return fabs(got - want) <= abs_tol + rel * fabs(want);
}

/* --------------------------------------------------- bias and activation */

START_TEST(test_bias_act_forward)
{
    for (int t = 0; t < n_tables; t++)
        for (int act = VAE_KERNEL_ACT_NONE; act <= VAE_KERNEL_ACT_TANH; act++) {
            enum { R = 5, C = 37, LD = 40 };
            float y[R * LD], bias[C];
            double want[R * LD];
            for (int j = 0; j < C; j++) bias[j] = (float)rand_uniform(-1, 1);
            for (int i = 0; i < R * LD; i++) y[i] = (float)rand_uniform(-3, 3);
            for (int r = 0; r < R; r++)
                for (int j = 0; j < LD; j++) {
                    double v = (double)y[r * LD + j] + (j < C ? bias[j] : 0.0);
                    if (j >= C) v = y[r * LD + j];
                    else if (act == VAE_KERNEL_ACT_RELU) v = v > 0 ? v : 0;
                    else if (act == VAE_KERNEL_ACT_TANH) v = tanh(v);
                    want[r * LD + j] = v;
                }
            tables[t]->bias_act_forward(R, C, y, LD, bias, act);
            for (int i = 0; i < R * LD; i++)
                ck_assert_msg(close_to(y[i], want[i], 1e-6, 1e-6), "%s act %d [%d]: %g vs %g", tables[t]->name,
                              act, i, y[i], want[i]);
        }
}
END_TEST

START_TEST(test_act_backward_and_bias_grad)
{
    for (int t = 0; t < n_tables; t++) {
        enum { R = 7, C = 19 };
        float a[R * C], dy[R * C], dy_in[R * C], db[C];
        for (int i = 0; i < R * C; i++) {
            a[i] = (float)rand_uniform(-1, 1);
            dy_in[i] = (float)rand_uniform(-2, 2);
        }
        /* ReLU: the output a > 0 passes the gradient, else 0. */
        memcpy(dy, dy_in, sizeof dy);
        tables[t]->act_backward(R, C, a, C, dy, C, VAE_KERNEL_ACT_RELU);
        for (int i = 0; i < R * C; i++) ck_assert_float_eq(dy[i], a[i] > 0 ? dy_in[i] : 0.0f);
        /* tanh: d tanh(u)/du = 1 - tanh(u)^2, checked by a central difference in u. */
        memcpy(dy, dy_in, sizeof dy);
        float a_tanh[R * C];
        double u[R * C];
        for (int i = 0; i < R * C; i++) {
            u[i] = rand_uniform(-2, 2);
            a_tanh[i] = (float)tanh(u[i]);
        }
        tables[t]->act_backward(R, C, a_tanh, C, dy, C, VAE_KERNEL_ACT_TANH);
        for (int i = 0; i < R * C; i++) {
            double h = 1e-6, deriv = (tanh(u[i] + h) - tanh(u[i] - h)) / (2 * h);
            ck_assert_msg(close_to(dy[i], dy_in[i] * deriv, 1e-5, 1e-6), "tanh backward [%d]", i);
        }
        /* Bias gradient: column sums. */
        tables[t]->bias_grad(R, C, dy_in, C, db);
        for (int j = 0; j < C; j++) {
            double sum = 0;
            for (int r = 0; r < R; r++) sum += dy_in[r * C + j];
            ck_assert(close_to(db[j], sum, 1e-6, 1e-6));
        }
    }
}
END_TEST

/* ------------------------------------------- reparameterization and KL */

START_TEST(test_reparam_kl_forward)
{
    for (int t = 0; t < n_tables; t++) {
        enum { R = 6, Z = 7 }; /* Z not a multiple of 4 */
        float mulv[R * 2 * Z], eps[R * Z], z[R * Z], kl[R];
        for (int i = 0; i < R * 2 * Z; i++) mulv[i] = (float)rand_uniform(-3, 3);
        tables[t]->reparam_kl_forward(R, Z, mulv, 99, VAE_STREAM_NOISE, 17, 100, eps, z, kl);
        for (int r = 0; r < R; r++) {
            double kl_want = 0;
            for (int j = 0; j < Z; j++) {
                double mu = mulv[r * 2 * Z + j], lv = mulv[r * 2 * Z + Z + j];
                double e = vae_normal(99, VAE_STREAM_NOISE, 17, 100 + (uint32_t)r, (uint32_t)j);
                ck_assert_msg(close_to(eps[r * Z + j], e, 1e-5, 1e-6), "%s eps", tables[t]->name);
                ck_assert_msg(close_to(z[r * Z + j], mu + exp(0.5 * lv) * e, 1e-5, 1e-5), "%s z", tables[t]->name);
                kl_want += -0.5 * (1 + lv - mu * mu - exp(lv));
            }
            ck_assert_msg(close_to(kl[r], kl_want, 1e-5, 1e-5), "%s kl row %d: %g vs %g", tables[t]->name, r,
                          kl[r], kl_want);
        }
    }
}
END_TEST

/* f(mu, logvar) = sum dz * z + beta * KL with eps fixed, in double. */
static double reparam_objective(const double *mulv, const float *eps, const float *dz, int Z, double beta)
{
    double f = 0;
    for (int j = 0; j < Z; j++) {
        double mu = mulv[j], lv = mulv[Z + j];
        f += dz[j] * (mu + exp(0.5 * lv) * eps[j]);
        f += beta * -0.5 * (1 + lv - mu * mu - exp(lv));
    }
    return f;
}

START_TEST(test_reparam_kl_backward)
{
    for (int t = 0; t < n_tables; t++) {
        enum { R = 3, Z = 5 };
        float mulv[R * 2 * Z], eps[R * Z], dz[R * Z], dmulv[R * 2 * Z];
        const float beta = 0.7f;
        for (int i = 0; i < R * 2 * Z; i++) mulv[i] = (float)rand_uniform(-2, 2);
        for (int i = 0; i < R * Z; i++) {
            eps[i] = (float)rand_uniform(-2, 2);
            dz[i] = (float)rand_uniform(-1, 1);
        }
        tables[t]->reparam_kl_backward(R, Z, mulv, eps, dz, beta, dmulv);
        for (int r = 0; r < R; r++)
            for (int j = 0; j < 2 * Z; j++) {
                double p[2 * Z], h = 1e-6;
                for (int i = 0; i < 2 * Z; i++) p[i] = mulv[r * 2 * Z + i];
                p[j] += h;
                double fp = reparam_objective(p, eps + r * Z, dz + r * Z, Z, beta);
                p[j] -= 2 * h;
                double fm = reparam_objective(p, eps + r * Z, dz + r * Z, Z, beta);
                double fd = (fp - fm) / (2 * h);
                ck_assert_msg(close_to(dmulv[r * 2 * Z + j], fd, 1e-4, 1e-5), "%s d[%d][%d]: %g vs %g",
                              tables[t]->name, r, j, dmulv[r * 2 * Z + j], fd);
            }
    }
}
END_TEST

/* ----------------------------------------------------------- likelihoods */

/* -log Bernoulli(x; sigmoid(l)) = log(1 + e^l) - x l, fine in double for |l| < 700. */
static double bernoulli_nll(double l, double x) { return log1p(exp(l)) - x * l; }

START_TEST(test_bernoulli_loss)
{
    static const float special[] = {-100.0f, 100.0f, -30.0f, 30.0f, 0.0f, -88.0f, 88.0f, 1e-3f};
    enum { R = 3, C = 29 };
    for (int t = 0; t < n_tables; t++) {
        float l[R * C], x[R * C], loss[R], dl[R * C];
        for (int i = 0; i < R * C; i++) {
            l[i] = i < 8 ? special[i] : (float)rand_uniform(-12, 12);
            x[i] = i % 5 == 0 ? 0.0f : i % 5 == 1 ? 1.0f : (float)rand_uniform(0, 1);
        }
        tables[t]->bernoulli_loss(R, C, l, x, loss, dl);
        for (int r = 0; r < R; r++) {
            double want = 0;
            for (int j = 0; j < C; j++) {
                int i = r * C + j;
                want += bernoulli_nll(l[i], x[i]);
                ck_assert_msg(isfinite(dl[i]), "%s dl[%d] not finite", tables[t]->name, i);
                double dl_want = 1.0 / (1.0 + exp(-(double)l[i])) - x[i];
                ck_assert_msg(close_to(dl[i], dl_want, 1e-5, 1e-6), "%s dl[%d] = %g, want %g", tables[t]->name, i,
                              dl[i], dl_want);
            }
            ck_assert_msg(isfinite(loss[r]) && close_to(loss[r], want, 1e-5, 1e-4), "%s loss row %d: %g vs %g",
                          tables[t]->name, r, loss[r], want);
        }
        /* Without a gradient buffer only the loss is written. */
        float loss2[R];
        tables[t]->bernoulli_loss(R, C, l, x, loss2, NULL);
        for (int r = 0; r < R; r++) ck_assert_float_eq(loss2[r], loss[r]);
    }
}
END_TEST

static double gaussian_nll(double l, double x, int sigmoid_mean)
{
    double mean = sigmoid_mean ? 1.0 / (1.0 + exp(-l)) : l;
    return 0.5 * (mean - x) * (mean - x);
}

START_TEST(test_gaussian_loss)
{
    enum { R = 2, C = 23 };
    for (int t = 0; t < n_tables; t++)
        for (int sig = 0; sig <= 1; sig++) {
            float l[R * C], x[R * C], loss[R], dl[R * C];
            for (int i = 0; i < R * C; i++) {
                l[i] = i == 0 ? -100.0f : i == 1 ? 100.0f : (float)rand_uniform(-6, 6);
                x[i] = (float)rand_uniform(0, 1);
            }
            tables[t]->gaussian_loss(R, C, l, x, sig, loss, dl);
            for (int r = 0; r < R; r++) {
                double want = 0;
                for (int j = 0; j < C; j++) {
                    int i = r * C + j;
                    want += gaussian_nll(l[i], x[i], sig);
                    double h = 1e-5, fd = (gaussian_nll(l[i] + h, x[i], sig) - gaussian_nll(l[i] - h, x[i], sig)) / (2 * h);
                    ck_assert_msg(isfinite(dl[i]) && close_to(dl[i], fd, 1e-4, 1e-6), "%s sigmoid=%d dl[%d]: %g vs %g",
                                  tables[t]->name, sig, i, dl[i], fd);
                }
                ck_assert_msg(close_to(loss[r], want, 1e-5, 1e-5), "%s sigmoid=%d loss: %g vs %g", tables[t]->name,
                              sig, loss[r], want);
            }
        }
}
END_TEST

/* ------------------------------------------------------------------ Adam */

START_TEST(test_adam_by_hand)
{
    /* lr 0.1, beta1 0.9, beta2 0.999, eps 1e-8, p = 1, two steps with g = 0.5 then -0.25:
     * step 1: m = 0.05, v = 0.00025, mhat = 0.5, vhat = 0.25, p = 1 - 0.1*0.5/0.5 = 0.9
     * step 2: m = 0.045 - 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225,
     *         mhat = 0.02/0.19 = 0.105263, vhat = 0.00031225/0.001999 = 0.156203,
     *         p = 0.9 - 0.1 * 0.105263 / 0.395225 = 0.873366 */
    for (int t = 0; t < n_tables; t++) {
        float p[3] = {1, 1, 1}, g[3] = {0.5f, 0.5f, 0.5f}, m[3] = {0}, v[3] = {0};
        vae_adam_params hp = {0.1f, 0.9f, 0.999f, 1e-8f, 1.0f - 0.9f, 1.0f - 0.999f};
        tables[t]->adam_update(3, p, g, m, v, &hp);
        ck_assert_msg(close_to(p[0], 0.9, 1e-6, 0), "%s step 1: %.9g", tables[t]->name, p[0]);
        ck_assert(close_to(m[1], 0.05, 1e-6, 0) && close_to(v[2], 0.00025, 1e-4, 0)); /* 1 - 0.999f is 1.00005e-3 */
        for (int i = 0; i < 3; i++) g[i] = -0.25f;
        hp.bias_correction1 = 1.0f - 0.81f;
        hp.bias_correction2 = (float)(1.0 - 0.999 * 0.999);
        tables[t]->adam_update(3, p, g, m, v, &hp);
        ck_assert_msg(close_to(p[0], 0.873366, 2e-6, 0), "%s step 2: %.9g", tables[t]->name, p[0]);
        ck_assert(close_to(m[0], 0.02, 1e-5, 0) && close_to(v[0], 0.00031225, 1e-4, 0));
    }
}
END_TEST

/* bytes_to_unit: every byte value at every offset of a vector and every
 * length up to 3 vectors of the widest ISA, against a run-time division
 * (the same bits in every table), and nothing written past the end. */
START_TEST(test_bytes_to_unit_exact)
{
    volatile float divisor = 255.0f;
    uint8_t src[256 + 64];
    for (int i = 0; i < (int)sizeof src; i++) src[i] = (uint8_t)(i * 97 + 13);
    for (int t = 0; t < n_tables; t++) {
        float dst[256 + 64 + 1];
        for (int off = 0; off < 17; off++)
            for (int n = 0; n <= 48 + 256 - off; n += n < 48 ? 1 : 64) {
                dst[n] = -1.0f;
                tables[t]->bytes_to_unit((size_t)n, src + off, dst);
                for (int i = 0; i < n; i++) {
                    float want = (float)src[off + i] / divisor;
                    ck_assert_msg(memcmp(&dst[i], &want, sizeof want) == 0, "%s offset %d n %d value %d: %.9g",
                                  tables[t]->name, off, n, i, dst[i]);
                }
                ck_assert_msg(dst[n] == -1.0f, "%s n %d: wrote past the end", tables[t]->name, n);
            }
        /* all 256 byte values */
        uint8_t all[256];
        for (int b = 0; b < 256; b++) all[b] = (uint8_t)b;
        tables[t]->bytes_to_unit(256, all, dst);
        for (int b = 0; b < 256; b++) {
            float want = (float)b / divisor;
            ck_assert_msg(memcmp(&dst[b], &want, sizeof want) == 0, "%s byte %d", tables[t]->name, b);
        }
    }
}
END_TEST

/* ------------------------------------- every size, against the scalar table */

/* Sizes around the vector widths (4, 8, 16 lanes) and the VAE's own
 * (latent 20, hidden 400, 784 pixels). */
static const int tail_sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 20, 31, 33, 40, 63, 65, 133, 257, 400, 784};
#define N_TAIL_SIZES (int)(sizeof tail_sizes / sizeof tail_sizes[0])
#define GUARD 16 /* floats past each buffer that no kernel may write */
static const float canary = -12345.5f;

static float *guarded(size_t n)
{
    float *p = malloc(sizeof(float) * (n + GUARD));
    for (size_t i = 0; i < n + GUARD; i++) p[i] = canary;
    return p;
}

static void assert_guard(const float *p, size_t n, const char *what, const char *table)
{
    for (size_t i = n; i < n + GUARD; i++)
        ck_assert_msg(p[i] == canary, "%s: %s wrote past its end (+%zu)", table, what, i - n);
}

static void fill(float *p, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) p[i] = (float)rand_uniform(lo, hi);
}

#define CHECK_CLOSE(got, want, rel, abs_tol, ...) \
    ck_assert_msg(close_to(got, want, rel, abs_tol), __VA_ARGS__)

/* bias_act_forward, act_backward and bias_grad of table k against ref on
 * R x C (rows LD apart). */
static void tails_layers(const vae_kernels *k, const vae_kernels *ref, int R, int C)
{
    int LD = C + 3;
    size_t n = (size_t)R * LD;
    float *a = guarded(n), *b = guarded(n), *bias = guarded((size_t)C), *dy = guarded(n), *dy_ref = guarded(n);
    float *db = guarded((size_t)C), *db_ref = guarded((size_t)C);
    fill(bias, (size_t)C, -1, 1);
    for (int act = VAE_KERNEL_ACT_NONE; act <= VAE_KERNEL_ACT_TANH; act++) {
        fill(a, n, -3, 3);
        memcpy(b, a, sizeof(float) * n);
        k->bias_act_forward(R, C, a, LD, bias, act);
        ref->bias_act_forward(R, C, b, LD, bias, act);
        for (size_t i = 0; i < n; i++)
            CHECK_CLOSE(a[i], b[i], 2e-7, 2e-7, "%s bias_act %d C=%d [%zu]: %g vs %g", k->name, act, C, i, a[i], b[i]);
        assert_guard(a, n, "bias_act_forward", k->name);
        /* act_backward on the outputs just computed */
        fill(dy, n, -2, 2);
        memcpy(dy_ref, dy, sizeof(float) * n);
        k->act_backward(R, C, b, LD, dy, LD, act);
        ref->act_backward(R, C, b, LD, dy_ref, LD, act);
        for (size_t i = 0; i < n; i++)
            CHECK_CLOSE(dy[i], dy_ref[i], 2e-7, 1e-7, "%s act_backward %d C=%d [%zu]", k->name, act, C, i);
        assert_guard(dy, n, "act_backward", k->name);
        /* bias_grad: the same additions in the same order, so the same bits */
        k->bias_grad(R, C, dy, LD, db);
        ref->bias_grad(R, C, dy, LD, db_ref);
        ck_assert_msg(memcmp(db, db_ref, sizeof(float) * (size_t)C) == 0, "%s bias_grad C=%d", k->name, C);
        assert_guard(db, (size_t)C, "bias_grad", k->name);
    }
    free(a); free(b); free(bias); free(dy); free(dy_ref); free(db); free(db_ref);
}

/* bernoulli_loss and gaussian_loss (both means) of table k against ref. */
static void tails_likelihoods(const vae_kernels *k, const vae_kernels *ref, int R, int C)
{
    size_t n = (size_t)R * C;
    float *x = guarded(n), *l = guarded(n), *loss = guarded((size_t)R), *loss_ref = guarded((size_t)R);
    float *dl = guarded(n), *dl_ref = guarded(n);
    fill(l, n, -8, 8);
    fill(x, n, 0, 1);
    for (int kind = 0; kind < 3; kind++) { /* Bernoulli, Gaussian linear, Gaussian sigmoid */
        if (kind == 0) {
            k->bernoulli_loss(R, C, l, x, loss, dl);
            ref->bernoulli_loss(R, C, l, x, loss_ref, dl_ref);
        } else {
            k->gaussian_loss(R, C, l, x, kind - 1, loss, dl);
            ref->gaussian_loss(R, C, l, x, kind - 1, loss_ref, dl_ref);
        }
        for (int r = 0; r < R; r++)
            CHECK_CLOSE(loss[r], loss_ref[r], 1e-5, 1e-5, "%s likelihood %d C=%d row %d: %g vs %g", k->name, kind, C,
                        r, loss[r], loss_ref[r]);
        for (size_t i = 0; i < n; i++)
            CHECK_CLOSE(dl[i], dl_ref[i], 1e-6, 3e-7, "%s likelihood %d dl C=%d [%zu]: %g vs %g", k->name, kind, C, i,
                        dl[i], dl_ref[i]);
        assert_guard(loss, (size_t)R, "likelihood loss", k->name);
        assert_guard(dl, n, "likelihood dl", k->name);
    }
    free(x); free(l); free(loss); free(loss_ref); free(dl); free(dl_ref);
}

/* reparam_kl_forward and _backward with latent C (mulv is R x 2C). */
static void tails_reparam(const vae_kernels *k, const vae_kernels *ref, int R, int C)
{
    size_t n = (size_t)R * C;
    float *mulv = guarded(2 * n), *eps = guarded(n), *eps_ref = guarded(n), *z = guarded(n), *z_ref = guarded(n);
    float *kl = guarded((size_t)R), *kl_ref = guarded((size_t)R), *dz = guarded(n);
    float *dmulv = guarded(2 * n), *dmulv_ref = guarded(2 * n);
    fill(mulv, 2 * n, -3, 3);
    k->reparam_kl_forward(R, C, mulv, 5, VAE_STREAM_NOISE, 1234567, 77, eps, z, kl);
    ref->reparam_kl_forward(R, C, mulv, 5, VAE_STREAM_NOISE, 1234567, 77, eps_ref, z_ref, kl_ref);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(fabsf(eps[i] - eps_ref[i]) <= 3e-6f, "%s eps C=%d [%zu]: %g vs %g", k->name, C, i, eps[i],
                      eps_ref[i]);
        CHECK_CLOSE(z[i], z_ref[i], 1e-5, 1e-5, "%s z C=%d [%zu]", k->name, C, i);
    }
    for (int r = 0; r < R; r++)
        CHECK_CLOSE(kl[r], kl_ref[r], 1e-5, 1e-5, "%s kl C=%d row %d: %g vs %g", k->name, C, r, kl[r], kl_ref[r]);
    assert_guard(eps, n, "reparam eps", k->name);
    assert_guard(z, n, "reparam z", k->name);
    assert_guard(kl, (size_t)R, "reparam kl", k->name);
    fill(dz, n, -1, 1);
    k->reparam_kl_backward(R, C, mulv, eps_ref, dz, 0.8f, dmulv);
    ref->reparam_kl_backward(R, C, mulv, eps_ref, dz, 0.8f, dmulv_ref);
    for (size_t i = 0; i < 2 * n; i++)
        CHECK_CLOSE(dmulv[i], dmulv_ref[i], 1e-5, 1e-6, "%s reparam backward C=%d [%zu]", k->name, C, i);
    assert_guard(dmulv, 2 * n, "reparam_kl_backward", k->name);
    free(mulv); free(eps); free(eps_ref); free(z); free(z_ref); free(kl); free(kl_ref); free(dz);
    free(dmulv); free(dmulv_ref);
}

/* Three Adam steps on n parameters. */
static void tails_adam(const vae_kernels *k, const vae_kernels *ref, size_t n)
{
    float *p = guarded(n), *g = guarded(n), *m = guarded(n), *v = guarded(n);
    float *p_ref = guarded(n), *m_ref = guarded(n), *v_ref = guarded(n);
    fill(p, n, -1, 1);
    memcpy(p_ref, p, sizeof(float) * n);
    float *zeroed[] = {m, v, m_ref, v_ref};
    for (int i = 0; i < 4; i++) memset(zeroed[i], 0, sizeof(float) * n);
    for (int step = 1; step <= 3; step++) {
        vae_adam_params hp = {1e-3f, 0.9f, 0.999f, 1e-8f, (float)(1 - pow(0.9, step)),
                              (float)(1 - pow(0.999, step))};
        fill(g, n, -1, 1);
        k->adam_update(n, p, g, m, v, &hp);
        ref->adam_update(n, p_ref, g, m_ref, v_ref, &hp);
    }
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(close_to(p[i], p_ref[i], 1e-6, 1e-7) && close_to(m[i], m_ref[i], 1e-6, 3e-8) &&
                          close_to(v[i], v_ref[i], 1e-6, 1e-9),
                      "%s adam n=%zu [%zu]: p %.9g %.9g m %.9g %.9g v %.9g %.9g", k->name, n, i, p[i], p_ref[i], m[i],
                      m_ref[i], v[i], v_ref[i]);
    assert_guard(p, n, "adam p", k->name);
    assert_guard(m, n, "adam m", k->name);
    assert_guard(v, n, "adam v", k->name);
    free(p); free(g); free(m); free(v); free(p_ref); free(m_ref); free(v_ref);
}

/* Each table on 2 or 3 rows and every column count of tail_sizes (tails of
 * every length for 4, 8 and 16 lanes) against the scalar table: the same
 * values to float rounding, nothing written past the data. The widest
 * take 6 or 7 rows, so that kernels that take several rows at a time
 * (bias_act_rows) also meet the rows left over. */
START_TEST(test_tails_against_scalar)
{
    for (int t = 0; t < n_tables; t++)
        for (int si = 0; si < N_TAIL_SIZES; si++) {
            int C = tail_sizes[si], R = (C > 128 ? 6 : 2) + si % 2;
            tails_layers(tables[t], &vae_kernels_scalar, R, C);
            tails_likelihoods(tables[t], &vae_kernels_scalar, R, C);
            tails_reparam(tables[t], &vae_kernels_scalar, R, C);
            tails_adam(tables[t], &vae_kernels_scalar, (size_t)R * C);
        }
}
END_TEST

/* bias_act_forward on rows stored one after another (ldy == cols), which
 * the SIMD tables take as one run with a repeating bias where the period,
 * lcm(cols, lanes), is short: every activation against the scalar table,
 * for widths whose period is 1 to 8 vectors of 4, 8 or 16 lanes or longer,
 * and row counts that leave rows over after the last period. */
START_TEST(test_bias_act_contiguous_rows)
{
    static const int widths[] = {1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 65, 128};
    static const int row_counts[] = {1, 2, 3, 5, 7, 64, 67};
    for (int t = 0; t < n_tables; t++)
        for (size_t wi = 0; wi < sizeof widths / sizeof widths[0]; wi++)
            for (size_t ri = 0; ri < sizeof row_counts / sizeof row_counts[0]; ri++) {
                int C = widths[wi], R = row_counts[ri];
                size_t n = (size_t)R * C;
                float *a = guarded(n), *b = guarded(n), *bias = guarded((size_t)C);
                fill(bias, (size_t)C, -1, 1);
                for (int act = VAE_KERNEL_ACT_NONE; act <= VAE_KERNEL_ACT_TANH; act++) {
                    fill(a, n, -3, 3);
                    memcpy(b, a, sizeof(float) * n);
                    tables[t]->bias_act_forward(R, C, a, C, bias, act);
                    vae_kernels_scalar.bias_act_forward(R, C, b, C, bias, act);
                    for (size_t i = 0; i < n; i++)
                        CHECK_CLOSE(a[i], b[i], 2e-7, 2e-7, "%s bias_act %d %dx%d contiguous [%zu]: %g vs %g",
                                    tables[t]->name, act, R, C, i, a[i], b[i]);
                    assert_guard(a, n, "bias_act_forward (contiguous rows)", tables[t]->name);
                }
                free(a);
                free(b);
                free(bias);
            }
}
END_TEST

/* The threads split rows between calls: a row's results must be the same
 * bits whether it comes in one call with all rows or alone (with row0 and
 * the pointers moved). */
START_TEST(test_rows_independent_of_split)
{
    enum { R = 7, C = 37, Z = 20 };
    for (int t = 0; t < n_tables; t++) {
        const vae_kernels *k = tables[t];
        float l[R * C], x[R * C], loss_all[R], loss_one[R], dl_all[R * C], dl_one[R * C];
        fill(l, R * C, -10, 10);
        fill(x, R * C, 0, 1);
        k->bernoulli_loss(R, C, l, x, loss_all, dl_all);
        for (int r = 0; r < R; r++) k->bernoulli_loss(1, C, l + r * C, x + r * C, loss_one + r, dl_one + r * C);
        ck_assert(memcmp(loss_all, loss_one, sizeof loss_all) == 0 && memcmp(dl_all, dl_one, sizeof dl_all) == 0);
        k->gaussian_loss(R, C, l, x, 1, loss_all, dl_all);
        for (int r = 0; r < R; r++) k->gaussian_loss(1, C, l + r * C, x + r * C, 1, loss_one + r, dl_one + r * C);
        ck_assert(memcmp(loss_all, loss_one, sizeof loss_all) == 0 && memcmp(dl_all, dl_one, sizeof dl_all) == 0);
        float mulv[R * 2 * Z], eps_all[R * Z], eps_one[R * Z], z_all[R * Z], z_one[R * Z], kl_all[R], kl_one[R];
        fill(mulv, R * 2 * Z, -2, 2);
        k->reparam_kl_forward(R, Z, mulv, 3, VAE_STREAM_NOISE, 9, 40, eps_all, z_all, kl_all);
        for (int r0 = 0; r0 < R; r0 += 3) { /* rows 0-2, 3-5, 6 */
            int rows = R - r0 < 3 ? R - r0 : 3;
            k->reparam_kl_forward(rows, Z, mulv + r0 * 2 * Z, 3, VAE_STREAM_NOISE, 9, 40 + (uint32_t)r0,
                                  eps_one + r0 * Z, z_one + r0 * Z, kl_one + r0);
        }
        ck_assert_msg(memcmp(eps_all, eps_one, sizeof eps_all) == 0 && memcmp(z_all, z_one, sizeof z_all) == 0 &&
                      memcmp(kl_all, kl_one, sizeof kl_all) == 0, "%s reparam depends on the row split", k->name);
    }
}
END_TEST

/* Logits far out (|l| to 1e30): softplus(l) - x l stays finite and right,
 * the gradient finite, with no overflow in exp. */
START_TEST(test_bernoulli_extreme_logits)
{
    static const float big[] = {100.0f, -100.0f, 250.0f, -250.0f, 1e4f,  -1e4f,
                                1e30f,  -1e30f,  88.5f,  -88.5f,  87.4f, -87.4f};
    enum { C = sizeof big / sizeof big[0] };
    for (int t = 0; t < n_tables; t++)
        for (int xi = 0; xi < 3; xi++) {
            float x[C], loss, dl[C];
            for (int j = 0; j < C; j++) x[j] = xi == 0 ? 0.0f : xi == 1 ? 1.0f : 0.3f;
            tables[t]->bernoulli_loss(1, C, big, x, &loss, dl);
            double want = 0;
            for (int j = 0; j < C; j++) {
                double lj = big[j];
                want += fmax(lj, 0) + log1p(exp(-fabs(lj))) - x[j] * lj;
                double sig = lj >= 0 ? 1 / (1 + exp(-lj)) : exp(lj) / (1 + exp(lj));
                ck_assert_msg(isfinite(dl[j]) && close_to(dl[j], sig - x[j], 1e-6, 1e-7), "%s dl(%g) = %g",
                              tables[t]->name, lj, dl[j]);
            }
            ck_assert_msg(isfinite(loss) && close_to(loss, want, 1e-6, 1e-6), "%s loss %g vs %g", tables[t]->name, loss,
                          want);
        }
}
END_TEST

/* ------------------------------------------------ vector math, in ulp */

/* The hooks into the vector math of a table (NULL for scalar). */
static const vae_vmath_hooks *hooks_of(const vae_kernels *k)
{
    static const vae_vmath_hooks *const all[] = {
#if defined(__x86_64__) || defined(_M_X64)
        &vae_vmath_avx2, &vae_vmath_avx512,
#endif
#if defined(__aarch64__)
        &vae_vmath_neon,
#endif
        NULL};
    for (int i = 0; all[i]; i++)
        if (strcmp(all[i]->name, k->name) == 0) return all[i];
    return NULL;
}

/* |got - want| in units of the last place of want as a float (subnormal
 * spacing at the bottom); exact zeros, infinities and NaN must match. */
static double ulp_error(float got, double want)
{
    if (isnan(want) || isinf(want) || want == 0)
        return (isnan(want) && isnan(got)) || (double)got == want ? 0 : INFINITY;
    int e;
    frexp(want, &e); /* |want| in [2^(e-1), 2^e) */
    return fabs((double)got - want) / ldexp(1.0, e - 24 < -149 ? -149 : e - 24);
}

/* Applies f (a hook) to n inputs in chunks and returns the largest error
 * against ref, with the input where it happened. */
typedef struct ulp_result {
    double max_ulp;
    float at;
} ulp_result;

static void ulp_check(void (*f)(size_t, const float *, float *), double (*ref)(double), const float *x, size_t n,
                      ulp_result *res)
{
    enum { CHUNK = 4096 };
    float y[CHUNK];
    for (size_t i = 0; i < n; i += CHUNK) {
        size_t m = n - i < CHUNK ? n - i : CHUNK;
        f(m, x + i, y);
        for (size_t j = 0; j < m; j++) {
            double u = ulp_error(y[j], ref(x[i + j]));
            if (u > res->max_ulp) {
                res->max_ulp = u;
                res->at = x[i + j];
            }
        }
    }
}

/* Each SIMD table's v_exp, v_log, v_tanh, v_exp_nonpositive or
 * v_log1p_unit (which = 0 to 4) against ref over x[0..n): at most bound
 * ulp. */
static void check_ulp_all_tables(int which, double (*ref)(double), const float *x, size_t n, double bound)
{
    static const char *const names[] = {"exp", "log", "tanh", "exp (x <= 0)", "log1p (x in [0, 1])"};
    for (int t = 0; t < n_tables; t++) {
        const vae_vmath_hooks *h = hooks_of(tables[t]);
        if (!h) continue;
        ulp_result res = {0, 0};
        void (*const fns[])(size_t, const float *, float *) = {h->exp, h->log, h->tanh, h->exp_nonpositive,
                                                               h->log1p_unit};
        void (*f)(size_t, const float *, float *) = fns[which];
        ulp_check(f, ref, x, n, &res);
        fprintf(stderr, "# %s %s: max %.3f ulp at %a over %zu points\n", h->name, names[which], res.max_ulp, res.at,
                n);
        ck_assert_msg(res.max_ulp <= bound, "%s %s: %.3f ulp at %a", h->name, names[which], res.max_ulp, res.at);
    }
}

/* Spread points: for each binade [2^e, 2^(e+1)) with e in [e0, e1], per
 * points mantissas (evenly spaced, a random offset each), both signs if
 * asked; then kept only inside [lo, hi]. Returns the count. */
static size_t binade_points(float *out, int e0, int e1, int per, int both_signs, float lo, float hi)
{
    size_t n = 0;
    for (int e = e0; e <= e1; e++)
        for (int i = 0; i < per; i++) {
            uint32_t step = (1u << 23) / (uint32_t)per;
            uint32_t mant = (uint32_t)i * step + (uint32_t)rand_uniform(0, step);
            float v = ldexpf(1.0f + (float)mant * 0x1p-23f, e);
            for (int s = 0; s <= both_signs; s++) {
                float w = s ? -v : v;
                if (w >= lo && w <= hi) out[n++] = w;
            }
        }
    return n;
}

/* The maximum errors vmath.h states, with a little room (measured: exp
 * 1.013, log 0.882, log1p on [0, 1] 1.427, sin and cos 0.859, tanh
 * 1.497). */
#define EXP_MAX_ULP 1.1
#define LOG_MAX_ULP 1.0
#define LOG1P_UNIT_MAX_ULP 1.5
#define SINCOS_MAX_ULP 1.0
#define TANH_MAX_ULP 2.0

START_TEST(test_vexp_ulp)
{
    /* exp over [VM_EXP_LO, VM_EXP_HI]: 2^18 points in each binade from
     * 2^-26 to 2^6 on both signs (1.7e7 points), plus the ends. */
    const float lo = -0x1.5d589ep+6f, hi = 0x1.61814cp+6f;
    float *x = malloc(sizeof(float) * 18000000);
    size_t n = binade_points(x, -26, 6, 1 << 18, 1, lo, hi);
    x[n++] = lo; x[n++] = hi; x[n++] = 0.0f; x[n++] = -0.0f; x[n++] = 1e-30f;
    ck_assert(n > 10000000);
    check_ulp_all_tables(0, exp, x, n, EXP_MAX_ULP);
    /* v_exp_nonpositive on the points <= 0 */
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (x[i] <= 0.0f) x[m++] = x[i];
    check_ulp_all_tables(3, exp, x, m, EXP_MAX_ULP);
    free(x);
}
END_TEST

START_TEST(test_vexp_saturates)
{
    static const float in[] = {88.3763f, 88.5f, 88.72283f, 88.8f, 100.0f, 1e30f, FLT_MAX, INFINITY,
                               -87.34f, -88.0f, -103.9f, -104.0f, -1e30f, -FLT_MAX, -INFINITY, NAN};
    enum { N = sizeof in / sizeof in[0] };
    for (int t = 0; t < n_tables; t++) {
        const vae_vmath_hooks *h = hooks_of(tables[t]);
        if (!h) continue;
        float out[N], out_np[N];
        h->exp(N, in, out);
        h->exp_nonpositive(N, in, out_np);
        for (int i = 0; i < N; i++) {
            if (isnan(in[i])) ck_assert_msg(isnan(out[i]) && isnan(out_np[i]), "%s exp(NaN)", h->name);
            else if (in[i] > 0) ck_assert_msg(out[i] == INFINITY, "%s exp(%g) = %g, want +inf", h->name, in[i], out[i]);
            else ck_assert_msg(out[i] == 0.0f && out_np[i] == 0.0f, "%s exp(%g) = %g, want 0", h->name, in[i], out[i]);
        }
        /* tanh saturates to +-1, log of huge and tiny stays finite */
        float tin[4] = {30.0f, -30.0f, 1e30f, -INFINITY}, tout[4];
        h->tanh(4, tin, tout);
        ck_assert(tout[0] == 1.0f && tout[1] == -1.0f && tout[2] == 1.0f && tout[3] == -1.0f);
        float lin[2] = {FLT_MAX, FLT_MIN}, lout[2];
        h->log(2, lin, lout);
        ck_assert(close_to(lout[0], log(FLT_MAX), 1e-6, 0) && close_to(lout[1], log(FLT_MIN), 1e-6, 0));
    }
}
END_TEST

START_TEST(test_vlog_ulp)
{
    /* log over what the kernels feed it: every float in [1, 2] (softplus's
     * 1 + e) and every Box-Muller uniform (k + 1/2) 2^-23 (1.7e7 points),
     * then 2^15 points in each binade of the positive normal floats. */
    size_t cap = (2u << 23) + 2 + 254u * 32768;
    float *x = malloc(sizeof(float) * cap);
    size_t n = 0;
    for (uint32_t b = 0x3f800000u; b <= 0x40000000u; b++) memcpy(&x[n++], &b, sizeof b);
    for (uint32_t k = 0; k < 1u << 23; k++) x[n++] = ((float)k + 0.5f) * 0x1p-23f;
    n += binade_points(x + n, -126, 127, 32768, 0, FLT_MIN, FLT_MAX);
    check_ulp_all_tables(1, log, x, n, LOG_MAX_ULP);
    free(x);
}
END_TEST

START_TEST(test_vlog1p_unit_ulp)
{
    /* log1p over what the Bernoulli likelihood feeds it, e = exp(-|l|) in
     * [0, 1]: every float in [1/2, 1] (8.4e6), 2^17 points in each binade
     * from 2^-40 up (5.1e6), and 0. */
    size_t cap = (1u << 23) + 2 + 40u * 131072;
    float *x = malloc(sizeof(float) * cap);
    size_t n = 0;
    for (uint32_t b = 0x3f000000u; b <= 0x3f800000u; b++) memcpy(&x[n++], &b, sizeof b);
    n += binade_points(x + n, -40, -2, 131072, 0, 0.0f, 1.0f);
    x[n++] = 0.0f;
    check_ulp_all_tables(4, log1p, x, n, LOG1P_UNIT_MAX_ULP);
    free(x);
}
END_TEST

/* sin and cos of 2 pi u in double, with the exact reduction t = 4u - q
 * (exact in double) so that the zeros are exact. */
static void sincos2pi_ref(float u, double *s, double *c)
{
    double q = nearbyint(4.0 * u), t = 4.0 * u - q, a = 1.57079632679489661923 * t;
    double sa = sin(a), ca = cos(a);
    switch ((long)q & 3) {
    case 0: *s = sa; *c = ca; break;
    case 1: *s = ca; *c = -sa; break;
    case 2: *s = -sa; *c = -ca; break;
    default: *s = -ca; *c = sa; break;
    }
}

START_TEST(test_vsincos2pi_ulp)
{
    /* Every Box-Muller uniform (k + 1/2) 2^-23 (8.4e6), then 2^17 points in
     * each binade of (0, 1) from 2^-30 up (3.9e6), then [1, 16). */
    size_t cap = (1u << 23) + 34u * 131072;
    float *u = malloc(sizeof(float) * cap);
    size_t n = 0;
    for (uint32_t k = 0; k < 1u << 23; k++) u[n++] = ((float)k + 0.5f) * 0x1p-23f;
    n += binade_points(u + n, -30, 3, 131072, 0, 0.0f, 16.0f);
    float *s = malloc(sizeof(float) * n), *c = malloc(sizeof(float) * n);
    for (int t = 0; t < n_tables; t++) {
        const vae_vmath_hooks *h = hooks_of(tables[t]);
        if (!h) continue;
        h->sincos2pi(n, u, s, c);
        double max_s = 0, max_c = 0;
        float at_s = 0, at_c = 0;
        for (size_t i = 0; i < n; i++) {
            double rs, rc;
            sincos2pi_ref(u[i], &rs, &rc);
            double es = ulp_error(s[i], rs), ec = ulp_error(c[i], rc);
            if (es > max_s) max_s = es, at_s = u[i];
            if (ec > max_c) max_c = ec, at_c = u[i];
        }
        fprintf(stderr, "# %s sin(2 pi u): max %.3f ulp at %a, cos: %.3f ulp at %a, over %zu points\n", h->name, max_s,
                at_s, max_c, at_c, n);
        ck_assert_msg(max_s <= SINCOS_MAX_ULP && max_c <= SINCOS_MAX_ULP, "%s sincos2pi: %.3f / %.3f ulp", h->name,
                      max_s, max_c);
    }
    free(u); free(s); free(c);
}
END_TEST

START_TEST(test_vtanh_ulp)
{
    /* 2^16 points in each binade from 2^-20 to 2^4, both signs (3.3e6). */
    float *x = malloc(sizeof(float) * 3400000);
    size_t n = binade_points(x, -20, 4, 1 << 16, 1, -32.0f, 32.0f);
    check_ulp_all_tables(2, tanh, x, n, TANH_MAX_ULP);
    free(x);
}
END_TEST

/* The vector Philox against vae_philox4x32_10, bit for bit: 2e5 random
 * counters, a new random key every 1000, and counts that leave partial
 * vectors; plus the Random123 known-answer counters. */
START_TEST(test_philox_bit_exact)
{
    enum { N = 1000, KEYS = 200 };
    uint32_t ctr[4 * N], out[4 * N], want[4];
    for (int t = 0; t < n_tables; t++) {
        const vae_vmath_hooks *h = hooks_of(tables[t]);
        if (!h) continue;
        for (int kk = 0; kk < KEYS; kk++) {
            uint32_t key[2] = {(uint32_t)(rand_uniform(0, 4294967296.0)), (uint32_t)(rand_uniform(0, 4294967296.0))};
            if (kk == 0) key[0] = key[1] = 0;
            if (kk == 1) key[0] = key[1] = 0xffffffffu;
            for (int i = 0; i < 4 * N; i++) ctr[i] = (uint32_t)rand_uniform(0, 4294967296.0);
            if (kk < 2)
                for (int i = 0; i < 4; i++) ctr[i] = key[0];
            size_t n = N - (size_t)(kk % 17); /* partial last vectors */
            h->philox(n, ctr, key, out);
            for (size_t i = 0; i < n; i++) {
                vae_philox4x32_10(ctr + 4 * i, key, want);
                ck_assert_msg(memcmp(out + 4 * i, want, sizeof want) == 0, "%s philox key %08x%08x counter %zu",
                              h->name, key[1], key[0], i);
            }
        }
    }
}
END_TEST

/* The normals of reparam_kl_forward against vae_normal4 for many (seed,
 * stream, step, row0, rows, latent), 64-bit steps included: within 2e-6
 * (v_box_muller's stated difference), 1.3e6 normals per table. */
START_TEST(test_normals_match_scalar)
{
    static const int latents[] = {1, 3, 4, 5, 8, 12, 16, 17, 20, 33, 64, 100};
    for (int t = 0; t < n_tables; t++) {
        double max_diff = 0;
        size_t count = 0;
        for (int c = 0; c < 300; c++) {
            int Z = latents[c % 12], R = 1 + (int)rand_uniform(0, 80);
            uint64_t seed = (uint64_t)rand_uniform(0, 4294967296.0) << 32 | (uint64_t)rand_uniform(0, 4294967296.0);
            uint64_t step = c % 3 == 0 ? (uint64_t)c : (uint64_t)rand_uniform(0, 72057594037927936.0);
            uint32_t stream = 1 + (uint32_t)(c % 5), row0 = (uint32_t)rand_uniform(0, 4294967296.0);
            float *mulv = calloc((size_t)R * 2 * Z, sizeof(float)), *eps = malloc(sizeof(float) * (size_t)R * Z);
            float *z = malloc(sizeof(float) * (size_t)R * Z), *kl = malloc(sizeof(float) * (size_t)R);
            tables[t]->reparam_kl_forward(R, Z, mulv, seed, stream, step, row0, eps, z, kl);
            for (int r = 0; r < R; r++)
                for (int j = 0; j < Z; j += 4) {
                    float want[4];
                    vae_normal4(seed, stream, step, row0 + (uint32_t)r, (uint32_t)(j / 4), want);
                    for (int w = 0; w < 4 && j + w < Z; w++) {
                        double d = fabs((double)eps[r * Z + j + w] - want[w]);
                        ck_assert_msg(d <= 3e-6, "%s normal (seed %llx step %llx row %u col %d): %.9g vs %.9g",
                                      tables[t]->name, (unsigned long long)seed, (unsigned long long)step,
                                      row0 + (uint32_t)r, j + w, eps[r * Z + j + w], want[w]);
                        if (d > max_diff) max_diff = d;
                        count++;
                    }
                }
            free(mulv); free(eps); free(z); free(kl);
        }
        fprintf(stderr, "# %s normals: max |diff| from vae_normal4 %.3g over %zu\n", tables[t]->name, max_diff, count);
    }
}
END_TEST

Suite *vae_kernels_suite(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("fused");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, test_bias_act_forward);
    tcase_add_test(tc, test_act_backward_and_bias_grad);
    tcase_add_test(tc, test_reparam_kl_forward);
    tcase_add_test(tc, test_reparam_kl_backward);
    tcase_add_test(tc, test_bernoulli_loss);
    tcase_add_test(tc, test_gaussian_loss);
    tcase_add_test(tc, test_adam_by_hand);
    tcase_add_test(tc, test_bytes_to_unit_exact);
    tcase_add_test(tc, test_tails_against_scalar);
    tcase_add_test(tc, test_bias_act_contiguous_rows);
    tcase_add_test(tc, test_rows_independent_of_split);
    tcase_add_test(tc, test_bernoulli_extreme_logits);
    suite_add_tcase(s, tc);
    /* The vector math of each SIMD table, over 10^7 points and more. */
    TCase *vm = tcase_create("vmath");
    tcase_add_checked_fixture(vm, setup, NULL);
    tcase_set_timeout(vm, 120);
    tcase_add_test(vm, test_vexp_ulp);
    tcase_add_test(vm, test_vexp_saturates);
    tcase_add_test(vm, test_vlog_ulp);
    tcase_add_test(vm, test_vlog1p_unit_ulp);
    tcase_add_test(vm, test_vsincos2pi_ulp);
    tcase_add_test(vm, test_vtanh_ulp);
    tcase_add_test(vm, test_philox_bit_exact);
    tcase_add_test(vm, test_normals_match_scalar);
    suite_add_tcase(s, vm);
    return s;
}

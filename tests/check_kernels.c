/* check_kernels.c - every kernel of every table this CPU can run, against
 * direct formulas evaluated in double precision (and finite differences for
 * the gradients). Loops over vae_kernels_available(), so a new SIMD table is
 * tested by the same cases as the scalar one. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "vae.h"

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
    suite_add_tcase(s, tc);
    return s;
}

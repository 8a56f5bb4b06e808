/* check_model.c - the whole model: gradients of every layer against central
 * finite differences of an independent double-precision forward pass, model
 * files (round trip, corruption, truncation), and training that learns. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels.h"
#include "model.h"

#ifndef VAE_TEST_DATA_DIR
#define VAE_TEST_DATA_DIR "tests/data"
#endif

/* ------------------------------------------- double-precision reference */

static double act_ref(double v, int act)
{
    if (act == 1) return v > 0 ? v : 0;
    if (act == 2) return tanh(v);
    return v;
}

/* y[out] = act(W x + b) for one row, W and b read from the float parameters
 * p (possibly perturbed through the double copy pd). */
static void linear_ref(const vae_linear *L, const double *pd, const double *x, double *y)
{
    for (int o = 0; o < L->out; o++) {
        double s = pd[L->b + o];
        for (int i = 0; i < L->in; i++) s += pd[L->w + (size_t)o * L->in + i] * x[i];
        y[o] = act_ref(s, L->act);
    }
}

/* The batch's summed loss for parameters pd, with the noise of (stream, step)
 * exactly as the engine draws it. */
static double loss_ref(const vae_model *m, const double *pd, const float *x, int B, uint32_t stream,
                       uint64_t step)
{
    double total = 0;
    int D = m->input_dim, Z = m->latent;
    double a[256], b[256];
    for (int r = 0; r < B; r++) {
        for (int i = 0; i < D; i++) a[i] = x[r * D + i];
        for (int l = 0; l < m->n_layers; l++) {
            linear_ref(&m->enc[l], pd, a, b);
            memcpy(a, b, sizeof(double) * (size_t)m->enc[l].out);
        }
        double z[64], kl = 0;
        for (int j = 0; j < Z; j++) {
            double mu = a[j], lv = a[Z + j];
            double eps = vae_normal(m->seed, stream, step, (uint32_t)r, (uint32_t)j);
            z[j] = mu + exp(0.5 * lv) * eps;
            kl += -0.5 * (1 + lv - mu * mu - exp(lv));
        }
        memcpy(a, z, sizeof(double) * (size_t)Z);
        for (int l = 0; l < m->n_layers; l++) {
            linear_ref(&m->dec[l], pd, a, b);
            memcpy(a, b, sizeof(double) * (size_t)m->dec[l].out);
        }
        double rec = 0;
        for (int i = 0; i < D; i++) {
            double l = a[i], xi = x[r * D + i];
            if (m->cfg.likelihood == VAE_LIK_BERNOULLI) {
                rec += log1p(exp(l)) - xi * l;
            } else {
                double mean = m->cfg.gaussian_mean == VAE_MEAN_SIGMOID ? 1 / (1 + exp(-l)) : l;
                rec += 0.5 * (mean - xi) * (mean - xi);
            }
        }
        total += rec + m->cfg.beta * kl;
    }
    return total;
}

static void check_gradients(vae_likelihood lik, vae_gaussian_mean mean, vae_activation act, int n_hidden)
{
    vae_config cfg;
    vae_config_default(&cfg);
    cfg.image_rows = 3;
    cfg.image_cols = 4;
    cfg.n_hidden = n_hidden;
    cfg.hidden[0] = 9;
    cfg.hidden[1] = 6;
    cfg.latent = 5;
    cfg.activation = act;
    cfg.likelihood = lik;
    cfg.gaussian_mean = mean;
    cfg.beta = 0.7f;
    vae_model *m;
    ck_assert_int_eq(vae_model_create(&cfg, 11, &m), VAE_OK);
    const int B = 4, D = 12;
    float x[4 * 12];
    for (int i = 0; i < B * D; i++) x[i] = (float)((i * 37 % 101) / 100.0);
    vae_batch_stats st;
    ck_assert_int_eq(vae_model_gradients(m, x, B, VAE_STREAM_NOISE, 3, &st), VAE_OK);

    double *pd = malloc(sizeof(double) * m->n_floats);
    for (size_t i = 0; i < m->n_floats; i++) pd[i] = m->params[i];
    double l0 = loss_ref(m, pd, x, B, VAE_STREAM_NOISE, 3);
    ck_assert_msg(fabs(l0 - st.loss) <= 1e-4 * fabs(l0) + 1e-3, "loss %g vs reference %g", st.loss, l0);
    /* Every parameter of every layer, encoder and decoder (and the gaps
     * between the tensors, whose gradient must be 0). */
    int bad = 0;
    for (size_t i = 0; i < m->n_floats; i++) {
        double h = 1e-5, keep = pd[i];
        pd[i] = keep + h;
        double lp = loss_ref(m, pd, x, B, VAE_STREAM_NOISE, 3);
        pd[i] = keep - h;
        double lm = loss_ref(m, pd, x, B, VAE_STREAM_NOISE, 3);
        pd[i] = keep;
        double fd = (lp - lm) / (2 * h), g = m->grads[i];
        if (fabs(g - fd) > 2e-3 * fabs(fd) + 2e-4) {
            if (bad++ < 5) fprintf(stderr, "param %zu: gradient %g, finite difference %g\n", i, g, fd);
        }
    }
    ck_assert_msg(bad == 0, "%d of %zu gradients disagree (likelihood %d, act %d)", bad, m->n_params, lik, act);
    free(pd);
    vae_model_free(m);
}

START_TEST(test_gradients_bernoulli_relu) { check_gradients(VAE_LIK_BERNOULLI, VAE_MEAN_SIGMOID, VAE_ACT_RELU, 1); }
END_TEST
START_TEST(test_gradients_bernoulli_tanh_deep) { check_gradients(VAE_LIK_BERNOULLI, VAE_MEAN_SIGMOID, VAE_ACT_TANH, 2); }
END_TEST
START_TEST(test_gradients_gaussian_sigmoid) { check_gradients(VAE_LIK_GAUSSIAN, VAE_MEAN_SIGMOID, VAE_ACT_RELU, 2); }
END_TEST
START_TEST(test_gradients_gaussian_linear_no_hidden) { check_gradients(VAE_LIK_GAUSSIAN, VAE_MEAN_LINEAR, VAE_ACT_TANH, 0); }
END_TEST

START_TEST(test_init_matches_pytorch_bounds)
{
    /* nn.Linear: weights and biases uniform in +-1/sqrt(fan_in). */
    vae_config cfg;
    vae_config_default(&cfg);
    vae_model *m;
    ck_assert_int_eq(vae_model_create(&cfg, 1, &m), VAE_OK);
    ck_assert_uint_eq(m->n_params, (784 * 400 + 400) + (400 * 40 + 40) + (20 * 400 + 400) + (400 * 784 + 784));
    /* Every tensor starts on a 64-byte line, after the previous one; they
     * hold the n_params values, the arrays n_floats. */
    size_t offset, count, end = 0, total = 0;
    int tensors = 0;
    for (; vae_model_tensor(m, tensors, &offset, &count); tensors++) {
        ck_assert_msg(offset % 16 == 0 && offset >= end, "tensor %d at %zu (previous ended at %zu)", tensors,
                      offset, end);
        end = offset + count;
        total += count;
    }
    ck_assert_int_eq(tensors, 8);
    ck_assert_uint_eq(total, m->n_params);
    ck_assert(end <= m->n_floats && m->n_floats % 16 == 0);
    const vae_linear *L = &m->enc[0];
    double bound = 1 / sqrt(784.0), sum = 0, sum2 = 0, maxabs = 0;
    size_t n = (size_t)L->in * L->out;
    for (size_t i = 0; i < n; i++) {
        double w = m->params[L->w + i];
        sum += w;
        sum2 += w * w;
        if (fabs(w) > maxabs) maxabs = fabs(w);
    }
    ck_assert(maxabs <= bound);
    ck_assert(maxabs > 0.99 * bound);
    ck_assert(fabs(sum / n) < 0.01 * bound);
    ck_assert(fabs(sum2 / n - bound * bound / 3) < 0.01 * bound * bound); /* variance of U(-b, b) */
    vae_model_free(m);
}
END_TEST

/* ------------------------------------------------------------ model files */

static vae_model *small_trained_model(void)
{
    vae_config cfg;
    vae_config_default(&cfg);
    cfg.image_rows = 4;
    cfg.image_cols = 5;
    cfg.hidden[0] = 7;
    cfg.latent = 3;
    vae_model *m;
    ck_assert_int_eq(vae_model_create(&cfg, 5, &m), VAE_OK);
    float x[8 * 20];
    for (int i = 0; i < 160; i++) x[i] = (float)((i * 13 % 17) / 16.0);
    for (int s = 0; s < 3; s++) ck_assert_int_eq(vae_train_step(m, x, 8, 1e-2f, NULL), VAE_OK);
    return m;
}

static void temp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "/tmp/vae-test-%ld-%s", (long)getpid(), name);
}

START_TEST(test_model_round_trip)
{
    vae_model *m = small_trained_model();
    char path[256];
    temp_path(path, sizeof path, "round.model");
    ck_assert_int_eq(vae_model_save(m, path), VAE_OK);
    vae_model *r;
    ck_assert_msg(vae_model_load(path, &r) == VAE_OK, "%s", vae_last_error());
    ck_assert_int_eq(memcmp(&r->cfg, &m->cfg, sizeof m->cfg), 0);
    ck_assert_uint_eq(r->n_params, m->n_params);
    ck_assert_uint_eq(r->n_floats, m->n_floats);
    ck_assert_int_eq(memcmp(r->params, m->params, sizeof(float) * m->n_floats), 0);
    ck_assert_int_eq(memcmp(r->adam_m, m->adam_m, sizeof(float) * m->n_floats), 0);
    ck_assert_int_eq(memcmp(r->adam_v, m->adam_v, sizeof(float) * m->n_floats), 0);
    ck_assert_uint_eq(r->step, 3);
    ck_assert_uint_eq(r->seed, 5);
    /* The file is exactly header + 3 arrays + CRC. */
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    ck_assert_int_eq(ftell(f), 112 + 12 * (long)m->n_params + 4);
    fclose(f);
    /* No temporary file is left beside it. */
    char tmp_glob[300];
    snprintf(tmp_glob, sizeof tmp_glob, "ls %s.tmp.* >/dev/null 2>&1", path);
    ck_assert_int_ne(system(tmp_glob), 0);
    remove(path);
    vae_model_free(m);
    vae_model_free(r);
}
END_TEST

static void write_bytes(const char *path, const uint8_t *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

static uint8_t *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *d = malloc(*n);
    ck_assert_uint_eq(fread(d, 1, *n, f), *n);
    fclose(f);
    return d;
}

START_TEST(test_model_damage_refused)
{
    vae_model *m = small_trained_model(), *r = NULL;
    char path[256], bad[256];
    temp_path(path, sizeof path, "good.model");
    temp_path(bad, sizeof bad, "bad.model");
    ck_assert_int_eq(vae_model_save(m, path), VAE_OK);
    size_t n;
    uint8_t *d = read_bytes(path, &n);

    /* One flipped bit anywhere (header, parameters, trailer) is refused. */
    size_t offsets[] = {20, 100, 200, n / 2, n - 1};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        d[offsets[i]] ^= 0x10;
        write_bytes(bad, d, n);
        ck_assert_int_eq(vae_model_load(bad, &r), VAE_ERR_FORMAT);
        ck_assert_ptr_null(r);
        ck_assert_msg(strstr(vae_last_error(), bad) && strstr(vae_last_error(), "corrupted"), "%s",
                      vae_last_error());
        d[offsets[i]] ^= 0x10;
    }
    /* Truncated at several lengths. */
    size_t lengths[] = {0, 5, 60, 116, n / 2, n - 1};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        write_bytes(bad, d, lengths[i]);
        ck_assert_int_eq(vae_model_load(bad, &r), VAE_ERR_FORMAT);
        ck_assert_msg(strstr(vae_last_error(), bad) != NULL, "%s", vae_last_error());
    }
    write_bytes(bad, d, 116);
    vae_model_load(bad, &r);
    ck_assert_msg(strstr(vae_last_error(), "truncated"), "%s", vae_last_error());
    /* Not a model at all. */
    d[0] = 'X';
    write_bytes(bad, d, n);
    ck_assert_int_eq(vae_model_load(bad, &r), VAE_ERR_FORMAT);
    ck_assert_msg(strstr(vae_last_error(), "not a vae model"), "%s", vae_last_error());
    /* Missing file. */
    remove(bad);
    ck_assert_int_eq(vae_model_load(bad, &r), VAE_ERR_IO);
    ck_assert_msg(strstr(vae_last_error(), bad) != NULL, "%s", vae_last_error());

    free(d);
    remove(path);
    vae_model_free(m);
}
END_TEST

START_TEST(test_save_failure_keeps_old_model)
{
    /* A save into a folder that does not exist fails cleanly and names it. */
    vae_model *m = small_trained_model();
    ck_assert_int_eq(vae_model_save(m, "/nonexistent-dir/x.model"), VAE_ERR_IO);
    ck_assert(strstr(vae_last_error(), "/nonexistent-dir/x.model") != NULL);
    vae_model_free(m);
}
END_TEST

/* ------------------------------------------------------- training learns */

static double test_loss(vae_model *m, const vae_images *test, int n)
{
    int D = m->input_dim;
    float *x = malloc(sizeof(float) * (size_t)n * D);
    vae_images_to_float(test->pixels, (size_t)n * D, x);
    double total = 0;
    for (int s = 0; s < n; s += 100) {
        vae_batch_stats st;
        ck_assert_int_eq(vae_eval_batch(m, x + (size_t)s * D, n - s < 100 ? n - s : 100, VAE_STREAM_EVAL, 0,
                                        (uint32_t)s, &st), VAE_OK);
        total += st.loss;
    }
    free(x);
    return total / n;
}

typedef struct {
    double test_loss[8];
    int epochs;
} epoch_log;

static int log_epoch(const vae_epoch_report *r, void *user)
{
    epoch_log *log = user;
    log->test_loss[log->epochs++] = r->test_loss;
    return 0;
}

START_TEST(test_two_epochs_lower_test_loss)
{
    vae_dataset ds;
    ck_assert_msg(vae_dataset_load_mnist_dir("data", &ds) == VAE_OK, "%s", vae_last_error());
    ck_assert_int_eq(ds.split_from_test, 1);
    ck_assert_int_eq(ds.train.count, 9000);
    ck_assert_int_eq(ds.test.count, 1000);
    vae_config cfg;
    vae_config_default(&cfg);
    vae_model *m;
    ck_assert_int_eq(vae_model_create(&cfg, 1, &m), VAE_OK);
    double before = test_loss(m, &ds.test, 1000);
    vae_train_options opt;
    vae_train_options_default(&opt);
    opt.epochs = 2;
    epoch_log log = {{0}, 0};
    ck_assert_int_eq(vae_train(m, &ds.train, &ds.test, &opt, log_epoch, &log), VAE_OK);
    ck_assert_int_eq(log.epochs, 2);
    ck_assert_int_eq(vae_model_epoch(m), 2);
    ck_assert_uint_eq(vae_model_step(m), 2 * ((9000 + 127) / 128));
    /* An untrained model scores ~545 nats (784 * log 2); two epochs on 9,000
     * Fashion-MNIST images reach well under 320. */
    fprintf(stderr, "test loss: before %.2f, epoch 1 %.2f, epoch 2 %.2f\n", before, log.test_loss[0],
            log.test_loss[1]);
    ck_assert_msg(before > 500, "untrained loss %g", before);
    ck_assert_msg(log.test_loss[1] < 320, "loss after 2 epochs %g", log.test_loss[1]);
    ck_assert(log.test_loss[1] < log.test_loss[0]);
    vae_model_free(m);
    vae_dataset_free(&ds);
}
END_TEST

/* ------------------------------------------------ threads and resuming */

/* Trains a fresh default-shaped model on the first 1,500 images of data/
 * for `epochs` epochs with `threads` threads; returns it. */
static vae_model *train_small(const vae_dataset *ds, int threads, int epochs, epoch_log *log)
{
    ck_assert_int_eq(vae_set_threads(threads), VAE_OK);
    ck_assert_int_eq(vae_get_threads(), threads);
    vae_config cfg;
    vae_config_default(&cfg);
    cfg.hidden[0] = 64;
    cfg.latent = 8;
    vae_model *m;
    ck_assert_int_eq(vae_model_create(&cfg, 3, &m), VAE_OK);
    vae_images train = ds->train, test = ds->test;
    train.count = 1500;
    test.count = 300;
    vae_train_options opt;
    vae_train_options_default(&opt);
    opt.epochs = epochs;
    opt.batch = 100;
    ck_assert_int_eq(vae_train(m, &train, &test, &opt, log_epoch, log), VAE_OK);
    return m;
}

START_TEST(test_same_bits_for_any_thread_count)
{
    vae_dataset ds;
    ck_assert_int_eq(vae_dataset_load_mnist_dir("data", &ds), VAE_OK);
    epoch_log ref_log = {{0}, 0};
    vae_model *ref = train_small(&ds, 1, 2, &ref_log);
    static const int counts[] = {2, 3, 8};
    for (int c = 0; c < 3; c++) {
        epoch_log log = {{0}, 0};
        vae_model *m = train_small(&ds, counts[c], 2, &log);
        ck_assert_msg(memcmp(m->params, ref->params, sizeof(float) * m->n_floats) == 0,
                      "parameters differ with %d threads", counts[c]);
        ck_assert(memcmp(m->adam_v, ref->adam_v, sizeof(float) * m->n_floats) == 0);
        for (int e = 0; e < 2; e++)
            ck_assert_msg(log.test_loss[e] == ref_log.test_loss[e], "epoch %d test loss %.17g vs %.17g", e + 1,
                          log.test_loss[e], ref_log.test_loss[e]);
        vae_model_free(m);
    }
    vae_model_free(ref);
    vae_dataset_free(&ds);
    vae_set_threads(0);
}
END_TEST

/* The middle of the network (the encoder's last layer, the
 * reparameterization and the decoder's first layer) runs as one job over
 * shares of the batch's rows once it is large enough, which the models
 * above are not. Two training steps and an evaluation batch of models
 * where it is (one hidden layer, two, none; batch 96) must give the same
 * bits on 1, 2 and 3 threads. The test checks that each is above the
 * threshold, so that it keeps covering the split. */
START_TEST(test_middle_rows_same_bits)
{
    static const int shapes[][4] = {
        /* n_hidden, hidden[0], hidden[1], latent */
        {1, 256, 0, 16}, {2, 256, 128, 16}, {0, 0, 0, 6},
    };
    const int B = 96, D = 784;
    float *x = malloc(sizeof(float) * B * D);
    for (int i = 0; i < B * D; i++) x[i] = (float)((i * 7919) % 1009) / 1008.0f;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        vae_config cfg;
        vae_config_default(&cfg);
        cfg.n_hidden = shapes[s][0];
        cfg.hidden[0] = shapes[s][1];
        cfg.hidden[1] = shapes[s][2];
        cfg.latent = shapes[s][3];
        if (s == 2) cfg.likelihood = VAE_LIK_GAUSSIAN;
        int last = cfg.n_hidden > 0 ? cfg.hidden[cfg.n_hidden - 1] : D;
        double middle_flops = 2.0 * B * ((double)last * 2 * cfg.latent + (double)cfg.latent * last);
        ck_assert_msg(middle_flops >= VAE_MIDDLE_MIN_FLOPS, "shape %d: the middle is not split", (int)s);
        float *ref = NULL;
        double ref_loss[3] = {0};
        static const int counts[] = {1, 2, 3};
        for (int c = 0; c < 3; c++) {
            ck_assert_int_eq(vae_set_threads(counts[c]), VAE_OK);
            vae_model *m;
            ck_assert_int_eq(vae_model_create(&cfg, 9, &m), VAE_OK);
            double loss[3];
            for (int step = 0; step < 2; step++) {
                vae_batch_stats st;
                ck_assert_int_eq(vae_train_step(m, x, B, 1e-3f, &st), VAE_OK);
                loss[step] = st.loss;
            }
            vae_batch_stats ev;
            ck_assert_int_eq(vae_eval_batch(m, x, B, VAE_STREAM_NOISE + 1, 0, 1000, &ev), VAE_OK);
            loss[2] = ev.loss;
            if (c == 0) {
                ref = malloc(sizeof(float) * m->n_floats);
                memcpy(ref, m->params, sizeof(float) * m->n_floats);
                memcpy(ref_loss, loss, sizeof loss);
            } else {
                ck_assert_msg(memcmp(m->params, ref, sizeof(float) * m->n_floats) == 0,
                              "shape %d: parameters differ with %d threads", (int)s, counts[c]);
                for (int i = 0; i < 3; i++)
                    ck_assert_msg(loss[i] == ref_loss[i], "shape %d, %d threads: loss %d %.17g vs %.17g", (int)s,
                                  counts[c], i, loss[i], ref_loss[i]);
            }
            vae_model_free(m);
        }
        free(ref);
    }
    free(x);
    vae_set_threads(0);
}
END_TEST

/* A training step fuses each layer's Adam update into its weight-gradient
 * GEMM. It must equal, bit for bit, the gradients (vae_model_gradients)
 * followed by one plain Adam pass of the active kernel over every
 * parameter, with one thread and with three. */
START_TEST(test_fused_step_equals_gradients_then_adam)
{
    vae_config cfg;
    vae_config_default(&cfg);
    cfg.image_rows = 7;
    cfg.image_cols = 9;
    cfg.n_hidden = 2;
    cfg.hidden[0] = 50;
    cfg.hidden[1] = 33;
    cfg.latent = 5;
    const int B = 37, D = 63;
    float *x = malloc(sizeof(float) * B * D);
    for (int i = 0; i < B * D; i++) x[i] = (float)((i * 37) % 101) / 100.0f;
    for (int threads = 1; threads <= 3; threads += 2) {
        ck_assert_int_eq(vae_set_threads(threads), VAE_OK);
        vae_model *fused, *plain;
        ck_assert_int_eq(vae_model_create(&cfg, 5, &fused), VAE_OK);
        ck_assert_int_eq(vae_model_create(&cfg, 5, &plain), VAE_OK);
        for (int step = 0; step < 3; step++) {
            vae_batch_stats a, b;
            ck_assert_int_eq(vae_train_step(fused, x, B, 1e-2f, &a), VAE_OK);
            ck_assert_int_eq(vae_model_gradients(plain, x, B, VAE_STREAM_NOISE, plain->step, &b), VAE_OK);
            double t = (double)(plain->step + 1);
            vae_adam_params hp = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                                  .bias_correction1 = (float)(1.0 - pow(0.9, t)),
                                  .bias_correction2 = (float)(1.0 - pow(0.999, t))};
            vae_kernels_active()->adam_update(plain->n_floats, plain->params, plain->grads, plain->adam_m,
                                              plain->adam_v, &hp);
            plain->step++;
            ck_assert(a.loss == b.loss);
            ck_assert_msg(memcmp(fused->params, plain->params, sizeof(float) * fused->n_floats) == 0,
                          "%d threads, step %d: parameters differ", threads, step);
            ck_assert(memcmp(fused->adam_m, plain->adam_m, sizeof(float) * fused->n_floats) == 0);
            ck_assert(memcmp(fused->adam_v, plain->adam_v, sizeof(float) * fused->n_floats) == 0);
        }
        vae_model_free(fused);
        vae_model_free(plain);
    }
    free(x);
    vae_set_threads(0);
}
END_TEST

START_TEST(test_resume_continues_exactly)
{
    /* 2 epochs, saved and loaded, then a third, gives the same file as 3
     * epochs straight (on 2 threads: resuming and threads together). */
    vae_dataset ds;
    ck_assert_int_eq(vae_dataset_load_mnist_dir("data", &ds), VAE_OK);
    char first[256], straight[256];
    temp_path(first, sizeof first, "resume-a.model");
    temp_path(straight, sizeof straight, "resume-b.model");
    epoch_log log = {{0}, 0};
    vae_model *m = train_small(&ds, 2, 2, &log);
    ck_assert_int_eq(vae_model_save(m, first), VAE_OK);
    vae_model_free(m);
    ck_assert_int_eq(vae_model_load(first, &m), VAE_OK);
    ck_assert_int_eq(vae_model_epoch(m), 2);
    vae_images train = ds.train, test = ds.test;
    train.count = 1500;
    test.count = 300;
    vae_train_options opt;
    vae_train_options_default(&opt);
    opt.epochs = 3;
    opt.batch = 100;
    ck_assert_int_eq(vae_train(m, &train, &test, &opt, log_epoch, &log), VAE_OK);
    ck_assert_int_eq(log.epochs, 3); /* only the third epoch ran */
    ck_assert_int_eq(vae_model_save(m, first), VAE_OK);
    vae_model_free(m);

    epoch_log log3 = {{0}, 0};
    m = train_small(&ds, 2, 3, &log3);
    ck_assert_int_eq(vae_model_save(m, straight), VAE_OK);
    vae_model_free(m);
    ck_assert(log3.test_loss[2] == log.test_loss[2]);
    size_t n1, n2;
    uint8_t *a = read_bytes(first, &n1), *b = read_bytes(straight, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_msg(memcmp(a, b, n1) == 0, "resumed and straight model files differ");
    free(a);
    free(b);
    remove(first);
    remove(straight);
    vae_dataset_free(&ds);
}
END_TEST

Suite *vae_model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *grads = tcase_create("gradients");
    tcase_set_timeout(grads, 60);
    tcase_add_test(grads, test_gradients_bernoulli_relu);
    tcase_add_test(grads, test_gradients_bernoulli_tanh_deep);
    tcase_add_test(grads, test_gradients_gaussian_sigmoid);
    tcase_add_test(grads, test_gradients_gaussian_linear_no_hidden);
    tcase_add_test(grads, test_init_matches_pytorch_bounds);
    suite_add_tcase(s, grads);
    TCase *files = tcase_create("files");
    tcase_add_test(files, test_model_round_trip);
    tcase_add_test(files, test_model_damage_refused);
    tcase_add_test(files, test_save_failure_keeps_old_model);
    suite_add_tcase(s, files);
    TCase *threads = tcase_create("threads");
    tcase_set_timeout(threads, 600);
    tcase_add_test(threads, test_same_bits_for_any_thread_count);
    tcase_add_test(threads, test_middle_rows_same_bits);
    tcase_add_test(threads, test_resume_continues_exactly);
    tcase_add_test(threads, test_fused_step_equals_gradients_then_adam);
    suite_add_tcase(s, threads);
    TCase *train = tcase_create("training");
    tcase_set_tags(train, "slow"); /* skipped under emulators: CK_EXCLUDE_TAGS=slow */
    tcase_set_timeout(train, 600);
    tcase_add_test(train, test_two_epochs_lower_test_loss);
    suite_add_tcase(s, train);
    return s;
}

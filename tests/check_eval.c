/* check_eval.c - the evaluation (vae_evaluate) against an independent
 * double-precision reference computed here from the parameters read back
 * out of a saved model file, its properties (IWAE with k = 1 is the
 * one-sample ELBO, the NLL falls as k grows and stays below the ELBO loss,
 * the Gaussian constant, the same bits on any thread count), and the
 * commands `vae eval`, `vae encode` and `vae info` on a tiny hand-built IDX
 * data set. */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_util.h"
#include "model.h"

/* ---------------------------------------------------- a tiny hand-built model */

/* D = 2x3x1 = 6, hidden 3, latent 2. */
#define T_D 6
#define T_H 3
#define T_Z 2

/* The parameters as the model file lays them out (see core/checkpoint.c):
 * encoder W1[H][D] b1[H], W2[2Z][H] b2[2Z], decoder W3[H][Z] b3[H],
 * W4[D][H] b4[D], read back from the saved bytes. */
typedef struct tiny_params {
    double w1[T_H][T_D], b1[T_H], w2[2 * T_Z][T_H], b2[2 * T_Z];
    double w3[T_H][T_Z], b3[T_H], w4[T_D][T_H], b4[T_D];
} tiny_params;

static void temp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "/tmp/vae-eval-test-%ld-%s", (long)getpid(), name);
}

static double le_float(const unsigned char *p)
{
    unsigned u = (unsigned)p[0] | (unsigned)p[1] << 8 | (unsigned)p[2] << 16 | (unsigned)p[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Saves m and reads its parameters back from the file's bytes. */
static void read_params(const vae_model *m, tiny_params *p)
{
    char path[256];
    temp_path(path, sizeof path, "tiny.model");
    ck_assert_int_eq(vae_model_save(m, path), VAE_OK);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    unsigned char buf[4096];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    remove(path);
    size_t count = (size_t)buf[104] | (size_t)buf[105] << 8; /* small: two bytes suffice */
    size_t expect = T_H * T_D + T_H + 2 * T_Z * T_H + 2 * T_Z + T_H * T_Z + T_H + T_D * T_H + T_D;
    ck_assert_uint_eq(count, expect);
    ck_assert_uint_eq(len, 112 + 12 * count + 4);
    const unsigned char *q = buf + 112;
#define READ(arr, n)                                                                                   \
    for (size_t i_ = 0; i_ < (n); i_++, q += 4) ((double *)(arr))[i_] = le_float(q)
    READ(p->w1, T_H * T_D);
    READ(p->b1, T_H);
    READ(p->w2, 2 * T_Z * T_H);
    READ(p->b2, 2 * T_Z);
    READ(p->w3, T_H * T_Z);
    READ(p->b3, T_H);
    READ(p->w4, T_D * T_H);
    READ(p->b4, T_D);
#undef READ
}

/* A tiny model whose parameters are its initialization times scale (larger
 * weights make the posterior far from q, so the IWAE and ELBO differ). */
static vae_model *tiny_model(vae_likelihood lik, vae_gaussian_mean mean, float scale)
{
    vae_config cfg;
    vae_config_default(&cfg);
    cfg.image_rows = 2;
    cfg.image_cols = 3;
    cfg.image_channels = 1;
    cfg.hidden[0] = T_H;
    cfg.latent = T_Z;
    cfg.likelihood = lik;
    cfg.gaussian_mean = mean;
    vae_model *m;
    ck_assert_int_eq(vae_model_create(&cfg, 11, &m), VAE_OK);
    for (size_t i = 0; i < m->n_floats; i++) m->params[i] *= scale;
    return m;
}

/* count images of 2x3 values in [0,1], a fixed pseudo-random pattern. */
static float tiny_values[64 * T_D];
static vae_images tiny_images(int count)
{
    for (int i = 0; i < count * T_D; i++) tiny_values[i] = (float)((i * 37 % 101) / 100.0);
    vae_images im = {.count = count, .rows = 2, .cols = 3, .channels = 1, .values = tiny_values};
    return im;
}

/* ------------------------------------------- the double-precision reference */

static double relu(double v) { return v > 0 ? v : 0; }
static double softplus(double l) { return l > 0 ? l + log1p(exp(-l)) : log1p(exp(l)); }
static double sigmoid(double l) { return 1.0 / (1.0 + exp(-l)); }

typedef struct reference {
    double loss, rec, kl, nll;
    double mc_kl; /* mean of log q(z_0|x) - log p(z_0), the one-sample KL */
} reference;

/* Means over images of: rec = -log p(x|z_0) (constant left out), KL in
 * closed form, and -(logsumexp_s log w_s - log k) with the Gaussian
 * constant in, computed from scratch in double with eps from vae_normal. */
static reference reference_eval(const tiny_params *p, const vae_images *im, int n, int k, uint64_t seed,
                                vae_likelihood lik, vae_gaussian_mean mean)
{
    reference r = {0, 0, 0, 0, 0};
    const double log2pi = 1.8378770664093454836;
    double *lw = malloc(sizeof(double) * (size_t)(k > 0 ? k : 1));
    for (int i = 0; i < n; i++) {
        const float *x = im->values + (size_t)i * T_D;
        double h[T_H], mu[T_Z], lv[T_Z];
        for (int o = 0; o < T_H; o++) {
            double s = p->b1[o];
            for (int d = 0; d < T_D; d++) s += p->w1[o][d] * x[d];
            h[o] = relu(s);
        }
        for (int o = 0; o < 2 * T_Z; o++) {
            double s = p->b2[o];
            for (int j = 0; j < T_H; j++) s += p->w2[o][j] * h[j];
            if (o < T_Z) mu[o] = s;
            else lv[o - T_Z] = s;
        }
        double kl = 0;
        for (int j = 0; j < T_Z; j++) kl += -0.5 * (1 + lv[j] - mu[j] * mu[j] - exp(lv[j]));
        r.kl += kl;
        int samples = k > 0 ? k : 1;
        for (int s = 0; s < samples; s++) {
            double z[T_Z], eps[T_Z], log_pz_over_q = 0;
            for (int j = 0; j < T_Z; j++) {
                eps[j] = vae_normal(seed, VAE_STREAM_EVAL, (uint64_t)i, (uint32_t)s, (uint32_t)j);
                z[j] = mu[j] + exp(0.5 * lv[j]) * eps[j];
                /* log N(z; 0, 1) - log N(z; mu, exp(lv)), term by term */
                log_pz_over_q += (-0.5 * z[j] * z[j]) - (-0.5 * eps[j] * eps[j] - 0.5 * lv[j]);
            }
            double g[T_H], log_px = 0;
            for (int o = 0; o < T_H; o++) {
                double t = p->b3[o];
                for (int j = 0; j < T_Z; j++) t += p->w3[o][j] * z[j];
                g[o] = relu(t);
            }
            for (int d = 0; d < T_D; d++) {
                double l = p->b4[d];
                for (int j = 0; j < T_H; j++) l += p->w4[d][j] * g[j];
                if (lik == VAE_LIK_BERNOULLI) {
                    log_px += x[d] * l - softplus(l);
                } else {
                    double m = mean == VAE_MEAN_SIGMOID ? sigmoid(l) : l;
                    log_px += -0.5 * (x[d] - m) * (x[d] - m);
                }
            }
            if (s == 0) {
                r.rec += -log_px;
                r.mc_kl += -log_pz_over_q;
            }
            if (lik == VAE_LIK_GAUSSIAN) log_px -= 0.5 * T_D * log2pi;
            lw[s] = log_px + log_pz_over_q;
        }
        if (k > 0) {
            double top = lw[0], sum = 0;
            for (int s = 1; s < k; s++) top = lw[s] > top ? lw[s] : top;
            for (int s = 0; s < k; s++) sum += exp(lw[s] - top);
            r.nll += -(top + log(sum) - log((double)k));
        }
    }
    free(lw);
    r.rec /= n;
    r.kl /= n;
    r.nll /= n;
    r.mc_kl /= n;
    r.loss = r.rec + r.kl;
    return r;
}

static vae_eval_result evaluate(vae_model *m, const vae_images *im, int n, int k, uint64_t seed)
{
    vae_eval_options opt;
    vae_eval_options_default(&opt);
    opt.n = n;
    opt.iwae_k = k;
    opt.seed = seed;
    vae_eval_result r;
    ck_assert_int_eq(vae_evaluate(m, im, &opt, &r), VAE_OK);
    return r;
}

#define ASSERT_NEAR(a, b, tol)                                                                          \
    ck_assert_msg(fabs((a) - (b)) <= (tol), "%s = %.9g, %s = %.9g: differ by more than %g", #a, (double)(a), \
                  #b, (double)(b), (double)(tol))

/* ------------------------------------------------------- library tests */

START_TEST(test_defaults)
{
    vae_eval_options opt;
    memset(&opt, 0x5a, sizeof opt);
    vae_eval_options_default(&opt);
    ck_assert_int_eq(opt.n, 0);
    ck_assert_int_eq(opt.iwae_k, 1000);
    ck_assert_uint_eq(opt.seed, 1);
    ck_assert_ptr_null(opt.progress);
}
END_TEST

/* ELBO terms and the IWAE NLL of both likelihoods against the reference,
 * for several k (and k = 0, which skips the NLL). */
START_TEST(test_matches_reference)
{
    struct {
        vae_likelihood lik;
        vae_gaussian_mean mean;
    } kinds[] = {{VAE_LIK_BERNOULLI, VAE_MEAN_SIGMOID},
                 {VAE_LIK_GAUSSIAN, VAE_MEAN_SIGMOID},
                 {VAE_LIK_GAUSSIAN, VAE_MEAN_LINEAR}};
    int ks[] = {0, 1, 7, 300};
    vae_images im = tiny_images(5);
    for (int v = 0; v < 3; v++) {
        vae_model *m = tiny_model(kinds[v].lik, kinds[v].mean, 3.0f);
        tiny_params p;
        read_params(m, &p);
        for (int t = 0; t < 4; t++) {
            vae_eval_result r = evaluate(m, &im, 0, ks[t], 42);
            reference ref = reference_eval(&p, &im, 5, ks[t], 42, kinds[v].lik, kinds[v].mean);
            ck_assert_int_eq(r.images, 5);
            ck_assert_int_eq(r.iwae_k, ks[t]);
            ASSERT_NEAR(r.rec, ref.rec, 2e-5 * (1 + fabs(ref.rec)));
            ASSERT_NEAR(r.kl, ref.kl, 2e-5 * (1 + fabs(ref.kl)));
            ASSERT_NEAR(r.loss, ref.loss, 2e-5 * (1 + fabs(ref.loss)));
            if (ks[t] > 0) {
                ASSERT_NEAR(r.nll, ref.nll, 2e-5 * (1 + fabs(ref.nll)));
                ck_assert(r.nll_se > 0);
            } else {
                ck_assert(r.nll == 0 && r.nll_se == 0);
            }
        }
        vae_model_free(m);
    }
}
END_TEST

/* With k = 1 the estimate is the one-sample ELBO of the same eps:
 * nll = rec + log q(z_0|x) - log p(z_0), not the closed-form KL. */
START_TEST(test_k1_is_one_sample_elbo)
{
    vae_images im = tiny_images(6);
    vae_model *m = tiny_model(VAE_LIK_BERNOULLI, VAE_MEAN_SIGMOID, 3.0f);
    tiny_params p;
    read_params(m, &p);
    vae_eval_result r = evaluate(m, &im, 0, 1, 5);
    reference ref = reference_eval(&p, &im, 6, 1, 5, VAE_LIK_BERNOULLI, VAE_MEAN_SIGMOID);
    ASSERT_NEAR(r.nll, r.rec + ref.mc_kl, 2e-5 * (1 + fabs(r.nll)));
    /* the closed-form KL differs from the one-sample one (so the test above
     * tells the two apart) */
    ck_assert(fabs(ref.mc_kl - r.kl) > 1e-2);
    vae_model_free(m);
}
END_TEST

/* On average over images the NLL estimate falls as k grows, and it stays
 * below the ELBO loss; the first n images give the same per-image numbers
 * (the mean over n = 1 is image 0's). */
START_TEST(test_bound_tightens)
{
    vae_images im = tiny_images(40);
    vae_model *m = tiny_model(VAE_LIK_BERNOULLI, VAE_MEAN_SIGMOID, 3.0f);
    int ks[] = {1, 10, 100, 1000};
    double prev = INFINITY;
    vae_eval_result r;
    for (int t = 0; t < 4; t++) {
        r = evaluate(m, &im, 0, ks[t], 3);
        ck_assert_msg(r.nll < prev, "k = %d: NLL %.6f is not below %.6f", ks[t], r.nll, prev);
        prev = r.nll;
    }
    /* k = 1000: well below the ELBO loss (the bound's gap is what IWAE closes) */
    ck_assert_msg(r.nll < r.loss - 0.05, "NLL %.6f, ELBO loss %.6f", r.nll, r.loss);
    tiny_params p;
    read_params(m, &p);
    vae_eval_result one = evaluate(m, &im, 1, 50, 3);
    reference ref = reference_eval(&p, &im, 1, 50, 3, VAE_LIK_BERNOULLI, VAE_MEAN_SIGMOID);
    ck_assert_int_eq(one.images, 1);
    ASSERT_NEAR(one.nll, ref.nll, 2e-5 * (1 + fabs(ref.nll)));
    ck_assert(one.nll_se == 0);
    /* n beyond the set is all of it */
    vae_eval_result all = evaluate(m, &im, 1000, 1, 3);
    ck_assert_int_eq(all.images, 40);
    vae_model_free(m);
}
END_TEST

/* The Gaussian's D/2 log 2pi: in the NLL, not in rec or the loss. */
START_TEST(test_gaussian_constant)
{
    vae_images im = tiny_images(4);
    vae_model *m = tiny_model(VAE_LIK_GAUSSIAN, VAE_MEAN_SIGMOID, 1.0f);
    vae_eval_result r = evaluate(m, &im, 0, 20, 9);
    ASSERT_NEAR(r.rec_constant, 5.5136311992280364, 1e-12); /* 3 log 2pi */
    /* rec = 1/2 sum (x - mean)^2 of 6 values in [0,1]: at most 3, so no
     * constant in it; -log p(x) with the constant is above 5.51 */
    ck_assert(r.rec > 0 && r.rec < 3.0);
    ck_assert(r.nll > 5.5136311992280364);
    vae_model_free(m);
    m = tiny_model(VAE_LIK_BERNOULLI, VAE_MEAN_SIGMOID, 1.0f);
    r = evaluate(m, &im, 0, 20, 9);
    ck_assert(r.rec_constant == 0.0);
    vae_model_free(m);
}
END_TEST

static int progress_calls, progress_last, progress_total, progress_backwards;
static void count_progress(int done, int total, void *user)
{
    (void)user;
    if (done < progress_last) progress_backwards = 1;
    progress_calls++;
    progress_last = done;
    progress_total = total;
}

/* A model big enough that the work is shared between threads and spans
 * several decoder chunks: the same bits on 1, 2 and 3 threads; progress
 * reaches every image. */
START_TEST(test_threads_same_bits)
{
    vae_config cfg;
    vae_config_default(&cfg);
    cfg.image_rows = 12;
    cfg.image_cols = 12;
    cfg.hidden[0] = 32;
    cfg.latent = 4;
    vae_model *m;
    ck_assert_int_eq(vae_model_create(&cfg, 3, &m), VAE_OK);
    int n = 20, D = 144;
    uint8_t *pixels = malloc((size_t)n * D);
    for (int i = 0; i < n * D; i++) pixels[i] = (uint8_t)(i * 131 % 256);
    vae_images im = {.count = n, .rows = 12, .cols = 12, .channels = 1, .pixels = pixels};
    vae_eval_result r[3];
    for (int t = 0; t < 3; t++) {
        ck_assert_int_eq(vae_set_threads(t + 1), VAE_OK);
        vae_eval_options opt;
        vae_eval_options_default(&opt);
        opt.iwae_k = 300;
        opt.progress = count_progress;
        progress_calls = progress_last = progress_total = progress_backwards = 0;
        ck_assert_int_eq(vae_evaluate(m, &im, &opt, &r[t]), VAE_OK);
        ck_assert_int_gt(progress_calls, 1);
        ck_assert_int_eq(progress_last, n);
        ck_assert_int_eq(progress_total, n);
        ck_assert(!progress_backwards);
    }
    vae_set_threads(0);
    ck_assert(memcmp(&r[0], &r[1], sizeof r[0]) == 0);
    ck_assert(memcmp(&r[0], &r[2], sizeof r[0]) == 0);
    /* another seed, other numbers */
    vae_eval_result other = evaluate(m, &im, 0, 300, 2);
    ck_assert(other.nll != r[0].nll);
    free(pixels);
    vae_model_free(m);
}
END_TEST

START_TEST(test_bad_arguments)
{
    vae_model *m = tiny_model(VAE_LIK_BERNOULLI, VAE_MEAN_SIGMOID, 1.0f);
    vae_images im = tiny_images(3);
    vae_eval_options opt;
    vae_eval_options_default(&opt);
    vae_eval_result r;
    opt.iwae_k = -1;
    ck_assert_int_eq(vae_evaluate(m, &im, &opt, &r), VAE_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(vae_last_error(), "-1 importance samples"));
    opt.iwae_k = 5;
    opt.n = -2;
    ck_assert_int_eq(vae_evaluate(m, &im, &opt, &r), VAE_ERR_ARG);
    opt.n = 0;
    vae_images empty = im;
    empty.count = 0;
    ck_assert_int_eq(vae_evaluate(m, &empty, &opt, &r), VAE_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(vae_last_error(), "no images"));
    vae_images wrong = im;
    wrong.rows = 3;
    wrong.cols = 2;
    ck_assert_int_eq(vae_evaluate(m, &wrong, &opt, &r), VAE_ERR_ARG);
    ck_assert_ptr_nonnull(strstr(vae_last_error(), "3 x 2 x 1 but the model takes 2 x 3 x 1"));
    vae_model_free(m);
}
END_TEST

/* ------------------------------------------------------------ CLI tests */


static char workdir[256], model_path[300];
static char output[16384];

/* Runs a shell command with stdout and stderr captured into output;
 * returns the exit status. */
static int run(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int status = cli_vrun(workdir, output, sizeof output, fmt, ap);
    va_end(ap);
    return status;
}

/* n images of rows x 5 pixels (a bright bar whose row depends on the index)
 * and, when labels_path is not NULL, labels 7 * index mod 10. */
static void write_idx(const char *images_path, const char *labels_path, int n, int rows)
{
    FILE *f = fopen(images_path, "wb");
    cli_idx_images_header(f, (unsigned)n, (unsigned)rows, 5);
    for (int k = 0; k < n; k++)
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < 5; x++) fputc(y == k % rows ? 230 : 10 + x, f);
    fclose(f);
    if (!labels_path) return;
    f = fopen(labels_path, "wb");
    cli_put_be32(f, 0x00000801);
    cli_put_be32(f, (unsigned)n);
    for (int k = 0; k < n; k++) fputc(7 * k % 10, f);
    fclose(f);
}

static void cli_setup(void)
{
    setenv("VAE_TEST_PROG", "./vae", 0);
    snprintf(workdir, sizeof workdir, "/tmp/vae-cli-eval-%ld", (long)getpid());
    char a[400], b[400];
    mkdir(workdir, 0755);
    snprintf(a, sizeof a, "%s/data", workdir);
    mkdir(a, 0755);
    snprintf(a, sizeof a, "%s/data/train-images-idx3-ubyte", workdir);
    snprintf(b, sizeof b, "%s/data/train-labels-idx1-ubyte", workdir);
    write_idx(a, b, 60, 6);
    snprintf(a, sizeof a, "%s/data/t10k-images-idx3-ubyte", workdir);
    snprintf(b, sizeof b, "%s/data/t10k-labels-idx1-ubyte", workdir);
    write_idx(a, b, 12, 6);
    /* the same without labels, and images of another shape */
    snprintf(a, sizeof a, "%s/nolabels", workdir);
    mkdir(a, 0755);
    snprintf(a, sizeof a, "%s/nolabels/train-images-idx3-ubyte", workdir);
    write_idx(a, NULL, 20, 6);
    snprintf(a, sizeof a, "%s/nolabels/t10k-images-idx3-ubyte", workdir);
    write_idx(a, NULL, 9, 6);
    snprintf(a, sizeof a, "%s/other", workdir);
    mkdir(a, 0755);
    snprintf(a, sizeof a, "%s/other/train-images-idx3-ubyte", workdir);
    write_idx(a, NULL, 10, 4);
    snprintf(a, sizeof a, "%s/other/t10k-images-idx3-ubyte", workdir);
    write_idx(a, NULL, 10, 4);
    snprintf(model_path, sizeof model_path, "%s/m.model", workdir);
    int rc = run(VAE " train --data %s/data --epochs 2 --hidden 8 --latent 2 --batch 16 --lr 0.01 --quiet --out %s",
                 workdir, model_path);
    ck_assert_msg(rc == 0, "training the test model failed:\n%s", output);
}

static void cli_teardown(void)
{
    cli_remove_dir(workdir);
}

#define ASSERT_OUTPUT_HAS(s) ck_assert_msg(strstr(output, (s)) != NULL, "output lacks '%s':\n%s", (s), output)

/* The value of "key" in a one-line JSON object: a pointer just past the
 * colon, or NULL. */
static const char *json_value(const char *json, const char *key)
{
    char quoted[64];
    snprintf(quoted, sizeof quoted, "\"%s\":", key);
    const char *p = strstr(json, quoted);
    return p ? p + strlen(quoted) : NULL;
}

/* A JSON number value of key (fails the test when it is not one). */
static double json_number_of(const char *json, const char *key)
{
    const char *v = json_value(json, key);
    ck_assert_msg(v != NULL, "no key '%s' in %s", key, json);
    char *end;
    double d = strtod(v, &end);
    ck_assert_msg(end != v && (*end == ',' || *end == '}'), "'%s' is not a number in %s", key, json);
    return d;
}

/* Checks json is exactly one line holding one object: braces, brackets and
 * quotes balanced, and every value a number, string, list, null or boolean. */
static void assert_one_json_line(const char *json)
{
    size_t len = strlen(json);
    ck_assert_msg(len > 2 && json[0] == '{' && json[len - 1] == '\n' && json[len - 2] == '}', "not one object: %s",
                  json);
    ck_assert_msg(strchr(json, '\n') == json + len - 1, "more than one line: %s", json);
    int depth = 0, in_string = 0;
    for (const char *p = json; *p; p++) {
        if (in_string) {
            if (*p == '\\') p++;
            else if (*p == '"') in_string = 0;
            continue;
        }
        if (*p == '"') in_string = 1;
        else if (*p == '{' || *p == '[') depth++;
        else if (*p == '}' || *p == ']') depth--;
        else if (*p == ':') {
            const char *v = p + 1;
            char *end;
            int ok = *v == '"' || *v == '[' || strncmp(v, "null", 4) == 0 || strncmp(v, "true", 4) == 0 ||
                     strncmp(v, "false", 5) == 0 || (strtod(v, &end), end != v);
            ck_assert_msg(ok, "bad value at '%.20s' in %s", v, json);
        }
        ck_assert_msg(depth >= 0, "unbalanced: %s", json);
    }
    ck_assert_msg(depth == 0 && !in_string, "unbalanced: %s", json);
}

START_TEST(test_cli_help)
{
    const char *cmds[] = {"eval", "encode", "info"};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(run(VAE " %s --help", cmds[i]), 0);
        ASSERT_OUTPUT_HAS("usage: vae");
        ASSERT_OUTPUT_HAS(cmds[i]);
    }
    ck_assert_int_eq(run(VAE " --help"), 0);
    ASSERT_OUTPUT_HAS("eval");
    ASSERT_OUTPUT_HAS("encode");
    ASSERT_OUTPUT_HAS("info");
}
END_TEST

/* eval's summary and JSON; the JSON numbers are vae_evaluate's on the same
 * model, test images and seed. */
START_TEST(test_cli_eval)
{
    ck_assert_int_eq(run(VAE " eval --model %s --data %s/data --iwae 50", model_path, workdir), 0);
    ASSERT_OUTPUT_HAS("ELBO loss");
    ASSERT_OUTPUT_HAS("IWAE NLL");
    ASSERT_OUTPUT_HAS("k = 50");
    ASSERT_OUTPUT_HAS("the first 12 of 12 test images");
    ck_assert_int_eq(run(VAE " eval --model %s --data %s/data --iwae 0", model_path, workdir), 0);
    ASSERT_OUTPUT_HAS("ELBO loss");
    ck_assert_ptr_null(strstr(output, "IWAE"));

    ck_assert_int_eq(run(VAE " eval --model %s --data %s/data --iwae 64 --n 10 --seed 5 --json 2>/dev/null",
                         model_path, workdir),
                     0);
    assert_one_json_line(output);
    const char *keys[] = {"model", "data", "images", "iwae_k", "seed", "likelihood", "loss", "rec", "kl", "nll",
                          "nll_se", "gaussian_constant", "nll_includes_constant", "seconds"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_msg(json_value(output, keys[i]) != NULL, "no key '%s' in %s", keys[i], output);
    ck_assert_int_eq((int)json_number_of(output, "images"), 10);
    ck_assert_int_eq((int)json_number_of(output, "iwae_k"), 64);
    double loss = json_number_of(output, "loss"), nll = json_number_of(output, "nll");
    double rec = json_number_of(output, "rec"), kl = json_number_of(output, "kl");

    char path[400];
    vae_model *m;
    ck_assert_int_eq(vae_model_load(model_path, &m), VAE_OK);
    vae_dataset ds;
    snprintf(path, sizeof path, "%s/data", workdir);
    ck_assert_int_eq(vae_dataset_load(path, NULL, &ds), VAE_OK);
    vae_eval_result r = evaluate(m, &ds.test, 10, 64, 5);
    ASSERT_NEAR(loss, r.loss, 1e-7 * (1 + fabs(r.loss)));
    ASSERT_NEAR(rec, r.rec, 1e-7 * (1 + fabs(r.rec)));
    ASSERT_NEAR(kl, r.kl, 1e-7 * (1 + fabs(r.kl)));
    ASSERT_NEAR(nll, r.nll, 1e-7 * (1 + fabs(r.nll)));
    ASSERT_NEAR(loss, rec + kl, 1e-6 * (1 + fabs(loss)));
    vae_dataset_free(&ds);
    vae_model_free(m);

    /* without IWAE, nll is null */
    ck_assert_int_eq(run(VAE " eval --model %s --data %s/data --iwae 0 --json", model_path, workdir), 0);
    assert_one_json_line(output);
    ASSERT_OUTPUT_HAS("\"nll\":null");
}
END_TEST

/* Counts the lines of a file and the commas of its first line. */
static int count_lines(const char *path, int *first_commas)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    int lines = 0, c, commas = 0;
    while ((c = fgetc(f)) != EOF) {
        if (c == '\n') lines++;
        else if (c == ',' && lines == 0) commas++;
    }
    fclose(f);
    *first_commas = commas;
    return lines;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* encode: CSV rows and columns, labels, the f32 file's size and values
 * (the same as the CSV's), the training split, data without labels. */
START_TEST(test_cli_encode)
{
    char csv[400], f32[400];
    snprintf(csv, sizeof csv, "%s/codes.csv", workdir);
    snprintf(f32, sizeof f32, "%s/codes.f32", workdir);
    ck_assert_int_eq(run(VAE " encode --model %s --data %s/data --out %s", model_path, workdir, csv), 0);
    int commas;
    ck_assert_int_eq(count_lines(csv, &commas), 1 + 12);
    ck_assert_int_eq(commas + 1, 2 + 2 * 2); /* index, label, mu_0, mu_1, logvar_0, logvar_1 */
    FILE *f = fopen(csv, "r");
    char line[512];
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, "index,label,mu_0,mu_1,logvar_0,logvar_1\n");
    double csv_values[12][4];
    for (int i = 0; i < 12; i++) {
        int index, label;
        ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
        ck_assert_int_eq(sscanf(line, "%d,%d,%lf,%lf,%lf,%lf", &index, &label, &csv_values[i][0], &csv_values[i][1],
                                &csv_values[i][2], &csv_values[i][3]),
                         6);
        ck_assert_int_eq(index, i);
        ck_assert_int_eq(label, 7 * i % 10);
    }
    fclose(f);

    ck_assert_int_eq(run(VAE " encode --model %s --data %s/data --out %s --format f32", model_path, workdir, f32),
                     0);
    ck_assert_int_eq(file_size(f32), 12 * 2 * 2 * 4);
    f = fopen(f32, "rb");
    unsigned char raw[12 * 4 * 4];
    ck_assert_uint_eq(fread(raw, 1, sizeof raw, f), sizeof raw);
    fclose(f);
    for (int i = 0; i < 12; i++)
        for (int j = 0; j < 4; j++) ck_assert(le_float(raw + 16 * i + 4 * j) == (float)csv_values[i][j]);

    /* mu and logvar are vae_encode's */
    vae_model *m;
    ck_assert_int_eq(vae_model_load(model_path, &m), VAE_OK);
    vae_dataset ds;
    char path[400];
    snprintf(path, sizeof path, "%s/data", workdir);
    ck_assert_int_eq(vae_dataset_load(path, NULL, &ds), VAE_OK);
    float x[30], mu[2], logvar[2];
    vae_images_copy_float(&ds.test, 3, 1, x);
    ck_assert_int_eq(vae_encode(m, x, 1, mu, logvar), VAE_OK);
    ck_assert(mu[0] == (float)csv_values[3][0] && mu[1] == (float)csv_values[3][1]);
    ck_assert(logvar[0] == (float)csv_values[3][2] && logvar[1] == (float)csv_values[3][3]);
    vae_dataset_free(&ds);
    vae_model_free(m);

    ck_assert_int_eq(run(VAE " encode --model %s --data %s/data --split train --out %s", model_path, workdir, csv), 0);
    ck_assert_int_eq(count_lines(csv, &commas), 1 + 60);
    ck_assert_int_eq(run(VAE " encode --model %s --data %s/nolabels --out %s", model_path, workdir, csv), 0);
    ck_assert_int_eq(count_lines(csv, &commas), 1 + 9);
    f = fopen(csv, "r");
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    ck_assert_ptr_nonnull(fgets(line, sizeof line, f));
    fclose(f);
    ck_assert_int_eq(strncmp(line, "0,-1,", 5), 0);
    /* to stdout */
    ck_assert_int_eq(run(VAE " encode --model %s --data %s/data --out - 2>/dev/null", model_path, workdir), 0);
    ck_assert_int_eq(strncmp(output, "index,label,mu_0", 16), 0);
}
END_TEST

START_TEST(test_cli_info)
{
    ck_assert_int_eq(run(VAE " info --model %s", model_path), 0);
    ASSERT_OUTPUT_HAS("6 x 5 x 1 (30 values)");
    ASSERT_OUTPUT_HAS("hidden       8\n");
    ASSERT_OUTPUT_HAS("latent       2\n");
    ASSERT_OUTPUT_HAS("likelihood   bernoulli\n");
    ASSERT_OUTPUT_HAS("epochs       2\n");
    ASSERT_OUTPUT_HAS("version 1,");
    /* 30-8-2: encoder 30*8+8 + 8*4+4, decoder 2*8+8 + 8*30+30 */
    ASSERT_OUTPUT_HAS("parameters   578\n");
    char size[64];
    /* header 112, three blocks of 578 floats, CRC 4 */
    snprintf(size, sizeof size, "%ld bytes", file_size(model_path));
    ck_assert_int_eq(file_size(model_path), 112 + 3 * 4 * 578 + 4);
    ASSERT_OUTPUT_HAS(size);
    ck_assert_int_eq(run(VAE " info --model %s --json", model_path), 0);
    assert_one_json_line(output);
    ASSERT_OUTPUT_HAS("\"hidden\":[8]");
    ASSERT_OUTPUT_HAS("\"likelihood\":\"bernoulli\"");
    ASSERT_OUTPUT_HAS("\"gaussian_mean\":null");
    ck_assert_int_eq((int)json_number_of(output, "latent"), 2);
    ck_assert_int_eq((int)json_number_of(output, "parameters"), 578);
    ck_assert_int_eq((int)json_number_of(output, "epochs"), 2);
    ck_assert_int_eq((int)json_number_of(output, "file_version"), 1);
    ck_assert_int_eq((int)json_number_of(output, "seed"), 1);
    ck_assert_int_eq((int)json_number_of(output, "step"), 2 * 4); /* 60 images in batches of 16 */
    ck_assert_int_eq((long)json_number_of(output, "file_bytes"), file_size(model_path));
}
END_TEST

START_TEST(test_cli_errors)
{
    /* usage errors: exit 2, naming the option */
    ck_assert_int_eq(run(VAE " eval --data %s/data", workdir), 2);
    ASSERT_OUTPUT_HAS("--model is required");
    ck_assert_int_eq(run(VAE " encode --data %s/data --out x.csv", workdir), 2);
    ASSERT_OUTPUT_HAS("--model is required");
    ck_assert_int_eq(run(VAE " info"), 2);
    ASSERT_OUTPUT_HAS("--model is required");
    ck_assert_int_eq(run(VAE " encode --model %s --data %s/data", model_path, workdir), 2);
    ASSERT_OUTPUT_HAS("--out is required");
    ck_assert_int_eq(run(VAE " encode --model %s --out x --format xml", model_path), 2);
    ASSERT_OUTPUT_HAS("--format");
    ASSERT_OUTPUT_HAS("'xml'");
    ck_assert_int_eq(run(VAE " encode --model %s --out x --split validation", model_path), 2);
    ASSERT_OUTPUT_HAS("--split");
    ck_assert_int_eq(run(VAE " eval --model %s --iwae -1", model_path), 2);
    ASSERT_OUTPUT_HAS("--iwae");
    ck_assert_int_eq(run(VAE " eval --model %s --iwae many", model_path), 2);
    ASSERT_OUTPUT_HAS("--iwae");
    ck_assert_int_eq(run(VAE " eval --model %s --iwae 2000000", model_path), 2);
    ASSERT_OUTPUT_HAS("--iwae");
    ck_assert_int_eq(run(VAE " eval --model %s --n -3", model_path), 2);
    ASSERT_OUTPUT_HAS("--n");
    ck_assert_int_eq(run(VAE " info --model %s --bogus", model_path), 2);
    ASSERT_OUTPUT_HAS("--bogus");

    /* runtime errors: exit 1, naming the file */
    const char *cmds[] = {"eval --data DATA --iwae 5", "encode --data DATA --out OUT", "info"};
    for (int i = 0; i < 3; i++) {
        char args[400];
        const char *c = cmds[i];
        /* substitute DATA and OUT */
        char *d = args;
        for (; *c; c++) {
            if (strncmp(c, "DATA", 4) == 0) {
                d += sprintf(d, "%s/data", workdir);
                c += 3;
            } else if (strncmp(c, "OUT", 3) == 0) {
                d += sprintf(d, "%s/o.csv", workdir);
                c += 2;
            } else {
                *d++ = *c;
            }
        }
        *d = 0;
        ck_assert_int_eq(run(VAE " %s --model %s/missing.model", args, workdir), 1);
        ASSERT_OUTPUT_HAS("missing.model");
        /* a corrupted model: one byte of a parameter flipped */
        char bad[400];
        snprintf(bad, sizeof bad, "%s/bad.model", workdir);
        ck_assert_int_eq(run("cp %s %s && printf 'X' | dd of=%s bs=1 seek=200 conv=notrunc", model_path, bad, bad),
                         0);
        ck_assert_int_eq(run(VAE " %s --model %s", args, bad), 1);
        ASSERT_OUTPUT_HAS("bad.model");
        ASSERT_OUTPUT_HAS("corrupted");
        /* a truncated one */
        ck_assert_int_eq(run("dd if=%s of=%s bs=500 count=1", model_path, bad), 0);
        ck_assert_int_eq(run(VAE " %s --model %s", args, bad), 1);
        ASSERT_OUTPUT_HAS("truncated");
    }
    /* data of another shape than the model's */
    ck_assert_int_eq(run(VAE " eval --model %s --data %s/other", model_path, workdir), 1);
    ASSERT_OUTPUT_HAS("images are 4x5x1 but the model takes 6x5x1");
    ck_assert_int_eq(run(VAE " encode --model %s --data %s/other --out %s/o.csv", model_path, workdir, workdir), 1);
    ASSERT_OUTPUT_HAS("images are 4x5x1");
    ck_assert_int_eq(run(VAE " eval --model %s --data %s/absent", model_path, workdir), 1);
    ASSERT_OUTPUT_HAS("absent");
    /* an output that cannot be written */
    ck_assert_int_eq(run(VAE " encode --model %s --data %s/data --out %s/no/such/dir.csv", model_path, workdir,
                         workdir),
                     1);
    ASSERT_OUTPUT_HAS("dir.csv");
    if (access("/dev/full", W_OK) == 0) {
        ck_assert_int_eq(run(VAE " encode --model %s --data %s/data --out /dev/full --format f32", model_path, workdir),
                         1);
        ASSERT_OUTPUT_HAS("/dev/full: write failed");
    }
}
END_TEST

Suite *vae_eval_suite(void)
{
    Suite *s = suite_create("eval");
    TCase *lib = tcase_create("evaluate");
    tcase_set_timeout(lib, 120);
    tcase_add_test(lib, test_defaults);
    tcase_add_test(lib, test_matches_reference);
    tcase_add_test(lib, test_k1_is_one_sample_elbo);
    tcase_add_test(lib, test_bound_tightens);
    tcase_add_test(lib, test_gaussian_constant);
    tcase_add_test(lib, test_threads_same_bits);
    tcase_add_test(lib, test_bad_arguments);
    suite_add_tcase(s, lib);
    TCase *cli = tcase_create("cli");
    tcase_set_timeout(cli, 120);
    tcase_add_checked_fixture(cli, cli_setup, cli_teardown);
    tcase_add_test(cli, test_cli_help);
    tcase_add_test(cli, test_cli_eval);
    tcase_add_test(cli, test_cli_encode);
    tcase_add_test(cli, test_cli_info);
    tcase_add_test(cli, test_cli_errors);
    suite_add_tcase(s, cli);
    return s;
}

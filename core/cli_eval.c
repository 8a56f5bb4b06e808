/* cli_eval.c - the commands that read a model without changing it:
 * `vae eval` (test-set ELBO and the IWAE estimate of -log p(x)), `vae encode`
 * (each image's mu and logvar to CSV or raw float32) and `vae info` (what a
 * model file holds). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* ------------------------------------------------------------ helpers */

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* s as a JSON string: quoted, with ", \ and control characters escaped. */
static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

/* A JSON number, or null for what JSON cannot hold (inf, nan). */
static void json_number(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.10g", v);
    else fputs("null", f);
}

static const char *likelihood_name(const vae_config *cfg)
{
    return cfg->likelihood == VAE_LIK_GAUSSIAN ? "gaussian" : "bernoulli";
}

static const char *activation_name(const vae_config *cfg)
{
    return cfg->activation == VAE_ACT_TANH ? "tanh" : "relu";
}

/* "784-400-20": input, hidden widths, latent. */
static void print_shape(FILE *f, const vae_config *cfg)
{
    fprintf(f, "%d", vae_config_input_dim(cfg));
    for (int l = 0; l < cfg->n_hidden; l++) fprintf(f, "-%d", cfg->hidden[l]);
    fprintf(f, "-%d", cfg->latent);
}

/* The images a command reads from DIR: the test set (the t10k files, or the
 * held-out tenth of an image folder) or the training set; when the test set
 * is asked for but empty, the training set, with a note. Checks the images
 * have the model's shape. Returns 0 or an exit status, having printed the
 * error; on success *ds is loaded (free it) and *images points into it. */
static int load_images(const char *data, int want_train, const vae_config *cfg, vae_dataset *ds,
                       const vae_images **images)
{
    if (vae_dataset_load(data, NULL, ds) != VAE_OK) return fail_runtime();
    if (want_train || ds->test.count == 0) {
        if (!want_train)
            fprintf(stderr, "%s: %s has no test images: using its %d training images\n", command_name, data,
                    ds->train.count);
        *images = &ds->train;
    } else {
        *images = &ds->test;
    }
    const vae_images *im = *images;
    if (im->count == 0) {
        fprintf(stderr, "%s: %s: no images\n", command_name, data);
        vae_dataset_free(ds);
        return EXIT_RUNTIME;
    }
    if (im->rows != cfg->image_rows || im->cols != cfg->image_cols || im->channels != cfg->image_channels) {
        fprintf(stderr, "%s: %s: images are %dx%dx%d but the model takes %dx%dx%d\n", command_name, data,
                im->rows, im->cols, im->channels, cfg->image_rows, cfg->image_cols, cfg->image_channels);
        vae_dataset_free(ds);
        return EXIT_RUNTIME;
    }
    return 0;
}

/* ----------------------------------------------------------------- eval */

static const char eval_help[] =
    "usage: vae eval --model MODEL [--data DIR] [--n N] [--iwae K] [--seed S] [--json]\n"
    "\n"
    "Evaluates MODEL on the test images of DIR (the t10k set of an MNIST-format\n"
    "folder, or every tenth image of an image folder, as 'vae train' holds out;\n"
    "the training images when there are none) and prints, in nats per image:\n"
    "  - the ELBO loss = reconstruction + KL (beta 1, whatever the model's beta),\n"
    "    the reconstruction -log p(x|z) with one z sample per image and the KL of\n"
    "    q(z|x) from the prior in closed form;\n"
    "  - the importance-weighted (IWAE, Burda et al.) estimate of -log p(x) with K\n"
    "    samples per image, and its standard error over the images.\n"
    "For a Gaussian decoder the ELBO lines leave out the constant D/2 log 2pi, as\n"
    "training does; the IWAE NLL includes it, so it is a true -log p(x).\n"
    "\n"
    "  --model MODEL   the model file (required)\n"
    "  --data DIR      MNIST-format folder or image folder [data]\n"
    "  --n N           evaluate the first N test images (0: all) [0]\n"
    "  --iwae K        importance samples per image (0: skip the IWAE estimate) [1000]\n"
    "  --seed S        seed of the noise; the same seed gives the same numbers on\n"
    "                  any thread count [1]\n"
    "  --json          one JSON object on stdout: model, data, images, iwae_k, seed,\n"
    "                  likelihood, loss, rec, kl, nll (null without IWAE), nll_se,\n"
    "                  gaussian_constant, nll_includes_constant, seconds\n"
    "  --threads N     threads (default: VAE_THREADS, else one per CPU)\n"
    "\n"
    "On a terminal, stderr shows the IWAE progress on longer runs.\n"
    "exit status: 0 done, 1 runtime error (a file, shapes that differ), 2 usage error\n";

typedef struct eval_progress {
    double t0, drawn_at;
    int width; /* characters on screen, 0: none */
} eval_progress;

/* Draws "IWAE [#####.....] 450/1000 images ETA 3s" on stderr, from one
 * second into the run and at most ten times a second. */
static void on_eval_progress(int done, int total, void *user)
{
    eval_progress *p = user;
    double now = seconds_now();
    if (now - p->t0 < 1.0 || now - p->drawn_at < 0.1 || total <= 0) return;
    p->drawn_at = now;
    enum { BAR = 20 };
    char bar[BAR + 1], eta[32] = "-";
    int filled = (int)((long long)done * BAR / total);
    for (int i = 0; i < BAR; i++) bar[i] = i < filled ? '#' : '.';
    bar[BAR] = 0;
    if (done > 0) {
        long s = (long)((now - p->t0) * (total - done) / done + 0.5);
        snprintf(eta, sizeof eta, "%ldm%02lds", s / 60, s % 60);
    }
    int len = fprintf(stderr, "\rIWAE [%s] %d/%d images ETA %s", bar, done, total, eta) - 1;
    if (len < p->width) fprintf(stderr, "%*s", p->width - len, "");
    if (len > p->width) p->width = len;
    fflush(stderr);
}

int cmd_eval(int argc, char **argv)
{
    const char *model_path = NULL, *data = "data";
    vae_eval_options eopt;
    vae_eval_options_default(&eopt);
    int json = 0, help;
    option opts[] = {
        {"model", OPT_STRING, &model_path, 0}, {"data", OPT_STRING, &data, 0},
        {"n", OPT_INT, &eopt.n, 0},            {"iwae", OPT_INT, &eopt.iwae_k, 0},
        {"seed", OPT_U64, &eopt.seed, 0},      {"json", OPT_FLAG, &json, 0},
        {NULL, OPT_FLAG, NULL, 0},
    };
    int rc = parse_options(argc, argv, opts, &help, NULL);
    if (rc) return rc;
    if (help) {
        fputs(eval_help, stdout);
        return 0;
    }
    if (!model_path) return fail_usage("--model is required");
    if (eopt.iwae_k > 1000000) return fail_usage("--iwae: %d is more than 1000000 samples", eopt.iwae_k);
    vae_model *m;
    if (vae_model_load(model_path, &m) != VAE_OK) return fail_runtime();
    const vae_config *cfg = vae_model_get_config(m);
    vae_dataset ds;
    const vae_images *images;
    if ((rc = load_images(data, 0, cfg, &ds, &images))) {
        vae_model_free(m);
        return rc;
    }
    eval_progress bar = {seconds_now(), 0.0, 0};
    if (eopt.iwae_k > 0 && isatty(STDERR_FILENO)) {
        eopt.progress = on_eval_progress;
        eopt.user = &bar;
    }
    vae_eval_result r;
    double t0 = seconds_now();
    rc = vae_evaluate(m, images, &eopt, &r);
    double seconds = seconds_now() - t0;
    if (bar.width > 0) fprintf(stderr, "\r%*s\r", bar.width, "");
    int status = 0;
    if (rc != VAE_OK) {
        status = fail_runtime();
    } else if (json) {
        printf("{\"model\":");
        json_string(stdout, model_path);
        printf(",\"data\":");
        json_string(stdout, data);
        printf(",\"images\":%d,\"iwae_k\":%d,\"seed\":%llu,\"likelihood\":\"%s\",\"loss\":", r.images, r.iwae_k,
               (unsigned long long)eopt.seed, likelihood_name(cfg));
        json_number(stdout, r.loss);
        printf(",\"rec\":");
        json_number(stdout, r.rec);
        printf(",\"kl\":");
        json_number(stdout, r.kl);
        printf(",\"nll\":");
        if (r.iwae_k > 0) json_number(stdout, r.nll);
        else printf("null");
        printf(",\"nll_se\":");
        if (r.iwae_k > 0) json_number(stdout, r.nll_se);
        else printf("null");
        printf(",\"gaussian_constant\":");
        json_number(stdout, r.rec_constant);
        printf(",\"nll_includes_constant\":%s,\"seconds\":", cfg->likelihood == VAE_LIK_GAUSSIAN ? "true" : "false");
        json_number(stdout, seconds);
        printf("}\n");
    } else {
        printf("# model %s: ", model_path);
        print_shape(stdout, cfg);
        printf(" %s, %s", activation_name(cfg), likelihood_name(cfg));
        if (cfg->likelihood == VAE_LIK_GAUSSIAN)
            printf(" (%s mean)", cfg->gaussian_mean == VAE_MEAN_LINEAR ? "linear" : "sigmoid");
        printf(", %d epochs\n", vae_model_epoch(m));
        printf("# data %s: the first %d of %d %s images, seed %llu\n", data, r.images, images->count,
               images == &ds.test ? "test" : "training", (unsigned long long)eopt.seed);
        printf("ELBO loss  %12.4f nats per image (rec + KL, one z sample each)\n", r.loss);
        printf("  rec      %12.4f\n", r.rec);
        printf("  KL       %12.4f\n", r.kl);
        if (cfg->likelihood == VAE_LIK_GAUSSIAN)
            printf("  (Gaussian: rec and the loss leave out D/2 log 2pi = %.4f)\n", r.rec_constant);
        if (r.iwae_k > 0) {
            printf("IWAE NLL   %12.4f nats per image, -log p(x) with k = %d (+- %.4f s.e. over images)\n", r.nll,
                   r.iwae_k, r.nll_se);
            if (cfg->likelihood == VAE_LIK_GAUSSIAN)
                printf("  (Gaussian: the NLL includes D/2 log 2pi = %.4f)\n", r.rec_constant);
        }
        printf("seconds    %12.2f\n", seconds);
    }
    vae_dataset_free(&ds);
    vae_model_free(m);
    return status;
}

/* --------------------------------------------------------------- encode */

static const char encode_help[] =
    "usage: vae encode --model MODEL [--data DIR] [--split test|train] --out FILE\n"
    "                  [--format csv|f32]\n"
    "\n"
    "Encodes every image of one split of DIR and writes, one row per image in\n"
    "the data's order, the mean mu and log-variance logvar of q(z|x):\n"
    "  csv  a header line 'index,label,mu_0,...,mu_{Z-1},logvar_0,...,logvar_{Z-1}',\n"
    "       then index (from 0), label (-1 when the data has no labels) and the\n"
    "       2Z values, printed so that they read back as the same float32\n"
    "  f32  raw little-endian IEEE float32, no header: per image 2Z values,\n"
    "       mu_0 .. mu_{Z-1} then logvar_0 .. logvar_{Z-1}; the file has\n"
    "       images * 2Z * 4 bytes (numpy: fromfile(f, '<f4').reshape(-1, 2*Z))\n"
    "Z is the model's latent size ('vae info' shows it).\n"
    "\n"
    "  --model MODEL   the model file (required)\n"
    "  --data DIR      MNIST-format folder or image folder [data]\n"
    "  --split S       test (the t10k set, or every tenth image of an image\n"
    "                  folder) or train [test]\n"
    "  --out FILE      the file to write (required); - for stdout\n"
    "  --format F      csv or f32 [csv]\n"
    "  --threads N     threads (default: VAE_THREADS, else one per CPU)\n"
    "\n"
    "exit status: 0 done, 1 runtime error (a file, shapes that differ), 2 usage error\n";

/* Writes the rows of n images: their mu and logvar ([n, Z] each) and labels
 * (NULL: none) from image index first on. Returns 0, or -1 on a write error. */
static int write_rows(FILE *f, int csv, int first, int n, int Z, const float *mu, const float *logvar,
                      const uint8_t *labels)
{
    for (int i = 0; i < n; i++) {
        const float *mr = mu + (size_t)i * Z, *lr = logvar + (size_t)i * Z;
        if (csv) {
            fprintf(f, "%d,%d", first + i, labels ? (int)labels[first + i] : -1);
            for (int j = 0; j < Z; j++) fprintf(f, ",%.9g", (double)mr[j]);
            for (int j = 0; j < Z; j++) fprintf(f, ",%.9g", (double)lr[j]);
            if (fputc('\n', f) == EOF) return -1;
        } else {
            for (int half = 0; half < 2; half++)
                for (int j = 0; j < Z; j++) {
                    float v = half ? lr[j] : mr[j];
                    uint32_t u;
                    memcpy(&u, &v, 4);
                    unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                                          (unsigned char)(u >> 24)};
                    if (fwrite(b, 1, 4, f) != 4) return -1;
                }
        }
    }
    return ferror(f) ? -1 : 0;
}

int cmd_encode(int argc, char **argv)
{
    const char *model_path = NULL, *data = "data", *split = "test", *out = NULL, *format = "csv";
    int help;
    option opts[] = {
        {"model", OPT_STRING, &model_path, 0}, {"data", OPT_STRING, &data, 0},
        {"split", OPT_STRING, &split, 0},      {"out", OPT_STRING, &out, 0},
        {"format", OPT_STRING, &format, 0},    {NULL, OPT_FLAG, NULL, 0},
    };
    int rc = parse_options(argc, argv, opts, &help, NULL);
    if (rc) return rc;
    if (help) {
        fputs(encode_help, stdout);
        return 0;
    }
    if (!model_path) return fail_usage("--model is required");
    if (!out) return fail_usage("--out is required");
    int csv = strcmp(format, "csv") == 0;
    if (!csv && strcmp(format, "f32") != 0) return fail_usage("--format: '%s' is not csv or f32", format);
    int train = strcmp(split, "train") == 0;
    if (!train && strcmp(split, "test") != 0) return fail_usage("--split: '%s' is not test or train", split);

    vae_model *m;
    if (vae_model_load(model_path, &m) != VAE_OK) return fail_runtime();
    const vae_config *cfg = vae_model_get_config(m);
    vae_dataset ds;
    const vae_images *images;
    if ((rc = load_images(data, train, cfg, &ds, &images))) {
        vae_model_free(m);
        return rc;
    }
    int Z = cfg->latent, D = vae_config_input_dim(cfg), status = 0;
    enum { BATCH = 256 };
    int to_stdout = strcmp(out, "-") == 0;
    FILE *f = NULL;
    float *x = malloc(sizeof(float) * (size_t)BATCH * D);
    float *mu = malloc(sizeof(float) * (size_t)BATCH * Z), *logvar = malloc(sizeof(float) * (size_t)BATCH * Z);
    if (!x || !mu || !logvar) {
        fprintf(stderr, "%s: out of memory for a batch of %d images\n", command_name, BATCH);
        status = EXIT_RUNTIME;
        goto done;
    }
    f = to_stdout ? stdout : fopen(out, csv ? "w" : "wb");
    if (!f) {
        fprintf(stderr, "%s: %s: cannot open for writing: %s\n", command_name, out, strerror(errno));
        status = EXIT_RUNTIME;
        goto done;
    }
    int failed = 0; /* the errno of a failed write */
    if (csv) {
        fputs("index,label", f);
        for (int j = 0; j < Z; j++) fprintf(f, ",mu_%d", j);
        for (int j = 0; j < Z; j++) fprintf(f, ",logvar_%d", j);
        fputc('\n', f);
    }
    for (int first = 0; first < images->count && !failed; first += BATCH) {
        int n = images->count - first < BATCH ? images->count - first : BATCH;
        vae_images_copy_float(images, (size_t)first, (size_t)n, x);
        if (vae_encode(m, x, n, mu, logvar) != VAE_OK) {
            status = fail_runtime();
            goto done;
        }
        errno = 0;
        if (write_rows(f, csv, first, n, Z, mu, logvar, images->labels) != 0) failed = errno ? errno : EIO;
    }
    errno = 0;
    if (!failed && (fflush(f) != 0 || ferror(f))) failed = errno ? errno : EIO;
    if (!to_stdout) {
        errno = 0;
        if (fclose(f) != 0 && !failed) failed = errno ? errno : EIO;
        f = NULL;
    }
    if (failed) {
        fprintf(stderr, "%s: %s: write failed: %s\n", command_name, out, strerror(failed));
        status = EXIT_RUNTIME;
        goto done;
    }
    fprintf(to_stdout ? stderr : stdout, "wrote mu and logvar (latent %d) of %d %s images to %s (%s)\n", Z,
            images->count, images == &ds.test ? "test" : "training", to_stdout ? "stdout" : out,
            csv ? "csv" : "f32");
done:
    if (f && !to_stdout) fclose(f);
    free(x);
    free(mu);
    free(logvar);
    vae_dataset_free(&ds);
    vae_model_free(m);
    return status;
}

/* ----------------------------------------------------------------- info */

static const char info_help[] =
    "usage: vae info --model MODEL [--json]\n"
    "\n"
    "Prints what a model file holds: the input shape (rows x cols x channels),\n"
    "the hidden widths (encoder order; the decoder mirrors them), the latent\n"
    "size, the activation, the likelihood (and the Gaussian's mean), beta, the\n"
    "parameter count, the epochs trained, the optimizer step, the seed, the\n"
    "file-format version and the file's size.\n"
    "\n"
    "  --model MODEL   the model file (required)\n"
    "  --json          one JSON object on stdout: model, file_version, file_bytes,\n"
    "                  rows, cols, channels, input_dim, hidden (a list), latent,\n"
    "                  activation, likelihood, gaussian_mean (null for Bernoulli),\n"
    "                  beta, parameters, epochs, epoch_images, step, seed\n"
    "\n"
    "exit status: 0 done, 1 runtime error (a missing or bad file), 2 usage error\n";

int cmd_info(int argc, char **argv)
{
    const char *model_path = NULL;
    int json = 0, help;
    option opts[] = {
        {"model", OPT_STRING, &model_path, 0}, {"json", OPT_FLAG, &json, 0}, {NULL, OPT_FLAG, NULL, 0},
    };
    int rc = parse_options(argc, argv, opts, &help, NULL);
    if (rc) return rc;
    if (help) {
        fputs(info_help, stdout);
        return 0;
    }
    if (!model_path) return fail_usage("--model is required");
    vae_model *m;
    if (vae_model_load(model_path, &m) != VAE_OK) return fail_runtime();
    struct stat st;
    long long bytes = stat(model_path, &st) == 0 ? (long long)st.st_size : -1;
    const vae_config *c = vae_model_get_config(m);
    const char *mean = c->likelihood != VAE_LIK_GAUSSIAN ? NULL
                       : c->gaussian_mean == VAE_MEAN_LINEAR ? "linear" : "sigmoid";
    if (json) {
        printf("{\"model\":");
        json_string(stdout, model_path);
        printf(",\"file_version\":%d,\"file_bytes\":%lld,\"rows\":%d,\"cols\":%d,\"channels\":%d,\"input_dim\":%d,"
               "\"hidden\":[",
               vae_model_file_version(), bytes, c->image_rows, c->image_cols, c->image_channels,
               vae_config_input_dim(c));
        for (int l = 0; l < c->n_hidden; l++) printf("%s%d", l ? "," : "", c->hidden[l]);
        printf("],\"latent\":%d,\"activation\":\"%s\",\"likelihood\":\"%s\",\"gaussian_mean\":", c->latent,
               activation_name(c), likelihood_name(c));
        if (mean) printf("\"%s\"", mean);
        else printf("null");
        printf(",\"beta\":");
        json_number(stdout, c->beta);
        printf(",\"parameters\":%zu,\"epochs\":%d,\"epoch_images\":%d,\"step\":%llu,\"seed\":%llu}\n",
               vae_model_param_count(m), vae_model_epoch(m), vae_model_epoch_images(m),
               (unsigned long long)vae_model_step(m), (unsigned long long)vae_model_seed(m));
    } else {
        printf("model        %s\n", model_path);
        printf("file         version %d, %lld bytes\n", vae_model_file_version(), bytes);
        printf("input        %d x %d x %d (%d values)\n", c->image_rows, c->image_cols, c->image_channels,
               vae_config_input_dim(c));
        printf("hidden       ");
        if (c->n_hidden == 0) printf("none");
        for (int l = 0; l < c->n_hidden; l++) printf("%s%d", l ? "," : "", c->hidden[l]);
        printf("\nlatent       %d\n", c->latent);
        printf("shape        ");
        print_shape(stdout, c);
        printf("\nactivation   %s\n", activation_name(c));
        printf("likelihood   %s", likelihood_name(c));
        if (mean) printf(" (%s mean)", mean);
        printf("\nbeta         %g\n", (double)c->beta);
        printf("parameters   %zu\n", vae_model_param_count(m));
        printf("epochs       %d", vae_model_epoch(m));
        if (vae_model_epoch_images(m) > 0)
            printf(" and %d images of epoch %d", vae_model_epoch_images(m), vae_model_epoch(m) + 1);
        printf("\nstep         %llu\n", (unsigned long long)vae_model_step(m));
        printf("seed         %llu\n", (unsigned long long)vae_model_seed(m));
    }
    vae_model_free(m);
    return 0;
}

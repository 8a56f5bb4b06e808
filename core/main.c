/* main.c - the `vae` command line: train, sample, recon.
 *
 * Exit status: 0 success, 1 a runtime error (a file, memory), 2 a usage error
 * (a bad option or value). Every error is one line on stderr that names the
 * option or file and what is wrong. The library never prints; this file does. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vae.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

static const char *command_name = "vae";

static int fail_usage(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", command_name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see '%s --help')\n", command_name);
    return EXIT_USAGE;
}

static int fail_runtime(void)
{
    fprintf(stderr, "%s: %s\n", command_name, vae_last_error());
    return EXIT_RUNTIME;
}

/* ------------------------------------------------------------- options */

typedef enum { OPT_INT, OPT_U64, OPT_FLOAT, OPT_STRING, OPT_FLAG } option_kind;

typedef struct option {
    const char *name; /* without the leading "--" */
    option_kind kind;
    void *value;
    int min; /* smallest accepted value for OPT_INT */
} option;

static int parse_int(const char *name, const char *text, int min, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > 1000000000L)
        return fail_usage("--%s: '%s' is not an integer >= %d", name, text, min);
    *out = (int)v;
    return 0;
}

static int parse_value(const option *o, const char *text)
{
    char *end;
    switch (o->kind) {
    case OPT_INT:
        return parse_int(o->name, text, o->min, o->value);
    case OPT_U64: {
        errno = 0;
        unsigned long long v = strtoull(text, &end, 10);
        if (errno || end == text || *end || text[0] == '-')
            return fail_usage("--%s: '%s' is not a non-negative integer", o->name, text);
        *(uint64_t *)o->value = v;
        return 0;
    }
    case OPT_FLOAT: {
        errno = 0;
        float v = strtof(text, &end);
        if (errno || end == text || *end || !isfinite(v))
            return fail_usage("--%s: '%s' is not a number", o->name, text);
        *(float *)o->value = v;
        return 0;
    }
    case OPT_STRING:
        *(const char **)o->value = text;
        return 0;
    case OPT_FLAG:
        break;
    }
    return 0;
}

/* GNU-style long options: --name value or --name=value. Sets *help when
 * --help or -h is given, and bit i of *seen (when not NULL) for each option
 * opts[i] given. Returns 0, or the exit status of a usage error. */
static int parse_options(int argc, char **argv, option *opts, int *help, uint64_t *seen)
{
    *help = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            *help = 1;
            return 0;
        }
        if (strncmp(arg, "--", 2) != 0) return fail_usage("unexpected argument '%s'", arg);
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        option *o = NULL;
        for (option *p = opts; p->name; p++)
            if (strlen(p->name) == name_len && strncmp(p->name, name, name_len) == 0) o = p;
        if (!o) return fail_usage("unknown option '%.*s'", (int)(name_len + 2), arg);
        if (seen) *seen |= 1ull << (o - opts);
        if (o->kind == OPT_FLAG) {
            if (eq) return fail_usage("option '--%s' takes no value", o->name);
            *(int *)o->value = 1;
            continue;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc) return fail_usage("option '--%s' needs a value", o->name);
            value = argv[++i];
        }
        int rc = parse_value(o, value);
        if (rc) return rc;
    }
    return 0;
}

/* "400" or "512,256" -> widths; returns 0 or a usage exit status. */
static int parse_hidden(const char *text, vae_config *cfg)
{
    cfg->n_hidden = 0;
    if (strcmp(text, "none") == 0 || text[0] == 0) return 0;
    const char *p = text;
    for (;;) {
        if (cfg->n_hidden == VAE_MAX_HIDDEN)
            return fail_usage("--hidden: '%s' has more than %d layers", text, VAE_MAX_HIDDEN);
        char *end;
        errno = 0;
        long w = strtol(p, &end, 10);
        if (errno || end == p || w < 1 || w > 65536 || (*end && *end != ','))
            return fail_usage("--hidden: '%s' is not a comma-separated list of widths 1..65536", text);
        cfg->hidden[cfg->n_hidden++] = (int)w;
        if (!*end) return 0;
        p = end + 1;
    }
}

/* --------------------------------------------------------------- images */

/* Lays n images (rows x cols x ch floats in [0,1]) out in a grid of
 * grid_cols columns with a 2-pixel black border, as 8-bit pixels. */
static uint8_t *make_grid(const float *images, int n, int rows, int cols, int ch, int grid_cols,
                          int *width, int *height)
{
    const int pad = 2;
    int grid_rows = (n + grid_cols - 1) / grid_cols;
    *width = grid_cols * (cols + pad) + pad;
    *height = grid_rows * (rows + pad) + pad;
    uint8_t *pix = calloc((size_t)*width * (size_t)*height * (size_t)ch, 1);
    if (!pix) return NULL;
    size_t D = (size_t)rows * cols * ch;
    for (int k = 0; k < n; k++) {
        int gx = pad + (k % grid_cols) * (cols + pad), gy = pad + (k / grid_cols) * (rows + pad);
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < cols * ch; x++) {
                float v = images[(size_t)k * D + (size_t)y * cols * ch + x];
                v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
                pix[((size_t)(gy + y) * *width + gx) * ch + x] = (uint8_t)(v * 255.0f + 0.5f);
            }
    }
    return pix;
}

static int write_grid(const float *images, int n, const vae_config *cfg, int grid_cols, const char *path)
{
    int w, h;
    uint8_t *pix = make_grid(images, n, cfg->image_rows, cfg->image_cols, cfg->image_channels, grid_cols, &w, &h);
    if (!pix) {
        fprintf(stderr, "%s: out of memory for a %d-image grid\n", command_name, n);
        return EXIT_RUNTIME;
    }
    int rc = vae_write_image(path, pix, w, h, cfg->image_channels);
    free(pix);
    if (rc != VAE_OK) return fail_runtime();
    return 0;
}

/* ---------------------------------------------------------------- train */

static const char train_help[] =
    "usage: vae train [options]\n"
    "\n"
    "Trains a VAE on MNIST-format data or a folder of images and saves it after\n"
    "every epoch.\n"
    "\n"
    "  --data DIR          folder with train-images-idx3-ubyte and t10k-images-idx3-ubyte\n"
    "                      (IDX of any element type, plain or .gz; labels optional), or\n"
    "                      a folder of .pgm/.ppm/.pnm images of one size, grey or RGB [data]\n"
    "  --test DIR          for an image folder: a folder of test images (without it,\n"
    "                      every tenth image of --data, in name order, is held out)\n"
    "  --out MODEL         model file to write [vae.model]\n"
    "  --likelihood L      bernoulli or gaussian [bernoulli]\n"
    "  --gaussian-mean M   sigmoid or linear: the Gaussian decoder's mean [sigmoid]\n"
    "  --hidden LIST       hidden widths, encoder order, e.g. 400 or 512,256 [400]\n"
    "  --latent Z          latent dimensions [20]\n"
    "  --activation A      relu or tanh [relu]\n"
    "  --epochs N          epochs [10]\n"
    "  --batch B           images per step [128]\n"
    "  --lr RATE           Adam learning rate [0.001]\n"
    "  --beta B            weight of the KL term; 1 is the ELBO [1]\n"
    "  --seed S            seed of the initialization, shuffle and noise [1]\n"
    "  --max-test N        evaluate only the first N test images (0: all) [0]\n"
    "  --resume MODEL      continue training MODEL up to --epochs in total (same\n"
    "                      shape, seed and optimizer state; saved back to MODEL\n"
    "                      unless --out is given)\n"
    "  --threads N         threads (default: VAE_THREADS, else one per CPU)\n"
    "\n"
    "Prints per epoch the train and test loss and KL in nats per image (sums over\n"
    "the pixels and latents; the Gaussian loss leaves out the constant D/2 log 2pi),\n"
    "the seconds of training and the images per second.\n";

typedef struct train_context {
    const vae_model *model;
    const char *out;
    int save_failed;
} train_context;

static int on_epoch(const vae_epoch_report *r, void *user)
{
    train_context *ctx = user;
    printf("%5d %12.4f %10.4f %12.4f %10.4f %9.2f %10.0f\n", r->epoch, r->train_loss, r->train_kl,
           r->test_loss, r->test_kl, r->seconds, r->images_per_second);
    fflush(stdout);
    if (vae_model_save(ctx->model, ctx->out) != VAE_OK) {
        ctx->save_failed = 1;
        return 1;
    }
    return 0;
}

static int cmd_train(int argc, char **argv)
{
    const char *data = "data", *test = NULL, *out = "vae.model", *likelihood = "bernoulli";
    const char *mean = "sigmoid";
    const char *hidden = "400", *activation = "relu", *resume = NULL;
    int latent = 20, max_test = 0, help;
    uint64_t seed = 1;
    float beta = 1.0f;
    vae_train_options topt;
    vae_train_options_default(&topt);
    option opts[] = {
        {"data", OPT_STRING, &data, 0},         {"test", OPT_STRING, &test, 0},
        {"out", OPT_STRING, &out, 0},
        {"likelihood", OPT_STRING, &likelihood, 0}, {"gaussian-mean", OPT_STRING, &mean, 0},
        {"hidden", OPT_STRING, &hidden, 0},     {"latent", OPT_INT, &latent, 1},
        {"activation", OPT_STRING, &activation, 0}, {"epochs", OPT_INT, &topt.epochs, 1},
        {"batch", OPT_INT, &topt.batch, 1},     {"lr", OPT_FLOAT, &topt.lr, 0},
        {"beta", OPT_FLOAT, &beta, 0},          {"seed", OPT_U64, &seed, 0},
        {"max-test", OPT_INT, &max_test, 0},    {"resume", OPT_STRING, &resume, 0},
        {NULL, OPT_FLAG, NULL, 0},
    };
    uint64_t seen = 0;
    int rc = parse_options(argc, argv, opts, &help, &seen);
    if (rc) return rc;
    if (help) {
        fputs(train_help, stdout);
        return 0;
    }
    vae_config cfg;
    vae_config_default(&cfg);
    if ((rc = parse_hidden(hidden, &cfg))) return rc;
    cfg.latent = latent;
    cfg.beta = beta;
    if (strcmp(likelihood, "bernoulli") == 0) cfg.likelihood = VAE_LIK_BERNOULLI;
    else if (strcmp(likelihood, "gaussian") == 0) cfg.likelihood = VAE_LIK_GAUSSIAN;
    else return fail_usage("--likelihood: '%s' is not bernoulli or gaussian", likelihood);
    if (strcmp(mean, "sigmoid") == 0) cfg.gaussian_mean = VAE_MEAN_SIGMOID;
    else if (strcmp(mean, "linear") == 0) cfg.gaussian_mean = VAE_MEAN_LINEAR;
    else return fail_usage("--gaussian-mean: '%s' is not sigmoid or linear", mean);
    if (strcmp(activation, "relu") == 0) cfg.activation = VAE_ACT_RELU;
    else if (strcmp(activation, "tanh") == 0) cfg.activation = VAE_ACT_TANH;
    else return fail_usage("--activation: '%s' is not relu or tanh", activation);
    if (!(topt.lr > 0.0f)) return fail_usage("--lr: must be positive");
    if (!(beta >= 0.0f)) return fail_usage("--beta: must be >= 0");
    topt.max_test = max_test;
    /* Resuming continues a saved model exactly: its shape, seed and
     * optimizer state come from the file, and it is saved back there unless
     * --out says otherwise. */
    if (resume) {
        for (const option *o = opts; o->name; o++)
            if ((seen >> (o - opts) & 1) && (o->value == &likelihood || o->value == &mean || o->value == &hidden ||
                            o->value == &latent || o->value == &activation || o->value == &beta ||
                            o->value == &seed))
                return fail_usage("--%s cannot change a model being resumed (--resume %s)", o->name, resume);
        int out_given = 0;
        for (const option *o = opts; o->name; o++)
            if (o->value == &out) out_given = seen >> (o - opts) & 1;
        if (!out_given) out = resume;
    }

    vae_dataset ds;
    if (vae_dataset_load(data, test, &ds) != VAE_OK) return fail_runtime();
    if (ds.split_from_test)
        fprintf(stderr, "%s: %s holds only the t10k files: training on the first %d images, testing on the last %d\n",
                command_name, data, ds.train.count, ds.test.count);
    if (ds.split_from_train && ds.test.count > 0)
        fprintf(stderr, "%s: no --test folder: holding out every tenth image of %s (%d of %d) for testing\n",
                command_name, data, ds.test.count, ds.train.count + ds.test.count);
    else if (ds.split_from_train)
        fprintf(stderr, "%s: no --test folder and fewer than 10 images in %s: no test set\n", command_name,
                data);
    cfg.image_rows = ds.train.rows;
    cfg.image_cols = ds.train.cols;
    cfg.image_channels = ds.train.channels;

    vae_model *m;
    if ((resume ? vae_model_load(resume, &m) : vae_model_create(&cfg, seed, &m)) != VAE_OK) {
        vae_dataset_free(&ds);
        return fail_runtime();
    }
    if (resume) {
        cfg = *vae_model_get_config(m);
        seed = vae_model_seed(m);
        beta = cfg.beta;
        activation = cfg.activation == VAE_ACT_TANH ? "tanh" : "relu";
        likelihood = cfg.likelihood == VAE_LIK_GAUSSIAN ? "gaussian" : "bernoulli";
        printf("# resuming %s after epoch %d (step %llu), training to epoch %d\n", resume, vae_model_epoch(m),
               (unsigned long long)vae_model_step(m), topt.epochs);
    }
    printf("# data %s: %d training and %d test images of %dx%dx%d\n", data, ds.train.count, ds.test.count,
           cfg.image_rows, cfg.image_cols, cfg.image_channels);
    printf("# model: %d", vae_config_input_dim(&cfg));
    for (int l = 0; l < cfg.n_hidden; l++) printf("-%d", cfg.hidden[l]);
    printf("-%d %s, %s, beta %g, %zu parameters; batch %d, lr %g, seed %llu, kernels %s, threads %d\n",
           cfg.latent, activation, likelihood, (double)beta, vae_model_param_count(m), topt.batch,
           (double)topt.lr, (unsigned long long)seed, vae_isa_name(), vae_get_threads());
    printf("%5s %12s %10s %12s %10s %9s %10s\n", "epoch", "train_loss", "train_kl", "test_loss", "test_kl",
           "seconds", "images/s");
    fflush(stdout);

    train_context ctx = {m, out, 0};
    rc = vae_train(m, &ds.train, &ds.test, &topt, on_epoch, &ctx);
    int status = 0;
    if (rc != VAE_OK || ctx.save_failed) status = fail_runtime();
    else printf("# saved %s\n", out);
    vae_model_free(m);
    vae_dataset_free(&ds);
    return status;
}

/* --------------------------------------------------------------- sample */

static const char sample_help[] =
    "usage: vae sample --model MODEL [--n 64] [--seed 1] --out FILE\n"
    "\n"
    "Draws n latent vectors from the prior N(0, I), decodes them and writes the\n"
    "decoder means as a grid picture (.png, .ppm or .pgm by the extension).\n";

static int cmd_sample(int argc, char **argv)
{
    const char *model_path = NULL, *out = NULL;
    int n = 64, help;
    uint64_t seed = 1;
    option opts[] = {
        {"model", OPT_STRING, &model_path, 0}, {"out", OPT_STRING, &out, 0},
        {"n", OPT_INT, &n, 1},                 {"seed", OPT_U64, &seed, 0},
        {NULL, OPT_FLAG, NULL, 0},
    };
    int rc = parse_options(argc, argv, opts, &help, NULL);
    if (rc) return rc;
    if (help) {
        fputs(sample_help, stdout);
        return 0;
    }
    if (!model_path) return fail_usage("--model is required");
    if (!out) return fail_usage("--out is required");
    if (n > 10000) return fail_usage("--n: %d is more than 10000 images", n);
    vae_model *m;
    if (vae_model_load(model_path, &m) != VAE_OK) return fail_runtime();
    const vae_config *cfg = vae_model_get_config(m);
    int Z = cfg->latent, D = vae_config_input_dim(cfg);
    float *z = malloc(sizeof(float) * (size_t)n * Z), *mean = malloc(sizeof(float) * (size_t)n * D);
    int status = 0;
    if (!z || !mean) {
        fprintf(stderr, "%s: out of memory for %d samples\n", command_name, n);
        status = EXIT_RUNTIME;
        goto done;
    }
    for (int r = 0; r < n; r++)
        for (int j = 0; j < Z; j++)
            z[(size_t)r * Z + j] = vae_normal(seed, VAE_STREAM_SAMPLE, 0, (uint32_t)r, (uint32_t)j);
    if (vae_decode(m, z, n, mean) != VAE_OK) {
        status = fail_runtime();
        goto done;
    }
    int grid_cols = (int)ceil(sqrt((double)n));
    status = write_grid(mean, n, cfg, grid_cols, out);
    if (!status) printf("wrote %d samples to %s\n", n, out);
done:
    free(z);
    free(mean);
    vae_model_free(m);
    return status;
}

/* ---------------------------------------------------------------- recon */

static const char recon_help[] =
    "usage: vae recon --model MODEL [--data DIR] [--n 32] --out FILE\n"
    "\n"
    "Encodes the first n test images, decodes their latent means and writes a\n"
    "grid in which each row of originals is followed by its reconstructions.\n"
    "DIR is an MNIST-format folder or a folder of images, as for 'vae train'\n"
    "(the test images are the same: the t10k set, or every tenth image); when it\n"
    "has no test images, its training images are used.\n";

static int cmd_recon(int argc, char **argv)
{
    const char *model_path = NULL, *out = NULL, *data = "data";
    int n = 32, help;
    option opts[] = {
        {"model", OPT_STRING, &model_path, 0}, {"out", OPT_STRING, &out, 0},
        {"data", OPT_STRING, &data, 0},        {"n", OPT_INT, &n, 1},
        {NULL, OPT_FLAG, NULL, 0},
    };
    int rc = parse_options(argc, argv, opts, &help, NULL);
    if (rc) return rc;
    if (help) {
        fputs(recon_help, stdout);
        return 0;
    }
    if (!model_path) return fail_usage("--model is required");
    if (!out) return fail_usage("--out is required");
    if (n > 10000) return fail_usage("--n: %d is more than 10000 images", n);
    vae_model *m;
    if (vae_model_load(model_path, &m) != VAE_OK) return fail_runtime();
    vae_dataset ds;
    if (vae_dataset_load(data, NULL, &ds) != VAE_OK) {
        vae_model_free(m);
        return fail_runtime();
    }
    const vae_images *images = ds.test.count > 0 ? &ds.test : &ds.train;
    const vae_config *cfg = vae_model_get_config(m);
    int status = 0, Z = cfg->latent, D = vae_config_input_dim(cfg);
    float *x = NULL, *z = NULL, *mean = NULL, *grid = NULL;
    if (images->rows != cfg->image_rows || images->cols != cfg->image_cols ||
        images->channels != cfg->image_channels) {
        fprintf(stderr, "%s: %s: images are %dx%dx%d but the model takes %dx%dx%d\n", command_name, data,
                images->rows, images->cols, images->channels, cfg->image_rows, cfg->image_cols,
                cfg->image_channels);
        status = EXIT_RUNTIME;
        goto done;
    }
    if (n > images->count) n = images->count;
    const int per_row = 8;
    x = malloc(sizeof(float) * (size_t)n * D);
    z = malloc(sizeof(float) * (size_t)n * Z);
    mean = malloc(sizeof(float) * (size_t)n * D);
    int grid_rows = 2 * ((n + per_row - 1) / per_row);
    grid = malloc(sizeof(float) * (size_t)grid_rows * per_row * D);
    if (!x || !z || !mean || !grid) {
        fprintf(stderr, "%s: out of memory for %d images\n", command_name, n);
        status = EXIT_RUNTIME;
        goto done;
    }
    vae_images_copy_float(images, 0, (size_t)n, x);
    if (vae_encode(m, x, n, z, NULL) != VAE_OK || vae_decode(m, z, n, mean) != VAE_OK) {
        status = fail_runtime();
        goto done;
    }
    /* Rows of per_row originals, each followed by a row of their reconstructions. */
    int cells = 0;
    for (int start = 0; start < n; start += per_row) {
        int count = n - start < per_row ? n - start : per_row;
        for (int pass = 0; pass < 2; pass++)
            for (int k = 0; k < per_row; k++, cells++) {
                float *cell = grid + (size_t)cells * D;
                if (k < count)
                    memcpy(cell, (pass ? mean : x) + (size_t)(start + k) * D, sizeof(float) * (size_t)D);
                else
                    memset(cell, 0, sizeof(float) * (size_t)D);
            }
    }
    status = write_grid(grid, cells, cfg, per_row, out);
    if (!status) printf("wrote %d originals and reconstructions to %s\n", n, out);
done:
    free(x);
    free(z);
    free(mean);
    free(grid);
    vae_dataset_free(&ds);
    vae_model_free(m);
    return status;
}

/* ----------------------------------------------------------------- main */

static const char main_help[] =
    "usage: vae COMMAND [options]\n"
    "\n"
    "A dependency-free Variational Autoencoder engine.\n"
    "\n"
    "commands:\n"
    "  train    train a model on MNIST-format data or a folder of images\n"
    "  sample   decode draws from the prior into a picture\n"
    "  recon    write test images beside their reconstructions\n"
    "\n"
    "  vae COMMAND --help   options of a command\n"
    "  vae --version        version and the kernels in use\n"
    "\n"
    "every command takes --threads N (default: VAE_THREADS, else one per online CPU);\n"
    "the results are the same bits for any thread count.\n"
    "environment: VAE_ISA=scalar|avx2|avx512|neon forces a kernel set.\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_help, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(main_help, stdout);
        return 0;
    }
    /* --threads N (or VAE_THREADS) applies to every command: take it out of
     * argv here, so each command's parser never sees it. */
    int threads = 0;
    const char *env_threads = getenv("VAE_THREADS");
    if (env_threads && parse_int("VAE_THREADS", env_threads, 1, &threads)) return EXIT_USAGE;
    int kept = 2;
    for (int i = 2; i < argc; i++) {
        const char *value = NULL;
        if (strcmp(argv[i], "--threads") == 0) {
            if (i + 1 >= argc) return fail_usage("option '--threads' needs a value");
            value = argv[++i];
        } else if (strncmp(argv[i], "--threads=", 10) == 0) {
            value = argv[i] + 10;
        } else {
            argv[kept++] = argv[i];
            continue;
        }
        if (parse_int("threads", value, 1, &threads)) return EXIT_USAGE;
    }
    argc = kept;
    if (vae_set_threads(threads) != VAE_OK) {
        fprintf(stderr, "vae: %s\n", vae_last_error());
        return EXIT_RUNTIME;
    }
    const char *isa = getenv("VAE_ISA");
    if (isa && vae_isa_select(isa) != VAE_OK) {
        fprintf(stderr, "vae: VAE_ISA: %s\n", vae_last_error());
        return EXIT_USAGE;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("vae %s (kernels: %s, threads: %d)\n", VAE_VERSION, vae_isa_name(), vae_get_threads());
        return 0;
    }
    static const struct {
        const char *name;
        int (*run)(int, char **);
    } commands[] = {{"train", cmd_train}, {"sample", cmd_sample}, {"recon", cmd_recon}};
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0) {
            static char name[32];
            snprintf(name, sizeof name, "vae %s", cmd);
            command_name = name;
            return commands[i].run(argc - 2, argv + 2);
        }
    fprintf(stderr, "vae: unknown command '%s' (see 'vae --help')\n", cmd);
    return EXIT_USAGE;
}

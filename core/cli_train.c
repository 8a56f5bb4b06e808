/* cli_train.c - `vae train`: train a model on a data folder, saving it after
 * every epoch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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

int cmd_train(int argc, char **argv)
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


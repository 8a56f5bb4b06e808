/* cli_train.c - `vae train`: train a model on a data folder, saving it
 * every --save-every epochs, with a per-epoch table or JSON lines, a
 * progress bar on a terminal, and a clean stop on SIGINT/SIGTERM that saves
 * the model reached so far. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* ---------------------------------------------------------------- train */

static const char train_help[] =
    "usage: vae train [options]\n"
    "\n"
    "Trains a VAE on MNIST-format data or a folder of images and saves it every\n"
    "--save-every epochs and after the last.\n"
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
    "  --warmup-epochs W   KL warm-up: the KL weight rises linearly, step by step, from\n"
    "                      0 to --beta over the first W epochs (0: off) [0]; the model\n"
    "                      file keeps --beta, and the test loss always uses it\n"
    "  --seed S            seed of the initialization, shuffle and noise [1]\n"
    "  --max-test N        evaluate only the first N test images (0: all) [0]\n"
    "  --test-every N      test pass every N epochs and after the last [1]\n"
    "  --save-every N      save every N epochs and after the last [1]\n"
    "  --resume MODEL      continue training MODEL up to --epochs in total (same\n"
    "                      shape, seed and optimizer state; saved back to MODEL\n"
    "                      unless --out is given). A model stopped inside an epoch\n"
    "                      continues at the image it stopped at: with the same --data,\n"
    "                      --batch, --lr and --warmup-epochs (the file does not keep\n"
    "                      them) the result is the same file as a run never stopped;\n"
    "                      another --batch goes on from that image in new batches\n"
    "  --json              one JSON object per epoch on stdout instead of the table:\n"
    "                      epoch, train_loss, train_kl, test_loss, test_kl (null when\n"
    "                      not tested), seconds, images_per_second, beta, saved\n"
    "  --quiet             no table, JSON or notes; errors still go to stderr\n"
    "  --threads N         threads (default: VAE_THREADS, else one per CPU)\n"
    "\n"
    "Prints per epoch the train and test loss and KL in nats per image (sums over\n"
    "the pixels and latents; the Gaussian loss leaves out the constant D/2 log 2pi),\n"
    "the seconds of training and the images per second. The train loss uses the\n"
    "KL weight in use (during a warm-up, below --beta; the beta column or key\n"
    "shows the weight of the epoch's last step); the test loss always uses --beta.\n"
    "On a terminal, stderr shows a progress bar while an epoch runs.\n"
    "\n"
    "Ctrl-C (SIGINT) or SIGTERM stops training at the end of the current batch,\n"
    "saves the model reached so far to --out (atomically, as every save: a\n"
    "temporary file beside it, renamed over it; further signals during the save\n"
    "are ignored), prints how to resume, and exits with 128 + the signal number:\n"
    "130 for SIGINT, 143 for SIGTERM. A save killed outright (SIGKILL, a crash)\n"
    "leaves the previous model intact and may leave a MODEL.tmp.XXXXXX file,\n"
    "which can be deleted.\n"
    "\n"
    "exit status: 0 done, 1 runtime error, 2 usage error, 130/143 stopped by a signal\n";

/* ------------------------------------------------------------ signals */

/* The signal that asked training to stop (0: none). The handler only sets
 * it; the progress callback reads it between batches, so a stop always
 * falls on a batch boundary and the model saved is one the steps reached. */
static volatile sig_atomic_t stop_signal = 0;

static void on_stop_signal(int sig)
{
    if (!stop_signal) stop_signal = sig; /* the first one names the stop */
}

/* SIGINT and SIGTERM set stop_signal from now on. The handler stays in
 * place through the final save, so a second Ctrl-C cannot cut it short. */
static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT); /* the handlers never nest */
    sigaddset(&sa.sa_mask, SIGTERM);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* ------------------------------------------------------ progress bar */

static double monotonic_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* 41234 -> "41,234": digits in groups of three. */
static void group_thousands(char *out, size_t cap, long long v)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", v < 0 ? 0 : v);
    size_t k = 0;
    for (int i = 0; i < n && k + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0) out[k++] = ',';
        out[k++] = digits[i];
    }
    out[k] = 0;
}

/* 12 -> "12s", 185 -> "3m05s", 3725 -> "1h02m". */
static void format_duration(char *out, size_t cap, double seconds)
{
    long s = seconds < 0 ? 0 : seconds > 359999 ? 359999 : (long)(seconds + 0.5);
    if (s < 60) snprintf(out, cap, "%lds", s);
    else if (s < 3600) snprintf(out, cap, "%ldm%02lds", s / 60, s % 60);
    else snprintf(out, cap, "%ldh%02ldm", s / 3600, s / 60 % 60);
}

typedef struct progress_bar {
    int on;            /* stderr is a terminal and --quiet is not given */
    int epoch;         /* the epoch being drawn */
    int first;         /* images done when the epoch (or resume) began */
    double t0, drawn_at;
    int width;         /* characters of the line on screen, 0: none */
} progress_bar;

/* Erases the bar, so the next line starts on a clean row. */
static void progress_clear(progress_bar *b)
{
    if (b->width > 0) {
        fprintf(stderr, "\r%*s\r", b->width, "");
        fflush(stderr);
        b->width = 0;
    }
}

/* Redraws "epoch 3/10 [#####.....] 45% 41,234 img/s ETA 12s" with \r, at
 * most ten times a second. The rate is of this epoch so far:
 *   rate = (done - first) / (now - t0),  ETA = (total - done) / rate. */
static void progress_draw(progress_bar *b, int epoch, int epochs, int done, int total)
{
    double now = monotonic_seconds();
    if (epoch != b->epoch) {
        b->epoch = epoch;
        b->first = done;
        b->t0 = now;
        b->drawn_at = 0.0;
    }
    if (now - b->drawn_at < 0.1) return;
    b->drawn_at = now;
    enum { BAR = 20 };
    char bar[BAR + 1], rate[48] = "-", eta[32] = "-";
    int filled = total > 0 ? (int)((long long)done * BAR / total) : 0;
    for (int i = 0; i < BAR; i++) bar[i] = i < filled ? '#' : '.';
    bar[BAR] = 0;
    double elapsed = now - b->t0;
    if (done > b->first && elapsed > 0.0) {
        double per_second = (done - b->first) / elapsed;
        group_thousands(rate, sizeof rate, (long long)(per_second + 0.5));
        format_duration(eta, sizeof eta, (total - done) / per_second);
    }
    char line[160];
    int len = snprintf(line, sizeof line, "epoch %d/%d [%s] %3d%% %s img/s ETA %s", epoch, epochs, bar,
                       total > 0 ? (int)((long long)done * 100 / total) : 0, rate, eta);
    if (len < 0) return;
    if (len >= (int)sizeof line) len = (int)sizeof line - 1;
    /* pad over a longer previous line */
    fprintf(stderr, "\r%s%*s", line, b->width > len ? b->width - len : 0, "");
    fflush(stderr);
    if (len > b->width) b->width = len;
}

/* ----------------------------------------------------- epoch reports */

typedef struct train_context {
    vae_model *model;
    const char *out;
    int epochs, save_every, json, quiet, warmup;
    int save_failed;
    int saved;             /* a save happened in this run */
    uint64_t saved_step;   /* the step of the last save */
    progress_bar bar;
} train_context;

/* Saves the model to ctx->out; 0 or -1 (the error is in vae_last_error). */
static int save_model(train_context *ctx)
{
    if (vae_model_save(ctx->model, ctx->out) != VAE_OK) return -1;
    ctx->saved = 1;
    ctx->saved_step = vae_model_step(ctx->model);
    return 0;
}

/* A JSON number, or null for what JSON cannot hold (inf, nan). */
static void json_number(const char *key, double v, int last)
{
    if (isfinite(v)) printf("\"%s\":%.9g%s", key, v, last ? "" : ",");
    else printf("\"%s\":null%s", key, last ? "" : ",");
}

static void print_json_line(const vae_epoch_report *r, int saved)
{
    printf("{\"epoch\":%d,", r->epoch);
    json_number("train_loss", r->train_loss, 0);
    json_number("train_kl", r->train_kl, 0);
    if (r->tested) {
        json_number("test_loss", r->test_loss, 0);
        json_number("test_kl", r->test_kl, 0);
    } else {
        printf("\"test_loss\":null,\"test_kl\":null,");
    }
    json_number("seconds", r->seconds, 0);
    json_number("images_per_second", r->images_per_second, 0);
    json_number("beta", r->beta, 0);
    printf("\"saved\":%s}\n", saved ? "true" : "false");
}

static void print_table_line(const vae_epoch_report *r, int warmup)
{
    printf("%5d %12.4f %10.4f ", r->epoch, r->train_loss, r->train_kl);
    if (r->tested) printf("%12.4f %10.4f", r->test_loss, r->test_kl);
    else printf("%12s %10s", "-", "-");
    printf(" %9.2f %10.0f", r->seconds, r->images_per_second);
    if (warmup) printf(" %8.4f", r->beta);
    printf("\n");
}

/* After each epoch: save when it is a --save-every epoch or the last, then
 * report it (so "saved" in a JSON line is already true on disk). */
static int on_epoch(const vae_epoch_report *r, void *user)
{
    train_context *ctx = user;
    progress_clear(&ctx->bar);
    int saved = 0;
    if (r->epoch % ctx->save_every == 0 || r->epoch >= ctx->epochs) {
        if (save_model(ctx) != 0) {
            ctx->save_failed = 1;
            return 1;
        }
        saved = 1;
    }
    if (!ctx->quiet) {
        if (ctx->json) print_json_line(r, saved);
        else print_table_line(r, ctx->warmup);
        fflush(stdout);
    }
    return 0;
}

/* Between batches: stop when a signal came, else draw the bar. */
static int on_progress(int epoch, int done, int total, void *user)
{
    train_context *ctx = user;
    if (stop_signal) return 1;
    if (ctx->bar.on) progress_draw(&ctx->bar, epoch, ctx->epochs, done, total);
    return 0;
}

/* ------------------------------------------------------ interruption */

/* A word of argv safe to paste into a shell: as is when it holds only
 * ordinary characters, else in single quotes. */
static void print_shell_word(FILE *f, const char *w)
{
    int plain = w[0] != 0;
    for (const char *p = w; *p; p++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./,=:+@%", *p)) plain = 0;
    if (plain) {
        fputs(w, f);
        return;
    }
    fputc('\'', f);
    for (const char *p = w; *p; p++)
        if (*p == '\'') fputs("'\\''", f);
        else fputc(*p, f);
    fputc('\'', f);
}

/* "vae train --resume OUT" and the options of this run that a resume takes
 * again (data, epochs, batch, lr, warm-up, ...): every one given except the
 * model's shape, which the file holds, and --out/--resume. */
static void print_resume_command(FILE *f, const char *out, int argc, char **argv, const option *opts,
                                 const void *const *skip, int n_skip)
{
    fputs("vae train --resume ", f);
    print_shell_word(f, out);
    for (int i = 0; i < argc; i++) {
        const char *name = argv[i] + 2, *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const option *o = NULL;
        for (const option *p = opts; p->name; p++)
            if (strlen(p->name) == name_len && strncmp(p->name, name, name_len) == 0) o = p;
        if (!o) continue; /* cannot happen: the arguments were parsed */
        int has_next = o->kind != OPT_FLAG && !eq;
        int keep = 1;
        for (int k = 0; k < n_skip; k++)
            if (o->value == skip[k]) keep = 0;
        if (keep) {
            fputc(' ', f);
            print_shell_word(f, argv[i]);
            if (has_next && i + 1 < argc) {
                fputc(' ', f);
                print_shell_word(f, argv[i + 1]);
            }
        }
        if (has_next) i++;
    }
    fputc('\n', f);
}

int cmd_train(int argc, char **argv)
{
    const char *data = "data", *test = NULL, *out = "vae.model", *likelihood = "bernoulli";
    const char *mean = "sigmoid";
    const char *hidden = "400", *activation = "relu", *resume = NULL;
    int latent = 20, max_test = 0, save_every = 1, json = 0, quiet = 0, help;
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
        {"warmup-epochs", OPT_INT, &topt.warmup_epochs, 0},
        {"test-every", OPT_INT, &topt.test_every, 1},
        {"save-every", OPT_INT, &save_every, 1},
        {"json", OPT_FLAG, &json, 0},           {"quiet", OPT_FLAG, &quiet, 0},
        {NULL, OPT_FLAG, NULL, 0},
    };
    uint64_t seen = 0;
    int rc = parse_options(argc, argv, opts, &help, &seen);
    if (rc) return rc;
    if (help) {
        fputs(train_help, stdout);
        return 0;
    }
    if (json && quiet) return fail_usage("--json and --quiet: give one or the other");
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
    /* What the model file holds, which a resume cannot change (and which a
     * printed resume command leaves out), with --out and --resume. */
    const void *const model_options[] = {&likelihood, &mean, &hidden, &latent, &activation, &beta, &seed};
    const void *const not_resumed[] = {&likelihood, &mean, &hidden, &latent, &activation, &beta, &seed,
                                       &out, &resume};
    const int n_model_options = (int)(sizeof model_options / sizeof model_options[0]);
    /* Resuming continues a saved model exactly: its shape, seed and
     * optimizer state come from the file, and it is saved back there unless
     * --out says otherwise. */
    if (resume) {
        for (const option *o = opts; o->name; o++)
            for (int k = 0; k < n_model_options; k++)
                if ((seen >> (o - opts) & 1) && o->value == model_options[k])
                    return fail_usage("--%s cannot change a model being resumed (--resume %s)", o->name, resume);
        int out_given = 0;
        for (const option *o = opts; o->name; o++)
            if (o->value == &out) out_given = seen >> (o - opts) & 1;
        if (!out_given) out = resume;
    }
    /* The table goes to stdout; with --json, stdout holds only the JSON
     * lines and these notes go to stderr; --quiet drops them. */
    FILE *notes = quiet ? NULL : json ? stderr : stdout;

    vae_dataset ds;
    if (vae_dataset_load(data, test, &ds) != VAE_OK) return fail_runtime();
    if (!quiet && ds.split_from_test)
        fprintf(stderr, "%s: %s holds only the t10k files: training on the first %d images, testing on the last %d\n",
                command_name, data, ds.train.count, ds.test.count);
    if (!quiet && ds.split_from_train && ds.test.count > 0)
        fprintf(stderr, "%s: no --test folder: holding out every tenth image of %s (%d of %d) for testing\n",
                command_name, data, ds.test.count, ds.train.count + ds.test.count);
    else if (!quiet && ds.split_from_train)
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
        if (notes) {
            fprintf(notes, "# resuming %s after epoch %d", resume, vae_model_epoch(m));
            if (vae_model_epoch_images(m) > 0)
                fprintf(notes, " and %d images of epoch %d", vae_model_epoch_images(m), vae_model_epoch(m) + 1);
            fprintf(notes, " (step %llu), training to epoch %d\n", (unsigned long long)vae_model_step(m),
                    topt.epochs);
        }
    }
    if (notes) {
        fprintf(notes, "# data %s: %d training and %d test images of %dx%dx%d\n", data, ds.train.count,
                ds.test.count, cfg.image_rows, cfg.image_cols, cfg.image_channels);
        fprintf(notes, "# model: %d", vae_config_input_dim(&cfg));
        for (int l = 0; l < cfg.n_hidden; l++) fprintf(notes, "-%d", cfg.hidden[l]);
        fprintf(notes, "-%d %s, %s, beta %g, %zu parameters; batch %d, lr %g, seed %llu, kernels %s, threads %d\n",
                cfg.latent, activation, likelihood, (double)beta, vae_model_param_count(m), topt.batch,
                (double)topt.lr, (unsigned long long)seed, vae_isa_name(), vae_get_threads());
        if (topt.warmup_epochs > 0)
            fprintf(notes, "# KL warm-up: the KL weight rises from 0 to %g over %d epochs\n", (double)beta,
                    topt.warmup_epochs);
    }
    if (!quiet && !json) {
        printf("%5s %12s %10s %12s %10s %9s %10s", "epoch", "train_loss", "train_kl", "test_loss", "test_kl",
               "seconds", "images/s");
        if (topt.warmup_epochs > 0) printf(" %8s", "beta");
        printf("\n");
    }
    fflush(stdout);

    train_context ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.model = m;
    ctx.out = out;
    ctx.epochs = topt.epochs;
    ctx.save_every = save_every;
    ctx.json = json;
    ctx.quiet = quiet;
    ctx.warmup = topt.warmup_epochs > 0;
    ctx.bar.on = !quiet && isatty(STDERR_FILENO);
    topt.progress = on_progress;
    catch_stop_signals();
    rc = vae_train(m, &ds.train, &ds.test, &topt, on_epoch, &ctx);
    progress_clear(&ctx.bar);
    int status = 0, sig = stop_signal;
    if (rc != VAE_OK || ctx.save_failed) {
        status = fail_runtime();
    } else if (sig) {
        /* Stopped by a signal: save where the steps got to (unless the last
         * save already holds it) and say how to go on. */
        if ((!ctx.saved || ctx.saved_step != vae_model_step(m)) && save_model(&ctx) != 0) {
            status = fail_runtime();
        } else {
            int epoch = vae_model_epoch(m), images = vae_model_epoch_images(m);
            fprintf(stderr, "%s: stopped by %s: saved %s after epoch %d", command_name,
                    sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal", out, epoch);
            if (images > 0) fprintf(stderr, " and %d of %d images of epoch %d", images, ds.train.count, epoch + 1);
            fprintf(stderr, " (step %llu)\n", (unsigned long long)vae_model_step(m));
            if (epoch < topt.epochs) {
                fprintf(stderr, "%s: to resume: ", command_name);
                print_resume_command(stderr, out, argc, argv, opts, not_resumed,
                                     (int)(sizeof not_resumed / sizeof not_resumed[0]));
            }
            status = 128 + sig;
        }
    } else if (ctx.saved) {
        if (notes) fprintf(notes, "# saved %s\n", out);
    } else if (!quiet) {
        fprintf(stderr, "%s: %s already has %d epochs (--epochs %d): nothing to train, nothing saved\n",
                command_name, resume ? resume : out, vae_model_epoch(m), topt.epochs);
    }
    vae_model_free(m);
    vae_dataset_free(&ds);
    return status;
}

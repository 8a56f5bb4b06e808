/* check_cli_train.c - the training conveniences: --json, --quiet,
 * --save-every, --test-every, --warmup-epochs, the progress bar on a
 * terminal, a clean stop on SIGINT/SIGTERM that saves a model which resumes
 * to the same bytes as a run never stopped, and saves that survive SIGKILL.
 * The library half (progress callback, warm-up weights, stopping inside an
 * epoch) is checked against hand-computed positions and weights; the command
 * line half runs $VAE_TEST_RUNNER "$VAE_TEST_PROG" as check_cli.c does. */
#define _XOPEN_SOURCE 700 /* posix_openpt, grantpt, unlockpt, ptsname */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/inotify.h>
#endif

#include "cli_util.h"
#include "vae.h"


static char workdir[256];
static char out_text[65536], err_text[65536];

/* ------------------------------------------------------------ helpers */

static void sleep_ms(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static void read_text(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
}

/* Runs a shell command (cd'd into workdir) with stdout into out_text and
 * stderr into err_text; returns the exit status (128 + signal if killed). */
static int run(const char *fmt, ...)
{
    char cmd[2048], full[3000], out_path[300], err_path[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(out_path, sizeof out_path, "%s/stdout.txt", workdir);
    snprintf(err_path, sizeof err_path, "%s/stderr.txt", workdir);
    snprintf(full, sizeof full, "cd %s && %s >%s 2>%s", workdir, cmd, out_path, err_path);
    int status = system(full);
    read_text(out_path, out_text, sizeof out_text);
    read_text(err_path, err_text, sizeof err_text);
    return cli_exit_status(status);
}

/* Starts `sh -c "cd workdir && exec CMD"` in the background: the shell
 * becomes the program, so the pid is the program's (or its emulator's). */
static pid_t spawn(const char *cmd)
{
    char full[3000];
    snprintf(full, sizeof full, "cd %s && exec %s", workdir, cmd);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", full, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static int wait_status(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return -1;
    return cli_exit_status(status);
}

/* The byte of pixel (y, x) of image k of the small set: a bright bar whose
 * row depends on the index (as check_cli.c's). */
static unsigned char bar_pixel(int k, int y, int x)
{
    return (unsigned char)(y == k % 6 ? 230 : 10 + x + 7 * (k % 5));
}

/* An IDX file of n 6x5 bar images. */
static void write_bar_idx(const char *path, int n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    cli_idx_images_header(f, (unsigned)n, 6, 5);
    for (int k = 0; k < n; k++)
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 5; x++) fputc(bar_pixel(k, y, x), f);
    fclose(f);
}

/* An IDX file of n 28x28 images of bytes from a 64-bit LCG. */
static void write_random_idx(const char *path, int n, uint64_t seed)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    cli_idx_images_header(f, (unsigned)n, 28, 28);
    static unsigned char row[784];
    for (int k = 0; k < n; k++) {
        for (int i = 0; i < 784; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            row[i] = (unsigned char)(seed >> 56);
        }
        fwrite(row, 1, sizeof row, f);
    }
    fclose(f);
}

static void setup(void)
{
    setenv("VAE_TEST_PROG", "./vae", 0);
    char prog[300];
    const char *p = getenv("VAE_TEST_PROG");
    if (p[0] != '/') { /* the commands run in workdir: make it absolute */
        char cwd[200];
        ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
        snprintf(prog, sizeof prog, "%s/%s", cwd, p);
        setenv("VAE_TEST_PROG", prog, 1);
    }
    snprintf(workdir, sizeof workdir, "/tmp/vae-cli-train-%ld", (long)getpid());
    mkdir(workdir, 0755);
    char path[400];
    snprintf(path, sizeof path, "%s/bars", workdir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/bars/train-images-idx3-ubyte", workdir);
    write_bar_idx(path, 60);
    snprintf(path, sizeof path, "%s/bars/t10k-images-idx3-ubyte", workdir);
    write_bar_idx(path, 12);
}

static void teardown(void)
{
    cli_remove_dir(workdir);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The first 112 bytes of a model file (see core/checkpoint.c): epoch at
 * 96, images into the next epoch at 100, step at 88, beta at 76. */
static void read_header(const char *name, uint8_t h[112])
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", workdir, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "no model file %s", path);
    ck_assert_uint_eq(fread(h, 1, 112, f), 112);
    fclose(f);
}

static float header_beta(const uint8_t h[112])
{
    uint32_t u = le32(h + 76);
    float b;
    memcpy(&b, &u, 4);
    return b;
}

static uint8_t *read_file_bytes(const char *name, size_t *n)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", workdir, name);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)len + 1);
    ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* ------------------------------------------------- a small JSON reader */

/* One flat JSON object: string keys, values a number, null, true or false. */
typedef struct json_object {
    int n;
    char key[16][32];
    int is_null[16];
    double number[16];
} json_object;

static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r') p++;
    return p;
}

/* Parses one line as a flat object; 0 when it is valid JSON of that form.
 * Numbers follow JSON's grammar (no nan, inf, hex or leading '+'). */
static int parse_json_object(const char *line, json_object *o)
{
    o->n = 0;
    const char *p = skip_space(line);
    if (*p++ != '{') return -1;
    p = skip_space(p);
    if (*p == '}') return *skip_space(p + 1) ? -1 : 0;
    for (;;) {
        if (o->n == 16 || *p++ != '"') return -1;
        size_t k = 0;
        while (*p && *p != '"' && *p != '\\' && k < 31) o->key[o->n][k++] = *p++;
        if (*p++ != '"') return -1;
        o->key[o->n][k] = 0;
        p = skip_space(p);
        if (*p++ != ':') return -1;
        p = skip_space(p);
        o->is_null[o->n] = 0;
        o->number[o->n] = 0;
        if (strncmp(p, "null", 4) == 0) {
            o->is_null[o->n] = 1;
            p += 4;
        } else if (strncmp(p, "true", 4) == 0) {
            o->number[o->n] = 1;
            p += 4;
        } else if (strncmp(p, "false", 5) == 0) {
            p += 5;
        } else {
            const char *q = p;
            if (*q == '-') q++;
            if (*q < '0' || *q > '9') return -1;
            if (*q == '0' && q[1] >= '0' && q[1] <= '9') return -1;
            char *end;
            o->number[o->n] = strtod(p, &end);
            for (const char *c = p; c < end; c++)
                if (!strchr("0123456789+-.eE", *c)) return -1;
            p = end;
        }
        o->n++;
        p = skip_space(p);
        if (*p == '}') return *skip_space(p + 1) ? -1 : 0;
        if (*p++ != ',') return -1;
        p = skip_space(p);
    }
}

/* The index of key in o, or -1. */
static int json_find(const json_object *o, const char *key)
{
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->key[i], key) == 0) return i;
    return -1;
}

/* Splits text into lines and parses each as an object; returns the count,
 * failing the test on a line that is not one. */
static int parse_json_lines(char *text, json_object *objs, int cap)
{
    int n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        ck_assert_msg(n < cap, "more JSON lines than expected");
        ck_assert_msg(parse_json_object(line, &objs[n]) == 0, "not a JSON object: '%s'", line);
        n++;
    }
    return n;
}

static double json_number(const json_object *o, const char *key)
{
    int i = json_find(o, key);
    ck_assert_msg(i >= 0, "JSON line lacks \"%s\"", key);
    ck_assert_msg(!o->is_null[i], "\"%s\" is null", key);
    return o->number[i];
}

/* ---------------------------------------- library: progress and stops */

/* The 60 bar images of train-images-idx3-ubyte, built in memory. */
static vae_images bar_images(int n)
{
    vae_images im = {n, 6, 5, 1, malloc((size_t)n * 30), NULL, NULL};
    for (int k = 0; k < n; k++)
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 5; x++) im.pixels[k * 30 + y * 5 + x] = bar_pixel(k, y, x);
    return im;
}

static vae_model *small_model(float beta)
{
    vae_config cfg;
    vae_config_default(&cfg);
    cfg.image_rows = 6;
    cfg.image_cols = 5;
    cfg.n_hidden = 1;
    cfg.hidden[0] = 8;
    cfg.latent = 2;
    cfg.beta = beta;
    vae_model *m;
    ck_assert_int_eq(vae_model_create(&cfg, 7, &m), VAE_OK);
    return m;
}

/* What the callbacks saw. */
typedef struct trace {
    const vae_model *m;
    int calls, epoch[64], done[64], total[64];
    float beta[64];     /* the model's KL weight at each progress call */
    int stop_at_epoch, stop_at_done; /* return 1 at this call (0: never) */
    int reports, report_epoch[8], report_images[8], report_tested[8];
    double report_beta[8], report_test_loss[8];
} trace;

static int trace_progress(int epoch, int done, int total, void *user)
{
    trace *t = user;
    if (t->calls < 64) {
        t->epoch[t->calls] = epoch;
        t->done[t->calls] = done;
        t->total[t->calls] = total;
        t->beta[t->calls] = vae_model_get_config(t->m)->beta;
    }
    t->calls++;
    return epoch == t->stop_at_epoch && done == t->stop_at_done;
}

static int trace_epoch(const vae_epoch_report *r, void *user)
{
    trace *t = user;
    if (t->reports < 8) {
        t->report_epoch[t->reports] = r->epoch;
        t->report_images[t->reports] = r->images;
        t->report_tested[t->reports] = r->tested;
        t->report_beta[t->reports] = r->beta;
        t->report_test_loss[t->reports] = r->test_loss;
    }
    t->reports++;
    return 0;
}

static void small_options(vae_train_options *opt, int epochs)
{
    vae_train_options_default(opt);
    opt->epochs = epochs;
    opt->batch = 16; /* 60 images: batches at 0, 16, 32, 48 (12 rows) */
    opt->progress = trace_progress;
}

START_TEST(test_progress_calls_and_warmup_weights)
{
    /* 3 epochs of 60 images in batches of 16, a 2-epoch warm-up to beta
     * 0.5: the callback comes before each epoch (done 0) and after each
     * batch (16, 32, 48, 60), and the weight of the batch starting at image
     * s of epoch e is 0.5 * min(1, (60 (e - 1) + s) / 120). */
    vae_images train = bar_images(60), test = bar_images(12);
    vae_model *m = small_model(0.5f);
    trace t = {.m = m};
    vae_train_options opt;
    small_options(&opt, 3);
    opt.warmup_epochs = 2;
    opt.test_every = 2;
    ck_assert_int_eq(vae_train(m, &train, &test, &opt, trace_epoch, &t), VAE_OK);
    ck_assert_int_eq(t.calls, 15);
    const int done[5] = {0, 16, 32, 48, 60};
    for (int e = 1; e <= 3; e++)
        for (int c = 0; c < 5; c++) {
            int i = (e - 1) * 5 + c;
            ck_assert_int_eq(t.epoch[i], e);
            ck_assert_int_eq(t.done[i], done[c]);
            ck_assert_int_eq(t.total[i], 60);
            if (c == 0) continue;
            double seen = 60.0 * (e - 1) + done[c - 1];
            double want = 0.5 * (seen / 120.0 < 1.0 ? seen / 120.0 : 1.0);
            ck_assert_msg(fabs(t.beta[i] - want) <= 1e-7, "epoch %d batch at %d: weight %g, want %g", e,
                          done[c - 1], (double)t.beta[i], want);
        }
    ck_assert_int_eq(t.reports, 3);
    const double last_weight[3] = {0.5 * 48 / 120, 0.5 * 108 / 120, 0.5};
    const int tested[3] = {0, 1, 1}; /* every 2nd epoch and the last */
    for (int r = 0; r < 3; r++) {
        ck_assert_int_eq(t.report_epoch[r], r + 1);
        ck_assert_int_eq(t.report_images[r], 60);
        ck_assert_int_eq(t.report_tested[r], tested[r]);
        ck_assert(fabs(t.report_beta[r] - last_weight[r]) <= 1e-7);
    }
    ck_assert(vae_model_get_config(m)->beta == 0.5f); /* restored */
    ck_assert_int_eq(vae_model_step(m), 12);
    vae_model_free(m);
    vae_images_free(&train);
    vae_images_free(&test);
}
END_TEST

START_TEST(test_stop_inside_epoch_then_resume_is_exact)
{
    /* Stopped after the batch ending at image 32 of epoch 2 (a warm-up on),
     * the model holds 1 epoch, 32 images and 4 + 2 steps; saved, loaded and
     * trained on to epoch 3 it is the same file as 3 epochs straight. */
    vae_images train = bar_images(60), test = bar_images(12);
    char a[400], b[400];
    snprintf(a, sizeof a, "%s/stopped.model", workdir);
    snprintf(b, sizeof b, "%s/straight.model", workdir);
    vae_model *m = small_model(1.0f);
    trace t = {.m = m, .stop_at_epoch = 2, .stop_at_done = 32};
    vae_train_options opt;
    small_options(&opt, 3);
    opt.warmup_epochs = 2;
    ck_assert_int_eq(vae_train(m, &train, &test, &opt, trace_epoch, &t), VAE_OK);
    ck_assert_int_eq(t.reports, 1);
    ck_assert_int_eq(vae_model_epoch(m), 1);
    ck_assert_int_eq(vae_model_epoch_images(m), 32);
    ck_assert_int_eq(vae_model_step(m), 6);
    ck_assert(vae_model_get_config(m)->beta == 1.0f); /* not the ramp's 0.8 */
    ck_assert_int_eq(vae_model_save(m, a), VAE_OK);
    vae_model_free(m);

    uint8_t h[112];
    read_header("stopped.model", h);
    ck_assert_uint_eq(le32(h + 96), 1);
    ck_assert_uint_eq(le32(h + 100), 32);
    ck_assert_uint_eq(le32(h + 88), 6);
    ck_assert(header_beta(h) == 1.0f);

    ck_assert_int_eq(vae_model_load(a, &m), VAE_OK);
    ck_assert_int_eq(vae_model_epoch_images(m), 32);
    /* on a smaller training set the position means nothing: refused */
    vae_images few = train;
    few.count = 30;
    ck_assert_int_eq(vae_train(m, &few, &test, &opt, NULL, NULL), VAE_ERR_ARG);
    ck_assert_msg(strstr(vae_last_error(), "stopped 32 images into epoch 2") != NULL, "%s", vae_last_error());
    trace t2 = {.m = m};
    ck_assert_int_eq(vae_train(m, &train, &test, &opt, trace_epoch, &t2), VAE_OK);
    ck_assert_int_eq(t2.epoch[0], 2);
    ck_assert_int_eq(t2.done[0], 32); /* picks up where it stopped */
    ck_assert_int_eq(t2.reports, 2);
    ck_assert_int_eq(t2.report_images[0], 28);
    ck_assert_int_eq(t2.report_images[1], 60);
    ck_assert_int_eq(vae_model_epoch_images(m), 0);
    ck_assert_int_eq(vae_model_save(m, a), VAE_OK);
    vae_model_free(m);

    m = small_model(1.0f);
    trace t3 = {.m = m};
    ck_assert_int_eq(vae_train(m, &train, &test, &opt, trace_epoch, &t3), VAE_OK);
    ck_assert_int_eq(vae_model_save(m, b), VAE_OK);
    vae_model_free(m);
    ck_assert(t3.report_test_loss[2] == t2.report_test_loss[1]);
    size_t na, nb;
    uint8_t *fa = read_file_bytes("stopped.model", &na), *fb = read_file_bytes("straight.model", &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(fa, fb, na) == 0, "resumed and straight model files differ");
    free(fa);
    free(fb);
    vae_images_free(&train);
    vae_images_free(&test);
}
END_TEST

START_TEST(test_stop_at_epoch_edges)
{
    vae_images train = bar_images(60), test = bar_images(12);
    vae_train_options opt;
    small_options(&opt, 3);
    /* a stop asked after an epoch's last batch: that epoch still finishes
     * (its report comes), then training stops */
    vae_model *m = small_model(1.0f);
    trace t = {.m = m, .stop_at_epoch = 1, .stop_at_done = 60};
    ck_assert_int_eq(vae_train(m, &train, &test, &opt, trace_epoch, &t), VAE_OK);
    ck_assert_int_eq(t.reports, 1);
    ck_assert_int_eq(t.report_tested[0], 1);
    ck_assert_int_eq(vae_model_epoch(m), 1);
    ck_assert_int_eq(vae_model_epoch_images(m), 0);
    ck_assert_int_eq(vae_model_step(m), 4);
    /* a stop asked before an epoch's first batch: nothing of it runs */
    trace t2 = {.m = m, .stop_at_epoch = 2, .stop_at_done = 0};
    ck_assert_int_eq(vae_train(m, &train, &test, &opt, trace_epoch, &t2), VAE_OK);
    ck_assert_int_eq(t2.calls, 1);
    ck_assert_int_eq(t2.reports, 0);
    ck_assert_int_eq(vae_model_epoch(m), 1);
    ck_assert_int_eq(vae_model_step(m), 4);
    /* bad options */
    opt.warmup_epochs = -1;
    ck_assert_int_eq(vae_train(m, &train, &test, &opt, NULL, NULL), VAE_ERR_ARG);
    opt.warmup_epochs = 0;
    opt.test_every = -2;
    ck_assert_int_eq(vae_train(m, &train, &test, &opt, NULL, NULL), VAE_ERR_ARG);
    vae_model_free(m);
    vae_images_free(&train);
    vae_images_free(&test);
}
END_TEST

/* ------------------------------------------------ the command line */

START_TEST(test_help_and_bad_options)
{
    ck_assert_int_eq(run(VAE " train --help"), 0);
    const char *names[] = {"--save-every", "--warmup-epochs", "--test-every", "--json", "--quiet", "SIGINT",
                           "130", "143"};
    for (int i = 0; i < 8; i++) ck_assert_msg(strstr(out_text, names[i]) != NULL, "help lacks %s", names[i]);
    ck_assert_int_eq(run(VAE " train --data bars --save-every 0"), 2);
    ck_assert_msg(strstr(err_text, "--save-every") != NULL, "%s", err_text);
    ck_assert_int_eq(run(VAE " train --data bars --test-every 0"), 2);
    ck_assert_msg(strstr(err_text, "--test-every") != NULL, "%s", err_text);
    ck_assert_int_eq(run(VAE " train --data bars --warmup-epochs -1"), 2);
    ck_assert_msg(strstr(err_text, "--warmup-epochs") != NULL, "%s", err_text);
    ck_assert_int_eq(run(VAE " train --data bars --json --quiet"), 2);
    ck_assert_msg(strstr(err_text, "--json") != NULL, "%s", err_text);
    ck_assert_int_eq(run(VAE " train --data bars --json=yes"), 2);
}
END_TEST

START_TEST(test_json_lines)
{
    ck_assert_int_eq(run(VAE " train --data bars --hidden 8 --latent 2 --batch 20 --epochs 3 --json --out m.model"), 0);
    json_object o[8];
    int n = parse_json_lines(out_text, o, 8); /* stdout holds only the JSON lines */
    ck_assert_int_eq(n, 3);
    const char *keys[] = {"epoch", "train_loss", "train_kl", "test_loss", "test_kl", "seconds",
                          "images_per_second", "beta", "saved"};
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 9; k++) ck_assert_msg(json_find(&o[i], keys[k]) >= 0, "line %d lacks %s", i, keys[k]);
        ck_assert(json_number(&o[i], "epoch") == i + 1);
        ck_assert(json_number(&o[i], "train_loss") > 0);
        ck_assert(json_number(&o[i], "test_loss") > 0);
        ck_assert(json_number(&o[i], "train_kl") >= 0);
        ck_assert(json_number(&o[i], "beta") == 1.0);
        ck_assert(json_number(&o[i], "saved") == 1.0);
    }
    ck_assert_msg(strstr(err_text, "# data bars") != NULL, "the notes go to stderr: %s", err_text);
    /* the JSON reader itself refuses what is not JSON */
    json_object bad;
    ck_assert_int_eq(parse_json_object("{\"a\":nan}", &bad), -1);
    ck_assert_int_eq(parse_json_object("{\"a\":1,}", &bad), -1);
    ck_assert_int_eq(parse_json_object("{\"a\":1} x", &bad), -1);
    ck_assert_int_eq(parse_json_object("{\"a\":null,\"b\":-0.5e3}", &bad), 0);
}
END_TEST

START_TEST(test_quiet)
{
    ck_assert_int_eq(run(VAE " train --data bars --hidden 8 --latent 2 --epochs 2 --quiet --out q.model"), 0);
    ck_assert_msg(out_text[0] == 0, "--quiet printed on stdout: %s", out_text);
    ck_assert_msg(err_text[0] == 0, "--quiet printed on stderr: %s", err_text);
    uint8_t h[112];
    read_header("q.model", h);
    ck_assert_uint_eq(le32(h + 96), 2);
    /* errors still come */
    ck_assert_int_eq(run(VAE " train --data nowhere --quiet"), 1);
    ck_assert_msg(strstr(err_text, "nowhere") != NULL, "%s", err_text);
}
END_TEST

#ifdef __linux__
/* How many times a file was renamed onto name in workdir since the watch
 * began (an atomic save is one rename), read without blocking. */
static int count_renames_onto(int fd, const char *name)
{
    char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
    int count = 0;
    for (;;) {
        ssize_t len = read(fd, buf, sizeof buf);
        if (len <= 0) break;
        for (char *p = buf; p < buf + len;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if ((ev->mask & IN_MOVED_TO) && ev->len > 0 && strcmp(ev->name, name) == 0) count++;
            p += sizeof *ev + ev->len;
        }
    }
    return count;
}
#endif

START_TEST(test_save_every)
{
    /* --save-every 2 over 3 epochs: saves after epochs 2 and 3 (the last),
     * never after 1; the file ends at epoch 3 */
#ifdef __linux__
    int fd = inotify_init1(IN_NONBLOCK);
    ck_assert_int_ge(fd, 0);
    /* IN_MOVED_FROM too: the kernel merges an event into an identical one
     * still queued, so two renames onto one name in a row would count once;
     * each save's rename away from its temporary name sits between them */
    ck_assert_int_ge(inotify_add_watch(fd, workdir, IN_MOVED_TO | IN_MOVED_FROM), 0);
#endif
    ck_assert_int_eq(run(VAE " train --data bars --hidden 8 --latent 2 --epochs 3 --save-every 2 --json --out s.model"), 0);
#ifdef __linux__
    ck_assert_int_eq(count_renames_onto(fd, "s.model"), 2);
#endif
    json_object o[8];
    ck_assert_int_eq(parse_json_lines(out_text, o, 8), 3);
    ck_assert(json_number(&o[0], "saved") == 0.0);
    ck_assert(json_number(&o[1], "saved") == 1.0);
    ck_assert(json_number(&o[2], "saved") == 1.0);
    uint8_t h[112];
    read_header("s.model", h);
    ck_assert_uint_eq(le32(h + 96), 3);
    /* stopped at 2 epochs, the one save after epoch 2 */
    ck_assert_int_eq(run(VAE " train --data bars --hidden 8 --latent 2 --epochs 2 --save-every 2 --quiet --out t.model"), 0);
    read_header("t.model", h);
    ck_assert_uint_eq(le32(h + 96), 2);
    /* --save-every 5 over 3 epochs: only the last; 1 (the default): all */
    ck_assert_int_eq(run(VAE " train --data bars --hidden 8 --latent 2 --epochs 3 --save-every 5 --quiet --out u.model"), 0);
    read_header("u.model", h);
    ck_assert_uint_eq(le32(h + 96), 3);
#ifdef __linux__
    ck_assert_int_eq(count_renames_onto(fd, "u.model"), 1); /* reads t's and u's events */
    ck_assert_int_eq(run(VAE " train --data bars --hidden 8 --latent 2 --epochs 3 --quiet --out v.model"), 0);
    ck_assert_int_eq(count_renames_onto(fd, "v.model"), 3);
    close(fd);
#endif
}
END_TEST

START_TEST(test_test_every)
{
    ck_assert_int_eq(run(VAE " train --data bars --hidden 8 --latent 2 --epochs 5 --test-every 2 --json --out e.model"), 0);
    json_object o[8];
    ck_assert_int_eq(parse_json_lines(out_text, o, 8), 5);
    const int tested[5] = {0, 1, 0, 1, 1}; /* epochs 2, 4 and the last */
    for (int i = 0; i < 5; i++) {
        int k = json_find(&o[i], "test_loss"), j = json_find(&o[i], "test_kl");
        ck_assert(k >= 0 && j >= 0);
        ck_assert_msg(o[i].is_null[k] == !tested[i], "epoch %d: test_loss %s", i + 1,
                      o[i].is_null[k] ? "null" : "given");
        ck_assert_int_eq(o[i].is_null[j], !tested[i]);
        if (tested[i]) ck_assert(o[i].number[k] > 0);
    }
    /* the table marks an epoch without a test pass with '-' */
    ck_assert_int_eq(run(VAE " train --data bars --hidden 8 --latent 2 --epochs 2 --test-every 2 --out e.model"), 0);
    char *line1 = strstr(out_text, "\n    1 ");
    ck_assert_msg(line1 != NULL, "%s", out_text);
    char *end = strchr(line1 + 1, '\n');
    ck_assert_ptr_nonnull(end);
    *end = 0;
    ck_assert_msg(strstr(line1, " - ") != NULL, "epoch 1 line: %s", line1);
}
END_TEST

/* The test loss per image, rec + beta * KL, of the 12 bar test images
 * under model file name, with the noise of test pass `epoch` (EVAL stream,
 * rows 0..11): computed here through the public API, from pixels built by
 * hand, with beta given (not the file's). */
static double test_loss_of(const char *name, int epoch, float beta)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s", workdir, name);
    vae_model *m;
    ck_assert_int_eq(vae_model_load(path, &m), VAE_OK);
    float x[12 * 30];
    for (int k = 0; k < 12; k++)
        for (int y = 0; y < 6; y++)
            for (int c = 0; c < 5; c++) x[k * 30 + y * 5 + c] = (float)bar_pixel(k, y, c) / 255.0f;
    vae_batch_stats s;
    ck_assert_int_eq(vae_eval_batch(m, x, 12, VAE_STREAM_EVAL, (uint64_t)epoch, 0, &s), VAE_OK);
    vae_model_free(m);
    return (s.rec + (double)beta * s.kl) / 12;
}

START_TEST(test_warmup)
{
    /* 60 images in batches of 20, a 2-epoch warm-up to beta 0.5: the last
     * step of epoch e starts at image 40, weight 0.5 * (60 (e-1) + 40) / 120. */
    const char *common = " train --data bars --hidden 8 --latent 2 --batch 20 --beta 0.5 --epochs 3 --json";
    ck_assert_int_eq(run(VAE "%s --warmup-epochs 2 --out w.model", common), 0);
    json_object w[4], p[4];
    ck_assert_int_eq(parse_json_lines(out_text, w, 4), 3);
    ck_assert_int_eq(run(VAE "%s --out p.model", common), 0);
    ck_assert_int_eq(parse_json_lines(out_text, p, 4), 3);
    const double weight[3] = {0.5 * 40 / 120, 0.5 * 100 / 120, 0.5};
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(fabs(json_number(&w[i], "beta") - weight[i]) < 1e-6, "epoch %d: beta %g", i + 1,
                      json_number(&w[i], "beta"));
        ck_assert(json_number(&p[i], "beta") == 0.5);
    }
    ck_assert_msg(json_number(&w[0], "train_loss") != json_number(&p[0], "train_loss"),
                  "the warm-up changed nothing");
    ck_assert(json_number(&w[2], "test_loss") != json_number(&p[2], "test_loss"));
    uint8_t h[112];
    read_header("w.model", h);
    ck_assert(header_beta(h) == 0.5f); /* the configured beta, not the ramp */
    /* the test loss of a warm-up epoch uses the full beta: one epoch of a
     * 3-epoch warm-up (weight 1/9 at its end), recomputed from the file */
    ck_assert_int_eq(run(VAE " train --data bars --hidden 8 --latent 2 --batch 20 --beta 0.5 --epochs 1 --json "
                             "--warmup-epochs 3 --out w1.model"), 0);
    json_object one[2];
    ck_assert_int_eq(parse_json_lines(out_text, one, 2), 1);
    double reported = json_number(&one[0], "test_loss"), recomputed = test_loss_of("w1.model", 1, 0.5f);
    ck_assert_msg(fabs(reported - recomputed) <= 1e-8 * fabs(recomputed), "test loss %.9g, recomputed %.9g",
                  reported, recomputed);
    read_header("w1.model", h);
    ck_assert(header_beta(h) == 0.5f); /* saved inside the warm-up: still the configured beta */
}
END_TEST

/* Starts `vae train ARGS` in the background with its stdout in
 * name.out and stderr in name.err; waits until stdout has n lines. */
static pid_t start_training(const char *args, const char *name, int lines)
{
    char cmd[2048], path[400];
    snprintf(cmd, sizeof cmd, VAE " train %s >%s.out 2>%s.err", args, name, name);
    pid_t pid = spawn(cmd);
    ck_assert_int_gt(pid, 0);
    snprintf(path, sizeof path, "%s/%s.out", workdir, name);
    for (int waited = 0;; waited += 5) {
        read_text(path, out_text, sizeof out_text);
        int n = 0;
        for (const char *p = out_text; *p; p++) n += *p == '\n';
        if (n >= lines) break;
        int status;
        ck_assert_msg(waitpid(pid, &status, WNOHANG) == 0, "vae train ended early: %s", out_text);
        ck_assert_msg(waited < 120000, "vae train printed nothing for 2 minutes");
        sleep_ms(5);
    }
    return pid;
}

START_TEST(test_sigint_saves_and_resumes_exactly)
{
    /* 20,000 random 28x28 images: an epoch long enough (a good part of a
     * second) for a signal to land inside one */
    char path[400];
    snprintf(path, sizeof path, "%s/big", workdir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/big/train-images-idx3-ubyte", workdir);
    write_random_idx(path, 20000, 1);
    snprintf(path, sizeof path, "%s/big/t10k-images-idx3-ubyte", workdir);
    write_random_idx(path, 100, 2);
    const int n = 20000, batch = 128, per_epoch = (n + batch - 1) / batch;

    /* SIGINT a little after the first epoch's line (no saves after each
     * epoch, so nearly all the time goes to the batches) */
    pid_t pid = start_training("--data big --hidden 400 --epochs 50 --json --save-every 1000 --out i.model", "int", 1);
    sleep_ms(50);
    ck_assert_int_eq(kill(pid, SIGINT), 0);
    ck_assert_int_eq(wait_status(pid), 130);
    snprintf(path, sizeof path, "%s/int.err", workdir);
    read_text(path, err_text, sizeof err_text);
    ck_assert_msg(strstr(err_text, "stopped by SIGINT: saved i.model") != NULL, "%s", err_text);
    ck_assert_msg(strstr(err_text, "vae train --resume i.model --data big --hidden") == NULL, "%s", err_text);
    ck_assert_msg(strstr(err_text, "vae train --resume i.model --data big --epochs 50 --json --save-every 1000\n") != NULL, "%s",
                  err_text);
    uint8_t h[112];
    read_header("i.model", h);
    int epoch = (int)le32(h + 96), images = (int)le32(h + 100);
    unsigned long long step = le32(h + 88) | (unsigned long long)le32(h + 92) << 32;
    ck_assert_int_ge(epoch, 1);
    ck_assert_int_lt(images, n);
    ck_assert_int_eq(images % batch, 0); /* a batch boundary */
    ck_assert_uint_eq(step, (unsigned long long)epoch * per_epoch + (unsigned long long)(images / batch));
    snprintf(path, sizeof path, "%s/i.model", workdir);
    vae_model *m;
    ck_assert_msg(vae_model_load(path, &m) == VAE_OK, "%s", vae_last_error());
    vae_model_free(m);
    if (images == 0) fprintf(stderr, "note: the SIGINT fell between epochs this time\n");

    /* resumed to the end of the next epoch == never stopped */
    int to = epoch + 1;
    ck_assert_int_eq(run(VAE " train --data big --resume i.model --epochs %d --quiet", to), 0);
    ck_assert_int_eq(run(VAE " train --data big --hidden 400 --epochs %d --quiet --out s.model", to), 0);
    size_t na, nb;
    uint8_t *a = read_file_bytes("i.model", &na), *b = read_file_bytes("s.model", &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(memcmp(a, b, na) == 0, "stopped at epoch %d + %d images and resumed: differs from straight",
                  epoch, images);
    free(a);
    free(b);

    /* SIGTERM, then a SIGINT hard behind it (during the save, as likely as
     * not): exit 143 for the first, and a whole model */
    pid = start_training("--data big --hidden 400 --epochs 50 --json --save-every 1000 --out t.model", "term", 1);
    sleep_ms(50);
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    sleep_ms(1);
    kill(pid, SIGINT);
    ck_assert_int_eq(wait_status(pid), 143);
    snprintf(path, sizeof path, "%s/t.model", workdir);
    ck_assert_msg(vae_model_load(path, &m) == VAE_OK, "%s", vae_last_error());
    vae_model_free(m);
}
END_TEST

/* Counts the names in workdir that start with prefix, adding those not
 * seen before to names[0..*n-1]. */
static int list_temps(const char *prefix, char names[][64], int *n, int cap)
{
    DIR *d = opendir(workdir);
    ck_assert_ptr_nonnull(d);
    int count = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        count++;
        int known = 0;
        for (int i = 0; i < *n; i++) known |= strcmp(names[i], e->d_name) == 0;
        if (!known && *n < cap) snprintf(names[(*n)++], 64, "%.63s", e->d_name);
    }
    closedir(d);
    return count;
}

START_TEST(test_sigkill_during_save_keeps_a_whole_model)
{
    /* A small model in target.model, then runs that save a big one (hidden
     * 1024,1024: 26 MB) over it, each killed with SIGKILL at another moment
     * after its temporary file appears. Every time, target.model must load
     * (CRC and all) as the old model or the new one; temporary files left
     * behind have unique names, and a later save goes through. */
    char target[400];
    snprintf(target, sizeof target, "%s/target.model", workdir);
    ck_assert_int_eq(run(VAE " train --data bars --hidden 8 --latent 2 --epochs 1 --quiet --out target.model"), 0);
    vae_model *m;
    ck_assert_int_eq(vae_model_load(target, &m), VAE_OK);
    size_t old_params = vae_model_param_count(m);
    vae_model_free(m);
    const size_t new_params = 30 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 4 + 4 + /* encoder */
                              2 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 30 + 30; /* decoder */

    char temps[64][64];
    int n_temps = 0, runs = 12, killed_in_save = 0, saw_old = 0, saw_new = 0;
    list_temps("target.model.tmp.", temps, &n_temps, 64);
    ck_assert_int_eq(n_temps, 0);
    for (int r = 0; r < runs; r++) {
        int before = n_temps;
        pid_t pid = spawn(VAE " train --data bars --hidden 1024,1024 --latent 2 --epochs 1 --max-test 1 --quiet "
                              "--out target.model >/dev/null 2>&1");
        ck_assert_int_gt(pid, 0);
        /* wait for this run's temporary file (a name not seen before) */
        int appeared = 0, status;
        for (int waited = 0; waited < 60000 && !appeared; waited++) { /* ms */
            list_temps("target.model.tmp.", temps, &n_temps, 64);
            appeared = n_temps > before;
            if (!appeared) {
                if (waitpid(pid, &status, WNOHANG) == pid) break; /* saved too fast to see */
                struct timespec t = {0, 1000000}; /* 1 ms: leave the CPUs to the run */
                nanosleep(&t, NULL);
            }
        }
        ck_assert_msg(appeared || n_temps == before, "lost track of the temporary files");
        if (appeared) {
            static const int delay_ms[12] = {0, 2, 5, 10, 20, 35, 50, 75, 100, 150, 200, 300};
            sleep_ms(delay_ms[r]); /* from the first bytes to past the rename */
            char tmp_path[400];
            snprintf(tmp_path, sizeof tmp_path, "%s/%s", workdir, temps[n_temps - 1]);
            int in_save = access(tmp_path, F_OK) == 0;
            kill(pid, SIGKILL);
            wait_status(pid);
            killed_in_save += in_save;
        }
        ck_assert_msg(vae_model_load(target, &m) == VAE_OK, "run %d: %s", r, vae_last_error());
        size_t p = vae_model_param_count(m);
        vae_model_free(m);
        ck_assert_msg(p == old_params || p == new_params, "run %d: %zu parameters", r, p);
        saw_old += p == old_params;
        saw_new += p == new_params;
        if (p == new_params) { /* back to the small model for the next run */
            ck_assert_int_eq(run(VAE " train --data bars --hidden 8 --latent 2 --epochs 1 --quiet --out target.model"), 0);
        }
    }
    ck_assert_msg(killed_in_save > 0 && saw_old > 0, "no kill landed inside a save (%d, %d)", killed_in_save,
                  saw_old);
    /* temporary files left by the killed saves do not stop the next one */
    int left = list_temps("target.model.tmp.", temps, &n_temps, 64);
    ck_assert_int_eq(run(VAE " train --data bars --hidden 1024,1024 --latent 2 --epochs 1 --max-test 1 --quiet "
                             "--out target.model"), 0);
    ck_assert_int_eq(list_temps("target.model.tmp.", temps, &n_temps, 64), left);
    ck_assert_int_eq(vae_model_load(target, &m), VAE_OK);
    ck_assert_uint_eq(vae_model_param_count(m), new_params);
    vae_model_free(m);
    fprintf(stderr, "sigkill: %d runs, %d killed inside the save, old model kept %d times, new %d, %d temporary files left\n",
            runs, killed_in_save, saw_old, saw_new, left);
}
END_TEST

/* Runs vae train with stderr on a pseudo-terminal; the terminal's bytes
 * go to err_text. Returns the exit status. */
static int run_on_terminal(const char *args)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    ck_assert_int_ge(master, 0);
    ck_assert_int_eq(grantpt(master), 0);
    ck_assert_int_eq(unlockpt(master), 0);
    char slave_name[128];
    snprintf(slave_name, sizeof slave_name, "%s", ptsname(master));
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && exec " VAE " train %s >stdout.txt", workdir, args);
    pid_t pid = fork();
    if (pid == 0) {
        int slave = open(slave_name, O_RDWR | O_NOCTTY);
        if (slave < 0) _exit(126);
        dup2(slave, 2);
        close(slave);
        close(master);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    size_t got = 0;
    for (;;) { /* until the last writer closes the terminal: EIO */
        ssize_t r = read(master, err_text + got, sizeof err_text - 1 - got);
        if (r > 0) got += (size_t)r;
        else if (r < 0 && errno == EINTR) continue;
        else break;
        if (got == sizeof err_text - 1) break;
    }
    err_text[got] = 0;
    close(master);
    return wait_status(pid);
}

START_TEST(test_progress_bar_only_on_a_terminal)
{
    ck_assert_int_eq(run_on_terminal("--data bars --hidden 8 --latent 2 --batch 20 --epochs 2 --out p.model"), 0);
    ck_assert_msg(strstr(err_text, "\repoch 1/2 [") != NULL, "no bar for epoch 1: %s", err_text);
    ck_assert_msg(strstr(err_text, "\repoch 2/2 [") != NULL, "no bar for epoch 2: %s", err_text);
    ck_assert_msg(strstr(err_text, "img/s ETA") != NULL, "%s", err_text);
    ck_assert_msg(strstr(err_text, "\r     ") != NULL, "the bar is not cleared: %s", err_text);
    char path[400];
    snprintf(path, sizeof path, "%s/stdout.txt", workdir);
    read_text(path, out_text, sizeof out_text);
    ck_assert_msg(strstr(out_text, "\n    2 ") != NULL, "%s", out_text);
    /* --quiet: no bar even there */
    ck_assert_int_eq(run_on_terminal("--data bars --hidden 8 --latent 2 --epochs 1 --quiet --out p.model"), 0);
    ck_assert_msg(strstr(err_text, "img/s") == NULL, "%s", err_text);
    /* not a terminal: no bar */
    ck_assert_int_eq(run(VAE " train --data bars --hidden 8 --latent 2 --batch 20 --epochs 2 --out p.model"), 0);
    ck_assert_msg(strstr(err_text, "img/s") == NULL && strchr(err_text, '\r') == NULL, "%s", err_text);
}
END_TEST

Suite *vae_cli_train_suite(void)
{
    Suite *s = suite_create("cli_train");
    TCase *lib = tcase_create("library");
    tcase_set_timeout(lib, 60);
    tcase_add_checked_fixture(lib, setup, teardown);
    tcase_add_test(lib, test_progress_calls_and_warmup_weights);
    tcase_add_test(lib, test_stop_inside_epoch_then_resume_is_exact);
    tcase_add_test(lib, test_stop_at_epoch_edges);
    suite_add_tcase(s, lib);
    TCase *cli = tcase_create("options");
    tcase_set_timeout(cli, 120);
    tcase_add_checked_fixture(cli, setup, teardown);
    tcase_add_test(cli, test_help_and_bad_options);
    tcase_add_test(cli, test_json_lines);
    tcase_add_test(cli, test_quiet);
    tcase_add_test(cli, test_save_every);
    tcase_add_test(cli, test_test_every);
    tcase_add_test(cli, test_warmup);
    tcase_add_test(cli, test_progress_bar_only_on_a_terminal);
    suite_add_tcase(s, cli);
    TCase *sig = tcase_create("signals");
    tcase_set_timeout(sig, 300);
    tcase_set_tags(sig, "slow"); /* native runs only: training 20,000 images under an emulator takes minutes */
    tcase_add_checked_fixture(sig, setup, teardown);
    tcase_add_test(sig, test_sigint_saves_and_resumes_exactly);
    suite_add_tcase(s, sig);
    TCase *kill9 = tcase_create("sigkill");
    tcase_set_timeout(kill9, 300);
    tcase_set_tags(kill9, "slow"); /* native runs only (the saves it kills are the same code everywhere) */
    tcase_add_checked_fixture(kill9, setup, teardown);
    tcase_add_test(kill9, test_sigkill_during_save_keeps_a_whole_model);
    suite_add_tcase(s, kill9);
    return s;
}

/* check_cli.c - the vae program as a user meets it: exit status 0 / 1 / 2,
 * one clear line naming the bad option or file, and the end-to-end path
 * train -> sample -> recon on a tiny hand-built data set. Runs ./vae, which
 * `make check` builds first. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char workdir[256];
static char output[8192];

/* Runs a shell command with stdout and stderr captured into output;
 * returns the exit status. */
static int run(const char *fmt, ...)
{
    char cmd[2048], path[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    snprintf(path, sizeof path, "%s/out.txt", workdir);
    char full[2600];
    snprintf(full, sizeof full, "%s >%s 2>&1", cmd, path);
    int status = system(full);
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(output, 1, sizeof output - 1, f) : 0;
    output[n] = 0;
    if (f) fclose(f);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void put_be32(FILE *f, unsigned v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    fwrite(b, 1, 4, f);
}

/* n images of 6x5 pixels: a bright bar whose row depends on the index. */
static void write_idx_images(const char *path, int n)
{
    FILE *f = fopen(path, "wb");
    put_be32(f, 0x00000803);
    put_be32(f, (unsigned)n);
    put_be32(f, 6);
    put_be32(f, 5);
    for (int k = 0; k < n; k++)
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 5; x++) fputc(y == k % 6 ? 230 : 10 + x, f);
    fclose(f);
}

static void setup(void)
{
    snprintf(workdir, sizeof workdir, "/tmp/vae-cli-%ld", (long)getpid());
    char path[300];
    mkdir(workdir, 0755);
    snprintf(path, sizeof path, "%s/data", workdir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/data/train-images-idx3-ubyte", workdir);
    write_idx_images(path, 60);
    snprintf(path, sizeof path, "%s/data/t10k-images-idx3-ubyte", workdir);
    write_idx_images(path, 12);
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", workdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", workdir);
}

#define ASSERT_OUTPUT_HAS(s) ck_assert_msg(strstr(output, (s)) != NULL, "output lacks '%s':\n%s", (s), output)

START_TEST(test_help_and_version)
{
    ck_assert_int_eq(run("./vae --help"), 0);
    ASSERT_OUTPUT_HAS("usage: vae");
    const char *cmds[] = {"train", "sample", "recon"};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(run("./vae %s --help", cmds[i]), 0);
        ASSERT_OUTPUT_HAS("usage: vae");
    }
    ck_assert_int_eq(run("./vae --version"), 0);
    ASSERT_OUTPUT_HAS("kernels:");
    ck_assert_int_eq(run("./vae"), 2);
    ck_assert_int_eq(run("./vae frobnicate"), 2);
    ASSERT_OUTPUT_HAS("unknown command 'frobnicate'");
}
END_TEST

START_TEST(test_bad_options)
{
    ck_assert_int_eq(run("./vae train --bogus 3"), 2);
    ASSERT_OUTPUT_HAS("unknown option '--bogus'");
    ck_assert_int_eq(run("./vae train --epochs 0"), 2);
    ASSERT_OUTPUT_HAS("--epochs");
    ck_assert_int_eq(run("./vae train --epochs abc"), 2);
    ASSERT_OUTPUT_HAS("'abc'");
    ck_assert_int_eq(run("./vae train --batch"), 2);
    ASSERT_OUTPUT_HAS("needs a value");
    ck_assert_int_eq(run("./vae train --likelihood poisson"), 2);
    ASSERT_OUTPUT_HAS("--likelihood");
    ck_assert_int_eq(run("./vae train --hidden 400,x"), 2);
    ASSERT_OUTPUT_HAS("--hidden");
    ck_assert_int_eq(run("./vae train --lr -1"), 2);
    ASSERT_OUTPUT_HAS("--lr");
    ck_assert_int_eq(run("./vae sample --out x.png"), 2);
    ASSERT_OUTPUT_HAS("--model is required");
    ck_assert_int_eq(run("VAE_ISA=nonsense ./vae --version"), 2);
    ASSERT_OUTPUT_HAS("VAE_ISA");
    ASSERT_OUTPUT_HAS("nonsense");
}
END_TEST

START_TEST(test_bad_files)
{
    ck_assert_int_eq(run("./vae train --data %s/missing", workdir), 1);
    ASSERT_OUTPUT_HAS("/missing");
    ck_assert_int_eq(run("./vae sample --model %s/none.model --out %s/s.png", workdir, workdir), 1);
    ASSERT_OUTPUT_HAS("none.model");
    /* A malformed IDX file: the error names it. */
    ck_assert_int_eq(run("mkdir -p %s/bad && printf 'garbage!garbage!' > %s/bad/train-images-idx3-ubyte", workdir,
                         workdir), 0);
    ck_assert_int_eq(run("./vae train --data %s/bad --epochs 1 --out %s/m", workdir, workdir), 1);
    ASSERT_OUTPUT_HAS("train-images-idx3-ubyte");
    /* A file that is not a model. */
    ck_assert_int_eq(run("./vae sample --model %s/bad/train-images-idx3-ubyte --out %s/s.png", workdir, workdir), 1);
    ASSERT_OUTPUT_HAS("not a vae model");
    /* An unknown picture extension, with a real model. */
    ck_assert_int_eq(run("./vae train --data %s/data --epochs 1 --hidden 8 --latent 2 --batch 16 --out %s/m.model",
                         workdir, workdir), 0);
    ck_assert_int_eq(run("./vae sample --model %s/m.model --out %s/s.jpg", workdir, workdir), 1);
    ASSERT_OUTPUT_HAS("s.jpg");
}
END_TEST

static int file_starts_with(const char *path, const char *magic, size_t n)
{
    char buf[16] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    return got == n && memcmp(buf, magic, n) == 0;
}

START_TEST(test_train_sample_recon)
{
    char model[300], path[300];
    snprintf(model, sizeof model, "%s/e2e.model", workdir);
    ck_assert_int_eq(run("./vae train --data %s/data --epochs 3 --hidden 16,8 --latent 2 --batch 8 --lr 0.01 "
                         "--likelihood gaussian --out %s",
                         workdir, model),
                     0);
    ASSERT_OUTPUT_HAS("epoch");
    ASSERT_OUTPUT_HAS("test_loss");
    ASSERT_OUTPUT_HAS("saved");
    /* three epoch lines */
    ck_assert_ptr_nonnull(strstr(output, "\n    3 "));
    snprintf(path, sizeof path, "%s/samples.png", workdir);
    ck_assert_int_eq(run("./vae sample --model %s --n 10 --out %s", model, path), 0);
    ck_assert(file_starts_with(path, "\x89PNG\r\n\x1a\n", 8));
    snprintf(path, sizeof path, "%s/samples.pgm", workdir);
    ck_assert_int_eq(run("./vae sample --model %s --n 4 --out %s", model, path), 0);
    ck_assert(file_starts_with(path, "P5", 2));
    snprintf(path, sizeof path, "%s/recon.ppm", workdir);
    ck_assert_int_eq(run("./vae recon --model %s --data %s/data --n 5 --out %s", model, workdir, path), 0);
    ck_assert(file_starts_with(path, "P6", 2));
}
END_TEST

Suite *vae_cli_suite(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("vae");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_help_and_version);
    tcase_add_test(tc, test_bad_options);
    tcase_add_test(tc, test_bad_files);
    tcase_add_test(tc, test_train_sample_recon);
    suite_add_tcase(s, tc);
    return s;
}

/* check_cli.c - the vae program as a user meets it: exit status 0 / 1 / 2,
 * one clear line naming the bad option or file, and the end-to-end path
 * train -> sample -> recon on tiny hand-built data sets (IDX, and folders of
 * RGB and 16-bit Netpbm images). Runs ./vae, which `make check` builds
 * first, or the program named by $VAE_TEST_PROG. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_util.h"


static char workdir[256];
static char output[8192];

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

/* n images of 6x5 pixels: a bright bar whose row depends on the index. */
static void write_idx_images(const char *path, int n)
{
    FILE *f = fopen(path, "wb");
    cli_idx_images_header(f, (unsigned)n, 6, 5);
    for (int k = 0; k < n; k++)
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 5; x++) fputc(y == k % 6 ? 230 : 10 + x, f);
    fclose(f);
}

static void setup(void)
{
    setenv("VAE_TEST_PROG", "./vae", 0); /* keeps a value from the environment */
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
    cli_remove_dir(workdir);
}

#define ASSERT_OUTPUT_HAS(s) ck_assert_msg(strstr(output, (s)) != NULL, "output lacks '%s':\n%s", (s), output)

START_TEST(test_help_and_version)
{
    ck_assert_int_eq(run(VAE " --help"), 0);
    ASSERT_OUTPUT_HAS("usage: vae");
    const char *cmds[] = {"train", "sample", "recon"};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(run(VAE " %s --help", cmds[i]), 0);
        ASSERT_OUTPUT_HAS("usage: vae");
    }
    ck_assert_int_eq(run(VAE " --version"), 0);
    ASSERT_OUTPUT_HAS("kernels:");
    ck_assert_int_eq(run(VAE), 2);
    ck_assert_int_eq(run(VAE " frobnicate"), 2);
    ASSERT_OUTPUT_HAS("unknown command 'frobnicate'");
}
END_TEST

START_TEST(test_bad_options)
{
    ck_assert_int_eq(run(VAE " train --bogus 3"), 2);
    ASSERT_OUTPUT_HAS("unknown option '--bogus'");
    ck_assert_int_eq(run(VAE " train --epochs 0"), 2);
    ASSERT_OUTPUT_HAS("--epochs");
    ck_assert_int_eq(run(VAE " train --epochs abc"), 2);
    ASSERT_OUTPUT_HAS("'abc'");
    ck_assert_int_eq(run(VAE " train --batch"), 2);
    ASSERT_OUTPUT_HAS("needs a value");
    ck_assert_int_eq(run(VAE " train --likelihood poisson"), 2);
    ASSERT_OUTPUT_HAS("--likelihood");
    ck_assert_int_eq(run(VAE " train --hidden 400,x"), 2);
    ASSERT_OUTPUT_HAS("--hidden");
    ck_assert_int_eq(run(VAE " train --lr -1"), 2);
    ASSERT_OUTPUT_HAS("--lr");
    ck_assert_int_eq(run(VAE " sample --out x.png"), 2);
    ASSERT_OUTPUT_HAS("--model is required");
    ck_assert_int_eq(run("VAE_ISA=nonsense " VAE " --version"), 2);
    ASSERT_OUTPUT_HAS("VAE_ISA");
    ASSERT_OUTPUT_HAS("nonsense");
}
END_TEST

START_TEST(test_bad_files)
{
    ck_assert_int_eq(run(VAE " train --data %s/missing", workdir), 1);
    ASSERT_OUTPUT_HAS("/missing");
    ck_assert_int_eq(run(VAE " sample --model %s/none.model --out %s/s.png", workdir, workdir), 1);
    ASSERT_OUTPUT_HAS("none.model");
    /* A malformed IDX file: the error names it. */
    ck_assert_int_eq(run("mkdir -p %s/bad && printf 'garbage!garbage!' > %s/bad/train-images-idx3-ubyte", workdir,
                         workdir), 0);
    ck_assert_int_eq(run(VAE " train --data %s/bad --epochs 1 --out %s/m", workdir, workdir), 1);
    ASSERT_OUTPUT_HAS("train-images-idx3-ubyte");
    /* A file that is not a model. */
    ck_assert_int_eq(run(VAE " sample --model %s/bad/train-images-idx3-ubyte --out %s/s.png", workdir, workdir), 1);
    ASSERT_OUTPUT_HAS("not a vae model");
    /* An unknown picture extension, with a real model. */
    ck_assert_int_eq(run(VAE " train --data %s/data --epochs 1 --hidden 8 --latent 2 --batch 16 --out %s/m.model",
                         workdir, workdir), 0);
    ck_assert_int_eq(run(VAE " sample --model %s/m.model --out %s/s.jpg", workdir, workdir), 1);
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
    ck_assert_int_eq(run(VAE " train --data %s/data --epochs 3 --hidden 16,8 --latent 2 --batch 8 --lr 0.01 "
                         "--likelihood gaussian --out %s",
                         workdir, model),
                     0);
    ASSERT_OUTPUT_HAS("epoch");
    ASSERT_OUTPUT_HAS("test_loss");
    ASSERT_OUTPUT_HAS("saved");
    /* three epoch lines */
    ck_assert_ptr_nonnull(strstr(output, "\n    3 "));
    snprintf(path, sizeof path, "%s/samples.png", workdir);
    ck_assert_int_eq(run(VAE " sample --model %s --n 10 --out %s", model, path), 0);
    ck_assert(file_starts_with(path, "\x89PNG\r\n\x1a\n", 8));
    snprintf(path, sizeof path, "%s/samples.pgm", workdir);
    ck_assert_int_eq(run(VAE " sample --model %s --n 4 --out %s", model, path), 0);
    ck_assert(file_starts_with(path, "P5", 2));
    snprintf(path, sizeof path, "%s/recon.ppm", workdir);
    ck_assert_int_eq(run(VAE " recon --model %s --data %s/data --n 5 --out %s", model, workdir, path), 0);
    ck_assert(file_starts_with(path, "P6", 2));
}
END_TEST

/* n RGB images of 6x5 in dir as binary PPMs (maxval 255), named img000.ppm
 * ...: a coloured bar whose row and hue depend on the index. */
static void write_ppm_folder(const char *dir, int n)
{
    char path[400];
    mkdir(dir, 0755);
    for (int k = 0; k < n; k++) {
        snprintf(path, sizeof path, "%s/img%03d.ppm", dir, k);
        FILE *f = fopen(path, "wb");
        fprintf(f, "P6\n5 6\n255\n");
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 5; x++)
                for (int c = 0; c < 3; c++) fputc(y == k % 6 ? (c == k % 3 ? 240 : 40) : 10 + 5 * x, f);
        fclose(f);
    }
}

/* n grey 16-bit images of 6x5 (P5, maxval 65535) in dir. */
static void write_pgm16_folder(const char *dir, int n)
{
    char path[400];
    mkdir(dir, 0755);
    for (int k = 0; k < n; k++) {
        snprintf(path, sizeof path, "%s/g%03d.pgm", dir, k);
        FILE *f = fopen(path, "wb");
        fprintf(f, "P5\n5 6\n65535\n");
        for (int y = 0; y < 6; y++)
            for (int x = 0; x < 5; x++) {
                unsigned v = y == k % 6 ? 60000u : 1000u * (unsigned)x;
                fputc((int)(v >> 8), f);
                fputc((int)(v & 0xFF), f);
            }
        fclose(f);
    }
}

/* A folder of RGB PPMs trains end to end (D = 6*5*3), holds out every tenth
 * image, and comes back as RGB sample and reconstruction grids. */
START_TEST(test_train_rgb_image_folder)
{
    char dir[300], model[300], path[300];
    snprintf(dir, sizeof dir, "%s/photos", workdir);
    write_ppm_folder(dir, 40);
    snprintf(model, sizeof model, "%s/rgb.model", workdir);
    ck_assert_int_eq(run(VAE " train --data %s --epochs 2 --hidden 16 --latent 2 --batch 8 --lr 0.01 --out %s",
                         dir, model),
                     0);
    ASSERT_OUTPUT_HAS("holding out every tenth image");
    ASSERT_OUTPUT_HAS("(4 of 40)");
    ASSERT_OUTPUT_HAS("36 training and 4 test images of 6x5x3");
    ASSERT_OUTPUT_HAS("# model: 90-16-2");
    ck_assert_ptr_nonnull(strstr(output, "\n    2 "));
    snprintf(path, sizeof path, "%s/rgb-samples.png", workdir);
    ck_assert_int_eq(run(VAE " sample --model %s --n 9 --out %s", model, path), 0);
    unsigned w, h;
    int type;
    ck_assert(cli_png_header(path, &w, &h, &type));
    ck_assert_int_eq(type, 2); /* truecolour */
    ck_assert_uint_eq(w, 3 * (5 + 2) + 2);
    ck_assert_uint_eq(h, 3 * (6 + 2) + 2);
    snprintf(path, sizeof path, "%s/rgb-recon.ppm", workdir);
    ck_assert_int_eq(run(VAE " recon --model %s --data %s --n 4 --out %s", model, dir, path), 0);
    ck_assert(file_starts_with(path, "P6", 2));
    /* An explicit test folder. */
    char test_dir[300];
    snprintf(test_dir, sizeof test_dir, "%s/photos-test", workdir);
    write_ppm_folder(test_dir, 3);
    ck_assert_int_eq(run(VAE " train --data %s --test %s --epochs 1 --hidden 8 --latent 2 --batch 8 --out %s",
                         dir, test_dir, model),
                     0);
    ASSERT_OUTPUT_HAS("40 training and 3 test images of 6x5x3");
    /* A grey picture for an RGB model is refused by name. */
    snprintf(path, sizeof path, "%s/grey.pgm", workdir);
    ck_assert_int_eq(run(VAE " sample --model %s --n 4 --out %s", model, path), 1);
    ASSERT_OUTPUT_HAS("grey.pgm");
}
END_TEST

/* 16-bit grey images become values in [0, 1], not bytes, and train. */
START_TEST(test_train_16bit_image_folder)
{
    char dir[300], model[300], path[300];
    snprintf(dir, sizeof dir, "%s/deep", workdir);
    write_pgm16_folder(dir, 20);
    snprintf(model, sizeof model, "%s/deep.model", workdir);
    ck_assert_int_eq(run(VAE " train --data %s --epochs 2 --hidden 8 --latent 2 --batch 4 --out %s", dir, model),
                     0);
    ASSERT_OUTPUT_HAS("18 training and 2 test images of 6x5x1");
    snprintf(path, sizeof path, "%s/deep-recon.png", workdir);
    ck_assert_int_eq(run(VAE " recon --model %s --data %s --n 2 --out %s", model, dir, path), 0);
    unsigned w, h;
    int type;
    ck_assert(cli_png_header(path, &w, &h, &type));
    ck_assert_int_eq(type, 0);
}
END_TEST

START_TEST(test_image_folder_errors)
{
    char dir[300], path[400];
    snprintf(dir, sizeof dir, "%s/mixed", workdir);
    write_ppm_folder(dir, 3);
    snprintf(path, sizeof path, "%s/zzz.pgm", dir);
    FILE *f = fopen(path, "wb");
    fputs("P2 2 2 255\n1 2 3 4\n", f);
    fclose(f);
    ck_assert_int_eq(run(VAE " train --data %s --epochs 1 --out %s/m", dir, workdir), 1);
    ASSERT_OUTPUT_HAS("zzz.pgm: images are 2x2 with 1 channel");
    f = fopen(path, "wb");
    fputs("P5 2 2 255\n", f);
    fclose(f);
    ck_assert_int_eq(run(VAE " train --data %s --epochs 1 --out %s/m", dir, workdir), 1);
    ASSERT_OUTPUT_HAS("zzz.pgm: truncated raster of image 1 (0 bytes, it needs 4)");
    /* --test with an MNIST folder. */
    ck_assert_int_eq(run(VAE " train --data %s/data --test %s --epochs 1 --out %s/m", workdir, dir, workdir), 1);
    ASSERT_OUTPUT_HAS("separate test folder is for image folders");
    /* A folder with neither kind of data. */
    snprintf(dir, sizeof dir, "%s/empty", workdir);
    mkdir(dir, 0755);
    ck_assert_int_eq(run(VAE " train --data %s --epochs 1 --out %s/m", dir, workdir), 1);
    ASSERT_OUTPUT_HAS("no .pgm, .ppm or .pnm images found");
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
    tcase_add_test(tc, test_train_rgb_image_folder);
    tcase_add_test(tc, test_train_16bit_image_folder);
    tcase_add_test(tc, test_image_folder_errors);
    suite_add_tcase(s, tc);
    return s;
}

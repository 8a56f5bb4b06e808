/* check_cli_pictures.c - the picture commands beyond the plain sample:
 * `vae sample --temperature`, `vae interp`, `vae manifold`, and the inverse
 * normal CDF behind the manifold, vae_normal_quantile.
 *
 * References: the quantile against values computed to 40 digits (mpmath,
 * findroot on erfc) and against libm's erfc round trip; the pictures against
 * decodings this test computes itself through the library (vae_encode,
 * vae_decode) at latent points it derives independently (its own bisection
 * for Phi^-1, its own interpolation), read back pixel by pixel from the
 * written PGM. The programs run as $VAE_TEST_RUNNER "$VAE_TEST_PROG", as in
 * check_cli.c, on tiny hand-built IDX data and models trained on it. */
#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_util.h"
#include "vae.h"


/* The hand-built images: 6 rows x 5 columns, grey. */
#define IMG_ROWS 6
#define IMG_COLS 5
#define IMG_D (IMG_ROWS * IMG_COLS)
#define TEST_IMAGES 12
/* make_grid's 2-pixel border between and around the cells. */
#define PAD 2

static char workdir[256];
static char output[8192];

/* ------------------------------------------------------------ helpers */

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

#define ASSERT_OUTPUT_HAS(s) ck_assert_msg(strstr(output, (s)) != NULL, "output lacks '%s':\n%s", (s), output)

/* Pixel (y, x) of hand-built image k: a bright bar on row k % 6 over a
 * faint left-to-right ramp, so the six kinds are easy to tell apart. */
static unsigned char image_pixel(int k, int y, int x) { return y == k % IMG_ROWS ? 250 : (unsigned char)(5 * x); }

/* n such images as an unsigned-byte IDX file. */
static void write_idx_images(const char *path, int n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    cli_idx_images_header(f, (unsigned)n, IMG_ROWS, IMG_COLS);
    for (int k = 0; k < n; k++)
        for (int y = 0; y < IMG_ROWS; y++)
            for (int x = 0; x < IMG_COLS; x++) fputc(image_pixel(k, y, x), f);
    fclose(f);
}

/* A binary greymap written by vae_write_pnm ("P5\n<w> <h>\n255\n" then the
 * raster), read back; returns the pixels (free them) or NULL. */
static unsigned char *read_pgm(const char *path, int *width, int *height)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    int maxval = 0;
    char magic[3] = {0};
    unsigned char *pix = NULL;
    if (fscanf(f, "%2s %d %d %d", magic, width, height, &maxval) == 4 && strcmp(magic, "P5") == 0 &&
        maxval == 255 && *width > 0 && *height > 0 && fgetc(f) == '\n') {
        size_t n = (size_t)*width * (size_t)*height;
        pix = malloc(n);
        if (pix && fread(pix, 1, n, f) != n) {
            free(pix);
            pix = NULL;
        }
    }
    fclose(f);
    return pix;
}

/* The expected size of a grid of grid_cols x grid_rows cells of our images. */
static int grid_width(int grid_cols) { return grid_cols * (IMG_COLS + PAD) + PAD; }
static int grid_height(int grid_rows) { return grid_rows * (IMG_ROWS + PAD) + PAD; }

/* Pixel (y, x) of cell k in a grey grid of grid_cols columns and width w. */
static unsigned char cell_pixel(const unsigned char *pix, int w, int grid_cols, int k, int y, int x)
{
    int gx = PAD + (k % grid_cols) * (IMG_COLS + PAD), gy = PAD + (k / grid_cols) * (IMG_ROWS + PAD);
    return pix[(size_t)(gy + y) * w + gx + x];
}

/* A decoder mean in [0,1] as the 8-bit pixel a picture holds. */
static int to_byte(float v)
{
    v = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    return (int)(v * 255.0f + 0.5f);
}

/* The largest |picture cell k - expected image| over the cell's pixels,
 * expected given as floats in [0,1]. */
static int cell_diff_float(const unsigned char *pix, int w, int grid_cols, int k, const float *expected)
{
    int worst = 0;
    for (int y = 0; y < IMG_ROWS; y++)
        for (int x = 0; x < IMG_COLS; x++) {
            int d = abs(cell_pixel(pix, w, grid_cols, k, y, x) - to_byte(expected[y * IMG_COLS + x]));
            if (d > worst) worst = d;
        }
    return worst;
}

/* The largest pixel difference between cell ka of one grid and kb of another. */
static int cell_diff_cells(const unsigned char *a, int wa, int cols_a, int ka, const unsigned char *b, int wb,
                           int cols_b, int kb)
{
    int worst = 0;
    for (int y = 0; y < IMG_ROWS; y++)
        for (int x = 0; x < IMG_COLS; x++) {
            int d = abs(cell_pixel(a, wa, cols_a, ka, y, x) - cell_pixel(b, wb, cols_b, kb, y, x));
            if (d > worst) worst = d;
        }
    return worst;
}

/* The largest |a - b| over n images' pixels, as bytes. */
static int image_diff(const float *a, const float *b)
{
    int worst = 0;
    for (int i = 0; i < IMG_D; i++) {
        int d = abs(to_byte(a[i]) - to_byte(b[i]));
        if (d > worst) worst = d;
    }
    return worst;
}

/* Phi^-1(u) by bisection on Phi(x) = erfc(-x / sqrt 2) / 2, a reference
 * that shares nothing with vae_normal_quantile's rational approximation. */
static double quantile_by_bisection(double u)
{
    double lo = -40.0, hi = 40.0;
    for (int i = 0; i < 200; i++) {
        double mid = 0.5 * (lo + hi);
        if (0.5 * erfc(-mid / sqrt(2.0)) < u)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* Decoded means of z[n, latent] by the model file at path. */
static void decode_with(const char *path, const float *z, int n, float *mean)
{
    vae_model *m;
    ck_assert_int_eq(vae_model_load(path, &m), VAE_OK);
    ck_assert_int_eq(vae_decode(m, z, n, mean), VAE_OK);
    vae_model_free(m);
}

/* Latent means of the hand-built test images in index[0..n) (n <= 16). */
static void encode_images(const char *path, const int *index, int n, float *mu)
{
    float x[16 * IMG_D];
    for (int i = 0; i < n; i++)
        for (int y = 0; y < IMG_ROWS; y++)
            for (int c = 0; c < IMG_COLS; c++) x[i * IMG_D + y * IMG_COLS + c] = image_pixel(index[i], y, c) / 255.0f;
    vae_model *m;
    ck_assert_int_eq(vae_model_load(path, &m), VAE_OK);
    ck_assert_int_eq(vae_encode(m, x, n, mu, NULL), VAE_OK);
    vae_model_free(m);
}

static char model2[300], model3[300], model1[300], data_dir[300];

/* Before each test (in its own process and folder): the data set (60
 * training and 12 test images) and models with latents of 2, 3 and 1,
 * trained long enough that their decoders depend clearly on z (checked
 * where it matters). About 0.1 s. */
static void setup(void)
{
    setenv("VAE_TEST_PROG", "./vae", 0);
    snprintf(workdir, sizeof workdir, "/tmp/vae-pictures-%ld", (long)getpid());
    mkdir(workdir, 0755);
    char path[400];
    snprintf(data_dir, sizeof data_dir, "%s/data", workdir);
    mkdir(data_dir, 0755);
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", data_dir);
    write_idx_images(path, 60);
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", data_dir);
    write_idx_images(path, TEST_IMAGES);
    const int latents[3] = {2, 3, 1};
    char *models[3] = {model2, model3, model1};
    for (int i = 0; i < 3; i++) {
        snprintf(models[i], sizeof model2, "%s/z%d.model", workdir, latents[i]);
        int rc = run(VAE " train --data %s --epochs 20 --hidden 16 --latent %d --batch 8 --lr 0.01 --quiet --out %s",
                     data_dir, latents[i], models[i]);
        ck_assert_msg(rc == 0, "training failed:\n%s", output);
    }
}

static void teardown(void)
{
    cli_remove_dir(workdir);
}

/* ----------------------------------------------------------- quantile */

/* Phi^-1 at doubles p, to 40 digits by mpmath (findroot on log(erfc(-x /
 * sqrt 2) / 2) = log p, mp.dps = 60), the p given as Python floats. */
static const struct {
    double p, x;
} quantile_table[] = {
    {1e-300, -37.047096299361199237},
    {1e-100, -21.273453560965324294},
    {1e-20, -9.2623400897984075796},
    {1e-10, -6.3613409024040561991},
    {1e-05, -4.2648907939228246102},
    {0.001, -3.0902323061678135354},
    {0.025, -1.9599639845400542118},
    {0.05, -1.644853626951472688},
    {0.25, -0.6744897501960817432},
    {0.5, 0.0},
    {0.75, 0.6744897501960817432},
    {0.9, 1.2815515655446005935},
    {0.975, 1.9599639845400538556},
    {0.999, 3.0902323061678132778},
    {0.9999999999, 6.3613408896974218642},
};

/* Known values to 1e-12 relative: far beyond Acklam's 1.15e-9 alone, so the
 * refinement step must work in the centre and both tails. */
START_TEST(test_quantile_known_values)
{
    for (size_t i = 0; i < sizeof quantile_table / sizeof quantile_table[0]; i++) {
        double p = quantile_table[i].p, want = quantile_table[i].x, got = vae_normal_quantile(p);
        double err = want == 0.0 ? fabs(got) : fabs(got - want) / fabs(want);
        ck_assert_msg(err <= 1e-12, "Phi^-1(%.17g) = %.17g, want %.17g (relative error %.3g)", p, got, want, err);
    }
    /* The values the literature quotes, to their printed digits. */
    ck_assert_double_eq_tol(vae_normal_quantile(0.975), 1.959963984540054, 1.959963984540054 * 1e-12);
    ck_assert_double_eq_tol(vae_normal_quantile(1e-10), -6.361340902404056, 6.361340902404056 * 1e-12);
    ck_assert(vae_normal_quantile(0.5) == 0.0);
    /* Next to 1/2 the answer is tiny and Phi(x) - p cancels: the series
     * Phi^-1(1/2 + d) = sqrt(2 pi) d (1 + pi d^2 / 3 + O(d^4)), with d = p - 1/2
     * exact, is the reference (the next term is below 1e-19 here). */
    const double deltas[] = {1e-5, -3e-7, 1e-8, 0x1p-40, -1e-12, 1e-15, 0x1p-53};
    for (size_t i = 0; i < sizeof deltas / sizeof deltas[0]; i++) {
        double p = 0.5 + deltas[i], d = p - 0.5;
        const double pi = 3.14159265358979323846;
        double want = sqrt(2.0 * pi) * d * (1.0 + pi * d * d / 3.0), got = vae_normal_quantile(p);
        ck_assert_msg(fabs(got - want) <= 1e-12 * fabs(want), "Phi^-1(1/2 + %.3g) = %.17g, want %.17g", d, got, want);
    }
    /* The ends and outside the domain. */
    ck_assert(isinf(vae_normal_quantile(0.0)) && vae_normal_quantile(0.0) < 0);
    ck_assert(isinf(vae_normal_quantile(1.0)) && vae_normal_quantile(1.0) > 0);
    ck_assert(isnan(vae_normal_quantile(-0.1)));
    ck_assert(isnan(vae_normal_quantile(1.5)));
    ck_assert(isnan(vae_normal_quantile(NAN)));
    /* Subnormal p: finite and below the 1e-300 value. */
    double tiny = vae_normal_quantile(4.9e-324);
    ck_assert(isfinite(tiny) && tiny < -37.5 && tiny > -39.0);
}
END_TEST

/* Symmetry Phi^-1(1 - p) = -Phi^-1(p) (1 - p exact for p >= 1/2), and the
 * round trip through Phi(x) = erfc(-x / sqrt 2) / 2 from libm over the
 * lower tail (relative to p) and the upper tail (relative to 1 - p). */
START_TEST(test_quantile_symmetry_and_round_trip)
{
    for (int i = 0; i <= 1000; i++) {
        double p = 0.5 + 0.5 * i / 1000.0 * (1.0 - 1e-15); /* [0.5, 1) */
        double r = 1.0 - p;                                /* exact */
        double a = vae_normal_quantile(p), b = vae_normal_quantile(r);
        ck_assert_msg(fabs(a + b) <= 1e-12 * fabs(a), "Phi^-1(%.17g) = %.17g but Phi^-1(%.17g) = %.17g", p, a, r, b);
        /* the upper tail's round trip, relative to 1 - p */
        double tail = 0.5 * erfc(a / sqrt(2.0));
        ck_assert_msg(fabs(tail - r) <= 1e-12 * r, "1 - Phi(Phi^-1(%.17g)) = %.17g, want %.17g", p, tail, r);
    }
    /* p = 10^-e, e from 0.3 to 300: the lower tail. */
    for (int i = 0; i <= 2997; i++) {
        double p = pow(10.0, -0.3 - 0.1 * i);
        double x = vae_normal_quantile(p), back = 0.5 * erfc(-x / sqrt(2.0));
        ck_assert_msg(fabs(back - p) <= 1e-12 * p, "Phi(Phi^-1(%.17g)) = %.17g", p, back);
    }
    /* Evenly over (0, 1). */
    for (int i = 1; i < 1000; i++) {
        double p = i / 1000.0, x = vae_normal_quantile(p);
        ck_assert_msg(fabs(0.5 * erfc(-x / sqrt(2.0)) - p) <= 1e-12 * (p < 0.5 ? p : 1.0 - p), "p = %g", p);
        ck_assert(i == 1 || x > vae_normal_quantile((i - 1) / 1000.0)); /* increasing */
    }
}
END_TEST

/* ------------------------------------------------------------- sample */

START_TEST(test_sample_temperature_and_seed)
{
    char p0[400], p_half[400], p_one[400], p_default[400], p_seed2[400];
    snprintf(p0, sizeof p0, "%s/t0.pgm", workdir);
    snprintf(p_half, sizeof p_half, "%s/thalf.pgm", workdir);
    snprintf(p_one, sizeof p_one, "%s/t1.pgm", workdir);
    snprintf(p_default, sizeof p_default, "%s/tdefault.pgm", workdir);
    snprintf(p_seed2, sizeof p_seed2, "%s/seed2.pgm", workdir);
    /* Temperature 0: nine cells, every one the decoding of z = 0. */
    ck_assert_int_eq(run(VAE " sample --model %s --n 9 --temperature 0 --out %s", model2, p0), 0);
    int w, h;
    unsigned char *pix = read_pgm(p0, &w, &h);
    ck_assert_ptr_nonnull(pix);
    ck_assert_int_eq(w, grid_width(3));
    ck_assert_int_eq(h, grid_height(3));
    float zero[2] = {0.0f, 0.0f}, mean0[IMG_D];
    decode_with(model2, zero, 1, mean0);
    for (int k = 0; k < 9; k++) {
        ck_assert_int_eq(cell_diff_cells(pix, w, 3, k, pix, w, 3, 0), 0);
        ck_assert_int_le(cell_diff_float(pix, w, 3, k, mean0), 1);
    }
    free(pix);
    /* Temperature 0.5, seed 3: cell r decodes 0.5 * eps_r, eps_r the SAMPLE
     * stream's normals of row r. */
    ck_assert_int_eq(run(VAE " sample --model %s --n 4 --seed 3 --temperature 0.5 --out %s", model2, p_half), 0);
    ck_assert_int_eq(run(VAE " sample --model %s --n 4 --seed 3 --temperature 1 --out %s", model2, p_one), 0);
    ck_assert_int_eq(run(VAE " sample --model %s --n 4 --seed 3 --out %s", model2, p_default), 0);
    ck_assert_int_eq(run(VAE " sample --model %s --n 4 --seed 2 --out %s", model2, p_seed2), 0);
    int w1, h1, wd, hd, w2, h2;
    unsigned char *half = read_pgm(p_half, &w, &h), *one = read_pgm(p_one, &w1, &h1);
    unsigned char *dflt = read_pgm(p_default, &wd, &hd), *seed2 = read_pgm(p_seed2, &w2, &h2);
    ck_assert(half && one && dflt && seed2);
    ck_assert_int_eq(w, grid_width(2));
    ck_assert_int_eq(h, grid_height(2));
    float z[4 * 2], z1[4 * 2], mean[4 * IMG_D], mean1[4 * IMG_D];
    for (int r = 0; r < 4; r++)
        for (int j = 0; j < 2; j++) {
            z1[r * 2 + j] = vae_normal(3, VAE_STREAM_SAMPLE, 0, (uint32_t)r, (uint32_t)j);
            z[r * 2 + j] = 0.5f * z1[r * 2 + j];
        }
    decode_with(model2, z, 4, mean);
    decode_with(model2, z1, 4, mean1);
    int moved = 0;
    for (int k = 0; k < 4; k++) {
        ck_assert_int_le(cell_diff_float(half, w, 2, k, mean + k * IMG_D), 1);
        ck_assert_int_le(cell_diff_float(one, w, 2, k, mean1 + k * IMG_D), 1);
        int d = image_diff(mean + k * IMG_D, mean1 + k * IMG_D);
        if (d > moved) moved = d;
    }
    ck_assert_msg(moved >= 5, "the model barely depends on z (%d levels): the test could not tell T apart", moved);
    /* The default temperature is 1; another seed is another picture. */
    ck_assert_int_eq(w1 * h1, wd * hd);
    ck_assert(memcmp(one, dflt, (size_t)w1 * h1) == 0);
    ck_assert_int_eq(w2 * h2, wd * hd);
    ck_assert(memcmp(seed2, dflt, (size_t)w2 * h2) != 0);
    free(half);
    free(one);
    free(dflt);
    free(seed2);
    /* A negative temperature, or none at all, is a usage error. */
    ck_assert_int_eq(run(VAE " sample --model %s --temperature -0.5 --out %s", model2, p0), 2);
    ASSERT_OUTPUT_HAS("--temperature");
    ASSERT_OUTPUT_HAS("negative");
    ck_assert_int_eq(run(VAE " sample --model %s --temperature 101 --out %s", model2, p0), 2);
    ASSERT_OUTPUT_HAS("--temperature: 101 is more than 100");
    ck_assert_int_eq(run(VAE " sample --model %s --temperature warm --out %s", model2, p0), 2);
    ASSERT_OUTPUT_HAS("--temperature: 'warm'");
    ck_assert_int_eq(run(VAE " sample --help"), 0);
    ASSERT_OUTPUT_HAS("--temperature");
}
END_TEST

/* ------------------------------------------------------------- interp */

/* The interp row: originals at the ends, the decodings of
 * (1 - t) mu_I + t mu_J between, the first and last of them equal to
 * `vae recon`'s reconstructions. */
START_TEST(test_interp_row)
{
    char path[400], recon[400];
    snprintf(path, sizeof path, "%s/interp.pgm", workdir);
    snprintf(recon, sizeof recon, "%s/recon.pgm", workdir);
    const int steps = 5, cols = steps + 2;
    ck_assert_int_eq(run(VAE " interp --model %s --data %s --from 3 --to 1 --steps %d --out %s", model2, data_dir,
                         steps, path),
                     0);
    int w, h;
    unsigned char *pix = read_pgm(path, &w, &h);
    ck_assert_ptr_nonnull(pix);
    ck_assert_int_eq(w, grid_width(cols));
    ck_assert_int_eq(h, grid_height(1));
    /* The ends: test images 3 and 1, exactly. */
    for (int y = 0; y < IMG_ROWS; y++)
        for (int x = 0; x < IMG_COLS; x++) {
            ck_assert_int_eq(cell_pixel(pix, w, cols, 0, y, x), image_pixel(3, y, x));
            ck_assert_int_eq(cell_pixel(pix, w, cols, cols - 1, y, x), image_pixel(1, y, x));
        }
    /* The decodings against this test's own interpolation of the means. */
    const int index[2] = {3, 1};
    float mu[2 * 2], z[5 * 2], mean[5 * IMG_D];
    encode_images(model2, index, 2, mu);
    for (int k = 0; k < steps; k++) {
        double t = k / (double)(steps - 1);
        for (int j = 0; j < 2; j++) z[k * 2 + j] = (float)((1.0 - t) * mu[j] + t * mu[2 + j]);
    }
    decode_with(model2, z, steps, mean);
    for (int k = 0; k < steps; k++) ck_assert_int_le(cell_diff_float(pix, w, cols, 1 + k, mean + k * IMG_D), 1);
    ck_assert_msg(image_diff(mean, mean + (steps - 1) * IMG_D) >= 20,
                  "the two ends decode alike: the test could not catch a wrong line");
    /* The end decodings are `vae recon`'s reconstructions of images 3 and 1
     * (recon's grid: 8 originals per row, then their reconstructions). */
    ck_assert_int_eq(run(VAE " recon --model %s --data %s --n 4 --out %s", model2, data_dir, recon), 0);
    int wr, hr;
    unsigned char *rec = read_pgm(recon, &wr, &hr);
    ck_assert_ptr_nonnull(rec);
    ck_assert_int_le(cell_diff_cells(pix, w, cols, 1, rec, wr, 8, 8 + 3), 1);
    ck_assert_int_le(cell_diff_cells(pix, w, cols, cols - 2, rec, wr, 8, 8 + 1), 1);
    free(rec);
    free(pix);
}
END_TEST

/* Several rows: row r joins test images I + 2r and J + 2r; the defaults
 * (0 to 1, 10 steps) as a PNG of the right size. */
START_TEST(test_interp_rows_and_png)
{
    char path[400];
    snprintf(path, sizeof path, "%s/rows.pgm", workdir);
    ck_assert_int_eq(run(VAE " interp --model %s --data %s --from 2 --to 5 --steps 3 --rows 3 --out %s", model2,
                         data_dir, path),
                     0);
    int w, h;
    unsigned char *pix = read_pgm(path, &w, &h);
    ck_assert_ptr_nonnull(pix);
    ck_assert_int_eq(w, grid_width(5));
    ck_assert_int_eq(h, grid_height(3));
    const int index[6] = {2, 5, 4, 7, 6, 9};
    float mu[6 * 2], mid[3 * 2], mean[3 * IMG_D];
    encode_images(model2, index, 6, mu);
    for (int r = 0; r < 3; r++) {
        for (int y = 0; y < IMG_ROWS; y++)
            for (int x = 0; x < IMG_COLS; x++) {
                ck_assert_int_eq(cell_pixel(pix, w, 5, r * 5, y, x), image_pixel(index[2 * r], y, x));
                ck_assert_int_eq(cell_pixel(pix, w, 5, r * 5 + 4, y, x), image_pixel(index[2 * r + 1], y, x));
            }
        for (int j = 0; j < 2; j++) mid[r * 2 + j] = (float)(0.5 * mu[4 * r + j] + 0.5 * mu[4 * r + 2 + j]);
    }
    decode_with(model2, mid, 3, mean);
    for (int r = 0; r < 3; r++) ck_assert_int_le(cell_diff_float(pix, w, 5, r * 5 + 2, mean + r * IMG_D), 1);
    free(pix);
    snprintf(path, sizeof path, "%s/interp.png", workdir);
    ck_assert_int_eq(run(VAE " interp --model %s --data %s --out %s", model2, data_dir, path), 0);
    unsigned pw, ph;
    int type;
    ck_assert(cli_png_header(path, &pw, &ph, &type));
    ck_assert_int_eq(type, 0);
    ck_assert_uint_eq(pw, (unsigned)grid_width(12));
    ck_assert_uint_eq(ph, (unsigned)grid_height(1));
}
END_TEST

START_TEST(test_interp_errors)
{
    char out[400];
    snprintf(out, sizeof out, "%s/bad.png", workdir);
    ck_assert_int_eq(run(VAE " interp --model %s --data %s --from 12 --out %s", model2, data_dir, out), 2);
    ASSERT_OUTPUT_HAS("--from: there is no test image 12 (the test set has 12 images, 0..11)");
    ck_assert_int_eq(run(VAE " interp --model %s --data %s --to 40 --out %s", model2, data_dir, out), 2);
    ASSERT_OUTPUT_HAS("--to: there is no test image 40");
    ck_assert_int_eq(run(VAE " interp --model %s --data %s --from -1 --out %s", model2, data_dir, out), 2);
    ASSERT_OUTPUT_HAS("--from");
    /* Six rows from (0,1) end at (10,11); a seventh needs image 13. */
    ck_assert_int_eq(run(VAE " interp --model %s --data %s --rows 6 --steps 2 --out %s", model2, data_dir, out), 0);
    ck_assert_int_eq(run(VAE " interp --model %s --data %s --rows 7 --out %s", model2, data_dir, out), 2);
    ASSERT_OUTPUT_HAS("--rows");
    ASSERT_OUTPUT_HAS("up to 13");
    ck_assert_int_eq(run(VAE " interp --model %s --data %s --steps 1 --out %s", model2, data_dir, out), 2);
    ASSERT_OUTPUT_HAS("--steps");
    ck_assert_int_eq(run(VAE " interp --model %s --data %s", model2, data_dir), 2);
    ASSERT_OUTPUT_HAS("--out is required");
    ck_assert_int_eq(run(VAE " interp --model %s --data %s/nowhere --out %s", model2, workdir, out), 1);
    ASSERT_OUTPUT_HAS("nowhere");
    ck_assert_int_eq(run(VAE " interp --help"), 0);
    ASSERT_OUTPUT_HAS("usage: vae interp");
    ASSERT_OUTPUT_HAS("ends");
}
END_TEST

/* ----------------------------------------------------------- manifold */

/* Checks every cell of a size x size manifold picture of the model at path
 * against decodings at this test's own quantiles: u_i = Q + (1 - 2Q) i /
 * (size - 1), column b -> z[dim_i] = Phi^-1(u_b), row a -> z[dim_j] =
 * Phi^-1(u_{size-1-a}), others 0. Returns the largest pixel difference
 * between the decodings of two opposite corners (how much the picture
 * depends on z). */
static int check_manifold(const char *picture, const char *model, int latent, int size, double q, int dim_i,
                          int dim_j)
{
    int w, h;
    unsigned char *pix = read_pgm(picture, &w, &h);
    ck_assert_ptr_nonnull(pix);
    ck_assert_int_eq(w, grid_width(size));
    ck_assert_int_eq(h, grid_height(size));
    int n = size * size;
    float *z = calloc((size_t)n * latent, sizeof(float)), *mean = malloc(sizeof(float) * (size_t)n * IMG_D);
    ck_assert(z && mean);
    for (int a = 0; a < size; a++)
        for (int b = 0; b < size; b++) {
            double ub = size == 1 ? 0.5 : q + (1.0 - 2.0 * q) * b / (size - 1);
            double ua = size == 1 ? 0.5 : q + (1.0 - 2.0 * q) * (size - 1 - a) / (size - 1);
            z[(a * size + b) * latent + dim_i] = (float)quantile_by_bisection(ub);
            z[(a * size + b) * latent + dim_j] = (float)quantile_by_bisection(ua);
        }
    decode_with(model, z, n, mean);
    for (int k = 0; k < n; k++)
        ck_assert_msg(cell_diff_float(pix, w, size, k, mean + (size_t)k * IMG_D) <= 1, "cell %d of %s", k, picture);
    int spread = image_diff(mean, mean + (size_t)(n - 1) * IMG_D);
    free(z);
    free(mean);
    free(pix);
    return spread;
}

START_TEST(test_manifold_latent2)
{
    char path[400];
    snprintf(path, sizeof path, "%s/manifold.pgm", workdir);
    ck_assert_int_eq(run(VAE " manifold --model %s --size 4 --out %s", model2, path), 0);
    ASSERT_OUTPUT_HAS("4x4 manifold");
    ck_assert_msg(check_manifold(path, model2, 2, 4, 0.05, 0, 1) >= 20, "the corners decode alike");
    /* The other orientation and another range: a wrong axis or range fails. */
    ck_assert_int_eq(run(VAE " manifold --model %s --size 5 --dims 1,0 --range 0.2 --out %s", model2, path), 0);
    check_manifold(path, model2, 2, 5, 0.2, 1, 0);
    /* Size 1 is the single point z = 0. */
    ck_assert_int_eq(run(VAE " manifold --model %s --size 1 --out %s", model2, path), 0);
    check_manifold(path, model2, 2, 1, 0.05, 0, 1);
    /* The default, as a PNG: 20 x 20 cells. */
    snprintf(path, sizeof path, "%s/manifold.png", workdir);
    ck_assert_int_eq(run(VAE " manifold --model %s --out %s", model2, path), 0);
    unsigned pw, ph;
    int type;
    ck_assert(cli_png_header(path, &pw, &ph, &type));
    ck_assert_int_eq(type, 0);
    ck_assert_uint_eq(pw, (unsigned)grid_width(20));
    ck_assert_uint_eq(ph, (unsigned)grid_height(20));
}
END_TEST

/* A latent of 3: --dims picks two dimensions, the third stays at 0. */
START_TEST(test_manifold_latent3_dims)
{
    char path[400], swapped[400];
    snprintf(path, sizeof path, "%s/m3.pgm", workdir);
    snprintf(swapped, sizeof swapped, "%s/m3-swapped.pgm", workdir);
    ck_assert_int_eq(run(VAE " manifold --model %s --size 3 --dims 2,0 --out %s", model3, path), 0);
    ASSERT_OUTPUT_HAS("dimensions 2 (across) and 0 (up)");
    ck_assert_msg(check_manifold(path, model3, 3, 3, 0.05, 2, 0) >= 5, "the corners decode alike");
    ck_assert_int_eq(run(VAE " manifold --model %s --size 3 --dims 0,2 --out %s", model3, swapped), 0);
    check_manifold(swapped, model3, 3, 3, 0.05, 0, 2);
    /* The default dims 0,1. */
    ck_assert_int_eq(run(VAE " manifold --model %s --size 3 --out %s", model3, path), 0);
    check_manifold(path, model3, 3, 3, 0.05, 0, 1);
}
END_TEST

START_TEST(test_manifold_errors)
{
    char out[400];
    snprintf(out, sizeof out, "%s/bad.png", workdir);
    ck_assert_int_eq(run(VAE " manifold --model %s --size 0 --out %s", model2, out), 2);
    ASSERT_OUTPUT_HAS("--size: '0'");
    ck_assert_int_eq(run(VAE " manifold --model %s --size 101 --out %s", model2, out), 2);
    ASSERT_OUTPUT_HAS("--size: 101");
    const char *bad_dims[] = {"0", "0,", ",1", "a,b", "0,1,2", "-1,0", "0;1", ""};
    for (size_t i = 0; i < sizeof bad_dims / sizeof bad_dims[0]; i++) {
        ck_assert_int_eq(run(VAE " manifold --model %s --dims '%s' --out %s", model2, bad_dims[i], out), 2);
        ASSERT_OUTPUT_HAS("--dims");
    }
    ck_assert_int_eq(run(VAE " manifold --model %s --dims 1,1 --out %s", model2, out), 2);
    ASSERT_OUTPUT_HAS("--dims: '1,1' names dimension 1 twice");
    ck_assert_int_eq(run(VAE " manifold --model %s --dims 0,3 --out %s", model3, out), 2);
    ASSERT_OUTPUT_HAS("--dims: dimension 3 does not exist (the model's latent has 3 dimensions, 0..2)");
    ck_assert_int_eq(run(VAE " manifold --model %s --dims 2,1 --out %s", model2, out), 2);
    ASSERT_OUTPUT_HAS("dimension 2 does not exist");
    const char *bad_range[] = {"0", "0.5", "-0.1", "1", "x", "nan"};
    for (size_t i = 0; i < sizeof bad_range / sizeof bad_range[0]; i++) {
        ck_assert_int_eq(run(VAE " manifold --model %s --range %s --out %s", model2, bad_range[i], out), 2);
        ASSERT_OUTPUT_HAS("--range");
    }
    /* A latent of one dimension has no 2-D manifold: the model is named. */
    ck_assert_int_eq(run(VAE " manifold --model %s --out %s", model1, out), 1);
    ASSERT_OUTPUT_HAS("z1.model");
    ASSERT_OUTPUT_HAS("needs 2");
    ck_assert_int_eq(run(VAE " manifold --model %s/none.model --out %s", workdir, out), 1);
    ASSERT_OUTPUT_HAS("none.model");
    ck_assert_int_eq(access(out, F_OK), -1); /* no failed run wrote a picture */
    ck_assert_int_eq(run(VAE " manifold --help"), 0);
    ASSERT_OUTPUT_HAS("usage: vae manifold");
    ck_assert_int_eq(run(VAE " --help"), 0);
    ASSERT_OUTPUT_HAS("interp");
    ASSERT_OUTPUT_HAS("manifold");
}
END_TEST

Suite *vae_cli_pictures_suite(void)
{
    Suite *s = suite_create("cli_pictures");
    TCase *quantile = tcase_create("quantile");
    tcase_add_test(quantile, test_quantile_known_values);
    tcase_add_test(quantile, test_quantile_symmetry_and_round_trip);
    suite_add_tcase(s, quantile);
    TCase *cli = tcase_create("pictures");
    tcase_set_timeout(cli, 120);
    tcase_add_checked_fixture(cli, setup, teardown);
    tcase_add_test(cli, test_sample_temperature_and_seed);
    tcase_add_test(cli, test_interp_row);
    tcase_add_test(cli, test_interp_rows_and_png);
    tcase_add_test(cli, test_interp_errors);
    tcase_add_test(cli, test_manifold_latent2);
    tcase_add_test(cli, test_manifold_latent3_dims);
    tcase_add_test(cli, test_manifold_errors);
    suite_add_tcase(s, cli);
    return s;
}

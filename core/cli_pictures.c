/* cli_pictures.c - the commands that write pictures: `vae sample` (draws
 * from the prior, scaled by a temperature), `vae recon` (test images beside
 * their reconstructions), `vae interp` (decodings along the line between
 * two test images' latent means) and `vae manifold` (a 2-D latent's decoded
 * grid over the prior's quantiles). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The most cells a picture may have (as `vae sample --n`). */
#define MAX_CELLS 10000

/* n floats, or NULL (with n * count overflowing size_t as a failure). */
static float *alloc_floats(size_t n, size_t count)
{
    if (count != 0 && n > SIZE_MAX / sizeof(float) / count) return NULL;
    return malloc(sizeof(float) * n * count);
}

/* Loads DIR and picks the images the picture commands show: the test set,
 * or the training set when DIR has no test images. Checks that they have the
 * model's shape. Returns 0 with *ds to free, or an exit status (printed). */
static int load_shown_images(const char *data, const vae_config *cfg, vae_dataset *ds, const vae_images **images)
{
    if (vae_dataset_load(data, NULL, ds) != VAE_OK) return fail_runtime();
    const vae_images *im = ds->test.count > 0 ? &ds->test : &ds->train;
    if (im->rows != cfg->image_rows || im->cols != cfg->image_cols || im->channels != cfg->image_channels) {
        fprintf(stderr, "%s: %s: images are %dx%dx%d but the model takes %dx%dx%d\n", command_name, data, im->rows,
                im->cols, im->channels, cfg->image_rows, cfg->image_cols, cfg->image_channels);
        vae_dataset_free(ds);
        return EXIT_RUNTIME;
    }
    *images = im;
    return 0;
}

/* --------------------------------------------------------------- sample */

static const char sample_help[] =
    "usage: vae sample --model MODEL [--n 64] [--seed 1] [--temperature 1] --out FILE\n"
    "\n"
    "Draws n latent vectors z = T * eps, eps ~ N(0, I) (the prior when T = 1),\n"
    "decodes them and writes the decoder means as a grid picture (.png, .ppm or\n"
    ".pgm by the extension). A temperature T below 1 keeps to the likelier middle\n"
    "of the prior (sharper, less varied pictures); T = 0 decodes z = 0 every time.\n"
    "0 <= T <= 100.\n"
    "The seed picks eps: the same seed gives the same picture.\n";

/* Decodes z = T * eps for n draws eps of the SAMPLE stream of seed. */
int cmd_sample(int argc, char **argv)
{
    const char *model_path = NULL, *out = NULL;
    int n = 64, help;
    uint64_t seed = 1;
    float temperature = 1.0f;
    option opts[] = {
        {"model", OPT_STRING, &model_path, 0}, {"out", OPT_STRING, &out, 0},
        {"n", OPT_INT, &n, 1},                 {"seed", OPT_U64, &seed, 0},
        {"temperature", OPT_FLOAT, &temperature, 0},
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
    if (n > MAX_CELLS) return fail_usage("--n: %d is more than %d images", n, MAX_CELLS);
    /* Above 100 the draws are far outside anything the decoder saw, and
     * its sums could overflow to inf - inf = NaN. */
    if (temperature < 0.0f) return fail_usage("--temperature: %g is negative; it must be 0 or more", temperature);
    if (temperature > 100.0f) return fail_usage("--temperature: %g is more than 100", temperature);
    vae_model *m;
    if (vae_model_load(model_path, &m) != VAE_OK) return fail_runtime();
    const vae_config *cfg = vae_model_get_config(m);
    int Z = cfg->latent, D = vae_config_input_dim(cfg);
    float *z = alloc_floats((size_t)n, (size_t)Z), *mean = alloc_floats((size_t)n, (size_t)D);
    int status = 0;
    if (!z || !mean) {
        fprintf(stderr, "%s: out of memory for %d samples\n", command_name, n);
        status = EXIT_RUNTIME;
        goto done;
    }
    /* z[r, j] = T * eps[r, j], eps from (seed, SAMPLE, step 0, row r, column j) */
    for (int r = 0; r < n; r++)
        for (int j = 0; j < Z; j++)
            z[(size_t)r * Z + j] = temperature * vae_normal(seed, VAE_STREAM_SAMPLE, 0, (uint32_t)r, (uint32_t)j);
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

int cmd_recon(int argc, char **argv)
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
    if (n > MAX_CELLS) return fail_usage("--n: %d is more than %d images", n, MAX_CELLS);
    vae_model *m;
    if (vae_model_load(model_path, &m) != VAE_OK) return fail_runtime();
    const vae_config *cfg = vae_model_get_config(m);
    vae_dataset ds;
    const vae_images *images;
    int status = load_shown_images(data, cfg, &ds, &images);
    if (status) {
        vae_model_free(m);
        return status;
    }
    int Z = cfg->latent, D = vae_config_input_dim(cfg);
    float *x = NULL, *z = NULL, *mean = NULL, *grid = NULL;
    if (n > images->count) n = images->count;
    const int per_row = 8;
    x = alloc_floats((size_t)n, (size_t)D);
    z = alloc_floats((size_t)n, (size_t)Z);
    mean = alloc_floats((size_t)n, (size_t)D);
    int grid_rows = 2 * ((n + per_row - 1) / per_row);
    grid = alloc_floats((size_t)grid_rows * per_row, (size_t)D);
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

/* --------------------------------------------------------------- interp */

static const char interp_help[] =
    "usage: vae interp --model MODEL [--data DIR] [--from I] [--to J] [--steps 10]\n"
    "                  [--rows R] --out FILE\n"
    "\n"
    "Walks the straight line between the latent means mu_I and mu_J of test\n"
    "images I and J (default 0 and 1) and writes one row of pictures:\n"
    "\n"
    "  image I | decode(z_0) ... decode(z_{steps-1}) | image J\n"
    "\n"
    "with z_k = (1 - t) mu_I + t mu_J, t = k / (steps - 1): the original images\n"
    "stand at the two ends of the row, and the first and last decodings are\n"
    "their reconstructions (as 'vae recon' draws them). steps >= 2.\n"
    "With --rows R, row r does the same for test images I + 2r and J + 2r: by\n"
    "default the pairs (0,1), (2,3), (4,5), ...\n"
    "DIR and its test images are as for 'vae recon' (the training images when\n"
    "it has no test images). The picture is .png, .ppm or .pgm by the extension.\n";

/* Checks that test image `index` (named by option) exists; 0 or EXIT_USAGE. */
static int check_image_index(const char *option_name, int index, int count)
{
    if (index < count) return 0;
    return fail_usage("--%s: there is no test image %d (the test set has %d images, 0..%d)", option_name, index,
                      count, count - 1);
}

int cmd_interp(int argc, char **argv)
{
    const char *model_path = NULL, *out = NULL, *data = "data";
    int from = 0, to = 1, steps = 10, rows = 1, help;
    option opts[] = {
        {"model", OPT_STRING, &model_path, 0}, {"out", OPT_STRING, &out, 0},
        {"data", OPT_STRING, &data, 0},        {"from", OPT_INT, &from, 0},
        {"to", OPT_INT, &to, 0},               {"steps", OPT_INT, &steps, 2},
        {"rows", OPT_INT, &rows, 1},           {NULL, OPT_FLAG, NULL, 0},
    };
    int rc = parse_options(argc, argv, opts, &help, NULL);
    if (rc) return rc;
    if (help) {
        fputs(interp_help, stdout);
        return 0;
    }
    if (!model_path) return fail_usage("--model is required");
    if (!out) return fail_usage("--out is required");
    if (steps > MAX_CELLS || rows > MAX_CELLS || (long long)rows * (steps + 2) > MAX_CELLS)
        return fail_usage("--steps %d and --rows %d: %lld pictures is more than %d", steps, rows,
                          (long long)rows * (steps + 2), MAX_CELLS);
    vae_model *m;
    if (vae_model_load(model_path, &m) != VAE_OK) return fail_runtime();
    const vae_config *cfg = vae_model_get_config(m);
    vae_dataset ds;
    const vae_images *images;
    int status = load_shown_images(data, cfg, &ds, &images);
    if (status) {
        vae_model_free(m);
        return status;
    }
    int Z = cfg->latent, D = vae_config_input_dim(cfg), count = images->count;
    float *x = NULL, *mu = NULL, *z = NULL, *mean = NULL, *grid = NULL;
    /* rows <= MAX_CELLS, so the last row's indexes fit in an int. */
    int last_from = from + 2 * (rows - 1), last_to = to + 2 * (rows - 1);
    if ((status = check_image_index("from", from, count)) || (status = check_image_index("to", to, count)))
        goto done;
    if (last_from >= count || last_to >= count) {
        status = fail_usage("--rows: %d rows need test images up to %d (row r joins %d + 2r and %d + 2r), "
                            "but the test set has %d images, 0..%d",
                            rows, last_from > last_to ? last_from : last_to, from, to, count, count - 1);
        goto done;
    }
    int cols = steps + 2, ends = 2 * rows;
    x = alloc_floats((size_t)ends, (size_t)D);
    mu = alloc_floats((size_t)ends, (size_t)Z);
    z = alloc_floats((size_t)rows * steps, (size_t)Z);
    mean = alloc_floats((size_t)rows * steps, (size_t)D);
    grid = alloc_floats((size_t)rows * cols, (size_t)D);
    if (!x || !mu || !z || !mean || !grid) {
        fprintf(stderr, "%s: out of memory for %d rows of %d pictures\n", command_name, rows, cols);
        status = EXIT_RUNTIME;
        goto done;
    }
    /* x[2r] = image from + 2r, x[2r+1] = image to + 2r: the ends of row r. */
    for (int r = 0; r < rows; r++) {
        vae_images_copy_float(images, (size_t)(from + 2 * r), 1, x + (size_t)(2 * r) * D);
        vae_images_copy_float(images, (size_t)(to + 2 * r), 1, x + (size_t)(2 * r + 1) * D);
    }
    if (vae_encode(m, x, ends, mu, NULL) != VAE_OK) {
        status = fail_runtime();
        goto done;
    }
    /* z[r, k] = (1 - t) mu_a + t mu_b, t = k / (steps - 1), in double: t = 0
     * and t = 1 give mu_a and mu_b exactly, so the end decodings are the
     * reconstructions. */
    for (int r = 0; r < rows; r++) {
        const float *mu_a = mu + (size_t)(2 * r) * Z, *mu_b = mu + (size_t)(2 * r + 1) * Z;
        for (int k = 0; k < steps; k++) {
            double t = (double)k / (steps - 1);
            float *zk = z + ((size_t)r * steps + k) * Z;
            for (int j = 0; j < Z; j++) zk[j] = (float)((1.0 - t) * mu_a[j] + t * mu_b[j]);
        }
    }
    if (vae_decode(m, z, rows * steps, mean) != VAE_OK) {
        status = fail_runtime();
        goto done;
    }
    /* Row r: original a, the steps decodings, original b. */
    for (int r = 0; r < rows; r++) {
        float *row = grid + (size_t)r * cols * D;
        memcpy(row, x + (size_t)(2 * r) * D, sizeof(float) * (size_t)D);
        memcpy(row + D, mean + (size_t)r * steps * D, sizeof(float) * (size_t)steps * D);
        memcpy(row + (size_t)(cols - 1) * D, x + (size_t)(2 * r + 1) * D, sizeof(float) * (size_t)D);
    }
    status = write_grid(grid, rows * cols, cfg, cols, out);
    if (!status) {
        if (rows == 1)
            printf("wrote %d steps from test image %d to %d to %s\n", steps, from, to, out);
        else
            printf("wrote %d rows of %d steps (test images %d..%d to %d..%d) to %s\n", rows, steps, from, last_from,
                   to, last_to, out);
    }
done:
    free(x);
    free(mu);
    free(z);
    free(mean);
    free(grid);
    vae_dataset_free(&ds);
    vae_model_free(m);
    return status;
}

/* ------------------------------------------------------------- manifold */

static const char manifold_help[] =
    "usage: vae manifold --model MODEL [--size 20] [--dims I,J] [--range Q] --out FILE\n"
    "\n"
    "The learned manifold, as in Kingma & Welling (2014), figure 4: a size x size\n"
    "grid of decodings of latent points placed at the prior's quantiles. With\n"
    "u_0 .. u_{size-1} evenly spaced from Q to 1 - Q (numpy's linspace(Q, 1-Q,\n"
    "size); u = 1/2 when size is 1), the cell in row a, column b decodes\n"
    "\n"
    "  z_I = Phi^-1(u_b),  z_J = Phi^-1(u_{size-1-a}),  every other z_j = 0\n"
    "\n"
    "(Phi^-1 the standard normal's inverse CDF): z_I grows to the right and z_J\n"
    "upwards, as on a plot, and the other dimensions sit at the prior's mean.\n"
    "Q defaults to 0.05 (z from -1.645 to 1.645), 0 < Q < 0.5; I,J to 0,1. The\n"
    "model needs a latent of 2 or more dimensions; size is 1 to 100. The picture\n"
    "is .png, .ppm or .pgm by the extension.\n";

/* "I,J" -> two different non-negative integers; 0 or EXIT_USAGE. */
static int parse_dims(const char *text, int *dim_i, int *dim_j)
{
    char *end;
    errno = 0;
    long i = strtol(text, &end, 10);
    int ok = !errno && end != text && *end == ',' && text[0] != '-' && i <= 1000000000L;
    long j = 0;
    if (ok) {
        const char *second = end + 1;
        j = strtol(second, &end, 10);
        ok = !errno && end != second && *end == 0 && second[0] != '-' && j <= 1000000000L;
    }
    if (!ok) return fail_usage("--dims: '%s' is not two latent dimensions I,J such as 0,1", text);
    if (i == j) return fail_usage("--dims: '%s' names dimension %ld twice; I and J must differ", text, i);
    *dim_i = (int)i;
    *dim_j = (int)j;
    return 0;
}

/* Q of --range: a number with 0 < Q < 0.5, in double. 0 or EXIT_USAGE. */
static int parse_range(const char *text, double *q)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v > 0.0 && v < 0.5))
        return fail_usage("--range: '%s' is not a number between 0 and 0.5 (both excluded)", text);
    *q = v;
    return 0;
}

int cmd_manifold(int argc, char **argv)
{
    const char *model_path = NULL, *out = NULL, *dims_text = "0,1", *range_text = "0.05";
    int size = 20, help, dim_i = 0, dim_j = 1;
    double q = 0.05;
    option opts[] = {
        {"model", OPT_STRING, &model_path, 0}, {"out", OPT_STRING, &out, 0},
        {"size", OPT_INT, &size, 1},           {"dims", OPT_STRING, &dims_text, 0},
        {"range", OPT_STRING, &range_text, 0}, {NULL, OPT_FLAG, NULL, 0},
    };
    int rc = parse_options(argc, argv, opts, &help, NULL);
    if (rc) return rc;
    if (help) {
        fputs(manifold_help, stdout);
        return 0;
    }
    if (!model_path) return fail_usage("--model is required");
    if (!out) return fail_usage("--out is required");
    if (size > 100) return fail_usage("--size: %d is more than 100 (a %dx%d grid)", size, size, size);
    if ((rc = parse_dims(dims_text, &dim_i, &dim_j)) || (rc = parse_range(range_text, &q))) return rc;
    vae_model *m;
    if (vae_model_load(model_path, &m) != VAE_OK) return fail_runtime();
    const vae_config *cfg = vae_model_get_config(m);
    int Z = cfg->latent, D = vae_config_input_dim(cfg), n = size * size, status = 0;
    double *quantiles = NULL;
    float *z = NULL, *mean = NULL;
    if (Z < 2) {
        fprintf(stderr, "%s: %s: the model's latent has 1 dimension; a manifold needs 2\n", command_name, model_path);
        status = EXIT_RUNTIME;
        goto done;
    }
    if (dim_i >= Z || dim_j >= Z) {
        status = fail_usage("--dims: dimension %d does not exist (the model's latent has %d dimensions, 0..%d)",
                            dim_i >= Z ? dim_i : dim_j, Z, Z - 1);
        goto done;
    }
    quantiles = malloc(sizeof(double) * (size_t)size);
    z = calloc((size_t)n * Z, sizeof(float)); /* every other dimension at 0 */
    mean = alloc_floats((size_t)n, (size_t)D);
    if (!quantiles || !z || !mean) {
        fprintf(stderr, "%s: out of memory for a %dx%d grid\n", command_name, size, size);
        status = EXIT_RUNTIME;
        goto done;
    }
    /* quantiles[i] = Phi^-1(u_i), u_i = Q + (1 - 2Q) i / (size - 1): the
     * lower half computed, the upper half mirrored (Phi^-1(1 - u) = -Phi^-1(u)),
     * so the grid is exactly symmetric and a middle point is exactly 0. */
    for (int i = 0; i < size; i++) quantiles[i] = 0.0;
    for (int i = 0; i < size / 2; i++) {
        quantiles[i] = vae_normal_quantile(q + (1.0 - 2.0 * q) * i / (size - 1));
        quantiles[size - 1 - i] = -quantiles[i];
    }
    /* Cell (a, b): z_I = quantiles[b], z_J = quantiles[size - 1 - a]. */
    for (int a = 0; a < size; a++)
        for (int b = 0; b < size; b++) {
            float *zc = z + ((size_t)a * size + b) * Z;
            zc[dim_i] = (float)quantiles[b];
            zc[dim_j] = (float)quantiles[size - 1 - a];
        }
    if (vae_decode(m, z, n, mean) != VAE_OK) {
        status = fail_runtime();
        goto done;
    }
    status = write_grid(mean, n, cfg, size, out);
    if (!status)
        printf("wrote a %dx%d manifold of latent dimensions %d (across) and %d (up), z from %.3f to %.3f, to %s\n",
               size, size, dim_i, dim_j, quantiles[0], quantiles[size - 1], out);
done:
    free(quantiles);
    free(z);
    free(mean);
    vae_model_free(m);
    return status;
}

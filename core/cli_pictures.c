/* cli_pictures.c - the commands that write pictures: `vae sample` (draws
 * from the prior) and `vae recon` (test images beside their reconstructions). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* --------------------------------------------------------------- sample */

static const char sample_help[] =
    "usage: vae sample --model MODEL [--n 64] [--seed 1] --out FILE\n"
    "\n"
    "Draws n latent vectors from the prior N(0, I), decodes them and writes the\n"
    "decoder means as a grid picture (.png, .ppm or .pgm by the extension).\n";

int cmd_sample(int argc, char **argv)
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


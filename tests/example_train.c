/* example_train.c - libvae used as a library, through its public header
 * only: load a data set, train a VAE for two epochs, then decode draws from
 * the prior into a picture. Build it against an installed libvae with
 *
 *     cc example_train.c $(pkg-config --cflags --libs vae) -o example_train
 *
 * or in the source tree with cc -Icore ... libvae.a -lm -lpthread.
 *
 *     example_train [DATA_DIR [OUT.png [MAX_IMAGES]]]
 *
 * DATA_DIR (default data) is an MNIST-format folder or a folder of Netpbm
 * images; MAX_IMAGES (default all) trains on the first that many images.
 * Exit status 0, or 1 with the library's reason on stderr. `make check` runs
 * it on data/ and so also checks that the second epoch lowers the loss. */
#include "vae.h" /* first, so that building this checks that vae.h stands alone */

#include <stdio.h>
#include <stdlib.h>

#define EPOCHS 2
#define SAMPLES 8 /* images decoded from the prior, side by side */

/* After each epoch: one line, and the train loss of the first and latest
 * epoch in user (double[2]). Returning non-zero would stop training. */
static int on_epoch(const vae_epoch_report *r, void *user)
{
    double *loss = user;
    if (r->epoch == 1) loss[0] = r->train_loss;
    loss[1] = r->train_loss;
    printf("epoch %d/%d  train %.2f nats (KL %.2f)  test %.2f nats  %.0f images/s\n", r->epoch,
           r->epochs, r->train_loss, r->train_kl, r->test_loss, r->images_per_second);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "data";
    const char *out = argc > 2 ? argv[2] : "example-samples.png";
    int max_images = argc > 3 ? atoi(argv[3]) : 0;
    vae_dataset ds = {0};
    vae_model *m = NULL;
    float *z = NULL, *mean = NULL;
    unsigned char *grid = NULL;
    const char *step = "loading the data"; /* what failed, for the message */
    int status = 1;

    if (vae_dataset_load(dir, NULL, &ds) != VAE_OK) goto fail;
    vae_images train = ds.train; /* a view of the first max_images images */
    if (max_images > 0 && max_images < train.count) train.count = max_images;

    /* The classic model (784-400-20, ReLU, Bernoulli, beta 1), shaped to the data. */
    vae_config cfg;
    vae_config_default(&cfg);
    cfg.image_rows = train.rows;
    cfg.image_cols = train.cols;
    cfg.image_channels = train.channels;
    step = "creating the model";
    if (vae_model_create(&cfg, /*seed*/ 1, &m) != VAE_OK) goto fail;

    vae_train_options opt;
    vae_train_options_default(&opt); /* batch 128, Adam lr 1e-3 */
    opt.epochs = EPOCHS;
    opt.max_test = 500;
    double loss[2] = {0, 0};
    step = "training";
    if (vae_train(m, &train, &ds.test, &opt, on_epoch, loss) != VAE_OK) goto fail;
    if (!(loss[1] < loss[0])) {
        fprintf(stderr, "example_train: epoch %d's loss %.3f is not below epoch 1's %.3f\n", EPOCHS,
                loss[1], loss[0]);
        goto cleanup;
    }

    /* z[i][j] ~ N(0, 1) from the SAMPLE stream; mean = the decoder's pixels
     * in [0, 1]; the grid puts image i at columns i*W .. i*W+W-1. */
    int d = vae_config_input_dim(&cfg), w = cfg.image_cols, h = cfg.image_rows, ch = cfg.image_channels;
    z = malloc(sizeof(float) * SAMPLES * (size_t)cfg.latent);
    mean = malloc(sizeof(float) * SAMPLES * (size_t)d);
    grid = malloc((size_t)SAMPLES * (size_t)d);
    if (!z || !mean || !grid) {
        fprintf(stderr, "example_train: out of memory\n");
        goto cleanup;
    }
    for (int i = 0; i < SAMPLES; i++)
        for (int j = 0; j < cfg.latent; j++)
            z[i * cfg.latent + j] = vae_normal(/*seed*/ 1, VAE_STREAM_SAMPLE, 0, (uint32_t)i, (uint32_t)j);
    step = "decoding";
    if (vae_decode(m, z, SAMPLES, mean) != VAE_OK) goto fail;
    for (int i = 0; i < SAMPLES; i++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w * ch; x++)
                grid[((size_t)y * SAMPLES * w + (size_t)i * w) * ch + x] =
                    (unsigned char)(255.0f * mean[(size_t)i * d + (size_t)y * w * ch + x] + 0.5f);
    step = out;
    if (vae_write_image(out, grid, SAMPLES * w, h, ch) != VAE_OK) goto fail;
    printf("wrote %d samples to %s\n", SAMPLES, out);
    status = 0;
    goto cleanup;

fail:
    fprintf(stderr, "example_train: %s: %s\n", step, vae_last_error());
cleanup:
    free(grid), free(mean), free(z);
    vae_model_free(m);
    vae_dataset_free(&ds);
    return status;
}

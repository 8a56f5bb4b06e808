/* train.c - the epoch loop: shuffle, gather, step, test pass, report.
 *
 * All memory is taken before the first epoch (the order array here, the
 * workspace in the model); the loop itself allocates nothing. */
#include <stdlib.h>
#include <time.h>

#include "model.h"

void vae_train_options_default(vae_train_options *opt)
{
    opt->epochs = 10;
    opt->batch = 128;
    opt->lr = 1e-3f;
    opt->max_test = 0;
}

void vae_images_to_float(const uint8_t *pixels, size_t n_values, float *out)
{
    for (size_t i = 0; i < n_values; i++) out[i] = (float)pixels[i] / 255.0f;
}

/* The order of the training set in an epoch: a Fisher-Yates shuffle of
 * 0..n-1 whose draws come from (seed, SHUFFLE, epoch, i), so it depends only
 * on the seed and the epoch number (a resumed run sees the same order). */
static void shuffle_order(uint32_t *order, int n, uint64_t seed, int epoch)
{
    for (int i = 0; i < n; i++) order[i] = (uint32_t)i;
    for (int i = n - 1; i > 0; i--) {
        float u = vae_uniform(seed, VAE_STREAM_SHUFFLE, (uint64_t)epoch, (uint32_t)i, 0);
        int j = (int)(u * (float)(i + 1));
        if (j > i) j = i;
        uint32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}

/* Mean loss and KL per image over the first n images of test, one z sample
 * each from (seed, EVAL, epoch, image index). */
static int test_pass(vae_model *m, const vae_images *test, int n, int batch, int epoch,
                     double *loss, double *kl)
{
    double loss_sum = 0.0, kl_sum = 0.0;
    for (int start = 0; start < n; start += batch) {
        int rows = n - start < batch ? n - start : batch;
        vae_images_copy_float(test, (size_t)start, (size_t)rows, m->x);
        vae_batch_stats s;
        int rc = vae_eval_batch(m, m->x, rows, VAE_STREAM_EVAL, (uint64_t)epoch, (uint32_t)start, &s);
        if (rc != VAE_OK) return rc;
        loss_sum += s.loss;
        kl_sum += s.kl;
    }
    *loss = n ? loss_sum / n : 0.0;
    *kl = n ? kl_sum / n : 0.0;
    return VAE_OK;
}

static int check_images(const vae_model *m, const vae_images *im, const char *which)
{
    const vae_config *c = &m->cfg;
    if (im->rows != c->image_rows || im->cols != c->image_cols || im->channels != c->image_channels)
        return vae_fail(VAE_ERR_ARG, "%s images are %d x %d x %d but the model takes %d x %d x %d", which,
                        im->rows, im->cols, im->channels, c->image_rows, c->image_cols, c->image_channels);
    return VAE_OK;
}

int vae_train(vae_model *m, const vae_images *train, const vae_images *test,
              const vae_train_options *opt, vae_epoch_callback callback, void *user)
{
    if (opt->batch <= 0) return vae_fail(VAE_ERR_ARG, "batch size %d: must be positive", opt->batch);
    if (!(opt->lr > 0.0f)) return vae_fail(VAE_ERR_ARG, "learning rate %g: must be positive", (double)opt->lr);
    if (!train || train->count <= 0) return vae_fail(VAE_ERR_ARG, "the training set is empty");
    int rc = check_images(m, train, "training");
    if (rc != VAE_OK) return rc;
    int n_test = test ? test->count : 0;
    if (n_test > 0 && (rc = check_images(m, test, "test")) != VAE_OK) return rc;
    if (opt->max_test > 0 && n_test > opt->max_test) n_test = opt->max_test;

    rc = vae_model_reserve(m, opt->batch);
    if (rc != VAE_OK) return rc;
    uint32_t *order = malloc(sizeof(uint32_t) * (size_t)train->count);
    if (!order) return vae_fail(VAE_ERR_NOMEM, "out of memory for the order of %d images", train->count);

    int n = train->count;
    for (int epoch = m->epoch + 1; epoch <= opt->epochs; epoch++) {
        shuffle_order(order, n, m->seed, epoch);
        double loss_sum = 0.0, kl_sum = 0.0;
        double t0 = vae_seconds_now();
        for (int start = 0; start < n; start += opt->batch) {
            int rows = n - start < opt->batch ? n - start : opt->batch;
            double t_gather = m->profile ? vae_seconds_now() : 0.0;
            vae_images_gather_float(train, order + start, rows, m->x);
            if (m->profile) m->profile->gather += vae_seconds_now() - t_gather;
            vae_batch_stats s;
            rc = vae_train_step(m, m->x, rows, opt->lr, &s);
            if (rc != VAE_OK) goto done;
            loss_sum += s.loss;
            kl_sum += s.kl;
        }
        double seconds = vae_seconds_now() - t0;
        m->epoch = epoch;

        vae_epoch_report rep = {
            .epoch = epoch, .epochs = opt->epochs,
            .train_loss = loss_sum / n, .train_kl = kl_sum / n,
            .seconds = seconds, .images_per_second = seconds > 0 ? n / seconds : 0.0,
        };
        if (n_test > 0) {
            vae_profile *profile = m->profile; /* the profile is of training steps only */
            m->profile = NULL;
            rc = test_pass(m, test, n_test, opt->batch, epoch, &rep.test_loss, &rep.test_kl);
            m->profile = profile;
            if (rc != VAE_OK) goto done;
        }
        if (callback && callback(&rep, user)) break;
    }
    rc = VAE_OK;
done:
    free(order);
    return rc;
}

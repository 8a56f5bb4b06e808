/* train.c - the epoch loop: shuffle, gather, step, test pass, report.
 *
 * All memory is taken before the first epoch (the order array here, the
 * workspace in the model); the loop itself allocates nothing. */
#include <stdlib.h>
#include <time.h>

#include "kernels.h"
#include "model.h"

void vae_train_options_default(vae_train_options *opt)
{
    opt->epochs = 10;
    opt->batch = 128;
    opt->lr = 1e-3f;
    opt->max_test = 0;
    opt->warmup_epochs = 0;
    opt->test_every = 1;
    opt->progress = NULL;
}

/* b / 255 by the active table's kernel (the same bits in every table). */
void vae_images_to_float(const uint8_t *pixels, size_t n_values, float *out)
{
    vae_kernels_active()->bytes_to_unit(n_values, pixels, out);
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

int vae_model_epoch_images(const vae_model *m) { return m->epoch_images; }

/* The KL weight of a step that starts `start` images into epoch `epoch` of n
 * images, under a warm-up of W epochs (linear in the images seen):
 *   w = beta * min(1, ((epoch - 1) * n + start) / (W * n)),
 * so 0 at the first step, beta from epoch W + 1 on. It depends only on the
 * position in the data, so a resumed or re-batched run sees the same ramp. */
static float kl_weight(float beta, int warmup_epochs, int epoch, int start, int n)
{
    if (warmup_epochs <= 0) return beta;
    double seen = (double)(epoch - 1) * n + start, ramp = (double)warmup_epochs * n;
    if (seen >= ramp) return beta;
    return (float)((double)beta * (seen / ramp));
}

static int check_options(const vae_train_options *opt)
{
    if (opt->batch <= 0) return vae_fail(VAE_ERR_ARG, "batch size %d: must be positive", opt->batch);
    if (!(opt->lr > 0.0f)) return vae_fail(VAE_ERR_ARG, "learning rate %g: must be positive", (double)opt->lr);
    if (opt->warmup_epochs < 0)
        return vae_fail(VAE_ERR_ARG, "warm-up of %d epochs: must be >= 0", opt->warmup_epochs);
    if (opt->test_every < 0)
        return vae_fail(VAE_ERR_ARG, "test every %d epochs: must be >= 1 (0 means 1)", opt->test_every);
    return VAE_OK;
}

/* Each epoch: shuffle by (seed, epoch), then steps over batches of the
 * shuffled order from m->epoch_images (0 unless an interrupted epoch
 * resumes), the progress callback before the first and after every batch,
 * then the test pass and the epoch callback. m->cfg.beta carries the warm-up
 * weight during the steps only; every way out restores the configured beta,
 * so a save, a test pass or the caller never sees the ramp. */
int vae_train(vae_model *m, const vae_images *train, const vae_images *test,
              const vae_train_options *opt, vae_epoch_callback callback, void *user)
{
    int rc = check_options(opt);
    if (rc != VAE_OK) return rc;
    if (!train || train->count <= 0) return vae_fail(VAE_ERR_ARG, "the training set is empty");
    if ((rc = check_images(m, train, "training")) != VAE_OK) return rc;
    int n = train->count;
    if (m->epoch_images < 0 || m->epoch_images >= n)
        return vae_fail(VAE_ERR_ARG,
                        "the model stopped %d images into epoch %d, but the training set has %d images: "
                        "resume it on the data it was trained on",
                        m->epoch_images, m->epoch + 1, n);
    int n_test = test ? test->count : 0;
    if (n_test > 0 && (rc = check_images(m, test, "test")) != VAE_OK) return rc;
    if (opt->max_test > 0 && n_test > opt->max_test) n_test = opt->max_test;
    int test_every = opt->test_every > 0 ? opt->test_every : 1;

    rc = vae_model_reserve(m, opt->batch);
    if (rc != VAE_OK) return rc;
    uint32_t *order = malloc(sizeof(uint32_t) * (size_t)n);
    if (!order) return vae_fail(VAE_ERR_NOMEM, "out of memory for the order of %d images", n);

    const float beta = m->cfg.beta; /* the configured weight */
    int stop = 0;                   /* the progress callback asked to stop */
    for (int epoch = m->epoch + 1; epoch <= opt->epochs && !stop; epoch++) {
        shuffle_order(order, n, m->seed, epoch);
        int first = m->epoch_images;
        double loss_sum = 0.0, kl_sum = 0.0;
        float weight = beta;
        double t0 = vae_seconds_now();
        if (opt->progress && opt->progress(epoch, first, n, user)) break; /* nothing of it done */
        for (int start = first; start < n; start += opt->batch) {
            int rows = n - start < opt->batch ? n - start : opt->batch;
            double t_gather = m->profile ? vae_seconds_now() : 0.0;
            vae_images_gather_float(train, order + start, rows, m->x);
            if (m->profile) m->profile->gather += vae_seconds_now() - t_gather;
            weight = kl_weight(beta, opt->warmup_epochs, epoch, start, n);
            m->cfg.beta = weight;
            vae_batch_stats s;
            rc = vae_train_step(m, m->x, rows, opt->lr, &s);
            if (rc != VAE_OK) goto done;
            m->epoch_images = start + rows; /* the model's position, after every step */
            loss_sum += s.loss;
            kl_sum += s.kl;
            if (opt->progress && opt->progress(epoch, start + rows, n, user)) {
                stop = 1;
                if (start + rows < n) goto stopped; /* mid-epoch: the model says where */
            }
        }
        double seconds = vae_seconds_now() - t0;
        m->cfg.beta = beta;
        m->epoch = epoch;
        m->epoch_images = 0;

        int images = n - first;
        vae_epoch_report rep = {
            .epoch = epoch, .epochs = opt->epochs,
            .train_loss = loss_sum / images, .train_kl = kl_sum / images,
            .seconds = seconds, .images_per_second = seconds > 0 ? images / seconds : 0.0,
            .images = images, .beta = weight,
        };
        if (n_test > 0 && (epoch % test_every == 0 || epoch == opt->epochs)) {
            vae_profile *profile = m->profile; /* the profile is of training steps only */
            m->profile = NULL;
            rc = test_pass(m, test, n_test, opt->batch, epoch, &rep.test_loss, &rep.test_kl);
            m->profile = profile;
            if (rc != VAE_OK) goto done;
            rep.tested = 1;
        }
        if (callback && callback(&rep, user)) break;
    }
stopped:
    rc = VAE_OK;
done:
    m->cfg.beta = beta;
    free(order);
    return rc;
}

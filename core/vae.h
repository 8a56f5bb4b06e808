/* vae.h - the public interface of libvae, a dependency-free C11 engine that
 * trains, evaluates and samples Variational Autoencoders on the CPU.
 *
 * Conventions
 *   - Every function that can fail returns 0 or a negative VAE_ERR_* code and
 *     leaves a one-line reason in vae_last_error() (thread-local).
 *   - The library never prints and never exits.
 *   - Matrices are float32, row-major, with an explicit leading dimension.
 *
 * The smallest program:
 *
 *     vae_config cfg; vae_config_default(&cfg);
 *     vae_model *m; vae_model_create(&cfg, 1, &m);
 *     vae_dataset ds; vae_dataset_load_mnist_dir("data", &ds);
 *     vae_train_options opt; vae_train_options_default(&opt);
 *     vae_train(m, &ds.train, &ds.test, &opt, NULL, NULL);
 *     vae_model_save(m, "model.vae");
 */
#ifndef VAE_H
#define VAE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VAE_VERSION "0.1.0"

/* ------------------------------------------------------------------ errors */

enum {
    VAE_OK = 0,
    VAE_ERR_NOMEM = -1,       /* out of memory, or a size too large to allocate */
    VAE_ERR_IO = -2,          /* a file could not be opened, read or written */
    VAE_ERR_FORMAT = -3,      /* a file is malformed, truncated or corrupted */
    VAE_ERR_ARG = -4,         /* an argument is out of range */
    VAE_ERR_UNSUPPORTED = -5  /* valid, but not something this build can do */
};

/* The reason for the last failure on this thread. Never NULL. */
const char *vae_last_error(void);

/* ----------------------------------------------------------------- tensors */

/* A 2-D float32 matrix: rows x cols, row-major, rows ld floats apart.
 * data is 64-byte aligned and ld is a multiple of 16 floats (64 bytes). */
typedef struct vae_tensor {
    float *data;
    int rows, cols, ld;
} vae_tensor;

int vae_tensor_init(vae_tensor *t, int rows, int cols); /* zero-filled */
void vae_tensor_free(vae_tensor *t);
/* 64-byte aligned allocation of n bytes (n may be 0); free with vae_free_aligned. */
void *vae_alloc_aligned(size_t n);
void vae_free_aligned(void *p);

/* -------------------------------------------------------------------- GEMM */

typedef enum { VAE_NO_TRANS = 0, VAE_TRANS = 1 } vae_transpose;

/* C = alpha * op(A) * op(B) + beta * C, row-major, BLAS semantics:
 * op(A) is m x k, op(B) is k x n, C is m x n. With beta == 0, C is written
 * without being read (it may hold NaN). */
void vae_sgemm(vae_transpose trans_a, vae_transpose trans_b, int m, int n, int k,
               float alpha, const float *a, int lda, const float *b, int ldb,
               float beta, float *c, int ldc);

/* ---------------------------------------------------------- ISA dispatch */

/* The kernel set in use ("scalar", "avx2", ...). The choice is made once, at
 * the first call into the engine, from the CPU and the VAE_ISA variable. */
const char *vae_isa_name(void);
/* Force a kernel set by name; VAE_ERR_UNSUPPORTED when this CPU or build
 * lacks it, VAE_ERR_ARG for an unknown name. NULL or "auto" picks the best. */
int vae_isa_select(const char *name);

/* ----------------------------------------------------------------- threads */

/* The engine's one thread pool (pthreads; the calling thread takes part).
 * n <= 0: one thread per online CPU. Without a call, the first parallel job
 * starts VAE_THREADS threads, or one per online CPU. Results are the same
 * bits for any thread count. */
int vae_set_threads(int n);
int vae_get_threads(void);

/* --------------------------------------------------------------------- RNG */

/* Philox4x32-10 (Salmon et al., SC'11): a counter-based generator. The same
 * (key, counter) always gives the same four words. */
void vae_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

/* Independent random streams under one seed. */
enum {
    VAE_STREAM_NOISE = 1,   /* eps of the reparameterization while training */
    VAE_STREAM_INIT = 2,    /* parameter initialization */
    VAE_STREAM_SHUFFLE = 3, /* per-epoch order of the training set */
    VAE_STREAM_EVAL = 4,    /* eps while evaluating the test set */
    VAE_STREAM_SAMPLE = 5   /* z drawn from the prior for pictures */
};

/* Four standard normals for (seed, stream, step, row, column block): the
 * normals of columns 4*col_block .. 4*col_block+3. Box-Muller on the four
 * Philox words, computed in float with libm. */
void vae_normal4(uint64_t seed, uint32_t stream, uint64_t step, uint32_t row,
                 uint32_t col_block, float out[4]);
/* One standard normal; equals the matching element of vae_normal4. */
float vae_normal(uint64_t seed, uint32_t stream, uint64_t step, uint32_t row, uint32_t col);
/* A uniform float in (0, 1), from the first word of the Philox block. */
float vae_uniform(uint64_t seed, uint32_t stream, uint64_t step, uint32_t row, uint32_t col);
/* Phi^-1(p), the standard normal's inverse CDF (the z with P(Z <= z) = p),
 * in double: Acklam's rational approximation refined by one Halley step on
 * erf/erfc, relative error about 1e-15 for p from 1e-300 to 1 - 1e-16.
 * -INFINITY at 0, +INFINITY at 1, NaN outside [0, 1] and for NaN. */
double vae_normal_quantile(double p);

/* -------------------------------------------------------------- datasets */

/* count images of rows x cols x channels values each, pixel-interleaved
 * (R, G, B of a pixel side by side), rows top to bottom. Exactly one of
 * pixels and values holds them (when count > 0):
 *   pixels  bytes; a byte b stands for the intensity b / 255 (8-bit data:
 *           unsigned-byte IDX, Netpbm with maxval 255), or
 *   values  floats already in [0, 1] (every other IDX type, Netpbm with
 *           another maxval); NULL when pixels is used.
 * vae_images_copy_float gives either as floats in [0, 1]. */
typedef struct vae_images {
    int count, rows, cols, channels;
    uint8_t *pixels;
    uint8_t *labels; /* count labels, or NULL */
    float *values;
} vae_images;

void vae_images_free(vae_images *im);

/* Writes images first .. first+n-1 of im to out (n * rows*cols*channels
 * floats) in [0, 1]: values copied, or pixels divided by 255. The caller
 * keeps first + n <= count. */
void vae_images_copy_float(const vae_images *im, size_t first, size_t n, float *out);
/* Writes images index[0], ..., index[n-1] of im to out as floats in [0, 1]
 * (a training batch in shuffled order), on the engine's threads. */
void vae_images_gather_float(const vae_images *im, const uint32_t *index, int n, float *out);

/* A training and a test set. When a folder holds only the t10k files, the
 * loader splits them, the first 9,000 for training and the last 1,000 for
 * testing, and sets split_from_test. When an image folder comes without a
 * test folder, every tenth image (in file-name order) is held out for
 * testing and split_from_train is set. */
typedef struct vae_dataset {
    vae_images train, test;
    int split_from_test;
    int split_from_train;
} vae_dataset;

/* dir holds train-images-idx3-ubyte, train-labels-idx1-ubyte,
 * t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each plain or .gz. */
int vae_dataset_load_mnist_dir(const char *dir, vae_dataset *ds);
void vae_dataset_free(vae_dataset *ds);

/* The images of a folder: every file whose name ends in .pgm, .ppm or .pnm
 * (any case; names starting with '.' and sub-folders are skipped), in the
 * byte order of the names, each holding one or more Netpbm images; all
 * must have one size and channel count. No labels. */
int vae_images_load_dir(const char *dir, vae_images *out);

/* A data set from dir, whichever kind it is: an MNIST-format folder (see
 * vae_dataset_load_mnist_dir; test_dir must then be NULL) or, when it holds
 * none of the MNIST image files, an image folder (vae_images_load_dir). For
 * an image folder the test set is test_dir's images, or with test_dir NULL
 * every tenth image of dir (the 10th, 20th, ... in name order; none when dir
 * has fewer than 10), which then does not train. */
int vae_dataset_load(const char *dir, const char *test_dir, vae_dataset *ds);

/* IDX files (big-endian header, magic 0x0000TTNN: TT the element type, NN
 * the number of dimensions, then NN 32-bit sizes), plain or gzip. */
enum {
    VAE_IDX_UBYTE = 0x08,  /* unsigned 8-bit */
    VAE_IDX_BYTE = 0x09,   /* signed 8-bit */
    VAE_IDX_SHORT = 0x0B,  /* signed 16-bit */
    VAE_IDX_INT = 0x0C,    /* signed 32-bit */
    VAE_IDX_FLOAT = 0x0D,  /* IEEE 754 binary32 */
    VAE_IDX_DOUBLE = 0x0E  /* IEEE 754 binary64 */
};
#define VAE_IDX_MAX_DIMS 255

/* A whole IDX file, its elements converted to float (exactly, except int
 * values beyond 2^24 and doubles, which are rounded to the nearest float). */
typedef struct vae_idx_array {
    int type;  /* VAE_IDX_* */
    int ndims; /* 1 .. VAE_IDX_MAX_DIMS */
    uint32_t dims[VAE_IDX_MAX_DIMS]; /* sizes, outermost first; unused ones 0 */
    size_t count;  /* the product of the sizes */
    float *values; /* count values in file (row-major) order */
} vae_idx_array;

/* Any IDX file. NaN, an infinity, or a double beyond the float range is an
 * error naming the file and the element's index. */
int vae_idx_read(const char *path, vae_idx_array *out);
void vae_idx_array_free(vae_idx_array *a);

/* An IDX file of images, of any element type, with at least 2 dimensions:
 *   - with 4 or more dimensions whose last size is 1 or 3, the last three
 *     are rows, cols and channels (grey or RGB);
 *   - otherwise the last two are rows and cols (one channel);
 * the dimensions before those multiply to the image count (1 when there are
 * none). An image may have at most 2^24 pixels. Values map to [0, 1] by the
 * element type:
 *   ubyte          v / 255 (kept as pixels)
 *   byte, short,   v / 127, v / 32767, v / 2147483647 (the type's largest
 *   int            value, as image libraries scale signed integers);
 *                  a negative value is an error
 *   float, double  as they are; each must lie in [0, 1]
 * An error names the file and, for a bad value, its index in the file. */
int vae_idx_read_images(const char *path, vae_images *out);
/* An IDX file of one dimension (count) of any type whose every value is a
 * whole number from 0 to 255. */
int vae_idx_read_labels(const char *path, uint8_t **labels, int *count);

/* Netpbm files (Netpbm's pgm(5) and ppm(5)): P5 and P6 (binary) and P2 and
 * P3 (ASCII) with '#' comments in the header, any maxval from 1 to 65535
 * (samples of two bytes, most significant first, above 255). A binary file
 * may hold several images one after another; all must have one size and
 * channel count (P5 grey or P6 RGB). A plain (ASCII) file holds one image.
 * A sample s maps to s / maxval: maxval 255 gives pixels, any other values.
 * Every image may have at most 2^24 pixels; a sample above the maxval, a
 * truncated raster and anything after the last image are errors. */
int vae_pnm_read(const char *path, vae_images *out);

/* Whole-file reads; vae_read_file_maybe_gz inflates gzip data (by its magic
 * bytes) in memory. max_len caps the (decompressed) size. Free with free(). */
int vae_read_file(const char *path, uint8_t **data, size_t *len, size_t max_len);
int vae_read_file_maybe_gz(const char *path, uint8_t **data, size_t *len, size_t max_len);

/* gzip (RFC 1952) and raw deflate (RFC 1951), no zlib. vae_gunzip allocates
 * *out (free with free()); it checks the CRC-32 and length trailer and refuses
 * output above max_out. Concatenated gzip members are joined. */
int vae_gunzip(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len, size_t max_out);
/* Inflate raw deflate data into out[0..cap). *out_len receives the bytes
 * written, *consumed (may be NULL) the input bytes used. When the output does
 * not fit, out holds its first cap bytes and the result is VAE_ERR_FORMAT. */
int vae_inflate(const uint8_t *in, size_t in_len, uint8_t *out, size_t cap,
                size_t *out_len, size_t *consumed);
uint32_t vae_crc32(uint32_t crc, const void *data, size_t len);   /* start with crc = 0 */
uint32_t vae_adler32(uint32_t adler, const void *data, size_t len); /* start with adler = 1 */

/* ------------------------------------------------------------- pictures */

/* 8-bit images, channels 1 (grey) or 3 (RGB), rows of width*channels bytes. */
int vae_write_pnm(const char *path, const uint8_t *pixels, int width, int height, int channels);
int vae_write_png(const char *path, const uint8_t *pixels, int width, int height, int channels);
/* By the extension of path: .png, .ppm, .pgm (.pnm picks by channels). */
int vae_write_image(const char *path, const uint8_t *pixels, int width, int height, int channels);

/* ----------------------------------------------------------------- model */

typedef enum { VAE_ACT_RELU = 0, VAE_ACT_TANH = 1 } vae_activation;
typedef enum { VAE_LIK_BERNOULLI = 0, VAE_LIK_GAUSSIAN = 1 } vae_likelihood;
/* The Gaussian decoder's mean: sigmoid(logits) (pixels in [0,1], as the
 * PyTorch reference does) or the logits themselves. */
typedef enum { VAE_MEAN_SIGMOID = 0, VAE_MEAN_LINEAR = 1 } vae_gaussian_mean;

#define VAE_MAX_HIDDEN 8

/* Encoder: D -> hidden[0] -> ... -> hidden[n-1] -> (mu, logvar) of latent each.
 * Decoder: latent -> hidden[n-1] -> ... -> hidden[0] -> D logits. */
typedef struct vae_config {
    int image_rows, image_cols, image_channels; /* D = rows*cols*channels */
    int n_hidden;
    int hidden[VAE_MAX_HIDDEN];
    int latent;
    vae_activation activation;
    vae_likelihood likelihood;
    vae_gaussian_mean gaussian_mean;
    float beta; /* weight of the KL term; 1 is the ELBO */
} vae_config;

/* 28x28x1, one hidden layer of 400, latent 20, ReLU, Bernoulli, beta 1. */
void vae_config_default(vae_config *cfg);
/* Checks sizes; VAE_ERR_ARG with the reason when a field is impossible. */
int vae_config_check(const vae_config *cfg);
int vae_config_input_dim(const vae_config *cfg);

typedef struct vae_model vae_model;

/* Parameters initialized as PyTorch's nn.Linear does (uniform in
 * +-1/sqrt(fan_in)) from the INIT stream of seed. */
int vae_model_create(const vae_config *cfg, uint64_t seed, vae_model **out);
void vae_model_free(vae_model *m);
const vae_config *vae_model_get_config(const vae_model *m);
size_t vae_model_param_count(const vae_model *m);
uint64_t vae_model_seed(const vae_model *m);
uint64_t vae_model_step(const vae_model *m);  /* optimizer steps taken */
int vae_model_epoch(const vae_model *m);      /* whole epochs trained */
/* Sizes the workspace for batches of up to max_batch rows. Allocates only
 * when it grows; training calls it once before its loop. */
int vae_model_reserve(vae_model *m, int max_batch);

/* Sums over a batch, in nats: loss = rec + beta * kl. */
typedef struct vae_batch_stats {
    double loss, rec, kl;
} vae_batch_stats;

/* One step on x[batch, D] (values in [0,1]): forward, backward and an Adam
 * update with learning rate lr. The noise is the NOISE stream at the model's
 * step counter, which the step then advances. */
int vae_train_step(vae_model *m, const float *x, int batch, float lr, vae_batch_stats *out);
/* Forward only, one z sample per row from (stream, step); row r of x uses
 * noise row row0 + r, so a split into batches does not change the noise. */
int vae_eval_batch(vae_model *m, const float *x, int batch, uint32_t stream, uint64_t step,
                   uint32_t row0, vae_batch_stats *out);
/* mu and logvar ([batch, latent] each, either may be NULL) of q(z|x). */
int vae_encode(vae_model *m, const float *x, int batch, float *mu, float *logvar);
/* The decoder's mean for z[batch, latent]: sigmoid(logits) for Bernoulli and
 * the sigmoid Gaussian, the logits for the linear Gaussian. */
int vae_decode(vae_model *m, const float *z, int batch, float *mean);

/* ------------------------------------------------------------- training */

/* Called while epoch `epoch` runs: once before its first batch and after
 * every batch, with the images of the epoch trained so far (a resumed,
 * interrupted epoch starts past 0) out of images_total. user is vae_train's.
 * A non-zero return stops training before the next batch; when the epoch's
 * batches are all done, its test pass and epoch callback still run first. */
typedef int (*vae_progress_callback)(int epoch, int images_done, int images_total, void *user);

typedef struct vae_train_options {
    int epochs;   /* train until the model has this many epochs in total */
    int batch;
    float lr;
    int max_test; /* 0: the whole test set */
    /* KL warm-up: the KL weight rises linearly, per step, from 0 at the start
     * of epoch 1 to the model's beta at the start of epoch warmup_epochs + 1:
     * beta * min(1, (epoch - 1 + images done / images) / warmup_epochs).
     * 0: off. The model keeps its configured beta outside the steps. */
    int warmup_epochs;
    int test_every; /* test pass after every test_every-th epoch and the last (0: 1) */
    vae_progress_callback progress; /* NULL: none */
} vae_train_options;

/* 10 epochs, batch 128, lr 1e-3, no warm-up, a test pass every epoch. */
void vae_train_options_default(vae_train_options *opt);

typedef struct vae_epoch_report {
    int epoch, epochs;
    double train_loss, train_kl; /* nats per image, averaged over the epoch */
    double test_loss, test_kl;   /* nats per image, one z sample each */
    double seconds;              /* training time of the epoch (no test pass) */
    double images_per_second;
    int tested;     /* 0: no test pass this epoch (test_loss, test_kl are 0) */
    int images;     /* images trained in this call (less for a resumed epoch) */
    double beta;    /* the KL weight of the epoch's last step (warm-up) */
} vae_epoch_report;

/* Called after each epoch; a non-zero return stops training after it. */
typedef int (*vae_epoch_callback)(const vae_epoch_report *report, void *user);

/* Trains on train (images scaled to [0,1]) with a fresh shuffle per epoch,
 * which depends only on (seed, epoch), and evaluates test (which may be NULL
 * or empty) every opt->test_every epochs with the full beta, the true ELBO.
 * Stopped by the progress callback inside an epoch, it leaves the model at
 * the steps taken: vae_model_epoch() whole epochs plus
 * vae_model_epoch_images() images of the next, which a later vae_train (or
 * a saved and loaded model) continues from, in the same shuffled order. */
int vae_train(vae_model *m, const vae_images *train, const vae_images *test,
              const vae_train_options *opt, vae_epoch_callback callback, void *user);

/* Images of epoch vae_model_epoch(m) + 1 already trained: 0 at an epoch
 * boundary, else where an interrupted epoch resumes. */
int vae_model_epoch_images(const vae_model *m);

/* Scales n images of D bytes each to floats in [0,1]. */
void vae_images_to_float(const uint8_t *pixels, size_t n_values, float *out);

/* ------------------------------------------------------------ evaluation */

/* Called during vae_evaluate after each batch of decoder rows, with the
 * images whose samples are all done out of images_total. */
typedef void (*vae_eval_progress_callback)(int images_done, int images_total, void *user);

typedef struct vae_eval_options {
    int n;        /* the first n images; 0: all */
    int iwae_k;   /* importance samples per image; 0: no IWAE estimate */
    uint64_t seed; /* of the noise (the EVAL stream) */
    vae_eval_progress_callback progress; /* NULL: none */
    void *user;   /* passed to progress */
} vae_eval_options;

/* All images, k = 1000, seed 1, no progress. */
void vae_eval_options_default(vae_eval_options *opt);

/* Means per image, in nats. rec and loss keep the training convention: the
 * Gaussian's constant D/2 log 2pi (rec_constant) is left out of them; the
 * NLL includes it, so it is a true -log p(x) for either likelihood. */
typedef struct vae_eval_result {
    int images, iwae_k;
    double loss;   /* rec + kl: the negative ELBO (beta 1, whatever the model's beta) */
    double rec;    /* -log p(x|z), z the first importance sample (one per image) */
    double kl;     /* KL(q(z|x) || p(z)), in closed form */
    double nll;    /* -log p(x) by IWAE with iwae_k samples (0 when iwae_k is 0) */
    double nll_se; /* the standard error of nll over the images */
    double rec_constant; /* D/2 log 2pi for the Gaussian, 0 for the Bernoulli */
} vae_eval_result;

/* Evaluates the first opt->n images (floats in [0,1] as for training) with
 * importance sampling (Burda et al., IWAE):
 *     -log p(x) ~= -(logsumexp_s [log p(x|z_s) + log p(z_s) - log q(z_s|x)] - log k)
 * with z_s = mu + exp(logvar/2) eps_s, and the eps of image i (its index in
 * images), sample s, latent j from (seed, VAE_STREAM_EVAL, step i, row s,
 * column j), as the reparameterization kernels draw them. The log-weights,
 * logsumexp and means are in double; the result is the same bits for any
 * thread count. A k of 1000 over 1000 MNIST images is 10^6 decoder rows,
 * batched through the decoder's GEMMs. */
int vae_evaluate(vae_model *m, const vae_images *images, const vae_eval_options *opt, vae_eval_result *out);

/* ----------------------------------------------------------- checkpoints */

/* Little-endian file: magic, version, shape, parameters, Adam state, step,
 * epoch and seed, then a CRC-32 of all of it. Written to a temporary file in
 * the same folder and renamed, so a crash never leaves a half-written model. */
int vae_model_save(const vae_model *m, const char *path);
int vae_model_load(const char *path, vae_model **out);
/* The model-file version this library writes and reads (a loaded model's
 * file had it). */
int vae_model_file_version(void);

#ifdef __cplusplus
}
#endif
#endif /* VAE_H */

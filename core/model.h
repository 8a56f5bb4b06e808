/* model.h - the inside of a vae_model, shared by model.c (forward, backward,
 * Adam), train.c (the epoch loop) and checkpoint.c (files). Not installed. */
#ifndef VAE_MODEL_H
#define VAE_MODEL_H

#include "internal.h"

/* y = act(x * W^T + b): W is out x in, row-major, at params + w; b at params + b. */
typedef struct vae_linear {
    int in, out;
    int act;     /* VAE_KERNEL_ACT_* applied after the bias */
    size_t w, b; /* offsets into the parameter block */
} vae_linear;

/* Where a training step's time goes, for bench/train: seconds added up
 * while vae_model.profile is not NULL (it is NULL unless a caller sets it). */
enum { VAE_PASS_FORWARD = 0, VAE_PASS_BACKWARD_DATA = 1, VAE_PASS_WEIGHT_GRAD = 2 };
typedef struct vae_profile {
    double gemm[2][VAE_MAX_HIDDEN + 1][3]; /* [encoder, decoder][layer][pass] */
    double bias_act, act_backward, bias_grad, reparam, loss, adam, gather;
} vae_profile;

struct vae_model {
    vae_config cfg;
    int input_dim, latent;

    /* Encoder: enc[0] D -> hidden[0], ..., enc[n_hidden] hidden[n-1] -> 2*latent.
     * Decoder: dec[0] latent -> hidden[n-1], ..., dec[n_hidden] hidden[0] -> D. */
    int n_layers; /* per side: n_hidden + 1 */
    vae_linear enc[VAE_MAX_HIDDEN + 1], dec[VAE_MAX_HIDDEN + 1];

    /* Parameters, their gradients and Adam's two moments: four arrays of
     * n_floats floats in one allocation. They hold the n_params values
     * tensor by tensor (each layer's W, then its b; the encoder's layers,
     * then the decoder's), each tensor starting on a 64-byte line so that
     * no vector load of it splits a line (a 32-byte offset made Adam 25 %
     * slower); the gaps are zero and stay zero. The model file holds the
     * tensors without the gaps (vae_model_tensor). */
    size_t n_params, n_floats;
    float *params, *grads, *adam_m, *adam_v;

    uint64_t seed; /* of every random stream */
    uint64_t step; /* optimizer steps taken; the NOISE stream's step */
    int epoch;     /* whole epochs trained */
    int epoch_images; /* images of epoch + 1 trained (an interrupted epoch) */

    /* The workspace: every activation and gradient of a batch of up to
     * max_batch rows, carved out of one allocation. */
    int max_batch;
    float *workspace;
    float *x;                          /* [B, D] input batch, for the trainer */
    float *enc_out[VAE_MAX_HIDDEN];    /* [B, hidden[l]] after the activation */
    float *mulv;                       /* [B, 2Z]: mu | logvar */
    float *eps, *z;                    /* [B, Z] */
    float *dec_out[VAE_MAX_HIDDEN];    /* [B, width of dec[l]] */
    float *logits;                     /* [B, D] */
    float *row_rec, *row_kl;           /* [B] per-row loss terms */
    float *grad_a, *grad_b;            /* [B, widest layer], ping-pong */
    float *dz, *dmulv;                 /* [B, Z], [B, 2Z]: the middle's gradients */

    vae_profile *profile; /* NULL: no timing */
};

/* The middle of the network (the encoder's last layer, the
 * reparameterization, the decoder's first layer) runs as one job split by
 * the batch's rows from this many flops of its GEMMs per pass, and on the
 * calling thread below (see run_middle in model.c). */
#define VAE_MIDDLE_MIN_FLOPS 1e6

/* Monotonic seconds, for the profile. */
double vae_seconds_now(void);

/* The number of parameters of a model of this (checked) shape, without
 * building one: lets a reader compare it with a file before allocating. */
size_t vae_config_param_count(const vae_config *cfg);

/* Tensor i (0 <= i < 4 * n_layers) of the parameter arrays, in the model
 * file's order: its first float's index and its length; 0 when i is past
 * the last. */
int vae_model_tensor(const vae_model *m, int i, size_t *offset, size_t *count);

/* Forward and backward on x[batch, D] with the noise of (stream, step):
 * leaves d(summed loss)/d(parameter) in m->grads and changes no parameter.
 * vae_train_step is this plus an Adam step. */
int vae_model_gradients(vae_model *m, const float *x, int batch, uint32_t stream, uint64_t step,
                        vae_batch_stats *out);

/* The decoder on z[batch, latent] (reserving the workspace as needed),
 * leaving the logits [batch, D] in m->logits. For the evaluation. */
int vae_model_decode_logits(vae_model *m, const float *z, int batch);

#endif /* VAE_MODEL_H */

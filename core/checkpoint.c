/* checkpoint.c - model files.
 *
 * Layout, all little-endian, fixed widths:
 *
 *   offset  size  field
 *        0     8  magic "VAEMODEL"
 *        8     4  version (1)
 *       12     4  image rows          16  image cols       20  image channels
 *       24     4  hidden layers n     28  hidden[0..7], 4 bytes each
 *       60     4  latent              64  activation       68  likelihood
 *       72     4  Gaussian mean       76  beta (float32 bits)
 *       80     8  seed                88  step (optimizer steps taken)
 *       96     4  epochs trained     100  images of the next epoch trained
 *                                          (an interrupted epoch; 0 otherwise)
 *      104     8  parameter count P
 *      112   4*P  parameters, then 4*P Adam first moments, 4*P second moments
 *    end-4     4  CRC-32 of every byte before it
 *
 * The file is written to a temporary name in the same folder, flushed to disk
 * and renamed over the target, so a crash leaves either the old model or the
 * new one, never a mix; the folder is then flushed too, so the rename itself
 * survives a power cut. The temporary name is unique (MODEL.tmp.XXXXXX, by
 * mkstemp): a writer killed mid-save (SIGKILL, power) leaves its temporary
 * file behind, which no later save reuses or trips over, and which can be
 * deleted. A reader checks the magic, the version, the length,
 * the CRC and the shape before it builds a model. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"

#define MODEL_MAGIC "VAEMODEL"
#define MODEL_VERSION 1u
#define HEADER_BYTES 112
#define MAX_MODEL_BYTES ((size_t)1 << 34) /* 16 GiB: far above any real model */

static void store_le64(uint8_t *p, uint64_t v)
{
    vae_store_le32(p, (uint32_t)v);
    vae_store_le32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t load_le64(const uint8_t *p)
{
    return (uint64_t)vae_load_le32(p) | (uint64_t)vae_load_le32(p + 4) << 32;
}

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void encode_header(const vae_model *m, uint8_t h[HEADER_BYTES])
{
    const vae_config *c = &m->cfg;
    memset(h, 0, HEADER_BYTES);
    memcpy(h, MODEL_MAGIC, 8);
    vae_store_le32(h + 8, MODEL_VERSION);
    vae_store_le32(h + 12, (uint32_t)c->image_rows);
    vae_store_le32(h + 16, (uint32_t)c->image_cols);
    vae_store_le32(h + 20, (uint32_t)c->image_channels);
    vae_store_le32(h + 24, (uint32_t)c->n_hidden);
    for (int l = 0; l < VAE_MAX_HIDDEN; l++)
        vae_store_le32(h + 28 + 4 * l, l < c->n_hidden ? (uint32_t)c->hidden[l] : 0u);
    vae_store_le32(h + 60, (uint32_t)c->latent);
    vae_store_le32(h + 64, (uint32_t)c->activation);
    vae_store_le32(h + 68, (uint32_t)c->likelihood);
    vae_store_le32(h + 72, (uint32_t)c->gaussian_mean);
    vae_store_le32(h + 76, float_bits(c->beta));
    store_le64(h + 80, m->seed);
    store_le64(h + 88, m->step);
    vae_store_le32(h + 96, (uint32_t)m->epoch);
    vae_store_le32(h + 100, (uint32_t)m->epoch_images);
    store_le64(h + 104, (uint64_t)m->n_params);
}

/* Writes n floats little-endian through a small buffer, updating the CRC. */
static int write_floats(FILE *f, const float *v, size_t n, uint32_t *crc)
{
    uint8_t buf[4096];
    while (n > 0) {
        size_t chunk = n < sizeof buf / 4 ? n : sizeof buf / 4;
        for (size_t i = 0; i < chunk; i++) vae_store_le32(buf + 4 * i, float_bits(v[i]));
        *crc = vae_crc32(*crc, buf, 4 * chunk);
        if (fwrite(buf, 4, chunk, f) != chunk) return -1;
        v += chunk;
        n -= chunk;
    }
    return 0;
}

/* Flushes the folder holding path, so a rename into it reaches the disk.
 * Best effort: some file systems refuse fsync on a folder, and the model
 * itself is already safe on disk by then. */
static void sync_folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char folder[4096];
    if (!slash) snprintf(folder, sizeof folder, ".");
    else if (slash == path) snprintf(folder, sizeof folder, "/");
    else if ((size_t)(slash - path) < sizeof folder)
        snprintf(folder, sizeof folder, "%.*s", (int)(slash - path), path);
    else return;
    int fd = open(folder, O_RDONLY);
    if (fd < 0) return;
    (void)fsync(fd);
    close(fd);
}

int vae_model_save(const vae_model *m, const char *path)
{
    size_t len = strlen(path);
    char *tmp = malloc(len + 16);
    if (!tmp) return vae_fail(VAE_ERR_NOMEM, "%s: out of memory", path);
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int rc = vae_fail(VAE_ERR_IO, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        free(tmp);
        return rc;
    }
    fchmod(fd, 0644); /* mkstemp makes 0600; a model is an ordinary file */
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        goto fail;
    }
    uint8_t header[HEADER_BYTES], trailer[4];
    encode_header(m, header);
    uint32_t crc = vae_crc32(0, header, HEADER_BYTES);
    if (fwrite(header, 1, HEADER_BYTES, f) != HEADER_BYTES) goto fail_file;
    /* The parameters, then Adam's m, then v: each the model's tensors in
     * order, without the gaps between them in memory. */
    const float *arrays[3] = {m->params, m->adam_m, m->adam_v};
    size_t offset, count;
    for (int a = 0; a < 3; a++)
        for (int t = 0; vae_model_tensor(m, t, &offset, &count); t++)
            if (write_floats(f, arrays[a] + offset, count, &crc)) goto fail_file;
    vae_store_le32(trailer, crc);
    if (fwrite(trailer, 1, 4, f) != 4 || fflush(f) != 0 || fsync(fileno(f)) != 0) goto fail_file;
    if (fclose(f) != 0) {
        f = NULL;
        goto fail;
    }
    if (rename(tmp, path) != 0) goto fail;
    sync_folder_of(path);
    free(tmp);
    return VAE_OK;

fail_file:
    fclose(f);
fail:;
    int rc = vae_fail(VAE_ERR_IO, "%s: cannot write the model: %s", path, strerror(errno ? errno : EIO));
    remove(tmp);
    free(tmp);
    return rc;
}

static void read_floats(const uint8_t *p, float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) v[i] = bits_float(vae_load_le32(p + 4 * i));
}

int vae_model_load(const char *path, vae_model **out)
{
    *out = NULL;
    uint8_t *data;
    size_t len;
    int rc = vae_read_file(path, &data, &len, MAX_MODEL_BYTES);
    if (rc != VAE_OK) return rc;
    if (len < 8 || memcmp(data, MODEL_MAGIC, 8) != 0) {
        rc = vae_fail(VAE_ERR_FORMAT, "%s: not a vae model file (bad magic)", path);
        goto done;
    }
    if (len < HEADER_BYTES + 4) {
        rc = vae_fail(VAE_ERR_FORMAT, "%s: truncated (%zu bytes, the header alone needs %d)", path, len,
                      HEADER_BYTES + 4);
        goto done;
    }
    uint32_t version = vae_load_le32(data + 8);
    if (version != MODEL_VERSION) {
        rc = vae_fail(VAE_ERR_FORMAT, "%s: model file version %u, this program reads version %u", path,
                      version, MODEL_VERSION);
        goto done;
    }
    uint64_t n_params = load_le64(data + 104);
    size_t expect;
    if (n_params > MAX_MODEL_BYTES / 12 || !vae_mul_size((size_t)n_params, 12, &expect) ||
        !vae_add_size(expect, HEADER_BYTES + 4, &expect)) {
        rc = vae_fail(VAE_ERR_FORMAT, "%s: impossible parameter count %llu", path, (unsigned long long)n_params);
        goto done;
    }
    if (len != expect) {
        rc = vae_fail(VAE_ERR_FORMAT, "%s: %s (%zu bytes, expected %zu)", path,
                      len < expect ? "truncated" : "has trailing bytes", len, expect);
        goto done;
    }
    uint32_t stored = vae_load_le32(data + len - 4);
    if (vae_crc32(0, data, len - 4) != stored) {
        rc = vae_fail(VAE_ERR_FORMAT, "%s: corrupted (CRC-32 mismatch)", path);
        goto done;
    }

    vae_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.image_rows = (int)vae_load_le32(data + 12);
    cfg.image_cols = (int)vae_load_le32(data + 16);
    cfg.image_channels = (int)vae_load_le32(data + 20);
    cfg.n_hidden = (int)vae_load_le32(data + 24);
    for (int l = 0; l < VAE_MAX_HIDDEN; l++) cfg.hidden[l] = (int)vae_load_le32(data + 28 + 4 * l);
    cfg.latent = (int)vae_load_le32(data + 60);
    cfg.activation = (vae_activation)vae_load_le32(data + 64);
    cfg.likelihood = (vae_likelihood)vae_load_le32(data + 68);
    cfg.gaussian_mean = (vae_gaussian_mean)vae_load_le32(data + 72);
    cfg.beta = bits_float(vae_load_le32(data + 76));
    if (vae_config_check(&cfg) != VAE_OK) {
        char reason[256];
        snprintf(reason, sizeof reason, "%s", vae_last_error());
        rc = vae_fail(VAE_ERR_FORMAT, "%s: bad model shape: %s", path, reason);
        goto done;
    }
    size_t shape_params = vae_config_param_count(&cfg);
    if (shape_params != n_params) {
        rc = vae_fail(VAE_ERR_FORMAT, "%s: holds %llu parameters but its shape needs %zu", path,
                      (unsigned long long)n_params, shape_params);
        goto done;
    }
    vae_model *m;
    rc = vae_model_create(&cfg, load_le64(data + 80), &m);
    if (rc != VAE_OK) goto done;
    m->step = load_le64(data + 88);
    uint32_t epoch = vae_load_le32(data + 96);
    if (epoch > 1000000000u) {
        vae_model_free(m);
        rc = vae_fail(VAE_ERR_FORMAT, "%s: impossible epoch count %u", path, epoch);
        goto done;
    }
    m->epoch = (int)epoch;
    uint32_t epoch_images = vae_load_le32(data + 100);
    if (epoch_images > 1000000000u) {
        vae_model_free(m);
        rc = vae_fail(VAE_ERR_FORMAT, "%s: impossible position %u in epoch %u", path, epoch_images, epoch + 1);
        goto done;
    }
    m->epoch_images = (int)epoch_images;
    const uint8_t *p = data + HEADER_BYTES;
    float *arrays[3] = {m->params, m->adam_m, m->adam_v};
    size_t offset, count;
    for (int a = 0; a < 3; a++)
        for (int t = 0; vae_model_tensor(m, t, &offset, &count); t++, p += 4 * count)
            read_floats(p, arrays[a] + offset, count);
    *out = m;
    rc = VAE_OK;
done:
    free(data);
    return rc;
}

int vae_model_file_version(void) { return (int)MODEL_VERSION; }

/* idx_convert.c - a parsed IDX file (idx.c) as what the engine uses: a float
 * array, a set of images with values in [0, 1], or labels. The rules, also
 * stated in vae.h and the README:
 *
 *   - Images: the last two dimensions are rows and cols, or with four or more
 *     dimensions whose last is 1 or 3, the last three are rows, cols and
 *     channels; the leading dimensions multiply to the count.
 *   - Values: unsigned bytes v/255 (kept as bytes); signed integers v/max of
 *     their type, negative values refused; floats as they are, within [0, 1].
 *   - NaN and infinities are refused everywhere, naming the element's index.
 *   - Labels: one dimension, whole numbers from 0 to 255. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "io_internal.h"

/* The most floats a conversion produces (1 GiB of them). */
#define IDX_MAX_FLOATS ((size_t)1 << 28)

/* Element i of a signed or unsigned integer type, exactly. */
static int64_t int_element(const vae_io_idx *idx, size_t i)
{
    const uint8_t *p = idx->elements + i * idx->elem_size;
    switch (idx->type) {
    case VAE_IDX_UBYTE: return p[0];
    case VAE_IDX_BYTE: return p[0] < 128 ? p[0] : (int64_t)p[0] - 256;
    case VAE_IDX_SHORT: {
        int64_t u = (int64_t)p[0] << 8 | p[1];
        return u < 32768 ? u : u - 65536;
    }
    default: { /* VAE_IDX_INT */
        int64_t u = vae_load_be32(p);
        return u < 2147483648LL ? u : u - 4294967296LL;
    }
    }
}

/* Element i of a float or double file, as a double. */
static double float_element(const vae_io_idx *idx, size_t i)
{
    const uint8_t *p = idx->elements + i * idx->elem_size;
    if (idx->type == VAE_IDX_FLOAT) {
        uint32_t bits = vae_load_be32(p);
        float f;
        memcpy(&f, &bits, sizeof f);
        return f;
    }
    uint64_t bits = (uint64_t)vae_load_be32(p) << 32 | vae_load_be32(p + 4);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* Whether elements of type are IEEE floats (else integers). */
static int is_float_type(unsigned type) { return type == VAE_IDX_FLOAT || type == VAE_IDX_DOUBLE; }

/* The error for a NaN or infinite element i. */
static int fail_not_finite(const char *name, double v, size_t i)
{
    return vae_fail(VAE_ERR_FORMAT, "%s: the value at index %zu is %s", name, i,
                    isnan(v) ? "NaN" : "infinite");
}

/* Allocates the float buffer for idx->count values, with the size limit. */
static int alloc_floats(const char *name, size_t count, float **out)
{
    *out = NULL;
    if (count > IDX_MAX_FLOATS)
        return vae_fail(VAE_ERR_FORMAT, "%s: %zu values exceed the limit of %zu floats", name,
                        count, IDX_MAX_FLOATS);
    *out = malloc(count ? count * sizeof(float) : 1);
    if (!*out)
        return vae_fail(VAE_ERR_NOMEM, "%s: out of memory for %zu floats", name, count);
    return 0;
}

/* See io_internal.h: every element as a float; NaN, infinities and doubles
 * outside the float range are errors. */
int vae_io_idx_to_array(const char *name, vae_io_idx *idx, vae_idx_array *out)
{
    memset(out, 0, sizeof *out);
    float *v = NULL;
    int rc = alloc_floats(name, idx->count, &v);
    for (size_t i = 0; rc == 0 && i < idx->count; i++) {
        if (!is_float_type(idx->type)) {
            v[i] = (float)int_element(idx, i);
            continue;
        }
        double d = float_element(idx, i);
        if (!isfinite(d)) rc = fail_not_finite(name, d, i);
        else if (fabs(d) > FLT_MAX)
            rc = vae_fail(VAE_ERR_FORMAT, "%s: the value %g at index %zu does not fit a float",
                          name, d, i);
        else v[i] = (float)d;
    }
    if (rc == 0) {
        out->type = (int)idx->type;
        out->ndims = (int)idx->ndims;
        memcpy(out->dims, idx->dims, idx->ndims * sizeof idx->dims[0]);
        out->count = idx->count;
        out->values = v;
    } else {
        free(v);
    }
    vae_io_idx_free(idx);
    return rc;
}

/* The image shape of idx by the rule at the top of this file. */
static int image_shape(const char *name, const vae_io_idx *idx, vae_images *im)
{
    unsigned n = idx->ndims;
    if (n < 2)
        return vae_fail(VAE_ERR_FORMAT,
                        "%s: IDX file has 1 dimension, but images need at least 2 (rows, cols)",
                        name);
    unsigned lead = n - 2;
    uint32_t channels = 1;
    if (n >= 4 && (idx->dims[n - 1] == 1 || idx->dims[n - 1] == 3)) {
        lead = n - 3;
        channels = idx->dims[n - 1];
    }
    uint32_t rows = idx->dims[lead], cols = idx->dims[lead + 1];
    if ((uint64_t)rows * cols > VAE_IO_MAX_PIXELS)
        return vae_fail(VAE_ERR_FORMAT, "%s: images of %u x %u pixels exceed the limit of %zu pixels",
                        name, (unsigned)rows, (unsigned)cols, VAE_IO_MAX_PIXELS);
    uint64_t count = 1;
    for (unsigned i = 0; i < lead; i++) count *= idx->dims[i]; /* <= total elements: no overflow */
    if (count > INT_MAX)
        return vae_fail(VAE_ERR_FORMAT, "%s: %llu images are more than %d", name,
                        (unsigned long long)count, INT_MAX);
    im->count = (int)count;
    im->rows = (int)rows;
    im->cols = (int)cols;
    im->channels = (int)channels;
    return 0;
}

/* Moves the elements of a one-byte-per-element idx into a buffer of their
 * own: idx's buffer with the header moved out (no second copy of a 47 MB
 * training set), or a copy when idx borrows the caller's memory. */
static int take_bytes(const char *name, vae_io_idx *idx, uint8_t **out)
{
    size_t n = idx->count;
    if (!idx->buf) {
        *out = malloc(n ? n : 1);
        if (!*out) return vae_fail(VAE_ERR_NOMEM, "%s: out of memory for %zu bytes", name, n);
        memcpy(*out, idx->elements, n);
        return 0;
    }
    memmove(idx->buf, idx->elements, n);
    uint8_t *shrunk = realloc(idx->buf, n ? n : 1);
    *out = shrunk ? shrunk : idx->buf;
    idx->buf = NULL;
    idx->elements = NULL;
    return 0;
}

/* Converts the elements of a non-ubyte idx to intensities in [0, 1]. */
static int image_values(const char *name, const vae_io_idx *idx, float *v)
{
    if (is_float_type(idx->type)) {
        for (size_t i = 0; i < idx->count; i++) {
            double d = float_element(idx, i);
            if (!isfinite(d)) return fail_not_finite(name, d, i);
            if (!(d >= 0.0 && d <= 1.0))
                return vae_fail(VAE_ERR_FORMAT,
                                "%s: the value %g at index %zu is outside [0, 1] (float IDX "
                                "images must hold intensities from 0 to 1)",
                                name, d, i);
            v[i] = (float)d;
        }
        return 0;
    }
    const int64_t max = idx->type == VAE_IDX_BYTE ? 127 : idx->type == VAE_IDX_SHORT ? 32767
                                                                                    : 2147483647;
    const char *type = idx->type == VAE_IDX_BYTE ? "byte" : idx->type == VAE_IDX_SHORT ? "short"
                                                                                      : "int";
    for (size_t i = 0; i < idx->count; i++) {
        int64_t e = int_element(idx, i);
        if (e < 0)
            return vae_fail(VAE_ERR_FORMAT,
                            "%s: the value %lld at index %zu is negative (%s IDX images hold "
                            "intensities from 0 to %lld)",
                            name, (long long)e, i, type, (long long)max);
        v[i] = (float)((double)e / (double)max);
    }
    return 0;
}

/* See io_internal.h and vae.h. */
int vae_io_idx_to_images(const char *name, vae_io_idx *idx, vae_images *out)
{
    memset(out, 0, sizeof *out);
    vae_images im;
    memset(&im, 0, sizeof im);
    int rc = image_shape(name, idx, &im);
    if (rc == 0 && idx->type == VAE_IDX_UBYTE) {
        rc = take_bytes(name, idx, &im.pixels);
    } else if (rc == 0) {
        rc = alloc_floats(name, idx->count, &im.values);
        if (rc == 0) rc = image_values(name, idx, im.values);
    }
    vae_io_idx_free(idx);
    if (rc) {
        vae_images_free(&im);
        return rc;
    }
    *out = im;
    return 0;
}

/* See io_internal.h and vae.h. */
int vae_io_idx_to_labels(const char *name, vae_io_idx *idx, uint8_t **labels, int *count)
{
    *labels = NULL;
    *count = 0;
    int rc = 0;
    if (idx->ndims != 1)
        rc = vae_fail(VAE_ERR_FORMAT, "%s: IDX file has %u dimensions, but labels need 1", name,
                      idx->ndims);
    uint8_t *out = NULL;
    if (rc == 0 && idx->type == VAE_IDX_UBYTE) {
        rc = take_bytes(name, idx, &out);
    } else if (rc == 0) {
        out = malloc(idx->count);
        if (!out) rc = vae_fail(VAE_ERR_NOMEM, "%s: out of memory for %zu labels", name, idx->count);
        for (size_t i = 0; rc == 0 && i < idx->count; i++) {
            double v = is_float_type(idx->type) ? float_element(idx, i)
                                                : (double)int_element(idx, i);
            if (!(v >= 0.0 && v <= 255.0 && v == floor(v)))
                rc = vae_fail(VAE_ERR_FORMAT,
                              "%s: the label %g at index %zu is not a whole number from 0 to 255",
                              name, v, i);
            else out[i] = (uint8_t)v;
        }
    }
    size_t n = idx->count;
    vae_io_idx_free(idx);
    if (rc) {
        free(out);
        return rc;
    }
    *labels = out;
    *count = (int)n; /* one dimension: at most INT_MAX */
    return 0;
}

/* See vae.h. */
int vae_idx_read(const char *path, vae_idx_array *out)
{
    if (!path || !out) return vae_fail(VAE_ERR_ARG, "vae_idx_read: NULL argument");
    memset(out, 0, sizeof *out);
    vae_io_idx idx;
    int rc = vae_io_idx_load(path, &idx);
    return rc ? rc : vae_io_idx_to_array(path, &idx, out);
}

/* See vae.h. Safe on a zeroed array and on one already freed. */
void vae_idx_array_free(vae_idx_array *a)
{
    if (!a) return;
    free(a->values);
    memset(a, 0, sizeof *a);
}

/* See vae.h. */
int vae_idx_read_images(const char *path, vae_images *out)
{
    if (!path || !out) return vae_fail(VAE_ERR_ARG, "vae_idx_read_images: NULL argument");
    memset(out, 0, sizeof *out);
    vae_io_idx idx;
    int rc = vae_io_idx_load(path, &idx);
    return rc ? rc : vae_io_idx_to_images(path, &idx, out);
}

/* See vae.h. */
int vae_idx_read_labels(const char *path, uint8_t **labels, int *count)
{
    if (!path || !labels || !count)
        return vae_fail(VAE_ERR_ARG, "vae_idx_read_labels: NULL argument");
    *labels = NULL;
    *count = 0;
    vae_io_idx idx;
    int rc = vae_io_idx_load(path, &idx);
    return rc ? rc : vae_io_idx_to_labels(path, &idx, labels, count);
}

/* idx.c - IDX files, the format of MNIST and Fashion-MNIST (Y. LeCun,
 * http://yann.lecun.com/exdb/mnist/, section "FILE FORMATS"):
 *
 *     bytes 0-1  zero
 *     byte  2    element type: 0x08 unsigned byte, 0x09 signed byte, 0x0B short,
 *                0x0C int, 0x0D float, 0x0E double
 *     byte  3    number of dimensions n
 *     then n big-endian 32-bit sizes, then the elements, row-major.
 *
 * Images are type 0x08 with 3 dimensions (count, rows, cols); labels type 0x08
 * with 1 dimension (count). Files may be plain or gzip. Every size is checked
 * against the file before it is used, products of sizes with overflow checks,
 * and every error message starts with the path. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "io_internal.h"

/* The largest element data accepted (1 GiB, 18x the 60,000 MNIST training
 * images); the file may hold this plus its header. */
#define IDX_MAX_DATA ((size_t)1 << 30)
#define IDX_MAX_HEADER 16 /* magic and three sizes */
#define IDX_TYPE_UBYTE 0x08

/* Whether type is one of the six element types the format defines. */
static int idx_type_known(unsigned type)
{
    return type == 0x08 || type == 0x09 || (type >= 0x0B && type <= 0x0E);
}

/* Checks the header of an IDX file of unsigned bytes with want_dims dimensions
 * and that the data after it is exactly as long as their product. Sets dims,
 * *data_offset and *data_len. `kind` ("images", "labels") words the errors. */
static int parse_idx_header(const char *path, const uint8_t *data, size_t len, unsigned want_dims,
                            const char *kind, uint32_t *dims, size_t *data_offset,
                            size_t *data_len)
{
    if (len < 4)
        return vae_fail(VAE_ERR_FORMAT,
                        "%s: truncated header (%zu bytes; an IDX file starts with a 4-byte magic)",
                        path, len);
    uint32_t magic = vae_load_be32(data);
    unsigned type = data[2], ndims = data[3];
    if (data[0] != 0 || data[1] != 0 || !idx_type_known(type))
        return vae_fail(VAE_ERR_FORMAT, "%s: not an IDX file (magic 0x%08x)", path,
                        (unsigned)magic);
    if (type != IDX_TYPE_UBYTE)
        return vae_fail(VAE_ERR_UNSUPPORTED,
                        "%s: IDX type 0x%02x not supported (expected unsigned byte)", path, type);
    if (ndims != want_dims)
        return vae_fail(VAE_ERR_FORMAT,
                        "%s: IDX file has %u dimensions, but %s need %u (magic 0x%08x)", path,
                        ndims, kind, want_dims, (unsigned)magic);
    size_t header = 4 + 4 * (size_t)ndims;
    if (len < header)
        return vae_fail(VAE_ERR_FORMAT, "%s: truncated header (%zu bytes, the header needs %zu)",
                        path, len, header);

    size_t expected = 1;
    int overflow = 0;
    for (unsigned i = 0; i < ndims; i++) {
        dims[i] = vae_load_be32(data + 4 + 4 * i);
        if (dims[i] == 0) return vae_fail(VAE_ERR_FORMAT, "%s: IDX dimension %u is zero", path, i);
        if (dims[i] > INT_MAX)
            return vae_fail(VAE_ERR_FORMAT, "%s: IDX dimension %u is too large (%u)", path, i,
                            (unsigned)dims[i]);
        if (!overflow && !vae_mul_size(expected, dims[i], &expected)) overflow = 1;
    }
    if (overflow || expected > IDX_MAX_DATA) {
        if (ndims == 3)
            return vae_fail(VAE_ERR_FORMAT,
                            "%s: IDX %s of %u x %u x %u bytes exceed the limit of %zu bytes", path,
                            kind, (unsigned)dims[0], (unsigned)dims[1], (unsigned)dims[2],
                            IDX_MAX_DATA);
        return vae_fail(VAE_ERR_FORMAT, "%s: IDX %s of %u bytes exceed the limit of %zu bytes",
                        path, kind, (unsigned)dims[0], IDX_MAX_DATA);
    }
    size_t actual = len - header;
    if (actual != expected)
        return vae_fail(VAE_ERR_FORMAT, "%s: IDX data is %zu bytes, but the header says %zu (%s)",
                        path, actual, expected,
                        actual < expected ? "truncated file" : "trailing bytes");
    *data_offset = header;
    *data_len = expected;
    return 0;
}

/* Reads an IDX file of unsigned bytes and returns its element data in a
 * buffer of its own: the file buffer with the header moved out (no second
 * copy of a 47 MB training set). */
static int read_idx_bytes(const char *path, unsigned want_dims, const char *kind, uint32_t *dims,
                          uint8_t **bytes)
{
    uint8_t *data;
    size_t len, offset = 0, n = 0;
    int rc = vae_read_file_maybe_gz(path, &data, &len, IDX_MAX_DATA + IDX_MAX_HEADER);
    if (rc) return rc;
    rc = parse_idx_header(path, data, len, want_dims, kind, dims, &offset, &n);
    if (rc) {
        free(data);
        return rc;
    }
    memmove(data, data + offset, n);
    uint8_t *shrunk = realloc(data, n);
    *bytes = shrunk ? shrunk : data;
    return 0;
}

/* See vae.h: an IDX file of unsigned bytes with dimensions (count, rows, cols). */
int vae_idx_read_images(const char *path, vae_images *out)
{
    if (!path || !out) return vae_fail(VAE_ERR_ARG, "vae_idx_read_images: NULL argument");
    memset(out, 0, sizeof *out);
    uint32_t dims[3];
    uint8_t *pixels;
    int rc = read_idx_bytes(path, 3, "images", dims, &pixels);
    if (rc) return rc;
    out->count = (int)dims[0];
    out->rows = (int)dims[1];
    out->cols = (int)dims[2];
    out->channels = 1;
    out->pixels = pixels;
    out->labels = NULL;
    return 0;
}

/* See vae.h: an IDX file of unsigned bytes with one dimension (count). */
int vae_idx_read_labels(const char *path, uint8_t **labels, int *count)
{
    if (!path || !labels || !count) return vae_fail(VAE_ERR_ARG, "vae_idx_read_labels: NULL argument");
    *labels = NULL;
    *count = 0;
    uint32_t dims[1];
    int rc = read_idx_bytes(path, 1, "labels", dims, labels);
    if (rc) return rc;
    *count = (int)dims[0];
    return 0;
}

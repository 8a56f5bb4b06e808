/* idx.c - IDX files, the format of MNIST and Fashion-MNIST (Y. LeCun,
 * http://yann.lecun.com/exdb/mnist/, section "FILE FORMATS"):
 *
 *     bytes 0-1  zero
 *     byte  2    element type: 0x08 unsigned byte, 0x09 signed byte, 0x0B short,
 *                0x0C int, 0x0D float, 0x0E double (all big-endian)
 *     byte  3    number of dimensions n
 *     then n big-endian 32-bit sizes, then the elements, row-major.
 *
 * This file splits a file into header and elements and checks that they
 * agree; idx_convert.c turns the elements into floats, images or labels.
 * Files may be plain or gzip. Every size is checked against the file before
 * anything is allocated for it: a plain file must be exactly as long as its
 * header says; of a gzip file only the header is inflated first, and the
 * whole file is then inflated into a buffer of exactly the declared size, so
 * a file that inflates to more (a gzip bomb) is refused as soon as it passes
 * that size. Every error message starts with the file's name. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "io_internal.h"

/* The largest element data accepted (1 GiB, 18x the 60,000 MNIST training
 * images), and the longest header (magic and 255 sizes). */
#define IDX_MAX_DATA ((size_t)1 << 30)
#define IDX_MAX_HEADER (4 + 4 * VAE_IDX_MAX_DIMS)

/* The size in bytes of an element of type, or 0 for an unknown type. */
static size_t idx_elem_size(unsigned type)
{
    switch (type) {
    case VAE_IDX_UBYTE:
    case VAE_IDX_BYTE: return 1;
    case VAE_IDX_SHORT: return 2;
    case VAE_IDX_INT:
    case VAE_IDX_FLOAT: return 4;
    case VAE_IDX_DOUBLE: return 8;
    default: return 0;
    }
}

/* "60000 x 28 x 28" in buf; after eight sizes the rest is "x ...". */
static void dims_text(char *buf, size_t size, const uint32_t *dims, unsigned n)
{
    size_t at = 0;
    buf[0] = 0;
    for (unsigned i = 0; i < n && at < size; i++) {
        int k = i == 8 ? snprintf(buf + at, size - at, " x ...")
                       : snprintf(buf + at, size - at, i ? " x %u" : "%u", (unsigned)dims[i]);
        if (k < 0) return;
        at += (size_t)k;
        if (i == 8) return;
    }
}

/* Reads the header at data[0..len) (the whole file, or its first bytes) into
 * idx: type, ndims, dims, count and elem_size, each checked (known type, at
 * least one dimension, no size zero or above INT_MAX, element data within
 * IDX_MAX_DATA). Sets *header_len. */
static int parse_header(const char *name, const uint8_t *data, size_t len, vae_io_idx *idx,
                        size_t *header_len)
{
    if (len < 4)
        return vae_fail(VAE_ERR_FORMAT,
                        "%s: truncated header (%zu bytes; an IDX file starts with a 4-byte magic)",
                        name, len);
    uint32_t magic = vae_load_be32(data);
    unsigned type = data[2], ndims = data[3];
    size_t elem_size = idx_elem_size(type);
    if (data[0] != 0 || data[1] != 0 || elem_size == 0)
        return vae_fail(VAE_ERR_FORMAT, "%s: not an IDX file (magic 0x%08x)", name,
                        (unsigned)magic);
    if (ndims == 0)
        return vae_fail(VAE_ERR_FORMAT, "%s: IDX file has no dimensions (magic 0x%08x)", name,
                        (unsigned)magic);
    size_t header = 4 + 4 * (size_t)ndims;
    if (len < header)
        return vae_fail(VAE_ERR_FORMAT, "%s: truncated header (%zu bytes, the header needs %zu)",
                        name, len, header);
    size_t count = 1;
    int overflow = 0;
    for (unsigned i = 0; i < ndims; i++) {
        idx->dims[i] = vae_load_be32(data + 4 + 4 * i);
        if (idx->dims[i] == 0)
            return vae_fail(VAE_ERR_FORMAT, "%s: IDX dimension %u is zero", name, i);
        if (idx->dims[i] > INT_MAX)
            return vae_fail(VAE_ERR_FORMAT, "%s: IDX dimension %u is too large (%u)", name, i,
                            (unsigned)idx->dims[i]);
        if (!overflow && !vae_mul_size(count, idx->dims[i], &count)) overflow = 1;
    }
    size_t bytes = 0;
    if (overflow || !vae_mul_size(count, elem_size, &bytes) || bytes > IDX_MAX_DATA) {
        char shape[128];
        dims_text(shape, sizeof shape, idx->dims, ndims);
        return vae_fail(VAE_ERR_FORMAT,
                        "%s: IDX data of %s elements of %zu byte%s exceeds the limit of %zu bytes",
                        name, shape, elem_size, elem_size == 1 ? "" : "s", IDX_MAX_DATA);
    }
    idx->type = type;
    idx->ndims = ndims;
    idx->count = count;
    idx->elem_size = elem_size;
    *header_len = header;
    return 0;
}

/* Parses a plain (uncompressed) IDX file in data[0..len): the element data
 * must be exactly as long as the header says. */
static int parse_plain(const char *name, const uint8_t *data, size_t len, vae_io_idx *idx)
{
    size_t header;
    int rc = parse_header(name, data, len, idx, &header);
    if (rc) return rc;
    size_t expected = idx->count * idx->elem_size, actual = len - header;
    if (actual != expected)
        return vae_fail(VAE_ERR_FORMAT, "%s: IDX data is %zu bytes, but the header says %zu (%s)",
                        name, actual, expected,
                        actual < expected ? "truncated file" : "trailing bytes");
    idx->elements = data + header;
    return 0;
}

/* Inflates gzip data holding an IDX file. The header comes from a prefix
 * decode; its declared size must fit what the compressed bytes can hold, and
 * is then the exact output limit of the full decode. When the first gzip
 * member ends inside the first IDX_MAX_HEADER bytes (a tiny file, or an odd
 * split into members) the whole file is inflated under IDX_MAX_DATA. */
static int parse_gzip(const char *name, const uint8_t *data, size_t len, vae_io_idx *idx)
{
    uint8_t head[IDX_MAX_HEADER];
    size_t got = 0, header = 0, limit = IDX_MAX_DATA + IDX_MAX_HEADER;
    int rc = vae_io_gunzip_prefix(data, len, head, sizeof head, &got);
    if (rc) return vae_io_fail_with_path(rc, name);
    int exact = 0;
    if (got == sizeof head) {
        rc = parse_header(name, head, got, idx, &header);
        if (rc) return rc;
        limit = header + idx->count * idx->elem_size; /* no overflow: both bounded */
        if (limit > vae_io_inflate_bound(len))
            return vae_fail(VAE_ERR_FORMAT,
                            "%s: the IDX header declares %zu bytes, more than %zu bytes of gzip "
                            "data can hold (truncated file?)",
                            name, limit, len);
        exact = 1;
    }
    uint8_t *out = NULL;
    size_t out_len = 0;
    int exceeded = 0;
    rc = vae_io_gunzip(data, len, &out, &out_len, limit, &exceeded);
    if (rc && exceeded && exact)
        return vae_fail(VAE_ERR_FORMAT,
                        "%s: inflates to more than the %zu bytes its IDX header declares "
                        "(trailing data, or a gzip bomb)",
                        name, limit);
    if (rc) return vae_io_fail_with_path(rc, name);
    rc = parse_plain(name, out, out_len, idx);
    if (rc) {
        free(out);
        return rc;
    }
    idx->buf = out;
    return 0;
}

/* See io_internal.h. */
int vae_io_idx_parse(const char *name, const uint8_t *data, size_t len, vae_io_idx *idx)
{
    memset(idx, 0, sizeof *idx);
    int rc = len >= 2 && data[0] == 0x1F && data[1] == 0x8B ? parse_gzip(name, data, len, idx)
                                                           : parse_plain(name, data, len, idx);
    if (rc) memset(idx, 0, sizeof *idx);
    return rc;
}

/* See io_internal.h. The compressed file may be a little larger than its
 * content (stored blocks add 5 bytes in 65535, plus the gzip framing). */
int vae_io_idx_load(const char *path, vae_io_idx *idx)
{
    memset(idx, 0, sizeof *idx);
    size_t max_file = IDX_MAX_DATA + IDX_MAX_HEADER;
    max_file += max_file / 256 + 4096;
    uint8_t *raw;
    size_t len;
    int rc = vae_read_file(path, &raw, &len, max_file);
    if (rc) return rc;
    rc = vae_io_idx_parse(path, raw, len, idx);
    if (rc || idx->buf) {
        free(raw);
        return rc;
    }
    idx->buf = raw; /* elements point into it */
    return 0;
}

/* See io_internal.h. */
void vae_io_idx_free(vae_io_idx *idx)
{
    free(idx->buf);
    idx->buf = NULL;
    idx->elements = NULL;
}

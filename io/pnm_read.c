/* pnm_read.c - Netpbm input (Netpbm's pgm(5) and ppm(5) manual pages):
 *
 *     "P5" (grey) or "P6" (RGB), binary; "P2" or "P3", the plain (ASCII) forms
 *     whitespace, width, whitespace, height, whitespace, maxval (1..65535),
 *     each field in ASCII decimal, '#' starting a comment to the end of the line
 *     binary: one whitespace character, then height rows of width pixels of
 *             1 (grey) or 3 (R, G, B) samples, each one byte when maxval < 256,
 *             else two bytes, most significant first
 *     plain:  the samples in ASCII decimal, separated by whitespace
 *
 * A binary file is a sequence of images with nothing between them (we also
 * allow whitespace); a plain file holds exactly one image. Two passes: the
 * first reads every header, checks sizes against the bytes left in the file
 * and decides the representation (bytes when every maxval is 255, floats
 * otherwise); only then is memory allocated, and the second pass decodes,
 * checking every sample against its maxval. Every error names the file, and
 * where it helps the image number and byte offset. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "io_internal.h"

/* The largest file read (1 GiB): far above one image at the pixel limit
 * (2^24 pixels x 3 samples x 2 bytes = 96 MiB). */
#define PNM_MAX_FILE ((size_t)1 << 30)

/* The input and the read position. */
typedef struct pnm_input {
    const char *name;
    const uint8_t *data;
    size_t len, pos;
} pnm_input;

/* One image's header. raster is the offset of its first sample. */
typedef struct pnm_header {
    char kind; /* '2', '3', '5' or '6' */
    int plain, channels;
    uint32_t width, height, maxval;
    size_t samples, raster, raster_bytes; /* raster_bytes: binary images only */
} pnm_header;

/* Netpbm's whitespace: blanks, TABs, CRs, LFs (and VT, FF, as isspace). */
static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* An ASCII decimal digit, independent of the locale. */
static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* Skips whitespace and comments ('#' to the end of the line). */
static void skip_space_and_comments(pnm_input *in)
{
    while (in->pos < in->len) {
        uint8_t c = in->data[in->pos];
        if (is_space(c)) {
            in->pos++;
        } else if (c == '#') {
            while (in->pos < in->len && in->data[in->pos] != '\n' && in->data[in->pos] != '\r')
                in->pos++;
        } else {
            break;
        }
    }
}

/* Reads a decimal header field (width, height or maxval) of image `image`,
 * after whitespace and comments; the field must end in whitespace or '#'.
 * Values above 2^32 - 1 are refused as too large. */
static int read_field(pnm_input *in, const char *what, int image, uint32_t *value)
{
    skip_space_and_comments(in);
    if (in->pos == in->len)
        return vae_fail(VAE_ERR_FORMAT, "%s: truncated header of image %d (no %s)", in->name,
                        image, what);
    size_t start = in->pos;
    uint64_t v = 0;
    while (in->pos < in->len && is_digit(in->data[in->pos])) {
        v = v * 10 + (uint64_t)(in->data[in->pos++] - '0');
        if (v > UINT32_MAX)
            return vae_fail(VAE_ERR_FORMAT, "%s: the %s of image %d is too large (byte %zu)",
                            in->name, what, image, start);
    }
    if (in->pos == start ||
        (in->pos < in->len && !is_space(in->data[in->pos]) && in->data[in->pos] != '#'))
        return vae_fail(VAE_ERR_FORMAT, "%s: the %s of image %d is not a number (byte %zu)",
                        in->name, what, image, start);
    if (in->pos == in->len)
        return vae_fail(VAE_ERR_FORMAT, "%s: truncated header of image %d (it ends after the %s)",
                        in->name, image, what);
    *value = (uint32_t)v;
    return 0;
}

/* Reads the magic number of image `image` at in->pos. */
static int read_magic(pnm_input *in, int image, pnm_header *h)
{
    const uint8_t *d = in->data + in->pos;
    size_t left = in->len - in->pos;
    if (image > 1 && (left < 2 || d[0] != 'P' || (d[1] != '5' && d[1] != '6')))
        return vae_fail(VAE_ERR_FORMAT,
                        "%s: unexpected data after image %d (byte %zu): only binary (P5, P6) "
                        "images may follow one another",
                        in->name, image - 1, in->pos);
    if (left < 2)
        return vae_fail(VAE_ERR_FORMAT, "%s: truncated header (%zu bytes)", in->name, left);
    if (d[0] == 'P' && (d[1] == '1' || d[1] == '4'))
        return vae_fail(VAE_ERR_UNSUPPORTED,
                        "%s: PBM bitmaps (P%c) are not supported (convert to PGM: pbmtopgm)",
                        in->name, d[1]);
    if (d[0] == 'P' && d[1] == '7')
        return vae_fail(VAE_ERR_UNSUPPORTED, "%s: PAM images (P7) are not supported", in->name);
    if (d[0] != 'P' || (d[1] != '2' && d[1] != '3' && d[1] != '5' && d[1] != '6'))
        return vae_fail(VAE_ERR_FORMAT,
                        "%s: not a Netpbm file (starts with %02x %02x; expected P2, P3, P5 or P6)",
                        in->name, d[0], d[1]);
    h->kind = (char)d[1];
    h->plain = d[1] == '2' || d[1] == '3';
    h->channels = d[1] == '3' || d[1] == '6' ? 3 : 1;
    in->pos += 2;
    return 0;
}

/* Reads the header of image `image` at in->pos and checks its sizes against
 * the limits and the bytes left; leaves in->pos at the raster. */
static int read_header(pnm_input *in, int image, pnm_header *h)
{
    int rc = read_magic(in, image, h);
    if (rc == 0) rc = read_field(in, "width", image, &h->width);
    if (rc == 0) rc = read_field(in, "height", image, &h->height);
    if (rc == 0) rc = read_field(in, "maxval", image, &h->maxval);
    if (rc) return rc;
    if (h->width == 0 || h->height == 0)
        return vae_fail(VAE_ERR_FORMAT, "%s: image %d has %s 0", in->name, image,
                        h->width == 0 ? "width" : "height");
    if ((uint64_t)h->width * h->height > VAE_IO_MAX_PIXELS)
        return vae_fail(VAE_ERR_FORMAT, "%s: image %d of %ux%u pixels exceeds the limit of %zu pixels",
                        in->name, image, (unsigned)h->width, (unsigned)h->height,
                        VAE_IO_MAX_PIXELS);
    if (h->maxval == 0 || h->maxval > 65535)
        return vae_fail(VAE_ERR_FORMAT, "%s: the maxval of image %d is %u (it must be 1 to 65535)",
                        in->name, image, (unsigned)h->maxval);
    h->samples = (size_t)h->width * h->height * (size_t)h->channels;
    size_t left;
    if (h->plain) {
        /* n samples need at least n digits and n - 1 separators. */
        skip_space_and_comments(in);
        left = in->len - in->pos;
        if (left < 2 * h->samples - 1)
            return vae_fail(VAE_ERR_FORMAT,
                            "%s: truncated raster of image %d (%zu bytes left; %zu samples need "
                            "at least %zu)",
                            in->name, image, left, h->samples, 2 * h->samples - 1);
        h->raster = in->pos;
        return 0;
    }
    if (!is_space(in->data[in->pos])) /* read_field left a byte there */
        return vae_fail(VAE_ERR_FORMAT,
                        "%s: expected one whitespace character after the maxval of image %d "
                        "(byte %zu)",
                        in->name, image, in->pos);
    in->pos++;
    h->raster = in->pos;
    h->raster_bytes = h->samples * (h->maxval > 255 ? 2 : 1);
    left = in->len - in->pos;
    if (left < h->raster_bytes)
        return vae_fail(VAE_ERR_FORMAT, "%s: truncated raster of image %d (%zu bytes, it needs %zu)",
                        in->name, image, left, h->raster_bytes);
    in->pos += h->raster_bytes;
    return 0;
}

/* Whether two headers describe images of one size and channel count. */
static int same_shape(const pnm_header *a, const pnm_header *b)
{
    return a->width == b->width && a->height == b->height && a->channels == b->channels;
}

/* The error for a sample above the maxval. */
static int fail_sample(const pnm_input *in, int image, size_t i, uint32_t v, uint32_t maxval)
{
    return vae_fail(VAE_ERR_FORMAT, "%s: sample %zu of image %d is %u, above the maxval %u",
                    in->name, i, image, (unsigned)v, (unsigned)maxval);
}

/* Decodes the raster of a binary image into pixels (maxval 255) or values. */
static int decode_binary(const pnm_input *in, int image, const pnm_header *h, uint8_t *pixels,
                         float *values)
{
    const uint8_t *p = in->data + h->raster;
    if (pixels) {
        memcpy(pixels, p, h->samples); /* maxval 255: every byte is valid */
        return 0;
    }
    for (size_t i = 0; i < h->samples; i++) {
        uint32_t v = h->maxval > 255 ? (uint32_t)p[2 * i] << 8 | p[2 * i + 1] : p[i];
        if (v > h->maxval) return fail_sample(in, image, i, v, h->maxval);
        values[i] = (float)((double)v / h->maxval);
    }
    return 0;
}

/* Decodes the raster of a plain image: h->samples decimal numbers separated
 * by whitespace (comments allowed, as libnetpbm allows them), then nothing
 * but whitespace and comments to the end of the file. */
static int decode_plain(pnm_input *in, int image, const pnm_header *h, uint8_t *pixels,
                        float *values)
{
    in->pos = h->raster;
    for (size_t i = 0; i < h->samples; i++) {
        skip_space_and_comments(in);
        if (in->pos == in->len)
            return vae_fail(VAE_ERR_FORMAT, "%s: truncated raster of image %d (%zu of %zu samples)",
                            in->name, image, i, h->samples);
        size_t start = in->pos;
        uint32_t v = 0;
        while (in->pos < in->len && is_digit(in->data[in->pos])) {
            v = v * 10 + (uint32_t)(in->data[in->pos++] - '0');
            if (v > h->maxval) return fail_sample(in, image, i, v, h->maxval);
        }
        if (in->pos == start ||
            (in->pos < in->len && !is_space(in->data[in->pos]) && in->data[in->pos] != '#'))
            return vae_fail(VAE_ERR_FORMAT, "%s: sample %zu of image %d is not a number (byte %zu)",
                            in->name, i, image, start);
        if (pixels) pixels[i] = (uint8_t)v;
        else values[i] = (float)((double)v / h->maxval);
    }
    skip_space_and_comments(in);
    if (in->pos != in->len)
        return vae_fail(VAE_ERR_FORMAT,
                        "%s: unexpected data after the plain (P%c) image (byte %zu): a plain "
                        "Netpbm file holds one image",
                        in->name, h->kind, in->pos);
    return 0;
}

/* Skips the whitespace after a binary image; whether another image follows. */
static int another_image(pnm_input *in)
{
    while (in->pos < in->len && is_space(in->data[in->pos])) in->pos++;
    return in->pos < in->len;
}

/* Pass 1: reads every header; sets the image count, the first header and
 * whether every maxval is 255. */
static int scan_headers(pnm_input *in, int *count, pnm_header *first, int *all_255)
{
    *count = 0;
    *all_255 = 1;
    in->pos = 0;
    for (int image = 1;; image++) {
        pnm_header h;
        int rc = read_header(in, image, &h);
        if (rc) return rc;
        if (image == 1) {
            *first = h;
        } else if (!same_shape(&h, first)) {
            return vae_fail(VAE_ERR_FORMAT,
                            "%s: image %d is %ux%u with %d channel%s, but image 1 is %ux%u with "
                            "%d (the images of a file must have one size)",
                            in->name, image, (unsigned)h.width, (unsigned)h.height, h.channels,
                            h.channels == 1 ? "" : "s", (unsigned)first->width,
                            (unsigned)first->height, first->channels);
        }
        if (h.maxval != 255) *all_255 = 0;
        *count = image;
        if (image == INT_MAX)
            return vae_fail(VAE_ERR_FORMAT, "%s: more than %d images", in->name, INT_MAX - 1);
        if (h.plain || !another_image(in)) return 0;
    }
}

/* See io_internal.h. */
int vae_io_pnm_parse(const char *name, const uint8_t *data, size_t len, vae_images *out)
{
    memset(out, 0, sizeof *out);
    pnm_input in = {name, data, len, 0};
    pnm_header first;
    int count, all_255;
    int rc = scan_headers(&in, &count, &first, &all_255);
    if (rc) return rc;
    /* count * samples <= len (each binary raster is in the file, and a plain
     * file holds one image), so these sizes cannot overflow. */
    size_t n = (size_t)count * first.samples;
    vae_images im = {count, (int)first.height, (int)first.width, first.channels, NULL, NULL, NULL};
    if (all_255) im.pixels = malloc(n);
    else im.values = malloc(n * sizeof(float));
    if (!im.pixels && !im.values)
        return vae_fail(VAE_ERR_NOMEM, "%s: out of memory for %d images", name, count);
    in.pos = 0;
    for (int image = 1; rc == 0 && image <= count; image++) {
        pnm_header h;
        rc = read_header(&in, image, &h);
        uint8_t *px = im.pixels ? im.pixels + (size_t)(image - 1) * h.samples : NULL;
        float *v = im.values ? im.values + (size_t)(image - 1) * h.samples : NULL;
        if (rc == 0) rc = h.plain ? decode_plain(&in, image, &h, px, v)
                                  : decode_binary(&in, image, &h, px, v);
        if (rc == 0 && !h.plain) another_image(&in);
    }
    if (rc) {
        vae_images_free(&im);
        return rc;
    }
    *out = im;
    return 0;
}

/* See vae.h. */
int vae_pnm_read(const char *path, vae_images *out)
{
    if (!path || !out) return vae_fail(VAE_ERR_ARG, "vae_pnm_read: NULL argument");
    memset(out, 0, sizeof *out);
    uint8_t *data;
    size_t len;
    int rc = vae_read_file(path, &data, &len, PNM_MAX_FILE);
    if (rc) return rc;
    rc = vae_io_pnm_parse(path, data, len, out);
    free(data);
    return rc;
}

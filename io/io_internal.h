/* io_internal.h - helpers shared between the files of io/, not installed.
 * Like every non-static symbol of the library they carry the vae_ prefix. */
#ifndef VAE_IO_INTERNAL_H
#define VAE_IO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "vae.h"

/* Writes head[0..head_len) then body[0..body_len) to path, replacing the file.
 * Either part may be empty (NULL with length 0). Every fwrite and the fclose
 * are checked; on failure the partial file is removed and the error reads
 * "<path>: cannot write: <strerror>". Returns 0 or VAE_ERR_IO. */
int vae_io_write_file(const char *path, const void *head, size_t head_len, const void *body,
                      size_t body_len);

/* Re-raises the thread's current error message with "<path>: " in front and
 * returns code, for errors from buffer-level functions (vae_gunzip) reported
 * on behalf of a file. */
int vae_io_fail_with_path(int code, const char *path);

/* Asks the system to back the buffer p[0..n) with 2 MB pages where it can
 * (Linux; elsewhere, and below 8 MB, nothing). For the buffers a data set
 * is read into, called before they are written (see pages.c). */
void vae_io_advise_large_pages(void *p, size_t n);
/* The whole 2 MB pages inside the n bytes at addr: returns their length in
 * bytes and sets *start to the first; 0 (and *start 0) when there are none
 * or n is under 8 MB. */
size_t vae_io_large_page_span(uintptr_t addr, size_t n, uintptr_t *start);

/* Checks the arguments of an image writer (path and pixels not NULL, width
 * and height positive, channels 1 or 3, the size representable) and sets
 * *bytes = width * height * channels. Returns 0 or VAE_ERR_ARG. */
int vae_io_check_image(const char *path, const uint8_t *pixels, int width, int height,
                       int channels, size_t *bytes);

/* The most bytes a deflate stream of in_len bytes can decode to: one 258-byte
 * match per 2 bits (RFC 1951's longest match, with one-bit codes), about
 * 1032:1, plus a little slack; SIZE_MAX on overflow. A header that claims
 * more than this of a compressed file is lying. */
size_t vae_io_inflate_bound(size_t in_len);

/* vae_gunzip, with *exceeded set to 1 when the failure is that the output
 * would pass max_out (a file larger than its header declared, or a gzip
 * bomb), 0 otherwise. */
int vae_io_gunzip(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len,
                  size_t max_out, int *exceeded);

/* Decodes the first bytes of the first gzip member of in[0..in_len) into
 * out[0..cap): *out_len is cap, or less when the member's data is shorter.
 * Nothing past those bytes is checked (no CRC): it is for reading a header
 * before deciding how much output the whole file may have. */
int vae_io_gunzip_prefix(const uint8_t *in, size_t in_len, uint8_t *out, size_t cap,
                         size_t *out_len);

/* The largest image any reader accepts: 2^24 pixels (4096 x 4096). */
#define VAE_IO_MAX_PIXELS ((size_t)1 << 24)

/* An IDX file split into header and elements, not yet converted. elements
 * points at count * elem_size big-endian bytes, inside buf when buf is not
 * NULL (then owned here) or inside the caller's memory. */
typedef struct vae_io_idx {
    unsigned type, ndims;
    uint32_t dims[VAE_IDX_MAX_DIMS];
    size_t count, elem_size;
    uint8_t *buf;
    const uint8_t *elements;
} vae_io_idx;

/* Parses an IDX file held in data[0..len), plain or gzip (inflated into a
 * buffer of exactly the size its header declares). name starts every error
 * message. Returns 0 or a VAE_ERR_* code; on failure idx owns nothing. */
int vae_io_idx_parse(const char *name, const uint8_t *data, size_t len, vae_io_idx *idx);
/* Reads and parses the IDX file at path; idx->buf then always owns the data. */
int vae_io_idx_load(const char *path, vae_io_idx *idx);
void vae_io_idx_free(vae_io_idx *idx);

/* Conversions of a parsed IDX file (see vae.h for the rules); each consumes
 * idx (freed whether it succeeds or not). */
int vae_io_idx_to_array(const char *name, vae_io_idx *idx, vae_idx_array *out);
int vae_io_idx_to_images(const char *name, vae_io_idx *idx, vae_images *out);
int vae_io_idx_to_labels(const char *name, vae_io_idx *idx, uint8_t **labels, int *count);

/* Parses every Netpbm image in data[0..len) (see vae_pnm_read); name starts
 * every error message. */
int vae_io_pnm_parse(const char *name, const uint8_t *data, size_t len, vae_images *out);

/* Appends the images of src to dst (dst may be empty: count 0, no buffers),
 * which must then have the same size and channels, else an error naming
 * src_name; a set of pixels and a set of values join as values. dst grows
 * geometrically: *capacity is the number of images its buffer holds (0 for
 * a fresh dst). src is left unchanged. */
int vae_io_images_append(vae_images *dst, size_t *capacity, const vae_images *src,
                         const char *dst_name, const char *src_name);

/* Splits all into train and test: image i is a test image when i >=
 * first_test, or when every > 0 and i % every == every - 1 (the 10th, 20th,
 * ... for every = 10); the others train, in their order. all's buffers move
 * to train (all is left empty); test gets new ones. Labels follow. */
int vae_io_images_split(vae_images *all, int first_test, int every, vae_images *train,
                        vae_images *test);

/* Sets *is_mnist when dir holds train-images-idx3-ubyte or
 * t10k-images-idx3-ubyte (plain or .gz). Returns 0 or VAE_ERR_NOMEM. */
int vae_io_is_mnist_dir(const char *dir, int *is_mnist);

#endif /* VAE_IO_INTERNAL_H */

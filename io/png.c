/* png.c - PNG output without zlib (PNG specification, ISO/IEC 15948:2004,
 * also W3C "Portable Network Graphics Specification (Second Edition)").
 *
 * The file is: the 8-byte signature (section 5.2); an IHDR chunk (11.2.2)
 * for an 8-bit greyscale (colour type 0) or truecolour (colour type 2)
 * image, no interlace; one IDAT chunk holding a zlib stream (RFC 1950) of the
 * filtered rows; an IEND chunk. Each chunk is length (big-endian, 31 bits),
 * type, data and the CRC-32 of type and data (5.3).
 *
 * Every row is preceded by filter type 0, "None" (section 9.2), and the zlib
 * stream uses stored deflate blocks (RFC 1951 section 3.2.4) of at most 65535
 * bytes: the files are larger than compressed ones, but this is a picture of
 * a few hundred kilobytes at most, and the writer stays short and obviously
 * right. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "io_internal.h"

#define STORED_MAX 65535u
#define PNG_CHUNK_MAX 0x7FFFFFFFu /* a chunk's length has 31 bits (section 5.3) */

/* Writes a chunk's length and type at p; the data follows at p + 8. */
static void put_chunk_start(uint8_t *p, size_t len, const char *type)
{
    vae_store_be32(p, (uint32_t)len);
    memcpy(p + 4, type, 4);
}

/* Writes the CRC-32 of the chunk's type and data, which start at p + 4, after
 * its len data bytes; returns the size of the whole chunk. */
static size_t put_chunk_crc(uint8_t *p, size_t len)
{
    vae_store_be32(p + 8 + len, vae_crc32(0, p + 4, 4 + len));
    return 12 + len;
}

/* Copies n bytes of the filtered image, starting at byte offset `at`, into
 * dst: the filtered image is each row of row_bytes pixels bytes preceded by
 * a zero filter byte, so it is produced on the fly, not stored. */
static void copy_filtered(uint8_t *dst, const uint8_t *pixels, size_t row_bytes, size_t at,
                          size_t n)
{
    size_t stride = row_bytes + 1;
    while (n > 0) {
        size_t row = at / stride, col = at % stride;
        if (col == 0) {
            *dst++ = 0;
            at++;
            n--;
            continue;
        }
        size_t take = stride - col < n ? stride - col : n;
        memcpy(dst, pixels + row * row_bytes + (col - 1), take);
        dst += take;
        at += take;
        n -= take;
    }
}

/* Writes the zlib stream of the filtered image (raw bytes) at p and returns
 * its length: header 78 01 (deflate, 32 KiB window, no dictionary, check
 * bits making the 16-bit value a multiple of 31, RFC 1950 section 2.2), stored
 * blocks (BFINAL on the last one, BTYPE 00, then LEN and NLEN little-endian),
 * and the Adler-32 of the uncompressed data, big-endian. */
static size_t put_zlib_stored(uint8_t *p, const uint8_t *pixels, size_t row_bytes, size_t raw)
{
    uint8_t *start = p;
    uint32_t adler = 1;
    *p++ = 0x78;
    *p++ = 0x01;
    for (size_t at = 0; at < raw;) {
        size_t n = raw - at < STORED_MAX ? raw - at : STORED_MAX;
        *p++ = at + n == raw ? 1 : 0;
        p[0] = (uint8_t)n;
        p[1] = (uint8_t)(n >> 8);
        p[2] = (uint8_t)~n;
        p[3] = (uint8_t)(~n >> 8);
        p += 4;
        copy_filtered(p, pixels, row_bytes, at, n);
        adler = vae_adler32(adler, p, n);
        p += n;
        at += n;
    }
    vae_store_be32(p, adler);
    p += 4;
    return (size_t)(p - start);
}

/* See vae.h. The whole file is built in memory, then written at once. */
int vae_write_png(const char *path, const uint8_t *pixels, int width, int height, int channels)
{
    size_t bytes, raw, zlib_len, file_len;
    int rc = vae_io_check_image(path, pixels, width, height, channels, &bytes);
    if (rc) return rc;
    size_t row_bytes = (size_t)width * (size_t)channels; /* fits: bytes did */
    /* raw = height * (1 + row_bytes); the stream adds 2 + 4 bytes and 5 per block. */
    if (!vae_mul_size((size_t)height, row_bytes + 1, &raw) ||
        !vae_add_size(raw, 6 + 5 * (raw / STORED_MAX + 1), &zlib_len) ||
        zlib_len > PNG_CHUNK_MAX)
        return vae_fail(VAE_ERR_ARG, "%s: image of %dx%d pixels is too large for one PNG chunk",
                        path, width, height);
    file_len = 8 + (12 + 13) + (12 + zlib_len) + 12;
    uint8_t *file = malloc(file_len);
    if (!file) return vae_fail(VAE_ERR_NOMEM, "%s: out of memory for %zu bytes", path, file_len);

    static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    uint8_t *p = file;
    memcpy(p, signature, 8);
    p += 8;

    put_chunk_start(p, 13, "IHDR");
    vae_store_be32(p + 8, (uint32_t)width);
    vae_store_be32(p + 12, (uint32_t)height);
    p[16] = 8;                       /* bit depth */
    p[17] = channels == 1 ? 0 : 2;   /* colour type: greyscale or truecolour */
    p[18] = p[19] = p[20] = 0;       /* deflate, adaptive filtering, no interlace */
    p += put_chunk_crc(p, 13);

    size_t idat_len = put_zlib_stored(p + 8, pixels, row_bytes, raw);
    put_chunk_start(p, idat_len, "IDAT");
    p += put_chunk_crc(p, idat_len);

    put_chunk_start(p, 0, "IEND");
    p += put_chunk_crc(p, 0);

    rc = vae_io_write_file(path, file, (size_t)(p - file), NULL, 0);
    free(file);
    return rc;
}

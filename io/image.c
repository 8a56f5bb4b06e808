/* image.c - the image writer that picks a format by file name, and the
 * argument checks the writers share. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "io_internal.h"

/* See io_internal.h. */
int vae_io_check_image(const char *path, const uint8_t *pixels, int width, int height,
                       int channels, size_t *bytes)
{
    if (!path) return vae_fail(VAE_ERR_ARG, "image writer: NULL path");
    if (!pixels) return vae_fail(VAE_ERR_ARG, "%s: NULL pixels", path);
    if (width <= 0 || height <= 0)
        return vae_fail(VAE_ERR_ARG, "%s: image size %dx%d is not positive", path, width, height);
    if (channels != 1 && channels != 3)
        return vae_fail(VAE_ERR_ARG, "%s: %d channels (expected 1 for grey or 3 for RGB)", path,
                        channels);
    size_t row;
    if (!vae_mul_size((size_t)width, (size_t)channels, &row) ||
        !vae_mul_size(row, (size_t)height, bytes))
        return vae_fail(VAE_ERR_ARG, "%s: image of %dx%d pixels is too large", path, width, height);
    return 0;
}

/* ASCII lower case, independent of the locale. */
static int lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

/* Whether the file name in path ends in ext (".png"), ignoring case. */
static int has_extension(const char *path, const char *ext)
{
    size_t n = strlen(path), m = strlen(ext);
    if (n < m) return 0;
    for (size_t i = 0; i < m; i++)
        if (lower((unsigned char)path[n - m + i]) != ext[i]) return 0;
    return 1;
}

/* Writes a one-channel image as a P6 pixmap, each grey value repeated as R, G
 * and B, for a .ppm name given grey pixels. */
static int write_grey_as_ppm(const char *path, const uint8_t *pixels, int width, int height,
                             size_t bytes)
{
    size_t rgb_bytes;
    if (!vae_mul_size(bytes, 3, &rgb_bytes))
        return vae_fail(VAE_ERR_ARG, "%s: image of %dx%d pixels is too large", path, width, height);
    uint8_t *rgb = malloc(rgb_bytes);
    if (!rgb) return vae_fail(VAE_ERR_NOMEM, "%s: out of memory for %zu bytes", path, rgb_bytes);
    for (size_t i = 0; i < bytes; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = pixels[i];
    int rc = vae_write_pnm(path, rgb, width, height, 3);
    free(rgb);
    return rc;
}

/* See vae.h. The extension decides, ignoring case: .png -> PNG; .pgm -> P5
 * (one channel only: a colour picture is not silently made grey); .ppm -> P6
 * (grey pixels are expanded to RGB); .pnm -> P5 or P6 by channels. */
int vae_write_image(const char *path, const uint8_t *pixels, int width, int height, int channels)
{
    size_t bytes;
    int rc = vae_io_check_image(path, pixels, width, height, channels, &bytes);
    if (rc) return rc;
    if (has_extension(path, ".png")) return vae_write_png(path, pixels, width, height, channels);
    if (has_extension(path, ".pnm")) return vae_write_pnm(path, pixels, width, height, channels);
    if (has_extension(path, ".pgm")) {
        if (channels != 1)
            return vae_fail(VAE_ERR_ARG,
                            "%s: a .pgm image has 1 channel, not %d (use .ppm or .png)", path,
                            channels);
        return vae_write_pnm(path, pixels, width, height, 1);
    }
    if (has_extension(path, ".ppm")) {
        if (channels == 3) return vae_write_pnm(path, pixels, width, height, 3);
        return write_grey_as_ppm(path, pixels, width, height, bytes);
    }
    return vae_fail(VAE_ERR_ARG, "%s: unknown image extension (use .png, .ppm or .pgm)", path);
}

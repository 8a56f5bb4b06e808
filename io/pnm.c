/* pnm.c - binary Netpbm output: P5 (greymap) for one channel, P6 (pixmap)
 * for three, maxval 255 so every sample is one byte (Netpbm's pgm(5) and
 * ppm(5) manual pages). Any image viewer and `convert` read them. */
#include <stdio.h>

#include "internal.h"
#include "io_internal.h"

/* See vae.h. The header is "P5\n<width> <height>\n255\n" (P6 for RGB),
 * followed by the rows top to bottom, exactly as pixels holds them. */
int vae_write_pnm(const char *path, const uint8_t *pixels, int width, int height, int channels)
{
    size_t bytes;
    int rc = vae_io_check_image(path, pixels, width, height, channels, &bytes);
    if (rc) return rc;
    char header[64];
    int n = snprintf(header, sizeof header, "P%c\n%d %d\n255\n", channels == 1 ? '5' : '6',
                     width, height);
    return vae_io_write_file(path, header, (size_t)n, pixels, bytes);
}

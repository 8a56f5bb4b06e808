/* fuzz_pnm.c - libFuzzer harness for the Netpbm reader (io/pnm_read.c): the
 * input is a Netpbm file parsed from memory. A success must describe a
 * consistent set: positive sizes within the pixel limit, exactly one of
 * pixels and values, every value in [0, 1]. */
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"
#include "io_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vae_images im;
    if (vae_io_pnm_parse("fuzz", data, size, &im) != 0) {
        if (im.pixels || im.values || im.count) __builtin_trap();
        return 0;
    }
    if (im.count <= 0 || im.rows <= 0 || im.cols <= 0 || (im.channels != 1 && im.channels != 3))
        __builtin_trap();
    if ((size_t)im.rows * (size_t)im.cols > VAE_IO_MAX_PIXELS) __builtin_trap();
    if (!im.pixels == !im.values || im.labels) __builtin_trap();
    size_t n = (size_t)im.count * im.rows * im.cols * im.channels;
    if (n > size) __builtin_trap(); /* every sample takes at least a byte */
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (im.values && !(im.values[i] >= 0.0f && im.values[i] <= 1.0f)) __builtin_trap();
        if (im.pixels) sum += im.pixels[i]; /* reads every byte */
    }
    if (sum > 255 * (uint64_t)n) __builtin_trap();
    vae_images_free(&im);
    return 0;
}

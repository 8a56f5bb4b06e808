/* fuzz_idx.c - libFuzzer harness for the IDX reader (io/idx.c, io/idx_convert.c):
 * the input is an IDX file, plain or gzip, parsed from memory and converted
 * to an array, to images and to labels. A result that succeeds is checked
 * for consistency: sizes that multiply out, values in [0, 1] for images.
 * Build and run with `make fuzz` (clang, -fsanitize=fuzzer,address,undefined). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "internal.h"
#include "io_internal.h"

/* Checks a successful image conversion; traps (a finding) when it is wrong. */
static void check_images(const vae_images *im)
{
    if (im->count <= 0 || im->rows <= 0 || im->cols <= 0 || (im->channels != 1 && im->channels != 3))
        __builtin_trap();
    if (!im->pixels == !im->values) __builtin_trap();
    size_t D = (size_t)im->rows * im->cols * im->channels;
    float x[64];
    size_t n = D < 64 ? D : 64;
    /* The last image's first values, through the public accessor. */
    if (D <= 64) {
        vae_images_copy_float(im, (size_t)im->count - 1, 1, x);
        for (size_t i = 0; i < n; i++)
            if (!(x[i] >= 0.0f && x[i] <= 1.0f)) __builtin_trap();
    }
    if (im->values)
        for (size_t i = 0; i < (size_t)im->count * D; i++)
            if (!(im->values[i] >= 0.0f && im->values[i] <= 1.0f)) __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vae_io_idx idx;
    if (vae_io_idx_parse("fuzz", data, size, &idx) != 0) return 0;
    size_t count = idx.count;
    vae_idx_array a;
    if (vae_io_idx_to_array("fuzz", &idx, &a) == 0) {
        if (a.count != count || a.ndims < 1) __builtin_trap();
        for (size_t i = 0; i < a.count; i++)
            if (!isfinite(a.values[i])) __builtin_trap();
        vae_idx_array_free(&a);
    }

    vae_images im;
    if (vae_io_idx_parse("fuzz", data, size, &idx) != 0) __builtin_trap(); /* parsed once already */
    if (vae_io_idx_to_images("fuzz", &idx, &im) == 0) {
        check_images(&im);
        vae_images_free(&im);
    }

    uint8_t *labels;
    int n;
    if (vae_io_idx_parse("fuzz", data, size, &idx) != 0) __builtin_trap();
    if (vae_io_idx_to_labels("fuzz", &idx, &labels, &n) == 0) {
        if (n <= 0 || (size_t)n != count) __builtin_trap();
        free(labels);
    }
    return 0;
}

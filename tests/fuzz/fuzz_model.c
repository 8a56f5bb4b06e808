/* fuzz_model.c - libFuzzer harness for the model reader (vae_model_load in
 * core/checkpoint.c), which reads a path: the input is written to an
 * in-memory file (memfd) and loaded through /proc/self/fd/N. A model file
 * ends in a CRC-32 of the rest, which random bytes almost never match, so
 * for inputs of even length the harness writes the right CRC into the last
 * four bytes, letting the fuzzer explore what lies behind the check; odd
 * lengths keep the CRC as it is. A model that loads is run once (one
 * decode), which exercises the shape it claims. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("vae-fuzz-model", 0);
        if (fd < 0) abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) return 0;
    memcpy(copy, data, size);
    if (size >= 8 && size % 2 == 0) vae_store_le32(copy + size - 4, vae_crc32(0, copy, size - 4));
    if (ftruncate(fd, 0) != 0 || pwrite(fd, copy, size, 0) != (ssize_t)size) abort();
    free(copy);

    vae_model *m = NULL;
    if (vae_model_load(path, &m) != VAE_OK) {
        if (m) __builtin_trap();
        return 0;
    }
    const vae_config *cfg = vae_model_get_config(m);
    size_t D = (size_t)vae_config_input_dim(cfg), Z = (size_t)cfg->latent;
    float *z = calloc(Z, sizeof(float)), *mean = malloc(D * sizeof(float));
    if (z && mean) vae_decode(m, z, 1, mean);
    free(z);
    free(mean);
    vae_model_free(m);
    return 0;
}

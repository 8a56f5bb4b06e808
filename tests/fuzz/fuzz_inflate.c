/* fuzz_inflate.c - libFuzzer harness for the inflater (io/inflate.c): the
 * input goes to vae_gunzip (growing output, capped at 16 MiB) and to
 * vae_inflate as raw deflate (a fixed 1 MiB buffer). Differential checks:
 *   - a raw stream that inflates to n bytes, inflated again into n - 1 bytes,
 *     must fail and leave exactly its first n - 1 bytes;
 *   - a gzip stream that inflates must give the same first bytes through
 *     the prefix decoder the IDX reader uses. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "io_internal.h"

#define RAW_CAP ((size_t)1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t raw[RAW_CAP], again[RAW_CAP], head[1024];
    size_t n = 0, used = 0, m = 0;
    if (vae_inflate(data, size, raw, RAW_CAP, &n, &used) == 0) {
        if (n > RAW_CAP || used > size) __builtin_trap();
        if (n > 0) {
            if (vae_inflate(data, size, again, n - 1, &m, NULL) == 0) __builtin_trap();
            if (m != n - 1 || memcmp(raw, again, m) != 0) __builtin_trap();
        }
    } else if (n > RAW_CAP) {
        __builtin_trap();
    }

    uint8_t *out = NULL;
    size_t out_len = 0;
    int exceeded = 0;
    if (vae_io_gunzip(data, size, &out, &out_len, (size_t)1 << 24, &exceeded) == 0) {
        if (!out || exceeded) __builtin_trap();
        size_t cap = out_len < sizeof head ? out_len : sizeof head, got = 0;
        if (vae_io_gunzip_prefix(data, size, head, cap, &got) != 0) __builtin_trap();
        /* A first member shorter than cap ends early; else cap bytes. */
        if (got > cap || memcmp(head, out, got) != 0) __builtin_trap();
        free(out);
    } else if (out) {
        __builtin_trap();
    }
    return 0;
}

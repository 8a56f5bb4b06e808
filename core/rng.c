/* rng.c - counter-based random numbers: Philox4x32-10 and Box-Muller.
 *
 * A counter-based generator has no state to carry: the numbers for
 * (seed, stream, step, row, column) are a pure function of those values, so
 * they do not depend on the thread count, the SIMD width or the order in
 * which rows are visited. The counter is laid out as
 *     word 0: column block (four normals per Philox call)
 *     word 1: row
 *     word 2: step, low 32 bits
 *     word 3: step bits 32..55 | stream << 24
 * and the key is the 64-bit seed. */
#include <math.h>

#include "internal.h"

/* Salmon, Moraes, Dror, Shaw, "Parallel Random Numbers: As Easy as 1, 2, 3",
 * SC'11: ten rounds of a multiply-based Feistel network on four words. */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u /* golden ratio */
#define PHILOX_W1 0xBB67AE85u /* sqrt(3) - 1 */

void vae_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0;
        c1 = (uint32_t)p1;
        c2 = n2;
        c3 = (uint32_t)p0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

static void philox_block(uint64_t seed, uint32_t stream, uint64_t step, uint32_t row,
                         uint32_t col_block, uint32_t out[4])
{
    uint32_t counter[4] = {col_block, row, (uint32_t)step,
                           (uint32_t)((step >> 32) & 0xFFFFFFu) | stream << 24};
    uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    vae_philox4x32_10(counter, key, out);
}

/* A word to a uniform in (0, 1): the top 23 bits plus one half, times 2^-23.
 * The result (k + 0.5) / 2^23 is exact in float and never 0 or 1, so the
 * log in Box-Muller is always finite. */
static float word_to_uniform(uint32_t w) { return ((float)(w >> 9) + 0.5f) * 0x1p-23f; }

void vae_normal4(uint64_t seed, uint32_t stream, uint64_t step, uint32_t row,
                 uint32_t col_block, float out[4])
{
    uint32_t w[4];
    philox_block(seed, stream, step, row, col_block, w);
    /* Box-Muller: (u1, u2) uniform -> r = sqrt(-2 ln u1), theta = 2 pi u2,
     * (r cos theta, r sin theta) are two independent N(0,1). */
    for (int pair = 0; pair < 2; pair++) {
        float u1 = word_to_uniform(w[2 * pair]);
        float u2 = word_to_uniform(w[2 * pair + 1]);
        float r = sqrtf(-2.0f * logf(u1));
        float theta = 6.28318530717958647692f * u2;
        out[2 * pair] = r * cosf(theta);
        out[2 * pair + 1] = r * sinf(theta);
    }
}

float vae_normal(uint64_t seed, uint32_t stream, uint64_t step, uint32_t row, uint32_t col)
{
    float n[4];
    vae_normal4(seed, stream, step, row, col / 4, n);
    return n[col % 4];
}

float vae_uniform(uint64_t seed, uint32_t stream, uint64_t step, uint32_t row, uint32_t col)
{
    uint32_t w[4];
    philox_block(seed, stream, step, row, col, w);
    return word_to_uniform(w[0]);
}

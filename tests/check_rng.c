/* check_rng.c - Philox4x32-10 against the published known-answer vectors of
 * Random123, and the normals: repeatable per (seed, stream, step, row,
 * column), independent across streams, with the right mean and variance. */
#include <check.h>
#include <math.h>

#include "vae.h"

START_TEST(test_philox_known_answers)
{
    /* Random123 kat_vectors: philox4x32 with 10 rounds. */
    static const uint32_t cases[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
        {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du,
         0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu},
        {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u,
         0x94fdccebu, 0x5001e420u, 0x24126ea1u},
    };
    for (int c = 0; c < 3; c++) {
        uint32_t out[4];
        vae_philox4x32_10(cases[c], cases[c] + 4, out);
        for (int i = 0; i < 4; i++)
            ck_assert_msg(out[i] == cases[c][6 + i], "case %d word %d: 0x%08x, expected 0x%08x", c, i, out[i],
                          cases[c][6 + i]);
    }
}
END_TEST

START_TEST(test_normal_repeatable)
{
    float a[4], b[4];
    vae_normal4(7, VAE_STREAM_NOISE, 123456789012ull, 42, 3, a);
    vae_normal4(7, VAE_STREAM_NOISE, 123456789012ull, 42, 3, b);
    for (int i = 0; i < 4; i++) {
        ck_assert_float_eq(a[i], b[i]);
        ck_assert_float_eq(a[i], vae_normal(7, VAE_STREAM_NOISE, 123456789012ull, 42, 12 + (uint32_t)i));
    }
    /* Any coordinate changed gives other numbers. */
    ck_assert_float_ne(vae_normal(7, VAE_STREAM_NOISE, 5, 1, 1), vae_normal(8, VAE_STREAM_NOISE, 5, 1, 1));
    ck_assert_float_ne(vae_normal(7, VAE_STREAM_NOISE, 5, 1, 1), vae_normal(7, VAE_STREAM_EVAL, 5, 1, 1));
    ck_assert_float_ne(vae_normal(7, VAE_STREAM_NOISE, 5, 1, 1), vae_normal(7, VAE_STREAM_NOISE, 6, 1, 1));
    ck_assert_float_ne(vae_normal(7, VAE_STREAM_NOISE, 5, 1, 1), vae_normal(7, VAE_STREAM_NOISE, 5, 2, 1));
    ck_assert_float_ne(vae_normal(7, VAE_STREAM_NOISE, 5, 1, 1), vae_normal(7, VAE_STREAM_NOISE, 5, 1, 2));
    /* The high bits of a 64-bit step matter. */
    ck_assert_float_ne(vae_normal(7, VAE_STREAM_NOISE, 5, 1, 1),
                       vae_normal(7, VAE_STREAM_NOISE, 5 + (1ull << 40), 1, 1));
}
END_TEST

START_TEST(test_normal_moments)
{
    /* 10^6 draws: mean within 5 sigma of 0 (sigma = 1e-3), variance within
     * 5 sigma of 1 (sigma = sqrt(2) * 1e-3), and the tails as a normal's. */
    const int n = 1000000;
    double sum = 0.0, sum2 = 0.0, sum4 = 0.0;
    int beyond3 = 0;
    for (int i = 0; i < n / 4; i++) {
        float v[4];
        vae_normal4(2024, VAE_STREAM_NOISE, (uint64_t)(i / 1000), (uint32_t)(i % 1000), 0, v);
        for (int j = 0; j < 4; j++) {
            ck_assert(isfinite(v[j]));
            sum += v[j];
            sum2 += (double)v[j] * v[j];
            sum4 += (double)v[j] * v[j] * v[j] * v[j];
            if (fabs(v[j]) > 3.0) beyond3++;
        }
    }
    double mean = sum / n, var = sum2 / n - mean * mean, kurt = sum4 / n;
    ck_assert_msg(fabs(mean) < 5e-3, "mean %g", mean);
    ck_assert_msg(fabs(var - 1.0) < 5 * 1.4142e-3, "variance %g", var);
    ck_assert_msg(fabs(kurt - 3.0) < 0.05, "fourth moment %g", kurt);
    /* P(|x| > 3) = 0.0026998 */
    ck_assert_msg(fabs(beyond3 / (double)n - 0.0026998) < 0.0003, "P(|x|>3) = %g", beyond3 / (double)n);
}
END_TEST

START_TEST(test_uniform_range)
{
    double sum = 0.0;
    for (uint32_t i = 0; i < 100000; i++) {
        float u = vae_uniform(1, VAE_STREAM_SHUFFLE, 1, i, 0);
        ck_assert(u > 0.0f && u < 1.0f);
        sum += u;
    }
    ck_assert(fabs(sum / 100000 - 0.5) < 0.005);
}
END_TEST

Suite *vae_rng_suite(void)
{
    Suite *s = suite_create("rng");
    TCase *tc = tcase_create("philox");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_philox_known_answers);
    tcase_add_test(tc, test_normal_repeatable);
    tcase_add_test(tc, test_normal_moments);
    tcase_add_test(tc, test_uniform_range);
    suite_add_tcase(s, tc);
    return s;
}

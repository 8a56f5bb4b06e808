/* vmath_test.h - test hooks into the vector math of each SIMD file
 * (simd/vmath.h, compiled into avx2.c, avx512.c, neon.c through fused.h),
 * for tests/check_kernels.c only: the functions apply one vmath.h function
 * to arrays. Not part of the kernel table and not used by the engine. */
#ifndef VAE_VMATH_TEST_H
#define VAE_VMATH_TEST_H

#include <stddef.h>
#include <stdint.h>

typedef struct vae_vmath_hooks {
    const char *name; /* the kernel table's name: "avx2", "avx512", "neon" */
    int lanes;        /* floats per vector */
    /* y[i] = f(x[i]) for i < n, f = v_exp, v_exp_nonpositive (x <= 0),
     * v_log, v_log1p_unit (x in [0, 1]), v_tanh. */
    void (*exp)(size_t n, const float *x, float *y);
    void (*exp_nonpositive)(size_t n, const float *x, float *y);
    void (*log)(size_t n, const float *x, float *y);
    void (*log1p_unit)(size_t n, const float *x, float *y);
    void (*tanh)(size_t n, const float *x, float *y);
    /* sin_out[i] = sin(2 pi u[i]), cos_out[i] = cos(2 pi u[i]). */
    void (*sincos2pi)(size_t n, const float *u, float *sin_out, float *cos_out);
    /* out[4i..4i+3] = vae_philox4x32_10(counters[4i..4i+3], key), lanes of
     * v_philox4x32_10. */
    void (*philox)(size_t n, const uint32_t *counters, const uint32_t key[2], uint32_t *out);
} vae_vmath_hooks;

#if defined(__x86_64__) || defined(_M_X64)
extern const vae_vmath_hooks vae_vmath_avx2;
extern const vae_vmath_hooks vae_vmath_avx512;
#endif
#if defined(__aarch64__)
extern const vae_vmath_hooks vae_vmath_neon;
#endif

#endif /* VAE_VMATH_TEST_H */

/* vmath.h - vector exp, log, log1p on [0, 1], sin/cos of 2 pi u, tanh,
 * and the Philox4x32-10 generator with Box-Muller normals, written once in
 * the primitives of a vec_<isa>.h header (include that first). Every
 * function works lane by lane: a lane's result does not depend on the
 * other lanes, so neither the vector width nor how rows are grouped into
 * vectors changes any value.
 *
 * The polynomials are minimax fits (relative error, coefficients rounded
 * to float one at a time with the rest refitted) made for this file,
 * except log1p's (a Chebyshev fit, its coefficients rounded once); the
 * reductions follow the usual Cody-Waite scheme (ARM optimized-routines,
 * Cephes). Maximum errors, measured in tests/check_kernels.c against
 * double-precision libm over the ranges the kernels use, are stated above
 * each function; "ulp" is a unit in the last place of the exact result. */
#ifndef VAE_VMATH_H
#define VAE_VMATH_H

#include <math.h>
#include <stdint.h>

/* 1.5 * 2^23: adding it rounds a float of magnitude < 2^22 to an integer,
 * which then sits in the low mantissa bits. */
#define VM_SHIFT 0x1.8p23f

/* exp(x), max error 1.02 ulp for x in [VM_EXP_LO, VM_EXP_HI] (results
 * from FLT_MIN to 2^127.5; 1.013 measured over 1.7e7 points, the test
 * allows 1.1). Beyond: +inf above VM_EXP_HI (a little early: the
 * largest finite result, at 88.72, is not produced), +0 below VM_EXP_LO
 * (where exp is under FLT_MIN: flushed to zero, as FTZ would), NaN for NaN.
 *     x = n ln2 + r, n = round(x / ln2), |r| <= ln2/2  (two-constant ln2)
 *     exp(x) = 2^n (1 + r + r^2 q(r)),  q a degree-4 minimax polynomial
 *     (Estrin's scheme: shorter chains of dependent FMAs than Horner's),
 *     2^n made in the exponent bits. */
#define VM_EXP_LO -0x1.5d589ep+6f /* -87.33654: exp(VM_EXP_LO) >= FLT_MIN */
#define VM_EXP_HI 0x1.61814cp+6f  /*  88.37627: the largest x with n = 127 */
static inline vf v_exp_in_range(vf x) /* x in [VM_EXP_LO, VM_EXP_HI] or NaN */
{
    vf z = vf_fma(x, vf_set1(0x1.715476p+0f), vf_set1(VM_SHIFT)); /* 1/ln2 */
    vf n = vf_sub(z, vf_set1(VM_SHIFT));
    vf r = vf_fnma(n, vf_set1(0x1.62e43p-1f), x); /* ln2, high part */
    r = vf_fnma(n, vf_set1(-0x1.05c61p-29f), r);  /* ln2, low part */
    vf scale = vi_as_vf(vi_add(vi_shl(vf_as_vi(z), 23), vi_set1(0x3f800000u)));
    vf r2 = vf_mul(r, r);
    vf q01 = vf_fma(vf_set1(0x1.555494p-3f), r, vf_set1(0x1.fffffcp-2f));
    vf q24 = vf_fma(vf_set1(0x1.123856p-7f), r, vf_set1(0x1.5558bep-5f));
    q24 = vf_fma(vf_set1(0x1.6a3d04p-10f), r2, q24);
    vf poly = vf_fma(r2, vf_fma(q24, r2, q01), r); /* exp(r) - 1 */
    return vf_fma(poly, scale, scale);
}

static inline vf v_exp(vf x)
{
    /* Operands ordered so that a NaN x comes through min and max. */
    vf y = v_exp_in_range(vf_min(vf_set1(VM_EXP_HI), vf_max(vf_set1(VM_EXP_LO), x)));
    y = vf_select(vf_gt(x, vf_set1(VM_EXP_HI)), vf_set1(INFINITY), y);
    return vf_select(vf_lt(x, vf_set1(VM_EXP_LO)), vf_set1(0.0f), y);
}

/* v_exp for x <= 0 (or NaN), the same values without the checks at the
 * top of the range: exp(-|l|) in the likelihoods. */
static inline vf v_exp_nonpositive(vf x)
{
    vf y = v_exp_in_range(vf_max(vf_set1(VM_EXP_LO), x));
    return vf_select(vf_lt(x, vf_set1(VM_EXP_LO)), vf_set1(0.0f), y);
}

/* log(x), max error 0.9 ulp for positive normal x (the kernels use it on
 * [2^-24, 1) and [1, 2]; 0.882 measured over every float of [1, 2], every
 * Box-Muller uniform and 8e6 points across all binades). Not for 0,
 * subnormals, negatives, inf or NaN, which give finite values (0 and
 * subnormals about -88, inf about 88.7).
 *     x = 2^n m, m in [2/3, 4/3) (exponent bits), r = m - 1 (exact),
 *     log(x) = n ln2 + r + r^2 P(r),  P a degree-8 minimax polynomial.
 * ln2_hi has 16 bits, so n ln2_hi is exact, and the rounding error of
 * n ln2_hi + r (whose sum may fall a binade below n ln2_hi) is recovered
 * exactly (Fast2Sum: |n ln2_hi| > |r| when n != 0) and added back. */
static inline vf v_log(vf x)
{
    vi ix = vi_sub(vf_as_vi(x), vi_set1(0x3f2aaaabu)); /* 2/3 */
    vf n = vi_to_vf(vi_sra(ix, 23));
    vf r = vf_sub(vi_as_vf(vi_add(vi_and(ix, vi_set1(0x007fffffu)), vi_set1(0x3f2aaaabu))), vf_set1(1.0f));
    vf p = vf_fma(vf_set1(-0x1.07c8a8p-3f), r, vf_set1(0x1.1e678cp-3f));
    p = vf_fma(p, r, vf_set1(-0x1.f332f4p-4f));
    p = vf_fma(p, r, vf_set1(0x1.1ed662p-3f));
    p = vf_fma(p, r, vf_set1(-0x1.559c44p-3f));
    p = vf_fma(p, r, vf_set1(0x1.99d044p-3f));
    p = vf_fma(p, r, vf_set1(-0x1.fffefcp-3f));
    p = vf_fma(p, r, vf_set1(0x1.555506p-2f));
    p = vf_fma(p, r, vf_set1(-0.5f));
    vf n_ln2 = vf_mul(n, vf_set1(0x1.62e4p-1f)); /* ln2, high 16 bits */
    vf hi = vf_add(n_ln2, r);
    vf hi_error = vf_sub(r, vf_sub(hi, n_ln2));
    vf lo = vf_fma(vf_mul(r, r), p, vf_fma(n, vf_set1(0x1.7f7d1cp-20f), hi_error)); /* ln2, the rest */
    return vf_add(hi, lo);
}

/* log(1 + e) for e in [0, 1] (softplus's log1p(exp(-|l|))), max error
 * 1.43 ulp (measured over every float of [1/2, 1] and 2^17 points in
 * each binade down to 2^-40). No reduction, as e is already in range:
 *     log(1 + e) = e + e^2 H(e),  H a degree-8 polynomial, the Chebyshev
 *     fit of (log(1 + e) - e) / e^2 on [0, 1] (singular only at e = -1),
 *     its coefficients rounded to float.
 * Half the operations of v_log(1 + e) with the correction for the rounding
 * of 1 + e: the Bernoulli likelihood runs 1.31x (AVX2) and 1.33x (AVX-512)
 * as fast with it. */
static inline vf v_log1p_unit(vf e)
{
    vf h = vf_fma(vf_set1(-0x1.24b298p-8f), e, vf_set1(0x1.9d455ap-6f));
    h = vf_fma(h, e, vf_set1(-0x1.11708cp-4f));
    h = vf_fma(h, e, vf_set1(0x1.d992bcp-4f));
    h = vf_fma(h, e, vf_set1(-0x1.448ee2p-3f));
    h = vf_fma(h, e, vf_set1(0x1.969cb2p-3f));
    h = vf_fma(h, e, vf_set1(-0x1.ffb95cp-3f));
    h = vf_fma(h, e, vf_set1(0x1.55540cp-2f));
    h = vf_fma(h, e, vf_set1(-0x1.fffffep-2f));
    return vf_fma(vf_mul(e, e), h, e);
}

/* sin(2 pi u) and cos(2 pi u), max error 0.86 ulp for |u| < 2^20 (the
 * kernels use u in (0, 1); measured over every Box-Muller uniform and 4e6
 * points from 2^-30 to 16); the reduction is exact:
 *     q = round(4u), t = 4u - q in [-1/2, 1/2],  a = (pi/2) t,
 *     sin a = t (pi/2)_hi + t ((pi/2)_lo + t^2 S(t^2)),  cos a = 1 + t^2 C(t^2),
 * S of degree 2 and C of degree 3 (minimax in t), then the quadrant q mod 4:
 *     q = 0: (sin a, cos a)   1: (cos a, -sin a)   2: (-sin a, -cos a)   3: (-cos a, sin a) */
static inline void v_sincos2pi(vf u, vf *sin_out, vf *cos_out)
{
    vf z = vf_fma(u, vf_set1(4.0f), vf_set1(VM_SHIFT));
    vf t = vf_fms(u, vf_set1(4.0f), vf_sub(z, vf_set1(VM_SHIFT)));
    vf t2 = vf_mul(t, t);
    vf s = vf_fma(vf_set1(-0x1.2db5d6p-8f), t2, vf_set1(0x1.465facp-4f));
    s = vf_fma(s, t2, vf_set1(-0x1.4abbbep-1f));
    s = vf_fma(s, t2, vf_set1(-0x1.777a5cp-25f)); /* (pi/2)_lo */
    s = vf_fma(t, vf_set1(0x1.921fb6p+0f), vf_mul(t, s)); /* (pi/2)_hi */
    vf c = vf_fma(vf_set1(0x1.d4f7eep-11f), t2, vf_set1(-0x1.55b2b6p-6f));
    c = vf_fma(c, t2, vf_set1(0x1.03c1b0p-2f));
    c = vf_fma(c, t2, vf_set1(-0x1.3bd3ccp+0f));
    c = vf_fma(c, t2, vf_set1(1.0f));
    vi q = vf_as_vi(z); /* low bits: q (two's complement) */
    vmask odd = vi_test(q, vi_set1(1));
    vf sn = vf_select(odd, c, s), cs = vf_select(odd, s, c);
    vi sign = vi_set1(0x80000000u);
    *sin_out = vi_as_vf(vi_xor(vf_as_vi(sn), vi_and(vi_shl(q, 30), sign)));
    *cos_out = vi_as_vf(vi_xor(vf_as_vi(cs), vi_and(vi_shl(vi_add(q, vi_set1(1)), 30), sign)));
}

/* tanh(x), max error 1.5 ulp (measured over 3.3e6 points, 2^-20 <= |x| < 32):
 *     |x| < 0.55:  |x| + |x|^3 T(x^2), T a degree-4 minimax polynomial;
 *     otherwise:   (1 - e) / (1 + e), e = exp(-2|x|);
 * the sign of x put back. Saturates to +-1; NaN for NaN. */
static inline vf v_tanh(vf x)
{
    vi sign = vi_set1(0x80000000u);
    vf a = vi_as_vf(vi_and(vf_as_vi(x), vi_set1(0x7fffffffu)));
    vf a2 = vf_mul(a, a);
    vf p = vf_fma(vf_set1(-0x1.9921a0p-8f), a2, vf_set1(0x1.58e518p-6f));
    p = vf_fma(p, a2, vf_set1(-0x1.b91e7ep-5f));
    p = vf_fma(p, a2, vf_set1(0x1.110ceep-3f));
    p = vf_fma(p, a2, vf_set1(-0x1.55554ap-2f));
    vf small = vf_fma(vf_mul(a, a2), p, a);
    vf e = v_exp(vf_mul(a, vf_set1(-2.0f)));
    vf large = vf_div(vf_sub(vf_set1(1.0f), e), vf_add(vf_set1(1.0f), e));
    vf t = vf_select(vf_lt(a, vf_set1(0.55f)), small, large);
    return vi_as_vf(vi_or(vf_as_vi(t), vi_and(vf_as_vi(x), sign)));
}

/* ------------------------------------------------------------- Philox */

/* The constants of Philox4x32 (core/rng.c; Salmon et al., SC'11). */
#define VM_PHILOX_M0 0xD2511F53u
#define VM_PHILOX_M1 0xCD9E8D57u
#define VM_PHILOX_W0 0x9E3779B9u
#define VM_PHILOX_W1 0xBB67AE85u

/* Philox4x32-10 on VEC_LANES counters at once: lane i of c[0..3] is the
 * counter of one call of vae_philox4x32_10 with key (k0, k1), and is
 * replaced by its four output words, bit for bit the same. Each round:
 *     (c0, c1, c2, c3) <- (hi(M1 c2) ^ c1 ^ k0, lo(M1 c2), hi(M0 c0) ^ c3 ^ k1, lo(M0 c0)),
 *     k0 += W0, k1 += W1. */
static inline void v_philox4x32_10(vi c[4], uint32_t k0, uint32_t k1)
{
    vi m0 = vi_set1(VM_PHILOX_M0), m1 = vi_set1(VM_PHILOX_M1);
    vi c0 = c[0], c1 = c[1], c2 = c[2], c3 = c[3];
    for (int round = 0; round < 10; round++) {
        vi hi0, lo0, hi1, lo1;
        vi_mulhilo(c0, m0, &hi0, &lo0);
        vi_mulhilo(c2, m1, &hi1, &lo1);
        c0 = vi_xor(vi_xor(hi1, c1), vi_set1(k0));
        c1 = lo1;
        c2 = vi_xor(vi_xor(hi0, c3), vi_set1(k1));
        c3 = lo0;
        k0 += VM_PHILOX_W0;
        k1 += VM_PHILOX_W1;
    }
    c[0] = c0; c[1] = c1; c[2] = c2; c[3] = c3;
}

/* A word to a uniform in (0, 1) exactly as core/rng.c does it:
 * ((w >> 9) + 1/2) * 2^-23, exact in float. */
static inline vf v_word_to_uniform(vi w)
{
    return vf_fma(vi_to_vf(vi_shr(w, 9)), vf_set1(0x1p-23f), vf_set1(0x1p-24f));
}

/* Box-Muller on two words per lane, as vae_normal4 does it:
 *     r = sqrt(-2 log u1),  (n0, n1) = (r cos 2 pi u2, r sin 2 pi u2).
 * Differs from vae_normal4 by at most 3e-6 (|n| <= 5.8; 1.65e-6 measured
 * over 2.8e5 normals): the scalar path rounds theta = 2 pi u2 to float
 * before its sin and cos, this one does not. */
static inline void v_box_muller(vi w1, vi w2, vf *n0, vf *n1)
{
    vf r = vf_sqrt(vf_mul(vf_set1(-2.0f), v_log(v_word_to_uniform(w1))));
    vf s, c;
    v_sincos2pi(v_word_to_uniform(w2), &s, &c);
    *n0 = vf_mul(r, c);
    *n1 = vf_mul(r, s);
}

#endif /* VAE_VMATH_H */

/* quantile.c - the standard normal's inverse CDF, Phi^-1(p), in double.
 *
 * `vae manifold` decodes a grid of latent points placed at the prior's
 * quantiles (Kingma & Welling 2014, figure 4), so it needs z = Phi^-1(u).
 * Acklam's rational approximation (relative error below 1.15e-9) gives a
 * start, and one Halley step on Phi(x) - p, with Phi from libm's erf/erfc,
 * brings it to a few units in the last place. */
#include <math.h>

#include "internal.h"

/* Acklam's coefficients: a central rational function in q = p - 1/2 for
 * p_low <= p <= 1 - p_low, and a tail one in sqrt(-2 log p) below p_low. */
static const double acklam_a[6] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                                   1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
static const double acklam_b[5] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                                   6.680131188771972e+01,  -1.328068155288572e+01};
static const double acklam_c[6] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                                   -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
static const double acklam_d[4] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                                   3.754408661907416e+00};
static const double acklam_p_low = 0.02425;

#define SQRT_2PI 2.50662827463100050242
#define SQRT1_2 0.70710678118654752440

/* One Halley step for f(x) = Phi(x) - p, given e = f(x) computed without
 * cancellation by the caller:
 *     u = e / phi(x) = e * sqrt(2 pi) * exp(x^2 / 2)
 *     x <- x - u / (1 + x u / 2)
 * (f' = phi, f'' = -x phi). Skipped where exp(x^2/2) would overflow, which
 * only happens for p below about 1e-306: there Acklam's 1.15e-9 stands. */
static double halley_step(double x, double e)
{
    if (x * x > 1400.0) return x;
    double u = e * SQRT_2PI * exp(0.5 * x * x);
    return x - u / (1.0 + 0.5 * x * u);
}

/* Phi^-1(p) for 0 < p < p_low: Acklam's tail formula, then a Halley step
 * with Phi(x) = erfc(-x / sqrt 2) / 2, accurate in relative terms for x < 0
 * (no cancellation: erfc of a positive argument). */
static double lower_tail(double p)
{
    double t = sqrt(-2.0 * log(p));
    double x = (((((acklam_c[0] * t + acklam_c[1]) * t + acklam_c[2]) * t + acklam_c[3]) * t + acklam_c[4]) * t +
                acklam_c[5]) /
               ((((acklam_d[0] * t + acklam_d[1]) * t + acklam_d[2]) * t + acklam_d[3]) * t + 1.0);
    return halley_step(x, 0.5 * erfc(-x * SQRT1_2) - p);
}

/* Phi^-1(p) for p_low <= p <= 1 - p_low: Acklam's central formula in
 * q = p - 1/2 (exact, by Sterbenz's lemma), then a Halley step with
 * Phi(x) - p = erf(x / sqrt 2) / 2 - q, which has no cancellation near
 * p = 1/2 (erfc there would lose everything below 2^-54). Both pieces are
 * odd in q, so Phi^-1(1 - p) = -Phi^-1(p) exactly when 1 - p is exact. */
static double central(double p)
{
    double q = p - 0.5, r = q * q;
    double x = (((((acklam_a[0] * r + acklam_a[1]) * r + acklam_a[2]) * r + acklam_a[3]) * r + acklam_a[4]) * r +
                acklam_a[5]) *
               q /
               (((((acklam_b[0] * r + acklam_b[1]) * r + acklam_b[2]) * r + acklam_b[3]) * r + acklam_b[4]) * r + 1.0);
    return halley_step(x, 0.5 * erf(x * SQRT1_2) - q);
}

double vae_normal_quantile(double p)
{
    if (isnan(p) || p < 0.0 || p > 1.0) return NAN;
    if (p == 0.0) return -INFINITY;
    if (p == 1.0) return INFINITY;
    if (p < acklam_p_low) return lower_tail(p);
    if (p <= 1.0 - acklam_p_low) return central(p);
    /* Upper tail by symmetry: 1 - p is exact for p > 1/2 (Sterbenz). */
    return -lower_tail(1.0 - p);
}

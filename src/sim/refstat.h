/* The arithmetic of the literature's reference policies (CloudSim 3.0.3's power package),
 * kept apart from the policies so it can be checked on small hand-computed inputs:
 * percentiles, least squares lines, the robust local regression's weights (LRR), the
 * maximum-correlation selection's coefficients of determination (MC) and the random
 * selection's generator (RS). Pure: no I/O, no globals. */
#ifndef VMLOC_SIM_REFSTAT_H
#define VMLOC_SIM_REFSTAT_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

/* Most VMs and history values a maximum-correlation selection regresses (the reference's
 * VM history length: a regression needs at least as many values as VMs, so never more). */
#define REFSTAT_MC_MAX 30

/* The median the reference computes (percentile estimate at p (n + 1) / 100, linear
 * interpolation). Sorts `v` (n >= 1) in place. */
double refstat_median(double *v, size_t n);

/* Least squares line through (x[i], y[i]), n >= 2: *a intercept, *b slope (b = 0 when every
 * x is the same). */
void refstat_fit_line(const double *x, const double *y, size_t n, double *a, double *b);

/* The reference's "tricube" weights for n >= 3 points at x = 1..n (w[i] = 1 / (1 - ((n-1-i)
 * / (n-1))^3)^3 for i >= 2, the largest double where that is not finite, and w[0] = w[1] =
 * w[2]). */
void refstat_tricube_weights(size_t n, double *w);

/* The reference's bisquare weights on the residuals `res` (n >= 3): the tricube weight times
 * 1 / (1 - (res[i] / (6 median |res|))^2)^2 for i >= 2 (the largest double where that is not
 * positive), w[0] = w[1] = w[2]. */
void refstat_bisquare_weights(const double *res, size_t n, double *w);

/* The reference's weighted line: when at least 40 % of the weights are <= 0, the least
 * squares line through (sqrt(w) x, sqrt(w) y); otherwise the plain least squares line (the
 * weights are then ignored). n <= 64. */
void refstat_weighted_line(const double *x, const double *y, const double *w, size_t n, double *a,
                           double *b);

/* The robust local regression of LRR on y at x = 1..n (3 <= n <= 64): a weighted line with
 * tricube weights, its residuals, then a weighted line with bisquare weights (the first
 * line if that one is not a number). */
void refstat_lrr_line(const double *y, size_t n, double *a, double *b);

/* Maximum correlation: for each of the `n` rows of `data` (row i at data + i * m: a VM's
 * utilisation history, newest first), the coefficient of determination (R^2) of an ordinary
 * least squares fit, with intercept, of that row on the other n - 1 rows (Householder QR, as
 * the reference's OLS). 0: r2[0..n) set. -EINVAL where the reference falls back to another
 * selection: fewer than two rows, no column, fewer columns than rows, more than
 * REFSTAT_MC_MAX of either, or a singular fit (a zero on R's diagonal). */
MUST_CHECK int refstat_mc_r2(const double *data, size_t n, size_t m, double *r2);

/* The index the reference picks from r2[0..n): the first largest value above the smallest
 * positive double; 0 when none is (values that are not numbers never win). */
size_t refstat_mc_pick(const double *r2, size_t n);

/* A generator with java.util.Random's sequence for a given seed. */
struct refstat_rng {
    uint64_t state;
};
void refstat_rng_seed(struct refstat_rng *r, uint64_t seed);
/* A number in 0..bound-1 (bound >= 1), as java.util.Random.nextInt(bound). */
uint32_t refstat_rng_below(struct refstat_rng *r, uint32_t bound);

#endif

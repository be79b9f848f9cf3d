/* See refstat.h. The regressions follow the reference's numerical recipes closely (the order
 * of the sums included), so that its choices, which compare these numbers, come out the same
 * on the same data. */
#include "sim/refstat.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

double
refstat_median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_double);
    double pos = 0.5 * (double)(n + 1);
    if (pos < 1)
        return v[0];
    if (pos >= (double)n)
        return v[n - 1];
    double fpos = floor(pos);
    double lower = v[(size_t)fpos - 1];
    double upper = v[(size_t)fpos];
    return lower + (pos - fpos) * (upper - lower);
}

void
refstat_fit_line(const double *x, const double *y, size_t n, double *a, double *b)
{
    double sx = 0, sy = 0;
    for (size_t i = 0; i < n; i++) {
        sx += x[i];
        sy += y[i];
    }
    double mx = sx / (double)n;
    double my = sy / (double)n;
    double sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mx;
        sxx += dx * dx;
        sxy += dx * (y[i] - my);
    }
    *b = sxx > 0 ? sxy / sxx : 0;
    *a = my - *b * mx;
}

void
refstat_tricube_weights(size_t n, double *w)
{
    double top = (double)(n - 1);
    for (size_t i = 2; i < n; i++) {
        double r = (top - (double)i) / top;
        double c = 1 - r * r * r;
        double k = c * c * c;
        w[i] = k > 0 ? 1 / k : DBL_MAX;
    }
    w[0] = w[1] = w[2];
}

void
refstat_bisquare_weights(const double *res, size_t n, double *w)
{
    double tri[64];
    double absr[64];
    refstat_tricube_weights(n, tri);
    for (size_t i = 0; i < n; i++)
        absr[i] = fabs(res[i]);
    double s6 = refstat_median(absr, n) * 6;
    for (size_t i = 2; i < n; i++) {
        double r = res[i] / s6;
        double c = 1 - r * r;
        double k = c * c;
        w[i] = k > 0 ? (1 / k) * tri[i] : DBL_MAX;
    }
    w[0] = w[1] = w[2];
}

void
refstat_weighted_line(const double *x, const double *y, const double *w, size_t n, double *a,
                      double *b)
{
    size_t zeros = 0;
    for (size_t i = 0; i < n; i++)
        if (w[i] <= 0)
            zeros++;
    if ((double)zeros < 0.4 * (double)n) {
        refstat_fit_line(x, y, n, a, b);
        return;
    }
    double xw[64], yw[64];
    for (size_t i = 0; i < n; i++) {
        xw[i] = sqrt(w[i]) * x[i];
        yw[i] = sqrt(w[i]) * y[i];
    }
    refstat_fit_line(xw, yw, n, a, b);
}

void
refstat_lrr_line(const double *y, size_t n, double *a, double *b)
{
    double x[64], w[64], res[64];
    for (size_t i = 0; i < n; i++)
        x[i] = (double)(i + 1);
    refstat_tricube_weights(n, w);
    double a1, b1;
    refstat_weighted_line(x, y, w, n, &a1, &b1);
    for (size_t i = 0; i < n; i++)
        res[i] = y[i] - (a1 + b1 * x[i]);
    refstat_bisquare_weights(res, n, w);
    refstat_weighted_line(x, y, w, n, a, b);
    if (isnan(*a) || isnan(*b)) {
        *a = a1;
        *b = b1;
    }
}

/* ---- maximum correlation ---- */

/* Householder QR of the design whose columns are the rows of `qrt` (`cols` of them, `m`
 * values each; overwritten by the reflections), as the reference's decomposition: rdiag gets
 * R's diagonal. */
static void
qr_decompose(double qrt[][REFSTAT_MC_MAX], size_t cols, size_t m, double *rdiag)
{
    size_t k = cols < m ? cols : m;
    for (size_t minor = 0; minor < k; minor++) {
        double *v = qrt[minor];
        double norm2 = 0;
        for (size_t r = minor; r < m; r++)
            norm2 += v[r] * v[r];
        double a = v[minor] > 0 ? -sqrt(norm2) : sqrt(norm2);
        rdiag[minor] = a;
        if (a == 0)
            continue;
        v[minor] -= a;
        for (size_t c = minor + 1; c < cols; c++) {
            double *col = qrt[c];
            double alpha = 0;
            for (size_t r = minor; r < m; r++)
                alpha -= col[r] * v[r];
            alpha /= a * v[minor];
            for (size_t r = minor; r < m; r++)
                col[r] -= alpha * v[r];
        }
    }
}

/* R^2 of the fit of y (m values) on the design x (cols columns of m values, the first all
 * ones). -EINVAL when R is singular. */
static int
ols_r2(const double x[][REFSTAT_MC_MAX], size_t cols, size_t m, const double *y, double *ret)
{
    double qrt[REFSTAT_MC_MAX][REFSTAT_MC_MAX];
    double rdiag[REFSTAT_MC_MAX];
    double z[REFSTAT_MC_MAX];
    double beta[REFSTAT_MC_MAX];
    for (size_t c = 0; c < cols; c++)
        memcpy(qrt[c], x[c], m * sizeof(double));
    qr_decompose(qrt, cols, m, rdiag);
    for (size_t c = 0; c < cols; c++)
        if (rdiag[c] == 0)
            return -EINVAL;
    /* Q^T y, then back substitution through R. */
    memcpy(z, y, m * sizeof(double));
    for (size_t minor = 0; minor < cols; minor++) {
        const double *v = qrt[minor];
        double dot = 0;
        for (size_t r = minor; r < m; r++)
            dot += z[r] * v[r];
        dot /= rdiag[minor] * v[minor];
        for (size_t r = minor; r < m; r++)
            z[r] += dot * v[r];
    }
    for (size_t row = cols; row-- > 0;) {
        z[row] /= rdiag[row];
        beta[row] = z[row];
        for (size_t i = 0; i < row; i++)
            z[i] -= z[row] * qrt[row][i];
    }
    double rss = 0;
    for (size_t r = 0; r < m; r++) {
        double fit = 0;
        for (size_t c = 0; c < cols; c++)
            fit += x[c][r] * beta[c];
        double e = y[r] - fit;
        rss += e * e;
    }
    /* The total sum of squares by the updating formula of the reference's second moment. */
    double mean = 0, m2 = 0;
    for (size_t r = 0; r < m; r++) {
        double nn = (double)(r + 1);
        double dev = y[r] - mean;
        double ndev = dev / nn;
        mean += ndev;
        m2 += (nn - 1) * dev * ndev;
    }
    *ret = 1 - rss / m2;
    return 0;
}

int
refstat_mc_r2(const double *data, size_t n, size_t m, double *r2)
{
    if (n < 2 || m == 0 || m < n || n > REFSTAT_MC_MAX || m > REFSTAT_MC_MAX)
        return -EINVAL;
    double x[REFSTAT_MC_MAX][REFSTAT_MC_MAX];
    for (size_t r = 0; r < m; r++)
        x[0][r] = 1;
    for (size_t i = 0; i < n; i++) {
        size_t c = 1;
        for (size_t j = 0; j < n; j++)
            if (j != i)
                memcpy(x[c++], data + j * m, m * sizeof(double));
        int rc = ols_r2((const double(*)[REFSTAT_MC_MAX])x, n, m, data + i * m, &r2[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

size_t
refstat_mc_pick(const double *r2, size_t n)
{
    double max = DBL_TRUE_MIN;
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        if (r2[i] > max) {
            max = r2[i];
            best = i;
        }
    }
    return best;
}

/* ---- java.util.Random ---- */

#define RNG_MULT 0x5DEECE66DULL
#define RNG_MASK ((1ULL << 48) - 1)

void
refstat_rng_seed(struct refstat_rng *r, uint64_t seed)
{
    r->state = (seed ^ RNG_MULT) & RNG_MASK;
}

static int32_t
rng_next31(struct refstat_rng *r)
{
    r->state = (r->state * RNG_MULT + 0xBULL) & RNG_MASK;
    return (int32_t)(r->state >> (48 - 31));
}

uint32_t
refstat_rng_below(struct refstat_rng *r, uint32_t bound)
{
    int64_t b = bound;
    int64_t bits = rng_next31(r);
    if ((bound & (bound - 1)) == 0)
        return (uint32_t)((b * bits) >> 31);
    /* Reject the top of the range that would bias the remainder (java's overflow test). */
    int64_t val = bits % b;
    while (bits - val + (b - 1) > INT32_MAX) {
        bits = rng_next31(r);
        val = bits % b;
    }
    return (uint32_t)val;
}

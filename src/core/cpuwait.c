/* The over-subscription model of CPU wait and the pressure average (see cpuwait.h). */
#include "core/cpuwait.h"

#include <math.h>

double
cpuwait_unmet_pct(double want_pct, double avail_pct)
{
    if (!(want_pct > 0.0))
        return 0.0;
    double avail = avail_pct > 0.0 ? avail_pct : 0.0;
    if (!(want_pct > avail))
        return 0.0;
    return 100.0 * (1.0 - avail / want_pct);
}

/* `pct` held to 0..100; NaN counts as 0. */
static double
pct_clamp(double pct)
{
    if (!(pct > 0.0))
        return 0.0;
    return pct < 100.0 ? pct : 100.0;
}

double
cpuwait_pressure_avg(double avg_pct, double stall_pct, double dt_s)
{
    double avg = pct_clamp(avg_pct);
    if (!(dt_s > 0.0))
        return avg;
    double stall = pct_clamp(stall_pct);
    /* exp(-inf) is 0: an endless interval leaves the stall share alone. */
    double keep = exp(-dt_s / CPUWAIT_PSI_WINDOW_S);
    return pct_clamp(stall + (avg - stall) * keep);
}

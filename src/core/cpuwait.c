/* The over-subscription model of CPU wait and pressure (see cpuwait.h). */
#include "core/cpuwait.h"

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

double
cpuwait_pressure_pct(double over_s, double interval_s)
{
    if (!(interval_s > 0.0))
        return 0.0;
    double over = over_s > 0.0 ? over_s : 0.0;
    if (over > interval_s)
        over = interval_s;
    return 100.0 * over / interval_s;
}

/* The over-subscription model of CPU wait (see cpuwait.h). */
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

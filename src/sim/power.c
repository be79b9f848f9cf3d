/* Power models. The interpolation keeps the reference's arithmetic (lower decile, plus a
 * tenth of the decile step per percent above it) so energy figures agree to the last digits
 * with published runs. */
#include "sim/power.h"

#include <math.h>

const struct power_host_type power_hp_g4 = {
    .name = "HP ProLiant ML110 G4",
    .pe_mips = 1860,
    .pes = 2,
    .ram_mib = 4096,
    .bw_mbit = 1000,
    .watts = {86, 89.4, 92.6, 96, 99.5, 102, 106, 108, 112, 114, 117},
};

const struct power_host_type power_hp_g5 = {
    .name = "HP ProLiant ML110 G5",
    .pe_mips = 2660,
    .pes = 2,
    .ram_mib = 4096,
    .bw_mbit = 1000,
    .watts = {93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135},
};

/* SPECpower_ssj2008 result 2011-04-06-00368, as the reference implementation also ships it. */
const struct power_host_type power_ibm_x3550 = {
    .name = "IBM System x3550 M3",
    .pe_mips = 3067,
    .pes = 12,
    .ram_mib = 65536,
    .bw_mbit = 1000,
    .disk_kbs = 102400,
    .watts = {58.4, 98, 109, 118, 128, 140, 153, 170, 189, 205, 222},
};

double
power_watts(const struct power_host_type *t, double u)
{
    if (!(u > 0))
        return t->watts[0];
    if (u >= 1)
        return t->watts[10];
    /* fmod() is slow; it can only be 0 when u * 10 is within rounding of a whole number. */
    double x = u * 10;
    if (fabs(x - nearbyint(x)) < 1e-6 && fmod(u, 0.1) == 0)
        return t->watts[(int)(u * 10)];
    int lo = (int)floor(u * 10);
    int hi = (int)ceil(u * 10);
    double p1 = t->watts[lo];
    double p2 = t->watts[hi];
    double delta = (p2 - p1) / 10;
    return p1 + delta * (u - (double)lo / 10) * 100;
}

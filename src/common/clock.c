/* Monotonic and wall clocks. */
#define _POSIX_C_SOURCE 200809L
#include "common/clock.h"

#include <math.h>
#include <time.h>

uint64_t
clock_now_us(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

double
clock_mono_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
clock_wall_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
clock_align_delay(double now, double interval, double offset)
{
    double next = floor((now - offset) / interval) * interval + offset + interval;
    if (next <= now) /* rounding at the boundary */
        next += interval;
    while (next - now <= interval / 2.0)
        next += interval;
    return next - now;
}

double
clock_mono_of_wall(double wall_then, double wall_now, double mono_now)
{
    double since = wall_now - wall_then;
    return mono_now - (since > 0 ? since : 0);
}

/* Clocks for the binaries: monotonic microseconds for intervals and leases (immune to clock
 * jumps), wall-clock seconds for timestamps shown to people. The core never reads a clock;
 * callers pass these values in. */
#ifndef VMLOC_COMMON_CLOCK_H
#define VMLOC_COMMON_CLOCK_H

#include <stdint.h>

/* Monotonic time in microseconds. */
uint64_t clock_now_us(void);

/* Monotonic time in seconds, for durations: waits, back-offs, give-up times. */
double clock_mono_s(void);

/* Wall-clock time in seconds since the epoch, with fractions. */
double clock_wall_s(void);

/* Seconds from `now` (wall clock) to the next instant k * interval + offset (k an integer)
 * that is more than half an interval away: in (interval / 2, 1.5 * interval]. Periodic work
 * timed this way runs at the same instants on every host whose clock is synchronised (agents
 * sample on the second, the manager collects just after), and a timer that fires a little
 * early or late never runs it twice in quick succession. `interval` > 0. */
double clock_align_delay(double now, double interval, double offset);

/* The monotonic instant of something dated `wall_then` on the wall clock (a record written by
 * an earlier run, whose monotonic clock is gone), given both clocks' readings now: the time
 * since is counted on the wall clock, and a date in the future counts as now. */
double clock_mono_of_wall(double wall_then, double wall_now, double mono_now);

#endif

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

#endif

/* The CPU wait of VMs on an over-subscribed host, as a model: when the VMs of a host ask for
 * more CPU than it has, each gets the same fraction of its demand and waits for the rest. The
 * simulated agent backend (agent/simhost.c) and the simulator (sim/vmpol.c) both model the
 * VMs' wait with this function, so the two agree. cpuwait_pressure_avg() is the kernel's
 * pressure average (PSI avg10), with which the simulated backend may report the host's cpu
 * pressure. Pure arithmetic: no state, no I/O, no clock (the caller passes the interval). */
#ifndef VMLOC_CORE_CPUWAIT_H
#define VMLOC_CORE_CPUWAIT_H

/* The share of its demand, in percent of wall time, that each VM with a nonzero demand waits
 * on a host whose VMs want `want_pct` in all while `avail_pct` is theirs to share (both in
 * percent of the host): (1 - avail / want) x 100 when want > avail, else 0. A negative
 * `avail_pct` counts as 0 (every VM waits 100 %); a `want_pct` that is not above 0, or not a
 * number, gives 0. The result is in 0..100. */
double cpuwait_unmet_pct(double want_pct, double avail_pct);

/* The time constant of the kernel's `avg10` pressure average, seconds. */
#define CPUWAIT_PSI_WINDOW_S 10.0

/* The kernel's PSI `avg10` after an interval of `dt_s` seconds in which tasks stalled
 * `stall_pct` percent of the time, from `avg_pct` before it: an exponentially weighted
 * average with a 10 s time constant, stall + (avg - stall) x e^(-dt/10). An `avg_pct` or
 * `stall_pct` that is not a number counts as 0, and both are held to 0..100; an interval that
 * is not above 0 (or not a number) changes nothing. The result is in 0..100, never NaN. */
double cpuwait_pressure_avg(double avg_pct, double stall_pct, double dt_s);

#endif

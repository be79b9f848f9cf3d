/* The CPU wait of VMs on an over-subscribed host, as a model: when the VMs of a host ask for
 * more CPU than it has, each gets the same fraction of its demand and waits for the rest. The
 * simulated agent backend (agent/simhost.c) and the simulator (sim/vmpol.c) both model the
 * VMs' wait with this function, so the two agree. Pure arithmetic: no state, no I/O. */
#ifndef VMLOC_CORE_CPUWAIT_H
#define VMLOC_CORE_CPUWAIT_H

/* The share of its demand, in percent of wall time, that each VM with a nonzero demand waits
 * on a host whose VMs want `want_pct` in all while `avail_pct` is theirs to share (both in
 * percent of the host): (1 - avail / want) x 100 when want > avail, else 0. A negative
 * `avail_pct` counts as 0 (every VM waits 100 %); a `want_pct` that is not above 0, or not a
 * number, gives 0. The result is in 0..100. */
double cpuwait_unmet_pct(double want_pct, double avail_pct);

#endif

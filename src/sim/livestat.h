/* The simulator's metrics on a live run (`vmloc replay`): what real agents reported at each
 * step of a trace, turned into the figures `vmloc sim` gives for the same hosts and VMs, so
 * the two can stand side by side, plus the invariants a running system must keep. The caller
 * observes (over HTTP) and feeds one step at a time; this module only counts. No I/O, no
 * clock.
 *
 *   energy    per host and step: 0 when the host was idle at the step's start, else the mean
 *             of its power at the step's two ends times the step (the simulator's rule);
 *   SLATAH    steps a host was active and could not give its VMs all they asked for, over the
 *             steps it was active;
 *   PDM       the demand migrations took away (10 % of a migrating VM's demand while it
 *             moves, as both the simulator and the agents model it) over all the demand;
 *   overloaded host-steps
 *             hosts above their threshold (in cpu or a checked kind) at a step, summed over the
 *             steps, as the simulator counts them for its charts;
 *   invariants
 *             the most hosts one VM ran on at once, VMs on no host at the end, returns to a
 *             host within the cooldown, failed migrations. */
#ifndef VMLOC_SIM_LIVESTAT_H
#define VMLOC_SIM_LIVESTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "sim/dc.h"
#include "sim/power.h"

/* One host at one step, from its agent's sample. */
struct livestat_host {
    bool seen;         /* a sample of this step came (else the host counts as it was) */
    double cpu_pct;    /* the host's cpu usage, percent of its capacity (what it draws for) */
    double demand_pct; /* what its VMs asked for, percent (VMs arriving included) */
    double served_pct; /* what its VMs got, percent */
    bool overloaded;   /* above its threshold in cpu or a checked kind */
    /* A VM on it asks for some cpu, however little: active even when the sample's cpu, given
     * to a thousandth of a percent, reads 0. */
    bool busy;
};

/* A migration as the running system recorded it. */
struct livestat_move {
    uint32_t vm;   /* index of the VM */
    uint32_t from; /* index of the hosts */
    uint32_t to;
    double started; /* wall seconds */
    double finished;
    bool done;          /* false: failed (or never ended) */
    double demand_mips; /* what the VM asked for when it started */
};

struct livestat {
    size_t n_hosts;
    size_t n_vms;
    const struct power_host_type *const *types; /* per host, borrowed */
    double step_s;                              /* trace seconds per step */
    double *prev_util;                          /* per host, at the last step */
    bool *was_active;
    size_t steps;
    double energy_j;
    double active_s;
    double violation_s;
    double requested_mips_s;
    double unserved_mips_s;
    uint64_t overloaded_host_steps;
    uint64_t shutdowns;
    uint32_t *running; /* per VM: hosts running it in the current step's placement */
    uint32_t *listed;  /* per VM: hosts listing it in any state */
    uint32_t max_hosts_per_vm;
    uint64_t missed_observations; /* host-steps without a fresh sample */
    bool started;                 /* livestat_start() gave the state before the first step */
};

/* Prepare for `n_hosts` hosts of power types `types` (one per host, borrowed) and `n_vms`
 * VMs, steps of `step_s` trace seconds. 0 or -ENOMEM. */
MUST_CHECK int livestat_init(struct livestat *s, size_t n_hosts,
                             const struct power_host_type *const *types, size_t n_vms,
                             double step_s);

void livestat_done(struct livestat *s);

/* The state before the first step (the placement at time 0 and its first demand): each
 * host's cpu utilisation (0..1) and whether it is active, so that a host emptied before the
 * first observation counts as shut down, as in the simulator. Optional; before any step. */
void livestat_start(struct livestat *s, const double *util, const bool *active);

/* Add one step: `hosts` (n_hosts of them). A host not seen repeats its last utilisation. */
void livestat_step(struct livestat *s, const struct livestat_host *hosts);

/* The placement at one instant: start, then one call per (VM, host) pair a host lists, with
 * whether it runs it there (not arriving, not only leaving), then end. The most hosts one VM
 * ran on at once is kept. */
void livestat_place_begin(struct livestat *s);
void livestat_place_vm(struct livestat *s, uint32_t vm, bool running);
void livestat_place_end(struct livestat *s);

/* VMs that no host listed in the last placement (after the run: lost). */
size_t livestat_lost(const struct livestat *s);

/* The totals, the simulator's way, over the steps added and the migrations `moves` (`n`):
 * energy, migrations (those that started), SLATAH, PDM, SLAV, ESV, overall SLA violation,
 * host shutdowns, the trace time covered. `wall_per_trace_s` converts the migrations' wall
 * durations into trace time. */
void livestat_totals(const struct livestat *s, const struct livestat_move *moves, size_t n,
                     double wall_per_trace_s, struct dc_stats *ret);

/* Returns within the cooldown among `moves` (`n`, any order): a VM that came back to a host
 * less than `cooldown_wall_s` after a migration took it off that host ended. 0 with *ret set;
 * -ENOMEM. */
MUST_CHECK int livestat_returns(const struct livestat_move *moves, size_t n, double cooldown_wall_s,
                                size_t *ret);

/* Migrations among `moves` that failed. */
size_t livestat_failed(const struct livestat_move *moves, size_t n);

#endif

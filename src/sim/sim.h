/* `vmloc sim`: runs one policy over a trace on a simulated data centre with a virtual
 * clock, and returns the metrics and a per-step series for charts. The same code serves
 * the reference policies and vmloc's own (which decides through the core's plan_compute()).
 * No I/O: the caller reads the trace and prints; progress is reported through a callback. */
#ifndef VMLOC_SIM_SIM_H
#define VMLOC_SIM_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/policy.h"
#include "sim/dc.h"
#include "sim/trace.h"

/* vmloc, none, then the reference's matrix: detector (THR, IQR, MAD, LR, LRR) x VM
 * selection (MMT, MC, MU, RS), SIM_THR_MMT + 5 x selection + detector. */
enum sim_policy {
    SIM_VMLOC = 0,
    SIM_NONE = 1,
    SIM_THR_MMT = 2,
    SIM_IQR_MMT = 3,
    SIM_MAD_MMT = 4,
    SIM_LR_MMT = 5,
    SIM_LRR_MMT = 6,
    SIM_THR_MC = 7,
    SIM_IQR_MC = 8,
    SIM_MAD_MC = 9,
    SIM_LR_MC = 10,
    SIM_LRR_MC = 11,
    SIM_THR_MU = 12,
    SIM_IQR_MU = 13,
    SIM_MAD_MU = 14,
    SIM_LR_MU = 15,
    SIM_LRR_MU = 16,
    SIM_THR_RS = 17,
    SIM_IQR_RS = 18,
    SIM_MAD_RS = 19,
    SIM_LR_RS = 20,
    SIM_LRR_RS = 21,
    SIM_POLICY_COUNT = 22,
};

/* The seed of RS's generator when none is given. */
#define SIM_DEFAULT_SEED 1

/* "vmloc", "none", "thr-mmt", ... */
const char *sim_policy_name(enum sim_policy p);
/* Whether `p` is a reference policy with a parameter (not vmloc, not none). */
bool sim_policy_is_reference(enum sim_policy p);
/* Whether `p` draws at random (the RS selection): its runs depend on the seed. */
bool sim_policy_is_random(enum sim_policy p);
/* 0: *ret set. -EINVAL: unknown name. */
MUST_CHECK int sim_policy_parse(const char *s, enum sim_policy *ret);
/* The detector parameter used when none is given (THR 0.8, IQR 1.5, MAD 2.5, LR and LRR
 * 1.2; 0 otherwise). */
double sim_policy_default_param(enum sim_policy p);

/* Hosts a run has when the configuration does not say: 800 for PlanetLab (the published
 * experiments), 200 for Bitbrains (docs/sim.md). */
size_t sim_default_hosts(enum trace_format f);

/* vmloc's additions on top of the core's detection and relocation (the `[sim]` section of
 * the config; docs/sim.md gives the reasons for each default). */
struct sim_vmloc {
    struct policy policy; /* [detect] and [relocate], as for `vmloc plan` */
    uint32_t persist_k;   /* act on a conflict seen in k of the last n steps */
    uint32_t persist_n;
    double consolidate_below_pct;  /* empty hosts used less than this (0: never) */
    double consolidate_target_pct; /* and only onto hosts that stay below this */
    double cooldown_s;             /* a VM that just moved stays put this long */
    bool memory; /* vmloc's moves also need the VM's memory to fit (the reference model
                    ignores memory after time 0) */
    bool consolidate_efficient; /* empty the least efficient hosts first (by their host type's
                                   power), not the least used */
    uint32_t peak_window;       /* consolidation places a VM with its peak demand over the
                                   last this many steps (0: its current demand) */
    uint32_t rounds;            /* relocation rounds per step, 1..8 (2: the running system decides
                                   again as soon as a move ends, well within a 300 s step) */
    bool persist_set;           /* [sim] persistence was given */
    bool cooldown_set;          /* [sim] cooldown was given */
    bool consolidate_set;       /* [sim] consolidate_below or consolidate_target was given */
};

/* Fill `v` with vmloc's recommended settings. Never fails. */
void sim_vmloc_defaults(struct sim_vmloc *v);

struct sim_config {
    enum sim_policy policy;
    double param;                  /* detector parameter (reference policies) */
    size_t n_hosts;                /* 0: the trace format's default */
    const struct sim_vmloc *vmloc; /* NULL: defaults */
    enum trace_format format;
    bool vmloc_all_hosts; /* give the core every host, not only the busy part (for tests:
                             the decisions must be the same) */
    bool keep_idle_vms;   /* a VM whose demand drops to 0 stays (the running system's VMs do),
                             instead of finishing as in the reference's PlanetLab runs */
    uint64_t seed;        /* RS's generator */
};

/* The energy bound's threshold for `cfg`: THR's parameter, vmloc's cpu host threshold, 0.8
 * for the adaptive detectors and none; at most 1. */
double sim_bound_threshold(const struct sim_config *cfg);

/* Watts per MIPS of the most efficient way to run work on hosts of `types` (`n` of them)
 * loaded at most to `threshold` (0 < threshold <= 1): the least P(u) / (u x capacity) over
 * the types and the utilisations u in (0, threshold] (docs/sim.md, "The energy bound"). */
double sim_bound_watts_per_mips(const struct power_host_type *const *types, size_t n,
                                double threshold);

/* One point of the time series, taken after each decision step. */
struct sim_point {
    double time_s;
    uint32_t active_hosts;
    uint32_t overloaded_hosts;
    uint32_t migrations; /* started in this step */
    double energy_kwh;   /* cumulative */
    double bound_kwh;    /* the energy bound at the run's threshold, cumulative */
};

struct sim_result {
    struct dc_stats stats;
    size_t n_hosts;
    size_t n_vms;
    struct sim_point *points;
    size_t n_points;
    double wall_s; /* filled in by the caller, who owns the clock */
    /* The energy bound (docs/sim.md): the day's demand served at the most efficient host
     * type's best power per MIPS up to `bound_threshold`, and up to 100 %. */
    double bound_threshold;
    double lower_bound_kwh;
    double physical_bound_kwh;
    /* vmloc only (0 for the others): host-steps in conflict, host-steps whose usage conflict
     * [detect] contention = confirm left unconfirmed (never acted on), and the migrations
     * relocation chose (the rest are consolidation's). */
    uint64_t conflict_host_steps;
    uint64_t unconfirmed_host_steps;
    uint64_t conflict_migrations;
    /* Where the energy above the bound goes, averaged over the decision instants (after
     * each processing, before the policy acts): hosts running work, the bound's fractional
     * hosts (demand / (threshold x the bound type's capacity)), the mean cpu utilisation of
     * the active hosts (allocated MIPS over their capacity), the share of active hosts of the
     * bound's (most efficient) type, and the share of the active hosts' power that is their
     * idle power. 0 when there was no decision instant. */
    double mean_active_hosts;
    double mean_bound_hosts;
    double mean_active_util;
    double efficient_share;
    double idle_power_share;
};

typedef void (*sim_progress_fn)(void *ctx, size_t step, size_t n_steps);

/* Free what `r` owns. Accepts NULL. */
void sim_result_done(struct sim_result *r);

/* Hosts above their threshold at each decision step, summed over the steps (the series'
 * overloaded_hosts). */
double sim_overloaded_host_steps(const struct sim_result *r);

/* The data centre a run of `cfg` over `tr` starts from: hosts and VMs set up, and every VM
 * placed at time 0 (for vmloc, the static-threshold reference's placement). 0: *ret filled
 * (free with dc_done()) and *ret_hosts the number of hosts. -ENOSPC: VM *ret_bad fits nowhere;
 * -ENOMEM. */
MUST_CHECK int sim_start(const struct trace *tr, const struct sim_config *cfg, struct dc *ret,
                         size_t *ret_hosts, uint32_t *ret_bad);

/* Run `cfg` over `tr`. 0: *ret filled. -ENOSPC: the VMs do not fit on the hosts at time 0
 * (too few hosts). -ENOMEM. `progress` may be NULL. */
MUST_CHECK int sim_run(const struct trace *tr, const struct sim_config *cfg,
                       sim_progress_fn progress, void *ctx, struct sim_result *ret);

#endif

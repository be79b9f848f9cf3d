/* The simulated data centre: hosts with a power model, VMs driven by trace series, the
 * sharing of a host's MIPS among its VMs, live migrations with their cost, and the metrics
 * of the power-aware consolidation literature (energy, SLATAH, PDM, ...). It reproduces the
 * model of CloudSim 3.0.3's power package (docs/sim.md lists where it departs). Policies
 * read this state and call dc_migrate(); the driver (sim.c) advances time. No I/O, no
 * clock, no globals. */
#ifndef VMLOC_SIM_DC_H
#define VMLOC_SIM_DC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "sim/power.h"

#define DC_NONE UINT32_MAX
/* Utilisation values a VM remembers for the adaptive detectors, newest first. */
#define DC_HIST 30

struct dc_vm {
    /* What every processing reads and writes, in the first cache line. */
    _Alignas(64) double req; /* MIPS it asks for now (util x mips; full mips at time 0) */
    double e_time;           /* the last state entry: time, allocated, requested */
    double e_alloc;
    double e_req;
    double sum_alloc; /* sums over closed intervals, MIPS x seconds */
    double sum_req;
    double sum_mig_under; /* requested but not allocated while migrating */
    uint32_t dest;        /* DC_NONE unless migrating */
    bool e_mig;           /* the last entry was taken while migrating */
    bool e_has;
    bool gone; /* finished: its demand dropped to exactly 0 (the reference's completion) */
    bool instantiating;
    /* The rest. */
    double mips; /* MIPS of its one core */
    double ram_mib;
    const double *util; /* utilisation (borrowed): n_samples + 1 values, util_stride apart */
    /* Optional other resources (NULL when absent), in the series' own units. */
    const double *mem_mib;
    const double *disk_kbs;
    const double *net_kbs;
    uint32_t host;             /* where it runs (the source while it migrates) */
    uint32_t n_dests;          /* migrations of it under way (the reference can start two) */
    double hist_time;          /* last time a history value was added */
    double last_migration_end; /* seconds; -1 when never */
    uint32_t migrations;
    uint8_t hist_len; /* values in its history (see dc_keep_history) */
    uint8_t hist_pos; /* slot of the newest */
};

/* One VM in a host's list, with what the host's scheduler gave it. */
struct dc_slot {
    uint32_t vm;
    bool mig_in; /* migrating into this host */
    double req;  /* requested MIPS when last allocated */
    double alloc;
};

struct dc_host {
    const struct power_host_type *type;
    double total_mips;
    struct dc_slot *slots; /* the VM list, in order; includes VMs migrating in */
    uint32_t n_slots;
    uint32_t cap_slots;
    uint32_t *mig_out; /* VMs this host's scheduler treats as migrating out */
    uint32_t n_mig_out;
    uint32_t cap_mig_out;
    uint32_t n_mig_in;
    uint32_t n_mig_src;  /* migrations out of it under way */
    double available;    /* MIPS not yet allocated */
    double ram_used_mib; /* memory taken by instantiations at time 0 */
    double req_sum;      /* sum of the listed VMs' requests */
    double cpu_mips_now; /* allocation with VMs migrating in counted in full */
    double util_mips;    /* at the last processing */
    double power_w;      /* watts at util_mips */
    double prev_util_mips;
    /* Metrics: the last state entry and the sums over closed intervals. */
    double e_time, e_alloc, e_req;
    bool e_active, e_has;
    bool was_active;   /* for shutdown counting */
    bool dirty;        /* its list changed since it was last processed */
    bool has_finished; /* a VM on it has finished (leaves after the processing) */
    double active_s, violation_s;
    double energy_j;
    uint32_t shutdowns;
};

struct dc_stats {
    double energy_kwh;
    uint64_t migrations;
    double slatah;
    double pdm;
    double slav;
    double esv;
    double overall_sla_violation;
    uint64_t host_shutdowns;
    double time_s;
};

/* A pending migration end. */
struct dc_event {
    double time;
    uint64_t seq;
    uint32_t vm;
    uint32_t src; /* its host when the migration started */
    uint32_t dest;
};

struct dc {
    struct dc_host *hosts;
    size_t n_hosts;
    struct dc_vm *vms;
    size_t n_vms;
    size_t n_samples;    /* samples per series */
    size_t util_stride;  /* distance between a VM's consecutive samples */
    double step_s;       /* seconds between samples */
    double now;          /* virtual time, seconds */
    double last_process; /* time of the last processing */
    uint64_t migrations;
    double bw_share;         /* fraction of a host's bandwidth migrations may use (0.5) */
    struct dc_event *events; /* min-heap of migration ends */
    size_t n_events;
    size_t cap_events;
    uint64_t seq;
    uint32_t active_hosts; /* at the last processing */
    uint32_t overloaded_hosts;
    uint64_t vms_finished;
    double *hist; /* DC_HIST values per VM when histories are kept, else NULL */
};

/* Prepare an empty data centre. Never fails. */
void dc_init(struct dc *d);

/* Free what `d` owns. Accepts NULL. */
void dc_done(struct dc *d);

/* Create `n_hosts` hosts whose types alternate through `types` (`n_types` of them) and
 * `n_vms` VMs (fields to be set by the caller: mips, ram_mib, util and the optional series;
 * host DC_NONE). 0 or -ENOMEM. */
MUST_CHECK int dc_setup(struct dc *d, const struct power_host_type *const *types, size_t n_types,
                        size_t n_hosts, size_t n_vms, size_t n_samples, double step_s);

/* Keep each VM's utilisation at the last DC_HIST decision steps (the adaptive detectors
 * need them; without this call none is kept). 0; -ENOMEM. */
MUST_CHECK int dc_keep_history(struct dc *d);

/* Utilisation of VM `v`'s trace at time `t` (interpolated as the reference does). */
double dc_vm_util(const struct dc *d, const struct dc_vm *v, double t);

/* Place VM `v` on host `h` at time 0 (instantiation: it asks for its full MIPS).
 * 0; -ENOMEM. */
MUST_CHECK int dc_place(struct dc *d, uint32_t v, uint32_t h);

/* Whether host `h` could take VM `v` now: a core big enough for its request and enough
 * MIPS not yet allocated (memory does not constrain after time 0, as in the reference). */
bool dc_host_suitable(const struct dc *d, uint32_t h, uint32_t v);

/* Tentatively add VM `v` to host `h`'s list (allocating MIPS), or take it off again:
 * what a policy does while it evaluates a placement. dc_vm_create appends; dc_vm_destroy
 * removes `v` from the list (it must be there). 0; -ENOMEM. */
MUST_CHECK int dc_vm_create(struct dc *d, uint32_t h, uint32_t v);
void dc_vm_destroy(struct dc *d, uint32_t h, uint32_t v);

/* Start migrating VM `v` (not migrating) from its host to `dest` at the current time: the
 * destination reserves a tenth of its request, the VM runs 10 % slower until the copy ends
 * (RAM / half the destination's bandwidth). 0; -ENOMEM. */
MUST_CHECK int dc_migrate(struct dc *d, uint32_t v, uint32_t dest);

/* Process every host at time `t` (>= now): VMs take their demand at `t`, MIPS are shared
 * again, energy and metrics advance. `decision` marks a decision step (VMs record a history
 * value). 0; -ENOMEM. */
MUST_CHECK int dc_process(struct dc *d, double t, bool decision);

/* The earliest pending migration end, or INFINITY. */
double dc_next_event(const struct dc *d);

/* Complete the migrations ending at the earliest pending time (processing before and after,
 * as the reference does). 0; -ENOMEM. */
MUST_CHECK int dc_complete_next(struct dc *d);

/* Host utilisation of CPU (allocated MIPS at the last processing over capacity). */
double dc_host_util(const struct dc *d, uint32_t h);

/* Utilisation counting current allocations, VMs migrating in in full (what a placement
 * decision sees), in MIPS. */
double dc_host_cpu_mips(const struct dc *d, uint32_t h);

/* Watts host `h` draws at its last processed utilisation. */
double dc_host_power(const struct dc *d, uint32_t h);

/* Whether any VM on `h` is migrating in, or every VM is migrating out. */
bool dc_host_busy_migrating(const struct dc *d, uint32_t h);

/* The host's utilisation history (sum of its VMs' histories scaled to the host's MIPS,
 * newest first, trailing zeros dropped); returns the number of values written to `out`
 * (room for DC_HIST). `extra` (DC_NONE for none) is counted as if it were on the host. */
size_t dc_host_history(const struct dc *d, uint32_t h, uint32_t extra, double *out);

/* The VMs on each host that are not migrating in, in list order: what a policy saves before
 * it tries placements, to put back with dc_restore() (VMs migrating in first, then the
 * saved ones, as the reference does). */
struct dc_saved {
    uint32_t host;
    uint32_t vm;
};
MUST_CHECK int dc_save(const struct dc *d, struct dc_saved **buf, size_t *n, size_t *cap);
MUST_CHECK int dc_restore(struct dc *d, const struct dc_saved *s, size_t n);

/* Totals at the end of a run. */
void dc_stats(const struct dc *d, struct dc_stats *ret);

#endif

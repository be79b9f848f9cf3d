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
    /* Read by every processing: first. */
    double req;         /* MIPS it asks for now (util x mips; size0 at time 0) */
    const double *util; /* utilisation (borrowed): n_samples + 1 values, util_stride apart */
    double mips;        /* MIPS of the whole VM (all its cores) */
    uint32_t host;      /* where it runs (the source while it migrates); DC_NONE if gone */
    uint32_t dest;      /* DC_NONE unless migrating */
    uint32_t pes;       /* cores; a core never gets more than one host core */
    bool gone;          /* finished: its demand dropped to exactly 0 (the reference's completion) */
    bool instantiating;
    uint8_t hist_len; /* values in its history (see dc_keep_history) */
    uint8_t hist_pos; /* slot of the newest */
    double hist_time; /* last time a history value was added */
    /* The rest. */
    double size0; /* MIPS it asks for when it is placed at time 0 */
    double ram_mib;
    uint32_t n_dests; /* migrations of it under way (the reference can start two) */
    uint32_t migrations;
    double last_migration_end; /* seconds; -1 when never */
    /* Metric sums of the slots it has left (its current slot holds the rest). */
    double sum_alloc;
    double sum_req;
    double sum_mig_under;
};

/* One VM in a host's list, with what the host's scheduler gave it. The slot where a VM
 * runs (not one it is migrating into) also carries the VM's metric state, so processing a
 * host reads its slots in order and never the scattered VM records. */
struct dc_slot {
    uint32_t vm;
    uint32_t pes;   /* the VM's cores */
    double ram_mib; /* the VM's memory */
    double arrived; /* when the VM's last migration ended (-1: never) */
    bool mig_in;    /* migrating into this host */
    bool out;       /* migrating out of this host */
    bool e_mig;     /* the VM's last state entry was taken while it migrated */
    bool e_has;
    double req; /* requested MIPS when last allocated */
    double alloc;
    double e_time; /* the VM's last state entry: time, allocated, requested */
    double e_alloc;
    double e_req;
    double sum_alloc; /* the VM's sums over closed intervals, MIPS x seconds */
    double sum_req;
    double sum_mig_under;
};

struct dc_host {
    /* Read by every processing: first. */
    double util_mips;      /* at the last processing */
    double prev_util_mips; /* at the processing before */
    double total_mips;
    const struct power_host_type *type;
    struct dc_slot *slots; /* the VM list, in order; includes VMs migrating in */
    uint32_t n_slots;
    uint32_t n_mig_in;
    uint32_t n_mig_src;   /* migrations out of it under way */
    bool e_active, e_has; /* the last state entry was active; there is one */
    bool dirty;           /* its list changed since it was last processed */
    bool has_finished;    /* a VM on it has finished (leaves after the processing) */
    bool was_active;      /* for shutdown counting */
    double energy_j;
    /* The rest. */
    uint32_t cap_slots;
    uint32_t *mig_out; /* VMs this host's scheduler treats as migrating out */
    uint32_t n_mig_out;
    uint32_t cap_mig_out;
    double available;    /* MIPS not yet allocated */
    double ram_used_mib; /* memory taken by instantiations at time 0 */
    double req_sum;      /* sum of the listed VMs' requests */
    double cpu_mips_now; /* allocation with VMs migrating in counted in full */
    double power_w;      /* watts at util_mips */
    /* Metrics: the last state entry and the sums over closed intervals. */
    double e_time, e_alloc, e_req;
    double active_s, violation_s;
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
    double *hist;  /* DC_HIST values per VM when histories are kept, else NULL */
    double *reqs;  /* per VM: its request, a compact copy of vms[].req for processing */
    uint8_t *idle; /* per host: empty and idle, skipped by processing until a VM comes */
    /* Disk and network demand (KB/s), laid out like the utilisation (VM v's value k at
     * [k * util_stride + v]); NULL when the trace has none. */
    const double *disk_kbs;
    const double *net_kbs;
    /* Memory in use (MiB), laid out the same; when given, a migration copies this much
     * instead of the VM's configured memory. */
    const double *mem_used_mib;
    /* Model rules. */
    bool finish_on_zero;    /* a VM whose demand is exactly 0 has finished (the reference) */
    bool place_ram;         /* memory must fit at time 0 */
    uint32_t place_max_vms; /* at most this many VMs a host at time 0 (0: no limit) */
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

/* Disk (`disk` true) or network demand of VM `vi` at time `t`, KB/s; 0 without series. */
double dc_vm_io(const struct dc *d, uint32_t vi, bool disk, double t);

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
    struct dc_slot slot;
};
MUST_CHECK int dc_save(const struct dc *d, struct dc_saved **buf, size_t *n, size_t *cap);
MUST_CHECK int dc_restore(struct dc *d, const struct dc_saved *s, size_t n);

/* Totals at the end of a run. */
void dc_stats(const struct dc *d, struct dc_stats *ret);

#endif

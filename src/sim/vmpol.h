/* vmloc's own policy in the simulator: each step the core's conflict detection and
 * relocation (plan_compute) on the hosts' current demand, with a persistence filter, a
 * per-VM cooldown and a few rounds per step (the running system would act again as soon as
 * a migration ends, well within a 300 s step); then the core's consolidation empties lightly
 * used hosts onto busy ones. No I/O. */
#ifndef VMLOC_SIM_VMPOL_H
#define VMLOC_SIM_VMPOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/consolidate.h"
#include "core/model.h"
#include "core/plan.h"
#include "sim/dc.h"

struct sim_vmloc;

struct vmpol_move {
    uint32_t vm;
    uint32_t from; /* its host when the step began */
    uint32_t dest;
};

struct vmpol {
    const struct sim_vmloc *cfg; /* borrowed, or &own */
    struct sim_vmloc *own;       /* defaults when the caller gave none */
    struct cluster cl;
    const char **vm_names;  /* per dc VM, owned by cl */
    uint32_t *model_vm;     /* model VM index -> dc VM */
    uint32_t *where;        /* per dc VM: host it will be on after this step */
    bool *moved;            /* per dc VM: moved in this step */
    bool *busy;             /* per host: a migration into or out of it runs */
    struct host *host_tmpl; /* per host: its model entry (name owned by cl) */
    uint32_t *map;          /* model host -> data centre host */
    uint32_t *mindex;       /* data centre host -> model host, or UINT32_MAX */
    size_t n_model_hosts;
    bool *m_busy; /* per model host */
    bool *m_no_source;
    double *m_idle_w; /* per model host: idle and peak watts of its type */
    double *m_peak_w;
    double *m_vm_peak; /* per model VM: its recent peak cpu, percent of its host */
    uint32_t *seen;    /* per host: conflicts seen in the last steps, newest in bit 0 */
    uint32_t *scratch;
    /* The step's starting layout (see vmpol.c). */
    uint32_t *base_vm;
    double *base_req;
    bool *base_fixed;
    double *base_ram;
    double *base_disk; /* KB/s, when the trace has disk and network series */
    double *base_net;
    bool io;
    bool all_hosts;       /* every host in the model (see vmpol.c) */
    uint32_t *base_first; /* per host */
    uint32_t *base_count;
    uint32_t *fill;
    size_t n_base;
    struct vmpol_move *moves;
    size_t n_moves;
    size_t cap_moves;
    size_t n_hosts;
    size_t n_vms;
    /* Counts over the run: host-steps in conflict (after [detect] contention), host-steps with
     * a usage conflict that contention = confirm left unconfirmed, and migrations that
     * relocation (not consolidation) chose. */
    uint64_t conflict_host_steps;
    uint64_t unconfirmed_host_steps;
    uint64_t conflict_migrations;
};

/* Prepare an empty policy. Never fails. */
void vmpol_init(struct vmpol *p);

/* Free what `p` owns. Accepts NULL. */
void vmpol_done(struct vmpol *p);

/* Size `p` for `d` with settings `cfg` (NULL: sim_vmloc_defaults(); borrowed for the whole
 * run). 0; -ENOMEM. */
MUST_CHECK int vmpol_setup(struct vmpol *p, const struct dc *d, const struct sim_vmloc *cfg);

/* One decision step at the current time of `d`; starts the chosen migrations. 0; -ENOMEM. */
MUST_CHECK int vmpol_step(struct vmpol *p, struct dc *d);

#endif

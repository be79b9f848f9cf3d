/* Consolidation for power saving: empty lightly used hosts onto other busy hosts so the
 * emptied ones can be powered off, and only where no conflict would follow (every receiving
 * host stays below a target usage in every checked kind). Complements plan_compute(): the
 * simulator calls both each step, and so can any deployment. Pure: no I/O, clock or
 * globals; deterministic for equal inputs. */
#ifndef VMLOC_CORE_CONSOLIDATE_H
#define VMLOC_CORE_CONSOLIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/model.h"
#include "core/policy.h"

struct consolidate_opts {
    double below_pct;      /* a host is a candidate when its cpu usage is below this */
    double target_pct;     /* receivers stay below this (times their own threshold / 100 is not
                              applied: an absolute percent of each receiver) */
    uint32_t max_hosts;    /* empty at most this many hosts per call (0: no limit) */
    const bool *no_dest;   /* per host, or NULL: never a receiver */
    const bool *no_source; /* per host, or NULL: never emptied */
    /* Per host, or NULL: the watts the host draws idle and at 100 % cpu. With both, the
     * candidates are emptied least efficient first (most watts per unit of work served at
     * their current load) instead of least used first. */
    const double *idle_w;
    const double *peak_w;
    /* Per VM, or NULL: its recent peak cpu usage, percent of its host as vm.usage. With it,
     * a VM is placed only where its peak (or its current usage, if higher) fits below the
     * target. */
    const double *vm_peak_pct;
};

struct consolidate_move {
    uint32_t vm;
    uint32_t from;
    uint32_t to;
};

struct consolidation {
    struct consolidate_move *moves;
    size_t n_moves;
    uint32_t *emptied; /* hosts emptied, in the order chosen */
    size_t n_emptied;
};

/* Prepare / free a result. consolidation_done accepts NULL. */
void consolidation_init(struct consolidation *c);
void consolidation_done(struct consolidation *c);

/* Choose hosts of `cl` to empty under `pol`'s checked kinds and `opts`: candidates are up
 * hosts with VMs, no pinned VM, cpu usage below below_pct, least used first (least
 * efficient first with idle_w and peak_w); each of their VMs (heaviest first) goes to the
 * busiest other up host that has VMs and stays below target_pct in cpu (with vm_peak_pct,
 * the VM counted at its peak) and every checked kind afterwards (best fit, so load gathers
 * on few hosts); all arrays in `opts` are borrowed and indexed like cl->hosts / cl->vms; a
 * candidate is emptied only if all its VMs find a place, and a host that received VMs is not
 * emptied later in the same call. Costs about (hosts + VMs) x log(hosts). 0: *ret filled. -ENOMEM:
 * *ret left empty. -EINVAL: `ret` not empty on entry. */
MUST_CHECK int consolidate_plan(const struct cluster *cl, const struct policy *pol,
                                const struct consolidate_opts *opts, struct consolidation *ret);

#endif

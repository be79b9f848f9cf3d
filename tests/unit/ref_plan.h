/* A reference model of detection and relocation (policy.md §3-§4), written straight from the
 * spec text for differential testing of plan_compute(). Deliberately naive: every rule is a
 * plain loop over the whole cluster, nothing is indexed or cached, clarity before speed.
 * It reads struct cluster and struct policy fields directly and calls none of the core's
 * policy, detect or plan functions, so a misreading there does not hide here. Where the
 * spec is silent, ref_plan.c says what it assumes ("ASSUMPTION"). Test-only. */
#ifndef VMLOC_TESTS_REF_PLAN_H
#define VMLOC_TESTS_REF_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model.h"  /* struct cluster, KIND_COUNT */
#include "core/policy.h" /* struct policy */

/* Reasons, numerically equal to enum plan_reason so results compare directly. */
enum ref_reason {
    REF_REASON_NO_MOVABLE_VM = 1,
    REF_REASON_NO_DESTINATION = 2,
    REF_REASON_SOURCE_BUSY = 3,
};

struct ref_conflict {
    uint32_t host;
    uint8_t kinds; /* KIND_BIT mask */
    size_t vm_off; /* into ref_plan.conflict_vms */
    size_t vm_count;
    double host_threshold[KIND_COUNT]; /* filled for the kinds in pol->resources */
    double vm_threshold[KIND_COUNT];
};

struct ref_move {
    uint32_t vm;
    uint32_t from;
    uint32_t to;
    double score;                  /* spec score of the destination: higher is better, except
                                      least-used where this is U * cap (lower is better) */
    double vm_usage[KIND_COUNT];   /* percent of the source, before the move */
    double dest_usage[KIND_COUNT]; /* destination usage before the move */
};

struct ref_unresolved {
    uint32_t host;
    uint32_t vm; /* UINT32_MAX unless no-destination */
    enum ref_reason reason;
};

struct ref_plan {
    struct ref_conflict *conflicts;
    size_t n_conflicts;
    uint32_t *conflict_vms;
    size_t n_conflict_vms;
    struct ref_move *moves;
    size_t n_moves;
    struct ref_unresolved *unresolved;
    size_t n_unresolved;
};

/* Compute the plan of `cl` under `pol` the slow, obvious way. `no_dest` and `no_source` are
 * per-host flag arrays (n_hosts long) or NULL, with the meaning of struct plan_opts.
 * Overrides are looked up by a linear scan of pol->overrides, so policy_finish() is not
 * needed. 0: *ret filled (caller frees with ref_plan_done()). -ENOMEM: *ret empty. */
int ref_plan_compute(const struct cluster *cl, const struct policy *pol, const bool *no_dest,
                     const bool *no_source, struct ref_plan *ret);

/* Free what `p` owns and zero it. Accepts NULL. */
void ref_plan_done(struct ref_plan *p);

#endif

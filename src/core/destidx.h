/* The destination index: finds the best-scoring feasible destination among all hosts in
 * O(log n) typical time, so planning for a cluster with thousands of conflicts does not cost
 * conflicts x hosts. A tournament (segment) tree over the hosts in model order; each node
 * keeps the best (score, lowest index) of its eligible leaves and, for pruning, the largest
 * free capacity per kind, the largest free memory, and whether it holds busy or idle hosts.
 * A query is a branch-and-bound descent that visits better subtrees first and skips those
 * that cannot hold a feasible host or a better one. Pure: owns only its node array. */
#ifndef VMLOC_CORE_DESTIDX_H
#define VMLOC_CORE_DESTIDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/model.h"

/* What the index knows about one host. */
struct destleaf {
    double score;            /* larger is better */
    double free[KIND_COUNT]; /* free capacity per kind, already times the host's coefficient */
    double mem_free;         /* free memory in MiB; INFINITY when the host gives no size */
    bool eligible;           /* may be a destination at all (up, not excluded) */
    bool busy;               /* runs at least one VM */
};

struct dnode;

struct destidx {
    struct dnode *nodes;
    size_t n;               /* leaves in use (hosts) */
    size_t base;            /* index of the first leaf: a power of two >= n */
    unsigned feasible_mask; /* kinds whose free capacity must exceed the need */
};

/* What a VM needs from a destination. */
struct destneed {
    double need[KIND_COUNT]; /* usage times the source's coefficient, per kind */
    double mem_mib;          /* < 0: no memory requirement */
    size_t exclude;          /* the source host, never returned */
    bool busy_only;          /* consider only hosts that run a VM */
};

/* Build an index of `n` hosts, all ineligible, checking the kinds in `feasible_mask`.
 * 0 or -ENOMEM (idx left empty). */
MUST_CHECK int destidx_init(struct destidx *idx, size_t n, unsigned feasible_mask);

/* Free the nodes. Accepts NULL and an index whose init failed. */
void destidx_done(struct destidx *idx);

/* Set leaf `i` without updating its ancestors; call destidx_build() after a batch. */
void destidx_set(struct destidx *idx, size_t i, const struct destleaf *leaf);

/* Recompute every inner node from the leaves: O(n). */
void destidx_build(struct destidx *idx);

/* Set leaf `i` and update its ancestors: O(log n). */
void destidx_update(struct destidx *idx, size_t i, const struct destleaf *leaf);

/* Find the eligible host with the highest score (lowest index on ties) such that for every
 * kind k in the feasible mask free[k] > need[k] strictly, mem_free >= need->mem_mib (when
 * that is >= 0), it is not need->exclude, and it is busy when need->busy_only.
 * true: *ret_i and *ret_score set. false: no such host. */
bool destidx_best(const struct destidx *idx, const struct destneed *need, size_t *ret_i,
                  double *ret_score);

#endif

/* The destination index: a segment tree with branch-and-bound search (see destidx.h). */
#include "core/destidx.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DN_BUSY 0x1u
#define DN_IDLE 0x2u

/* Bounds over a set of leaves: the best (score, index) and the largest free capacity and
 * memory. Each node keeps them over all its eligible leaves and over its busy ones only, so
 * a busy-only query is not misled by idle hosts' large free capacity. */
struct dbound {
    double score; /* best score; -INFINITY if the set is empty */
    double max_free[KIND_COUNT];
    double max_mem;
    uint32_t idx; /* host index of the best leaf (lowest on ties) */
};

struct dnode {
    struct dbound all;
    struct dbound busy;
    uint8_t flags;
};

static void
bound_empty(struct dbound *b)
{
    b->score = -INFINITY;
    for (unsigned k = 0; k < KIND_COUNT; k++)
        b->max_free[k] = -INFINITY;
    b->max_mem = -INFINITY;
    b->idx = UINT32_MAX;
}

static void
node_empty(struct dnode *d)
{
    bound_empty(&d->all);
    bound_empty(&d->busy);
    d->flags = 0;
}

/* Is (score a, index ia) strictly better than (b, ib)? Higher score first, then lower index. */
static bool
better(double a, uint32_t ia, double b, uint32_t ib)
{
    if (a > b)
        return true;
    if (a < b)
        return false;
    return ia < ib;
}

static void
bound_merge(struct dbound *d, const struct dbound *l, const struct dbound *r)
{
    if (better(r->score, r->idx, l->score, l->idx)) {
        d->score = r->score;
        d->idx = r->idx;
    } else {
        d->score = l->score;
        d->idx = l->idx;
    }
    for (unsigned k = 0; k < KIND_COUNT; k++)
        d->max_free[k] = l->max_free[k] > r->max_free[k] ? l->max_free[k] : r->max_free[k];
    d->max_mem = l->max_mem > r->max_mem ? l->max_mem : r->max_mem;
}

static void
node_merge(struct dnode *d, const struct dnode *l, const struct dnode *r)
{
    bound_merge(&d->all, &l->all, &r->all);
    bound_merge(&d->busy, &l->busy, &r->busy);
    d->flags = (uint8_t)(l->flags | r->flags);
}

int
destidx_init(struct destidx *idx, size_t n, unsigned feasible_mask)
{
    memset(idx, 0, sizeof(*idx));
    size_t base = 1;
    while (base < n)
        base *= 2;
    struct dnode *nodes = malloc(2 * base * sizeof(*nodes));
    if (nodes == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < 2 * base; i++)
        node_empty(&nodes[i]);
    idx->nodes = nodes;
    idx->n = n;
    idx->base = base;
    idx->feasible_mask = feasible_mask;
    return 0;
}

void
destidx_done(struct destidx *idx)
{
    if (idx == NULL)
        return;
    free(idx->nodes);
    memset(idx, 0, sizeof(*idx));
}

void
destidx_set(struct destidx *idx, size_t i, const struct destleaf *leaf)
{
    struct dnode *d = &idx->nodes[idx->base + i];
    node_empty(d);
    if (!leaf->eligible)
        return;
    d->all.score = leaf->score;
    d->all.idx = (uint32_t)i;
    for (unsigned k = 0; k < KIND_COUNT; k++)
        d->all.max_free[k] = leaf->free[k];
    d->all.max_mem = leaf->mem_free;
    if (leaf->busy)
        d->busy = d->all;
    d->flags = leaf->busy ? DN_BUSY : DN_IDLE;
}

void
destidx_build(struct destidx *idx)
{
    for (size_t i = idx->base - 1; i >= 1; i--)
        node_merge(&idx->nodes[i], &idx->nodes[2 * i], &idx->nodes[2 * i + 1]);
}

void
destidx_update(struct destidx *idx, size_t i, const struct destleaf *leaf)
{
    destidx_set(idx, i, leaf);
    for (size_t p = (idx->base + i) / 2; p >= 1; p /= 2)
        node_merge(&idx->nodes[p], &idx->nodes[2 * p], &idx->nodes[2 * p + 1]);
}

struct search {
    const struct destidx *idx;
    const struct destneed *need;
    double best_score;
    uint32_t best_idx;
    bool found;
};

/* Could some leaf below `d` satisfy the need? (An upper bound: true may still find none.) */
static bool
may_fit(const struct search *s, const struct dnode *d)
{
    if (d->flags == 0)
        return false;
    if (s->need->busy_only && !(d->flags & DN_BUSY))
        return false;
    const struct dbound *b = s->need->busy_only ? &d->busy : &d->all;
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if ((s->idx->feasible_mask & KIND_BIT(k)) && !(b->max_free[k] > s->need->need[k]))
            return false;
    }
    if (s->need->mem_mib >= 0 && !(b->max_mem >= s->need->mem_mib))
        return false;
    if (s->found && !better(b->score, b->idx, s->best_score, s->best_idx))
        return false;
    return true;
}

static void
descend(struct search *s, size_t node)
{
    const struct dnode *d = &s->idx->nodes[node];
    if (!may_fit(s, d))
        return;
    if (node >= s->idx->base) {
        /* A leaf: its maxima are its own values, so may_fit() was exact but for the source. */
        if (d->all.idx == s->need->exclude)
            return;
        s->best_score = d->all.score;
        s->best_idx = d->all.idx;
        s->found = true;
        return;
    }
    size_t l = 2 * node;
    size_t r = 2 * node + 1;
    const struct dbound *dl = s->need->busy_only ? &s->idx->nodes[l].busy : &s->idx->nodes[l].all;
    const struct dbound *dr = s->need->busy_only ? &s->idx->nodes[r].busy : &s->idx->nodes[r].all;
    if (better(dr->score, dr->idx, dl->score, dl->idx)) {
        descend(s, r);
        descend(s, l);
    } else {
        descend(s, l);
        descend(s, r);
    }
}

bool
destidx_best(const struct destidx *idx, const struct destneed *need, size_t *ret_i,
             double *ret_score)
{
    if (idx->n == 0)
        return false;
    struct search s = {.idx = idx, .need = need, .found = false};
    descend(&s, 1);
    if (!s.found)
        return false;
    *ret_i = s.best_idx;
    *ret_score = s.best_score;
    return true;
}

/* Relocation determination (policy.md §4).
 *
 * All conflicts are found first, on the cluster as given. Then each conflicting host, in
 * model order, gets at most one migration, planned on a working state that starts as a copy
 * of the hosts' usage and changes with every planned move:
 *
 *   - the VM is the source's movable (not pinned, not held by the caller, not a duplicate name,
 *     not in its cooldown, not held by the storm guard) VM with the highest selection score,
 *     ties to the first in model order; VMs moved in by earlier moves count as the source's;
 *     when only the storm guard keeps every candidate, the conflict is unresolved with reason
 *     storm-guard;
 *   - the destination is the best-scoring other up host on which the VM fits: free capacity
 *     times coefficient strictly above the VM's usage times the source's coefficient, for
 *     cpu and every checked kind, and memory when both sides give sizes; with the busy-host
 *     preference, hosts without VMs are tried only when no busy host fits;
 *   - the move is applied: the source loses the VM's usage (never below 0), the destination
 *     gains it rescaled by cap(src) / cap(dst), and the VM now lives on the destination.
 *
 * The destination search goes through destidx (a segment tree), so a plan costs about
 * (hosts + VMs + conflicts x log hosts), not conflicts x hosts. */
#include "core/plan.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/destidx.h"
#include "core/detect.h"
#include "core/grow.h"
#include "core/plan_work.h"

void
plan_init(struct plan *p)
{
    memset(p, 0, sizeof(*p));
}

void
plan_done(struct plan *p)
{
    if (p == NULL)
        return;
    free(p->conflicts);
    free(p->conflict_vms);
    free(p->moves);
    free(p->unresolved);
    free(p->drains);
    free(p->unconfirmed);
    plan_init(p);
}

/* Grow `*arr` (elements of `elem` bytes) to hold `need` elements. 0 or -ENOMEM. */
static int
reserve(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0; /* also when nothing is needed of an array not made yet */
    void *p = grow_array(*arr, cap, need, elem, 16);
    if (p == NULL)
        return -ENOMEM;
    *arr = p;
    return 0;
}

/* Where detect_all() collects: the plan and the room of its arrays. */
struct collect {
    struct plan *p;
    size_t cap_c;
    size_t cap_u;
    size_t cap_v;
};

/* Append the conflict (or, det->unconfirmed, the unconfirmed usage conflict) `det` of host
 * `hi`, whose VMs are `vms` (as many as det found), to the plan. 0 or -ENOMEM. */
static int
add_conflict(const struct cluster *cl, struct collect *k, size_t hi, const struct detection *det,
             const uint32_t *vms, size_t nv)
{
    struct plan *p = k->p;
    struct plan_conflict **arr = det->unconfirmed ? &p->unconfirmed : &p->conflicts;
    size_t *n = det->unconfirmed ? &p->n_unconfirmed : &p->n_conflicts;
    int r = reserve((void **)arr, det->unconfirmed ? &k->cap_u : &k->cap_c, *n + 1, sizeof(**arr));
    if (r == 0)
        r = reserve((void **)&p->conflict_vms, &k->cap_v, p->n_conflict_vms + nv,
                    sizeof(*p->conflict_vms));
    if (r < 0)
        return r;
    const struct host *h = &cl->hosts[hi];
    struct plan_conflict *c = &(*arr)[(*n)++];
    c->host = (uint32_t)hi;
    c->kinds = det->kinds;
    c->vm_off = (uint32_t)p->n_conflict_vms;
    c->vm_count = (uint32_t)nv;
    memcpy(c->host_threshold, det->host_threshold, sizeof(c->host_threshold));
    memcpy(c->vm_threshold, det->vm_threshold, sizeof(c->vm_threshold));
    c->confirmed_by = det->confirmed_by;
    c->waiting = det->waiting;
    c->cpu_pressure = pressure_has(&h->pressure, PRESSURE_CPU, PRESSURE_SOME)
                          ? h->pressure.pct[PRESSURE_CPU][PRESSURE_SOME]
                          : -1.0;
    memcpy(&p->conflict_vms[p->n_conflict_vms], vms, nv * sizeof(*vms));
    p->n_conflict_vms += nv;
    return 0;
}

/* Find every conflict on the cluster as given and append it to `p` (and, with contention =
 * confirm, every usage conflict not confirmed to p->unconfirmed). */
static int
detect_all(struct work *w, struct plan *p)
{
    const struct cluster *cl = w->cl;
    uint32_t max_vms = 0;
    for (size_t i = 0; i < cl->n_hosts; i++) {
        if (cl->hosts[i].vm_count > max_vms)
            max_vms = cl->hosts[i].vm_count;
    }
    uint32_t *scratch = malloc((max_vms + 1u) * sizeof(*scratch));
    if (scratch == NULL)
        return -ENOMEM;
    struct collect k = {.p = p};
    int r = 0;
    for (size_t i = 0; i < cl->n_hosts && r == 0; i++) {
        struct detection det;
        size_t nv;
        if (w->opts && w->opts->check && !w->opts->check[i])
            continue;
        detect_host(cl, w->pol, &w->hp[i], i, &det, scratch, &nv);
        if (det.conflict || det.unconfirmed)
            r = add_conflict(cl, &k, i, &det, scratch, nv);
    }
    free(scratch);
    return r;
}

static double
dest_score(const struct work *w, size_t hi)
{
    const struct policy *pol = w->pol;
    double cap = w->hp[hi].capacity;
    const double *u = w->usage[hi];
    switch (pol->dest_select) {
    case DEST_SELECT_LEAST_USED:
        return -(u[pol->dest_select_resource] * cap);
    case DEST_SELECT_WEIGHTED: {
        double s = 0.0;
        for (unsigned k = 0; k < KIND_COUNT; k++)
            s += pol->weights[k] * ((100.0 - u[k]) * cap);
        return s;
    }
    case DEST_SELECT_FREE:
        break;
    }
    return (100.0 - u[pol->dest_select_resource]) * cap;
}

void
plan_work_leaf(const struct work *w, size_t hi, struct destleaf *ret)
{
    const struct host *h = &w->cl->hosts[hi];
    double cap = w->hp[hi].capacity;
    ret->eligible = h->state == HOST_UP && !(w->opts && w->opts->no_dest && w->opts->no_dest[hi]) &&
                    !(w->excluded != NULL && w->excluded[hi]) &&
                    !(w->pol->max_per_host > 0 && w->moves_at[hi] >= w->pol->max_per_host);
    ret->busy = w->vm_count[hi] > 0;
    ret->score = dest_score(w, hi);
    /* With the headroom check the room ends at the host's threshold instead of 100 %, so
     * "free > need" also means "stays below the threshold after the move". */
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        double limit = w->pol->dest_headroom ? w->hp[hi].host_threshold[k] : 100.0;
        ret->free[k] = (limit - w->usage[hi][k]) * cap;
    }
    ret->mem_free =
        h->has_mem ? h->mem_mib - w->hp[hi].mem_reserve_mib - w->mem_used[hi] : INFINITY;
}

int
plan_work_init(struct work *w, const struct cluster *cl, const struct policy *pol,
               const struct plan_opts *opts)
{
    memset(w, 0, sizeof(*w));
    w->cl = cl;
    w->pol = pol;
    w->opts = opts;
    size_t n = cl->n_hosts;
    w->hp = malloc((n + 1) * sizeof(*w->hp));
    if (w->hp == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        policy_host_params(pol, &cl->hosts[i], &w->hp[i]);
    return 0;
}

/* The state that only relocation needs; built once there is a conflict to resolve. */
int
plan_work_prepare_moves(struct work *w, size_t n_conflicts)
{
    const struct cluster *cl = w->cl;
    size_t n = cl->n_hosts;
    w->usage = malloc((n + 1) * sizeof(*w->usage));
    w->vm_count = malloc((n + 1) * sizeof(*w->vm_count));
    w->mem_used = calloc(n + 1, sizeof(*w->mem_used));
    w->moved_head = malloc((n + 1) * sizeof(*w->moved_head));
    w->vm_loc = malloc((cl->n_vms + 1) * sizeof(*w->vm_loc));
    w->moved = malloc((n_conflicts + 1) * sizeof(*w->moved));
    w->moves_at = calloc(n + 1, sizeof(*w->moves_at));
    if (!w->usage || !w->vm_count || !w->mem_used || !w->moved_head || !w->vm_loc || !w->moved ||
        !w->moves_at)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct host *h = &cl->hosts[i];
        memcpy(w->usage[i], h->usage.pct, sizeof(w->usage[i]));
        w->vm_count[i] = h->vm_count;
        w->moved_head[i] = -1;
        for (uint32_t j = 0; j < h->vm_count; j++) {
            const struct vm *v = &cl->vms[h->vm_first + j];
            if (v->has_mem)
                w->mem_used[i] += v->mem_mib;
        }
    }
    for (size_t j = 0; j < cl->n_vms; j++)
        w->vm_loc[j] = -1;
    w->last_rule_id = 0;
    int rr = plan_work_prepare_rules(w);
    if (rr < 0)
        return rr;
    unsigned mask = KIND_BIT(KIND_CPU) | policy_resource_mask(w->pol);
    int r = destidx_init(&w->idx, n, mask);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        struct destleaf leaf;
        plan_work_leaf(w, i, &leaf);
        destidx_set(&w->idx, i, &leaf);
    }
    destidx_build(&w->idx);
    return 0;
}

void
plan_work_done(struct work *w)
{
    free(w->hp);
    free(w->usage);
    free(w->vm_count);
    free(w->mem_used);
    free(w->moved_head);
    free(w->vm_loc);
    free(w->moved);
    free(w->moves_at);
    free(w->excluded);
    free(w->vm_rule_off);
    free(w->vm_rules);
    free(w->rule_vm_off);
    free(w->rule_vms);
    free(w->rule_host_off);
    free(w->rule_hosts);
    destidx_done(&w->idx);
}

/* A candidate VM for moving off a source: its index and its current usage. */
struct cand {
    uint32_t vm;
    const double *usage;
};

static double
vm_weighted(const struct policy *pol, const struct vm *v, const double *usage)
{
    double s = 0.0;
    for (unsigned k = 0; k < KIND_COUNT; k++)
        s += pol->weights[k] * usage[k];
    return s + pol->weight_priority * (double)v->priority;
}

/* Is candidate `a` preferred over `b` (the current best) for moving? */
static bool
cand_better(const struct policy *pol, const struct cluster *cl, const struct cand *a,
            const struct cand *b)
{
    const struct vm *va = &cl->vms[a->vm];
    const struct vm *vb = &cl->vms[b->vm];
    switch (pol->vm_select) {
    case VM_SELECT_PRIORITY:
        if (va->priority != vb->priority)
            return va->priority > vb->priority;
        break;
    case VM_SELECT_WEIGHTED: {
        double sa = vm_weighted(pol, va, a->usage);
        double sb = vm_weighted(pol, vb, b->usage);
        if (sa != sb)
            return sa > sb;
        break;
    }
    case VM_SELECT_WAIT: {
        /* The one that waits the most (unknown: none), then the one that uses the most. */
        double wa = va->has_cpu_wait ? va->cpu_wait_pct : 0.0;
        double wb = vb->has_cpu_wait ? vb->cpu_wait_pct : 0.0;
        if (wa != wb)
            return wa > wb;
        double sa = a->usage[pol->vm_select_resource];
        double sb = b->usage[pol->vm_select_resource];
        if (sa != sb)
            return sa > sb;
        break;
    }
    case VM_SELECT_USAGE: {
        double sa = a->usage[pol->vm_select_resource];
        double sb = b->usage[pol->vm_select_resource];
        if (sa != sb)
            return sa > sb;
        break;
    }
    }
    return a->vm < b->vm;
}

/* The best of the VMs the storm guard held back in pick_vm(). */
struct guarded {
    bool any;
    struct cand c;
    double until;
};

/* How often this plan moved VM `vm` already. */
static uint32_t
moved_in_plan(const struct work *w, uint32_t vm)
{
    uint32_t n = 0;
    for (size_t i = 0; i < w->n_moved; i++)
        n += w->moved[i].vm == vm;
    return n;
}

/* Would the candidate move, but for the storm guard? Keeps the best such one in *g. */
static bool
storm_held(const struct work *w, const struct cand *c, uint32_t extra, struct guarded *g)
{
    double until = 0;
    if (!policy_vm_storm_guarded(w->pol, w->cl, c->vm, extra, &until))
        return false;
    if (!g->any || cand_better(w->pol, w->cl, c, &g->c)) {
        g->any = true;
        g->c = *c;
        g->until = until;
    }
    return true;
}

/* Choose the VM to move off host `src`; for a drain, neither the cooldown nor the storm guard
 * holds a VM back. false: no movable VM (*ret_g, when not NULL, then says whether the storm
 * guard held one that would have moved). */
static bool
pick_vm(const struct work *w, size_t src, bool drain, struct cand *ret, struct guarded *ret_g)
{
    const struct cluster *cl = w->cl;
    const struct host *h = &cl->hosts[src];
    bool found = false;
    struct cand best = {0, NULL};
    struct guarded g = {false, {0, NULL}, 0};
    for (uint32_t j = 0; j < h->vm_count; j++) {
        uint32_t vi = h->vm_first + j;
        if (w->vm_loc[vi] >= 0 || cl->vms[vi].pinned || cl->vms[vi].held || cl->vms[vi].duplicate ||
            (!drain && policy_vm_cooling(w->pol, cl, vi)) || plan_work_held_together(w, vi, src))
            continue;
        struct cand c = {vi, cl->vms[vi].usage.pct};
        if (!drain && storm_held(w, &c, 0, &g))
            continue;
        if (!found || cand_better(w->pol, cl, &c, &best)) {
            best = c;
            found = true;
        }
    }
    for (int32_t e = w->moved_head[src]; e >= 0; e = w->moved[e].next_in) {
        const struct moved *m = &w->moved[e];
        /* Moved here by this plan: with a cooldown it has just arrived (the cooldown acts
         * only where the cluster's time is known, policy.md §4). */
        if (w->vm_loc[m->vm] != e || cl->vms[m->vm].pinned ||
            (w->pol->cooldown_s > 0 && cl->has_time) || plan_work_held_together(w, m->vm, src))
            continue;
        struct cand c = {m->vm, m->usage};
        if (!drain && storm_held(w, &c, moved_in_plan(w, m->vm), &g))
            continue;
        if (!found || cand_better(w->pol, cl, &c, &best)) {
            best = c;
            found = true;
        }
    }
    if (found)
        *ret = best;
    if (ret_g != NULL)
        *ret_g = g;
    return found;
}

static void
apply_move(struct work *w, const struct cand *c, size_t src, size_t dst)
{
    const struct vm *v = &w->cl->vms[c->vm];
    double cap_src = w->hp[src].capacity;
    double cap_dst = w->hp[dst].capacity;
    struct moved *m = &w->moved[w->n_moved];
    m->vm = c->vm;
    m->host = (uint32_t)dst;
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        double u = c->usage[k];
        double left = w->usage[src][k] - u;
        w->usage[src][k] = left > 0.0 ? left : 0.0;
        m->usage[k] = u * cap_src / cap_dst;
        w->usage[dst][k] += m->usage[k];
    }
    m->next_in = w->moved_head[dst];
    w->moved_head[dst] = (int32_t)w->n_moved;
    w->vm_loc[c->vm] = (int32_t)w->n_moved;
    w->n_moved++;
    w->vm_count[src]--;
    w->vm_count[dst]++;
    w->moves_at[src]++;
    w->moves_at[dst]++;
    if (v->has_mem) {
        w->mem_used[src] -= v->mem_mib;
        w->mem_used[dst] += v->mem_mib;
    }
    struct destleaf leaf;
    plan_work_leaf(w, src, &leaf);
    destidx_update(&w->idx, src, &leaf);
    plan_work_leaf(w, dst, &leaf);
    destidx_update(&w->idx, dst, &leaf);
}

/* Can the host of `leaf` take what `need` asks, in the kinds of `mask` and memory? */
static bool
leaf_fits(const struct destleaf *leaf, const struct destneed *need, unsigned mask)
{
    if (!leaf->eligible || (need->busy_only && !leaf->busy))
        return false;
    if (!(need->mem_mib < 0 || leaf->mem_free >= need->mem_mib))
        return false;
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if ((mask & KIND_BIT(k)) && !(leaf->free[k] > need->need[k]))
            return false;
    }
    return true;
}

/* VM `vm`'s rules if it went to host `d`: the first "must" rule broken (-1: none) and, while
 * none is, how many "should" rules are kept (*ret_should). */
static int32_t
rules_at(const struct work *w, uint32_t vm, size_t d, uint32_t *ret_should)
{
    *ret_should = 0;
    for (uint32_t k = w->vm_rule_off[vm]; k < w->vm_rule_off[vm + 1]; k++) {
        uint32_t r = w->vm_rules[k];
        bool kept = plan_work_rule_kept(w, r, vm, d);
        if (w->pol->rules[r].must && !kept)
            return (int32_t)r;
        if (!w->pol->rules[r].must && kept)
            (*ret_should)++;
    }
    return -1;
}

/* The best destination for VM `vm` with need `need` under its placement rules, by a scan of
 * every host: the feasible hosts that keep every "must" rule, then the most "should" rules
 * kept, the best score, the lowest index. Notes in w->last_rule_id the must rule that kept it
 * off the host it would otherwise have gone to. */
static bool
best_ruled(struct work *w, uint32_t vm, const struct destneed *need, size_t *ret_d,
           double *ret_score)
{
    bool found = false;
    uint32_t best_should = 0;
    double best_score = 0;
    size_t best = 0;
    bool excl_found = false;
    double excl_score = 0;
    unsigned mask = KIND_BIT(KIND_CPU) | policy_resource_mask(w->pol);
    for (size_t d = 0; d < w->cl->n_hosts; d++) {
        if (d == need->exclude)
            continue;
        struct destleaf leaf;
        plan_work_leaf(w, d, &leaf);
        if (!leaf_fits(&leaf, need, mask))
            continue;
        uint32_t should = 0;
        int32_t broken = rules_at(w, vm, d, &should);
        if (broken >= 0) {
            if (!excl_found || leaf.score > excl_score) {
                excl_found = true;
                excl_score = leaf.score;
                w->last_rule_id = (uint32_t)broken + 1;
                w->last_rule_host = (uint32_t)d;
            }
            continue;
        }
        if (!found || should > best_should || (should == best_should && leaf.score > best_score)) {
            found = true;
            best_should = should;
            best_score = leaf.score;
            best = d;
        }
    }
    if (found) {
        *ret_d = best;
        *ret_score = best_score;
    }
    return found;
}

/* Find the best destination for candidate `c` off `src` and record the move. false: none
 * (w->last_rule_id says whether a rule was the reason). */
static bool
place(struct work *w, const struct cand *c, size_t src, enum plan_move_why why, struct plan *p)
{
    const struct vm *v = &w->cl->vms[c->vm];
    struct destneed need;
    for (unsigned k = 0; k < KIND_COUNT; k++)
        need.need[k] = c->usage[k] * w->hp[src].capacity;
    need.mem_mib = v->has_mem ? v->mem_mib : -1.0;
    need.exclude = src;
    need.busy_only = w->pol->prefer_busy_hosts;
    size_t dst;
    double score;
    w->last_rule_id = 0;
    bool ruled = plan_work_has_rules(w, c->vm);
    bool ok = ruled ? best_ruled(w, c->vm, &need, &dst, &score)
                    : destidx_best(&w->idx, &need, &dst, &score);
    if (!ok && need.busy_only) {
        need.busy_only = false;
        ok = ruled ? best_ruled(w, c->vm, &need, &dst, &score)
                   : destidx_best(&w->idx, &need, &dst, &score);
    }
    if (!ok)
        return false;
    struct plan_move *mv = &p->moves[p->n_moves++];
    mv->vm = c->vm;
    mv->from = (uint32_t)src;
    mv->to = (uint32_t)dst;
    mv->why = why;
    mv->score = score;
    memcpy(mv->vm_usage, c->usage, sizeof(mv->vm_usage));
    memcpy(mv->dest_usage, w->usage[dst], sizeof(mv->dest_usage));
    mv->held_vm = UINT32_MAX;
    mv->held_until = 0;
    apply_move(w, c, src, dst);
    return true;
}

static void
relocate_one(struct work *w, size_t src, struct plan *p)
{
    struct plan_unresolved *un = &p->unresolved[p->n_unresolved];
    un->host = (uint32_t)src;
    un->vm = UINT32_MAX;
    un->rule_id = 0;
    un->rule_host = UINT32_MAX;
    un->until = 0;
    if (w->opts && w->opts->no_source && w->opts->no_source[src]) {
        un->reason = PLAN_REASON_SOURCE_BUSY;
        p->n_unresolved++;
        return;
    }
    /* Limits: migrations at once (counting the caller's running ones), and moves into or
     * out of one host; a conflict past them waits for a later decision, in order. */
    size_t running = w->opts != NULL ? w->opts->running : 0;
    if ((w->pol->max_migrations > 0 && p->n_moves + running >= w->pol->max_migrations) ||
        (w->pol->max_per_host > 0 && w->moves_at[src] >= w->pol->max_per_host)) {
        un->reason = PLAN_REASON_LIMIT;
        p->n_unresolved++;
        return;
    }
    struct cand c;
    struct guarded g;
    if (!pick_vm(w, src, false, &c, &g)) {
        un->reason = g.any ? PLAN_REASON_STORM_GUARD : PLAN_REASON_NO_MOVABLE_VM;
        if (g.any) {
            un->vm = g.c.vm;
            un->until = g.until;
        }
        p->n_unresolved++;
        return;
    }
    if (place(w, &c, src, PLAN_MOVE_CONFLICT, p)) {
        /* Another VM goes because the guard holds the one that would have gone. */
        if (g.any && cand_better(w->pol, w->cl, &g.c, &c)) {
            p->moves[p->n_moves - 1].held_vm = g.c.vm;
            p->moves[p->n_moves - 1].held_until = g.until;
        }
    } else {
        un->vm = c.vm;
        un->reason = PLAN_REASON_NO_DESTINATION;
        un->rule_id = w->last_rule_id;
        un->rule_host = w->last_rule_host;
        p->n_unresolved++;
    }
}

/* What holds the VMs left on a host being drained, none of which can move: a pin, a
 * migration under way, its name on another host too, or a "together" rule; the first such VM
 * is named. */
static void
drain_held(const struct work *w, const struct host *h, struct plan_drain *d)
{
    d->block = PLAN_BLOCK_PINNED;
    for (uint32_t j = 0; j < h->vm_count && d->vm == UINT32_MAX; j++) {
        uint32_t vi = h->vm_first + j;
        if (w->vm_loc[vi] >= 0)
            continue;
        if (w->cl->vms[vi].held)
            d->block = PLAN_BLOCK_BUSY;
        else if (w->cl->vms[vi].duplicate)
            d->block = PLAN_BLOCK_DUPLICATE;
        else if (!w->cl->vms[vi].pinned)
            d->block = PLAN_BLOCK_RULE;
        d->vm = vi;
    }
}

/* Evacuate host `hi` (in maintenance) as far as this plan allows. */
static void
drain_one(struct work *w, size_t hi, struct plan *p)
{
    const struct host *h = &w->cl->hosts[hi];
    struct plan_drain *d = &p->drains[p->n_drains++];
    d->host = (uint32_t)hi;
    d->vms_left = h->vm_count;
    d->moving = 0;
    d->vm = UINT32_MAX;
    d->block = 0;
    d->rule_id = 0;
    d->rule_host = UINT32_MAX;
    if (h->vm_count == 0)
        return;
    if (w->opts->no_source != NULL && w->opts->no_source[hi]) {
        d->block = PLAN_BLOCK_BUSY;
        return;
    }
    uint32_t per = w->pol->max_per_host > 0 ? w->pol->max_per_host : 1;
    while (d->moving < per) {
        if (w->pol->max_migrations > 0 && p->n_moves + w->opts->running >= w->pol->max_migrations) {
            if (d->moving == 0)
                d->block = PLAN_BLOCK_LIMIT;
            return;
        }
        struct cand c;
        if (!pick_vm(w, hi, true, &c, NULL)) {
            if (d->moving == 0)
                drain_held(w, h, d);
            return;
        }
        if (!place(w, &c, hi, PLAN_MOVE_DRAIN, p)) {
            if (d->moving == 0) {
                d->block = PLAN_BLOCK_NO_DESTINATION;
                d->vm = c.vm;
                d->rule_id = w->last_rule_id;
                d->rule_host = w->last_rule_host;
            }
            return;
        }
        d->moving++;
    }
}

int
plan_compute(const struct cluster *cl, const struct policy *pol, const struct plan_opts *opts,
             struct plan *ret)
{
    if (ret->n_conflicts || ret->n_moves || ret->n_unresolved || ret->conflicts)
        return -EINVAL;
    struct work w;
    int r = plan_work_init(&w, cl, pol, opts);
    if (r < 0)
        goto out;
    r = detect_all(&w, ret);
    if (r < 0)
        goto out;
    size_t n_drain_hosts = 0;
    size_t n_drain_vms = 0;
    for (size_t i = 0; opts != NULL && opts->drain && i < cl->n_hosts; i++) {
        if (cl->hosts[i].state == HOST_MAINTENANCE) {
            n_drain_hosts++;
            n_drain_vms += cl->hosts[i].vm_count;
        }
    }
    if (ret->n_conflicts == 0 && n_drain_hosts == 0)
        goto out;
    r = plan_work_prepare_moves(&w, ret->n_conflicts + n_drain_vms);
    if (r < 0)
        goto out;
    ret->moves = malloc((ret->n_conflicts + n_drain_vms + 1) * sizeof(*ret->moves));
    ret->unresolved = malloc((ret->n_conflicts + 1) * sizeof(*ret->unresolved));
    ret->drains = n_drain_hosts > 0 ? malloc(n_drain_hosts * sizeof(*ret->drains)) : NULL;
    if (ret->moves == NULL || ret->unresolved == NULL ||
        (n_drain_hosts > 0 && ret->drains == NULL)) {
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < ret->n_conflicts; i++)
        relocate_one(&w, ret->conflicts[i].host, ret);
    for (size_t i = 0; n_drain_hosts > 0 && i < cl->n_hosts; i++) {
        if (cl->hosts[i].state == HOST_MAINTENANCE)
            drain_one(&w, i, ret);
    }
out:
    plan_work_done(&w);
    if (r < 0)
        plan_done(ret);
    return r;
}

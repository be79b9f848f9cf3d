/* Reference model of policy.md §3 (detection) and §4 (relocation), for differential tests.
 * Each function is one sentence of the spec turned into a loop; the comments quote the
 * sentence. Nothing is cached: "the VMs of a host" is a scan of every VM, "the best host"
 * is a scan of every host. The only state is the working copy that §4.5 asks for. */
#include "ref_plan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The working copy of the model that §4.5 updates after each planned move. */
struct world {
    const struct cluster *cl;
    const struct policy *pol;
    double (*host_u)[KIND_COUNT]; /* each host's total usage, percent of its capacity */
    double (*vm_u)[KIND_COUNT];   /* each VM's usage, percent of the host it is on now */
    uint32_t *on;                 /* the host each VM is on now */
    double *cap;                  /* each host's effective capacity coefficient */
};

/* "A kind ... not measured; its pct is 0": read absent kinds as 0 explicitly. */
static double
pct(const struct usage *u, int k)
{
    if ((u->present & KIND_BIT(k)) == 0) {
        return 0.0;
    }
    return u->pct[k];
}

static const struct host_override *
override_of(const struct policy *pol, const char *name)
{
    for (size_t i = 0; i < pol->n_overrides; i++) {
        if (strcmp(pol->overrides[i].name, name) == 0) {
            return &pol->overrides[i];
        }
    }
    return NULL;
}

/* "capacity = 1.0 ; relative capacity coefficient (> 0), overrides the snapshot's" */
static double
capacity_of(const struct policy *pol, const struct host *h)
{
    const struct host_override *o = override_of(pol, h->name);

    if (o != NULL && o->has_capacity) {
        return o->capacity;
    }
    return h->capacity;
}

/* "U_r >= host_threshold[r] (the host's own override first)": the host's per-kind value,
 * then the host's general value, then [detect]'s per-kind value. */
static double
host_threshold_of(const struct policy *pol, const struct host *h, int k)
{
    const struct host_override *o = override_of(pol, h->name);

    if (o != NULL && (o->has_threshold & KIND_BIT(k)) != 0) {
        return o->host_threshold[k];
    }
    if (o != NULL && o->has_threshold_all) {
        return o->host_threshold_all;
    }
    return pol->host_threshold[k];
}

static unsigned
resource_mask(const struct policy *pol)
{
    unsigned m = 0;

    for (size_t i = 0; i < pol->n_resources; i++) {
        m |= KIND_BIT(pol->resources[i]);
    }
    return m;
}

/* §3 on host `hi` of the snapshot as given. Returns whether it is in conflict; then *c is
 * filled except vm_off, and the conflicting VMs (model order) are in vms[0 .. *n). */
static bool
detect(const struct cluster *cl, const struct policy *pol, size_t hi, bool *scratch,
       struct ref_conflict *c, uint32_t *vms, size_t *n)
{
    const struct host *h = &cl->hosts[hi];
    size_t nr = pol->n_resources;
    bool holds[KIND_COUNT];
    bool *vm_high[KIND_COUNT]; /* vm_high[i][j]: the host's j-th VM is high in resources[i] */
    bool conflict = false;

    *n = 0;
    memset(c, 0, sizeof(*c));
    c->host = (uint32_t)hi;
    /* "A host whose state is not up is not checked." */
    if (h->state != HOST_UP) {
        return false;
    }
    /* "A host with fewer than min_vms VMs is never in conflict." */
    if (h->vm_count < pol->min_vms) {
        return false;
    }
    for (size_t i = 0; i < nr; i++) {
        vm_high[i] = scratch + i * h->vm_count;
    }
    for (size_t i = 0; i < nr; i++) {
        int k = (int)pol->resources[i];
        double u = pct(&h->usage, k);
        double n_vms = (double)h->vm_count;
        double t;

        c->host_threshold[k] = host_threshold_of(pol, h, k);
        /* "the host part holds when U_r >= host_threshold[r]" */
        holds[i] = u >= c->host_threshold[k];
        /* "T_r = vm_threshold_value[r] (fixed) or T_r = U_r / N - k (share)" */
        if (pol->vm_threshold == VM_THRESHOLD_FIXED) {
            t = pol->vm_threshold_value[k];
        } else {
            t = u / n_vms - pol->vm_threshold_k;
        }
        c->vm_threshold[k] = t;
        /* "a VM is high in r when its usage of r is >= T_r" */
        for (uint32_t j = 0; j < h->vm_count; j++) {
            vm_high[i][j] = pct(&cl->vms[h->vm_first + j].usage, k) >= t;
        }
    }
    if (pol->combine == COMBINE_ANY) {
        /* "for at least one kind r, the host part holds and at least min_vms VMs are high
         * in r"; reported VMs: "those high in a triggering kind". */
        bool trig[KIND_COUNT] = {false};

        for (size_t i = 0; i < nr; i++) {
            uint32_t count = 0;

            for (uint32_t j = 0; j < h->vm_count; j++) {
                count += vm_high[i][j] ? 1u : 0u;
            }
            trig[i] = holds[i] && count >= pol->min_vms;
            if (trig[i]) {
                c->kinds = (uint8_t)(c->kinds | KIND_BIT(pol->resources[i]));
                conflict = true;
            }
        }
        for (uint32_t j = 0; conflict && j < h->vm_count; j++) {
            bool in = false;

            for (size_t i = 0; i < nr; i++) {
                in = in || (trig[i] && vm_high[i][j]);
            }
            if (in) {
                vms[(*n)++] = h->vm_first + j;
            }
        }
    } else {
        /* "the host part must hold for every kind, and at least min_vms VMs must each be
         * high in every kind"; reported: "every kind" and the VMs high in every kind. */
        bool all_hold = true;

        for (size_t i = 0; i < nr; i++) {
            all_hold = all_hold && holds[i];
        }
        for (uint32_t j = 0; all_hold && j < h->vm_count; j++) {
            bool every = true;

            for (size_t i = 0; i < nr; i++) {
                every = every && vm_high[i][j];
            }
            if (every) {
                vms[(*n)++] = h->vm_first + j;
            }
        }
        conflict = all_hold && *n >= pol->min_vms;
        if (conflict) {
            c->kinds = (uint8_t)resource_mask(pol);
        }
    }
    if (!conflict) {
        *n = 0;
    }
    return conflict;
}

static uint32_t
vms_on(const struct world *w, size_t hi)
{
    uint32_t n = 0;

    for (size_t v = 0; v < w->cl->n_vms; v++) {
        n += w->on[v] == hi ? 1u : 0u;
    }
    return n;
}

/* "the destination's free memory (mem_mib minus its VMs' mem_mib) is at least the VM's" */
static bool
memory_fits(const struct world *w, size_t v, size_t d)
{
    const struct host *h = &w->cl->hosts[d];
    const struct vm *vm = &w->cl->vms[v];
    double used = 0.0;

    if (!h->has_mem || !vm->has_mem) {
        return true;
    }
    for (size_t o = 0; o < w->cl->n_vms; o++) {
        if (w->on[o] == d && w->cl->vms[o].has_mem) {
            used += w->cl->vms[o].mem_mib;
        }
    }
    return h->mem_mib - used >= vm->mem_mib;
}

/* §4.4: "for cpu and every kind in detect.resources, (limit_r(dest) - U_r(dest)) * cap(dest)
 * > usage_r(vm) * cap(source) (strictly greater), where limit_r(dest) is the destination's
 * own host threshold for r (with dest_headroom = yes, the default) or 100 (with
 * dest_headroom = no)", and memory. */
static bool
feasible(const struct world *w, size_t v, size_t src, size_t d)
{
    unsigned mask = resource_mask(w->pol) | KIND_BIT(KIND_CPU);

    for (int k = 0; k < KIND_COUNT; k++) {
        if ((mask & KIND_BIT(k)) == 0) {
            continue;
        }
        double limit =
            w->pol->dest_headroom ? host_threshold_of(w->pol, &w->cl->hosts[d], k) : 100.0;
        if (!((limit - w->host_u[d][k]) * w->cap[d] > w->vm_u[v][k] * w->cap[src])) {
            return false;
        }
    }
    return memory_fits(w, v, d);
}

/* §4.3 score; see better() for its direction. */
static double
dest_score(const struct world *w, size_t d)
{
    const struct policy *pol = w->pol;
    int r = (int)pol->dest_select_resource;
    double s = 0.0;

    switch (pol->dest_select) {
    case DEST_SELECT_FREE:
        return (100.0 - w->host_u[d][r]) * w->cap[d];
    case DEST_SELECT_LEAST_USED:
        return w->host_u[d][r] * w->cap[d];
    case DEST_SELECT_WEIGHTED:
        for (int k = 0; k < KIND_COUNT; k++) {
            s += pol->weights[k] * (100.0 - w->host_u[d][k]) * w->cap[d];
        }
        return s;
    }
    return s;
}

static bool
better(const struct policy *pol, double a, double b)
{
    if (pol->dest_select == DEST_SELECT_LEAST_USED) {
        return a < b;
    }
    return a > b;
}

/* §4.3: best-scoring feasible up host other than `src`, first in model order on ties;
 * `busy` 1: only hosts running a VM, 0: only hosts running none, -1: any. */
static bool
best_dest(const struct world *w, size_t v, size_t src, const bool *no_dest, int busy, size_t *ret_d,
          double *ret_score)
{
    bool found = false;
    double best = 0.0;
    size_t best_d = 0;

    for (size_t d = 0; d < w->cl->n_hosts; d++) {
        double s;

        if (d == src || w->cl->hosts[d].state != HOST_UP) {
            continue;
        }
        if (no_dest != NULL && no_dest[d]) {
            continue;
        }
        if (busy >= 0 && (vms_on(w, d) > 0) != (busy == 1)) {
            continue;
        }
        if (!feasible(w, v, src, d)) {
            continue;
        }
        s = dest_score(w, d);
        if (!found || better(w->pol, s, best)) {
            found = true;
            best = s;
            best_d = d;
        }
    }
    if (found) {
        *ret_d = best_d;
        *ret_score = best;
    }
    return found;
}

/* §4.2: "among the source's VMs that are not pinned, the one with the highest ...; ties go
 * to the VM that comes first in the snapshot". The source's VMs are the ones on it now,
 * including any moved in earlier in the plan. ASSUMPTION: "first in the snapshot" is the
 * VM's index in the model, so a VM moved in from an earlier host precedes the host's own.
 * Returns whether there is one. */
static bool
choose_vm(const struct world *w, size_t src, size_t *ret_v)
{
    const struct policy *pol = w->pol;
    bool found = false;
    size_t best = 0;

    for (size_t v = 0; v < w->cl->n_vms; v++) {
        const struct vm *vm = &w->cl->vms[v];
        bool wins;

        if (w->on[v] != src || vm->pinned) {
            continue;
        }
        if (!found) {
            wins = true;
        } else if (pol->vm_select == VM_SELECT_PRIORITY) {
            wins = vm->priority > w->cl->vms[best].priority;
        } else if (pol->vm_select == VM_SELECT_USAGE) {
            int r = (int)pol->vm_select_resource;

            wins = w->vm_u[v][r] > w->vm_u[best][r];
        } else {
            double a = 0.0;
            double b = 0.0;

            for (int k = 0; k < KIND_COUNT; k++) {
                a += pol->weights[k] * w->vm_u[v][k];
                b += pol->weights[k] * w->vm_u[best][k];
            }
            a += pol->weight_priority * (double)vm->priority;
            b += pol->weight_priority * (double)w->cl->vms[best].priority;
            wins = a > b;
        }
        if (wins) {
            found = true;
            best = v;
        }
    }
    if (found) {
        *ret_v = best;
    }
    return found;
}

/* §4.5: "the source loses the VM's usage, the destination gains usage_r(vm) * cap(source) /
 * cap(dest) for every kind, and the VM now counts as one of the destination's VMs".
 * Two readings the spec leaves open (see the test report):
 *  - ASSUMPTION: the VM's own usage is re-expressed in percent of its new host (usage is
 *    "a percent of that host's capacity", §1), so a VM moved twice needs the same absolute
 *    room both times;
 *  - ASSUMPTION: the source's usage stops at 0 (usage is "from 0 to 100", §1), since a
 *    host's measured total may be below the sum of its VMs (snapshot.schema.md). */
static void
apply_move(struct world *w, size_t v, size_t src, size_t d)
{
    for (int k = 0; k < KIND_COUNT; k++) {
        double moved = w->vm_u[v][k] * w->cap[src] / w->cap[d];

        w->host_u[src][k] -= w->vm_u[v][k];
        if (w->host_u[src][k] < 0.0) {
            w->host_u[src][k] = 0.0;
        }
        w->host_u[d][k] += moved;
        w->vm_u[v][k] = moved;
    }
    w->on[v] = (uint32_t)d;
}

static int
relocate(struct world *w, size_t src, const bool *no_dest, const bool *no_source,
         struct ref_plan *p)
{
    struct ref_unresolved *un = &p->unresolved[p->n_unresolved];
    struct ref_move *mv = &p->moves[p->n_moves];
    size_t v = 0;
    size_t d = 0;
    double score = 0.0;
    bool found;

    un->host = (uint32_t)src;
    un->vm = UINT32_MAX;
    if (no_source != NULL && no_source[src]) {
        un->reason = REF_REASON_SOURCE_BUSY;
        p->n_unresolved++;
        return 0;
    }
    if (!choose_vm(w, src, &v)) {
        un->reason = REF_REASON_NO_MOVABLE_VM;
        p->n_unresolved++;
        return 0;
    }
    /* "With prefer_busy_hosts = yes, hosts that run no VM are considered only when no host
     * running a VM is feasible." */
    if (w->pol->prefer_busy_hosts) {
        found = best_dest(w, v, src, no_dest, 1, &d, &score) ||
                best_dest(w, v, src, no_dest, 0, &d, &score);
    } else {
        found = best_dest(w, v, src, no_dest, -1, &d, &score);
    }
    if (!found) {
        un->vm = (uint32_t)v;
        un->reason = REF_REASON_NO_DESTINATION;
        p->n_unresolved++;
        return 0;
    }
    mv->vm = (uint32_t)v;
    mv->from = (uint32_t)src;
    mv->to = (uint32_t)d;
    mv->score = score;
    memcpy(mv->vm_usage, w->vm_u[v], sizeof(mv->vm_usage));
    memcpy(mv->dest_usage, w->host_u[d], sizeof(mv->dest_usage));
    p->n_moves++;
    apply_move(w, v, src, d);
    return 0;
}

int
ref_plan_compute(const struct cluster *cl, const struct policy *pol, const bool *no_dest,
                 const bool *no_source, struct ref_plan *ret)
{
    struct ref_plan p;
    struct world w;
    size_t nh = cl->n_hosts;
    size_t nv = cl->n_vms;
    bool *scratch = NULL;
    int r = -ENOMEM;

    memset(&p, 0, sizeof(p));
    memset(&w, 0, sizeof(w));
    w.cl = cl;
    w.pol = pol;
    p.conflicts = calloc(nh + 1, sizeof(*p.conflicts));
    p.conflict_vms = calloc(nv + 1, sizeof(*p.conflict_vms));
    p.moves = calloc(nh + 1, sizeof(*p.moves));
    p.unresolved = calloc(nh + 1, sizeof(*p.unresolved));
    w.host_u = calloc(nh + 1, sizeof(*w.host_u));
    w.vm_u = calloc(nv + 1, sizeof(*w.vm_u));
    w.on = calloc(nv + 1, sizeof(*w.on));
    w.cap = calloc(nh + 1, sizeof(*w.cap));
    scratch = calloc(KIND_COUNT * (nv + 1), sizeof(*scratch));
    if (scratch == NULL || p.conflicts == NULL || p.conflict_vms == NULL || p.moves == NULL ||
        p.unresolved == NULL || w.host_u == NULL || w.vm_u == NULL || w.on == NULL ||
        w.cap == NULL) {
        goto out;
    }
    for (size_t h = 0; h < nh; h++) {
        for (int k = 0; k < KIND_COUNT; k++) {
            w.host_u[h][k] = pct(&cl->hosts[h].usage, k);
        }
        w.cap[h] = capacity_of(pol, &cl->hosts[h]);
    }
    for (size_t v = 0; v < nv; v++) {
        for (int k = 0; k < KIND_COUNT; k++) {
            w.vm_u[v][k] = pct(&cl->vms[v].usage, k);
        }
        w.on[v] = cl->vms[v].host;
    }
    /* "All conflicts are found first, on the snapshot as given." */
    for (size_t h = 0; h < nh; h++) {
        struct ref_conflict c;
        size_t n = 0;

        if (detect(cl, pol, h, scratch, &c, p.conflict_vms + p.n_conflict_vms, &n)) {
            c.vm_off = p.n_conflict_vms;
            c.vm_count = n;
            p.conflicts[p.n_conflicts++] = c;
            p.n_conflict_vms += n;
        }
    }
    /* "Then each conflicting host, in snapshot order, gets at most one migration" */
    for (size_t i = 0; i < p.n_conflicts; i++) {
        r = relocate(&w, p.conflicts[i].host, no_dest, no_source, &p);
        if (r < 0) {
            goto out;
        }
    }
    *ret = p;
    memset(&p, 0, sizeof(p));
    r = 0;
out:
    ref_plan_done(&p);
    free(w.host_u);
    free(w.vm_u);
    free(w.on);
    free(w.cap);
    free(scratch);
    return r;
}

void
ref_plan_done(struct ref_plan *p)
{
    if (p == NULL) {
        return;
    }
    free(p->conflicts);
    free(p->conflict_vms);
    free(p->moves);
    free(p->unresolved);
    memset(p, 0, sizeof(*p));
}

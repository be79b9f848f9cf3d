/* Consolidation. Receivers are kept in an index of buckets by their remaining cpu room
 * (target minus usage, in absolute units: percent times capacity coefficient), with a bitmap
 * of non-empty buckets, so "the host with the least room that still fits" is found by
 * looking at the VM's own bucket and then the next non-empty one: best fit to within a
 * 1/4096 of the largest room, in about constant time. Other checked kinds and memory are
 * verified on each host looked at. Everything is planned on working copies; a candidate whose
 * VMs do not all fit is rolled back. */
#include "core/consolidate.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"

#define NB 4096u
#define NW (NB / 64u)
#define NIL UINT32_MAX

void
consolidation_init(struct consolidation *c)
{
    memset(c, 0, sizeof(*c));
}

void
consolidation_done(struct consolidation *c)
{
    if (c == NULL)
        return;
    free(c->moves);
    free(c->emptied);
    consolidation_init(c);
}

struct work {
    const struct cluster *cl;
    const struct policy *pol;
    const double *peak; /* per VM, or NULL */
    double target;
    double *cap;    /* per host */
    double *use;    /* per host x KIND_COUNT, absolute */
    double *mem;    /* per host: free MiB, or -1 when unknown */
    uint32_t *next; /* bucket lists */
    uint32_t *prev;
    uint32_t *bucket; /* per host: its bucket, NIL when not indexed */
    uint32_t head[NB];
    uint64_t bits[NW];
    double scale;  /* buckets per unit of room */
    uint8_t *recv; /* per host: received VMs in this call */
};

static double
room_of(const struct work *w, uint32_t h)
{
    return w->target * w->cap[h] - w->use[(size_t)h * KIND_COUNT + KIND_CPU];
}

static uint32_t
bucket_for(const struct work *w, double room)
{
    if (room <= 0)
        return 0;
    double b = room * w->scale;
    if (b >= (double)(NB - 1))
        return NB - 1;
    return (uint32_t)b;
}

/* Index `h` as a receiver, unless it has no room left: a host at or above the target can
 * take nothing (every VM's usage is >= 0 and the host must stay strictly below), and
 * keeping such hosts would only use up the tries of find_receiver(). */
static void
index_add(struct work *w, uint32_t h)
{
    if (!(room_of(w, h) > 0)) {
        w->bucket[h] = NIL;
        return;
    }
    uint32_t b = bucket_for(w, room_of(w, h));
    w->bucket[h] = b;
    w->prev[h] = NIL;
    w->next[h] = w->head[b];
    if (w->head[b] != NIL)
        w->prev[w->head[b]] = h;
    w->head[b] = h;
    w->bits[b / 64u] |= (uint64_t)1 << (b % 64u);
}

static void
index_del(struct work *w, uint32_t h)
{
    uint32_t b = w->bucket[h];
    if (b == NIL)
        return;
    if (w->prev[h] != NIL)
        w->next[w->prev[h]] = w->next[h];
    else
        w->head[b] = w->next[h];
    if (w->next[h] != NIL)
        w->prev[w->next[h]] = w->prev[h];
    if (w->head[b] == NIL)
        w->bits[b / 64u] &= ~((uint64_t)1 << (b % 64u));
    w->bucket[h] = NIL;
}

/* The first non-empty bucket at or after `b`, or NB. */
static uint32_t
next_bucket(const struct work *w, uint32_t b)
{
    while (b < NB) {
        uint64_t word = w->bits[b / 64u] >> (b % 64u);
        if (word != 0)
            return b + (uint32_t)__builtin_ctzll(word);
        b = (b / 64u + 1u) * 64u;
    }
    return NB;
}

/* The cpu a VM is placed with: its usage, or its recent peak when known and higher. */
static double
cpu_need(const struct work *w, uint32_t vi)
{
    double u = usage_get(&w->cl->vms[vi].usage, KIND_CPU);
    if (w->peak != NULL && w->peak[vi] > u)
        return w->peak[vi];
    return u;
}

/* Whether VM `vi` (usage from host `src`) fits on `h` below the target in every kind. */
static bool
fits(const struct work *w, uint32_t vi, uint32_t src, uint32_t h)
{
    const struct vm *v = &w->cl->vms[vi];
    double cs = w->cap[src];
    double ch = w->cap[h];
    const double *u = &w->use[(size_t)h * KIND_COUNT];
    if (u[KIND_CPU] + cpu_need(w, vi) * cs >= w->target * ch)
        return false;
    for (size_t i = 0; i < w->pol->n_resources; i++) {
        enum kind k = w->pol->resources[i];
        if (u[k] + usage_get(&v->usage, k) * cs >= w->target * ch)
            return false;
    }
    if (v->has_mem && w->mem[h] < v->mem_mib)
        return false;
    return true;
}

/* Receivers examined per VM at most: other kinds or memory can make many hosts with
 * enough cpu room unfit; past this bound the VM is treated as fitting nowhere (and its host
 * is not emptied), which keeps a call near-linear whatever the cluster. */
#define MAX_TRIES 256u

static uint32_t
find_receiver(const struct work *w, uint32_t vi, uint32_t src)
{
    double need = cpu_need(w, vi) * w->cap[src];
    uint32_t b = bucket_for(w, need);
    uint32_t tries = 0;
    for (b = next_bucket(w, b); b < NB; b = next_bucket(w, b + 1)) {
        for (uint32_t h = w->head[b]; h != NIL; h = w->next[h]) {
            if (fits(w, vi, src, h))
                return h;
            if (++tries >= MAX_TRIES)
                return NIL;
        }
    }
    return NIL;
}

static void
apply(struct work *w, uint32_t vi, uint32_t src, uint32_t h, double sign)
{
    const struct vm *v = &w->cl->vms[vi];
    double cs = w->cap[src];
    for (size_t k = 0; k < KIND_COUNT; k++)
        w->use[(size_t)h * KIND_COUNT + k] += sign * v->usage.pct[k] * cs;
    if (v->has_mem && isfinite(w->mem[h]))
        w->mem[h] -= sign * v->mem_mib;
}

static int
cmp_u32_by(const void *a, const void *b, const double *key)
{
    uint32_t x = *(const uint32_t *)a;
    uint32_t y = *(const uint32_t *)b;
    if (key[x] < key[y])
        return -1;
    if (key[x] > key[y])
        return 1;
    return (x > y) - (x < y);
}

/* A stable merge sort of indices by key[index] (qsort has no context argument). */
static void
sort_by_key(uint32_t *a, uint32_t *tmp, size_t n, const double *key)
{
    if (n < 2)
        return;
    size_t mid = n / 2;
    sort_by_key(a, tmp, mid, key);
    sort_by_key(a + mid, tmp, n - mid, key);
    size_t i = 0, j = mid, k = 0;
    while (i < mid && j < n)
        tmp[k++] = cmp_u32_by(&a[j], &a[i], key) < 0 ? a[j++] : a[i++];
    while (i < mid)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof(*a));
}

static int
push_move(struct consolidation *c, size_t *cap, uint32_t vm, uint32_t from, uint32_t to)
{
    struct consolidate_move *nm = grow_array(c->moves, cap, c->n_moves + 1, sizeof(*nm), 64);
    if (nm == NULL)
        return -ENOMEM;
    c->moves = nm;
    c->moves[c->n_moves++] = (struct consolidate_move){.vm = vm, .from = from, .to = to};
    return 0;
}

static bool
candidate(const struct cluster *cl, const struct policy *pol, const struct consolidate_opts *o,
          uint32_t h)
{
    const struct host *hs = &cl->hosts[h];
    if (hs->state != HOST_UP || hs->vm_count == 0)
        return false;
    if (o->no_source != NULL && o->no_source[h])
        return false;
    if (!(usage_get(&hs->usage, KIND_CPU) < o->below_pct))
        return false;
    for (uint32_t i = 0; i < hs->vm_count; i++)
        if (cl->vms[hs->vm_first + i].pinned || cl->vms[hs->vm_first + i].duplicate ||
            policy_vm_cooling(pol, cl, hs->vm_first + i) ||
            policy_vm_storm_guarded(pol, cl, hs->vm_first + i, 0, NULL) ||
            policy_vm_has_rules(pol, cl->vms[hs->vm_first + i].name))
            return false;
    return true;
}

/* The order candidates are emptied in, smallest first: least used, or, with the hosts'
 * power, least efficient: the most watts per unit of work served at the current load (a
 * host serving nothing comes first). */
static double
candidate_key(const struct work *w, const struct consolidate_opts *o, uint32_t h)
{
    double u = usage_get(&w->cl->hosts[h].usage, KIND_CPU);
    if (o->idle_w == NULL || o->peak_w == NULL)
        return u;
    if (!(u > 0))
        return -INFINITY;
    double f = u / 100.0;
    double watts = o->idle_w[h] + (o->peak_w[h] - o->idle_w[h]) * f;
    return -(watts / (f * w->cap[h]));
}

/* The working state's hosts from the cluster: capacity, usage and free memory, and the scale
 * of the receivers' buckets. */
static void
work_load(struct work *w)
{
    const struct cluster *cl = w->cl;
    for (uint32_t b = 0; b < NB; b++)
        w->head[b] = NIL;
    double max_room = 0;
    for (size_t h = 0; h < cl->n_hosts; h++) {
        const struct host *hs = &cl->hosts[h];
        struct host_params hp;
        policy_host_params(w->pol, hs, &hp);
        w->cap[h] = hp.capacity;
        for (size_t k = 0; k < KIND_COUNT; k++)
            w->use[h * KIND_COUNT + k] = hs->usage.pct[k] * hp.capacity;
        double used_mem = 0;
        for (uint32_t i = 0; i < hs->vm_count; i++)
            if (cl->vms[hs->vm_first + i].has_mem)
                used_mem += cl->vms[hs->vm_first + i].mem_mib;
        w->mem[h] = hs->has_mem ? hs->mem_mib - hp.mem_reserve_mib - used_mem : INFINITY;
        w->bucket[h] = NIL;
        if (w->target * hp.capacity > max_room)
            max_room = w->target * hp.capacity;
    }
    w->scale = max_room > 0 ? (double)NB / max_room : 1;
}

/* Room to sort one host's VMs: their indices, sort keys and the sort's scratch. */
struct scratch {
    uint32_t *vms;
    double *vkey;
    uint32_t *tmp;
};

/* Try to empty host `c`: each of its VMs, heaviest first, onto a receiver; all or none (the
 * moves of a host that cannot be emptied are undone). 1 emptied, 0 not, -ENOMEM. */
static int
try_empty(struct work *w, struct scratch *sc, uint32_t c, struct consolidation *res,
          size_t *cap_moves)
{
    const struct cluster *cl = w->cl;
    const struct host *hs = &cl->hosts[c];
    bool indexed = w->bucket[c] != NIL;
    index_del(w, c);
    for (uint32_t i = 0; i < hs->vm_count; i++) {
        uint32_t vi = hs->vm_first + i;
        sc->vms[i] = vi;
        sc->vkey[vi] = -usage_get(&cl->vms[vi].usage, KIND_CPU);
    }
    sort_by_key(sc->vms, sc->tmp, hs->vm_count, sc->vkey);
    size_t first = res->n_moves;
    bool ok = true;
    for (uint32_t i = 0; i < hs->vm_count && ok; i++) {
        uint32_t dst = find_receiver(w, sc->vms[i], c);
        if (dst == NIL) {
            ok = false;
            break;
        }
        index_del(w, dst);
        apply(w, sc->vms[i], c, dst, 1);
        index_add(w, dst);
        int r = push_move(res, cap_moves, sc->vms[i], c, dst);
        if (r < 0)
            return r;
    }
    if (!ok) {
        for (size_t m = res->n_moves; m > first; m--) {
            const struct consolidate_move *mv = &res->moves[m - 1];
            index_del(w, mv->to);
            apply(w, mv->vm, mv->from, mv->to, -1);
            index_add(w, mv->to);
        }
        res->n_moves = first;
        if (indexed)
            index_add(w, c);
        return 0;
    }
    for (size_t m = first; m < res->n_moves; m++)
        w->recv[res->moves[m].to] = 1;
    res->emptied[res->n_emptied++] = c;
    return 1;
}

int
consolidate_plan(const struct cluster *cl, const struct policy *pol,
                 const struct consolidate_opts *opts, struct consolidation *ret)
{
    if (ret->moves != NULL || ret->emptied != NULL)
        return -EINVAL;
    size_t nh = cl->n_hosts;
    struct consolidation res;
    consolidation_init(&res);
    size_t cap_moves = 0;
    struct work w;
    memset(&w, 0, sizeof(w));
    w.cl = cl;
    w.pol = pol;
    w.target = opts->target_pct;
    w.peak = opts->vm_peak_pct;
    int r = -ENOMEM;
    w.cap = malloc((nh + 1) * sizeof(*w.cap));
    w.use = malloc((nh + 1) * KIND_COUNT * sizeof(*w.use));
    w.mem = malloc((nh + 1) * sizeof(*w.mem));
    w.next = malloc((nh + 1) * sizeof(*w.next));
    w.prev = malloc((nh + 1) * sizeof(*w.prev));
    w.bucket = malloc((nh + 1) * sizeof(*w.bucket));
    w.recv = calloc(nh + 1, 1);
    uint32_t *cand = malloc((nh + 1) * sizeof(*cand));
    uint32_t *tmp = malloc((cl->n_vms + nh + 1) * sizeof(*tmp));
    double *hkey = malloc((nh + 1) * sizeof(*hkey));
    double *vkey = malloc((cl->n_vms + 1) * sizeof(*vkey));
    uint32_t *vms = malloc((cl->n_vms + 1) * sizeof(*vms));
    res.emptied = malloc((nh + 1) * sizeof(*res.emptied));
    if (w.cap == NULL || w.use == NULL || w.mem == NULL || w.next == NULL || w.prev == NULL ||
        w.bucket == NULL || w.recv == NULL || cand == NULL || tmp == NULL || hkey == NULL ||
        vkey == NULL || vms == NULL || res.emptied == NULL)
        goto out;
    work_load(&w);
    size_t nc = 0;
    for (uint32_t h = 0; h < nh; h++) {
        const struct host *hs = &cl->hosts[h];
        bool recv = hs->state == HOST_UP && hs->vm_count > 0 &&
                    (opts->no_dest == NULL || !opts->no_dest[h]) &&
                    !policy_host_excluded(pol, hs->name);
        if (recv)
            index_add(&w, h);
        if (candidate(cl, pol, opts, h)) {
            cand[nc++] = h;
            hkey[h] = candidate_key(&w, opts, h);
        }
    }
    sort_by_key(cand, tmp, nc, hkey);
    for (size_t ci = 0; ci < nc; ci++) {
        if (opts->max_hosts != 0 && res.n_emptied >= opts->max_hosts)
            break;
        uint32_t c = cand[ci];
        if (w.recv[c])
            continue;
        struct scratch sc = {vms, vkey, tmp};
        r = try_empty(&w, &sc, c, &res, &cap_moves);
        if (r < 0)
            goto out;
    }
    r = 0;
out:
    free(w.cap);
    free(w.use);
    free(w.mem);
    free(w.next);
    free(w.prev);
    free(w.bucket);
    free(w.recv);
    free(cand);
    free(tmp);
    free(hkey);
    free(vkey);
    free(vms);
    if (r < 0) {
        consolidation_done(&res);
        return r;
    }
    *ret = res;
    return 0;
}

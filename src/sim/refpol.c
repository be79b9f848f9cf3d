/* Reference policies, as the reference implementation runs them at each decision step:
 *
 *  1. every host is checked by the detector, in host order;
 *  2. the current placement is saved;
 *  3. from each overloaded host, the VM the selection policy picks (not migrating) is taken
 *     off, again and again until the host is no longer overloaded;
 *  4. those VMs, largest current MIPS first, each go to the host whose power grows least
 *     (not overloaded ones; a host already running VMs must not become overloaded);
 *  5. then the least used active host (not overloaded, not switched off, not a destination,
 *     not busy with migrations) is emptied the same way if all its VMs fit elsewhere, and
 *     the next one tried, until every host has been considered;
 *  6. the saved placement is restored and the chosen migrations start.
 *
 * Tentative placements really go through the data centre's scheduler (dc_vm_create), as the
 * power and suitability of the next choice depend on them. */
#include "sim/refpol.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "sim/place0.h"
#include "sim/refstat.h"

void
refpol_init(struct refpol *p, enum refpol_detector detector, enum refpol_selection selection,
            double param, uint64_t seed)
{
    memset(p, 0, sizeof(*p));
    p->detector = detector;
    p->selection = selection;
    p->param = param;
    refstat_rng_seed(&p->rng, seed);
}

void
refpol_done(struct refpol *p)
{
    if (p == NULL)
        return;
    free(p->moves);
    free(p->saved);
    free(p->list);
    free(p->mark);
    free(p->mark2);
    memset(p, 0, sizeof(*p));
}

double
refpol_default_param(enum refpol_detector det)
{
    switch (det) {
    case REFPOL_THR:
        return 0.8;
    case REFPOL_IQR:
        return 1.5;
    case REFPOL_MAD:
        return 2.5;
    case REFPOL_LR:
    case REFPOL_LRR:
        return 1.2;
    case REFPOL_NONE:
        break;
    }
    return 0;
}

/* ---- statistics on a host's history ---- */

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static double
iqr(const double *data, size_t n)
{
    double s[DC_HIST];
    memcpy(s, data, n * sizeof(*s));
    qsort(s, n, sizeof(*s), cmp_double);
    long q1 = lround(0.25 * (double)(n + 1)) - 1;
    long q3 = lround(0.75 * (double)(n + 1)) - 1;
    return s[q3] - s[q1];
}

static double
mad(const double *data, size_t n)
{
    double s[DC_HIST];
    memcpy(s, data, n * sizeof(*s));
    double m = refstat_median(s, n);
    double dev[DC_HIST];
    for (size_t i = 0; i < n; i++)
        dev[i] = fabs(m - data[i]);
    return refstat_median(dev, n);
}

/* ---- detection ---- */

static bool
thr_over(const struct dc *d, uint32_t hi, uint32_t extra, double thr)
{
    const struct dc_host *h = &d->hosts[hi];
    double req = h->req_sum;
    if (extra != DC_NONE)
        req += d->vms[extra].req;
    return req / h->total_mips > thr;
}

/* Whether host `hi`, with VM `extra` added when not DC_NONE, is overloaded. */
static bool
overloaded(const struct dc *d, const struct refpol *p, uint32_t hi, uint32_t extra)
{
    double hist[DC_HIST];
    switch (p->detector) {
    case REFPOL_NONE:
        return false;
    case REFPOL_THR:
        return thr_over(d, hi, extra, p->param);
    case REFPOL_IQR:
    case REFPOL_MAD: {
        size_t n = dc_host_history(d, hi, extra, hist);
        if (n < 12)
            return thr_over(d, hi, extra, 0.7);
        double spread = p->detector == REFPOL_IQR ? iqr(hist, n) : mad(hist, n);
        double upper = 1 - p->param * spread;
        const struct dc_host *h = &d->hosts[hi];
        double req = h->req_sum + (extra != DC_NONE ? d->vms[extra].req : 0);
        return req / h->total_mips > upper;
    }
    case REFPOL_LR:
    case REFPOL_LRR: {
        size_t n = dc_host_history(d, hi, extra, hist);
        if (n < 10)
            return thr_over(d, hi, extra, 0.7);
        double y[10];
        double x[10];
        for (size_t i = 0; i < 10; i++) {
            y[i] = hist[10 - i - 1];
            x[i] = (double)(i + 1);
        }
        double a, b;
        if (p->detector == REFPOL_LR)
            refstat_fit_line(x, y, 10, &a, &b);
        else
            refstat_lrr_line(y, 10, &a, &b);
        /* The longest migration off this host, in decision intervals. */
        const struct dc_host *h = &d->hosts[hi];
        double max_ram = 0;
        for (uint32_t i = 0; i < h->n_slots; i++)
            max_ram = fmax(max_ram, d->vms[h->slots[i].vm].ram_mib);
        if (extra != DC_NONE)
            max_ram = fmax(max_ram, d->vms[extra].ram_mib);
        double mig_s = max_ram / (h->type->bw_mbit * d->bw_share / 8.0);
        double intervals = ceil(mig_s / d->step_s);
        double predicted = (a + b * (10 + intervals)) * p->param;
        return predicted >= 1;
    }
    }
    return false;
}

bool
refpol_overloaded(struct dc *d, struct refpol *p, uint32_t h)
{
    return overloaded(d, p, h, DC_NONE);
}

/* ---- placement ---- */

static int
ensure_scratch(struct refpol *p, const struct dc *d)
{
    if (p->n_hosts == d->n_hosts && p->mark != NULL)
        return 0;
    free(p->mark);
    free(p->mark2);
    p->mark = calloc(d->n_hosts, sizeof(*p->mark));
    p->mark2 = calloc(d->n_hosts, sizeof(*p->mark2));
    if (p->mark == NULL || p->mark2 == NULL)
        return -ENOMEM;
    p->n_hosts = d->n_hosts;
    p->gen = 0;
    return 0;
}

static int
push_move(struct refpol *p, uint32_t vm, uint32_t dest)
{
    struct refpol_move *nm = grow_array(p->moves, &p->cap_moves, p->n_moves + 1, sizeof(*nm), 64);
    if (nm == NULL)
        return -ENOMEM;
    p->moves = nm;
    p->moves[p->n_moves++] = (struct refpol_move){.vm = vm, .dest = dest};
    return 0;
}

static int
push_list(struct refpol *p, size_t *n, uint32_t v)
{
    uint32_t *nl = grow_array(p->list, &p->cap_list, *n + 1, sizeof(*nl), 256);
    if (nl == NULL)
        return -ENOMEM;
    p->list = nl;
    p->list[(*n)++] = v;
    return 0;
}

/* The host whose power grows least with VM `v` (see the top of the file), skipping hosts
 * whose p->mark equals `excl`; DC_NONE when none can take it. */
static uint32_t
find_host(struct dc *d, struct refpol *p, uint32_t vi, uint32_t excl)
{
    const struct dc_vm *v = &d->vms[vi];
    double min_power = DBL_MAX;
    uint32_t best = DC_NONE;
    /* On hosts with nothing allocated the power after the move depends only on the host
     * type: computed once per type. */
    const struct power_host_type *idle_type[4] = {NULL, NULL, NULL, NULL};
    double idle_after[4] = {0, 0, 0, 0};
    for (uint32_t hi = 0; hi < d->n_hosts; hi++) {
        if (excl != 0 && p->mark[hi] == excl)
            continue;
        struct dc_host *h = &d->hosts[hi];
        if (!dc_host_suitable(d, hi, vi))
            continue;
        double cpu = h->cpu_mips_now;
        double after;
        if (cpu != 0) {
            if (overloaded(d, p, hi, vi))
                continue;
            double u = (cpu + v->req) / h->total_mips;
            if (u > 1)
                continue;
            after = power_watts(h->type, u);
        } else {
            size_t k = 0;
            while (k < 4 && idle_type[k] != NULL && idle_type[k] != h->type)
                k++;
            if (k < 4 && idle_type[k] == h->type) {
                after = idle_after[k];
            } else {
                double u = v->req / h->total_mips;
                if (u > 1)
                    continue;
                after = power_watts(h->type, u);
                if (k < 4) {
                    idle_type[k] = h->type;
                    idle_after[k] = after;
                }
            }
        }
        double diff = after - dc_host_power(d, hi);
        if (diff < min_power) {
            min_power = diff;
            best = hi;
        }
    }
    return best;
}

int
refpol_place_initial(struct dc *d, struct refpol *p, uint32_t *ret_vm)
{
    int r = ensure_scratch(p, d);
    if (r < 0)
        return r;
    /* The reference's run without migrations places by first fit. */
    return place0_all(d, p->detector == REFPOL_NONE, ret_vm);
}

/* Stable sort of list[0..n) by current MIPS, largest first (insertion sort: lists are
 * short, and stability is part of the reference's behaviour). */
static void
sort_by_mips(const struct dc *d, uint32_t *list, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t x = list[i];
        double key = d->vms[x].req;
        size_t j = i;
        while (j > 0 && d->vms[list[j - 1]].req < key) {
            list[j] = list[j - 1];
            j--;
        }
        list[j] = x;
    }
}

static double
vm_ram(const struct dc_vm *v)
{
    return v->ram_mib;
}

/* Its utilisation now: requested MIPS over the VM's MIPS, as the reference's ratio. */
static double
vm_util(const struct dc_vm *v)
{
    return v->req / v->mips;
}

/* The VM on `h`, not migrating, with the least `key` (first on ties); DC_NONE if none. */
static inline uint32_t
select_least(const struct dc *d, uint32_t hi, double (*key)(const struct dc_vm *v))
{
    const struct dc_host *h = &d->hosts[hi];
    double min = DBL_MAX;
    uint32_t best = DC_NONE;
    for (uint32_t i = 0; i < h->n_slots; i++) {
        const struct dc_vm *v = &d->vms[h->slots[i].vm];
        if (v->dest != DC_NONE)
            continue;
        double k = key(v);
        if (k < min) {
            min = k;
            best = h->slots[i].vm;
        }
    }
    return best;
}

/* MMT: the VM with the least memory. */
static uint32_t
select_mmt(const struct dc *d, uint32_t hi)
{
    return select_least(d, hi, vm_ram);
}

/* MU: the VM whose utilisation now is the lowest. */
static uint32_t
select_mu(const struct dc *d, uint32_t hi)
{
    return select_least(d, hi, vm_util);
}

/* A VM on `h`, not migrating, drawn uniformly from the policy's seeded generator.
 * DC_NONE if none. */
static uint32_t
select_rs(const struct dc *d, struct refpol *p, uint32_t hi)
{
    const struct dc_host *h = &d->hosts[hi];
    uint32_t n = 0;
    for (uint32_t i = 0; i < h->n_slots; i++)
        if (d->vms[h->slots[i].vm].dest == DC_NONE)
            n++;
    if (n == 0)
        return DC_NONE;
    uint32_t k = refstat_rng_below(&p->rng, n);
    for (uint32_t i = 0; i < h->n_slots; i++) {
        uint32_t vi = h->slots[i].vm;
        if (d->vms[vi].dest != DC_NONE)
            continue;
        if (k-- == 0)
            return vi;
    }
    return DC_NONE;
}

/* The VM on `h`, not migrating, whose utilisation history is best explained by the others'
 * (the largest R^2 of a multiple regression on them, over the newest values all of them
 * have). Where the regression cannot be made (one VM, fewer history values than VMs, a
 * singular fit), the reference falls back to MMT, and so does this. */
static uint32_t
select_mc(const struct dc *d, uint32_t hi)
{
    const struct dc_host *h = &d->hosts[hi];
    uint32_t vms[REFSTAT_MC_MAX];
    size_t n = 0;
    size_t m = DC_HIST;
    for (uint32_t i = 0; i < h->n_slots; i++) {
        uint32_t vi = h->slots[i].vm;
        if (d->vms[vi].dest != DC_NONE)
            continue;
        if (n == REFSTAT_MC_MAX)
            return select_mmt(d, hi); /* more VMs than any history has values */
        vms[n++] = vi;
        if (d->vms[vi].hist_len < m)
            m = d->vms[vi].hist_len;
    }
    if (n < 2 || m < n || d->hist == NULL)
        return select_mmt(d, hi);
    double data[REFSTAT_MC_MAX * DC_HIST];
    for (size_t i = 0; i < n; i++) {
        const struct dc_vm *v = &d->vms[vms[i]];
        const double *hv = d->hist + (size_t)vms[i] * DC_HIST;
        for (size_t j = 0; j < m; j++)
            data[i * m + j] = hv[(v->hist_pos + DC_HIST - j) % DC_HIST];
    }
    double r2[REFSTAT_MC_MAX];
    if (refstat_mc_r2(data, n, m, r2) < 0)
        return select_mmt(d, hi);
    return vms[refstat_mc_pick(r2, n)];
}

static uint32_t
select_vm(const struct dc *d, struct refpol *p, uint32_t hi)
{
    switch (p->selection) {
    case REFPOL_MC:
        return select_mc(d, hi);
    case REFPOL_MU:
        return select_mu(d, hi);
    case REFPOL_RS:
        return select_rs(d, p, hi);
    case REFPOL_MMT:
        break;
    }
    return select_mmt(d, hi);
}

/* Whether every VM on `h` up to the first one migrating in is migrating (the reference's
 * test for a host too busy to be emptied). */
static bool
busy_host(const struct dc *d, uint32_t hi)
{
    const struct dc_host *h = &d->hosts[hi];
    for (uint32_t i = 0; i < h->n_slots; i++) {
        if (d->vms[h->slots[i].vm].dest == DC_NONE)
            return false;
        if (h->slots[i].mig_in)
            return true;
    }
    return true;
}

static int
place_list(struct dc *d, struct refpol *p, uint32_t *list, size_t n, uint32_t excl,
           bool all_or_nothing, size_t *ret_placed)
{
    sort_by_mips(d, list, n);
    size_t first = p->n_moves;
    for (size_t i = 0; i < n; i++) {
        uint32_t hi = find_host(d, p, list[i], excl);
        if (hi == DC_NONE) {
            if (!all_or_nothing)
                continue;
            for (size_t k = first; k < p->n_moves; k++)
                dc_vm_destroy(d, p->moves[k].dest, p->moves[k].vm);
            p->n_moves = first;
            break;
        }
        int r = dc_vm_create(d, hi, list[i]);
        if (r < 0)
            return r;
        r = push_move(p, list[i], hi);
        if (r < 0)
            return r;
    }
    *ret_placed = p->n_moves - first;
    return 0;
}

static int
underload_phase(struct dc *d, struct refpol *p, uint32_t over_gen)
{
    /* mark: exclusion for placement; mark2: exclusion for choosing the next host. */
    uint32_t pg = ++p->gen;
    uint32_t ug = ++p->gen;
    size_t n_excl_u = 0;
    for (uint32_t hi = 0; hi < d->n_hosts; hi++) {
        bool over = p->mark[hi] == over_gen;
        bool off = dc_host_util(d, hi) == 0;
        if (over || off) {
            p->mark[hi] = pg;
            p->mark2[hi] = ug;
            n_excl_u++;
        }
    }
    /* The reference meant to exclude the destinations chosen for overloaded hosts here too,
     * but its set is built from an empty map; they stay candidates (and a VM can then be
     * moved on a second time in the same step, which counts as two migrations). */
    while (n_excl_u < d->n_hosts) {
        double min_u = 1;
        uint32_t under = DC_NONE;
        for (uint32_t hi = 0; hi < d->n_hosts; hi++) {
            if (p->mark2[hi] == ug)
                continue;
            double u = dc_host_util(d, hi);
            if (u > 0 && u < min_u && !busy_host(d, hi)) {
                min_u = u;
                under = hi;
            }
        }
        if (under == DC_NONE)
            break;
        p->mark2[under] = ug;
        n_excl_u++;
        p->mark[under] = pg;
        const struct dc_host *h = &d->hosts[under];
        size_t n = 0;
        for (uint32_t i = 0; i < h->n_slots; i++) {
            if (d->vms[h->slots[i].vm].dest != DC_NONE)
                continue;
            int r = push_list(p, &n, h->slots[i].vm);
            if (r < 0)
                return r;
        }
        if (n == 0)
            continue;
        size_t first = p->n_moves;
        size_t placed = 0;
        int r = place_list(d, p, p->list, n, pg, true, &placed);
        if (r < 0)
            return r;
        for (size_t k = first; k < p->n_moves; k++) {
            uint32_t dh = p->moves[k].dest;
            if (p->mark2[dh] != ug) {
                p->mark2[dh] = ug;
                n_excl_u++;
            }
        }
    }
    return 0;
}

int
refpol_step(struct dc *d, struct refpol *p)
{
    if (p->detector == REFPOL_NONE)
        return 0;
    int r = ensure_scratch(p, d);
    if (r < 0)
        return r;
    p->n_moves = 0;
    /* 1. Overloaded hosts, in host order. */
    uint32_t over_gen = ++p->gen;
    size_t n_over = 0;
    for (uint32_t hi = 0; hi < d->n_hosts; hi++) {
        if (overloaded(d, p, hi, DC_NONE)) {
            p->mark[hi] = over_gen;
            n_over++;
        }
    }
    d->overloaded_hosts = (uint32_t)n_over;
    /* 2. Save. */
    r = dc_save(d, &p->saved, &p->n_saved, &p->cap_saved);
    if (r < 0)
        return r;
    /* 3. VMs off overloaded hosts. */
    size_t n = 0;
    for (uint32_t hi = 0; hi < d->n_hosts; hi++) {
        if (p->mark[hi] != over_gen)
            continue;
        for (;;) {
            uint32_t vi = select_vm(d, p, hi);
            if (vi == DC_NONE)
                break;
            r = push_list(p, &n, vi);
            if (r < 0)
                return r;
            dc_vm_destroy(d, hi, vi);
            if (!overloaded(d, p, hi, DC_NONE))
                break;
        }
    }
    /* 4. Their new hosts. */
    size_t placed = 0;
    r = place_list(d, p, p->list, n, over_gen, false, &placed);
    if (r < 0)
        return r;
    /* 5. Underloaded hosts. */
    r = underload_phase(d, p, over_gen);
    if (r < 0)
        return r;
    /* 6. Restore and start. */
    r = dc_restore(d, p->saved, p->n_saved);
    if (r < 0)
        return r;
    for (size_t k = 0; k < p->n_moves; k++) {
        r = dc_migrate(d, p->moves[k].vm, p->moves[k].dest);
        if (r < 0)
            return r;
    }
    return 0;
}

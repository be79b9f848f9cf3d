/* The data centre model's moves (dc.h): placing and removing VMs, migrations as timed events,
 * saving and restoring a placement, and the run's statistics. The hosts' schedulers and the
 * bookkeeping they share are in dc.c. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "sim/dc.h"
#include "sim/dc_internal.h"

/* ---- placement ---- */

bool
dc_host_suitable(const struct dc *d, uint32_t hi, uint32_t vi)
{
    const struct dc_host *h = &d->hosts[hi];
    const struct dc_vm *v = &d->vms[vi];
    return h->type->pe_mips * v->pes >= v->req && h->available >= v->req;
}

int
dc_vm_create(struct dc *d, uint32_t hi, uint32_t vi)
{
    struct dc_host *h = &d->hosts[hi];
    int r = dc_mark_out(d, h, vi);
    if (r < 0)
        return r;
    r = dc_slot_push(d, h, vi, false);
    if (r < 0)
        return r;
    dc_allocate(d, h);
    return 0;
}

void
dc_vm_destroy(struct dc *d, uint32_t hi, uint32_t vi)
{
    struct dc_host *h = &d->hosts[hi];
    dc_slot_remove(h, vi, false, NULL);
    dc_allocate(d, h);
}

int
dc_place(struct dc *d, uint32_t vi, uint32_t hi)
{
    struct dc_vm *v = &d->vms[vi];
    v->instantiating = true;
    v->req = v->size0;
    d->reqs[vi] = v->req;
    v->host = hi;
    d->hosts[hi].ram_used_mib += v->ram_mib;
    return dc_vm_create(d, hi, vi);
}

bool
dc_host_busy_migrating(const struct dc *d, uint32_t hi)
{
    const struct dc_host *h = &d->hosts[hi];
    if (h->n_mig_in > 0)
        return true;
    if (h->n_slots == 0)
        return false;
    for (uint32_t i = 0; i < h->n_slots; i++)
        if (d->vms[h->slots[i].vm].dest == DC_NONE)
            return false;
    return true;
}

size_t
dc_host_history(const struct dc *d, uint32_t hi, uint32_t extra, double *out)
{
    const struct dc_host *h = &d->hosts[hi];
    for (size_t i = 0; i < DC_HIST; i++)
        out[i] = 0;
    for (uint32_t s = 0; s <= h->n_slots; s++) {
        uint32_t vi = s < h->n_slots ? h->slots[s].vm : extra;
        if (vi == DC_NONE)
            continue;
        const struct dc_vm *v = &d->vms[vi];
        const double *hv = d->hist != NULL ? d->hist + (size_t)vi * DC_HIST : NULL;
        for (uint32_t i = 0; hv != NULL && i < v->hist_len; i++)
            out[i] += hv[(v->hist_pos + DC_HIST - i) % DC_HIST] * v->mips / h->total_mips;
    }
    size_t n = DC_HIST;
    while (n > 0 && out[n - 1] == 0)
        n--;
    return n;
}

int
dc_save(const struct dc *d, struct dc_saved **buf, size_t *n, size_t *cap)
{
    *n = 0;
    for (uint32_t hi = 0; hi < d->n_hosts; hi++) {
        const struct dc_host *h = &d->hosts[hi];
        for (uint32_t i = 0; i < h->n_slots; i++) {
            if (h->slots[i].mig_in)
                continue;
            struct dc_saved *nb = grow_array(*buf, cap, *n + 1, sizeof(*nb), 1024);
            if (nb == NULL)
                return -ENOMEM;
            *buf = nb;
            (*buf)[(*n)++] = (struct dc_saved){.host = hi, .slot = h->slots[i]};
        }
    }
    return 0;
}

int
dc_restore(struct dc *d, const struct dc_saved *s, size_t n)
{
    for (uint32_t hi = 0; hi < d->n_hosts; hi++) {
        struct dc_host *h = &d->hosts[hi];
        uint32_t k = 0;
        for (uint32_t i = 0; i < h->n_slots; i++)
            if (h->slots[i].mig_in)
                h->slots[k++] = h->slots[i];
        h->n_slots = k;
    }
    for (size_t i = 0; i < n; i++) {
        struct dc_host *h = &d->hosts[s[i].host];
        int r = dc_mark_out(d, h, s[i].slot.vm);
        if (r < 0)
            return r;
        r = dc_slot_push(d, h, s[i].slot.vm, false);
        if (r < 0)
            return r;
        h->slots[h->n_slots - 1] = s[i].slot;
    }
    for (uint32_t hi = 0; hi < d->n_hosts; hi++)
        dc_allocate(d, &d->hosts[hi]);
    return 0;
}

/* ---- migrations ---- */

static int
event_push(struct dc *d, double time, uint32_t v, uint32_t src, uint32_t dest)
{
    struct dc_event *ne = grow_array(d->events, &d->cap_events, d->n_events + 1, sizeof(*ne), 64);
    if (ne == NULL)
        return -ENOMEM;
    d->events = ne;
    struct dc_event e = {.time = time, .seq = d->seq++, .vm = v, .src = src, .dest = dest};
    size_t i = d->n_events++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        const struct dc_event *pe = &d->events[p];
        if (pe->time < e.time || (pe->time == e.time && pe->seq < e.seq))
            break;
        d->events[i] = *pe;
        i = p;
    }
    d->events[i] = e;
    return 0;
}

static struct dc_event
event_pop(struct dc *d)
{
    struct dc_event top = d->events[0];
    struct dc_event last = d->events[--d->n_events];
    size_t n = d->n_events;
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && (d->events[c + 1].time < d->events[c].time ||
                          (d->events[c + 1].time == d->events[c].time &&
                           d->events[c + 1].seq < d->events[c].seq)))
            c++;
        if (last.time < d->events[c].time ||
            (last.time == d->events[c].time && last.seq < d->events[c].seq))
            break;
        d->events[i] = d->events[c];
        i = c;
    }
    if (n > 0)
        d->events[i] = last;
    return top;
}

double
dc_next_event(const struct dc *d)
{
    return d->n_events > 0 ? d->events[0].time : INFINITY;
}

int
dc_migrate(struct dc *d, uint32_t vi, uint32_t dest)
{
    struct dc_vm *v = &d->vms[vi];
    struct dc_host *t = &d->hosts[dest];
    v->dest = dest;
    v->n_dests++;
    struct dc_host *src = &d->hosts[v->host];
    src->n_mig_src++;
    for (uint32_t i = 0; i < src->n_slots; i++)
        if (src->slots[i].vm == vi && !src->slots[i].mig_in)
            src->slots[i].out = true;
    int r = dc_slot_push(d, t, vi, true);
    if (r < 0)
        return r;
    d->migrations++;
    v->migrations++;
    r = dc_host_update(d, dest, d->now);
    if (r < 0)
        return r;
    r = dc_host_update(d, v->host, d->now);
    if (r < 0)
        return r;
    double mb_per_s = t->type->bw_mbit * d->bw_share / 8.0;
    double mem = v->ram_mib;
    if (d->mem_used_mib != NULL) {
        struct dc_vm tmp = *v;
        tmp.util = d->mem_used_mib + vi;
        mem = dc_vm_util(d, &tmp, d->now);
        if (mem < 1)
            mem = 1;
    }
    return event_push(d, d->now + mem / mb_per_s, vi, v->host, dest);
}

int
dc_complete_next(struct dc *d)
{
    if (d->n_events == 0)
        return 0;
    double te = d->events[0].time;
    int r;
    if (te > d->last_process) {
        r = dc_process(d, te, false);
        if (r < 0)
            return r;
    }
    while (d->n_events > 0 && d->events[0].time == te) {
        struct dc_event e = event_pop(d);
        struct dc_vm *v = &d->vms[e.vm];
        struct dc_host *src = &d->hosts[v->host];
        struct dc_host *dst = &d->hosts[e.dest];
        struct dc_slot old;
        memset(&old, 0, sizeof(old));
        dc_slot_remove(src, e.vm, false, &old);
        d->hosts[e.src].n_mig_src--;
        /* The source forgets the VM migrated out (the reference keeps a stale entry that its
         * next trial placement of the VM always clears; the effect is the same). */
        for (uint32_t i = 0; i < src->n_mig_out; i++) {
            if (src->mig_out[i] == e.vm) {
                src->mig_out[i] = src->mig_out[--src->n_mig_out];
                break;
            }
        }
        dc_allocate(d, src);
        dc_slot_remove(dst, e.vm, true, NULL);
        v->dest = DC_NONE;
        v->n_dests--;
        v->host = e.dest;
        v->last_migration_end = te;
        dc_allocate(d, dst);
        r = dc_vm_create(d, e.dest, e.vm);
        if (r < 0)
            return r;
        /* The VM's metric state moves with it. */
        struct dc_slot *ns = &dst->slots[dst->n_slots - 1];
        ns->e_time = old.e_time;
        ns->e_alloc = old.e_alloc;
        ns->e_req = old.e_req;
        ns->e_mig = old.e_mig;
        ns->e_has = old.e_has;
        ns->sum_alloc = old.sum_alloc;
        ns->sum_req = old.sum_req;
        ns->sum_mig_under = old.sum_mig_under;
    }
    return dc_process(d, te, false);
}

void
dc_stats(const struct dc *d, struct dc_stats *ret)
{
    double energy = 0;
    double active = 0;
    double violation = 0;
    uint64_t shutdowns = 0;
    for (size_t i = 0; i < d->n_hosts; i++) {
        const struct dc_host *h = &d->hosts[i];
        energy += h->energy_j;
        active += h->active_s;
        violation += h->violation_s;
        shutdowns += h->shutdowns;
        /* The last entry closes the history. */
        if (h->e_has && h->was_active && !h->e_active)
            shutdowns++;
    }
    double alloc = 0;
    double req = 0;
    double under_mig = 0;
    for (size_t i = 0; i < d->n_vms; i++) {
        alloc += d->vms[i].sum_alloc;
        req += d->vms[i].sum_req;
        under_mig += d->vms[i].sum_mig_under;
    }
    for (size_t i = 0; i < d->n_hosts; i++) {
        const struct dc_host *h = &d->hosts[i];
        for (uint32_t k = 0; k < h->n_slots; k++) {
            if (h->slots[k].mig_in)
                continue;
            alloc += h->slots[k].sum_alloc;
            req += h->slots[k].sum_req;
            under_mig += h->slots[k].sum_mig_under;
        }
    }
    memset(ret, 0, sizeof(*ret));
    ret->energy_kwh = energy / 3600.0 / 1000.0;
    ret->migrations = d->migrations;
    ret->slatah = active > 0 ? violation / active : 0;
    ret->pdm = req > 0 ? under_mig / req : 0;
    ret->slav = ret->slatah * ret->pdm;
    ret->esv = ret->energy_kwh * ret->slav;
    ret->overall_sla_violation = req > 0 ? (req - alloc) / req : 0;
    ret->host_shutdowns = shutdowns;
    ret->time_s = d->now;
}

/* The data centre model.
 *
 * A host's scheduler shares its MIPS the reference way: each VM asks for its request
 * capped at one core; a VM migrating in only takes a tenth of it (the rest is still served
 * by its source); if everything fits each VM gets its share (a VM migrating out runs 10 %
 * slower), otherwise every share is scaled by capacity / demand and floored. Whenever a
 * host's list changes, or at each processing, its allocation is recomputed from scratch.
 *
 * Metrics follow the reference's bookkeeping: every processing appends a state entry per
 * host (allocated, requested, active) and per VM (allocated, requested, migrating); an
 * entry at the same instant replaces the previous one; a closed interval adds its length
 * times the entry's values. Energy integrates each host's power linearly between two
 * processings.
 *
 * A VM whose demand is exactly 0 at a processing (its trace is 0 at two consecutive samples)
 * has finished, as in the reference: it leaves its host for good. Its past still counts in
 * the metrics. */
#include "sim/dc.h"
#include "sim/dc_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void
dc_init(struct dc *d)
{
    memset(d, 0, sizeof(*d));
    d->bw_share = 0.5;
    d->step_s = 300;
    d->finish_on_zero = true;
    d->place_ram = true;
    d->place_max_vms = 10;
}

void
dc_done(struct dc *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n_hosts; i++) {
        free(d->hosts[i].slots);
        free(d->hosts[i].mig_out);
    }
    free(d->hosts);
    free(d->vms);
    free(d->events);
    free(d->hist);
    free(d->reqs);
    free(d->idle);
    dc_init(d);
}

int
dc_setup(struct dc *d, const struct power_host_type *const *types, size_t n_types, size_t n_hosts,
         size_t n_vms, size_t n_samples, double step_s)
{
    d->hosts = calloc(n_hosts, sizeof(*d->hosts));
    d->vms = calloc(n_vms != 0 ? n_vms : 1, sizeof(*d->vms));
    d->reqs = calloc(n_vms != 0 ? n_vms : 1, sizeof(*d->reqs));
    d->idle = calloc(n_hosts != 0 ? n_hosts : 1, sizeof(*d->idle));
    if (d->hosts == NULL || d->vms == NULL || d->reqs == NULL || d->idle == NULL) {
        free(d->idle);
        d->idle = NULL;
        free(d->hosts);
        free(d->vms);
        free(d->reqs);
        d->hosts = NULL;
        d->vms = NULL;
        d->reqs = NULL;
        return -ENOMEM;
    }
    d->n_hosts = n_hosts;
    d->n_vms = n_vms;
    d->n_samples = n_samples;
    d->util_stride = 1;
    d->step_s = step_s;
    for (size_t i = 0; i < n_hosts; i++) {
        struct dc_host *h = &d->hosts[i];
        h->type = types[i % n_types];
        h->total_mips = h->type->pe_mips * h->type->pes;
        h->available = h->total_mips;
        h->power_w = h->type->watts[0];
        h->was_active = true;
    }
    for (size_t i = 0; i < n_vms; i++) {
        struct dc_vm *v = &d->vms[i];
        v->host = DC_NONE;
        v->dest = DC_NONE;
        v->pes = 1;
        v->hist_time = -1;
        v->last_migration_end = -1;
    }
    return 0;
}

double
dc_vm_io(const struct dc *d, uint32_t vi, bool disk, double t)
{
    const double *base = disk ? d->disk_kbs : d->net_kbs;
    if (base == NULL)
        return 0;
    struct dc_vm tmp = d->vms[vi];
    tmp.util = base + vi;
    return dc_vm_util(d, &tmp, t);
}

int
dc_keep_history(struct dc *d)
{
    if (d->hist != NULL)
        return 0;
    d->hist = calloc(d->n_vms * DC_HIST + 1, sizeof(*d->hist));
    return d->hist != NULL ? 0 : -ENOMEM;
}

double
dc_vm_util(const struct dc *d, const struct dc_vm *v, double t)
{
    double step = d->step_s;
    size_t st = d->util_stride;
    if (t <= 0)
        return v->util[0];
    double last = (double)d->n_samples * step;
    if (t >= last)
        return v->util[d->n_samples * st];
    if (fmod(t, step) == 0)
        return v->util[(size_t)(t / step) * st];
    size_t k1 = (size_t)floor(t / step);
    size_t k2 = (size_t)ceil(t / step);
    double u1 = v->util[k1 * st];
    double u2 = v->util[k2 * st];
    double delta = (u2 - u1) / ((double)(k2 - k1) * step);
    return u1 + delta * (t - (double)k1 * step);
}

/* ---- a host's lists ---- */

int
dc_slot_push(struct dc *d, struct dc_host *h, uint32_t v, bool mig_in)
{
    if (h->n_slots == h->cap_slots) {
        uint32_t nc = h->cap_slots != 0 ? h->cap_slots * 2 : 8;
        struct dc_slot *ns = realloc(h->slots, nc * sizeof(*ns));
        if (ns == NULL)
            return -ENOMEM;
        h->slots = ns;
        h->cap_slots = nc;
    }
    const struct dc_vm *vm = &d->vms[v];
    d->idle[h - d->hosts] = 0;
    h->slots[h->n_slots++] = (struct dc_slot){.vm = v,
                                              .pes = vm->pes,
                                              .ram_mib = vm->ram_mib,
                                              .arrived = vm->last_migration_end,
                                              .mig_in = mig_in};
    h->dirty = true;
    if (mig_in)
        h->n_mig_in++;
    return 0;
}

/* Take VM `v`'s slot off `h` (the one it migrates into when `mig_in`, else the one it runs
 * in); its contents go to *ret when not NULL. */
void
dc_slot_remove(struct dc_host *h, uint32_t v, bool mig_in, struct dc_slot *ret)
{
    for (uint32_t i = 0; i < h->n_slots; i++) {
        if (h->slots[i].vm != v || h->slots[i].mig_in != mig_in)
            continue;
        if (ret != NULL)
            *ret = h->slots[i];
        if (h->slots[i].mig_in)
            h->n_mig_in--;
        memmove(&h->slots[i], &h->slots[i + 1], (h->n_slots - i - 1) * sizeof(h->slots[0]));
        h->n_slots--;
        h->dirty = true;
        return;
    }
}

static bool
out_has(const struct dc_host *h, uint32_t v)
{
    for (uint32_t i = 0; i < h->n_mig_out; i++)
        if (h->mig_out[i] == v)
            return true;
    return false;
}

static bool
in_has(const struct dc *d, const struct dc_host *h, uint32_t v)
{
    if (h->n_mig_in == 0)
        return false;
    const struct dc_vm *vm = &d->vms[v];
    if (vm->dest == (uint32_t)(h - d->hosts))
        return true;
    if (vm->n_dests <= 1)
        return false;
    for (uint32_t i = 0; i < h->n_slots; i++)
        if (h->slots[i].vm == v && h->slots[i].mig_in)
            return true;
    return false;
}

/* What allocating VM `v` on `h` does to the scheduler's list of VMs migrating out. */
int
dc_mark_out(struct dc *d, struct dc_host *h, uint32_t v)
{
    bool migrating = d->vms[v].dest != DC_NONE;
    if (migrating) {
        if (in_has(d, h, v) || out_has(h, v))
            return 0;
        if (h->n_mig_out == h->cap_mig_out) {
            uint32_t nc = h->cap_mig_out != 0 ? h->cap_mig_out * 2 : 4;
            uint32_t *no = realloc(h->mig_out, nc * sizeof(*no));
            if (no == NULL)
                return -ENOMEM;
            h->mig_out = no;
            h->cap_mig_out = nc;
        }
        h->mig_out[h->n_mig_out++] = v;
        return 0;
    }
    for (uint32_t i = 0; i < h->n_mig_out; i++) {
        if (h->mig_out[i] == v) {
            h->mig_out[i] = h->mig_out[--h->n_mig_out];
            return 0;
        }
    }
    return 0;
}

/* Share the host's MIPS among its list (see the top of the file). */
void
dc_allocate(struct dc *d, struct dc_host *h)
{
    double total = h->total_mips;
    double pe = h->type->pe_mips;
    double avail = total;
    bool over = false;
    double required_sum = 0;
    double req_sum = 0;
    for (uint32_t i = 0; i < h->n_slots; i++) {
        struct dc_slot *s = &h->slots[i];
        s->req = d->reqs[s->vm];
        req_sum += s->req;
        double capped = s->req > pe * s->pes ? pe * s->pes : s->req;
        double required = s->mig_in ? capped * 0.1 : capped;
        if (!over && avail >= required)
            avail -= required;
        else
            over = true;
        required_sum += required;
    }
    double scaling = over ? total / required_sum : 1;
    double cpu = 0;
    for (uint32_t i = 0; i < h->n_slots; i++) {
        struct dc_slot *s = &h->slots[i];
        double mips = s->req > pe * s->pes ? pe * s->pes : s->req;
        bool out = h->n_mig_out > 0 && out_has(h, s->vm);
        if (!over) {
            if (out)
                mips *= 0.9;
            else if (s->mig_in)
                mips *= 0.1;
        } else if (out) {
            mips *= scaling;
            mips *= 0.9;
            mips = floor(mips);
        } else if (s->mig_in) {
            mips *= 0.1;
            mips *= scaling;
            mips = floor(mips);
        } else {
            mips = floor(mips * scaling);
        }
        s->alloc = mips;
        if (s->mig_in)
            cpu += mips * 0.9 / 0.1;
        cpu += mips;
    }
    h->available = over ? 0 : avail;
    h->req_sum = req_sum;
    h->cpu_mips_now = cpu;
}

/* ---- metrics ---- */

static void
vm_entry(struct dc_slot *v, double t, double alloc, double req, bool mig)
{
    if (v->e_has && v->e_time != t) {
        double dt = t - v->e_time;
        v->sum_alloc += v->e_alloc * dt;
        v->sum_req += v->e_req * dt;
        if (v->e_alloc < v->e_req && v->e_mig)
            v->sum_mig_under += (v->e_req - v->e_alloc) * dt;
    }
    v->e_time = t;
    v->e_alloc = alloc;
    v->e_req = req;
    v->e_mig = mig;
    v->e_has = true;
}

static void
host_close_entry(struct dc_host *h)
{
    if (h->was_active && !h->e_active)
        h->shutdowns++;
    h->was_active = h->e_active;
}

static void
host_entry(struct dc_host *h, double t, double alloc, double req, bool active)
{
    if (h->e_has && h->e_time != t) {
        if (h->e_active) {
            double dt = t - h->e_time;
            h->active_s += dt;
            if (h->e_alloc < h->e_req)
                h->violation_s += dt;
        }
        host_close_entry(h);
    }
    h->e_time = t;
    h->e_alloc = alloc;
    h->e_req = req;
    h->e_active = active;
    h->e_has = true;
}

/* ---- processing ---- */

static double
clamp_util(double u)
{
    if (u > 1 && u < 1.01)
        return 1;
    return u;
}

/* Where `t` falls in the series: the same for every VM, so worked out once per processing
 * (the per-VM arithmetic stays exactly dc_vm_util()'s). */
struct instant {
    size_t k1, k2; /* samples around t (k1 == k2: t is a sample's time or past the end) */
    double den;    /* (k2 - k1) * step */
    double off;    /* t - k1 * step */
};

static void
instant_of(const struct dc *d, double t, struct instant *ret)
{
    double step = d->step_s;
    double last = (double)d->n_samples * step;
    if (t <= 0) {
        *ret = (struct instant){.k1 = 0, .k2 = 0};
    } else if (t >= last) {
        *ret = (struct instant){.k1 = d->n_samples, .k2 = d->n_samples};
    } else if (fmod(t, step) == 0) {
        size_t k = (size_t)(t / step);
        *ret = (struct instant){.k1 = k, .k2 = k};
    } else {
        size_t k1 = (size_t)floor(t / step);
        size_t k2 = (size_t)ceil(t / step);
        *ret = (struct instant){
            .k1 = k1, .k2 = k2, .den = (double)(k2 - k1) * step, .off = t - (double)k1 * step};
    }
}

static void
vm_update(struct dc *d, struct dc_vm *v, const struct instant *at, double t, bool decision)
{
    size_t st = d->util_stride;
    double u1 = v->util[at->k1 * st];
    double u = u1;
    if (at->k2 != at->k1) {
        double u2 = v->util[at->k2 * st];
        double delta = (u2 - u1) / at->den;
        u = u1 + delta * at->off;
    }
    if (decision && t > v->hist_time && d->hist != NULL) {
        size_t vi = (size_t)(v - d->vms);
        v->hist_pos = (uint8_t)((v->hist_pos + 1) % DC_HIST);
        d->hist[vi * DC_HIST + v->hist_pos] = u;
        if (v->hist_len < DC_HIST)
            v->hist_len++;
        v->hist_time = t;
    }
    v->instantiating = false;
    v->req = u * v->mips;
    d->reqs[v - d->vms] = v->req;
}

int
dc_host_update(struct dc *d, uint32_t hi, double t)
{
    struct dc_host *h = &d->hosts[hi];
    /* Demands were computed for `t` before (dc_process does it for every VM). Only a
     * host with a migration out, or a memory of one, can change its list of VMs migrating
     * out. */
    h->prev_util_mips = h->util_mips;
    for (uint32_t i = 0; (h->n_mig_src > 0 || h->n_mig_out > 0) && i < h->n_slots; i++) {
        int r = dc_mark_out(d, h, h->slots[i].vm);
        if (r < 0)
            return r;
    }
    dc_allocate(d, h);
    double util = 0;
    double req_total = 0;
    for (uint32_t i = 0; i < h->n_slots; i++) {
        struct dc_slot *s = &h->slots[i];
        double alloc = s->alloc;
        double req = s->req;
        if (!s->mig_in) {
            bool migrating = s->out;
            if (!migrating && req == 0.0 && d->finish_on_zero)
                h->has_finished = true;
            vm_entry(s, t, alloc, req, migrating);
            if (migrating)
                alloc /= 0.9;
        }
        util += alloc;
        req_total += req;
    }
    h->util_mips = util;
    h->dirty = false;
    h->power_w = power_watts(h->type, clamp_util(util / h->total_mips));
    host_entry(h, t, util, req_total, util > 0);
    return 0;
}

double
dc_host_util(const struct dc *d, uint32_t h)
{
    return clamp_util(d->hosts[h].util_mips / d->hosts[h].total_mips);
}

double
dc_host_cpu_mips(const struct dc *d, uint32_t h)
{
    return d->hosts[h].cpu_mips_now;
}

double
dc_host_power(const struct dc *d, uint32_t h)
{
    return d->hosts[h].power_w;
}

static void
finish_vms(struct dc *d, struct dc_host *h)
{
    h->has_finished = false;
    for (uint32_t s = 0; s < h->n_slots;) {
        struct dc_slot *sl = &h->slots[s];
        struct dc_vm *v = &d->vms[sl->vm];
        if (d->finish_on_zero && !sl->out && !sl->mig_in && sl->req == 0.0) {
            v->sum_alloc += sl->sum_alloc;
            v->sum_req += sl->sum_req;
            v->sum_mig_under += sl->sum_mig_under;
            v->gone = true;
            v->host = DC_NONE;
            d->vms_finished++;
            memmove(&h->slots[s], &h->slots[s + 1], (h->n_slots - s - 1) * sizeof(h->slots[0]));
            h->n_slots--;
            continue;
        }
        s++;
    }
    dc_allocate(d, h);
}

int
dc_process(struct dc *d, double t, bool decision)
{
    double dt = t - d->last_process;
    /* Processing again at the same instant (after migrations ended) can only change the
     * hosts whose lists changed; every other host would record the same state again, and
     * only its "previous utilisation" moves on. */
    bool same_instant = dt == 0 && d->last_process > 0;
    /* Demand at `t` for every running VM, in VM order: the trace rows are read
     * sequentially, and the per-host passes below find each VM's demand ready. */
    if (!same_instant) {
        struct instant at;
        instant_of(d, t, &at);
        for (size_t v = 0; v < d->n_vms; v++)
            if (d->vms[v].host != DC_NONE)
                vm_update(d, &d->vms[v], &at, t, decision);
    }
    uint32_t active = 0;
    for (uint32_t i = 0; i < d->n_hosts; i++) {
        if (d->idle[i])
            continue;
        struct dc_host *h = &d->hosts[i];
        /* An empty host that was idle at the last two processings records an idle entry
         * again, which changes nothing (idle time is not counted) and draws nothing; it is
         * skipped until a VM comes (slot_push clears the mark). */
        if (h->n_slots == 0 && h->util_mips == 0 && h->prev_util_mips == 0 && h->e_has &&
            !h->e_active && !h->dirty) {
            d->idle[i] = 1;
            continue;
        }
        if (same_instant && !h->dirty) {
            h->prev_util_mips = h->util_mips;
        } else {
            int r = dc_host_update(d, i, t);
            if (r < 0)
                return r;
        }
        double u = dc_host_util(d, i);
        if (u > 0)
            active++;
        if (dt > 0) {
            double pu = clamp_util(h->prev_util_mips / h->total_mips);
            if (pu != 0) {
                double p0 = power_watts(h->type, pu);
                double p1 = power_watts(h->type, u);
                h->energy_j += (p0 + (p1 - p0) / 2) * dt;
            }
        }
        /* Finished VMs leave (host_update flagged them), after the energy as in the
         * reference; hosts are independent, so host by host is the same. */
        if (h->has_finished)
            finish_vms(d, h);
    }
    d->active_hosts = active;
    d->now = t;
    d->last_process = t;
    return 0;
}

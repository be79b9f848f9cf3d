/* vmloc's policy in the simulator.
 *
 * The data centre is turned into the core's model each round: a host's cpu usage is its
 * VMs' demand in percent of its MIPS (what the agents measure: demand, not the capped
 * allocation), each VM's usage the same fraction of its host, and a host's capacity
 * coefficient its MIPS / 1000 so the core rescales a VM between host types. The steps:
 *
 *   1. detect_host() on every host; a host acts only when it was in conflict in k of the
 *      last n steps (persistence filter);
 *   2. plan_compute() for the persistent conflicts, then again on the planned result, up to
 *      `rounds` times: one migration per conflicting host per round, as the running system
 *      would order the next as soon as the previous one ended;
 *   3. consolidate_plan() empties hosts used below `consolidate_below_pct` onto the busiest
 *      hosts that stay below `consolidate_target_pct` (least used first, or with
 *      `consolidate_efficient` least efficient first by the host types' power; with
 *      `peak_window`, each VM placed with its recent peak);
 *   4. each VM that ends up elsewhere migrates once, straight to its final host.
 *
 * VMs in their cooldown after a migration, and VMs moved earlier in the step, are pinned.
 *
 * The model holds the hosts that run VMs or take part in a migration, and of the hosts
 * without VMs only the first few of each type, in host order: enough for every conflict of
 * every round to take a different one (see build_base(); consolidation only fills busy
 * hosts). The core would pick idle hosts of one type in host order anyway, so the
 * decisions are the same as with every host in the model, at a cost that follows the busy
 * part of the data centre. */
#include "sim/vmpol.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpuwait.h"
#include "core/detect.h"
#include "core/grow.h"
#include "sim/sim.h"

void
sim_vmloc_defaults(struct sim_vmloc *v)
{
    memset(v, 0, sizeof(*v));
    policy_init(&v->policy);
    v->policy.host_threshold[KIND_CPU] = 80;
    v->policy.vm_threshold = VM_THRESHOLD_FIXED;
    v->policy.vm_threshold_value[KIND_CPU] = 5;
    v->policy.min_vms = 2;
    v->policy.prefer_busy_hosts = true;
    v->policy.dest_headroom = true;
    policy_finish(&v->policy);
    v->persist_k = 1;
    v->persist_n = 1;
    v->consolidate_below_pct = 30;
    v->consolidate_target_pct = 60;
    v->cooldown_s = 3600;
    v->rounds = 2;
}

void
vmpol_init(struct vmpol *p)
{
    memset(p, 0, sizeof(*p));
    cluster_init(&p->cl);
}

void
vmpol_done(struct vmpol *p)
{
    if (p == NULL)
        return;
    cluster_done(&p->cl);
    if (p->own != NULL) {
        policy_done(&p->own->policy);
        free(p->own);
    }
    free(p->vm_names);
    free(p->host_tmpl);
    free(p->m_busy);
    free(p->m_no_source);
    free(p->m_idle_w);
    free(p->m_peak_w);
    free(p->m_vm_peak);
    free(p->map);
    free(p->mindex);
    free(p->model_vm);
    free(p->where);
    free(p->moved);
    free(p->busy);
    free(p->seen);
    free(p->scratch);
    free(p->base_vm);
    free(p->base_req);
    free(p->base_fixed);
    free(p->base_ram);
    free(p->base_disk);
    free(p->base_net);
    free(p->base_first);
    free(p->base_count);
    free(p->fill);
    free(p->moves);
    vmpol_init(p);
}

int
vmpol_setup(struct vmpol *p, const struct dc *d, const struct sim_vmloc *cfg)
{
    if (cfg == NULL) {
        p->own = malloc(sizeof(*p->own));
        if (p->own == NULL)
            return -ENOMEM;
        sim_vmloc_defaults(p->own);
        cfg = p->own;
    }
    p->cfg = cfg;
    size_t nh = d->n_hosts;
    size_t nv = d->n_vms;
    p->n_hosts = nh;
    p->n_vms = nv;
    p->vm_names = calloc(nv + 1, sizeof(*p->vm_names));
    p->host_tmpl = calloc(nh + 1, sizeof(*p->host_tmpl));
    p->model_vm = calloc(nv + 1, sizeof(*p->model_vm));
    p->where = calloc(nv + 1, sizeof(*p->where));
    p->moved = calloc(nv + 1, sizeof(*p->moved));
    p->busy = calloc(nh + 1, sizeof(*p->busy));
    p->m_busy = calloc(nh + 1, sizeof(*p->m_busy));
    p->m_no_source = calloc(nh + 1, sizeof(*p->m_no_source));
    p->m_idle_w = calloc(nh + 1, sizeof(*p->m_idle_w));
    p->m_peak_w = calloc(nh + 1, sizeof(*p->m_peak_w));
    p->m_vm_peak = calloc(nv + 1, sizeof(*p->m_vm_peak));
    p->seen = calloc(nh + 1, sizeof(*p->seen));
    p->scratch = calloc(nv + 1, sizeof(*p->scratch));
    p->base_vm = calloc(nv + 1, sizeof(*p->base_vm));
    p->base_req = calloc(nv + 1, sizeof(*p->base_req));
    p->base_fixed = calloc(nv + 1, sizeof(*p->base_fixed));
    p->base_ram = calloc(nv + 1, sizeof(*p->base_ram));
    p->base_first = calloc(nh + 1, sizeof(*p->base_first));
    p->base_count = calloc(nh + 1, sizeof(*p->base_count));
    p->map = calloc(nh + 1, sizeof(*p->map));
    p->mindex = calloc(nh + 1, sizeof(*p->mindex));
    p->fill = calloc(nh + 1, sizeof(*p->fill));
    p->io = d->disk_kbs != NULL || d->net_kbs != NULL;
    if (p->io) {
        p->base_disk = calloc(nv + 1, sizeof(*p->base_disk));
        p->base_net = calloc(nv + 1, sizeof(*p->base_net));
        if (p->base_disk == NULL || p->base_net == NULL)
            return -ENOMEM;
    }
    if (p->vm_names == NULL || p->host_tmpl == NULL || p->model_vm == NULL || p->where == NULL ||
        p->moved == NULL || p->busy == NULL || p->m_busy == NULL || p->m_no_source == NULL ||
        p->m_idle_w == NULL || p->m_peak_w == NULL || p->m_vm_peak == NULL || p->seen == NULL ||
        p->scratch == NULL || p->base_vm == NULL || p->base_req == NULL || p->base_fixed == NULL ||
        p->base_ram == NULL || p->base_first == NULL || p->base_count == NULL || p->map == NULL ||
        p->mindex == NULL || p->fill == NULL)
        return -ENOMEM;
    /* Names are created once; each step lays out copies of these entries. */
    int r = cluster_reserve(&p->cl, nh, nv);
    if (r < 0)
        return r;
    char name[32];
    size_t idx;
    for (size_t h = 0; h < nh; h++) {
        int n = snprintf(name, sizeof(name), "h%zu", h);
        r = cluster_add_host(&p->cl, name, (size_t)n, &idx);
        if (r < 0)
            return r;
        struct host *t = &p->cl.hosts[idx];
        t->capacity = d->hosts[h].total_mips / 1000.0;
        t->has_mem = cfg->memory;
        t->mem_mib = d->hosts[h].type->ram_mib;
        p->host_tmpl[h] = *t;
    }
    for (size_t v = 0; v < nv; v++) {
        int n = snprintf(name, sizeof(name), "vm%zu", v);
        r = cluster_add_vm(&p->cl, name, (size_t)n, &idx);
        if (r < 0)
            return r;
        p->vm_names[v] = p->cl.vms[idx].name;
    }
    return 0;
}

/* Capacity of a host in disk and network KB/s (0: not modelled). */
static double
io_cap(const struct dc *d, uint32_t h, bool disk)
{
    const struct power_host_type *t = d->hosts[h].type;
    return disk ? t->disk_kbs : t->bw_mbit * 1000.0 / 8.0;
}

/* The step's starting layout, read once from the data centre (its lists are scattered in
 * memory): every running VM in host and list order, with its demand and whether it may
 * move; and the hosts the model holds (see the top of the file). */
static void
build_base(struct vmpol *p, const struct dc *d)
{
    size_t n = 0;
    uint32_t hot = 0;
    const struct policy *pol = &p->cfg->policy;
    for (size_t h = 0; h < p->n_hosts; h++) {
        const struct dc_host *dh = &d->hosts[h];
        p->base_first[h] = (uint32_t)n;
        double req = 0;
        double disk = 0;
        double net = 0;
        for (uint32_t s = 0; s < dh->n_slots; s++) {
            const struct dc_slot *sl = &dh->slots[s];
            uint32_t v = sl->vm;
            if (sl->mig_in)
                continue;
            bool cooling = p->cfg->cooldown_s > 0 && sl->arrived >= 0 &&
                           d->now - sl->arrived < p->cfg->cooldown_s;
            double vreq = d->reqs[v];
            p->base_vm[n] = v;
            p->base_req[n] = vreq;
            p->base_fixed[n] = sl->out || cooling;
            p->base_ram[n] = sl->ram_mib;
            if (p->io) {
                p->base_disk[n] = dc_vm_io(d, v, true, d->now);
                p->base_net[n] = dc_vm_io(d, v, false, d->now);
                disk += p->base_disk[n];
                net += p->base_net[n];
            }
            req += vreq;
            n++;
        }
        p->base_count[h] = (uint32_t)n - p->base_first[h];
        if (p->base_count[h] == 0)
            continue;
        /* Over its threshold in a checked kind: it may be in conflict. */
        struct host_params hp;
        policy_host_params(pol, &p->host_tmpl[h], &hp);
        double use[KIND_COUNT] = {0};
        use[KIND_CPU] = req / dh->total_mips * 100.0;
        double dcap = io_cap(d, (uint32_t)h, true);
        double ncap = io_cap(d, (uint32_t)h, false);
        use[KIND_DISK] = dcap > 0 ? disk / dcap * 100.0 : 0;
        use[KIND_NET] = ncap > 0 ? net / ncap * 100.0 : 0;
        bool over = false;
        for (size_t i = 0; i < pol->n_resources; i++)
            over = over || use[pol->resources[i]] > hp.host_threshold[pol->resources[i]];
        if (over)
            hot++;
    }
    /* Each round a conflict takes at most one idle host; without the headroom check a
     * destination can itself go over its threshold and be a conflict the next round, so
     * the conflicts can double each round: (2^rounds - 1) x hot idle hosts per type cover
     * every round. */
    uint32_t rounds = p->cfg->rounds >= 1 && p->cfg->rounds <= 8 ? p->cfg->rounds : 2;
    uint32_t idle_needed = hot * ((1u << rounds) - 1u);
    p->n_base = n;
    /* The hosts in the model, in host order. */
    const struct power_host_type *types[8];
    uint32_t idle_taken[8];
    size_t n_types = 0;
    size_t m = 0;
    for (size_t h = 0; h < p->n_hosts; h++) {
        p->mindex[h] = UINT32_MAX;
        bool take = p->all_hosts || p->base_count[h] > 0 || p->busy[h];
        if (!take) {
            const struct power_host_type *t = d->hosts[h].type;
            size_t k = 0;
            while (k < n_types && types[k] != t)
                k++;
            if (k == n_types && n_types < 8) {
                types[n_types] = t;
                idle_taken[n_types] = 0;
                n_types++;
            }
            /* More types than that: keep every idle host of the others. */
            take = k >= 8 || idle_taken[k]++ < idle_needed;
        }
        if (take) {
            p->mindex[h] = (uint32_t)m;
            p->map[m++] = (uint32_t)h;
        }
    }
    p->n_model_hosts = m;
    for (size_t mi = 0; mi < m; mi++) {
        p->m_busy[mi] = p->busy[p->map[mi]];
        p->m_no_source[mi] = true;
        p->m_idle_w[mi] = d->hosts[p->map[mi]].type->watts[0];
        p->m_peak_w[mi] = d->hosts[p->map[mi]].type->watts[10];
    }
}

/* One VM's demand in the units of each kind: MIPS, and KB/s of disk and network. */
struct demand {
    double cpu;
    double disk;
    double net;
    double ram;
};

static void
put_vm(struct vmpol *p, const struct dc *d, uint32_t mi, uint32_t v, uint32_t mh,
       const struct demand *dm, bool pinned)
{
    struct vm *m = &p->cl.vms[mi];
    uint32_t h = p->map[mh];
    double pct = dm->cpu / d->hosts[h].total_mips * 100.0;
    m->name = p->vm_names[v];
    m->usage = (struct usage){.present = KIND_BIT(KIND_CPU)};
    usage_set(&m->usage, KIND_CPU, pct);
    if (p->io) {
        double dcap = io_cap(d, h, true);
        double ncap = io_cap(d, h, false);
        if (dcap > 0) {
            double x = dm->disk / dcap * 100.0;
            usage_set(&m->usage, KIND_DISK, x);
            usage_set(&p->cl.hosts[mh].usage, KIND_DISK,
                      usage_get(&p->cl.hosts[mh].usage, KIND_DISK) + x);
        }
        if (ncap > 0) {
            double x = dm->net / ncap * 100.0;
            usage_set(&m->usage, KIND_NET, x);
            usage_set(&p->cl.hosts[mh].usage, KIND_NET,
                      usage_get(&p->cl.hosts[mh].usage, KIND_NET) + x);
        }
    }
    m->host = mh;
    m->priority = 0;
    m->has_mem = p->cfg->memory;
    m->mem_mib = dm->ram;
    m->pinned = pinned;
    p->cl.hosts[mh].usage.pct[KIND_CPU] += pct;
    p->model_vm[mi] = v;
}

/* Each VM's CPU wait, as the agents measure it (docs/sim.md): on a host whose VMs ask for more
 * than all of its CPU, every VM that asks for some waits for the unmet share of its demand.
 * Recomputed with each layout, as the next sample after a move would show it. */
static void
model_wait(struct cluster *cl)
{
    for (size_t mh = 0; mh < cl->n_hosts; mh++) {
        const struct host *h = &cl->hosts[mh];
        double unmet = cpuwait_unmet_pct(h->usage.pct[KIND_CPU], 100.0);
        for (uint32_t j = 0; j < h->vm_count; j++) {
            struct vm *v = &cl->vms[h->vm_first + j];
            v->cpu_wait_pct = v->usage.pct[KIND_CPU] > 0.0 ? unmet : 0.0;
            v->has_cpu_wait = true;
        }
    }
}

/* Lay out the model: the base layout with the VMs moved so far in this step taken off
 * their hosts and appended, in move order, to their new ones. */
static void
build_model(struct vmpol *p, const struct dc *d)
{
    struct cluster *cl = &p->cl;
    size_t m = p->n_model_hosts;
    cl->n_hosts = m;
    for (size_t mh = 0; mh < m; mh++) {
        cl->hosts[mh] = p->host_tmpl[p->map[mh]];
        cl->hosts[mh].vm_count = p->base_count[p->map[mh]];
        cl->hosts[mh].usage = (struct usage){.present = KIND_BIT(KIND_CPU)};
    }
    for (size_t i = 0; i < p->n_moves; i++) {
        cl->hosts[p->mindex[p->moves[i].from]].vm_count--;
        cl->hosts[p->mindex[p->moves[i].dest]].vm_count++;
    }
    uint32_t off = 0;
    for (size_t mh = 0; mh < m; mh++) {
        cl->hosts[mh].vm_first = off;
        off += cl->hosts[mh].vm_count;
    }
    cl->n_vms = off;
    for (size_t mh = 0; mh < m; mh++) {
        size_t h = p->map[mh];
        uint32_t mi = cl->hosts[mh].vm_first;
        uint32_t end = p->base_first[h] + p->base_count[h];
        for (uint32_t b = p->base_first[h]; b < end; b++) {
            uint32_t v = p->base_vm[b];
            if (p->moved[v])
                continue;
            struct demand dm = {.cpu = p->base_req[b], .ram = p->base_ram[b]};
            if (p->io) {
                dm.disk = p->base_disk[b];
                dm.net = p->base_net[b];
            }
            put_vm(p, d, mi++, v, (uint32_t)mh, &dm, p->base_fixed[b]);
        }
        p->fill[mh] = mi;
    }
    for (size_t i = 0; i < p->n_moves; i++) {
        uint32_t mh = p->mindex[p->moves[i].dest];
        uint32_t v = p->moves[i].vm;
        struct demand dm = {.cpu = d->vms[v].req, .ram = d->vms[v].ram_mib};
        if (p->io) {
            dm.disk = dc_vm_io(d, v, true, d->now);
            dm.net = dc_vm_io(d, v, false, d->now);
        }
        put_vm(p, d, p->fill[mh]++, v, mh, &dm, true);
    }
    model_wait(cl);
}

/* Remember that VM `v` goes from host `from` to host `dest` (data centre indices). */
static int
record(struct vmpol *p, uint32_t v, uint32_t from, uint32_t dest)
{
    struct vmpol_move *nm = grow_array(p->moves, &p->cap_moves, p->n_moves + 1, sizeof(*nm), 64);
    if (nm == NULL)
        return -ENOMEM;
    p->moves = nm;
    p->where[v] = dest;
    p->moved[v] = true;
    p->moves[p->n_moves++] = (struct vmpol_move){.vm = v, .from = from, .dest = dest};
    return 0;
}

static unsigned
popcount32(uint32_t x)
{
    return (unsigned)__builtin_popcount(x);
}

/* Each model VM's peak demand over the trace samples of the last `window` steps up to now
 * (what an agent's recent samples show; never a later sample), with its current demand,
 * in percent of its host. */
static void
vm_peaks(struct vmpol *p, const struct dc *d, uint32_t window)
{
    size_t k1 = (size_t)(d->now / d->step_s);
    if (k1 > d->n_samples)
        k1 = d->n_samples;
    size_t k0 = k1 + 1 > window ? k1 + 1 - window : 0;
    for (size_t mi = 0; mi < p->cl.n_vms; mi++) {
        const struct dc_vm *v = &d->vms[p->model_vm[mi]];
        double peak = v->req;
        for (size_t k = k0; k <= k1; k++) {
            double x = v->util[k * d->util_stride] * v->mips;
            if (x > peak)
                peak = x;
        }
        uint32_t h = p->map[p->cl.vms[mi].host];
        p->m_vm_peak[mi] = peak / d->hosts[h].total_mips * 100.0;
    }
}

/* Step 1: update each host's conflict record and decide which may act. Hosts outside the
 * model run no VM, so they saw no conflict. */
static void
persistence(struct vmpol *p)
{
    const struct policy *pol = &p->cfg->policy;
    uint32_t n = p->cfg->persist_n;
    uint32_t mask = n >= 32 ? UINT32_MAX : ((uint32_t)1 << n) - 1;
    for (size_t h = 0; h < p->n_hosts; h++)
        p->seen[h] <<= 1;
    for (size_t mh = 0; mh < p->n_model_hosts; mh++) {
        size_t h = p->map[mh];
        struct host_params hp;
        policy_host_params(pol, &p->cl.hosts[mh], &hp);
        struct detection det;
        size_t nv = 0;
        detect_host(&p->cl, pol, &hp, mh, &det, p->scratch, &nv);
        p->seen[h] |= det.conflict ? 1u : 0u;
        p->conflict_host_steps += det.conflict ? 1u : 0u;
        p->unconfirmed_host_steps += det.unconfirmed ? 1u : 0u;
        bool persistent = popcount32(p->seen[h] & mask) >= p->cfg->persist_k;
        p->m_no_source[mh] = p->m_busy[mh] || !persistent;
    }
}

int
vmpol_step(struct vmpol *p, struct dc *d)
{
    /* moved[] is all false here: step 4 of the previous step cleared what it set. */
    p->n_moves = 0;
    for (size_t h = 0; h < p->n_hosts; h++)
        p->busy[h] = d->hosts[h].n_mig_in > 0 || d->hosts[h].n_mig_src > 0;
    int r = 0;
    struct plan plan;
    plan_init(&plan);
    struct consolidation cons;
    consolidation_init(&cons);
    build_base(p, d);
    build_model(p, d);
    persistence(p);
    uint32_t overloaded = 0;
    const struct policy *pol = &p->cfg->policy;
    for (size_t mh = 0; mh < p->n_model_hosts; mh++) {
        bool over = p->cl.hosts[mh].usage.pct[KIND_CPU] > pol->host_threshold[KIND_CPU];
        for (size_t i = 0; i < pol->n_resources; i++) {
            enum kind k = pol->resources[i];
            over = over || p->cl.hosts[mh].usage.pct[k] > pol->host_threshold[k];
        }
        if (over)
            overloaded++;
    }
    d->overloaded_hosts = overloaded;
    struct plan_opts opts = {.no_dest = p->m_busy, .no_source = p->m_no_source};
    uint32_t rounds = p->cfg->rounds >= 1 && p->cfg->rounds <= 8 ? p->cfg->rounds : 2;
    for (uint32_t round = 0; round < rounds; round++) {
        if (round > 0)
            build_model(p, d);
        r = plan_compute(&p->cl, &p->cfg->policy, &opts, &plan);
        if (r < 0)
            goto out;
        size_t n = plan.n_moves;
        p->conflict_migrations += n; /* each a VM not moved before in this step: pinned since */
        for (size_t i = 0; i < n; i++) {
            const struct plan_move *mv = &plan.moves[i];
            r = record(p, p->model_vm[mv->vm], p->map[mv->from], p->map[mv->to]);
            if (r < 0)
                goto out;
        }
        plan_done(&plan);
        if (n == 0)
            break;
    }
    if (p->cfg->consolidate_below_pct > 0) {
        build_model(p, d);
        struct consolidate_opts co = {
            .below_pct = p->cfg->consolidate_below_pct,
            .target_pct = p->cfg->consolidate_target_pct,
            .no_dest = p->m_busy,
            .no_source = p->m_busy,
        };
        if (p->cfg->peak_window > 0) {
            vm_peaks(p, d, p->cfg->peak_window);
            co.vm_peak_pct = p->m_vm_peak;
        }
        if (p->cfg->consolidate_efficient) {
            co.idle_w = p->m_idle_w;
            co.peak_w = p->m_peak_w;
        }
        r = consolidate_plan(&p->cl, &p->cfg->policy, &co, &cons);
        if (r < 0)
            goto out;
        for (size_t i = 0; i < cons.n_moves; i++) {
            const struct consolidate_move *mv = &cons.moves[i];
            r = record(p, p->model_vm[mv->vm], p->map[mv->from], p->map[mv->to]);
            if (r < 0)
                goto out;
        }
    }
    /* Step 4: one migration per VM, to where it ends up. */
    for (size_t i = 0; i < p->n_moves; i++) {
        uint32_t v = p->moves[i].vm;
        if (!p->moved[v])
            continue;
        p->moved[v] = false;
        if (p->where[v] == d->vms[v].host)
            continue;
        r = dc_migrate(d, v, p->where[v]);
        if (r < 0)
            goto out;
    }
out:
    for (size_t i = 0; i < p->n_moves; i++)
        p->moved[p->moves[i].vm] = false;
    plan_done(&plan);
    consolidation_done(&cons);
    return r;
}

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
 *      hosts that stay below `consolidate_target_pct`;
 *   4. each VM that ends up elsewhere migrates once, straight to its final host.
 *
 * VMs in their cooldown after a migration, and VMs moved earlier in the step, are pinned. */
#include "sim/vmpol.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/detect.h"
#include "sim/sim.h"

#define ROUNDS 4

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
    v->consolidate_below_pct = 40;
    v->consolidate_target_pct = 70;
    v->cooldown_s = 0;
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
    free(p->model_vm);
    free(p->where);
    free(p->moved);
    free(p->busy);
    free(p->no_source);
    free(p->seen);
    free(p->scratch);
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
    p->model_vm = calloc(nv + 1, sizeof(*p->model_vm));
    p->where = calloc(nv + 1, sizeof(*p->where));
    p->moved = calloc(nv + 1, sizeof(*p->moved));
    p->busy = calloc(nh + 1, sizeof(*p->busy));
    p->no_source = calloc(nh + 1, sizeof(*p->no_source));
    p->seen = calloc(nh + 1, sizeof(*p->seen));
    p->scratch = calloc(nv + 1, sizeof(*p->scratch));
    if (p->vm_names == NULL || p->model_vm == NULL || p->where == NULL || p->moved == NULL ||
        p->busy == NULL || p->no_source == NULL || p->seen == NULL || p->scratch == NULL)
        return -ENOMEM;
    /* Names are created once; each round only reorders the VM entries. */
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
        p->cl.hosts[idx].capacity = d->hosts[h].total_mips / 1000.0;
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

/* Lay out the model from p->where: VMs grouped by host in the data centre's list order. */
static void
build_model(struct vmpol *p, const struct dc *d)
{
    struct cluster *cl = &p->cl;
    /* Count per host, then place. */
    for (size_t h = 0; h < p->n_hosts; h++) {
        cl->hosts[h].vm_count = 0;
        cl->hosts[h].usage = (struct usage){.present = KIND_BIT(KIND_CPU)};
    }
    for (size_t v = 0; v < p->n_vms; v++)
        if (!d->vms[v].gone)
            cl->hosts[p->where[v]].vm_count++;
    uint32_t off = 0;
    for (size_t h = 0; h < p->n_hosts; h++) {
        cl->hosts[h].vm_first = off;
        off += cl->hosts[h].vm_count;
        cl->hosts[h].vm_count = 0;
    }
    cl->n_vms = off;
    /* Walk the hosts' lists so model order follows list order; VMs planned elsewhere this
     * step are appended to their new host after. */
    for (size_t pass = 0; pass < 2; pass++) {
        for (size_t h = 0; h < p->n_hosts; h++) {
            const struct dc_host *dh = &d->hosts[h];
            for (uint32_t s = 0; s < dh->n_slots; s++) {
                uint32_t v = dh->slots[s].vm;
                if (dh->slots[s].mig_in || d->vms[v].gone)
                    continue;
                bool here = p->where[v] == h;
                if ((pass == 0) != here)
                    continue;
                uint32_t dst = p->where[v];
                struct host *mh = &cl->hosts[dst];
                uint32_t mi = mh->vm_first + mh->vm_count++;
                const struct dc_vm *dv = &d->vms[v];
                double pct = dv->req / d->hosts[dst].total_mips * 100.0;
                struct vm *m = &cl->vms[mi];
                m->name = p->vm_names[v];
                m->usage = (struct usage){.present = KIND_BIT(KIND_CPU)};
                usage_set(&m->usage, KIND_CPU, pct);
                m->host = dst;
                m->priority = 0;
                m->has_mem = false;
                bool cooling = p->cfg->cooldown_s > 0 && dv->last_migration_end >= 0 &&
                               d->now - dv->last_migration_end < p->cfg->cooldown_s;
                m->pinned = p->moved[v] || dv->dest != DC_NONE || cooling;
                mh->usage.pct[KIND_CPU] += pct;
                p->model_vm[mi] = v;
            }
        }
    }
}

static int
record(struct vmpol *p, uint32_t v, uint32_t dest)
{
    if (p->n_moves == p->cap_moves) {
        size_t nc = p->cap_moves != 0 ? p->cap_moves * 2 : 64;
        struct vmpol_move *nm = realloc(p->moves, nc * sizeof(*nm));
        if (nm == NULL)
            return -ENOMEM;
        p->moves = nm;
        p->cap_moves = nc;
    }
    p->where[v] = dest;
    p->moved[v] = true;
    p->moves[p->n_moves++] = (struct vmpol_move){.vm = v, .dest = dest};
    return 0;
}

static unsigned
popcount32(uint32_t x)
{
    return (unsigned)__builtin_popcount(x);
}

/* Step 1: update each host's conflict record and decide which may act. */
static void
persistence(struct vmpol *p)
{
    const struct policy *pol = &p->cfg->policy;
    uint32_t n = p->cfg->persist_n;
    uint32_t mask = n >= 32 ? UINT32_MAX : ((uint32_t)1 << n) - 1;
    for (size_t h = 0; h < p->n_hosts; h++) {
        struct host_params hp;
        policy_host_params(pol, &p->cl.hosts[h], &hp);
        struct detection det;
        size_t nv = 0;
        detect_host(&p->cl, pol, &hp, h, &det, p->scratch, &nv);
        p->seen[h] = (p->seen[h] << 1) | (det.conflict ? 1u : 0u);
        bool persistent = popcount32(p->seen[h] & mask) >= p->cfg->persist_k;
        p->no_source[h] = p->busy[h] || !persistent;
    }
}

int
vmpol_step(struct vmpol *p, struct dc *d)
{
    p->n_moves = 0;
    for (size_t v = 0; v < p->n_vms; v++) {
        p->where[v] = d->vms[v].host == DC_NONE ? 0 : d->vms[v].host;
        p->moved[v] = false;
    }
    for (size_t h = 0; h < p->n_hosts; h++)
        p->busy[h] = dc_host_busy_migrating(d, (uint32_t)h) || d->hosts[h].n_mig_in > 0;
    int r = 0;
    struct plan plan;
    plan_init(&plan);
    struct consolidation cons;
    consolidation_init(&cons);
    build_model(p, d);
    persistence(p);
    uint32_t overloaded = 0;
    for (size_t h = 0; h < p->n_hosts; h++)
        if (p->cl.hosts[h].usage.pct[KIND_CPU] > p->cfg->policy.host_threshold[KIND_CPU])
            overloaded++;
    d->overloaded_hosts = overloaded;
    struct plan_opts opts = {.no_dest = p->busy, .no_source = p->no_source};
    for (int round = 0; round < ROUNDS; round++) {
        if (round > 0)
            build_model(p, d);
        r = plan_compute(&p->cl, &p->cfg->policy, &opts, &plan);
        if (r < 0)
            goto out;
        size_t n = plan.n_moves;
        for (size_t i = 0; i < n; i++) {
            r = record(p, p->model_vm[plan.moves[i].vm], plan.moves[i].to);
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
            .no_dest = p->busy,
            .no_source = p->busy,
        };
        r = consolidate_plan(&p->cl, &p->cfg->policy, &co, &cons);
        if (r < 0)
            goto out;
        for (size_t i = 0; i < cons.n_moves; i++) {
            r = record(p, p->model_vm[cons.moves[i].vm], cons.moves[i].to);
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
    plan_done(&plan);
    consolidation_done(&cons);
    return r;
}

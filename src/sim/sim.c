/* The simulation driver. Time advances over decision instants t_k = k * 300 + 0.1 s, k >= 1
 * (the reference's: the VMs' work starts a tenth of a second after they are placed) and over
 * migration ends in between; at each decision instant every host is processed (demand at
 * that instant, sharing, energy since the last processing) and the policy decides. The run
 * ends with the last decision instant inside the trace and the migrations that end before
 * the trace does (a migration still running then is left unfinished, as the reference
 * stops at the trace's end). */
#include "sim/sim.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "core/model.h"
#include "sim/refpol.h"
#include "sim/vmpol.h"

static const char *const policy_names[SIM_POLICY_COUNT] = {
    [SIM_VMLOC] = "vmloc",     [SIM_NONE] = "none",       [SIM_THR_MMT] = "thr-mmt",
    [SIM_IQR_MMT] = "iqr-mmt", [SIM_MAD_MMT] = "mad-mmt", [SIM_LR_MMT] = "lr-mmt",
    [SIM_LRR_MMT] = "lrr-mmt", [SIM_THR_MC] = "thr-mc",   [SIM_IQR_MC] = "iqr-mc",
    [SIM_MAD_MC] = "mad-mc",   [SIM_LR_MC] = "lr-mc",     [SIM_LRR_MC] = "lrr-mc",
    [SIM_THR_MU] = "thr-mu",   [SIM_IQR_MU] = "iqr-mu",   [SIM_MAD_MU] = "mad-mu",
    [SIM_LR_MU] = "lr-mu",     [SIM_LRR_MU] = "lrr-mu",   [SIM_THR_RS] = "thr-rs",
    [SIM_IQR_RS] = "iqr-rs",   [SIM_MAD_RS] = "mad-rs",   [SIM_LR_RS] = "lr-rs",
    [SIM_LRR_RS] = "lrr-rs",
};

const char *
sim_policy_name(enum sim_policy p)
{
    if ((size_t)p < SIM_POLICY_COUNT)
        return policy_names[p];
    return "?";
}

int
sim_policy_parse(const char *s, enum sim_policy *ret)
{
    for (size_t i = 0; i < SIM_POLICY_COUNT; i++) {
        if (strcmp(s, policy_names[i]) == 0) {
            *ret = (enum sim_policy)i;
            return 0;
        }
    }
    return -EINVAL;
}

bool
sim_policy_is_reference(enum sim_policy p)
{
    return p >= SIM_THR_MMT && p < SIM_POLICY_COUNT;
}

static enum refpol_detector
detector_of(enum sim_policy p)
{
    if (!sim_policy_is_reference(p))
        return REFPOL_NONE;
    return (enum refpol_detector)(REFPOL_THR + (p - SIM_THR_MMT) % 5);
}

static enum refpol_selection
selection_of(enum sim_policy p)
{
    if (!sim_policy_is_reference(p))
        return REFPOL_MMT;
    return (enum refpol_selection)((p - SIM_THR_MMT) / 5);
}

bool
sim_policy_is_random(enum sim_policy p)
{
    return sim_policy_is_reference(p) && selection_of(p) == REFPOL_RS;
}

double
sim_policy_default_param(enum sim_policy p)
{
    return refpol_default_param(detector_of(p));
}

double
sim_overloaded_host_steps(const struct sim_result *r)
{
    double n = 0;
    for (size_t i = 0; i < r->n_points; i++)
        n += r->points[i].overloaded_hosts;
    return n;
}

void
sim_result_done(struct sim_result *r)
{
    if (r == NULL)
        return;
    free(r->points);
    memset(r, 0, sizeof(*r));
}

/* The PlanetLab experiments' VM types, assigned in quarters of the (sorted) VM list. */
static const struct {
    double mips;
    double ram_mib;
} vm_types[4] = {{2500, 870}, {2000, 1740}, {1000, 1740}, {500, 613}};

static const struct power_host_type *const planetlab_hosts[2] = {&power_hp_g4, &power_hp_g5};
static const struct power_host_type *const bitbrains_hosts[1] = {&power_ibm_x3550};

/* PlanetLab, as in the published experiments: 800 hosts alternating HP G4 and G5; VM types
 * by quarters of the sorted file list; each VM placed with its full size and memory. */
static int
setup_planetlab(struct dc *d, const struct trace *tr, size_t n_hosts)
{
    int r = dc_setup(d, planetlab_hosts, 2, n_hosts, tr->n_vms, tr->n_samples, TRACE_STEP_S);
    if (r < 0)
        return r;
    d->util_stride = tr->n_vms;
    size_t quarter = (tr->n_vms + 3) / 4;
    for (size_t i = 0; i < tr->n_vms; i++) {
        struct dc_vm *v = &d->vms[i];
        size_t type = quarter != 0 ? i / quarter : 0;
        v->mips = vm_types[type].mips;
        v->size0 = v->mips;
        v->ram_mib = vm_types[type].ram_mib;
        v->util = tr->cpu + i;
    }
    return 0;
}

/* Bitbrains (docs/sim.md): IBM x3550 M3 hosts; each VM as provisioned in the trace (its
 * MHz over its cores, its memory), with its disk and network series. VMs are placed with
 * their provisioned MHz, capped at one host (some are provisioned larger than any host),
 * memory unchecked (some have more than a host); a VM at zero demand is idle, not
 * finished; a migration copies the memory the VM uses at the time, not its configured
 * size. */
static int
setup_bitbrains(struct dc *d, const struct trace *tr, size_t n_hosts)
{
    int r = dc_setup(d, bitbrains_hosts, 1, n_hosts, tr->n_vms, tr->n_samples, TRACE_STEP_S);
    if (r < 0)
        return r;
    d->util_stride = tr->n_vms;
    d->disk_kbs = tr->disk_kbs;
    d->net_kbs = tr->net_kbs;
    d->mem_used_mib = tr->mem_mib;
    d->finish_on_zero = false;
    d->place_ram = false;
    d->place_max_vms = 0;
    for (size_t i = 0; i < tr->n_vms; i++) {
        struct dc_vm *v = &d->vms[i];
        v->mips = tr->cpu_mhz[i];
        v->pes = tr->cores[i] >= 1 ? (uint32_t)tr->cores[i] : 1;
        v->ram_mib = tr->mem_cap_mib[i];
        v->util = tr->cpu + i;
        /* Placed with its provisioned size, but never more than one host (or than one host
         * core per VM core). */
        const struct power_host_type *t = bitbrains_hosts[0];
        double size = v->mips;
        if (size > t->pe_mips * v->pes)
            size = t->pe_mips * v->pes;
        if (size > t->pe_mips * t->pes)
            size = t->pe_mips * t->pes;
        v->size0 = size;
    }
    return 0;
}

size_t
sim_default_hosts(enum trace_format f)
{
    return f == TRACE_BITBRAINS ? 200 : 800;
}

static int
setup(struct dc *d, const struct trace *tr, const struct sim_config *cfg, size_t *ret_hosts)
{
    bool bb = tr->format == TRACE_BITBRAINS;
    size_t n_hosts = cfg->n_hosts != 0 ? cfg->n_hosts : sim_default_hosts(tr->format);
    int r = bb ? setup_bitbrains(d, tr, n_hosts) : setup_planetlab(d, tr, n_hosts);
    if (r < 0)
        return r;
    if (cfg->keep_idle_vms)
        d->finish_on_zero = false;
    *ret_hosts = n_hosts;
    return 0;
}

/* ---- the energy bound ---- */

double
sim_bound_threshold(const struct sim_config *cfg)
{
    double thr = 0.8; /* the adaptive detectors' and none's; vmloc's default */
    if (cfg->policy == SIM_VMLOC && cfg->vmloc != NULL)
        thr = cfg->vmloc->policy.host_threshold[KIND_CPU] / 100;
    else if (detector_of(cfg->policy) == REFPOL_THR)
        thr = cfg->param;
    if (!(thr >= 0.1))
        thr = 0.1;
    if (thr > 1)
        thr = 1;
    return thr;
}

/* The type of `types` with the least watts per MIPS at a load of at most `thr`, and that
 * figure in *ret. P(u) is linear between the tenths, so P(u) / u is monotonic between them
 * and its least value on (0, thr] is at a tenth or at thr. */
static const struct power_host_type *
bound_best(const struct power_host_type *const *types, size_t n, double thr, double *ret)
{
    const struct power_host_type *best = NULL;
    double min = INFINITY;
    for (size_t i = 0; i < n; i++) {
        double cap = types[i]->pe_mips * types[i]->pes;
        for (int k = 1; k <= 11; k++) {
            double u = k <= 10 ? k / 10.0 : thr;
            if (u > thr)
                continue;
            double w = power_watts(types[i], u) / (u * cap);
            if (w < min) {
                min = w;
                best = types[i];
            }
        }
    }
    *ret = min;
    return best;
}

double
sim_bound_watts_per_mips(const struct power_host_type *const *types, size_t n, double threshold)
{
    double w;
    (void)bound_best(types, n, threshold, &w);
    return w;
}

/* The bound at one threshold: the most efficient type, its watts per MIPS, the power at the
 * last decision instant and the energy so far. */
struct bound {
    const struct power_host_type *type;
    double w_per_mips;
    double last_w;
    double last_t;
    double joules;
    double last_mips; /* the demand at the last instant */
};

static void
bound_init(struct bound *b, const struct dc *d, double thr)
{
    const struct power_host_type *types[8];
    size_t n = 0;
    for (size_t h = 0; h < d->n_hosts; h++) {
        size_t k = 0;
        while (k < n && types[k] != d->hosts[h].type)
            k++;
        if (k == n && n < sizeof(types) / sizeof(types[0]))
            types[n++] = d->hosts[h].type;
    }
    memset(b, 0, sizeof(*b));
    b->type = bound_best(types, n, thr, &b->w_per_mips);
    b->last_t = -1;
}

/* At decision instant `t`: the demand of the VMs still running, each capped at what the
 * bound's host type can give it (a core per core), at the bound's power per MIPS; the
 * energy since the previous instant by the trapezoid rule, as the hosts' is counted. */
static void
bound_step(struct bound *b, const struct dc *d, double t)
{
    double mips = 0;
    const struct power_host_type *ty = b->type;
    for (size_t i = 0; i < d->n_vms; i++) {
        const struct dc_vm *v = &d->vms[i];
        if (v->gone)
            continue;
        uint32_t pes = v->pes < ty->pes ? v->pes : ty->pes;
        double cap = ty->pe_mips * pes;
        mips += d->reqs[i] < cap ? d->reqs[i] : cap;
    }
    double w = mips * b->w_per_mips;
    b->last_mips = mips;
    if (b->last_t >= 0)
        b->joules += (b->last_w + w) / 2 * (t - b->last_t);
    b->last_w = w;
    b->last_t = t;
}

/* Sums over the decision instants of the figures that explain the gap to the bound. */
struct gap {
    size_t n;
    double active;
    double bound_hosts;
    double util;
    double efficient;
    double idle_share;
};

/* At a decision instant, after the processing: the active hosts, how full they are, which
 * type they are and how much of their power is idle power, against the bound `b`'s
 * fractional hosts at `thr`. */
static void
gap_step(struct gap *g, const struct dc *d, const struct bound *b, double thr)
{
    double used = 0, cap = 0, watts = 0, idle = 0;
    uint32_t active = 0, efficient = 0;
    for (uint32_t i = 0; i < d->n_hosts; i++) {
        const struct dc_host *h = &d->hosts[i];
        double u = dc_host_util(d, i);
        if (!(u > 0))
            continue;
        active++;
        efficient += h->type == b->type;
        used += u * h->total_mips;
        cap += h->total_mips;
        watts += power_watts(h->type, u);
        idle += power_watts(h->type, 0);
    }
    g->n++;
    g->active += active;
    g->bound_hosts += b->last_mips / (thr * b->type->pe_mips * b->type->pes);
    g->util += cap > 0 ? used / cap : 0;
    g->efficient += active > 0 ? (double)efficient / active : 0;
    g->idle_share += watts > 0 ? idle / watts : 0;
}

static void
gap_finish(const struct gap *g, struct sim_result *res)
{
    if (g->n == 0)
        return;
    double n = (double)g->n;
    res->mean_active_hosts = g->active / n;
    res->mean_bound_hosts = g->bound_hosts / n;
    res->mean_active_util = g->util / n;
    res->efficient_share = g->efficient / n;
    res->idle_power_share = g->idle_share / n;
}

static int
push_point(struct sim_result *res, size_t *cap, const struct dc *d, uint64_t started)
{
    struct sim_point *np = grow_array(res->points, cap, res->n_points + 1, sizeof(*np), 512);
    if (np == NULL)
        return -ENOMEM;
    res->points = np;
    double e = 0;
    for (size_t i = 0; i < d->n_hosts; i++)
        e += d->hosts[i].energy_j;
    res->points[res->n_points++] = (struct sim_point){
        .time_s = d->now,
        .active_hosts = d->active_hosts,
        .overloaded_hosts = d->overloaded_hosts,
        .migrations = (uint32_t)started,
        .energy_kwh = e / 3.6e6,
        .bound_kwh = 0,
    };
    return 0;
}

int
sim_start(const struct trace *tr, const struct sim_config *cfg, struct dc *ret, size_t *ret_hosts,
          uint32_t *ret_bad)
{
    struct dc d;
    dc_init(&d);
    struct refpol rp;
    /* vmloc starts from the same placement as the static-threshold reference, so that only
     * the decisions differ. */
    refpol_init(&rp, cfg->policy == SIM_VMLOC ? REFPOL_THR : detector_of(cfg->policy), REFPOL_MMT,
                cfg->policy == SIM_VMLOC ? 0.8 : cfg->param, cfg->seed);
    size_t n_hosts = 0;
    uint32_t bad = 0;
    int r = setup(&d, tr, cfg, &n_hosts);
    if (r == 0)
        r = refpol_place_initial(&d, &rp, &bad);
    refpol_done(&rp);
    if (r < 0) {
        if (r == -ENOSPC)
            *ret_bad = bad;
        dc_done(&d);
        return r;
    }
    *ret = d;
    *ret_hosts = n_hosts;
    return 0;
}

int
sim_run(const struct trace *tr, const struct sim_config *cfg, sim_progress_fn progress, void *ctx,
        struct sim_result *ret)
{
    struct dc d;
    dc_init(&d);
    struct refpol rp;
    refpol_init(&rp, detector_of(cfg->policy), selection_of(cfg->policy), cfg->param, cfg->seed);
    struct vmpol vp;
    vmpol_init(&vp);
    struct sim_result res;
    memset(&res, 0, sizeof(res));
    size_t cap_points = 0;
    size_t n_hosts = 0;
    uint32_t bad = 0;
    struct bound low, phys;
    struct gap gap = {0};
    /* Time 0: every VM is placed with its full size. */
    int r = sim_start(tr, cfg, &d, &n_hosts, &bad);
    if (r < 0)
        goto out;
    /* The adaptive detectors read the hosts' histories, MC the VMs'. */
    enum refpol_detector det = detector_of(cfg->policy);
    if ((det != REFPOL_NONE && det != REFPOL_THR) || selection_of(cfg->policy) == REFPOL_MC) {
        r = dc_keep_history(&d);
        if (r < 0)
            goto out;
    }
    if (cfg->policy == SIM_VMLOC) {
        r = vmpol_setup(&vp, &d, cfg->vmloc);
        vp.all_hosts = cfg->vmloc_all_hosts;
        if (r < 0)
            goto out;
    }
    bound_init(&low, &d, sim_bound_threshold(cfg));
    bound_init(&phys, &d, 1.0);
    /* Decision instants: 300.1, 600.1, ... by repeated addition, as the reference's event
     * queue computes them; nothing is processed before the first (the VMs only start). */
    double end = (double)tr->n_samples * TRACE_STEP_S;
    size_t n_steps = tr->n_samples > 0 ? tr->n_samples - 1 : 0;
    double t = 0.1;
    for (size_t k = 0; k < n_steps; k++) {
        t += TRACE_STEP_S;
        if (t >= end)
            break;
        while (dc_next_event(&d) < t) {
            r = dc_complete_next(&d);
            if (r < 0)
                goto out;
        }
        r = dc_process(&d, t, true);
        if (r < 0)
            goto out;
        bound_step(&low, &d, t);
        bound_step(&phys, &d, t);
        gap_step(&gap, &d, &low, sim_bound_threshold(cfg));
        uint64_t before = d.migrations;
        if (cfg->policy == SIM_VMLOC)
            r = vmpol_step(&vp, &d);
        else
            r = refpol_step(&d, &rp);
        if (r < 0)
            goto out;
        r = push_point(&res, &cap_points, &d, d.migrations - before);
        if (r < 0)
            goto out;
        res.points[res.n_points - 1].bound_kwh = low.joules / 3.6e6;
        if (progress != NULL)
            progress(ctx, k + 1, n_steps);
    }
    while (dc_next_event(&d) <= end) {
        r = dc_complete_next(&d);
        if (r < 0)
            goto out;
    }
    dc_stats(&d, &res.stats);
    res.bound_threshold = sim_bound_threshold(cfg);
    res.lower_bound_kwh = low.joules / 3.6e6;
    res.physical_bound_kwh = phys.joules / 3.6e6;
    gap_finish(&gap, &res);
    res.n_hosts = n_hosts;
    res.n_vms = tr->n_vms;
    res.conflict_host_steps = vp.conflict_host_steps;
    res.unconfirmed_host_steps = vp.unconfirmed_host_steps;
    res.conflict_migrations = vp.conflict_migrations;
    *ret = res;
    memset(&res, 0, sizeof(res));
out:
    sim_result_done(&res);
    vmpol_done(&vp);
    refpol_done(&rp);
    dc_done(&d);
    return r;
}

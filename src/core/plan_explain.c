/* The words of a plan and the explanation of one VM (plan.h): reason and block names, the log
 * lines of a move and of the storm guard, and `vmloc explain`'s verdict on every destination,
 * asked of the same working state the plan uses (plan_work.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/detect.h"
#include "core/plan.h"
#include "core/plan_work.h"

const char *
plan_reason_name(enum plan_reason r)
{
    switch (r) {
    case PLAN_REASON_NO_MOVABLE_VM:
        return "no-movable-vm";
    case PLAN_REASON_NO_DESTINATION:
        return "no-destination";
    case PLAN_REASON_SOURCE_BUSY:
        return "source-busy";
    case PLAN_REASON_LIMIT:
        return "limit";
    case PLAN_REASON_STORM_GUARD:
        return "storm-guard";
    }
    return "unknown";
}

const char *
plan_block_name(enum plan_block b)
{
    switch (b) {
    case PLAN_BLOCK_PINNED:
        return "pinned";
    case PLAN_BLOCK_NO_DESTINATION:
        return "no-destination";
    case PLAN_BLOCK_LIMIT:
        return "limit";
    case PLAN_BLOCK_BUSY:
        return "busy";
    case PLAN_BLOCK_RULE:
        return "rule";
    case PLAN_BLOCK_DUPLICATE:
        return "duplicate";
    }
    return "none";
}

/* `t` (seconds since the epoch) as "2026-12-05 04:15:00 UTC": the civil date from the day
 * count (H. Hinnant's days_from_civil, inverted), with no call to the C library's clock. */
static void
utc_format(double t, char *buf, size_t len)
{
    int64_t s = (int64_t)floor(t);
    int64_t days = s >= 0 ? s / 86400 : (s - 86399) / 86400;
    int64_t sec = s - days * 86400;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    (void)snprintf(buf, len, "%04lld-%02lld-%02lld %02lld:%02lld:%02lld UTC",
                   (long long)(m <= 2 ? y + 1 : y), (long long)m, (long long)d,
                   (long long)(sec / 3600), (long long)(sec / 60 % 60), (long long)(sec % 60));
}

void
plan_storm_describe(const struct policy *pol, const struct cluster *cl, uint32_t vm, double until,
                    char *buf, size_t len)
{
    const struct vm *v = &cl->vms[vm];
    uint32_t n = cl->has_time
                     ? policy_storm_count(pol, cluster_vm_moves(cl, v), v->moves_count, cl->time)
                     : 0;
    char when[128];
    utc_format(until, when, sizeof(when));
    (void)snprintf(buf, len,
                   "%s moved %u times within %.0f s (max_moves_per_vm %u): the storm guard holds "
                   "it until %s",
                   v->name, (unsigned)n, pol->storm_window_s, (unsigned)pol->max_moves_per_vm,
                   when);
}

void
plan_confirm_describe(const struct policy *pol, const struct plan_conflict *c, char *buf,
                      size_t len)
{
    if (len == 0)
        return;
    buf[0] = '\0';
    if (pol->contention != CONTENTION_CONFIRM)
        return;
    char w[96];
    char p[96];
    (void)snprintf(w, sizeof(w), "%u heavy VM%s wait%s >= %.4g %%", (unsigned)c->waiting,
                   c->waiting == 1 ? "" : "s", c->waiting == 1 ? "s" : "",
                   pol->contention_wait_pct);
    if (c->cpu_pressure < 0)
        (void)snprintf(p, sizeof(p), "cpu pressure not measured");
    else
        (void)snprintf(p, sizeof(p), "cpu pressure some %.1f %% %s %.4g %%", c->cpu_pressure,
                       c->cpu_pressure >= pol->contention_pressure_pct ? ">=" : "<",
                       pol->contention_pressure_pct);
    bool by_w = (c->confirmed_by & DETECT_BY_WAIT) != 0;
    bool by_p = (c->confirmed_by & DETECT_BY_PRESSURE) != 0;
    if (by_w && by_p)
        (void)snprintf(buf, len, "confirmed by cpu wait (%s) and %s", w, p);
    else if (by_w)
        (void)snprintf(buf, len, "confirmed by cpu wait (%s)", w);
    else if (by_p)
        (void)snprintf(buf, len, "confirmed by %s", p);
    else
        (void)snprintf(buf, len, "not confirmed: %s (min_vms %u); %s", w, (unsigned)pol->min_vms,
                       p);
}

/* Why this VM and this destination, in the policy's own terms. */
void
plan_move_describe(const struct policy *pol, const struct cluster *cl, const struct plan_move *mv,
                   char *buf, size_t len)
{
    const char *vk = kind_name(pol->vm_select_resource);
    const char *dk = kind_name(pol->dest_select_resource);
    char vr[64];
    char dr[64];
    if (pol->vm_select == VM_SELECT_PRIORITY)
        (void)snprintf(vr, sizeof(vr), "highest priority");
    else if (pol->vm_select == VM_SELECT_WEIGHTED)
        (void)snprintf(vr, sizeof(vr), "highest weighted score");
    else if (pol->vm_select == VM_SELECT_WAIT)
        (void)snprintf(vr, sizeof(vr), "highest cpu wait");
    else
        (void)snprintf(vr, sizeof(vr), "highest %s usage", vk);
    if (pol->dest_select == DEST_SELECT_LEAST_USED)
        (void)snprintf(dr, sizeof(dr), "least used %s", dk);
    else if (pol->dest_select == DEST_SELECT_WEIGHTED)
        (void)snprintf(dr, sizeof(dr), "best weighted free capacity");
    else
        (void)snprintf(dr, sizeof(dr), "most free %s", dk);
    if (mv->why == PLAN_MOVE_DRAIN)
        (void)snprintf(buf, len, "drain of %s (maintenance); destination with the %s (score %.1f)",
                       cl->hosts[mv->from].name, dr, mv->score);
    else
        (void)snprintf(buf, len,
                       "conflict on %s; movable VM with the %s; destination with the %s "
                       "(score %.1f)",
                       cl->hosts[mv->from].name, vr, dr, mv->score);
}

const char *
dest_verdict_name(enum dest_verdict v)
{
    switch (v) {
    case DEST_OK:
        return "ok";
    case DEST_NOT_UP:
        return "down";
    case DEST_MAINTENANCE:
        return "maintenance";
    case DEST_EXCLUDED:
        return "excluded";
    case DEST_BUSY:
        return "busy";
    case DEST_NO_ROOM:
        return "no-room";
    case DEST_NO_MEMORY:
        return "no-memory";
    case DEST_RULE:
        return "rule";
    }
    return "?";
}

void
vm_explain_done(struct vm_explain *e)
{
    if (e == NULL)
        return;
    free(e->dests);
    memset(e, 0, sizeof(*e));
}

/* Possible destinations first (more "should" rules kept, then higher score), then the others
 * in host order. */
static int
dest_cmp(const void *a, const void *b)
{
    const struct dest_explain *x = a;
    const struct dest_explain *y = b;
    if ((x->verdict == DEST_OK) != (y->verdict == DEST_OK))
        return x->verdict == DEST_OK ? -1 : 1;
    if (x->verdict == DEST_OK) {
        if (x->should_kept != y->should_kept)
            return x->should_kept > y->should_kept ? -1 : 1;
        if (x->score != y->score)
            return x->score > y->score ? -1 : 1;
    }
    return x->host < y->host ? -1 : x->host > y->host;
}

/* What holds VM `vm` on host `src` now: a pin, a migration, its name on another host, its
 * cooldown, the storm guard, a "together" rule. */
static void
explain_holds(const struct work *w, size_t vm, size_t src, struct vm_explain *ret)
{
    const struct cluster *cl = w->cl;
    const struct policy *pol = w->pol;
    const struct vm *v = &cl->vms[vm];
    ret->vm = (uint32_t)vm;
    ret->host = (uint32_t)src;
    ret->pinned = v->pinned;
    ret->held = v->held;
    ret->duplicate = v->duplicate;
    ret->cooling = policy_vm_cooling(pol, cl, vm);
    if (ret->cooling) {
        ret->cooldown_left = pol->cooldown_s - (cl->time - v->arrived);
        ret->cooldown_until = v->arrived + pol->cooldown_s;
    }
    ret->storm_guard = policy_vm_storm_guarded(pol, cl, vm, 0, &ret->storm_until);
    if (cl->has_time)
        ret->recent_moves =
            policy_storm_count(pol, cluster_vm_moves(cl, v), v->moves_count, cl->time);
    for (uint32_t k = 0;
         plan_work_has_rules(w, (uint32_t)vm) && k < w->vm_rule_off[vm + 1] - w->vm_rule_off[vm];
         k++) {
        uint32_t rr = w->vm_rules[w->vm_rule_off[vm] + k];
        const struct placement_rule *pr = &pol->rules[rr];
        if (pr->kind == RULE_TOGETHER && pr->must &&
            plan_work_held_together(w, (uint32_t)vm, src)) {
            ret->held_rule_id = rr + 1;
            break;
        }
    }
}

/* The verdict on host `d` as the destination of VM `vm` from host `src`. */
static void
explain_dest(const struct work *w, size_t vm, size_t src, size_t d, unsigned mask,
             struct dest_explain *e)
{
    const struct cluster *cl = w->cl;
    const struct policy *pol = w->pol;
    const struct vm *v = &cl->vms[vm];
    e->host = (uint32_t)d;
    struct destleaf leaf;
    plan_work_leaf(w, d, &leaf);
    e->score = leaf.score;
    const struct host *h = &cl->hosts[d];
    if (h->state == HOST_DOWN) {
        e->verdict = DEST_NOT_UP;
        return;
    }
    if (h->state == HOST_MAINTENANCE) {
        e->verdict = DEST_MAINTENANCE;
        return;
    }
    if (w->excluded != NULL && w->excluded[d]) {
        e->verdict = DEST_EXCLUDED;
        return;
    }
    if (!leaf.eligible) {
        e->verdict = DEST_BUSY;
        return;
    }
    bool roomy = true;
    for (unsigned k = 0; k < KIND_COUNT && roomy; k++) {
        double need = v->usage.pct[k] * w->hp[src].capacity;
        if ((mask & KIND_BIT(k)) && !(leaf.free[k] > need)) {
            roomy = false;
            e->verdict = DEST_NO_ROOM;
            e->kind = (enum kind)k;
            e->free = leaf.free[k];
            e->need = need;
        }
    }
    if (!roomy)
        return;
    if (v->has_mem && !(leaf.mem_free >= v->mem_mib)) {
        e->verdict = DEST_NO_MEMORY;
        e->free = leaf.mem_free;
        e->need = v->mem_mib;
        return;
    }
    for (uint32_t k = 0;
         plan_work_has_rules(w, (uint32_t)vm) && k < w->vm_rule_off[vm + 1] - w->vm_rule_off[vm];
         k++) {
        uint32_t rr = w->vm_rules[w->vm_rule_off[vm] + k];
        bool kept = plan_work_rule_kept(w, rr, (uint32_t)vm, d);
        if (pol->rules[rr].must && !kept && e->verdict == DEST_OK) {
            e->verdict = DEST_RULE;
            e->rule_id = rr + 1;
        } else if (!pol->rules[rr].must && kept) {
            e->should_kept++;
        }
    }
}

int
plan_explain_vm(const struct cluster *cl, const struct policy *pol, const struct plan_opts *opts,
                size_t vm, struct vm_explain *ret)
{
    memset(ret, 0, sizeof(*ret));
    if (vm >= cl->n_vms)
        return -EINVAL;
    struct work w;
    int r = plan_work_init(&w, cl, pol, opts);
    if (r == 0)
        r = plan_work_prepare_moves(&w, 1);
    const struct vm *v = &cl->vms[vm];
    size_t src = v->host;
    ret->dests = r == 0 ? calloc(cl->n_hosts + 1, sizeof(*ret->dests)) : NULL;
    uint32_t *heavy = r == 0 ? malloc((cl->hosts[src].vm_count + 1) * sizeof(*heavy)) : NULL;
    if (r == 0 && (ret->dests == NULL || heavy == NULL))
        r = -ENOMEM;
    if (r != 0) {
        free(heavy);
        vm_explain_done(ret);
        plan_work_done(&w);
        return r;
    }
    explain_holds(&w, vm, src, ret);
    struct detection det;
    size_t nh = 0;
    detect_host(cl, pol, &w.hp[src], src, &det, heavy, &nh);
    ret->host_in_conflict = det.conflict;
    ret->host_unconfirmed = det.unconfirmed;
    ret->confirmed_by = det.confirmed_by;
    ret->waiting = det.waiting;
    ret->cpu_pressure = pressure_has(&cl->hosts[src].pressure, PRESSURE_CPU, PRESSURE_SOME)
                            ? cl->hosts[src].pressure.pct[PRESSURE_CPU][PRESSURE_SOME]
                            : -1.0;
    for (size_t i = 0; i < nh; i++)
        ret->heavy |= heavy[i] == vm;
    free(heavy);
    unsigned mask = KIND_BIT(KIND_CPU) | policy_resource_mask(pol);
    for (size_t d = 0; d < cl->n_hosts; d++) {
        if (d == src)
            continue;
        struct dest_explain *e = &ret->dests[ret->n_dests++];
        explain_dest(&w, vm, src, d, mask, e);
        if (e->verdict == DEST_OK)
            ret->n_ok++;
    }
    qsort(ret->dests, ret->n_dests, sizeof(*ret->dests), dest_cmp);
    plan_work_done(&w);
    return 0;
}

/* The manager's decisions.
 *
 * After each collection round the latest samples become a cluster model (hosts that stopped
 * answering are in it as down, so their VMs are neither checked nor moved, and nothing is
 * moved onto them) and plan_compute() decides, with every host that has a migration into or
 * out of it excluded as source and destination. A conflict is recorded once per episode (when
 * it appears or its VMs change), with its outcome; the moves are ordered (manager_mig.c) or
 * recommended (manager_recs.c) by the automation level. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "core/consolidate.h"
#include "core/plan.h"
#include "manager/manager_internal.h"
#include "proto/utf8.h"

/* Edge: a host whose agent has not notified for two intervals and this long is no longer in
 * conflict. */
#define EDGE_QUIET_S 2.0

/* Edge: is host `h`, not notified in this decision, still in its conflict episode? Its agent
 * notifies at every one of its samples (its interval comes with its registration) while the
 * conflict lasts, except while a migration of the host runs, and one notification at a time. */
static bool
edge_still_notifying(const struct manager *m, const struct mhost *h, bool busy, double now)
{
    if (busy)
        return true;
    double period = h->agent_interval > m->opts.interval_s ? h->agent_interval : m->opts.interval_s;
    return now - h->notified_at < 2.0 * period + EDGE_QUIET_S;
}

/* Record conflict `c` of host `h` with `outcome` once per episode and outcome; under [detect]
 * contention = confirm the outcome says what confirmed it. */
static void
record_conflict(struct manager *m, const struct cluster *cl, const struct plan *p,
                const struct plan_conflict *c, struct mhost *h, const char *outcome_in)
{
    char outcome[1400];
    char why[256];
    plan_confirm_describe(&m->opts.policy, c, why, sizeof(why));
    (void)snprintf(outcome, sizeof(outcome), "%s%s%s%s", outcome_in, why[0] != '\0' ? " (" : "",
                   why, why[0] != '\0' ? ")" : "");
    utf8_trim_partial(outcome);
    h->v.in_conflict = true;
    h->unconfirmed_open = false;
    const char **vms = calloc(c->vm_count + 1u, sizeof(*vms));
    if (vms == NULL)
        return; /* recorded at the next decision */
    for (uint32_t j = 0; j < c->vm_count; j++)
        vms[j] = cl->vms[p->conflict_vms[c->vm_off + j]].name;
    char *key = conflict_key(c->kinds, vms, c->vm_count);
    free(vms);
    if (key != NULL && episode_note(&h->episode, key, outcome)) {
        m->conflicts_total++;
        h->unresolved_logged = false;
        conflict_record(m->store, clock_wall_s(), h->v.name, key, outcome, true);
    }
    free(key);
}

/* The storm guard holds VM `vm` until `until`: logged and counted once per VM and window. */
static void
note_storm(struct manager *m, const struct cluster *cl, uint32_t vm, double until)
{
    if (storm_note(&m->storm_once, &m->opts.policy, cl, vm, until, " (a drain still does)"))
        m->storm_holds_total++;
}

/* Carry out (or recommend) a move chosen outside a conflict, by the automation level. */
static void
act(struct manager *m, const char *vm, const char *from, const char *to, const char *reason)
{
    enum automation level = m->opts.policy.automation;
    if (level == AUTOMATION_AUTOMATIC)
        (void)manager_order(m, vm, from, to, reason, NULL, 0);
    else
        (void)manager_recommend(m, vm, from, to, reason, level == AUTOMATION_DRY_RUN);
}

/* Power saving, when nothing else is to be done: empty one lightly used host onto busy ones
 * that stay below the target (the core's consolidate_plan()). */
static void
consolidate(struct manager *m, const struct cluster *cl, const bool *busy)
{
    const struct policy *pol = &m->opts.policy;
    bool *no_dest = calloc(cl->n_hosts + 1, sizeof(*no_dest));
    if (no_dest == NULL)
        return;
    for (size_t i = 0; i < cl->n_hosts; i++)
        no_dest[i] = busy[i]; /* excluded hosts: consolidate_plan() knows them */
    struct consolidate_opts co = {.below_pct = pol->consolidate_below,
                                  .target_pct = pol->consolidate_target,
                                  .max_hosts = 1,
                                  .no_dest = no_dest,
                                  .no_source = busy};
    struct consolidation c;
    consolidation_init(&c);
    if (consolidate_plan(cl, pol, &co, &c) == 0) {
        for (size_t i = 0; i < c.n_emptied; i++) {
            uint32_t h = c.emptied[i];
            log_info("power saving: emptying host=\"%s\" cpu=%.1f%% (below %.4g%%) vms=%u",
                     cl->hosts[h].name, cl->hosts[h].usage.pct[KIND_CPU], pol->consolidate_below,
                     (unsigned)cl->hosts[h].vm_count);
        }
        /* Within the limits: at most max_per_host (one when 0) and max_migrations moves now;
         * the rest follow at the next quiet decisions, the host being still the lightest. */
        size_t cap = pol->max_per_host > 0 ? pol->max_per_host : 1;
        if (pol->max_migrations > 0 && pol->max_migrations < cap)
            cap = pol->max_migrations;
        for (size_t i = 0; i < c.n_moves && i < cap; i++) {
            const struct consolidate_move *mv = &c.moves[i];
            char reason[250];
            (void)snprintf(reason, sizeof(reason),
                           "power saving: empty %.100s (cpu %.1f%% < %.4g%%) onto a host that "
                           "stays below %.4g%%",
                           cl->hosts[mv->from].name, cl->hosts[mv->from].usage.pct[KIND_CPU],
                           pol->consolidate_below, pol->consolidate_target);
            act(m, cl->vms[mv->vm].name, cl->hosts[mv->from].name, cl->hosts[mv->to].name, reason);
        }
    }
    consolidation_done(&c);
    free(no_dest);
}

/* The conflict of host `hi` in plan `p`, or NULL. */
static const struct plan_conflict *
conflict_of(const struct plan *p, uint32_t hi)
{
    const struct plan_conflict *c = NULL;
    for (size_t k = 0; k < p->n_conflicts; k++) {
        if (p->conflicts[k].host == hi)
            c = &p->conflicts[k];
    }
    return c;
}

/* Which hosts the plan examines: edge, those whose agents found a conflict (they apply the
 * persistence filter); central with K of N, those whose conflict persisted; else all (NULL
 * in *ret). 0 or -ENOMEM. */
static int
hosts_to_check(struct manager *m, const struct cluster *cl, struct mhost **map, bool **ret)
{
    *ret = NULL;
    bool persist = m->opts.policy.persist_k != 1 || m->opts.policy.persist_n != 1;
    if (!m->opts.edge && !persist)
        return 0;
    bool *check = calloc(cl->n_hosts + 1, sizeof(*check));
    if (check == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < cl->n_hosts; i++) {
        if (m->opts.edge) {
            check[i] = map[i]->notified;
            map[i]->notified = false;
        } else {
            check[i] = policy_persist_holds(&m->opts.policy, map[i]->conflict_seen);
        }
    }
    *ret = check;
    return 0;
}

/* One planned move: ordered, or recommended (manual, dry-run), and its conflict recorded. */
static void
act_on_move(struct manager *m, const struct cluster *cl, const struct plan *p, struct mhost **map,
            const struct plan_move *mv)
{
    char reason[250];
    plan_move_describe(&m->opts.policy, cl, mv, reason, sizeof(reason));
    /* Automation: a drain runs unless dry-run (an operator asked for it); a conflict's move
     * waits for the operator in manual mode. */
    enum automation level = m->opts.policy.automation;
    bool hold =
        mv->why == PLAN_MOVE_DRAIN ? level == AUTOMATION_DRY_RUN : level != AUTOMATION_AUTOMATIC;
    const char *vm = cl->vms[mv->vm].name;
    const char *from = cl->hosts[mv->from].name;
    const char *to = cl->hosts[mv->to].name;
    char outcome[1024];
    if (!hold) {
        (void)snprintf(outcome, sizeof(outcome), "move %s to %s", vm, to);
    } else {
        const char *rid = manager_recommend(m, vm, from, to, reason, level == AUTOMATION_DRY_RUN);
        if (level == AUTOMATION_DRY_RUN)
            (void)snprintf(outcome, sizeof(outcome), "dry-run: would move %s to %s", vm, to);
        else
            (void)snprintf(outcome, sizeof(outcome), "recommended: move %s to %s (vmloc apply %s)",
                           vm, to, rid);
    }
    if (mv->held_vm != UINT32_MAX) {
        char held[400];
        plan_storm_describe(&m->opts.policy, cl, mv->held_vm, mv->held_until, held, sizeof(held));
        size_t used = strlen(outcome);
        (void)snprintf(outcome + used, sizeof(outcome) - used, " (%s)", held);
        note_storm(m, cl, mv->held_vm, mv->held_until);
    }
    utf8_trim_partial(outcome);
    const struct plan_conflict *c = conflict_of(p, mv->from);
    if (c != NULL)
        record_conflict(m, cl, p, c, map[mv->from], outcome);
    if (!hold)
        (void)manager_order(m, vm, from, to, reason, NULL, 0);
}

/* One conflict the plan could not resolve now: why, recorded, and logged once. */
static void
act_on_unresolved(struct manager *m, const struct cluster *cl, const struct plan *p,
                  struct mhost **map, const struct plan_unresolved *u)
{
    struct mhost *h = map[u->host];
    char outcome[1024];
    if (u->reason == PLAN_REASON_SOURCE_BUSY)
        (void)snprintf(outcome, sizeof(outcome), "waiting: a migration of this host runs");
    else if (u->reason == PLAN_REASON_LIMIT)
        (void)snprintf(outcome, sizeof(outcome),
                       "waiting: migration limit (max_migrations %u, max_per_host %u)",
                       (unsigned)m->opts.policy.max_migrations,
                       (unsigned)m->opts.policy.max_per_host);
    else if (u->rule_id > 0)
        (void)snprintf(outcome, sizeof(outcome), "unresolved: %s (rule \"%s\" keeps %s off %s)",
                       plan_reason_name(u->reason), m->opts.policy.rules[u->rule_id - 1].name,
                       cl->vms[u->vm].name, cl->hosts[u->rule_host].name);
    else if (u->reason == PLAN_REASON_STORM_GUARD) {
        char held[400];
        plan_storm_describe(&m->opts.policy, cl, u->vm, u->until, held, sizeof(held));
        (void)snprintf(outcome, sizeof(outcome), "unresolved: %s (%s)", plan_reason_name(u->reason),
                       held);
        note_storm(m, cl, u->vm, u->until);
    } else
        (void)snprintf(outcome, sizeof(outcome), "unresolved: %s", plan_reason_name(u->reason));
    const struct plan_conflict *c = conflict_of(p, u->host);
    if (c != NULL)
        record_conflict(m, cl, p, c, h, outcome);
    if (u->reason != PLAN_REASON_SOURCE_BUSY && u->reason != PLAN_REASON_LIMIT &&
        !h->unresolved_logged) {
        h->unresolved_logged = true;
        log_warnx("conflict unresolved host=\"%s\" reason=%s", h->v.name,
                  plan_reason_name(u->reason));
    }
}

/* [detect] contention = confirm: usage conflicts that neither CPU wait nor pressure confirmed
 * are not acted on; each is recorded and logged once per episode, with why. */
static void
note_unconfirmed(struct manager *m, const struct cluster *cl, const struct plan *p,
                 struct mhost **map, bool *seen)
{
    for (size_t i = 0; i < p->n_unconfirmed; i++) {
        const struct plan_conflict *c = &p->unconfirmed[i];
        struct mhost *h = map[c->host];
        seen[c->host] = true;
        const char **vms = calloc(c->vm_count + 1u, sizeof(*vms));
        if (vms == NULL)
            continue; /* recorded at the next decision */
        for (uint32_t j = 0; j < c->vm_count; j++)
            vms[j] = cl->vms[p->conflict_vms[c->vm_off + j]].name;
        char *key = conflict_key(c->kinds, vms, c->vm_count);
        free(vms);
        char why[256];
        plan_confirm_describe(&m->opts.policy, c, why, sizeof(why));
        if (key != NULL &&
            conflict_note_unconfirmed(&h->episode, m->store, clock_wall_s(), h->v.name, key, why))
            h->unconfirmed_open = true;
        if (h->v.in_conflict) {
            h->v.in_conflict = false; /* its conflict is no longer confirmed */
            log_info("conflict over host=\"%s\": no longer confirmed", h->v.name);
        }
        free(key);
    }
}

void
manager_note_notified_unconfirmed(struct manager *m, struct mhost *h, uint32_t waiting,
                                  double cpu_pressure)
{
    if (!h->v.has_sample || !manager_ha_leads(m))
        return;
    h->notified_at = clock_mono_s(); /* its episode lasts while the agent notifies */
    /* The usage rule alone names the conflict: the agent, not this manager, found it
     * unconfirmed (the two should share one policy, but a difference must not make this
     * manager act on a conflict its agent holds back). */
    struct policy usage = m->opts.policy;
    usage.contention = CONTENTION_OFF;
    const struct wire_sample *s = &h->v.sample;
    const char **vms = calloc(s->n_vms + 1, sizeof(*vms));
    uint8_t kinds = 0;
    size_t n = 0;
    int r = vms != NULL ? wire_sample_conflict(s, &usage, &kinds, vms, &n, NULL) : -ENOMEM;
    char *key = r == 1 ? conflict_key(kinds, vms, n) : NULL;
    free(vms);
    if (r != 1) {
        log_debug("unconfirmed conflict notified host=\"%s\" but no usage conflict on its "
                  "sample under this manager's policy%s, ignoring",
                  h->v.name, r < 0 ? " (out of memory)" : "");
        return;
    }
    struct plan_conflict c = {.waiting = waiting, .cpu_pressure = cpu_pressure};
    char why[256];
    usage.contention = CONTENTION_CONFIRM; /* described as the agent found it */
    plan_confirm_describe(&usage, &c, why, sizeof(why));
    if (key != NULL &&
        conflict_note_unconfirmed(&h->episode, m->store, clock_wall_s(), h->v.name, key, why))
        h->unconfirmed_open = true;
    if (key != NULL && h->v.in_conflict) {
        h->v.in_conflict = false; /* its conflict is no longer confirmed */
        log_info("conflict over host=\"%s\": no longer confirmed", h->v.name);
    }
    free(key);
}

/* Drains: what holds each one back, logged when it changes, and the end. */
static void
note_drains(const struct cluster *cl, const struct plan *p, struct mhost **map)
{
    for (size_t i = 0; i < p->n_drains; i++) {
        const struct plan_drain *d = &p->drains[i];
        struct mhost *h = map[d->host];
        const char *vm = d->vm != UINT32_MAX ? cl->vms[d->vm].name : "";
        if ((h->drain_block != (int)d->block || strcmp(h->drain_block_vm, vm) != 0) &&
            d->block != 0 && d->block != PLAN_BLOCK_BUSY && d->block != PLAN_BLOCK_LIMIT)
            log_warnx("drain blocked host=\"%s\" reason=%s vm=\"%s\" vms_left=%u", h->v.name,
                      plan_block_name(d->block), vm, (unsigned)d->vms_left);
        if (d->vms_left == 0 && !h->drained_logged)
            log_info("drained host=\"%s\": no VM left, ready for maintenance", h->v.name);
        h->drained_logged = d->vms_left == 0;
        h->drain_block = (int)d->block;
        (void)snprintf(h->drain_block_vm, sizeof(h->drain_block_vm), "%s", vm);
    }
}

/* The episodes of hosts in conflict that the plan no longer names (`seen`) end. */
static void
close_episodes(struct manager *m, const struct cluster *cl, struct mhost **map, const bool *check,
               const bool *busy, const bool *seen)
{
    double now = clock_mono_s(); /* a clock jump must not end or prolong an episode */
    for (size_t i = 0; i < cl->n_hosts; i++) {
        /* Edge: a host not examined now is over its conflict when its agent has stopped
         * notifying (it notifies every sample while the conflict lasts). */
        if (check != NULL && !check[i] && edge_still_notifying(m, map[i], busy[i], now))
            continue;
        if (!seen[i] && map[i]->unconfirmed_open) {
            map[i]->unconfirmed_open = false;
            episode_close(&map[i]->episode);
        }
        if (!seen[i] && map[i]->v.in_conflict) {
            map[i]->v.in_conflict = false;
            episode_close(&map[i]->episode);
            map[i]->unresolved_logged = false;
            log_info("conflict over host=\"%s\"", map[i]->v.name);
        }
    }
}

void
manager_decide(struct manager *m)
{
    struct cluster cl;
    struct plan p;
    manager_settle_from_samples(m);
    cluster_init(&cl);
    plan_init(&p);
    struct mhost **map = calloc(m->n_hosts + 1, sizeof(struct mhost *));
    bool *busy = calloc(m->n_hosts + 1, sizeof(*busy));
    bool *check = NULL;
    bool *seen = NULL;
    if (map == NULL || busy == NULL || manager_model(m, &cl, map, busy) < 0 ||
        hosts_to_check(m, &cl, map, &check) < 0) {
        log_warnx("no decision this round: out of memory");
        goto out;
    }
    if (dupvms_update(&m->dups, &cl, "neither copy is moved until it runs on one host only") < 0)
        log_warnx("VMs on two hosts not reported this round: out of memory");
    struct plan_opts opts = {
        .no_dest = busy, .no_source = busy, .check = check, .running = m->n_active, .drain = true};
    seen = calloc(cl.n_hosts + 1, sizeof(*seen));
    if (seen == NULL || plan_compute(&cl, &m->opts.policy, &opts, &p) < 0) {
        log_warnx("no decision this round: out of memory");
        goto out;
    }
    for (size_t i = 0; i < p.n_moves; i++) {
        act_on_move(m, &cl, &p, map, &p.moves[i]);
        seen[p.moves[i].from] = true;
    }
    for (size_t i = 0; i < p.n_unresolved; i++) {
        act_on_unresolved(m, &cl, &p, map, &p.unresolved[i]);
        seen[p.unresolved[i].host] = true;
    }
    note_unconfirmed(m, &cl, &p, map, seen);
    note_drains(&cl, &p, map);
    close_episodes(m, &cl, map, check, busy, seen);
    manager_recs_expire(m);
    if (p.n_conflicts == 0 && p.n_moves == 0 && m->n_active == 0 &&
        m->opts.policy.consolidate_below > 0)
        consolidate(m, &cl, busy);
out:
    free(seen);
    free(check);
    free(map);
    free(busy);
    plan_done(&p);
    cluster_done(&cl);
}

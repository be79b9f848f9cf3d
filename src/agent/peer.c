/* Peer mode: no manager. When this host is in conflict (agent_detect.c), the agent
 *
 *   1. takes its own host's lock, so nobody migrates into or out of it meanwhile (if another
 *      peer holds it, it waits for the next sample);
 *   2. asks every peer for a fresh sample at once; a peer that does not answer in time is
 *      skipped in this decision, and used again as soon as it answers;
 *   3. decides with the core (plan_compute() on this host and the peers that answered, with
 *      only this host examined for conflicts), as the manager would on the same samples;
 *   4. asks the chosen destination for its lock (POST /v1/lock, with a lease). A refusal
 *      excludes that host and the decision is made again without it, and without every host
 *      that refused before, until a lock is granted or no destination is left;
 *   5. runs the migration itself (migrate.h), renewing the destination's lease while it runs,
 *      and releases both locks when it ends. A renewal refused because another host holds
 *      the destination's lock now stops the migration (lock_lost()).
 *
 * Our requests for a peer's lock are numbered (hostlock.h, "tokens"), so that a late release
 * or renewal cannot end or take back a later take of ours.
 *
 * A destination accepts an arriving VM only from the holder of its lock, so each host takes
 * part in at most one migration at a time even when several peers pick it at once. A holder
 * that dies cannot block a host for longer than its lease: the lease runs on the holder's
 * renewals and on the host's monotonic clock. What this agent decided and did (conflicts,
 * migrations) goes to its own store, served at GET /v1/conflicts and GET /v1/migrations. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/peer_internal.h"
#include "common/clock.h"
#include "common/log.h"
#include "core/plan.h"
#include "net/loop.h"

/* A decision gives up after this many lock requests (each refusal excludes one host, and a
 * destination that is no longer the best after its fresh sample is let go). */
#define MAX_LOCK_ATTEMPTS(pm) ((int)(pm)->n_peers + 4)

/* ---- the decision ----------------------------------------------------------------------- */

static void decide(struct peer_mode *pm);
static void lock_done(void *arg, int status, const char *body, size_t len, const char *err);

double
peer_ask_timeout(double interval_s)
{
    return interval_s < 0.5 ? 0.5 : interval_s > 5.0 ? 5.0 : interval_s;
}

static double
ask_timeout(const struct peer_mode *pm)
{
    return peer_ask_timeout(pm->o.interval_s);
}

static void
back_to_idle(struct peer_mode *pm)
{
    (void)peer_lock_drop(pm, pm->o.name, 0);
    pm->phase = PEER_IDLE;
    pm->acting = NULL;
    (void)event_del(pm->renew_ev);
    (void)event_del(pm->gather_ev);
}

/* Keep this host's own lock while a decision runs. false: it was lost (its lease ran out and
 * another host took it): the decision must stop. */
static bool
keep_own_lock(struct peer_mode *pm)
{
    const char *holder;
    double left;
    if (peer_lock_own(pm, pm->o.name, 0, pm->o.lock_lease_s, &holder, &left) == 0)
        return true;
    log_warnx("decision stopped host=\"%s\": this host's lock went to \"%s\"", pm->o.name, holder);
    return false;
}

/* Ask peer `p` for its lock (or to renew it), or to release it, for the take numbered
 * `token` (hostlock.h; 0: none, an older peer's echo lacked it). */
static int
send_lock(struct peer_mode *pm, struct peer *p, bool release, uint64_t token, http_done_fn done)
{
    const char *path = release ? "/v1/lock/release" : "/v1/lock";
    json_t *j = release
                    ? json_pack("{s:s}", "holder", pm->o.name)
                    : json_pack("{s:s,s:f}", "holder", pm->o.name, "lease_s", pm->o.lock_lease_s);
    if (j != NULL && token != 0 &&
        json_object_set_new(j, "token", json_integer((json_int_t)token)) < 0) {
        json_decref(j);
        j = NULL;
    }
    char *body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    int r = body != NULL ? peer_send(pm, p, "POST", path, body, done) : -ENOMEM;
    free(body);
    return r;
}

static void
release_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct peer *p = arg;
    peer_answered(p);
    (void)body;
    (void)len;
    if (status == 409)
        log_debug("lock release url=%s: another host holds it now", p->v.url);
    else if (status != 200)
        log_warnx("lock release not confirmed url=%s status=%d error=\"%s\"; its lease will end it",
                  p->v.url, status, status == 0 ? err : "");
}

/* The holder a refusal names (`body`, another host's answer) into `buf`: "" when it names
 * none, or no valid name. */
static void
answer_holder(const char *body, size_t len, char *buf, size_t size)
{
    json_t *j = body != NULL ? json_loadb(body, len, 0, NULL) : NULL;
    const char *h = json_string_value(json_object_get(j, "holder"));
    (void)snprintf(buf, size, "%s", h != NULL && wire_name_valid(h) ? h : "");
    json_decref(j);
}

/* Give back peer `p`'s lock taken with `token` (best effort: its lease ends it otherwise). */
static void
release_token(struct peer_mode *pm, struct peer *p, uint64_t token)
{
    if (send_lock(pm, p, true, token, release_done) < 0)
        log_warnx("lock release not sent url=%s; its lease will end it", p->v.url);
}

/* Give back our latest take of peer `p`'s lock. The token keeps the release from ending a
 * later take of ours should it arrive late. */
static void
release_peer(struct peer_mode *pm, struct peer *p)
{
    release_token(pm, p, p->lock_token);
}

/* Give back the grant answered in `body`, that came after we moved on: the one its token
 * names, not a later one. */
static void
release_answered(struct peer_mode *pm, struct peer *p, const char *body, size_t len)
{
    json_t *j = body != NULL ? json_loadb(body, len, 0, NULL) : NULL;
    json_int_t t = json_integer_value(json_object_get(j, "token"));
    json_decref(j);
    release_token(pm, p, t > 0 ? (uint64_t)t : 0);
}

bool
peer_take_sample(struct peer_mode *pm, struct peer *p, int status, const char *body, size_t len,
                 const char *err)
{
    char why[160] = "";
    if (p->retired)
        return false;
    if (status != 200) {
        if (status == 0)
            (void)snprintf(why, sizeof(why), "%s", err);
        else
            (void)snprintf(why, sizeof(why), "status %d", status);
    } else {
        struct wire_sample s;
        struct perr perr;
        if (wire_sample_decode(body, len, &s, &perr) < 0) {
            (void)snprintf(why, sizeof(why), "bad sample: %.140s", perr.msg);
        } else if (strcmp(s.name, pm->o.name) == 0) {
            (void)snprintf(why, sizeof(why), "it reports this host's own name");
            pm->name_clash = true;
            wire_sample_done(&s);
        } else {
            hview_take(&p->v, &s, clock_wall_s());
            /* Whether it is in conflict under this agent's policy, for the web page. */
            p->v.in_conflict =
                wire_sample_conflict(&p->v.sample, pm->o.policy, NULL, NULL, NULL, NULL) == 1;
            if (!p->v.up)
                log_info("peer answers again url=%s host=\"%s\"", p->v.url, p->v.name);
            p->v.up = true;
            return true;
        }
    }
    if (p->v.up)
        log_warnx("peer skipped url=%s reason=\"%s\"", p->v.url, why);
    p->v.up = false;
    return false;
}

static void
gather_finish(struct peer_mode *pm)
{
    (void)event_del(pm->gather_ev);
    decide(pm);
}

static void
gather_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct peer *p = arg;
    peer_answered(p);
    struct peer_mode *pm = p->pm;
    p->waiting = false;
    bool current = p->gen == pm->gather_gen && pm->phase == PEER_GATHERING;
    bool ok = peer_take_sample(pm, p, status, body, len, err);
    /* An answer from an earlier gathering only tells whether the peer is up. */
    p->fresh = ok && current;
    if (current && p->counted) {
        p->counted = false;
        if (--pm->outstanding == 0)
            gather_finish(pm);
    }
}

/* The gathering's deadline: decide with the answers that came. */
static void
gather_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct peer_mode *pm = arg;
    (void)fd;
    (void)what;
    if (pm->phase != PEER_GATHERING)
        return;
    for (size_t i = 0; i < pm->n_peers; i++) {
        struct peer *p = pm->peers[i];
        if (p->counted) {
            p->counted = false;
            if (p->v.up)
                log_warnx("peer skipped url=%s reason=\"no answer in time\"", p->v.url);
            p->v.up = false;
        }
    }
    pm->outstanding = 0;
    decide(pm);
}

/* Ask peer `p` for a fresh sample for the gathering. */
static void
gather_ask(struct peer_mode *pm, struct peer *p)
{
    p->refused = false;
    p->fresh = false;
    p->counted = false;
    if (p->waiting)
        return; /* a slow peer still has our previous request: not asked twice */
    if (peer_send(pm, p, "GET", "/v1/sample", NULL, gather_done) < 0) {
        if (p->v.up)
            log_warnx("peer skipped url=%s reason=\"request not sent\"", p->v.url);
        p->v.up = false;
        return;
    }
    p->waiting = true;
    p->gen = pm->gather_gen;
    /* A peer known to be down is asked too, so it comes back as soon as it answers, but the
     * decision does not wait for it. */
    if (p->v.up) {
        p->counted = true;
        pm->outstanding++;
    }
}

void
peer_act(struct peer_mode *pm)
{
    if (pm->phase != PEER_IDLE)
        return;
    const char *holder;
    double left;
    if (peer_lock_own(pm, pm->o.name, 0, pm->o.lock_lease_s, &holder, &left) < 0) {
        log_debug("conflict waits: this host's lock is held by \"%s\" for %.1fs", holder, left);
        (void)peer_record_conflict(pm, "waiting: a migration into this host runs");
        return;
    }
    pm->phase = PEER_GATHERING;
    pm->gather_gen++;
    pm->name_clash = false;
    pm->lock_attempts = 0;
    pm->decide_started_us = clock_now_us();
    pm->outstanding = 1; /* held until every request is sent */
    for (size_t i = 0; i < pm->n_peers; i++)
        gather_ask(pm, pm->peers[i]);
    struct timeval tv = loop_tv(ask_timeout(pm) + 0.25);
    (void)event_add(pm->gather_ev, &tv);
    if (--pm->outstanding == 0)
        gather_finish(pm);
}

/* What the core decides now, on this host's latest sample and the peers' fresh ones, without
 * the peers that refused their lock in this decision. */
struct pick {
    size_t peer; /* the destination */
    char vm[MODEL_MAX_NAME + 1];
    char reason[256];
};

/* No move: why, recorded as the conflict's outcome. */
static void
no_move(struct peer_mode *pm, const struct cluster *cl, const struct plan *p)
{
    const struct plan_unresolved *u = &p->unresolved[0];
    char outcome[512];
    if (u->reason == PLAN_REASON_SOURCE_BUSY) {
        (void)snprintf(outcome, sizeof(outcome), "waiting: a migration of this host runs");
    } else if (u->rule_id > 0) {
        (void)snprintf(outcome, sizeof(outcome), "unresolved: %s (rule \"%.40s\")",
                       plan_reason_name(u->reason), pm->o.policy->rules[u->rule_id - 1].name);
    } else if (u->reason == PLAN_REASON_STORM_GUARD) {
        char held[400];
        plan_storm_describe(pm->o.policy, cl, u->vm, u->until, held, sizeof(held));
        (void)snprintf(outcome, sizeof(outcome), "unresolved: %s (%s)", plan_reason_name(u->reason),
                       held);
        if (storm_note(&pm->storm_once, pm->o.policy, cl, u->vm, u->until, ""))
            pm->storm_holds_total++;
    } else {
        (void)snprintf(outcome, sizeof(outcome), "unresolved: %s", plan_reason_name(u->reason));
    }
    size_t refused = 0;
    for (size_t i = 0; i < pm->n_peers; i++)
        refused += pm->peers[i]->refused;
    if (peer_record_conflict(pm, outcome))
        log_warnx("conflict %s host=\"%s\" peers_answered=%zu locks_refused=%zu", outcome,
                  pm->o.name, cl->n_hosts - 1, refused);
}

/* 1: a move (*ret filled); 0: nothing to do (recorded, back to idle); <0: failed (idle). */
static int
plan_pick(struct peer_mode *pm, struct pick *ret)
{
    const struct wire_sample *own = pm->env.own(pm->env.ctx);
    struct cluster cl;
    struct plan p;
    cluster_init(&cl);
    plan_init(&p);
    size_t n = pm->n_peers + 1;
    size_t *map = calloc(n, sizeof(*map));
    bool *no_dest = calloc(n, sizeof(*no_dest));
    bool *no_source = calloc(n, sizeof(*no_source));
    bool *check = calloc(n, sizeof(*check));
    const char *fail = NULL;
    int ret_code = 0;
    struct plan_opts opts = {.no_dest = no_dest, .no_source = no_source, .check = check};
    if (own == NULL)
        fail = "no sample of this host (its hypervisor is away)";
    else if (map == NULL || no_dest == NULL || no_source == NULL || check == NULL ||
             peer_build_model(pm, own, &cl, map, no_dest, no_source, check) < 0 ||
             plan_compute(&cl, pm->o.policy, &opts, &p) < 0)
        fail = "out of memory";
    if (fail != NULL) {
        log_warnx("no decision host=\"%s\": %s", pm->o.name, fail);
        ret_code = -1;
    } else if (p.n_conflicts == 0) {
        log_info("conflict gone in the latest sample host=\"%s\", nothing to do", pm->o.name);
    } else if (p.n_moves == 1) {
        const struct plan_move *mv = &p.moves[0];
        ret->peer = map[mv->to] - 1;
        (void)snprintf(ret->vm, sizeof(ret->vm), "%s", cl.vms[mv->vm].name);
        plan_move_describe(pm->o.policy, &cl, mv, ret->reason, sizeof(ret->reason));
        if (mv->held_vm != UINT32_MAX) {
            size_t used = strlen(ret->reason);
            (void)snprintf(ret->reason + used, sizeof(ret->reason) - used,
                           "; %.60s is held by the storm guard", cl.vms[mv->held_vm].name);
            if (storm_note(&pm->storm_once, pm->o.policy, &cl, mv->held_vm, mv->held_until, ""))
                pm->storm_holds_total++;
        }
        ret_code = 1;
    } else {
        no_move(pm, &cl, &p);
    }
    if (ret_code != 1)
        back_to_idle(pm);
    plan_done(&p);
    cluster_done(&cl);
    free(map);
    free(no_dest);
    free(no_source);
    free(check);
    return ret_code;
}

/* Ask `pick`'s destination for its lock. false: the request could not be sent (the host is
 * excluded) or the decision has used up its attempts (back to idle). */
static bool
ask_lock(struct peer_mode *pm, const struct pick *pick)
{
    if (++pm->lock_attempts > MAX_LOCK_ATTEMPTS(pm)) {
        if (peer_record_conflict(pm, "unresolved: no destination lock obtained"))
            log_warnx("conflict unresolved host=\"%s\": %d lock requests without a usable "
                      "destination; trying again at the next sample",
                      pm->o.name, pm->lock_attempts - 1);
        back_to_idle(pm);
        return true;
    }
    struct peer *dst = pm->peers[pick->peer];
    pm->lock_target = pick->peer;
    (void)snprintf(pm->lock_reason, sizeof(pm->lock_reason), "%s", pick->reason);
    pm->phase = PEER_LOCKING;
    dst->lock_token = ++pm->lock_seq;
    int r = send_lock(pm, dst, false, dst->lock_token, lock_done);
    if (r == 0)
        return true;
    log_warnx("lock request not sent url=%s error=\"%s\"; excluding it", dst->v.url, strerror(-r));
    dst->refused = true;
    return false;
}

/* Decide on the samples gathered and ask the destination for its lock; a host whose lock
 * request cannot even be sent is excluded and the decision made again. */
static void
decide(struct peer_mode *pm)
{
    if (pm->name_clash) {
        log_errorx("another agent reports this host's name \"%s\": not acting until only one "
                   "agent has it (locks are held by name)",
                   pm->o.name);
        back_to_idle(pm);
        return;
    }
    for (;;) {
        if (!keep_own_lock(pm)) {
            back_to_idle(pm);
            return;
        }
        struct pick pick;
        if (plan_pick(pm, &pick) <= 0)
            return;
        if (pm->o.policy->automation != AUTOMATION_AUTOMATIC) {
            /* No manager to keep recommendations for an operator: manual is a dry run
             * here; the decision is recorded and nothing moves. */
            char outcome[400];
            (void)snprintf(outcome, sizeof(outcome), "dry-run: would move %.150s to %.150s",
                           pick.vm, pm->peers[pick.peer]->v.name);
            if (peer_record_conflict(pm, outcome))
                log_info("%s reason=\"%s\"", outcome, pick.reason);
            back_to_idle(pm);
            return;
        }
        if (ask_lock(pm, &pick))
            return;
    }
}

/* A renewal of the destination's lock during our migration was refused (409). When the
 * answer names another holder, the lock is that host's now (our lease ran out: the renewals
 * did not get through) and it may move a VM in: our migration is stopped, so that one arrival
 * at a time runs there as the lock promises, and the lock is no longer renewed nor released.
 * The VM stays here. Too late to stop (the simulated commit went out), it ends as the
 * destination says. An answer naming no holder, or this host (a late renewal of an earlier
 * take, stale), says nothing of the present take. */
static void
lock_lost(struct peer_mode *pm, struct peer *p, const char *body, size_t len)
{
    char h[MODEL_MAX_NAME + 1];
    answer_holder(body, len, h, sizeof(h));
    if (h[0] == '\0' || strcmp(h, pm->o.name) == 0 || pm->dst_lost)
        return;
    char why[400];
    (void)snprintf(why, sizeof(why), "the destination's lock went to \"%s\" during the migration",
                   h);
    pm->dst_lost = true;
    /* The abort may end the migration before it returns, and with it the decision
     * (peer_migration_ended()): nothing of pm->acting is read after it. */
    char id[WIRE_MAX_ID + 1];
    (void)snprintf(id, sizeof(id), "%s", pm->acting->id);
    struct migration *m = migrate_find(pm->env.migs, id);
    log_warnx("stopping migration id=%s host=\"%s\": %s", id, p->v.name, why);
    int r = m != NULL ? migrate_abort(pm->env.migs, m, why) : -EALREADY;
    if (r == -EBUSY)
        log_warnx("migration id=%s: too late to stop it (the commit went out); its destination "
                  "decides",
                  id);
    else if (r < 0 && r != -EALREADY)
        log_warnx("migration id=%s: cannot be stopped: %s", id, strerror(-r));
}

static void
renew_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct peer *p = arg;
    peer_answered(p);
    struct peer_mode *pm = p->pm;
    bool ours = pm->phase >= PEER_LOCKING && pm->peers[pm->lock_target] == p;
    if (status == 200 && !ours) {
        /* A renewal that reached the peer after our release, and after its lease would have
         * run out, took its free lock again (sooner, its token makes it stale): given back,
         * as a grant that came after we moved on is (lock_done()). */
        release_answered(pm, p, body, len);
        return;
    }
    if (status == 200)
        return;
    if (status == 409 && ours && pm->phase == PEER_MIGRATING && pm->acting != NULL) {
        lock_lost(pm, p, body, len);
        return;
    }
    /* The peer's answer, cut: it is another host's text. */
    log_warnx("lock renewal failed url=%s status=%d %.*s; the migration goes on", p->v.url, status,
              status == 0 ? 200 : (int)(len < 200 ? len : 200),
              status == 0 ? err : (body != NULL ? body : ""));
}

static void
renew_cb(evutil_socket_t fd, short what, void *arg)
{
    struct peer_mode *pm = arg;
    (void)fd;
    (void)what;
    if (pm->phase != PEER_MIGRATING || pm->acting == NULL)
        return;
    struct peer *dst = pm->peers[pm->lock_target];
    const struct migration *m = pm->acting;
    if (peer_unresolved_held(m, clock_mono_s())) {
        /* The destination does not say whether it runs the VM. The VM stays marked leaving
         * (nobody moves it, nothing moves into its place) until it does; the locks need not
         * wait for that. (The host's other VMs may move out meanwhile, peer_build_model();
         * to its peers it stays busy, no destination.) */
        log_warnx("migration outcome still unknown after %.0fs id=%s vm=\"%s\"; releasing the "
                  "locks, the VM stays blocked until host \"%s\" answers",
                  PEER_RESOLVE_HOLD_S, m->id, m->vm, dst->v.name);
        if (!pm->dst_lost)
            release_peer(pm, dst);
        back_to_idle(pm);
        return;
    }
    if (!keep_own_lock(pm))
        log_warnx("this host's lock was lost during migration id=%s", m->id);
    if (!pm->dst_lost && send_lock(pm, dst, false, dst->lock_token, renew_done) < 0)
        log_warnx("lock renewal not sent url=%s", dst->v.url);
    struct timeval tv = loop_tv(pm->o.lock_lease_s / 3.0);
    (void)event_add(pm->renew_ev, &tv);
}

/* The lock of `p` is ours and its fresh sample is in: still the best? Then migrate. */
static void
start_migration(struct peer_mode *pm, struct peer *p, const char *vm, const char *reason)
{
    struct wire_order o;
    memset(&o, 0, sizeof(o));
    (void)snprintf(o.vm, sizeof(o.vm), "%s", vm);
    (void)snprintf(o.to, sizeof(o.to), "%s", p->v.url);
    (void)snprintf(o.to_name, sizeof(o.to_name), "%s", p->v.name);
    struct migration *m = NULL;
    int r = migrate_start(pm->env.migs, &o, reason, &m);
    if (r < 0) {
        log_warnx("migration not started vm=\"%s\" to=\"%s\" error=\"%s\"", o.vm, p->v.name,
                  strerror(-r));
        release_peer(pm, p);
        back_to_idle(pm);
        return;
    }
    pm->acting = m;
    pm->phase = PEER_MIGRATING;
    pm->dst_lost = false;
    pm->last_resolve_ms = (double)(clock_now_us() - pm->decide_started_us) / 1000.0;
    char outcome[600];
    (void)snprintf(outcome, sizeof(outcome), "move %s to %s", o.vm, p->v.name);
    (void)peer_record_conflict(pm, outcome);
    peer_record_migration(pm, m);
    log_info("peer decision host=\"%s\" vm=\"%s\" to=\"%s\" id=%s decided_in_ms=%.1f reason=\"%s\"",
             pm->o.name, o.vm, p->v.name, m->id, pm->last_resolve_ms, reason);
    /* The destination's lease runs from its grant, an answer or two ago: renewed at once,
     * then every third of it. */
    if (send_lock(pm, p, false, p->lock_token, renew_done) < 0)
        log_warnx("lock renewal not sent url=%s", p->v.url);
    struct timeval tv = loop_tv(pm->o.lock_lease_s / 3.0);
    (void)event_add(pm->renew_ev, &tv);
}

/* The destination's sample, read again under its lock: its state can no longer change under
 * us, so a decision made on an older sample (before another peer's migration into it ended,
 * say) is checked against the present. */
static void
confirm_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct peer *p = arg;
    peer_answered(p);
    struct peer_mode *pm = p->pm;
    p->waiting = false;
    if (pm->phase != PEER_CONFIRMING || pm->peers[pm->lock_target] != p)
        return;
    if (!peer_take_sample(pm, p, status, body, len, err)) {
        release_peer(pm, p);
        p->refused = true;
        p->fresh = false;
        decide(pm); /* without it */
        return;
    }
    p->fresh = true;
    struct pick pick;
    if (plan_pick(pm, &pick) <= 0) {
        release_peer(pm, p); /* plan_pick went back to idle */
        return;
    }
    if (pick.peer == pm->lock_target) {
        /* This host's own lease was last renewed when the decision began, up to two answers
         * ago: renewed now, and a lock lost meanwhile stops the decision (another peer may be
         * moving a VM in). */
        if (!keep_own_lock(pm)) {
            release_peer(pm, p);
            back_to_idle(pm);
            return;
        }
        start_migration(pm, p, pick.vm, pick.reason);
        return;
    }
    /* Another host is better now: let this one go and ask that one. */
    log_info("destination \"%s\" no longer the best on its fresh sample; trying \"%s\"", p->v.name,
             pm->peers[pick.peer]->v.name);
    release_peer(pm, p);
    if (!ask_lock(pm, &pick))
        decide(pm);
}

static void
lock_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct peer *p = arg;
    peer_answered(p);
    struct peer_mode *pm = p->pm;
    if (pm->phase != PEER_LOCKING || pm->peers[pm->lock_target] != p) {
        if (status == 200)
            release_answered(pm, p, body, len); /* granted after we moved on */
        return;
    }
    if (status == 200) {
        pm->locks_granted++;
        pm->phase = PEER_CONFIRMING;
        if (!p->waiting && peer_send(pm, p, "GET", "/v1/sample", NULL, confirm_done) == 0) {
            p->waiting = true;
            return;
        }
        log_warnx("destination \"%s\" cannot be read again; excluding it", p->v.name);
        release_peer(pm, p);
    } else if (status == 409) {
        pm->lock_refusals++;
        char h[MODEL_MAX_NAME + 1];
        answer_holder(body, len, h, sizeof(h));
        log_info("lock refused host=\"%s\" holder=\"%s\"; trying the next best destination",
                 p->v.name, h[0] != '\0' ? h : "?");
    } else {
        log_warnx("lock not obtained host=\"%s\" status=%d error=\"%s\"; excluding it", p->v.name,
                  status, status == 0 ? err : "");
        /* The grant may have happened with its answer lost: give it back. */
        release_peer(pm, p);
    }
    p->refused = true;
    pm->phase = PEER_GATHERING;
    decide(pm);
}

void
peer_migration_ended(struct peer_mode *pm, const struct migration *m)
{
    if (m->state == MIG_DONE)
        backoff_cleared(&pm->backoff, m->vm);
    else
        backoff_failed(&pm->backoff, m->vm, clock_mono_s());
    peer_record_migration(pm, m);
    if (pm->acting != m || pm->phase != PEER_MIGRATING)
        return;
    if (!pm->dst_lost) /* else another host holds it */
        release_peer(pm, pm->peers[pm->lock_target]);
    back_to_idle(pm);
}

/* ---- the list of peers ------------------------------------------------------------------ */

int
peer_send(struct peer_mode *pm, struct peer *p, const char *method, const char *path,
          const char *body, http_done_fn done)
{
    int r = http_request(pm->env.client, p->v.url, method, path, body, ask_timeout(pm), done, p);
    if (r == 0)
        p->inflight++;
    return r;
}

void
peer_answered(struct peer *p)
{
    p->inflight--;
}

/* ---- life ------------------------------------------------------------------------------- */

int
peer_new(const struct peer_opts *o, const struct peer_env *env, struct peer_mode **ret)
{
    struct peer_mode *pm = calloc(1, sizeof(*pm));
    if (pm == NULL) {
        log_errorx("out of memory");
        return -1;
    }
    pm->o = *o;
    pm->env = *env;
    /* Lock tokens grow across restarts too: from the wall clock in microseconds, far more than
     * the takes a second could ever use. */
    double us = clock_wall_s() * 1e6;
    pm->lock_seq = us > 0 && us < (double)WIRE_MAX_TERM / 2.0 ? (uint64_t)us : 0;
    *ret = pm;
    char err[512];
    if (store_open(o->data, &pm->store, err, sizeof(err)) < 0) {
        log_errorx("cannot open the store: %s", err);
        return -1;
    }
    int from = 0;
    if (store_upgraded(pm->store, &from))
        log_info("store upgraded file=%s from=%d to=%d", store_path(pm->store), from,
                 STORE_SCHEMA_VERSION);
    pm->renew_ev = evtimer_new(env->base, renew_cb, pm);
    pm->gather_ev = evtimer_new(env->base, gather_deadline_cb, pm);
    if (pm->renew_ev == NULL || pm->gather_ev == NULL ||
        peer_list_apply(pm, o->peers, o->n_peers) < 0) {
        log_errorx("out of memory");
        return -1;
    }
    peer_lock_restore(pm);
    /* The list may come later (a peers file written once every agent listens). */
    if (pm->n_peers == 0 && !o->peers_later)
        log_warnx("peer mode without peers: conflicts will be detected but cannot be resolved");
    return 0;
}

void
peer_free(struct peer_mode *pm)
{
    if (pm == NULL)
        return;
    if (pm->renew_ev != NULL)
        event_free(pm->renew_ev);
    if (pm->gather_ev != NULL)
        event_free(pm->gather_ev);
    for (size_t i = 0; i < pm->n_peers; i++)
        peer_destroy(pm->peers[i]);
    free(pm->peers);
    /* The loop no longer runs: no callback can reach these any more. */
    for (size_t i = 0; i < pm->n_retired; i++)
        peer_destroy(pm->retired[i]);
    free(pm->retired);
    free(pm->pending);
    store_close(pm->store);
    backoff_done(&pm->backoff);
    once_done(&pm->storm_once);
    dupvms_done(&pm->dups);
    episode_done(&pm->episode);
    free(pm->key);
    free(pm);
}

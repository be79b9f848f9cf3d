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
 *   5. runs the migration itself (agent_migrate.c), renewing the destination's lease while
 *      it runs, and releases both locks when it ends.
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

#include "agent/agent_internal.h"
#include "common/clock.h"
#include "common/log.h"
#include "core/plan.h"

/* ---- the lock of this host ------------------------------------------------------------ */

static bool
lock_live(const struct agent *a, uint64_t now)
{
    return a->lock.held && a->lock.expires_us > now;
}

/* Free a lock whose lease ran out by `now`, with the arrivals its holder announced. */
static void
lock_expire_at(struct agent *a, uint64_t now)
{
    if (!a->lock.held || lock_live(a, now))
        return;
    char holder[sizeof(a->lock.holder)];
    (void)snprintf(holder, sizeof(holder), "%s", a->lock.holder);
    a->lock.held = false;
    if (strcmp(holder, a->opts->name) == 0)
        return;
    /* The holder stopped renewing: it died or cannot reach us. An arrival it announced will
     * not be committed by a live source that cannot renew either (the commit would be
     * refused and its VM stays with it), so the room it reserved is given back now. */
    log_warnx("lock lease ran out host=\"%s\" holder=\"%s\"; dropping its arrivals", a->opts->name,
              holder);
    for (size_t i = 0; i < a->n_ins; i++) {
        struct incoming *in = a->ins[i];
        char msg[256];
        if (in->state == IN_RESERVED && strcmp(in->from, holder) == 0)
            (void)agent_incoming_abort(a, in->id, msg, sizeof(msg));
    }
}

static void
lock_expire(struct agent *a)
{
    lock_expire_at(a, clock_now_us());
}

void
agent_peer_tick(struct agent *a)
{
    if (a->opts->mode == AGENT_MODE_PEER)
        lock_expire(a);
}

int
agent_lock_take(struct agent *a, const char *holder, double lease_s, const char **ret_holder,
                double *ret_left_s)
{
    uint64_t now = clock_now_us();
    lock_expire_at(a, now);
    if (a->lock.held && strcmp(a->lock.holder, holder) != 0) {
        *ret_holder = a->lock.holder;
        *ret_left_s = (double)(a->lock.expires_us - now) / 1e6;
        return -EBUSY;
    }
    if (!a->lock.held)
        log_debug("lock taken host=\"%s\" holder=\"%s\" lease=%gs", a->opts->name, holder, lease_s);
    a->lock.held = true;
    (void)snprintf(a->lock.holder, sizeof(a->lock.holder), "%s", holder);
    a->lock.expires_us = now + (uint64_t)(lease_s * 1e6);
    return 0;
}

int
agent_lock_release(struct agent *a, const char *holder)
{
    lock_expire(a);
    if (!a->lock.held)
        return 1;
    if (strcmp(a->lock.holder, holder) != 0)
        return -EPERM;
    a->lock.held = false;
    log_debug("lock released host=\"%s\" holder=\"%s\"", a->opts->name, holder);
    return 0;
}

const char *
agent_lock_holder(struct agent *a, double *ret_left_s)
{
    uint64_t now = clock_now_us();
    lock_expire_at(a, now);
    if (!lock_live(a, now))
        return NULL;
    if (ret_left_s != NULL)
        *ret_left_s = (double)(a->lock.expires_us - now) / 1e6;
    return a->lock.holder;
}

/* ---- store ------------------------------------------------------------------------------ */

/* Record the conflict's outcome once per episode and outcome. true: it was new. */
static bool
record_conflict(struct agent *a, const char *outcome)
{
    char sig[sizeof(a->recorded_sig)];
    (void)snprintf(sig, sizeof(sig), "%s|%s|%s", a->conflict_kinds, a->conflict_vms, outcome);
    if (strcmp(sig, a->recorded_sig) == 0)
        return false;
    (void)snprintf(a->recorded_sig, sizeof(a->recorded_sig), "%s", sig);
    json_t *kinds = json_array();
    json_t *vms = json_array();
    char buf[sizeof(a->conflict_vms)];
    (void)snprintf(buf, sizeof(buf), "%s", a->conflict_kinds);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save))
        (void)json_array_append_new(kinds, json_string(t));
    (void)snprintf(buf, sizeof(buf), "%s", a->conflict_vms);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save))
        (void)json_array_append_new(vms, json_string(t));
    char *ks = json_dumps(kinds, JSON_COMPACT);
    char *vs = json_dumps(vms, JSON_COMPACT);
    if (ks == NULL || vs == NULL ||
        store_add_conflict(a->store, clock_wall_s(), a->opts->name, ks, vs, outcome) < 0)
        log_warnx("conflict not stored host=\"%s\", ignoring", a->opts->name);
    free(ks);
    free(vs);
    json_decref(kinds);
    json_decref(vms);
    return true;
}

static void
record_migration(struct agent *a, const struct migration *m)
{
    struct store_migration rec;
    memset(&rec, 0, sizeof(rec));
    (void)snprintf(rec.id, sizeof(rec.id), "%s", m->id);
    (void)snprintf(rec.vm, sizeof(rec.vm), "%s", m->vm);
    (void)snprintf(rec.src, sizeof(rec.src), "%s", a->opts->name);
    (void)snprintf(rec.dst, sizeof(rec.dst), "%s", m->to_name);
    (void)snprintf(rec.state, sizeof(rec.state), "%s", mig_state_name(m->state));
    rec.started = m->started;
    rec.finished = m->state == MIG_RUNNING ? -1.0 : m->finished;
    (void)snprintf(rec.error, sizeof(rec.error), "%s", m->error);
    (void)snprintf(rec.reason, sizeof(rec.reason), "%s", m->reason);
    if (store_put_migration(a->store, &rec) < 0)
        log_warnx("migration not stored id=%s, ignoring", m->id);
}

/* ---- the decision ----------------------------------------------------------------------- */

/* A decision gives up after this many lock requests (each refusal excludes one host, and a
 * destination that is no longer the best after its fresh sample is let go). */
#define MAX_LOCK_ATTEMPTS(a) ((int)(a)->n_peers + 4)
/* A migration whose commit got no answer holds this host's lock at most this long; after
 * that only its VM stays blocked (marked leaving) until the destination answers. */
#define RESOLVE_HOLD_S 60.0

static void decide(struct agent *a);
static void lock_done(void *arg, int status, const char *body, size_t len, const char *err);

double
agent_peer_ask_timeout(double interval_s)
{
    return interval_s < 0.5 ? 0.5 : interval_s > 5.0 ? 5.0 : interval_s;
}

static double
ask_timeout(const struct agent *a)
{
    return agent_peer_ask_timeout(a->opts->interval_s);
}

static void
back_to_idle(struct agent *a)
{
    (void)agent_lock_release(a, a->opts->name);
    a->phase = PEER_IDLE;
    a->acting = NULL;
    if (a->renew_ev != NULL)
        (void)event_del(a->renew_ev);
    if (a->gather_ev != NULL)
        (void)event_del(a->gather_ev);
}

/* Keep this host's own lock while a decision runs. false: it was lost (its lease ran out and
 * another host took it): the decision must stop. */
static bool
keep_own_lock(struct agent *a)
{
    const char *holder;
    double left;
    if (agent_lock_take(a, a->opts->name, a->opts->lock_lease_s, &holder, &left) == 0)
        return true;
    log_warnx("decision stopped host=\"%s\": this host's lock went to \"%s\"", a->opts->name,
              holder);
    return false;
}

/* Ask peer `p` for its lock (or to renew it), or to release it. */
static int
send_lock(struct agent *a, struct peer *p, bool release, http_done_fn done)
{
    const char *path = release ? "/v1/lock/release" : "/v1/lock";
    json_t *j =
        release ? json_pack("{s:s}", "holder", a->opts->name)
                : json_pack("{s:s,s:f}", "holder", a->opts->name, "lease_s", a->opts->lock_lease_s);
    char *body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    int r = body != NULL
                ? http_request(a->client, p->url, "POST", path, body, ask_timeout(a), done, p)
                : -ENOMEM;
    free(body);
    return r;
}

static void
release_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct peer *p = arg;
    (void)body;
    (void)len;
    if (status != 200)
        log_warnx("lock release not confirmed url=%s status=%d error=\"%s\"; its lease will end it",
                  p->url, status, status == 0 ? err : "");
}

/* Give peer `p`'s lock back (best effort: its lease ends it otherwise). */
static void
release_peer(struct agent *a, struct peer *p)
{
    if (send_lock(a, p, true, release_done) < 0)
        log_warnx("lock release not sent url=%s; its lease will end it", p->url);
}

bool
agent_peer_take_sample(struct agent *a, struct peer *p, int status, const char *body, size_t len,
                       const char *err)
{
    char why[160] = "";
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
        } else if (strcmp(s.name, a->opts->name) == 0) {
            (void)snprintf(why, sizeof(why), "it reports this host's own name");
            a->name_clash = true;
            wire_sample_done(&s);
        } else {
            wire_sample_done(&p->sample);
            p->sample = s;
            (void)snprintf(p->name, sizeof(p->name), "%s", s.name);
            p->last_seen = clock_wall_s();
            if (!p->up)
                log_info("peer answers again url=%s host=\"%s\"", p->url, p->name);
            p->up = true;
            return true;
        }
    }
    if (p->up)
        log_warnx("peer skipped url=%s reason=\"%s\"", p->url, why);
    p->up = false;
    return false;
}

static void
gather_finish(struct agent *a)
{
    (void)event_del(a->gather_ev);
    decide(a);
}

static void
gather_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct peer *p = arg;
    struct agent *a = p->a;
    p->waiting = false;
    bool current = p->gen == a->gather_gen && a->phase == PEER_GATHERING;
    bool ok = agent_peer_take_sample(a, p, status, body, len, err);
    if (ok)
        agent_view_peer_sampled(a, p);
    /* An answer from an earlier gathering only tells whether the peer is up. */
    p->has_sample = ok && current;
    if (current && p->counted) {
        p->counted = false;
        if (--a->outstanding == 0)
            gather_finish(a);
    }
}

/* The gathering's deadline: decide with the answers that came. */
static void
gather_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct agent *a = arg;
    (void)fd;
    (void)what;
    if (a->phase != PEER_GATHERING)
        return;
    for (size_t i = 0; i < a->n_peers; i++) {
        struct peer *p = &a->peers[i];
        if (p->counted) {
            p->counted = false;
            if (p->up)
                log_warnx("peer skipped url=%s reason=\"no answer in time\"", p->url);
            p->up = false;
        }
    }
    a->outstanding = 0;
    decide(a);
}

void
agent_peer_act(struct agent *a)
{
    if (a->phase != PEER_IDLE)
        return;
    const char *holder;
    double left;
    if (agent_lock_take(a, a->opts->name, a->opts->lock_lease_s, &holder, &left) < 0) {
        log_debug("conflict waits: this host's lock is held by \"%s\" for %.1fs", holder, left);
        (void)record_conflict(a, "waiting: a migration into this host runs");
        return;
    }
    a->phase = PEER_GATHERING;
    a->gather_gen++;
    a->name_clash = false;
    a->lock_attempts = 0;
    a->decide_started_us = clock_now_us();
    a->outstanding = 1; /* held until every request is sent */
    for (size_t i = 0; i < a->n_peers; i++) {
        struct peer *p = &a->peers[i];
        p->refused = false;
        p->has_sample = false;
        p->counted = false;
        if (p->waiting)
            continue; /* a slow peer still has our previous request: not asked twice */
        if (http_request(a->client, p->url, "GET", "/v1/sample", NULL, ask_timeout(a), gather_done,
                         p) < 0) {
            if (p->up)
                log_warnx("peer skipped url=%s reason=\"request not sent\"", p->url);
            p->up = false;
            continue;
        }
        p->waiting = true;
        p->gen = a->gather_gen;
        /* A peer known to be down is asked too, so it comes back as soon as it answers, but
         * the decision does not wait for it. */
        if (p->up) {
            p->counted = true;
            a->outstanding++;
        }
    }
    struct timeval tv = loop_tv(ask_timeout(a) + 0.25);
    (void)event_add(a->gather_ev, &tv);
    if (--a->outstanding == 0)
        gather_finish(a);
}

/* What the core decides now, on this host's latest sample and the peers' fresh ones, without
 * the peers that refused their lock in this decision. */
struct pick {
    size_t peer; /* the destination */
    char vm[MODEL_MAX_NAME + 1];
    char reason[256];
};

/* The storm guard holds VM `vm` of this host until `until`: logged and counted once per VM
 * and window. */
static void
storm_note(struct agent *a, const struct cluster *cl, uint32_t vm, double until)
{
    const char *name = cl->vms[vm].name;
    if (!once_first(&a->storm_once, name, until, cl->time))
        return;
    a->storm_holds_total++;
    char what[400];
    plan_storm_describe(&a->opts->policy, cl, vm, until, what, sizeof(what));
    log_warnx("storm guard holds vm=\"%s\" host=\"%s\" until=%.0f: %s; a conflict does not move "
              "it until then",
              name, a->opts->name, until, what);
}

/* 1: a move (*ret filled); 0: nothing to do (recorded, back to idle); <0: failed (idle). */
static int
plan_pick(struct agent *a, struct pick *ret)
{
    const struct wire_sample *own = a->has_sample ? &a->sample : NULL;
    struct cluster cl;
    struct plan p;
    cluster_init(&cl);
    plan_init(&p);
    size_t n = a->n_peers + 1;
    size_t *map = calloc(n, sizeof(*map)); /* cluster host -> peer index + 1 (0: this host) */
    bool *no_dest = calloc(n, sizeof(*no_dest));
    bool *no_source = calloc(n, sizeof(*no_source));
    bool *check = calloc(n, sizeof(*check));
    const char *fail = NULL;
    int ret_code = 0;
    if (map == NULL || no_dest == NULL || no_source == NULL || check == NULL) {
        fail = "out of memory";
        goto out;
    }
    if (own == NULL) {
        fail = "no sample of this host (its hypervisor is away)";
        goto out;
    }
    size_t hi;
    if (wire_sample_to_cluster(own, true, &cl, &hi) < 0) {
        fail = "out of memory";
        goto out;
    }
    check[hi] = true;
    no_source[hi] = wire_sample_moving(own);
    /* A VM whose migration just failed waits before it is tried again. */
    for (uint32_t j = 0; j < cl.hosts[hi].vm_count; j++) {
        struct vm *v = &cl.vms[cl.hosts[hi].vm_first + j];
        v->held = backoff_left(&a->backoff, v->name, clock_mono_s()) > 0;
    }
    for (size_t i = 0; i < a->n_peers; i++) {
        struct peer *q = &a->peers[i];
        if (!q->has_sample)
            continue;
        bool dup = false;
        for (size_t k = 0; k < cl.n_hosts && !dup; k++)
            dup = strcmp(cl.hosts[k].name, q->sample.name) == 0;
        if (dup) {
            log_warnx("peer skipped url=%s reason=\"host \\\"%s\\\" is listed twice\"", q->url,
                      q->sample.name);
            continue;
        }
        if (wire_sample_to_cluster(&q->sample, true, &cl, &hi) < 0) {
            fail = "out of memory";
            goto out;
        }
        map[hi] = i + 1;
        no_dest[hi] = q->refused || wire_sample_moving(&q->sample);
    }
    cl.time = clock_wall_s(); /* for the VMs' cooldown */
    cl.has_time = true;
    struct plan_opts opts = {.no_dest = no_dest, .no_source = no_source, .check = check};
    if (plan_compute(&cl, &a->opts->policy, &opts, &p) < 0) {
        fail = "out of memory";
        goto out;
    }
    if (p.n_conflicts == 0) {
        log_info("conflict gone in the latest sample host=\"%s\", nothing to do", a->opts->name);
        back_to_idle(a);
    } else if (p.n_moves == 1) {
        const struct plan_move *mv = &p.moves[0];
        ret->peer = map[mv->to] - 1;
        (void)snprintf(ret->vm, sizeof(ret->vm), "%s", cl.vms[mv->vm].name);
        plan_move_describe(&a->opts->policy, &cl, mv, ret->reason, sizeof(ret->reason));
        if (mv->held_vm != UINT32_MAX) {
            size_t used = strlen(ret->reason);
            (void)snprintf(ret->reason + used, sizeof(ret->reason) - used,
                           "; %.60s is held by the storm guard", cl.vms[mv->held_vm].name);
            storm_note(a, &cl, mv->held_vm, mv->held_until);
        }
        ret_code = 1;
    } else {
        const struct plan_unresolved *u = &p.unresolved[0];
        char outcome[512];
        if (u->reason == PLAN_REASON_SOURCE_BUSY)
            (void)snprintf(outcome, sizeof(outcome), "waiting: a migration of this host runs");
        else if (u->rule_id > 0)
            (void)snprintf(outcome, sizeof(outcome), "unresolved: %s (rule \"%.40s\")",
                           plan_reason_name(u->reason), a->opts->policy.rules[u->rule_id - 1].name);
        else if (u->reason == PLAN_REASON_STORM_GUARD) {
            char held[400];
            plan_storm_describe(&a->opts->policy, &cl, u->vm, u->until, held, sizeof(held));
            (void)snprintf(outcome, sizeof(outcome), "unresolved: %s (%s)",
                           plan_reason_name(u->reason), held);
            storm_note(a, &cl, u->vm, u->until);
        } else
            (void)snprintf(outcome, sizeof(outcome), "unresolved: %s", plan_reason_name(u->reason));
        size_t refused = 0;
        for (size_t i = 0; i < a->n_peers; i++)
            refused += a->peers[i].refused;
        if (record_conflict(a, outcome))
            log_warnx("conflict %s host=\"%s\" peers_answered=%zu locks_refused=%zu", outcome,
                      a->opts->name, cl.n_hosts - 1, refused);
        back_to_idle(a);
    }
out:
    if (fail != NULL) {
        log_warnx("no decision host=\"%s\": %s", a->opts->name, fail);
        back_to_idle(a);
        ret_code = -1;
    }
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
ask_lock(struct agent *a, const struct pick *pick)
{
    if (++a->lock_attempts > MAX_LOCK_ATTEMPTS(a)) {
        if (record_conflict(a, "unresolved: no destination lock obtained"))
            log_warnx("conflict unresolved host=\"%s\": %d lock requests without a usable "
                      "destination; trying again at the next sample",
                      a->opts->name, a->lock_attempts - 1);
        back_to_idle(a);
        return true;
    }
    struct peer *dst = &a->peers[pick->peer];
    a->lock_target = pick->peer;
    (void)snprintf(a->acting_vm, sizeof(a->acting_vm), "%s", pick->vm);
    (void)snprintf(a->lock_reason, sizeof(a->lock_reason), "%s", pick->reason);
    a->phase = PEER_LOCKING;
    int r = send_lock(a, dst, false, lock_done);
    if (r == 0)
        return true;
    log_warnx("lock request not sent url=%s error=\"%s\"; excluding it", dst->url, strerror(-r));
    dst->refused = true;
    return false;
}

/* Decide on the samples gathered and ask the destination for its lock; a host whose lock
 * request cannot even be sent is excluded and the decision made again. */
static void
decide(struct agent *a)
{
    if (a->name_clash) {
        log_errorx("another agent reports this host's name \"%s\": not acting until only one "
                   "agent has it (locks are held by name)",
                   a->opts->name);
        back_to_idle(a);
        return;
    }
    for (;;) {
        if (!keep_own_lock(a)) {
            back_to_idle(a);
            return;
        }
        struct pick pick;
        if (plan_pick(a, &pick) <= 0)
            return;
        if (a->opts->policy.automation != AUTOMATION_AUTOMATIC) {
            /* No manager to keep recommendations for an operator: manual is a dry run
             * here; the decision is recorded and nothing moves. */
            char outcome[400];
            (void)snprintf(outcome, sizeof(outcome), "dry-run: would move %.150s to %.150s",
                           pick.vm, a->peers[pick.peer].name);
            if (record_conflict(a, outcome))
                log_info("%s reason=\"%s\"", outcome, pick.reason);
            back_to_idle(a);
            return;
        }
        if (ask_lock(a, &pick))
            return;
    }
}

static void
renew_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct peer *p = arg;
    (void)len;
    if (status == 200)
        return;
    log_warnx("lock renewal failed url=%s status=%d %s; the migration goes on", p->url, status,
              status == 0 ? err : (body != NULL ? body : ""));
}

static void
renew_cb(evutil_socket_t fd, short what, void *arg)
{
    struct agent *a = arg;
    (void)fd;
    (void)what;
    if (a->phase != PEER_MIGRATING || a->acting == NULL)
        return;
    struct peer *dst = &a->peers[a->lock_target];
    if (a->acting->resolving && clock_mono_s() - a->acting->resolving_since > RESOLVE_HOLD_S) {
        /* The destination does not say whether it runs the VM. The VM stays marked leaving
         * (nobody moves it, nothing moves into its place) until it does; the host's other VMs
         * need not wait for that. */
        log_warnx("migration outcome still unknown after %.0fs id=%s vm=\"%s\"; releasing the "
                  "locks, the VM stays blocked until host \"%s\" answers",
                  RESOLVE_HOLD_S, a->acting->id, a->acting->vm, dst->name);
        release_peer(a, dst);
        back_to_idle(a);
        return;
    }
    if (!keep_own_lock(a))
        log_warnx("this host's lock was lost during migration id=%s", a->acting->id);
    if (send_lock(a, dst, false, renew_done) < 0)
        log_warnx("lock renewal not sent url=%s", dst->url);
    struct timeval tv = loop_tv(a->opts->lock_lease_s / 3.0);
    (void)event_add(a->renew_ev, &tv);
}

/* The lock of `p` is ours and its fresh sample is in: still the best? Then migrate. */
static void
start_migration(struct agent *a, struct peer *p, const char *vm, const char *reason)
{
    struct wire_order o;
    memset(&o, 0, sizeof(o));
    (void)snprintf(o.vm, sizeof(o.vm), "%s", vm);
    (void)snprintf(o.to, sizeof(o.to), "%s", p->url);
    (void)snprintf(o.to_name, sizeof(o.to_name), "%s", p->name);
    struct migration *m = NULL;
    int r = agent_migrate_start(a, &o, &m);
    if (r < 0) {
        log_warnx("migration not started vm=\"%s\" to=\"%s\" error=\"%s\"", o.vm, p->name,
                  strerror(-r));
        release_peer(a, p);
        back_to_idle(a);
        return;
    }
    (void)snprintf(m->reason, sizeof(m->reason), "%s", reason);
    a->acting = m;
    a->phase = PEER_MIGRATING;
    a->last_resolve_ms = (double)(clock_now_us() - a->decide_started_us) / 1000.0;
    char outcome[600];
    (void)snprintf(outcome, sizeof(outcome), "move %s to %s", o.vm, p->name);
    (void)record_conflict(a, outcome);
    record_migration(a, m);
    log_info("peer decision host=\"%s\" vm=\"%s\" to=\"%s\" id=%s decided_in_ms=%.1f reason=\"%s\"",
             a->opts->name, o.vm, p->name, m->id, a->last_resolve_ms, reason);
    struct timeval tv = loop_tv(a->opts->lock_lease_s / 3.0);
    (void)event_add(a->renew_ev, &tv);
}

/* The destination's sample, read again under its lock: its state can no longer change under
 * us, so a decision made on an older sample (before another peer's migration into it ended,
 * say) is checked against the present. */
static void
confirm_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct peer *p = arg;
    struct agent *a = p->a;
    p->waiting = false;
    if (a->phase != PEER_CONFIRMING || &a->peers[a->lock_target] != p)
        return;
    if (!agent_peer_take_sample(a, p, status, body, len, err)) {
        release_peer(a, p);
        p->refused = true;
        p->has_sample = false;
        decide(a); /* without it */
        return;
    }
    p->has_sample = true;
    struct pick pick;
    int r = plan_pick(a, &pick);
    if (r <= 0) {
        release_peer(a, p); /* plan_pick went back to idle */
        return;
    }
    if (pick.peer == a->lock_target) {
        start_migration(a, p, pick.vm, pick.reason);
        return;
    }
    /* Another host is better now: let this one go and ask that one. */
    log_info("destination \"%s\" no longer the best on its fresh sample; trying \"%s\"", p->name,
             a->peers[pick.peer].name);
    release_peer(a, p);
    if (!ask_lock(a, &pick))
        decide(a);
}

static void
lock_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct peer *p = arg;
    struct agent *a = p->a;
    if (a->phase != PEER_LOCKING || &a->peers[a->lock_target] != p) {
        if (status == 200)
            release_peer(a, p); /* granted after we moved on */
        return;
    }
    if (status == 200) {
        a->locks_granted++;
        a->phase = PEER_CONFIRMING;
        if (!p->waiting && http_request(a->client, p->url, "GET", "/v1/sample", NULL,
                                        ask_timeout(a), confirm_done, p) == 0) {
            p->waiting = true;
            return;
        }
        log_warnx("destination \"%s\" cannot be read again; excluding it", p->name);
        release_peer(a, p);
    } else if (status == 409) {
        a->lock_refusals++;
        json_t *j = json_loadb(body, len, 0, NULL);
        const char *h = json_string_value(json_object_get(j, "holder"));
        log_info("lock refused host=\"%s\" holder=\"%s\"; trying the next best destination",
                 p->name, h != NULL ? h : "?");
        json_decref(j);
    } else {
        log_warnx("lock not obtained host=\"%s\" status=%d error=\"%s\"; excluding it", p->name,
                  status, status == 0 ? err : "");
        /* The grant may have happened with its answer lost: give it back. */
        release_peer(a, p);
    }
    p->refused = true;
    a->phase = PEER_GATHERING;
    decide(a);
}

void
agent_migration_ended(struct agent *a, struct migration *m)
{
    if (m->state == MIG_DONE)
        a->mig_done_total++;
    else
        a->mig_failed_total++;
    histo_observe(&a->mig_h, m->took_s);
    if (a->opts->mode != AGENT_MODE_PEER)
        return;
    if (m->state == MIG_DONE)
        backoff_cleared(&a->backoff, m->vm);
    else
        backoff_failed(&a->backoff, m->vm, clock_mono_s());
    record_migration(a, m);
    if (a->acting != m || a->phase != PEER_MIGRATING)
        return;
    release_peer(a, &a->peers[a->lock_target]);
    back_to_idle(a);
}

/* ---- life --------------------------------------------------------------------------------- */

int
agent_peer_init(struct agent *a)
{
    char err[512];
    if (store_open(a->opts->data, &a->store, err, sizeof(err)) < 0) {
        log_errorx("cannot open the store: %s", err);
        return -1;
    }
    a->peers = calloc(a->opts->n_peers + 1, sizeof(*a->peers));
    a->renew_ev = evtimer_new(a->base, renew_cb, a);
    a->gather_ev = evtimer_new(a->base, gather_deadline_cb, a);
    if (a->peers == NULL || a->renew_ev == NULL || a->gather_ev == NULL) {
        log_errorx("out of memory");
        return -1;
    }
    for (size_t i = 0; i < a->opts->n_peers; i++) {
        if (strcmp(a->opts->peers[i], a->url) == 0)
            continue; /* a shared peer list may name this agent too */
        struct peer *p = &a->peers[a->n_peers++];
        p->a = a;
        p->up = true;
        (void)snprintf(p->url, sizeof(p->url), "%s", a->opts->peers[i]);
    }
    if (a->n_peers == 0)
        log_warnx("peer mode without peers: conflicts will be detected but cannot be resolved");
    return 0;
}

void
agent_peer_done(struct agent *a)
{
    if (a->renew_ev != NULL)
        event_free(a->renew_ev);
    a->renew_ev = NULL;
    if (a->gather_ev != NULL)
        event_free(a->gather_ev);
    a->gather_ev = NULL;
    for (size_t i = 0; i < a->n_peers; i++) {
        wire_sample_done(&a->peers[i].sample);
        uhist_free(a->peers[i].hist);
    }
    free(a->peers);
    a->peers = NULL;
    a->n_peers = 0;
    store_close(a->store);
    a->store = NULL;
    backoff_done(&a->backoff);
    once_done(&a->storm_once);
}

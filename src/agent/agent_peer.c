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

/* Free a lock whose lease ran out, with the arrivals its holder announced. */
static void
lock_expire(struct agent *a)
{
    if (!a->lock.held || lock_live(a, clock_now_us()))
        return;
    char holder[sizeof(a->lock.holder)];
    (void)snprintf(holder, sizeof(holder), "%s", a->lock.holder);
    a->lock.held = false;
    if (strcmp(holder, a->opts.name) == 0)
        return;
    /* The holder stopped renewing: it died or cannot reach us. An arrival it announced will
     * not be committed by a live source that cannot renew either (the commit would be
     * refused and its VM stays with it), so the room it reserved is given back now. */
    log_warnx("lock lease ran out host=\"%s\" holder=\"%s\"; dropping its arrivals", a->opts.name,
              holder);
    for (size_t i = 0; i < a->n_ins; i++) {
        struct incoming *in = a->ins[i];
        char msg[256];
        if (in->state == IN_RESERVED && strcmp(in->from, holder) == 0)
            (void)agent_incoming_abort(a, in->id, msg, sizeof(msg));
    }
}

void
agent_peer_tick(struct agent *a)
{
    if (a->opts.mode == AGENT_MODE_PEER)
        lock_expire(a);
}

int
agent_lock_take(struct agent *a, const char *holder, double lease_s, const char **ret_holder,
                double *ret_left_s)
{
    lock_expire(a);
    uint64_t now = clock_now_us();
    if (a->lock.held && strcmp(a->lock.holder, holder) != 0) {
        *ret_holder = a->lock.holder;
        *ret_left_s = (double)(a->lock.expires_us - now) / 1e6;
        return -EBUSY;
    }
    if (!a->lock.held)
        log_debug("lock taken host=\"%s\" holder=\"%s\" lease=%gs", a->opts.name, holder, lease_s);
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
    log_debug("lock released host=\"%s\" holder=\"%s\"", a->opts.name, holder);
    return 0;
}

const char *
agent_lock_holder(struct agent *a, double *ret_left_s)
{
    lock_expire(a);
    uint64_t now = clock_now_us();
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
        store_add_conflict(a->store, clock_wall_s(), a->opts.name, ks, vs, outcome) < 0)
        log_warnx("conflict not stored host=\"%s\", ignoring", a->opts.name);
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
    (void)snprintf(rec.src, sizeof(rec.src), "%s", a->opts.name);
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

static void decide(struct agent *a);

static void
back_to_idle(struct agent *a)
{
    (void)agent_lock_release(a, a->opts.name);
    a->phase = PEER_IDLE;
    a->acting = NULL;
    if (a->renew_ev != NULL)
        (void)event_del(a->renew_ev);
}

static double
ask_timeout(const struct agent *a)
{
    double t = a->opts.interval_s;
    return t < 0.5 ? 0.5 : t > 5.0 ? 5.0 : t;
}

static void
gather_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct peer *p = arg;
    struct agent *a = p->a;
    p->waiting = false;
    a->outstanding--;
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
        } else if (strcmp(s.name, a->opts.name) == 0) {
            (void)snprintf(why, sizeof(why), "it reports this host's own name");
            wire_sample_done(&s);
        } else {
            wire_sample_done(&p->sample);
            p->sample = s;
            p->has_sample = true;
            (void)snprintf(p->name, sizeof(p->name), "%s", s.name);
            p->last_seen = clock_wall_s();
            if (!p->up)
                log_info("peer answers again url=%s host=\"%s\"", p->url, p->name);
            p->up = true;
        }
    }
    if (why[0] != '\0') {
        if (p->up)
            log_warnx("peer skipped url=%s reason=\"%s\"", p->url, why);
        p->up = false;
    }
    if (a->outstanding == 0 && a->phase == PEER_GATHERING)
        decide(a);
}

void
agent_peer_act(struct agent *a)
{
    if (a->phase != PEER_IDLE)
        return;
    const char *holder;
    double left;
    if (agent_lock_take(a, a->opts.name, a->opts.lock_lease_s, &holder, &left) < 0) {
        log_debug("conflict waits: this host's lock is held by \"%s\" for %.1fs", holder, left);
        (void)record_conflict(a, "waiting: a migration into this host runs");
        return;
    }
    a->phase = PEER_GATHERING;
    a->decide_started_us = (double)clock_now_us();
    a->outstanding = 1; /* held until every request is sent */
    for (size_t i = 0; i < a->n_peers; i++) {
        struct peer *p = &a->peers[i];
        p->refused = false;
        p->has_sample = false;
        if (p->waiting)
            continue; /* still asked from a previous decision: its answer counts then */
        if (http_request(a->client, p->url, "GET", "/v1/sample", NULL, ask_timeout(a), gather_done,
                         p) < 0) {
            if (p->up)
                log_warnx("peer skipped url=%s reason=\"request not sent\"", p->url);
            p->up = false;
            continue;
        }
        p->waiting = true;
        a->outstanding++;
    }
    a->outstanding--;
    if (a->outstanding == 0)
        decide(a);
}

static void lock_done(void *arg, int status, const char *body, size_t len, const char *err);

/* Ask peer `p` for its lock (or to renew it), or to release it. */
static int
send_lock(struct agent *a, struct peer *p, bool release, http_done_fn done)
{
    const char *path = release ? "/v1/lock/release" : "/v1/lock";
    json_t *j =
        release ? json_pack("{s:s}", "holder", a->opts.name)
                : json_pack("{s:s,s:f}", "holder", a->opts.name, "lease_s", a->opts.lock_lease_s);
    char *body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    int r = body != NULL
                ? http_request(a->client, p->url, "POST", path, body, ask_timeout(a), done, p)
                : -ENOMEM;
    free(body);
    return r;
}

/* Decide on this host's latest sample and the peers' fresh ones, excluding every peer that
 * refused its lock in this decision; ask the chosen destination for its lock. */
static void
decide(struct agent *a)
{
    struct wire_sample own;
    struct perr perr;
    struct cluster cl;
    struct plan p;
    cluster_init(&cl);
    plan_init(&p);
    size_t n = a->n_peers + 1;
    size_t *map = calloc(n, sizeof(*map)); /* cluster host -> peer index + 1 (0: this host) */
    bool *no_dest = calloc(n, sizeof(*no_dest));
    bool *no_source = calloc(n, sizeof(*no_source));
    bool *check = calloc(n, sizeof(*check));
    bool have_own = false;
    const char *fail = NULL;
    if (map == NULL || no_dest == NULL || no_source == NULL || check == NULL) {
        fail = "out of memory";
        goto out;
    }
    if (wire_sample_decode(a->sample_json, strlen(a->sample_json), &own, &perr) < 0) {
        fail = "own sample not decodable";
        goto out;
    }
    have_own = true;
    size_t hi;
    if (wire_sample_to_cluster(&own, true, &cl, &hi) < 0) {
        fail = "out of memory";
        goto out;
    }
    check[hi] = true;
    no_source[hi] = wire_sample_moving(&own);
    for (size_t i = 0; i < a->n_peers; i++) {
        struct peer *q = &a->peers[i];
        if (!q->has_sample)
            continue;
        bool dup = strcmp(q->sample.name, a->opts.name) == 0;
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
    struct plan_opts opts = {no_dest, no_source, check};
    if (plan_compute(&cl, &a->opts.policy, &opts, &p) < 0) {
        fail = "out of memory";
        goto out;
    }
    if (p.n_conflicts == 0) {
        log_info("conflict gone in the latest sample host=\"%s\", nothing to do", a->opts.name);
        back_to_idle(a);
    } else if (p.n_moves == 1) {
        const struct plan_move *mv = &p.moves[0];
        struct peer *dst = &a->peers[map[mv->to] - 1];
        a->lock_target = map[mv->to] - 1;
        (void)snprintf(a->acting_vm, sizeof(a->acting_vm), "%s", cl.vms[mv->vm].name);
        plan_move_describe(&a->opts.policy, &cl, mv, a->lock_reason, sizeof(a->lock_reason));
        a->phase = PEER_LOCKING;
        int r = send_lock(a, dst, false, lock_done);
        if (r < 0) {
            log_warnx("lock request not sent url=%s error=\"%s\"; excluding it", dst->url,
                      strerror(-r));
            dst->refused = true;
            a->phase = PEER_GATHERING;
            decide(a); /* bounded: one more host excluded each time */
        }
    } else {
        const struct plan_unresolved *u = &p.unresolved[0];
        char outcome[128];
        if (u->reason == PLAN_REASON_SOURCE_BUSY)
            (void)snprintf(outcome, sizeof(outcome), "waiting: a migration of this host runs");
        else
            (void)snprintf(outcome, sizeof(outcome), "unresolved: %s", plan_reason_name(u->reason));
        size_t refused = 0;
        for (size_t i = 0; i < a->n_peers; i++)
            refused += a->peers[i].refused;
        if (record_conflict(a, outcome))
            log_warnx("conflict %s host=\"%s\" peers_answered=%zu locks_refused=%zu", outcome,
                      a->opts.name, cl.n_hosts - 1, refused);
        back_to_idle(a);
    }
out:
    if (fail != NULL) {
        log_warnx("no decision host=\"%s\": %s", a->opts.name, fail);
        back_to_idle(a);
    }
    if (have_own)
        wire_sample_done(&own);
    plan_done(&p);
    cluster_done(&cl);
    free(map);
    free(no_dest);
    free(no_source);
    free(check);
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
    if (a->phase != PEER_MIGRATING)
        return;
    const char *holder;
    double left;
    (void)agent_lock_take(a, a->opts.name, a->opts.lock_lease_s, &holder, &left);
    if (send_lock(a, &a->peers[a->lock_target], false, renew_done) < 0)
        log_warnx("lock renewal not sent url=%s", a->peers[a->lock_target].url);
    struct timeval tv = loop_tv(a->opts.lock_lease_s / 3.0);
    (void)event_add(a->renew_ev, &tv);
}

static void
lock_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct peer *p = arg;
    struct agent *a = p->a;
    if (a->phase != PEER_LOCKING || &a->peers[a->lock_target] != p)
        return;
    if (status != 200) {
        if (status == 409) {
            a->lock_refusals++;
            json_t *j = json_loadb(body, len, 0, NULL);
            const char *h = json_string_value(json_object_get(j, "holder"));
            log_info("lock refused host=\"%s\" holder=\"%s\"; trying the next best destination",
                     p->name, h != NULL ? h : "?");
            json_decref(j);
        } else {
            log_warnx("lock not obtained host=\"%s\" status=%d error=\"%s\"; excluding it", p->name,
                      status, status == 0 ? err : "");
        }
        p->refused = true;
        a->phase = PEER_GATHERING;
        decide(a);
        return;
    }
    a->locks_granted++;
    struct wire_order o;
    memset(&o, 0, sizeof(o));
    (void)snprintf(o.vm, sizeof(o.vm), "%s", a->acting_vm);
    (void)snprintf(o.to, sizeof(o.to), "%s", p->url);
    (void)snprintf(o.to_name, sizeof(o.to_name), "%s", p->name);
    struct migration *m = NULL;
    int r = agent_migrate_start(a, &o, &m);
    if (r < 0) {
        log_warnx("migration not started vm=\"%s\" to=\"%s\" error=\"%s\"", o.vm, p->name,
                  strerror(-r));
        if (send_lock(a, p, true, release_done) < 0)
            log_warnx("lock release not sent url=%s; its lease will end it", p->url);
        back_to_idle(a);
        return;
    }
    (void)snprintf(m->reason, sizeof(m->reason), "%s", a->lock_reason);
    a->acting = m;
    a->phase = PEER_MIGRATING;
    a->last_resolve_ms = ((double)clock_now_us() - a->decide_started_us) / 1000.0;
    char outcome[600];
    (void)snprintf(outcome, sizeof(outcome), "move %s to %s", o.vm, p->name);
    (void)record_conflict(a, outcome);
    record_migration(a, m);
    log_info("peer decision host=\"%s\" vm=\"%s\" to=\"%s\" id=%s decided_in_ms=%.1f reason=\"%s\"",
             a->opts.name, o.vm, p->name, m->id, a->last_resolve_ms, a->lock_reason);
    struct timeval tv = loop_tv(a->opts.lock_lease_s / 3.0);
    (void)event_add(a->renew_ev, &tv);
}

void
agent_migration_ended(struct agent *a, struct migration *m)
{
    if (a->opts.mode != AGENT_MODE_PEER)
        return;
    record_migration(a, m);
    if (a->acting != m || a->phase != PEER_MIGRATING)
        return;
    struct peer *p = &a->peers[a->lock_target];
    if (send_lock(a, p, true, release_done) < 0)
        log_warnx("lock release not sent url=%s; its lease will end it", p->url);
    back_to_idle(a);
}

/* ---- life --------------------------------------------------------------------------------- */

int
agent_peer_init(struct agent *a)
{
    char err[512];
    if (store_open(a->opts.data, &a->store, err, sizeof(err)) < 0) {
        log_errorx("cannot open the store: %s", err);
        return -1;
    }
    a->peers = calloc(a->opts.n_peers + 1, sizeof(*a->peers));
    a->renew_ev = evtimer_new(a->base, renew_cb, a);
    if (a->peers == NULL || a->renew_ev == NULL) {
        log_errorx("out of memory");
        return -1;
    }
    for (size_t i = 0; i < a->opts.n_peers; i++) {
        if (strcmp(a->opts.peers[i], a->url) == 0)
            continue; /* a shared peer list may name this agent too */
        struct peer *p = &a->peers[a->n_peers++];
        p->a = a;
        p->up = true;
        (void)snprintf(p->url, sizeof(p->url), "%s", a->opts.peers[i]);
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
    for (size_t i = 0; i < a->n_peers; i++)
        wire_sample_done(&a->peers[i].sample);
    free(a->peers);
    a->peers = NULL;
    a->n_peers = 0;
    store_close(a->store);
    a->store = NULL;
}

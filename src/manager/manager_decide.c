/* Decisions and migrations of the manager.
 *
 * After each collection round the latest samples become a cluster model (hosts that stopped
 * answering are in it as down, so their VMs are neither checked nor moved, and nothing is
 * moved onto them) and plan_compute() decides, with every host that has a migration into or
 * out of it excluded as source and destination. A conflict is recorded once per episode (when
 * it appears or its VMs change), with its outcome.
 *
 * A migration is written to the store as "planned" before the order is sent, so a manager
 * that crashes after deciding resends the same order (same id) when it starts again; agents
 * treat an order whose id they know as the same order, so nothing runs twice. Then the
 * manager asks the source agent about it every round until it is done or failed. When the
 * source cannot tell (it restarted, or is down), the samples decide: a VM running on the
 * destination and not on the source has moved. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "core/consolidate.h"
#include "core/plan.h"
#include "manager/manager_internal.h"
#include "proto/utf8.h"

/* Orders that get no answer are resent this many rounds before the migration fails. */
#define ORDER_ATTEMPTS 5
/* A migration whose source cannot be asked fails after this long. */
#define FOLLOW_GIVE_UP_S 600.0
/* Edge: a host whose agent has not notified for two intervals and this long is no longer in
 * conflict. */
#define EDGE_QUIET_S 2.0

const char *
mmig_state_name(enum mmig_state s)
{
    switch (s) {
    case MMIG_RUNNING:
        return "running";
    case MMIG_DONE:
        return "done";
    case MMIG_FAILED:
        return "failed";
    case MMIG_PLANNED:
        break;
    }
    return "planned";
}

static enum mmig_state
state_parse(const char *s)
{
    if (strcmp(s, "running") == 0)
        return MMIG_RUNNING;
    if (strcmp(s, "done") == 0)
        return MMIG_DONE;
    if (strcmp(s, "failed") == 0)
        return MMIG_FAILED;
    return MMIG_PLANNED;
}

static void
save(struct manager *m, struct mmig *g)
{
    (void)snprintf(g->rec.state, sizeof(g->rec.state), "%s", mmig_state_name(g->state));
    if (store_put_migration(m->store, &g->rec) < 0)
        log_warnx("migration not stored id=%s, ignoring", g->rec.id);
}

static void
remove_active(struct manager *m, struct mmig *g)
{
    for (size_t i = 0; i < m->n_active; i++) {
        if (m->active[i] == g) {
            memmove(&m->active[i], &m->active[i + 1], (m->n_active - i - 1) * sizeof(m->active[0]));
            m->n_active--;
            break;
        }
    }
    free(g);
}

void
manager_migrations_done(struct manager *m)
{
    for (size_t i = 0; i < m->n_active; i++)
        free(m->active[i]);
    m->n_active = 0;
}

static void
finish(struct manager *m, struct mmig *g, enum mmig_state st, const char *error)
{
    g->state = st;
    g->rec.finished = clock_wall_s();
    if (st == MMIG_DONE) {
        m->done_total++;
        backoff_cleared(&m->backoff, g->rec.vm);
    } else {
        m->failed_total++;
        backoff_failed(&m->backoff, g->rec.vm, clock_mono_s());
    }
    double took = clock_mono_s() - g->started_mono; /* whatever the wall clock did */
    histo_observe(&m->mig_h, took);
    (void)snprintf(g->rec.error, sizeof(g->rec.error), "%s", error != NULL ? error : "");
    save(m, g);
    if (st == MMIG_DONE)
        log_info("migration done id=%s vm=\"%s\" from=\"%s\" to=\"%s\" seconds=%.3f", g->rec.id,
                 g->rec.vm, g->rec.src, g->rec.dst, took);
    else
        log_warnx("migration failed id=%s vm=\"%s\" from=\"%s\" to=\"%s\" error=\"%s\"", g->rec.id,
                  g->rec.vm, g->rec.src, g->rec.dst, g->rec.error);
    remove_active(m, g);
}

/* Where does VM `vm` run according to the latest samples? 1: on `dst` and not on `src`;
 * -1: still on `src` (running) and not on `dst`; 0: cannot tell. */
static int
where_is(struct manager *m, const char *vm, const char *src, const char *dst)
{
    bool on_src = false;
    bool on_dst = false;
    struct mhost *hs = manager_host_find(m, src);
    struct mhost *hd = manager_host_find(m, dst);
    for (size_t i = 0; hs != NULL && hs->has_sample && hs->up && i < hs->sample.n_vms; i++) {
        if (strcmp(hs->sample.vms[i].name, vm) == 0)
            on_src = true;
    }
    for (size_t i = 0; hd != NULL && hd->has_sample && hd->up && i < hd->sample.n_vms; i++) {
        if (strcmp(hd->sample.vms[i].name, vm) == 0 && !hd->sample.vms[i].incoming)
            on_dst = true;
    }
    if (on_dst && !on_src)
        return 1;
    if (on_src && !on_dst && hs->up)
        return -1;
    return 0;
}

static void send_order(struct manager *m, struct mmig *g);

/* Is a 409 answer the agent saying it already has this order (same id)? Matched on the start
 * of its message, which no VM name can reach. */
static bool
order_known(const char *body)
{
    json_t *j = body != NULL ? json_loads(body, 0, NULL) : NULL;
    const char *e = json_string_value(json_object_get(j, "error"));
    bool known = e != NULL && strncmp(e, "a migration with id ", 20) == 0;
    json_decref(j);
    return known;
}

static void
order_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct mmig *g = arg;
    struct manager *m = g->m;
    (void)len;
    g->in_flight = false;
    if (status == 202 || (status == 409 && order_known(body))) {
        /* Accepted now, or accepted before a restart of ours: the same order. */
        g->state = MMIG_RUNNING;
        g->last_answer = clock_mono_s();
        save(m, g);
        log_info("migration running id=%s vm=\"%s\" from=\"%s\" to=\"%s\"", g->rec.id, g->rec.vm,
                 g->rec.src, g->rec.dst);
        return;
    }
    if (status == 0) {
        if (++g->attempts < ORDER_ATTEMPTS) {
            log_warnx("order got no answer id=%s error=\"%s\", resending next round", g->rec.id,
                      err);
            return;
        }
        finish(m, g, MMIG_FAILED, "source agent unreachable");
        return;
    }
    if (status == 404 && where_is(m, g->rec.vm, g->rec.src, g->rec.dst) == 1) {
        finish(m, g, MMIG_DONE, NULL);
        return;
    }
    char msg[256];
    json_t *j = body != NULL ? json_loads(body, 0, NULL) : NULL;
    const char *e = json_string_value(json_object_get(j, "error"));
    (void)snprintf(msg, sizeof(msg), "source refused (%d): %s", status, e != NULL ? e : "?");
    json_decref(j);
    finish(m, g, MMIG_FAILED, msg);
}

static void
send_order(struct manager *m, struct mmig *g)
{
    struct mhost *src = manager_host_find(m, g->rec.src);
    struct mhost *dst = manager_host_find(m, g->rec.dst);
    if (src == NULL || dst == NULL) {
        finish(m, g, MMIG_FAILED, "source or destination no longer known");
        return;
    }
    failpoint("manager-before-order"); /* decided and stored as planned, not sent */
    json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "id", g->rec.id, "vm", g->rec.vm, "to", dst->url,
                          "to_name", dst->name);
    char *body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    int r = body != NULL ? http_request(m->client, src->url, "POST", "/v1/migrations", body,
                                        HTTP_TIMEOUT_S, order_done, g)
                         : -ENOMEM;
    free(body);
    if (r < 0) {
        g->attempts++;
        log_warnx("order not sent id=%s error=\"%s\", retrying next round", g->rec.id,
                  strerror(-r));
        return;
    }
    g->in_flight = true;
}

static void
follow_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct mmig *g = arg;
    struct manager *m = g->m;
    (void)err;
    g->in_flight = false;
    if (status == 0 && clock_mono_s() - g->last_answer > FOLLOW_GIVE_UP_S) {
        /* The source has not answered for that long (in edge mode with collection on
         * notification nothing else would mark it down). */
        finish(m, g, MMIG_FAILED, "source agent unreachable; outcome unknown");
        return;
    }
    if (status == 200) {
        g->last_answer = clock_mono_s();
        json_t *j = json_loadb(body, len, 0, NULL);
        const char *st = json_string_value(json_object_get(j, "state"));
        const char *e = json_string_value(json_object_get(j, "error"));
        char error[256];
        (void)snprintf(error, sizeof(error), "%s", e != NULL ? e : "");
        enum mmig_state s = st != NULL ? state_parse(st) : MMIG_RUNNING;
        json_decref(j);
        if (s == MMIG_DONE || s == MMIG_FAILED)
            finish(m, g, s, s == MMIG_FAILED ? error : NULL);
        return;
    }
    if (status == 404) {
        /* The source forgot it (it restarted): the samples tell where the VM is. */
        int w = where_is(m, g->rec.vm, g->rec.src, g->rec.dst);
        if (w == 1)
            finish(m, g, MMIG_DONE, NULL);
        else if (w == -1)
            finish(m, g, MMIG_FAILED, "the source agent lost the migration; VM still there");
        else if (clock_mono_s() - g->last_answer > FOLLOW_GIVE_UP_S)
            finish(m, g, MMIG_FAILED,
                   "outcome unknown: the source lost the migration and the "
                   "samples do not show the VM on exactly one of the hosts");
    }
}

/* Migrations the latest samples show finished (the VM runs on the destination and no longer
 * on the source) end now, before the decision, so that their hosts are free for it: waiting
 * for the source's answer to the next follow-up would hold a conflict on either host one round
 * longer. A migration with a request in flight is left to its answer. */
static void
settle_from_samples(struct manager *m)
{
    struct mmig *list[MANAGER_MAX_ACTIVE];
    size_t n = m->n_active;
    memcpy(list, m->active, n * sizeof(list[0]));
    for (size_t i = 0; i < n; i++) {
        struct mmig *g = list[i];
        if (g->state == MMIG_RUNNING && !g->in_flight &&
            where_is(m, g->rec.vm, g->rec.src, g->rec.dst) == 1)
            finish(m, g, MMIG_DONE, NULL);
    }
}

void
manager_follow(struct manager *m)
{
    double now = clock_mono_s();
    /* finish() removes entries, so walk a copy. */
    struct mmig *list[MANAGER_MAX_ACTIVE];
    size_t n = m->n_active;
    memcpy(list, m->active, n * sizeof(list[0]));
    for (size_t i = 0; i < n; i++) {
        struct mmig *g = list[i];
        if (g->in_flight)
            continue;
        if (g->state == MMIG_PLANNED) {
            send_order(m, g);
            continue;
        }
        struct mhost *src = manager_host_find(m, g->rec.src);
        if (src == NULL || !src->up) {
            int w = where_is(m, g->rec.vm, g->rec.src, g->rec.dst);
            if (w == 1)
                finish(m, g, MMIG_DONE, NULL);
            else if (now - g->last_answer > FOLLOW_GIVE_UP_S)
                finish(m, g, MMIG_FAILED, "source agent lost");
            continue;
        }
        char path[160];
        (void)snprintf(path, sizeof(path), "/v1/migrations/%s", g->rec.id);
        if (http_request(m->client, src->url, "GET", path, NULL, HTTP_TIMEOUT_S, follow_done, g) ==
            0)
            g->in_flight = true;
    }
}

bool
manager_busy(const struct manager *m, const char *name, const char *vm)
{
    for (size_t i = 0; i < m->n_active; i++) {
        const struct mmig *g = m->active[i];
        if (strcmp(g->rec.src, name) == 0 || strcmp(g->rec.dst, name) == 0 ||
            (vm != NULL && strcmp(g->rec.vm, vm) == 0))
            return true;
    }
    return false;
}

static bool
host_busy(const struct manager *m, const char *name)
{
    return manager_busy(m, name, NULL);
}

void
manager_store_now(struct manager *m)
{
    /* During a collection round the store's writes wait for the round's commit: an operator's
     * write (a drain, an apply) must not, so the round's transaction is committed here and a
     * new one begun. */
    if (!m->in_round)
        return;
    if (store_commit(m->store) < 0 || store_begin(m->store) < 0)
        log_warnx("store commit inside a round failed, ignoring");
}

int
manager_order(struct manager *m, const char *vm, const char *src, const char *dst,
              const char *reason, char *ret_id, size_t id_len)
{
    if (m->n_active >= MANAGER_MAX_ACTIVE) {
        log_warnx("too many migrations in flight, not ordering vm=\"%s\"", vm);
        return -EBUSY;
    }
    struct mmig *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        log_warnx("out of memory, not ordering vm=\"%s\"", vm);
        return -ENOMEM;
    }
    g->m = m;
    double now = clock_wall_s();
    (void)snprintf(g->rec.id, sizeof(g->rec.id), "m%llu-%llu", (unsigned long long)(now * 1000.0),
                   (unsigned long long)++m->next_id);
    (void)snprintf(g->rec.vm, sizeof(g->rec.vm), "%s", vm);
    (void)snprintf(g->rec.src, sizeof(g->rec.src), "%s", src);
    (void)snprintf(g->rec.dst, sizeof(g->rec.dst), "%s", dst);
    (void)snprintf(g->rec.reason, sizeof(g->rec.reason), "%s", reason);
    utf8_trim_partial(g->rec.reason);
    g->rec.started = now;
    g->rec.finished = -1.0;
    g->last_answer = clock_mono_s();
    g->started_mono = g->last_answer;
    g->state = MMIG_PLANNED;
    /* Stored before the order goes out: a crash after this line resends it. An order that
     * could not be stored is not sent (a restart would not know to follow it). */
    (void)snprintf(g->rec.state, sizeof(g->rec.state), "%s", mmig_state_name(g->state));
    if (store_put_migration(m->store, &g->rec) < 0) {
        log_warnx("migration not ordered: the store cannot record it vm=\"%s\", ignoring", vm);
        free(g);
        return -EIO;
    }
    manager_store_now(m);
    m->active[m->n_active++] = g;
    m->ordered_total++;
    log_info("migration ordered id=%s vm=\"%s\" from=\"%s\" to=\"%s\" reason=\"%s\"", g->rec.id, vm,
             src, dst, reason);
    if (ret_id != NULL)
        (void)snprintf(ret_id, id_len, "%s", g->rec.id); /* send_order() may end `g` */
    send_order(m, g);
    return 0;
}

/* --- recommendations (automation = manual, dry-run) --------------------------------- */

static void
rec_save(struct manager *m, struct store_rec *r, const char *state)
{
    (void)snprintf(r->state, sizeof(r->state), "%s", state);
    r->updated = clock_wall_s();
    if (store_put_recommendation(m->store, r) < 0)
        log_warnx("recommendation not stored id=%s, ignoring", r->id);
    manager_store_now(m);
}

static void
rec_drop(struct manager *m, size_t i)
{
    free(m->recs[i]);
    m->recs[i] = m->recs[m->n_recs - 1];
    m->rec_seen[i] = m->rec_seen[m->n_recs - 1];
    m->n_recs--;
}

/* Record the move a decision chose as a recommendation (or keep the pending one for the same
 * move); a pending one for the same VM elsewhere is superseded. The recommendation's id. */
static const char *
recommend(struct manager *m, const char *vm, const char *src, const char *dst, const char *reason,
          bool dry)
{
    for (size_t i = 0; i < m->n_recs; i++) {
        struct store_rec *r = m->recs[i];
        if (strcmp(r->vm, vm) != 0)
            continue;
        if (strcmp(r->src, src) == 0 && strcmp(r->dst, dst) == 0) {
            m->rec_seen[i] = true;
            return r->id;
        }
        log_info("recommendation superseded id=%s vm=\"%s\"", r->id, vm);
        rec_save(m, r, "superseded");
        rec_drop(m, i);
        break;
    }
    if (m->n_recs >= MANAGER_MAX_RECS)
        return "(too many pending recommendations)";
    struct store_rec *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return "(out of memory)";
    double now = clock_wall_s();
    (void)snprintf(r->id, sizeof(r->id), "r%llu-%llu", (unsigned long long)(now * 1000.0),
                   (unsigned long long)++m->next_id);
    r->time = now;
    (void)snprintf(r->vm, sizeof(r->vm), "%s", vm);
    (void)snprintf(r->src, sizeof(r->src), "%s", src);
    (void)snprintf(r->dst, sizeof(r->dst), "%s", dst);
    (void)snprintf(r->reason, sizeof(r->reason), "%s", reason);
    utf8_trim_partial(r->reason);
    rec_save(m, r, dry ? "dry-run" : "pending");
    m->recs[m->n_recs] = r;
    m->rec_seen[m->n_recs] = true;
    m->n_recs++;
    if (dry)
        log_info("dry-run: would move vm=\"%s\" from=\"%s\" to=\"%s\" reason=\"%s\"", vm, src, dst,
                 reason);
    else
        log_info("recommendation id=%s vm=\"%s\" from=\"%s\" to=\"%s\" reason=\"%s\" "
                 "(vmloc apply %s)",
                 r->id, vm, src, dst, reason, r->id);
    return r->id;
}

/* After a decision: a recommendation not chosen again whose source is no longer in conflict
 * (or no longer runs the VM) has expired. */
static void
recs_expire(struct manager *m)
{
    for (size_t i = 0; i < m->n_recs;) {
        struct store_rec *r = m->recs[i];
        const struct mhost *h = manager_host_find(m, r->src);
        bool on_src = false;
        for (size_t j = 0; h != NULL && h->has_sample && j < h->sample.n_vms; j++)
            on_src |= !h->sample.vms[j].incoming && strcmp(h->sample.vms[j].name, r->vm) == 0;
        /* A power-saving recommendation holds while its host stays light. */
        bool light = h != NULL && h->has_sample && m->opts.policy.consolidate_below > 0 &&
                     strncmp(r->reason, "power saving", 12) == 0 &&
                     h->sample.usage[KIND_CPU] < m->opts.policy.consolidate_below;
        if (!m->rec_seen[i] &&
            (h == NULL || !on_src || (!h->in_conflict && !h->maintenance && !light))) {
            log_info("recommendation expired id=%s vm=\"%s\"", r->id, r->vm);
            rec_save(m, r, "expired");
            rec_drop(m, i);
            continue;
        }
        m->rec_seen[i] = false;
        i++;
    }
}

/* Would the core still let `r` happen now: the VM movable, and its destination able to take
 * it (room, memory, every must rule) on the latest samples? 0, or 1 with `why` filled. */
static int
apply_verdict(struct manager *m, const struct store_rec *r, char *why, size_t len)
{
    struct cluster cl;
    cluster_init(&cl);
    struct mhost **map = calloc(m->n_hosts + 1, sizeof(*map));
    bool *busy = calloc(m->n_hosts + 1, sizeof(*busy));
    int ret = 1;
    (void)snprintf(why, len, "out of memory");
    if (map == NULL || busy == NULL || manager_model(m, &cl, map, busy) < 0)
        goto out;
    size_t vi = cl.n_vms;
    for (size_t i = 0; i < cl.n_vms && vi == cl.n_vms; i++) {
        if (strcmp(cl.vms[i].name, r->vm) == 0 &&
            strcmp(cl.hosts[cl.vms[i].host].name, r->src) == 0)
            vi = i;
    }
    if (vi == cl.n_vms) {
        (void)snprintf(why, len, "the VM is no longer running on its source");
        goto out;
    }
    struct plan_opts po = {.no_dest = busy, .no_source = busy};
    struct vm_explain e;
    if (plan_explain_vm(&cl, &m->opts.policy, &po, vi, &e) < 0)
        goto out;
    const struct policy *pol = &m->opts.policy;
    if (e.pinned) {
        (void)snprintf(why, len, "the VM is pinned");
    } else if (e.held_rule_id > 0) {
        (void)snprintf(why, len, "rule \"%.100s\" keeps the VM with others on its host",
                       pol->rules[e.held_rule_id - 1].name);
    } else {
        (void)snprintf(why, len, "the destination is not among the hosts that can take it");
        for (size_t i = 0; i < e.n_dests; i++) {
            const struct dest_explain *d = &e.dests[i];
            if (strcmp(cl.hosts[d->host].name, r->dst) != 0)
                continue;
            if (d->verdict == DEST_OK)
                ret = 0;
            else if (d->verdict == DEST_RULE)
                (void)snprintf(why, len, "the destination would break rule \"%.100s\"",
                               pol->rules[d->rule_id - 1].name);
            else
                (void)snprintf(why, len, "the destination cannot take it now (%s)",
                               dest_verdict_name(d->verdict));
        }
    }
    vm_explain_done(&e);
out:
    free(map);
    free(busy);
    cluster_done(&cl);
    return ret;
}

int
manager_apply(struct manager *m, const char *id, char *ret_mig, size_t mig_len, char *msg,
              size_t len)
{
    size_t i = 0;
    while (i < m->n_recs && strcmp(m->recs[i]->id, id) != 0)
        i++;
    if (i == m->n_recs) {
        (void)snprintf(msg, len,
                       "no pending recommendation \"%s\" (applied, superseded or expired: see "
                       "vmloc recommendations)",
                       id);
        return 404;
    }
    struct store_rec *r = m->recs[i];
    if (strcmp(r->state, "dry-run") == 0) {
        (void)snprintf(msg, len, "\"%s\" was decided in dry-run: nothing is applied", id);
        return 409;
    }
    const struct mhost *src = manager_host_find(m, r->src);
    const struct mhost *dst = manager_host_find(m, r->dst);
    bool on_src = false;
    for (size_t j = 0; src != NULL && src->has_sample && j < src->sample.n_vms; j++)
        on_src |= strcmp(src->sample.vms[j].name, r->vm) == 0 && !src->sample.vms[j].incoming &&
                  !src->sample.vms[j].migrating_out;
    const char *why = NULL;
    if (src == NULL || !src->up || !on_src)
        why = "the VM is no longer running on its source";
    else if (dst == NULL || !dst->up)
        why = "the destination is not up";
    else if (dst->maintenance)
        why = "the destination is in maintenance";
    else if (manager_busy(m, r->src, r->vm) || manager_busy(m, r->dst, NULL))
        why = "a migration into or out of the source or destination runs";
    else if (m->opts.policy.max_migrations > 0 && m->n_active >= m->opts.policy.max_migrations)
        why = "max_migrations are running";
    char verdict[300] = "";
    if (why == NULL && apply_verdict(m, r, verdict, sizeof(verdict)) != 0)
        why = verdict;
    if (why != NULL) {
        (void)snprintf(msg, len, "\"%s\" no longer holds: %s", id, why);
        return 409;
    }
    char reason[300];
    (void)snprintf(reason, sizeof(reason), "applied %.60s: %.200s", r->id, r->reason);
    utf8_trim_partial(reason);
    if (manager_order(m, r->vm, r->src, r->dst, reason, r->migration, sizeof(r->migration)) < 0) {
        (void)snprintf(msg, len, "the migration could not be ordered (see the manager's log)");
        return 503;
    }
    rec_save(m, r, "applied");
    (void)snprintf(ret_mig, mig_len, "%s", r->migration);
    rec_drop(m, i);
    return 0;
}

static void
load_rec(void *ctx, const struct store_rec *rec)
{
    struct manager *m = ctx;
    if (m->n_recs >= MANAGER_MAX_RECS)
        return;
    struct store_rec *r = malloc(sizeof(*r));
    if (r == NULL)
        return;
    *r = *rec;
    m->recs[m->n_recs] = r;
    m->rec_seen[m->n_recs] = true; /* it expires only after a decision that no longer makes it */
    m->n_recs++;
}

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

/* Build the model from the latest samples; `map[i]` is the mhost of cluster host i. */
static int
build_cluster(struct manager *m, struct cluster *cl, struct mhost **map)
{
    for (size_t i = 0; i < m->n_hosts; i++) {
        struct mhost *h = m->hosts[i];
        if (!h->has_sample)
            continue;
        size_t hi;
        int r = wire_sample_to_cluster(&h->sample, h->up, cl, &hi);
        if (r < 0)
            return r;
        /* In maintenance: never a destination nor in conflict, and drained (plan_opts.drain);
         * a host that is down stays down (its VMs cannot be moved). */
        if (h->maintenance && h->up)
            cl->hosts[hi].state = HOST_MAINTENANCE;
        map[hi] = h;
    }
    return 0;
}

/* "cpu,disk|a,b,c": what identifies a conflict episode. */
static void
conflict_signature(const struct cluster *cl, const struct policy *pol, const struct plan *p,
                   const struct plan_conflict *c, char *buf, size_t len, json_t *kinds, json_t *vms)
{
    size_t off = 0;
    for (size_t i = 0; i < pol->n_resources; i++) {
        enum kind k = pol->resources[i];
        if (!(c->kinds & KIND_BIT(k)))
            continue;
        (void)json_array_append_new(kinds, json_string(kind_name(k)));
        if (off < len)
            off += (size_t)snprintf(buf + off, len - off, "%s,", kind_name(k));
    }
    if (off < len)
        off += (size_t)snprintf(buf + off, len - off, "|");
    for (uint32_t j = 0; j < c->vm_count; j++) {
        const char *name = cl->vms[p->conflict_vms[c->vm_off + j]].name;
        (void)json_array_append_new(vms, json_string(name));
        if (off < len)
            off += (size_t)snprintf(buf + off, len - off, "%s,", name);
    }
}

static void
record_conflict(struct manager *m, const struct cluster *cl, const struct plan *p,
                const struct plan_conflict *c, struct mhost *h, const char *outcome)
{
    char sig[512];
    json_t *kinds = json_array();
    json_t *vms = json_array();
    conflict_signature(cl, &m->opts.policy, p, c, sig, sizeof(sig), kinds, vms);
    /* A new outcome for the same conflict (a move failed and now there is no room, say) is
     * recorded too; waiting for a running migration is not a new outcome. */
    if (strncmp(outcome, "waiting", 7) != 0) {
        size_t used = strlen(sig);
        (void)snprintf(sig + used, sizeof(sig) - used, "|%s", outcome);
    } else if (h->in_conflict) {
        const char *bar = strrchr(h->conflict_sig, '|');
        size_t keep = bar != NULL ? (size_t)(bar - h->conflict_sig) : strlen(h->conflict_sig);
        if (strlen(sig) == keep && strncmp(sig, h->conflict_sig, keep) == 0)
            (void)snprintf(sig, sizeof(sig), "%s", h->conflict_sig);
    }
    bool fresh = !h->in_conflict || strcmp(sig, h->conflict_sig) != 0;
    h->in_conflict = true;
    if (fresh) {
        m->conflicts_total++;
        (void)snprintf(h->conflict_sig, sizeof(h->conflict_sig), "%s", sig);
        h->unresolved_logged = false;
        char *ks = json_dumps(kinds, JSON_COMPACT);
        char *vs = json_dumps(vms, JSON_COMPACT);
        log_info("conflict detected host=\"%s\" resources=%s vms=%s outcome=\"%s\"", h->name,
                 ks != NULL ? ks : "?", vs != NULL ? vs : "?", outcome);
        if (ks == NULL || vs == NULL ||
            store_add_conflict(m->store, clock_wall_s(), h->name, ks, vs, outcome) < 0)
            log_warnx("conflict not stored host=\"%s\", ignoring", h->name);
        free(ks);
        free(vs);
    }
    json_decref(kinds);
    json_decref(vms);
}

int
manager_model(struct manager *m, struct cluster *cl, struct mhost **map, bool *busy)
{
    int r = build_cluster(m, cl, map);
    if (r < 0)
        return r;
    cl->time = clock_wall_s(); /* for the VMs' cooldown */
    cl->has_time = true;
    /* A VM whose migration just failed waits before it is tried again. */
    for (size_t i = 0; m->backoff.n > 0 && i < cl->n_vms; i++)
        cl->vms[i].held = backoff_left(&m->backoff, cl->vms[i].name, clock_mono_s()) > 0;
    for (size_t i = 0; i < cl->n_hosts; i++) {
        /* Busy: a migration of ours runs into or out of it, or its sample shows a VM
         * arriving or leaving (one ordered by someone else, or before a restart). */
        busy[i] = host_busy(m, cl->hosts[i].name) || wire_sample_moving(&map[i]->sample);
    }
    return 0;
}

/* The storm guard holds VM `vm` (on host `host`) until `until`: logged and counted once per
 * VM and window. */
static void
storm_note(struct manager *m, const struct cluster *cl, uint32_t vm, double until)
{
    const char *name = cl->vms[vm].name;
    if (!once_first(&m->storm_once, name, until, cl->time))
        return;
    m->storm_holds_total++;
    char what[400];
    plan_storm_describe(&m->opts.policy, cl, vm, until, what, sizeof(what));
    log_warnx("storm guard holds vm=\"%s\" host=\"%s\" until=%.0f: %s; a conflict does not move "
              "it until then (a drain still does)",
              name, cl->hosts[cl->vms[vm].host].name, until, what);
}

/* Carry out (or recommend) a move chosen outside a conflict, by the automation level. */
static void
act(struct manager *m, const char *vm, const char *from, const char *to, const char *reason)
{
    enum automation level = m->opts.policy.automation;
    if (level == AUTOMATION_AUTOMATIC)
        (void)manager_order(m, vm, from, to, reason, NULL, 0);
    else
        (void)recommend(m, vm, from, to, reason, level == AUTOMATION_DRY_RUN);
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

void
manager_decide(struct manager *m)
{
    struct cluster cl;
    struct plan p;
    settle_from_samples(m);
    cluster_init(&cl);
    plan_init(&p);
    struct mhost **map = calloc(m->n_hosts + 1, sizeof(*map));
    bool *busy = calloc(m->n_hosts + 1, sizeof(*busy));
    bool *check = NULL;
    if (map == NULL || busy == NULL || manager_model(m, &cl, map, busy) < 0) {
        log_warnx("no decision this round: out of memory");
        goto out;
    }
    /* Edge: only the hosts whose agents found a conflict are examined (the agents apply the
     * persistence filter). Central: only the hosts whose conflict persisted. */
    bool persist = m->opts.policy.persist_k != 1 || m->opts.policy.persist_n != 1;
    if (m->opts.edge || persist) {
        check = calloc(cl.n_hosts + 1, sizeof(*check));
        if (check == NULL) {
            log_warnx("no decision this round: out of memory");
            goto out;
        }
        for (size_t i = 0; i < cl.n_hosts; i++) {
            if (m->opts.edge) {
                check[i] = map[i]->notified;
                map[i]->notified = false;
            } else {
                check[i] = policy_persist_holds(&m->opts.policy, map[i]->conflict_seen);
            }
        }
    }
    struct plan_opts opts = {
        .no_dest = busy, .no_source = busy, .check = check, .running = m->n_active, .drain = true};
    if (plan_compute(&cl, &m->opts.policy, &opts, &p) < 0) {
        log_warnx("no decision this round: out of memory");
        goto out;
    }
    bool *seen = calloc(cl.n_hosts + 1, sizeof(*seen));
    if (seen == NULL)
        goto out;
    for (size_t i = 0; i < p.n_moves; i++) {
        const struct plan_move *mv = &p.moves[i];
        const struct plan_conflict *c = NULL;
        for (size_t k = 0; k < p.n_conflicts; k++) {
            if (p.conflicts[k].host == mv->from)
                c = &p.conflicts[k];
        }
        char reason[250];
        plan_move_describe(&m->opts.policy, &cl, mv, reason, sizeof(reason));
        /* Automation: a drain runs unless dry-run (an operator asked for it); a conflict's move
         * waits for the operator in manual mode. */
        enum automation level = m->opts.policy.automation;
        bool hold = mv->why == PLAN_MOVE_DRAIN ? level == AUTOMATION_DRY_RUN
                                               : level != AUTOMATION_AUTOMATIC;
        const char *vm = cl.vms[mv->vm].name;
        const char *from = cl.hosts[mv->from].name;
        const char *to = cl.hosts[mv->to].name;
        char outcome[1024];
        if (!hold) {
            (void)snprintf(outcome, sizeof(outcome), "move %s to %s", vm, to);
        } else {
            const char *rid = recommend(m, vm, from, to, reason, level == AUTOMATION_DRY_RUN);
            if (level == AUTOMATION_DRY_RUN)
                (void)snprintf(outcome, sizeof(outcome), "dry-run: would move %s to %s", vm, to);
            else
                (void)snprintf(outcome, sizeof(outcome),
                               "recommended: move %s to %s (vmloc apply %s)", vm, to, rid);
        }
        if (mv->held_vm != UINT32_MAX) {
            char held[400];
            plan_storm_describe(&m->opts.policy, &cl, mv->held_vm, mv->held_until, held,
                                sizeof(held));
            size_t used = strlen(outcome);
            (void)snprintf(outcome + used, sizeof(outcome) - used, " (%s)", held);
            storm_note(m, &cl, mv->held_vm, mv->held_until);
        }
        utf8_trim_partial(outcome);
        if (c != NULL)
            record_conflict(m, &cl, &p, c, map[mv->from], outcome);
        seen[mv->from] = true;
        if (!hold)
            (void)manager_order(m, vm, from, to, reason, NULL, 0);
    }
    for (size_t i = 0; i < p.n_unresolved; i++) {
        const struct plan_unresolved *u = &p.unresolved[i];
        const struct plan_conflict *c = NULL;
        for (size_t k = 0; k < p.n_conflicts; k++) {
            if (p.conflicts[k].host == u->host)
                c = &p.conflicts[k];
        }
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
                           cl.vms[u->vm].name, cl.hosts[u->rule_host].name);
        else if (u->reason == PLAN_REASON_STORM_GUARD) {
            char held[400];
            plan_storm_describe(&m->opts.policy, &cl, u->vm, u->until, held, sizeof(held));
            (void)snprintf(outcome, sizeof(outcome), "unresolved: %s (%s)",
                           plan_reason_name(u->reason), held);
            storm_note(m, &cl, u->vm, u->until);
        } else
            (void)snprintf(outcome, sizeof(outcome), "unresolved: %s", plan_reason_name(u->reason));
        if (c != NULL)
            record_conflict(m, &cl, &p, c, h, outcome);
        seen[u->host] = true;
        if (u->reason != PLAN_REASON_SOURCE_BUSY && u->reason != PLAN_REASON_LIMIT &&
            !h->unresolved_logged) {
            h->unresolved_logged = true;
            log_warnx("conflict unresolved host=\"%s\" reason=%s", h->name,
                      plan_reason_name(u->reason));
        }
    }
    /* Drains: what holds each one back, logged when it changes, and the end. */
    for (size_t i = 0; i < p.n_drains; i++) {
        const struct plan_drain *d = &p.drains[i];
        struct mhost *h = map[d->host];
        const char *vm = d->vm != UINT32_MAX ? cl.vms[d->vm].name : "";
        if ((h->drain_block != (int)d->block || strcmp(h->drain_block_vm, vm) != 0) &&
            d->block != 0 && d->block != PLAN_BLOCK_BUSY && d->block != PLAN_BLOCK_LIMIT)
            log_warnx("drain blocked host=\"%s\" reason=%s vm=\"%s\" vms_left=%u", h->name,
                      plan_block_name(d->block), vm, (unsigned)d->vms_left);
        if (d->vms_left == 0 && !h->drained_logged)
            log_info("drained host=\"%s\": no VM left, ready for maintenance", h->name);
        h->drained_logged = d->vms_left == 0;
        h->drain_block = (int)d->block;
        (void)snprintf(h->drain_block_vm, sizeof(h->drain_block_vm), "%s", vm);
    }
    double now = clock_mono_s(); /* a clock jump must not end or prolong an episode */
    for (size_t i = 0; i < cl.n_hosts; i++) {
        /* Edge: a host not examined now is over its conflict when its agent has stopped
         * notifying (it notifies every sample while the conflict lasts). */
        if (check != NULL && !check[i] && edge_still_notifying(m, map[i], busy[i], now))
            continue;
        if (!seen[i] && map[i]->in_conflict) {
            map[i]->in_conflict = false;
            map[i]->unresolved_logged = false;
            log_info("conflict over host=\"%s\"", map[i]->name);
        }
    }
    free(seen);
    recs_expire(m);
    if (p.n_conflicts == 0 && p.n_moves == 0 && m->n_active == 0 &&
        m->opts.policy.consolidate_below > 0)
        consolidate(m, &cl, busy);
out:
    free(check);
    free(map);
    free(busy);
    plan_done(&p);
    cluster_done(&cl);
}

static void
recover_one(void *ctx, const struct store_migration *rec)
{
    struct manager *m = ctx;
    if (m->n_active >= MANAGER_MAX_ACTIVE)
        return;
    struct mmig *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return;
    g->m = m;
    g->rec = *rec;
    g->state = state_parse(rec->state);
    g->last_answer = clock_mono_s();
    g->started_mono = clock_mono_of_wall(rec->started, clock_wall_s(), g->last_answer);
    m->active[m->n_active++] = g;
    log_info("migration recovered id=%s vm=\"%s\" from=\"%s\" to=\"%s\" state=%s", rec->id, rec->vm,
             rec->src, rec->dst, rec->state);
}

int
manager_recover(struct manager *m)
{
    if (store_each_recommendation(m->store, true, 0, load_rec, m) < 0)
        log_warnx("pending recommendations not read from the store, ignoring");
    return store_each_migration(m->store, true, 0, recover_one, m);
}

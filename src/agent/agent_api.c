/* The agent's HTTP API (docs/protocol.md). Every body is validated by proto/wire.c before
 * use; a bad request gets a 4xx answer with {"error": ...} and the agent goes on. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "agent/sim_arrival.h"
#include "common/clock.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "net/web.h"
#include "proto/policy_ini.h"
#include "view/hostview.h"

#define API_LIST_LIMIT 1000

static void
get_health(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    json_t *j =
        json_pack("{s:s,s:s,s:s,s:s,s:i,s:I,s:b,s:I,s:I}", "role", "agent", "name", a->opts->name,
                  "mode", agent_mode_name(a->opts->mode), "backend", a->hv->ops->name, "version",
                  WIRE_VERSION, "vms", (json_int_t)hv_n_vms(a->hv), "in_conflict", a->in_conflict,
                  "conflicts_detected", (json_int_t)a->conflicts_detected,
                  "migrations_outcome_unknown", (json_int_t)migrate_count_unknown(a->migs));
    if (j != NULL && a->hv->ops->health != NULL)
        (void)json_object_set_new(j, "libvirt", a->hv->ops->health(a->hv));
    if (j != NULL && a->opts->mode == AGENT_MODE_EDGE)
        (void)json_object_set_new(j, "notifications", json_integer((json_int_t)a->notifications));
    if (j != NULL && a->peer != NULL)
        (void)json_object_update_new(j, peer_health(a->peer));
    http_reply_json_value(r, 200, j);
}

/* GET /metrics: Prometheus' text format (the latest sample, and this agent's own work). */
static void
get_metrics(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    struct mtext t;
    mtext_init(&t);
    mtext_family(&t, "vmloc_build_info", "gauge", "vmloc's protocol version and role");
    mtext_printf(
        &t, "vmloc_build_info{role=\"agent\",mode=\"%s\",backend=\"%s\",version=\"%d\"} 1\n",
        agent_mode_name(a->opts->mode), agent_backend_name(a->opts->backend), WIRE_VERSION);
    const struct wire_sample *s = a->has_sample ? &a->sample : NULL;
    mtext_one(&t, "vmloc_sample_available", "gauge",
              "1 when the agent has a current sample (0: its hypervisor is away)",
              s != NULL ? 1 : 0);
    if (s != NULL)
        hview_usage_metrics(&t, &s, 1);
    mtext_one(&t, "vmloc_conflicts_detected_total", "counter",
              "Conflict episodes this agent detected on its host (edge and peer modes)",
              (double)a->conflicts_detected);
    mtext_family(&t, "vmloc_migrations_total", "counter",
                 "Migrations out of this host that ended, by outcome");
    mtext_sample(&t, "vmloc_migrations_total", "outcome=\"done\"", (double)a->mig_done_total);
    mtext_sample(&t, "vmloc_migrations_total", "outcome=\"failed\"", (double)a->mig_failed_total);
    mtext_one(&t, "vmloc_migrations_outcome_unknown", "gauge",
              "Migrations out of this host whose destination has not said whether it runs the VM "
              "(the VM stays here, leaving)",
              (double)migrate_count_unknown(a->migs));
    mtext_histo(&t, "vmloc_migration_duration_seconds", "Migrations out of this host, start to end",
                &a->mig_h);
    mtext_histo(&t, "vmloc_migration_downtime_seconds",
                "Migrations out of this host that succeeded: how long the VM was paused",
                &a->downtime_h);
    mtext_histo(&t, "vmloc_sample_duration_seconds",
                "Taking a sample of the host and its VMs (the hypervisor's answer included)",
                &a->sample_h);
    if (a->opts->mode == AGENT_MODE_EDGE) {
        mtext_one(&t, "vmloc_notifications_total", "counter",
                  "Conflict notifications the manager accepted", (double)a->notifications);
    }
    if (a->n_mgrs > 0) {
        struct agent_mgr_counts c = agent_managers_count(a);
        mtext_one(&t, "vmloc_registration_refused", "gauge",
                  "1 while a manager refuses this agent's name (409: another agent holds it)",
                  c.refusing > 0 ? 1 : 0);
        mtext_one(&t, "vmloc_managers_registered", "gauge",
                  "Managers that took this agent's last registration", (double)c.registered);
        mtext_one(&t, "vmloc_managers", "gauge", "Managers this agent registers with",
                  (double)a->n_mgrs);
        mtext_one(&t, "vmloc_registration_failures_total", "counter",
                  "Registrations with a manager that failed (no answer, or refused)",
                  (double)c.failures);
    }
    mtext_one(&t, "vmloc_manager_term", "gauge",
              "The highest manager term this agent has seen in an order (0: none)",
              (double)a->fence_term);
    mtext_one(&t, "vmloc_orders_refused_stale_total", "counter",
              "Orders refused because they carried an older manager term than one seen",
              (double)a->fence_refused_total);
    if (a->peer != NULL)
        peer_metrics(a->peer, &t);
    if (a->hv->ops->metrics != NULL)
        a->hv->ops->metrics(a->hv, &t);
    http_reply_metrics(r, &t);
}

static void
get_sample(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    double scheduled = 0;
    if (http_query_number(r, "scheduled", 0, 1, &scheduled) < 0) {
        http_reply_error(r, 400, "scheduled: must be 0 or 1");
        return;
    }
    if (scheduled != 0) {
        /* The sample of the last sampling instant, before any decision it led to. */
        if (a->scheduled_json == NULL)
            http_reply_error(r, 503, "no scheduled sample yet");
        else
            http_reply_json(r, 200, a->scheduled_json);
        return;
    }
    /* The agents of a cluster sample at the same instants, but their timers fire a few
     * milliseconds apart: a peer or a manager that asks right after its own sample may come
     * before this host's timer. It gets this host at the instant, not an interval before, or
     * it would decide on a load that may have changed at that very instant. */
    double now = clock_wall_s();
    double due = floor(now / a->opts->interval_s) * a->opts->interval_s;
    double early = fmin(0.05, a->opts->interval_s / 4.0);
    if (a->has_sample && a->sample_time < due - early) {
        log_debug("sample taken for a request: the timer of the instant has not fired yet");
        agent_sample(a);
    }
    if (a->sample_json == NULL) {
        if (a->hv_error[0] != '\0')
            http_reply_error(r, 503, "no sample: libvirt not reachable: %s", a->hv_error);
        else
            http_reply_error(r, 503, "no sample yet");
        return;
    }
    http_reply_json(r, 200, a->sample_json);
}

static void
get_vms(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    json_t *arr = a->hv->ops->vms(a->hv, clock_wall_s());
    http_reply_json_value(r, 200, arr);
}

/* POST /v1/vms/NAME/load {"cpu": 50, ...}: the simulated backend's demand from now on. */
static void
post_load(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    const char *vm = r->parts[2];
    struct wire_load l;
    struct perr err;
    if (wire_load_decode(r->body, r->body_len, &l, &err) < 0) {
        http_reply_error(r, 400, "%s", err.msg);
        return;
    }
    if (a->hv->ops->set_load == NULL) {
        http_reply_error(r, 409,
                         "host \"%s\" runs real VMs (libvirt backend): their load is "
                         "measured, not set",
                         a->opts->name);
        return;
    }
    char msg[300] = "";
    int code = a->hv->ops->set_load(a->hv, vm, &l, msg, sizeof(msg));
    if (code != 200) {
        http_reply_error(r, code, "%s", msg);
        return;
    }
    json_t *j = json_pack("{s:s,s:s}", "vm", vm, "host", a->opts->name);
    http_reply_json_value(r, 200, j);
}

/* 202 for an order taken: its record, or without memory for it the least a manager needs (an
 * error code here would tell it the order was refused while the VM moves). */
static void
reply_taken(struct http_req *r, const struct migration *m, const char *host)
{
    json_t *j = migration_json(m, host);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text != NULL) {
        http_reply_json(r, 202, text);
        free(text);
        return;
    }
    char least[WIRE_MAX_ID + 40];
    (void)snprintf(least, sizeof(least), "{\"id\": \"%s\", \"state\": \"running\"}", m->id);
    http_reply_json(r, 202, least); /* ids are checked: nothing to escape */
}

static void
post_migration(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    if (failpoint_drop("source-on-order"))
        return; /* the order is lost on the way: never taken, never answered (tests) */
    struct wire_order o;
    struct perr err;
    if (wire_order_decode(r->body, r->body_len, &o, &err) < 0) {
        http_reply_error(r, 400, "%s", err.msg);
        return;
    }
    if (http_url_check(o.to) < 0) {
        http_reply_error(r, 400, "to: must be http://HOST:PORT");
        return;
    }
    if (strcmp(o.to, a->url) == 0 || strcmp(o.to_name, a->opts->name) == 0) {
        http_reply_error(r, 400, "to: the destination is this host");
        return;
    }
    if (a->opts->mode == AGENT_MODE_PEER) {
        http_reply_error(r, 409,
                         "in peer mode this agent decides its own migrations (a destination "
                         "takes VMs only from the holder of its lock)");
        return;
    }
    char why[300];
    char what[WIRE_MAX_ID + MODEL_MAX_NAME + 40];
    (void)snprintf(what, sizeof(what), "order id=%s vm=\"%s\"", o.id, o.vm);
    if (!agent_fence_admit(a, o.term, what, why, sizeof(why))) {
        http_reply_error(r, 409, "%s", why);
        return;
    }
    struct migration *m = NULL;
    int rc = migrate_start(a->migs, &o, "", &m);
    switch (rc) {
    case 0:
        reply_taken(r, m, a->opts->name);
        return;
    case -ENOENT:
        http_reply_error(r, 404, "no VM named \"%s\" on host \"%s\"", o.vm, a->opts->name);
        return;
    case -EBUSY:
        http_reply_error(r, 409, "VM \"%s\" is already migrating", o.vm);
        return;
    case -EPERM:
        http_reply_error(r, 409, "VM \"%s\" is pinned", o.vm);
        return;
    case -EEXIST:
        http_reply_error(r, 409, "a migration with id \"%s\" exists", o.id);
        return;
    default:
        http_reply_error(r, 503, "cannot start the migration: %s", strerror(-rc));
        return;
    }
}

/* Peer mode: the store's list, as a manager serves it (this agent decided them); other
 * modes: the migrations this agent ran, with their transfer details. */
static void
get_migrations(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    int limit = http_query_limit(r, API_LIST_LIMIT);
    if (limit < 0)
        return;
    http_reply_json_value(r, 200,
                          a->peer != NULL ? peer_migrations_json(a->peer, limit)
                                          : migrate_json(a->migs, (size_t)limit));
}

static void
get_conflicts(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    if (a->peer == NULL) {
        http_reply_error(r, 404,
                         "an agent in %s mode keeps no conflicts; ask the manager (--manager URL)",
                         agent_mode_name(a->opts->mode));
        return;
    }
    int limit = http_query_limit(r, API_LIST_LIMIT);
    if (limit < 0)
        return;
    json_t *arr = peer_conflicts_json(a->peer, limit);
    if (arr == NULL) {
        http_reply_error(r, 503, "store not readable");
        return;
    }
    http_reply_json_value(r, 200, arr);
}

/* GET /v1/hosts: in peer mode, every host as this agent sees it (the peers are asked again
 * for the next read). */
static void
get_hosts(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    if (a->peer == NULL) {
        http_reply_error(r, 404,
                         "an agent in %s mode knows only its own host (GET /v1/sample); ask the "
                         "manager (--manager URL)",
                         agent_mode_name(a->opts->mode));
        return;
    }
    const struct wire_sample *s = a->has_sample ? &a->sample : NULL;
    json_t *arr = json_array();
    json_t *o = hview_host_json(
        s, a->opts->name, a->url, s != NULL ? "up" : "down", a->sample_time, a->in_conflict,
        &a->opts->policy, s != NULL ? NULL : (a->hv_error[0] ? a->hv_error : "no sample yet"));
    if (arr != NULL &&
        (o == NULL || json_array_append_new(arr, o) < 0 || peer_view_hosts(a->peer, arr) < 0)) {
        json_decref(arr);
        arr = NULL;
    }
    peer_view_refresh(a->peer);
    http_reply_json_value(r, 200, arr);
}

/* GET /v1/hosts/NAME/history[?since=T]. */
static void
get_history(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    double since = 0;
    if (http_query_number(r, "since", 0, 1e12, &since) < 0) {
        http_reply_error(r, 400, "since: must be a time in seconds since the epoch");
        return;
    }
    double step = 0;
    if (http_query_number(r, "step", 0, 1e12, &step) != 0) {
        /* Not a history of another shape: roll-ups are the manager's. */
        http_reply_error(r, 400, "step: one-minute roll-ups are kept by the manager only");
        return;
    }
    double vms = 0;
    if (http_query_number(r, "vms", 0, 1e12, &vms) != 0) {
        http_reply_error(r, 400, "vms: the VMs' history is kept by the manager only");
        return;
    }
    json_t *j = NULL;
    int rc = -ENOENT;
    if (strcmp(r->parts[2], a->opts->name) == 0) {
        j = hview_history_json(a->hist, a->opts->name, a->has_sample ? a->sample.capacity : 1.0,
                               &a->opts->policy, since);
        rc = j != NULL ? 0 : -ENOMEM;
    } else if (a->peer != NULL) {
        rc = peer_view_history(a->peer, r->parts[2], since, &j);
    }
    if (rc == -ENOENT) {
        http_reply_error(r, 404, "no such host here: %s", r->parts[2]);
        return;
    }
    if (rc < 0) {
        json_decref(j);
        j = NULL;
    }
    http_reply_json_value(r, 200, j);
}

static void
get_policy(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    char *text = NULL;
    if (config_format(&a->opts->policy, &text) < 0) {
        http_reply_error(r, 503, "out of memory");
        return;
    }
    http_reply_raw(r, 200, "text/plain; charset=utf-8", text, strlen(text));
    free(text);
}

/* The web page: served by peer agents, which have no manager to serve it. */
static void
get_page(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    if (a->peer == NULL) {
        http_reply_error(r, 404, "the web page is served by the manager (an agent in %s mode)",
                         agent_mode_name(a->opts->mode));
        return;
    }
    web_get(r, ctx);
}

static bool
peer_only(struct http_req *r, struct agent *a)
{
    if (a->peer != NULL)
        return true;
    http_reply_error(r, 409, "locks are used in peer mode only; this agent runs in %s mode",
                     agent_mode_name(a->opts->mode));
    return false;
}

static void
get_lock(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    if (!peer_only(r, a))
        return;
    double left = 0.0;
    const char *holder = peer_lock_holder(a->peer, &left);
    json_t *j = json_pack("{s:b,s:o,s:f}", "held", holder != NULL, "holder",
                          holder != NULL ? json_string(holder) : json_null(), "expires_in", left);
    http_reply_json_value(r, 200, j);
}

/* The body of a lock request (`what`: "lock" or "lock release", with a lease or not) into
 * *l: false when refused (answered): not in peer mode, a bad body, a holder the client may
 * not act for, or this host itself (`self`: why not). */
static bool
lock_body(struct http_req *r, struct agent *a, const char *what, bool lease, const char *self,
          struct wire_lock *l)
{
    struct perr err;
    if (!peer_only(r, a))
        return false;
    if (wire_lock_decode(r->body, r->body_len, lease, l, &err) < 0) {
        http_reply_error(r, 400, "%s", err.msg);
        return false;
    }
    if (!http_req_check_host(r, l->holder, what))
        return false;
    if (strcmp(l->holder, a->opts->name) == 0) {
        http_reply_error(r, 400, "holder: %s", self);
        return false;
    }
    return true;
}

/* POST /v1/lock {"holder", "lease_s", "token"?}: take or renew this host's lock. */
static void
post_lock(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    struct wire_lock l;
    if (!lock_body(r, a, "lock", true, "a host does not lock itself over the network", &l))
        return;
    const char *holder = NULL;
    double left = 0;
    json_t *j;
    int code;
    int rc = peer_lock_request(a->peer, l.holder, l.token, l.lease_s, &holder, &left);
    if (rc == -ESTALE) {
        code = 409;
        j = json_pack("{s:s,s:o,s:f}", "error",
                      "stale lock request: the holder has taken or released this lock with a "
                      "later token",
                      "holder", holder != NULL ? json_string(holder) : json_null(), "expires_in",
                      left);
    } else if (rc < 0) {
        code = 409;
        j = json_pack("{s:s,s:s,s:f}", "error", "locked by another host", "holder", holder,
                      "expires_in", left);
    } else {
        code = 200;
        j = json_pack("{s:s,s:f}", "holder", l.holder, "expires_in", l.lease_s);
        if (j != NULL && l.token != 0 &&
            json_object_set_new(j, "token", json_integer((json_int_t)l.token)) < 0) {
            json_decref(j);
            j = NULL;
        }
    }
    http_reply_json_value(r, code, j);
}

/* POST /v1/lock/release {"holder", "token"?}: idempotent; 409 when someone else holds it. */
static void
post_unlock(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    struct wire_lock l;
    if (!lock_body(r, a, "lock release", false, "only this host releases its own lock", &l))
        return;
    const char *holder = NULL;
    int rc = peer_lock_release(a->peer, l.holder, l.token, &holder);
    if (rc == -EPERM) {
        http_reply_error(r, 409, "the lock is held by \"%s\", not \"%s\"", holder, l.holder);
        return;
    }
    http_reply_json(r, 200, rc == 0 ? "{\"released\": true}" : "{\"released\": false}");
}

static void
get_migration(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    struct migration *m = migrate_find(a->migs, r->parts[2]);
    if (m == NULL) {
        http_reply_error(r, 404, "no migration \"%s\"", r->parts[2]);
        return;
    }
    http_reply_json_value(r, 200, migration_json(m, a->opts->name));
}

/* The backend's arrivals, or NULL after answering (its VMs arrive another way: no
 * reservation is made, 409, and none is known, 404). */
static struct sim_arrivals *
arrivals(struct http_req *r, struct agent *a, bool reserve)
{
    struct sim_arrivals *t = a->hv->ops->arrivals != NULL ? a->hv->ops->arrivals(a->hv) : NULL;
    if (t == NULL && reserve)
        http_reply_error(r, 409,
                         "this host runs real VMs: they arrive by libvirt's migration, not by "
                         "reservation");
    else if (t == NULL)
        http_reply_error(r, 404, "no arrival \"%s\"", r->parts[2]);
    return t;
}

static void
post_incoming(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    struct wire_incoming in;
    struct perr err;
    char msg[256] = "";
    if (wire_incoming_decode(r->body, r->body_len, &in, &err) < 0) {
        http_reply_error(r, 400, "%s", err.msg);
        return;
    }
    if (strcmp(in.from, a->opts->name) == 0) {
        /* No source moves a VM to itself (a peer deciding would otherwise take it: it
         * takes arrivals from the holder of its lock, itself then). */
        http_reply_error(r, 400, "field \"from\": a VM cannot arrive from this host itself");
        return;
    }
    if (!http_req_check_host(r, in.from, "arrival"))
        return;
    struct sim_arrivals *t = arrivals(r, a, true);
    if (t == NULL)
        return;
    char refusal[600] = "";
    if (a->peer != NULL && !peer_takes_from(a->peer, in.from))
        /* Peer mode: one migration at a time, the one of the lock's holder. */
        (void)snprintf(refusal, sizeof(refusal),
                       "host \"%s\" takes VMs only from the holder of its lock, not from \"%s\"",
                       a->opts->name, in.from);
    int code = sim_arrival_reserve(t, &in, refusal[0] != '\0' ? refusal : NULL, msg, sizeof(msg));
    if (code >= 300) {
        http_reply_error(r, code, "%s", msg);
        return;
    }
    http_reply_json(r, code, "{\"state\": \"reserved\"}");
}

static void
get_incoming(struct http_req *r, void *ctx)
{
    struct sim_arrivals *t = arrivals(r, ctx, false);
    if (t == NULL)
        return;
    bool known = false;
    json_t *j = sim_arrival_json(t, r->parts[2], &known);
    if (!known) {
        http_reply_error(r, 404, "no arrival \"%s\"", r->parts[2]);
        return;
    }
    http_reply_json_value(r, 200, j);
}

enum arrival_op {
    ARRIVAL_COMMIT,
    ARRIVAL_ABORT,
    ARRIVAL_SETTLE,
};

/* An arrival's follow-up, from its source only (with tls_bind_names); an unknown id goes on,
 * to the 404 of the arrivals. `final`: the commit's demand. */
static void
arrival_step(struct http_req *r, struct agent *a, enum arrival_op op, const struct wire_load *final)
{
    static const char *const what[] = {"commit", "abort", "settle"};
    static const char *const done[] = {"{\"state\": \"committed\"}", "{\"state\": \"aborted\"}",
                                       "{\"settled\": true}"};
    struct sim_arrivals *t = arrivals(r, a, false);
    if (t == NULL)
        return;
    const char *id = r->parts[2];
    const char *from = sim_arrival_source(t, id);
    if (from != NULL && !http_req_check_host(r, from, what[op]))
        return;
    char msg[256] = "";
    int code = op == ARRIVAL_COMMIT  ? sim_arrival_commit(t, id, final, msg, sizeof(msg))
               : op == ARRIVAL_ABORT ? sim_arrival_abort(t, id, msg, sizeof(msg))
                                     : sim_arrival_settle(t, id, msg, sizeof(msg));
    if (code >= 300) {
        http_reply_error(r, code, "%s", msg);
        return;
    }
    http_reply_json(r, code, done[op]);
}

static void
post_commit(struct http_req *r, void *ctx)
{
    /* The body carries the VM's demand at the end of the transfer (its state); optional. */
    struct wire_load final;
    struct perr err;
    memset(&final, 0, sizeof(final));
    if (r->body_len > 0 && wire_load_decode(r->body, r->body_len, &final, &err) < 0) {
        http_reply_error(r, 400, "%s", err.msg);
        return;
    }
    arrival_step(r, ctx, ARRIVAL_COMMIT, &final);
}

static void
post_abort(struct http_req *r, void *ctx)
{
    /* A manager withdrawing the reservation of a silent source sends its term (fencing). */
    struct agent *a = ctx;
    uint64_t term = 0;
    struct perr err;
    if (wire_term_decode(r->body, r->body_len, &term, &err) < 0) {
        http_reply_error(r, 400, "%s", err.msg);
        return;
    }
    char why[300];
    char what[WIRE_MAX_ID + 40];
    (void)snprintf(what, sizeof(what), "withdrawal id=%s", r->parts[2]);
    if (!agent_fence_admit(a, term, what, why, sizeof(why))) {
        http_reply_error(r, 409, "%s", why);
        return;
    }
    arrival_step(r, ctx, ARRIVAL_ABORT, NULL);
}

static void
post_settled(struct http_req *r, void *ctx)
{
    arrival_step(r, ctx, ARRIVAL_SETTLE, NULL);
}

const struct http_route agent_routes[] = {
    {"GET", "/v1/health", get_health, false},
    {"GET", "/v1/sample", get_sample, false},
    {"GET", "/v1/hosts", get_hosts, false},
    {"GET", "/v1/hosts/*/history", get_history, false},
    {"GET", "/v1/policy", get_policy, false},
    {"GET", "/", get_page, true},
    {"GET", "/ui/*", get_page, true},
    {"GET", "/metrics", get_metrics, false},
    {"GET", "/v1/vms", get_vms, false},
    {"POST", "/v1/vms/*/load", post_load, false},
    {"POST", "/v1/migrations", post_migration, false},
    {"GET", "/v1/migrations", get_migrations, false},
    {"GET", "/v1/migrations/*", get_migration, false},
    {"POST", "/v1/incoming", post_incoming, false},
    {"GET", "/v1/incoming/*", get_incoming, false},
    {"POST", "/v1/incoming/*/commit", post_commit, false},
    {"POST", "/v1/incoming/*/abort", post_abort, false},
    {"POST", "/v1/incoming/*/settled", post_settled, false},
    {"GET", "/v1/conflicts", get_conflicts, false},
    {"GET", "/v1/lock", get_lock, false},
    {"POST", "/v1/lock", post_lock, false},
    {"POST", "/v1/lock/release", post_unlock, false},
};
const size_t agent_n_routes = sizeof(agent_routes) / sizeof(agent_routes[0]);

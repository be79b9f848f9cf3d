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
#include "common/clock.h"
#include "common/log.h"
#include "net/web.h"
#include "proto/policy_ini.h"
#include "store/store_json.h"

#define API_LIST_LIMIT 1000

static void
reply_owned(struct http_req *r, int code, char *json)
{
    if (json == NULL) {
        http_reply_error(r, 503, "out of memory");
        return;
    }
    http_reply_json(r, code, json);
    free(json);
}

static void
get_health(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    bool lv = a->opts->backend == AGENT_BACKEND_LIBVIRT;
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:i,s:I,s:b,s:I}", "role", "agent", "name",
                          a->opts->name, "mode", agent_mode_name(a->opts->mode), "backend",
                          agent_backend_name(a->opts->backend), "version", WIRE_VERSION, "vms",
                          (json_int_t)(lv ? a->lv.n_vms : a->hv.n_vms), "in_conflict",
                          a->in_conflict, "conflicts_detected", (json_int_t)a->conflicts_detected);
    if (j != NULL && lv)
        (void)json_object_set_new(j, "libvirt", agent_lv_health(a));
    if (j != NULL && a->opts->mode == AGENT_MODE_EDGE)
        (void)json_object_set_new(j, "notifications", json_integer((json_int_t)a->notifications));
    if (j != NULL && a->opts->mode == AGENT_MODE_PEER) {
        size_t up = 0;
        for (size_t i = 0; i < a->n_peers; i++)
            up += a->peers[i].up;
        static const char *const phases[] = {"idle", "gathering", "locking", "confirming",
                                             "migrating"};
        (void)json_object_update_new(
            j,
            json_pack("{s:I,s:I,s:s,s:I,s:I,s:I,s:I,s:f}", "peers", (json_int_t)a->n_peers,
                      "peers_up", (json_int_t)up, "phase", phases[a->phase], "locks_granted",
                      (json_int_t)a->locks_granted, "lock_refusals", (json_int_t)a->lock_refusals,
                      "locks_served", (json_int_t)a->locks_served, "locks_denied",
                      (json_int_t)a->locks_denied, "last_decision_ms", a->last_resolve_ms));
    }
    reply_owned(r, 200, j != NULL ? json_dumps(j, JSON_COMPACT) : NULL);
    json_decref(j);
}

/* One line per kind: `name{host="H"[,vm="V"],kind="K"} ratio`, names escaped. */
static void
usage_lines(struct mtext *t, const char *name, const char *host, const char *vm, const double *pct)
{
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        mtext_printf(t, "%s{host=\"", name);
        mtext_escaped(t, host);
        if (vm != NULL) {
            mtext_printf(t, "\",vm=\"");
            mtext_escaped(t, vm);
        }
        mtext_printf(t, "\",kind=\"%s\"} %.6g\n", kind_name((enum kind)k), pct[k] / 100.0);
    }
}

/* GET /metrics: Prometheus' text format (the latest sample, and this agent's own work). */
static void
get_metrics(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    struct mtext t;
    mtext_init(&t);
    mtext_family(&t, "vmloc_build_info", "gauge", "vmloc's protocol version and role");
    mtext_printf(&t,
                 "vmloc_build_info{role=\"agent\",mode=\"%s\",backend=\"%s\",version=\"%d\"} 1\n",
                 agent_mode_name(a->opts->mode), agent_backend_name(a->opts->backend), WIRE_VERSION);
    const struct wire_sample *s = a->has_sample ? &a->sample : NULL;
    mtext_family(&t, "vmloc_sample_available", "gauge",
                 "1 when the agent has a current sample (0: its hypervisor is away)");
    mtext_sample(&t, "vmloc_sample_available", "", s != NULL ? 1 : 0);
    if (s != NULL) {
        mtext_family(&t, "vmloc_host_usage_ratio", "gauge",
                     "This host's usage per kind (1 = the host's capacity)");
        usage_lines(&t, "vmloc_host_usage_ratio", s->name, NULL, s->usage);
        mtext_family(&t, "vmloc_vm_usage_ratio", "gauge",
                     "A VM's usage per kind (1 = the host's capacity)");
        for (size_t i = 0; i < s->n_vms; i++) {
            if (!s->vms[i].incoming) /* not yet this host's (the source still lists it) */
                usage_lines(&t, "vmloc_vm_usage_ratio", s->name, s->vms[i].name, s->vms[i].usage);
        }
    }
    mtext_family(&t, "vmloc_conflicts_detected_total", "counter",
                 "Conflict episodes this agent detected on its host (edge and peer modes)");
    mtext_sample(&t, "vmloc_conflicts_detected_total", "", (double)a->conflicts_detected);
    mtext_family(&t, "vmloc_migrations_total", "counter",
                 "Migrations out of this host that ended, by outcome");
    mtext_sample(&t, "vmloc_migrations_total", "outcome=\"done\"", (double)a->mig_done_total);
    mtext_sample(&t, "vmloc_migrations_total", "outcome=\"failed\"", (double)a->mig_failed_total);
    mtext_histo(&t, "vmloc_migration_duration_seconds", "Migrations out of this host, start to end",
                &a->mig_h);
    mtext_histo(&t, "vmloc_sample_duration_seconds",
                "Taking a sample of the host and its VMs (the hypervisor's answer included)",
                &a->sample_h);
    if (a->opts->mode == AGENT_MODE_EDGE) {
        mtext_family(&t, "vmloc_notifications_total", "counter",
                     "Conflict notifications the manager accepted");
        mtext_sample(&t, "vmloc_notifications_total", "", (double)a->notifications);
    }
    if (a->opts->mode == AGENT_MODE_PEER) {
        mtext_family(&t, "vmloc_lock_requests_total", "counter",
                     "Destination locks this agent asked for, by answer");
        mtext_sample(&t, "vmloc_lock_requests_total", "result=\"granted\"",
                     (double)a->locks_granted);
        mtext_sample(&t, "vmloc_lock_requests_total", "result=\"refused\"",
                     (double)a->lock_refusals);
        mtext_family(&t, "vmloc_lock_answers_total", "counter",
                     "Requests for this host's lock, by answer");
        mtext_sample(&t, "vmloc_lock_answers_total", "result=\"granted\"", (double)a->locks_served);
        mtext_sample(&t, "vmloc_lock_answers_total", "result=\"refused\"", (double)a->locks_denied);
        mtext_family(&t, "vmloc_storm_guard_holds_total", "counter",
                     "VMs of this host the storm guard held back from a conflict's move, once per "
                     "VM and window");
        mtext_sample(&t, "vmloc_storm_guard_holds_total", "", (double)a->storm_holds_total);
    }
    if (a->opts->backend == AGENT_BACKEND_LIBVIRT) {
        mtext_family(&t, "vmloc_libvirt_connected", "gauge", "1 when libvirt is connected");
        mtext_sample(&t, "vmloc_libvirt_connected", "", a->lv.connected ? 1 : 0);
    }
    if (t.oom)
        http_reply_error(r, 503, "out of memory");
    else
        http_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", t.p, t.len);
    mtext_done(&t);
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
    if (a->sample_json != NULL && a->sample_time < due - early) {
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
    reply_owned(r, 200, agent_vms_json(ctx));
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
    if (a->opts->backend != AGENT_BACKEND_SIM) {
        http_reply_error(r, 409,
                         "host \"%s\" runs real VMs (libvirt backend): their load is "
                         "measured, not set",
                         a->opts->name);
        return;
    }
    long vi = simhost_find(&a->hv, vm);
    if (vi >= 0 && a->hv.vms[vi].trace[0] != '\0') {
        http_reply_error(r, 409, "VM \"%s\" follows trace file \"%s\": its demand is not set", vm,
                         a->hv.vms[vi].trace);
        return;
    }
    int rc = simhost_set_demand(&a->hv, vm, l.mask, l.pct);
    if (rc == -ENOENT) {
        http_reply_error(r, 404, "no VM named \"%s\" on host \"%s\"", vm, a->opts->name);
        return;
    }
    if (rc < 0) {
        http_reply_error(r, 400, "bad demand");
        return;
    }
    char desc[128] = "";
    size_t off = 0;
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if ((l.mask & KIND_BIT(k)) && off < sizeof(desc))
            off += (size_t)snprintf(desc + off, sizeof(desc) - off, " %s=%g",
                                    kind_name((enum kind)k), l.pct[k]);
    }
    log_info("load changed vm=\"%s\"%s", vm, desc);
    /* Sample at once, so the change is visible to the next collection without waiting for
     * the sampling timer: the reaction time of the method starts here. */
    agent_sample(a);
    json_t *j = json_pack("{s:s,s:s}", "vm", vm, "host", a->opts->name);
    reply_owned(r, 200, j != NULL ? json_dumps(j, JSON_COMPACT) : NULL);
    json_decref(j);
}

static void
post_migration(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
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
    struct migration *m = NULL;
    int rc = agent_migrate_start(a, &o, &m);
    switch (rc) {
    case 0:
        reply_owned(r, 202, agent_migration_json(m));
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
    if (a->opts->mode != AGENT_MODE_PEER) {
        reply_owned(r, 200, agent_migrations_json(a));
        return;
    }
    json_t *arr = store_migrations_json(a->store, limit);
    reply_owned(r, 200, arr != NULL ? json_dumps(arr, JSON_COMPACT) : NULL);
    json_decref(arr);
}

static void
get_conflicts(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    if (a->opts->mode != AGENT_MODE_PEER) {
        http_reply_error(r, 404,
                         "an agent in %s mode keeps no conflicts; ask the manager (--manager URL)",
                         agent_mode_name(a->opts->mode));
        return;
    }
    int limit = http_query_limit(r, API_LIST_LIMIT);
    if (limit < 0)
        return;
    json_t *arr = store_conflicts_json(a->store, limit);
    if (arr == NULL) {
        http_reply_error(r, 503, "store not readable");
        return;
    }
    reply_owned(r, 200, json_dumps(arr, JSON_COMPACT));
    json_decref(arr);
}

/* GET /v1/hosts: in peer mode, every host as this agent sees it (the peers are asked again
 * for the next read). */
static void
get_hosts(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    if (a->opts->mode != AGENT_MODE_PEER) {
        http_reply_error(r, 404,
                         "an agent in %s mode knows only its own host (GET /v1/sample); ask the "
                         "manager (--manager URL)",
                         agent_mode_name(a->opts->mode));
        return;
    }
    json_t *arr = agent_view_hosts(a);
    agent_view_refresh(a);
    reply_owned(r, 200, arr != NULL ? json_dumps(arr, JSON_COMPACT) : NULL);
    json_decref(arr);
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
    json_t *j = NULL;
    int rc = agent_view_history(a, r->parts[2], since, &j);
    if (rc == -ENOENT) {
        http_reply_error(r, 404, "no such host here: %s", r->parts[2]);
        return;
    }
    reply_owned(r, 200, rc == 0 ? json_dumps(j, JSON_COMPACT) : NULL);
    json_decref(j);
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
    if (a->opts->mode != AGENT_MODE_PEER) {
        http_reply_error(r, 404, "the web page is served by the manager (an agent in %s mode)",
                         agent_mode_name(a->opts->mode));
        return;
    }
    web_get(r, ctx);
}

static bool
peer_only(struct http_req *r, struct agent *a)
{
    if (a->opts->mode == AGENT_MODE_PEER)
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
    const char *holder = agent_lock_holder(a, &left);
    json_t *j = json_pack("{s:b,s:o,s:f}", "held", holder != NULL, "holder",
                          holder != NULL ? json_string(holder) : json_null(), "expires_in", left);
    reply_owned(r, 200, j != NULL ? json_dumps(j, JSON_COMPACT) : NULL);
    json_decref(j);
}

/* POST /v1/lock {"holder", "lease_s"}: take or renew this host's lock. */
static void
post_lock(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    struct wire_lock l;
    struct perr err;
    if (!peer_only(r, a))
        return;
    if (wire_lock_decode(r->body, r->body_len, true, &l, &err) < 0) {
        http_reply_error(r, 400, "%s", err.msg);
        return;
    }
    if (!http_req_check_host(r, l.holder, "lock"))
        return;
    if (strcmp(l.holder, a->opts->name) == 0) {
        http_reply_error(r, 400, "holder: a host does not lock itself over the network");
        return;
    }
    const char *holder = NULL;
    double left = 0;
    json_t *j;
    int code;
    if (agent_lock_take(a, l.holder, l.lease_s, &holder, &left) < 0) {
        a->locks_denied++;
        log_info("lock refused host=\"%s\" asked_by=\"%s\" holder=\"%s\"", a->opts->name, l.holder,
                 holder);
        code = 409;
        j = json_pack("{s:s,s:s,s:f}", "error", "locked by another host", "holder", holder,
                      "expires_in", left);
    } else {
        a->locks_served++;
        code = 200;
        j = json_pack("{s:s,s:f}", "holder", l.holder, "expires_in", l.lease_s);
    }
    reply_owned(r, code, j != NULL ? json_dumps(j, JSON_COMPACT) : NULL);
    json_decref(j);
}

/* POST /v1/lock/release {"holder"}: idempotent; 409 when someone else holds it. */
static void
post_unlock(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    struct wire_lock l;
    struct perr err;
    if (!peer_only(r, a))
        return;
    if (wire_lock_decode(r->body, r->body_len, false, &l, &err) < 0) {
        http_reply_error(r, 400, "%s", err.msg);
        return;
    }
    if (!http_req_check_host(r, l.holder, "lock release"))
        return;
    if (strcmp(l.holder, a->opts->name) == 0) {
        http_reply_error(r, 400, "holder: only this host releases its own lock");
        return;
    }
    int rc = agent_lock_release(a, l.holder);
    if (rc == -EPERM) {
        http_reply_error(r, 409, "the lock is held by \"%s\", not \"%s\"", a->lock.holder,
                         l.holder);
        return;
    }
    http_reply_json(r, 200, rc == 0 ? "{\"released\": true}" : "{\"released\": false}");
}

static void
get_migration(struct http_req *r, void *ctx)
{
    struct migration *m = agent_migration_find(ctx, r->parts[2]);
    if (m == NULL) {
        http_reply_error(r, 404, "no migration \"%s\"", r->parts[2]);
        return;
    }
    reply_owned(r, 200, agent_migration_json(m));
}

static void
post_incoming(struct http_req *r, void *ctx)
{
    struct wire_incoming in;
    struct perr err;
    char msg[256] = "";
    if (wire_incoming_decode(r->body, r->body_len, &in, &err) < 0) {
        http_reply_error(r, 400, "%s", err.msg);
        return;
    }
    if (!http_req_check_host(r, in.from, "arrival"))
        return;
    if (((struct agent *)ctx)->opts->backend != AGENT_BACKEND_SIM) {
        http_reply_error(r, 409,
                         "this host runs real VMs: they arrive by libvirt's migration, "
                         "not by reservation");
        return;
    }
    int code = agent_incoming_reserve(ctx, &in, msg, sizeof(msg));
    if (code >= 300) {
        http_reply_error(r, code, "%s", msg);
        return;
    }
    http_reply_json(r, code, "{\"state\": \"reserved\"}");
}

static void
get_incoming(struct http_req *r, void *ctx)
{
    struct incoming *in = agent_incoming_find(ctx, r->parts[2]);
    if (in == NULL) {
        http_reply_error(r, 404, "no arrival \"%s\"", r->parts[2]);
        return;
    }
    static const char *const names[] = {"reserved", "committed", "aborted"};
    json_t *j = json_pack("{s:s,s:s,s:s,s:b}", "id", in->id, "vm", in->vm, "state",
                          names[in->state], "settled", in->settled);
    reply_owned(r, 200, j != NULL ? json_dumps(j, JSON_COMPACT) : NULL);
    json_decref(j);
}

/* Only the source of arrival `id` may commit, abort or settle it (with tls_bind_names). An
 * unknown id goes on, to its handler's 404. */
static bool
from_its_source(struct http_req *r, struct agent *a, const char *id, const char *what)
{
    const struct incoming *in = agent_incoming_find(a, id);
    return in == NULL || http_req_check_host(r, in->from, what);
}

static void
post_commit(struct http_req *r, void *ctx)
{
    struct wire_load final;
    struct perr err;
    char msg[256] = "";
    memset(&final, 0, sizeof(final));
    if (!from_its_source(r, ctx, r->parts[2], "commit"))
        return;
    /* The body carries the VM's demand at the end of the transfer (its state); optional. */
    if (r->body_len > 0 && wire_load_decode(r->body, r->body_len, &final, &err) < 0) {
        http_reply_error(r, 400, "%s", err.msg);
        return;
    }
    int code = agent_incoming_commit(ctx, r->parts[2], &final, msg, sizeof(msg));
    if (code >= 300) {
        http_reply_error(r, code, "%s", msg);
        return;
    }
    http_reply_json(r, code, "{\"state\": \"committed\"}");
}

static void
post_abort(struct http_req *r, void *ctx)
{
    char msg[256] = "";
    if (!from_its_source(r, ctx, r->parts[2], "abort"))
        return;
    int code = agent_incoming_abort(ctx, r->parts[2], msg, sizeof(msg));
    if (code >= 300) {
        http_reply_error(r, code, "%s", msg);
        return;
    }
    http_reply_json(r, code, "{\"state\": \"aborted\"}");
}

static void
post_settled(struct http_req *r, void *ctx)
{
    char msg[256] = "";
    if (!from_its_source(r, ctx, r->parts[2], "settle"))
        return;
    int code = agent_incoming_settle(ctx, r->parts[2], msg, sizeof(msg));
    if (code >= 300) {
        http_reply_error(r, code, "%s", msg);
        return;
    }
    http_reply_json(r, code, "{\"settled\": true}");
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

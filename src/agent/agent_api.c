/* The agent's HTTP API (docs/protocol.md). Every body is validated by proto/wire.c before
 * use; a bad request gets a 4xx answer with {"error": ...} and the agent goes on. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "common/log.h"

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
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:i,s:I}", "role", "agent", "name", a->opts.name,
                          "mode", "central", "backend", "sim", "version", WIRE_VERSION, "vms",
                          (json_int_t)a->hv.n_vms);
    reply_owned(r, 200, j != NULL ? json_dumps(j, JSON_COMPACT) : NULL);
    json_decref(j);
}

static void
get_sample(struct http_req *r, void *ctx)
{
    struct agent *a = ctx;
    if (a->sample_json == NULL) {
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
    int rc = hv_sim_set_demand(&a->hv, vm, l.mask, l.pct);
    if (rc == -ENOENT) {
        http_reply_error(r, 404, "no VM named \"%s\" on host \"%s\"", vm, a->opts.name);
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
    json_t *j = json_pack("{s:s,s:s}", "vm", vm, "host", a->opts.name);
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
    if (strcmp(o.to, a->url) == 0 || strcmp(o.to_name, a->opts.name) == 0) {
        http_reply_error(r, 400, "to: the destination is this host");
        return;
    }
    struct migration *m = NULL;
    int rc = agent_migrate_start(a, &o, &m);
    switch (rc) {
    case 0:
        reply_owned(r, 202, agent_migration_json(m));
        return;
    case -ENOENT:
        http_reply_error(r, 404, "no VM named \"%s\" on host \"%s\"", o.vm, a->opts.name);
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

static void
get_migrations(struct http_req *r, void *ctx)
{
    reply_owned(r, 200, agent_migrations_json(ctx));
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
    json_t *j = json_pack("{s:s,s:s,s:s}", "id", in->id, "vm", in->vm, "state", names[in->state]);
    reply_owned(r, 200, j != NULL ? json_dumps(j, JSON_COMPACT) : NULL);
    json_decref(j);
}

static void
post_commit(struct http_req *r, void *ctx)
{
    struct wire_load final;
    struct perr err;
    char msg[256] = "";
    memset(&final, 0, sizeof(final));
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
    int code = agent_incoming_abort(ctx, r->parts[2], msg, sizeof(msg));
    if (code >= 300) {
        http_reply_error(r, code, "%s", msg);
        return;
    }
    http_reply_json(r, code, "{\"state\": \"aborted\"}");
}

const struct http_route agent_routes[] = {
    {"GET", "/v1/health", get_health},
    {"GET", "/v1/sample", get_sample},
    {"GET", "/v1/vms", get_vms},
    {"POST", "/v1/vms/*/load", post_load},
    {"POST", "/v1/migrations", post_migration},
    {"GET", "/v1/migrations", get_migrations},
    {"GET", "/v1/migrations/*", get_migration},
    {"POST", "/v1/incoming", post_incoming},
    {"GET", "/v1/incoming/*", get_incoming},
    {"POST", "/v1/incoming/*/commit", post_commit},
    {"POST", "/v1/incoming/*/abort", post_abort},
};
const size_t agent_n_routes = sizeof(agent_routes) / sizeof(agent_routes[0]);

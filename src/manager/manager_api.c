/* The manager's HTTP API (docs/protocol.md): agent registration, and the reading endpoints
 * the management terminal and the web page use. Every body is validated; a bad request gets
 * a 4xx answer and the manager goes on. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "core/plan.h"
#include "manager/manager_internal.h"
#include "net/web.h"
#include "proto/policy_ini.h"
#include "store/store_json.h"
#include "view/vmhist.h"

/* The refusal when the registry is full, with the way out. */
#define TOO_MANY_AGENTS                                                                            \
    "too many agents (at most %d): forget hosts that are gone with 'vmloc forget HOST' "           \
    "(DELETE /v1/hosts/NAME); hosts silent for [manager] forget_after are forgotten by themselves"

/* The answer to a registration manager_host_register() refused with `rc` (`h`: the holder of
 * the name, for -EEXIST; `url`: the agent that asked). */
static void
reply_register_error(struct http_req *r, int rc, const struct mhost *h, const char *url)
{
    if (rc == -EEXIST)
        http_reply_error(r, 409,
                         "host name \"%s\" is held by the agent at %s, which answers (this "
                         "agent: %s): give one of them another name; the name is taken over "
                         "once its holder has missed %d collection rounds, or after 'vmloc "
                         "forget %s'",
                         h->v.name, h->v.url, url, MANAGER_DOWN_AFTER, h->v.name);
    else if (rc == -ENOSPC)
        http_reply_error(r, 503, TOO_MANY_AGENTS, MANAGER_MAX_AGENTS);
    else
        http_reply_error(r, 503, "out of memory");
}

/* The seconds between an agent's registrations that the manager asks for: fewer refreshes
 * with more agents, and never so few that a host collected only on notification (--collect
 * notified) would look silent to forget_after. */
static double
register_every(const struct manager *m)
{
    double every = ceil((double)m->n_hosts / MANAGER_REG_PER_S);
    if (every > MANAGER_REG_EVERY_MAX_S)
        every = MANAGER_REG_EVERY_MAX_S;
    if (m->opts.forget_after_s > 0 && every > m->opts.forget_after_s / 3)
        every = floor(m->opts.forget_after_s / 3);
    return every < MANAGER_REG_EVERY_MIN_S ? MANAGER_REG_EVERY_MIN_S : every;
}

static void
post_agent(struct http_req *r, void *ctx)
{
    struct manager *m = ctx;
    json_error_t je;
    json_t *j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
    const char *name = json_string_value(json_object_get(j, "name"));
    const char *url = json_string_value(json_object_get(j, "url"));
    if (j == NULL) {
        http_reply_error(r, 400, "body:%d:%d: invalid JSON: %s", je.line, je.column, je.text);
        return;
    }
    if (name == NULL || !wire_name_valid(name)) {
        json_decref(j);
        http_reply_error(r, 400, "name: must be a host name (1 to 255 characters)");
        return;
    }
    if (!http_req_check_host(r, name, "registration")) {
        json_decref(j);
        return;
    }
    if (url == NULL || strlen(url) > WIRE_MAX_URL || http_url_check(url) < 0) {
        json_decref(j);
        http_reply_error(r, 400, "url: must be http://HOST:PORT");
        return;
    }
    json_t *iv = json_object_get(j, "interval");
    double interval = json_number_value(iv);
    if (iv != NULL && (!json_is_number(iv) || !(interval >= 0.01 && interval <= 3600))) {
        json_decref(j);
        http_reply_error(r, 400, "interval: must be a number of seconds from 0.01 to 3600");
        return;
    }
    struct mhost *h = NULL;
    int rc = manager_host_register(m, name, url, &h);
    if (rc < 0) {
        reply_register_error(r, rc, h, url);
        json_decref(j);
        return;
    }
    h->agent_interval = iv != NULL ? interval : 0.0;
    if (!h->v.has_sample)
        manager_sample_now(m, h);
    manager_host_store_reg(m, h);
    http_reply_json_value(r, 200,
                          json_pack("{s:s,s:f,s:f}", "host", name, "interval", m->opts.interval_s,
                                    "register_every", register_every(m)));
    json_decref(j); /* last: `name` and `url` point into it */
}

/* POST /v1/notify, body: the agent's sample that shows a conflict (edge mode). */
static void
post_notify(struct http_req *r, void *ctx)
{
    struct manager *m = ctx;
    if (!m->opts.edge) {
        http_reply_error(r, 409,
                         "this manager runs in central mode and detects conflicts itself; run "
                         "it with --mode edge, or the agents in central mode");
        return;
    }
    struct wire_sample s;
    struct perr err;
    if (wire_sample_decode(r->body, r->body_len, &s, &err) < 0) {
        http_reply_error(r, 400, "%s", err.msg);
        return;
    }
    if (!http_req_check_host(r, s.name, "notification")) {
        wire_sample_done(&s);
        return;
    }
    struct mhost *h = manager_host_find(m, s.name);
    if (h == NULL || (s.url[0] != '\0' && strcmp(s.url, h->v.url) != 0)) {
        /* Not registered yet, or from another agent of that name: the sample says where the
         * agent is, and it registers as it would with POST /v1/agents. */
        if (http_url_check(s.url) < 0) {
            wire_sample_done(&s);
            http_reply_error(r, 400, "url: must be http://HOST:PORT (the agent is not registered)");
            return;
        }
        int rc = manager_host_register(m, s.name, s.url, &h);
        if (rc < 0) {
            reply_register_error(r, rc, h, s.url);
            wire_sample_done(&s);
            return;
        }
        manager_host_store_reg(m, h);
    }
    log_debug("conflict notified host=\"%s\" seq=%llu%s", h->v.name, (unsigned long long)s.seq,
              s.unconfirmed ? " unconfirmed" : "");
    char name[sizeof(h->v.name)];
    (void)snprintf(name, sizeof(name), "%s", h->v.name);
    bool unconfirmed = s.unconfirmed;
    uint32_t waiting = s.unconfirmed_waiting;
    double cpu_pressure = s.unconfirmed_cpu_pressure;
    if (h->v.has_sample && s.time < h->v.sample.time) {
        wire_sample_done(&s); /* older than what a collection brought: keep the newer */
    } else {
        manager_host_sample(m, h, &s);
        h->notified_mid_round = h->waiting; /* the round's answer may be older */
    }
    http_reply_json_value(r, 202, json_pack("{s:s,s:b}", "host", name, "accepted", true));
    if (unconfirmed)
        manager_note_notified_unconfirmed(m, h, waiting, cpu_pressure); /* nothing to decide */
    else
        manager_notified(m, h);
}

/* {"since", "vms_left", "reachable", "blocked"?, "blocked_vm"?}: a drain's progress. */
static json_t *
maintenance_json(const struct mhost *h)
{
    json_t *o = json_pack("{s:f,s:I,s:b}", "since", h->maintenance_since, "vms_left",
                          (json_int_t)manager_host_vms(h), "reachable", h->v.up);
    if (o != NULL && h->drain_block != 0)
        (void)json_object_set_new(o, "blocked",
                                  json_string(plan_block_name((enum plan_block)h->drain_block)));
    if (o != NULL && h->drain_block_vm[0] != '\0')
        (void)json_object_set_new(o, "blocked_vm", json_string(h->drain_block_vm));
    return o;
}

/* The answer to a drain or undrain of `h` (`on`): its JSON text, or NULL (out of memory). */
static char *
maintenance_answer(struct mhost *h, bool on)
{
    json_t *o = json_pack("{s:s,s:s}", "host", h->v.name, "state", manager_host_state(h));
    if (o != NULL && on)
        (void)json_object_set_new(o, "maintenance", maintenance_json(h));
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return text;
}

/* POST /v1/hosts/NAME/drain and /undrain: maintenance on or off. With etcd, answered once
 * the change is in the journal: a leader that dies after answering must not take a drain
 * reported done with it. */
static void
set_maintenance(struct http_req *r, struct manager *m, bool on)
{
    if (manager_ha_redirect(m, r))
        return; /* a follower: the leader changes things */
    struct mhost *h = manager_host_find(m, r->parts[2]);
    if (h == NULL) {
        http_reply_error(r, 404, "no such host: %s", r->parts[2]);
        return;
    }
    if (manager_set_maintenance(m, h, on) < 0) {
        http_reply_error(r, 503, "the store could not record it; nothing changed");
        return;
    }
    char *text = maintenance_answer(h, on);
    if (text == NULL) {
        /* Journaled all the same: the change is made here. */
        (void)manager_journal_drain(m, h->v.name, on, h->maintenance_since, NULL);
        http_reply_error(r, 503, "out of memory (the change is made; see vmloc hosts)");
        return;
    }
    struct journal_answer ans = {r, on ? 202 : 200, text, NULL};
    int rc = manager_journal_drain(m, h->v.name, on, h->maintenance_since, &ans);
    if (rc < 0)
        http_reply_error(r, 503,
                         "done on this manager, but etcd's copy is not confirmed (out of "
                         "memory): see vmloc hosts, and ask again");
    else if (rc == 0)
        http_reply_json(r, ans.code, text);
    free(text);
}

/* DELETE /v1/hosts/NAME: forget the host (vmloc forget). */
static void
delete_host(struct http_req *r, void *ctx)
{
    struct manager *m = ctx;
    if (manager_ha_redirect(m, r))
        return; /* a follower: the leader changes things */
    struct mhost *h = manager_host_find(m, r->parts[2]);
    if (h == NULL) {
        http_reply_error(r, 404, "no such host: %s", r->parts[2]);
        return;
    }
    char name[sizeof(h->v.name)];
    (void)snprintf(name, sizeof(name), "%s", h->v.name);
    /* A running agent registers again within seconds: `was_up` says so. */
    json_t *o = json_pack("{s:s,s:b,s:b}", "host", name, "forgotten", 1, "was_up", h->v.up);
    char *text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    /* With etcd, a host in maintenance is answered once its drain has left the journal: a
     * leader that dies after answering must not leave the next one a drain of it. The 503
     * after a time-out says what is true of a forget (asked again, this manager answers 404:
     * it has forgotten the host). */
    struct journal_answer ans = {
        r, 200, text,
        "forgotten on this manager, but etcd has not confirmed within the time allowed that "
        "its drain left the journal (it may still): a new leader may still list the host in "
        "maintenance; forget it there if it does"};
    int rc = manager_host_forget(m, h, "vmloc forget", text != NULL ? &ans : NULL);
    if (rc == -EBUSY)
        http_reply_error(
            r, 409, "a migration from or to %s is under way: forget it once it has ended", name);
    else if (rc == -EIO)
        http_reply_error(r, 503, "the store could not forget it; nothing changed");
    else if (rc < 0)
        http_reply_error(r, 503, "out of memory; nothing changed");
    else if (text == NULL)
        http_reply_error(r, 503, "out of memory (the host is forgotten; see vmloc hosts)");
    else if (rc == MANAGER_FORGOT_UNJOURNALED)
        http_reply_error(r, 503,
                         "forgotten on this manager, but etcd's copy of its drain is not "
                         "confirmed (out of memory): see vmloc hosts");
    else if (rc == 0)
        http_reply_json(r, 200, text);
    /* 1: answered once the journal has the change */
    free(text);
}

static void
post_drain(struct http_req *r, void *ctx)
{
    set_maintenance(r, ctx, true);
}

static void
post_undrain(struct http_req *r, void *ctx)
{
    set_maintenance(r, ctx, false);
}

/* A list of the store's (at most ?limit=N, newest first), or 503 when it cannot be read. */
static void
reply_store_list(struct http_req *r, struct manager *m,
                 json_t *(*list)(struct store *st, int limit))
{
    int limit = http_query_limit(r, MANAGER_API_LIST_LIMIT);
    if (limit < 0)
        return;
    json_t *arr = list(m->store, limit);
    if (arr == NULL) {
        http_reply_error(r, 503, "store not readable");
        return;
    }
    http_reply_json_value(r, 200, arr);
}

static void
get_recommendations(struct http_req *r, void *ctx)
{
    reply_store_list(r, ctx, store_recommendations_json);
}

/* POST /v1/recommendations/ID/apply: order the recommended migration now. */
static void
post_apply(struct http_req *r, void *ctx)
{
    struct manager *m = ctx;
    if (manager_ha_redirect(m, r))
        return; /* a follower: the leader changes things */
    char msg[400];
    char mig[80];
    int st = manager_apply(m, r->parts[2], mig, sizeof(mig), msg, sizeof(msg));
    if (st != 0) {
        http_reply_error(r, st, "%s", msg);
        return;
    }
    http_reply_json_value(r, 202, json_pack("{s:s,s:s}", "id", r->parts[2], "migration", mig));
}

/* {"url", "refused", "last"}: the agent refused the name of host `h` (its clash episode). */
static json_t *
clash_json(const struct mhost *h)
{
    return json_pack("{s:s,s:I,s:f}", "url", h->clash_url, "refused", (json_int_t)h->clash_refused,
                     "last", h->clash_last);
}

static void
get_hosts(struct http_req *r, void *ctx)
{
    struct manager *m = ctx;
    json_t *arr = json_array();
    for (size_t i = 0; i < m->n_hosts && arr != NULL; i++) {
        const struct mhost *h = m->hosts[i];
        /* `reason`: why its last sample did not come, while it does not. */
        json_t *o = hview_json(&h->v, &m->opts.policy, manager_host_state(h),
                               h->misses > 0 ? h->miss_reason : NULL);
        if (o != NULL && h->v.has_sample &&
            json_object_set_new(o, "sample_age", json_real(h->sample_age)) < 0) {
            json_decref(o);
            o = NULL;
        }
        if (o != NULL && h->maintenance &&
            json_object_set_new(o, "maintenance", maintenance_json(h)) < 0) {
            json_decref(o);
            o = NULL;
        }
        if (o != NULL && manager_host_clash(h) &&
            json_object_set_new(o, "name_clash", clash_json(h)) < 0) {
            json_decref(o);
            o = NULL;
        }
        json_t *dups = o != NULL ? dupvms_host_json(&m->dups, h->v.name) : NULL;
        if (dups != NULL && json_object_set_new(o, "duplicate_vms", dups) < 0) {
            json_decref(o);
            o = NULL;
        }
        /* Power saving on: an up host with no VM can be powered off. */
        if (o != NULL && m->opts.policy.consolidate_below > 0 && !h->maintenance && h->v.up &&
            h->v.has_sample && manager_host_vms(h) == 0 &&
            json_object_set_new(o, "power", json_string("ready-off")) < 0) {
            json_decref(o);
            o = NULL;
        }
        if (o == NULL || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    http_reply_json_value(r, 200, arr);
}

/* The lists of a roll-up answer: per statistic, per kind. */
struct minutes_json {
    json_t *time;
    json_t *kinds[3][KIND_COUNT]; /* usage (the mean), min, max */
    json_t *cpu_some[3];          /* the host's cpu pressure (some): mean, min, max */
    bool any_cpu_some;            /* a minute had it */
    bool oom;
};

static void
add_minute(void *ctx, const struct store_minute *mn)
{
    struct minutes_json *mj = ctx;
    const double *v[3] = {mn->mean, mn->min, mn->max};
    mj->oom |= json_array_append_new(mj->time, json_real(mn->time)) < 0;
    for (unsigned s = 0; s < 3; s++) {
        for (unsigned k = 0; k < KIND_COUNT; k++)
            mj->oom |=
                json_array_append_new(mj->kinds[s][k], json_real(round(v[s][k] * 10.0) / 10.0)) < 0;
    }
    /* Pressure where a sample of the minute carried it, null elsewhere: never a 0 made up. */
    const double psi[3] = {mn->cpu_some_mean, mn->cpu_some_min, mn->cpu_some_max};
    mj->any_cpu_some |= mn->has_cpu_some;
    for (unsigned s = 0; s < 3; s++)
        mj->oom |= json_array_append_new(mj->cpu_some[s],
                                         mn->has_cpu_some ? json_real(round(psi[s] * 10.0) / 10.0)
                                                          : json_null()) < 0;
}

/* Add the lists of cpu pressure to the roll-up answer `o` when a minute had it, as
 * "pressure", "pressure_min" and "pressure_max": {"cpu": {"some": [...]}}; the lists are
 * taken either way (`o` may be NULL: they are freed). 0 or -ENOMEM. */
static int
minutes_pressure(json_t *o, struct minutes_json *mj)
{
    static const char *const keys[3] = {"pressure", "pressure_min", "pressure_max"};
    int r = 0;
    for (unsigned s = 0; s < 3; s++) {
        json_t *list = mj->cpu_some[s];
        mj->cpu_some[s] = NULL;
        if (o == NULL || !mj->any_cpu_some || r < 0) {
            json_decref(list);
            continue;
        }
        json_t *p = json_pack("{s:{s:o}}", "cpu", "some", list);
        if (p == NULL || json_object_set_new(o, keys[s], p) < 0)
            r = -ENOMEM;
    }
    return r;
}

/* GET /v1/hosts/NAME/history?step=60: the answer without `step` (docs/protocol.md) from the
 * host's one-minute roll-ups, "usage" the means, with "min" and "max" beside them. NULL on
 * OOM or when the store cannot be read (*ret_io set). */
static json_t *
minutes_json(struct manager *m, const struct mhost *h, double since, bool *ret_io)
{
    static const char *const keys[3] = {"usage", "min", "max"};
    struct minutes_json mj = {.time = json_array()};
    json_t *o = json_pack("{s:s,s:i}", "host", h->v.name, "step", 60);
    mj.oom = o == NULL || mj.time == NULL || json_object_set_new(o, "time", mj.time) < 0;
    for (unsigned s = 0; s < 3 && !mj.oom; s++) {
        json_t *by_kind = json_object();
        mj.oom = by_kind == NULL || json_object_set_new(o, keys[s], by_kind) < 0;
        for (unsigned k = 0; k < KIND_COUNT && !mj.oom; k++) {
            mj.kinds[s][k] = json_array();
            mj.oom = mj.kinds[s][k] == NULL ||
                     json_object_set_new(by_kind, kind_name((enum kind)k), mj.kinds[s][k]) < 0;
        }
    }
    for (unsigned s = 0; s < 3; s++) {
        mj.cpu_some[s] = json_array();
        mj.oom |= mj.cpu_some[s] == NULL;
    }
    *ret_io = false;
    if (!mj.oom && store_each_minute(m->store, h->v.name, since, add_minute, &mj) < 0)
        *ret_io = true;
    if (minutes_pressure(o, &mj) < 0)
        mj.oom = true;
    double thr[KIND_COUNT];
    hview_thresholds(&m->opts.policy, h->v.name, h->v.has_sample ? h->v.sample.capacity : 1.0, thr);
    if (mj.oom || *ret_io || json_object_set_new(o, "threshold", wire_kinds_json(thr)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* GET /v1/hosts/NAME/history[?since=T][&step=60 | &vms=1]: the host's recent usage and its
 * thresholds, or its one-minute roll-ups; with vms=1 its VMs' series from the raw samples
 * beside. */
static void
get_history(struct http_req *r, void *ctx)
{
    struct manager *m = ctx;
    const struct mhost *h = manager_host_find(m, r->parts[2]);
    if (h == NULL) {
        http_reply_error(r, 404, "no such host: %s", r->parts[2]);
        return;
    }
    double since = 0;
    if (http_query_number(r, "since", 0, 1e12, &since) < 0) {
        http_reply_error(r, 400, "since: must be a time in seconds since the epoch");
        return;
    }
    double step = 0;
    if (http_query_number(r, "step", 0, 1e12, &step) < 0 || (step != 0 && step != 60)) {
        http_reply_error(r, 400,
                         "step: must be 60 (one-minute roll-ups) or left out (the "
                         "samples of the last minutes)");
        return;
    }
    double vms = 0;
    if (http_query_number(r, "vms", 0, 1, &vms) < 0 || (vms != 0 && vms != 1) ||
        (vms == 1 && step == 60)) {
        http_reply_error(r, 400,
                         "vms: must be 1 (the VMs' series from the raw samples) or 0, and not "
                         "with step");
        return;
    }
    if (step == 60) {
        bool io = false;
        json_t *o = minutes_json(m, h, since, &io);
        if (io)
            http_reply_error(r, 500, "the store cannot be read: %s", store_path(m->store));
        else
            http_reply_json_value(r, 200, o);
        return;
    }
    json_t *o = hview_history_json(
        h->v.hist, h->v.name, h->v.has_sample ? h->v.sample.capacity : 1.0, &m->opts.policy, since);
    if (o != NULL && vms == 1) {
        json_t *series = vmhist_json(m->store, h->v.name, since);
        if (series == NULL) {
            json_decref(o);
            http_reply_error(r, 500, "the store cannot be read: %s", store_path(m->store));
            return;
        }
        if (json_object_set_new(o, "vms", series) < 0) {
            json_decref(o);
            o = NULL;
        }
    }
    http_reply_json_value(r, 200, o);
}

static void
get_vms(struct http_req *r, void *ctx)
{
    struct manager *m = ctx;
    double now = clock_wall_s();
    json_t *arr = json_array();
    for (size_t i = 0; i < m->n_hosts && arr != NULL; i++) {
        const struct mhost *h = m->hosts[i];
        for (size_t j = 0; h->v.has_sample && j < h->v.sample.n_vms && arr != NULL; j++) {
            const struct wire_sample_vm *v = &h->v.sample.vms[j];
            const char *st = v->incoming        ? "incoming"
                             : v->migrating_out ? "migrating-out"
                                                : "running";
            json_t *o = json_pack("{s:s,s:s,s:o,s:o,s:f,s:s}", "name", v->name, "host", h->v.name,
                                  "usage", wire_kinds_json(v->usage), "demand",
                                  wire_kinds_json(v->demand), "mem_mib", v->mem_mib, "state", st);
            /* CPU wait where the agent measures it (docs/libvirt.md), absent otherwise. */
            if (o != NULL && v->has_cpu_wait &&
                json_object_set_new(o, "cpu_wait", json_real(v->cpu_wait)) < 0) {
                json_decref(o);
                o = NULL;
            }
            if (!v->incoming)
                o = wire_vm_hold_json(o, &m->opts.policy, v->arrived,
                                      v->n_moves > 0 ? h->v.sample.moves + v->moves_first : NULL,
                                      v->n_moves, now);
            if (o == NULL || json_array_append_new(arr, o) < 0) {
                json_decref(arr);
                arr = NULL;
            }
        }
    }
    http_reply_json_value(r, 200, arr);
}

static void
get_conflicts(struct http_req *r, void *ctx)
{
    reply_store_list(r, ctx, store_conflicts_json);
}

static void
get_migrations(struct http_req *r, void *ctx)
{
    reply_store_list(r, ctx, store_migrations_json);
}

/* GET /metrics: Prometheus' text format. */
static void
get_metrics(struct http_req *r, void *ctx)
{
    struct manager *m = ctx;
    struct mtext t;
    mtext_init(&t);
    mtext_family(&t, "vmloc_build_info", "gauge", "vmloc's protocol version and role");
    mtext_printf(&t, "vmloc_build_info{role=\"manager\",mode=\"%s\",version=\"%d\"} 1\n",
                 m->opts.edge ? "edge" : "central", WIRE_VERSION);
    size_t up = 0;
    size_t down = 0;
    for (size_t i = 0; i < m->n_hosts; i++) {
        if (!m->hosts[i]->v.has_sample)
            continue;
        if (m->hosts[i]->v.up)
            up++;
        else
            down++;
    }
    mtext_family(&t, "vmloc_hosts", "gauge", "Hosts the manager knows, by state");
    mtext_printf(&t, "vmloc_hosts{state=\"up\"} %zu\nvmloc_hosts{state=\"down\"} %zu\n", up, down);
    mtext_printf(&t, "vmloc_hosts{state=\"unknown\"} %zu\n", m->n_hosts - up - down);
    /* The usage of the hosts that answer (one that is down has no current usage). */
    const struct wire_sample **latest = calloc(m->n_hosts + 1, sizeof(const struct wire_sample *));
    size_t n = 0;
    for (size_t i = 0; latest != NULL && i < m->n_hosts; i++) {
        if (m->hosts[i]->v.has_sample && m->hosts[i]->v.up)
            latest[n++] = &m->hosts[i]->v.sample;
    }
    if (latest != NULL)
        hview_usage_metrics(&t, latest, n);
    else
        t.oom = true;
    free(latest);
    size_t clashes = 0;
    for (size_t i = 0; i < m->n_hosts; i++)
        clashes += manager_host_clash(m->hosts[i]);
    mtext_one(&t, "vmloc_name_clashes", "gauge",
              "Host names another agent (another URL) tries to register while the holder "
              "answers",
              (double)clashes);
    mtext_one(&t, "vmloc_registrations_refused_total", "counter",
              "Registrations refused (409) because another agent holds the name",
              (double)m->registrations_refused);
    mtext_one(&t, "vmloc_duplicate_vms", "gauge",
              "VM names listed by two hosts outside a migration, at the last decision (not "
              "moved)",
              (double)m->dups.count);
    mtext_one(&t, "vmloc_duplicate_vms_total", "counter",
              "VM names found on two hosts (once per episode)", (double)m->dups.episodes_total);
    mtext_one(&t, "vmloc_conflicts_detected_total", "counter",
              "Conflict episodes detected (a new outcome of an episode counts again)",
              (double)m->conflicts_total);
    mtext_one(&t, "vmloc_storm_guard_holds_total", "counter",
              "VMs the storm guard held back from a conflict's move, once per VM and window",
              (double)m->storm_holds_total);
    mtext_one(&t, "vmloc_migrations_ordered_total", "counter", "Migrations ordered",
              (double)m->ordered_total);
    mtext_family(&t, "vmloc_migrations_total", "counter", "Migrations ended, by outcome");
    mtext_sample(&t, "vmloc_migrations_total", "outcome=\"done\"", (double)m->done_total);
    mtext_sample(&t, "vmloc_migrations_total", "outcome=\"failed\"", (double)m->failed_total);
    mtext_one(&t, "vmloc_migrations_active", "gauge", "Migrations ordered and not ended",
              (double)m->n_active);
    mtext_histo(&t, "vmloc_migration_duration_seconds", "From the order to the end", &m->mig_h);
    mtext_one(&t, "vmloc_collection_rounds_total", "counter", "Collection rounds started",
              (double)m->rounds);
    mtext_histo(&t, "vmloc_collection_round_seconds",
                "From asking every agent to the last answer or time-out", &m->round_h);
    mtext_histo(&t, "vmloc_decision_seconds", "Detection and relocation on the latest samples",
                &m->decide_h);
    mtext_histo(&t, "vmloc_sample_age_seconds",
                "A sample's age when collected, from its time to its answer (agents' clocks)",
                &m->age_h);
    manager_ha_metrics(m, &t);
    long long samples = 0;
    long long bytes = 0;
    if (store_stats(m->store, &samples, &bytes) == 0) {
        mtext_one(&t, "vmloc_store_bytes", "gauge", "Size of the store's database", (double)bytes);
        mtext_one(&t, "vmloc_store_samples", "gauge", "Samples kept in the store", (double)samples);
    }
    http_reply_metrics(r, &t);
}

static void
get_health(struct http_req *r, void *ctx)
{
    struct manager *m = ctx;
    long long samples = 0;
    long long bytes = 0;
    if (store_stats(m->store, &samples, &bytes) < 0)
        samples = bytes = -1;
    json_t *clashes = json_array();
    for (size_t i = 0; clashes != NULL && i < m->n_hosts; i++) {
        const struct mhost *h = m->hosts[i];
        if (!manager_host_clash(h))
            continue;
        json_t *c = clash_json(h);
        if (c == NULL || json_object_set_new(c, "host", json_string(h->v.name)) < 0 ||
            json_object_set_new(c, "holder", json_string(h->v.url)) < 0 ||
            json_array_append_new(clashes, c) < 0) {
            json_decref(c);
            json_decref(clashes);
            clashes = NULL;
        }
    }
    json_t *o =
        json_pack("{s:s,s:s,s:i,s:I,s:I,s:I,s:f,s:f,s:I,s:I,s:I,s:I}", "role", "manager", "mode",
                  m->opts.edge ? "edge" : "central", "version", WIRE_VERSION, "agents",
                  (json_int_t)m->n_hosts, "rounds", (json_int_t)m->rounds, "active_migrations",
                  (json_int_t)m->n_active, "last_round_ms", m->last_round_ms, "last_decide_ms",
                  m->last_decide_ms, "stored_samples", (json_int_t)samples, "store_bytes",
                  (json_int_t)bytes, "notifications", (json_int_t)m->notifications,
                  "decoded_beside", (json_int_t)m->decoded_beside);
    /* Names refused to a second agent, and VM names on two hosts: errors an operator ends. */
    if (o != NULL && (clashes == NULL || json_object_set_new(o, "name_clashes", clashes) < 0 ||
                      json_object_set_new(o, "duplicate_vms", dupvms_json(&m->dups)) < 0)) {
        json_decref(o);
        o = NULL;
    } else if (o == NULL) {
        json_decref(clashes);
    }
    manager_ha_health(m, o); /* with --etcd: role leader, follower or none, and the term */
    http_reply_json_value(r, 200, o);
}

static void
get_policy(struct http_req *r, void *ctx)
{
    struct manager *m = ctx;
    char *text = NULL;
    if (config_format(&m->opts.policy, &text) < 0) {
        http_reply_error(r, 503, "out of memory");
        return;
    }
    http_reply_raw(r, 200, "text/plain; charset=utf-8", text, strlen(text));
    free(text);
}

const struct http_route manager_routes[] = {
    {"POST", "/v1/agents", post_agent, false},
    {"GET", "/v1/hosts", get_hosts, false},
    {"GET", "/v1/hosts/*/history", get_history, false},
    {"POST", "/v1/hosts/*/drain", post_drain, false},
    {"DELETE", "/v1/hosts/*", delete_host, false},
    {"GET", "/v1/recommendations", get_recommendations, false},
    {"GET", "/v1/vms/*/explain", manager_get_explain, false},
    {"POST", "/v1/recommendations/*/apply", post_apply, false},
    {"POST", "/v1/hosts/*/undrain", post_undrain, false},
    {"GET", "/", web_get, true},
    {"GET", "/ui/*", web_get, true},
    {"GET", "/v1/vms", get_vms, false},
    {"POST", "/v1/notify", post_notify, false},
    {"GET", "/v1/conflicts", get_conflicts, false},
    {"GET", "/v1/migrations", get_migrations, false},
    {"GET", "/v1/health", get_health, false},
    {"GET", "/metrics", get_metrics, false},
    {"GET", "/v1/policy", get_policy, false},
};
const size_t manager_n_routes = sizeof(manager_routes) / sizeof(manager_routes[0]);

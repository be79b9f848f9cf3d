/* The agent's life: start the HTTP server, sample every interval, register with the manager,
 * and stop cleanly on SIGTERM or SIGINT.
 *
 * Everything runs on one libevent loop: the sampling timer, the registration retry timer,
 * HTTP requests served and sent, migration timers. Signals reach the loop through libevent's
 * signal events (the handler itself only records the signal), so no code runs in signal
 * context. A sample is computed from the backend's state at the timer tick and cached as the
 * JSON served at /v1/sample, so a collector always gets the latest complete measurement. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "common/clock.h"
#include "common/log.h"

void
agent_opts_init(struct agent_opts *o)
{
    memset(o, 0, sizeof(*o));
    (void)snprintf(o->listen, sizeof(o->listen), "%s", AGENT_DEFAULT_LISTEN);
    o->interval_s = AGENT_DEFAULT_INTERVAL_S;
    o->bandwidth_mib_s = AGENT_DEFAULT_BANDWIDTH_MIB_S;
    o->capacity = 1.0;
    o->mem_mib = 65536.0;
    o->overhead[KIND_CPU] = 2.0;
    o->log_level = LOG_LEVEL_INFO;
    o->mode = AGENT_MODE_CENTRAL;
    policy_init(&o->policy);
    o->lock_lease_s = AGENT_DEFAULT_LOCK_LEASE_S;
    o->backend = AGENT_BACKEND_SIM;
    hv_libvirt_opts_init(&o->libvirt);
    hv_trace_opts_init(&o->trace);
}

const char *
agent_backend_name(enum agent_backend b)
{
    return b == AGENT_BACKEND_LIBVIRT ? "libvirt" : "sim";
}

const char *
agent_mode_name(enum agent_mode m)
{
    switch (m) {
    case AGENT_MODE_EDGE:
        return "edge";
    case AGENT_MODE_PEER:
        return "peer";
    case AGENT_MODE_CENTRAL:
        break;
    }
    return "central";
}

int
agent_mode_parse(const char *s, enum agent_mode *ret)
{
    for (int m = AGENT_MODE_CENTRAL; m <= AGENT_MODE_PEER; m++) {
        if (strcmp(s, agent_mode_name((enum agent_mode)m)) == 0) {
            *ret = (enum agent_mode)m;
            return 0;
        }
    }
    return -EINVAL;
}

json_t *
agent_vm_append(struct agent *a, json_t *arr, json_t *o)
{
    if (o != NULL && json_object_set_new(o, "host", json_string(a->opts->name)) < 0) {
        json_decref(o);
        o = NULL;
    }
    if (o == NULL || json_array_append_new(arr, o) < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* The VMs as GET /v1/vms lists them: what they get and what they ask for, their host's name
 * and what holds them there. */
static json_t *
vms_array(struct agent *a, double (*usage)[KIND_COUNT])
{
    json_t *arr = json_array();
    for (size_t i = 0; i < a->hv.n_vms && arr != NULL; i++) {
        const struct simvm *v = &a->hv.vms[i];
        json_t *o = json_pack("{s:s,s:o,s:o,s:f,s:I,s:b,s:s}", "name", v->name, "usage",
                              wire_kinds_json(usage[i]), "demand", wire_kinds_json(v->demand),
                              "mem_mib", v->mem_mib, "priority", (json_int_t)v->priority, "pinned",
                              v->pinned, "state", simvm_state_name(v->state));
        if (o != NULL && v->trace[0] != '\0' &&
            json_object_set_new(o, "trace", json_string(v->trace)) < 0) {
            json_decref(o);
            o = NULL;
        }
        if (v->state != SIMVM_INCOMING) {
            o = wire_vm_hold_json(o, &a->opts->policy, v->arrived, v->moves, v->n_moves,
                                  clock_wall_s());
        } else if (o != NULL && v->arrived >= 0 &&
                   json_object_set_new(o, "arrived", json_real(v->arrived)) < 0) {
            json_decref(o);
            o = NULL;
        }
        if (o != NULL && v->n_moves > 0 &&
            json_object_set_new(o, "moves", wire_moves_json(v->moves, v->n_moves)) < 0) {
            json_decref(o);
            o = NULL;
        }
        arr = agent_vm_append(a, arr, o);
    }
    return arr;
}

char *
agent_vms_json(struct agent *a)
{
    if (a->opts->backend == AGENT_BACKEND_LIBVIRT) {
        json_t *arr = agent_lv_vms(a);
        char *s = arr != NULL ? json_dumps(arr, JSON_COMPACT) : NULL;
        json_decref(arr);
        return s;
    }
    double(*usage)[KIND_COUNT] = calloc(a->hv.n_vms + 1, sizeof(*usage));
    double host[KIND_COUNT];
    if (usage == NULL)
        return NULL;
    simhost_allocate(&a->hv, usage, host);
    json_t *arr = vms_array(a, usage);
    free(usage);
    if (arr == NULL)
        return NULL;
    char *s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return s;
}

void
agent_sample_set(struct agent *a, struct wire_sample *s)
{
    char *json = NULL;
    wire_sample_round(s);
    if (wire_sample_encode(s, &json) < 0) {
        log_warnx("sample skipped: out of memory, ignoring");
        wire_sample_done(s);
        return;
    }
    wire_sample_done(&a->sample);
    a->sample = *s;
    memset(s, 0, sizeof(*s));
    a->has_sample = true;
    free(a->sample_json);
    a->sample_json = json;
}

void
agent_sample_clear(struct agent *a)
{
    wire_sample_done(&a->sample);
    a->has_sample = false;
    free(a->sample_json);
    a->sample_json = NULL;
}

/* The simulated host now: what each VM gets of what it asks for, and the host's total. The
 * host part has the snapshot format's fields, so a collector can put it straight into a
 * snapshot; VMs that are only arriving are listed but not yet the host's. */
static int
sim_sample(struct agent *a, double now, struct wire_sample *s)
{
    memset(s, 0, sizeof(*s));
    double(*usage)[KIND_COUNT] = calloc(a->hv.n_vms + 1, sizeof(*usage));
    s->vms = calloc(a->hv.n_vms + 1, sizeof(*s->vms));
    s->moves = calloc(a->hv.n_vms * MODEL_MAX_VM_MOVES + 1, sizeof(*s->moves));
    if (usage == NULL || s->vms == NULL || s->moves == NULL) {
        free(usage);
        wire_sample_done(s);
        return -ENOMEM;
    }
    agent_trace_demand(a, now);
    simhost_allocate(&a->hv, usage, s->usage);
    s->usage_kinds = KIND_MASK_ALL;
    s->time = now;
    (void)snprintf(s->url, sizeof(s->url), "%s", a->url);
    (void)snprintf(s->name, sizeof(s->name), "%s", a->opts->name);
    s->capacity = a->hv.capacity;
    s->mem_mib = a->hv.mem_mib;
    for (size_t i = 0; i < a->hv.n_vms; i++) {
        const struct simvm *v = &a->hv.vms[i];
        struct wire_sample_vm *o = &s->vms[s->n_vms++];
        (void)snprintf(o->name, sizeof(o->name), "%s", v->name);
        memcpy(o->usage, usage[i], sizeof(o->usage));
        memcpy(o->demand, v->demand, sizeof(o->demand));
        o->usage_kinds = KIND_MASK_ALL;
        o->demand_kinds = KIND_MASK_ALL;
        o->mem_mib = v->mem_mib;
        o->priority = v->priority;
        o->pinned = v->pinned;
        o->incoming = v->state == SIMVM_INCOMING;
        o->migrating_out = v->state == SIMVM_MIGRATING_OUT;
        o->arrived = v->arrived;
        o->measured = -1;
        (void)snprintf(o->trace, sizeof(o->trace), "%s", v->trace);
        o->moves_first = (uint32_t)s->n_moves;
        o->n_moves = v->n_moves;
        memcpy(s->moves + s->n_moves, v->moves, v->n_moves * sizeof(*v->moves));
        s->n_moves += v->n_moves;
    }
    free(usage);
    return 0;
}

void
agent_sample(struct agent *a)
{
    if (a->opts->backend == AGENT_BACKEND_LIBVIRT) {
        agent_lv_sample(a);
        return;
    }
    double now = clock_wall_s();
    struct wire_sample s;
    if (sim_sample(a, now, &s) < 0) {
        log_warnx("sample skipped: out of memory, ignoring");
        return;
    }
    s.seq = ++a->seq;
    a->sample_time = now;
    agent_sample_set(a, &s);
    (void)agent_state_save(a);
}

/* The next sample on the next whole interval of the wall clock (on the second, with
 * --interval 1): every agent of the cluster samples at the same instants, and the manager
 * collects a moment after them (manager.c), so a collected sample is fresh. */
static void
arm_sample(struct agent *a)
{
    struct timeval tv = loop_tv(clock_align_delay(clock_wall_s(), a->opts->interval_s, 0.0));
    /* libevent counts from the time it read at the start of this loop turn: make that now,
     * or the timer fires early by however long this turn has run. */
    (void)event_base_update_cache_time(a->base);
    if (event_add(a->sample_ev, &tv) < 0)
        log_errorx("the next sample cannot be scheduled: sampling stops (restart the agent)");
}

static void
sample_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct agent *a = arg;
    arm_sample(a);
    agent_peer_tick(a);
    uint64_t t0 = clock_now_us();
    agent_sample(a);
    free(a->scheduled_json);
    a->scheduled_json = a->sample_json != NULL ? strdup(a->sample_json) : NULL;
    double took = (double)(clock_now_us() - t0) / 1e6;
    histo_observe(&a->sample_h, took);
    log_debug("sample seq=%llu took_ms=%.1f%s%s", (unsigned long long)a->seq, took * 1000.0,
              a->hv_error[0] != '\0' ? " none: " : "", a->hv_error);
    /* Sampling runs on the loop: while it lasts no request is answered, so a sample that takes
     * a good part of the interval delays every collector (warned at most once a minute). */
    double now = clock_mono_s();
    if (took > a->opts->interval_s / 2.0 &&
        (a->slow_warned_mono == 0.0 || now - a->slow_warned_mono >= 60.0)) {
        a->slow_warned_mono = now;
        log_warnx("slow sample: taking it took %.0f ms of the %.0f ms interval (the hypervisor "
                  "answers slowly); requests wait meanwhile",
                  took * 1000.0, a->opts->interval_s * 1000.0);
    }
    agent_detect(a);
}

static void register_later(struct agent *a);

static void
register_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct agent *a = arg;
    (void)len;
    if (status >= 200 && status < 300) {
        if (!a->registered)
            log_info("registered with manager url=%s", a->opts->manager);
        a->registered = true;
    } else {
        if (status == 0)
            log_warnx("registration failed manager=%s error=\"%s\", retrying", a->opts->manager,
                      err);
        else
            log_warnx("registration refused manager=%s status=%d body=%.200s, retrying",
                      a->opts->manager, status, body != NULL ? body : "");
        a->registered = false;
    }
    register_later(a);
}

static void
register_cb(evutil_socket_t fd, short what, void *arg)
{
    struct agent *a = arg;
    (void)fd;
    (void)what;
    json_t *j = json_pack("{s:s,s:s,s:s,s:i,s:f,s:s}", "name", a->opts->name, "url", a->url,
                          "backend", agent_backend_name(a->opts->backend), "version", WIRE_VERSION,
                          "interval", a->opts->interval_s, "mode", agent_mode_name(a->opts->mode));
    char *body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    int r = body != NULL ? http_request(a->client, a->opts->manager, "POST", "/v1/agents", body,
                                        HTTP_TIMEOUT_S, register_done, a)
                         : -ENOMEM;
    free(body);
    if (r < 0) {
        log_warnx("registration not sent manager=%s error=\"%s\", retrying", a->opts->manager,
                  strerror(-r));
        register_later(a);
    }
}

/* Registration is refreshed every 5 s (and retried at that pace after a failure), so a
 * restarted manager learns of every agent again without any state of its own. */
static void
register_later(struct agent *a)
{
    struct timeval tv = {5, 0};
    (void)event_add(a->register_ev, &tv);
}

static int
add_vms(struct agent *a)
{
    for (size_t i = 0; i < a->opts->n_vms; i++) {
        const struct wire_vmdef *d = &a->opts->vms[i];
        struct simvm v;
        memset(&v, 0, sizeof(v));
        (void)snprintf(v.name, sizeof(v.name), "%s", d->name);
        memcpy(v.demand, d->demand, sizeof(v.demand));
        v.mem_mib = d->mem_mib;
        v.priority = d->priority;
        v.pinned = d->pinned;
        v.arrived = -1.0; /* here before the agent started: no cooldown */
        v.trace_vm = -1;
        if (d->trace[0] != '\0') {
            v.trace_vm = hv_trace_find(&a->trace, d->trace);
            if (v.trace_vm < 0) {
                log_errorx("VM \"%s\": no trace file \"%s\" in %s", d->name, d->trace,
                           a->trace.loaded ? a->trace.o.dir : "([sim] trace is not set)");
                return -ENOENT;
            }
            (void)snprintf(v.trace, sizeof(v.trace), "%s", d->trace);
            v.mips = d->mips;
            v.cores = d->cores;
            hv_trace_demand(&a->trace, (size_t)v.trace_vm, v.mips, v.cores, clock_wall_s(),
                            v.demand);
        }
        int r = simhost_add(&a->hv, &v);
        if (r == -EEXIST) {
            log_errorx("VM \"%s\" given twice", d->name);
            return r;
        }
        if (r == -ENOSPC) {
            log_errorx("VM \"%s\" does not fit in the host's memory (%.0f MiB)", d->name,
                       a->hv.mem_mib);
            return r;
        }
        if (r < 0) {
            log_errorx("VM \"%s\": %s", d->name, strerror(-r));
            return r;
        }
    }
    return 0;
}

void
agent_trace_demand(struct agent *a, double now)
{
    for (size_t i = 0; a->trace.loaded && i < a->hv.n_vms; i++) {
        struct simvm *v = &a->hv.vms[i];
        if (v->trace[0] != '\0' && v->trace_vm >= 0)
            hv_trace_demand(&a->trace, (size_t)v->trace_vm, v->mips, v->cores, now, v->demand);
    }
}

static void
agent_free(struct agent *a)
{
    agent_peer_done(a);
    agent_migrate_done(a); /* before libvirt closes: running migrations are aborted, awaited */
    if (a->lv_started)
        agent_lv_done(a);
    if (a->sample_ev != NULL)
        event_free(a->sample_ev);
    if (a->register_ev != NULL)
        event_free(a->register_ev);
    loop_done(&a->loop);
    simhost_done(&a->hv);
    hv_trace_done(&a->trace);
    agent_sample_clear(a);
    free(a->scheduled_json);
    free(a->state_text);
    uhist_free(a->hist);
    free(a);
}

int
agent_run(const struct agent_opts *o)
{
    struct agent *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        log_errorx("out of memory");
        return 1;
    }
    a->opts = o;
    int ret = 1;
    static const double mig_b[] = {0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600};
    histo_init(&a->mig_h, mig_b, sizeof(mig_b) / sizeof(mig_b[0]));
    static const double sample_b[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
    histo_init(&a->sample_h, sample_b, sizeof(sample_b) / sizeof(sample_b[0]));
    if (simhost_init(&a->hv, o->name) < 0) {
        log_errorx("bad host name");
        goto out;
    }
    a->hv.capacity = o->capacity;
    a->hv.mem_mib = o->mem_mib;
    memcpy(a->hv.overhead, o->overhead, sizeof(a->hv.overhead));
    char terr[600];
    if (o->backend == AGENT_BACKEND_SIM &&
        hv_trace_load(&a->trace, &o->trace, terr, sizeof(terr)) < 0) {
        log_errorx("[sim] trace: %s", terr);
        goto out;
    }
    if (a->trace.loaded)
        log_info("trace loaded dir=%s format=%s vms=%zu samples=%zu start=%.3f step=%gs",
                 o->trace.dir, o->trace.format == TRACE_BITBRAINS ? "bitbrains" : "planetlab",
                 a->trace.tr.n_vms, a->trace.tr.n_samples, o->trace.start, o->trace.step_s);
    bool restored = false;
    if (agent_state_load(a, &restored) < 0)
        goto out;
    /* libvirt: [vm] gives settings only; sim: the VMs, unless the state file has them. */
    if (o->backend == AGENT_BACKEND_SIM && !restored && add_vms(a) < 0)
        goto out;
    if (loop_init(&a->loop) < 0) {
        log_errorx("cannot create the event loop");
        goto out;
    }
    if (loop_set_auth(&a->loop, &o->auth) < 0) {
        log_errorx("the API token is not usable");
        goto out;
    }
    if (o->tls != NULL)
        loop_set_tls(&a->loop, o->tls);
    a->base = a->loop.base;
    a->client = a->loop.client;
    int r = loop_listen(&a->loop, o->listen, agent_routes, agent_n_routes, a);
    if (r < 0) {
        log_errorx("cannot listen on %s: %s", o->listen, strerror(-r));
        goto out;
    }
    (void)snprintf(a->url, sizeof(a->url), "%s",
                   o->advertise[0] != '\0' ? o->advertise : a->loop.url);
    a->sample_ev = event_new(a->base, -1, 0, sample_cb, a);
    a->register_ev = event_new(a->base, -1, 0, register_cb, a);
    if (a->sample_ev == NULL || a->register_ev == NULL) {
        log_errorx("out of memory");
        goto out;
    }
    if (o->backend == AGENT_BACKEND_LIBVIRT && agent_lv_init(a) < 0)
        goto out;
    if (o->mode == AGENT_MODE_PEER && agent_peer_init(a) < 0)
        goto out;
    if (agent_state_resume(a) < 0) {
        log_errorx("out of memory");
        goto out;
    }
    arm_sample(a);
    agent_sample(a);
    if (o->manager[0] != '\0' && o->mode != AGENT_MODE_PEER)
        event_active(a->register_ev, 0, 0);

    log_info("agent started name=\"%s\" url=%s vms=%zu interval=%gs backend=%s mode=%s", o->name,
             a->url, o->backend == AGENT_BACKEND_LIBVIRT ? a->lv.n_vms : a->hv.n_vms, o->interval_s,
             agent_backend_name(o->backend), agent_mode_name(o->mode));
    if (o->mode == AGENT_MODE_PEER)
        log_info("peer mode peers=%zu lock_lease=%gs data=%s", o->n_peers, o->lock_lease_s,
                 o->data);
    loop_announce(&a->loop);
    if (loop_run(&a->loop) < 0) {
        log_errorx("event loop failed");
        goto out;
    }
    log_info("agent stopped name=\"%s\"", o->name);
    ret = 0;
out:
    agent_free(a);
    return ret;
}

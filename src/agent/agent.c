/* The agent's life: start the HTTP server, sample every interval, register with the managers
 * (agent_managers.c), and stop cleanly on SIGTERM or SIGINT.
 *
 * Everything runs on one libevent loop: the sampling timer, the registration timers, HTTP
 * requests served and sent, migration timers. Signals reach the loop through libevent's
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
#include "agent/hv_libvirt.h"
#include "agent/hv_sim.h"
#include "agent/migration.h"
#include "common/clock.h"
#include "common/limits.h"
#include "common/log.h"
#include "proto/wire.h"

_Static_assert(LIMIT_ANSWERS_HELD >= WIRE_MAX_SAMPLE_BYTES + HTTP_MAX_HEADERS,
               "the largest sample fits the answers an agent holds at once");

_Static_assert(PEERFILE_MAX_PEERS == AGENT_MAX_PEERS, "one limit for the peers, file or options");

static void peers_file_check(struct agent *a, bool force);

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
    http_limits_init(&o->sec.limits);
}

double
agent_peer_ask_timeout(double interval_s)
{
    return peer_ask_timeout(interval_s);
}

/* Make `s` (taken) the agent's latest sample: a->sample, and its JSON in a->sample_json. Its
 * figures are rounded as they are written, so that this agent decides on what its manager and
 * peers read. A sample that cannot be encoded (out of memory) is dropped and logged; the
 * previous one stays. */
static void
sample_set(struct agent *a, struct wire_sample *s)
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

/* No sample now (the hypervisor is away). */
static void
sample_clear(struct agent *a)
{
    wire_sample_done(&a->sample);
    a->has_sample = false;
    free(a->sample_json);
    a->sample_json = NULL;
}

void
agent_sample(struct agent *a)
{
    double now = clock_wall_s();
    struct wire_sample s;
    char why[sizeof(a->hv_error)] = "";
    int r = a->hv->ops->sample(a->hv, now, &s, why, sizeof(why));
    if (r == -EINPROGRESS) {
        /* The hypervisor is slow to answer: requests are served meanwhile, with the previous
         * sample, and the backend calls hv_changed() when it has the new one. */
        log_debug("sample deferred: %s", why);
        return;
    }
    if (r == -EAGAIN) {
        (void)snprintf(a->hv_error, sizeof(a->hv_error), "%s", why);
        sample_clear(a);
        return;
    }
    if (r < 0) {
        log_warnx("sample skipped: out of memory, ignoring");
        return;
    }
    a->hv_error[0] = '\0';
    s.seq = ++a->seq;
    (void)snprintf(s.url, sizeof(s.url), "%s", a->url);
    a->sample_time = now;
    sample_set(a, &s);
    (void)agent_state_save(a);
}

int
agent_state_save(struct agent *a)
{
    if (a->hv->ops->save == NULL || a->migs == NULL)
        return 0;
    size_t n = 0;
    struct migration *const *migs = migrate_all(a->migs, &n);
    return a->hv->ops->save(a->hv, migs, n);
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
    peers_file_check(a, false);
    if (a->peer != NULL)
        peer_tick(a->peer);
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

/* ---- what the layers below report ---------------------------------------------------------- */

static void
hv_changed(void *ctx)
{
    agent_sample(ctx);
}

static int
hv_save(void *ctx)
{
    return agent_state_save(ctx);
}

static void
migration_ended(void *ctx, const struct migration *m)
{
    struct agent *a = ctx;
    if (m->state == MIG_DONE)
        a->mig_done_total++;
    else
        a->mig_failed_total++;
    histo_observe(&a->mig_h, m->took_s);
    if (m->state == MIG_DONE && m->downtime_ms >= 0)
        histo_observe(&a->downtime_h, m->downtime_ms / 1000.0);
    if (a->peer != NULL)
        peer_migration_ended(a->peer, m);
}

static const struct wire_sample *
own_sample(void *ctx)
{
    struct agent *a = ctx;
    return a->has_sample ? &a->sample : NULL;
}

/* ---- life ---------------------------------------------------------------------------------- */

/* The backend of the options, with its VMs (and, for the simulated one, its saved state). */
static int
backend_start(struct agent *a)
{
    const struct agent_opts *o = a->opts;
    struct hv_events ev = {a, hv_changed, hv_save};
    int r;
    if (o->backend == AGENT_BACKEND_LIBVIRT) {
#if VMLOC_HAVE_LIBVIRT
        struct hv_lv_opts lo = {o->name, o->capacity, o->interval_s, &o->libvirt,
                                o->vms,  o->n_vms,    &o->policy};
        r = hv_libvirt_new(&lo, a->base, a->client, &ev, &a->hv);
#else
        /* `vmloc agent` refuses it first (exit 2); this is for other callers. */
        log_errorx("the libvirt backend is not built into this vmloc (meson -Dlibvirt=enabled)");
        r = -ENOTSUP;
#endif
    } else {
        struct hv_sim_opts so = {
            o->name,  o->capacity, o->mem_mib, o->overhead, o->bandwidth_mib_s, o->vms,
            o->n_vms, &o->trace,   o->data,    &o->policy,  o->sim_pressure};
        r = hv_sim_new(&so, a->base, a->client, &ev, &a->hv);
    }
    if (r < 0)
        return r;
    struct migrate_events mev = {a, migration_ended};
    a->migs = migrate_new(a->hv, o->name, &mev);
    if (a->migs == NULL) {
        log_errorx("out of memory");
        return -ENOMEM;
    }
    if (a->hv->ops->restore == NULL)
        return 0;
    bool found = false;
    struct migration **recs = NULL;
    size_t n = 0;
    r = a->hv->ops->restore(a->hv, &found, &recs, &n);
    if (r == 0 && migrate_adopt(a->migs, recs, n) < 0) {
        log_errorx("the host state holds more migrations than %d", MIGRATE_MAX_HISTORY);
        r = -E2BIG;
    }
    if (r < 0) {
        for (size_t i = 0; recs != NULL && i < n; i++) {
            a->hv->ops->migrate_release(a->hv, recs[i]);
            free(recs[i]);
        }
        free(recs);
    }
    return r;
}

/* The peers of --peer (and `peers =`) and those of the peers file, each once. */
static void
peers_file_apply(struct agent *a, const struct peerfile_list *l)
{
    const struct agent_opts *o = a->opts;
    char(*all)[WIRE_MAX_URL + 1] = calloc(o->n_peers + l->n + 1, sizeof(*all));
    if (all == NULL) {
        log_warnx("peers file not applied file=%s: out of memory; keeping the peers in use",
                  o->peers_file);
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < o->n_peers; i++)
        memcpy(all[n++], o->peers[i], sizeof(all[0]));
    for (size_t i = 0; i < l->n; i++) {
        bool dup = false;
        for (size_t j = 0; j < o->n_peers && !dup; j++)
            dup = strcmp(o->peers[j], l->urls[i]) == 0;
        if (!dup)
            memcpy(all[n++], l->urls[i], sizeof(all[0]));
    }
    if (peer_set_peers(a->peer, (const char(*)[WIRE_MAX_URL + 1]) all, n) < 0)
        log_warnx("peers file not applied file=%s: out of memory; keeping the peers in use",
                  o->peers_file);
    else
        log_info("peers file read file=%s urls=%zu", o->peers_file, l->n);
    free(all);
}

/* Read the peers file again if it changed (or, `force`, anyway: SIGHUP). A file that is bad
 * or gone is logged once and the peers in use stay: the agent never stops on it. */
static void
peers_file_check(struct agent *a, bool force)
{
    if (a->peers_file == NULL)
        return;
    struct peerfile_list l;
    struct perr err = {""};
    int r = peerfile_check(a->peers_file, force, &l, &err);
    if (r == 1) {
        peers_file_apply(a, &l);
        peerfile_list_done(&l);
    } else if (r == -ENOENT) {
        log_warnx("peers file missing file=%s; keeping the peers in use until it appears",
                  a->opts->peers_file);
    } else if (r < 0) {
        log_warnx("peers file rejected: %s; keeping the peers in use", err.msg);
    }
}

static void
peers_file_hup(void *arg)
{
    peers_file_check(arg, true);
}

static int
peer_start(struct agent *a)
{
    const struct agent_opts *o = a->opts;
    struct peer_opts po = {o->name, a->url,   o->interval_s, o->lock_lease_s,         &o->policy,
                           o->data, o->peers, o->n_peers,    o->peers_file[0] != '\0'};
    struct peer_env env = {
        a->base,    a->client,
        a->migs,    a->hv->ops->arrivals != NULL ? a->hv->ops->arrivals(a->hv) : NULL,
        own_sample, a};
    if (peer_new(&po, &env, &a->peer) < 0)
        return -1;
    if (o->peers_file[0] == '\0')
        return 0;
    a->peers_file = calloc(1, sizeof(*a->peers_file));
    if (a->peers_file == NULL) {
        log_errorx("out of memory");
        return -1;
    }
    peerfile_init(a->peers_file, o->peers_file);
    peers_file_check(a, false);
    loop_on_hup(&a->loop, peers_file_hup, a);
    return 0;
}

/* The one line a service manager shows (systemctl status): the mode, the VMs, the migrations
 * out of this host in flight, and what it knows of its manager or its conflict. */
static void
agent_status(void *ctx, char *buf, size_t len)
{
    const struct agent *a = ctx;
    const struct agent_opts *o = a->opts;
    size_t n = 0;
    size_t running = 0;
    struct migration *const *all = migrate_all(a->migs, &n);
    for (size_t i = 0; i < n; i++)
        running += all[i]->state == MIG_RUNNING ? 1 : 0;
    char link[64] = "";
    size_t reg = agent_managers_count(a).registered;
    if (a->n_mgrs == 1)
        (void)snprintf(link, sizeof(link), "%s",
                       reg == 1 ? ", registered" : ", not registered yet");
    else if (a->n_mgrs > 1)
        (void)snprintf(link, sizeof(link), ", registered with %zu of %zu managers", reg, a->n_mgrs);
    size_t vms = hv_n_vms(a->hv);
    (void)snprintf(buf, len, "%s mode: %zu VM%s, %zu migration%s in flight%s%s%s",
                   agent_mode_name(o->mode), vms, vms == 1 ? "" : "s", running,
                   running == 1 ? "" : "s", link, a->in_conflict ? ", in conflict" : "",
                   a->has_sample ? "" : ", hypervisor unavailable");
}

static void
agent_free(struct agent *a)
{
    peer_free(a->peer);
    free(a->peers_file);
    migrate_free(a->migs); /* before the backend: running migrations are aborted, awaited */
    hv_free(a->hv);
    if (a->sample_ev != NULL)
        event_free(a->sample_ev);
    agent_managers_free(a);
    loop_done(&a->loop);
    sample_clear(a);
    free(a->scheduled_json);
    free(a->conflict_key);
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
    static const double downtime_b[] = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    histo_init(&a->downtime_h, downtime_b, sizeof(downtime_b) / sizeof(downtime_b[0]));
    static const double sample_b[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
    histo_init(&a->sample_h, sample_b, sizeof(sample_b) / sizeof(sample_b[0]));
    /* Nothing a manager, destination or peer answers is larger than a sample; and peer mode
     * asks every peer at once. */
    struct loop_conf lc = {WIRE_MAX_SAMPLE_BYTES, LIMIT_ANSWERS_HELD, &o->auth, &o->sec.limits,
                           o->tls};
    if (loop_setup(&a->loop, &lc) < 0)
        goto out;
    a->base = a->loop.base;
    a->client = a->loop.client;
    if (backend_start(a) < 0)
        goto out;
    agent_fence_load(a);
    int r = loop_listen(&a->loop, o->listen, agent_routes, agent_n_routes, a);
    if (r < 0) {
        log_errorx("cannot listen on %s: %s", o->listen, strerror(-r));
        goto out;
    }
    (void)snprintf(a->url, sizeof(a->url), "%s",
                   o->advertise[0] != '\0' ? o->advertise : a->loop.url);
    a->sample_ev = event_new(a->base, -1, 0, sample_cb, a);
    if (a->sample_ev == NULL) {
        log_errorx("out of memory");
        goto out;
    }
    if (o->mode == AGENT_MODE_PEER && peer_start(a) < 0)
        goto out;
    if (migrate_resume(a->migs) < 0) {
        log_errorx("out of memory");
        goto out;
    }
    arm_sample(a);
    agent_sample(a);
    loop_set_status(&a->loop, agent_status, a);
    if (agent_managers_start(a) < 0) {
        log_errorx("out of memory");
        goto out;
    }

    log_info("agent started name=\"%s\" url=%s vms=%zu interval=%gs backend=%s mode=%s", o->name,
             a->url, hv_n_vms(a->hv), o->interval_s, agent_backend_name(o->backend),
             agent_mode_name(o->mode));
    if (o->mode == AGENT_MODE_PEER)
        log_info("peer mode peers=%zu peers_file=%s lock_lease=%gs data=%s", o->n_peers,
                 o->peers_file[0] != '\0' ? o->peers_file : "none", o->lock_lease_s, o->data);
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

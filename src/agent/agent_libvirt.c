/* The agent with the libvirt backend (lv.h): samples of the host's real domains, and
 * live migrations run by libvirt.
 *
 * A sample lists every active domain with its measured usage (its demand is its usage: a
 * real VM asks for what it uses) and its memory; a domain that just appeared (or restarted,
 * or migrated in) is listed at 0 until its second sample gives it a rate. While libvirt is
 * not reachable there is no sample: GET /v1/sample answers 503 with libvirt's error, so a
 * collector counts the host as not answering (and marks it down after a few rounds), and
 * /v1/health tells the connection's state and when it is tried again.
 *
 * A migration order asks the destination agent for its libvirt URI and migration address
 * (GET /v1/health), then starts libvirt's peer-to-peer live migration in a worker thread.
 * Every second its progress is read, and after the time-out libvirt is asked to abort it.
 * libvirt's own protocol keeps the VM on exactly one host: until the destination runs it,
 * it runs on the source; after a failure or an abort it still does.
 *
 * A domain's recent moves (the storm guard's history) live in its libvirt metadata: read once
 * when the agent first sees the domain, kept with its arrival record, listed in every sample
 * ("moves"), and extended and written back here when the domain arrives by migration. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "common/clock.h"
#include "common/log.h"

static double
mono_s(void)
{
    return (double)clock_now_us() / 1e6;
}

/* The operator's settings for domain `name` ([vm "NAME"]: priority, pinned), or NULL. */
static const struct wire_vmdef *
vm_settings(const struct agent *a, const char *name)
{
    for (size_t i = 0; i < a->opts->n_vms; i++) {
        if (strcmp(a->opts->vms[i].name, name) == 0)
            return &a->opts->vms[i];
    }
    return NULL;
}

/* A running migration of ours for VM `name`, or NULL. */
static struct migration *
migrating(struct agent *a, const char *name)
{
    for (size_t i = 0; i < a->n_migs; i++) {
        struct migration *m = a->migs[i];
        if (m->state == MIG_RUNNING && strcmp(m->vm, name) == 0)
            return m;
    }
    return NULL;
}

static double
round3(double v)
{
    return (double)(long long)(v * 1000.0 + 0.5) / 1000.0;
}

/* {"cpu", "disk", "net"}: the kinds libvirt measures, and "mem_bw" where the platform
 * measures memory transfer (left out, not invented, elsewhere). */
static json_t *
measured_kinds(const double *v, bool mem_bw)
{
    json_t *o = json_pack("{s:f,s:f,s:f}", "cpu", round3(v[KIND_CPU]), "disk", round3(v[KIND_DISK]),
                          "net", round3(v[KIND_NET]));
    if (o != NULL && mem_bw)
        (void)json_object_set_new(o, "mem_bw", json_real(round3(v[KIND_MEM_BW])));
    return o;
}

/* What the agent knows of the domain with `uuid` (its arrival and moves), or NULL. */
static const struct lv_dom *
arrival_find(const struct agent *a, const char *uuid)
{
    for (size_t i = 0; i < a->n_arrivals; i++) {
        if (strcmp(a->arrivals[i].uuid, uuid) == 0)
            return &a->arrivals[i];
    }
    return NULL;
}

/* Add an arrival by migration at `t` to the moves of `r`, whose history was read. */
static void
add_move(struct lv_dom *r, double t)
{
    vm_moves_push(r->moves, &r->n_moves, t);
    r->moves_unsaved = true;
}

/* Read the moves of domain `name` from its metadata into `r`, once. A bad history counts as
 * none (logged once; the next move written here replaces it); a failed read is tried again at
 * the next sample, and an arrival seen meanwhile is added once it succeeds. */
static void
load_moves(struct agent *a, struct lv_dom *r, const char *name)
{
    char why[256] = "";
    double t[MODEL_MAX_VM_MOVES];
    uint32_t n = 0;
    int rc = lv_moves_read(&a->lv, r->uuid, t, &n, why, sizeof(why));
    if (rc < 0 && rc != -EINVAL) {
        if (!r->warned)
            log_warnx("cannot read the move history of vm=\"%s\" uuid=%s error=\"%s\"; trying "
                      "again at the next sample",
                      name, r->uuid, why);
        r->warned = true;
        return;
    }
    if (rc < 0) {
        log_warnx("bad move history in the metadata of vm=\"%s\" uuid=%s error=\"%s\"; no moves "
                  "known, ignoring",
                  name, r->uuid, why);
        n = 0;
    }
    if (n > 0)
        memcpy(r->moves, t, n * sizeof(*t));
    r->n_moves = n;
    r->moves_read = true;
    r->warned = false;
    if (r->unread_move > 0) {
        add_move(r, r->unread_move);
        r->unread_move = 0;
    }
}

/* Write the moves of domain `name` to its metadata; on failure they are written again at the
 * next sample (the samples carry them meanwhile). */
static void
save_moves(struct agent *a, struct lv_dom *r, const char *name)
{
    char why[256] = "";
    int rc = lv_moves_write(&a->lv, r->uuid, r->moves, r->n_moves, why, sizeof(why));
    if (rc < 0) {
        if (!r->warned)
            log_warnx("cannot write the move history of vm=\"%s\" uuid=%s error=\"%s\"; trying "
                      "again at the next sample",
                      name, r->uuid, why);
        r->warned = true;
        return;
    }
    if (r->warned)
        log_info("move history written vm=\"%s\" uuid=%s moves=%u", name, r->uuid, r->n_moves);
    else
        log_debug("move history written vm=\"%s\" uuid=%s moves=%u", name, r->uuid, r->n_moves);
    r->moves_unsaved = false;
    r->warned = false;
}

/* The record of domain `v`, added when it is new (*ret_first then true); NULL on OOM. */
static struct lv_dom *
arrival_get(struct agent *a, const struct lv_vm *v, double now, bool *ret_first)
{
    size_t i = 0;
    while (i < a->n_arrivals && strcmp(a->arrivals[i].uuid, v->uuid) != 0)
        i++;
    *ret_first = i == a->n_arrivals;
    if (i < a->n_arrivals)
        return &a->arrivals[i];
    struct lv_dom *n = realloc(a->arrivals, (a->n_arrivals + 1) * sizeof(*n));
    if (n == NULL)
        return NULL;
    a->arrivals = n;
    memset(&n[i], 0, sizeof(n[i]));
    (void)snprintf(n[i].uuid, sizeof(n[i].uuid), "%s", v->uuid);
    n[i].since = a->arrivals_known ? now : -1.0;
    a->n_arrivals++;
    return &n[i];
}

/* After a sample: note the domains that appeared (migrated in, or started) and forget those
 * gone. Those running at the agent's first sample have no known arrival. A new domain's moves
 * are read from its metadata; a domain that arrived by migration (lv_arrival_step():
 * libvirt's state and reason, see lv_record_arrival()) gets the time as a move, and
 * its metadata is written back, so the history goes on with it and outlives this agent. */
static void
note_arrivals(struct agent *a)
{
    double now = clock_wall_s();
    bool initial = !a->arrivals_known;
    for (size_t i = 0; i < a->n_arrivals; i++)
        a->arrivals[i].present = false;
    for (size_t j = 0; j < a->lv.n_vms; j++) {
        const struct lv_vm *v = &a->lv.vms[j];
        bool first;
        struct lv_dom *r = arrival_get(a, v, now, &first);
        if (r == NULL)
            continue; /* no cooldown or moves for it: it may move sooner, never lost */
        r->present = true;
        if (!r->moves_read)
            load_moves(a, r, v->name);
        bool arrived = lv_arrival_step(v->arrival, first, initial, &r->incoming);
        if (first && r->incoming)
            log_debug("domain appeared paused for an incoming migration vm=\"%s\" uuid=%s", v->name,
                      r->uuid);
        if (arrived) {
            r->since = now; /* its cooldown starts when it runs here, as a move counts */
            if (r->moves_read) {
                add_move(r, now);
                log_info("domain arrived by migration vm=\"%s\" uuid=%s moves=%u", v->name, r->uuid,
                         r->n_moves);
            } else {
                r->unread_move = now;
                log_info("domain arrived by migration vm=\"%s\" uuid=%s moves=unknown (added "
                         "once its history is read)",
                         v->name, r->uuid);
            }
        }
        if (r->moves_unsaved)
            save_moves(a, r, v->name);
    }
    size_t k = 0;
    for (size_t i = 0; i < a->n_arrivals; i++) {
        if (a->arrivals[i].present)
            a->arrivals[k++] = a->arrivals[i];
    }
    a->n_arrivals = k;
    a->arrivals_known = true;
}

json_t *
agent_lv_vms(struct agent *a)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < a->lv.n_vms && arr != NULL; i++) {
        const struct lv_vm *v = &a->lv.vms[i];
        const char *state = migrating(a, v->name) != NULL ? "migrating-out" : "running";
        const struct wire_vmdef *d = vm_settings(a, v->name);
        json_t *o = json_pack("{s:s,s:s,s:o,s:o,s:f,s:I,s:b,s:s,s:b}", "name", v->name, "uuid",
                              v->uuid, "usage", measured_kinds(v->usage, v->has_mem_bw), "demand",
                              measured_kinds(v->usage, v->has_mem_bw), "mem_mib", v->mem_mib,
                              "priority", (json_int_t)(d != NULL ? d->priority : 0), "pinned",
                              d != NULL && d->pinned, "state", state, "measured", v->measured);
        const struct lv_dom *r = arrival_find(a, v->uuid);
        uint32_t n_moves = r != NULL ? r->n_moves : 0;
        /* What holds it here (cooldown, storm guard), as with the simulated backend. */
        o = wire_vm_hold_json(o, &a->opts->policy, r != NULL ? r->since : -1.0,
                              r != NULL ? r->moves : NULL, n_moves, clock_wall_s());
        if (o != NULL && n_moves > 0 &&
            json_object_set_new(o, "moves", wire_moves_json(r->moves, n_moves)) < 0) {
            json_decref(o);
            o = NULL;
        }
        arr = agent_vm_append(a, arr, o);
    }
    return arr;
}

/* The kinds libvirt measures: cpu, disk and net, and mem_bw where the platform measures
 * memory transfer (left out, not invented, elsewhere). */
static uint8_t
measured_mask(bool mem_bw)
{
    return (uint8_t)(KIND_BIT(KIND_CPU) | KIND_BIT(KIND_DISK) | KIND_BIT(KIND_NET) |
                     (mem_bw ? KIND_BIT(KIND_MEM_BW) : 0));
}

/* The host and its domains now as a sample (demand is what they use: libvirt measures no
 * more). 0, or -ENOMEM. */
static int
sample_of(struct agent *a, double now, struct wire_sample *s)
{
    memset(s, 0, sizeof(*s));
    s->vms = calloc(a->lv.n_vms + 1, sizeof(*s->vms));
    s->moves = calloc(a->lv.n_vms * MODEL_MAX_VM_MOVES + 1, sizeof(*s->moves));
    if (s->vms == NULL || s->moves == NULL) {
        wire_sample_done(s);
        return -ENOMEM;
    }
    s->time = now;
    (void)snprintf(s->url, sizeof(s->url), "%s", a->url);
    (void)snprintf(s->name, sizeof(s->name), "%s", a->opts->name);
    s->capacity = a->opts->capacity;
    s->mem_mib = a->lv.host_mem_mib;
    s->usage[KIND_CPU] = a->lv.host_cpu;
    s->usage[KIND_MEM_BW] = a->lv.host_io[KIND_MEM_BW];
    s->usage[KIND_DISK] = a->lv.host_io[KIND_DISK];
    s->usage[KIND_NET] = a->lv.host_io[KIND_NET];
    s->usage_kinds = measured_mask(a->lv.mem_bw_seen);
    for (size_t i = 0; i < a->lv.n_vms; i++) {
        const struct lv_vm *v = &a->lv.vms[i];
        const struct wire_vmdef *d = vm_settings(a, v->name);
        const struct lv_dom *r = arrival_find(a, v->uuid);
        struct wire_sample_vm *o = &s->vms[s->n_vms++];
        (void)snprintf(o->name, sizeof(o->name), "%s", v->name);
        (void)snprintf(o->uuid, sizeof(o->uuid), "%.36s", v->uuid);
        memcpy(o->usage, v->usage, sizeof(o->usage));
        memcpy(o->demand, v->usage, sizeof(o->demand));
        o->usage_kinds = o->demand_kinds = measured_mask(v->has_mem_bw);
        o->mem_mib = v->mem_mib;
        o->priority = d != NULL ? d->priority : 0;
        o->pinned = d != NULL && d->pinned;
        o->migrating_out = migrating(a, v->name) != NULL;
        o->measured = v->measured ? 1 : 0;
        o->arrived = r != NULL ? r->since : -1.0;
        o->moves_first = (uint32_t)s->n_moves;
        if (r != NULL) {
            /* Its moves, for the storm guard of the manager and the peers. */
            o->n_moves = r->n_moves;
            memcpy(s->moves + s->n_moves, r->moves, r->n_moves * sizeof(*r->moves));
            s->n_moves += r->n_moves;
        }
    }
    return 0;
}

void
agent_lv_sample(struct agent *a)
{
    int r = lv_sample(&a->lv, mono_s());
    if (r < 0) {
        (void)snprintf(a->hv_error, sizeof(a->hv_error), "%s",
                       a->lv.error[0] != '\0' ? a->lv.error : strerror(-r));
        agent_sample_clear(a);
        return;
    }
    if (!a->lv.host_cpu_known) {
        /* Just (re)connected: rates need two readings; a host shown idle would draw VMs. */
        (void)snprintf(a->hv_error, sizeof(a->hv_error),
                       "first reading of the host's counters; rates after one interval");
        agent_sample_clear(a);
        return;
    }
    a->hv_error[0] = '\0';
    note_arrivals(a);
    double now = clock_wall_s();
    struct wire_sample s;
    if (sample_of(a, now, &s) < 0) {
        log_warnx("sample skipped: out of memory, ignoring");
        return;
    }
    s.seq = ++a->seq;
    a->sample_time = now;
    agent_sample_set(a, &s);
}

/* The libvirt URI other hosts use for this one: peer_uri, else uri when it names a host
 * ("qemu+tls://kvm-07/system"); "" when neither does (qemu:///system is local only). */
static const char *
peer_uri(const struct hv_libvirt_opts *o)
{
    if (o->peer_uri[0] != '\0')
        return o->peer_uri;
    const char *p = strstr(o->uri, "://");
    return p != NULL && p[3] != '/' && p[3] != '\0' ? o->uri : "";
}

json_t *
agent_lv_health(struct agent *a)
{
    const struct hv_libvirt_opts *o = &a->opts->libvirt;
    bool up = a->lv.connected;
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:f,s:I,s:I}", "uri", o->uri, "peer_uri", peer_uri(o),
                     "migration_address", o->migration_address, "state",
                     up ? "connected" : "disconnected", "error",
                     up ? json_null() : json_string(a->lv.error), "retry_in",
                     lv_retry_in(&a->lv, mono_s()), "cpus", (json_int_t)a->lv.ncpus,
                     "domains", (json_int_t)a->lv.n_vms);
}

/* ---- migrations -------------------------------------------------------------------------------
 */

static void
lv_finish(struct migration *m, bool ok, const char *error)
{
    struct agent *a = m->a;
    m->state = ok ? MIG_DONE : MIG_FAILED;
    mig_set_finished(m);
    if (m->timer != NULL)
        (void)event_del(m->timer);
    if (ok) {
        log_info("migration done id=%s vm=\"%s\" to=\"%s\" seconds=%.3f mib=%.0f", m->id, m->vm,
                 m->to_name, m->took_s, m->progress_mib);
    } else {
        (void)snprintf(m->error, sizeof(m->error), "%s", error);
        log_warnx("migration failed id=%s vm=\"%s\" to=\"%s\" error=\"%s\"; VM stays here", m->id,
                  m->vm, m->to_name, m->error);
    }
    if (m->lv != NULL) {
        lv_migrate_free(m->lv);
        m->lv = NULL;
    }
    agent_sample(a);
    agent_migration_ended(a, m);
}

/* Every second while it runs: its progress, and the time-out. */
static void
progress_cb(evutil_socket_t fd, short what, void *arg)
{
    struct migration *m = arg;
    struct agent *a = m->a;
    (void)fd;
    (void)what;
    if (m->state != MIG_RUNNING || m->lv == NULL)
        return;
    double processed;
    double total;
    double elapsed_ms;
    lv_migrate_progress(m->lv, &processed, &total, &elapsed_ms);
    if (total > 0) {
        m->progress_mib = processed;
        m->total_mib = total;
        log_debug("migration progress id=%s mib=%.0f of %.0f elapsed_ms=%.0f", m->id, processed,
                  total, elapsed_ms);
    }
    double limit = a->opts->libvirt.migrate_timeout_s;
    if (limit > 0 && clock_mono_s() - m->started_mono > limit) {
        /* Asked again every second: an abort can fail while the job is starting or in a
         * phase libvirt cannot interrupt. */
        if (!m->aborting)
            log_warnx("migration timed out id=%s vm=\"%s\" after %.0fs; asking libvirt to abort "
                      "it",
                      m->id, m->vm, limit);
        m->aborting = true;
        lv_migrate_abort(m->lv);
    }
    struct timeval tv = {1, 0};
    (void)event_add(m->timer, &tv);
}

/* The destination agent's answer: its libvirt as other hosts reach it. */
static void
dest_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct migration *m = arg;
    struct agent *a = m->a;
    m->in_flight = false;
    if (status != 200) {
        char why[300];
        (void)snprintf(why, sizeof(why), "destination agent not reachable: %s",
                       status == 0 ? err : "refused");
        lv_finish(m, false, why);
        return;
    }
    json_t *j = json_loadb(body, len, 0, NULL);
    json_t *lv = json_object_get(j, "libvirt");
    const char *uri = json_string_value(json_object_get(lv, "peer_uri"));
    const char *addr = json_string_value(json_object_get(lv, "migration_address"));
    char uri_c[512];
    char addr_c[256];
    (void)snprintf(uri_c, sizeof(uri_c), "%s", uri != NULL ? uri : "");
    (void)snprintf(addr_c, sizeof(addr_c), "%s", addr != NULL ? addr : "");
    json_decref(j);
    if (uri_c[0] == '\0') {
        lv_finish(m, false,
                  "the destination agent gives no libvirt URI for other hosts (it needs the "
                  "libvirt backend and [libvirt] peer_uri)");
        return;
    }
    int r = lv_migrate_start(&a->lv, m->vm, uri_c, addr_c, &m->lv);
    if (r < 0) {
        char why[300];
        (void)snprintf(why, sizeof(why), "libvirt did not start the migration: %s",
                       r == -ENOENT     ? "no such running domain"
                       : a->lv.error[0] ? a->lv.error
                                        : strerror(-r));
        lv_finish(m, false, why);
        return;
    }
    log_info("migration started id=%s vm=\"%s\" to=\"%s\" libvirt=%s address=%s", m->id, m->vm,
             m->to_name, uri_c, addr_c[0] != '\0' ? addr_c : "(libvirt's)");
    struct timeval tv = {1, 0};
    (void)event_add(m->timer, &tv);
}

int
agent_lv_migrate_start(struct agent *a, const struct wire_order *o, struct migration **ret_m)
{
    const struct lv_vm *v = NULL;
    for (size_t i = 0; i < a->lv.n_vms && v == NULL; i++) {
        if (strcmp(a->lv.vms[i].name, o->vm) == 0)
            v = &a->lv.vms[i];
    }
    if (v == NULL || !a->lv.connected)
        return -ENOENT;
    if (migrating(a, o->vm) != NULL)
        return -EBUSY;
    const struct wire_vmdef *d = vm_settings(a, o->vm);
    if (d != NULL && d->pinned)
        return -EPERM;
    int err = 0;
    struct migration *m = agent_migration_new(a, o, &err);
    if (m == NULL)
        return err;
    m->mem_mib = v->mem_mib;
    m->timer = evtimer_new(a->base, progress_cb, m);
    if (m->timer == NULL) {
        free(m);
        return -ENOMEM;
    }
    int r =
        http_request(a->client, m->to_url, "GET", "/v1/health", NULL, HTTP_TIMEOUT_S, dest_done, m);
    if (r < 0) {
        event_free(m->timer);
        free(m);
        return r;
    }
    m->in_flight = true;
    agent_migration_add(a, m);
    log_info("migration ordered id=%s vm=\"%s\" to=\"%s\" url=%s mem_mib=%.0f", m->id, m->vm,
             m->to_name, m->to_url, m->mem_mib);
    agent_sample(a);
    *ret_m = m;
    return 0;
}

/* libvirt's threads wrote to the wake-up pipe: a domain event, a lost connection, or a
 * migration's end. */
static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct agent *a = arg;
    (void)fd;
    (void)what;
    (void)lv_drain(&a->lv);
    for (size_t i = 0; i < a->n_migs; i++) {
        struct migration *m = a->migs[i];
        if (m->state != MIG_RUNNING || m->lv == NULL)
            continue;
        char error[256] = "";
        int s = lv_migrate_poll(m->lv, error, sizeof(error));
        if (s == 0)
            continue;
        if (s < 0 && m->aborting) {
            char why[300];
            (void)snprintf(why, sizeof(why), "timed out after %.0fs and aborted: %s",
                           a->opts->libvirt.migrate_timeout_s, error);
            lv_finish(m, false, why);
        } else {
            lv_finish(m, s > 0, error);
        }
    }
    /* A domain started, stopped or moved: the next sample shows it now. */
    agent_sample(a);
}

int
agent_lv_init(struct agent *a)
{
    char err[512];
    a->lv_started = true;
    /* Samples taken early (on an event) keep the rates of the last full interval. */
    struct hv_libvirt_opts lo = a->opts->libvirt;
    lo.min_dt_s = a->opts->interval_s * 0.5;
    if (lv_init(&a->lv, &lo, err, sizeof(err)) < 0) {
        log_errorx("libvirt backend: %s", err);
        return -1;
    }
    a->lv_wake_ev = event_new(a->base, a->lv.wake[0], EV_READ | EV_PERSIST, wake_cb, a);
    if (a->lv_wake_ev == NULL || event_add(a->lv_wake_ev, NULL) < 0) {
        log_errorx("out of memory");
        return -1;
    }
    return 0;
}

void
agent_lv_done(struct agent *a)
{
    if (a->lv_wake_ev != NULL)
        event_free(a->lv_wake_ev);
    a->lv_wake_ev = NULL;
    lv_done(&a->lv);
    free(a->arrivals);
    a->arrivals = NULL;
    a->n_arrivals = 0;
}

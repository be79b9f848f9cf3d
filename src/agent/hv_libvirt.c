/* The libvirt backend (hv_libvirt.h): samples of the host's real domains, and live migrations
 * run by libvirt.
 *
 * A sample lists every active domain with its measured usage (its demand is its usage: a
 * real VM asks for what it uses) and its memory; a domain that just appeared (or restarted,
 * or migrated in) is listed at 0 until its second sample gives it a rate. While libvirt is
 * not reachable there is no sample: GET /v1/sample answers 503 with libvirt's error, so a
 * collector counts the host as not answering (and marks it down after a few rounds), and
 * /v1/health tells the connection's state and when it is tried again.
 *
 * A migration asks the destination agent for its libvirt URI and migration address
 * (GET /v1/health), then starts libvirt's peer-to-peer live migration in a worker thread.
 * Every second its progress is read, and after the time-out libvirt is asked to abort it.
 * libvirt's own protocol keeps the VM on exactly one host: until the destination runs it,
 * it runs on the source; after a failure or an abort it still does. A call that failed is not
 * taken at its word, though (lv_mig.c's settle()): the job, in the source's libvirtd, may go
 * on without it.
 *
 * A domain's recent moves (the storm guard's history) live in its libvirt metadata
 * (lv_doms.c): read once when the backend first sees the domain, listed in every sample, and
 * extended and written back when the domain arrives by migration. */
#define _POSIX_C_SOURCE 200809L
#include "agent/hv_libvirt.h"

#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/lv_doms.h"
#include "agent/lv_reader.h"
#include "common/clock.h"
#include "common/log.h"

/* How long a sample waits for the reader (lv_reader.h): libvirt answers in milliseconds when
 * it is well; past this the loop goes on and the reading is served when it comes. */
#define LV_SAMPLE_WAIT_S 0.05
/* A reading under way for longer than this many intervals is libvirt not answering: the
 * agent then serves no sample (503), as when the connection is lost, rather than the last
 * one as if it were current. */
#define LV_STALE_INTERVALS 3.0
/* How long, in intervals since the loop last took a reading, a reading begun before a domain
 * event is dropped (lv_reader_refresh()). With readings of d seconds at interval I: a burst
 * of events makes the agent answer 503 (LV_STALE_INTERVALS) only when d is over 1.5 I; after
 * a single event, the sample waits for a reading begun after it when d is under 0.5 I
 * (libvirt's usual milliseconds), and may otherwise get the one that was under way. */
#define LV_EVENT_WAIT_INTERVALS 1.5

/* The backend's part of one migration. */
struct lv_job {
    struct hv_lv *hv;
    struct migration *m;
    hv_ended_fn done;
    void *arg;
    struct lv_mig *mig; /* the worker, NULL before it starts and after it ended */
    struct event *timer;
    bool in_flight;      /* the destination agent is being asked */
    bool aborting;       /* the time-out asked libvirt to abort it */
    char abort_why[160]; /* migrate_abort() asked, and why ("" not asked) */
};

struct hv_lv {
    struct hv base;
    struct hv_lv_opts o;
    struct hv_libvirt_opts lo; /* o.libvirt with the sampling's minimum interval */
    struct lv_reader *reader;  /* owns the connection; every reading runs there */
    struct lv_view view;       /* the latest reading the loop took */
    int wake_fd;               /* the read end of the reader's wake-up pipe */
    int wake_wr;               /* its write end, for the migrations' ends */
    struct event *wake_ev;     /* libvirt's events, readings and migrations' ends */
    bool deferred;             /* a sample waits for the reading under way */
    struct lv_job **jobs;      /* those running */
    size_t n_jobs;
    struct event_base *evbase;
    struct http_client *client;
    struct hv_events ev;
};

static struct hv_lv *
lv_of(struct hv *h)
{
    return (struct hv_lv *)h;
}

static double
mono_s(void)
{
    return (double)clock_now_us() / 1e6;
}

/* The operator's settings for domain `name` ([vm "NAME"]: priority, pinned), or NULL. */
static const struct wire_vmdef *
vm_settings(const struct hv_lv *hv, const char *name)
{
    for (size_t i = 0; i < hv->o.n_vms; i++) {
        if (strcmp(hv->o.vms[i].name, name) == 0)
            return &hv->o.vms[i];
    }
    return NULL;
}

/* A running migration of ours for VM `name`, or NULL. */
static struct lv_job *
migrating(const struct hv_lv *hv, const char *name)
{
    for (size_t i = 0; i < hv->n_jobs; i++) {
        if (strcmp(hv->jobs[i]->m->vm, name) == 0)
            return hv->jobs[i];
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

static uint8_t
measured_mask(bool mem_bw)
{
    return (uint8_t)(KIND_BIT(KIND_CPU) | KIND_BIT(KIND_DISK) | KIND_BIT(KIND_NET) |
                     (mem_bw ? KIND_BIT(KIND_MEM_BW) : 0));
}

static json_t *
lvb_vms(struct hv *h, double now)
{
    struct hv_lv *hv = lv_of(h);
    json_t *arr = json_array();
    for (size_t i = 0; i < hv->view.n_vms && arr != NULL; i++) {
        const struct lv_vm *v = &hv->view.vms[i];
        const char *state = migrating(hv, v->name) != NULL ? "migrating-out" : "running";
        const struct wire_vmdef *d = vm_settings(hv, v->name);
        json_t *o =
            json_pack("{s:s,s:s,s:o,s:o,s:f,s:I,s:b,s:s,s:b,s:s}", "name", v->name, "uuid", v->uuid,
                      "usage", measured_kinds(v->usage, v->has_mem_bw), "demand",
                      measured_kinds(v->usage, v->has_mem_bw), "mem_mib", v->mem_mib, "priority",
                      (json_int_t)(d != NULL ? d->priority : 0), "pinned", d != NULL && d->pinned,
                      "state", state, "measured", v->measured, "host", hv->o.name);
        if (o != NULL && v->has_cpu_wait &&
            json_object_set_new(o, "cpu_wait", json_real(round(v->cpu_wait * 1000.0) / 1000.0)) <
                0) {
            json_decref(o);
            o = NULL;
        }
        const struct lv_dom *r = lv_doms_find(&hv->view.doms, v->uuid);
        uint32_t n_moves = r != NULL ? r->n_moves : 0;
        /* What holds it here (cooldown, storm guard), as with the simulated backend. */
        o = wire_vm_hold_json(o, hv->o.policy, r != NULL ? r->since : -1.0,
                              r != NULL ? r->moves : NULL, n_moves, now);
        if (o != NULL && n_moves > 0 &&
            json_object_set_new(o, "moves", wire_moves_json(r->moves, n_moves)) < 0) {
            json_decref(o);
            o = NULL;
        }
        if (o == NULL || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

/* One domain into the sample `s` (room made). 0, or -ENOMEM. */
static int
sample_vm(const struct hv_lv *hv, const struct lv_vm *v, struct wire_sample *s)
{
    const struct wire_vmdef *d = vm_settings(hv, v->name);
    const struct lv_dom *r = lv_doms_find(&hv->view.doms, v->uuid);
    struct wire_sample_vm *o = &s->vms[s->n_vms++];
    (void)snprintf(o->name, sizeof(o->name), "%s", v->name);
    memcpy(o->usage, v->usage, sizeof(o->usage));
    memcpy(o->demand, v->usage, sizeof(o->demand));
    o->usage_kinds = o->demand_kinds = measured_mask(v->has_mem_bw);
    o->mem_mib = v->mem_mib;
    o->priority = d != NULL ? d->priority : 0;
    o->pinned = d != NULL && d->pinned;
    o->migrating_out = migrating(hv, v->name) != NULL;
    o->measured = v->measured ? 1 : 0;
    o->has_cpu_wait = v->has_cpu_wait;
    o->cpu_wait = v->has_cpu_wait ? v->cpu_wait : 0.0;
    o->arrived = r != NULL ? r->since : -1.0;
    o->moves_first = (uint32_t)s->n_moves;
    if (r != NULL) {
        /* Its moves, for the storm guard of the manager and the peers. */
        o->n_moves = r->n_moves;
        memcpy(s->moves + s->n_moves, r->moves, r->n_moves * sizeof(*r->moves));
        s->n_moves += r->n_moves;
    }
    return wire_vm_set_uuid(s, o, v->uuid, strnlen(v->uuid, WIRE_MAX_UUID));
}

/* The host and its domains now (demand is what they use: libvirt measures no more). */
static int
lvb_sample(struct hv *h, double now, struct wire_sample *s, char *why, size_t len)
{
    struct hv_lv *hv = lv_of(h);
    memset(s, 0, sizeof(*s));
    int r = lv_reader_take(hv->reader, LV_SAMPLE_WAIT_S, &hv->view);
    if (r == 0) {
        /* libvirt is slow to answer: the loop goes on, and the reading, once there, wakes it
         * (wake_cb()) to be served. */
        hv->deferred = true;
        double waited = lv_reader_waited(hv->reader);
        if (waited > LV_STALE_INTERVALS * hv->o.interval_s) {
            (void)snprintf(why, len, "libvirt has not answered for %.0f s", waited);
            return -EAGAIN;
        }
        (void)snprintf(why, len, "the libvirt reading is still under way");
        return -EINPROGRESS;
    }
    if (r < 0)
        return -ENOMEM;
    if (hv->view.rc < 0) {
        (void)snprintf(why, len, "%s",
                       hv->view.error[0] != '\0' ? hv->view.error : strerror(-hv->view.rc));
        return -EAGAIN;
    }
    if (!hv->view.host_cpu_known) {
        /* Just (re)connected: rates need two readings; a host shown idle would draw VMs. */
        (void)snprintf(why, len, "first reading of the host's counters; rates after one interval");
        return -EAGAIN;
    }
    s->vms = calloc(hv->view.n_vms + 1, sizeof(*s->vms));
    s->moves = calloc(hv->view.n_vms * MODEL_MAX_VM_MOVES + 1, sizeof(*s->moves));
    if (s->vms == NULL || s->moves == NULL) {
        wire_sample_done(s);
        return -ENOMEM;
    }
    s->time = now;
    (void)snprintf(s->name, sizeof(s->name), "%s", hv->o.name);
    s->capacity = hv->o.capacity;
    /* Domains left out for their names still hold their memory; at least 1 MiB stays, since
     * 0 would read as memory not known, and so not limiting. */
    s->mem_mib = hv->view.host_mem_mib - hv->view.left_out_mem_mib >= 1
                     ? hv->view.host_mem_mib - hv->view.left_out_mem_mib
                     : 1;
    s->usage[KIND_CPU] = hv->view.host_cpu;
    s->usage[KIND_MEM_BW] = hv->view.host_io[KIND_MEM_BW];
    s->usage[KIND_DISK] = hv->view.host_io[KIND_DISK];
    s->usage[KIND_NET] = hv->view.host_io[KIND_NET];
    s->usage_kinds = measured_mask(hv->view.mem_bw_seen);
    s->pressure = hv->view.pressure;
    for (size_t i = 0; i < hv->view.n_vms; i++) {
        if (sample_vm(hv, &hv->view.vms[i], s) < 0) {
            wire_sample_done(s);
            return -ENOMEM;
        }
    }
    return 0;
}

static size_t
lvb_n_vms(const struct hv *h)
{
    return ((const struct hv_lv *)h)->view.n_vms;
}

/* The libvirt URI other hosts use for this one: peer_uri, else uri when other hosts would open
 * it (hv_libvirt_peer_uri_check(): it names a host, "qemu+tls://kvm-07/system", and nothing
 * they refuse, which this agent's own connection may use); "" when neither (qemu:///system is
 * local only). `why` (`len` bytes, may be NULL) says why uri is not offered. */
static const char *
peer_uri(const struct hv_libvirt_opts *o, char *why, size_t len)
{
    if (o->peer_uri[0] != '\0')
        return o->peer_uri;
    char bad[160];
    if (hv_libvirt_peer_uri_check(o->uri, bad, sizeof(bad)) < 0) {
        if (why != NULL)
            (void)snprintf(why, len, "%s", bad);
        return "";
    }
    return o->uri;
}

/* Seconds until the reader tries to connect again (0 when connected). */
static double
retry_in(const struct hv_lv *hv)
{
    double now = mono_s();
    return hv->view.connected || hv->view.retry_at <= now ? 0 : hv->view.retry_at - now;
}

/* What other agents need to migrate VMs here, and the connection's state. */
static json_t *
lvb_health(struct hv *h)
{
    struct hv_lv *hv = lv_of(h);
    const struct hv_libvirt_opts *o = hv->o.libvirt;
    bool up = hv->view.connected;
    return json_pack("{s:s,s:s,s:s,s:s,s:o,s:f,s:I,s:I,s:I}", "uri", o->uri, "peer_uri",
                     peer_uri(o, NULL, 0), "migration_address", o->migration_address, "state",
                     up ? "connected" : "disconnected", "error",
                     up ? json_null() : json_string(hv->view.error), "retry_in", retry_in(hv),
                     "cpus", (json_int_t)hv->view.ncpus, "domains", (json_int_t)hv->view.n_vms,
                     "domains_left_out", (json_int_t)hv->view.left_out);
}

static void
lvb_metrics(struct hv *h, struct mtext *t)
{
    mtext_one(t, "vmloc_libvirt_connected", "gauge", "1 when libvirt is connected",
              lv_of(h)->view.connected ? 1 : 0);
}

/* ---- migrations ------------------------------------------------------------------------- */

static void
jobs_remove(struct hv_lv *hv, const struct lv_job *j)
{
    for (size_t i = 0; i < hv->n_jobs; i++) {
        if (hv->jobs[i] == j) {
            hv->jobs[i] = hv->jobs[--hv->n_jobs];
            return;
        }
    }
}

static void
finish(struct lv_job *j, bool ok, const char *error)
{
    struct migration *m = j->m;
    migration_finish(m, ok ? MIG_DONE : MIG_FAILED);
    if (j->timer != NULL)
        (void)event_del(j->timer);
    struct lv_job_stats st;
    if (ok && j->mig != NULL && lv_migrate_stats(j->mig, &st)) {
        m->downtime_ms = st.downtime_ms;
        m->transferred_mib = st.data_mib;
        m->total_ms = st.total_ms;
    }
    bool paused_here = false;
    const char *settled = ok && j->mig != NULL ? lv_migrate_settled(j->mig, &paused_here) : NULL;
    if (settled != NULL)
        log_warnx("migration settled: libvirt's call failed, but the VM has left this host "
                  "id=%s vm=\"%s\" to=\"%s\" libvirt_error=\"%s\"",
                  m->id, m->vm, m->to_name, settled);
    if (paused_here)
        log_warnx("migrated VM still paused here: libvirtd, restarted as the migration ended, "
                  "left a paused copy while the destination runs the VM; destroy it here "
                  "(virsh destroy), never resume it vm=\"%s\" to=\"%s\"",
                  m->vm, m->to_name);
    if (ok) {
        log_info("migration done id=%s vm=\"%s\" to=\"%s\" seconds=%.3f downtime_ms=%.0f "
                 "transferred_mib=%.1f total_ms=%.0f",
                 m->id, m->vm, m->to_name, m->took_s, m->downtime_ms, m->transferred_mib,
                 m->total_ms);
        if (m->downtime_ms < 0 && m->transferred_mib < 0 && m->total_ms < 0)
            log_warnx("libvirt gave no statistics of the completed migration id=%s", m->id);
    } else {
        (void)snprintf(m->error, sizeof(m->error), "%s", error);
        enum lv_failed_where w = j->mig != NULL ? lv_migrate_failed_where(j->mig) : LV_FAILED_HERE;
        log_warnx("migration failed id=%s vm=\"%s\" to=\"%s\" error=\"%s\"; %s", m->id, m->vm,
                  m->to_name, m->error,
                  w == LV_FAILED_LEFT      ? "the VM has left this host"
                  : w == LV_FAILED_UNKNOWN ? "where the VM is, its next samples say"
                  : w == LV_FAILED_PAUSED  ? "VM stays here, paused by libvirt: resume it (virsh "
                                             "resume), the destination does not have it"
                                           : "VM stays here");
    }
    if (j->mig != NULL) {
        lv_migrate_free(j->mig);
        j->mig = NULL;
    }
    jobs_remove(j->hv, j);
    j->hv->ev.changed(j->hv->ev.ctx);
    j->done(j->arg, m);
}

/* Every second while it runs: its progress, and the time-out. */
static void
progress_cb(evutil_socket_t fd, short what, void *arg)
{
    struct lv_job *j = arg;
    struct migration *m = j->m;
    (void)fd;
    (void)what;
    if (m->state != MIG_RUNNING || j->mig == NULL)
        return;
    double processed;
    double total;
    double elapsed_ms;
    lv_migrate_progress(j->mig, &processed, &total, &elapsed_ms);
    if (total > 0) {
        m->has_progress = true;
        m->progress_mib = processed;
        m->total_mib = total;
        log_debug("migration progress id=%s mib=%.0f of %.0f elapsed_ms=%.0f", m->id, processed,
                  total, elapsed_ms);
    }
    double limit = j->hv->o.libvirt->migrate_timeout_s;
    if (limit > 0 && clock_mono_s() - m->started_mono > limit) {
        /* Asked again every second: an abort can fail while the job is starting or in a
         * phase libvirt cannot interrupt. */
        if (!j->aborting)
            log_warnx("migration timed out id=%s vm=\"%s\" after %.0fs; asking libvirt to abort "
                      "it",
                      m->id, m->vm, limit);
        j->aborting = true;
        lv_migrate_abort(j->mig);
    } else if (j->abort_why[0] != '\0') {
        lv_migrate_abort(j->mig); /* asked again, as the time-out's */
    }
    struct timeval tv = {1, 0};
    (void)event_add(j->timer, &tv);
}

/* The destination agent's answer: its libvirt as other hosts reach it. */
static void
dest_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct lv_job *j = arg;
    struct hv_lv *hv = j->hv;
    struct migration *m = j->m;
    j->in_flight = false;
    if (j->abort_why[0] != '\0') {
        char why[300];
        (void)snprintf(why, sizeof(why), "aborted before libvirt started it: %s", j->abort_why);
        finish(j, false, why);
        return;
    }
    if (status != 200) {
        char why[300];
        (void)snprintf(why, sizeof(why), "destination agent not reachable: %s",
                       status == 0 ? err : "refused");
        finish(j, false, why);
        return;
    }
    json_t *o = json_loadb(body, len, 0, NULL);
    json_t *lv = json_object_get(o, "libvirt");
    const char *uri = json_string_value(json_object_get(lv, "peer_uri"));
    const char *addr = json_string_value(json_object_get(lv, "migration_address"));
    char uri_c[512];
    char addr_c[256];
    bool too_long = (uri != NULL && strlen(uri) >= sizeof(uri_c)) ||
                    (addr != NULL && strlen(addr) >= sizeof(addr_c));
    (void)snprintf(uri_c, sizeof(uri_c), "%.511s", uri != NULL ? uri : "");
    (void)snprintf(addr_c, sizeof(addr_c), "%.255s", addr != NULL ? addr : "");
    json_decref(o);
    if (too_long) {
        finish(j, false, "the destination agent's libvirt URI or migration address is too long");
        return;
    }
    if (uri_c[0] == '\0') {
        finish(j, false,
               "the destination agent gives no libvirt URI for other hosts (it needs the libvirt "
               "backend and [libvirt] peer_uri)");
        return;
    }
    char bad[160];
    if (hv_libvirt_peer_uri_check(uri_c, bad, sizeof(bad)) < 0) {
        char why[300];
        (void)snprintf(why, sizeof(why), "the destination agent's libvirt URI is refused: %s", bad);
        finish(j, false, why);
        return;
    }
    if (hv_libvirt_address_check(addr_c, bad, sizeof(bad)) < 0) {
        char why[300];
        (void)snprintf(why, sizeof(why), "the destination agent's migration address is refused: %s",
                       bad);
        finish(j, false, why);
        return;
    }
    int r = lv_migrate_start(lv_reader_conn(hv->reader), &hv->lo, hv->wake_wr, m->vm, uri_c, addr_c,
                             &j->mig);
    if (r < 0) {
        char why[300];
        (void)snprintf(why, sizeof(why), "libvirt did not start the migration: %s",
                       r == -EIO && hv->view.error[0] ? hv->view.error : strerror(-r));
        finish(j, false, why);
        return;
    }
    log_info("migration started id=%s vm=\"%s\" to=\"%s\" libvirt=%s address=%s", m->id, m->vm,
             m->to_name, uri_c, addr_c[0] != '\0' ? addr_c : "(libvirt's)");
    struct timeval tv = {1, 0};
    (void)event_add(j->timer, &tv);
}

static int
lvb_migrate_check(struct hv *h, const char *vm, double *ret_mem_mib)
{
    struct hv_lv *hv = lv_of(h);
    const struct lv_vm *v = NULL;
    for (size_t i = 0; i < hv->view.n_vms && v == NULL; i++) {
        if (strcmp(hv->view.vms[i].name, vm) == 0)
            v = &hv->view.vms[i];
    }
    if (v == NULL || !hv->view.connected)
        return -ENOENT;
    if (migrating(hv, vm) != NULL)
        return -EBUSY;
    const struct wire_vmdef *d = vm_settings(hv, vm);
    if (d != NULL && d->pinned)
        return -EPERM;
    *ret_mem_mib = v->mem_mib;
    return 0;
}

static int
lvb_migrate_start(struct hv *h, struct migration *m, hv_ended_fn done, void *arg)
{
    struct hv_lv *hv = lv_of(h);
    struct lv_job **jobs = realloc(hv->jobs, (hv->n_jobs + 1) * sizeof(struct lv_job *));
    if (jobs == NULL)
        return -ENOMEM;
    hv->jobs = jobs;
    struct lv_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return -ENOMEM;
    j->hv = hv;
    j->m = m;
    j->done = done;
    j->arg = arg;
    j->timer = evtimer_new(hv->evbase, progress_cb, j);
    int r = j->timer != NULL ? http_request(hv->client, m->to_url, "GET", "/v1/health", NULL,
                                            HTTP_TIMEOUT_S, dest_done, j)
                             : -ENOMEM;
    if (r < 0) {
        if (j->timer != NULL)
            event_free(j->timer);
        free(j);
        return r;
    }
    j->in_flight = true;
    m->job = j;
    hv->jobs[hv->n_jobs++] = j;
    log_info("migration ordered id=%s vm=\"%s\" to=\"%s\" url=%s mem_mib=%.0f", m->id, m->vm,
             m->to_name, m->to_url, m->mem_mib);
    hv->ev.changed(hv->ev.ctx);
    return 0;
}

static int
lvb_migrate_abort(struct hv *h, struct migration *m, const char *why)
{
    struct lv_job *j = m->job;
    (void)h;
    if (j == NULL || m->state != MIG_RUNNING)
        return -EALREADY;
    if (j->abort_why[0] == '\0')
        (void)snprintf(j->abort_why, sizeof(j->abort_why), "%s", why);
    log_warnx("%s id=%s vm=\"%s\" reason=\"%s\"",
              j->mig != NULL ? "asking libvirt to abort the migration"
                             : "not starting the migration",
              m->id, m->vm, j->abort_why);
    /* Before libvirt started it, dest_done() does not start it. */
    if (j->mig != NULL)
        lv_migrate_abort(j->mig);
    return 0;
}

static int
lvb_migrate_hold(const struct hv *h, const struct migration *m)
{
    const struct lv_job *j = m->job;
    (void)h;
    return m->state == MIG_RUNNING || (j != NULL && j->in_flight) ? 2 : 0;
}

static void
lvb_migrate_release(struct hv *h, struct migration *m)
{
    struct lv_job *j = m->job;
    if (j == NULL)
        return;
    if (j->mig != NULL) {
        /* Still running at exit (a running record is released at no other time): every
         * running job is asked to abort before this one's worker is awaited, so that N jobs
         * take about one wait of lv_migrate_free(), not N in a row. */
        struct hv_lv *hv = lv_of(h);
        for (size_t i = 0; i < hv->n_jobs; i++) {
            char scratch[256];
            struct lv_mig *other = hv->jobs[i]->mig;
            if (other != NULL && lv_migrate_poll(other, scratch, sizeof(scratch)) == 0)
                lv_migrate_abort(other);
        }
        (void)lv_migrate_poll(j->mig, m->error, sizeof(m->error));
        lv_migrate_free(j->mig);
    }
    if (j->timer != NULL)
        event_free(j->timer);
    jobs_remove(lv_of(h), j);
    free(j);
    m->job = NULL;
}

/* libvirt's threads wrote to the wake-up pipe: a domain event, a lost connection, or a
 * migration's end. */
static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct hv_lv *hv = arg;
    (void)fd;
    (void)what;
    unsigned woke = lv_drain(hv->wake_fd);
    /* A reading begun before a change would show the host as it was (a migrated VM still
     * here as a plain running one): refreshed before an ended migration is finished, since
     * finish() samples at once, and a sample waits for a reading begun after this (strictly
     * for a migration's end; lv_reader.h). A job may end before its 'm' reaches the pipe:
     * its end refreshes too. */
    bool refreshed = (woke & LV_WOKE_OTHER) != 0;
    if (refreshed)
        lv_reader_refresh(hv->reader, false);
    for (size_t i = 0; i < hv->n_jobs;) {
        struct lv_job *j = hv->jobs[i];
        char error[256] = "";
        int s = j->mig != NULL ? lv_migrate_poll(j->mig, error, sizeof(error)) : 0;
        if (s == 0) {
            i++;
            continue;
        }
        /* Before each: another job may end while the one before is finished. */
        lv_reader_refresh(hv->reader, true);
        refreshed = true;
        if (s < 0 && j->aborting) {
            char why[300];
            (void)snprintf(why, sizeof(why), "timed out after %.0fs and aborted: %s",
                           hv->o.libvirt->migrate_timeout_s, error);
            finish(j, false, why);
        } else if (s < 0 && j->abort_why[0] != '\0') {
            char why[400];
            (void)snprintf(why, sizeof(why), "aborted (%s): %s", j->abort_why, error);
            finish(j, false, why);
        } else {
            finish(j, s > 0, error);
        }
        /* finish() took it out of the list: the next one is at `i` now. */
    }
    /* A domain started, stopped or moved, or the reading a sample waited for came: the next
     * sample shows it now. A reading nobody waits for (the one a sample took in time) asks
     * for nothing: sampling again would ask for a reading that, done, wakes the loop again,
     * without end. */
    if (refreshed) {
        hv->deferred = false;
        hv->ev.changed(hv->ev.ctx);
    } else if ((woke & LV_WOKE_READING) != 0 && hv->deferred) {
        hv->deferred = false;
        hv->ev.changed(hv->ev.ctx);
    }
}

static void
lvb_free(struct hv *h)
{
    struct hv_lv *hv = lv_of(h);
    if (hv->wake_ev != NULL)
        event_free(hv->wake_ev);
    lv_reader_stop(hv->reader);
    lv_view_done(&hv->view);
    free(hv->jobs);
    free(hv);
}

static const struct hv_ops lv_ops = {
    .name = "libvirt",
    .free = lvb_free,
    .sample = lvb_sample,
    .vms = lvb_vms,
    .n_vms = lvb_n_vms,
    .health = lvb_health,
    .metrics = lvb_metrics,
    .migrate_check = lvb_migrate_check,
    .migrate_start = lvb_migrate_start,
    .migrate_abort = lvb_migrate_abort,
    .migrate_hold = lvb_migrate_hold,
    .migrate_release = lvb_migrate_release,
};

int
hv_libvirt_new(const struct hv_lv_opts *o, struct event_base *base, struct http_client *client,
               const struct hv_events *ev, struct hv **ret)
{
    struct hv_lv *hv = calloc(1, sizeof(*hv));
    if (hv == NULL) {
        log_errorx("out of memory");
        return -ENOMEM;
    }
    hv->base.ops = &lv_ops;
    hv->o = *o;
    hv->evbase = base;
    hv->client = client;
    hv->ev = *ev;
    /* Samples taken early (on an event) keep the rates of the last full interval. */
    hv->lo = *o->libvirt;
    hv->lo.min_dt_s = o->interval_s * 0.5;
    char err[512];
    if (peer_uri(&hv->lo, err, sizeof(err))[0] == '\0')
        log_warnx("libvirt backend: this host receives no migrations: no [libvirt] peer_uri, and "
                  "uri=%s is not offered to other hosts in its place: %s",
                  hv->lo.uri, err);
    struct lv_conn lv;
    if (lv_init(&lv, &hv->lo, err, sizeof(err)) < 0) {
        log_errorx("libvirt backend: %s", err);
        lv_done(&lv);
        lvb_free(&hv->base);
        return -EIO;
    }
    int r = lv_reader_start(&lv, LV_EVENT_WAIT_INTERVALS * o->interval_s, &hv->reader);
    if (r < 0) {
        log_errorx("libvirt backend: the reader thread did not start: %s", strerror(-r));
        lv_done(&lv);
        lvb_free(&hv->base);
        return r;
    }
    /* The reader owns the connection now; the loop keeps the pipe's ends, to watch and to
     * give the migrations. */
    hv->wake_fd = lv.wake[0];
    hv->wake_wr = lv.wake[1];
    hv->wake_ev = event_new(base, hv->wake_fd, EV_READ | EV_PERSIST, wake_cb, hv);
    if (hv->wake_ev == NULL || event_add(hv->wake_ev, NULL) < 0) {
        log_errorx("out of memory");
        lvb_free(&hv->base);
        return -ENOMEM;
    }
    *ret = &hv->base;
    return 0;
}

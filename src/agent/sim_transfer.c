/* Moving a VM from this simulated host to another simulated agent: the source's side of the
 * reservation protocol (sim_arrival.h has the destination's).
 *
 * The source is the authority on where the VM runs until the destination confirms it runs
 * there; the protocol has three steps, each answered over HTTP:
 *
 *   1. reserve  source -> POST /v1/incoming {id, from, vm}: the destination checks memory
 *               and holds 10% of the VM's demand; the VM keeps running on the source, 10%
 *               slower, while its memory is copied (mem_mib / bandwidth seconds);
 *   2. commit   source -> POST /v1/incoming/ID/commit {final demand}: the destination runs
 *               the VM; on 200 the source removes its copy: done;
 *   3. abort    on any failure before the commit is sent the source keeps the VM running
 *               and tells the destination to drop its reservation (best effort; a
 *               reservation that is never committed expires on its own).
 *
 * Once the commit is sent, only the destination can say whether it runs the VM. If the
 * commit gets no answer, the source asks (GET /v1/incoming/ID) and, while the reservation
 * stands, withdraws it (POST .../abort) and lets that answer decide: 409 means the commit got
 * there first. Until some answer comes the VM keeps running here, marked leaving, and the
 * source asks again every RESOLVE_RETRY_S. A destination that no longer knows the id (404:
 * it lost its state, or forgot the record long after) is asked for its VMs: the VM moved if
 * it runs (or leaves) there, else it resumes here. The source never resumes on a time-out,
 * which is what would put the VM on two hosts.
 *
 *   4. settle   source -> POST /v1/incoming/ID/settled, once the source knows the VM moved
 *               (retried with a back-off until answered): the destination may now forget the
 *               record.
 *
 * The completed job's figures follow a simple pre-copy model: the memory is sent once while
 * the VM runs, then the VM pauses while the last round, the pages it dirtied meanwhile
 * (SIM_DIRTY_SHARE of its memory), is sent at the same bandwidth. Downtime is that last
 * round's time, the data sent the memory plus that round, the total time the migration's. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/sim.h"
#include "common/clock.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "net/loop.h"

/* How often the source asks again about a commit that got no answer. */
#define RESOLVE_RETRY_S 2
/* Telling the destination that an arrival is settled: again after 5 s, doubling to 10 min. */
#define SETTLE_RETRY_FIRST_S 5
#define SETTLE_RETRY_LAST_S 600

/* This side's part of one migration. */
struct sim_job {
    struct hv_sim *hv;
    struct migration *m;
    hv_ended_fn done;
    void *arg;
    struct event *timer;
    bool in_flight;        /* an HTTP request for it is outstanding */
    bool resolving;        /* a commit got no answer: asking until the destination answers */
    bool commit_sent;      /* the commit went out (saved before it did) */
    bool settled;          /* done: the destination was told its record may go */
    unsigned settle_tries; /* done: tellings that got no answer */
    char abort_why[160];   /* an abort asked while the reservation was under way */
};

static struct sim_job *
job_of(const struct migration *m)
{
    return m->job;
}

static void abort_done(void *arg, int status, const char *body, size_t len, const char *err);

/* End as failed: the VM runs on here as before; tell the destination to drop its reservation
 * unless `tell` is false. */
static void fail(struct sim_job *j, bool tell, const char *fmt, ...) PRINTF_LIKE(3, 4);

static void
fail(struct sim_job *j, bool tell, const char *fmt, ...)
{
    struct migration *m = j->m;
    struct hv_sim *hv = j->hv;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(m->error, sizeof(m->error), fmt, ap);
    va_end(ap);
    migration_finish(m, MIG_FAILED);
    m->unknown_since = 0;
    if (simhost_set_state(&hv->host, m->vm, SIMVM_RUNNING) < 0)
        log_warnx("migration failed and VM is gone vm=\"%s\" id=%s", m->vm, m->id);
    log_warnx("migration failed id=%s vm=\"%s\" to=\"%s\" error=\"%s\"; VM stays here", m->id,
              m->vm, m->to_name, m->error);
    if (tell) {
        char path[128];
        (void)snprintf(path, sizeof(path), "/v1/incoming/%s/abort", m->id);
        if (http_request(hv->client, m->to_url, "POST", path, NULL, HTTP_TIMEOUT_S, abort_done,
                         NULL) < 0)
            log_warnx("abort not sent id=%s, the reservation will expire", m->id);
    }
    hv->ev.changed(hv->ev.ctx);
    j->done(j->arg, m);
}

static void
abort_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    (void)arg;
    (void)body;
    (void)len;
    if (status == 0)
        log_warnx("abort got no answer error=\"%s\"; the reservation will expire", err);
}

static void settle(struct sim_job *j);

/* The share of a VM's memory its last pre-copy round sends, with the VM paused. */
#define SIM_DIRTY_SHARE (1.0 / 64.0)

/* The figures of the completed job (the model in the header comment). */
static void
model_stats(const struct hv_sim *hv, struct migration *m)
{
    double last_mib = m->mem_mib * SIM_DIRTY_SHARE;
    double bw = hv->o.bandwidth_mib_s;
    m->downtime_ms = bw > 0 ? last_mib / bw * 1000.0 : 0.0;
    m->transferred_mib = m->mem_mib + last_mib;
    m->total_ms = m->took_s * 1000.0;
}

static void
succeed(struct sim_job *j)
{
    struct migration *m = j->m;
    struct hv_sim *hv = j->hv;
    if (simhost_remove(&hv->host, m->vm) < 0)
        log_warnx("migrated VM already gone here vm=\"%s\" id=%s", m->vm, m->id);
    migration_finish(m, MIG_DONE);
    model_stats(hv, m);
    m->unknown_since = 0;
    log_info("migration done id=%s vm=\"%s\" to=\"%s\" seconds=%.3f downtime_ms=%.0f "
             "transferred_mib=%.1f total_ms=%.0f",
             m->id, m->vm, m->to_name, m->took_s, m->downtime_ms, m->transferred_mib, m->total_ms);
    hv->ev.changed(hv->ev.ctx);
    j->done(j->arg, m);
    settle(j);
}

static void
settle_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct sim_job *j = arg;
    (void)body;
    (void)len;
    j->in_flight = false;
    if (status == 200 || status == 404 || status == 409) {
        /* 404: it has no such record (it restarted without its state, or never heard of this
         * step); 409: nothing to settle. Either way nothing is left to tell. */
        j->settled = true;
        (void)j->hv->ev.save(j->hv->ev.ctx);
        return;
    }
    unsigned n = j->settle_tries < 7 ? j->settle_tries : 7;
    j->settle_tries++;
    long wait = (long)SETTLE_RETRY_FIRST_S << n;
    if (wait > SETTLE_RETRY_LAST_S)
        wait = SETTLE_RETRY_LAST_S;
    if (j->settle_tries == 1 || wait == SETTLE_RETRY_LAST_S)
        log_warnx("destination not told that arrival id=%s is settled (%s); again in %lds",
                  j->m->id, status == 0 ? err : "an error answer", wait);
    struct timeval tv = {wait, 0};
    if (event_add(j->timer, &tv) < 0)
        log_warnx("cannot schedule telling the destination id=%s, ignoring", j->m->id);
}

/* Tell the destination it may forget the arrival: this host knows the VM moved. Only once
 * that is on disk: a source that restarted from an older file would ask the destination
 * again, and must not find the arrival forgotten. */
static void
settle(struct sim_job *j)
{
    if (j->settled || j->in_flight)
        return;
    if (j->hv->ev.save(j->hv->ev.ctx) < 0) {
        settle_done(j, 0, NULL, 0, "this host's state is not saved yet");
        return;
    }
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/incoming/%s/settled", j->m->id);
    j->in_flight = true;
    if (http_request(j->hv->client, j->m->to_url, "POST", path, NULL, 5.0, settle_done, j) < 0)
        settle_done(j, 0, NULL, 0, "request not sent");
}

static void resolve(struct sim_job *j);

/* Ask again later: the outcome of the commit is unknown, so the VM stays where it is,
 * marked leaving, until the destination answers. */
static void
resolve_later(struct sim_job *j)
{
    if (!j->resolving)
        j->m->unknown_since = clock_mono_s();
    j->resolving = true;
    struct timeval tv = {RESOLVE_RETRY_S, 0};
    if (event_add(j->timer, &tv) < 0)
        log_warnx("cannot schedule the retry id=%s, ignoring", j->m->id);
}

static void
resolve_abort_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct sim_job *j = arg;
    (void)body;
    (void)len;
    (void)err;
    j->in_flight = false;
    if (status == 200 || status == 404)
        fail(j, false, "commit not applied; the destination dropped its reservation");
    else if (status == 409)
        succeed(j); /* the commit got there first: the VM runs on the destination */
    else
        resolve_later(j);
}

/* The destination's sample, asked when it no longer knows the arrival: the VM it runs (or
 * moves on) arrived, a commit being the only way it starts there. No usable sample: ask again
 * later, never guess. */
static void
resolve_sample_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct sim_job *j = arg;
    (void)err;
    j->in_flight = false;
    struct wire_sample s;
    struct perr perr;
    if (status != 200 || wire_sample_decode(body, len, &s, &perr) < 0) {
        resolve_later(j);
        return;
    }
    bool there = false;
    for (size_t i = 0; i < s.n_vms; i++)
        there |= !s.vms[i].incoming && strcmp(s.vms[i].name, j->m->vm) == 0;
    wire_sample_done(&s);
    if (there) {
        log_warnx("destination forgot arrival id=%s but runs vm=\"%s\": it moved", j->m->id,
                  j->m->vm);
        succeed(j);
    } else {
        /* Restarted without its state, or never committed: it cannot be running there. */
        fail(j, false, "the destination no longer knows the migration and does not run the VM");
    }
}

/* A request about `j` to its destination; on failure to send, ask again later. */
static void
ask(struct sim_job *j, const char *method, const char *path, double timeout_s, http_done_fn done)
{
    j->in_flight = true;
    if (http_request(j->hv->client, j->m->to_url, method, path, NULL, timeout_s, done, j) < 0) {
        j->in_flight = false;
        resolve_later(j);
    }
}

static void
resolve_query_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct sim_job *j = arg;
    (void)err;
    j->in_flight = false;
    if (status == 404) {
        /* The record is gone (a restart without state, or forgotten after long): whether the
         * VM runs there decides. */
        ask(j, "GET", "/v1/sample", 5.0, resolve_sample_done);
        return;
    }
    if (status != 200) {
        resolve_later(j);
        return;
    }
    json_t *o = json_loadb(body, len, 0, NULL);
    const char *st = json_string_value(json_object_get(o, "state"));
    bool committed = st != NULL && strcmp(st, "committed") == 0;
    bool aborted = st != NULL && strcmp(st, "aborted") == 0;
    json_decref(o);
    if (committed) {
        succeed(j);
        return;
    }
    if (aborted) {
        fail(j, false, "the destination dropped its reservation");
        return;
    }
    /* Still reserved: withdraw it, and let the destination's answer to that decide, since a
     * commit still on its way could land first. */
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/incoming/%s/abort", j->m->id);
    ask(j, "POST", path, 2.0, resolve_abort_done);
}

/* Find out whether an unanswered commit was applied. Never guesses: until the destination
 * answers, the VM keeps running here (marked leaving) and nowhere else can start it, because
 * the destination only runs it on that very commit. */
static void
resolve(struct sim_job *j)
{
    if (!j->resolving) {
        log_warnx("commit got no answer id=%s vm=\"%s\"; the VM stays here, leaving, until "
                  "the destination says whether it runs it",
                  j->m->id, j->m->vm);
        j->m->unknown_since = clock_mono_s();
    }
    j->resolving = true;
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/incoming/%s", j->m->id);
    ask(j, "GET", path, 2.0, resolve_query_done);
}

static void
commit_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct sim_job *j = arg;
    (void)len;
    (void)err;
    j->in_flight = false;
    if (status == 200) {
        failpoint("source-after-commit"); /* the VM runs on the destination; not recorded */
        succeed(j);
        return;
    }
    if (status == 0) {
        resolve(j);
        return;
    }
    /* An answer other than 200 means the destination did not run it. */
    fail(j, status != 404 && status != 409, "destination refused the commit: %d %.160s", status,
         body);
}

static void
send_commit(struct sim_job *j)
{
    struct hv_sim *hv = j->hv;
    struct migration *m = j->m;
    long i = simhost_find(&hv->host, m->vm);
    if (i < 0) {
        fail(j, true, "VM disappeared during the transfer");
        return;
    }
    json_t *o = json_object();
    for (unsigned k = 0; k < KIND_COUNT && o != NULL; k++)
        (void)json_object_set_new(o, kind_name((enum kind)k), json_real(hv->host.vms[i].demand[k]));
    char *body = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    /* On disk before it goes out: after a crash from here on, only the destination knows
     * whether the VM moved. */
    j->commit_sent = true;
    if (hv->ev.save(hv->ev.ctx) < 0) {
        j->commit_sent = false;
        free(body);
        fail(j, true, "cannot save this host's state before the commit");
        return;
    }
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/incoming/%s/commit", m->id);
    j->in_flight = true;
    int r = body != NULL
                ? http_request(hv->client, m->to_url, "POST", path, body, 5.0, commit_done, j)
                : -ENOMEM;
    free(body);
    if (r < 0) {
        j->in_flight = false;
        fail(j, true, "cannot send the commit: %s", strerror(-r));
    }
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct sim_job *j = arg;
    (void)fd;
    (void)what;
    if (j->m->state == MIG_DONE)
        settle(j);
    else if (j->resolving)
        resolve(j);
    else
        send_commit(j);
}

static void
reserve_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct sim_job *j = arg;
    (void)len;
    j->in_flight = false;
    if (j->abort_why[0] != '\0') {
        /* Asked to stop meanwhile: a reservation made is withdrawn. */
        fail(j, status == 0 || status == 200 || status == 201, "aborted: %s", j->abort_why);
        return;
    }
    if (status == 0) {
        /* The reservation may have been made: withdraw it (an unknown id just gets 404). */
        fail(j, true, "destination unreachable: %s", err);
        return;
    }
    if (status != 201 && status != 200) {
        fail(j, false, "destination refused: %d %.160s", status, body);
        return;
    }
    struct timeval tv = loop_tv(j->m->transfer_s);
    if (event_add(j->timer, &tv) < 0)
        fail(j, true, "cannot start the transfer timer");
}

/* The reservation's body: the VM with what it asks for. Its moves go with it (the destination
 * adds its arrival, and whoever decides next sees the whole history: the storm guard); its
 * demand is in percent of this host, so the capacity lets a destination of another size
 * rescale it. NULL on OOM. */
static char *
reserve_body(const struct hv_sim *hv, const struct migration *m, const struct simvm *v)
{
    json_t *o =
        json_pack("{s:s,s:s,s:f,s:f,s:{s:s,s:{s:f,s:f,s:f,s:f},s:f,s:I,s:b,s:o}}", "id", m->id,
                  "from", hv->o.name, "transfer_s", m->transfer_s, "capacity", hv->host.capacity,
                  "vm", "name", v->name, "demand", "cpu", v->demand[KIND_CPU], "mem_bw",
                  v->demand[KIND_MEM_BW], "disk", v->demand[KIND_DISK], "net", v->demand[KIND_NET],
                  "mem_mib", v->mem_mib, "priority", (json_int_t)v->priority, "pinned", v->pinned,
                  "moves", wire_moves_json(v->moves, v->n_moves));
    if (o != NULL && v->trace[0] != '\0') {
        json_t *jv = json_object_get(o, "vm");
        if (json_object_set_new(jv, "trace", json_string(v->trace)) < 0 ||
            json_object_set_new(jv, "mips", json_real(v->mips)) < 0 ||
            json_object_set_new(jv, "cores", json_integer(v->cores)) < 0) {
            json_decref(o);
            o = NULL;
        }
    }
    char *body = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return body;
}

static struct sim_job *
job_new(struct hv_sim *hv, struct migration *m, hv_ended_fn done, void *arg)
{
    struct sim_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    j->hv = hv;
    j->m = m;
    j->done = done;
    j->arg = arg;
    j->timer = evtimer_new(hv->evbase, timer_cb, j);
    if (j->timer == NULL) {
        free(j);
        return NULL;
    }
    return j;
}

int
sim_transfer_start(struct hv_sim *hv, struct migration *m, hv_ended_fn done, void *arg)
{
    long i = simhost_find(&hv->host, m->vm);
    if (i < 0)
        return -ENOENT;
    const struct simvm *v = &hv->host.vms[i];
    m->transfer_s = hv->o.bandwidth_mib_s > 0 ? v->mem_mib / hv->o.bandwidth_mib_s : 0.0;
    struct sim_job *j = job_new(hv, m, done, arg);
    char *body = j != NULL ? reserve_body(hv, m, v) : NULL;
    int r = body != NULL ? http_request(hv->client, m->to_url, "POST", "/v1/incoming", body, 5.0,
                                        reserve_done, j)
                         : -ENOMEM;
    free(body);
    if (r < 0) {
        if (j != NULL)
            event_free(j->timer);
        free(j);
        return r;
    }
    j->in_flight = true;
    m->job = j;
    if (simhost_set_state(&hv->host, m->vm, SIMVM_MIGRATING_OUT) < 0)
        log_warnx("VM vanished while its migration started vm=\"%s\"", m->vm);
    log_info("migration started id=%s vm=\"%s\" to=\"%s\" url=%s transfer=%.3fs", m->id, m->vm,
             m->to_name, m->to_url, m->transfer_s);
    hv->ev.changed(hv->ev.ctx);
    return 0;
}

int
sim_job_restore(struct hv_sim *hv, struct migration *m, bool commit_sent, bool settled)
{
    struct sim_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return -ENOMEM;
    j->hv = hv;
    j->m = m;
    j->commit_sent = commit_sent;
    j->settled = settled;
    m->job = j;
    return 0;
}

void
sim_job_flags(const struct migration *m, bool *ret_commit_sent, bool *ret_settled)
{
    const struct sim_job *j = job_of(m);
    *ret_commit_sent = j != NULL && j->commit_sent;
    *ret_settled = j != NULL && j->settled;
}

int
sim_transfer_resume(struct hv_sim *hv, struct migration *m, hv_ended_fn done, void *arg)
{
    struct sim_job *j = job_of(m);
    if (j == NULL && sim_job_restore(hv, m, true, false) < 0)
        return -ENOMEM;
    j = job_of(m);
    j->done = done;
    j->arg = arg;
    j->timer = evtimer_new(hv->evbase, timer_cb, j);
    if (j->timer == NULL)
        return -ENOMEM;
    if (m->state == MIG_DONE && !j->settled) {
        /* Not yet told: soon, spread over the first seconds (a restart may find many). */
        struct timeval tv = loop_tv((double)(rand() % (SETTLE_RETRY_FIRST_S * 1000)) / 1000.0);
        if (event_add(j->timer, &tv) < 0)
            log_warnx("cannot schedule telling the destination id=%s, ignoring", m->id);
    }
    if (m->state != MIG_RUNNING)
        return 0;
    if (!j->commit_sent) {
        /* The destination cannot run the VM without the commit: it stays here. */
        fail(j, true, "this agent restarted during the transfer, before the commit");
        return 0;
    }
    log_warnx("migration was being committed when this agent stopped id=%s vm=\"%s\" to=\"%s\"; "
              "asking the destination whether it runs the VM",
              m->id, m->vm, m->to_name);
    if (simhost_set_state(&hv->host, m->vm, SIMVM_MIGRATING_OUT) < 0)
        log_warnx("restored migration has no VM here id=%s vm=\"%s\"", m->id, m->vm);
    resolve(j);
    return 0;
}

int
sim_transfer_abort(struct migration *m, const char *why)
{
    struct sim_job *j = job_of(m);
    if (j == NULL || m->state != MIG_RUNNING)
        return -EALREADY;
    if (j->commit_sent || j->resolving)
        return -EBUSY;
    if (j->in_flight) {
        (void)snprintf(j->abort_why, sizeof(j->abort_why), "%s", why);
        return 0; /* at the reservation's answer */
    }
    /* Copying: the transfer's timer has not fired (it sends the commit). */
    (void)event_del(j->timer);
    fail(j, true, "aborted: %s", why);
    return 0;
}

int
sim_transfer_hold(const struct migration *m)
{
    const struct sim_job *j = job_of(m);
    if (m->state == MIG_RUNNING || (j != NULL && j->in_flight))
        return 2;
    /* A done migration whose destination has not yet been told it is settled goes last. */
    return m->state == MIG_DONE && (j == NULL || !j->settled) ? 1 : 0;
}

void
sim_transfer_release(struct migration *m)
{
    struct sim_job *j = job_of(m);
    if (j == NULL)
        return;
    if (j->timer != NULL)
        event_free(j->timer);
    free(j);
    m->job = NULL;
}

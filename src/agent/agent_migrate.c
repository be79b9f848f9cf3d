/* Moving a VM between two agents with the simulated backend.
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
 *               record. It keeps the last AGENT_MAX_HISTORY arrivals and forgets aborted and
 *               settled ones first; it never forgets a committed arrival its source has not
 *               settled, since that source may be down and ask for it when it comes back (an
 *               unknown id would make it resume the VM). A destination whose history is full
 *               of those refuses new arrivals (503) until their sources settle them. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "common/clock.h"
#include "common/failpoint.h"
#include "common/log.h"

/* How often the source asks again about a commit that got no answer. */
#define RESOLVE_RETRY_S 2
/* Telling the destination that an arrival is settled: again after 5 s, doubling to 10 min. */
#define SETTLE_RETRY_FIRST_S 5
#define SETTLE_RETRY_LAST_S 600

const char *
mig_state_name(enum mig_state s)
{
    switch (s) {
    case MIG_DONE:
        return "done";
    case MIG_FAILED:
        return "failed";
    case MIG_RUNNING:
        break;
    }
    return "running";
}

struct migration *
agent_migration_find(struct agent *a, const char *id)
{
    for (size_t i = 0; i < a->n_migs; i++) {
        if (strcmp(a->migs[i]->id, id) == 0)
            return a->migs[i];
    }
    return NULL;
}

struct incoming *
agent_incoming_find(struct agent *a, const char *id)
{
    for (size_t i = 0; i < a->n_ins; i++) {
        if (strcmp(a->ins[i]->id, id) == 0)
            return a->ins[i];
    }
    return NULL;
}

static void
migration_free(struct migration *m)
{
    if (m->timer != NULL)
        event_free(m->timer);
    if (m->lv != NULL) {
        /* Still running at exit: libvirt is asked to abort, then the worker is awaited. */
        if (lv_migrate_poll(m->lv, m->error, sizeof(m->error)) == 0)
            lv_migrate_abort(m->lv);
        lv_migrate_free(m->lv);
    }
    free(m);
}

static void
incoming_free(struct incoming *in)
{
    if (in->expiry != NULL)
        event_free(in->expiry);
    free(in);
}

void
agent_migrate_done(struct agent *a)
{
    for (size_t i = 0; i < a->n_migs; i++)
        migration_free(a->migs[i]);
    for (size_t i = 0; i < a->n_ins; i++)
        incoming_free(a->ins[i]);
    a->n_migs = 0;
    a->n_ins = 0;
}

/* Make room in the history by forgetting the oldest finished record. false: all busy. */
static bool
make_room_migs(struct agent *a)
{
    if (a->n_migs < AGENT_MAX_HISTORY)
        return true;
    /* A done migration whose destination has not yet been told it is settled goes last. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < a->n_migs; i++) {
            struct migration *m = a->migs[i];
            if (m->state == MIG_RUNNING || m->in_flight ||
                (pass == 0 && m->state == MIG_DONE && !m->settled &&
                 a->opts->backend != AGENT_BACKEND_LIBVIRT))
                continue;
            if (pass == 1 && m->state == MIG_DONE && !m->settled &&
                a->opts->backend != AGENT_BACKEND_LIBVIRT)
                log_warnx("forgetting migration id=%s before its destination was told it is "
                          "settled; the destination keeps the arrival longer",
                          m->id);
            migration_free(m);
            memmove(&a->migs[i], &a->migs[i + 1], (a->n_migs - i - 1) * sizeof(a->migs[0]));
            a->n_migs--;
            return true;
        }
    }
    return false;
}

/* Forget the oldest aborted or settled arrival, else the oldest committed one whose source
 * has not settled it for AGENT_UNSETTLED_KEEP_S (a source gone for good, or one that does not
 * settle). false: every record is still needed. */
static bool
make_room_ins(struct agent *a)
{
    if (a->n_ins < AGENT_MAX_HISTORY)
        return true;
    double now = clock_wall_s();
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < a->n_ins; i++) {
            struct incoming *in = a->ins[i];
            bool done = in->state == IN_ABORTED || (in->state == IN_COMMITTED && in->settled);
            bool stale = in->state == IN_COMMITTED && now - in->since > AGENT_UNSETTLED_KEEP_S;
            if (!(pass == 0 ? done : stale))
                continue;
            if (pass == 1)
                log_warnx("forgetting arrival id=%s vm=\"%s\" from=\"%s\": its source has not "
                          "settled it in %.0f h; if that source comes back it will not find it",
                          in->id, in->vm, in->from, AGENT_UNSETTLED_KEEP_S / 3600.0);
            incoming_free(in);
            memmove(&a->ins[i], &a->ins[i + 1], (a->n_ins - i - 1) * sizeof(a->ins[0]));
            a->n_ins--;
            return true;
        }
    }
    return false;
}

char *
agent_migration_json(const struct migration *m)
{
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:f,s:o,s:o,s:f,s:f}", "id", m->id, "vm", m->vm,
                          "from", m->a->opts->name, "to", m->to_name, "to_url", m->to_url, "state",
                          mig_state_name(m->state), "started", m->started, "finished",
                          m->state == MIG_RUNNING ? json_null() : json_real(m->finished), "error",
                          m->error[0] != '\0' ? json_string(m->error) : json_null(), "mem_mib",
                          m->mem_mib, "transfer_s", m->transfer_s);
    if (j != NULL && m->a->opts->backend == AGENT_BACKEND_LIBVIRT)
        (void)json_object_update_new(
            j, json_pack("{s:f,s:f}", "progress_mib", m->progress_mib, "total_mib", m->total_mib));
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return s;
}

char *
agent_migrations_json(struct agent *a)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < a->n_migs && arr != NULL; i++) {
        char *s = agent_migration_json(a->migs[i]);
        json_t *o = s != NULL ? json_loads(s, 0, NULL) : NULL;
        free(s);
        if (o == NULL || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    char *out = arr != NULL ? json_dumps(arr, JSON_COMPACT) : NULL;
    json_decref(arr);
    return out;
}

/* End migration `m` as failed: the VM runs on here as before; tell the destination to drop
 * its reservation unless `tell` is false. */
static void mig_fail(struct migration *m, bool tell, const char *fmt, ...) PRINTF_LIKE(3, 4);

static void abort_done(void *arg, int status, const char *body, size_t len, const char *err);

static void
mig_fail(struct migration *m, bool tell, const char *fmt, ...)
{
    struct agent *a = m->a;
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(m->error, sizeof(m->error), fmt, ap);
    va_end(ap);
    m->state = MIG_FAILED;
    mig_set_finished(m);
    if (simhost_set_state(&a->hv, m->vm, SIMVM_RUNNING) < 0)
        log_warnx("migration failed and VM is gone vm=\"%s\" id=%s", m->vm, m->id);
    log_warnx("migration failed id=%s vm=\"%s\" to=\"%s\" error=\"%s\"; VM stays here", m->id,
              m->vm, m->to_name, m->error);
    if (tell) {
        char path[128];
        (void)snprintf(path, sizeof(path), "/v1/incoming/%s/abort", m->id);
        if (http_request(a->client, m->to_url, "POST", path, NULL, HTTP_TIMEOUT_S, abort_done,
                         NULL) < 0)
            log_warnx("abort not sent id=%s, the reservation will expire", m->id);
    }
    agent_sample(a);
    agent_migration_ended(a, m);
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

static void settle(struct migration *m);

void
mig_set_finished(struct migration *m)
{
    m->finished = clock_wall_s();
    m->took_s = clock_mono_s() - m->started_mono;
}

static void
mig_succeed(struct migration *m)
{
    struct agent *a = m->a;
    if (simhost_remove(&a->hv, m->vm) < 0)
        log_warnx("migrated VM already gone here vm=\"%s\" id=%s", m->vm, m->id);
    m->state = MIG_DONE;
    mig_set_finished(m);
    log_info("migration done id=%s vm=\"%s\" to=\"%s\" seconds=%.3f", m->id, m->vm, m->to_name,
             m->took_s);
    agent_sample(a);
    agent_migration_ended(a, m);
    settle(m);
}

static void
settle_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct migration *m = arg;
    (void)body;
    (void)len;
    m->in_flight = false;
    if (status == 200 || status == 404 || status == 409) {
        /* 404: it has no such record (it restarted without its state, or never heard of this
         * step); 409: nothing to settle. Either way nothing is left to tell. */
        m->settled = true;
        (void)agent_state_save(m->a);
        return;
    }
    unsigned n = m->settle_tries < 7 ? m->settle_tries : 7;
    m->settle_tries++;
    long wait = (long)SETTLE_RETRY_FIRST_S << n;
    if (wait > SETTLE_RETRY_LAST_S)
        wait = SETTLE_RETRY_LAST_S;
    if (m->settle_tries == 1 || wait == SETTLE_RETRY_LAST_S)
        log_warnx("destination not told that arrival id=%s is settled (%s); again in %lds", m->id,
                  status == 0 ? err : "an error answer", wait);
    struct timeval tv = {wait, 0};
    if (event_add(m->timer, &tv) < 0)
        log_warnx("cannot schedule telling the destination id=%s, ignoring", m->id);
}

/* Tell the destination it may forget the arrival: this host knows the VM moved. Only once
 * that is on disk: a source that restarted from an older file would ask the destination
 * again, and must not find the arrival forgotten. */
static void
settle(struct migration *m)
{
    if (m->settled || m->in_flight || m->a->opts->backend == AGENT_BACKEND_LIBVIRT)
        return;
    if (agent_state_save(m->a) < 0) {
        settle_done(m, 0, NULL, 0, "this host's state is not saved yet");
        return;
    }
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/incoming/%s/settled", m->id);
    m->in_flight = true;
    if (http_request(m->a->client, m->to_url, "POST", path, NULL, 5.0, settle_done, m) < 0)
        settle_done(m, 0, NULL, 0, "request not sent");
}

static void resolve(struct migration *m);

/* Ask again later: the outcome of the commit is unknown, so the VM stays where it is,
 * marked leaving, until the destination answers. */
static void
resolve_later(struct migration *m)
{
    if (!m->resolving)
        m->resolving_since = clock_mono_s();
    m->resolving = true;
    struct timeval tv = {RESOLVE_RETRY_S, 0};
    if (event_add(m->timer, &tv) < 0)
        log_warnx("cannot schedule the retry id=%s, ignoring", m->id);
}

static void
resolve_abort_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct migration *m = arg;
    (void)body;
    (void)len;
    (void)err;
    m->in_flight = false;
    if (status == 200 || status == 404) {
        mig_fail(m, false, "commit not applied; the destination dropped its reservation");
    } else if (status == 409) {
        mig_succeed(m); /* the commit got there first: the VM runs on the destination */
    } else {
        resolve_later(m);
    }
}

/* The destination's sample, asked when it no longer knows the arrival: the VM it runs (or
 * moves on) arrived, a commit being the only way it starts there. No usable sample: ask again
 * later, never guess. */
static void
resolve_sample_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct migration *m = arg;
    (void)err;
    m->in_flight = false;
    struct wire_sample s;
    struct perr perr;
    if (status != 200 || wire_sample_decode(body, len, &s, &perr) < 0) {
        resolve_later(m);
        return;
    }
    bool there = false;
    for (size_t i = 0; i < s.n_vms; i++)
        there |= !s.vms[i].incoming && strcmp(s.vms[i].name, m->vm) == 0;
    wire_sample_done(&s);
    if (there) {
        log_warnx("destination forgot arrival id=%s but runs vm=\"%s\": it moved", m->id, m->vm);
        mig_succeed(m);
    } else {
        /* Restarted without its state, or never committed: it cannot be running there. */
        mig_fail(m, false, "the destination no longer knows the migration and does not run the VM");
    }
}

static void
resolve_query_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct migration *m = arg;
    (void)err;
    m->in_flight = false;
    if (status == 404) {
        /* The record is gone (a restart without state, or forgotten after long): whether the
         * VM runs there decides. */
        m->in_flight = true;
        if (http_request(m->a->client, m->to_url, "GET", "/v1/sample", NULL, 5.0,
                         resolve_sample_done, m) < 0) {
            m->in_flight = false;
            resolve_later(m);
        }
        return;
    }
    if (status != 200) {
        resolve_later(m);
        return;
    }
    json_t *j = json_loadb(body, len, 0, NULL);
    const char *st = json_string_value(json_object_get(j, "state"));
    int state = st == NULL                     ? -1
                : strcmp(st, "committed") == 0 ? 1
                : strcmp(st, "aborted") == 0   ? 2
                                               : 0;
    json_decref(j);
    if (state == 1) {
        mig_succeed(m);
        return;
    }
    if (state == 2) {
        mig_fail(m, false, "the destination dropped its reservation");
        return;
    }
    /* Still reserved: withdraw it, and let the destination's answer to that decide, since a
     * commit still on its way could land first. */
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/incoming/%s/abort", m->id);
    m->in_flight = true;
    if (http_request(m->a->client, m->to_url, "POST", path, NULL, 2.0, resolve_abort_done, m) < 0) {
        m->in_flight = false;
        resolve_later(m);
    }
}

/* Find out whether an unanswered commit was applied. Never guesses: until the destination
 * answers, the VM keeps running here (marked leaving) and nowhere else can start it, because
 * the destination only runs it on that very commit. */
static void
resolve(struct migration *m)
{
    if (!m->resolving) {
        log_warnx("commit got no answer id=%s vm=\"%s\"; the VM stays here, leaving, until "
                  "the destination says whether it runs it",
                  m->id, m->vm);
        m->resolving_since = clock_mono_s();
    }
    m->resolving = true;
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/incoming/%s", m->id);
    m->in_flight = true;
    if (http_request(m->a->client, m->to_url, "GET", path, NULL, 2.0, resolve_query_done, m) < 0) {
        m->in_flight = false;
        resolve_later(m);
    }
}

static void
commit_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct migration *m = arg;
    (void)len;
    (void)err;
    m->in_flight = false;
    if (status == 200) {
        failpoint("source-after-commit"); /* the VM runs on the destination; not recorded */
        mig_succeed(m);
        return;
    }
    if (status == 0) {
        resolve(m);
        return;
    }
    /* An answer other than 200 means the destination did not run it. */
    mig_fail(m, status != 404 && status != 409, "destination refused the commit: %d %.160s", status,
             body);
}

static void
send_commit(struct migration *m)
{
    struct agent *a = m->a;
    long i = simhost_find(&a->hv, m->vm);
    if (i < 0) {
        mig_fail(m, true, "VM disappeared during the transfer");
        return;
    }
    json_t *j = json_object();
    for (unsigned k = 0; k < KIND_COUNT && j != NULL; k++)
        (void)json_object_set_new(j, kind_name((enum kind)k), json_real(a->hv.vms[i].demand[k]));
    char *body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    /* On disk before it goes out: after a crash from here on, only the destination knows
     * whether the VM moved. */
    m->commit_sent = true;
    if (agent_state_save(a) < 0) {
        m->commit_sent = false;
        free(body);
        mig_fail(m, true, "cannot save this host's state before the commit");
        return;
    }
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/incoming/%s/commit", m->id);
    m->in_flight = true;
    int r = body != NULL
                ? http_request(a->client, m->to_url, "POST", path, body, 5.0, commit_done, m)
                : -ENOMEM;
    free(body);
    if (r < 0) {
        m->in_flight = false;
        mig_fail(m, true, "cannot send the commit: %s", strerror(-r));
    }
}

static void
transfer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct migration *m = arg;
    (void)fd;
    (void)what;
    if (m->state == MIG_DONE)
        settle(m);
    else if (m->resolving)
        resolve(m);
    else
        send_commit(m);
}

int
agent_migration_resume(struct migration *m)
{
    m->timer = evtimer_new(m->a->base, transfer_cb, m);
    if (m->timer == NULL)
        return -ENOMEM;
    if (m->state == MIG_DONE && !m->settled && m->a->opts->backend != AGENT_BACKEND_LIBVIRT) {
        /* Not yet told: soon, spread over the first seconds (a restart may find many). */
        struct timeval tv = {0, (suseconds_t)(rand() % (SETTLE_RETRY_FIRST_S * 1000)) * 1000};
        tv.tv_sec = tv.tv_usec / 1000000;
        tv.tv_usec %= 1000000;
        if (event_add(m->timer, &tv) < 0)
            log_warnx("cannot schedule telling the destination id=%s, ignoring", m->id);
    }
    if (m->state != MIG_RUNNING)
        return 0;
    if (!m->commit_sent) {
        /* The destination cannot run the VM without the commit: it stays here. */
        mig_fail(m, true, "this agent restarted during the transfer, before the commit");
        return 0;
    }
    log_warnx("migration was being committed when this agent stopped id=%s vm=\"%s\" to=\"%s\"; "
              "asking the destination whether it runs the VM",
              m->id, m->vm, m->to_name);
    if (simhost_set_state(&m->a->hv, m->vm, SIMVM_MIGRATING_OUT) < 0)
        log_warnx("restored migration has no VM here id=%s vm=\"%s\"", m->id, m->vm);
    resolve(m);
    return 0;
}

static void
reserve_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct migration *m = arg;
    (void)len;
    m->in_flight = false;
    if (status == 0) {
        /* The reservation may have been made: withdraw it (an unknown id just gets 404). */
        mig_fail(m, true, "destination unreachable: %s", err);
        return;
    }
    if (status != 201 && status != 200) {
        mig_fail(m, false, "destination refused: %d %.160s", status, body);
        return;
    }
    struct timeval tv;
    tv.tv_sec = (time_t)m->transfer_s;
    tv.tv_usec = (suseconds_t)((m->transfer_s - (double)tv.tv_sec) * 1e6);
    if (event_add(m->timer, &tv) < 0)
        mig_fail(m, true, "cannot start the transfer timer");
}

/* FNV-1a of a host name: part of the ids this agent makes, so that two agents deciding in
 * the same millisecond (peer mode) never make the same id. */
static unsigned
name_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 16777619u;
    }
    return h;
}

struct migration *
agent_migration_new(struct agent *a, const struct wire_order *o, int *ret_err)
{
    char id[WIRE_MAX_ID + 1];
    if (o->id[0] != '\0')
        (void)snprintf(id, sizeof(id), "%s", o->id);
    else
        (void)snprintf(id, sizeof(id), "m%llu-%08x-%llu",
                       (unsigned long long)(clock_wall_s() * 1000), name_hash(a->opts->name),
                       (unsigned long long)++a->next_id);
    if (!make_room_migs(a)) {
        *ret_err = -EBUSY;
        return NULL;
    }
    struct migration *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        *ret_err = -ENOMEM;
        return NULL;
    }
    m->a = a;
    (void)snprintf(m->id, sizeof(m->id), "%s", id);
    (void)snprintf(m->vm, sizeof(m->vm), "%s", o->vm);
    (void)snprintf(m->to_url, sizeof(m->to_url), "%s", o->to);
    (void)snprintf(m->to_name, sizeof(m->to_name), "%s", o->to_name[0] ? o->to_name : o->to);
    m->state = MIG_RUNNING;
    m->started = clock_wall_s();
    m->started_mono = clock_mono_s();
    return m;
}

void
agent_migration_add(struct agent *a, struct migration *m)
{
    a->migs[a->n_migs++] = m;
}

int
agent_migrate_start(struct agent *a, const struct wire_order *o, struct migration **ret_m)
{
    /* The id first: an order resent by a manager that restarted is the same order, whatever
     * state its VM is in now. */
    if (o->id[0] != '\0' && agent_migration_find(a, o->id) != NULL)
        return -EEXIST;
    if (a->opts->backend == AGENT_BACKEND_LIBVIRT)
        return agent_lv_migrate_start(a, o, ret_m);
    failpoint("source-on-order"); /* the order arrived; nothing done or answered yet */
    long i = simhost_find(&a->hv, o->vm);
    if (i < 0)
        return -ENOENT;
    const struct simvm *v = &a->hv.vms[i];
    if (v->state != SIMVM_RUNNING)
        return -EBUSY;
    if (v->pinned)
        return -EPERM;
    int err = 0;
    struct migration *m = agent_migration_new(a, o, &err);
    if (m == NULL)
        return err;
    m->mem_mib = v->mem_mib;
    m->transfer_s = a->opts->bandwidth_mib_s > 0 ? v->mem_mib / a->opts->bandwidth_mib_s : 0.0;
    m->timer = evtimer_new(a->base, transfer_cb, m);
    /* The VM's moves go with it: the destination adds its arrival, and whoever decides next
     * sees the whole history (the storm guard). Its demand is in percent of this host: the
     * capacity lets a destination of another size rescale it. */
    json_t *j =
        json_pack("{s:s,s:s,s:f,s:f,s:{s:s,s:{s:f,s:f,s:f,s:f},s:f,s:I,s:b,s:o}}", "id", m->id,
                  "from", a->opts->name, "transfer_s", m->transfer_s, "capacity", a->hv.capacity,
                  "vm", "name", v->name, "demand", "cpu", v->demand[KIND_CPU], "mem_bw",
                  v->demand[KIND_MEM_BW], "disk", v->demand[KIND_DISK], "net", v->demand[KIND_NET],
                  "mem_mib", v->mem_mib, "priority", (json_int_t)v->priority, "pinned", v->pinned,
                  "moves", wire_moves_json(v->moves, v->n_moves));
    if (j != NULL && v->trace[0] != '\0') {
        json_t *jv = json_object_get(j, "vm");
        if (json_object_set_new(jv, "trace", json_string(v->trace)) < 0 ||
            json_object_set_new(jv, "mips", json_real(v->mips)) < 0 ||
            json_object_set_new(jv, "cores", json_integer(v->cores)) < 0) {
            json_decref(j);
            j = NULL;
        }
    }
    char *body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (m->timer == NULL || body == NULL) {
        free(body);
        migration_free(m);
        return -ENOMEM;
    }
    int r = http_request(a->client, m->to_url, "POST", "/v1/incoming", body, 5.0, reserve_done, m);
    free(body);
    if (r < 0) {
        migration_free(m);
        return r;
    }
    m->in_flight = true;
    agent_migration_add(a, m);
    if (simhost_set_state(&a->hv, m->vm, SIMVM_MIGRATING_OUT) < 0)
        log_warnx("VM vanished while its migration started vm=\"%s\"", m->vm);
    log_info("migration started id=%s vm=\"%s\" to=\"%s\" url=%s transfer=%.3fs", m->id, m->vm,
             m->to_name, m->to_url, m->transfer_s);
    agent_sample(a);
    *ret_m = m;
    return 0;
}

void
agent_incoming_expiry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct incoming *in = arg;
    (void)fd;
    (void)what;
    if (in->state != IN_RESERVED)
        return;
    in->state = IN_ABORTED;
    if (simhost_remove(&in->a->hv, in->vm) < 0)
        log_warnx("expired arrival already gone vm=\"%s\"", in->vm);
    log_warnx("arrival expired without commit id=%s vm=\"%s\" from=\"%s\"", in->id, in->vm,
              in->from);
    agent_sample(in->a);
}

int
agent_incoming_reserve(struct agent *a, const struct wire_incoming *w, char *msg, size_t len)
{
    failpoint("dest-on-reserve"); /* asked to reserve; nothing done or answered yet */
    struct incoming *old = agent_incoming_find(a, w->id);
    if (old != NULL) {
        if (old->state == IN_RESERVED && strcmp(old->vm, w->vm.name) == 0)
            return 200; /* a retried request */
        (void)snprintf(msg, len, "arrival \"%s\" exists", w->id);
        return 409;
    }
    const char *holder = agent_lock_holder(a, NULL);
    if (a->opts->mode == AGENT_MODE_PEER && (holder == NULL || strcmp(holder, w->from) != 0)) {
        /* Peer mode: one migration at a time, the one of the lock's holder. */
        (void)snprintf(msg, len,
                       "host \"%s\" takes VMs only from the holder of its lock, not "
                       "from \"%s\"",
                       a->opts->name, w->from);
        return 409;
    }
    if (simhost_find(&a->hv, w->vm.name) >= 0) {
        (void)snprintf(msg, len, "a VM named \"%s\" is already on host \"%s\"", w->vm.name,
                       a->opts->name);
        return 409;
    }
    if (a->hv.n_vms >= AGENT_MAX_VMS) {
        (void)snprintf(msg, len, "too many VMs on host \"%s\"", a->opts->name);
        return 409;
    }
    long trace_vm = w->vm.trace[0] != '\0' ? hv_trace_find(&a->trace, w->vm.trace) : -1;
    if (w->vm.trace[0] != '\0' && trace_vm < 0) {
        (void)snprintf(msg, len,
                       "host \"%s\" cannot run VM \"%s\": its demand follows trace file \"%s\", "
                       "which this host's [sim] trace does not have",
                       a->opts->name, w->vm.name, w->vm.trace);
        return 409;
    }
    if (!make_room_ins(a)) {
        log_warnx("arrival refused id=%s: the last %d arrivals still wait for their sources to "
                  "settle them",
                  w->id, AGENT_MAX_HISTORY);
        (void)snprintf(msg, len,
                       "host \"%s\" still keeps %d arrivals that their sources have not settled",
                       a->opts->name, AGENT_MAX_HISTORY);
        return 503;
    }
    struct incoming *in = calloc(1, sizeof(*in));
    if (in == NULL) {
        (void)snprintf(msg, len, "out of memory");
        return 503;
    }
    in->a = a;
    (void)snprintf(in->id, sizeof(in->id), "%s", w->id);
    (void)snprintf(in->vm, sizeof(in->vm), "%s", w->vm.name);
    (void)snprintf(in->from, sizeof(in->from), "%s", w->from);
    in->state = IN_RESERVED;
    in->since = clock_wall_s();
    in->transfer_s = w->transfer_s;
    in->scale = w->capacity > 0 ? w->capacity / a->hv.capacity : 1.0;
    in->expiry = evtimer_new(a->base, agent_incoming_expiry_cb, in);
    struct simvm v;
    memset(&v, 0, sizeof(v));
    (void)snprintf(v.name, sizeof(v.name), "%s", w->vm.name);
    /* In percent of the source: the same load in percent of this host (at most all of it). */
    for (unsigned k = 0; k < KIND_COUNT; k++)
        v.demand[k] = fmin(100.0, w->vm.demand[k] * in->scale);
    v.trace_vm = trace_vm;
    if (trace_vm >= 0) {
        (void)snprintf(v.trace, sizeof(v.trace), "%s", w->vm.trace);
        v.mips = w->vm.mips;
        v.cores = w->vm.cores;
        hv_trace_demand(&a->trace, (size_t)trace_vm, v.mips, v.cores, clock_wall_s(), v.demand);
    }
    v.mem_mib = w->vm.mem_mib;
    v.priority = w->vm.priority;
    v.pinned = w->vm.pinned;
    v.arrived = -1.0;
    memcpy(v.moves, w->vm.moves, sizeof(v.moves));
    v.n_moves = w->vm.n_moves;
    v.state = SIMVM_INCOMING;
    int r = in->expiry != NULL ? simhost_add(&a->hv, &v) : -ENOMEM;
    if (r < 0) {
        incoming_free(in);
        if (r == -ENOSPC) {
            (void)snprintf(msg, len, "not enough memory on host \"%s\" for %.0f MiB", a->opts->name,
                           w->vm.mem_mib);
            return 409;
        }
        (void)snprintf(msg, len, "cannot accept the VM: %s", strerror(-r));
        return r == -ENOMEM ? 503 : 409;
    }
    /* The reservation outlives the copy the source announced, with a margin. */
    struct timeval tv = {AGENT_INCOMING_EXPIRY_S + (time_t)w->transfer_s, 0};
    (void)event_add(in->expiry, &tv);
    a->ins[a->n_ins++] = in;
    log_info("arrival reserved id=%s vm=\"%s\" from=\"%s\" mem_mib=%.0f", in->id, in->vm, in->from,
             v.mem_mib);
    agent_sample(a);
    return 201;
}

int
agent_incoming_commit(struct agent *a, const char *id, const struct wire_load *final, char *msg,
                      size_t len)
{
    struct incoming *in = agent_incoming_find(a, id);
    if (in == NULL) {
        (void)snprintf(msg, len, "no arrival \"%s\"", id);
        return 404;
    }
    if (in->state == IN_COMMITTED)
        return 200;
    if (in->state == IN_ABORTED) {
        (void)snprintf(msg, len, "arrival \"%s\" was aborted", id);
        return 409;
    }
    long vi = simhost_find(&a->hv, in->vm);
    if (vi < 0 || simhost_set_state(&a->hv, in->vm, SIMVM_RUNNING) < 0) {
        (void)snprintf(msg, len, "arrival \"%s\" lost its VM", id);
        return 409;
    }
    struct simvm *sv = &a->hv.vms[vi];
    struct simvm before = *sv;
    sv->arrived = clock_wall_s(); /* its cooldown starts now, and it counts as a move */
    vm_moves_push(sv->moves, &sv->n_moves, sv->arrived);
    /* The source's last demand, in percent of the source; a VM that follows a trace asks for
     * its trace's value at the next sample. */
    double pct[KIND_COUNT];
    for (unsigned k = 0; k < KIND_COUNT; k++)
        pct[k] = fmin(100.0, final->pct[k] * in->scale);
    if (final->mask != 0 && sv->trace[0] == '\0' &&
        simhost_set_demand(&a->hv, in->vm, final->mask, pct) < 0)
        log_warnx("commit carried a bad demand id=%s, ignoring", id);
    in->state = IN_COMMITTED;
    /* Saved before the answer: a restart must find the VM running here. */
    if (agent_state_save(a) < 0) {
        in->state = IN_RESERVED;
        if (simhost_set_state(&a->hv, in->vm, SIMVM_INCOMING) < 0)
            log_warnx("arrival lost its VM id=%s", id);
        /* Not arrived after all: a commit asked again must not count the move twice. */
        sv->arrived = before.arrived;
        memcpy(sv->moves, before.moves, sizeof(sv->moves));
        sv->n_moves = before.n_moves;
        (void)snprintf(msg, len, "cannot save host \"%s\"'s state; the VM stays where it is",
                       a->opts->name);
        return 503;
    }
    (void)event_del(in->expiry);
    log_info("migration arrived id=%s vm=\"%s\" from=\"%s\"", in->id, in->vm, in->from);
    agent_sample(a);
    failpoint("dest-after-commit"); /* the VM runs here (and is saved); not answered */
    return 200;
}

int
agent_incoming_settle(struct agent *a, const char *id, char *msg, size_t len)
{
    struct incoming *in = agent_incoming_find(a, id);
    if (in == NULL) {
        (void)snprintf(msg, len, "no arrival \"%s\"", id);
        return 404;
    }
    if (in->state == IN_RESERVED) {
        (void)snprintf(msg, len, "arrival \"%s\" is neither committed nor aborted", id);
        return 409;
    }
    if (!in->settled) {
        in->settled = true;
        /* A failed save only keeps the record longer after a restart: the safe side. */
        (void)agent_state_save(a);
    }
    return 200;
}

int
agent_incoming_abort(struct agent *a, const char *id, char *msg, size_t len)
{
    struct incoming *in = agent_incoming_find(a, id);
    if (in == NULL) {
        (void)snprintf(msg, len, "no arrival \"%s\"", id);
        return 404;
    }
    if (in->state == IN_COMMITTED) {
        (void)snprintf(msg, len, "arrival \"%s\" is already running here", id);
        return 409;
    }
    if (in->state == IN_RESERVED) {
        in->state = IN_ABORTED;
        (void)event_del(in->expiry);
        if (simhost_remove(&a->hv, in->vm) < 0)
            log_warnx("aborted arrival already gone vm=\"%s\"", in->vm);
        log_info("arrival aborted id=%s vm=\"%s\" from=\"%s\"", in->id, in->vm, in->from);
        agent_sample(a);
    }
    return 200;
}

/* Live migration of a domain in a worker thread (lv.h): virDomainMigrateToURI3 blocks until
 * the migration ends, so it runs beside the agent's loop, which learns its end through the
 * wake-up pipe. Every other libvirt call of a migration runs beside the loop too, since any
 * of them can wait for the domain while QEMU finishes: the worker looks the domain up and
 * lets go of it and of the connection at the end, and a second thread reads the progress
 * (virDomainGetJobStats) every second and aborts the job (virDomainAbortJob) when asked; the
 * loop only reads the figures it left and raises the abort flag. The completed job's statistics
 * come from libvirt's job-completed event for the domain, which the worker awaits (briefly) before
 * it reports the end: with VIR_MIGRATE_UNDEFINE_SOURCE the source's domain, and the statistics
 * libvirt keeps with it, are gone once virDomainMigrateToURI3 returns. A call that fails is
 * not taken at its word: the job runs in the source's libvirtd, and may go on without the
 * call; the worker then looks for the VM on connections of its own (settle()). */
#define _GNU_SOURCE /* pthread_clockjoin_np */
#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/lv.h"
#include "common/clock.h"
#include "common/failpoint.h"
#include "common/log.h"

#define MIB (1024.0 * 1024.0)

/* How long the worker waits, after libvirt said the migration succeeded, for the
 * job-completed event that carries its statistics (sent by the source's libvirtd as the
 * migration ends; it may reach us just after the call's answer). */
#define STATS_WAIT_S 2

/* Where libvirt's event thread leaves the completed job's statistics for the worker. Shared by
 * the two, since libvirt may run the callback (and frees its reference) after the migration
 * record is gone: freed by whoever drops the last reference. */
struct statbox {
    atomic_int refs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool got;
    struct lv_job_stats st;
};

struct lv_mig {
    pthread_t th;
    bool started;
    virConnectPtr conn; /* the migration's reference, dropped by the worker */
    char name[MODEL_MAX_NAME + 1];
    virDomainPtr dom; /* the worker's */
    pthread_t prog_th;
    bool prog_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;  /* the end, or an abort asked for */
    bool ending;        /* under mu: the progress thread stops */
    bool abort_wanted;  /* under mu */
    double progress[3]; /* under mu: processed MiB, total MiB, elapsed ms */
    virTypedParameterPtr params;
    int nparams;
    unsigned long flags;
    char dest_uri[512];
    char src_uri[512]; /* this host's libvirt, to settle a failed call on a new connection */
    atomic_int state;  /* 0 running, 1 done, -1 failed */
    char error[256];   /* written by the worker before state */
    enum lv_failed_where where; /* failed: where the VM is; likewise */
    char settled[256];          /* done after libvirt's error (these words): likewise */
    bool paused_here;           /* done, but libvirt left a paused copy here: likewise */
    int wake_fd;
    struct statbox *box;    /* NULL when the event could not be registered */
    int event_id;           /* the job-completed callback, -1 when none */
    bool has_stats;         /* written by the worker before state */
    struct lv_job_stats st; /* likewise */
};

int
lv_job_stats_parse(const void *params, int n, struct lv_job_stats *ret)
{
    virTypedParameterPtr p = (virTypedParameterPtr)params;
    int op = 0;
    int ok = 1;
    if (virTypedParamsGetInt(p, n, VIR_DOMAIN_JOB_OPERATION, &op) == 1 &&
        op != VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT)
        return -EINVAL;
    if (virTypedParamsGetBoolean(p, n, VIR_DOMAIN_JOB_SUCCESS, &ok) == 1 && !ok)
        return -EINVAL;
    struct lv_job_stats st = {-1, -1, -1};
    unsigned long long v;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DOWNTIME, &v) == 1)
        st.downtime_ms = (double)v;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_DATA_PROCESSED, &v) == 1)
        st.data_mib = (double)v / MIB;
    if (virTypedParamsGetULLong(p, n, VIR_DOMAIN_JOB_TIME_ELAPSED, &v) == 1)
        st.total_ms = (double)v;
    if (st.downtime_ms < 0 && st.data_mib < 0 && st.total_ms < 0)
        return -EINVAL;
    *ret = st;
    return 0;
}

static void
statbox_unref(void *opaque)
{
    struct statbox *b = opaque;
    if (atomic_fetch_sub(&b->refs, 1) != 1)
        return;
    (void)pthread_cond_destroy(&b->cv);
    (void)pthread_mutex_destroy(&b->mu);
    free(b);
}

static struct statbox *
statbox_new(void)
{
    struct statbox *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0) {
        free(b);
        return NULL;
    }
    (void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int r = pthread_cond_init(&b->cv, &ca);
    (void)pthread_condattr_destroy(&ca);
    if (r != 0 || pthread_mutex_init(&b->mu, NULL) != 0) {
        if (r == 0)
            (void)pthread_cond_destroy(&b->cv);
        free(b);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    return b;
}

/* libvirt's event thread: a job of the domain completed. */
static void
job_completed_cb(virConnectPtr conn, virDomainPtr dom, virTypedParameterPtr params, int n,
                 void *opaque)
{
    struct statbox *b = opaque;
    (void)conn;
    (void)dom;
    struct lv_job_stats st;
    if (lv_job_stats_parse(params, n, &st) < 0)
        return;
    (void)pthread_mutex_lock(&b->mu);
    b->st = st;
    b->got = true;
    (void)pthread_cond_broadcast(&b->cv);
    (void)pthread_mutex_unlock(&b->mu);
}

/* The worker, after a migration that succeeded: the statistics from the event (awaited at most
 * STATS_WAIT_S), else from the domain if libvirt still has it. Over a connection that is gone
 * (a migration settled after its call failed) only what the event brought before. */
static void
collect_stats(struct lv_mig *m)
{
    bool alive = virConnectIsAlive(m->conn) == 1;
    struct statbox *b = m->box;
    if (b != NULL) {
        struct timespec deadline;
        (void)clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += alive ? STATS_WAIT_S : 0;
        (void)pthread_mutex_lock(&b->mu);
        while (!b->got && pthread_cond_timedwait(&b->cv, &b->mu, &deadline) == 0)
            ;
        if (b->got) {
            m->st = b->st;
            m->has_stats = true;
        }
        (void)pthread_mutex_unlock(&b->mu);
        if (m->has_stats || !alive)
            return;
    }
    if (!alive)
        return;
    int type = 0;
    virTypedParameterPtr params = NULL;
    int n = 0;
    unsigned flags = VIR_DOMAIN_JOB_STATS_COMPLETED | VIR_DOMAIN_JOB_STATS_KEEP_COMPLETED;
    if (virDomainGetJobStats(m->dom, &type, &params, &n, flags) < 0)
        return;
    if (type == VIR_DOMAIN_JOB_COMPLETED && lv_job_stats_parse(params, n, &m->st) == 0)
        m->has_stats = true;
    virTypedParamsFree(params, n);
}

/* The running job's figures from libvirt into fig[0..2] (MiB processed, MiB in all, ms
 * elapsed; 0 when unknown). Called by the progress thread only. */
static void
read_progress(virDomainPtr dom, double *fig)
{
    fig[0] = fig[1] = fig[2] = 0;
    int type = 0;
    virTypedParameterPtr params = NULL;
    int n = 0;
    if (virDomainGetJobStats(dom, &type, &params, &n, 0) < 0)
        return;
    unsigned long long v;
    if (virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DATA_PROCESSED, &v) == 1)
        fig[0] = (double)v / MIB;
    if (virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DATA_TOTAL, &v) == 1)
        fig[1] = (double)v / MIB;
    if (virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_TIME_ELAPSED, &v) == 1)
        fig[2] = (double)v;
    virTypedParamsFree(params, n);
}

/* Subscribe to the domain's job-completed event before the migration starts, so that its end
 * cannot be missed. Without it (no event loop, an old libvirt) the statistics are asked of
 * the domain, which libvirt may no longer have. */
static void
watch_job(struct lv_mig *m)
{
    struct statbox *b = statbox_new();
    if (b == NULL)
        return;
    atomic_fetch_add(&b->refs, 1); /* libvirt's, dropped by statbox_unref() */
    m->event_id = virConnectDomainEventRegisterAny(
        m->conn, m->dom, VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
        VIR_DOMAIN_EVENT_CALLBACK(job_completed_cb), b, statbox_unref);
    if (m->event_id < 0) {
        log_debug("libvirt job-completed event not available: %s", virGetLastErrorMessage());
        atomic_fetch_sub(&b->refs, 1);
        statbox_unref(b);
        return;
    }
    m->box = b;
}

/* The progress thread: the job's figures every second, and an abort when the loop asks (again
 * every second while it asks: an abort can fail while the job starts or in a phase libvirt
 * cannot interrupt). */
static void *
prog_thread(void *arg)
{
    struct lv_mig *m = arg;
    (void)pthread_mutex_lock(&m->mu);
    while (!m->ending) {
        struct timespec deadline;
        (void)clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += 1;
        bool asked = m->abort_wanted;
        while (!m->ending && m->abort_wanted == asked &&
               pthread_cond_timedwait(&m->cv, &m->mu, &deadline) == 0)
            ;
        if (m->ending)
            break;
        bool abort_now = m->abort_wanted;
        (void)pthread_mutex_unlock(&m->mu);
        if (abort_now && virDomainAbortJob(m->dom) < 0)
            log_warnx("libvirt abort failed error=\"%s\"", virGetLastErrorMessage());
        double fig[3];
        read_progress(m->dom, fig);
        (void)pthread_mutex_lock(&m->mu);
        memcpy(m->progress, fig, sizeof(fig));
    }
    (void)pthread_mutex_unlock(&m->mu);
    return NULL;
}

static void
stop_progress(struct lv_mig *m)
{
    if (!m->prog_started)
        return;
    (void)pthread_mutex_lock(&m->mu);
    m->ending = true;
    (void)pthread_cond_broadcast(&m->cv);
    (void)pthread_mutex_unlock(&m->mu);
    (void)pthread_join(m->prog_th, NULL);
    m->prog_started = false;
}

/* settle()'s looks at one VM: connections to this host's libvirt and the destination's, each
 * kept while it lives. */
struct settler {
    const char *name;
    const char *src_uri;
    const char *dest_uri;
    virConnectPtr here;
    virConnectPtr there;
    bool abort_now;   /* in: abort a migration job that still runs */
    bool gone;        /* out: the last look found the VM gone from this host */
    bool paused_here; /* out: ... paused here by the migration, with no job */
    char why[256];    /* out: what the last LV_WHERE_UNKNOWN look could not learn */
};

/* `*c`, a connection to `uri` opened again when it is gone, with libvirt's keepalive, so that
 * a libvirtd that stops answering fails the calls rather than holding them (it needs libvirt's
 * event loop, which lv_conn.c runs). The open itself waits as long as libvirt does (a TCP
 * connect to a host that is down). NULL with `why` on failure. */
static virConnectPtr
conn_of(virConnectPtr *c, const char *uri, char *why, size_t len)
{
    if (*c != NULL && virConnectIsAlive(*c) == 1)
        return *c;
    if (*c != NULL)
        (void)virConnectClose(*c);
    *c = virConnectOpen(uri);
    if (*c == NULL) {
        (void)snprintf(why, len, "%s", virGetLastErrorMessage());
        return NULL;
    }
    (void)virConnectSetKeepAlive(*c, 5, 3);
    return *c;
}

/* Did the libvirt call that just failed fail with `code`? Otherwise `why` (`len` bytes) gets
 * libvirt's words. */
static bool
failed_with(int code, char *why, size_t len)
{
    virErrorPtr e = virGetLastError();
    if (e != NULL && e->code == code)
        return true;
    (void)snprintf(why, len, "%s", virGetLastErrorMessage());
    return false;
}

/* Does the destination's libvirt run `m`'s VM? 1 yes (running, or paused other than for the
 * migration's arrival), 0 no, -1 not known (`why`): still arriving, or libvirt cannot be asked
 * (its URI may need credentials this process has not: libvirtd, not the agent, migrates to
 * it). */
static int
runs_at_dest(struct settler *s, char *why, size_t len)
{
    virConnectPtr c = conn_of(&s->there, s->dest_uri, why, len);
    if (c == NULL)
        return -1;
    virDomainPtr d = virDomainLookupByName(c, s->name);
    if (d == NULL)
        return failed_with(VIR_ERR_NO_DOMAIN, why, len) ? 0 : -1;
    int state = 0;
    int reason = 0;
    int runs = -1;
    if (virDomainGetState(d, &state, &reason, 0) < 0)
        (void)snprintf(why, len, "%s", virGetLastErrorMessage());
    else if (state == VIR_DOMAIN_PAUSED &&
             (reason == VIR_DOMAIN_PAUSED_MIGRATION || reason == VIR_DOMAIN_PAUSED_STARTING_UP))
        (void)snprintf(why, len, "%s", "still arriving at the destination");
    else
        runs = state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_PAUSED ||
               state == VIR_DOMAIN_BLOCKED;
    (void)virDomainFree(d);
    return runs;
}

/* Does a migration out of this host run on `d`? 1 yes, 0 no job or a job of another kind
 * (a dump, a backup: never ours, never aborted), -1 libvirt did not say (`why`). A job that
 * does not name its operation (libvirt before 3.3) is taken for the migration. */
static int
migrating_out(virDomainPtr d, char *why, size_t len)
{
    int type = 0;
    virTypedParameterPtr params = NULL;
    int n = 0;
    if (virDomainGetJobStats(d, &type, &params, &n, 0) < 0) {
        /* A driver without job statistics (libvirt's test driver) runs no migration job:
         * QEMU's has them, and its refusals have other codes. */
        return failed_with(VIR_ERR_NO_SUPPORT, why, len) ? 0 : -1;
    }
    int yes = 0;
    if (type == VIR_DOMAIN_JOB_BOUNDED || type == VIR_DOMAIN_JOB_UNBOUNDED) {
        int op = VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT;
        (void)virTypedParamsGetInt(params, n, VIR_DOMAIN_JOB_OPERATION, &op);
        yes = op == VIR_DOMAIN_JOB_OPERATION_MIGRATION_OUT;
    }
    virTypedParamsFree(params, n);
    return yes;
}

/* Where the VM of a domain that is gone from this host is: at the destination, or not. */
static enum lv_where
where_gone(struct settler *s)
{
    s->gone = true;
    char why[sizeof(s->why)];
    int at = runs_at_dest(s, why, sizeof(why));
    if (at > 0)
        return LV_WHERE_MOVED;
    if (at == 0)
        return LV_WHERE_NOWHERE;
    (void)snprintf(s->why, sizeof(s->why), "gone from this host; at the destination: %.160s", why);
    return LV_WHERE_UNKNOWN;
}

/* The VM is paused here by the migration, with no job: libvirtd, restarted as the migration
 * ended, leaves it so for someone else to decide (the destination may run it). Running there:
 * moved, with this paused copy left; not there: here, paused (both s->paused_here, which
 * settle() passes on to the migration); not known: not yet. */
static enum lv_where
where_paused(struct settler *s)
{
    char why[sizeof(s->why)];
    int at = runs_at_dest(s, why, sizeof(why));
    s->paused_here = at >= 0;
    if (at == 0)
        return LV_WHERE_HERE;
    if (at > 0)
        return LV_WHERE_MOVED;
    (void)snprintf(s->why, sizeof(s->why),
                   "paused here by the migration; at the destination: %.160s", why);
    return LV_WHERE_UNKNOWN;
}

/* Where the VM of domain `d`, still defined here, is. */
static enum lv_where
where_here(struct settler *s, virDomainPtr d)
{
    int state = 0;
    int reason = 0;
    if (virDomainGetState(d, &state, &reason, 0) < 0) {
        (void)snprintf(s->why, sizeof(s->why), "%s", virGetLastErrorMessage());
        return LV_WHERE_UNKNOWN;
    }
    if (state == VIR_DOMAIN_SHUTOFF && reason == VIR_DOMAIN_SHUTOFF_MIGRATED)
        return LV_WHERE_MOVED;
    if (state == VIR_DOMAIN_SHUTOFF || state == VIR_DOMAIN_CRASHED)
        return LV_WHERE_HERE; /* stopped here: no job to ask about */
    int out = migrating_out(d, s->why, sizeof(s->why));
    if (out < 0)
        return LV_WHERE_UNKNOWN;
    if (out == 0 && state == VIR_DOMAIN_PAUSED && reason == VIR_DOMAIN_PAUSED_MIGRATION)
        return where_paused(s);
    if (out == 0)
        return LV_WHERE_HERE;
    if (s->abort_now && virDomainAbortJob(d) < 0)
        log_warnx("libvirt abort failed error=\"%s\"", virGetLastErrorMessage());
    return LV_WHERE_MOVING;
}

/* One look at where the VM is. An abort the loop asked for is passed on to a migration job
 * that still runs. */
static enum lv_where
where_is(struct settler *s)
{
    s->gone = false;
    s->paused_here = false;
    virConnectPtr c = conn_of(&s->here, s->src_uri, s->why, sizeof(s->why));
    if (c == NULL)
        return LV_WHERE_UNKNOWN;
    virDomainPtr d = virDomainLookupByName(c, s->name);
    if (d == NULL) {
        if (failed_with(VIR_ERR_NO_DOMAIN, s->why, sizeof(s->why)))
            return where_gone(s);
        return LV_WHERE_UNKNOWN;
    }
    enum lv_where w = where_here(s, d);
    (void)virDomainFree(d);
    return w;
}

static void
settler_done(struct settler *s)
{
    if (s->here != NULL)
        (void)virConnectClose(s->here);
    if (s->there != NULL)
        (void)virConnectClose(s->there);
    s->here = s->there = NULL;
}

enum lv_where
lv_settle_look(const char *src_uri, const char *dest_uri, const char *name, char *why, size_t len)
{
    struct settler s = {.name = name, .src_uri = src_uri, .dest_uri = dest_uri};
    enum lv_where w = where_is(&s);
    settler_done(&s);
    (void)snprintf(why, len, "%s", w == LV_WHERE_UNKNOWN ? s.why : "");
    return w;
}

/* m->error, libvirt's words cut to leave room, then `why`. */
static void
error_add(struct lv_mig *m, const char *why)
{
    char first[sizeof(m->error)];
    memcpy(first, m->error, sizeof(first));
    (void)snprintf(m->error, sizeof(m->error), "%.120s; %.130s", first, why);
}

enum lv_settled
lv_settle_step(struct lv_settle *s, enum lv_where w, double now_s)
{
    if (!s->looked || w == LV_WHERE_MOVING)
        s->give_up_s = now_s + LV_SETTLE_REACH_S;
    s->looked = true;
    if (w != LV_WHERE_HERE)
        s->here_since_s = -1;
    else if (s->here_since_s < 0)
        s->here_since_s = now_s;
    if (w == LV_WHERE_MOVED)
        return LV_SETTLED_DONE;
    if (w == LV_WHERE_HERE && now_s - s->here_since_s >= LV_SETTLE_HERE_S)
        return LV_SETTLED_FAILED;
    if (w == LV_WHERE_NOWHERE)
        return LV_SETTLED_LEFT;
    if (w == LV_WHERE_UNKNOWN && now_s >= s->give_up_s)
        return LV_SETTLED_UNKNOWN;
    return LV_SETTLED_NOT_YET;
}

/* libvirt answered the migration with an error (in m->error): is that so? With PEER2PEER the
 * job runs in this host's libvirtd, and a connection lost mid-call (a keepalive time-out,
 * libvirtd restarting) fails the call but not the job, which may still succeed. So the VM is
 * looked for every second (where_is()) until lv_settle_step() decides. 0: done (m->settled
 * keeps libvirt's words); -1: failed, m->error saying so where the VM is not simply here. */
static int
settle(struct lv_mig *m)
{
    struct settler s = {.name = m->name, .src_uri = m->src_uri, .dest_uri = m->dest_uri};
    struct lv_settle st = {.here_since_s = -1};
    enum lv_settled v;
    for (;;) {
        (void)pthread_mutex_lock(&m->mu);
        s.abort_now = m->abort_wanted;
        (void)pthread_mutex_unlock(&m->mu);
        v = lv_settle_step(&st, where_is(&s), clock_mono_s());
        if (v != LV_SETTLED_NOT_YET)
            break;
        struct timespec deadline;
        (void)clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += 1;
        /* A broadcast (an abort asked for) may end the wait early: the step goes by time. An
         * abort asked during the look is passed on at once. */
        (void)pthread_mutex_lock(&m->mu);
        if (m->abort_wanted == s.abort_now)
            (void)pthread_cond_timedwait(&m->cv, &m->mu, &deadline);
        (void)pthread_mutex_unlock(&m->mu);
    }
    settler_done(&s);
    m->paused_here = s.paused_here;
    if (v == LV_SETTLED_DONE) {
        (void)snprintf(m->settled, sizeof(m->settled), "%s", m->error);
        m->error[0] = '\0';
        return 0;
    }
    if (v == LV_SETTLED_LEFT) {
        m->where = LV_FAILED_LEFT;
        error_add(m, "the VM is gone from this host and does not run at the destination");
    } else if (v == LV_SETTLED_UNKNOWN) {
        m->where = s.gone ? LV_FAILED_LEFT : LV_FAILED_UNKNOWN;
        char why[sizeof(s.why) + 64];
        (void)snprintf(why, sizeof(why), "where the VM is could not be checked: %s", s.why);
        error_add(m, why);
    }
    return -1;
}

/* The migration itself, then what libvirt reported of it; the domain, its event and the
 * connection are let go here, before the end is told, so that the loop never calls libvirt. */
static int
migrate(struct lv_mig *m)
{
    m->dom = virDomainLookupByName(m->conn, m->name);
    if (m->dom == NULL) {
        /* libvirt's own words: no such domain, or a connection that is gone. */
        (void)snprintf(m->error, sizeof(m->error), "domain lookup failed: %s",
                       virGetLastErrorMessage());
        return -1;
    }
    int active = virDomainIsActive(m->dom);
    if (active != 1) {
        (void)snprintf(m->error, sizeof(m->error), "%s",
                       active == 0 ? "no such running domain (it is shut off)"
                                   : virGetLastErrorMessage());
        return -1;
    }
    /* Without its progress thread nothing could abort it (the time limit, the agent's exit):
     * not started then. */
    m->prog_started = pthread_create(&m->prog_th, NULL, prog_thread, m) == 0;
    if (!m->prog_started) {
        (void)snprintf(m->error, sizeof(m->error), "no thread to follow it (out of resources)");
        return -1;
    }
    watch_job(m);
    int r = virDomainMigrateToURI3(m->dom, m->dest_uri, m->params, (unsigned)m->nparams,
                                   (unsigned)m->flags);
    if (r < 0)
        (void)snprintf(m->error, sizeof(m->error), "%s", virGetLastErrorMessage());
    if (r == 0 && failpoint_drop("libvirt-migrate-answer")) {
        /* libvirt's answer lost: the job ended, the call failed (tests of settle()). */
        r = -1;
        (void)snprintf(m->error, sizeof(m->error), "%s", "connection to libvirt lost (failpoint)");
    }
    stop_progress(m);
    if (r < 0)
        r = settle(m);
    if (r == 0)
        collect_stats(m);
    if (m->event_id >= 0)
        (void)virConnectDomainEventDeregisterAny(m->conn, m->event_id);
    m->event_id = -1;
    return r;
}

static void *
mig_thread(void *arg)
{
    struct lv_mig *m = arg;
    int r = migrate(m);
    if (m->dom != NULL)
        (void)virDomainFree(m->dom);
    m->dom = NULL;
    (void)virConnectClose(m->conn);
    m->conn = NULL;
    atomic_store(&m->state, r < 0 ? -1 : 1);
    lv_wake(m->wake_fd, 'm');
    return NULL;
}

int
lv_migrate_start(void *conn, const struct hv_libvirt_opts *o, int wake_fd, const char *name,
                 const char *dest_uri, const char *dest_addr, struct lv_mig **ret)
{
    if (conn == NULL)
        return -EIO;
    struct lv_mig *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        (void)virConnectClose(conn);
        return -ENOMEM;
    }
    m->conn = conn;
    m->event_id = -1;
    m->wake_fd = wake_fd;
    atomic_init(&m->state, 0);
    if (pthread_mutex_init(&m->mu, NULL) != 0) {
        (void)virConnectClose(conn);
        free(m);
        return -ENOMEM;
    }
    pthread_condattr_t ca;
    int e = pthread_condattr_init(&ca);
    if (e == 0) {
        (void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        e = pthread_cond_init(&m->cv, &ca);
        (void)pthread_condattr_destroy(&ca);
    }
    if (e != 0) {
        (void)virConnectClose(conn);
        (void)pthread_mutex_destroy(&m->mu);
        free(m);
        return -ENOMEM;
    }
    (void)snprintf(m->name, sizeof(m->name), "%s", name);
    (void)snprintf(m->dest_uri, sizeof(m->dest_uri), "%s", dest_uri);
    (void)snprintf(m->src_uri, sizeof(m->src_uri), "%s", o->uri);
    m->flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
               VIR_MIGRATE_UNDEFINE_SOURCE;
    if (o->migrate_flags & HV_MIGRATE_UNSAFE)
        m->flags |= VIR_MIGRATE_UNSAFE;
    if (o->migrate_flags & HV_MIGRATE_AUTO_CONVERGE)
        m->flags |= VIR_MIGRATE_AUTO_CONVERGE;
    if (o->migrate_flags & HV_MIGRATE_COMPRESSED)
        m->flags |= VIR_MIGRATE_COMPRESSED;
    int maxp = 0;
    int r = 0;
    if (dest_addr[0] != '\0') {
        char uri[300];
        bool v6 = strchr(dest_addr, ':') != NULL && dest_addr[0] != '[';
        (void)snprintf(uri, sizeof(uri), v6 ? "tcp://[%s]" : "tcp://%s", dest_addr);
        r = virTypedParamsAddString(&m->params, &m->nparams, &maxp, VIR_MIGRATE_PARAM_URI, uri);
        if (r == 0)
            r = virTypedParamsAddString(&m->params, &m->nparams, &maxp,
                                        VIR_MIGRATE_PARAM_LISTEN_ADDRESS, dest_addr);
    }
    if (r == 0 && o->migrate_bandwidth_mib_s > 0)
        r = virTypedParamsAddULLong(&m->params, &m->nparams, &maxp, VIR_MIGRATE_PARAM_BANDWIDTH,
                                    (unsigned long long)o->migrate_bandwidth_mib_s);
    if (r < 0) {
        lv_migrate_free(m);
        return -ENOMEM;
    }
    if (pthread_create(&m->th, NULL, mig_thread, m) != 0) {
        lv_migrate_free(m);
        return -EAGAIN;
    }
    m->started = true;
    *ret = m;
    return 0;
}

enum lv_failed_where
lv_migrate_failed_where(struct lv_mig *m)
{
    if (atomic_load(&m->state) >= 0)
        return LV_FAILED_HERE;
    return m->where == LV_FAILED_HERE && m->paused_here ? LV_FAILED_PAUSED : m->where;
}

const char *
lv_migrate_settled(struct lv_mig *m, bool *ret_paused_here)
{
    bool settled = atomic_load(&m->state) > 0 && m->settled[0] != '\0';
    *ret_paused_here = settled && m->paused_here;
    return settled ? m->settled : NULL;
}

int
lv_migrate_poll(struct lv_mig *m, char *err, size_t len)
{
    int s = atomic_load(&m->state);
    if (s < 0)
        (void)snprintf(err, len, "%s", m->error);
    return s;
}

bool
lv_migrate_stats(struct lv_mig *m, struct lv_job_stats *ret)
{
    if (atomic_load(&m->state) != 1 || !m->has_stats)
        return false;
    *ret = m->st;
    return true;
}

void
lv_migrate_progress(struct lv_mig *m, double *ret_processed_mib, double *ret_total_mib,
                    double *ret_elapsed_ms)
{
    (void)pthread_mutex_lock(&m->mu);
    *ret_processed_mib = m->progress[0];
    *ret_total_mib = m->progress[1];
    *ret_elapsed_ms = m->progress[2];
    (void)pthread_mutex_unlock(&m->mu);
}

void
lv_migrate_abort(struct lv_mig *m)
{
    (void)pthread_mutex_lock(&m->mu);
    m->abort_wanted = true;
    (void)pthread_cond_broadcast(&m->cv);
    (void)pthread_mutex_unlock(&m->mu);
}

void
lv_migrate_free(struct lv_mig *m)
{
    if (m == NULL)
        return;
    if (m->started && atomic_load(&m->state) == 0) {
        /* At exit with the job still running: wait a while for the abort, then leave the
         * worker to finish (it owns `m` from then on; the process is ending). */
        struct timespec deadline;
        (void)clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += 10;
        if (pthread_clockjoin_np(m->th, NULL, CLOCK_MONOTONIC, &deadline) != 0) {
            log_warnx("migration still running at exit; libvirt finishes or fails it alone");
            (void)pthread_detach(m->th);
            return;
        }
        m->started = false;
    }
    if (m->started)
        (void)pthread_join(m->th, NULL);
    virTypedParamsFree(m->params, m->nparams);
    if (m->box != NULL)
        statbox_unref(m->box);
    if (m->conn != NULL) /* never handed to a worker */
        (void)virConnectClose(m->conn);
    (void)pthread_cond_destroy(&m->cv);
    (void)pthread_mutex_destroy(&m->mu);
    free(m);
}

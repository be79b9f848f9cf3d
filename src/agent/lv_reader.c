/* The reader thread of the libvirt backend (lv_reader.h).
 *
 * The thread waits for a request, takes the reading with the connection it alone uses, then
 * copies what the loop needs into `pub` under the mutex and writes 'r' to the wake-up pipe.
 * The mutex is never held across a libvirt call, so the loop waits for it only while a copy is
 * made. A request that comes while a reading runs is remembered and served by the next one,
 * so that an event seen meanwhile is not lost. */
#define _GNU_SOURCE /* pthread_clockjoin_np */
#include "agent/lv_reader.h"

#include <errno.h>
#include <libvirt/libvirt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/ratelog.h"

#define STOP_WAIT_S 10
/* A reading this long is logged with where its time went (libvirt's answers are
 * milliseconds when it is well). */
#define READING_SLOW_S 1.0

struct lv_reader {
    struct lv_conn lv; /* the thread's */
    struct lv_doms doms;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* a request, a reading done, or stop */
    bool want;               /* a reading is asked for */
    bool fresh;              /* `pub` holds a reading not yet taken */
    uint64_t started;        /* readings started so far */
    uint64_t valid_from;     /* readings numbered below this began before lv_reader_refresh() */
    uint64_t strict_from;    /* ... before a strict one: never served */
    double max_wait_s;       /* lv_reader_start() */
    double taken_mono;       /* when the loop last took a reading */
    struct ratelog slow_log; /* the reader thread's */
    bool stop;
    void *conn;         /* virConnectPtr with the reader's reference for migrations, or NULL */
    struct lv_view pub; /* the latest reading, under `mu` */
};

void
lv_view_done(struct lv_view *v)
{
    free(v->vms);
    lv_doms_done(&v->doms);
    memset(v, 0, sizeof(*v));
}

/* Copy `src` into `dst`, whose arrays are reused or grown. 0 or -ENOMEM (dst untouched). */
static int
view_copy(struct lv_view *dst, const struct lv_view *src)
{
    struct lv_vm *vms = malloc((src->n_vms + 1) * sizeof(*vms));
    struct lv_dom *doms = malloc((src->doms.n + 1) * sizeof(*doms));
    if (vms == NULL || doms == NULL) {
        free(vms);
        free(doms);
        return -ENOMEM;
    }
    if (src->n_vms > 0)
        memcpy(vms, src->vms, src->n_vms * sizeof(*vms));
    if (src->doms.n > 0)
        memcpy(doms, src->doms.v, src->doms.n * sizeof(*doms));
    lv_view_done(dst);
    *dst = *src;
    dst->vms = vms;
    dst->doms.v = doms;
    return 0;
}

/* The thread's state after a reading into `pub` (under the mutex). A connection replaced
 * goes to *ret_old (NULL: none), for the caller to close once the mutex is released: closing
 * the last reference talks to libvirt. -ENOMEM: `pub` keeps the previous reading. */
static int
publish(struct lv_reader *r, int rc, void **ret_old)
{
    const struct lv_conn *lv = &r->lv;
    struct lv_view v = {
        .rc = rc,
        .connected = lv->connected,
        .retry_at = lv->retry_at,
        .ncpus = lv->ncpus,
        .host_cpu = lv->host_cpu,
        .host_cpu_known = lv->host_cpu_known,
        .host_mem_mib = lv->host_mem_mib,
        .left_out = lv->names_skipped,
        .left_out_mem_mib = lv->left_out_mem_mib,
        .pressure = lv->pressure,
        .mem_bw_seen = lv->mem_bw_seen,
        .vms = lv->vms,
        .n_vms = lv->n_vms,
        .doms = r->doms,
    };
    memcpy(v.error, lv->error, sizeof(v.error));
    memcpy(v.host_io, lv->host_io, sizeof(v.host_io));
    int e = view_copy(&r->pub, &v);
    *ret_old = NULL;
    if (r->conn != lv->conn) {
        /* Reconnected or lost: migrations from now on use the connection of now. */
        *ret_old = r->conn;
        r->conn = NULL;
        if (lv->conn != NULL && virConnectRef(lv->conn) == 0)
            r->conn = lv->conn;
    }
    return e;
}

/* Has the loop gone without a reading for max_wait_s (under the mutex)? */
static bool
starved(const struct lv_reader *r)
{
    return clock_mono_s() - r->taken_mono >= r->max_wait_s;
}

static void *
reader_thread(void *arg)
{
    struct lv_reader *r = arg;
    (void)pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->stop && !r->want)
            (void)pthread_cond_wait(&r->cv, &r->mu);
        if (r->stop)
            break;
        r->want = false;
        uint64_t gen = ++r->started;
        (void)pthread_mutex_unlock(&r->mu);
        /* When it begins, not when it was asked for: a change or a stale reading may have
         * asked for it an interval before. */
        double wall = clock_wall_s();
        double t0 = clock_mono_s();
        int rc = lv_sample(&r->lv, (double)clock_now_us() / 1e6);
        double t1 = clock_mono_s();
        /* Arrivals and moves need two readings of the host, as a served sample does. */
        if (rc == 0 && r->lv.host_cpu_known)
            lv_doms_note(&r->doms, &r->lv, wall);
        double t2 = clock_mono_s();
        if (t2 - t0 >= READING_SLOW_S && ratelog_allow(&r->slow_log, t2, 10, "slow readings"))
            log_info("libvirt reading slow ms=%.0f rc=%d stats_ms=%.0f domains_ms=%.0f",
                     (t2 - t0) * 1e3, rc, (t1 - t0) * 1e3, (t2 - t1) * 1e3);
        void *old = NULL;
        (void)pthread_mutex_lock(&r->mu);
        bool stale = gen < r->valid_from;
        if (publish(r, rc, &old) < 0) {
            log_warnx("libvirt reading dropped: out of memory, ignoring");
        } else if (stale && (gen < r->strict_from || !starved(r))) {
            r->want = true; /* begun before what it must show: read again */
        } else {
            /* The change that made it stale asked for the next reading already. */
            if (stale)
                log_debug("libvirt reading served though begun before a change: the host "
                          "changes faster than it is read");
            r->fresh = true;
            (void)pthread_cond_broadcast(&r->cv);
            lv_wake(r->lv.wake[1], 'r');
        }
        if (old != NULL) {
            (void)pthread_mutex_unlock(&r->mu);
            (void)virConnectClose(old);
            (void)pthread_mutex_lock(&r->mu);
        }
    }
    (void)pthread_mutex_unlock(&r->mu);
    return NULL;
}

int
lv_reader_start(struct lv_conn *lv, double max_wait_s, struct lv_reader **ret)
{
    struct lv_reader *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -ENOMEM;
    r->max_wait_s = max_wait_s;
    r->taken_mono = clock_mono_s();
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0) {
        free(r);
        return -ENOMEM;
    }
    (void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int e = pthread_cond_init(&r->cv, &ca);
    (void)pthread_condattr_destroy(&ca);
    if (e != 0) {
        free(r);
        return -ENOMEM;
    }
    if (pthread_mutex_init(&r->mu, NULL) != 0) {
        (void)pthread_cond_destroy(&r->cv);
        free(r);
        return -ENOMEM;
    }
    r->lv = *lv;
    lv_moved(&r->lv); /* the close callback held `lv`, which the caller's frame releases */
    void *old = NULL; /* none: the reader held no connection yet */
    if (publish(r, r->lv.connected ? 0 : -EIO, &old) < 0 ||
        pthread_create(&r->th, NULL, reader_thread, r) != 0) {
        e = r->pub.vms == NULL ? -ENOMEM : -EAGAIN;
        if (r->conn != NULL)
            (void)virConnectClose(r->conn);
        lv_view_done(&r->pub);
        (void)pthread_mutex_destroy(&r->mu);
        (void)pthread_cond_destroy(&r->cv);
        free(r);
        return e;
    }
    /* The first view is no reading: the loop asks for one. */
    memset(lv, 0, sizeof(*lv));
    lv->wake[0] = r->lv.wake[0];
    lv->wake[1] = r->lv.wake[1];
    lv->event_id = -1;
    *ret = r;
    return 0;
}

void
lv_reader_stop(struct lv_reader *r)
{
    if (r == NULL)
        return;
    (void)pthread_mutex_lock(&r->mu);
    r->stop = true;
    (void)pthread_cond_broadcast(&r->cv);
    (void)pthread_mutex_unlock(&r->mu);
    struct timespec deadline;
    (void)clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += STOP_WAIT_S;
    if (pthread_clockjoin_np(r->th, NULL, CLOCK_MONOTONIC, &deadline) != 0) {
        /* libvirt does not answer: the thread owns its state until the process ends. */
        log_warnx("libvirt reading still running at exit; leaving it");
        (void)pthread_detach(r->th);
        return;
    }
    if (r->conn != NULL)
        (void)virConnectClose(r->conn);
    lv_view_done(&r->pub);
    lv_doms_done(&r->doms);
    lv_done(&r->lv);
    (void)pthread_mutex_destroy(&r->mu);
    (void)pthread_cond_destroy(&r->cv);
    free(r);
}

int
lv_reader_take(struct lv_reader *r, double wait_s, struct lv_view *view)
{
    (void)pthread_mutex_lock(&r->mu);
    if (!r->fresh) {
        r->want = true;
        (void)pthread_cond_broadcast(&r->cv);
        struct timespec deadline;
        (void)clock_gettime(CLOCK_MONOTONIC, &deadline);
        long long ns = (long long)deadline.tv_nsec + (long long)(wait_s * 1e9);
        deadline.tv_sec += (time_t)(ns / 1000000000LL);
        deadline.tv_nsec = (long)(ns % 1000000000LL);
        while (!r->fresh && pthread_cond_timedwait(&r->cv, &r->mu, &deadline) == 0)
            ;
    }
    int ret = 0;
    if (r->fresh) {
        ret = view_copy(view, &r->pub) < 0 ? -ENOMEM : 1;
        if (ret == 1) {
            r->fresh = false;
            r->taken_mono = clock_mono_s();
        }
    }
    (void)pthread_mutex_unlock(&r->mu);
    return ret;
}

void
lv_reader_refresh(struct lv_reader *r, bool strict)
{
    (void)pthread_mutex_lock(&r->mu);
    r->valid_from = r->started + 1;
    if (strict)
        r->strict_from = r->valid_from;
    /* When changes keep coming, the reading at hand is kept for the next sample. */
    if (strict || !starved(r))
        r->fresh = false;
    r->want = true;
    (void)pthread_cond_broadcast(&r->cv);
    (void)pthread_mutex_unlock(&r->mu);
}

double
lv_reader_waited(struct lv_reader *r)
{
    (void)pthread_mutex_lock(&r->mu);
    double waited = clock_mono_s() - r->taken_mono;
    (void)pthread_mutex_unlock(&r->mu);
    return waited;
}

void *
lv_reader_conn(struct lv_reader *r)
{
    (void)pthread_mutex_lock(&r->mu);
    void *c = r->conn;
    if (c != NULL && virConnectRef(c) < 0)
        c = NULL;
    (void)pthread_mutex_unlock(&r->mu);
    return c;
}

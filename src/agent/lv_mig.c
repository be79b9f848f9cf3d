/* Live migration of a domain in a worker thread (lv.h): virDomainMigrateToURI3 blocks until
 * the migration ends, so it runs beside the agent's loop, which reads its progress and learns
 * its end through the wake-up pipe. */
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
#include "common/log.h"

#define MIB (1024.0 * 1024.0)

struct lv_mig {
    pthread_t th;
    bool started;
    virDomainPtr dom;
    virTypedParameterPtr params;
    int nparams;
    unsigned long flags;
    char dest_uri[512];
    atomic_int state; /* 0 running, 1 done, -1 failed */
    char error[256];  /* written by the worker before state */
    int wake_fd;
};

static void *
mig_thread(void *arg)
{
    struct lv_mig *m = arg;
    int r = virDomainMigrateToURI3(m->dom, m->dest_uri, m->params, (unsigned)m->nparams,
                                   (unsigned)m->flags);
    if (r < 0)
        (void)snprintf(m->error, sizeof(m->error), "%s", virGetLastErrorMessage());
    atomic_store(&m->state, r < 0 ? -1 : 1);
    lv_wake(m->wake_fd, 'm');
    return NULL;
}

int
lv_migrate_start(struct lv_conn *hv, const char *name, const char *dest_uri, const char *dest_addr,
                 struct lv_mig **ret)
{
    if (!hv->connected)
        return -EIO;
    virDomainPtr dom = virDomainLookupByName(hv->conn, name);
    if (dom == NULL)
        return -ENOENT;
    if (virDomainIsActive(dom) != 1) {
        (void)virDomainFree(dom);
        return -ENOENT;
    }
    struct lv_mig *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        (void)virDomainFree(dom);
        return -ENOMEM;
    }
    m->dom = dom;
    m->wake_fd = hv->wake[1];
    atomic_init(&m->state, 0);
    (void)snprintf(m->dest_uri, sizeof(m->dest_uri), "%s", dest_uri);
    m->flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
               VIR_MIGRATE_UNDEFINE_SOURCE;
    if (hv->o.migrate_flags & HV_MIGRATE_UNSAFE)
        m->flags |= VIR_MIGRATE_UNSAFE;
    if (hv->o.migrate_flags & HV_MIGRATE_AUTO_CONVERGE)
        m->flags |= VIR_MIGRATE_AUTO_CONVERGE;
    if (hv->o.migrate_flags & HV_MIGRATE_COMPRESSED)
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
    if (r == 0 && hv->o.migrate_bandwidth_mib_s > 0)
        r = virTypedParamsAddULLong(&m->params, &m->nparams, &maxp, VIR_MIGRATE_PARAM_BANDWIDTH,
                                    (unsigned long long)hv->o.migrate_bandwidth_mib_s);
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

int
lv_migrate_poll(struct lv_mig *m, char *err, size_t len)
{
    int s = atomic_load(&m->state);
    if (s < 0)
        (void)snprintf(err, len, "%s", m->error);
    return s;
}

void
lv_migrate_progress(struct lv_mig *m, double *ret_processed_mib, double *ret_total_mib,
                    double *ret_elapsed_ms)
{
    *ret_processed_mib = 0;
    *ret_total_mib = 0;
    *ret_elapsed_ms = 0;
    int type = 0;
    virTypedParameterPtr params = NULL;
    int n = 0;
    if (virDomainGetJobStats(m->dom, &type, &params, &n, 0) < 0)
        return;
    unsigned long long v;
    if (virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DATA_PROCESSED, &v) == 1)
        *ret_processed_mib = (double)v / MIB;
    if (virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_DATA_TOTAL, &v) == 1)
        *ret_total_mib = (double)v / MIB;
    if (virTypedParamsGetULLong(params, n, VIR_DOMAIN_JOB_TIME_ELAPSED, &v) == 1)
        *ret_elapsed_ms = (double)v;
    virTypedParamsFree(params, n);
}

void
lv_migrate_abort(struct lv_mig *m)
{
    if (virDomainAbortJob(m->dom) < 0)
        log_warnx("libvirt abort failed error=\"%s\"", virGetLastErrorMessage());
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
    if (m->dom != NULL)
        (void)virDomainFree(m->dom);
    free(m);
}

/* The connection to libvirt and the sampling of the host and its domains (lv.h). */
#define _GNU_SOURCE /* pipe2, pthread_timedjoin_np */
#include "agent/lv.h"

#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/failpoint.h"
#include "common/file.h"
#include "common/log.h"
#include "proto/wire.h"

#define BACKOFF_MIN_S 1.0
#define BACKOFF_MAX_S 60.0
#define PROC_MAX_BYTES (4u << 20)
#define MIB (1024.0 * 1024.0)

/* ---- libvirt's event loop: one thread per process ------------------------------------------ */

static pthread_once_t events_once = PTHREAD_ONCE_INIT;
static bool events_ok;

static void *
events_thread(void *arg)
{
    (void)arg;
    for (;;) {
        if (virEventRunDefaultImpl() < 0) {
            log_warnx("libvirt event loop: %s", virGetLastErrorMessage());
            struct timespec ts = {1, 0}; /* no busy loop on a persistent error */
            (void)nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* libvirt prints every error on standard error by default; the agent logs the ones that
 * matter itself, with their context. */
static void
quiet_errors(void *data, virErrorPtr err)
{
    (void)data;
    (void)err;
}

static void
events_start(void)
{
    virSetErrorFunc(NULL, quiet_errors);
    if (virEventRegisterDefaultImpl() < 0) {
        log_warnx("libvirt events not available: %s", virGetLastErrorMessage());
        return;
    }
    pthread_t th;
    pthread_attr_t at;
    (void)pthread_attr_init(&at);
    (void)pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    events_ok = pthread_create(&th, &at, events_thread, NULL) == 0;
    (void)pthread_attr_destroy(&at);
}

void
lv_wake(int fd, char what)
{
    /* A full pipe already holds a wake-up: nothing is lost by a failed write. */
    ssize_t n = write(fd, &what, 1);
    (void)n;
}

/* What the lifecycle callback holds: libvirt may still run it while it is deregistered, so
 * it does not point into the backend, and libvirt frees it when it is done with it. The
 * write end of the pipe stays open for the life of the process for the same reason. */
struct cbctx {
    int fd;
};

static int
lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
    struct cbctx *ctx = opaque;
    (void)conn;
    (void)dom;
    (void)event;
    (void)detail;
    lv_wake(ctx->fd, 'e');
    return 0;
}

static void
close_cb(virConnectPtr conn, int reason, void *opaque)
{
    struct lv_conn *hv = opaque;
    (void)conn;
    (void)reason;
    atomic_store(&hv->lost, true);
    lv_wake(hv->wake[1], 'c');
}

/* ---- connection ------------------------------------------------------------------------------ */

static void
disconnect(struct lv_conn *hv)
{
    virConnectPtr c = hv->conn;
    if (c == NULL)
        return;
    if (hv->event_id >= 0)
        (void)virConnectDomainEventDeregisterAny(c, hv->event_id);
    hv->event_id = -1;
    (void)virConnectUnregisterCloseCallback(c, close_cb);
    (void)virConnectClose(c);
    hv->conn = NULL;
    hv->connected = false;
    hv->host_base = false;
    hv->host_cpu_known = false;
}

/* Mark the connection lost with `why`, schedule the next attempt. */
static void
lose(struct lv_conn *hv, double now, const char *why)
{
    bool was = hv->connected;
    disconnect(hv);
    (void)snprintf(hv->error, sizeof(hv->error), "%s", why);
    hv->retry_at = now + hv->backoff_s;
    if (was)
        log_warnx("libvirt connection lost uri=%s error=\"%s\"; retrying in %.0fs", hv->o.uri, why,
                  hv->backoff_s);
    else
        log_warnx("libvirt not reachable uri=%s error=\"%s\"; retrying in %.0fs", hv->o.uri, why,
                  hv->backoff_s);
    hv->backoff_s = hv->backoff_s * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : hv->backoff_s * 2;
}

static void
try_connect(struct lv_conn *hv, double now)
{
    virConnectPtr c = virConnectOpen(hv->o.uri);
    if (c == NULL) {
        lose(hv, now, virGetLastErrorMessage());
        return;
    }
    hv->conn = c;
    hv->connected = true;
    atomic_store(&hv->lost, false);
    hv->error[0] = '\0';
    hv->backoff_s = BACKOFF_MIN_S;
    if (events_ok) {
        (void)virConnectSetKeepAlive(c, 5, 3);
        if (virConnectRegisterCloseCallback(c, close_cb, hv, NULL) < 0)
            log_debug("libvirt close callback not registered: %s", virGetLastErrorMessage());
        struct cbctx *ctx = malloc(sizeof(*ctx));
        if (ctx != NULL) {
            ctx->fd = hv->wake[1];
            hv->event_id = virConnectDomainEventRegisterAny(c, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                            VIR_DOMAIN_EVENT_CALLBACK(lifecycle_cb),
                                                            ctx, free);
            if (hv->event_id < 0)
                free(ctx);
        }
        if (hv->event_id < 0)
            log_debug("libvirt lifecycle events not available: %s", virGetLastErrorMessage());
    }
    log_info("libvirt connected uri=%s events=%s", hv->o.uri, hv->event_id >= 0 ? "yes" : "no");
}

void
lv_moved(struct lv_conn *hv)
{
    if (hv->conn == NULL || !events_ok)
        return;
    (void)virConnectUnregisterCloseCallback(hv->conn, close_cb);
    if (virConnectRegisterCloseCallback(hv->conn, close_cb, hv, NULL) < 0)
        log_debug("libvirt close callback not registered: %s", virGetLastErrorMessage());
}

double
lv_retry_in(const struct lv_conn *hv, double now)
{
    if (hv->connected)
        return 0;
    return hv->retry_at > now ? hv->retry_at - now : 0;
}

unsigned
lv_drain(int fd)
{
    char buf[64];
    unsigned woke = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        for (ssize_t i = 0; i < n; i++)
            woke |= buf[i] == 'r' ? LV_WOKE_READING : LV_WOKE_OTHER;
    return woke;
}

/* ---- life ------------------------------------------------------------------------------------ */

static int
read_host_memory(struct lv_conn *hv, char *err, size_t len)
{
    if (hv->o.mem_mib > 0) {
        hv->host_mem_mib = hv->o.mem_mib;
        return 0;
    }
    char *text = NULL;
    size_t n = 0;
    int r = file_read_all(hv->o.proc_meminfo, PROC_MAX_BYTES, &text, &n);
    if (r == 0)
        r = meminfo_total_mib(text, n, &hv->host_mem_mib);
    free(text);
    if (r < 0)
        (void)snprintf(err, len, "%s: no MemTotal line (set [libvirt] mem_mib)",
                       hv->o.proc_meminfo);
    return r;
}

int
lv_init(struct lv_conn *hv, const struct hv_libvirt_opts *o, char *err, size_t len)
{
    memset(hv, 0, sizeof(*hv));
    hv->o = *o;
    hv->event_id = -1;
    hv->wake[0] = hv->wake[1] = -1;
    hv->backoff_s = BACKOFF_MIN_S;
    rate_table_init(&hv->rates);
    atomic_init(&hv->lost, false);
    if (cpuset_parse(o->cpus, &hv->cpus) < 0) {
        (void)snprintf(err, len, "cpus: \"%s\" is not a CPU list such as 0-3,8", o->cpus);
        return -EINVAL;
    }
    if (read_host_memory(hv, err, len) < 0)
        return -EINVAL;
    /* The host's CPUs must be readable now; a bad set is a configuration error. */
    char *text = NULL;
    size_t n = 0;
    int r = file_read_all(o->proc_stat, PROC_MAX_BYTES, &text, &n);
    if (r == 0)
        r = procstat_parse(text, n, &hv->cpus, &hv->host_busy, &hv->host_total, &hv->ncpus);
    free(text);
    if (r < 0) {
        (void)snprintf(err, len, "%s: the CPUs \"%s\" are not all there", o->proc_stat,
                       o->cpus[0] != '\0' ? o->cpus : "(all)");
        return -EINVAL;
    }
    if (pipe2(hv->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        hv->wake[0] = hv->wake[1] = -1;
        (void)snprintf(err, len, "pipe: %s", strerror(errno));
        return -EIO;
    }
    hv->host_base = true; /* the counters just read are the first baseline */
    (void)pthread_once(&events_once, events_start);
    try_connect(hv, 0.0);
    return 0;
}

void
lv_done(struct lv_conn *hv)
{
    disconnect(hv);
    rate_table_done(&hv->rates);
    free(hv->vms);
    hv->vms = NULL;
    /* Only the read end: see struct cbctx. */
    if (hv->wake[0] >= 0)
        (void)close(hv->wake[0]);
    hv->wake[0] = -1;
}

/* ---- sampling -------------------------------------------------------------------------------- */

static bool
ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s);
    size_t b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Is `f` "vcpu.N.delay"? */
static bool
is_vcpu_delay(const char *f)
{
    if (strncmp(f, "vcpu.", 5) != 0)
        return false;
    f += 5;
    if (*f < '0' || *f > '9')
        return false;
    while (*f >= '0' && *f <= '9')
        f++;
    return strcmp(f, ".delay") == 0;
}

void
lv_record_counters(const void *record, uint64_t *c, double *mem_kib, double *mbmt,
                   unsigned *delay_vcpus)
{
    const virDomainStatsRecord *rec = record;
    memset(c, 0, RATE_COUNTERS * sizeof(*c));
    *mem_kib = 0;
    *mbmt = -1;
    *delay_vcpus = 0;
    double max_kib = 0;
    for (int i = 0; i < rec->nparams; i++) {
        const virTypedParameter *p = &rec->params[i];
        if (p->type != VIR_TYPED_PARAM_ULLONG)
            continue;
        uint64_t v = p->value.ul;
        if (strcmp(p->field, "cpu.time") == 0)
            c[RATE_CPU_NS] = v;
        else if (strncmp(p->field, "block.", 6) == 0 &&
                 (ends_with(p->field, ".rd.bytes") || ends_with(p->field, ".wr.bytes")))
            c[RATE_DISK_BYTES] += v;
        else if (strncmp(p->field, "net.", 4) == 0 &&
                 (ends_with(p->field, ".rx.bytes") || ends_with(p->field, ".tx.bytes")))
            c[RATE_NET_BYTES] += v;
        else if (strcmp(p->field, "balloon.current") == 0)
            *mem_kib = (double)v;
        else if (strcmp(p->field, "balloon.maximum") == 0)
            max_kib = (double)v;
        else if (strcmp(p->field, "perf.mbmt") == 0)
            *mbmt = (double)v; /* already a rate: bytes/s */
        else if (is_vcpu_delay(p->field)) {
            c[RATE_DELAY_NS] += v;
            (*delay_vcpus)++;
        }
    }
    if (*mem_kib <= 0)
        *mem_kib = max_kib;
}

static double
pct(double v)
{
    return v < 0 ? 0 : v > 100 ? 100 : v;
}

static void
sample_host(struct lv_conn *hv, double now)
{
    char *text = NULL;
    size_t n = 0;
    uint64_t busy;
    uint64_t total;
    unsigned ncpus;
    int r = file_read_all(hv->o.proc_stat, PROC_MAX_BYTES, &text, &n);
    if (r == 0)
        r = procstat_parse(text, n, &hv->cpus, &busy, &total, &ncpus);
    free(text);
    if (r < 0) {
        log_warnx("%s not readable for the host's CPUs, host CPU unknown", hv->o.proc_stat);
        hv->host_cpu_known = false;
        return;
    }
    if (hv->host_base && now - hv->host_t < hv->o.min_dt_s && hv->host_cpu_known)
        return; /* too early (a sample on an event): the last figure stands */
    if (hv->host_base && total > hv->host_total && busy >= hv->host_busy) {
        hv->host_cpu =
            pct(100.0 * (double)(busy - hv->host_busy) / (double)(total - hv->host_total));
        hv->host_cpu_known = true;
    }
    hv->host_busy = busy;
    hv->host_total = total;
    hv->host_t = now;
    hv->ncpus = ncpus;
    hv->host_base = true;
}

/* (lv.h) */
void
lv_vm_read(struct lv_conn *hv, const void *rec, uint64_t dom_id, double now, struct lv_vm *v)
{
    uint64_t c[RATE_COUNTERS];
    double mem_kib;
    double mbmt;
    unsigned delay_vcpus;
    lv_record_counters(rec, c, &mem_kib, &mbmt, &delay_vcpus);
    v->arrival = lv_record_arrival(rec);
    v->mem_mib = mem_kib / 1024.0;
    if (mbmt >= 0) {
        v->has_mem_bw = true;
        v->usage[KIND_MEM_BW] = pct(100.0 * mbmt / (hv->o.mem_bw_mib_s * MIB));
        hv->host_io[KIND_MEM_BW] += v->usage[KIND_MEM_BW];
        hv->mem_bw_seen = true;
    }
    if (v->arrival == LV_ARRIVAL_STARTING || v->arrival == LV_ARRIVAL_INCOMING) {
        /* Its counters are libvirt's start of QEMU and the incoming migration stream, not the
         * guest: no usage, and no baseline for the readings once it runs (see lv.h). */
        rate_forget(&hv->rates, v->uuid);
        return;
    }
    double rates[RATE_COUNTERS];
    if (rate_update(&hv->rates, v->uuid, dom_id, now, hv->o.min_dt_s, c, rates) != 1)
        return;
    double cpu_scale = hv->ncpus > 0 ? 100.0 / ((double)hv->ncpus * 1e9) : 0;
    v->measured = true;
    v->usage[KIND_CPU] = pct(rates[RATE_CPU_NS] * cpu_scale);
    v->usage[KIND_DISK] = pct(100.0 * rates[RATE_DISK_BYTES] / (hv->o.disk_mib_s * MIB));
    v->usage[KIND_NET] = pct(100.0 * rates[RATE_NET_BYTES] / (hv->o.net_mib_s * MIB));
    v->has_cpu_wait = delay_vcpus > 0;
    v->cpu_wait = hvstat_cpu_wait_pct(rates[RATE_DELAY_NS], delay_vcpus);
    hv->host_io[KIND_DISK] += v->usage[KIND_DISK];
    hv->host_io[KIND_NET] += v->usage[KIND_NET];
}

/* Domains left out of one reading: libvirt takes names vmloc does not (a control character,
 * more than 255 bytes), and such a one in the sample would make every reader refuse the host's
 * whole sample. Each is left out (neither shown nor moved), its memory taken off the host's. */
struct left_out {
    size_t n;
    double mem_mib;
    uint64_t set; /* the XOR of their UUIDs' hashes: a change of which are left out */
    char uuid[4][sizeof(((struct lv_vm *)0)->uuid)];
    char why[4][160];
};

static void
leave_out(struct left_out *lo, const struct lv_vm *v, const char *why)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *p = v->uuid; *p != '\0'; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    lo->set ^= h;
    lo->mem_mib += v->mem_mib;
    if (lo->n < sizeof(lo->uuid) / sizeof(lo->uuid[0])) {
        (void)snprintf(lo->uuid[lo->n], sizeof(lo->uuid[0]), "%s", v->uuid);
        (void)snprintf(lo->why[lo->n], sizeof(lo->why[0]), "%s", why);
    }
    lo->n++;
}

/* Log the domains left out when they are not the ones of the last reading. */
static void
left_out_log(struct lv_conn *hv, const struct left_out *lo)
{
    if (lo->set != hv->left_out_set) {
        size_t shown = lo->n < 4 ? lo->n : 4;
        for (size_t i = 0; i < shown; i++)
            log_warnx("libvirt domain left out uuid=%s: its name %s; vmloc neither shows nor "
                      "moves it, and takes its memory off the host's (virsh domrename gives it "
                      "another)",
                      lo->uuid[i], lo->why[i]);
        if (lo->n > shown)
            log_warnx("libvirt domains left out: %zu more", lo->n - shown);
        if (lo->n == 0)
            log_info("libvirt domains left out: none now");
    }
    hv->left_out_set = lo->set;
    hv->names_skipped = lo->n;
    hv->left_out_mem_mib = lo->mem_mib;
}

int
lv_sample(struct lv_conn *hv, double now)
{
    if (hv->connected && atomic_load(&hv->lost))
        lose(hv, now, "the connection to libvirt closed");
    if (!hv->connected) {
        if (now < hv->retry_at)
            return -EIO;
        try_connect(hv, now);
        if (!hv->connected)
            return -EIO;
    }
    sample_host(hv, now);
    virDomainStatsRecordPtr *recs = NULL;
    lv_pressure_read(hv->o.proc_pressure, &hv->pressure);
    unsigned stats = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_CPU_TOTAL |
                     VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_INTERFACE |
                     VIR_DOMAIN_STATS_BLOCK | VIR_DOMAIN_STATS_PERF | VIR_DOMAIN_STATS_VCPU;
    failpoint("libvirt-reading"); /* ":slow": libvirt slow to answer (tests) */
    /* NOWAIT: a domain whose monitor is busy (a migration, a stuck QEMU) reports what libvirt
     * has instead of stalling the agent's loop. */
    int nrec = virConnectGetAllDomainStats(hv->conn, stats, &recs,
                                           VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |
                                               VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
    if (nrec < 0) {
        char why[256];
        (void)snprintf(why, sizeof(why), "%s", virGetLastErrorMessage());
        if (virConnectIsAlive(hv->conn) != 1)
            lose(hv, now, why);
        else
            log_warnx("libvirt domain stats failed error=\"%s\"", why);
        return -EIO;
    }
    if ((size_t)nrec > LV_MAX_VMS)
        nrec = LV_MAX_VMS;
    if ((size_t)nrec > hv->cap_vms) {
        struct lv_vm *nv = realloc(hv->vms, ((size_t)nrec + 16) * sizeof(*nv));
        if (nv == NULL) {
            virDomainStatsRecordListFree(recs);
            return -ENOMEM;
        }
        hv->vms = nv;
        hv->cap_vms = (size_t)nrec + 16;
    }
    hv->n_vms = 0;
    hv->mem_bw_seen = false;
    memset(hv->host_io, 0, sizeof(hv->host_io));
    struct left_out lo;
    memset(&lo, 0, sizeof(lo));
    for (int i = 0; i < nrec; i++) {
        struct lv_vm *v = &hv->vms[hv->n_vms];
        memset(v, 0, sizeof(*v));
        const char *name = virDomainGetName(recs[i]->dom);
        if (name == NULL || virDomainGetUUIDString(recs[i]->dom, v->uuid) < 0)
            continue;
        /* Read even when left out: its I/O is part of the host's. */
        lv_vm_read(hv, recs[i], (uint64_t)virDomainGetID(recs[i]->dom), now, v);
        char buf[160];
        const char *why = wire_name_problem(name, strlen(name), buf, sizeof(buf));
        if (why != NULL) {
            leave_out(&lo, v, why);
            continue;
        }
        (void)snprintf(v->name, sizeof(v->name), "%s", name);
        hv->n_vms++;
    }
    left_out_log(hv, &lo);
    rate_sweep(&hv->rates);
    virDomainStatsRecordListFree(recs);
    hv->host_io[KIND_MEM_BW] = pct(hv->host_io[KIND_MEM_BW]);
    hv->host_io[KIND_DISK] = pct(hv->host_io[KIND_DISK]);
    hv->host_io[KIND_NET] = pct(hv->host_io[KIND_NET]);
    return 0;
}

void
lv_pressure_read(const char *dir, struct pressure *ret)
{
    memset(ret, 0, sizeof(*ret));
    for (unsigned r = 0; r < PRESSURE_RES_COUNT; r++) {
        char path[300];
        (void)snprintf(path, sizeof(path), "%s/%s", dir, pressure_res_name((enum pressure_res)r));
        char *text = NULL;
        size_t n = 0;
        /* A kernel without PSI has no such file, or refuses to read it (psi=0): absent. */
        if (file_read_all(path, PROC_MAX_BYTES, &text, &n) == 0 &&
            psi_parse(text, n, (enum pressure_res)r, ret) < 0)
            log_debug("%s: no PSI line, its pressure is absent", path);
        free(text);
    }
}

/* ---- arrivals by migration ------------------------------------------------------------------ */

/* An integer typed parameter, whatever its width. false when it is not one. */
static bool
param_int(const virTypedParameter *p, long long *ret)
{
    switch (p->type) {
    case VIR_TYPED_PARAM_INT:
        *ret = p->value.i;
        return true;
    case VIR_TYPED_PARAM_UINT:
        *ret = p->value.ui;
        return true;
    case VIR_TYPED_PARAM_LLONG:
        *ret = p->value.l;
        return true;
    case VIR_TYPED_PARAM_ULLONG:
        *ret = p->value.ul > (unsigned long long)INT32_MAX ? INT32_MAX : (long long)p->value.ul;
        return true;
    default:
        return false;
    }
}

/* Why the state and its reason, and not the lifecycle events (STARTED_MIGRATED,
 * RESUMED_MIGRATED): libvirt sets RUNNING/RUNNING_MIGRATED exactly when it resumes a domain
 * that came by migration (QEMU's and libxl's drivers alike) and keeps it until the domain's
 * state changes again; booted, restored and snapshot-reverted domains have their own reasons,
 * and a source whose migration failed resumes with MIGRATION_CANCELED. The state is in the
 * stats every sample reads anyway ("state.*", from libvirt's domain object, no call to QEMU),
 * so it costs nothing, needs no hand-off from libvirt's event thread, and is not lost when
 * the events are unavailable, the event comes before the sample that lists the domain, or
 * the connection drops while the migration ends. The events still wake the agent, so the
 * sample that sees the change comes at once. */
enum lv_arrival
lv_record_arrival(const void *record)
{
    const virDomainStatsRecord *rec = record;
    long long state = -1;
    long long reason = -1;
    for (int i = 0; i < rec->nparams; i++) {
        const virTypedParameter *p = &rec->params[i];
        long long v;
        if (!param_int(p, &v))
            continue;
        if (strcmp(p->field, "state.state") == 0)
            state = v;
        else if (strcmp(p->field, "state.reason") == 0)
            reason = v;
    }
    if (state < 0 || reason < 0)
        return LV_ARRIVAL_UNKNOWN;
    if (state == VIR_DOMAIN_PAUSED && reason == VIR_DOMAIN_PAUSED_MIGRATION)
        return LV_ARRIVAL_INCOMING;
    if (state == VIR_DOMAIN_PAUSED && reason == VIR_DOMAIN_PAUSED_STARTING_UP)
        return LV_ARRIVAL_STARTING;
    if (state == VIR_DOMAIN_RUNNING && reason == VIR_DOMAIN_RUNNING_MIGRATED)
        return LV_ARRIVAL_MIGRATED;
    return LV_ARRIVAL_NONE;
}

bool
lv_arrival_step(enum lv_arrival a, bool first, bool initial, enum lv_watch *w)
{
    if (first)
        *w = LV_WATCH_SETTLED;
    switch (a) {
    case LV_ARRIVAL_UNKNOWN:
        return false; /* nothing learnt: a domain seen incoming or starting stays so */
    case LV_ARRIVAL_STARTING:
        /* libvirt gives a domain its id, and lists it, before the hook and QEMU run: an
         * incoming migration is paused "starting up" for a while (seconds on a busy host)
         * before it is paused "migration". */
        if (first)
            *w = LV_WATCH_STARTING;
        return false;
    case LV_ARRIVAL_INCOMING:
        /* Only a domain that just appeared: a source is paused for its migration too. */
        if (first || *w == LV_WATCH_STARTING)
            *w = LV_WATCH_INCOMING;
        return false;
    case LV_ARRIVAL_NONE:
    case LV_ARRIVAL_MIGRATED:
        break;
    }
    enum lv_watch was = *w;
    *w = LV_WATCH_SETTLED;
    if (was == LV_WATCH_INCOMING)
        return true; /* it left the incoming pause and is still here: the migration succeeded
                      * (however it was resumed: running, or paused on purpose) */
    if (was == LV_WATCH_STARTING)
        return a == LV_ARRIVAL_MIGRATED; /* it started while the agent watched */
    return first && !initial && a == LV_ARRIVAL_MIGRATED;
}

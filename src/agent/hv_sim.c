/* The simulated backend (hv_sim.h): the operations of hv.h on a simulated host, and its state
 * file.
 *
 * With a data folder, the host's VMs (with their demand and state), the arrivals it reserved
 * or committed and the migrations it ran are written to DATA/hv-sim.json whenever one of them
 * changes, before the request that changed it is answered (file_write_atomic(): a crash leaves
 * the old state or the new one, never half of either). At start, a file that exists replaces
 * the --vm list (the VMs may have moved since), and migrations that were running when the
 * agent stopped are resolved with their destination before anything else happens to their VM
 * (sim_transfer_resume(): the destination alone knows whether it runs the VM). Reservations
 * of arrivals stand again until their commit, an abort, or their expiry. A file that cannot be
 * read is an error that stops the agent: it could not know which VMs it runs. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/sim.h"
#include "agent/sim_arrival.h"
#include "common/clock.h"
#include "common/failpoint.h"
#include "common/file.h"
#include "common/log.h"
#include "core/cpuwait.h" /* cpuwait_pressure_avg() */
#include "net/loop.h"

#define STATE_FILE "hv-sim.json"

static struct hv_sim *
sim_of(struct hv *h)
{
    return (struct hv_sim *)h;
}

void
hv_sim_trace_demand(struct hv_sim *hv, double now)
{
    for (size_t i = 0; hv->trace.loaded && i < hv->host.n_vms; i++) {
        struct simvm *v = &hv->host.vms[i];
        if (v->trace[0] != '\0' && v->trace_vm >= 0)
            hv_trace_demand(&hv->trace, (size_t)v->trace_vm, v->mips, v->cores, now, v->demand);
    }
}

/* With --sim-pressure: the kernel's cpu pressure `some` (avg10) of the host, into `s`. The
 * host stalled (some VM waited) over the whole interval since the last sample or not at all,
 * as that sample found it: a change of demand is sampled at once (hv_events.changed). `full`
 * is left absent: at the level of the whole host the kernel's cpu `full` is not defined
 * (kernels since 5.13 print it as 0), and memory and io are not modelled. */
static void
sim_pressure(struct hv_sim *hv, struct wire_sample *s)
{
    double now = clock_mono_s();
    if (hv->psi_mono >= 0.0)
        hv->psi_some =
            cpuwait_pressure_avg(hv->psi_some, hv->psi_stalled ? 100.0 : 0.0, now - hv->psi_mono);
    hv->psi_mono = now;
    hv->psi_stalled = simhost_cpu_stalled(&hv->host);
    pressure_set(&s->pressure, PRESSURE_CPU, PRESSURE_SOME, hv->psi_some);
}

/* The simulated host now: what each VM gets of what it asks for, and the host's total. The
 * host part has the snapshot format's fields, so a collector can put it straight into a
 * snapshot; VMs that are only arriving are listed but not yet the host's. */
static int
sim_sample(struct hv *h, double now, struct wire_sample *s, char *why, size_t len)
{
    struct hv_sim *hv = sim_of(h);
    (void)why;
    (void)len;
    memset(s, 0, sizeof(*s));
    size_t n = hv->host.n_vms;
    double(*usage)[KIND_COUNT] = calloc(n + 1, sizeof(*usage));
    double *wait = calloc(n + 1, sizeof(*wait));
    s->vms = calloc(n + 1, sizeof(*s->vms));
    s->moves = calloc(n * MODEL_MAX_VM_MOVES + 1, sizeof(*s->moves));
    if (usage == NULL || wait == NULL || s->vms == NULL || s->moves == NULL) {
        free(usage);
        free(wait);
        wire_sample_done(s);
        return -ENOMEM;
    }
    hv_sim_trace_demand(hv, now);
    simhost_allocate(&hv->host, usage, s->usage);
    simhost_cpu_wait(&hv->host, wait);
    if (hv->o.pressure)
        sim_pressure(hv, s);
    s->usage_kinds = KIND_MASK_ALL;
    s->time = now;
    (void)snprintf(s->name, sizeof(s->name), "%s", hv->o.name);
    s->capacity = hv->host.capacity;
    s->mem_mib = hv->host.mem_mib;
    for (size_t i = 0; i < n; i++) {
        const struct simvm *v = &hv->host.vms[i];
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
        o->has_cpu_wait = wait[i] >= 0;
        o->cpu_wait = o->has_cpu_wait ? wait[i] : 0.0;
        if (wire_vm_set_trace(s, o, v->trace, strlen(v->trace)) < 0) {
            free(usage);
            free(wait);
            wire_sample_done(s);
            return -ENOMEM;
        }
        o->moves_first = (uint32_t)s->n_moves;
        o->n_moves = v->n_moves;
        memcpy(s->moves + s->n_moves, v->moves, v->n_moves * sizeof(*v->moves));
        s->n_moves += v->n_moves;
    }
    free(usage);
    free(wait);
    return 0;
}

/* One VM as GET /v1/vms lists it. */
static json_t *
vm_json(const struct hv_sim *hv, const struct simvm *v, const double *usage, double wait,
        double now)
{
    json_t *o = json_pack("{s:s,s:o,s:o,s:f,s:I,s:b,s:s,s:s}", "name", v->name, "usage",
                          wire_kinds_json(usage), "demand", wire_kinds_json(v->demand), "mem_mib",
                          v->mem_mib, "priority", (json_int_t)v->priority, "pinned", v->pinned,
                          "state", simvm_state_name(v->state), "host", hv->o.name);
    if (o != NULL && wait >= 0 &&
        json_object_set_new(o, "cpu_wait", json_real(round(wait * 1000.0) / 1000.0)) < 0) {
        json_decref(o);
        o = NULL;
    }
    if (o != NULL && v->trace[0] != '\0' &&
        json_object_set_new(o, "trace", json_string(v->trace)) < 0) {
        json_decref(o);
        o = NULL;
    }
    if (v->state != SIMVM_INCOMING) {
        o = wire_vm_hold_json(o, hv->o.policy, v->arrived, v->moves, v->n_moves, now);
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
    return o;
}

static json_t *
sim_vms(struct hv *h, double now)
{
    struct hv_sim *hv = sim_of(h);
    double(*usage)[KIND_COUNT] = calloc(hv->host.n_vms + 1, sizeof(*usage));
    double *wait = calloc(hv->host.n_vms + 1, sizeof(*wait));
    double host[KIND_COUNT];
    json_t *arr = usage != NULL && wait != NULL ? json_array() : NULL;
    if (arr != NULL) {
        simhost_allocate(&hv->host, usage, host);
        simhost_cpu_wait(&hv->host, wait);
    }
    for (size_t i = 0; i < hv->host.n_vms && arr != NULL; i++) {
        json_t *o = vm_json(hv, &hv->host.vms[i], usage[i], wait[i], now);
        if (o == NULL || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    free(usage);
    free(wait);
    return arr;
}

static size_t
sim_n_vms(const struct hv *h)
{
    return ((const struct hv_sim *)h)->host.n_vms;
}

static int
sim_set_load(struct hv *h, const char *vm, const struct wire_load *l, char *msg, size_t len)
{
    struct hv_sim *hv = sim_of(h);
    long vi = simhost_find(&hv->host, vm);
    if (vi >= 0 && hv->host.vms[vi].trace[0] != '\0') {
        (void)snprintf(msg, len, "VM \"%s\" follows trace file \"%s\": its demand is not set", vm,
                       hv->host.vms[vi].trace);
        return 409;
    }
    double before[KIND_COUNT] = {0};
    if (vi >= 0)
        memcpy(before, hv->host.vms[vi].demand, sizeof(before));
    int rc = simhost_set_demand(&hv->host, vm, l->mask, l->pct);
    if (rc == -ENOENT) {
        (void)snprintf(msg, len, "no VM named \"%s\" on host \"%s\"", vm, hv->o.name);
        return 404;
    }
    if (rc < 0) {
        (void)snprintf(msg, len, "bad demand");
        return 400;
    }
    char desc[128] = "";
    size_t off = 0;
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if ((l->mask & KIND_BIT(k)) && off < sizeof(desc))
            off += (size_t)snprintf(desc + off, sizeof(desc) - off, " %s=%g",
                                    kind_name((enum kind)k), l->pct[k]);
    }
    /* The state file holds the demand: a change that cannot be saved is not made, so a
     * restart never finds an older load than the one a client was told about. */
    int sr = hv->ev.save(hv->ev.ctx);
    if (sr < 0) {
        memcpy(hv->host.vms[vi].demand, before, sizeof(before));
        (void)snprintf(msg, len,
                       "the host state could not be saved (%s, data directory %s); the load of "
                       "\"%s\" is unchanged",
                       strerror(-sr), hv->o.data, vm);
        return 503;
    }
    log_info("load changed vm=\"%s\"%s", vm, desc);
    /* Sample at once, so the change is visible to the next collection without waiting for
     * the sampling timer: the reaction time of the method starts here. */
    hv->ev.changed(hv->ev.ctx);
    return 200;
}

static int
sim_migrate_check(struct hv *h, const char *vm, double *ret_mem_mib)
{
    struct hv_sim *hv = sim_of(h);
    failpoint("source-on-order"); /* the order arrived; nothing done or answered yet */
    long i = simhost_find(&hv->host, vm);
    if (i < 0)
        return -ENOENT;
    const struct simvm *v = &hv->host.vms[i];
    if (v->state != SIMVM_RUNNING)
        return -EBUSY;
    if (v->pinned)
        return -EPERM;
    *ret_mem_mib = v->mem_mib;
    return 0;
}

static int
sim_migrate_start(struct hv *h, struct migration *m, hv_ended_fn done, void *arg)
{
    return sim_transfer_start(sim_of(h), m, done, arg);
}

static int
sim_migrate_resume(struct hv *h, struct migration *m, hv_ended_fn done, void *arg)
{
    return sim_transfer_resume(sim_of(h), m, done, arg);
}

static int
sim_migrate_abort(struct hv *h, struct migration *m, const char *why)
{
    (void)h;
    return sim_transfer_abort(m, why);
}

static int
sim_migrate_hold(const struct hv *h, const struct migration *m)
{
    (void)h;
    return sim_transfer_hold(m);
}

static void
sim_migrate_release(struct hv *h, struct migration *m)
{
    (void)h;
    sim_transfer_release(m);
}

static struct sim_arrivals *
sim_arrivals_of(struct hv *h)
{
    return &sim_of(h)->arr;
}

/* ---- the state file ---------------------------------------------------------------------- */

static bool
state_enabled(const struct hv_sim *hv)
{
    return hv->o.data[0] != '\0';
}

static int
state_path(const struct hv_sim *hv, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s", hv->o.data, STATE_FILE);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static void
export_vm(const struct simvm *v, struct simstate_vm *r)
{
    memset(r, 0, sizeof(*r));
    (void)snprintf(r->name, sizeof(r->name), "%s", v->name);
    memcpy(r->demand, v->demand, sizeof(r->demand));
    r->mem_mib = v->mem_mib;
    r->priority = v->priority;
    r->pinned = v->pinned;
    r->arrived = v->arrived;
    memcpy(r->moves, v->moves, sizeof(r->moves));
    r->n_moves = v->n_moves;
    r->state = (enum simstate_vm_state)v->state;
    (void)snprintf(r->trace, sizeof(r->trace), "%s", v->trace);
    r->mips = v->mips;
    r->cores = v->cores;
}

static void
export_mig(const struct migration *m, struct simstate_mig *r)
{
    memset(r, 0, sizeof(*r));
    (void)snprintf(r->id, sizeof(r->id), "%s", m->id);
    (void)snprintf(r->vm, sizeof(r->vm), "%s", m->vm);
    (void)snprintf(r->to_url, sizeof(r->to_url), "%s", m->to_url);
    (void)snprintf(r->to_name, sizeof(r->to_name), "%s", m->to_name);
    r->state = (enum simstate_mig_state)m->state;
    r->started = m->started;
    r->finished = m->finished;
    r->mem_mib = m->mem_mib;
    r->transfer_s = m->transfer_s;
    (void)snprintf(r->error, sizeof(r->error), "%s", m->error);
    (void)snprintf(r->reason, sizeof(r->reason), "%s", m->reason);
    sim_job_flags(m, &r->commit_sent, &r->settled);
}

/* The host's state as the file keeps it. 0 or -ENOMEM. */
static int
state_text(const struct hv_sim *hv, struct migration *const *migs, size_t n, char **ret)
{
    struct simstate s;
    memset(&s, 0, sizeof(s));
    (void)snprintf(s.host, sizeof(s.host), "%s", hv->o.name);
    s.vms = calloc(hv->host.n_vms + 1, sizeof(*s.vms));
    s.ins = calloc(hv->arr.n + 1, sizeof(*s.ins));
    s.migs = calloc(n + 1, sizeof(*s.migs));
    int r = -ENOMEM;
    if (s.vms != NULL && s.ins != NULL && s.migs != NULL) {
        for (s.n_vms = 0; s.n_vms < hv->host.n_vms; s.n_vms++)
            export_vm(&hv->host.vms[s.n_vms], &s.vms[s.n_vms]);
        sim_arrivals_export(&hv->arr, s.ins);
        s.n_ins = hv->arr.n;
        for (s.n_migs = 0; s.n_migs < n; s.n_migs++)
            export_mig(migs[s.n_migs], &s.migs[s.n_migs]);
        r = simstate_encode(&s, ret);
    }
    simstate_done(&s);
    return r;
}

static int
sim_save(struct hv *h, struct migration *const *migs, size_t n)
{
    struct hv_sim *hv = sim_of(h);
    if (!state_enabled(hv) || !hv->state_loaded)
        return 0;
    char *text = NULL;
    if (state_text(hv, migs, n, &text) < 0) {
        log_warnx("host state not saved: out of memory");
        return -ENOMEM;
    }
    if (hv->state_text != NULL && strcmp(hv->state_text, text) == 0) {
        free(text);
        return 0; /* nothing changed */
    }
    char path[4200];
    int r = state_path(hv, path, sizeof(path));
    if (r == 0)
        r = file_write_atomic(path, text);
    if (r < 0) {
        log_warnx("host state not saved file=%s error=\"%s\"", path, strerror(-r));
        free(text);
        /* The file may hold this text or the one before (a failure after the rename): the
         * next save writes whatever it has, never skipped as unchanged. */
        free(hv->state_text);
        hv->state_text = NULL;
        return r;
    }
    free(hv->state_text);
    hv->state_text = text;
    return 0;
}

/* Add VM `v` of the state file; false with `err` when the host cannot run it. */
static bool
restore_vm(struct hv_sim *hv, const struct simstate_vm *r, size_t i, struct perr *err)
{
    struct simvm v;
    memset(&v, 0, sizeof(v));
    (void)snprintf(v.name, sizeof(v.name), "%s", r->name);
    memcpy(v.demand, r->demand, sizeof(v.demand));
    v.mem_mib = r->mem_mib;
    v.priority = r->priority;
    v.pinned = r->pinned;
    v.arrived = r->arrived;
    memcpy(v.moves, r->moves, sizeof(v.moves));
    v.n_moves = r->n_moves;
    v.state = (enum simvm_state)r->state;
    v.trace_vm = -1;
    if (r->trace[0] != '\0') {
        /* A VM that follows a trace: the file must be in this agent's trace. */
        (void)snprintf(v.trace, sizeof(v.trace), "%s", r->trace);
        v.trace_vm = hv_trace_find(&hv->trace, v.trace);
        if (v.trace_vm < 0) {
            perr_set(err, "vms[%zu].trace: not a file of this agent's [sim] trace", i);
            return false;
        }
        v.mips = r->mips;
        v.cores = r->cores;
    }
    int rc = simhost_add(&hv->host, &v);
    if (rc < 0)
        perr_set(err, "vms[%zu]: %s", i, rc == -EEXIST ? "a VM named twice" : strerror(-rc));
    return rc == 0;
}

/* The migrations of the state file, as records (their jobs restored with them). */
static int
restore_migs(struct hv_sim *hv, const struct simstate *s, struct migration ***ret, size_t *ret_n,
             struct perr *err)
{
    *ret = calloc(s->n_migs + 1, sizeof(struct migration *));
    if (*ret == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < s->n_migs; i++) {
        const struct simstate_mig *r = &s->migs[i];
        if (http_url_check(r->to_url) < 0) {
            perr_set(err, "migrations[%zu].to_url: not an http://HOST:PORT URL", i);
            return -EINVAL;
        }
        struct migration *m = migration_new(r->id, r->vm, r->to_url, r->to_name);
        if (m == NULL || sim_job_restore(hv, m, r->commit_sent, r->settled) < 0) {
            free(m);
            return -ENOMEM;
        }
        (*ret)[(*ret_n)++] = m;
        m->state = (enum mig_state)r->state;
        m->started = r->started;
        m->finished = r->finished;
        /* Started by an earlier run of the agent. */
        m->started_mono = clock_mono_of_wall(m->started, clock_wall_s(), clock_mono_s());
        m->took_s = m->finished > m->started ? m->finished - m->started : 0;
        m->mem_mib = r->mem_mib;
        m->transfer_s = r->transfer_s;
        (void)snprintf(m->error, sizeof(m->error), "%s", r->error);
        (void)snprintf(m->reason, sizeof(m->reason), "%s", r->reason);
    }
    return 0;
}

/* Read the state file `text` into the host. 0, or -EINVAL with `err`, or -ENOMEM. */
static int
restore_text(struct hv_sim *hv, const char *text, size_t len, struct migration ***ret,
             size_t *ret_n, struct perr *err)
{
    struct simstate s;
    int r = simstate_decode(text, len, &s, err);
    if (r == 0 && strcmp(s.host, hv->o.name) != 0) {
        perr_set(err, "host: not \"%s\" (another host's state?)", hv->o.name);
        r = -EINVAL;
    }
    for (size_t i = 0; r == 0 && i < s.n_vms; i++)
        r = restore_vm(hv, &s.vms[i], i, err) ? 0 : -EINVAL;
    if (r == 0)
        r = sim_arrivals_restore(&hv->arr, &s, err);
    if (r == 0)
        r = restore_migs(hv, &s, ret, ret_n, err);
    simstate_done(&s);
    if (r < 0) {
        for (size_t i = 0; *ret != NULL && i < *ret_n; i++) {
            sim_transfer_release((*ret)[i]);
            free((*ret)[i]);
        }
        free(*ret);
        *ret = NULL;
        *ret_n = 0;
    }
    return r;
}

/* The VMs of the options: the host's VMs at a first start. */
static int
add_vms(struct hv_sim *hv)
{
    for (size_t i = 0; i < hv->o.n_vms; i++) {
        const struct wire_vmdef *d = &hv->o.vms[i];
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
            v.trace_vm = hv_trace_find(&hv->trace, d->trace);
            if (v.trace_vm < 0) {
                log_errorx("VM \"%s\": no trace file \"%s\" in %s", d->name, d->trace,
                           hv->trace.loaded ? hv->trace.o.dir : "([sim] trace is not set)");
                return -ENOENT;
            }
            (void)snprintf(v.trace, sizeof(v.trace), "%s", d->trace);
            v.mips = d->mips;
            v.cores = d->cores;
            hv_trace_demand(&hv->trace, (size_t)v.trace_vm, v.mips, v.cores, clock_wall_s(),
                            v.demand);
        }
        int r = simhost_add(&hv->host, &v);
        if (r == -EEXIST)
            log_errorx("VM \"%s\" given twice", d->name);
        else if (r == -ENOSPC)
            log_errorx("VM \"%s\" does not fit in the host's memory (%.0f MiB)", d->name,
                       hv->host.mem_mib);
        else if (r < 0)
            log_errorx("VM \"%s\": %s", d->name, strerror(-r));
        if (r < 0)
            return r;
    }
    return 0;
}

/* Read DATA/hv-sim.json when there is one: its VMs, arrivals and migrations. */
/* Can files be made in `dir`: a probe file created and removed. 0 or -errno. */
static int
dir_writable(const char *dir)
{
    char path[4200];
    int n = snprintf(path, sizeof(path), "%s/.vmloc-write-check", dir);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -ENAMETOOLONG;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -errno;
    (void)close(fd);
    if (unlink(path) < 0)
        return -errno;
    return 0;
}

static int
sim_restore(struct hv *h, bool *ret_found, struct migration ***ret, size_t *ret_n)
{
    struct hv_sim *hv = sim_of(h);
    *ret_found = false;
    *ret = NULL;
    *ret_n = 0;
    if (!state_enabled(hv))
        return add_vms(hv);
    if (mkdir(hv->o.data, 0700) < 0 && errno != EEXIST) {
        int r = -errno;
        log_errorx("cannot create the data directory %s: %s", hv->o.data, strerror(-r));
        return r;
    }
    int wr = dir_writable(hv->o.data);
    if (wr < 0) {
        log_errorx("the data directory %s is not writable: %s (the host state could not be kept)",
                   hv->o.data, strerror(-wr));
        return wr;
    }
    char path[4200];
    if (state_path(hv, path, sizeof(path)) < 0) {
        log_errorx("data directory path too long");
        return -ENAMETOOLONG;
    }
    char *text = NULL;
    size_t len = 0;
    int r = file_read_all(path, SIMSTATE_MAX_BYTES, &text, &len);
    if (r == -ENOENT) {
        hv->state_loaded = true; /* first start: the --vm list, saved at the first sample */
        return add_vms(hv);
    }
    if (r < 0) {
        log_errorx("cannot read the host state %s: %s", path, file_strerror(r));
        return r;
    }
    struct perr err;
    r = restore_text(hv, text, len, ret, ret_n, &err);
    free(text);
    if (r < 0) {
        log_errorx("%s: %s (the host state; fix or remove it to start from --vm)", path,
                   r == -ENOMEM ? "out of memory" : err.msg);
        return r;
    }
    *ret_found = true;
    hv->state_loaded = true;
    log_info("host state restored file=%s vms=%zu arrivals=%zu migrations=%zu (the --vm list is "
             "not used)",
             path, hv->host.n_vms, hv->arr.n, *ret_n);
    return sim_arrivals_resume(&hv->arr);
}

static void
sim_free(struct hv *h)
{
    struct hv_sim *hv = sim_of(h);
    sim_arrivals_done(&hv->arr);
    simhost_done(&hv->host);
    hv_trace_done(&hv->trace);
    free(hv->state_text);
    free(hv);
}

static const struct hv_ops sim_ops = {
    .name = "sim",
    .free = sim_free,
    .sample = sim_sample,
    .vms = sim_vms,
    .n_vms = sim_n_vms,
    .set_load = sim_set_load,
    .migrate_check = sim_migrate_check,
    .migrate_start = sim_migrate_start,
    .migrate_resume = sim_migrate_resume,
    .migrate_abort = sim_migrate_abort,
    .migrate_hold = sim_migrate_hold,
    .migrate_release = sim_migrate_release,
    .arrivals = sim_arrivals_of,
    .restore = sim_restore,
    .save = sim_save,
};

int
hv_sim_new(const struct hv_sim_opts *o, struct event_base *base, struct http_client *client,
           const struct hv_events *ev, struct hv **ret)
{
    struct hv_sim *hv = calloc(1, sizeof(*hv));
    if (hv == NULL) {
        log_errorx("out of memory");
        return -ENOMEM;
    }
    hv->base.ops = &sim_ops;
    hv->o = *o;
    hv->evbase = base;
    hv->client = client;
    hv->ev = *ev;
    hv->psi_mono = -1.0;
    sim_arrivals_init(&hv->arr, hv);
    if (simhost_init(&hv->host, o->name) < 0) {
        log_errorx("bad host name");
        sim_free(&hv->base);
        return -EINVAL;
    }
    hv->host.capacity = o->capacity;
    hv->host.mem_mib = o->mem_mib;
    memcpy(hv->host.overhead, o->overhead, sizeof(hv->host.overhead));
    char terr[600];
    if (hv_trace_load(&hv->trace, o->trace, terr, sizeof(terr)) < 0) {
        log_errorx("[sim] trace: %s", terr);
        sim_free(&hv->base);
        return -EINVAL;
    }
    if (hv->trace.loaded)
        log_info("trace loaded dir=%s format=%s vms=%zu samples=%zu start=%.3f step=%gs",
                 o->trace->dir, trace_format_name(o->trace->format), hv->trace.tr.n_vms,
                 hv->trace.tr.n_samples, o->trace->start, o->trace->step_s);
    *ret = &hv->base;
    return 0;
}

/* Arrivals on a simulated host (sim_arrival.h).
 *
 * The host keeps the last SIMSTATE_MAX_RECORDS arrivals and forgets aborted and settled ones
 * first; it never forgets a committed arrival its source has not settled, since that source
 * may be down and ask for it when it comes back (an unknown id would make it resume the VM).
 * A host whose table is full of those refuses new arrivals (503) until their sources settle
 * them, or a day has passed. */
#define _POSIX_C_SOURCE 200809L
#include "agent/sim_arrival.h"

#include <errno.h>
#include <event2/event.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/sim.h"
#include "common/clock.h"
#include "common/failpoint.h"
#include "common/log.h"

static void
arrival_free(struct arrival *in)
{
    if (in->expiry != NULL)
        event_free(in->expiry);
    free(in);
}

void
sim_arrivals_init(struct sim_arrivals *t, struct hv_sim *hv)
{
    memset(t, 0, sizeof(*t));
    t->hv = hv;
}

void
sim_arrivals_done(struct sim_arrivals *t)
{
    for (size_t i = 0; i < t->n; i++)
        arrival_free(t->ins[i]);
    t->n = 0;
}

static struct arrival *
find(const struct sim_arrivals *t, const char *id)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->ins[i]->id, id) == 0)
            return t->ins[i];
    }
    return NULL;
}

/* Make room by forgetting the oldest aborted or settled arrival, else the oldest committed one
 * whose source has not settled it for SIM_UNSETTLED_KEEP_S (a source gone for good, or one
 * that does not settle). false: every record is still needed. */
static bool
make_room(struct sim_arrivals *t)
{
    if (t->n < SIMSTATE_MAX_RECORDS)
        return true;
    double now = clock_wall_s();
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < t->n; i++) {
            struct arrival *in = t->ins[i];
            bool done = in->state == SIMSTATE_IN_ABORTED ||
                        (in->state == SIMSTATE_IN_COMMITTED && in->settled);
            bool stale =
                in->state == SIMSTATE_IN_COMMITTED && now - in->since > SIM_UNSETTLED_KEEP_S;
            if (!(pass == 0 ? done : stale))
                continue;
            if (pass == 1)
                log_warnx("forgetting arrival id=%s vm=\"%s\" from=\"%s\": its source has not "
                          "settled it in %.0f h; if that source comes back it will not find it",
                          in->id, in->vm, in->from, SIM_UNSETTLED_KEEP_S / 3600.0);
            arrival_free(in);
            memmove(&t->ins[i], &t->ins[i + 1], (t->n - i - 1) * sizeof(struct arrival *));
            t->n--;
            return true;
        }
    }
    return false;
}

/* The expiry timer of a reserved arrival. */
static void
expiry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct arrival *in = arg;
    (void)fd;
    (void)what;
    if (in->state != SIMSTATE_IN_RESERVED)
        return;
    in->state = SIMSTATE_IN_ABORTED;
    if (simhost_remove(&in->hv->host, in->vm) < 0)
        log_warnx("expired arrival already gone vm=\"%s\"", in->vm);
    log_warnx("arrival expired without commit id=%s vm=\"%s\" from=\"%s\"", in->id, in->vm,
              in->from);
    in->hv->ev.changed(in->hv->ev.ctx);
}

/* The reservation outlives the copy its source announced, with a margin. */
static void
arm_expiry(struct arrival *in)
{
    struct timeval tv = {SIM_INCOMING_EXPIRY_S + (time_t)in->transfer_s, 0};
    (void)event_add(in->expiry, &tv);
}

/* Why host `hv` cannot take VM `w` now (an HTTP status, `msg` filled), or 0. */
static int
refuse(struct hv_sim *hv, const struct wire_incoming *w, long trace_vm, char *msg, size_t len)
{
    if (simhost_find(&hv->host, w->vm.name) >= 0) {
        (void)snprintf(msg, len, "a VM named \"%s\" is already on host \"%s\"", w->vm.name,
                       hv->o.name);
        return 409;
    }
    if (hv->host.n_vms >= SIMSTATE_MAX_VMS) {
        (void)snprintf(msg, len, "too many VMs on host \"%s\"", hv->o.name);
        return 409;
    }
    if (w->vm.trace[0] != '\0' && trace_vm < 0) {
        (void)snprintf(msg, len,
                       "host \"%s\" cannot run VM \"%s\": its demand follows trace file \"%s\", "
                       "which this host's [sim] trace does not have",
                       hv->o.name, w->vm.name, w->vm.trace);
        return 409;
    }
    if (!make_room(&hv->arr)) {
        log_warnx("arrival refused id=%s: the last %d arrivals still wait for their sources to "
                  "settle them",
                  w->id, SIMSTATE_MAX_RECORDS);
        (void)snprintf(msg, len,
                       "host \"%s\" still keeps %d arrivals that their sources have not settled",
                       hv->o.name, SIMSTATE_MAX_RECORDS);
        return 503;
    }
    return 0;
}

/* The arriving VM as this host will run it: its demand in percent of this host. */
static void
arriving_vm(struct hv_sim *hv, const struct wire_incoming *w, const struct arrival *in,
            long trace_vm, struct simvm *v)
{
    memset(v, 0, sizeof(*v));
    (void)snprintf(v->name, sizeof(v->name), "%s", w->vm.name);
    /* In percent of the source: the same load in percent of this host (at most all of it). */
    for (unsigned k = 0; k < KIND_COUNT; k++)
        v->demand[k] = fmin(100.0, w->vm.demand[k] * in->scale);
    v->trace_vm = trace_vm;
    if (trace_vm >= 0) {
        (void)snprintf(v->trace, sizeof(v->trace), "%s", w->vm.trace);
        v->mips = w->vm.mips;
        v->cores = w->vm.cores;
        hv_trace_demand(&hv->trace, (size_t)trace_vm, v->mips, v->cores, clock_wall_s(), v->demand);
    }
    v->mem_mib = w->vm.mem_mib;
    v->priority = w->vm.priority;
    v->pinned = w->vm.pinned;
    v->arrived = -1.0;
    memcpy(v->moves, w->vm.moves, sizeof(v->moves));
    v->n_moves = w->vm.n_moves;
    v->state = SIMVM_INCOMING;
}

int
sim_arrival_reserve(struct sim_arrivals *t, const struct wire_incoming *w, const char *refusal,
                    char *msg, size_t len)
{
    struct hv_sim *hv = t->hv;
    failpoint("dest-on-reserve"); /* asked to reserve; nothing done or answered yet */
    struct arrival *old = find(t, w->id);
    if (old != NULL) {
        if (old->state == SIMSTATE_IN_RESERVED && strcmp(old->vm, w->vm.name) == 0)
            return 200; /* a retried request */
        (void)snprintf(msg, len, "arrival \"%s\" exists", w->id);
        return 409;
    }
    if (refusal != NULL) {
        (void)snprintf(msg, len, "%s", refusal);
        return 409;
    }
    long trace_vm = w->vm.trace[0] != '\0' ? hv_trace_find(&hv->trace, w->vm.trace) : -1;
    int code = refuse(hv, w, trace_vm, msg, len);
    if (code != 0)
        return code;
    struct arrival *in = calloc(1, sizeof(*in));
    if (in == NULL) {
        (void)snprintf(msg, len, "out of memory");
        return 503;
    }
    in->hv = hv;
    (void)snprintf(in->id, sizeof(in->id), "%s", w->id);
    (void)snprintf(in->vm, sizeof(in->vm), "%s", w->vm.name);
    (void)snprintf(in->from, sizeof(in->from), "%s", w->from);
    in->state = SIMSTATE_IN_RESERVED;
    in->since = clock_wall_s();
    in->transfer_s = w->transfer_s;
    in->scale = w->capacity > 0 ? w->capacity / hv->host.capacity : 1.0;
    in->expiry = evtimer_new(hv->evbase, expiry_cb, in);
    struct simvm v;
    arriving_vm(hv, w, in, trace_vm, &v);
    int r = in->expiry != NULL ? simhost_add(&hv->host, &v) : -ENOMEM;
    if (r < 0) {
        arrival_free(in);
        if (r == -ENOSPC) {
            (void)snprintf(msg, len, "not enough memory on host \"%s\" for %.0f MiB", hv->o.name,
                           w->vm.mem_mib);
            return 409;
        }
        (void)snprintf(msg, len, "cannot accept the VM: %s", strerror(-r));
        return r == -ENOMEM ? 503 : 409;
    }
    arm_expiry(in);
    t->ins[t->n++] = in;
    log_info("arrival reserved id=%s vm=\"%s\" from=\"%s\" mem_mib=%.0f", in->id, in->vm, in->from,
             v.mem_mib);
    hv->ev.changed(hv->ev.ctx);
    return 201;
}

int
sim_arrival_commit(struct sim_arrivals *t, const char *id, const struct wire_load *final, char *msg,
                   size_t len)
{
    struct hv_sim *hv = t->hv;
    struct arrival *in = find(t, id);
    if (in == NULL) {
        (void)snprintf(msg, len, "no arrival \"%s\"", id);
        return 404;
    }
    if (in->state == SIMSTATE_IN_COMMITTED)
        return 200;
    if (in->state == SIMSTATE_IN_ABORTED) {
        (void)snprintf(msg, len, "arrival \"%s\" was aborted", id);
        return 409;
    }
    long vi = simhost_find(&hv->host, in->vm);
    if (vi < 0 || simhost_set_state(&hv->host, in->vm, SIMVM_RUNNING) < 0) {
        (void)snprintf(msg, len, "arrival \"%s\" lost its VM", id);
        return 409;
    }
    struct simvm *sv = &hv->host.vms[vi];
    struct simvm before = *sv;
    sv->arrived = clock_wall_s(); /* its cooldown starts now, and it counts as a move */
    vm_moves_push(sv->moves, &sv->n_moves, sv->arrived);
    /* The source's last demand, in percent of the source; a VM that follows a trace asks for
     * its trace's value at the next sample. */
    double pct[KIND_COUNT];
    for (unsigned k = 0; k < KIND_COUNT; k++)
        pct[k] = fmin(100.0, final->pct[k] * in->scale);
    if (final->mask != 0 && sv->trace[0] == '\0' &&
        simhost_set_demand(&hv->host, in->vm, final->mask, pct) < 0)
        log_warnx("commit carried a bad demand id=%s, ignoring", id);
    in->state = SIMSTATE_IN_COMMITTED;
    /* Saved before the answer: a restart must find the VM running here. */
    if (hv->ev.save(hv->ev.ctx) < 0) {
        in->state = SIMSTATE_IN_RESERVED;
        if (simhost_set_state(&hv->host, in->vm, SIMVM_INCOMING) < 0)
            log_warnx("arrival lost its VM id=%s", id);
        /* Not arrived after all: a commit asked again must not count the move twice. */
        sv->arrived = before.arrived;
        memcpy(sv->moves, before.moves, sizeof(sv->moves));
        sv->n_moves = before.n_moves;
        /* The failed save may have reached the file (a failure after its rename): put the
         * reservation back there too, or a restart would run the VM the source keeps. */
        if (hv->ev.save(hv->ev.ctx) < 0)
            log_warnx("reservation not saved back id=%s: the state file may say committed, "
                      "ignoring",
                      id);
        (void)snprintf(msg, len, "cannot save host \"%s\"'s state; the VM stays where it is",
                       hv->o.name);
        return 503;
    }
    (void)event_del(in->expiry);
    log_info("migration arrived id=%s vm=\"%s\" from=\"%s\"", in->id, in->vm, in->from);
    hv->ev.changed(hv->ev.ctx);
    failpoint("dest-after-commit"); /* the VM runs here (and is saved); not answered */
    return 200;
}

int
sim_arrival_settle(struct sim_arrivals *t, const char *id, char *msg, size_t len)
{
    struct arrival *in = find(t, id);
    if (in == NULL) {
        (void)snprintf(msg, len, "no arrival \"%s\"", id);
        return 404;
    }
    if (in->state == SIMSTATE_IN_RESERVED) {
        (void)snprintf(msg, len, "arrival \"%s\" is neither committed nor aborted", id);
        return 409;
    }
    if (!in->settled) {
        in->settled = true;
        /* A failed save only keeps the record longer after a restart: the safe side. */
        (void)t->hv->ev.save(t->hv->ev.ctx);
    }
    return 200;
}

int
sim_arrival_abort(struct sim_arrivals *t, const char *id, char *msg, size_t len)
{
    struct arrival *in = find(t, id);
    if (in == NULL) {
        (void)snprintf(msg, len, "no arrival \"%s\"", id);
        return 404;
    }
    if (in->state == SIMSTATE_IN_COMMITTED) {
        (void)snprintf(msg, len, "arrival \"%s\" is already running here", id);
        return 409;
    }
    if (in->state == SIMSTATE_IN_RESERVED) {
        in->state = SIMSTATE_IN_ABORTED;
        (void)event_del(in->expiry);
        if (simhost_remove(&t->hv->host, in->vm) < 0)
            log_warnx("aborted arrival already gone vm=\"%s\"", in->vm);
        log_info("arrival aborted id=%s vm=\"%s\" from=\"%s\"", in->id, in->vm, in->from);
        t->hv->ev.changed(t->hv->ev.ctx);
    }
    return 200;
}

json_t *
sim_arrival_json(const struct sim_arrivals *t, const char *id, bool *ret_known)
{
    const struct arrival *in = find(t, id);
    *ret_known = in != NULL;
    if (in == NULL)
        return NULL;
    return json_pack("{s:s,s:s,s:s,s:b}", "id", in->id, "vm", in->vm, "state",
                     simstate_in_state_name(in->state), "settled", in->settled);
}

const char *
sim_arrival_source(const struct sim_arrivals *t, const char *id)
{
    const struct arrival *in = find(t, id);
    return in != NULL ? in->from : NULL;
}

const char *
sim_arrival_reserved(const struct sim_arrivals *t, const char *not_from, const char **ret_from)
{
    const struct arrival *newest = NULL;
    for (size_t i = 0; i < t->n; i++) {
        const struct arrival *in = t->ins[i];
        if (in->state == SIMSTATE_IN_RESERVED && strcmp(in->from, not_from) != 0 &&
            (newest == NULL || in->since > newest->since))
            newest = in;
    }
    if (newest == NULL)
        return NULL;
    *ret_from = newest->from;
    return newest->id;
}

void
sim_arrival_drop_from(struct sim_arrivals *t, const char *from)
{
    for (size_t i = 0; i < t->n; i++) {
        struct arrival *in = t->ins[i];
        char msg[256];
        if (in->state == SIMSTATE_IN_RESERVED && strcmp(in->from, from) == 0)
            (void)sim_arrival_abort(t, in->id, msg, sizeof(msg));
    }
}

/* ---- the state file ---------------------------------------------------------------------- */

int
sim_arrivals_restore(struct sim_arrivals *t, const struct simstate *s, struct perr *err)
{
    for (size_t i = 0; i < s->n_ins; i++) {
        const struct simstate_in *r = &s->ins[i];
        struct arrival *in = calloc(1, sizeof(*in));
        if (in == NULL) {
            perr_set(err, "out of memory");
            return -ENOMEM;
        }
        in->hv = t->hv;
        (void)snprintf(in->id, sizeof(in->id), "%s", r->id);
        (void)snprintf(in->vm, sizeof(in->vm), "%s", r->vm);
        (void)snprintf(in->from, sizeof(in->from), "%s", r->from);
        in->state = r->state;
        in->settled = r->settled;
        /* When it was reserved; unknown (an older file): now, so the record is kept longer. */
        in->since = r->since >= 0 ? r->since : clock_wall_s();
        in->transfer_s = r->transfer_s;
        in->scale = r->scale;
        t->ins[t->n++] = in;
    }
    return 0;
}

int
sim_arrivals_resume(struct sim_arrivals *t)
{
    for (size_t i = 0; i < t->n; i++) {
        struct arrival *in = t->ins[i];
        in->expiry = evtimer_new(t->hv->evbase, expiry_cb, in);
        if (in->expiry == NULL)
            return -ENOMEM;
        if (in->state == SIMSTATE_IN_RESERVED) {
            /* A whole window again, as at the reservation: the copy may still be running. */
            arm_expiry(in);
            log_info("arrival reserved again id=%s vm=\"%s\" from=\"%s\"", in->id, in->vm,
                     in->from);
        }
    }
    return 0;
}

void
sim_arrivals_export(const struct sim_arrivals *t, struct simstate_in *out)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct arrival *in = t->ins[i];
        struct simstate_in *r = &out[i];
        memset(r, 0, sizeof(*r));
        (void)snprintf(r->id, sizeof(r->id), "%s", in->id);
        (void)snprintf(r->vm, sizeof(r->vm), "%s", in->vm);
        (void)snprintf(r->from, sizeof(r->from), "%s", in->from);
        r->state = in->state;
        r->settled = in->settled;
        r->since = in->since;
        r->transfer_s = in->transfer_s;
        r->scale = in->scale;
    }
}

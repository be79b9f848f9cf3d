/* The hypervisor backend behind the agent: where samples come from and how a VM moves. Two
 * backends implement it, as ae_epoll.c and ae_kqueue.c implement one event loop:
 *
 *   hv_sim.c      a simulated host (simhost.c) whose VMs' demand the operator sets (or a trace
 *                 drives); its VMs move to another simulated agent by a reservation protocol
 *                 over HTTP (sim_transfer.c, sim_arrival.c), and its state is kept on disk;
 *   hv_libvirt.c  a real host through libvirt (lv.h): measured domains, live migration.
 *
 * The agent talks to a backend only through the operations below; a backend talks to the
 * agent only through the events it was given (a change to sample, a state to save) and the
 * callback of each migration. An operation a backend does not offer is NULL. */
#ifndef VMLOC_AGENT_HV_H
#define VMLOC_AGENT_HV_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "agent/migration.h"
#include "common/metrics.h"
#include "proto/wire.h"

struct hv;
struct sim_arrivals;

/* How a backend reaches the agent. */
struct hv_events {
    void *ctx;
    /* The host's VMs changed (one arrived, left, or its state or load changed): sample now,
     * so that collectors see it at once. */
    void (*changed)(void *ctx);
    /* The backend's state must be on disk before it goes on (hv_ops.save() with the agent's
     * migrations). 0, or a negative errno (logged). */
    int (*save)(void *ctx);
};

/* A migration's end: `m->state` is MIG_DONE or MIG_FAILED (with `m->error`). */
typedef void (*hv_ended_fn)(void *arg, struct migration *m);

struct hv_ops {
    const char *name; /* "sim", "libvirt" */
    void (*free)(struct hv *h);

    /* The host and its VMs at wall time `now`, without seq (the agent numbers samples).
     * 0 with *ret; -EAGAIN when there is none now, `why` saying why (libvirt away);
     * -EINPROGRESS when the backend's reading is still under way (the previous sample stands,
     * and the backend calls events.changed() once it has the reading); -ENOMEM. */
    int (*sample)(struct hv *h, double now, struct wire_sample *ret, char *why, size_t len);
    /* GET /v1/vms: the VMs with their host's name and what holds them (wire_vm_hold_json()).
     * A new array, or NULL on OOM. */
    json_t *(*vms)(struct hv *h, double now);
    size_t (*n_vms)(const struct hv *h);
    /* What GET /v1/health adds ("libvirt": {...}), or NULL. */
    json_t *(*health)(struct hv *h);
    /* What GET /metrics adds. */
    void (*metrics)(struct hv *h, struct mtext *t);
    /* POST /v1/vms/NAME/load: the demand from now on. An HTTP status, `msg` on error. NULL:
     * the load is measured, not set. */
    int (*set_load)(struct hv *h, const char *vm, const struct wire_load *l, char *msg, size_t len);

    /* May VM `vm` leave now? 0 with *ret_mem_mib; -ENOENT no such VM; -EBUSY it is moving;
     * -EPERM it is pinned. */
    int (*migrate_check)(struct hv *h, const char *vm, double *ret_mem_mib);
    /* Move `m->vm` to `m->to_url`; `done(arg, m)` once it ends (never before this returns).
     * 0; a negative errno when it could not start (nothing to undo). */
    int (*migrate_start)(struct hv *h, struct migration *m, hv_ended_fn done, void *arg);
    /* A migration restored from the state file (its job restored with it): take it up again
     * (a running one is resolved with its destination). 0 or -ENOMEM. */
    int (*migrate_resume)(struct hv *h, struct migration *m, hv_ended_fn done, void *arg);
    /* Does the backend still need record `m`? 2: it works on it (it must stay); 1: it would
     * rather keep it (forgotten last); 0: no. */
    int (*migrate_hold)(const struct hv *h, const struct migration *m);
    /* Stop running migration `m` because `why`: 0 asked (it ends failed through done(),
     * with `why` in its error, unless it completes first; done() may run before this
     * returns); -EALREADY it is not running; -EBUSY too late (simulated: the commit went
     * out, only the destination can say). */
    int (*migrate_abort)(struct hv *h, struct migration *m, const char *why);
    /* Free the backend's part of `m` (a running job is aborted and awaited first). */
    void (*migrate_release)(struct hv *h, struct migration *m);

    /* The arriving side of the reservation protocol (sim_arrival.h), or NULL. */
    struct sim_arrivals *(*arrivals)(struct hv *h);

    /* The state kept on disk (simulated backend with --data). restore: at start, before the
     * loop runs, the migrations it held are handed over (*ret, *ret_n: the caller's, to free
     * with free() after taking the records); *ret_found: there was a file. save: write it
     * with the agent's migrations if it changed. Both 0, or a negative errno (logged). */
    int (*restore)(struct hv *h, bool *ret_found, struct migration ***ret, size_t *ret_n);
    int (*save)(struct hv *h, struct migration *const *migs, size_t n);
};

/* Every backend starts with this. */
struct hv {
    const struct hv_ops *ops;
};

/* Shorthands for the operations every backend has. */
static inline size_t
hv_n_vms(const struct hv *h)
{
    return h->ops->n_vms(h);
}

static inline void
hv_free(struct hv *h)
{
    if (h != NULL)
        h->ops->free(h);
}

#endif

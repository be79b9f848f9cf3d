/* The libvirt backend's reader: one thread that owns the connection to libvirt (lv.h) and takes
 * every reading of the host and its domains there (lv_sample(): reconnecting,
 * virConnectGetAllDomainStats, and lv_doms_note(): the domains' move history in their
 * metadata), so that the agent's loop never waits for libvirt. libvirt answers in
 * milliseconds, but not always: at the end of a live migration the source's libvirtd holds
 * the domain while QEMU finishes, and one reading took 1.6 s, during which the loop answered
 * nothing. The loop asks for a reading, waits a short bounded time for it, and otherwise goes
 * on with the previous one; the reader wakes the loop (the lv_conn's wake-up pipe) when the
 * reading is there. What the loop reads is a copy (struct lv_view), never the reader's state. */
#ifndef VMLOC_AGENT_LV_READER_H
#define VMLOC_AGENT_LV_READER_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/lv.h"
#include "agent/lv_doms.h"
#include "core/compiler.h"

/* What one reading found, as the loop keeps it. */
struct lv_view {
    int rc; /* lv_sample()'s result: 0, or -EIO (not connected; `error` says why) */
    bool connected;
    char error[256];
    double retry_at; /* monotonic seconds of the next connection attempt */
    unsigned ncpus;
    double host_cpu;
    bool host_cpu_known;
    double host_mem_mib;
    size_t left_out;         /* domains left out for their names (lv.h) */
    double left_out_mem_mib; /* their memory */
    double host_io[KIND_COUNT];
    struct pressure pressure;
    bool mem_bw_seen;
    struct lv_vm *vms;
    size_t n_vms;
    struct lv_doms doms; /* the domains' arrivals and moves after the reading */
};

/* Free what `v` holds (it may be zeroed). */
void lv_view_done(struct lv_view *v);

struct lv_reader;

/* Start the reader on `lv`, which lv_init() set up and which belongs to the reader from now on
 * (the caller only keeps lv->wake[0] to watch; lv_reader_stop() frees the rest); the loop goes
 * at most `max_wait_s` without a reading because the host keeps changing (lv_reader_refresh()).
 * 0 with *ret; -ENOMEM; -EAGAIN (no thread). On error `lv` is still the caller's. */
MUST_CHECK int lv_reader_start(struct lv_conn *lv, double max_wait_s, struct lv_reader **ret);

/* Stop the thread and free the connection (at exit). A reading still in libvirt is waited
 * for at most 10 s, after which the thread is left to end with the process. NULL: nothing. */
void lv_reader_stop(struct lv_reader *r);

/* The latest reading into *view (replacing what it held). A reading that ended since the
 * last take is given at once; otherwise one is asked for (taken when the current one ends,
 * if one runs) and awaited at most `wait_s` seconds. A domain's arrival is dated by the
 * start of the reading that first shows it, whoever asked for that reading.
 * 1: *view holds a new reading; 0: none ended in time (the reader will write to the wake-up
 * pipe when one has; *view untouched); -ENOMEM (*view untouched). */
MUST_CHECK int lv_reader_take(struct lv_reader *r, double wait_s, struct lv_view *view);

/* Something changed on the host (a domain started or stopped; `strict`: a migration ended):
 * the reading under way, if any, began before it, so the next one taken is one that begins
 * after this call. For changes that are not strict, only while the loop has taken a reading
 * within the last `max_wait_s` (lv_reader_start()): when changes come faster than libvirt
 * reads (a burst of domain events while it is slow), a reading begun before one is served all
 * the same past that, rather than none for as long as the burst lasts. A reading begun before
 * a strict change is never served: it could show the VM that migrated away as still running
 * here. */
void lv_reader_refresh(struct lv_reader *r, bool strict);

/* Seconds since the loop last took a reading (or since the reader started). */
double lv_reader_waited(struct lv_reader *r);

/* The reader's libvirt connection for a migration (a virConnectPtr with a reference of the
 * caller's, to drop with virConnectClose()), or NULL when it is not connected. Takes no time:
 * a reading in progress does not hold it up. */
void *lv_reader_conn(struct lv_reader *r);

#endif

/* Work for other threads, its results back on the loop: a job's `work` runs on one of the
 * queue's threads, then its `done` on the event loop's thread, in the loop's turn (a pipe
 * wakes the loop once per batch of finished jobs). The manager decodes collected samples
 * this way, beside the loop that sends the requests and reads the answers.
 *
 * A job is a struct of the caller's that embeds `struct workq_job`; the queue only links it.
 * `work` must touch nothing but the job (it runs beside the loop); `done` runs where the
 * caller's other callbacks run. Jobs finish in any order. */
#ifndef VMLOC_NET_WORKQ_H
#define VMLOC_NET_WORKQ_H

#include <stddef.h>

#include "core/compiler.h"

struct event_base;
struct workq;
struct workq_job;

typedef void (*workq_fn)(struct workq_job *job);

struct workq_job {
    struct workq_job *next; /* the queue's */
    workq_fn work;          /* on a worker thread */
    workq_fn done;          /* then on the loop's thread */
};

/* The most threads one queue runs. */
#define WORKQ_MAX_THREADS 16

/* A queue of `threads` (1 .. WORKQ_MAX_THREADS) worker threads whose finished jobs come back
 * on `base`. 0 with *ret; -EINVAL (threads out of range), -ENOMEM, or the error of creating
 * a pipe or a thread (nothing is left behind). */
MUST_CHECK int workq_new(struct event_base *base, unsigned threads, struct workq **ret);

/* Queue `job` with its `work` and `done` set; never fails. On the loop's thread only (from its
 * callbacks, `done` included): the jobs queued in one turn of the loop reach the threads
 * together, when the turn's other callbacks have run. */
void workq_submit(struct workq *q, struct workq_job *job);

/* Jobs submitted whose `done` has not run yet. */
size_t workq_pending(const struct workq *q);

/* Stop the threads (each first finishes the jobs it has taken: at most 64, its batch) and free
 * the queue. Every job whose `done` has not run is given to `cancel` instead (on this thread;
 * NULL: left to the caller), so that whatever it holds can be freed. Not from a `done`
 * callback (the jobs handed back with it would be neither done nor cancelled). Accepts
 * NULL. */
void workq_free(struct workq *q, workq_fn cancel);

#endif

/* Worker threads with their results back on the loop (see workq.h).
 *
 * Two lists under one mutex: the jobs to do (a worker waits on the condition while it is
 * empty) and the jobs done (the loop takes the whole list at once). A worker writes one byte
 * to the wake-up pipe when it puts a job on an empty done list: one wake-up per batch, and
 * the loop's callback empties the pipe before it takes the list, so no job is left behind.
 * Jobs submitted in one turn of the loop wait in a third list, the loop's own, and go to the
 * workers together at the end of the turn: one lock and one signal for all of them. */
#define _GNU_SOURCE /* pipe2 */
#include "net/workq.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

/* The most jobs a worker takes at once: few enough that the other workers get their share. */
#define WORKQ_BATCH 64

struct jlist {
    struct workq_job *head;
    struct workq_job *tail;
};

struct workq {
    pthread_mutex_t mu;
    pthread_cond_t more; /* a job was queued, or stop */
    struct jlist todo;
    struct jlist done;
    struct jlist staged;    /* submitted this turn (the loop's thread only) */
    struct event *flush_ev; /* active while `staged` holds jobs */
    bool flush_armed;
    bool stop;
    size_t pending; /* submitted, `done` not run yet (the loop's thread only) */
    int wake[2];    /* the pipe: read end in the loop, write end for the workers */
    struct event *wake_ev;
    pthread_t threads[WORKQ_MAX_THREADS];
    unsigned n_threads; /* started */
};

static void
jlist_push(struct jlist *l, struct workq_job *j)
{
    j->next = NULL;
    if (l->tail != NULL)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
}

static struct workq_job *
jlist_pop(struct jlist *l)
{
    struct workq_job *j = l->head;
    if (j != NULL) {
        l->head = j->next;
        if (l->head == NULL)
            l->tail = NULL;
    }
    return j;
}

/* Take up to WORKQ_BATCH jobs to do at once, with their last in *ret_last; the caller holds
 * the mutex and the list is not empty. */
static struct workq_job *
take_batch(struct workq *q, struct workq_job **ret_last)
{
    struct workq_job *first = q->todo.head;
    struct workq_job *last = first;
    for (unsigned n = 1; n < WORKQ_BATCH && last->next != NULL; n++)
        last = last->next;
    q->todo.head = last->next;
    if (q->todo.head == NULL)
        q->todo.tail = NULL;
    last->next = NULL;
    *ret_last = last;
    return first;
}

/* Jobs are taken and handed back in batches: one lock each way and at most one wake-up of the
 * loop per batch, where a job at a time cost the manager a fifth more system time. */
static void *
worker(void *arg)
{
    struct workq *q = arg;
    (void)pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->stop && q->todo.head == NULL)
            (void)pthread_cond_wait(&q->more, &q->mu);
        if (q->stop)
            break;
        struct workq_job *last = NULL;
        struct workq_job *first = take_batch(q, &last);
        (void)pthread_mutex_unlock(&q->mu);
        for (struct workq_job *j = first; j != NULL; j = j->next)
            j->work(j);
        (void)pthread_mutex_lock(&q->mu);
        bool wake = q->done.head == NULL;
        if (q->done.tail != NULL)
            q->done.tail->next = first;
        else
            q->done.head = first;
        q->done.tail = last;
        if (wake) {
            char c = 1;
            /* A full pipe already holds a wake-up; nothing else can go wrong here. */
            (void)!write(q->wake[1], &c, 1);
        }
    }
    (void)pthread_mutex_unlock(&q->mu);
    return NULL;
}

static void
wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct workq *q = arg;
    (void)what;
    char buf[64];
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    (void)pthread_mutex_lock(&q->mu);
    struct workq_job *j = q->done.head;
    q->done.head = q->done.tail = NULL;
    (void)pthread_mutex_unlock(&q->mu);
    while (j != NULL) {
        struct workq_job *next = j->next;
        q->pending--;
        j->done(j); /* may submit more, or free the job */
        j = next;
    }
}

/* The end of the loop's turn: hand the jobs submitted in it to the workers at once. A job at
 * a time woke the idle worker for each (a futex wake and two context switches per sample),
 * which cost a manager decoding 10,000 samples a second beside its loop about a tenth more
 * CPU than decoding them itself. */
static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct workq *q = arg;
    (void)fd;
    (void)what;
    q->flush_armed = false;
    if (q->staged.head == NULL)
        return;
    (void)pthread_mutex_lock(&q->mu);
    if (q->todo.tail != NULL)
        q->todo.tail->next = q->staged.head;
    else
        q->todo.head = q->staged.head;
    q->todo.tail = q->staged.tail;
    q->staged.head = q->staged.tail = NULL;
    if (q->n_threads > 1)
        (void)pthread_cond_broadcast(&q->more);
    else
        (void)pthread_cond_signal(&q->more);
    (void)pthread_mutex_unlock(&q->mu);
}

/* Stop and join the threads started; close what is open. The lists are left as they are. */
static void
stop_threads(struct workq *q)
{
    (void)pthread_mutex_lock(&q->mu);
    q->stop = true;
    (void)pthread_cond_broadcast(&q->more);
    (void)pthread_mutex_unlock(&q->mu);
    for (unsigned i = 0; i < q->n_threads; i++)
        (void)pthread_join(q->threads[i], NULL);
    q->n_threads = 0;
}

static void
release(struct workq *q)
{
    stop_threads(q);
    if (q->wake_ev != NULL)
        event_free(q->wake_ev);
    if (q->flush_ev != NULL)
        event_free(q->flush_ev);
    for (int i = 0; i < 2; i++) {
        if (q->wake[i] >= 0)
            (void)close(q->wake[i]);
    }
    (void)pthread_cond_destroy(&q->more);
    (void)pthread_mutex_destroy(&q->mu);
    free(q);
}

int
workq_new(struct event_base *base, unsigned threads, struct workq **ret)
{
    if (threads < 1 || threads > WORKQ_MAX_THREADS)
        return -EINVAL;
    struct workq *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return -ENOMEM;
    q->wake[0] = q->wake[1] = -1;
    (void)pthread_mutex_init(&q->mu, NULL);
    (void)pthread_cond_init(&q->more, NULL);
    if (pipe2(q->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        int e = -errno;
        q->wake[0] = q->wake[1] = -1;
        release(q);
        return e;
    }
    q->wake_ev = event_new(base, q->wake[0], EV_READ | EV_PERSIST, wake_cb, q);
    q->flush_ev = event_new(base, -1, 0, flush_cb, q);
    if (q->wake_ev == NULL || q->flush_ev == NULL || event_add(q->wake_ev, NULL) < 0) {
        release(q);
        return -ENOMEM;
    }
    for (unsigned i = 0; i < threads; i++) {
        int r = pthread_create(&q->threads[i], NULL, worker, q);
        if (r != 0) {
            release(q);
            return -r;
        }
        q->n_threads++;
    }
    *ret = q;
    return 0;
}

void
workq_submit(struct workq *q, struct workq_job *job)
{
    q->pending++;
    jlist_push(&q->staged, job);
    if (!q->flush_armed) {
        q->flush_armed = true;
        event_active(q->flush_ev, EV_TIMEOUT, 0);
    }
}

size_t
workq_pending(const struct workq *q)
{
    return q->pending;
}

void
workq_free(struct workq *q, workq_fn cancel)
{
    if (q == NULL)
        return;
    stop_threads(q);
    /* The threads are gone: the lists are this thread's now. */
    struct jlist *lists[] = {&q->done, &q->todo, &q->staged};
    for (size_t i = 0; i < 3; i++) {
        for (struct workq_job *j = jlist_pop(lists[i]); j != NULL; j = jlist_pop(lists[i])) {
            if (cancel != NULL)
                cancel(j);
        }
    }
    release(q);
}

/* The work queue (net/workq.h): work on the workers, `done` on the loop's thread, every job
 * handed back once, and cancelled once when the queue goes first. */
#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "net/workq.h"

#define N_JOBS 2000

struct tjob {
    struct workq_job q; /* first */
    struct ctx *ctx;
    uint64_t in;
    uint64_t out;
    pthread_t worked_on;
    bool worked;
    int done_calls;
};

struct ctx {
    struct event_base *base;
    struct workq *q;
    pthread_t loop_thread;
    struct tjob *jobs;
    size_t n_jobs;
    size_t n_done;
    size_t n_cancelled;
    bool done_off_loop; /* a `done` ran on another thread */
    size_t chain_left;  /* test_done_submits: jobs still to submit from `done` */
};

/* Some work, so that the workers overlap the loop; the test computes it again to check. */
static uint64_t
expected(uint64_t x)
{
    for (int i = 0; i < 1000; i++)
        x = x * 6364136223846793005u + 1442695040888963407u;
    return x;
}

static void
work(struct workq_job *q)
{
    struct tjob *j = (struct tjob *)q;
    j->out = expected(j->in);
    j->worked_on = pthread_self();
    j->worked = true;
}

static void
done(struct workq_job *q)
{
    struct tjob *j = (struct tjob *)q;
    struct ctx *c = j->ctx;
    if (!pthread_equal(pthread_self(), c->loop_thread))
        c->done_off_loop = true;
    j->done_calls++;
    c->n_done++;
    if (c->chain_left > 0) {
        struct tjob *next = &c->jobs[c->n_jobs - c->chain_left];
        c->chain_left--;
        workq_submit(c->q, &next->q);
    }
    if (c->n_done == c->n_jobs)
        (void)event_base_loopbreak(c->base);
}

static void
cancel(struct workq_job *q)
{
    struct tjob *j = (struct tjob *)q;
    j->done_calls++;
    j->ctx->n_cancelled++;
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)event_base_loopbreak(arg);
}

static void
setup_jobs(struct ctx *c, size_t n)
{
    c->jobs = calloc(n, sizeof(*c->jobs));
    assert_non_null(c->jobs);
    c->n_jobs = n;
    for (size_t i = 0; i < n; i++) {
        c->jobs[i].q.work = work;
        c->jobs[i].q.done = done;
        c->jobs[i].ctx = c;
        c->jobs[i].in = i;
    }
}

/* Run the loop until every job is done, for 20 s at most. */
static void
run_until_done(struct ctx *c)
{
    struct event *deadline = evtimer_new(c->base, deadline_cb, c->base);
    struct timeval tv = {20, 0};
    assert_int_equal(evtimer_add(deadline, &tv), 0);
    assert_int_equal(event_base_dispatch(c->base), 0);
    event_free(deadline);
}

static void
check_all_done(const struct ctx *c)
{
    assert_int_equal(c->n_done, c->n_jobs);
    assert_false(c->done_off_loop);
    assert_int_equal(workq_pending(c->q), 0);
    for (size_t i = 0; i < c->n_jobs; i++) {
        assert_int_equal(c->jobs[i].done_calls, 1);
        assert_true(c->jobs[i].out == expected(i));
        assert_false(pthread_equal(c->jobs[i].worked_on, c->loop_thread));
    }
}

static void
test_all_jobs_come_back(void **state)
{
    (void)state;
    for (unsigned threads = 1; threads <= 3; threads++) {
        struct ctx c = {.base = event_base_new(), .loop_thread = pthread_self()};
        assert_non_null(c.base);
        assert_int_equal(workq_new(c.base, threads, &c.q), 0);
        setup_jobs(&c, N_JOBS);
        for (size_t i = 0; i < c.n_jobs; i++)
            workq_submit(c.q, &c.jobs[i].q);
        assert_int_equal(workq_pending(c.q), N_JOBS);
        run_until_done(&c);
        check_all_done(&c);
        workq_free(c.q, cancel);
        assert_int_equal(c.n_cancelled, 0);
        free(c.jobs);
        event_base_free(c.base);
    }
}

/* A `done` may submit the next job: the chain runs to its end. */
static void
test_done_submits(void **state)
{
    (void)state;
    struct ctx c = {.base = event_base_new(), .loop_thread = pthread_self()};
    assert_non_null(c.base);
    assert_int_equal(workq_new(c.base, 2, &c.q), 0);
    setup_jobs(&c, 300);
    c.chain_left = c.n_jobs - 1;
    workq_submit(c.q, &c.jobs[0].q);
    run_until_done(&c);
    check_all_done(&c);
    workq_free(c.q, cancel);
    free(c.jobs);
    event_base_free(c.base);
}

/* N_JOBS submitted to a queue of two threads, `turn`: the loop run without waiting, then the
 * queue freed: each job is done or cancelled exactly once. How many were cancelled. */
static size_t
free_with_jobs(bool turn)
{
    struct ctx c = {.base = event_base_new(), .loop_thread = pthread_self()};
    assert_non_null(c.base);
    assert_int_equal(workq_new(c.base, 2, &c.q), 0);
    setup_jobs(&c, N_JOBS);
    for (size_t i = 0; i < c.n_jobs; i++)
        workq_submit(c.q, &c.jobs[i].q);
    if (turn)
        assert_true(event_base_loop(c.base, EVLOOP_NONBLOCK) >= 0);
    workq_free(c.q, cancel);
    assert_int_equal(c.n_cancelled + c.n_done, N_JOBS);
    for (size_t i = 0; i < c.n_jobs; i++)
        assert_int_equal(c.jobs[i].done_calls, 1);
    free(c.jobs);
    event_base_free(c.base);
    return c.n_cancelled;
}

/* Freed before the loop's turn ended: every job is still the loop's (submitted in this turn)
 * and is cancelled, none is done. */
static void
test_free_cancels_each_once(void **state)
{
    (void)state;
    assert_int_equal(free_with_jobs(false), N_JOBS);
}

/* Freed just after the loop handed the jobs to the workers, 20 times: each is done or
 * cancelled exactly once, in whatever states the timing left them (mostly still waiting;
 * test_free_in_every_state makes each state certain). */
static void
test_free_after_handover(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++)
        (void)free_with_jobs(true);
}

/* A gate the workers pass one job at a time: the jobs started so far (`entered`) and how many
 * may start (`allowed`); a job beyond that waits in its `work` until the gate opens further. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t entered;
    size_t allowed;
} gate = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};

static void
work_gated(struct workq_job *q)
{
    (void)pthread_mutex_lock(&gate.mu);
    gate.entered++;
    (void)pthread_cond_broadcast(&gate.cv);
    while (gate.entered > gate.allowed)
        (void)pthread_cond_wait(&gate.cv, &gate.mu);
    (void)pthread_mutex_unlock(&gate.mu);
    work(q);
}

/* Let `allowed` jobs in all start, and wait (20 s at most) until job `entered` has started:
 * with one worker, the jobs before it are then worked on. */
static void
gate_open_to(size_t allowed, size_t entered)
{
    struct timespec deadline;
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &deadline), 0);
    deadline.tv_sec += 20;
    (void)pthread_mutex_lock(&gate.mu);
    gate.allowed = allowed;
    (void)pthread_cond_broadcast(&gate.cv);
    while (gate.entered < entered &&
           pthread_cond_timedwait(&gate.cv, &gate.mu, &deadline) != ETIMEDOUT)
        ;
    size_t now = gate.entered;
    (void)pthread_mutex_unlock(&gate.mu);
    assert_int_equal(now, entered);
}

/* The queue freed with a job in each state, made so by the gate (one worker, which takes the
 * jobs WORKQ_BATCH at a time and hands a batch back once all of it is worked on): handed back
 * and delivered, handed back and not delivered, worked on in a batch under way, waiting in
 * that batch, waiting in the queue, and submitted in the turn. Each is done or cancelled
 * exactly once, and the finished ones not delivered are cancelled, not lost. */
static void
test_free_in_every_state(void **state)
{
    (void)state;
    const size_t batch = 64; /* WORKQ_BATCH */
    const size_t n = 5 * batch;
    const size_t late = 5;
    struct ctx c = {.base = event_base_new(), .loop_thread = pthread_self()};
    assert_non_null(c.base);
    assert_int_equal(workq_new(c.base, 1, &c.q), 0);
    setup_jobs(&c, n + late);
    for (size_t i = 0; i < c.n_jobs; i++)
        c.jobs[i].q.work = work_gated;
    for (size_t i = 0; i < n; i++)
        workq_submit(c.q, &c.jobs[i].q);
    assert_true(event_base_loop(c.base, EVLOOP_NONBLOCK) >= 0); /* handed to the worker */
    /* The first batch handed back (its wake-up written before the next batch begins), then
     * delivered by a turn of the loop. */
    gate_open_to(batch + 10, batch + 11);
    assert_true(event_base_loop(c.base, EVLOOP_NONBLOCK) >= 0);
    assert_int_equal(c.n_done, batch);
    /* The second batch handed back and not delivered; ten of the third worked on, one under
     * way, the rest of it and two batches waiting; then jobs submitted in this turn. */
    gate_open_to(2 * batch + 10, 2 * batch + 11);
    for (size_t i = n; i < n + late; i++)
        workq_submit(c.q, &c.jobs[i].q);
    (void)pthread_mutex_lock(&gate.mu);
    gate.allowed = SIZE_MAX; /* the batch under way may end */
    (void)pthread_cond_broadcast(&gate.cv);
    (void)pthread_mutex_unlock(&gate.mu);
    workq_free(c.q, cancel);
    assert_int_equal(c.n_done, batch);
    assert_int_equal(c.n_cancelled, n + late - batch);
    size_t worked_cancelled = 0;
    for (size_t i = 0; i < c.n_jobs; i++) {
        assert_int_equal(c.jobs[i].done_calls, 1);
        worked_cancelled += i >= batch && c.jobs[i].worked;
    }
    assert_true(worked_cancelled >= 2 * batch); /* the second batch, and all of the third */
    for (size_t i = n; i < n + late; i++)
        assert_false(c.jobs[i].worked);
    free(c.jobs);
    event_base_free(c.base);
}

static void
test_thread_count_checked(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    assert_non_null(base);
    struct workq *q = NULL;
    assert_int_equal(workq_new(base, 0, &q), -EINVAL);
    assert_int_equal(workq_new(base, WORKQ_MAX_THREADS + 1, &q), -EINVAL);
    assert_null(q);
    workq_free(NULL, cancel);
    event_base_free(base);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_jobs_come_back),     cmocka_unit_test(test_done_submits),
        cmocka_unit_test(test_free_cancels_each_once), cmocka_unit_test(test_free_after_handover),
        cmocka_unit_test(test_free_in_every_state),    cmocka_unit_test(test_thread_count_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

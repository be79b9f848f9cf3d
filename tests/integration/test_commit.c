/* An operator's change made while a collection round is open is on disk when it is answered,
 * even when the round's commit fails. The round's writes wait for its one commit; a drain
 * used to go into that transaction and be answered 202 whether the commit then held or not,
 * and a manager restarted after a failed commit had forgotten the drain. With the failpoint
 * store-commit:drop every commit of a round fails (and is rolled back); a fake agent h1,
 * a thread of this test, holds the manager's sample request so that the round stays open
 * while the drain comes.
 *
 * And the orders of a decision are recorded in the manager's open transaction and go out
 * once it is committed: when that commit fails, none goes out (a restarted manager would not
 * know to follow it). A commit that fails after the decision's own (store-pause-commit:drop:
 * the commits before a write that must be committed at once) does not take its orders, whose
 * records are committed: they go out. */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "testpool.h"

static struct pool_fake fake;
static atomic_bool release; /* stop holding the sample requests */

/* The fake agent: every sample request is held until `release` (or 5 s), then closed
 * unanswered; anything else is answered 404. One connection at a time: the manager's next
 * request waits in the listening socket's queue, unanswered too. */
static void
fake_agent(int fd, void *arg)
{
    (void)arg;
    char req[16384];
    if (pool_read_request(fd, req, sizeof(req), 2000) && strncmp(req, "GET /v1/sample", 14) == 0) {
        struct timespec t0;
        (void)clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            struct timespec t;
            (void)clock_gettime(CLOCK_MONOTONIC, &t);
            if (atomic_load(&release) || pool_fake_stopping(&fake) || t.tv_sec - t0.tv_sec > 5)
                break;
            (void)poll(NULL, 0, 10);
        }
    } else {
        static const char nf[] = "HTTP/1.1 404 X\r\nContent-Length: 0\r\nConnection: "
                                 "close\r\n\r\n";
        (void)send(fd, nf, sizeof(nf) - 1, MSG_NOSIGNAL);
    }
}

static int
teardown(void **state)
{
    pool_fake_stop(&fake);
    (void)unsetenv("VMLOC_FAILPOINT");
    return pool_teardown(state);
}

static void
test_drain_in_round_is_stored(void **state)
{
    (void)state;
    /* A long interval: the held request keeps the round open for up to 2 s. */
    const char *slow[] = {"--interval", "2", NULL};
    assert_int_equal(setenv("VMLOC_FAILPOINT", "store-commit:drop", 1), 0);
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", slow);
    (void)unsetenv("VMLOC_FAILPOINT");
    const char *e2[] = {"--vm", "c:cpu=5", NULL};
    (void)pool_start_agent("h2", m->url, e2);

    atomic_store(&release, false);
    pool_fake_start(&fake, fake_agent, NULL);
    assert_int_equal(pool_register(m->url, "h1", fake.url), 200);
    json_t *j = NULL;

    /* A round that began after h1 was known stays open until h1 answers, which it does
     * not, or for the 2 s of its time-out: drain h2 in it. */
    struct cond round = {.url = m->url, .n = health_int(m->url, "rounds") + 1};
    assert_true(wait_until(rounds_reach, &round, START_S));
    assert_int_equal(daemon_http(m->url, "POST", "/v1/hosts/h2/drain", NULL, &j), 202);
    json_decref(j);
    /* It came inside the round: the round's rows so far were committed before it, and that
     * failed. A drain left in the round's transaction would go with the round's failed
     * commit. */
    struct log_cond paused = {m, "store commit before a write that must be committed failed"};
    assert_true(wait_until(log_has, &paused, START_S));
    atomic_store(&release, true);
    assert_int_equal(daemon_stop(m, START_S), 0);

    /* A manager on the same store, without the failpoint, has the drain. */
    struct daemon *m2 = pool_start_manager("manager2", "127.0.0.1:0", slow);
    json_t *hosts = get(m2->url, "/v1/hosts");
    assert_string_equal(str(named(hosts, "h2"), "state"), "maintenance");
    json_decref(hosts);
    pool_finish();
}

static void
test_order_waits_for_its_commit(void **state)
{
    (void)state;
    assert_int_equal(setenv("VMLOC_FAILPOINT", "store-commit:drop", 1), 0);
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    (void)unsetenv("VMLOC_FAILPOINT");
    const char *e1[] = {"--vm", "a:cpu=5", "--vm", "b:cpu=5", NULL};
    const char *e2[] = {"--vm", "c:cpu=5", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    (void)pool_start_agent("h2", m->url, e2);
    struct cond up = {m->url, NULL, NULL, 2};
    assert_true(wait_until(hosts_up, &up, UP_S));
    /* A conflict on h1 that sends a, the heavier, to h2. */
    load(h1->url, "b", "cpu=45");
    load(h1->url, "a", "cpu=50");
    struct log_cond never = {m, "never ordered: the store could not commit its record"};
    assert_true(wait_until(log_has, &never, 3 * START_S));
    /* The order was not sent: the source never heard of it. */
    json_t *migs = get(h1->url, "/v1/migrations");
    assert_int_equal(json_array_size(migs), 0);
    json_decref(migs);
    json_t *vms = get(h1->url, "/v1/vms");
    assert_string_equal(str(named(vms, "a"), "state"), "running");
    json_decref(vms);
    pool_finish();
}

/* Every commit before a write that must be committed at once fails (the one before the
 * failures of held orders are recorded, too); the decisions' own commits hold. A conflict
 * on h1 orders a, whose record the decision's commit holds: the order goes out. */
static void
test_later_commit_failure_spares_orders(void **state)
{
    (void)state;
    assert_int_equal(setenv("VMLOC_FAILPOINT", "store-pause-commit:drop", 1), 0);
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    (void)unsetenv("VMLOC_FAILPOINT");
    const char *e1[] = {"--vm", "a:cpu=5", "--vm", "b:cpu=5", NULL};
    const char *e2[] = {"--vm", "c:cpu=5", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    struct daemon *h2 = pool_start_agent("h2", m->url, e2);
    struct cond up = {m->url, NULL, NULL, 2};
    assert_true(wait_until(hosts_up, &up, UP_S));
    load(h1->url, "b", "cpu=45");
    load(h1->url, "a", "cpu=50");
    struct cond moved = {m->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &moved, 3 * START_S));
    struct log_cond failed = {m, "store commit before a write that must be committed failed"};
    assert_true(log_has(&failed));
    struct log_cond never = {m, "never ordered"};
    assert_false(log_has(&never));
    const char *urls[] = {h1->url, h2->url};
    assert_int_equal(pool_vm_where(urls, 2, "a"), 1);
    pool_finish();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_drain_in_round_is_stored, pool_setup, teardown),
        cmocka_unit_test_setup_teardown(test_order_waits_for_its_commit, pool_setup, teardown),
        cmocka_unit_test_setup_teardown(test_later_commit_failure_spares_orders, pool_setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

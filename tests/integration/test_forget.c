/* Forgetting hosts with real processes: `vmloc forget HOST` drops a host that is gone, and the
 * store forgets it too (a restarted manager does not list it again); it is refused while a
 * migration from or to the host runs; a host silent for forget_after is dropped by itself,
 * with a log line, while the hosts that answer stay. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testpool.h"

/* Nothing listens on the discard port of 127.0.0.1 in these tests: a host registered there
 * never answers. */
#define NOWHERE "http://127.0.0.1:9"

/* Does the manager list host `name`? */
static bool
lists_host(const char *manager_url, const char *name)
{
    json_t *hosts = get(manager_url, "/v1/hosts");
    assert_non_null(hosts);
    bool found = named(hosts, name) != NULL;
    json_decref(hosts);
    return found;
}

static void
test_forget_by_hand(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    char listen[32];
    (void)snprintf(listen, sizeof(listen), "127.0.0.1%s", strrchr(m->url, ':'));
    const char *e1[] = {"--vm", "a:cpu=10", NULL};
    (void)pool_start_agent("h1", m->url, e1);
    assert_int_equal(pool_register(m->url, "ghost", NOWHERE), 200);
    struct cond two = {m->url, NULL, NULL, 2};
    assert_true(wait_until(hosts_known, &two, UP_S));

    const char *forget[] = {"--manager", m->url, "forget", "ghost", NULL};
    char *out = NULL;
    assert_int_equal(run_cli(forget, &out), 0);
    assert_non_null(strstr(out, "ghost: forgotten"));
    free(out);
    assert_false(lists_host(m->url, "ghost"));
    assert_true(lists_host(m->url, "h1"));
    struct log_cond logged = {m, "host forgotten host=\"ghost\""};
    assert_true(wait_until(log_has, &logged, ACT_S));
    /* A host it does not know: refused. */
    assert_int_not_equal(run_cli(forget, NULL), 0);
    const char *bad[] = {"--manager", m->url, "forget", NULL};
    assert_int_equal(run_cli(bad, NULL), 2);

    /* The store forgot it too: the manager restarted on the same store does not bring it
     * back, and still knows h1. */
    pool_stop_clean(m);
    m = pool_start_manager("m2", listen, NULL);
    struct cond rounds = {m->url, NULL, NULL, 5};
    assert_true(wait_until(rounds_reach, &rounds, ACT_S));
    assert_false(lists_host(m->url, "ghost"));
    assert_true(lists_host(m->url, "h1"));
    pool_finish();
}

static void
test_forget_refused_during_migration(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    /* 8192 MiB at 1024 MiB/s: the copy takes 8 s. */
    const char *e1[] = {"--vm", "a:cpu=30,mem=8192", "--vm", "b:cpu=25", "--bandwidth", "1024",
                        NULL};
    const char *e2[] = {"--vm", "c:cpu=10", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    (void)pool_start_agent("h2", m->url, e2);
    struct cond up = {m->url, NULL, NULL, 2};
    assert_true(wait_until(hosts_up, &up, UP_S));
    load(h1->url, "a", "cpu=60");
    struct cond running = {m->url, "a", "running", 0};
    assert_true(wait_until(migration_is, &running, ACT_S));
    json_t *j = NULL;
    assert_int_equal(daemon_http(m->url, "DELETE", "/v1/hosts/h2", NULL, &j), 409);
    assert_non_null(strstr(str(j, "error"), "migration"));
    json_decref(j);
    j = NULL;
    assert_int_equal(daemon_http(m->url, "DELETE", "/v1/hosts/h1", NULL, &j), 409);
    json_decref(j);
    assert_true(lists_host(m->url, "h1") && lists_host(m->url, "h2"));
    struct cond done = {m->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &done, 30.0));
    pool_finish();
}

static void
test_forget_silent_hosts(void **state)
{
    (void)state;
    const char *mextra[] = {"--forget-after", "1", NULL};
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", mextra);
    const char *e1[] = {"--vm", "a:cpu=10", NULL};
    (void)pool_start_agent("h1", m->url, e1);
    assert_int_equal(pool_register(m->url, "ghost", NOWHERE), 200);
    /* ghost never answers: down after a few rounds, forgotten once silent for 1 s. */
    struct log_cond logged = {m, "host forgotten host=\"ghost\""};
    assert_true(wait_until(log_has, &logged, ACT_S));
    struct log_cond why = {m, "forget_after 1 s"};
    assert_true(wait_until(log_has, &why, ACT_S));
    assert_false(lists_host(m->url, "ghost"));
    /* h1 answers every round: it stays however long it runs. */
    struct cond rounds = {m->url, NULL, NULL, health_int(m->url, "rounds") + 10};
    assert_true(wait_until(rounds_reach, &rounds, ACT_S));
    assert_true(lists_host(m->url, "h1"));
    pool_finish();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_forget_by_hand, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_forget_refused_during_migration, pool_setup,
                                        pool_teardown),
        cmocka_unit_test_setup_teardown(test_forget_silent_hosts, pool_setup, pool_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

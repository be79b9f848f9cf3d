/* Integration tests of registration refreshes, with real processes on 127.0.0.1: the manager
 * says in its answer how often an agent refreshes its registration ("register_every"), and an
 * agent follows what its manager asks, keeping its own period when the answer says nothing
 * usable. The manager an agent registers with is played by the test where the answer must be
 * one a real manager would not give. Every wait has a deadline. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"
#include "testpool.h"

/* A small cluster's manager asks for the agents' own period: every 5 s. */
static void
test_manager_asks_small_cluster(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    json_t *j = NULL;
    assert_int_equal(daemon_http(m->url, "POST", "/v1/agents",
                                 "{\"name\":\"h1\",\"url\":\"http://127.0.0.1:9\"}", &j),
                     200);
    assert_string_equal(str(j, "host"), "h1");
    json_t *every = json_object_get(j, "register_every");
    assert_true(json_is_number(every));
    assert_true(json_number_value(every) == 5);
    json_decref(j);
    pool_finish();
}

static double
mono_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Register `n` hosts with the manager at `url`; the register_every of the last answer. */
static double
register_many(const char *url, int n)
{
    double every = -1;
    for (int i = 0; i < n; i++) {
        char body[128];
        (void)snprintf(body, sizeof(body), "{\"name\":\"h%d\",\"url\":\"http://127.0.0.1:9\"}", i);
        json_t *j = NULL;
        assert_int_equal(daemon_http(url, "POST", "/v1/agents", body, &j), 200);
        every = json_number_value(json_object_get(j, "register_every"));
        json_decref(j);
    }
    return every;
}

/* A manager of more agents asks for fewer refreshes (agents / 200 s, rounded up: 7 s for
 * 1,201), but never fewer than a third of its forget_after. */
static void
test_manager_asks_large_cluster(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    assert_true(register_many(m->url, 1000) == 5);
    assert_true(register_many(m->url, 1201) == 7);
    char dir[600];
    (void)snprintf(dir, sizeof(dir), "%s-forget", pool_data_dir());
    const char *extra[] = {"--forget-after", "18", "--data", dir, NULL};
    struct daemon *f = pool_start_manager("forget", "127.0.0.1:0", extra);
    double t0 = mono_s();
    double every = register_many(f->url, 1201);
    /* Its hosts (at a port nobody serves) are forgotten 18 s after they registered: all
     * 1,201 must be there for the last answer. */
    printf("1,201 registrations in %.1f s\n", mono_s() - t0);
    assert_true(mono_s() - t0 < 15.0);
    assert_true(every == 6);
    pool_finish();
}

/* Accept the agent's registration on `lfd`, check it, and answer it with `answer`. */
static void
answer_registration(int lfd, const char *answer)
{
    char req[8192];
    int fd = pool_accept_request(lfd, req, sizeof(req));
    assert_non_null(strstr(req, "POST /v1/agents"));
    assert_non_null(strstr(req, "\"name\":\"a1\""));
    pool_answer_close(fd, answer);
}

/* An agent refreshes as its manager asks; an unusable period in an answer is said, and the
 * agent keeps its own 5 s (its next registration comes 5 s later). */
static void
test_agent_follows_manager(void **state)
{
    (void)state;
    char url[64];
    int lfd = pool_listen_loopback(url, sizeof(url));
    struct daemon *a = pool_start_agent("a1", url, NULL);
    answer_registration(lfd, "{\"host\":\"a1\",\"interval\":1,\"register_every\":\"soon\"}");
    struct log_cond bad = {a, "answered register_every=\"soon\": not a number of seconds"};
    double t0 = mono_s();
    assert_true(wait_until(log_has, &bad, UP_S));
    /* The next one comes after the agent's own period, answered by a manager of a large
     * cluster. */
    char req[8192];
    int fd = pool_accept_request(lfd, req, sizeof(req));
    double gap = mono_s() - t0;
    printf("the next registration came %.2f s later\n", gap);
    assert_true(gap >= 4.0 && gap <= 7.0);
    assert_non_null(strstr(req, "POST /v1/agents"));
    pool_answer_close(fd, "{\"host\":\"a1\",\"interval\":1,\"register_every\":45}");
    struct log_cond asked = {a, "registering every 45 s with manager url="};
    assert_true(wait_until(log_has, &asked, UP_S));
    (void)close(lfd);
    pool_finish();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_manager_asks_small_cluster, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_manager_asks_large_cluster, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_agent_follows_manager, pool_setup, pool_teardown),
    };
    return cmocka_run_group_tests_name("register", tests, NULL, NULL);
}

/* Integration tests of edge mode: agents (`vmloc agent --mode edge`) detect conflicts on
 * their own samples and notify the manager (`vmloc manager --mode edge`), which decides and
 * orders the migration. Real processes on 127.0.0.1; every wait has a deadline. */
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

/* The four hosts of the scenario, each agent in `mode`; h1 gets the conflict. */
static struct daemon *agents[4];

static void
start_cluster(const char *manager_url, const char *mode)
{
    static const char *const vms[4][6] = {
        {"--vm", "a:cpu=10", "--vm", "b:cpu=10", NULL},
        {"--vm", "c:cpu=30", NULL},
        {"--vm", "d:cpu=5", NULL},
        {"--vm", "x:cpu=15", "--vm", "y:cpu=5", NULL},
    };
    for (size_t i = 0; i < 4; i++) {
        const char *extra[10] = {"--mode", mode};
        size_t n = 2;
        for (size_t k = 0; vms[i][k] != NULL; k++)
            extra[n++] = vms[i][k];
        extra[n] = NULL;
        char name[8];
        (void)snprintf(name, sizeof(name), "h%zu", i + 1);
        agents[i] = pool_start_agent(name, manager_url, extra);
    }
    struct cond known = {manager_url, NULL, NULL, 4};
    assert_true(wait_until(hosts_known, &known, UP_S));
}

/* Start a manager in `mode` and the cluster, make the conflict on h1, and return the
 * migration the manager ordered ("vm:from>to"). */
static void
run_scenario(const char *mode, char *out, size_t len)
{
    const char *extra[] = {"--mode", mode, NULL};
    char name[32];
    (void)snprintf(name, sizeof(name), "manager-%s", mode);
    struct daemon *m = pool_start_manager(name, "127.0.0.1:0", extra);
    start_cluster(m->url, mode);
    /* Every host has been sampled (central) or registered (edge) before the load. */
    struct cond r = {m->url, NULL, NULL, 3};
    assert_true(wait_until(rounds_reach, &r, UP_S));
    load(agents[0]->url, "a", "cpu=50");
    load(agents[0]->url, "b", "cpu=45");
    struct cond done = {m->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &done, ACT_S));
    json_t *migs = get(m->url, "/v1/migrations");
    assert_int_equal(json_array_size(migs), 1);
    json_t *g = json_array_get(migs, 0);
    (void)snprintf(out, len, "%s:%s>%s", str(g, "vm"), str(g, "from"), str(g, "to"));
    json_decref(migs);
}

/* The migration edge mode orders is the one central mode orders for the same samples, and
 * the detection happened on the agent, which notified. */
static void
test_edge_same_as_central(void **state)
{
    (void)state;
    char central[128];
    char edge[128];
    run_scenario("central", central, sizeof(central));
    assert_int_equal(health_int(agents[0]->url, "conflicts_detected"), 0);
    for (size_t i = 0; i < 4; i++)
        pool_stop_clean(agents[i]);
    /* A fresh data directory for the edge manager: the test's pool_data_dir() is used once
     * per manager, so the second one gets its own. */
    char dir[600];
    (void)snprintf(dir, sizeof(dir), "%s-edge", pool_data_dir());
    const char *extra[] = {"--mode", "edge", "--data", dir, NULL};
    struct daemon *m = pool_start_manager("manager-edge", "127.0.0.1:0", extra);
    start_cluster(m->url, "edge");
    /* Every host sampled, as in the central run: a destination the manager has not yet heard
     * from cannot be chosen. */
    struct cond up = {m->url, NULL, NULL, 4};
    assert_true(wait_until(hosts_up, &up, UP_S));
    load(agents[0]->url, "a", "cpu=50");
    load(agents[0]->url, "b", "cpu=45");
    struct cond done = {m->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &done, ACT_S));
    json_t *migs = get(m->url, "/v1/migrations");
    json_t *g = json_array_get(migs, 0);
    (void)snprintf(edge, sizeof(edge), "%s:%s>%s", str(g, "vm"), str(g, "from"), str(g, "to"));
    assert_non_null(strstr(str(g, "reason"), "conflict on h1"));
    json_decref(migs);
    printf("central: %s, edge: %s\n", central, edge);
    assert_string_equal(central, "a:h1>h3");
    assert_string_equal(edge, central);
    assert_true(health_int(agents[0]->url, "conflicts_detected") >= 1);
    assert_true(health_int(agents[0]->url, "notifications") >= 1);
    assert_true(health_int(m->url, "notifications") >= 1);
    json_t *h = get(m->url, "/v1/health");
    assert_string_equal(str(h, "mode"), "edge");
    json_decref(h);
    json_t *conf = cli_list(m->url, "conflicts");
    assert_true(json_array_size(conf) >= 1);
    assert_string_equal(str(json_array_get(conf, 0), "host"), "h1");
    assert_string_equal(str(json_array_get(conf, 0), "outcome"), "move a to h3");
    json_decref(conf);
    pool_finish();
}

/* An edge manager does not detect: a host whose agent does not notify (a central-mode agent)
 * keeps its conflict; a notifying host's conflict is resolved. */
static void
test_edge_manager_does_not_detect(void **state)
{
    (void)state;
    const char *extra[] = {"--mode", "edge", NULL};
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", extra);
    const char *quiet[] = {"--vm", "a:cpu=50", "--vm", "b:cpu=45", NULL};
    const char *edge[] = {"--mode", "edge", "--vm", "c:cpu=10", "--vm", "e:cpu=10", NULL};
    const char *room[] = {"--vm", "d:cpu=5", NULL};
    pool_start_agent("h1", m->url, quiet);
    struct daemon *h2 = pool_start_agent("h2", m->url, edge);
    pool_start_agent("h3", m->url, room);
    struct cond known = {m->url, NULL, NULL, 3};
    assert_true(wait_until(hosts_known, &known, UP_S));
    long long r0 = health_int(m->url, "rounds");
    struct cond r = {m->url, NULL, NULL, r0 + 10};
    assert_true(wait_until(rounds_reach, &r, UP_S));
    json_t *migs = get(m->url, "/v1/migrations");
    assert_int_equal(json_array_size(migs), 0);
    json_decref(migs);
    load(h2->url, "c", "cpu=50");
    load(h2->url, "e", "cpu=40");
    struct cond done = {m->url, "c", "done", 0};
    assert_true(wait_until(migration_is, &done, ACT_S));
    migs = get(m->url, "/v1/migrations");
    assert_int_equal(json_array_size(migs), 1);
    assert_string_equal(str(json_array_get(migs, 0), "from"), "h2");
    json_decref(migs);
    pool_finish();
}

/* Collecting only on notification: no collection round happens without one, and a
 * notification starts a fresh round of every agent before the decision. */
static void
test_edge_collect_notified(void **state)
{
    (void)state;
    const char *extra[] = {"--mode", "edge", "--collect", "notified", NULL};
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", extra);
    start_cluster(m->url, "edge");
    assert_int_equal(health_int(m->url, "rounds"), 0);
    load(agents[0]->url, "a", "cpu=50");
    load(agents[0]->url, "b", "cpu=45");
    struct cond done = {m->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &done, ACT_S));
    json_t *migs = get(m->url, "/v1/migrations");
    json_t *g = json_array_get(migs, 0);
    assert_string_equal(str(g, "to"), "h3");
    json_decref(migs);
    long long rounds = health_int(m->url, "rounds");
    long long notes = health_int(m->url, "notifications");
    printf("rounds %lld, notifications %lld\n", rounds, notes);
    assert_true(rounds >= 1);
    assert_true(rounds <= notes);
    /* Every host was collected in that round, not only the notifying one. */
    json_t *hosts = get(m->url, "/v1/hosts");
    size_t i;
    json_t *h;
    json_array_foreach(hosts, i, h)
    {
        assert_string_equal(str(h, "state"), "up");
    }
    json_decref(hosts);
    pool_finish();
}

/* An edge agent's sample: seq `seq`, taken `ago` seconds before now, cpu at `cpu` %. */
static void
edge_sample(char *out, size_t len, const char *url, unsigned seq, double ago, int cpu)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    double t = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 - ago;
    (void)snprintf(out, len,
                   "{\"version\":1,\"seq\":%u,\"time\":%.3f,\"url\":\"%s\",\"host\":{\"name\":"
                   "\"hx\",\"capacity\":1,\"mem_mib\":1024,\"state\":\"up\",\"usage\":{\"cpu\":"
                   "%d},\"vms\":[]}}",
                   seq, t, url, cpu);
}

/* Host hx's cpu usage as the manager shows it (-1: not listed, or not up with no reason
 * for a missed sample: a round that missed it says why). */
static double
hx_cpu(const char *url)
{
    json_t *hosts = get(url, "/v1/hosts");
    double cpu = -1;
    size_t i;
    json_t *h;
    json_array_foreach(hosts, i, h)
    {
        if (strcmp(str(h, "name"), "hx") != 0)
            continue;
        if (strcmp(str(h, "state"), "up") == 0 && json_object_get(h, "reason") == NULL)
            cpu = json_number_value(json_object_get(json_object_get(h, "usage"), "cpu"));
        else
            printf("hx: state %s, reason %s\n", str(h, "state"),
                   json_string_value(json_object_get(h, "reason")));
    }
    json_decref(hosts);
    return cpu;
}

struct round_after {
    const char *url;
    long long rounds;
};

/* A round later than `rounds` has started: the one before it is complete. */
static bool
round_after(void *arg)
{
    const struct round_after *r = arg;
    return health_int(r->url, "rounds") > r->rounds;
}

/* A notification that comes while the round's request to its host is out keeps its sample
 * when the round's answer, read after it, is older: the round does not put back what the
 * agent had already replaced. The agent is played by the test: it holds the manager's
 * request, notifies, then answers with the older sample. `threads`: the manager's
 * --decode-threads. */
static void
notification_not_overwritten(const char *threads)
{
    /* An interval of 2 s: the round waits 2 s for the held answer, time enough for the test's
     * requests in between on a slow or sanitized build. */
    const char *extra[] = {"--mode", "edge", "--interval", "2", "--decode-threads", threads, NULL};
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", extra);
    char url[64];
    int lfd = pool_listen_loopback(url, sizeof(url));
    char body[512];
    json_t *j = NULL;
    edge_sample(body, sizeof(body), url, 5, 2.0, 50);
    assert_int_equal(daemon_http(m->url, "POST", "/v1/notify", body, &j), 202); /* registers */
    json_decref(j);
    j = NULL;
    /* The next round's request, held. */
    char req[8192];
    int fd = pool_accept_request(lfd, req, sizeof(req));
    assert_non_null(strstr(req, "GET /v1/sample"));
    long long rounds = health_int(m->url, "rounds");
    edge_sample(body, sizeof(body), url, 7, 0.0, 97);
    assert_int_equal(daemon_http(m->url, "POST", "/v1/notify", body, &j), 202);
    json_decref(j);
    assert_true(hx_cpu(m->url) == 97);
    /* The answer the agent had sent before it notified: seq 6. */
    edge_sample(body, sizeof(body), url, 6, 1.0, 20);
    pool_answer_close(fd, body);
    struct round_after r = {m->url, rounds};
    assert_true(wait_until(round_after, &r, UP_S));
    double cpu = hx_cpu(m->url);
    printf("hx cpu after the round: %.0f\n", cpu);
    assert_true(cpu == 97);
    (void)close(lfd);
    pool_finish();
}

static void
test_notification_not_overwritten(void **state)
{
    (void)state;
    notification_not_overwritten("0");
}

/* The same with the samples decoded beside the loop. */
static void
test_notification_not_overwritten_decode_thread(void **state)
{
    (void)state;
    notification_not_overwritten("1");
}

/* Bad notifications are refused with a reason, and the manager goes on. */
static void
test_notify_refused(void **state)
{
    (void)state;
    struct daemon *central = pool_start_manager("central", "127.0.0.1:0", NULL);
    const char *sample = "{\"version\":1,\"seq\":1,\"time\":1,\"url\":\"http://127.0.0.1:9\","
                         "\"host\":{\"name\":\"hx\",\"capacity\":1,\"mem_mib\":1024,"
                         "\"state\":\"up\",\"usage\":{\"cpu\":97},\"vms\":[]}}";
    json_t *j = NULL;
    assert_int_equal(daemon_http(central->url, "POST", "/v1/notify", sample, &j), 409);
    assert_non_null(strstr(str(j, "error"), "central mode"));
    json_decref(j);
    char dir[600];
    (void)snprintf(dir, sizeof(dir), "%s-edge", pool_data_dir());
    const char *extra[] = {"--mode", "edge", "--data", dir, NULL};
    struct daemon *m = pool_start_manager("edge", "127.0.0.1:0", extra);
    static const char *const bad[] = {
        "",
        "{}",
        "{\"version\":1,\"seq\":1,\"time\":1,\"url\":\"http://127.0.0.1:9\",\"host\":{}}",
        "{\"version\":1,\"seq\":1,\"time\":1,\"url\":\"nope\",\"host\":{\"name\":\"hy\","
        "\"capacity\":1,\"state\":\"up\",\"usage\":{\"cpu\":1},\"vms\":[]}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int st = daemon_http(m->url, "POST", "/v1/notify", bad[i], &j);
        if (st != 400)
            printf("notify %zu: %d\n", i, st);
        assert_int_equal(st, 400);
        assert_non_null(json_string_value(json_object_get(j, "error")));
        json_decref(j);
        j = NULL;
    }
    /* A notification from an agent not yet registered registers it. */
    assert_int_equal(daemon_http(m->url, "POST", "/v1/notify", sample, &j), 202);
    json_decref(j);
    json_t *hosts = get(m->url, "/v1/hosts");
    assert_int_equal(json_array_size(hosts), 1);
    assert_string_equal(str(json_array_get(hosts, 0), "name"), "hx");
    json_decref(hosts);
    assert_int_equal(health_int(m->url, "notifications"), 1);
    pool_finish();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_edge_same_as_central, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_edge_manager_does_not_detect, pool_setup,
                                        pool_teardown),
        cmocka_unit_test_setup_teardown(test_edge_collect_notified, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_notify_refused, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_notification_not_overwritten, pool_setup,
                                        pool_teardown),
        cmocka_unit_test_setup_teardown(test_notification_not_overwritten_decode_thread, pool_setup,
                                        pool_teardown),
    };
    return cmocka_run_group_tests_name("edge", tests, NULL, NULL);
}

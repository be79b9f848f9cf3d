/* Duplicate names with real processes: a second agent registering a host name another agent
 * holds is refused (409) while the holder answers, both sides log an error and the manager
 * shows the clash (GET /v1/hosts, /v1/health, /metrics); once the holder stops answering the
 * second agent takes the name. A VM name listed by two hosts outside a migration is reported
 * the same way and never chosen to move, while a VM listed by both ends of its own migration
 * is not flagged; a peer agent does the same. */
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

/* A line of daemon `d`'s log at level `level` ("error", "warn", "info") that holds `text`. */
struct level_cond {
    const struct daemon *d;
    const char *level;
    const char *text;
};

static size_t
count_lines(const struct level_cond *c)
{
    char lvl[32];
    (void)snprintf(lvl, sizeof(lvl), " %s ", c->level);
    int n = daemon_log_count(c->d, lvl, c->text);
    return n > 0 ? (size_t)n : 0;
}

static bool
logged_at(void *arg)
{
    return count_lines(arg) > 0;
}

/* The url the manager at `c->url` lists for host `c->a` ("" when not listed); caller frees. */
static char *
host_url(const char *manager_url, const char *name)
{
    json_t *hosts = get(manager_url, "/v1/hosts");
    char *url = strdup(str(named(hosts, name), "url"));
    json_decref(hosts);
    assert_non_null(url);
    return url;
}

/* Host `a` is listed at url `b`. */
static bool
host_at(void *arg)
{
    struct cond *c = arg;
    char *url = host_url(c->url, c->a);
    bool ok = strcmp(url, c->b) == 0;
    free(url);
    return ok;
}

/* Metric `a` of the daemon at `url` equals `n`. */
static bool
metric_is(void *arg)
{
    struct cond *c = arg;
    return metrics_value(c->url, c->a) == (double)c->n;
}

static struct daemon *
start_rival(const char *manager_url)
{
    const char *argv[] = {"agent",     "--name",     "h1",  "--listen", "127.0.0.1:0", "--manager",
                          manager_url, "--interval", "0.2", "--vm",     "z:cpu=5",     NULL};
    return pool_start("h1-rival", argv);
}

static void
test_host_name_clash(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    const char *e1[] = {"--vm", "a:cpu=10", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    struct cond up = {m->url, NULL, NULL, 1};
    assert_true(wait_until(hosts_up, &up, UP_S));

    /* The rival's registration is refused, and the agent says why, as an error. */
    struct daemon *rival = start_rival(m->url);
    struct level_cond rival_err = {rival, "error", "registration refused"};
    assert_true(wait_until(logged_at, &rival_err, UP_S));
    struct level_cond rival_why = {rival, "error", h1->url};
    assert_true(logged_at(&rival_why)); /* it names the holder */
    struct level_cond mgr_err = {m, "error", "registration refused host=\"h1\""};
    assert_true(wait_until(logged_at, &mgr_err, UP_S));

    /* The same request by hand: 409, naming the holder. */
    char body[300];
    (void)snprintf(body, sizeof(body), "{\"name\":\"h1\",\"url\":\"%s\"}", rival->url);
    json_t *j = NULL;
    assert_int_equal(daemon_http(m->url, "POST", "/v1/agents", body, &j), 409);
    assert_non_null(strstr(str(j, "error"), h1->url));
    json_decref(j);

    /* The first registration holds, round after round, while both keep registering. */
    long long start = health_int(m->url, "rounds");
    for (long long r = start; r < start + 10;) {
        char *url = host_url(m->url, "h1");
        assert_string_equal(url, h1->url);
        free(url);
        struct cond next = {m->url, NULL, NULL, r + 1};
        assert_true(wait_until(rounds_reach, &next, ACT_S));
        r = health_int(m->url, "rounds");
    }

    /* Shown: on the host, in the health answer and in /metrics, on both sides. */
    json_t *hosts = get(m->url, "/v1/hosts");
    json_t *clash = json_object_get(named(hosts, "h1"), "name_clash");
    assert_non_null(clash);
    assert_string_equal(str(clash, "url"), rival->url);
    assert_true(json_integer_value(json_object_get(clash, "refused")) >= 1);
    json_decref(hosts);
    json_t *health = get(m->url, "/v1/health");
    assert_int_equal(json_array_size(json_object_get(health, "name_clashes")), 1);
    json_decref(health);
    assert_true(metrics_value(m->url, "vmloc_name_clashes") == 1.0);
    assert_true(metrics_value(m->url, "vmloc_registrations_refused_total") >= 2.0);
    assert_true(metrics_value(rival->url, "vmloc_registration_refused") == 1.0);
    /* The agent keeps trying at its pace but says it once; the manager once per episode. */
    assert_int_equal(count_lines(&rival_err), 1);
    assert_int_equal(count_lines(&mgr_err), 1);

    /* The holder goes silent: once it is down the rival takes the name, with a warning. */
    daemon_kill(h1);
    struct cond moved = {m->url, "h1", rival->url, 0};
    assert_true(wait_until(host_at, &moved, ACT_S));
    struct level_cond warned = {m, "warn", "agent moved host=\"h1\""};
    assert_true(logged_at(&warned));
    struct cond cleared = {rival->url, "vmloc_registration_refused", NULL, 0};
    assert_true(wait_until(metric_is, &cleared, ACT_S));
    struct cond back_up = {m->url, "h1", "up", 0};
    assert_true(wait_until(host_state_is, &back_up, UP_S));
    pool_finish();
}

/* Does any migration the manager lists move VM `vm`? */
static bool
migrated(const char *manager_url, const char *vm)
{
    struct cond c = {manager_url, vm, NULL, 0};
    return migration_of(&c);
}

/* The names the manager's health answer lists as on two hosts, joined by ",". */
static void
dup_names(const char *manager_url, char *buf, size_t len)
{
    json_t *health = get(manager_url, "/v1/health");
    size_t i;
    json_t *d;
    size_t used = 0;
    buf[0] = '\0';
    json_array_foreach(json_object_get(health, "duplicate_vms"), i, d)
    {
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "", str(d, "vm"));
    }
    json_decref(health);
}

static void
test_duplicate_vm(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    /* a is the heaviest VM of h1, the one a conflict would move; h2 runs a VM named a too. b
     * takes 2 s to copy (2048 MiB at 1024 MiB/s). */
    const char *e1[] = {"--vm",        "a:cpu=30", "--vm", "b:cpu=25,mem=2048",
                        "--bandwidth", "1024",     NULL};
    const char *e2[] = {"--vm", "a:cpu=5", NULL};
    const char *e3[] = {"--vm", "c:cpu=10", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    struct daemon *h2 = pool_start_agent("h2", m->url, e2);
    (void)pool_start_agent("h3", m->url, e3);
    struct cond up = {m->url, NULL, NULL, 3};
    assert_true(wait_until(hosts_up, &up, UP_S));

    /* Reported before any conflict: an error once, the gauge, the hosts and health answers. */
    struct level_cond err = {m, "error", "VM on two hosts vm=\"a\""};
    assert_true(wait_until(logged_at, &err, ACT_S));
    struct cond one = {m->url, "vmloc_duplicate_vms", NULL, 1};
    assert_true(wait_until(metric_is, &one, ACT_S));
    json_t *hosts = get(m->url, "/v1/hosts");
    json_t *dups = json_object_get(named(hosts, "h1"), "duplicate_vms");
    assert_int_equal(json_array_size(dups), 1);
    assert_string_equal(str(json_array_get(dups, 0), "vm"), "a");
    assert_int_equal(json_array_size(json_object_get(json_array_get(dups, 0), "hosts")), 2);
    assert_null(json_object_get(named(hosts, "h3"), "duplicate_vms"));
    json_decref(hosts);
    json_t *x = get(m->url, "/v1/vms/a/explain");
    assert_non_null(x);
    assert_int_equal(json_array_size(json_object_get(x, "duplicate_on")), 2);
    json_decref(x);

    /* A conflict on h1: a would be chosen, but it does not move; b does. While b moves, both
     * ends list it: not a duplicate. */
    load(h1->url, "a", "cpu=60");
    struct cond running = {m->url, "b", "running", 0};
    assert_true(wait_until(migration_is, &running, ACT_S));
    char names[256];
    dup_names(m->url, names, sizeof(names));
    assert_string_equal(names, "a");
    struct cond done = {m->url, "b", "done", 0};
    assert_true(wait_until(migration_is, &done, 30.0));
    long long r = health_int(m->url, "rounds");
    struct cond later = {m->url, NULL, NULL, r + 5};
    assert_true(wait_until(rounds_reach, &later, ACT_S));
    assert_false(migrated(m->url, "a"));
    struct level_cond b_err = {m, "error", "vm=\"b\""};
    assert_int_equal(count_lines(&b_err), 0);
    assert_int_equal(count_lines(&err), 1); /* once per episode, not every round */

    /* Resolved when one copy goes: h2 stops, is down, and a is on one host again. */
    pool_stop_clean(h2);
    struct level_cond over = {m, "info", "VM on one host again vm=\"a\""};
    assert_true(wait_until(logged_at, &over, ACT_S));
    struct cond none = {m->url, "vmloc_duplicate_vms", NULL, 0};
    assert_true(wait_until(metric_is, &none, ACT_S));
    assert_true(metrics_value(m->url, "vmloc_duplicate_vms_total") == 1.0);
    pool_finish();
}

/* The agent at `url` lists one migration, done, of VM `a`. */
static bool
one_migration_done(void *arg)
{
    struct cond *c = arg;
    json_t *arr = get(c->url, "/v1/migrations");
    json_t *m = json_array_get(arr, 0);
    bool ok = json_array_size(arr) == 1 && strcmp(str(m, "state"), "done") == 0 &&
              strcmp(str(m, "vm"), c->a) == 0;
    json_decref(arr);
    return ok;
}

/* Peer mode: a VM of the host in conflict whose name a peer lists too is not moved (the next
 * VM is), and the agent reports it as the manager does. */
static void
test_peer_duplicate_vm(void **state)
{
    (void)state;
    struct peers p;
    pool_peers_init(&p, 3);
    const char *src[] = {"--vm", "a:cpu=10", "--vm", "b:cpu=10", NULL};
    const char *twin[] = {"--vm", "a:cpu=5", NULL};
    const char *idle[] = {"--vm", "d:cpu=5", NULL};
    pool_peer_start(&p, 0, src);
    pool_peer_start(&p, 1, twin);
    pool_peer_start(&p, 2, idle);
    load(p.url[0], "a", "cpu=50");
    load(p.url[0], "b", "cpu=45");
    struct cond moved = {p.url[0], "b", NULL, 0};
    assert_true(wait_until(one_migration_done, &moved, ACT_S));
    struct level_cond err = {p.d[0], "error", "VM on two hosts vm=\"a\""};
    assert_true(logged_at(&err));
    assert_true(metrics_value(p.url[0], "vmloc_duplicate_vms") == 1.0);
    json_t *health = get(p.url[0], "/v1/health");
    json_t *dups = json_object_get(health, "duplicate_vms");
    assert_int_equal(json_array_size(dups), 1);
    assert_string_equal(str(json_array_get(dups, 0), "vm"), "a");
    json_decref(health);
    pool_finish();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_host_name_clash, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_vm, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_peer_duplicate_vm, pool_setup, pool_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

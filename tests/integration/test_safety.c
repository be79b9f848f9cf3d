/* Operating safely, with real processes: the persistence filter delays an order until the
 * conflict was seen in K of the host's last N samples (central, edge and peer), a VM that just
 * arrived is not moved again during its cooldown (the arrival time travels in the sample),
 * max_migrations holds conflicts back, placement rules steer the manager, manual and dry-run
 * automation, and `vmloc explain`. (Drains: test_drain.c.) */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "net/http.h"
#include "testpool.h"

static double
mono_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A manager at --interval 0.2 with the policy `text` (INI). */
static struct daemon *
manager_with(const char *text)
{
    const char *mextra[] = {"--config", pool_write_policy(text), NULL};
    return pool_start_manager("m", "127.0.0.1:0", mextra);
}

/* The conflict every test here makes: a at 50 %, b at 40 % on the agent at `url`. */
static void
overload_ab(const char *url)
{
    load(url, "a", "cpu=50");
    load(url, "b", "cpu=40");
}

/* A conflict on h1 through a manager in `mode` (central or edge) with persistence 4/4 where
 * `where` says (the manager's config, or the agents'); returns the seconds from the load
 * change to the order. */
static double
persistence_delay(const char *mode, bool on_agents)
{
    const char *pol = pool_write_policy("[relocate]\npersistence = 4/4\n");
    const char *mextra[] = {"--mode", mode, on_agents ? NULL : "--config", pol, NULL};
    struct daemon *m = pool_start_manager("m", "127.0.0.1:0", mextra);
    const char *e1[] = {"--mode",
                        mode,
                        "--vm",
                        "a:cpu=30,mem=64",
                        "--vm",
                        "b:cpu=20,mem=64",
                        on_agents ? "--config" : NULL,
                        pol,
                        NULL};
    const char *e2[] = {"--mode", mode, "--vm", "c:cpu=10,mem=64", on_agents ? "--config" : NULL,
                        pol,      NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    (void)pool_start_agent("h2", m->url, e2);
    struct cond up = {m->url, NULL, NULL, 2};
    assert_true(wait_until(hosts_up, &up, UP_S));
    double t0 = mono_s();
    overload_ab(h1->url);
    struct cond c = {m->url, "a", NULL, 0};
    assert_true(wait_until(migration_of, &c, ACT_S));
    return mono_s() - t0;
}

/* With persistence 4/4 and agents sampling every 0.2 s, the order comes at least three
 * sampling intervals after the load change (four distinct samples in conflict). */
static void
test_persistence_delays_the_order(void **state)
{
    (void)state;
    double waited = persistence_delay("central", false);
    printf("order %.2f s after the load change (persistence 4/4, samples every 0.2 s)\n", waited);
    assert_true(waited >= 0.55);
    pool_finish();
}

/* Edge mode: the agent applies the filter before it notifies the manager. */
static void
test_persistence_on_edge_agents(void **state)
{
    (void)state;
    double waited = persistence_delay("edge", true);
    printf("edge: order %.2f s after the load change (persistence 4/4 on the agents)\n", waited);
    assert_true(waited >= 0.55);
    pool_finish();
}

/* Peer mode: the agent applies the filter before it starts a decision. */
static void
test_persistence_on_peers(void **state)
{
    (void)state;
    const char *pol = pool_write_policy("[relocate]\npersistence = 4/4\n");
    static const char *const vm1[2] = {"a:cpu=30,mem=64", "c:cpu=10,mem=64"};
    struct peers p;
    pool_peers_init(&p, 2);
    struct daemon *d[2];
    for (size_t i = 0; i < 2; i++) {
        const char *extra[] = {"--config", pol,    "--vm",
                               vm1[i],     "--vm", i == 0 ? "b:cpu=20,mem=64" : "e:cpu=1,mem=64",
                               NULL};
        pool_peer_start(&p, i, extra);
        d[i] = p.d[i];
    }
    double t0 = mono_s();
    overload_ab(d[0]->url);
    struct cond c = {d[0]->url, "a", NULL, 0};
    assert_true(wait_until(migration_of, &c, ACT_S));
    double waited = mono_s() - t0;
    printf("peer: migration %.2f s after the load change (persistence 4/4)\n", waited);
    assert_true(waited >= 0.55);
    pool_finish();
}

/* A VM that arrived is not moved during its cooldown: when its new host gets into conflict,
 * the other heavy VM goes instead. */
static void
test_cooldown_keeps_an_arrival(void **state)
{
    (void)state;
    struct daemon *m = manager_with("[relocate]\ncooldown = 600\n");
    const char *e1[] = {"--vm", "a:cpu=30,mem=64", "--vm", "b:cpu=20,mem=64", NULL};
    const char *e2[] = {"--vm", "c:cpu=10,mem=64", NULL};
    const char *e3[] = {"--vm", "d:cpu=35,mem=64", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    struct daemon *h2 = pool_start_agent("h2", m->url, e2);
    (void)pool_start_agent("h3", m->url, e3);
    struct cond up = {m->url, NULL, NULL, 3};
    assert_true(wait_until(hosts_up, &up, UP_S));
    /* h1 in conflict: a (the heaviest) goes to h2, the host with the most free cpu. */
    overload_ab(h1->url);
    struct cond done = {m->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &done, ACT_S));
    json_t *vms = get(h2->url, "/v1/vms");
    bool seen = false;
    size_t i;
    json_t *v;
    json_array_foreach(vms, i, v)
    {
        if (strcmp(str(v, "name"), "a") == 0) {
            seen = true;
            assert_true(json_real_value(json_object_get(v, "arrived")) > 1e9);
        }
    }
    json_decref(vms);
    assert_true(seen);
    /* Now h2 is in conflict with a and c heavy: a is cooling down, so c moves. */
    load(h2->url, "a", "cpu=50");
    load(h2->url, "c", "cpu=40");
    struct cond cmoved = {m->url, "c", NULL, 0};
    assert_true(wait_until(migration_of, &cmoved, ACT_S));
    json_t *migs = get(m->url, "/v1/migrations");
    size_t moves_of_a = 0;
    json_array_foreach(migs, i, v)
    {
        moves_of_a += strcmp(str(v, "vm"), "a") == 0;
    }
    json_decref(migs);
    assert_int_equal(moves_of_a, 1);
    pool_finish();
}

struct limit_watch {
    const char *url;
    long long max_active; /* the most migrations seen active at once */
};

/* Both sources have had a VM moved (done); tracks the most active at once meanwhile. */
static bool
both_moved(void *arg)
{
    struct limit_watch *w = arg;
    long long active = health_int(w->url, "active_migrations");
    if (active > w->max_active)
        w->max_active = active;
    json_t *arr = get(w->url, "/v1/migrations");
    bool from1 = false;
    bool from2 = false;
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        if (strcmp(str(m, "state"), "done") != 0)
            continue;
        from1 |= strcmp(str(m, "from"), "h1") == 0;
        from2 |= strcmp(str(m, "from"), "h2") == 0;
    }
    json_decref(arr);
    return from1 && from2;
}

/* max_migrations = 1: two conflicts at once are served one after the other, the second
 * waiting with its reason recorded. */
static void
test_one_migration_at_once(void **state)
{
    (void)state;
    struct daemon *m = manager_with("[relocate]\nmax_migrations = 1\n");
    /* 1 GiB at 1 GiB/s: each migration takes about a second. */
    const char *e1[] = {"--vm", "a:cpu=30,mem=1024", "--vm", "b:cpu=20,mem=1024", NULL};
    const char *e2[] = {"--vm", "c:cpu=30,mem=1024", "--vm", "d:cpu=20,mem=1024", NULL};
    const char *e3[] = {"--vm", "e:cpu=5,mem=64", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    struct daemon *h2 = pool_start_agent("h2", m->url, e2);
    (void)pool_start_agent("h3", m->url, e3);
    const char *e4[] = {"--vm", "f:cpu=5,mem=64", NULL};
    (void)pool_start_agent("h4", m->url, e4);
    struct cond up = {m->url, NULL, NULL, 4};
    assert_true(wait_until(hosts_up, &up, UP_S));
    overload_ab(h1->url);
    load(h2->url, "c", "cpu=50");
    load(h2->url, "d", "cpu=40");
    struct limit_watch w = {m->url, 0};
    assert_true(wait_until(both_moved, &w, ACT_S));
    printf("most migrations at once: %lld (max_migrations 1)\n", w.max_active);
    assert_true(w.max_active <= 1);
    /* The one that waited says why. */
    json_t *cs = get(m->url, "/v1/conflicts");
    bool waited = false;
    size_t i;
    json_t *c;
    json_array_foreach(cs, i, c)
    {
        waited |= strstr(str(c, "outcome"), "waiting: migration limit") != NULL;
    }
    json_decref(cs);
    assert_true(waited);
    pool_finish();
}

/* Placement rules through the manager: a "must apart" rule sends the VM to the second best
 * host; a rule that leaves no host says so in the conflict's outcome. */
static void
test_rules_in_manager(void **state)
{
    (void)state;
    struct daemon *m = manager_with("[rule \"a-apart-from-c\"]\ntype = apart\nvms = a, c\n"
                                    "[rule \"b-on-h1\"]\ntype = on\nvms = b\nhosts = h1\n");
    const char *e1[] = {"--vm", "a:cpu=30,mem=64", "--vm", "b:cpu=20,mem=64", NULL};
    const char *e2[] = {"--vm", "c:cpu=5,mem=64", NULL};
    const char *e3[] = {"--vm", "d:cpu=25,mem=64", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    (void)pool_start_agent("h2", m->url, e2);
    (void)pool_start_agent("h3", m->url, e3);
    struct cond up = {m->url, NULL, NULL, 3};
    assert_true(wait_until(hosts_up, &up, UP_S));
    overload_ab(h1->url);
    struct cond done = {m->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &done, ACT_S));
    json_t *migs = get(m->url, "/v1/migrations");
    assert_int_equal(json_array_size(migs), 1);
    assert_string_equal(str(json_array_get(migs, 0), "to"), "h3"); /* h2 runs c */
    json_decref(migs);
    pool_finish();
}

/* The newest recommendation (state `a`, any when NULL) has its id copied to rec_id. */
static char rec_id[96];

static bool
recommendation_is(void *arg)
{
    const struct cond *c = arg;
    json_t *arr = get(c->url, "/v1/recommendations");
    bool ok = false;
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r)
    {
        if (c->a == NULL || strcmp(str(r, "state"), c->a) == 0) {
            (void)snprintf(rec_id, sizeof(rec_id), "%s", str(r, "id"));
            ok = true;
        }
    }
    json_decref(arr);
    return ok;
}

/* Host `a`'s cpu usage, as the manager last saw it (-1 if unknown). */
static double
host_cpu(const char *url, const char *host)
{
    json_t *hosts = get(url, "/v1/hosts");
    json_t *h = named(hosts, host);
    double v =
        h != NULL ? json_real_value(json_object_get(json_object_get(h, "usage"), "cpu")) : -1;
    json_decref(hosts);
    return v;
}

static bool
host_cpu_at_least(void *arg)
{
    const struct cond *c = arg;
    return host_cpu(c->url, c->a) >= (double)c->n;
}

static bool
host_cpu_below_10(void *arg)
{
    const struct cond *c = arg;
    double v = host_cpu(c->url, c->a);
    return v >= 0 && v < 10;
}

/* automation = manual: the decision is recorded, nothing moves until `vmloc apply ID`; an
 * applied recommendation cannot be applied twice. */
static void
test_manual_apply(void **state)
{
    (void)state;
    struct daemon *m = manager_with("[relocate]\nautomation = manual\n");
    const char *e1[] = {"--vm", "a:cpu=30,mem=64", "--vm", "b:cpu=20,mem=64", NULL};
    const char *e2[] = {"--vm", "c:cpu=5,mem=64", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    struct daemon *h2 = pool_start_agent("h2", m->url, e2);
    struct cond up = {m->url, NULL, NULL, 2};
    assert_true(wait_until(hosts_up, &up, UP_S));
    long long rounds = health_int(m->url, "rounds");
    overload_ab(h1->url);
    struct cond pending = {m->url, "pending", NULL, 0};
    assert_true(wait_until(recommendation_is, &pending, ACT_S));
    /* Several decisions later, still nothing ordered, one recommendation. */
    struct cond later = {m->url, NULL, NULL, rounds + 10};
    assert_true(wait_until(rounds_reach, &later, ACT_S));
    json_t *migs = get(m->url, "/v1/migrations");
    assert_int_equal(json_array_size(migs), 0);
    json_decref(migs);
    json_t *recs = get(m->url, "/v1/recommendations");
    assert_int_equal(json_array_size(recs), 1);
    assert_string_equal(str(json_array_get(recs, 0), "vm"), "a");
    assert_string_equal(str(json_array_get(recs, 0), "to"), "h2");
    json_decref(recs);
    char id[96];
    (void)snprintf(id, sizeof(id), "%s", rec_id);
    const char *apply[] = {"--manager", m->url, "apply", id, NULL};
    /* While h2 has no room for a, the recommendation does not hold: refused. */
    load(h2->url, "c", "cpu=60");
    struct cond full = {m->url, "h2", NULL, 60};
    assert_true(wait_until(host_cpu_at_least, &full, ACT_S));
    char path[160];
    (void)snprintf(path, sizeof(path), "/v1/recommendations/%s/apply", id);
    json_t *ans = NULL;
    assert_int_equal(daemon_http(m->url, "POST", path, "{}", &ans), 409);
    printf("apply refused: %s\n", str(ans, "error"));
    assert_non_null(strstr(str(ans, "error"), "no-room"));
    json_decref(ans);
    load(h2->url, "c", "cpu=5");
    struct cond calm = {m->url, "h2", NULL, 0};
    assert_true(wait_until(host_cpu_below_10, &calm, ACT_S));
    assert_int_equal(run_cli(apply, NULL), 0);
    struct cond done = {m->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &done, ACT_S));
    assert_int_equal(run_cli(apply, NULL), 2); /* not pending any more */
    const char *bad[] = {"--manager", m->url, "apply", "no/such", NULL};
    assert_int_equal(run_cli(bad, NULL), 2);
    struct cond applied = {m->url, "applied", NULL, 0};
    assert_true(wait_until(recommendation_is, &applied, ACT_S));
    pool_finish();
}

/* automation = dry-run: decisions are logged and recorded, never carried out or applied. */
static void
test_dry_run(void **state)
{
    (void)state;
    struct daemon *m = manager_with("[relocate]\nautomation = dry-run\n");
    const char *e1[] = {"--vm", "a:cpu=30,mem=64", "--vm", "b:cpu=20,mem=64", NULL};
    const char *e2[] = {"--vm", "c:cpu=5,mem=64", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    (void)pool_start_agent("h2", m->url, e2);
    struct cond up = {m->url, NULL, NULL, 2};
    assert_true(wait_until(hosts_up, &up, UP_S));
    overload_ab(h1->url);
    struct cond dry = {m->url, "dry-run", NULL, 0};
    assert_true(wait_until(recommendation_is, &dry, ACT_S));
    char id[96];
    (void)snprintf(id, sizeof(id), "%s", rec_id);
    const char *apply[] = {"--manager", m->url, "apply", id, NULL};
    assert_int_equal(run_cli(apply, NULL), 2);
    json_t *cs = get(m->url, "/v1/conflicts");
    assert_non_null(strstr(str(json_array_get(cs, 0), "outcome"), "dry-run: would move a to h2"));
    json_decref(cs);
    json_t *migs = get(m->url, "/v1/migrations");
    assert_int_equal(json_array_size(migs), 0);
    json_decref(migs);
    pool_finish();
}

/* vmloc explain VM: the host, the verdict on every other host, the rule that names it. */
static void
test_explain(void **state)
{
    (void)state;
    struct daemon *m = manager_with("[rule \"a-apart-from-c\"]\ntype = apart\nvms = a, c\n"
                                    "[relocate]\nexclude_hosts = h4\n");
    const char *e1[] = {"--vm", "a:cpu=30,mem=64", NULL};
    const char *e2[] = {"--vm", "c:cpu=5,mem=64", NULL};
    const char *e3[] = {"--vm", "d:cpu=85,mem=64", NULL};
    const char *e4[] = {"--vm", "f:cpu=5,mem=64", NULL};
    (void)pool_start_agent("h1", m->url, e1);
    (void)pool_start_agent("h2", m->url, e2);
    (void)pool_start_agent("h3", m->url, e3);
    (void)pool_start_agent("h4", m->url, e4);
    struct cond up = {m->url, NULL, NULL, 4};
    assert_true(wait_until(hosts_up, &up, UP_S));
    json_t *j = get(m->url, "/v1/vms/a/explain");
    assert_non_null(j);
    assert_string_equal(str(j, "host"), "h1");
    assert_true(json_is_false(json_object_get(j, "pinned")));
    assert_int_equal(json_integer_value(json_object_get(j, "possible")), 0);
    json_t *d = json_object_get(j, "destinations");
    assert_int_equal(json_array_size(d), 3);
    static const char *const want[][2] = {{"h2", "rule"}, {"h3", "no-room"}, {"h4", "excluded"}};
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(str(json_array_get(d, i), "host"), want[i][0]);
        assert_string_equal(str(json_array_get(d, i), "verdict"), want[i][1]);
    }
    assert_string_equal(str(json_array_get(d, 0), "rule"), "a-apart-from-c");
    assert_string_equal(str(json_array_get(d, 1), "kind"), "cpu");
    assert_string_equal(str(json_array_get(json_object_get(j, "rules"), 0), "name"),
                        "a-apart-from-c");
    json_decref(j);
    /* The CLI prints it; an unknown VM is an error. */
    char *out = NULL;
    const char *argv[] = {"--manager", m->url, "explain", "a", NULL};
    assert_int_equal(run_cli(argv, &out), 0);
    assert_non_null(strstr(out, "\"a-apart-from-c\""));
    assert_non_null(strstr(out, "excluded"));
    free(out);
    const char *bad[] = {"--manager", m->url, "explain", "nosuch", NULL};
    assert_int_equal(run_cli(bad, NULL), 2);
    pool_finish();
}

/* The host `a` is reported ready to power off by the manager at `url`. */
static bool
ready_off(void *arg)
{
    const struct cond *c = arg;
    json_t *hosts = get(c->url, "/v1/hosts");
    bool ok = strcmp(str(named(hosts, c->a), "power"), "ready-off") == 0;
    json_decref(hosts);
    return ok;
}

/* Power saving: a lightly used host is emptied onto the busiest host that stays below the
 * target, then reported ready to power off; nothing moves while a conflict or a migration
 * is there to handle. */
static void
test_power_saving(void **state)
{
    (void)state;
    struct daemon *m =
        manager_with("[relocate]\nconsolidate_below = 30\nconsolidate_target = 70\n");
    const char *e1[] = {"--vm", "a:cpu=8,mem=64", NULL};
    const char *e2[] = {"--vm", "b:cpu=38,mem=64", NULL};
    const char *e3[] = {"--vm", "c:cpu=43,mem=64", NULL};
    /* The destinations first, each measured by the manager, then the host to empty: else
     * the manager may empty h1 onto h2 before h3 has registered. */
    (void)pool_start_agent("h2", m->url, e2);
    (void)pool_start_agent("h3", m->url, e3);
    struct cond h2_seen = {m->url, "h2", NULL, 1};
    struct cond h3_seen = {m->url, "h3", NULL, 1};
    assert_true(wait_until(host_cpu_at_least, &h2_seen, ACT_S));
    assert_true(wait_until(host_cpu_at_least, &h3_seen, ACT_S));
    (void)pool_start_agent("h1", m->url, e1);
    struct cond off = {m->url, "h1", NULL, 0};
    assert_true(wait_until(ready_off, &off, ACT_S));
    json_t *migs = get(m->url, "/v1/migrations");
    assert_int_equal(json_array_size(migs), 1);
    json_t *g = json_array_get(migs, 0);
    assert_string_equal(str(g, "vm"), "a");
    assert_string_equal(str(g, "to"), "h3"); /* 45 + 10 = 55 < 70, the busiest that fits */
    assert_non_null(strstr(str(g, "reason"), "power saving"));
    json_decref(migs);
    /* Nothing else is below 30 % (h2 40 %, h3 55 %): no more moves, decision after decision. */
    long long rounds = health_int(m->url, "rounds");
    struct cond later = {m->url, NULL, NULL, rounds + 10};
    assert_true(wait_until(rounds_reach, &later, ACT_S));
    migs = get(m->url, "/v1/migrations");
    assert_int_equal(json_array_size(migs), 1);
    json_decref(migs);
    pool_finish();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_persistence_delays_the_order, pool_setup,
                                        pool_teardown),
        cmocka_unit_test_setup_teardown(test_persistence_on_edge_agents, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_persistence_on_peers, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_cooldown_keeps_an_arrival, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_one_migration_at_once, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_rules_in_manager, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_manual_apply, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_dry_run, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_explain, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_power_saving, pool_setup, pool_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

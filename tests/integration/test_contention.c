/* [detect] contention = confirm with real processes on 127.0.0.1: the simulated backend
 * models CPU wait from over-subscription, the manager lists it in GET /v1/vms, and a usage
 * conflict moves a VM only when the wait confirms it.
 *
 *  1. h1 alone, a 70 % and b 40 % of cpu: 110 % asked of the 98 % the VMs may have, so each
 *     waits 1 - 98/110 = 10.9 %: /v1/vms shows it, and the conflict (nowhere to go) is
 *     recorded as confirmed by cpu wait;
 *  2. a down to 45 %: 87 % used, still a usage conflict, but nobody waits: not confirmed,
 *     logged once, recorded as not acted on; with an empty h2 started, nothing moves over
 *     many rounds (under contention = off a would move to h2 at once);
 *  3. a up to 70 % again: the wait confirms the conflict and a moves to h2.
 *
 * And in peer mode, the same: a usage conflict nobody waits in is recorded and logged once
 * per episode, over many samples, and not acted on; made to hurt, it moves. In edge mode the
 * agent notifies such a conflict marked unconfirmed, and the manager records it the same way
 * (once, never acted on); made to hurt, it is notified as a conflict and moves.
 *
 * With the simulated agents reporting cpu pressure (--sim-pressure) and contention_wait = 100
 * (no VM's wait can confirm), the pressure alone decides: a usage conflict with room stays
 * unconfirmed (pressure 0), and once over-subscribed the pressure rises past 10 % within a
 * second or so, confirms the conflict, and a moves. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testpool.h"

/* What wait_for_wait() looks for: VM `a` on the manager at `url` waits more (n > 0) or
 * exactly 0 (n == 0). */
static bool
vm_waits(void *arg)
{
    const struct cond *c = arg;
    json_t *vms = get(c->url, "/v1/vms");
    json_t *v = named(vms, c->a);
    json_t *w = v != NULL ? json_object_get(v, "cpu_wait") : NULL;
    bool ok =
        json_is_number(w) && (c->n > 0 ? json_number_value(w) > 5.0 : json_number_value(w) == 0.0);
    json_decref(vms);
    return ok;
}

/* The manager's conflict records hold `a` in an outcome. */
static bool
conflict_says(void *arg)
{
    const struct cond *c = arg;
    json_t *arr = get(c->url, "/v1/conflicts");
    size_t i;
    json_t *o;
    bool found = false;
    json_array_foreach(arr, i, o)
    {
        found = found || strstr(str(o, "outcome"), c->a) != NULL;
    }
    json_decref(arr);
    return found;
}

static void
test_contention_confirm(void **state)
{
    (void)state;
    const char *pol = pool_write_policy("[detect]\ncontention = confirm\n");
    const char *mextra[] = {"--config", pol, NULL};
    struct daemon *m = pool_start_manager("m", "127.0.0.1:0", mextra);
    const char *h1x[] = {"--vm", "a:cpu=70", "--vm", "b:cpu=40", "--config", pol, NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, h1x);
    struct cond up = {m->url, NULL, NULL, 1};
    assert_true(wait_until(hosts_up, &up, UP_S));

    /* 1: over-subscribed, both wait; confirmed, but no destination. */
    struct cond wa = {m->url, "a", NULL, 1};
    struct cond wb = {m->url, "b", NULL, 1};
    assert_true(wait_until(vm_waits, &wa, ACT_S));
    assert_true(wait_until(vm_waits, &wb, ACT_S));
    json_t *vms = get(m->url, "/v1/vms");
    double w = json_number_value(json_object_get(named(vms, "a"), "cpu_wait"));
    print_message("over-subscribed: a waits %.3f %%\n", w);
    assert_true(w > 10.8 && w < 11.0);
    json_decref(vms);
    char *mt = metrics_text(m->url);
    assert_non_null(strstr(mt, "vmloc_vm_cpu_wait_ratio{host=\"h1\",vm=\"a\"} 0.109"));
    assert_null(strstr(mt, "vmloc_host_pressure_ratio{")); /* the simulated host has no PSI */
    free(mt);
    /* `vmloc vms` shows it in its WAIT% column. */
    const char *vargv[] = {"--manager", m->url, "vms", NULL};
    char *out = NULL;
    assert_int_equal(run_cli(vargv, &out), 0);
    print_message("%s", out);
    assert_non_null(strstr(out, "WAIT%"));
    assert_non_null(strstr(out, "   62.4    70.0    10.9 ")); /* 70 x 98/110 got, 70 asked */
    free(out);
    struct cond confirmed = {m->url, "confirmed by cpu wait (2 heavy VMs wait >= 5 %)", NULL, 0};
    assert_true(wait_until(conflict_says, &confirmed, ACT_S));

    /* 2: a usage conflict nobody waits in: not acted on, even with room on h2. */
    load(h1->url, "a", "cpu=45");
    struct cond wa0 = {m->url, "a", NULL, 0};
    assert_true(wait_until(vm_waits, &wa0, ACT_S));
    struct log_cond logged = {m, "usage conflict not confirmed: 0 heavy VMs wait >= 5 %"};
    assert_true(wait_until(log_has, &logged, ACT_S));
    struct cond unconf = {m->url, "not confirmed: not acted on", NULL, 0};
    assert_true(wait_until(conflict_says, &unconf, ACT_S));
    struct daemon *h2 = pool_start_agent("h2", m->url, NULL);
    (void)h2;
    struct cond up2 = {m->url, NULL, NULL, 2};
    assert_true(wait_until(hosts_up, &up2, UP_S));
    struct cond rounds = {m->url, NULL, NULL, health_int(m->url, "rounds") + 15};
    assert_true(wait_until(rounds_reach, &rounds, ACT_S));
    json_t *migs = get(m->url, "/v1/migrations");
    assert_int_equal(json_array_size(migs), 0);
    json_decref(migs);
    json_t *ex = get(m->url, "/v1/vms/a/explain");
    assert_non_null(ex);
    assert_false(json_is_true(json_object_get(ex, "host_in_conflict")));
    assert_non_null(strstr(str(ex, "contention"), "not confirmed"));
    json_decref(ex);
    const char *eargv[] = {"--manager", m->url, "explain", "a", NULL};
    char *eout = NULL;
    assert_int_equal(run_cli(eargv, &eout), 0);
    assert_non_null(strstr(eout, "contention: not confirmed: 0 heavy VMs wait >= 5 %"));
    assert_non_null(strstr(eout, "cpu wait: 0.0%"));
    free(eout);

    /* 3: over-subscribed again: confirmed, and a moves to h2. */
    load(h1->url, "a", "cpu=70");
    struct cond moved = {m->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &moved, ACT_S));
    struct cond moved_rec = {m->url, "move a to h2 (confirmed by cpu wait", NULL, 0};
    assert_true(wait_until(conflict_says, &moved_rec, ACT_S));
    pool_finish();
}

/* Conflict records of the agent at `url` whose outcome is `outcome`. */
static int
records_with(const char *url, const char *outcome)
{
    json_t *arr = get(url, "/v1/conflicts");
    int n = 0;
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        n += strcmp(str(o, "outcome"), outcome) == 0;
    }
    json_decref(arr);
    return n;
}

/* The agent at c->url has taken sample c->n or a later one. */
static bool
seq_reaches(void *arg)
{
    const struct cond *c = arg;
    return sample_seq(c->url, NULL) >= c->n;
}

static void
test_peer_unconfirmed(void **state)
{
    (void)state;
    const char *pol = pool_write_policy("[detect]\ncontention = confirm\n");
    struct peers p;
    pool_peers_init(&p, 2);
    /* 85 % used, two heavy VMs, and nobody waits (85 % of the 98 % the VMs may have). */
    const char *src[] = {"--vm", "a:cpu=45", "--vm", "b:cpu=40", "--config", pol, NULL};
    const char *idle[] = {"--config", pol, NULL};
    pool_peer_start(&p, 0, src);
    pool_peer_start(&p, 1, idle);
    const char *why = "usage conflict not confirmed: 0 heavy VMs wait >= 5 % (min_vms 2); cpu "
                      "pressure not measured host=\"p1\" resources=cpu vms=a,b: not acted on";
    struct log_cond logged = {p.d[0], why};
    assert_true(wait_until(log_has, &logged, ACT_S));
    /* Many samples later (0.2 s apart): still one record and one line, and nothing moved. */
    struct cond later = {p.url[0], NULL, NULL, sample_seq(p.url[0], NULL) + 15};
    assert_true(wait_until(seq_reaches, &later, ACT_S));
    assert_int_equal(records_with(p.url[0], "not confirmed: not acted on"), 1);
    assert_int_equal(daemon_log_count(p.d[0], "usage conflict not confirmed", NULL), 1);
    assert_int_equal(daemon_log_count(p.d[0], "conflict gone in the latest sample", NULL), 0);
    json_t *conf = get(p.url[0], "/v1/conflicts");
    assert_string_equal(str(json_array_get(conf, 0), "host"), "p1");
    json_decref(conf);
    const char *urls[] = {p.url[0], p.url[1]};
    assert_int_equal(pool_vm_where(urls, 2, "a"), 0);
    assert_int_equal(health_int(p.url[0], "locks_granted"), 0);

    /* Made to hurt (a asks 70 %: both wait), the conflict is confirmed and a moves to p2. */
    load(p.url[0], "a", "cpu=70");
    struct cond moved = {p.url[0], "move a to p2", NULL, 0};
    assert_true(wait_until(conflict_says, &moved, ACT_S));
    pool_finish();
}

/* The agent at c->url has sent c->n edge notifications or more. */
static bool
notified(void *arg)
{
    const struct cond *c = arg;
    return health_int(c->url, "notifications") >= c->n;
}

static void
test_edge_unconfirmed(void **state)
{
    (void)state;
    const char *pol = pool_write_policy("[detect]\ncontention = confirm\n");
    const char *mextra[] = {"--mode", "edge", "--config", pol, NULL};
    struct daemon *m = pool_start_manager("m", "127.0.0.1:0", mextra);
    /* 85 % used, two heavy VMs, and nobody waits; h2 is empty, room for either. */
    const char *h1x[] = {"--mode",   "edge",     "--vm", "a:cpu=45", "--vm",
                         "b:cpu=40", "--config", pol,    NULL};
    const char *h2x[] = {"--mode", "edge", "--config", pol, NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, h1x);
    pool_start_agent("h2", m->url, h2x);
    struct cond up = {m->url, NULL, NULL, 2};
    assert_true(wait_until(hosts_up, &up, UP_S));
    const char *why = "usage conflict not confirmed: 0 heavy VMs wait >= 5 % (min_vms 2); cpu "
                      "pressure not measured host=\"h1\" resources=cpu vms=a,b: not acted on";
    struct log_cond logged = {m, why};
    assert_true(wait_until(log_has, &logged, ACT_S));
    /* Many notifications later (one a sample, but one in flight at a time: fewer on a slow
     * machine): one record, one line, nothing ordered. */
    struct cond later = {h1->url, NULL, NULL, health_int(h1->url, "notifications") + 10};
    assert_true(wait_until(notified, &later, ACT_S));
    assert_int_equal(records_with(m->url, "not confirmed: not acted on"), 1);
    assert_int_equal(daemon_log_count(m, "usage conflict not confirmed", NULL), 1);
    json_t *conf = get(m->url, "/v1/conflicts");
    json_t *c0 = json_array_get(conf, 0);
    assert_string_equal(str(c0, "host"), "h1");
    json_t *cvms = json_object_get(c0, "vms");
    assert_int_equal(json_array_size(cvms), 2);
    assert_string_equal(json_string_value(json_array_get(cvms, 0)), "a");
    assert_string_equal(json_string_value(json_array_get(cvms, 1)), "b");
    json_decref(conf);
    json_t *migs = get(m->url, "/v1/migrations");
    assert_int_equal(json_array_size(migs), 0);
    json_decref(migs);
    assert_int_equal(health_int(m->url, "active_migrations"), 0);

    /* Made to hurt (a asks 70 %: both wait), the agent notifies a conflict and a moves. */
    load(h1->url, "a", "cpu=70");
    struct cond moved = {m->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &moved, ACT_S));
    struct cond moved_rec = {m->url, "move a to h2 (confirmed by cpu wait", NULL, 0};
    assert_true(wait_until(conflict_says, &moved_rec, ACT_S));
    pool_finish();
}

/* Host c->a's cpu pressure `some` on the manager at c->url: present and at least c->n (or,
 * with c->n < 0, exactly 0). */
static bool
host_pressure(void *arg)
{
    const struct cond *c = arg;
    json_t *hosts = get(c->url, "/v1/hosts");
    json_t *h = named(hosts, c->a);
    json_t *cpu = h != NULL ? json_object_get(json_object_get(h, "pressure"), "cpu") : NULL;
    json_t *some = json_object_get(cpu, "some");
    bool ok = json_is_number(some) &&
              (c->n < 0 ? json_number_value(some) == 0.0 : json_number_value(some) >= (double)c->n);
    /* Only `some`: the simulated host does not invent `full`, memory or io. */
    ok = ok && json_object_get(cpu, "full") == NULL &&
         json_object_size(json_object_get(h, "pressure")) == 1;
    json_decref(hosts);
    return ok;
}

static void
test_pressure_confirms(void **state)
{
    (void)state;
    const char *pol = pool_write_policy("[detect]\ncontention = confirm\ncontention_wait = 100\n");
    const char *mextra[] = {"--config", pol, NULL};
    struct daemon *m = pool_start_manager("m", "127.0.0.1:0", mextra);
    /* 85 % used, two heavy VMs, not over-subscribed; h2 is empty, room for either. */
    const char *h1x[] = {"--sim-pressure", "--vm",     "a:cpu=45", "--vm",
                         "b:cpu=40",       "--config", pol,        NULL};
    const char *h2x[] = {"--sim-pressure", "--config", pol, NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, h1x);
    pool_start_agent("h2", m->url, h2x);
    struct cond up = {m->url, NULL, NULL, 2};
    assert_true(wait_until(hosts_up, &up, UP_S));
    struct cond calm = {m->url, "h1", NULL, -1};
    assert_true(wait_until(host_pressure, &calm, ACT_S));
    struct log_cond logged = {m, "usage conflict not confirmed: 0 heavy VMs wait >= 100 % "
                                 "(min_vms 2); cpu pressure some 0.0 % < 10 %"};
    assert_true(wait_until(log_has, &logged, ACT_S));
    struct cond rounds = {m->url, NULL, NULL, health_int(m->url, "rounds") + 15};
    assert_true(wait_until(rounds_reach, &rounds, ACT_S));
    json_t *migs = get(m->url, "/v1/migrations");
    assert_int_equal(json_array_size(migs), 0);
    json_decref(migs);
    assert_true(host_pressure(&calm)); /* 15 rounds later, still no pressure */
    char *mt = metrics_text(m->url);
    assert_non_null(
        strstr(mt, "vmloc_host_pressure_ratio{host=\"h1\",resource=\"cpu\",kind=\"some\"} 0"));
    free(mt);

    /* Over-subscribed: each waits 10.9 %, far below 100 %, but the host now stalls all the
     * time and its pressure confirms the conflict. */
    load(h1->url, "a", "cpu=70");
    struct cond moved = {m->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &moved, ACT_S));
    struct cond moved_rec = {m->url, "move a to h2 (confirmed by cpu pressure some ", NULL, 0};
    assert_true(wait_until(conflict_says, &moved_rec, ACT_S));
    json_t *conf = get(m->url, "/v1/conflicts");
    size_t i;
    json_t *o;
    json_array_foreach(conf, i, o)
    {
        if (strstr(str(o, "outcome"), "move a to h2") != NULL)
            print_message("%s\n", str(o, "outcome"));
    }
    json_decref(conf);
    /* The pressure that confirmed it decays over seconds; h1 still shows some. */
    struct cond some = {m->url, "h1", NULL, 1};
    assert_true(host_pressure(&some));
    pool_finish();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_contention_confirm, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_peer_unconfirmed, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_edge_unconfirmed, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_pressure_confirms, pool_setup, pool_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

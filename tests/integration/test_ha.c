/* Active/standby managers on a real etcd (Debian's etcd-server, three members on loopback
 * ports, each with a data directory of its own, the managers given all three): exactly one leads
 * and /v1/health says who and with which term; a drain sent to the follower takes effect; after a
 * kill -9 of the leader the follower leads within the lease and a sixth of it (its poll) plus
 * slack, and resolves a conflict that began after the kill; a leader paused (SIGSTOP, at the point
 * where it is about to send an order) for longer than its lease sends nothing once woken, and no
 * agent takes an order of its old term; an agent refuses an order whose term is older than one it
 * has seen, with 409, also after a restart; one etcd member stopped changes nothing, two stop all
 * ordering within a lease (health and metrics say why) and starting them again resumes it with no
 * operator step. Skipped (77) when etcd is not installed. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "etcdtest.h"
#include "run.h"
#include "testpool.h"

#define LEASE_S 3.0
/* Takeover: the lease, etcd's check for expired leases (0.5 s), the follower's poll (a sixth
 * of the lease), a round, and slack for a loaded machine. */
#define TAKEOVER_S (LEASE_S + 0.5 + LEASE_S / 6.0 + 0.2 + 2.0)

static const char *etcd_bin;

static int
setup(void **state)
{
    (void)pool_setup(state);
    etcdtest_start(etcd_bin, 3);
    return 0;
}

static json_t *
health(const char *url)
{
    return get(url, "/v1/health");
}

static long long
term_of(const char *url)
{
    return health_int(url, "term");
}

static double
mono_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* VM `vm` runs on exactly one of the `n` agents at `urls`, and not on agent `not_on`. */
struct where {
    const char *const *urls;
    size_t n;
    const char *vm;
    int not_on;
};

/* Every VM of `vms` runs on exactly one of the agents at `urls`. */
struct placed {
    const char *const *urls;
    const char *const *vms;
    size_t n_vms;
};

static bool
all_placed(void *arg)
{
    const struct placed *p = arg;
    for (size_t i = 0; i < p->n_vms; i++)
        if (pool_vm_where(p->urls, 3, p->vms[i]) < 0)
            return false;
    return true;
}

/* The agents are asked one after another, so a VM that moves meanwhile can be seen on none
 * or on two: wait until one reading shows each on exactly one host (a lost or double-placed
 * VM never does). */
static void
assert_all_placed(const char *const *urls, const char *const *vms, size_t n_vms)
{
    struct placed p = {urls, vms, n_vms};
    if (!wait_until(all_placed, &p, ACT_S)) {
        for (size_t i = 0; i < n_vms; i++)
            printf("VM %s: %d\n", vms[i], pool_vm_where(urls, 3, vms[i]));
        fail_msg("a VM is not on exactly one host");
    }
}

static bool
vm_moved(void *arg)
{
    struct where *w = arg;
    int at = pool_vm_where(w->urls, w->n, w->vm);
    return at >= 0 && at != w->not_on;
}

/* The conflict on h1 (agent 0 of `arg`, the agents' URLs) is resolved: a or b moved off. */
static bool
h1_relieved(void *arg)
{
    const char *const *urls = arg;
    struct where a = {urls, 3, "a", 0};
    struct where b = {urls, 3, "b", 0};
    return vm_moved(&a) || vm_moved(&b);
}

/* Metric `a` of the daemon at `url` is at least `n`. */
static bool
metric_is(void *arg)
{
    struct cond *c = arg;
    return metrics_value(c->url, c->a) >= (double)c->n;
}

/* `vmloc --manager LIST drain no-such-host` fails, and its error names `want`: the manager
 * the CLI chose from LIST. */
static void
cli_error_names(const char *list, const char *want)
{
    const char *argv[] = {daemon_bin(), "--manager", list, "drain", "no-such-host", NULL};
    struct run_result res;
    assert_int_equal(run_program(argv, NULL, 0, 30.0, &res), 0);
    char expect[200];
    (void)snprintf(expect, sizeof(expect), "%s/v1/hosts/no-such-host", want);
    if (res.exit_status == 0 || strstr(res.err, expect) == NULL) {
        printf("vmloc --manager %s: %s, stderr: %s (expected %s)\n", list, run_describe(&res),
               res.err, expect);
        run_result_done(&res);
        fail();
    }
    run_result_done(&res);
}

/* (a) one leader, health says roles and term; (e) a drain sent to the follower takes effect;
 * (b) kill -9 of the leader: the follower leads in time and resolves a conflict that began
 * after the kill. */
static void
test_failover(void **state)
{
    (void)state;
    struct daemon *m1 = etcdtest_manager("m1");
    struct cond lead1 = {m1->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead1, UP_S));
    struct daemon *m2 = etcdtest_manager("m2");
    struct cond follow2 = {m2->url, "follower", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &follow2, UP_S));
    json_t *h1 = health(m1->url);
    json_t *h2 = health(m2->url);
    long long term = json_integer_value(json_object_get(h1, "term"));
    assert_true(term > 0);
    assert_int_equal(json_integer_value(json_object_get(h2, "term")), term);
    assert_string_equal(str(h2, "leader"), m1->url);
    assert_string_equal(str(h1, "leader"), m1->url);
    assert_string_equal(str(h2, "leader_id"), "m1");
    json_decref(h1);
    json_decref(h2);

    /* The agents name both managers (a list, or --manager twice) and register with both. */
    char both[300];
    (void)snprintf(both, sizeof(both), "%s,%s", m1->url, m2->url);
    struct daemon *a1 = etcdtest_agent("h1", both, NULL, NULL, "a:cpu=30", "b:cpu=25");
    struct daemon *a2 = etcdtest_agent("h2", m1->url, m2->url, NULL, "d:cpu=5", NULL);
    struct daemon *a3 = etcdtest_agent("h3", m1->url, m2->url, NULL, "c:cpu=5", NULL);
    const char *urls[] = {a1->url, a2->url, a3->url};
    struct cond up1 = {m1->url, NULL, NULL, 3};
    struct cond up2 = {m2->url, NULL, NULL, 3};
    assert_true(wait_until(hosts_up, &up1, UP_S));
    assert_true(wait_until(hosts_up, &up2, UP_S)); /* the follower's view is warm */
    struct cond reg1 = {a1->url, "vmloc_managers_registered", NULL, 2};
    assert_true(wait_until(metric_is, &reg1, UP_S));

    /* The CLI given a dead URL, the follower and the leader talks to the leader: its error
     * for an unknown host names the URL it used. */
    char dead[64];
    (void)snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", etcdtest_free_port());
    char three[400];
    (void)snprintf(three, sizeof(three), "%s,%s,%s", dead, m2->url, m1->url);
    cli_error_names(three, m1->url);

    /* (e) A drain sent to the follower: 307 to the leader, which the CLI follows. */
    json_t *j = NULL;
    assert_int_equal(daemon_http(m2->url, "POST", "/v1/hosts/h3/drain", NULL, &j), 307);
    assert_string_equal(str(j, "leader"), m1->url);
    json_decref(j);
    const char *drain[] = {"--manager", m2->url, "drain", "h3", NULL};
    assert_int_equal(run_cli(drain, NULL), 0);
    struct where off3 = {urls, 3, "c", 2};
    assert_true(wait_until(vm_moved, &off3, ACT_S));
    const char *undrain[] = {"--manager", m2->url, "undrain", "h3", NULL};
    /* Answered once its record is in etcd: the kill right after it cannot leave h3 drained
     * for the next leader (and h2's VMs nowhere to go). */
    assert_int_equal(run_cli(undrain, NULL), 0);

    /* (b) kill -9 the leader; a conflict on h1 after the kill. */
    daemon_kill(m1);
    double killed = mono_s();
    load(a1->url, "a", "cpu=60");
    struct cond lead2 = {m2->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead2, TAKEOVER_S + 2.0));
    double took = mono_s() - killed;
    printf("takeover after kill -9: %.2f s (lease %.0f s)\n", took, LEASE_S);
    assert_true(took <= TAKEOVER_S);
    assert_true(term_of(m2->url) > term);
    /* No operator step: the agents were registered with m2 from the start. */
    assert_true(wait_until(h1_relieved, (void *)urls, ACT_S));
    /* The CLI given both URLs, the dead one first, reaches the new leader. */
    cli_error_names(both, m2->url);
    const char *drain2[] = {"--manager", both, "drain", "h2", NULL};
    assert_int_equal(run_cli(drain2, NULL), 0);
    struct cond drained = {m2->url, "h2", "maintenance", 0};
    assert_true(wait_until(host_state_is, &drained, ACT_S));
    struct where off2 = {urls, 3, "d", 1};
    assert_true(wait_until(vm_moved, &off2, ACT_S)); /* the new leader drains it */
    /* Every VM on exactly one host. */
    const char *vms[] = {"a", "b", "c", "d"};
    assert_all_placed(urls, vms, 4);
    char *text = metrics_text(m2->url);
    assert_non_null(strstr(text, "vmloc_ha_leader 1"));
    assert_non_null(strstr(text, "vmloc_ha_lease_renew_seconds_count"));
    free(text);
    pool_finish();
}

/* Does any agent list a migration whose id carries term `n`, other than those `adopter` (NULL:
 * none) adopted from the journal in etcd (and sent under its own term)? */
static bool
any_order_of_term(const char *const *urls, size_t n_urls, long long term,
                  const struct daemon *adopter)
{
    char tag[40];
    (void)snprintf(tag, sizeof(tag), "-t%lld-", term);
    bool found = false;
    for (size_t i = 0; i < n_urls; i++) {
        json_t *arr = get(urls[i], "/v1/migrations");
        size_t k;
        json_t *g;
        json_array_foreach(arr, k, g)
        {
            char adopted[160];
            (void)snprintf(adopted, sizeof(adopted), "migration adopted from the journal id=%s ",
                           str(g, "id"));
            if (strstr(str(g, "id"), tag) != NULL &&
                (adopter == NULL || daemon_log_count(adopter, adopted, NULL) == 0))
                found = true;
        }
        json_decref(arr);
    }
    return found;
}

/* (c) The leader pauses (SIGSTOP) just before sending an order, for longer than its lease;
 * the follower takes over and resolves the conflict; woken, the old leader sends nothing, and
 * no agent takes an order of the old term (the held order, journaled in etcd, reaches its
 * agent only as the new leader's, which adopted it). */
static void
test_paused_leader(void **state)
{
    (void)state;
    assert_int_equal(setenv("VMLOC_FAILPOINT", "manager-before-order:stop", 1), 0);
    struct daemon *m1 = etcdtest_manager("m1");
    assert_int_equal(unsetenv("VMLOC_FAILPOINT"), 0);
    struct cond lead1 = {m1->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead1, UP_S));
    struct daemon *m2 = etcdtest_manager("m2");
    struct cond follow2 = {m2->url, "follower", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &follow2, UP_S));
    long long term1 = term_of(m1->url);
    const char *urls[3];
    etcdtest_three_agents(m1, m2, NULL, "a:cpu=30", urls);

    /* The conflict: m1 decides, stores the order and pauses before sending it. */
    load(urls[0], "a", "cpu=60");
    struct log_cond paused = {m1, "failpoint manager-before-order reached: pausing"};
    assert_true(wait_until(log_has, &paused, ACT_S));
    struct cond lead2 = {m2->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead2, TAKEOVER_S + 2.0));
    long long term2 = term_of(m2->url);
    assert_true(term2 > term1);
    assert_true(wait_until(h1_relieved, (void *)urls, ACT_S));

    /* Wake the old leader: it must not send the order it held. */
    assert_int_equal(kill(m1->pid, SIGCONT), 0);
    struct log_cond resumed = {m1, "failpoint manager-before-order: resumed"};
    assert_true(wait_until(log_has, &resumed, ACT_S));
    struct log_cond held = {m1, "this manager no longer leads"};
    assert_true(wait_until(log_has, &held, ACT_S));
    struct cond follow1 = {m1->url, "follower", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &follow1, TAKEOVER_S));
    /* The order m1 held was journaled before it paused: m2 adopted it and sent it under its
     * own term; no other order of m1's term reached an agent. */
    assert_false(any_order_of_term(urls, 3, term1, m2));
    assert_true(any_order_of_term(urls, 3, term1, NULL) || any_order_of_term(urls, 3, term2, NULL));
    /* Every VM on exactly one host. */
    const char *vms[] = {"a", "b", "c", "d"};
    assert_all_placed(urls, vms, 4);
    pool_finish();
}

/* An edge manager `id` on its own store, campaigning on the test's etcd, on `listen`. */
static struct daemon *
start_edge_manager(const char *id, const char *listen)
{
    char data[700];
    (void)snprintf(data, sizeof(data), "%s-%s", pool_data_dir(), id);
    const char *argv[] = {"manager",      "--listen", listen,   "--data", data,
                          "--interval",   "0.2",      "--mode", "edge",   "--etcd",
                          etcdtest_url(), "--ha-id",  id,       NULL};
    return pool_start(id, argv);
}

/* (f) Edge agents given a dead manager's URL first and a live one: they register with the
 * live one and its conflict is resolved; the dead one is tried again and again, on its own
 * back-off, said once; when a manager comes up at that address they register with it. */
static void
test_dead_manager(void **state)
{
    (void)state;
    int dead_port = etcdtest_free_port();
    char dead[64];
    (void)snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", dead_port);
    struct daemon *m1 = start_edge_manager("m1", "127.0.0.1:0");
    struct cond lead1 = {m1->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead1, UP_S));
    char list[300];
    (void)snprintf(list, sizeof(list), "%s,%s", dead, m1->url);
    static const char *const vms[3][2] = {
        {"a:cpu=30", "b:cpu=25"}, {"d:cpu=5", NULL}, {"c:cpu=5", NULL}};
    struct daemon *ag[3];
    for (size_t i = 0; i < 3; i++) {
        char name[8];
        char data[700];
        (void)snprintf(name, sizeof(name), "h%zu", i + 1);
        (void)snprintf(data, sizeof(data), "%s-%s", pool_data_dir(), name);
        const char *extra[] = {
            "--mode",  "edge", "--data", data, "--vm", vms[i][0], vms[i][1] != NULL ? "--vm" : NULL,
            vms[i][1], NULL};
        ag[i] = pool_start_agent(name, list, extra);
    }
    const char *urls[] = {ag[0]->url, ag[1]->url, ag[2]->url};
    struct cond known = {m1->url, NULL, NULL, 3};
    assert_true(wait_until(hosts_known, &known, UP_S));
    assert_true(metrics_value(ag[0]->url, "vmloc_managers") == 2.0);

    /* The conflict is notified (to both) and resolved by the live one. */
    load(ag[0]->url, "a", "cpu=60");
    assert_true(wait_until(h1_relieved, (void *)urls, ACT_S));
    assert_true(metrics_value(ag[0]->url, "vmloc_notifications_total") >= 1.0);

    /* The dead manager: tried again (three failures by now or soon), said once. */
    struct cond failed = {ag[0]->url, "vmloc_registration_failures_total", NULL, 3};
    assert_true(wait_until(metric_is, &failed, ACT_S));
    char said[120];
    (void)snprintf(said, sizeof(said), "registration failed manager=%s", dead);
    assert_int_equal(daemon_log_count(ag[0], said, NULL), 1);
    assert_true(metrics_value(ag[0]->url, "vmloc_managers_registered") == 1.0);

    /* A manager comes up at that address: every agent registers with it, no operator step. */
    char listen[40];
    (void)snprintf(listen, sizeof(listen), "127.0.0.1:%d", dead_port);
    struct daemon *m2 = start_edge_manager("m2", listen);
    struct cond known2 = {m2->url, NULL, NULL, 3};
    assert_true(wait_until(hosts_known, &known2, ACT_S + 5.0));
    char back[160];
    (void)snprintf(back, sizeof(back), "registered with manager url=%s after", dead);
    struct log_cond back_logged = {ag[0], back};
    assert_true(wait_until(log_has, &back_logged, UP_S));
    struct cond reg2 = {ag[0]->url, "vmloc_managers_registered", NULL, 2};
    assert_true(wait_until(metric_is, &reg2, UP_S));
    struct cond follow2 = {m2->url, "follower", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &follow2, UP_S));
    /* Every VM on exactly one host. */
    const char *all[] = {"a", "b", "c", "d"};
    assert_all_placed(urls, all, 4);
    pool_finish();
}

/* A manager (`url`) talks to an etcd member other than `not_member` now. */
struct uses {
    const char *url;
    int not_member;
};

static bool
moved_off_member(void *arg)
{
    struct uses *u = arg;
    json_t *h = health(u->url);
    bool ok = h != NULL && etcdtest_member_of(str(h, "etcd")) >= 0 &&
              etcdtest_member_of(str(h, "etcd")) != u->not_member;
    json_decref(h);
    return ok;
}

/* The conflict on h3 (agent 2 of `arg`, the agents' URLs) is resolved: c or e moved off. */
static bool
h3_relieved(void *arg)
{
    const char *const *urls = arg;
    struct where c = {urls, 3, "c", 2};
    struct where e = {urls, 3, "e", 2};
    return vm_moved(&c) || vm_moved(&e);
}

/* Manager `c->url`'s lease was renewed at least `c->n` times. */
static bool
renewals_reach(void *arg)
{
    struct cond *c = arg;
    return metrics_value(c->url, "vmloc_ha_lease_renew_seconds_count") >= (double)c->n;
}

/* The manager at `arg` (a URL) answers and reports no HA problem. */
static bool
ha_fine(void *arg)
{
    json_t *h = health(arg);
    bool ok = h != NULL && json_object_get(h, "ha_reason") == NULL &&
              json_object_get(h, "ha_problem") == NULL;
    json_decref(h);
    return ok;
}

/* One of the managers `arg` (two daemons) leads. */
static bool
one_leads(void *arg)
{
    struct daemon **m = arg;
    struct cond a = {m[0]->url, "leader", NULL, 0};
    struct cond b = {m[1]->url, "leader", NULL, 0};
    return etcdtest_role_is(&a) || etcdtest_role_is(&b);
}

/* (g) etcd trouble. One member of three stopped (SIGSTOP: it takes connections and answers
 * nothing), the one the leader talks to: nothing changes, and a conflict is resolved. Two
 * stopped (no quorum): within a lease nobody leads, health and metrics say why, a conflict
 * raised then gets no order, nobody crashes. Both woken: a leader again, and the pending
 * conflict is resolved, with no operator step. */
static void
test_etcd_quorum(void **state)
{
    (void)state;
    struct daemon *m[2];
    m[0] = etcdtest_manager("m1");
    struct cond lead1 = {m[0]->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead1, UP_S));
    m[1] = etcdtest_manager("m2");
    struct cond follow2 = {m[1]->url, "follower", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &follow2, UP_S));
    long long term = term_of(m[0]->url);
    struct daemon *a1 = etcdtest_agent("h1", m[0]->url, m[1]->url, NULL, "a:cpu=30", "b:cpu=25");
    struct daemon *a2 = etcdtest_agent("h2", m[0]->url, m[1]->url, NULL, "d:cpu=5", NULL);
    struct daemon *a3 = etcdtest_agent("h3", m[0]->url, m[1]->url, NULL, "c:cpu=30", "e:cpu=25");
    const char *urls[] = {a1->url, a2->url, a3->url};
    struct cond up1 = {m[0]->url, NULL, NULL, 3};
    struct cond up2 = {m[1]->url, NULL, NULL, 3};
    assert_true(wait_until(hosts_up, &up1, UP_S));
    assert_true(wait_until(hosts_up, &up2, UP_S));
    double changes[2];
    for (size_t i = 0; i < 2; i++)
        changes[i] = metrics_value(m[i]->url, "vmloc_ha_leadership_changes_total");

    /* (a) Stop the member the leader talks to. */
    json_t *h = health(m[0]->url);
    int first = etcdtest_member_of(str(h, "etcd"));
    json_decref(h);
    assert_true(first >= 0);
    assert_int_equal(kill(etcdtest_member_pid((size_t)first), SIGSTOP), 0);
    double renewed = metrics_value(m[0]->url, "vmloc_ha_lease_renew_seconds_count");
    load(a1->url, "a", "cpu=60");
    assert_true(wait_until(h1_relieved, (void *)urls, ACT_S));
    struct uses off = {m[0]->url, first};
    assert_true(wait_until(moved_off_member, &off, LEASE_S));
    /* Two leases' worth of renewals later, nothing changed. */
    struct cond later = {m[0]->url, NULL, NULL, (long long)renewed + 6};
    assert_true(wait_until(renewals_reach, &later, 4 * LEASE_S));
    assert_true(etcdtest_role_is(&lead1));
    assert_true(etcdtest_role_is(&follow2));
    assert_int_equal(term_of(m[0]->url), term);
    assert_int_equal(term_of(m[1]->url), term);
    for (size_t i = 0; i < 2; i++)
        assert_true(metrics_value(m[i]->url, "vmloc_ha_leadership_changes_total") == changes[i]);

    /* (b) Stop a second member: no quorum. The leader stops within one lease. */
    int second = (first + 1) % ETCDTEST_MAX_MEMBERS;
    assert_int_equal(kill(etcdtest_member_pid((size_t)second), SIGSTOP), 0);
    double stopped = mono_s();
    struct cond none1 = {m[0]->url, "none", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &none1, LEASE_S + 2.0));
    double took = mono_s() - stopped;
    printf("leader stopped ordering %.2f s after etcd lost its quorum (lease %.0f s)\n", took,
           LEASE_S);
    assert_true(took <= LEASE_S + 0.3);
    for (size_t i = 0; i < 2; i++) {
        h = health(m[i]->url);
        assert_non_null(h);
        printf("m%zu: role %s, %s: %s\n", i + 1, str(h, "role"), str(h, "ha_reason"),
               str(h, "ha_problem"));
        assert_string_not_equal(str(h, "role"), "leader");
        assert_string_equal(str(h, "ha_reason"), "etcd_no_answer");
        assert_non_null(strstr(str(h, "ha_problem"), "cannot renew the lease"));
        json_decref(h);
        char *text = metrics_text(m[i]->url);
        assert_non_null(strstr(text, "\nvmloc_ha_leader 0"));
        assert_non_null(strstr(text, "\nvmloc_ha_problem{reason=\"etcd_no_answer\"} 1"));
        free(text);
    }
    /* A conflict now gets no order: watched for ten rounds, with samples flowing. */
    load(a3->url, "e", "cpu=52");
    assert_false(wait_until(h3_relieved, (void *)urls, 2.0));
    struct cond h3_up = {m[0]->url, NULL, NULL, 3};
    assert_true(hosts_up(&h3_up));

    /* (c) Wake both: a leader is elected and resolves the pending conflict by itself. */
    assert_int_equal(kill(etcdtest_member_pid((size_t)first), SIGCONT), 0);
    assert_int_equal(kill(etcdtest_member_pid((size_t)second), SIGCONT), 0);
    double woken = mono_s();
    assert_true(wait_until(one_leads, m, TAKEOVER_S + 5.0));
    printf("a leader %.2f s after etcd's quorum came back\n", mono_s() - woken);
    assert_true(wait_until(h3_relieved, (void *)urls, ACT_S));
    /* Both see etcd well again (a follower may finish a step begun without quorum first). */
    for (size_t i = 0; i < 2; i++)
        assert_true(wait_until(ha_fine, (void *)m[i]->url, LEASE_S + 2.0));
    /* Every VM on exactly one host. */
    const char *vms[] = {"a", "b", "c", "d", "e"};
    assert_all_placed(urls, vms, 5);
    pool_finish();
}

static int
order(const char *agent_url, const char *to, long long term, json_t **ret)
{
    char body[300];
    (void)snprintf(body, sizeof(body), "{\"vm\":\"nope\",\"to\":\"%s\",\"term\":%lld}", to, term);
    return daemon_http(agent_url, "POST", "/v1/migrations", body, ret);
}

/* (d) An agent refuses an order of a term older than one it has seen (409, logged, counted),
 * and remembers that term across a restart. */
static void
test_stale_term_refused(void **state)
{
    (void)state;
    char data[700];
    (void)snprintf(data, sizeof(data), "%s-solo", pool_data_dir());
    const char *argv[] = {"agent", "--name", "solo",    "--listen", "127.0.0.1:0", "--interval",
                          "0.2",   "--vm",   "x:cpu=5", "--data",   data,          NULL};
    struct daemon *a = pool_start("solo", argv);
    const char *to = "http://127.0.0.1:9";
    json_t *j = NULL;
    /* Term 7 is taken (the VM does not exist: 404, but the term is seen). */
    assert_int_equal(order(a->url, to, 7, &j), 404);
    json_decref(j);
    assert_int_equal(order(a->url, to, 6, &j), 409);
    assert_non_null(strstr(str(j, "error"), "stale manager term 6"));
    json_decref(j);
    assert_int_equal(order(a->url, to, 7, &j), 404); /* the same term still goes */
    json_decref(j);
    struct log_cond logged = {a, "refused: stale manager term 6"};
    assert_true(wait_until(log_has, &logged, UP_S));
    assert_true(metrics_value(a->url, "vmloc_orders_refused_stale_total") == 1.0);
    assert_true(metrics_value(a->url, "vmloc_manager_term") == 7.0);
    /* A bad term: 400. */
    assert_int_equal(order(a->url, to, 0, &j), 400);
    json_decref(j);
    /* A withdrawal of an older term: 409 too. */
    assert_int_equal(daemon_http(a->url, "POST", "/v1/incoming/x1/abort", "{\"term\":3}", &j), 409);
    json_decref(j);

    /* Restarted on the same data directory: still refused. */
    char listen[40];
    (void)snprintf(listen, sizeof(listen), "127.0.0.1%s", strrchr(a->url, ':'));
    pool_stop_clean(a);
    const char *argv2[] = {"agent", "--name", "solo",    "--listen", listen, "--interval",
                           "0.2",   "--vm",   "x:cpu=5", "--data",   data,   NULL};
    a = pool_start("solo2", argv2);
    assert_int_equal(order(a->url, to, 6, &j), 409);
    json_decref(j);
    /* An order without a term (one manager, no etcd) is not fenced. */
    assert_int_equal(daemon_http(a->url, "POST", "/v1/migrations",
                                 "{\"vm\":\"nope\",\"to\":\"http://127.0.0.1:9\"}", &j),
                     404);
    json_decref(j);
    pool_finish();
}

int
main(void)
{
    etcd_bin = etcdtest_require();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stale_term_refused, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_failover, setup, etcdtest_teardown),
        cmocka_unit_test_setup_teardown(test_paused_leader, setup, etcdtest_teardown),
        cmocka_unit_test_setup_teardown(test_dead_manager, setup, etcdtest_teardown),
        cmocka_unit_test_setup_teardown(test_etcd_quorum, setup, etcdtest_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

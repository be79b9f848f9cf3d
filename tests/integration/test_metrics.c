/* GET /metrics on the manager and on agents: Prometheus' text format with the figures the
 * daemons hold (hosts, usage, conflicts, migrations by outcome, histograms), label values
 * escaped, and `promtool check metrics` accepting it when Prometheus' promtool is installed
 * (scripts/deps.sh installs it for make test). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "daemon.h"
#include "net/http.h"
#include "testpool.h"

static void
assert_has(const char *text, const char *line)
{
    if (strstr(text, line) == NULL)
        printf("missing from /metrics: %s\n---\n%s\n---\n", line, text);
    assert_non_null(strstr(text, line));
}

/* promtool check metrics < text: 0 when it accepts, 77 when promtool is not installed. */
static int
promtool_check(const char *text)
{
    if (system("command -v promtool >/dev/null 2>&1") != 0)
        return 77;
    char path[600];
    (void)snprintf(path, sizeof(path), "%s/%s-metrics.txt", daemon_tmpdir(), pool_prefix());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    char cmd[1400];
    (void)snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s'", path);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static void
check_format(const char *who, const char *text)
{
    int r = promtool_check(text);
    if (r == 77) {
        printf("promtool not installed: the format of %s's /metrics is not checked by it\n", who);
        return;
    }
    if (r != 0)
        printf("promtool rejected %s's /metrics:\n%s\n", who, text);
    assert_int_equal(r, 0);
}

/* The manager lists VM a running on h2. */
static bool
a_on_h2(void *arg)
{
    json_t *vms = get(arg, "/v1/vms");
    bool ok = false;
    size_t i;
    json_t *v;
    json_array_foreach(vms, i, v)
    {
        ok |= strcmp(str(v, "name"), "a") == 0 && strcmp(str(v, "host"), "h2") == 0 &&
              strcmp(str(v, "state"), "running") == 0;
    }
    json_decref(vms);
    return ok;
}

static void
test_metrics_after_a_migration(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    const char *vms1[] = {"--vm", "a:cpu=10", "--vm", "we\"ird\\name:cpu=10", NULL};
    const char *vms2[] = {"--vm", "c:cpu=5", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, vms1);
    pool_start_agent("h2", m->url, vms2);
    struct cond up = {m->url, NULL, NULL, 2};
    assert_true(wait_until(hosts_up, &up, UP_S));
    load(h1->url, "a", "cpu=50");
    load(h1->url, "we\"ird\\name", "cpu=45");
    struct cond done = {m->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &done, ACT_S));
    /* The manager's next sample of h2 shows the arrival. */
    assert_true(wait_until(a_on_h2, m->url, ACT_S));
    char *mt = metrics_text(m->url);
    assert_has(mt, "# TYPE vmloc_migrations_total counter\n");
    assert_has(mt, "vmloc_migrations_total{outcome=\"done\"} 1\n");
    assert_has(mt, "vmloc_migrations_total{outcome=\"failed\"} 0\n");
    assert_has(mt, "vmloc_migrations_ordered_total 1\n");
    assert_has(mt, "vmloc_hosts{state=\"up\"} 2\n");
    const char *c = strstr(mt, "\nvmloc_conflicts_detected_total ");
    assert_non_null(c);
    assert_true(atof(c + strlen("\nvmloc_conflicts_detected_total ")) >= 1);
    assert_has(mt, "vmloc_collection_round_seconds_bucket{le=\"0.005\"} ");
    assert_has(mt, "vmloc_host_usage_ratio{host=\"h1\",kind=\"cpu\"} ");
    assert_has(mt, "vmloc_vm_usage_ratio{host=\"h2\",vm=\"a\",kind=\"cpu\"} ");
    assert_has(mt, "vm=\"we\\\"ird\\\\name\"");
    assert_has(mt, "# TYPE vmloc_migration_duration_seconds histogram\n");
    assert_has(mt, "vmloc_migration_duration_seconds_count 1\n");
    assert_has(mt, "vmloc_migration_duration_seconds_bucket{le=\"+Inf\"} 1\n");
    assert_has(mt, "# TYPE vmloc_collection_round_seconds histogram\n");
    assert_has(mt, "# TYPE vmloc_decision_seconds histogram\n");
    assert_has(mt, "vmloc_store_bytes ");
    check_format("the manager", mt);
    free(mt);
    char *at = metrics_text(h1->url);
    assert_has(
        at, "vmloc_build_info{role=\"agent\",mode=\"central\",backend=\"sim\",version=\"1\"} 1\n");
    assert_has(at, "vmloc_migrations_total{outcome=\"done\"} 1\n");
    assert_has(at, "vmloc_sample_available 1\n");
    assert_has(at, "vmloc_host_usage_ratio{host=\"h1\",kind=\"cpu\"} ");
    check_format("an agent", at);
    free(at);
    pool_finish();
}

/* The value of the line that starts with `prefix` (its first such line), -1 when absent. */
static double
metric_value(const char *text, const char *prefix)
{
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, prefix, strlen(prefix)) == 0)
            return atof(p + strlen(prefix));
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return -1;
}

struct seq_cond {
    const char *url;
    long long after;
};

static bool
seq_after(void *arg)
{
    struct seq_cond *c = arg;
    double t;
    return sample_seq(c->url, &t) > c->after;
}

static bool
six_collected(void *arg)
{
    char *mt = metrics_text(arg);
    bool ok = metric_value(mt, "vmloc_sample_age_seconds_count ") >= 6;
    free(mt);
    return ok;
}

/* Agents sample on the whole intervals of the wall clock and the manager collects its offset
 * later, so the samples it collects are about the offset old (not anywhere up to an
 * interval, as two free-running timers give). */
static void
test_collection_on_the_clock(void **state)
{
    (void)state;
    const char *mx[] = {"--interval", "0.5", "--collect-offset", "0.05", NULL};
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", mx);
    const char *ax[] = {"--interval", "0.5", "--vm", "a:cpu=10", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, ax);
    struct cond up = {m->url, NULL, NULL, 1};
    assert_true(wait_until(hosts_up, &up, UP_S));
    /* Four samples after the first (taken at the start, off the clock): each on a whole half
     * second, give or take a timer firing a little early or late. */
    double t = 0;
    long long seq = sample_seq(h1->url, &t);
    assert_true(seq >= 1);
    for (int i = 0; i < 4; i++) {
        struct seq_cond c = {h1->url, seq};
        assert_true(wait_until(seq_after, &c, UP_S));
        seq = sample_seq(h1->url, &t);
        double phase = fmod(t, 0.5);
        double off = phase < 0.25 ? phase : 0.5 - phase; /* a timer may fire a little early */
        if (off > 0.1)
            printf("sample %lld taken at %.3f: %.3f s off a whole half second\n", seq, t, off);
        assert_true(off <= 0.1);
    }
    /* The manager's collections: most samples at most 0.1 s old (0.05 s expected; a
     * free-running timer would give one fixed age anywhere in 0 to 0.5 s). */
    assert_true(wait_until(six_collected, m->url, UP_S));
    char *mt = metrics_text(m->url);
    double n = metric_value(mt, "vmloc_sample_age_seconds_count ");
    double fresh = metric_value(mt, "vmloc_sample_age_seconds_bucket{le=\"0.1\"} ");
    if (!(n >= 6 && fresh >= n * 2.0 / 3.0))
        printf("samples collected %.0f, at most 0.1 s old %.0f\n%s\n", n, fresh, mt);
    assert_true(n >= 6);
    assert_true(fresh >= n * 2.0 / 3.0);
    free(mt);
    char *at = metrics_text(h1->url);
    /* The four samples waited for above, each timed (the one at the start is not). */
    assert_true(metric_value(at, "vmloc_sample_duration_seconds_count ") >= 4);
    free(at);
    pool_finish();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metrics_after_a_migration, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_collection_on_the_clock, pool_setup, pool_teardown),
    };
    return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}

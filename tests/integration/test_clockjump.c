/* Clock jumps: the wall clock of running daemons is stepped an hour back and forward, as an
 * operator or an NTP step may do, with libfaketime (preloaded into the daemons only; it leaves
 * the monotonic clock alone). Intervals, time-outs and leases run on the monotonic clock, so:
 *   - agents go on sampling and the manager on collecting at their interval, with neither a
 *     stall (waiting for the old time to come back) nor a burst (catching up on the new);
 *   - hosts stay up, samples are still stored, and a conflict is still resolved;
 *   - a migration across a jump ends with its true duration;
 *   - a peer's lock lasts its lease, not an hour more or less.
 * Skips (77) when libfaketime is not installed (scripts/deps.sh installs it for make test). */
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"
#include "net/http.h"
#include "net/http_client.h"
#include "testpool.h"

static const char *faketime_lib;
static char offset_path[600];
static char saved_asan[512];
static bool had_asan;

static double
mono_now(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
wall_now(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *
find_faketime(void)
{
    static const char *const paths[] = {
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
        "/usr/lib/faketime/libfaketime.so.1",
    };
    const char *env = getenv("VMLOC_LIBFAKETIME");
    if (env != NULL && env[0] != '\0')
        return access(env, R_OK) == 0 ? env : NULL;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (access(paths[i], R_OK) == 0)
            return paths[i];
    }
    return NULL;
}

/* Set the clock offset from the real time ("+0", "-3600", "-0.5"...) of the daemons that read
 * `path`. Written aside and renamed, so that a daemon never reads half a file; libfaketime
 * reads it at every call. */
static void
set_offset_at(const char *path, const char *offset)
{
    char tmp[640];
    (void)snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    assert_true(fprintf(f, "%s\n", offset) > 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0);
}

/* The offset of the daemons started after faked_on(NULL). */
static void
set_offset(const char *offset)
{
    set_offset_at(offset_path, offset);
}

/* The daemons started between faked_on() and faked_off() read an offset file for their wall
 * clock (`tag` NULL: the test's own, set_offset(); else one for them alone, at `offset`); this
 * process and the CLI it runs keep the real one. */
static void
faked_on(const char *tag, const char *offset)
{
    char path[600];
    (void)snprintf(path, sizeof(path), "%s/%s-clock-%s", daemon_tmpdir(), pool_prefix(),
                   tag != NULL ? tag : "offset");
    if (tag == NULL)
        (void)snprintf(offset_path, sizeof(offset_path), "%s", path);
    set_offset_at(path, offset);
    assert_int_equal(setenv("LD_PRELOAD", faketime_lib, 1), 0);
    assert_int_equal(setenv("FAKETIME_TIMESTAMP_FILE", path, 1), 0);
    assert_int_equal(setenv("FAKETIME_NO_CACHE", "1", 1), 0);
    assert_int_equal(setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1), 0);
    /* Under AddressSanitizer the preloaded library comes before its runtime. */
    const char *asan = getenv("ASAN_OPTIONS");
    had_asan = asan != NULL;
    (void)snprintf(saved_asan, sizeof(saved_asan), "%s", asan != NULL ? asan : "");
    char opts[600];
    (void)snprintf(opts, sizeof(opts), "%s%sverify_asan_link_order=0", saved_asan,
                   saved_asan[0] != '\0' ? ":" : "");
    assert_int_equal(setenv("ASAN_OPTIONS", opts, 1), 0);
}

static void
faked_off(void)
{
    (void)unsetenv("LD_PRELOAD");
    (void)unsetenv("FAKETIME_TIMESTAMP_FILE");
    (void)unsetenv("FAKETIME_NO_CACHE");
    (void)unsetenv("FAKETIME_DONT_FAKE_MONOTONIC");
    if (had_asan)
        (void)setenv("ASAN_OPTIONS", saved_asan, 1);
    else
        (void)unsetenv("ASAN_OPTIONS");
}

struct shift_cond {
    const char *url;
    double offset;
};

/* The agent's latest sample is dated on the shifted clock (within 30 s). */
static bool
sample_shifted(void *arg)
{
    struct shift_cond *c = arg;
    double t;
    if (sample_seq(c->url, &t) < 0)
        return false;
    double d = t - (wall_now() + c->offset);
    return d > -30 && d < 30;
}

struct count_cond {
    const char *url;
    const char *key; /* NULL: the agent's sample seq; else a key of GET /v1/health */
    long long at_least;
};

static long long
count_of(const struct count_cond *c)
{
    if (c->key != NULL)
        return health_int(c->url, c->key);
    double t;
    return sample_seq(c->url, &t);
}

static bool
count_reaches(void *arg)
{
    struct count_cond *c = arg;
    return count_of(c) >= c->at_least;
}

/* `n` more of what `c` counts happen after now, at about one per `interval`: not all at once
 * (a timer catching up on the time the clock skipped) and not never (a timer waiting for the
 * time the clock went back to come round again). */
static void
expect_paced(const char *what, struct count_cond *c, long long n, double interval)
{
    long long from = count_of(c);
    assert_true(from >= 0);
    c->at_least = from + n;
    double t0 = mono_now();
    bool ok = wait_until(count_reaches, c, ACT_S);
    double took = mono_now() - t0;
    printf("%s: %lld more in %.2f s (interval %.1f s)\n", what, n, took, interval);
    assert_true(ok);
    /* Timers on the clock's boundaries fire at least half an interval apart. */
    assert_true(took >= (double)(n - 1) * interval / 2);
}

static void
expect_steady(const char *who, const char *m_url, const char *a_url)
{
    struct count_cond seq = {a_url, NULL, 0};
    char what[96];
    (void)snprintf(what, sizeof(what), "%s: samples of h1", who);
    expect_paced(what, &seq, 10, 0.2);
    struct count_cond rounds = {m_url, "rounds", 0};
    (void)snprintf(what, sizeof(what), "%s: collection rounds", who);
    expect_paced(what, &rounds, 10, 0.2);
    struct cond up = {m_url, NULL, NULL, 2};
    assert_true(wait_until(hosts_up, &up, UP_S));
}

static int
vm_copies(const char *agent_url, const char *vm)
{
    json_t *vms = get(agent_url, "/v1/vms");
    int n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(vms, i, v)
    {
        n += strcmp(str(v, "name"), vm) == 0;
    }
    json_decref(vms);
    return n;
}

/* The value of the /metrics line of `url` that starts with `prefix`, -1 when absent. */
static double
metric(const char *url, const char *prefix)
{
    struct http_answer ans;
    struct http_creds creds = {test_token(), NULL};
    assert_int_equal(http_fetch(url, "GET", "/metrics", NULL, &creds, 5.0, &ans), 0);
    assert_int_equal(ans.status, 200);
    double v = -1;
    for (const char *p = ans.body; p != NULL && *p != '\0';) {
        if (strncmp(p, prefix, strlen(prefix)) == 0) {
            v = atof(p + strlen(prefix));
            break;
        }
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    free(ans.body);
    return v;
}

/* Central mode: manager and agents stepped back an hour, then forward two, then back again in
 * the middle of a migration. */
static void
test_central_through_jumps(void **state)
{
    (void)state;
    faked_on(NULL, "+0");
    const char *mx[] = {"--store-every", "0.2", NULL};
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", mx);
    const char *vms1[] = {"--vm", "a:cpu=10,mem=3000", "--vm", "b:cpu=10", "--bandwidth", "1000",
                          NULL};
    const char *vms2[] = {"--vm", "c:cpu=5", "--bandwidth", "1000", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, vms1);
    struct daemon *h2 = pool_start_agent("h2", m->url, vms2);
    faked_off();
    struct cond up = {m->url, NULL, NULL, 2};
    assert_true(wait_until(hosts_up, &up, UP_S));

    /* An hour back. */
    set_offset("-3600");
    struct shift_cond back = {h1->url, -3600};
    assert_true(wait_until(sample_shifted, &back, ACT_S));
    long long stored = health_int(m->url, "stored_samples");
    assert_true(stored >= 0);
    expect_steady("an hour back", m->url, h1->url);
    /* Storing goes on (a store pace kept on the wall clock would wait the hour out). */
    struct count_cond more = {m->url, "stored_samples", stored + 5};
    assert_true(wait_until(count_reaches, &more, ACT_S));

    /* Two hours forward. */
    set_offset("+3600");
    struct shift_cond fwd = {h1->url, 3600};
    assert_true(wait_until(sample_shifted, &fwd, ACT_S));
    expect_steady("an hour ahead", m->url, h1->url);

    /* A conflict is still resolved, and its migration (3 s of copying) is stepped back an
     * hour while it runs. */
    load(h1->url, "a", "cpu=50");
    load(h1->url, "b", "cpu=45");
    struct cond running = {h1->url, "a", "running", 0};
    assert_true(wait_until(migration_is, &running, ACT_S));
    set_offset("+0");
    struct cond still = {h1->url, "a", "running", 0};
    assert_true(migration_is(&still)); /* the jump came during the copy */
    struct cond done = {m->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &done, ACT_S));
    struct cond done_src = {h1->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &done_src, ACT_S));
    assert_int_equal(vm_copies(h1->url, "a"), 0);
    assert_int_equal(vm_copies(h2->url, "a"), 1);
    /* Its duration, on the source and on the manager, is the copy's (3 s), not an hour less. */
    double src_s = metric(h1->url, "vmloc_migration_duration_seconds_sum ");
    double mgr_s = metric(m->url, "vmloc_migration_duration_seconds_sum ");
    printf("migration across the jump: %.2f s on the source, %.2f s on the manager\n", src_s,
           mgr_s);
    assert_true(src_s >= 2.5 && src_s < 60);
    assert_true(mgr_s >= 2.5 && mgr_s < 60);
    pool_finish();
}

static bool
lock_free(void *arg)
{
    json_t *j = get(arg, "/v1/lock");
    bool free_ = j != NULL && json_is_false(json_object_get(j, "held"));
    json_decref(j);
    return free_;
}

/* Take the peer's lock for 2 s, step its clock by `offset`, and check that the lock holds
 * against another host and ends with its lease. */
static void
lease_across(const char *url, const char *offset, double shift)
{
    json_t *j = NULL;
    assert_int_equal(daemon_http(url, "POST", "/v1/lock", "{\"holder\":\"h9\",\"lease_s\":2}", &j),
                     200);
    json_decref(j);
    double t0 = mono_now();
    set_offset(offset);
    struct shift_cond c = {url, shift};
    assert_true(wait_until(sample_shifted, &c, ACT_S));
    int st = daemon_http(url, "POST", "/v1/lock", "{\"holder\":\"h8\",\"lease_s\":2}", &j);
    json_decref(j);
    if (mono_now() - t0 < 1.5)
        assert_int_equal(st, 409); /* still h9's: the jump did not end the lease */
    assert_true(wait_until(lock_free, (void *)url, 10.0));
    double held = mono_now() - t0;
    printf("lock with a 2 s lease, clock stepped %s: free after %.2f s\n", offset, held);
    assert_true(held >= 1.9);
}

/* Peer mode: a destination's lock lasts its lease whatever the wall clock does. */
static void
test_peer_lease_through_jumps(void **state)
{
    (void)state;
    char data[600];
    (void)snprintf(data, sizeof(data), "%s/%s-p1", daemon_tmpdir(), pool_prefix());
    const char *argv[] = {"agent",       "--name", "p1", "--mode",     "peer", "--listen",
                          "127.0.0.1:0", "--data", data, "--interval", "0.2",  NULL};
    faked_on(NULL, "+0");
    struct daemon *p = pool_start("p1", argv);
    faked_off();
    lease_across(p->url, "+3600", 3600);
    lease_across(p->url, "-3600", -3600);
    pool_finish();
}

static double
sample_age(const char *m_url, const char *host)
{
    json_t *hosts = get(m_url, "/v1/hosts");
    json_t *h = named(hosts, host);
    double age = json_real_value(json_object_get(h, "sample_age"));
    bool has = json_is_real(json_object_get(h, "sample_age"));
    json_decref(hosts);
    return has ? age : NAN;
}

/* Hosts whose clocks are 0.8 s behind and 0.9 s ahead of the manager's at a 1 s interval
 * (the rounds 0.5 s after each second, so that a slow sample on a loaded machine does not
 * blur the picture): their samples are out of step with the rounds, and the manager says
 * so, naming them; a host in step is not named. */
static void
test_skewed_clocks_warned(void **state)
{
    (void)state;
    const char *iv[] = {"--interval", "1", NULL};
    const char *mx[] = {"--interval", "1", "--collect-offset", "0.5", NULL};
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", mx);
    faked_on("behind", "-0.8");
    pool_start_agent("h1", m->url, iv);
    faked_off();
    faked_on("ahead", "+0.9");
    pool_start_agent("h2", m->url, iv);
    faked_off();
    pool_start_agent("h3", m->url, iv);
    struct cond up = {m->url, NULL, NULL, 3};
    assert_true(wait_until(hosts_up, &up, UP_S));
    struct log_cond late = {m, "late samples host=\"h1\""};
    struct log_cond ahead = {m, "samples dated ahead host=\"h2\""};
    assert_true(wait_until(log_has, &late, ACT_S));
    assert_true(wait_until(log_has, &ahead, ACT_S));
    struct log_cond h3_late = {m, "late samples host=\"h3\""};
    struct log_cond h3_ahead = {m, "samples dated ahead host=\"h3\""};
    assert_false(log_has(&h3_late));
    assert_false(log_has(&h3_ahead));
    double a1 = sample_age(m->url, "h1");
    double a2 = sample_age(m->url, "h2");
    printf("sample ages: %.3f s behind, %.3f s ahead\n", a1, a2);
    assert_true(a1 > 1.0);
    assert_true(a2 < -0.05);
    pool_finish();
}

int
main(void)
{
    faketime_lib = find_faketime();
    if (faketime_lib == NULL) {
        printf("libfaketime not found (Debian: apt-get install libfaketime, or set "
               "VMLOC_LIBFAKETIME): clock jumps not tested\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_central_through_jumps, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_peer_lease_through_jumps, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_skewed_clocks_warned, pool_setup, pool_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

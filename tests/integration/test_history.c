/* Usage history from the store, with real processes: after a few rounds a host's history is
 * served raw (GET /v1/hosts/NAME/history) and as one-minute roll-ups (?step=60, with min and
 * max beside the means), another step is refused, and both outlive a manager restart: the
 * restarted manager serves the points and the minute it had before it stopped. With ?vms=1
 * the answer adds the host's VMs' usage and CPU wait from the raw samples of the store, which
 * a restarted manager serves too; an agent refuses it (the VMs' history is the manager's). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "testpool.h"

#define HISTORY "/v1/hosts/h1/history"

/* The number at `i` of list `key` (of object `sub` of `o` when not NULL). */
static double
at(json_t *o, const char *sub, const char *key, size_t i)
{
    json_t *l =
        sub != NULL ? json_object_get(json_object_get(o, sub), key) : json_object_get(o, key);
    assert_true(json_is_array(l));
    assert_true(i < json_array_size(l));
    return json_number_value(json_array_get(l, i));
}

static size_t
points(json_t *o)
{
    json_t *t = json_object_get(o, "time");
    assert_true(json_is_array(t));
    return json_array_size(t);
}

/* Does list "time" of `o` hold a time <= `t` (raw) or == `t` (roll-ups, `exact`)? */
static bool
has_time(json_t *o, double t, bool exact)
{
    for (size_t i = 0; i < points(o); i++) {
        double v = at(o, NULL, "time", i);
        if (exact ? v == t : v <= t)
            return true;
    }
    return false;
}

/* A roll-up answer has its lists of equal length, min <= mean <= max, the host's cpu. */
static void
check_minutes(json_t *o)
{
    assert_int_equal(json_integer_value(json_object_get(o, "step")), 60);
    assert_string_equal(str(o, "host"), "h1");
    assert_non_null(json_object_get(o, "threshold"));
    size_t n = points(o);
    assert_true(n >= 1);
    static const char *const kinds[] = {"cpu", "mem_bw", "disk", "net"};
    for (size_t k = 0; k < 4; k++) {
        for (size_t i = 0; i < n; i++) {
            double lo = at(o, "min", kinds[k], i);
            double mean = at(o, "usage", kinds[k], i);
            double hi = at(o, "max", kinds[k], i);
            assert_true(lo <= mean + 0.5 && mean <= hi + 0.5);
        }
    }
    assert_true(at(o, "usage", "cpu", n - 1) > 0);
    assert_true(fmod(at(o, NULL, "time", 0), 60.0) == 0);
}

static void
test_history_restart(void **state)
{
    (void)state;
    const char *every[] = {"--store-every", "0", NULL};
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", every);
    char listen[32];
    (void)snprintf(listen, sizeof(listen), "127.0.0.1%s", strrchr(m->url, ':'));
    const char *e1[] = {"--vm", "a:cpu=30", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    struct cond up = {m->url, NULL, NULL, 1};
    assert_true(wait_until(hosts_up, &up, UP_S));
    struct cond rounds = {m->url, NULL, NULL, 8};
    assert_true(wait_until(rounds_reach, &rounds, ACT_S));

    json_t *raw = get(m->url, HISTORY);
    assert_non_null(raw);
    assert_true(points(raw) >= 1);
    assert_true(at(raw, "usage", "cpu", points(raw) - 1) > 0);
    /* The simulated host measures no pressure: no "pressure", never a list of zeros. */
    assert_null(json_object_get(raw, "pressure"));
    json_t *minutes = get(m->url, HISTORY "?step=60");
    assert_non_null(minutes);
    check_minutes(minutes);
    assert_null(json_object_get(minutes, "pressure")); /* nor in the roll-ups */
    assert_null(json_object_get(minutes, "pressure_min"));
    /* since selects: nothing after the newest minute. */
    char path[128];
    double last_minute = at(minutes, NULL, "time", points(minutes) - 1);
    (void)snprintf(path, sizeof(path), HISTORY "?step=60&since=%.0f", last_minute + 1);
    json_t *none = get(m->url, path);
    assert_non_null(none);
    assert_int_equal(points(none), 0);
    json_decref(none);
    json_t *err = NULL;
    assert_int_equal(daemon_http(m->url, "GET", HISTORY "?step=5", NULL, &err), 400);
    json_decref(err);
    assert_int_equal(daemon_http(m->url, "GET", "/v1/hosts/nobody/history?step=60", NULL, &err),
                     404);
    json_decref(err);
    assert_int_equal(daemon_http(h1->url, "GET", HISTORY "?vms=1", NULL, &err), 400);
    assert_non_null(strstr(str(err, "error"), "kept by the manager only"));
    json_decref(err);

    /* Restarted on the same store: the points and the minutes of before are served. */
    json_t *before = get(m->url, HISTORY);
    double stopped = at(before, NULL, "time", points(before) - 1);
    double first_minute = at(minutes, NULL, "time", 0);
    json_decref(before);
    pool_stop_clean(m);
    m = pool_start_manager("m2", listen, every);
    assert_true(wait_until(hosts_known, &up, UP_S));
    json_t *raw2 = get(m->url, HISTORY);
    assert_non_null(raw2);
    assert_true(has_time(raw2, stopped, false));
    json_t *minutes2 = get(m->url, HISTORY "?step=60");
    assert_non_null(minutes2);
    check_minutes(minutes2);
    assert_true(has_time(minutes2, first_minute, true));
    assert_true(has_time(minutes2, last_minute, true));

    json_decref(raw);
    json_decref(minutes);
    json_decref(raw2);
    json_decref(minutes2);
    pool_finish();
}

/* Send the manager at `url` a sample of h1 taken at `t`, with cpu pressure `some` when >= 0
 * (an edge agent's notification; the agent's URL refuses connections, so only these count). */
static void
notify_at(const char *url, long long seq, double t, double some)
{
    char pressure[96] = "";
    if (some >= 0)
        (void)snprintf(pressure, sizeof(pressure), ",\"pressure\":{\"cpu\":{\"some\":%.2f}}", some);
    char body[512];
    (void)snprintf(body, sizeof(body),
                   "{\"seq\":%lld,\"time\":%.3f,\"url\":\"http://127.0.0.1:9\",\"host\":{"
                   "\"name\":\"h1\",\"usage\":{\"cpu\":20}%s,\"vms\":[]}}",
                   seq, t, pressure);
    json_t *ans = NULL;
    assert_int_equal(daemon_http(url, "POST", "/v1/notify", body, &ans), 202);
    json_decref(ans);
}

/* The roll-ups carry the host's cpu pressure: the minimum, mean and maximum of the samples of
 * the minute that had it; a minute none had is null in the lists. */
static void
test_history_pressure(void **state)
{
    (void)state;
    const char *extra[] = {"--mode", "edge", "--store-every", "0", NULL};
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", extra);
    struct timespec ts;
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
    double minute = floor((double)ts.tv_sec / 60.0) * 60.0 - 120.0; /* two minutes ago */
    notify_at(m->url, 1, minute, -1);                               /* a minute without pressure */
    notify_at(m->url, 2, minute + 60, 20);
    notify_at(m->url, 3, minute + 70, -1); /* not measured: not a 0 in the mean */
    notify_at(m->url, 4, minute + 80, 31);
    json_t *o = get(m->url, HISTORY "?step=60");
    assert_non_null(o);
    assert_int_equal(points(o), 2);
    json_t *mean = json_object_get(json_object_get(json_object_get(o, "pressure"), "cpu"), "some");
    json_t *lo =
        json_object_get(json_object_get(json_object_get(o, "pressure_min"), "cpu"), "some");
    json_t *hi =
        json_object_get(json_object_get(json_object_get(o, "pressure_max"), "cpu"), "some");
    assert_int_equal(json_array_size(mean), 2);
    assert_true(json_is_null(json_array_get(mean, 0)));
    assert_true(json_is_null(json_array_get(lo, 0)));
    assert_true(json_number_value(json_array_get(mean, 1)) == 25.5);
    assert_true(json_number_value(json_array_get(lo, 1)) == 20);
    assert_true(json_number_value(json_array_get(hi, 1)) == 31);
    assert_true(at(o, "usage", "cpu", 1) == 20);
    json_decref(o);
    pool_finish();
}

/* Send the manager at `url` a sample of h1 taken at `t` with the VMs `vms` (JSON objects,
 * comma-separated), as an edge agent's notification. */
static void
notify_vms(const char *url, long long seq, double t, const char *vms)
{
    char body[1024];
    (void)snprintf(body, sizeof(body),
                   "{\"seq\":%lld,\"time\":%.3f,\"url\":\"http://127.0.0.1:9\",\"host\":{"
                   "\"name\":\"h1\",\"usage\":{\"cpu\":60},\"vms\":[%s]}}",
                   seq, t, vms);
    json_t *ans = NULL;
    assert_int_equal(daemon_http(url, "POST", "/v1/notify", body, &ans), 202);
    json_decref(ans);
}

/* The VM named `name` of the answer's "vms", which must be there. */
static json_t *
vm_of(json_t *o, const char *name)
{
    json_t *vms = json_object_get(o, "vms");
    assert_true(json_is_array(vms));
    size_t i;
    json_t *v;
    json_array_foreach(vms, i, v)
    {
        if (strcmp(str(v, "name"), name) == 0)
            return v;
    }
    fail_msg("no VM %s in the answer", name);
    return NULL;
}

/* The VMs' series of ?vms=1 as notified by test_history_vms(), from `first` on. */
static void
check_vms(json_t *o, double t0, size_t first)
{
    static const double a_cpu[] = {30, 35, 40};
    static const double a_wait[] = {4.5, 12.25, 0};
    json_t *a = vm_of(o, "a");
    size_t n = 3 - first;
    assert_int_equal(json_array_size(json_object_get(a, "time")), n);
    for (size_t i = 0; i < n; i++) {
        assert_true(at(a, NULL, "time", i) == t0 + (double)(first + i));
        assert_true(at(a, "usage", "cpu", i) == a_cpu[first + i]);
        assert_true(at(a, NULL, "cpu_wait", i) == a_wait[first + i]);
        /* Only cpu was measured: the other kinds are null, never 0. */
        assert_true(
            json_is_null(json_array_get(json_object_get(json_object_get(a, "usage"), "net"), i)));
    }
    /* b is in the first and last samples, its wait measured in the last only. */
    json_t *b = vm_of(o, "b");
    json_t *bt = json_object_get(b, "time");
    json_t *bw = json_object_get(b, "cpu_wait");
    assert_int_equal(json_array_size(bt), first == 0 ? 2 : 1);
    assert_int_equal(json_array_size(bw), json_array_size(bt));
    if (first == 0) {
        assert_true(json_number_value(json_array_get(bt, 0)) == t0);
        assert_true(json_is_null(json_array_get(bw, 0)));
    }
    assert_true(json_number_value(json_array_get(bt, json_array_size(bt) - 1)) == t0 + 2);
    assert_true(json_number_value(json_array_get(bw, json_array_size(bw) - 1)) == 1);
    assert_int_equal(json_array_size(json_object_get(o, "vms")), 2);
}

static void
test_history_vms(void **state)
{
    (void)state;
    const char *extra[] = {"--mode", "edge", "--store-every", "0", NULL};
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", extra);
    char listen[32];
    (void)snprintf(listen, sizeof(listen), "127.0.0.1%s", strrchr(m->url, ':'));
    struct timespec ts;
    assert_int_equal(clock_gettime(CLOCK_REALTIME, &ts), 0);
    double t0 = floor((double)ts.tv_sec) - 30.0;
    notify_vms(m->url, 1, t0,
               "{\"name\":\"a\",\"usage\":{\"cpu\":30},\"cpu_wait\":4.5},"
               "{\"name\":\"b\",\"usage\":{\"cpu\":25}}");
    notify_vms(m->url, 2, t0 + 1, "{\"name\":\"a\",\"usage\":{\"cpu\":35},\"cpu_wait\":12.25}");
    notify_vms(m->url, 3, t0 + 2,
               "{\"name\":\"a\",\"usage\":{\"cpu\":40},\"cpu_wait\":0},"
               "{\"name\":\"b\",\"usage\":{\"cpu\":20},\"cpu_wait\":1}");

    /* Raw samples are written at the end of the manager's round. */
    struct cond rounds = {m->url, NULL, NULL, health_int(m->url, "rounds") + 2};
    assert_true(wait_until(rounds_reach, &rounds, ACT_S));
    json_t *o = get(m->url, HISTORY "?vms=1");
    assert_non_null(o);
    char *text = json_dumps(json_object_get(o, "vms"), JSON_COMPACT);
    print_message("%s\n", text);
    free(text);
    check_vms(o, t0, 0);
    assert_true(points(o) >= 1); /* the host's own history is still there */
    json_decref(o);
    char path[128];
    (void)snprintf(path, sizeof(path), HISTORY "?vms=1&since=%.0f", t0 + 1);
    o = get(m->url, path);
    check_vms(o, t0, 1);
    json_decref(o);
    o = get(m->url, HISTORY); /* not asked: no "vms" */
    assert_null(json_object_get(o, "vms"));
    json_decref(o);
    json_t *err = NULL;
    assert_int_equal(daemon_http(m->url, "GET", HISTORY "?vms=2", NULL, &err), 400);
    assert_non_null(strstr(str(err, "error"), "vms:"));
    json_decref(err);
    assert_int_equal(daemon_http(m->url, "GET", HISTORY "?vms=yes", NULL, &err), 400);
    json_decref(err);
    assert_int_equal(daemon_http(m->url, "GET", HISTORY "?vms=1&step=60", NULL, &err), 400);
    json_decref(err);

    /* From the store: a restarted manager serves the same series. */
    pool_stop_clean(m);
    m = pool_start_manager("m2", listen, extra);
    struct cond known = {m->url, NULL, NULL, 1};
    assert_true(wait_until(hosts_known, &known, UP_S));
    o = get(m->url, HISTORY "?vms=1");
    assert_non_null(o);
    check_vms(o, t0, 0);
    json_decref(o);
    pool_finish();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_history_restart, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_history_pressure, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_history_vms, pool_setup, pool_teardown),
    };
    return cmocka_run_group_tests_name("history", tests, NULL, NULL);
}

/* The usage history ring behind GET /v1/hosts/NAME/history. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "proto/uhist.h"

static void
push_cpu(struct uhist *h, double t, double cpu)
{
    double pct[KIND_COUNT] = {cpu, cpu / 2, 0, 1};
    uhist_push(h, t, pct, NULL);
}

/* Samples closer than the gap fold into the newest point, keeping each kind's highest. */
static void
test_fold_keeps_the_peak(void **state)
{
    (void)state;
    struct uhist *h = uhist_new(1.0);
    assert_non_null(h);
    push_cpu(h, 100.0, 20);
    push_cpu(h, 100.2, 90); /* a short spike */
    push_cpu(h, 100.4, 30);
    assert_int_equal(uhist_len(h), 1);
    assert_true(uhist_pct(h, 0, KIND_CPU) == 90.0);
    assert_true(uhist_pct(h, 0, KIND_MEM_BW) == 45.0);
    assert_true(uhist_time(h, 0) == 100.0);
    push_cpu(h, 101.0, 10);
    assert_int_equal(uhist_len(h), 2);
    assert_true(uhist_pct(h, 1, KIND_CPU) == 10.0);
    uhist_free(h);
}

/* The ring keeps the newest UHIST_POINTS points, oldest first. */
static void
test_ring_wraps(void **state)
{
    (void)state;
    struct uhist *h = uhist_new(0);
    assert_non_null(h);
    size_t total = UHIST_POINTS + 37;
    for (size_t i = 0; i < total; i++)
        push_cpu(h, (double)i, (double)(i % 100));
    assert_int_equal(uhist_len(h), UHIST_POINTS);
    for (size_t i = 0; i < UHIST_POINTS; i++) {
        size_t want = total - UHIST_POINTS + i;
        assert_true(uhist_time(h, i) == (double)want);
        assert_true(uhist_pct(h, i, KIND_CPU) == (double)(want % 100));
    }
    uhist_free(h);
}

/* A clock set back starts again; non-finite input is not kept. */
static void
test_clock_back_and_bad_values(void **state)
{
    (void)state;
    struct uhist *h = uhist_new(1.0);
    push_cpu(h, 200.0, 10);
    push_cpu(h, 201.0, 20);
    push_cpu(h, 150.0, 30);
    assert_int_equal(uhist_len(h), 1);
    assert_true(uhist_time(h, 0) == 150.0);
    double bad[KIND_COUNT] = {0.0 / 0.0, 5, 5, 5};
    uhist_push(h, 0.0 / 0.0, bad, NULL);
    assert_int_equal(uhist_len(h), 1);
    uhist_push(h, 151.0, bad, NULL);
    assert_int_equal(uhist_len(h), 2);
    assert_true(uhist_pct(h, 1, KIND_CPU) == 0.0);
    uhist_free(h);
}

/* The JSON answer: parallel lists, thresholds, and `since` selecting by the shown time. */
static void
test_json(void **state)
{
    (void)state;
    struct uhist *h = uhist_new(1.0);
    push_cpu(h, 1000.0004, 10);
    push_cpu(h, 1001.0006, 20);
    push_cpu(h, 1002.5, 30);
    double thr[KIND_COUNT] = {80, 70, 60, 50};
    json_t *j = uhist_json(h, "h1", thr, 0);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "host")), "h1");
    json_t *times = json_object_get(j, "time");
    assert_int_equal(json_array_size(times), 3);
    assert_int_equal(json_array_size(json_object_get(json_object_get(j, "usage"), "net")), 3);
    assert_true(json_real_value(json_object_get(json_object_get(j, "threshold"), "mem_bw")) == 70);
    double second = json_real_value(json_array_get(times, 1)); /* 1001.001, shown */
    json_decref(j);
    j = uhist_json(h, "h1", thr, second);
    assert_int_equal(json_array_size(json_object_get(j, "time")), 2);
    json_decref(j);
    j = uhist_json(NULL, "h9", thr, 0); /* no sample yet */
    assert_int_equal(json_array_size(json_object_get(j, "time")), 0);
    json_decref(j);
    uhist_free(h);
}

/* Pressure rides along: folded to its highest per line, absent where not measured (null in
 * the answer), and "pressure" only when a point selected has a line. */
static void
test_pressure(void **state)
{
    (void)state;
    struct uhist *h = uhist_new(1.0);
    const double pct[KIND_COUNT] = {50, 0, 0, 0};
    uhist_push(h, 100.0, pct, NULL); /* before the host measured it */
    struct pressure p = {0};
    pressure_set(&p, PRESSURE_CPU, PRESSURE_SOME, 12.5);
    pressure_set(&p, PRESSURE_IO, PRESSURE_FULL, 3);
    uhist_push(h, 101.0, pct, &p);
    struct pressure spike = {0};
    pressure_set(&spike, PRESSURE_CPU, PRESSURE_SOME, 40.04);
    uhist_push(h, 101.5, pct, &spike); /* folds: cpu some 40, io full kept */
    uhist_push(h, 101.7, pct, &p);
    assert_int_equal(uhist_len(h), 2);
    assert_true(isnan(uhist_psi(h, 0, PRESSURE_CPU, PRESSURE_SOME)));
    assert_true(fabs(uhist_psi(h, 1, PRESSURE_CPU, PRESSURE_SOME) - 40.04) < 1e-4);
    assert_true(uhist_psi(h, 1, PRESSURE_IO, PRESSURE_FULL) == 3);
    assert_true(isnan(uhist_psi(h, 1, PRESSURE_MEMORY, PRESSURE_SOME)));

    double thr[KIND_COUNT] = {80, 80, 80, 80};
    json_t *j = uhist_json(h, "h1", thr, 0);
    assert_non_null(j);
    json_t *psi = json_object_get(j, "pressure");
    assert_int_equal(json_object_size(psi), 2); /* cpu and io */
    assert_null(json_object_get(psi, "memory"));
    json_t *some = json_object_get(json_object_get(psi, "cpu"), "some");
    assert_int_equal(json_array_size(some), 2);
    assert_true(json_is_null(json_array_get(some, 0)));
    assert_true(json_real_value(json_array_get(some, 1)) == 40.0);
    assert_null(json_object_get(json_object_get(psi, "cpu"), "full"));
    json_t *full = json_object_get(json_object_get(psi, "io"), "full");
    assert_true(json_real_value(json_array_get(full, 1)) == 3.0);
    json_decref(j);
    /* Only the first point selected: no line measured, no "pressure". */
    j = uhist_json(h, "h1", thr, 100.0);
    assert_non_null(json_object_get(j, "pressure"));
    json_decref(j);
    uhist_push(h, 103.0, pct, NULL);
    j = uhist_json(h, "h1", thr, 103.0);
    assert_int_equal(json_array_size(json_object_get(j, "time")), 1);
    assert_null(json_object_get(j, "pressure"));
    json_decref(j);
    uhist_free(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_keeps_the_peak),
        cmocka_unit_test(test_ring_wraps),
        cmocka_unit_test(test_clock_back_and_bad_values),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_pressure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

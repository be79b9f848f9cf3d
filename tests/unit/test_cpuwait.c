/* The over-subscription model of CPU wait (core/cpuwait.h), table-driven: hosts with room,
 * exactly full, over-subscribed, with no room at all, and inputs that are not numbers; more
 * demand never waits less. And the pressure average (the kernel's avg10): a step up rises as
 * 1 - e^(-t/10), a step down decays as e^(-t/10), sampled often or seldom alike, and nothing
 * that is not a number gets in. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/cpuwait.h"

struct unmet_case {
    double want;
    double avail;
    double wait;
};

static void
test_unmet(void **state)
{
    (void)state;
    const struct unmet_case cases[] = {
        {0.0, 98.0, 0.0},    /* nothing asked */
        {50.0, 98.0, 0.0},   /* room */
        {98.0, 98.0, 0.0},   /* exactly full: nobody waits */
        {196.0, 98.0, 50.0}, /* twice over: each gets half */
        {125.0, 100.0, 20.0}, {400.0, 100.0, 75.0},
        {50.0, 0.0, 100.0},  /* no room at all */
        {50.0, -5.0, 100.0}, /* overhead above 100 %: no room either */
        {-3.0, 100.0, 0.0},   {NAN, 100.0, 0.0},
        {50.0, NAN, 100.0}, /* an unknown room is no room */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double w = cpuwait_unmet_pct(cases[i].want, cases[i].avail);
        if (!(fabs(w - cases[i].wait) < 1e-12))
            fail_msg("case %zu: want %g avail %g: wait %g, expected %g", i, cases[i].want,
                     cases[i].avail, w, cases[i].wait);
    }
}

static void
test_unmet_monotonic(void **state)
{
    (void)state;
    /* More demand on the same room never waits less, and stays within 0..100. */
    double prev = 0.0;
    for (int want = 0; want <= 2000; want += 7) {
        double w = cpuwait_unmet_pct((double)want, 98.0);
        assert_true(w >= prev);
        assert_true(w >= 0.0 && w <= 100.0);
        prev = w;
    }
    assert_true(prev > 90.0);
}

struct avg_case {
    double avg;
    double stall;
    double dt;
    double want;
};

static void
test_pressure_avg(void **state)
{
    (void)state;
    const double e1 = exp(-0.1); /* one second of the 10 s window */
    const struct avg_case cases[] = {
        {0.0, 100.0, 1.0, 100.0 * (1.0 - e1)}, /* a step up, one second in */
        {0.0, 100.0, 10.0, 100.0 * (1.0 - exp(-1.0))},
        {100.0, 0.0, 1.0, 100.0 * e1}, /* the decay */
        {40.0, 0.0, 10.0, 40.0 * exp(-1.0)},
        {30.0, 30.0, 5.0, 30.0},  /* steady */
        {20.0, 50.0, 0.0, 20.0},  /* no time: unchanged */
        {20.0, 50.0, -3.0, 20.0}, /* time going back: unchanged */
        {20.0, 50.0, NAN, 20.0},
        {20.0, 50.0, INFINITY, 50.0},          /* an endless interval: the stall share */
        {NAN, 100.0, 1.0, 100.0 * (1.0 - e1)}, /* an unknown average starts at 0 */
        {50.0, NAN, 10.0, 50.0 * exp(-1.0)},   /* an unknown stall share is none */
        {150.0, 0.0, 0.0, 100.0},              /* held to 0..100 */
        {-5.0, 250.0, 1e9, 100.0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct avg_case *c = &cases[i];
        double a = cpuwait_pressure_avg(c->avg, c->stall, c->dt);
        if (!(fabs(a - c->want) < 1e-9))
            fail_msg("case %zu: avg %g stall %g dt %g: %g, expected %g", i, c->avg, c->stall, c->dt,
                     a, c->want);
    }
}

static void
test_pressure_avg_steps(void **state)
{
    (void)state;
    /* A host stalled all the time from t = 0, sampled every 0.2 s: the average rises as
     * 1 - e^(-t/10) whatever the sampling (exact for equal steps), crossing 10 % after
     * 1.05 s, and never goes down or past 100 %. Then it stalls no more and decays. */
    double a = 0.0;
    double t = 0.0;
    double prev = 0.0;
    for (int i = 0; i < 500; i++) {
        a = cpuwait_pressure_avg(a, 100.0, 0.2);
        t += 0.2;
        assert_true(a >= prev && a <= 100.0);
        assert_true(fabs(a - 100.0 * (1.0 - exp(-t / 10.0))) < 1e-9);
        prev = a;
    }
    double once = cpuwait_pressure_avg(0.0, 100.0, t);
    assert_true(fabs(a - once) < 1e-9);
    assert_true(cpuwait_pressure_avg(0.0, 100.0, 1.0) < 10.0);
    assert_true(cpuwait_pressure_avg(0.0, 100.0, 1.1) > 10.0);
    double top = a;
    for (int i = 0; i < 50; i++) {
        a = cpuwait_pressure_avg(a, 0.0, 0.2);
        assert_true(a < prev && a >= 0.0);
        prev = a;
    }
    assert_true(fabs(a - top * exp(-1.0)) < 1e-9);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unmet),
        cmocka_unit_test(test_unmet_monotonic),
        cmocka_unit_test(test_pressure_avg),
        cmocka_unit_test(test_pressure_avg_steps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The over-subscription model of CPU wait (core/cpuwait.h), table-driven: hosts with room,
 * exactly full, over-subscribed, with no room at all, and inputs that are not numbers; more
 * demand never waits less. */
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unmet),
        cmocka_unit_test(test_unmet_monotonic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

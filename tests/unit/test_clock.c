/* Aligned periodic timing (common/clock.c: clock_align_delay). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/clock.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-6)

static void
test_next_boundary(void **state)
{
    (void)state;
    /* Just after a boundary: the next one, an interval on. */
    assert_true(NEAR(clock_align_delay(1000.01, 1.0, 0.0), 0.99));
    /* Late in the interval: the next boundary is too close, the one after it is taken. */
    assert_true(NEAR(clock_align_delay(1000.7, 1.0, 0.0), 1.3));
    /* Exactly half an interval away is too close as well. */
    assert_true(NEAR(clock_align_delay(1000.5, 1.0, 0.0), 1.5));
    /* On the boundary itself: the next one. */
    assert_true(NEAR(clock_align_delay(1000.0, 1.0, 0.0), 1.0));
    /* A timer that fired a little early does not run again a moment later. */
    assert_true(NEAR(clock_align_delay(1000.999, 1.0, 0.0), 1.001));
}

static void
test_offset_and_interval(void **state)
{
    (void)state;
    /* The manager: 0.2 s after each boundary. */
    assert_true(NEAR(clock_align_delay(1000.05, 1.0, 0.2), 1.15));
    assert_true(NEAR(clock_align_delay(1000.25, 1.0, 0.2), 0.95));
    /* Longer intervals align on their own multiples. */
    assert_true(NEAR(clock_align_delay(1001.0, 5.0, 0.0), 4.0));
    assert_true(NEAR(clock_align_delay(1002.0, 5.0, 0.5), 3.5));
    assert_true(NEAR(clock_align_delay(1003.0, 5.0, 0.5), 7.5)); /* 2.5 s: too close */
    /* Fractions of a second. */
    assert_true(NEAR(clock_align_delay(1000.03, 0.1, 0.0), 0.07));
}

static void
test_bounds_on_real_clock_values(void **state)
{
    (void)state;
    /* Wherever `now` falls (epoch seconds of today's size), the delay stays in
     * (interval / 2, 1.5 * interval] and lands on a boundary. */
    const double ivs[] = {0.05, 0.25, 1.0, 2.0, 7.5, 60.0};
    for (size_t k = 0; k < sizeof(ivs) / sizeof(ivs[0]); k++) {
        double iv = ivs[k];
        double off = iv / 5.0;
        for (int i = 0; i < 5000; i++) {
            double now = 1.8e9 + (double)i * 0.0137 * iv;
            double d = clock_align_delay(now, iv, off);
            assert_true(d > iv / 2.0);
            assert_true(d <= 1.5 * iv + 1e-6);
            double phase = fmod(now + d - off, iv);
            assert_true(phase < 1e-4 || iv - phase < 1e-4);
        }
    }
}

static void
test_mono_of_wall(void **state)
{
    (void)state;
    /* Dated 30 s ago on the wall clock: 30 s before now on the monotonic one. */
    assert_true(NEAR(clock_mono_of_wall(1000.0, 1030.0, 500.0), 470.0));
    /* Dated in the future (the clock went back since): now, never later. */
    assert_true(NEAR(clock_mono_of_wall(2000.0, 1030.0, 500.0), 500.0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_boundary),
        cmocka_unit_test(test_offset_and_interval),
        cmocka_unit_test(test_bounds_on_real_clock_values),
        cmocka_unit_test(test_mono_of_wall),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The reference policies' arithmetic (src/sim/refstat.c) on small inputs checked by hand:
 *  - MC: the coefficients of determination of each row on the others, against exact
 *    rational values (two VMs: the squared correlation, 75/76; three VMs: 125/148, 4/5,
 *    217/240), the reference's pick (first largest, values that are not numbers never win)
 *    and the cases where the reference falls back to MMT;
 *  - LRR: the tricube and bisquare weights, the 40 %-of-zero-weights rule of the weighted
 *    line, and that the robust line equals the plain least squares line when no weight is
 *    zero (which makes LRR decide as LR);
 *  - RS: the generator gives java.util.Random's numbers for the same seed. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sim/refstat.h"

#define CLOSE(a, b) assert_true(fabs((double)(a) - (double)(b)) <= 1e-12 * (1 + fabs((double)(b))))

static void
test_mc_two_vms(void **state)
{
    (void)state;
    /* With one other VM, R^2 is the squared correlation of the two: both 75/76. */
    const double data[] = {1, 2, 3, 2, 4, 7};
    double r2[2];
    assert_int_equal(refstat_mc_r2(data, 2, 3, r2), 0);
    CLOSE(r2[0], 75.0 / 76);
    CLOSE(r2[1], 75.0 / 76);
}

static void
test_mc_three_vms(void **state)
{
    (void)state;
    const double data[] = {1, 2, 3, 4, 6, 2, 1, 4, 3, 5, 3, 3, 7, 8, 9};
    double r2[3];
    assert_int_equal(refstat_mc_r2(data, 3, 5, r2), 0);
    CLOSE(r2[0], 125.0 / 148);
    CLOSE(r2[1], 4.0 / 5);
    CLOSE(r2[2], 217.0 / 240);
    assert_int_equal(refstat_mc_pick(r2, 3), 2);
}

static void
test_mc_fallbacks(void **state)
{
    (void)state;
    const double data[] = {1, 2, 3, 2, 4, 7, 0, 0, 0};
    double r2[3];
    /* One VM, no history, fewer values than VMs. */
    assert_int_equal(refstat_mc_r2(data, 1, 3, r2), -EINVAL);
    assert_int_equal(refstat_mc_r2(data, 2, 0, r2), -EINVAL);
    assert_int_equal(refstat_mc_r2(data, 3, 2, r2), -EINVAL);
    assert_int_equal(refstat_mc_r2(data, REFSTAT_MC_MAX + 1, REFSTAT_MC_MAX + 1, r2), -EINVAL);
    /* A VM whose history is all zero makes the fit singular. */
    assert_int_equal(refstat_mc_r2(data, 3, 3, r2), -EINVAL);
}

static void
test_mc_pick(void **state)
{
    (void)state;
    const double a[] = {NAN, 0.25, 0.5, 0.5};
    assert_int_equal(refstat_mc_pick(a, 4), 2);
    /* Nothing above the smallest positive double: the first. */
    const double b[] = {0, -1, NAN};
    assert_int_equal(refstat_mc_pick(b, 3), 0);
}

static void
test_tricube(void **state)
{
    (void)state;
    double w[10];
    refstat_tricube_weights(10, w);
    /* w[i] = 1 / (1 - ((9 - i) / 9)^3)^3 */
    CLOSE(w[9], 1);
    CLOSE(w[8], pow(729.0 / 728, 3));
    CLOSE(w[2], pow(729.0 / 386, 3));
    assert_true(w[0] == w[2] && w[1] == w[2]);
    for (int i = 3; i < 10; i++)
        assert_true(w[i] < w[i - 1]);
}

static void
test_bisquare(void **state)
{
    (void)state;
    /* |res| sorted: 0.5 1 1 2 2, median 1, so s6 = 6. */
    const double res[] = {1, -1, 2, -2, 0.5};
    double tri[5], w[5];
    refstat_tricube_weights(5, tri);
    CLOSE(tri[2], 1 / pow(0.875, 3)); /* 1 - (2/4)^3 */
    refstat_bisquare_weights(res, 5, w);
    CLOSE(w[2], 81.0 / 64 * tri[2]); /* 1 / (1 - (2/6)^2)^2 */
    CLOSE(w[3], 81.0 / 64 * tri[3]);
    CLOSE(w[4], pow(144.0 / 143, 2) * tri[4]); /* 1 / (1 - (0.5/6)^2)^2 */
    assert_true(w[0] == w[2] && w[1] == w[2]);
    /* A residual of six medians or more: the largest double. */
    const double far[] = {1, 1, 1, 6, 1};
    refstat_bisquare_weights(far, 5, w);
    assert_true(w[3] == DBL_MAX);
    /* A median of zero: a residual that is not zero gets a zero weight. */
    const double zero[] = {0, 0, 0, 1, 0};
    refstat_bisquare_weights(zero, 5, w);
    assert_true(w[3] == 0);
    assert_true(w[4] == DBL_MAX);
}

static void
test_weighted_line(void **state)
{
    (void)state;
    const double x[] = {1, 2, 3, 4, 5};
    const double y[] = {1, 3, 2, 5, 4};
    double a, b, pa, pb;
    refstat_fit_line(x, y, 5, &pa, &pb);
    CLOSE(pb, 0.8); /* sxy 8 / sxx 10 */
    CLOSE(pa, 0.6);
    /* One zero weight of five (20 %): the weights are ignored. */
    const double w1[] = {0, 1, 4, 9, 16};
    refstat_weighted_line(x, y, w1, 5, &a, &b);
    assert_true(a == pa && b == pb);
    /* Two of five (40 %): the line through (sqrt(w) x, sqrt(w) y) = (0,0) (0,0) (3,2) (8,10)
     * (20,16). */
    const double w2[] = {0, 0, 1, 4, 16};
    refstat_weighted_line(x, y, w2, 5, &a, &b);
    const double xw[] = {0, 0, 3, 8, 20}, yw[] = {0, 0, 2, 10, 16};
    refstat_fit_line(xw, yw, 5, &pa, &pb);
    assert_true(a == pa && b == pb);
    /* means 6.2 and 5.6: sxy 232.4, sxx 280.8 */
    CLOSE(b, 232.4 / 280.8);
}

static void
test_lrr_line(void **state)
{
    (void)state;
    /* No weight is ever zero on a noisy history: the robust line is the plain one. */
    const double y[10] = {0.31, 0.42, 0.38, 0.55, 0.47, 0.61, 0.58, 0.72, 0.66, 0.80};
    double x[10];
    for (int i = 0; i < 10; i++)
        x[i] = i + 1;
    double a, b, pa, pb;
    refstat_lrr_line(y, 10, &a, &b);
    refstat_fit_line(x, y, 10, &pa, &pb);
    assert_true(a == pa && b == pb);
    /* A straight line comes back as itself. */
    double line[10];
    for (int i = 0; i < 10; i++)
        line[i] = 0.25 + 0.05 * (i + 1);
    refstat_lrr_line(line, 10, &a, &b);
    CLOSE(a, 0.25);
    CLOSE(b, 0.05);
}

static void
test_java_random(void **state)
{
    (void)state;
    /* java.util.Random(seed).nextInt(bound), printed by a JVM. */
    struct refstat_rng r;
    static const uint32_t s42[] = {0, 3, 8, 4, 0, 5, 5, 8};
    refstat_rng_seed(&r, 42);
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(refstat_rng_below(&r, 10), s42[i]);
    static const uint32_t s7[] = {1, 2, 0, 1, 1, 1};
    refstat_rng_seed(&r, 7);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(refstat_rng_below(&r, 3), s7[i]);
    refstat_rng_seed(&r, 0);
    assert_int_equal(refstat_rng_below(&r, 1u << 30), 784870680);
    /* A bound near 2^31 takes the rejection path now and then. */
    static const uint32_t s5[] = {379250092,  189533474, 1313869424,
                                  1049914506, 991787854, 963357722};
    refstat_rng_seed(&r, 5);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(refstat_rng_below(&r, 1500000001), s5[i]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mc_two_vms),    cmocka_unit_test(test_mc_three_vms),
        cmocka_unit_test(test_mc_fallbacks),  cmocka_unit_test(test_mc_pick),
        cmocka_unit_test(test_tricube),       cmocka_unit_test(test_bisquare),
        cmocka_unit_test(test_weighted_line), cmocka_unit_test(test_lrr_line),
        cmocka_unit_test(test_java_random),
    };
    return cmocka_run_group_tests_name("refstat", tests, NULL, NULL);
}

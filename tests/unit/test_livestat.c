/* The simulator's metrics on a live run's observations (sim/livestat.c): energy by the
 * simulator's trapezoid from active hosts, SLATAH from steps a host could not serve its VMs,
 * PDM from migrations' measured durations, shut-downs from the state before the first step,
 * and the invariants (a VM on two hosts, lost VMs, returns within the cooldown). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sim/livestat.h"
#include "sim/power.h"

#define STEP 300.0

static const struct power_host_type *const types2[2] = {&power_hp_g4, &power_hp_g5};

static struct livestat_host
at(double cpu, double demand, double served)
{
    struct livestat_host h = {
        .seen = true, .cpu_pct = cpu, .demand_pct = demand, .served_pct = served};
    return h;
}

static void
test_energy_and_activity(void **state)
{
    (void)state;
    struct livestat s;
    assert_int_equal(livestat_init(&s, 2, types2, 3, STEP), 0);
    /* Step 0: h0 at 50 %, h1 idle. Step 1: h0 at 100 %, h1 at 10 %. Step 2: h0 idle. */
    struct livestat_host a[2] = {at(50, 50, 50), at(0, 0, 0)};
    livestat_step(&s, a);
    assert_true(s.energy_j == 0); /* nothing before the first step */
    struct livestat_host b[2] = {at(100, 100, 100), at(10, 10, 10)};
    livestat_step(&s, b);
    /* h0: (P(0.5) + P(1.0)) / 2 x 300; h1 was idle at the interval's start: nothing. */
    double want = (power_watts(&power_hp_g4, 0.5) + power_watts(&power_hp_g4, 1.0)) / 2 * STEP;
    assert_true(fabs(s.energy_j - want) < 1e-6);
    struct livestat_host c[2] = {at(0, 0, 0), at(10, 10, 10)};
    livestat_step(&s, c);
    want += (power_watts(&power_hp_g4, 1.0) + power_watts(&power_hp_g4, 0)) / 2 * STEP;
    want += power_watts(&power_hp_g5, 0.1) * STEP;
    assert_true(fabs(s.energy_j - want) < 1e-6);
    assert_int_equal(s.shutdowns, 1); /* h0 at step 2 */
    /* A host whose VMs ask for a little, below what a sample shows, is active. */
    struct livestat_host d[2] = {at(0, 0, 0), at(0, 0, 0)};
    d[0].busy = true;
    livestat_step(&s, d);
    assert_true(s.was_active[0]);
    assert_false(s.was_active[1]);
    assert_int_equal(s.shutdowns, 2); /* h1 */
    /* A host not observed repeats its last state. */
    struct livestat_host e[2] = {{.seen = false}, at(20, 20, 20)};
    livestat_step(&s, e);
    assert_true(s.was_active[0]);
    assert_int_equal(s.missed_observations, 1);
    struct dc_stats t;
    livestat_totals(&s, NULL, 0, 0.5 / STEP, &t);
    assert_true(fabs(t.energy_kwh - s.energy_j / 3.6e6) < 1e-12);
    assert_true(t.time_s == 4 * STEP);
    livestat_done(&s);
}

/* The state at time 0: a host emptied before the first observation was shut down. */
static void
test_start_state(void **state)
{
    (void)state;
    struct livestat s;
    assert_int_equal(livestat_init(&s, 2, types2, 1, STEP), 0);
    const double util[2] = {0.3, 0.2};
    const bool active[2] = {true, true};
    livestat_start(&s, util, active);
    struct livestat_host a[2] = {at(50, 50, 50), at(0, 0, 0)};
    livestat_step(&s, a);
    assert_int_equal(s.shutdowns, 1);
    /* The interval from the start to the first step is not counted (the simulator's first
     * processing comes with its first decision). */
    assert_true(s.energy_j == 0);
    livestat_done(&s);
}

/* SLATAH: active steps where a host could not give its VMs what they asked for; PDM: a tenth
 * of a migrating VM's demand over its measured duration, in trace time. */
static void
test_sla(void **state)
{
    (void)state;
    struct livestat s;
    assert_int_equal(livestat_init(&s, 1, types2, 2, STEP), 0);
    struct livestat_host a = at(100, 120, 100); /* over capacity: 20 % short */
    struct livestat_host b = at(60, 60, 60);
    struct livestat_host c = at(70, 70, 63); /* a VM migrating out, 10 % slower: not short */
    livestat_step(&s, &a);
    livestat_step(&s, &b);
    livestat_step(&s, &c);
    assert_true(s.violation_s == STEP);
    assert_true(s.active_s == 3 * STEP);
    double mips = power_hp_g4.pe_mips * power_hp_g4.pes;
    double req = (1.2 + 0.6 + 0.7) * mips * STEP;
    assert_true(fabs(s.requested_mips_s - req) < 1e-6);
    /* One migration of a VM asking 1000 MIPS that took 0.01 s of wall time at 0.5 s a step:
     * 6 s of trace time. */
    struct livestat_move m = {.vm = 0,
                              .from = 0,
                              .to = 0,
                              .started = 100.0,
                              .finished = 100.01,
                              .done = true,
                              .demand_mips = 1000};
    struct dc_stats t;
    livestat_totals(&s, &m, 1, 0.5 / STEP, &t);
    assert_true(fabs(t.slatah - 1.0 / 3.0) < 1e-12);
    assert_true(fabs(t.pdm - 0.1 * 1000 * 6.0 / req) < 1e-9);
    assert_true(fabs(t.slav - t.slatah * t.pdm) < 1e-15);
    assert_int_equal(t.migrations, 1);
    livestat_done(&s);
}

/* The placement: the most hosts a VM ran on at once (arriving and leaving do not count), and
 * VMs no host lists. */
static void
test_placement(void **state)
{
    (void)state;
    struct livestat s;
    assert_int_equal(livestat_init(&s, 2, types2, 3, STEP), 0);
    livestat_place_begin(&s);
    livestat_place_vm(&s, 0, true);
    livestat_place_vm(&s, 1, false); /* leaving h0 */
    livestat_place_vm(&s, 1, true);  /* running on h1 */
    livestat_place_vm(&s, 9, true);  /* not one of ours: ignored */
    livestat_place_end(&s);
    assert_int_equal(s.max_hosts_per_vm, 1);
    assert_int_equal(livestat_lost(&s), 1); /* VM 2 */
    livestat_place_begin(&s);
    livestat_place_vm(&s, 0, true);
    livestat_place_vm(&s, 0, true);
    livestat_place_vm(&s, 1, true);
    livestat_place_vm(&s, 2, true);
    livestat_place_end(&s);
    assert_int_equal(s.max_hosts_per_vm, 2);
    assert_int_equal(livestat_lost(&s), 0);
    livestat_done(&s);
}

/* A return: a VM back on a host it left less than the cooldown before. */
static void
test_returns(void **state)
{
    (void)state;
    const struct livestat_move m[] = {
        {.vm = 1, .from = 0, .to = 1, .started = 10, .finished = 11, .done = true},
        {.vm = 1, .from = 1, .to = 0, .started = 100, .finished = 101, .done = true}, /* back */
        {.vm = 2, .from = 0, .to = 1, .started = 10, .finished = 11, .done = true},
        {.vm = 2, .from = 1, .to = 0, .started = 400, .finished = 401, .done = true}, /* later */
        {.vm = 3, .from = 0, .to = 1, .started = 10, .finished = 11, .done = false},
        {.vm = 3, .from = 0, .to = 2, .started = 20, .finished = 21, .done = true}, /* onward */
        {.vm = 4, .from = 2, .to = 3, .started = 50, .finished = 51, .done = true},
        {.vm = 4, .from = 3, .to = 2, .started = 60, .finished = 60, .done = false}, /* failed */
    };
    size_t n = 0;
    assert_int_equal(livestat_returns(m, 8, 300, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(livestat_returns(m, 8, 0, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(livestat_returns(m, 8, 1000, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(livestat_failed(m, 8), 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_energy_and_activity),
        cmocka_unit_test(test_start_state),
        cmocka_unit_test(test_sla),
        cmocka_unit_test(test_placement),
        cmocka_unit_test(test_returns),
    };
    return cmocka_run_group_tests_name("livestat", tests, NULL, NULL);
}

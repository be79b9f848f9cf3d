/* The storm guard ([relocate] max_moves_per_vm, storm_window): a VM that moved that many times
 * within the window is not moved by a conflict until the oldest of those moves leaves it,
 * whatever the other settings; drains still move it. Also the VMs' move lists in the model,
 * the one-line description every deployment logs, and the once-per-window log filter. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/once.h"
#include "core/consolidate.h"
#include "core/plan.h"
#include "testcl.h"

#define NOW 100000.0

/* The patent's literal rule and no cooldown: only the guard stands between a spike and a
 * storm. */
static void
literal_policy(struct policy *pol)
{
    policy_init(pol);
    pol->dest_headroom = false;
    pol->cooldown_s = 0;
    policy_finish(pol);
}

static void
set_moves(struct cluster *cl, size_t vi, const double *t, size_t n)
{
    assert_int_equal(cluster_set_vm_moves(cl, vi, t, n), 0);
}

/* h1 at 90 % with a (45) and b (40), h2 at 20 %; the cluster's time is NOW. */
static void
build(struct cluster *cl)
{
    cluster_init(cl);
    cl->time = NOW;
    cl->has_time = true;
    (void)tc_host(cl, "h1", 90);
    (void)tc_vm(cl, "a", 45);
    (void)tc_vm(cl, "b", 40);
    (void)tc_host(cl, "h2", 20);
}

static void
test_count_and_until(void **state)
{
    (void)state;
    struct policy pol;
    literal_policy(&pol);
    double until = 0;
    /* Defaults: 4 moves in 3600 s. */
    assert_int_equal(pol.max_moves_per_vm, 4);
    assert_true(pol.storm_window_s == 3600);
    const double three[] = {NOW - 300, NOW - 200, NOW - 100};
    assert_false(policy_storm_until(&pol, three, 3, 0, NOW, &until));
    assert_int_equal(policy_storm_count(&pol, three, 3, NOW), 3);
    /* A fourth move held by the plan itself (extra) reaches the limit: held until the oldest
     * of the four leaves the window. */
    assert_true(policy_storm_until(&pol, three, 3, 1, NOW, &until));
    assert_true(until == NOW - 300 + 3600);
    /* Six moves within the window: held until the third oldest leaves it (then three are
     * left). */
    const double six[] = {NOW - 600, NOW - 500, NOW - 400, NOW - 300, NOW - 200, NOW - 100};
    assert_true(policy_storm_until(&pol, six, 6, 0, NOW, &until));
    assert_true(until == NOW - 400 + 3600);
    /* Moves older than the window do not count; exactly the window ago is out. */
    const double old[] = {NOW - 9000, NOW - 3600, NOW - 200, NOW - 100, NOW - 50};
    assert_int_equal(policy_storm_count(&pol, old, 5, NOW), 3);
    assert_false(policy_storm_until(&pol, old, 5, 0, NOW, NULL));
    /* Moves dated more than a minute ahead come from a wrong clock. */
    const double ahead[] = {NOW - 30, NOW - 20, NOW + 30, NOW + 61, NOW + 5000};
    assert_int_equal(policy_storm_count(&pol, ahead, 5, NOW), 3);
    assert_false(policy_storm_until(&pol, ahead, 5, 0, NOW, NULL));
    /* One move a window: max_moves_per_vm = 1 holds after any move. */
    pol.max_moves_per_vm = 1;
    pol.storm_window_s = 60;
    assert_false(policy_storm_until(&pol, &six[5], 1, 0, NOW, &until)); /* 100 s ago */
    const double recent[] = {NOW - 30};
    assert_true(policy_storm_until(&pol, recent, 1, 0, NOW, &until));
    assert_true(until == NOW - 30 + 60);
    policy_done(&pol);
}

/* The guarded VM stays; the next best goes, and the plan says which one was held. */
static void
test_next_vm_moves(void **state)
{
    (void)state;
    struct cluster cl;
    struct policy pol;
    struct plan p;
    build(&cl);
    literal_policy(&pol);
    const double four[] = {NOW - 3000, NOW - 2000, NOW - 1000, NOW - 10};
    set_moves(&cl, 0, four, 4); /* a */
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.n_moves, 1);
    assert_string_equal(cl.vms[p.moves[0].vm].name, "b");
    assert_int_equal(p.moves[0].held_vm, 0);
    assert_true(p.moves[0].held_until == NOW - 3000 + 3600);
    plan_done(&p);
    /* Three moves: not held; a (the heaviest) goes and nothing is reported held. */
    set_moves(&cl, 0, four + 1, 3);
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.n_moves, 1);
    assert_string_equal(cl.vms[p.moves[0].vm].name, "a");
    assert_int_equal(p.moves[0].held_vm, UINT32_MAX);
    plan_done(&p);
    /* b held too, but lighter than the one that goes: not reported. */
    set_moves(&cl, 0, four, 0);
    set_moves(&cl, 1, four, 4);
    tc_plan(&cl, &pol, NULL, &p);
    assert_string_equal(cl.vms[p.moves[0].vm].name, "a");
    assert_int_equal(p.moves[0].held_vm, UINT32_MAX);
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
}

/* Every VM that could go is held: unresolved with reason storm-guard, naming the VM that
 * would have gone and when the guard lets it go. Without the cluster's time there is no
 * guard (as for the cooldown). A drain still moves a held VM. */
static void
test_unresolved_and_drain(void **state)
{
    (void)state;
    struct cluster cl;
    struct policy pol;
    struct plan p;
    build(&cl);
    literal_policy(&pol);
    const double a4[] = {NOW - 3500, NOW - 2000, NOW - 1000, NOW - 10};
    const double b5[] = {NOW - 3000, NOW - 2500, NOW - 2000, NOW - 1000, NOW - 10};
    set_moves(&cl, 0, a4, 4);
    set_moves(&cl, 1, b5, 5);
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.n_moves, 0);
    assert_int_equal(p.n_unresolved, 1);
    assert_int_equal(p.unresolved[0].reason, PLAN_REASON_STORM_GUARD);
    assert_string_equal(plan_reason_name(p.unresolved[0].reason), "storm-guard");
    assert_int_equal(p.unresolved[0].vm, 0); /* a, the heaviest */
    assert_true(p.unresolved[0].until == NOW - 3500 + 3600);
    plan_done(&p);
    /* A pinned VM is no-movable-vm, as before: the guard is named only when it decided. */
    cl.vms[1].pinned = true;
    set_moves(&cl, 0, a4, 0);
    cl.vms[0].pinned = true;
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.unresolved[0].reason, PLAN_REASON_NO_MOVABLE_VM);
    plan_done(&p);
    cl.vms[0].pinned = false;
    cl.vms[1].pinned = false;
    set_moves(&cl, 0, a4, 4);
    /* No clock: no guard, a moves. */
    cl.has_time = false;
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.n_moves, 1);
    assert_string_equal(cl.vms[p.moves[0].vm].name, "a");
    plan_done(&p);
    cl.has_time = true;
    /* h1 in maintenance: the drain moves a although it is held. */
    cl.hosts[0].state = HOST_MAINTENANCE;
    struct plan_opts o = {.drain = true};
    tc_plan(&cl, &pol, &o, &p);
    assert_int_equal(p.n_moves, 1);
    assert_string_equal(cl.vms[p.moves[0].vm].name, "a");
    assert_int_equal(p.moves[0].why, PLAN_MOVE_DRAIN);
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
}

/* The guard holds whatever the other settings: also with headroom and a cooldown (the
 * defaults), and with a tighter guard from the config. */
static void
test_any_settings(void **state)
{
    (void)state;
    struct cluster cl;
    struct policy pol;
    struct plan p;
    build(&cl);
    policy_init(&pol);
    pol.max_moves_per_vm = 2;
    pol.storm_window_s = 600;
    policy_finish(&pol);
    const double two[] = {NOW - 590, NOW - 400};
    set_moves(&cl, 0, two, 2);
    cl.vms[0].arrived = NOW - 400; /* out of its cooldown (300 s) */
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.n_moves, 1);
    assert_string_equal(cl.vms[p.moves[0].vm].name, "b");
    assert_int_equal(p.moves[0].held_vm, 0);
    assert_true(p.moves[0].held_until == NOW - 590 + 600);
    plan_done(&p);
    /* 11 s later the oldest move has left the window: a may go again. */
    cl.time = NOW + 11;
    tc_plan(&cl, &pol, NULL, &p);
    assert_string_equal(cl.vms[p.moves[0].vm].name, "a");
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
}

/* A VM moved by a plan counts that move: with no cooldown, a VM with three moves that lands
 * on a later conflicting host is not moved a second time in the same plan (the contract's
 * "a VM moved onto a later conflicting host can move again" case, test_plan.c). */
static void
test_moves_within_one_plan(void **state)
{
    (void)state;
    struct cluster cl;
    struct policy pol;
    struct plan p;
    cluster_init(&cl);
    cl.time = NOW;
    cl.has_time = true;
    (void)tc_host(&cl, "h1", 90);
    (void)tc_vm(&cl, "a", 40);
    (void)tc_vm(&cl, "b", 30);
    size_t pv = tc_vm(&cl, "p", 10);
    cl.vms[pv].priority = 5;
    (void)tc_host(&cl, "h2", 80);
    (void)tc_vm(&cl, "c", 20);
    (void)tc_vm(&cl, "d", 20);
    (void)tc_vm(&cl, "e", 20);
    (void)tc_host(&cl, "h3", 85);
    (void)tc_vm(&cl, "f", 85);
    policy_init(&pol);
    pol.dest_headroom = false;
    pol.cooldown_s = 0;
    pol.vm_select = VM_SELECT_PRIORITY;
    policy_finish(&pol);
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.n_moves, 2); /* p:h1>h2, p:h2>h1 */
    assert_int_equal(p.moves[0].vm, pv);
    assert_int_equal(p.moves[1].vm, pv);
    plan_done(&p);
    const double three[] = {NOW - 300, NOW - 200, NOW - 100};
    set_moves(&cl, pv, three, 3);
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.moves[0].vm, pv);
    for (size_t i = 1; i < p.n_moves; i++) {
        assert_true(p.moves[i].vm != pv);
        assert_int_equal(p.moves[i].held_vm, pv);
        assert_true(p.moves[i].held_until == NOW - 300 + 3600);
    }
    /* h2's next VM (c) then has nowhere to go. */
    assert_int_equal(p.n_moves, 1);
    assert_int_equal(p.n_unresolved, 1);
    assert_int_equal(p.unresolved[0].reason, PLAN_REASON_NO_DESTINATION);
    assert_string_equal(cl.vms[p.unresolved[0].vm].name, "c");
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
}

/* Consolidation leaves a host alone while the guard holds one of its VMs. */
static void
test_consolidation(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl);
    cl.time = NOW;
    cl.has_time = true;
    (void)tc_host(&cl, "busy", 40);
    (void)tc_vm(&cl, "p", 40);
    (void)tc_host(&cl, "idle", 5);
    size_t q = tc_vm(&cl, "q", 5);
    struct policy pol;
    literal_policy(&pol);
    struct consolidate_opts o;
    memset(&o, 0, sizeof(o));
    o.below_pct = 30;
    o.target_pct = 60;
    struct consolidation c;
    consolidation_init(&c);
    assert_int_equal(consolidate_plan(&cl, &pol, &o, &c), 0);
    assert_true(c.n_moves == 1);
    consolidation_done(&c);
    const double four[] = {NOW - 40, NOW - 30, NOW - 20, NOW - 10};
    set_moves(&cl, q, four, 4);
    consolidation_init(&c);
    assert_int_equal(consolidate_plan(&cl, &pol, &o, &c), 0);
    assert_true(c.n_moves == 0);
    consolidation_done(&c);
    policy_done(&pol);
    cluster_done(&cl);
}

/* The model keeps the newest MODEL_MAX_VM_MOVES moves, refuses disorder and non-finite
 * times, and copies moves with the cluster; vm_moves_push() keeps a list in order. */
static void
test_model_moves(void **state)
{
    (void)state;
    struct cluster cl;
    build(&cl);
    double t[20];
    for (int i = 0; i < 20; i++)
        t[i] = 1000.0 + i;
    assert_int_equal(cluster_set_vm_moves(&cl, 0, t, 20), 0);
    assert_int_equal(cl.vms[0].moves_count, MODEL_MAX_VM_MOVES);
    assert_true(cluster_vm_moves(&cl, &cl.vms[0])[0] == 1004.0);
    assert_null(cluster_vm_moves(&cl, &cl.vms[1]));
    const double bad[] = {5, 4};
    assert_int_equal(cluster_set_vm_moves(&cl, 1, bad, 2), -EINVAL);
    const double inf[] = {5, INFINITY};
    assert_int_equal(cluster_set_vm_moves(&cl, 1, inf, 2), -EINVAL);
    assert_int_equal(cl.vms[1].moves_count, 0);
    struct cluster copy;
    assert_int_equal(cluster_copy(&copy, &cl), 0);
    assert_int_equal(copy.vms[0].moves_count, MODEL_MAX_VM_MOVES);
    assert_memory_equal(cluster_vm_moves(&copy, &copy.vms[0]), t + 4,
                        MODEL_MAX_VM_MOVES * sizeof(double));
    assert_int_equal(copy.vms[1].moves_count, 0);
    cluster_done(&copy);
    cluster_done(&cl);

    double m[MODEL_MAX_VM_MOVES];
    uint32_t n = 0;
    for (int i = 0; i < 20; i++)
        vm_moves_push(m, &n, 10.0 * i);
    assert_int_equal(n, MODEL_MAX_VM_MOVES);
    assert_true(m[0] == 40.0 && m[n - 1] == 190.0);
    vm_moves_push(m, &n, 5.0); /* a clock stepped back: kept in order */
    assert_true(m[n - 1] == 190.0 && m[n - 2] == 190.0);
}

/* The description every deployment logs and records: the same text through one window, the
 * release time in UTC. */
static void
test_describe(void **state)
{
    (void)state;
    static const struct {
        double until;
        const char *when;
    } dates[] = {
        {0, "1970-01-01 00:00:00 UTC"},          {1796447005.7, "2026-12-05 05:03:25 UTC"},
        {951782400, "2000-02-29 00:00:00 UTC"},  {1709251199, "2024-02-29 23:59:59 UTC"},
        {4102444800, "2100-01-01 00:00:00 UTC"}, {-1, "1969-12-31 23:59:59 UTC"},
    };
    struct cluster cl;
    struct policy pol;
    build(&cl);
    literal_policy(&pol);
    const double four[] = {NOW - 3000, NOW - 2000, NOW - 1000, NOW - 10};
    set_moves(&cl, 0, four, 4);
    for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        char buf[400];
        char want[400];
        plan_storm_describe(&pol, &cl, 0, dates[i].until, buf, sizeof(buf));
        (void)snprintf(want, sizeof(want),
                       "a moved 4 times within 3600 s (max_moves_per_vm 4): the storm guard "
                       "holds it until %s",
                       dates[i].when);
        assert_string_equal(buf, want);
    }
    policy_done(&pol);
    cluster_done(&cl);
}

/* Logged once per VM and window; again when a new window starts; forgotten once over. */
static void
test_once(void **state)
{
    (void)state;
    struct once o;
    memset(&o, 0, sizeof(o));
    assert_true(once_first(&o, "a", 500, 100));
    assert_false(once_first(&o, "a", 500, 200));
    assert_false(once_first(&o, "a", 500.4, 300)); /* the same window, recomputed */
    assert_true(once_first(&o, "b", 500, 300));
    assert_false(once_first(&o, "b", 500, 400));
    assert_int_equal(o.n, 2);
    assert_true(once_first(&o, "a", 900, 600)); /* a new window; b's ended: forgotten */
    assert_false(once_first(&o, "a", 900, 700));
    assert_int_equal(o.n, 1);
    assert_true(once_first(&o, "c", 2000, 1000)); /* a's window ended too */
    assert_int_equal(o.n, 1);
    for (int i = 0; i < ONCE_MAX + 10; i++) {
        char k[16];
        (void)snprintf(k, sizeof(k), "v%d", i);
        assert_true(once_first(&o, k, 5000 + i, 1000));
    }
    assert_int_equal(o.n, ONCE_MAX);
    once_done(&o);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_and_until),
        cmocka_unit_test(test_next_vm_moves),
        cmocka_unit_test(test_unresolved_and_drain),
        cmocka_unit_test(test_any_settings),
        cmocka_unit_test(test_moves_within_one_plan),
        cmocka_unit_test(test_consolidation),
        cmocka_unit_test(test_model_moves),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_once),
    };
    return cmocka_run_group_tests_name("storm", tests, NULL, NULL);
}

/* VM names on two hosts (cluster_mark_duplicates()): which copies are marked (hosts that are
 * down and migrations left out), and that the core moves neither copy: a conflict moves the
 * next VM instead, a drain reports the block, consolidation leaves the host, explain says so. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/consolidate.h"
#include "core/plan.h"
#include "testcl.h"

static void
literal_policy(struct policy *pol)
{
    policy_init(pol);
    pol->dest_headroom = false;
    pol->cooldown_s = 0;
    policy_finish(pol);
}

/* h1 at 90 % with a (45) and b (40), in conflict; h2 runs another a (5); h3 is empty. */
static void
build(struct cluster *cl)
{
    cluster_init(cl);
    (void)tc_host(cl, "h1", 90);
    (void)tc_vm(cl, "a", 45);
    (void)tc_vm(cl, "b", 40);
    (void)tc_host(cl, "h2", 10);
    (void)tc_vm(cl, "a", 5);
    (void)tc_host(cl, "h3", 0);
}

static void
test_mark(void **state)
{
    (void)state;
    struct cluster cl;
    build(&cl);
    size_t n = 99;
    assert_int_equal(cluster_mark_duplicates(&cl, &n), 0);
    assert_int_equal(n, 1);
    assert_true(cl.vms[0].duplicate);  /* a on h1 */
    assert_false(cl.vms[1].duplicate); /* b */
    assert_true(cl.vms[2].duplicate);  /* a on h2 */

    /* A copy on a host that is down is its last list, not a second VM; maintenance counts. */
    cl.hosts[1].state = HOST_DOWN;
    assert_int_equal(cluster_mark_duplicates(&cl, &n), 0);
    assert_int_equal(n, 0);
    assert_false(cl.vms[0].duplicate || cl.vms[2].duplicate);
    cl.hosts[1].state = HOST_MAINTENANCE;
    assert_int_equal(cluster_mark_duplicates(&cl, NULL), 0);
    assert_true(cl.vms[0].duplicate && cl.vms[2].duplicate);

    /* The two ends of a migration of a: not a duplicate, whichever end says so. */
    cl.hosts[1].state = HOST_UP;
    cl.vms[0].migrating = true;
    assert_int_equal(cluster_mark_duplicates(&cl, &n), 0);
    assert_int_equal(n, 0);
    assert_false(cl.vms[0].duplicate || cl.vms[2].duplicate);
    cl.vms[0].migrating = false;
    cl.vms[2].migrating = true;
    assert_int_equal(cluster_mark_duplicates(&cl, &n), 0);
    assert_int_equal(n, 0);
    cluster_done(&cl);

    /* Three hosts, two names: every copy marked, each name counted once, in any order. */
    cluster_init(&cl);
    (void)tc_host(&cl, "x", 0);
    (void)tc_vm(&cl, "q", 1);
    (void)tc_vm(&cl, "p", 1);
    (void)tc_host(&cl, "y", 0);
    (void)tc_vm(&cl, "p", 1);
    (void)tc_vm(&cl, "r", 1);
    (void)tc_host(&cl, "z", 0);
    (void)tc_vm(&cl, "q", 1);
    (void)tc_vm(&cl, "p", 1);
    assert_int_equal(cluster_mark_duplicates(&cl, &n), 0);
    assert_int_equal(n, 2);
    const bool want[] = {true, true, true, false, true, true};
    for (size_t i = 0; i < cl.n_vms; i++)
        assert_int_equal(cl.vms[i].duplicate, want[i]);
    cluster_done(&cl);
}

/* The conflict on h1 would move a (its heaviest); marked, a stays and b goes. */
static void
test_conflict_moves_another(void **state)
{
    (void)state;
    struct cluster cl;
    struct policy pol;
    struct plan p;
    build(&cl);
    literal_policy(&pol);
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.n_moves, 1);
    assert_string_equal(cl.vms[p.moves[0].vm].name, "a"); /* unmarked: a goes */
    plan_done(&p);
    assert_int_equal(cluster_mark_duplicates(&cl, NULL), 0);
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.n_conflicts, 1);
    assert_int_equal(p.n_moves, 1);
    assert_string_equal(cl.vms[p.moves[0].vm].name, "b");
    plan_done(&p);

    /* b pinned: nothing can move; unresolved, no-movable-vm, and a never planned anywhere. */
    cl.vms[1].pinned = true;
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.n_moves, 0);
    assert_int_equal(p.n_unresolved, 1);
    assert_int_equal(p.unresolved[0].reason, PLAN_REASON_NO_MOVABLE_VM);
    plan_done(&p);

    /* explain: a is a duplicate; the other copy's explanation says so too. */
    struct vm_explain e;
    assert_int_equal(plan_explain_vm(&cl, &pol, NULL, 0, &e), 0);
    assert_true(e.duplicate);
    vm_explain_done(&e);
    assert_int_equal(plan_explain_vm(&cl, &pol, NULL, 2, &e), 0);
    assert_true(e.duplicate);
    vm_explain_done(&e);
    assert_int_equal(plan_explain_vm(&cl, &pol, NULL, 1, &e), 0);
    assert_false(e.duplicate);
    vm_explain_done(&e);
    policy_done(&pol);
    cluster_done(&cl);
}

/* A host in maintenance whose last VM is a duplicate: the drain is blocked, naming it. */
static void
test_drain_blocked(void **state)
{
    (void)state;
    struct cluster cl;
    struct policy pol;
    struct plan p;
    cluster_init(&cl);
    size_t h1 = tc_host(&cl, "h1", 20);
    (void)tc_vm(&cl, "a", 10);
    (void)tc_host(&cl, "h2", 10);
    (void)tc_vm(&cl, "a", 5);
    (void)tc_host(&cl, "h3", 0);
    cl.hosts[h1].state = HOST_MAINTENANCE;
    literal_policy(&pol);
    struct plan_opts o = {.drain = true};
    assert_int_equal(cluster_mark_duplicates(&cl, NULL), 0);
    tc_plan(&cl, &pol, &o, &p);
    assert_int_equal(p.n_moves, 0);
    assert_int_equal(p.n_drains, 1);
    assert_int_equal(p.drains[0].block, PLAN_BLOCK_DUPLICATE);
    assert_int_equal(p.drains[0].vm, 0);
    assert_string_equal(plan_block_name(PLAN_BLOCK_DUPLICATE), "duplicate");
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
}

/* Power saving does not empty a host whose VM has its name on another host. */
static void
test_consolidate_skips(void **state)
{
    (void)state;
    struct cluster cl;
    struct policy pol;
    cluster_init(&cl);
    (void)tc_host(&cl, "h1", 5);
    (void)tc_vm(&cl, "a", 4);
    (void)tc_host(&cl, "h2", 40);
    (void)tc_vm(&cl, "a", 30);
    (void)tc_vm(&cl, "c", 5);
    literal_policy(&pol);
    struct consolidate_opts co = {.below_pct = 20, .target_pct = 80, .max_hosts = 1};
    struct consolidation c;
    consolidation_init(&c);
    assert_int_equal(consolidate_plan(&cl, &pol, &co, &c), 0);
    assert_int_equal(c.n_emptied, 1); /* unmarked: h1 is emptied */
    consolidation_done(&c);
    assert_int_equal(cluster_mark_duplicates(&cl, NULL), 0);
    consolidation_init(&c);
    assert_int_equal(consolidate_plan(&cl, &pol, &co, &c), 0);
    assert_int_equal(c.n_emptied, 0);
    assert_int_equal(c.n_moves, 0);
    consolidation_done(&c);
    policy_done(&pol);
    cluster_done(&cl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mark),
        cmocka_unit_test(test_conflict_moves_another),
        cmocka_unit_test(test_drain_blocked),
        cmocka_unit_test(test_consolidate_skips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

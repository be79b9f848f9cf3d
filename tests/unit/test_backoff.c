/* The failure back-off (common/backoff.c) and the core's `held` VMs it feeds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/backoff.h"
#include "core/plan.h"
#include "testcl.h"

static void
test_doubling_and_clear(void **state)
{
    (void)state;
    struct backoff b = {0};
    assert_true(backoff_left(&b, "a", 0) == 0);
    backoff_failed(&b, "a", 100);
    assert_true(backoff_left(&b, "a", 100) == BACKOFF_FIRST_S);
    assert_true(backoff_left(&b, "a", 105) == 5);
    assert_true(backoff_left(&b, "a", 110) == 0);
    backoff_failed(&b, "a", 110); /* again: twice as long */
    assert_true(backoff_left(&b, "a", 110) == 2 * BACKOFF_FIRST_S);
    for (int i = 0; i < 20; i++)
        backoff_failed(&b, "a", 1000);
    assert_true(backoff_left(&b, "a", 1000) == BACKOFF_LAST_S); /* capped */
    assert_true(backoff_left(&b, "b", 1000) == 0);
    backoff_cleared(&b, "a");
    assert_true(backoff_left(&b, "a", 1000) == 0);
    backoff_failed(&b, "a", 2000); /* a success started it over */
    assert_true(backoff_left(&b, "a", 2000) == BACKOFF_FIRST_S);
    backoff_done(&b);
}

static void
test_bounded(void **state)
{
    (void)state;
    struct backoff b = {0};
    char name[32];
    for (int i = 0; i < BACKOFF_MAX + 10; i++) {
        (void)snprintf(name, sizeof(name), "vm%d", i);
        backoff_failed(&b, name, (double)i);
    }
    assert_int_equal(b.n, BACKOFF_MAX);
    assert_true(backoff_left(&b, "vm0", 0) == 0); /* the first to end was forgotten */
    (void)snprintf(name, sizeof(name), "vm%d", BACKOFF_MAX + 9);
    assert_true(backoff_left(&b, name, BACKOFF_MAX + 9) > 0);
    backoff_done(&b);
}

/* A held VM is not chosen: the next heaviest goes, and with none left the conflict waits as
 * no-movable-vm. */
static void
test_held_vm_skipped(void **state)
{
    (void)state;
    size_t i;
    struct cluster cl;
    cluster_init(&cl);
    (void)tc_host(&cl, "h1", 90);
    i = tc_vm(&cl, "a", 50);
    cl.vms[i].held = true;
    (void)tc_vm(&cl, "b", 40);
    (void)tc_host(&cl, "h2", 10);
    struct policy pol;
    policy_init(&pol);
    policy_finish(&pol);
    struct plan p;
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.n_moves, 1);
    assert_string_equal(cl.vms[p.moves[0].vm].name, "b");
    plan_done(&p);
    cl.vms[1].held = true;
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.n_moves, 0);
    assert_int_equal(p.unresolved[0].reason, PLAN_REASON_NO_MOVABLE_VM);
    plan_done(&p);
    struct vm_explain e;
    assert_int_equal(plan_explain_vm(&cl, &pol, NULL, 0, &e), 0);
    assert_true(e.held);
    vm_explain_done(&e);
    policy_done(&pol);
    cluster_done(&cl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubling_and_clear),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_held_vm_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

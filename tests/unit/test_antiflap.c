/* Anti-flapping in the core: the persistence filter ([relocate] persistence = K/N) and the
 * per-VM cooldown ([relocate] cooldown), which plan_compute() and consolidate_plan() honour
 * for every deployment. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/consolidate.h"
#include "core/plan.h"
#include "testcl.h"

/* h1 in conflict (90 %: a=45 arrived at `a_arrived`, b=40 arrived at `b_arrived`), h2 at
 * 20 %; the cluster's time is 1000. */
static void
build(struct cluster *cl, double a_arrived, double b_arrived)
{
    size_t i;
    cluster_init(cl);
    cl->time = 1000.0;
    cl->has_time = true;
    assert_int_equal(cluster_add_host(cl, "h1", 2, &i), 0);
    usage_set(&cl->hosts[i].usage, KIND_CPU, 90);
    assert_int_equal(cluster_add_vm(cl, "a", 1, &i), 0);
    usage_set(&cl->vms[i].usage, KIND_CPU, 45);
    cl->vms[i].arrived = a_arrived;
    assert_int_equal(cluster_add_vm(cl, "b", 1, &i), 0);
    usage_set(&cl->vms[i].usage, KIND_CPU, 40);
    cl->vms[i].arrived = b_arrived;
    assert_int_equal(cluster_add_host(cl, "h2", 2, &i), 0);
    usage_set(&cl->hosts[i].usage, KIND_CPU, 20);
}

struct ccase {
    const char *name;
    double cooldown;
    double a_arrived;
    double b_arrived;
    bool has_time;
    const char *expect_vm; /* NULL: unresolved no-movable-vm */
};

static const struct ccase cases[] = {
    {"no cooldown: the heaviest moves", 0, 990, 990, true, "a"},
    {"a cooling: b moves", 300, 900, -1, true, "b"},
    {"a cooled down (exactly the cooldown ago)", 300, 700, -1, true, "a"},
    {"both cooling: nothing moves", 300, 900, 999, true, NULL},
    {"arrival unknown: no cooldown", 300, -1, -1, true, "a"},
    {"cluster time unknown: no cooldown", 300, 900, 900, false, "a"},
};

static void
test_cooldown(void **state)
{
    const struct ccase *c = *state;
    struct cluster cl;
    struct policy pol;
    struct plan p;
    build(&cl, c->a_arrived, c->b_arrived);
    cl.has_time = c->has_time;
    policy_init(&pol);
    pol.cooldown_s = c->cooldown;
    policy_finish(&pol);
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.n_conflicts, 1);
    if (c->expect_vm != NULL) {
        assert_int_equal(p.n_moves, 1);
        assert_string_equal(cl.vms[p.moves[0].vm].name, c->expect_vm);
    } else {
        assert_int_equal(p.n_moves, 0);
        assert_int_equal(p.n_unresolved, 1);
        assert_string_equal(plan_reason_name(p.unresolved[0].reason), "no-movable-vm");
    }
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
}

/* Consolidation never empties a host whose VM is cooling down. */
static void
test_consolidation_respects_cooldown(void **state)
{
    (void)state;
    size_t i;
    struct cluster cl;
    cluster_init(&cl);
    cl.time = 1000;
    cl.has_time = true;
    (void)tc_host(&cl, "busy", 40);
    (void)tc_vm(&cl, "p", 40);
    (void)tc_host(&cl, "idle", 5);
    i = tc_vm(&cl, "q", 5);
    cl.vms[i].arrived = 950;
    struct policy pol;
    policy_init(&pol);
    pol.cooldown_s = 0;
    policy_finish(&pol);
    struct consolidate_opts o;
    memset(&o, 0, sizeof(o));
    o.below_pct = 30;
    o.target_pct = 60;
    struct consolidation c;
    /* No cooldown: the idle host is emptied. */
    consolidation_init(&c);
    assert_int_equal(consolidate_plan(&cl, &pol, &o, &c), 0);
    assert_true(c.n_moves == 1);
    consolidation_done(&c);
    /* q arrived 50 s ago and the cooldown is 60 s: it stays. */
    pol.cooldown_s = 60;
    consolidation_init(&c);
    assert_int_equal(consolidate_plan(&cl, &pol, &o, &c), 0);
    assert_true(c.n_moves == 0);
    consolidation_done(&c);
    /* An excluded host never receives: with "busy" excluded, q has nowhere to go. */
    pol.cooldown_s = 0;
    assert_int_equal(policy_names_add(&pol.exclude_hosts, &pol.n_exclude_hosts, "busy", 4), 0);
    consolidation_init(&c);
    assert_int_equal(consolidate_plan(&cl, &pol, &o, &c), 0);
    assert_true(c.n_moves == 0);
    consolidation_done(&c);
    policy_done(&pol);
    cluster_done(&cl);
}

/* k of the last n: the window slides, older samples fall out. */
static void
test_persistence(void **state)
{
    (void)state;
    struct policy pol;
    policy_init(&pol);
    uint32_t seen = 0;
    /* 1/1: the latest sample alone. */
    seen = policy_persist_push(seen, true);
    assert_true(policy_persist_holds(&pol, seen));
    seen = policy_persist_push(seen, false);
    assert_false(policy_persist_holds(&pol, seen));
    /* 2/3 */
    pol.persist_k = 2;
    pol.persist_n = 3;
    seen = 0;
    seen = policy_persist_push(seen, true);
    assert_false(policy_persist_holds(&pol, seen)); /* 1 */
    seen = policy_persist_push(seen, false);
    assert_false(policy_persist_holds(&pol, seen)); /* 1 0 */
    seen = policy_persist_push(seen, true);
    assert_true(policy_persist_holds(&pol, seen)); /* 1 0 1 */
    seen = policy_persist_push(seen, false);
    assert_false(policy_persist_holds(&pol, seen)); /* (1) 0 1 0 */
    seen = policy_persist_push(seen, true);
    assert_true(policy_persist_holds(&pol, seen)); /* 1 0 1 */
    /* 3/5 over a long history: only the last five count. */
    pol.persist_k = 3;
    pol.persist_n = 5;
    seen = 0;
    for (int i = 0; i < 20; i++)
        seen = policy_persist_push(seen, true);
    for (int i = 0; i < 3; i++)
        seen = policy_persist_push(seen, false);
    assert_false(policy_persist_holds(&pol, seen)); /* 1 1 0 0 0 */
    seen = policy_persist_push(seen, true);
    assert_false(policy_persist_holds(&pol, seen)); /* 1 0 0 0 1 */
    seen = policy_persist_push(seen, true);
    assert_false(policy_persist_holds(&pol, seen)); /* 0 0 0 1 1 */
    seen = policy_persist_push(seen, true);
    assert_true(policy_persist_holds(&pol, seen)); /* 0 0 1 1 1 */
    /* 31/31 */
    pol.persist_k = 31;
    pol.persist_n = 31;
    seen = 0;
    for (int i = 0; i < 30; i++)
        seen = policy_persist_push(seen, true);
    assert_false(policy_persist_holds(&pol, seen));
    seen = policy_persist_push(seen, true);
    assert_true(policy_persist_holds(&pol, seen));
    policy_done(&pol);
}

int
main(void)
{
    struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0]) + 2];
    size_t n = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct CMUnitTest t = {cases[i].name, test_cooldown, NULL, NULL, (void *)&cases[i]};
        tests[n++] = t;
    }
    struct CMUnitTest t2 = cmocka_unit_test(test_consolidation_respects_cooldown);
    struct CMUnitTest t3 = cmocka_unit_test(test_persistence);
    tests[n++] = t2;
    tests[n++] = t3;
    return _cmocka_run_group_tests("antiflap", tests, n, NULL, NULL);
}

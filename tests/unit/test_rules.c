/* Placement rules in the core ([rule "NAME"] and [relocate] exclude_hosts): a move never
 * breaks a "must" rule; "should" rules weigh in the choice of destination; a VM held by a
 * "together" rule is not moved alone; a conflict a rule leaves unresolved names the rule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/plan.h"
#include "proto/policy_ini.h"
#include "testcl.h"

/* h1 in conflict: a 45, b 35, c 10 (90 %); h2 at 10 % (the best destination) running x;
 * h3 at 30 % running y; h4 at 60 % running z (no room for a). */
static void
build(struct cluster *cl)
{
    size_t i;
    cluster_init(cl);
    static const struct {
        const char *host;
        double cpu;
        const char *vms[3];
        double vcpu[3];
    } hs[] = {
        {"h1", 90, {"a", "b", "c"}, {45, 35, 10}},
        {"h2", 10, {"x", NULL, NULL}, {10, 0, 0}},
        {"h3", 30, {"y", NULL, NULL}, {30, 0, 0}},
        {"h4", 60, {"z", NULL, NULL}, {60, 0, 0}},
    };
    for (size_t h = 0; h < 4; h++) {
        assert_int_equal(cluster_add_host(cl, hs[h].host, 2, &i), 0);
        usage_set(&cl->hosts[i].usage, KIND_CPU, hs[h].cpu);
        for (size_t v = 0; v < 3 && hs[h].vms[v] != NULL; v++) {
            assert_int_equal(cluster_add_vm(cl, hs[h].vms[v], 1, &i), 0);
            usage_set(&cl->vms[i].usage, KIND_CPU, hs[h].vcpu[v]);
        }
    }
}

struct rcase {
    const char *name;
    const char *config;
    const char *vm; /* the VM moved off h1, NULL: unresolved */
    const char *to;
    const char *reason; /* unresolved: its reason */
    const char *rule;   /* unresolved no-destination: the rule named, or NULL */
};

static const struct rcase cases[] = {
    {"no rules: a to h2", "", "a", "h2", NULL, NULL},
    {"apart from x: a to h3", "[rule \"r\"]\ntype = apart\nvms = a, x\n", "a", "h3", NULL, NULL},
    {"apart should: still h3", "[rule \"r\"]\ntype = apart\nstrength = should\nvms = a, x\n", "a",
     "h3", NULL, NULL},
    {"on h3, h4: a to h3", "[rule \"r\"]\ntype = on\nvms = a\nhosts = h3, h4\n", "a", "h3", NULL,
     NULL},
    {"not on h2: a to h3", "[rule \"r\"]\ntype = not-on\nvms = a\nhosts = h2\n", "a", "h3", NULL,
     NULL},
    {"should be on h4: h4 has no room for 45, so h2",
     "[rule \"r\"]\ntype = on\nstrength = should\nvms = a\nhosts = h4\n", "a", "h2", NULL, NULL},
    {"should be on h3: h3 wins over the better h2",
     "[rule \"r\"]\ntype = on\nstrength = should\nvms = a\nhosts = h3\n", "a", "h3", NULL, NULL},
    {"a and b together: c moves instead", "[rule \"r\"]\ntype = together\nvms = a, b\n", "c", "h2",
     NULL, NULL},
    {"all three together: nothing moves", "[rule \"r\"]\ntype = together\nvms = a, b, c\n", NULL,
     NULL, "no-movable-vm", NULL},
    {"excluded h2: a to h3", "[relocate]\nexclude_hosts = h2\n", "a", "h3", NULL, NULL},
    {"apart from everything: no destination, rule named",
     "[rule \"keep-a-alone\"]\ntype = apart\nvms = a, x, y, z\n", NULL, NULL, "no-destination",
     "keep-a-alone"},
    {"a rule about VMs elsewhere is ignored", "[rule \"r\"]\ntype = apart\nvms = ghost, a\n", "a",
     "h2", NULL, NULL},
};

static void
test_rule(void **state)
{
    const struct rcase *c = *state;
    struct cluster cl;
    build(&cl);
    struct policy pol;
    policy_init(&pol);
    struct perr err;
    if (config_parse_string(c->config, "rules.ini", &pol, &err) < 0)
        fail_msg("%s: %s", c->name, err.msg);
    struct plan p;
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.n_conflicts, 1);
    if (c->vm != NULL) {
        assert_int_equal(p.n_moves, 1);
        assert_string_equal(cl.vms[p.moves[0].vm].name, c->vm);
        assert_string_equal(cl.hosts[p.moves[0].to].name, c->to);
    } else {
        assert_int_equal(p.n_moves, 0);
        assert_int_equal(p.n_unresolved, 1);
        assert_string_equal(plan_reason_name(p.unresolved[0].reason), c->reason);
        if (c->rule != NULL) {
            assert_true(p.unresolved[0].rule_id > 0);
            assert_string_equal(pol.rules[p.unresolved[0].rule_id - 1].name, c->rule);
            /* The host it would have gone to: h2, the best. */
            assert_string_equal(cl.hosts[p.unresolved[0].rule_host].name, "h2");
        } else {
            assert_int_equal(p.unresolved[0].rule_id, 0);
        }
    }
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
}

/* A drain keeps the rules too: VMs held together block it, naming the rule's reason. */
static void
test_drain_together(void **state)
{
    (void)state;
    struct cluster cl;
    build(&cl);
    cl.hosts[0].state = HOST_MAINTENANCE;
    struct policy pol;
    policy_init(&pol);
    struct perr err;
    assert_int_equal(config_parse_string("[rule \"r\"]\ntype = together\nvms = a, b, c\n",
                                         "rules.ini", &pol, &err),
                     0);
    struct plan_opts o = {.drain = true};
    struct plan p;
    tc_plan(&cl, &pol, &o, &p);
    assert_int_equal(p.n_moves, 0);
    assert_int_equal(p.n_drains, 1);
    assert_int_equal(p.drains[0].block, PLAN_BLOCK_RULE);
    assert_string_equal(plan_block_name(p.drains[0].block), "rule");
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
}

/* Explanations: every other host with its verdict, the possible ones first. */
static void
test_explain(void **state)
{
    (void)state;
    struct cluster cl;
    build(&cl);
    /* h5 down, h6 in maintenance, h7 excluded, h8 full of memory. */
    size_t i;
    static const char *const more[] = {"h5", "h6", "h7", "h8"};
    for (int h = 0; h < 4; h++) {
        assert_int_equal(cluster_add_host(&cl, more[h], 2, &i), 0);
        usage_set(&cl.hosts[i].usage, KIND_CPU, 0);
    }
    cl.hosts[4].state = HOST_DOWN;
    cl.hosts[5].state = HOST_MAINTENANCE;
    cl.hosts[7].mem_mib = 100;
    cl.hosts[7].has_mem = true;
    cl.vms[0].mem_mib = 512; /* a */
    cl.vms[0].has_mem = true;
    cl.vms[0].arrived = 950;
    cl.time = 1000;
    cl.has_time = true;
    struct policy pol;
    policy_init(&pol);
    struct perr err;
    assert_int_equal(config_parse_string("[relocate]\nexclude_hosts = h7\ncooldown = 60\n"
                                         "[rule \"r\"]\ntype = apart\nvms = a, x\n"
                                         "[rule \"s\"]\ntype = on\nstrength = should\nvms = a\n"
                                         "hosts = h4\n",
                                         "rules.ini", &pol, &err),
                     0);
    struct vm_explain e;
    assert_int_equal(plan_explain_vm(&cl, &pol, NULL, 0, &e), 0);
    assert_true(e.host_in_conflict);
    assert_true(e.heavy);
    assert_true(e.cooling);
    assert_true(e.cooldown_left > 9.9 && e.cooldown_left < 10.1);
    assert_int_equal(e.n_dests, 7);
    assert_int_equal(e.n_ok, 1);
    /* h3 is the only one possible: h2 breaks the rule, h4 has no room (60 % used). */
    assert_string_equal(cl.hosts[e.dests[0].host].name, "h3");
    assert_int_equal(e.dests[0].verdict, DEST_OK);
    static const struct {
        const char *host;
        enum dest_verdict v;
    } want[] = {{"h2", DEST_RULE},        {"h4", DEST_NO_ROOM},  {"h5", DEST_NOT_UP},
                {"h6", DEST_MAINTENANCE}, {"h7", DEST_EXCLUDED}, {"h8", DEST_NO_MEMORY}};
    for (size_t k = 0; k < 6; k++) {
        const struct dest_explain *d = &e.dests[k + 1];
        assert_string_equal(cl.hosts[d->host].name, want[k].host);
        assert_int_equal(d->verdict, want[k].v);
        assert_string_not_equal(dest_verdict_name(d->verdict), "?");
    }
    assert_string_equal(pol.rules[e.dests[1].rule_id - 1].name, "r");
    assert_int_equal(e.dests[2].kind, KIND_CPU);
    assert_true(e.dests[2].free < e.dests[2].need);
    vm_explain_done(&e);
    assert_int_equal(plan_explain_vm(&cl, &pol, NULL, 999, &e), -EINVAL);
    policy_done(&pol);
    cluster_done(&cl);
}

int
main(void)
{
    struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0]) + 2];
    size_t n = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct CMUnitTest t = {cases[i].name, test_rule, NULL, NULL, (void *)&cases[i]};
        tests[n++] = t;
    }
    struct CMUnitTest t = cmocka_unit_test(test_drain_together);
    tests[n++] = t;
    struct CMUnitTest t2 = cmocka_unit_test(test_explain);
    tests[n++] = t2;
    return _cmocka_run_group_tests("rules", tests, n, NULL, NULL);
}

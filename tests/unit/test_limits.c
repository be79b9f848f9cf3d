/* Migration limits in the core ([relocate] max_migrations, max_per_host): a plan orders at
 * most max_migrations minus the caller's running ones, and moves into or out of one host at
 * most max_per_host times; conflicts past a limit are unresolved with reason "limit". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/plan.h"
#include "testcl.h"

/* Three hosts in conflict (s1..s3, 90 %: a 30 + b 60), then three with room: d1 at 5 %, d2 at
 * 20 %, d3 at 30 %. Each b (60) fits once on each destination. */
static void
build(struct cluster *cl)
{
    static const char *const src[] = {"s1", "s2", "s3"};
    static const char *const dst[] = {"d1", "d2", "d3"};
    static const double dst_cpu[] = {5, 20, 30};
    cluster_init(cl);
    for (int h = 0; h < 3; h++) {
        (void)tc_host(cl, src[h], 90);
        char a[4] = {'a', (char)('1' + h), 0, 0};
        char b[4] = {'b', (char)('1' + h), 0, 0};
        (void)tc_vm(cl, a, 30);
        (void)tc_vm(cl, b, 60);
    }
    for (int h = 0; h < 3; h++)
        (void)tc_host(cl, dst[h], dst_cpu[h]);
}

struct lcase {
    const char *name;
    uint32_t max_migrations;
    uint32_t max_per_host;
    size_t running;
    const char *const to[3]; /* destination of s1, s2, s3; NULL: unresolved "limit" */
};

static const struct lcase cases[] = {
    /* No limit: b1 (60) -> d1 (5 -> 65); b2 -> d2 (20 -> 80); then s1, down to 30 % and
     * first among the hosts with the most free cpu, takes b3. */
    {"no limit", 0, 0, 0, {"d1", "d2", "s1"}},
    {"two at once", 2, 0, 0, {"d1", "d2", NULL}},
    {"two at once, one running", 2, 0, 1, {"d1", NULL, NULL}},
    {"two at once, two running", 2, 0, 2, {NULL, NULL, NULL}},
    /* s1 had its move: b3 goes to d3. */
    {"one per host", 0, 1, 0, {"d1", "d2", "d3"}},
};

static void
test_limits(void **state)
{
    const struct lcase *c = *state;
    struct cluster cl;
    build(&cl);
    struct policy pol;
    policy_init(&pol);
    pol.dest_headroom = false; /* the numbers are chosen for the literal rule */
    pol.max_migrations = c->max_migrations;
    pol.max_per_host = c->max_per_host;
    policy_finish(&pol);
    struct plan p;
    plan_init(&p);
    struct plan_opts o = {.running = c->running};
    assert_int_equal(plan_compute(&cl, &pol, &o, &p), 0);
    assert_int_equal(p.n_conflicts, 3);
    for (uint32_t s = 0; s < 3; s++) {
        const char *got = NULL;
        for (size_t i = 0; i < p.n_moves; i++)
            if (p.moves[i].from == s)
                got = cl.hosts[p.moves[i].to].name;
        if (c->to[s] == NULL) {
            assert_null(got);
            bool limited = false;
            for (size_t i = 0; i < p.n_unresolved; i++)
                if (p.unresolved[i].host == s)
                    limited = p.unresolved[i].reason == PLAN_REASON_LIMIT;
            assert_true(limited);
        } else {
            assert_non_null(got);
            assert_string_equal(got, c->to[s]);
        }
    }
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
}

/* One per host: two sources whose best destination is the same host. Without the limit both
 * go there; with it the second goes to the next best. And a host that received a VM in this
 * plan is not a source again in it. */
static void
test_one_per_host(void **state)
{
    (void)state;
    size_t i;
    struct cluster cl;
    cluster_init(&cl);
    for (int h = 0; h < 2; h++) {
        (void)tc_host(&cl, h == 0 ? "s1" : "s2", 90);
        (void)tc_vm(&cl, h == 0 ? "a1" : "a2", 50);
        (void)tc_vm(&cl, h == 0 ? "b1" : "b2", 40);
    }
    i = tc_host(&cl, "big", 0); /* three times a host, idle */
    cl.hosts[i].capacity = 3;
    (void)tc_host(&cl, "next", 40);
    struct policy pol;
    policy_init(&pol);
    pol.dest_headroom = false; /* the numbers are chosen for the literal rule */
    policy_finish(&pol);
    struct plan p;
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.n_moves, 2);
    assert_string_equal(cl.hosts[p.moves[0].to].name, "big");
    assert_string_equal(cl.hosts[p.moves[1].to].name, "big");
    plan_done(&p);
    pol.max_per_host = 1;
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.n_moves, 2);
    assert_string_equal(cl.hosts[p.moves[0].to].name, "big");
    assert_string_equal(cl.hosts[p.moves[1].to].name, "next");
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
}

/* Memory: a VM goes only where its memory fits with the destination's reserve left. */
static void
test_memory_reserve(void **state)
{
    (void)state;
    size_t i;
    struct cluster cl;
    cluster_init(&cl);
    (void)tc_host(&cl, "s", 90);
    i = tc_vm(&cl, "a", 50);
    cl.vms[i].mem_mib = 4096;
    cl.vms[i].has_mem = true;
    (void)tc_vm(&cl, "b", 40);
    /* "free" is idle with 8 GiB of which a VM uses 3 GiB; "roomy" is busier, 64 GiB. */
    i = tc_host(&cl, "free", 10);
    cl.hosts[i].mem_mib = 8192;
    cl.hosts[i].has_mem = true;
    i = tc_vm(&cl, "x", 10);
    cl.vms[i].mem_mib = 3072;
    cl.vms[i].has_mem = true;
    i = tc_host(&cl, "roomy", 30);
    cl.hosts[i].mem_mib = 65536;
    cl.hosts[i].has_mem = true;
    struct policy pol;
    policy_init(&pol);
    pol.dest_headroom = false; /* the numbers are chosen for the literal rule */
    policy_finish(&pol);
    struct plan p;
    /* 8192 - 3072 = 5120 free >= 4096: "free" (the most free cpu) takes it. */
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.n_moves, 1);
    assert_string_equal(cl.hosts[p.moves[0].to].name, "free");
    plan_done(&p);
    /* With 2 GiB kept free, 3072 is left: only "roomy" fits. */
    pol.mem_reserve_mib = 2048;
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.n_moves, 1);
    assert_string_equal(cl.hosts[p.moves[0].to].name, "roomy");
    plan_done(&p);
    /* A per-host reserve: "roomy" keeps 62 GiB, "free" nothing. */
    pol.mem_reserve_mib = 0;
    struct host_override *o = NULL;
    assert_int_equal(policy_override_get(&pol, "roomy", 5, &o), 0);
    o->has_mem_reserve = true;
    o->mem_reserve_mib = 63488;
    assert_int_equal(policy_override_get(&pol, "free", 4, &o), 0);
    o->has_mem_reserve = true;
    o->mem_reserve_mib = 1025; /* 5120 - 1025 = 4095 < 4096 */
    policy_finish(&pol);
    tc_plan(&cl, &pol, NULL, &p);
    assert_int_equal(p.n_moves, 0);
    assert_int_equal(p.n_unresolved, 1);
    assert_int_equal(p.unresolved[0].reason, PLAN_REASON_NO_DESTINATION);
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
}

/* Drains: a host in maintenance sends off up to max(1, max_per_host) VMs per plan, heaviest
 * first, ignoring the cooldown; pinned VMs block it; max_migrations holds it back; nothing
 * moves onto it. */
static void
drain_cluster(struct cluster *cl, bool pin_all)
{
    size_t i;
    cluster_init(cl);
    cl->time = 1000;
    cl->has_time = true;
    assert_int_equal(cluster_add_host(cl, "m", 1, &i), 0);
    cl->hosts[i].state = HOST_MAINTENANCE;
    usage_set(&cl->hosts[i].usage, KIND_CPU, 45);
    static const char *const names[] = {"a", "b", "c"};
    static const double cpu[] = {10, 20, 15};
    for (int v = 0; v < 3; v++) {
        i = tc_vm(cl, names[v], cpu[v]);
        cl->vms[i].arrived = 990; /* cooling down, if a cooldown is set */
        cl->vms[i].pinned = pin_all;
    }
    (void)tc_host(cl, "h", 20);
    assert_int_equal(cluster_add_host(cl, "idle", 4, &i), 0); /* emptier, but in maintenance */
    cl->hosts[i].state = HOST_MAINTENANCE;
    usage_set(&cl->hosts[i].usage, KIND_CPU, 0);
}

static void
test_drain(void **state)
{
    (void)state;
    struct cluster cl;
    struct policy pol;
    struct plan p;
    drain_cluster(&cl, false);
    policy_init(&pol);
    pol.cooldown_s = 600;
    policy_finish(&pol);
    struct plan_opts o = {.drain = true};
    /* Default: one VM per plan, the heaviest (b), to h (idle is in maintenance too). */
    tc_plan(&cl, &pol, &o, &p);
    assert_int_equal(p.n_moves, 1);
    assert_string_equal(cl.vms[p.moves[0].vm].name, "b");
    assert_string_equal(cl.hosts[p.moves[0].to].name, "h");
    assert_int_equal(p.moves[0].why, PLAN_MOVE_DRAIN);
    assert_int_equal(p.n_drains, 2);
    assert_int_equal(p.drains[0].vms_left, 3);
    assert_int_equal(p.drains[0].moving, 1);
    assert_int_equal(p.drains[0].block, 0);
    assert_int_equal(p.drains[1].vms_left, 0); /* idle: nothing to move */
    plan_done(&p);
    /* max_per_host 2: b then c. */
    pol.max_per_host = 2;
    tc_plan(&cl, &pol, &o, &p);
    assert_int_equal(p.n_moves, 2);
    assert_string_equal(cl.vms[p.moves[1].vm].name, "c");
    plan_done(&p);
    /* max_migrations 1 with one running: held back. */
    pol.max_per_host = 0;
    pol.max_migrations = 1;
    o.running = 1;
    tc_plan(&cl, &pol, &o, &p);
    assert_int_equal(p.n_moves, 0);
    assert_int_equal(p.drains[0].block, PLAN_BLOCK_LIMIT);
    plan_done(&p);
    /* The caller says a move of m runs: busy. */
    pol.max_migrations = 0;
    o.running = 0;
    bool busy[3] = {true, false, false};
    o.no_source = busy;
    tc_plan(&cl, &pol, &o, &p);
    assert_int_equal(p.n_moves, 0);
    assert_int_equal(p.drains[0].block, PLAN_BLOCK_BUSY);
    plan_done(&p);
    o.no_source = NULL;
    /* Without opts.drain nothing moves. */
    struct plan_opts none = {0};
    tc_plan(&cl, &pol, &none, &p);
    assert_int_equal(p.n_moves, 0);
    assert_null(p.drains);
    plan_done(&p);
    cluster_done(&cl);
    /* All pinned: blocked, naming one. */
    drain_cluster(&cl, true);
    tc_plan(&cl, &pol, &o, &p);
    assert_int_equal(p.n_moves, 0);
    assert_int_equal(p.drains[0].block, PLAN_BLOCK_PINNED);
    assert_string_equal(cl.vms[p.drains[0].vm].name, "a");
    plan_done(&p);
    cluster_done(&cl);
    /* No room anywhere: blocked, naming the VM tried. */
    drain_cluster(&cl, false);
    usage_set(&cl.hosts[1].usage, KIND_CPU, 95);
    tc_plan(&cl, &pol, &o, &p);
    assert_int_equal(p.n_moves, 0);
    assert_int_equal(p.drains[0].block, PLAN_BLOCK_NO_DESTINATION);
    assert_string_equal(cl.vms[p.drains[0].vm].name, "b");
    plan_done(&p);
    cluster_done(&cl);
    policy_done(&pol);
}

int
main(void)
{
    struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0]) + 3];
    size_t n = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct CMUnitTest t = {cases[i].name, test_limits, NULL, NULL, (void *)&cases[i]};
        tests[n++] = t;
    }
    struct CMUnitTest t = cmocka_unit_test(test_one_per_host);
    tests[n++] = t;
    struct CMUnitTest t2 = cmocka_unit_test(test_memory_reserve);
    tests[n++] = t2;
    struct CMUnitTest t3 = cmocka_unit_test(test_drain);
    tests[n++] = t3;
    return _cmocka_run_group_tests("limits", tests, n, NULL, NULL);
}

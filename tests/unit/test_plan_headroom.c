/* The destination headroom check ([relocate] dest_headroom = yes): a destination must stay
 * below its own host threshold after the move, so a move never creates the next conflict.
 * Off by default, where only room (free > need) is asked for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/plan.h"

/* h1 is in conflict (90 %, a=45, b=40); h2 at 40 % and h3 at 50 %, all capacity 1. */
static void
build(struct cluster *cl, double h2_cpu, double h3_cpu)
{
    size_t i;
    cluster_init(cl);
    assert_int_equal(cluster_add_host(cl, "h1", 2, &i), 0);
    usage_set(&cl->hosts[i].usage, KIND_CPU, 90);
    assert_int_equal(cluster_add_vm(cl, "a", 1, &i), 0);
    usage_set(&cl->vms[i].usage, KIND_CPU, 45);
    assert_int_equal(cluster_add_vm(cl, "b", 1, &i), 0);
    usage_set(&cl->vms[i].usage, KIND_CPU, 40);
    assert_int_equal(cluster_add_host(cl, "h2", 2, &i), 0);
    usage_set(&cl->hosts[i].usage, KIND_CPU, h2_cpu);
    assert_int_equal(cluster_add_host(cl, "h3", 2, &i), 0);
    usage_set(&cl->hosts[i].usage, KIND_CPU, h3_cpu);
}

struct hcase {
    const char *name;
    double h2;
    double h3;
    bool headroom;
    double h3_threshold;   /* per-host override, 0 = none */
    const char *expect_to; /* NULL: unresolved no-destination */
};

static const struct hcase cases[] = {
    /* 40 + 45 = 85 >= 80: only room without the check, refused with it. */
    {"room only", 40, 50, false, 0, "h2"},
    {"headroom refuses 85", 40, 50, true, 0, NULL},
    /* 34 + 45 = 79 < 80: fits below the threshold. */
    {"headroom accepts 79", 34, 50, true, 0, "h2"},
    /* Exactly at the threshold after the move is a conflict: refused. */
    {"headroom refuses exactly 80", 35, 50, true, 0, NULL},
    /* The destination's own threshold counts: h3 allows 95. */
    {"per-host threshold", 40, 49, true, 95, "h3"},
};

static void
test_headroom(void **state)
{
    const struct hcase *c = *state;
    struct cluster cl;
    struct policy pol;
    struct plan p;
    build(&cl, c->h2, c->h3);
    policy_init(&pol);
    pol.dest_headroom = c->headroom;
    if (c->h3_threshold > 0) {
        struct host_override *o;
        assert_int_equal(policy_override_get(&pol, "h3", 2, &o), 0);
        o->host_threshold_all = c->h3_threshold;
        o->has_threshold_all = true;
    }
    policy_finish(&pol);
    plan_init(&p);
    assert_int_equal(plan_compute(&cl, &pol, NULL, &p), 0);
    assert_int_equal(p.n_conflicts, 1);
    if (c->expect_to != NULL) {
        assert_int_equal(p.n_moves, 1);
        assert_string_equal(cl.hosts[p.moves[0].to].name, c->expect_to);
        assert_string_equal(cl.vms[p.moves[0].vm].name, "a");
    } else {
        assert_int_equal(p.n_moves, 0);
        assert_int_equal(p.n_unresolved, 1);
        assert_int_equal(p.unresolved[0].reason, PLAN_REASON_NO_DESTINATION);
    }
    plan_done(&p);
    policy_done(&pol);
    cluster_done(&cl);
}

int
main(void)
{
    struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0])];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&tests[i], 0, sizeof(tests[i]));
        tests[i].name = cases[i].name;
        tests[i].test_func = test_headroom;
        tests[i].initial_state = (void *)&cases[i];
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The simulated host's contention model (agent/simhost.h): each VM's CPU wait is its unmet
 * share of demand when the host is over-subscribed (core/cpuwait.h), 0 with room, unknown
 * for a VM only arriving; the host stalls (cpu pressure) exactly when some VM waits. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/simhost.h"

static void
add(struct simhost *h, const char *name, double cpu)
{
    struct simvm v;
    memset(&v, 0, sizeof(v));
    (void)snprintf(v.name, sizeof(v.name), "%s", name);
    v.demand[KIND_CPU] = cpu;
    v.arrived = -1;
    v.trace_vm = -1;
    assert_int_equal(simhost_add(h, &v), 0);
}

static void
set_cpu(struct simhost *h, const char *name, double cpu)
{
    double pct[KIND_COUNT] = {0};
    pct[KIND_CPU] = cpu;
    assert_int_equal(simhost_set_demand(h, name, KIND_BIT(KIND_CPU), pct), 0);
}

static void
test_wait(void **state)
{
    (void)state;
    struct simhost h;
    assert_int_equal(simhost_init(&h, "h1"), 0);
    add(&h, "a", 70);
    add(&h, "b", 40);
    add(&h, "idle", 0);
    double wait[3];
    /* 110 % asked of the 98 % the VMs may have: each gets 98/110 and waits the rest. */
    simhost_cpu_wait(&h, wait);
    assert_true(simhost_cpu_stalled(&h));
    assert_true(fabs(wait[0] - 100.0 * (1.0 - 98.0 / 110.0)) < 1e-9);
    assert_true(wait[1] == wait[0]);
    assert_true(wait[2] == 0.0);
    /* Room again: nobody waits; an arriving VM does not run here (unknown). */
    set_cpu(&h, "a", 58); /* exactly the 98 % */
    assert_false(simhost_cpu_stalled(&h));
    set_cpu(&h, "a", 45);
    assert_int_equal(simhost_set_state(&h, "b", SIMVM_INCOMING), 0);
    simhost_cpu_wait(&h, wait);
    assert_true(wait[0] == 0.0);
    assert_true(wait[1] < 0.0);
    assert_false(simhost_cpu_stalled(&h));
    /* An arrival's reservation (10 % of its demand) counts: 95 + 4 > 98. */
    set_cpu(&h, "a", 95);
    assert_true(simhost_cpu_stalled(&h));
    simhost_done(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

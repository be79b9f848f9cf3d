#define _POSIX_C_SOURCE 200809L
/* Trace-driven demand of the simulated backend (agent/hv_trace.c): which trace sample a VM
 * asks for at a wall time, and what it asks for in percent of its host, the simulator's way
 * (utilisation x MIPS, one host core per VM core at most; disk and network over the host's
 * KB/s). The trace is built in memory. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/hv_trace.h"

/* Two VMs ("a", "b") over 4 samples (+ the repeat), utilisation per sample. */
static const double util[2][5] = {{0.10, 0.50, 0.00, 1.00, 1.00}, {0.20, 0.20, 0.80, 0.40, 0.40}};

static void
make(struct hv_trace *t, bool io)
{
    memset(t, 0, sizeof(*t));
    hv_trace_opts_init(&t->o);
    t->o.start = 1000.0;
    t->o.step_s = 0.5;
    t->o.host_mips = 3720.0;
    t->o.host_cores = 2;
    t->o.disk_kbs = 1000.0;
    t->o.net_kbs = 2000.0;
    trace_init(&t->tr);
    t->tr.n_vms = 2;
    t->tr.n_samples = 4;
    t->tr.names = calloc(2, sizeof(char *));
    t->tr.names[0] = strdup("a");
    t->tr.names[1] = strdup("b");
    t->tr.cpu = calloc(10, sizeof(double));
    for (size_t k = 0; k < 5; k++) {
        t->tr.cpu[k * 2] = util[0][k];
        t->tr.cpu[k * 2 + 1] = util[1][k];
    }
    if (io) {
        t->tr.format = TRACE_BITBRAINS;
        t->tr.disk_kbs = calloc(10, sizeof(double));
        t->tr.net_kbs = calloc(10, sizeof(double));
        for (size_t k = 0; k < 10; k++) {
            t->tr.disk_kbs[k] = 100.0 * (double)k;
            t->tr.net_kbs[k] = 5000.0;
        }
    }
    t->loaded = true;
}

/* The sample nearest to the time, from t0 = start: before the first, sample 1; after the
 * last, the last. */
static void
test_sample_at(void **state)
{
    (void)state;
    struct hv_trace t;
    make(&t, false);
    assert_int_equal(hv_trace_sample_at(&t, 900.0), 1);
    assert_int_equal(hv_trace_sample_at(&t, 1000.0), 1);
    assert_int_equal(hv_trace_sample_at(&t, 1000.49), 1);
    assert_int_equal(hv_trace_sample_at(&t, 1000.5), 1);
    assert_int_equal(hv_trace_sample_at(&t, 1000.74), 1);
    assert_int_equal(hv_trace_sample_at(&t, 1000.76), 2);
    assert_int_equal(hv_trace_sample_at(&t, 1001.0), 2);
    assert_int_equal(hv_trace_sample_at(&t, 1001.5), 3);
    assert_int_equal(hv_trace_sample_at(&t, 1002.0), 4);
    assert_int_equal(hv_trace_sample_at(&t, 5000.0), 4);
    assert_int_equal(hv_trace_find(&t, "a"), 0);
    assert_int_equal(hv_trace_find(&t, "b"), 1);
    assert_int_equal(hv_trace_find(&t, "c"), -1);
    hv_trace_done(&t);
}

static void
test_demand(void **state)
{
    (void)state;
    struct hv_trace t;
    make(&t, false);
    double pct[KIND_COUNT];
    /* Sample 1 of a, a tenth of a second into it: (0.5 + (0 - 0.5) x 0.1 / 300) x 2500
     * MIPS, below one core (1860), over 3720. */
    hv_trace_demand(&t, 0, 2500, 1, 1000.5, pct);
    double u1 = 0.5 - 0.5 * HV_TRACE_OFFSET_S / 300.0;
    assert_true(fabs(pct[KIND_CPU] - u1 * 2500.0 / 3720.0 * 100.0) < 1e-9);
    assert_true(pct[KIND_DISK] == 0 && pct[KIND_NET] == 0);
    /* Sample 3 of a: 1.0 x 2500 = 2500, capped at one core: 1860 of 3720 = 50 %; with two
     * cores, 2500. */
    hv_trace_demand(&t, 0, 2500, 1, 1001.5, pct);
    assert_true(fabs(pct[KIND_CPU] - 50.0) < 1e-9);
    hv_trace_demand(&t, 0, 2500, 2, 1001.5, pct);
    assert_true(fabs(pct[KIND_CPU] - 2500.0 / 3720.0 * 100.0) < 1e-9);
    /* Sample 2 of a is exactly 0: read a tenth of a second into the step, as the simulator
     * decides, it asks for a little (towards sample 3). */
    hv_trace_demand(&t, 0, 1000, 1, 1001.0, pct);
    double want = (0.0 + (1.0 - 0.0) * HV_TRACE_OFFSET_S / 300.0) * 1000.0 / 3720.0 * 100.0;
    assert_true(pct[KIND_CPU] > 0);
    assert_true(fabs(pct[KIND_CPU] - want) < 1e-9);
    /* A VM of 0 MIPS asks for nothing; an unknown VM too. */
    hv_trace_demand(&t, 1, 0, 1, 1001.0, pct);
    assert_true(pct[KIND_CPU] == 0);
    hv_trace_demand(&t, 7, 1000, 1, 1001.0, pct);
    assert_true(pct[KIND_CPU] == 0);
    hv_trace_done(&t);
}

/* Bitbrains: disk and network over the host's KB/s, at most 100 %. */
static void
test_io(void **state)
{
    (void)state;
    struct hv_trace t;
    make(&t, true);
    double pct[KIND_COUNT];
    hv_trace_demand(&t, 1, 1000, 1, 1001.0, pct);                      /* sample 2 of b */
    double disk = 500.0 + (700.0 - 500.0) * HV_TRACE_OFFSET_S / 300.0; /* values 2*2+1, 3*2+1 */
    assert_true(fabs(pct[KIND_DISK] - disk / 1000.0 * 100.0) < 1e-9);
    assert_true(pct[KIND_NET] == 100.0); /* 5000 of 2000 KB/s: capped */
    t.o.net_kbs = 0;
    hv_trace_demand(&t, 1, 1000, 1, 1001.0, pct);
    assert_true(pct[KIND_NET] == 0); /* not measured on this host */
    hv_trace_done(&t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_at),
        cmocka_unit_test(test_demand),
        cmocka_unit_test(test_io),
    };
    return cmocka_run_group_tests_name("hv_trace", tests, NULL, NULL);
}

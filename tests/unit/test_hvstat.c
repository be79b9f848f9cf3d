/* The libvirt backend's arithmetic (agent/hvstat.c): CPU lists, /proc/stat and /proc/meminfo
 * text, and per-domain counter rates with their fresh baselines. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/hvstat.h"

static void
test_cpuset(void **state)
{
    (void)state;
    struct cpuset cs;
    assert_int_equal(cpuset_parse("", &cs), 0);
    assert_int_equal(cs.n, 0);
    assert_int_equal(cpuset_parse("0-3,8,10-11", &cs), 0);
    assert_int_equal(cs.n, 7);
    assert_true(cs.on[0] && cs.on[3] && cs.on[8] && cs.on[11]);
    assert_false(cs.on[4] || cs.on[9]);
    assert_int_equal(cpuset_parse("1023", &cs), 0);
    static const char *const bad[] = {"1024", "3-1",  "0,0",  "0-2,1",
                                      ",1",   "1,",   "a",    "1 2",
                                      "-1",   "0--1", "0,,1", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (cpuset_parse(bad[i], &cs) != -EINVAL)
            print_error("cpuset \"%s\" accepted\n", bad[i]);
        assert_int_equal(cpuset_parse(bad[i], &cs), -EINVAL);
    }
}

static const char stat_text[] = "cpu  100 10 50 800 40 5 5 0 0 0\n"
                                "cpu0 60 5 30 400 20 3 2 0 0 0\n"
                                "cpu1 40 5 20 400 20 2 3 0 0 0\n"
                                "intr 12345 1 2 3\n"
                                "ctxt 999\n";

static void
test_procstat(void **state)
{
    (void)state;
    struct cpuset all;
    struct cpuset one;
    struct cpuset missing;
    assert_int_equal(cpuset_parse("", &all), 0);
    assert_int_equal(cpuset_parse("1", &one), 0);
    assert_int_equal(cpuset_parse("1-2", &missing), 0);
    uint64_t busy;
    uint64_t total;
    unsigned n;
    assert_int_equal(procstat_parse(stat_text, strlen(stat_text), &all, &busy, &total, &n), 0);
    assert_int_equal(busy, 100 + 10 + 50 + 5 + 5 + 0);
    assert_int_equal(total, busy + 800 + 40);
    assert_int_equal(n, 2);
    assert_int_equal(procstat_parse(stat_text, strlen(stat_text), &one, &busy, &total, &n), 0);
    assert_int_equal(busy, 40 + 5 + 20 + 2 + 3);
    assert_int_equal(total, busy + 400 + 20);
    assert_int_equal(n, 1);
    assert_int_equal(procstat_parse(stat_text, strlen(stat_text), &missing, &busy, &total, &n),
                     -EINVAL);
    assert_int_equal(procstat_parse("intr 1\n", 7, &all, &busy, &total, &n), -EINVAL);
    assert_int_equal(procstat_parse("", 0, &all, &busy, &total, &n), -EINVAL);
    /* A line cut short, with no newline at the end. */
    const char *cut = "cpu  1 2 3 4\ncpu0 1 2 3 4";
    assert_int_equal(procstat_parse(cut, strlen(cut), &all, &busy, &total, &n), 0);
    assert_int_equal(busy, 6);
    assert_int_equal(total, 10);
    const char *short_line = "cpu  1 2\ncpu0 1 2\n";
    assert_int_equal(procstat_parse(short_line, strlen(short_line), &all, &busy, &total, &n),
                     -EINVAL);
}

static void
test_meminfo(void **state)
{
    (void)state;
    const char *t = "MemFree:  1000 kB\nMemTotal:       2097152 kB\n";
    double mib = 0;
    assert_int_equal(meminfo_total_mib(t, strlen(t), &mib), 0);
    assert_true(mib == 2048.0);
    assert_int_equal(meminfo_total_mib("MemFree: 1 kB\n", 14, &mib), -EINVAL);
    assert_int_equal(meminfo_total_mib("MemTotal: kB\n", 13, &mib), -EINVAL);
    assert_int_equal(meminfo_total_mib("MemTotal: 0 kB\n", 15, &mib), -EINVAL);
}

static void
test_rates(void **state)
{
    (void)state;
    struct rate_table t;
    rate_table_init(&t);
    double r[RATE_COUNTERS];
    uint64_t c1[RATE_COUNTERS] = {1000000000ull, 4096, 100};
    uint64_t c2[RATE_COUNTERS] = {3000000000ull, 4096 + 1048576, 300};
    /* First sight: a baseline, no rate. */
    assert_int_equal(rate_update(&t, "uuid-a", 1, 10.0, 0.0, c1, r), 0);
    /* Two seconds later: per-second increases. */
    assert_int_equal(rate_update(&t, "uuid-a", 1, 12.0, 0.0, c2, r), 1);
    assert_true(r[RATE_CPU_NS] == 1e9);
    assert_true(r[RATE_DISK_BYTES] == 524288.0);
    assert_true(r[RATE_NET_BYTES] == 100.0);
    /* No time passed: the last rates again, and the baseline stays. */
    memset(r, 0, sizeof(r));
    assert_int_equal(rate_update(&t, "uuid-a", 1, 12.0, 0.0, c2, r), 1);
    assert_true(r[RATE_CPU_NS] == 1e9);
    /* A counter went backwards (restarted or migrated in): a fresh baseline, no negative
     * rate; the next sample has a rate again from there. */
    uint64_t c3[RATE_COUNTERS] = {5000, 0, 0};
    assert_int_equal(rate_update(&t, "uuid-a", 1, 13.0, 0.0, c3, r), 0);
    uint64_t c4[RATE_COUNTERS] = {5000 + 500000000ull, 10, 20};
    assert_int_equal(rate_update(&t, "uuid-a", 1, 14.0, 0.0, c4, r), 1);
    assert_true(r[RATE_CPU_NS] == 5e8);
    /* Per key: another domain has its own baseline. */
    assert_int_equal(rate_update(&t, "uuid-b", 1, 14.0, 0.0, c1, r), 0);
    assert_int_equal(t.n, 2);
    /* A sweep keeps what was fed since the last one, then forgets what was not. */
    rate_sweep(&t);
    assert_int_equal(t.n, 2);
    assert_int_equal(rate_update(&t, "uuid-b", 1, 15.0, 0.0, c2, r), 1);
    rate_sweep(&t);
    assert_int_equal(t.n, 1);
    assert_string_equal(t.e[0].key, "uuid-b");
    /* uuid-a was forgotten: it starts again from a baseline. */
    assert_int_equal(rate_update(&t, "uuid-a", 1, 16.0, 0.0, c4, r), 0);
    char longkey[80];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    assert_int_equal(rate_update(&t, longkey, 1, 16.0, 0.0, c4, r), -EINVAL);
    assert_int_equal(rate_update(&t, "", 1, 16.0, 0.0, c4, r), -EINVAL);
    rate_table_done(&t);
}

/* A sample taken early (on an event) keeps the baseline and gives the last rates: no rate is
 * measured over a few milliseconds. */
static void
test_rates_min_dt(void **state)
{
    (void)state;
    struct rate_table t;
    rate_table_init(&t);
    double r[RATE_COUNTERS];
    uint64_t c0[RATE_COUNTERS] = {0, 0, 0};
    uint64_t c1[RATE_COUNTERS] = {1000000000ull, 0, 0};
    uint64_t c2[RATE_COUNTERS] = {1010000000ull, 0, 0};
    uint64_t c3[RATE_COUNTERS] = {1500000000ull, 0, 0};
    assert_int_equal(rate_update(&t, "d", 1, 0.0, 0.5, c0, r), 0);
    /* Too early, and no rate yet: none. */
    assert_int_equal(rate_update(&t, "d", 1, 0.01, 0.5, c0, r), 0);
    assert_int_equal(rate_update(&t, "d", 1, 1.0, 0.5, c1, r), 1);
    assert_true(r[RATE_CPU_NS] == 1e9);
    /* 5 ms later a jiffy ticked: 2e9/s would be nonsense; the last rate stands. */
    assert_int_equal(rate_update(&t, "d", 1, 1.005, 0.5, c2, r), 1);
    assert_true(r[RATE_CPU_NS] == 1e9);
    /* From the kept baseline (t = 1): 0.5e9 over 1 s. */
    assert_int_equal(rate_update(&t, "d", 1, 2.0, 0.5, c3, r), 1);
    assert_true(r[RATE_CPU_NS] == 5e8);
    /* Backwards even when early: a fresh baseline. */
    assert_int_equal(rate_update(&t, "d", 1, 2.1, 0.5, c0, r), 0);
    rate_table_done(&t);
}

/* Another run of the domain (a new domain id: a new QEMU process) starts a fresh baseline even
 * when its counters are above the old ones; a forgotten baseline (rate_forget()) is taken again
 * from the next reading, and its last rates are not given again. */
static void
test_rates_generation_and_forget(void **state)
{
    (void)state;
    struct rate_table t;
    rate_table_init(&t);
    double r[RATE_COUNTERS];
    uint64_t c0[RATE_COUNTERS] = {1000000000ull, 0, 0};
    uint64_t c1[RATE_COUNTERS] = {2000000000ull, 0, 0};
    uint64_t c2[RATE_COUNTERS] = {2100000000ull, 0, 0};
    uint64_t c3[RATE_COUNTERS] = {3100000000ull, 0, 0};
    assert_int_equal(rate_update(&t, "d", 7, 0.0, 0.5, c0, r), 0);
    assert_int_equal(rate_update(&t, "d", 7, 1.0, 0.5, c1, r), 1);
    assert_true(r[RATE_CPU_NS] == 1e9);
    /* Run 9 of the domain, its counters above run 7's: no rate across the two. */
    assert_int_equal(rate_update(&t, "d", 9, 2.0, 0.5, c2, r), 0);
    assert_int_equal(rate_update(&t, "d", 9, 3.0, 0.5, c3, r), 1);
    assert_true(r[RATE_CPU_NS] == 1e9);
    /* Forgotten: the next reading is a baseline, and an early one after it has no rate (the
     * last one, from before, is not repeated). */
    rate_forget(&t, "d");
    rate_forget(&t, "unknown"); /* nothing to forget: nothing happens */
    assert_int_equal(t.n, 0);
    assert_int_equal(rate_update(&t, "d", 9, 4.0, 0.5, c3, r), 0);
    assert_int_equal(rate_update(&t, "d", 9, 4.1, 0.5, c3, r), 0);
    rate_table_done(&t);
}

/* Many domains: the table grows and keeps each one apart. */
static void
test_rates_many(void **state)
{
    (void)state;
    struct rate_table t;
    rate_table_init(&t);
    double r[RATE_COUNTERS];
    char key[32];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 500; i++) {
            uint64_t c[RATE_COUNTERS] = {(uint64_t)(round * (i + 1)) * 1000u, 0, 0};
            (void)snprintf(key, sizeof(key), "dom-%d", i);
            int k = rate_update(&t, key, 1, (double)round, 0.0, c, r);
            assert_int_equal(k, round == 0 ? 0 : 1);
            if (k == 1)
                assert_true(r[RATE_CPU_NS] == (double)(i + 1) * 1000.0);
        }
        rate_sweep(&t);
    }
    assert_int_equal(t.n, 500);
    rate_table_done(&t);
}

/* /proc/pressure files as kernels write them (recorded on Debian 12's 6.1): cpu with its
 * "full" line (5.13 and later), and without it (earlier kernels), memory, io; and text that
 * is not PSI. */
static void
test_psi(void **state)
{
    (void)state;
    static const char cpu[] = "some avg10=33.49 avg60=25.10 avg300=32.01 total=2386549175\n"
                              "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n";
    static const char cpu_old[] = "some avg10=4.10 avg60=1.00 avg300=0.20 total=12345\n";
    static const char memory[] = "some avg10=2.94 avg60=0.94 avg300=0.29 total=69922122\n"
                                 "full avg10=0.03 avg60=0.22 avg300=0.07 total=38233170\n";
    static const char io[] = "some avg10=100.00 avg60=0.00 avg300=0.00 total=0\n"
                             "full avg10=7 avg60=0.00 avg300=0.00 total=0";
    struct pressure p;
    memset(&p, 0, sizeof(p));
    assert_int_equal(psi_parse(cpu, sizeof(cpu) - 1, PRESSURE_CPU, &p), 0);
    assert_true(p.pct[PRESSURE_CPU][PRESSURE_SOME] == 33.49);
    assert_true(pressure_has(&p, PRESSURE_CPU, PRESSURE_FULL));
    assert_true(p.pct[PRESSURE_CPU][PRESSURE_FULL] == 0.0);
    assert_int_equal(psi_parse(memory, sizeof(memory) - 1, PRESSURE_MEMORY, &p), 0);
    assert_true(p.pct[PRESSURE_MEMORY][PRESSURE_SOME] == 2.94);
    assert_true(p.pct[PRESSURE_MEMORY][PRESSURE_FULL] == 0.03);
    assert_int_equal(psi_parse(io, sizeof(io) - 1, PRESSURE_IO, &p), 0);
    assert_true(p.pct[PRESSURE_IO][PRESSURE_SOME] == 100.0);
    assert_true(p.pct[PRESSURE_IO][PRESSURE_FULL] == 7.0);
    assert_int_equal(p.present, 0x3f);

    /* Before 5.13 the cpu file has no "full": absent, not 0. */
    memset(&p, 0, sizeof(p));
    assert_int_equal(psi_parse(cpu_old, sizeof(cpu_old) - 1, PRESSURE_CPU, &p), 0);
    assert_true(pressure_has(&p, PRESSURE_CPU, PRESSURE_SOME));
    assert_false(pressure_has(&p, PRESSURE_CPU, PRESSURE_FULL));

    /* Not PSI, or out of range: nothing set. */
    static const char *const bad[] = {
        "",
        "cpu  1 2 3 4\n",
        "some avg10=101.00 avg60=0 avg300=0 total=0\n",
        "some avg10=-1.00 avg60=0 avg300=0 total=0\n",
        "some avg10=1.x avg60=0 avg300=0 total=0\n",
        "some avg60=1.00 avg10=1.00 total=0\n",
        "some avg10=. avg60=0 avg300=0 total=0\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&p, 0, sizeof(p));
        if (psi_parse(bad[i], strlen(bad[i]), PRESSURE_CPU, &p) != -EINVAL || p.present != 0)
            fail_msg("accepted: \"%s\"", bad[i]);
    }
}

/* CPU wait from the delay's rate: per vCPU, capped at 100 %. */
static void
test_cpu_wait(void **state)
{
    (void)state;
    assert_true(hvstat_cpu_wait_pct(0.5e9, 1) == 50.0);
    assert_true(hvstat_cpu_wait_pct(0.5e9, 4) == 12.5);
    assert_true(hvstat_cpu_wait_pct(3e9, 2) == 100.0);
    assert_true(hvstat_cpu_wait_pct(1e9, 0) == 0.0);
    assert_true(hvstat_cpu_wait_pct(-1.0, 2) == 0.0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psi),
        cmocka_unit_test(test_cpu_wait),
        cmocka_unit_test(test_cpuset),
        cmocka_unit_test(test_procstat),
        cmocka_unit_test(test_meminfo),
        cmocka_unit_test(test_rates),
        cmocka_unit_test(test_rates_many),
        cmocka_unit_test(test_rates_min_dt),
        cmocka_unit_test(test_rates_generation_and_forget),
    };
    return cmocka_run_group_tests_name("hvstat", tests, NULL, NULL);
}

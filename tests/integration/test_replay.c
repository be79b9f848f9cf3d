/* `vmloc replay` through the binary: a short trace played by the real manager (or the peers)
 * and real agents in each mode, its JSON (the keys of `vmloc sim --json` under "live" and
 * "sim", and the invariants), the report, and the errors for bad input. The trace is written
 * here: eight VMs at 10 % for six steps, after which five of them ask for 95 %, which puts one
 * host in conflict (24 steps of 0.3 s a mode); the simulator resolves it with one migration, and so
 * must the live system. A short run of a real PlanetLab day follows when ../shared/traces is there.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "clitest.h"

static const char *bin;
static const char *trace_dir;

/* Eight PlanetLab files, 30 samples each: a, c, d, e, f go from 10 % to 95 % at sample 7. */
static void
write_trace(void)
{
    trace_dir = clitest_mkdir("trace");
    const char *names = "abcdefgh";
    for (const char *n = names; *n != '\0'; n++) {
        bool spike = strchr("acdef", *n) != NULL;
        char text[30 * 4 + 1];
        size_t len = 0;
        for (int i = 0; i < 30; i++)
            len +=
                (size_t)snprintf(text + len, sizeof(text) - len, "%d\n", i >= 6 && spike ? 95 : 10);
        char file[32];
        (void)snprintf(file, sizeof(file), "trace/%c", *n);
        (void)clitest_write(file, text, len);
    }
}

static int
setup(void **state)
{
    (void)state;
    bin = clitest_bin();
    if (bin == NULL || clitest_setup_dir("replay") < 0)
        return -1;
    write_trace();
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    clitest_cleanup_dir();
    return 0;
}

static json_t *
run_json(const char *what, const char *const *argv, int want_exit)
{
    return clitest_run_json(what, argv, 240.0, want_exit);
}

static double
num(json_t *o, const char *key)
{
    return clitest_num(o, key);
}

/* The keys vmloc sim --json has, and sane values. */
static void
check_run(json_t *r, const char *which, double hosts, double vms)
{
    static const char *const keys[] = {"energy_kwh",
                                       "migrations",
                                       "slatah",
                                       "pdm",
                                       "slav",
                                       "esv",
                                       "overall_sla_violation",
                                       "host_shutdowns",
                                       "hosts",
                                       "vms",
                                       "overloaded_host_steps"};
    if (!json_is_object(r))
        fail_msg("\"%s\" is not an object", which);
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        double v = num(r, keys[i]);
        if (!(v >= 0))
            fail_msg("%s.%s = %g", which, keys[i], v);
    }
    assert_true(num(r, "hosts") == hosts);
    assert_true(num(r, "vms") == vms);
    assert_true(num(r, "energy_kwh") > 0);
}

static void
replay_mode(const char *mode)
{
    const char *argv[] = {bin,      "replay", "--trace", trace_dir, "--hosts", "5",
                          "--vms",  "8",      "--steps", "24",      "--step",  "0.3",
                          "--mode", mode,     "--json",  NULL};
    json_t *j = run_json(mode, argv, 0);
    json_t *live = json_object_get(j, "live");
    json_t *sim = json_object_get(j, "sim");
    check_run(live, "live", 5, 8);
    check_run(sim, "sim", 5, 8);
    json_t *inv = json_object_get(j, "invariants");
    print_message("  %s: migrations live %g sim %g, overloaded host-steps live %g sim %g, energy "
                  "live %.4f sim %.4f kWh\n",
                  mode, num(live, "migrations"), num(sim, "migrations"),
                  num(live, "overloaded_host_steps"), num(sim, "overloaded_host_steps"),
                  num(live, "energy_kwh"), num(sim, "energy_kwh"));
    assert_true(json_is_true(json_object_get(inv, "hold")));
    assert_true(num(inv, "vm_on_two_hosts") == 1);
    assert_true(num(inv, "lost_vms") == 0);
    assert_true(num(inv, "returns_within_cooldown") == 0);
    assert_true(num(inv, "failed_migrations") == 0);
    assert_string_equal(json_string_value(json_object_get(j, "mode")), mode);
    /* The conflict: the simulator moves one VM, and the live system acts on it too. */
    assert_true(num(sim, "migrations") == 1);
    assert_true(num(live, "migrations") >= 1 && num(live, "migrations") <= 2);
    assert_true(num(sim, "overloaded_host_steps") >= 1);
    /* The same hosts and demand: the energy within a few percent. */
    double e = num(live, "energy_kwh") / num(sim, "energy_kwh");
    assert_true(e > 0.95 && e < 1.05);
    json_decref(j);
}

static void
test_central(void **state)
{
    (void)state;
    replay_mode("central");
}

static void
test_edge(void **state)
{
    (void)state;
    replay_mode("edge");
}

static void
test_peer(void **state)
{
    (void)state;
    replay_mode("peer");
}

/* The table and the HTML report with both runs. */
static void
test_table_and_report(void **state)
{
    (void)state;
    char *report = clitest_asprintf("%s/replay.html", clitest_dir());
    const char *argv[] = {bin,      "replay", "--trace",  trace_dir, "--hosts",
                          "5",      "--vms",  "8",        "--steps", "8",
                          "--step", "0.3",    "--report", report,    NULL};
    struct run_result res;
    clitest_run("table", argv, 240.0, &res);
    if (res.exit_status != 0)
        FAIL_RUN(&res, "table: %s; stderr:\n%s", run_describe(&res), res.err);
    static const char *const want[] = {"energy kWh",
                                       "migrations",
                                       "overloaded host-steps",
                                       "invariants: vm_on_two_hosts 1, lost_vms 0",
                                       "live/sim",
                                       "central mode"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (strstr(res.out, want[i]) == NULL)
            FAIL_RUN(&res, "table: no \"%s\" in:\n%s", want[i], res.out);
    }
    run_result_done(&res);
    FILE *f = fopen(report, "r");
    assert_non_null(f);
    char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    (void)fclose(f);
    assert_non_null(strstr(buf, "<svg"));
    assert_non_null(strstr(buf, "live"));
    assert_non_null(strstr(buf, "simulator"));
    (void)remove(report);
    free(report);
}

/* Bad input: exit 2, nothing on standard output, one line naming what is wrong. */
static void
test_bad_input(void **state)
{
    (void)state;
    struct run_result res;
    const char *a1[] = {bin, "replay", NULL};
    clitest_run("no trace", a1, 30, &res);
    clitest_check_failed("no trace", &res, "--trace DIR is required", NULL);
    char *missing = clitest_asprintf("%s/nope", clitest_dir());
    const char *a2[] = {bin, "replay", "--trace", missing, NULL};
    clitest_run("missing trace", a2, 30, &res);
    clitest_check_failed("missing trace", &res, missing, NULL);
    free(missing);
    const char *bad = clitest_mkdir("bad");
    (void)clitest_write("bad/x", "10\n20\nlots\n", 11);
    const char *a3[] = {bin, "replay", "--trace", bad, NULL};
    clitest_run("bad trace file", a3, 30, &res);
    clitest_check_failed("bad trace file", &res, "bad/x:3", NULL);
    const char *cfg = clitest_write("bad.ini", "[relocate]\ncooldown = soon\n", 27);
    const char *a4[] = {bin, "replay", "--trace", trace_dir, "--config", cfg, NULL};
    clitest_run("bad config", a4, 30, &res);
    clitest_check_failed("bad config", &res, "bad.ini:2", "cooldown");
    const char *mgr = clitest_write("mgr.ini", "[manager]\ninterval = 1\n", 23);
    const char *a5[] = {bin, "replay", "--trace", trace_dir, "--config", mgr, NULL};
    clitest_run("not a policy", a5, 30, &res);
    clitest_check_failed("not a policy", &res, "mgr.ini", "manager");
    const char *a6[] = {bin, "replay", "--trace", trace_dir, "--hosts", "1", "--vms", "8", NULL};
    clitest_run("too few hosts", a6, 30, &res);
    clitest_check_failed("too few hosts", &res, "do not fit on 1 hosts", "--hosts");
    const char *a7[] = {bin, "replay", "--trace", trace_dir, "--step", "0.01", NULL};
    clitest_run("step too short", a7, 30, &res);
    clitest_check_failed("step too short", &res, "--step", NULL);
    const char *a8[] = {bin, "replay", "--trace", trace_dir, "--mode", "mesh", NULL};
    clitest_run("bad mode", a8, 30, &res);
    clitest_check_failed("bad mode", &res, "--mode", "mesh");
    const char *a9[] = {bin, "replay", "--trace", trace_dir, "--vms", "0", NULL};
    clitest_run("no VMs", a9, 30, &res);
    clitest_check_failed("no VMs", &res, "--vms", NULL);
}

/* A real PlanetLab day, briefly: 30 VMs on 20 hosts, 12 steps. */
static void
test_planetlab(void **state)
{
    (void)state;
    const char *shared = getenv("VMLOC_SHARED");
    char *day = clitest_asprintf("%s/traces/planetlab/20110303", shared != NULL ? shared : "");
    struct stat st;
    if (shared == NULL || stat(day, &st) != 0) {
        print_message("%s: not there (../shared/traces), skipping\n", day);
        free(day);
        skip();
    }
    const char *argv[] = {bin,  "replay",  "--trace", day,      "--hosts", "20",     "--vms",
                          "30", "--steps", "12",      "--step", "0.3",     "--json", NULL};
    json_t *j = run_json("planetlab", argv, 0);
    free(day);
    assert_true(json_is_true(json_object_get(json_object_get(j, "invariants"), "hold")));
    check_run(json_object_get(j, "live"), "live", 20, 30);
    check_run(json_object_get(j, "sim"), "sim", 20, 30);
    json_decref(j);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_central),
        cmocka_unit_test(test_edge),
        cmocka_unit_test(test_peer),
        cmocka_unit_test(test_table_and_report),
        cmocka_unit_test(test_planetlab),
    };
    return cmocka_run_group_tests_name("replay", tests, setup, teardown);
}

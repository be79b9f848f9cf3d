/* `vmloc sim` through the real binary ($VMLOC_BIN):
 *  - bad arguments, trace files and configs exit 2 with one stderr line naming the file and
 *    line or the option;
 *  - a small trace written here runs under every policy, with --json keys as spec/cli.md
 *    lists them and a self-contained --report;
 *  - every name of the reference's matrix (5 detectors x 4 selections) runs, and every result
 *    carries the energy bound;
 *  - fidelity: every row of the reference tables in $VMLOC_SHARED/spec/sim-model.md and in
 *    $VMLOC_DOCS/sim.md (the other VM selections) whose day is in $VMLOC_SHARED/traces/planetlab
 *    lands within 5 % on energy, migrations, SLATAH and PDM; a random-selection row is run
 *    with seeds 1..10 and each reference figure must lie within their spread or within 5 % of
 *    their mean (skipped when ../shared is absent);
 *  - quality: on each PlanetLab day, vmloc has a lower ESV and fewer migrations than both
 *    thr-mmt 0.8 and lr-mmt 1.2;
 *  - Bitbrains: the day in traces/bitbrains-rnd runs with multi-resource detection. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
/* cmocka.h needs the headers above included first. */
#include <cmocka.h>

#include <jansson.h>

#include "clitest.h"

#define TIMEOUT_S 240.0

static const char *bin;
static const char *small_dir; /* a valid small PlanetLab trace */

/* ---------------------------------------------------------------------------------------- */
/* A small trace: 6 VMs x 24 samples, with a burst so the policies have work. */

static void
make_small_trace(void)
{
    small_dir = clitest_mkdir("small");
    for (int v = 0; v < 6; v++) {
        char text[24 * 8];
        size_t len = 0;
        for (int k = 0; k < 24; k++) {
            int pct = (k >= 8 && k < 14) ? 90 - v * 3 : 10 + v * 4 + (k % 5);
            len += (size_t)snprintf(text + len, sizeof(text) - len, "%d\n", pct);
        }
        char *name = clitest_asprintf("small/vm %d", v);
        (void)clitest_write(name, text, len);
        free(name);
    }
}

static json_t *
run_json(const char *name, const char *const *argv)
{
    return clitest_run_json(name, argv, TIMEOUT_S, 0);
}

static double
num(json_t *o, const char *key)
{
    return clitest_num(o, key);
}

static void
test_help(void **state)
{
    (void)state;
    const char *argv[] = {bin, "sim", "--help", NULL};
    struct run_result res;
    clitest_run("help", argv, TIMEOUT_S, &res);
    assert_int_equal(res.exit_status, 0);
    assert_non_null(strstr(res.out, "usage: vmloc sim --trace DIR"));
    assert_non_null(strstr(res.out, "--report"));
    run_result_done(&res);
}

static void
test_small_all_policies(void **state)
{
    (void)state;
    const char *argv[] = {bin,       "sim", "--trace",  small_dir,
                          "--hosts", "8",   "--policy", "vmloc,none,thr-mmt,iqr-mmt,mad-mmt,lr-mmt",
                          "--json",  NULL};
    json_t *j = run_json("small", argv);
    assert_true(json_is_array(j));
    assert_int_equal(json_array_size(j), 6);
    static const char *const keys[] = {
        "energy_kwh",     "migrations", "slatah", "pdm", "slav", "esv", "overall_sla_violation",
        "host_shutdowns", "hosts",      "vms"};
    size_t i;
    json_t *o;
    json_array_foreach(j, i, o)
    {
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
            (void)num(o, keys[k]);
        assert_true(num(o, "hosts") == 8);
        assert_true(num(o, "vms") == 6);
        assert_true(num(o, "energy_kwh") > 0);
        for (size_t k = 2; k < 7; k++) {
            double x = num(o, keys[k]);
            assert_true(x >= 0 && x <= 1);
        }
        assert_true(fabs(num(o, "slav") - num(o, "slatah") * num(o, "pdm")) <= 1e-12);
        assert_true(fabs(num(o, "esv") - num(o, "slav") * num(o, "energy_kwh")) <= 1e-9);
    }
    /* `none` never migrates; the burst makes the threshold policy act. */
    assert_true(num(json_array_get(j, 1), "migrations") == 0);
    assert_true(num(json_array_get(j, 2), "migrations") > 0);
    json_decref(j);
}

static void
test_single_is_object(void **state)
{
    (void)state;
    const char *argv[] = {bin,        "sim",     "--trace", small_dir, "--hosts", "8",
                          "--policy", "thr-mmt", "--param", "0.9",     "--json",  NULL};
    json_t *j = run_json("single", argv);
    assert_true(json_is_object(j));
    assert_string_equal(json_string_value(json_object_get(j, "policy")), "thr-mmt");
    assert_true(num(j, "param") == 0.9);
    json_decref(j);
    /* NAME:X gives each run its own parameter; --param only fills the others. */
    const char *argv2[] = {bin,       "sim",  "--trace",  small_dir,
                           "--hosts", "8",    "--policy", "thr-mmt:0.7,thr-mmt,lr-mmt",
                           "--param", "0.95", "--json",   NULL};
    j = run_json("per-policy parameters", argv2);
    assert_int_equal(json_array_size(j), 3);
    assert_true(num(json_array_get(j, 0), "param") == 0.7);
    assert_true(num(json_array_get(j, 1), "param") == 0.95);
    assert_true(num(json_array_get(j, 2), "param") == 0.95);
    json_decref(j);
}

/* Every name of the reference's matrix runs; RS gives the same run for the same seed and one
 * run per seed of a list; results carry the energy bound. */
static void
test_matrix(void **state)
{
    (void)state;
    static const char *const det[] = {"thr", "iqr", "mad", "lr", "lrr"};
    static const char *const sel[] = {"mmt", "mc", "mu", "rs"};
    char list[256] = "";
    size_t len = 0;
    for (size_t d = 0; d < 5; d++)
        for (size_t k = 0; k < 4; k++)
            len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s-%s", len ? "," : "",
                                    det[d], sel[k]);
    const char *argv[] = {bin, "sim",      "--trace", small_dir, "--hosts",
                          "8", "--policy", list,      "--json",  NULL};
    json_t *j = run_json("matrix", argv);
    assert_int_equal(json_array_size(j), 20);
    size_t i;
    json_t *o;
    json_array_foreach(j, i, o)
    {
        char want[16];
        (void)snprintf(want, sizeof(want), "%s-%s", det[i / 4], sel[i % 4]);
        assert_string_equal(json_string_value(json_object_get(o, "policy")), want);
        assert_true(num(o, "energy_kwh") > 0);
        assert_true(num(o, "physical_bound_kwh") > 0);
        assert_true(num(o, "physical_bound_kwh") <= num(o, "lower_bound_kwh"));
        assert_true(fabs(num(o, "bound_ratio") - num(o, "energy_kwh") / num(o, "lower_bound_kwh")) <
                    1e-9);
        assert_true(num(o, "bound_threshold") == 0.8);
        assert_true((json_object_get(o, "seed") != NULL) == (i % 4 == 3));
        /* Where the energy above the bound goes: averages that must be consistent. */
        assert_true(num(o, "mean_active_hosts") > 0 && num(o, "mean_active_hosts") <= 8);
        assert_true(num(o, "mean_bound_hosts") > 0);
        assert_true(num(o, "mean_active_util") > 0 && num(o, "mean_active_util") <= 1);
        assert_true(num(o, "efficient_share") >= 0 && num(o, "efficient_share") <= 1);
        assert_true(num(o, "idle_power_share") > 0 && num(o, "idle_power_share") <= 1);
    }
    json_decref(j);
    /* One run per seed; the same seed, the same run. */
    const char *argv2[] = {bin,       "sim",   "--trace",  small_dir,
                           "--hosts", "8",     "--policy", "thr-rs,thr-mmt",
                           "--seed",  "3,4,3", "--json",   NULL};
    j = run_json("seeds", argv2);
    assert_int_equal(json_array_size(j), 4);
    assert_true(num(json_array_get(j, 0), "seed") == 3);
    assert_true(num(json_array_get(j, 1), "seed") == 4);
    assert_null(json_object_get(json_array_get(j, 3), "seed"));
    assert_true(num(json_array_get(j, 0), "energy_kwh") == num(json_array_get(j, 2), "energy_kwh"));
    assert_true(num(json_array_get(j, 0), "migrations") == num(json_array_get(j, 2), "migrations"));
    json_decref(j);
}

/* The report file at `path` (both freed and removed here), NUL-terminated; caller frees. */
static char *
take_report(char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 1 << 20);
    assert_non_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    (void)fclose(f);
    (void)unlink(path);
    free(path);
    assert_true(n > 0);
    return buf;
}

/* The points of the report's energy/bound scatter, in order: each one's migrations (from its
 * data-migrations attribute), radius and label. Returns how many (at most `max`). */
struct scatter_point {
    unsigned long long migrations;
    double r;
    char label[32];
};

static size_t
scatter_points(const char *buf, struct scatter_point *ret, size_t max)
{
    const char *fig = strstr(buf, "<svg class=scatter");
    assert_non_null(fig);
    const char *end = strstr(fig, "</svg>");
    assert_non_null(end);
    size_t n = 0;
    for (const char *p = fig; (p = strstr(p, "<circle class=pt ")) != NULL && p < end; p++) {
        assert_true(n < max);
        const char *m = strstr(p, "data-migrations=");
        const char *r = strstr(p, " r=");
        const char *t = strstr(p, "<text ");
        assert_true(m != NULL && r != NULL && t != NULL && t < end);
        char *stop;
        ret[n].migrations = strtoull(m + strlen("data-migrations="), &stop, 10);
        assert_true(*stop == ' ');
        ret[n].r = strtod(r + 3, &stop);
        assert_true(*stop == ' ' && ret[n].r > 0);
        const char *l = strchr(t, '>') + 1;
        size_t len = (size_t)(strchr(l, '<') - l);
        assert_true(len < sizeof(ret[n].label));
        memcpy(ret[n].label, l, len);
        ret[n].label[len] = '\0';
        n++;
    }
    return n;
}

/* `vmloc sim --report` with `policies` and --json: the JSON array (or object, one policy)
 * and the report's text. */
static char *
report_run(const char *policies, json_t **ret_j)
{
    char *path = clitest_asprintf("%s/report.html", clitest_dir());
    const char *argv[] = {bin,      "sim",      "--trace", small_dir, "--hosts", "8", "--policy",
                          policies, "--report", path,      "--json",  "-q",      NULL};
    *ret_j = run_json(policies, argv);
    return take_report(path);
}

/* The trade-off scatter: one point per policy run, labelled, its area proportional to the
 * run's migrations (JSON), a ring for none; one policy alone still gets its point. */
static void
test_report_scatter(void **state)
{
    (void)state;
    json_t *j;
    char *buf = report_run("vmloc,thr-mmt,thr-mu,none", &j);
    struct scatter_point pts[8];
    size_t n = scatter_points(buf, pts, 8);
    assert_int_equal(n, 4);
    static const char *const want[] = {"vmloc", "thr-mmt 0.8", "thr-mu 0.8", "none"};
    double per_migration = 0; /* r^2 / migrations, the same for every point with some */
    size_t moved = 0;
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(pts[i].label, want[i]);
        assert_true((double)pts[i].migrations == num(json_array_get(j, i), "migrations"));
        if (pts[i].migrations == 0)
            continue;
        double a = pts[i].r * pts[i].r / (double)pts[i].migrations;
        if (moved++ == 0)
            per_migration = a;
        assert_true(fabs(a - per_migration) < 0.01 * per_migration);
    }
    assert_true(moved >= 2);
    /* More migrations, a larger point, whichever pair. */
    size_t ordered = 0;
    for (size_t a = 0; a < n; a++) {
        for (size_t b = 0; b < n; b++) {
            if (pts[a].migrations > pts[b].migrations) {
                assert_true(pts[a].r > pts[b].r);
                ordered++;
            }
        }
    }
    assert_true(ordered >= 3);
    assert_int_equal(pts[3].migrations, 0); /* none: drawn as a ring */
    assert_non_null(strstr(buf, "data-migrations=0 cx="));
    assert_non_null(strstr(buf, "fill=\"none\" fill-opacity=0.45 stroke="));
    /* A legend of sizes. */
    assert_non_null(strstr(buf, "<circle class=key "));
    json_decref(j);
    free(buf);

    buf = report_run("thr-mmt", &j);
    n = scatter_points(buf, pts, 8);
    assert_int_equal(n, 1);
    assert_string_equal(pts[0].label, "thr-mmt 0.8");
    assert_true((double)pts[0].migrations == num(j, "migrations"));
    assert_true(pts[0].migrations > 0);
    json_decref(j);
    free(buf);
}

static void
test_report(void **state)
{
    (void)state;
    char *path = clitest_asprintf("%s/report.html", clitest_dir());
    const char *argv[] = {bin,        "sim",           "--trace",  small_dir, "--hosts", "8",
                          "--policy", "vmloc,thr-mmt", "--report", path,      "-q",      NULL};
    struct run_result res;
    clitest_run("report", argv, TIMEOUT_S, &res);
    assert_int_equal(res.exit_status, 0);
    assert_non_null(strstr(res.out, "thr-mmt 0.8"));
    run_result_done(&res);
    char *buf = take_report(path);
    assert_non_null(strstr(buf, "<!doctype html>"));
    assert_non_null(strstr(buf, "</html>"));
    /* Four charts, one line per policy in each, and the energy bound (the same for both: one
     * dashed line); and the energy/bound against SLATAH scatter. */
    size_t svgs = 0, lines = 0;
    for (const char *p = buf; (p = strstr(p, "<svg")) != NULL; p++)
        svgs++;
    for (const char *p = buf; (p = strstr(p, "<polyline")) != NULL; p++)
        lines++;
    assert_int_equal(svgs, 5);
    assert_int_equal(lines, 9);
    assert_non_null(strstr(buf, "stroke-dasharray=\"5 4\" points="));
    assert_non_null(strstr(buf, "energy / bound"));
    /* Self-contained: nothing fetched, no script. */
    assert_null(strstr(buf, "http://"));
    assert_null(strstr(buf, "https://"));
    assert_null(strstr(buf, "<script"));
    assert_null(strstr(buf, "<link"));
    free(buf);
}

/* ---------------------------------------------------------------------------------------- */
/* Bad input */

struct bad_case {
    const char *name;
    const char *file; /* written as bad/<file> with `content`, or NULL */
    const char *content;
    const char *args[8]; /* after "sim"; "@BAD" is the bad folder, "@SMALL" the small one,
                            "@CFG" the config written from `config` */
    const char *config;
    const char *want1;
    const char *want2;
};

static const struct bad_case bad_cases[] = {
    {"no trace", NULL, NULL, {"--json"}, NULL, "--trace", NULL},
    {"unknown policy",
     NULL,
     NULL,
     {"--trace", "@SMALL", "--policy", "thr-mmt,best"},
     NULL,
     "best",
     NULL},
    {"empty policy", NULL, NULL, {"--trace", "@SMALL", "--policy", ""}, NULL, "--policy", NULL},
    {"parameter for vmloc",
     NULL,
     NULL,
     {"--trace", "@SMALL", "--policy", "vmloc:3"},
     NULL,
     "vmloc:3",
     "no parameter"},
    {"bad policy parameter",
     NULL,
     NULL,
     {"--trace", "@SMALL", "--policy", "thr-mmt:x"},
     NULL,
     "thr-mmt:x",
     "number"},
    {"bad param", NULL, NULL, {"--trace", "@SMALL", "--param", "x"}, NULL, "--param", NULL},
    {"bad format", NULL, NULL, {"--trace", "@SMALL", "--format", "csv"}, NULL, "--format", NULL},
    {"bad hosts", NULL, NULL, {"--trace", "@SMALL", "--hosts", "1.5"}, NULL, "--hosts", NULL},
    {"extra argument", NULL, NULL, {"--trace", "@SMALL", "later"}, NULL, "later", NULL},
    {"missing folder",
     NULL,
     NULL,
     {"--trace", "/nonexistent/trace"},
     NULL,
     "/nonexistent/trace",
     NULL},
    {"not a number", "a", "10\n20\nabc\n", {"--trace", "@BAD"}, NULL, "/a:3", "abc"},
    {"above 100", "b", "10\n101\n", {"--trace", "@BAD"}, NULL, "/b:2", "outside 0..100"},
    {"negative", "c", "-1\n", {"--trace", "@BAD"}, NULL, "/c:1", "outside"},
    {"empty file", "d", "", {"--trace", "@BAD"}, NULL, "/d:1", "no samples"},
    {"blank in the middle", "e", "1\n\n2\n", {"--trace", "@BAD"}, NULL, "/e:2", "empty line"},
    {"too few hosts",
     NULL,
     NULL,
     {"--trace", "@SMALL", "--hosts", "1"},
     NULL,
     "do not fit",
     "--hosts"},
    {"bitbrains header",
     "f",
     "1;\t2\n",
     {"--trace", "@BAD", "--format", "bitbrains"},
     NULL,
     "/f:1",
     "header"},
    {"bitbrains fields",
     "g",
     "Timestamp [ms];\tCPU cores\n1372629804;\t2;\t5851.9989;\t87.7;\t1.5;\t8218624.0\n",
     {"--trace", "@BAD", "--format", "bitbrains"},
     NULL,
     "/g:2",
     "fields"},
    {"bitbrains time order",
     "h",
     "Timestamp [ms];\tCPU cores\n"
     "2;\t2;\t5851.9;\t87.7;\t1.5;\t8218624.0;\t1034592.8;\t160.8;\t21.7;\t0.2;\t1.4\n"
     "1;\t2;\t5851.9;\t87.7;\t1.5;\t8218624.0;\t1034592.8;\t160.8;\t21.7;\t0.2;\t1.4\n",
     {"--trace", "@BAD", "--format", "bitbrains"},
     NULL,
     "/h:3",
     "not after"},
    {"bitbrains huge value",
     "i",
     "Timestamp [ms];\tCPU cores\n"
     "1;\t2;\t1e308;\t87.7;\t1.5;\t8218624.0;\t1034592.8;\t160.8;\t21.7;\t0.2;\t1.4\n",
     {"--trace", "@BAD", "--format", "bitbrains"},
     NULL,
     "/i:2",
     "outside"},
    {"bitbrains fractional cores",
     "j",
     "Timestamp [ms];\tCPU cores\n"
     "1;\t2.5;\t5851.9;\t87.7;\t1.5;\t8218624.0;\t1034592.8;\t160.8;\t21.7;\t0.2;\t1.4\n",
     {"--trace", "@BAD", "--format", "bitbrains"},
     NULL,
     "/j:2",
     "cores"},
    {"too many hosts",
     NULL,
     NULL,
     {"--trace", "@SMALL", "--hosts", "5000000"},
     NULL,
     "--hosts",
     "4000000"},
    {"config unknown key",
     NULL,
     NULL,
     {"--trace", "@SMALL", "--config", "@CFG"},
     "[sim]\nfoo = 1\n",
     ":2",
     "foo"},
    {"config bad persistence",
     NULL,
     NULL,
     {"--trace", "@SMALL", "--config", "@CFG"},
     "[sim]\npersistence = 3/2\n",
     ":2",
     "persistence"},
    {"persistence K over N",
     NULL,
     NULL,
     {"--trace", "@SMALL", "--persistence", "3/2"},
     NULL,
     "--persistence",
     "3/2"},
    {"persistence empty item",
     NULL,
     NULL,
     {"--trace", "@SMALL", "--persistence", ","},
     NULL,
     "--persistence",
     NULL},
    {"cooldown negative",
     NULL,
     NULL,
     {"--trace", "@SMALL", "--cooldown", "0,-5"},
     NULL,
     "--cooldown",
     "-5"},
    {"config bad relocate persistence",
     NULL,
     NULL,
     {"--trace", "@SMALL", "--config", "@CFG"},
     "[relocate]\npersistence = 0/3\n",
     ":2",
     "persistence"},
    {"config bad detect",
     NULL,
     NULL,
     {"--trace", "@SMALL", "--config", "@CFG"},
     "[detect]\nhost_threshold = 120\n",
     ":2",
     "host_threshold"},
    {"config below over target",
     NULL,
     NULL,
     {"--trace", "@SMALL", "--config", "@CFG"},
     "[sim]\nconsolidate_below = 80\nconsolidate_target = 70\n",
     "consolidate_below",
     NULL},
    {"config peak window too long",
     NULL,
     NULL,
     {"--trace", "@SMALL", "--config", "@CFG"},
     "[sim]\nconsolidate_efficient = yes\npeak_window = 289\n",
     ":3",
     "peak_window"},
    {"config bad consolidate_efficient",
     NULL,
     NULL,
     {"--trace", "@SMALL", "--config", "@CFG"},
     "[sim]\nconsolidate_efficient = maybe\n",
     ":2",
     "consolidate_efficient"},
};

static void
test_bad(void **state)
{
    const struct bad_case *c = *state;
    static int seq;
    char *bad_name = clitest_asprintf("bad%d", seq++);
    const char *bad_dir = clitest_mkdir(bad_name);
    if (c->file != NULL) {
        char *f = clitest_asprintf("%s/%s", bad_name, c->file);
        (void)clitest_write(f, c->content, strlen(c->content));
        free(f);
    }
    const char *cfg = NULL;
    if (c->config != NULL) {
        char *f = clitest_asprintf("%s/../%s.ini", bad_name, bad_name);
        cfg = clitest_write(f, c->config, strlen(c->config));
        free(f);
    }
    free(bad_name);
    const char *argv[12] = {bin, "sim"};
    size_t n = 2;
    for (size_t i = 0; i < 8 && c->args[i] != NULL; i++) {
        const char *a = c->args[i];
        if (strcmp(a, "@BAD") == 0)
            a = bad_dir;
        else if (strcmp(a, "@SMALL") == 0)
            a = small_dir;
        else if (strcmp(a, "@CFG") == 0)
            a = cfg;
        argv[n++] = a;
    }
    argv[n] = NULL;
    struct run_result res;
    clitest_run(c->name, argv, TIMEOUT_S, &res);
    clitest_check_failed(c->name, &res, c->want1, c->want2);
}

/* --persistence and --cooldown: one vmloc run per combination, labelled, with their settings
 * in the JSON, the trade-off section in the report; [relocate] settings reach the simulator. */
static void
test_sweep(void **state)
{
    (void)state;
    char *path = clitest_asprintf("%s/sweep.html", clitest_dir());
    const char *argv[] = {bin,          "sim",      "--trace",    small_dir,       "--hosts",
                          "8",          "--policy", "vmloc,none", "--persistence", "1/1,2/3,3/5",
                          "--cooldown", "0,3600",   "--json",     "--report",      path,
                          "-q",         NULL};
    json_t *j = run_json("sweep", argv);
    assert_int_equal(json_array_size(j), 7); /* 3 x 2 vmloc runs, and none */
    static const char *const want[][2] = {{"1/1", "0"},    {"1/1", "3600"}, {"2/3", "0"},
                                          {"2/3", "3600"}, {"3/5", "0"},    {"3/5", "3600"}};
    for (size_t i = 0; i < 6; i++) {
        json_t *r = json_array_get(j, i);
        assert_string_equal(json_string_value(json_object_get(r, "policy")), "vmloc");
        assert_string_equal(json_string_value(json_object_get(r, "persistence")), want[i][0]);
        assert_true(num(r, "cooldown_s") == atof(want[i][1]));
    }
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 6), "policy")), "none");
    json_decref(j);
    char *buf = take_report(path);
    assert_non_null(strstr(buf, "Anti-flapping trade-off"));
    assert_non_null(strstr(buf, "vmloc 3/5 1h"));
    const char *fig = strstr(buf, "Anti-flapping trade-off");
    const char *end = strstr(strstr(fig, "<svg"), "</svg>");
    size_t dots = 0;
    for (const char *p = fig; (p = strstr(p, "<circle")) != NULL && p < end; p++)
        dots++;
    assert_int_equal(dots, 6);
    free(buf);

    /* [relocate] persistence and cooldown apply in the simulator unless [sim] gives them. */
    const char *cfg =
        clitest_write("relocate.ini", "[relocate]\npersistence = 2/3\ncooldown = 60\n",
                      strlen("[relocate]\npersistence = 2/3\ncooldown = 60\n"));
    const char *a2[] = {bin,        "sim", "--trace", small_dir, "--hosts", "8",
                        "--config", cfg,   "--json",  "-q",      NULL};
    j = run_json("relocate keys", a2);
    assert_string_equal(json_string_value(json_object_get(j, "persistence")), "2/3");
    assert_true(num(j, "cooldown_s") == 60);
    json_decref(j);
    const char *cfg2 =
        clitest_write("both.ini", "[relocate]\npersistence = 2/3\n[sim]\npersistence = 3/4\n",
                      strlen("[relocate]\npersistence = 2/3\n[sim]\npersistence = 3/4\n"));
    const char *a3[] = {bin,        "sim", "--trace", small_dir, "--hosts", "8",
                        "--config", cfg2,  "--json",  "-q",      NULL};
    j = run_json("sim keys win", a3);
    assert_string_equal(json_string_value(json_object_get(j, "persistence")), "3/4");
    assert_true(num(j, "cooldown_s") == 3600); /* the simulator's default */
    json_decref(j);
}

/* ---------------------------------------------------------------------------------------- */
/* Fidelity against spec/sim-model.md */

static const char *shared;

static bool
have_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Parse a table number such as "26,711", "0.04913" or "3.176e-5". */
static double
table_num(const char *s)
{
    char buf[64];
    size_t n = 0;
    for (; *s != '\0' && *s != '|' && n + 1 < sizeof(buf); s++)
        if (*s != ',' && *s != ' ')
            buf[n++] = *s;
    buf[n] = '\0';
    char *end = NULL;
    double v = strtod(buf, &end);
    if (n == 0 || *end != '\0')
        fail_msg("reference table: not a number: \"%s\"", buf);
    return v;
}

static void
check_close(const char *what, const char *row, double got, double want)
{
    if (want == 0) {
        if (got != 0)
            fail_msg("%s: %s = %g, want 0", row, what, got);
        return;
    }
    double rel = fabs(got - want) / want;
    print_message("  %-28s %-10s %12.6g  reference %12.6g  (%+.2f %%)\n", row, what, got, want,
                  (got - want) / want * 100);
    if (rel > 0.05)
        fail_msg("%s: %s = %g, reference %g: off by %.1f %% (more than 5 %%)", row, what, got, want,
                 rel * 100);
}

/* A random-selection row: seeds 1..10, each reference figure within their spread or within
 * 5 % of their mean. */
static void
check_random_row(const char *rowname, const char *const *base, size_t nb, const double *ref)
{
    const char *argv[16];
    memcpy(argv, base, nb * sizeof(*argv));
    argv[nb++] = "--seed";
    argv[nb++] = "1,2,3,4,5,6,7,8,9,10";
    argv[nb] = NULL;
    json_t *j = run_json(rowname, argv);
    assert_int_equal(json_array_size(j), 10);
    static const char *const keys[] = {"energy_kwh", "migrations", "slatah", "pdm"};
    for (size_t k = 0; k < 4; k++) {
        double lo = INFINITY, hi = -INFINITY, sum = 0;
        for (size_t i = 0; i < 10; i++) {
            double v = num(json_array_get(j, i), keys[k]);
            lo = fmin(lo, v);
            hi = fmax(hi, v);
            sum += v;
        }
        double mean = sum / 10;
        bool inside = ref[k] >= lo && ref[k] <= hi;
        double rel = (ref[k] - mean) / mean;
        print_message("  %-28s %-10s seeds 1-10 %.6g..%.6g, mean %.6g; reference %.6g %s "
                      "(%+.2f %% of the mean)\n",
                      rowname, keys[k], lo, hi, mean, ref[k], inside ? "inside" : "OUTSIDE",
                      rel * 100);
        if (!inside && fabs(rel) > 0.05)
            fail_msg("%s: %s reference %g is outside the seeds' spread %g..%g and %.1f %% off "
                     "their mean",
                     rowname, keys[k], ref[k], lo, hi, rel * 100);
    }
    json_decref(j);
}

/* Check every "| 2011... |" row of the table(s) in `path`, skipping the rows in `done`
 * (a list of row names, added to). Returns the rows checked, -1 when there is no file. */
static long
check_table(const char *path, char *done, size_t done_len)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        print_message("%s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[512];
    long rows = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        /* | 20110303 thr-mmt 0.8 | 192.62 | 26,711 | 0.04913 | 0.000646 | 3.176e-5 | */
        if (strncmp(line, "| 2011", 6) != 0)
            continue;
        char day[16], policy[32], param[16] = "";
        const char *p = line + 2;
        /* Fields: "day policy [param]" then at least four numbers. */
        const char *bar = strchr(p, '|');
        if (bar == NULL)
            continue;
        char head[64];
        size_t hl = (size_t)(bar - p);
        if (hl >= sizeof(head))
            continue;
        memcpy(head, p, hl);
        head[hl] = '\0';
        char *save = NULL;
        char *tok = strtok_r(head, " ", &save);
        snprintf(day, sizeof(day), "%s", tok != NULL ? tok : "");
        tok = strtok_r(NULL, " ", &save);
        snprintf(policy, sizeof(policy), "%s", tok != NULL ? tok : "");
        tok = strtok_r(NULL, " ", &save);
        if (tok != NULL)
            snprintf(param, sizeof(param), "%s", tok);
        double ref[4];
        const char *q = bar + 1;
        for (int i = 0; i < 4; i++) {
            ref[i] = table_num(q);
            q = strchr(q, '|');
            if (q == NULL)
                fail_msg("%s: reference table row too short: %s", path, line);
            q++;
        }
        char rowname[96];
        snprintf(rowname, sizeof(rowname), "%s %s %s", day, policy, param);
        char key[100];
        snprintf(key, sizeof(key), "[%s]", rowname);
        if (strstr(done, key) != NULL)
            continue;
        size_t dl = strlen(done), kl = strlen(key);
        if (dl + kl < done_len)
            memcpy(done + dl, key, kl + 1);
        char *dir = clitest_asprintf("%s/traces/planetlab/%s", shared, day);
        if (!have_dir(dir)) {
            print_message("  %s: no trace here, row not checked\n", dir);
            free(dir);
            continue;
        }
        const char *argv[16] = {bin, "sim", "--trace", dir, "--policy", policy, "--json", "-q"};
        size_t n = 8;
        if (param[0] != '\0') {
            argv[n++] = "--param";
            argv[n++] = param;
        }
        size_t plen = strlen(policy);
        if (plen > 3 && strcmp(policy + plen - 3, "-rs") == 0) {
            check_random_row(rowname, argv, n, ref);
        } else {
            argv[n] = NULL;
            json_t *j = run_json(rowname, argv);
            check_close("energy_kwh", rowname, num(j, "energy_kwh"), ref[0]);
            check_close("migrations", rowname, num(j, "migrations"), ref[1]);
            check_close("slatah", rowname, num(j, "slatah"), ref[2]);
            check_close("pdm", rowname, num(j, "pdm"), ref[3]);
            json_decref(j);
        }
        free(dir);
        rows++;
    }
    (void)fclose(f);
    return rows;
}

static void
test_fidelity(void **state)
{
    (void)state;
    if (shared == NULL)
        skip();
    char done[4096] = "";
    char *spec = clitest_asprintf("%s/spec/sim-model.md", shared);
    long rows = check_table(spec, done, sizeof(done));
    free(spec);
    if (rows < 0)
        skip();
    if (rows == 0)
        fail_msg("no row of the reference table could be checked");
    /* The other VM selections' reference figures (the table) are in docs/sim.md. */
    const char *docs = getenv("VMLOC_DOCS");
    if (docs != NULL) {
        char *path = clitest_asprintf("%s/sim.md", docs);
        long other = check_table(path, done, sizeof(done));
        free(path);
        if (other <= 0)
            fail_msg("%s/sim.md: no row of the other selections' reference table was checked",
                     docs);
    }
}

/* Run `check` on every PlanetLab day of the shared traces (skips when there are none). */
static void
each_planetlab_day(void (*check)(const char *day, const char *dir))
{
    if (shared == NULL)
        skip();
    char *base = clitest_asprintf("%s/traces/planetlab", shared);
    DIR *d = opendir(base);
    if (d == NULL) {
        free(base);
        skip();
    }
    struct dirent *de;
    size_t days = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *dir = clitest_asprintf("%s/%s", base, de->d_name);
        if (have_dir(dir)) {
            check(de->d_name, dir);
            days++;
        }
        free(dir);
    }
    (void)closedir(d);
    free(base);
    if (days == 0)
        skip();
}

static void
quality_day(const char *day, const char *dir)
{
    const char *argv[] = {bin,      "sim", "--trace", dir, "--policy", "vmloc,thr-mmt,lr-mmt",
                          "--json", "-q",  NULL};
    json_t *j = run_json(day, argv);
    json_t *v = json_array_get(j, 0), *thr = json_array_get(j, 1), *lr = json_array_get(j, 2);
    print_message("  %s: ESV vmloc %.4g thr-mmt %.4g lr-mmt %.4g; migrations %g %g %g\n", day,
                  num(v, "esv"), num(thr, "esv"), num(lr, "esv"), num(v, "migrations"),
                  num(thr, "migrations"), num(lr, "migrations"));
    if (!(num(v, "esv") < num(thr, "esv") && num(v, "esv") < num(lr, "esv")))
        fail_msg("%s: vmloc's ESV is not below both references", day);
    if (!(num(v, "migrations") < num(thr, "migrations") &&
          num(v, "migrations") < num(lr, "migrations")))
        fail_msg("%s: vmloc does not migrate less than both references", day);
    json_decref(j);
}

static void
test_quality(void **state)
{
    (void)state;
    each_planetlab_day(quality_day);
}

/* Issue target: on each PlanetLab day, the persistence filter and the cooldown cut migrations
 * without raising SLAV by more than 10 % over acting at once with no cooldown. */
static void
antiflap_day(const char *day, const char *dir)
{
    const char *argv[] = {bin,           "sim",        "--trace", dir,      "--persistence",
                          "1/1,2/3,3/5", "--cooldown", "0,3600",  "--json", "-q",
                          NULL};
    json_t *j = run_json(day, argv);
    json_t *b = json_array_get(j, 0); /* 1/1, no cooldown */
    for (size_t i = 1; i < json_array_size(j); i++) {
        json_t *r = json_array_get(j, i);
        double dm = (num(r, "migrations") - num(b, "migrations")) / num(b, "migrations");
        double ds = (num(r, "slav") - num(b, "slav")) / num(b, "slav");
        print_message("  %s: %s cooldown %-5g migrations %+6.1f %%  SLAV %+6.1f %%\n", day,
                      json_string_value(json_object_get(r, "persistence")), num(r, "cooldown_s"),
                      dm * 100, ds * 100);
        if (!(dm < 0))
            fail_msg("%s: setting %zu does not cut migrations", day, i);
        if (!(ds <= 0.10))
            fail_msg("%s: setting %zu raises SLAV by %.1f %%", day, i, ds * 100);
    }
    json_decref(j);
}

static void
test_antiflap_days(void **state)
{
    (void)state;
    each_planetlab_day(antiflap_day);
}

/* The consolidation variants of docs/sim.md ("Closing the gap to the bound") reach the
 * simulator: on each PlanetLab day (two host types) emptying the least efficient hosts first
 * uses less energy than emptying the least used first; a VM placed with its recent peak
 * migrates less; and vmloc keeps more hosts on than the bound's fractional hosts, less full
 * than the threshold. */
static void
variants_day(const char *day, const char *dir)
{
    static const char eff[] = "[sim]\nconsolidate_efficient = yes\n";
    static const char peak[] = "[sim]\npeak_window = 6\n";
    const char *eff_cfg = clitest_write("eff.ini", eff, sizeof(eff) - 1);
    const char *peak_cfg = clitest_write("peak.ini", peak, sizeof(peak) - 1);
    const char *argv[] = {bin, "sim", "--trace", dir, "--json", "-q", NULL};
    const char *argv_eff[] = {bin,     "sim",    "--trace", dir, "--config",
                              eff_cfg, "--json", "-q",      NULL};
    const char *argv_peak[] = {bin,      "sim",    "--trace", dir, "--config",
                               peak_cfg, "--json", "-q",      NULL};
    json_t *b = run_json(day, argv);
    json_t *e = run_json(day, argv_eff);
    json_t *p = run_json(day, argv_peak);
    print_message("  %s: default %.2f kWh (%.3fx), %g migrations; efficient first %.2f kWh; "
                  "peak of 6 steps %g migrations; active hosts %.1f against the bound's %.1f at "
                  "%.1f %%\n",
                  day, num(b, "energy_kwh"), num(b, "bound_ratio"), num(b, "migrations"),
                  num(e, "energy_kwh"), num(p, "migrations"), num(b, "mean_active_hosts"),
                  num(b, "mean_bound_hosts"), num(b, "mean_active_util") * 100);
    if (!(num(e, "energy_kwh") < num(b, "energy_kwh")))
        fail_msg("%s: emptying the least efficient hosts first does not save energy", day);
    if (!(num(p, "migrations") < num(b, "migrations")))
        fail_msg("%s: placing VMs with their recent peak does not cut migrations", day);
    if (!(num(b, "mean_active_hosts") > num(b, "mean_bound_hosts") &&
          num(b, "mean_active_util") < num(b, "bound_threshold")))
        fail_msg("%s: the gap figures do not explain the ratio to the bound", day);
    json_decref(p);
    json_decref(e);
    json_decref(b);
}

static void
test_variants_days(void **state)
{
    (void)state;
    each_planetlab_day(variants_day);
}

/* The Bitbrains day with disk and network in detection, next to cpu alone and thr-mmt. */
static void
test_bitbrains(void **state)
{
    (void)state;
    if (shared == NULL)
        skip();
    char *dir = clitest_asprintf("%s/traces/bitbrains-rnd/2013-7-day1", shared);
    if (!have_dir(dir)) {
        print_message("%s: absent, skipping\n", dir);
        free(dir);
        skip();
    }
    size_t files = 0;
    DIR *dd = opendir(dir);
    assert_non_null(dd);
    struct dirent *de;
    while ((de = readdir(dd)) != NULL)
        if (de->d_name[0] != '.' && strncmp(de->d_name, "README", 6) != 0)
            files++;
    (void)closedir(dd);
    static const char multi[] = "[detect]\nresources = cpu, disk, net\n";
    const char *cfg = clitest_write("bb.ini", multi, sizeof(multi) - 1);
    const char *argv[] = {bin,        "sim",           "--trace",  dir, "--format", "bitbrains",
                          "--policy", "vmloc,thr-mmt", "--config", cfg, "--json",   "-q",
                          NULL};
    json_t *j = run_json("bitbrains multi-resource", argv);
    const char *argv_cpu[] = {bin,        "sim",   "--trace", dir,  "--format", "bitbrains",
                              "--policy", "vmloc", "--json",  "-q", NULL};
    json_t *cpu = run_json("bitbrains cpu only", argv_cpu);
    json_t *v = json_array_get(j, 0), *thr = json_array_get(j, 1);
    for (size_t i = 0; i < 2; i++) {
        json_t *o = json_array_get(j, i);
        assert_true(num(o, "vms") == (double)files);
        assert_true(num(o, "hosts") == 200);
        assert_true(num(o, "energy_kwh") > 0);
        assert_true(num(o, "migrations") > 0);
        assert_true(num(o, "slatah") >= 0 && num(o, "slatah") <= 1);
    }
    print_message("  bitbrains: vmloc (cpu, disk, net) %.2f kWh, %g migrations, ESV %.4g; "
                  "cpu only %g migrations; thr-mmt %.2f kWh, %g migrations, ESV %.4g\n",
                  num(v, "energy_kwh"), num(v, "migrations"), num(v, "esv"), num(cpu, "migrations"),
                  num(thr, "energy_kwh"), num(thr, "migrations"), num(thr, "esv"));
    /* Disk and network take part: the decisions differ from cpu alone. */
    assert_true(num(v, "migrations") != num(cpu, "migrations") ||
                num(v, "energy_kwh") != num(cpu, "energy_kwh"));
    json_decref(cpu);
    json_decref(j);
    free(dir);
}

static int
bad_setup(void **state)
{
    (void)state;
    return 0;
}

int
main(void)
{
    bin = clitest_bin();
    if (bin == NULL)
        return 1;
    shared = getenv("VMLOC_SHARED");
    if (shared != NULL && !have_dir(shared)) {
        printf("%s is absent: the fidelity and quality checks are skipped\n", shared);
        shared = NULL;
    }
    if (clitest_setup_dir("sim") != 0)
        return 1;
    make_small_trace();
    int failed = 0;
    const struct CMUnitTest basics[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_small_all_policies),
        cmocka_unit_test(test_single_is_object),
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_report_scatter),
        cmocka_unit_test(test_sweep),
    };
    failed += cmocka_run_group_tests_name("sim cli", basics, NULL, NULL);
    struct CMUnitTest bad[sizeof(bad_cases) / sizeof(bad_cases[0])];
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        bad[i] = (struct CMUnitTest){bad_cases[i].name, test_bad, bad_setup, NULL,
                                     (void *)&bad_cases[i]};
    }
    failed +=
        _cmocka_run_group_tests("sim bad input", bad, sizeof(bad) / sizeof(bad[0]), NULL, NULL);
    const struct CMUnitTest shared_tests[] = {
        cmocka_unit_test(test_fidelity),      cmocka_unit_test(test_quality),
        cmocka_unit_test(test_antiflap_days), cmocka_unit_test(test_variants_days),
        cmocka_unit_test(test_bitbrains),
    };
    failed += cmocka_run_group_tests_name("sim against the literature", shared_tests, NULL, NULL);
    clitest_cleanup_dir();
    return failed != 0 ? 1 : 0;
}

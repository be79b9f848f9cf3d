/* `vmloc plan` through the real binary ($VMLOC_BIN) on files written into a fresh temporary
 * directory: every kind of bad snapshot, bad config and bad argument exits 2 with nothing on
 * stdout and exactly one stderr line starting "vmloc: " that names the file and the field
 * path or the line; --help prints usage to stdout and exits 0; an unknown command exits 2;
 * `--snapshot -` reads standard input. spec/cli.md, spec/policy.md §5. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
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
#include "run.h"

#define TIMEOUT_S 30.0

static const char *vmloc_bin;
static const char *
base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s != NULL ? s + 1 : path;
}

static char *
repeat(const char *pre, const char *unit, size_t n, const char *post, size_t *ret_len)
{
    size_t lp = strlen(pre), lu = strlen(unit), lq = strlen(post);
    size_t len = lp + lu * n + lq;
    char *s = malloc(len + 1);
    if (s == NULL)
        abort();
    memcpy(s, pre, lp);
    for (size_t i = 0; i < n; i++)
        memcpy(s + lp + i * lu, unit, lu);
    memcpy(s + lp + n * lu, post, lq);
    s[len] = '\0';
    *ret_len = len;
    return s;
}

static void
run_or_fail(const char *name, const char *const *argv, const void *in, size_t in_len,
            struct run_result *res)
{
    int r = run_program(argv, in, in_len, TIMEOUT_S, res);
    if (r != 0)
        fail_msg("%s: cannot run %s: %s", name, vmloc_bin, strerror(-r));
}

/* ---------------------------------------------------------------------------------------- */
/* Bad snapshots */

struct snap_case {
    const char *name;
    const char *json; /* NUL-terminated unless len is set */
    size_t len;
    char *(*gen)(size_t *ret_len);
    const char *path; /* the field the message must name, or NULL */
};

static char *
gen_deep(size_t *ret_len)
{
    return repeat("{\"hosts\":[],\"x\":", "[", 100000, "", ret_len);
}

static char *
gen_deep_top(size_t *ret_len)
{
    return repeat("", "[", 100000, "", ret_len);
}

static char *
gen_long_name(size_t *ret_len)
{
    return repeat("{\"hosts\":[{\"name\":\"", "x", 256, "\",\"usage\":{\"cpu\":1}}]}", ret_len);
}

#define LIT(s) s, sizeof(s) - 1
#define H0 "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1}"
#define V0 "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1},\"vms\":[{\"name\":\"v\""

static struct snap_case snap_cases[] = {
    {"time is a string", "{\"time\":\"x\",\"hosts\":[]}", 0, NULL, "time"},
    {"hosts is an object", "{\"hosts\":{}}", 0, NULL, "hosts"},
    {"host is a number", "{\"hosts\":[1]}", 0, NULL, "hosts[0]"},
    {"host name is a number", "{\"hosts\":[{\"name\":1,\"usage\":{\"cpu\":1}}]}", 0, NULL,
     "hosts[0].name"},
    {"capacity is a string", H0 ",\"capacity\":\"2\"}]}", 0, NULL, "hosts[0].capacity"},
    {"mem_mib is a string", H0 ",\"mem_mib\":\"x\"}]}", 0, NULL, "hosts[0].mem_mib"},
    {"state is a number", H0 ",\"state\":1}]}", 0, NULL, "hosts[0].state"},
    {"usage is an array", "{\"hosts\":[{\"name\":\"h\",\"usage\":[1]}]}", 0, NULL,
     "hosts[0].usage"},
    {"usage.cpu is a string", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":\"1\"}}]}", 0, NULL,
     "hosts[0].usage.cpu"},
    {"vms is an object", H0 ",\"vms\":{}}]}", 0, NULL, "hosts[0].vms"},
    {"vm priority is a string", V0 ",\"usage\":{\"cpu\":1},\"priority\":\"1\"}]}]}", 0, NULL,
     "hosts[0].vms[0].priority"},
    {"vm pinned is a number", V0 ",\"usage\":{\"cpu\":1},\"pinned\":1}]}]}", 0, NULL,
     "hosts[0].vms[0].pinned"},
    {"vm mem_mib is a boolean", V0 ",\"usage\":{\"cpu\":1},\"mem_mib\":true}]}]}", 0, NULL,
     "hosts[0].vms[0].mem_mib"},
    {"hosts missing", "{\"time\":1}", 0, NULL, "hosts"},
    {"host name missing", "{\"hosts\":[{\"usage\":{\"cpu\":1}}]}", 0, NULL, "hosts[0]"},
    {"host usage missing", "{\"hosts\":[{\"name\":\"h\"}]}", 0, NULL, "hosts[0]"},
    {"usage.cpu missing", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"disk\":1}}]}", 0, NULL,
     "hosts[0].usage"},
    {"vm usage.cpu missing", V0 ",\"usage\":{}}]}]}", 0, NULL, "hosts[0].vms[0].usage"},
    {"usage above 100", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":100.5}}]}", 0, NULL,
     "hosts[0].usage.cpu"},
    {"usage negative", V0 ",\"usage\":{\"cpu\":-1}}]}]}", 0, NULL, "hosts[0].vms[0].usage.cpu"},
    {"capacity 0", H0 ",\"capacity\":0}]}", 0, NULL, "hosts[0].capacity"},
    {"capacity negative", H0 ",\"capacity\":-2}]}", 0, NULL, "hosts[0].capacity"},
    {"mem_mib negative", H0 ",\"mem_mib\":-1}]}", 0, NULL, "hosts[0].mem_mib"},
    {"priority not an integer", V0 ",\"usage\":{\"cpu\":1},\"priority\":0.5}]}]}", 0, NULL,
     "hosts[0].vms[0].priority"},
    {"duplicate host", H0 "},{\"name\":\"h\",\"usage\":{\"cpu\":1}}]}", 0, NULL, "hosts[1].name"},
    {"duplicate vm across hosts",
     H0 ",\"vms\":[{\"name\":\"a\",\"usage\":{\"cpu\":1}}]},{\"name\":\"h2\",\"usage\":{\"cpu\":1},"
        "\"vms\":[{\"name\":\"a\",\"usage\":{\"cpu\":1}}]}]}",
     0, NULL, "hosts[1].vms[0].name"},
    {"empty host name", "{\"hosts\":[{\"name\":\"\",\"usage\":{\"cpu\":1}}]}", 0, NULL,
     "hosts[0].name"},
    {"host name over 255 bytes", NULL, 0, gen_long_name, "hosts[0].name"},
    {"unknown kind", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1,\"gpu\":3}}]}", 0, NULL,
     "hosts[0].usage.gpu"},
    {"unknown state", H0 ",\"state\":\"asleep\"}]}", 0, NULL, "hosts[0].state"},
    {"duplicate key", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1,\"cpu\":1}}]}", 0, NULL,
     "hosts[0].usage.cpu"},
    {"top level is an array", "[]", 0, NULL, NULL},
    {"truncated", "{\"hosts\": [{\"name\": \"h1\", \"usage\": {\"cpu\": 84},", 0, NULL, NULL},
    {"empty file", "", 0, NULL, NULL},
    {"binary garbage",
     LIT("\x7f"
         "ELF\x02\x01\x01\x00\x00\xff\xfe\n\x01"),
     NULL, NULL},
    {"invalid UTF-8", "{\"hosts\":[{\"name\":\"\xff\xfe\",\"usage\":{\"cpu\":1}}]}", 0, NULL, NULL},
    {"deep nesting", NULL, 0, gen_deep, NULL},
    {"deep nesting at the top", NULL, 0, gen_deep_top, NULL},
    {"number 1e999", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1e999}}]}", 0, NULL, NULL},
    /* Whether such a name is accepted is not specified; the one stderr line is. */
    {"a newline and an escape sequence inside names",
     "{\"hosts\":[{\"name\":\"a\\nb\\u001b[31m\",\"usage\":{\"cpu\":1}},"
     "{\"name\":\"a\\nb\\u001b[31m\",\"usage\":{\"cpu\":1}}]}",
     0, NULL, NULL},
};

static size_t snap_counter;

static void
test_bad_snapshot(void **state)
{
    const struct snap_case *sc = *state;
    size_t len = sc->len != 0 ? sc->len : (sc->json != NULL ? strlen(sc->json) : 0);
    char *owned = NULL;
    const char *data = sc->json;
    if (sc->gen != NULL) {
        owned = sc->gen(&len);
        data = owned;
    }
    char fname[64];
    snprintf(fname, sizeof(fname), "snap-%02zu.json", ++snap_counter);
    const char *path = clitest_write(fname, data, len);

    for (int json = 0; json <= 1; json++) {
        const char *argv[] = {vmloc_bin, "plan", "--snapshot", path, json ? "--json" : NULL, NULL};
        struct run_result res;
        run_or_fail(sc->name, argv, NULL, 0, &res);
        char what[160];
        snprintf(what, sizeof(what), "%s%s", sc->name, json ? " (--json)" : "");
        clitest_check_failed(what, &res, base_name(path), sc->path);
        run_result_done(&res);
    }

    /* The same bytes on standard input: the message names standard input instead. */
    const char *argv[] = {vmloc_bin, "plan", "--snapshot", "-", "--json", NULL};
    struct run_result res;
    run_or_fail(sc->name, argv, data, len, &res);
    char what[160];
    snprintf(what, sizeof(what), "%s (stdin)", sc->name);
    clitest_check_failed(what, &res, "stdin", sc->path);
    run_result_done(&res);
    free(owned);
}

/* ---------------------------------------------------------------------------------------- */
/* Bad configs */

struct cfg_case {
    const char *name;
    const char *ini;
    int line;
    const char *key; /* the key (or section) the message must name, or NULL */
};

static struct cfg_case cfg_cases[] = {
    {"unknown section", "[detect]\nmin_vms = 2\n[bogus]\n", 3, "bogus"},
    {"unknown key", "[detect]\n\nthresh = 5\n", 3, "thresh"},
    {"unknown key in relocate", "[relocate]\nmin_vms = 2\n", 2, "min_vms"},
    {"unknown key in a host section", "[host \"h1\"]\ncombine = all\n", 2, "combine"},
    {"unknown kind", "[detect]\nhost_threshold.gpu = 70\n", 2, "host_threshold.gpu"},
    {"unknown kind per host", "[host \"h1\"]\nhost_threshold.gpu = 70\n", 2, "host_threshold.gpu"},
    {"unknown kind in resources", "[detect]\nresources = cpu, gpu\n", 2, "resources"},
    {"unknown kind in weights", "[relocate]\nweights = gpu:1\n", 2, "weights"},
    {"threshold above 100", "[detect]\nhost_threshold = 101\n", 2, "host_threshold"},
    {"threshold negative", "[detect]\nhost_threshold.disk = -1\n", 2, "host_threshold.disk"},
    {"vm threshold above 100", "[detect]\nvm_threshold_value.net = 100.1\n", 2,
     "vm_threshold_value.net"},
    {"k negative", "[detect]\nvm_threshold_k = -1\n", 2, "vm_threshold_k"},
    {"min_vms 0", "[detect]\nmin_vms = 0\n", 2, "min_vms"},
    {"capacity 0", "[host \"h1\"]\ncapacity = 0\n", 2, "capacity"},
    {"capacity negative", "[host \"h1\"]\ncapacity = -1\n", 2, "capacity"},
    {"bad combine", "[detect]\ncombine = most\n", 2, "combine"},
    {"bad vm_threshold", "[detect]\nvm_threshold = dynamic\n", 2, "vm_threshold"},
    {"bad vm_select", "[relocate]\nvm_select = random\n", 2, "vm_select"},
    {"bad dest_select", "[relocate]\ndest_select = best\n", 2, "dest_select"},
    {"bad prefer_busy_hosts", "[relocate]\nprefer_busy_hosts = perhaps\n", 2, "prefer_busy_hosts"},
    {"80abc", "[detect]\nhost_threshold = 80abc\n", 2, "host_threshold"},
    {"empty number", "[detect]\nhost_threshold =\n", 2, "host_threshold"},
    {"nan", "[detect]\nvm_threshold_value = nan\n", 2, "vm_threshold_value"},
    {"inf", "[detect]\nvm_threshold_k = inf\n", 2, "vm_threshold_k"},
    {"repeated key", "[detect]\nmin_vms = 2\n; again\nmin_vms = 3\n", 4, "min_vms"},
    {"line without '='", "[detect]\nmin_vms\n", 2, NULL},
    {"over-long line", NULL, 2, NULL},
    {"CRLF line count", "[detect]\r\n\r\nmin_vms = 0\r\n", 3, "min_vms"},
};

static size_t cfg_counter;

static void
test_bad_config(void **state)
{
    const struct cfg_case *cc = *state;
    const char *snap = "{\"hosts\":[{\"name\":\"h1\",\"usage\":{\"cpu\":1}}]}";
    char fname[64];
    snprintf(fname, sizeof(fname), "cfgsnap-%02zu.json", ++cfg_counter);
    const char *spath = clitest_write(fname, snap, strlen(snap));
    snprintf(fname, sizeof(fname), "cfg-%02zu.ini", cfg_counter);
    /* A line one byte over the parser's limit (POLICY_INI_MAX_LINE, 256 KiB). */
    static char longline[256 * 1024 + 64];
    const char *ini = cc->ini;
    if (ini == NULL) {
        size_t n = 256 * 1024 + 1; /* bytes of line 2 */
        memset(longline, 0, sizeof(longline));
        memcpy(longline, "[detect]\nmin_vms = 2   ;", 24);
        memset(longline + 24, 'x', 9 + n - 24);
        longline[9 + n] = '\n';
        ini = longline;
    }
    const char *cpath = clitest_write(fname, ini, strlen(ini));
    char where[128];
    snprintf(where, sizeof(where), "%s:%d", base_name(cpath), cc->line);

    for (int json = 0; json <= 1; json++) {
        const char *argv[] = {vmloc_bin,  "plan", "--snapshot",           spath,
                              "--config", cpath,  json ? "--json" : NULL, NULL};
        struct run_result res;
        run_or_fail(cc->name, argv, NULL, 0, &res);
        char what[160];
        snprintf(what, sizeof(what), "%s%s", cc->name, json ? " (--json)" : "");
        clitest_check_failed(what, &res, where, cc->key);
        run_result_done(&res);
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Bad arguments */

static const char *good_snapshot_path;
static const char *good_config_path;

#define SNAP "@SNAP"       /* a valid snapshot */
#define CONF "@CONF"       /* a valid config */
#define ADIR "@DIR"        /* the temporary directory */
#define AFIFO "@FIFO"      /* a FIFO in it, that nothing ever writes */
#define MISSING "@MISSING" /* a file that does not exist */

struct arg_case {
    const char *name;
    const char *args[8]; /* after the binary; NULL-terminated */
    const char *want;    /* text stderr must contain ("@..." is expanded), or NULL */
};

static struct arg_case arg_cases[] = {
    {"unknown command", {"nosuchcmd", NULL}, "nosuchcmd"},
    {"unknown command with options", {"nosuchcmd", "--json", NULL}, "nosuchcmd"},
    {"missing --snapshot", {"plan", NULL}, "--snapshot"},
    {"missing --snapshot, --json given", {"plan", "--json", NULL}, "--snapshot"},
    {"missing --snapshot, --config given", {"plan", "--config", CONF, NULL}, "--snapshot"},
    {"--snapshot without a value", {"plan", "--snapshot", NULL}, "snapshot"},
    {"--config without a value", {"plan", "--snapshot", SNAP, "--config", NULL}, "config"},
    {"unknown option", {"plan", "--snapshot", SNAP, "--bogus", NULL}, "--bogus"},
    {"unknown option first", {"plan", "--frobnicate", "--snapshot", SNAP, NULL}, "--frobnicate"},
    {"unknown short option", {"plan", "-Z", "--snapshot", SNAP, NULL}, "-Z"},
    {"stray argument", {"plan", "--snapshot", SNAP, "stray", NULL}, "stray"},
    {"nonexistent snapshot", {"plan", "--snapshot", MISSING, NULL}, MISSING},
    {"nonexistent snapshot, --json", {"plan", "--snapshot", MISSING, "--json", NULL}, MISSING},
    {"snapshot is a directory", {"plan", "--snapshot", ADIR, NULL}, ADIR},
    {"nonexistent config", {"plan", "--snapshot", SNAP, "--config", MISSING, NULL}, MISSING},
    {"config is a directory", {"plan", "--snapshot", SNAP, "--config", ADIR, "--json", NULL}, ADIR},
    {"empty snapshot path", {"plan", "--snapshot", "", NULL}, NULL},
    /* A FIFO is refused at once, not waited on for a writer that never comes. */
    {"snapshot is a FIFO", {"plan", "--snapshot", AFIFO, NULL}, "not a regular file"},
    {"config is a FIFO",
     {"plan", "--snapshot", SNAP, "--config", AFIFO, NULL},
     "not a regular file"},
    {"daemon config is a FIFO", {"manager", "--config", AFIFO, NULL}, "not a regular file"},
    {"daemon token file is a FIFO",
     {"manager", "--listen", "127.0.0.1:0", "--token-file", AFIFO, NULL},
     "not a regular file"},
};

/* A FIFO in the test's directory, made once. */
static const char *
fifo_path(void)
{
    static const char *path;
    if (path == NULL)
        path = clitest_mkfifo("fifo");
    return path;
}

static const char *
expand(const char *a, const char *missing)
{
    if (a == NULL)
        return NULL;
    if (strcmp(a, SNAP) == 0)
        return good_snapshot_path;
    if (strcmp(a, CONF) == 0)
        return good_config_path;
    if (strcmp(a, ADIR) == 0)
        return clitest_dir();
    if (strcmp(a, AFIFO) == 0)
        return fifo_path();
    if (strcmp(a, MISSING) == 0)
        return missing;
    return a;
}

static void
test_bad_args(void **state)
{
    const struct arg_case *ac = *state;
    char *missing = clitest_asprintf("%s/no-such-file.json", clitest_dir());
    const char *argv[10];
    size_t n = 0;
    argv[n++] = vmloc_bin;
    for (size_t i = 0; ac->args[i] != NULL; i++)
        argv[n++] = expand(ac->args[i], missing);
    argv[n] = NULL;
    struct run_result res;
    run_or_fail(ac->name, argv, NULL, 0, &res);
    const char *want = expand(ac->want, missing);
    /* A file is named by its path or at least its last component. */
    if (want != NULL && want[0] == '/')
        want = base_name(want);
    clitest_check_failed(ac->name, &res, want, NULL);
    run_result_done(&res);
    free(missing);
}

/* ---------------------------------------------------------------------------------------- */
/* Help, success, standard input */

static const char example02_snapshot[] =
    "{\"hosts\":[{\"name\":\"host1\",\"usage\":{\"cpu\":84},\"vms\":["
    "{\"name\":\"a\",\"usage\":{\"cpu\":40}},{\"name\":\"b\",\"usage\":{\"cpu\":19}},"
    "{\"name\":\"c\",\"usage\":{\"cpu\":17}},{\"name\":\"d\",\"usage\":{\"cpu\":6}}]},"
    "{\"name\":\"host2\",\"usage\":{\"cpu\":30},\"vms\":[{\"name\":\"e\",\"usage\":{\"cpu\":14}},"
    "{\"name\":\"f\",\"usage\":{\"cpu\":14}}]},"
    "{\"name\":\"host3\",\"usage\":{\"cpu\":50},\"vms\":[{\"name\":\"g\",\"usage\":{\"cpu\":48}}]}"
    "]}";
static const char example02_config[] = "[detect]\nvm_threshold = share\nvm_threshold_k = 5\n";

static bool
contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p != '\0'; p++) {
        size_t i = 0;
        while (i < n && p[i] != '\0' &&
               (p[i] | 0x20) == (needle[i] | 0x20)) /* ASCII letters only */
            i++;
        if (i == n)
            return true;
    }
    return false;
}

static void
check_help(const char *const *argv, const char *must1, const char *must2)
{
    struct run_result res;
    run_or_fail(argv[1], argv, NULL, 0, &res);
    if (res.exit_status != 0)
        fail_msg("%s %s: %s, want exit 0; stderr: %s", argv[1], argv[2] ? argv[2] : "",
                 run_describe(&res), res.err);
    if (res.out_len == 0)
        fail_msg("%s: no usage on stdout (stderr: %s)", argv[1], res.err);
    if (!contains_ci(res.out, "usage"))
        fail_msg("%s: stdout does not look like usage: %s", argv[1], res.out);
    if (must1 != NULL && strstr(res.out, must1) == NULL)
        fail_msg("%s: usage does not mention %s: %s", argv[1], must1, res.out);
    if (must2 != NULL && strstr(res.out, must2) == NULL)
        fail_msg("%s: usage does not mention %s: %s", argv[1], must2, res.out);
    run_result_done(&res);
}

static void
test_help(void **state)
{
    (void)state;
    const char *a1[] = {vmloc_bin, "--help", NULL};
    check_help(a1, "plan", NULL);
    const char *a2[] = {vmloc_bin, "plan", "--help", NULL};
    check_help(a2, "--snapshot", "--config");
    const char *a3[] = {vmloc_bin, "plan", "--help", "--snapshot", "/nonexistent", NULL};
    check_help(a3, "--json", NULL);
}

/* The lists of the plan contract, from stdout, compared with example 02's expectation. */
static void
check_example02_output(const char *what, const struct run_result *res)
{
    if (res->exit_status != 0)
        fail_msg("%s: %s, want exit 0; stderr: %s", what, run_describe(res), res->err);
    json_error_t jerr;
    json_t *got = json_loadb(res->out, res->out_len, 0, &jerr);
    if (got == NULL)
        fail_msg("%s: stdout is not one JSON value: %s\n%s", what, jerr.text, res->out);
    json_t *c = json_object_get(got, "conflicts");
    json_t *m = json_object_get(got, "migrations");
    json_t *u = json_object_get(got, "unresolved");
    if (!json_is_array(c) || json_array_size(c) != 1 || !json_is_array(m) ||
        json_array_size(m) != 1 || !json_is_array(u) || json_array_size(u) != 0)
        fail_msg("%s: unexpected plan: %s", what, res->out);
    json_t *c0 = json_array_get(c, 0);
    json_t *want_vms = json_pack("[sss]", "a", "b", "c");
    if (!json_equal(json_object_get(c0, "vms"), want_vms) ||
        strcmp(json_string_value(json_object_get(c0, "host")), "host1") != 0)
        fail_msg("%s: unexpected conflict: %s", what, res->out);
    json_t *m0 = json_array_get(m, 0);
    json_t *want_m = json_pack("{s:s,s:s,s:s}", "vm", "a", "from", "host1", "to", "host2");
    const char *k;
    json_t *v;
    json_object_foreach(want_m, k, v)
    {
        if (!json_equal(json_object_get(m0, k), v))
            fail_msg("%s: unexpected migration: %s", what, res->out);
    }
    json_decref(want_m);
    json_decref(want_vms);
    json_decref(got);
}

static void
test_success_files(void **state)
{
    (void)state;
    const char *argv[] = {vmloc_bin,  "plan",           "--snapshot", good_snapshot_path,
                          "--config", good_config_path, "--json",     NULL};
    struct run_result res;
    run_or_fail("files", argv, NULL, 0, &res);
    check_example02_output("snapshot and config files", &res);
    run_result_done(&res);

    /* Options in another order. */
    const char *argv2[] = {vmloc_bin,        "plan",       "--json",           "--config",
                           good_config_path, "--snapshot", good_snapshot_path, NULL};
    run_or_fail("files", argv2, NULL, 0, &res);
    check_example02_output("options in another order", &res);
    run_result_done(&res);

    /* Without --json: something for a person, nothing on stderr. */
    const char *argv3[] = {vmloc_bin,  "plan",           "--snapshot", good_snapshot_path,
                           "--config", good_config_path, NULL};
    run_or_fail("text", argv3, NULL, 0, &res);
    if (res.exit_status != 0 || res.out_len == 0)
        fail_msg("text output: %s, %zu bytes; stderr: %s", run_describe(&res), res.out_len,
                 res.err);
    if (strstr(res.out, "host1") == NULL || strstr(res.out, "host2") == NULL)
        fail_msg("text output does not name the hosts of the move: %s", res.out);
    run_result_done(&res);
}

static void
test_stdin(void **state)
{
    (void)state;
    const char *argv[] = {vmloc_bin,  "plan",           "--snapshot", "-",
                          "--config", good_config_path, "--json",     NULL};
    struct run_result res;
    run_or_fail("stdin", argv, example02_snapshot, strlen(example02_snapshot), &res);
    check_example02_output("--snapshot - (standard input)", &res);
    run_result_done(&res);

    /* A bad snapshot on standard input: the message names standard input and the field. */
    const char bad[] = "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1,\"gpu\":2}}]}";
    const char *argv2[] = {vmloc_bin, "plan", "--snapshot", "-", "--json", NULL};
    run_or_fail("stdin", argv2, bad, strlen(bad), &res);
    clitest_check_failed("bad snapshot on standard input", &res, "stdin", "hosts[0].usage.gpu");
    run_result_done(&res);

    /* Empty standard input. */
    run_or_fail("stdin", argv2, "", 0, &res);
    clitest_check_failed("empty standard input", &res, "stdin", NULL);
    run_result_done(&res);

    /* Truncated standard input. */
    run_or_fail("stdin", argv2, example02_snapshot, strlen(example02_snapshot) - 3, &res);
    clitest_check_failed("truncated standard input", &res, "stdin", NULL);
    run_result_done(&res);
}

/* The host names of the objects of array `key` of `plan`, in order, joined by spaces. */
static char *
plan_hosts(json_t *plan, const char *key)
{
    json_t *a = json_object_get(plan, key);
    if (!json_is_array(a))
        fail_msg("plan has no array \"%s\"", key);
    char *out = clitest_asprintf("%s", "");
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        const char *h = json_string_value(json_object_get(e, "host"));
        char *next = clitest_asprintf("%s%s%s", out, i > 0 ? " " : "", h != NULL ? h : "?");
        free(out);
        out = next;
    }
    return out;
}

/* The "contention" text of the entry for `host` in array `key` of `plan`. */
static const char *
plan_contention(json_t *plan, const char *key, const char *host)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(plan, key), i, e)
    {
        const char *h = json_string_value(json_object_get(e, "host"));
        if (h != NULL && strcmp(h, host) == 0)
            return json_string_value(json_object_get(e, "contention"));
    }
    return NULL;
}

static void
expect_str(const char *what, const char *got, const char *want)
{
    if (got == NULL || strcmp(got, want) != 0)
        fail_msg("%s: got \"%s\", want \"%s\"", what, got != NULL ? got : "(none)", want);
}

static void
expect_prefix(const char *what, const char *got, const char *want)
{
    if (got == NULL || strncmp(got, want, strlen(want)) != 0)
        fail_msg("%s: got \"%s\", want it to start \"%s\"", what, got != NULL ? got : "(none)",
                 want);
}

/* The worked example of docs/snapshot.md (docs/examples/contention): the snapshot's cpu_wait
 * and pressure reach the detector, so `contention = confirm` acts on the hosts whose VMs wait
 * (web) or whose cpu pressure is high (db), not on the busy host that does not hurt (batch);
 * the same snapshot without the signals confirms nothing; with contention off, all three. */
static void
test_contention_example(void **state)
{
    (void)state;
    const char *docs = getenv("VMLOC_DOCS");
    if (docs == NULL || docs[0] == '\0')
        fail_msg("VMLOC_DOCS is not set");
    char *ini = clitest_asprintf("%s/examples/contention/policy.ini", docs);
    char *with = clitest_asprintf("%s/examples/contention/with-wait.snapshot.json", docs);
    char *without = clitest_asprintf("%s/examples/contention/without-wait.snapshot.json", docs);

    const char *a1[] = {vmloc_bin, "plan", "--snapshot", with, "--config", ini, "--json", NULL};
    json_t *p = clitest_run_json("with wait", a1, TIMEOUT_S, 0);
    char *s = plan_hosts(p, "conflicts");
    expect_str("with wait: conflicts", s, "web db");
    free(s);
    s = plan_hosts(p, "unconfirmed");
    expect_str("with wait: unconfirmed", s, "batch");
    free(s);
    expect_str("with wait: web", plan_contention(p, "conflicts", "web"),
               "confirmed by cpu wait (2 heavy VMs wait >= 5 %)");
    expect_str("with wait: db", plan_contention(p, "conflicts", "db"),
               "confirmed by cpu pressure some 24.0 % >= 10 %");
    expect_str(
        "with wait: batch", plan_contention(p, "unconfirmed", "batch"),
        "not confirmed: 0 heavy VMs wait >= 5 % (min_vms 2); cpu pressure some 3.2 % < 10 %");
    /* vm_select = wait: web-2 waits the most though web-1 uses more. */
    json_t *m = json_object_get(p, "migrations");
    json_t *want = json_pack("[{s:s,s:s,s:s},{s:s,s:s,s:s}]", "vm", "web-2", "from", "web", "to",
                             "spare-b", "vm", "db-1", "from", "db", "to", "spare-a");
    for (size_t i = 0; i < 2; i++) {
        const char *k;
        json_t *v;
        json_object_foreach(json_array_get(want, i), k, v)
        {
            if (json_array_size(m) != 2 || !json_equal(json_object_get(json_array_get(m, i), k), v))
                fail_msg("with wait: migrations: %s", json_dumps(m, 0));
        }
    }
    json_decref(want);
    json_decref(p);

    const char *a2[] = {vmloc_bin, "plan", "--snapshot", without, "--config", ini, "--json", NULL};
    p = clitest_run_json("without wait", a2, TIMEOUT_S, 0);
    s = plan_hosts(p, "conflicts");
    expect_str("without wait: conflicts", s, "");
    free(s);
    s = plan_hosts(p, "unconfirmed");
    expect_str("without wait: unconfirmed", s, "web batch db");
    free(s);
    expect_prefix("without wait: web", plan_contention(p, "unconfirmed", "web"),
                  "not confirmed: 0 heavy VMs wait >= 5 % (min_vms 2); cpu pressure not measured");
    if (json_array_size(json_object_get(p, "migrations")) != 0)
        fail_msg("without wait: migrations planned");
    json_decref(p);

    /* The same policy with contention off: usage alone, the signals ignored. */
    size_t len = 0;
    FILE *f = fopen(ini, "r");
    if (f == NULL)
        fail_msg("%s: %s", ini, strerror(errno));
    char buf[4096];
    len = fread(buf, 1, sizeof(buf) - 1, f);
    (void)fclose(f);
    buf[len] = '\0';
    char *at = strstr(buf, "contention = confirm");
    if (at == NULL)
        fail_msg("%s no longer sets contention = confirm", ini);
    *at = '\0';
    char *off =
        clitest_asprintf("%scontention = off    %s", buf, at + strlen("contention = confirm"));
    const char *off_ini = clitest_write("contention-off.ini", off, strlen(off));
    const char *a3[] = {vmloc_bin, "plan", "--snapshot", with, "--config", off_ini, "--json", NULL};
    p = clitest_run_json("contention off", a3, TIMEOUT_S, 0);
    s = plan_hosts(p, "conflicts");
    expect_str("contention off: conflicts", s, "web batch db");
    free(s);
    if (json_object_get(p, "unconfirmed") != NULL)
        fail_msg("contention off: an \"unconfirmed\" list");
    json_decref(p);
    free(off);
    free(ini);
    free(with);
    free(without);
}

/* A pure-ASCII snapshot whose conflicting host's name holds an escaped lone surrogate:
 * well-formed JSON, but no character. vmloc may reject it (exit 2, one line naming the file)
 * or accept it and print valid JSON; anything else (a run-time failure) is wrong. */
static void
test_lone_surrogate_name(void **state)
{
    (void)state;
    static const char snap[] =
        "{\"hosts\":[{\"name\":\"x\\udc00\",\"usage\":{\"cpu\":95},\"vms\":["
        "{\"name\":\"a\",\"usage\":{\"cpu\":50}},{\"name\":\"b\",\"usage\":{\"cpu\":40}}]},"
        "{\"name\":\"h2\",\"usage\":{\"cpu\":0}}]}";
    const char *path = clitest_write("surrogate.json", snap, strlen(snap));
    for (int json = 0; json <= 1; json++) {
        const char *argv[] = {vmloc_bin, "plan", "--snapshot", path, json ? "--json" : NULL, NULL};
        struct run_result res;
        run_or_fail("lone surrogate", argv, NULL, 0, &res);
        if (res.exit_status == 2) {
            clitest_check_failed("lone surrogate in a host name", &res, "surrogate.json", NULL);
        } else if (res.exit_status != 0) {
            FAIL_RUN(&res, "lone surrogate in a host name%s: %s, want 0 or 2; stderr: %s",
                     json ? " (--json)" : "", run_describe(&res), res.err);
        } else if (json) {
            json_error_t jerr;
            json_t *j = json_loadb(res.out, res.out_len, 0, &jerr);
            if (j == NULL)
                FAIL_RUN(&res, "lone surrogate: stdout is not valid JSON: %s", jerr.text);
            json_decref(j);
        }
        run_result_done(&res);
    }
}

/* A large snapshot on standard input, written in many pieces through the pipe. */
static void
test_stdin_large(void **state)
{
    (void)state;
    size_t hosts = 20000;
    size_t cap = hosts * 128 + 64, len = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    len += (size_t)snprintf(s + len, cap - len, "{\"hosts\":[");
    for (size_t i = 0; i < hosts; i++)
        len += (size_t)snprintf(s + len, cap - len,
                                "%s{\"name\":\"h%zu\",\"usage\":{\"cpu\":10},\"vms\":[{\"name\":"
                                "\"v%zu\",\"usage\":{\"cpu\":5}}]}",
                                i == 0 ? "" : ",", i, i);
    len += (size_t)snprintf(s + len, cap - len, "]}");
    const char *argv[] = {vmloc_bin, "plan", "--snapshot", "-", "--json", NULL};
    struct run_result res;
    run_or_fail("large stdin", argv, s, len, &res);
    if (res.exit_status != 0)
        fail_msg("large snapshot on stdin: %s; stderr: %s", run_describe(&res), res.err);
    json_error_t jerr;
    json_t *got = json_loadb(res.out, res.out_len, 0, &jerr);
    if (got == NULL || json_array_size(json_object_get(got, "conflicts")) != 0)
        fail_msg("large snapshot on stdin: unexpected output");
    json_decref(got);
    run_result_done(&res);
    free(s);
}

/* ---------------------------------------------------------------------------------------- */

typedef const char *(*row_name_fn)(const void *row);

static int
run_table(const char *group, void *rows, size_t row_size, size_t n, row_name_fn row_name,
          void (*fn)(void **state))
{
    struct CMUnitTest *t = calloc(n, sizeof(*t));
    if (t == NULL)
        abort();
    for (size_t i = 0; i < n; i++) {
        void *row = (char *)rows + i * row_size;
        t[i].name = row_name(row);
        t[i].test_func = fn;
        t[i].initial_state = row;
    }
    int failed = _cmocka_run_group_tests(group, t, n, NULL, NULL);
    free(t);
    return failed;
}

static const char *
snap_name(const void *row)
{
    return ((const struct snap_case *)row)->name;
}

static const char *
cfg_name(const void *row)
{
    return ((const struct cfg_case *)row)->name;
}

static const char *
arg_name(const void *row)
{
    return ((const struct arg_case *)row)->name;
}

int
main(void)
{
    vmloc_bin = clitest_bin();
    if (vmloc_bin == NULL)
        return 1;
    if (clitest_setup_dir("cli") != 0)
        return 1;
    good_snapshot_path = clitest_write("good.json", example02_snapshot, strlen(example02_snapshot));
    good_config_path = clitest_write("good.ini", example02_config, strlen(example02_config));

    int failed = 0;
    const struct CMUnitTest basics[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_success_files),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_stdin_large),
        cmocka_unit_test(test_lone_surrogate_name),
        cmocka_unit_test(test_contention_example),
    };
    failed += cmocka_run_group_tests_name("plan cli basics", basics, NULL, NULL);
    failed += run_table("plan cli bad arguments", arg_cases, sizeof(arg_cases[0]),
                        sizeof(arg_cases) / sizeof(arg_cases[0]), arg_name, test_bad_args);
    failed += run_table("plan cli bad snapshots", snap_cases, sizeof(snap_cases[0]),
                        sizeof(snap_cases) / sizeof(snap_cases[0]), snap_name, test_bad_snapshot);
    failed += run_table("plan cli bad configs", cfg_cases, sizeof(cfg_cases[0]),
                        sizeof(cfg_cases) / sizeof(cfg_cases[0]), cfg_name, test_bad_config);
    clitest_cleanup_dir();
    return failed != 0 ? 1 : 0;
}

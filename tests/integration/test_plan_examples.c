/* The examples of the plan contract (spec/examples, see its README) run through the real
 * binary: for every NAME.snapshot.json, `vmloc plan --snapshot FILE [--config NAME.ini]
 * --json` must print what NAME.expected.json holds (the conflicts, migrations and
 * unresolved lists, compared exactly) or fail as NAME.expected-error says (exit 2, nothing
 * on stdout, one "vmloc: " line on stderr containing that text); and without --json the
 * same run must succeed with some output for a person, or fail the same way. Cases are
 * found by listing the directory. Skips (77) when $VMLOC_SHARED/spec/examples is absent. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
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
/* cmocka.h needs the headers above included first. */
#include <cmocka.h>

#include <jansson.h>

#include "run.h"

#define TIMEOUT_S 30.0
#define SUFFIX ".snapshot.json"

struct example {
    char *name;
    char *snapshot;
    char *ini;            /* NULL: no NAME.ini */
    char *expected;       /* NULL: no NAME.expected.json */
    char *expected_error; /* NULL: no NAME.expected-error */
};

static const char *vmloc_bin;
static size_t n_examples;

static char *
path_join(const char *dir, const char *name, const char *suffix)
{
    size_t n = strlen(dir) + 1 + strlen(name) + strlen(suffix) + 1;
    char *p = malloc(n);
    if (p == NULL)
        abort();
    snprintf(p, n, "%s/%s%s", dir, name, suffix);
    return p;
}

static char *
concat(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 1;
    char *p = malloc(n);
    if (p == NULL)
        abort();
    snprintf(p, n, "%s%s", a, b);
    return p;
}

static bool
is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The whole file, NUL-terminated, or NULL. */
static char *
read_file(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf != NULL) {
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
        if (cap - len - 1 == 0) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    (void)fclose(f);
    if (buf == NULL)
        return NULL;
    buf[len] = '\0';
    if (ret_len != NULL)
        *ret_len = len;
    return buf;
}

/* Trim leading and trailing whitespace in place. */
static char *
trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int
run_case(const struct example *ex, bool json, struct run_result *res)
{
    const char *argv[9];
    size_t n = 0;
    argv[n++] = vmloc_bin;
    argv[n++] = "plan";
    argv[n++] = "--snapshot";
    argv[n++] = ex->snapshot;
    if (ex->ini != NULL) {
        argv[n++] = "--config";
        argv[n++] = ex->ini;
    }
    if (json)
        argv[n++] = "--json";
    argv[n] = NULL;
    return run_program(argv, NULL, 0, TIMEOUT_S, res);
}

/* Exit 2, nothing on stdout, exactly one line on stderr starting "vmloc: " and holding
 * the text of NAME.expected-error. */
static void
check_error_run(const struct example *ex, const struct run_result *res, const char *how)
{
    char *want_raw = read_file(ex->expected_error, NULL);
    if (want_raw == NULL)
        fail_msg("%s: cannot read %s", ex->name, ex->expected_error);
    const char *want = trim(want_raw);
    if (res->exit_status != 2)
        fail_msg("%s (%s): %s, want exit 2; stderr: %s", ex->name, how, run_describe(res),
                 res->err);
    if (res->out_len != 0)
        fail_msg("%s (%s): stdout not empty: %s", ex->name, how, res->out);
    const char *nl = memchr(res->err, '\n', res->err_len);
    if (nl == NULL || (size_t)(nl - res->err) + 1 != res->err_len)
        fail_msg("%s (%s): stderr is not exactly one line: \"%s\"", ex->name, how, res->err);
    if (strncmp(res->err, "vmloc: ", 7) != 0)
        fail_msg("%s (%s): stderr does not start with \"vmloc: \": %s", ex->name, how, res->err);
    if (strstr(res->err, want) == NULL)
        fail_msg("%s (%s): stderr does not contain \"%s\": %s", ex->name, how, want, res->err);
    free(want_raw);
}

static void
test_example_json(void **state)
{
    const struct example *ex = *state;
    if ((ex->expected == NULL) == (ex->expected_error == NULL))
        fail_msg("%s: needs exactly one of %s.expected.json and %s.expected-error", ex->name,
                 ex->name, ex->name);
    struct run_result res;
    int r = run_case(ex, true, &res);
    if (r != 0)
        fail_msg("%s: cannot run %s: %s", ex->name, vmloc_bin, strerror(-r));

    if (ex->expected_error != NULL) {
        check_error_run(ex, &res, "--json");
        run_result_done(&res);
        return;
    }

    if (res.exit_status != 0)
        fail_msg("%s: %s, want exit 0; stderr: %s", ex->name, run_describe(&res), res.err);
    json_error_t jerr;
    json_t *got = json_loadb(res.out, res.out_len, 0, &jerr);
    if (got == NULL)
        fail_msg("%s: stdout is not one JSON value: %s (line %d)\n%s", ex->name, jerr.text,
                 jerr.line, res.out);
    if (!json_is_object(got))
        fail_msg("%s: stdout is not a JSON object", ex->name);
    json_t *want = json_load_file(ex->expected, 0, &jerr);
    if (want == NULL)
        fail_msg("%s: cannot parse %s: %s", ex->name, ex->expected, jerr.text);
    static const char *const keys[] = {"conflicts", "migrations", "unresolved"};
    for (size_t i = 0; i < 3; i++) {
        json_t *g = json_object_get(got, keys[i]);
        json_t *w = json_object_get(want, keys[i]);
        if (w == NULL)
            fail_msg("%s: %s has no \"%s\"", ex->name, ex->expected, keys[i]);
        if (g == NULL)
            fail_msg("%s: output has no \"%s\"", ex->name, keys[i]);
        /* Items may carry more keys than the contract's (policy.md §5): compare those. */
        json_t *trimmed = json_array();
        if (json_is_array(g) && json_is_array(w)) {
            for (size_t j = 0; j < json_array_size(g); j++) {
                json_t *item = json_array_get(g, j);
                json_t *wi = json_array_get(w, j < json_array_size(w) ? j : 0);
                if (!json_is_object(item) || !json_is_object(wi)) {
                    json_array_append(trimmed, item);
                    continue;
                }
                json_t *t = json_object();
                const char *k;
                json_t *v;
                json_object_foreach(wi, k, v)
                {
                    json_t *gv = json_object_get(item, k);
                    if (gv != NULL)
                        json_object_set(t, k, gv);
                }
                json_array_append_new(trimmed, t);
            }
        } else {
            json_decref(trimmed);
            trimmed = json_incref(g);
        }
        if (!json_equal(trimmed, w)) {
            char *gs = json_dumps(g, JSON_COMPACT);
            char *ws = json_dumps(w, JSON_COMPACT);
            fail_msg("%s: \"%s\" differs\n got  %s\n want %s", ex->name, keys[i], gs, ws);
        }
        json_decref(trimmed);
    }
    json_decref(want);
    json_decref(got);
    run_result_done(&res);
}

static void
test_example_text(void **state)
{
    const struct example *ex = *state;
    struct run_result res;
    int r = run_case(ex, false, &res);
    if (r != 0)
        fail_msg("%s: cannot run %s: %s", ex->name, vmloc_bin, strerror(-r));
    if (ex->expected_error != NULL) {
        check_error_run(ex, &res, "text");
        run_result_done(&res);
        return;
    }
    if (res.exit_status != 0)
        fail_msg("%s (text): %s, want exit 0; stderr: %s", ex->name, run_describe(&res), res.err);
    bool visible = false;
    for (size_t i = 0; i < res.out_len; i++) {
        if (res.out[i] != ' ' && res.out[i] != '\n' && res.out[i] != '\t' && res.out[i] != '\r')
            visible = true;
    }
    if (!visible)
        fail_msg("%s (text): no output", ex->name);
    run_result_done(&res);
}

static void
test_cases_found(void **state)
{
    (void)state;
    if (n_examples == 0)
        fail_msg("no *" SUFFIX " found in the examples directory");
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
main(void)
{
    const char *shared = getenv("VMLOC_SHARED");
    vmloc_bin = getenv("VMLOC_BIN");
    if (shared == NULL || shared[0] == '\0') {
        printf("VMLOC_SHARED is not set: no examples to run, skipping\n");
        return 77;
    }
    char *dir = path_join(shared, "spec/examples", "");
    DIR *d = opendir(dir);
    if (d == NULL) {
        printf("%s: %s: the plan examples are absent, skipping\n", dir, strerror(errno));
        free(dir);
        return 77;
    }
    if (vmloc_bin == NULL || vmloc_bin[0] == '\0') {
        fprintf(stderr, "VMLOC_BIN is not set: the path of the vmloc binary is needed\n");
        (void)closedir(d);
        free(dir);
        return 1;
    }

    size_t cap = 16, n = 0;
    char **names = malloc(cap * sizeof(*names));
    if (names == NULL)
        abort();
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        size_t len = strlen(e->d_name), sl = strlen(SUFFIX);
        if (len <= sl || strcmp(e->d_name + len - sl, SUFFIX) != 0)
            continue;
        if (n == cap) {
            cap *= 2;
            char **nn = realloc(names, cap * sizeof(*names));
            if (nn == NULL)
                abort();
            names = nn;
        }
        names[n] = strndup(e->d_name, len - sl);
        if (names[n] == NULL)
            abort();
        n++;
    }
    (void)closedir(d);
    qsort(names, n, sizeof(*names), cmp_str);
    n_examples = n;

    struct example *ex = calloc(n + 1, sizeof(*ex));
    struct CMUnitTest *t = calloc(2 * n + 1, sizeof(*t));
    char **test_names = calloc(2 * n + 1, sizeof(*test_names));
    if (ex == NULL || t == NULL || test_names == NULL)
        abort();
    size_t nt = 0;
    t[nt].name = "examples found";
    t[nt++].test_func = test_cases_found;
    for (size_t i = 0; i < n; i++) {
        ex[i].name = names[i];
        ex[i].snapshot = path_join(dir, names[i], SUFFIX);
        char *p = path_join(dir, names[i], ".ini");
        ex[i].ini = is_file(p) ? p : (free(p), NULL);
        p = path_join(dir, names[i], ".expected.json");
        ex[i].expected = is_file(p) ? p : (free(p), NULL);
        p = path_join(dir, names[i], ".expected-error");
        ex[i].expected_error = is_file(p) ? p : (free(p), NULL);

        test_names[2 * i] = concat(names[i], " --json");
        test_names[2 * i + 1] = concat(names[i], " (text)");
        t[nt].name = test_names[2 * i];
        t[nt].test_func = test_example_json;
        t[nt++].initial_state = &ex[i];
        t[nt].name = test_names[2 * i + 1];
        t[nt].test_func = test_example_text;
        t[nt++].initial_state = &ex[i];
    }
    int failed = _cmocka_run_group_tests("plan examples", t, nt, NULL, NULL);

    for (size_t i = 0; i < n; i++) {
        free(ex[i].name);
        free(ex[i].snapshot);
        free(ex[i].ini);
        free(ex[i].expected);
        free(ex[i].expected_error);
        free(test_names[2 * i]);
        free(test_names[2 * i + 1]);
    }
    free(test_names);
    free(t);
    free(ex);
    free(names);
    free(dir);
    return failed != 0 ? 1 : 0;
}

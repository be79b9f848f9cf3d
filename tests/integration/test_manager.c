/* Integration tests of `vmloc manager` (central mode) with agents on the simulated backend:
 * real processes on 127.0.0.1, talked to over HTTP and through the vmloc CLI. Each test
 * starts its own manager on a fresh data directory with `--interval 0.2` and its agents with
 * `--manager URL --interval 0.2`. No test sleeps to wait: each waits for a daemon's listening
 * line or polls a condition with a deadline. When a test fails, the logs of its daemons are
 * printed and the daemons still running are killed. */
#define _GNU_SOURCE /* sched_getaffinity(), CPU_COUNT() */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"
#include "testpool.h"

/* Run the CLI with standard output and standard error captured (both NUL-terminated; the
 * caller frees them). Returns the exit status. */
static int
run_cli_both(const char *const *argv, char **ret_out, char **ret_err)
{
    char err_path[600];
    (void)snprintf(err_path, sizeof(err_path), "%s/%s-stderr.txt", daemon_tmpdir(), pool_prefix());
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        (void)dup2(p[1], STDOUT_FILENO);
        if (e >= 0)
            (void)dup2(e, STDERR_FILENO);
        (void)close(p[0]);
        (void)close(p[1]);
        size_t n = 0;
        while (argv[n] != NULL)
            n++;
        char **args = calloc(n + 2, sizeof(*args));
        if (args == NULL)
            _exit(127);
        args[0] = (char *)daemon_bin();
        for (size_t i = 0; i < n; i++)
            args[i + 1] = (char *)argv[i];
        execv(args[0], args);
        _exit(127);
    }
    (void)close(p[1]);
    size_t cap = 4096;
    size_t len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            out = realloc(out, cap);
            assert_non_null(out);
        }
        ssize_t n = read(p[0], out + len, cap - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    out[len] = '\0';
    (void)close(p[0]);
    int status = 0;
    (void)waitpid(pid, &status, 0);
    FILE *f = fopen(err_path, "r");
    assert_non_null(f);
    char *err = calloc(1, 65536);
    assert_non_null(err);
    size_t elen = fread(err, 1, 65535, f);
    err[elen] = '\0';
    (void)fclose(f);
    *ret_out = out;
    *ret_err = err;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* One line on standard error, "vmloc: ...\n", that contains `needle` (if not NULL). */
static void
assert_one_error_line(const char *err, const char *needle)
{
    if (strncmp(err, "vmloc: ", 7) != 0 || strchr(err, '\n') == NULL ||
        strchr(err, '\n')[1] != '\0' || (needle != NULL && strstr(err, needle) == NULL))
        printf("standard error: '%s' (expected one 'vmloc: ' line naming '%s')\n", err,
               needle != NULL ? needle : "");
    assert_true(strncmp(err, "vmloc: ", 7) == 0);
    assert_non_null(strchr(err, '\n'));
    assert_true(strchr(err, '\n')[1] == '\0');
    if (needle != NULL)
        assert_non_null(strstr(err, needle));
}

/* ---- conditions to wait for ---------------------------------------------------------------- */

/* The manager recorded a conflict on host `a` whose outcome contains `b`. */
static bool
conflict_with(void *arg)
{
    struct cond *c = arg;
    json_t *arr = get(c->url, "/v1/conflicts");
    bool ok = false;
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x)
    {
        if (strcmp(str(x, "host"), c->a) == 0 && strstr(str(x, "outcome"), c->b) != NULL)
            ok = true;
    }
    json_decref(arr);
    return ok;
}

/* Agent `url` runs VM `a` in state `b`. */
static bool
agent_vm_is(void *arg)
{
    struct cond *c = arg;
    json_t *arr = get(c->url, "/v1/vms");
    bool ok = false;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (strcmp(str(v, "name"), c->a) == 0 && strcmp(str(v, "state"), c->b) == 0)
            ok = true;
    }
    json_decref(arr);
    return ok;
}

/* The manager's /v1/vms lists VM `a` once, on host `b`, running; with `n` 1, not counting
 * arrivals (VMs listed as "incoming", which are not yet the host's). */
static bool
manager_vm_on(void *arg)
{
    struct cond *c = arg;
    json_t *arr = get(c->url, "/v1/vms");
    int seen = 0;
    bool on = false;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (strcmp(str(v, "name"), c->a) != 0)
            continue;
        if (c->n == 1 && strcmp(str(v, "state"), "incoming") == 0)
            continue;
        seen++;
        on = strcmp(str(v, "host"), c->b) == 0 && strcmp(str(v, "state"), "running") == 0;
    }
    json_decref(arr);
    return seen == 1 && on;
}

static void
wait_hosts_up(const char *manager_url, long long n)
{
    struct cond c = {manager_url, NULL, NULL, n};
    bool ok = wait_until(hosts_up, &c, UP_S);
    if (!ok)
        printf("the manager did not see %lld hosts up\n", n);
    assert_true(ok);
}

/* Wait for `rounds` more collection rounds of the manager. */
static void
wait_rounds(const char *manager_url, long long rounds)
{
    long long r0 = health_int(manager_url, "rounds");
    assert_true(r0 >= 0);
    struct cond c = {manager_url, NULL, NULL, r0 + rounds};
    assert_true(wait_until(rounds_reach, &c, ACT_S));
}

static void
wait_migration(const char *manager_url, const char *vm, const char *state)
{
    struct cond c = {manager_url, vm, state, 0};
    bool ok = wait_until(migration_is, &c, ACT_S);
    if (!ok)
        printf("no migration of %s reached state %s\n", vm, state);
    assert_true(ok);
}

/* How many times VM `vm` is listed (any state) on the agents `urls`. */
static int
count_vm(const char *const *urls, size_t n, const char *vm, const char **ret_host)
{
    int count = 0;
    for (size_t k = 0; k < n; k++) {
        json_t *arr = get(urls[k], "/v1/vms");
        assert_true(json_is_array(arr));
        size_t i;
        json_t *v;
        json_array_foreach(arr, i, v)
        {
            if (strcmp(str(v, "name"), vm) == 0) {
                count++;
                if (ret_host != NULL)
                    *ret_host = urls[k];
            }
        }
        json_decref(arr);
    }
    return count;
}

/* Migrations in `arr` that move `vm` or touch host `host` (either may be NULL). */
static size_t
count_migrations(json_t *arr, const char *vm, const char *host)
{
    size_t n = 0;
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        if ((vm != NULL && strcmp(str(m, "vm"), vm) == 0) ||
            (host != NULL &&
             (strcmp(str(m, "from"), host) == 0 || strcmp(str(m, "to"), host) == 0)))
            n++;
    }
    return n;
}

/* The contract's keys of one finished migration. */
static void
assert_migration(json_t *m, const char *vm, const char *from, const char *to, const char *state)
{
    assert_string_equal(str(m, "vm"), vm);
    assert_string_equal(str(m, "from"), from);
    assert_string_equal(str(m, "to"), to);
    assert_string_equal(str(m, "state"), state);
    assert_true(json_is_number(json_object_get(m, "started")));
    assert_true(json_is_number(json_object_get(m, "finished")));
    double started = json_number_value(json_object_get(m, "started"));
    double finished = json_number_value(json_object_get(m, "finished"));
    assert_true(started > 1e9); /* seconds since the epoch */
    assert_true(finished >= started);
}

static bool
array_has_string(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

/* ---- 1. a load change creates a conflict that is resolved ---------------------------------- */

/* `mx`: the manager's own options (NULL: none). */
static void
conflict_resolved(const char *const *mx, bool beside)
{
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", mx);
    const char *e1[] = {"--vm", "a:cpu=30", "--vm", "b:cpu=25", NULL};
    const char *e2[] = {"--vm", "c:cpu=10", NULL};
    const char *e3[] = {"--vm", "d:cpu=40", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    struct daemon *h2 = pool_start_agent("h2", m->url, e2);
    struct daemon *h3 = pool_start_agent("h3", m->url, e3);
    wait_hosts_up(m->url, 3);
    /* 60 + 25 + 2 % overhead = 87 >= 80 with two VMs >= 20: a conflict on h1. The heaviest
     * VM is a; h2 has the most free CPU (88, against 58 on h3) and fits it. */
    load(h1->url, "a", "cpu=60");
    wait_migration(m->url, "a", "done");

    json_t *migs = cli_list(m->url, "migrations");
    assert_int_equal(json_array_size(migs), 1);
    assert_migration(json_array_get(migs, 0), "a", "h1", "h2", "done");
    json_decref(migs);

    const char *agents[] = {h1->url, h2->url, h3->url};
    const char *where = NULL;
    assert_int_equal(count_vm(agents, 3, "a", &where), 1);
    assert_string_equal(where, h2->url);
    struct cond on_h2 = {h2->url, "a", "running", 0};
    assert_true(agent_vm_is(&on_h2));
    struct cond mgr_on_h2 = {m->url, "a", "h2", 0};
    assert_true(wait_until(manager_vm_on, &mgr_on_h2, ACT_S));

    json_t *conflicts = cli_list(m->url, "conflicts");
    assert_true(json_array_size(conflicts) >= 1);
    json_t *c = json_array_get(conflicts, 0);
    assert_string_equal(str(c, "host"), "h1");
    assert_true(json_is_number(json_object_get(c, "time")));
    assert_true(json_number_value(json_object_get(c, "time")) > 1e9);
    json_t *res = json_object_get(c, "resources");
    assert_int_equal(json_array_size(res), 1);
    assert_true(array_has_string(res, "cpu"));
    json_t *vms = json_object_get(c, "vms");
    assert_int_equal(json_array_size(vms), 2);
    assert_true(array_has_string(vms, "a"));
    assert_true(array_has_string(vms, "b"));
    assert_string_equal(str(c, "outcome"), "move a to h2");
    json_decref(conflicts);

    /* Settled: h1 is at 27 %, h2 at 72 %; nothing else moves in the next rounds. */
    wait_rounds(m->url, 5);
    migs = cli_list(m->url, "migrations");
    assert_int_equal(json_array_size(migs), 1);
    json_decref(migs);
    /* Where the samples were decoded: by the thread, or all on the loop. */
    long long decoded = health_int(m->url, "decoded_beside");
    if (beside)
        assert_true(decoded > 0);
    else
        assert_int_equal(decoded, 0);
    pool_finish();
}

static void
test_conflict_resolved(void **state)
{
    (void)state;
    conflict_resolved(NULL, false); /* decoded on the loop: decode_threads = auto, < 2000 hosts */
}

/* The same with the samples decoded beside the loop. */
static void
test_conflict_resolved_decode_thread(void **state)
{
    (void)state;
    const char *mx[] = {"--decode-threads", "1", NULL};
    conflict_resolved(mx, true);
}

/* The figures of a finished migration's job in entry `m` of GET /v1/migrations: all three
 * numbers, the data the VM's memory and the last round (1/64 of it) of the simulated copy, the
 * downtime within the job's time. `mem_mib` < 0: not checked against the memory. */
static void
assert_job_figures(json_t *m, double mem_mib)
{
    json_t *down = json_object_get(m, "downtime_ms");
    json_t *sent = json_object_get(m, "transferred_mib");
    json_t *total = json_object_get(m, "total_ms");
    assert_true(json_is_number(down) && json_is_number(sent) && json_is_number(total));
    assert_true(json_number_value(down) > 0);
    assert_true(json_number_value(total) >= json_number_value(down));
    assert_true(json_number_value(sent) > 0);
    if (mem_mib >= 0) {
        double want = mem_mib * 65.0 / 64.0;
        assert_true(json_number_value(sent) > want - 0.01 && json_number_value(sent) < want + 0.01);
    }
}

/* The manager lists the job figures of its migration `a`. */
static bool
manager_has_figures(void *arg)
{
    struct cond *c = arg;
    json_t *arr = get(c->url, "/v1/migrations");
    json_t *g = json_array_get(arr, 0);
    bool ok = g != NULL && strcmp(str(g, "vm"), c->a) == 0 &&
              json_is_number(json_object_get(g, "downtime_ms"));
    json_decref(arr);
    return ok;
}

/* A finished migration reports what its job took, on the source agent (GET /v1/migrations
 * and /v1/migrations/ID, its /metrics' downtime histogram) and on the manager. */
static void
test_migration_job_figures(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    const char *e1[] = {"--vm", "a:cpu=30", "--vm", "b:cpu=25", NULL};
    const char *e2[] = {"--vm", "c:cpu=10", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    struct daemon *h2 = pool_start_agent("h2", m->url, e2);
    wait_hosts_up(m->url, 2);
    char *text = metrics_text(h1->url);
    assert_non_null(strstr(text, "vmloc_migration_downtime_seconds_count 0\n"));
    free(text);
    load(h1->url, "a", "cpu=60");
    wait_migration(m->url, "a", "done");

    json_t *arr = get(h1->url, "/v1/migrations");
    assert_int_equal(json_array_size(arr), 1);
    json_t *g = json_array_get(arr, 0);
    assert_string_equal(str(g, "state"), "done");
    assert_job_figures(g, json_number_value(json_object_get(g, "mem_mib")));
    char path[160];
    (void)snprintf(path, sizeof(path), "/v1/migrations/%s", str(g, "id"));
    json_t *one = get(h1->url, path);
    assert_job_figures(one, json_number_value(json_object_get(g, "mem_mib")));
    json_decref(one);
    json_decref(arr);

    text = metrics_text(h1->url);
    assert_non_null(strstr(text, "# TYPE vmloc_migration_downtime_seconds histogram\n"));
    assert_non_null(strstr(text, "vmloc_migration_downtime_seconds_count 1\n"));
    free(text);

    struct cond has = {m->url, "a", NULL, 0};
    assert_true(wait_until(manager_has_figures, &has, ACT_S));
    arr = get(m->url, "/v1/migrations");
    assert_job_figures(json_array_get(arr, 0), -1);
    json_decref(arr);
    (void)h2;
    pool_finish();
}

/* ---- 2. no conflict, no migration ---------------------------------------------------------- */

static void
test_no_conflict_no_migration(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    const char *e1[] = {"--vm", "a:cpu=30", "--vm", "b:cpu=25", NULL};
    const char *e2[] = {"--vm", "c:cpu=10", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    (void)pool_start_agent("h2", m->url, e2);
    wait_hosts_up(m->url, 2);
    /* A change that keeps h1 under its threshold: 50 + 25 + 2 = 77 < 80. */
    load(h1->url, "a", "cpu=50");
    wait_rounds(m->url, 10);
    json_t *migs = cli_list(m->url, "migrations");
    assert_int_equal(json_array_size(migs), 0);
    json_decref(migs);
    json_t *conflicts = cli_list(m->url, "conflicts");
    assert_int_equal(json_array_size(conflicts), 0);
    json_decref(conflicts);
    pool_finish();
}

/* ---- 2b. samples are stored at most every --store-every seconds ------------------------------ */

static long long
stored_samples(const char *url)
{
    json_t *h = get(url, "/v1/health");
    json_t *v = json_object_get(h, "stored_samples");
    assert_true(json_is_integer(v));
    long long n = json_integer_value(v);
    json_decref(h);
    return n;
}

/* A newly registered agent is sampled at once, not at the next round: with rounds every
 * 60 s (the first one at least 30 s away), its host is up with its VMs within seconds. */
static void
test_new_agent_sampled_at_once(void **state)
{
    (void)state;
    const char *slow[] = {"--interval", "60", NULL};
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", slow);
    const char *e1[] = {"--vm", "a:cpu=10", NULL};
    (void)pool_start_agent("h1", m->url, e1);
    wait_hosts_up(m->url, 1);
    assert_int_equal(health_int(m->url, "rounds"), 0);
    json_t *vms = get(m->url, "/v1/vms");
    assert_non_null(named(vms, "a"));
    json_decref(vms);
    pool_finish();
}

/* Every sample (0): the store holds one a round. */
static void
test_store_every_sample(void **state)
{
    (void)state;
    const char *every[] = {"--store-every", "0", NULL};
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", every);
    const char *e1[] = {"--vm", "a:cpu=10", NULL};
    (void)pool_start_agent("h1", m->url, e1);
    wait_hosts_up(m->url, 1);
    long long before = stored_samples(m->url);
    wait_rounds(m->url, 5);
    assert_true(stored_samples(m->url) >= before + 4);
    pool_finish();
}

/* At most one an hour: the same rounds store one sample, while decisions still see every
 * sample (the host stays up). */
static void
test_store_every_hour(void **state)
{
    (void)state;
    const char *hourly[] = {"--store-every", "3600", NULL};
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", hourly);
    const char *e1[] = {"--vm", "a:cpu=10", NULL};
    (void)pool_start_agent("h1", m->url, e1);
    wait_hosts_up(m->url, 1);
    wait_rounds(m->url, 5);
    assert_int_equal(stored_samples(m->url), 1);
    pool_finish();
}

/* ---- 3. no feasible destination ------------------------------------------------------------ */

static void
test_no_destination(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    const char *e1[] = {"--vm", "a:cpu=30", "--vm", "b:cpu=25", NULL};
    const char *e2[] = {"--vm", "c:cpu=70", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    struct daemon *h2 = pool_start_agent("h2", m->url, e2);
    wait_hosts_up(m->url, 2);
    /* h1: 55 + 25 + 2 = 82: a conflict; a needs 55 % and h2 has 28 % free. */
    load(h1->url, "a", "cpu=55");
    struct cond c = {m->url, "h1", "unresolved: no-destination", 0};
    assert_true(wait_until(conflict_with, &c, ACT_S));
    wait_rounds(m->url, 5);
    json_t *migs = cli_list(m->url, "migrations");
    assert_int_equal(json_array_size(migs), 0);
    json_decref(migs);
    json_t *conflicts = cli_list(m->url, "conflicts");
    assert_int_equal(json_array_size(conflicts), 1); /* once per episode */
    json_decref(conflicts);
    const char *agents[] = {h1->url, h2->url};
    const char *where = NULL;
    assert_int_equal(count_vm(agents, 2, "a", &where), 1);
    assert_string_equal(where, h1->url);
    pool_finish();
}

/* ---- 4. an agent dies ---------------------------------------------------------------------- */

static void
test_dead_agent(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    /* h3 is in conflict (45 + 40 + 2 = 87) with nowhere to go: h1 has 43 % free, h2 38 %. */
    const char *e1[] = {"--vm", "a:cpu=30", "--vm", "b:cpu=25", NULL};
    const char *e2[] = {"--vm", "c:cpu=60", NULL};
    const char *e3[] = {"--vm", "d:cpu=45", "--vm", "e:cpu=40", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    struct daemon *h2 = pool_start_agent("h2", m->url, e2);
    struct daemon *h3 = pool_start_agent("h3", m->url, e3);
    wait_hosts_up(m->url, 3);
    struct cond unresolved = {m->url, "h3", "unresolved: no-destination", 0};
    assert_true(wait_until(conflict_with, &unresolved, ACT_S));

    daemon_kill(h3);
    struct cond down = {m->url, "h3", "down", 0};
    assert_true(wait_until(host_state_is, &down, ACT_S));
    json_t *hosts = cli_list(m->url, "hosts");
    bool found = false;
    size_t i;
    json_t *h;
    json_array_foreach(hosts, i, h)
    {
        if (strcmp(str(h, "name"), "h3") != 0)
            continue;
        found = true;
        assert_string_equal(str(h, "state"), "down");
        /* Its VMs stay recorded where they were. */
        assert_true(array_has_string(json_object_get(h, "vms"), "d"));
        assert_true(array_has_string(json_object_get(h, "vms"), "e"));
    }
    assert_true(found);
    json_decref(hosts);

    /* Now h2 could take d: a manager that still checked h3 would move it. It must not. */
    load(h2->url, "c", "cpu=5");
    /* And a new conflict on h1 goes to h2 (93 % free), not to the down h3. */
    load(h1->url, "a", "cpu=60");
    wait_migration(m->url, "a", "done");
    wait_rounds(m->url, 5);
    json_t *migs = cli_list(m->url, "migrations");
    assert_int_equal(json_array_size(migs), 1);
    assert_migration(json_array_get(migs, 0), "a", "h1", "h2", "done");
    assert_int_equal(count_migrations(migs, "d", "h3"), 0);
    assert_int_equal(count_migrations(migs, "e", NULL), 0);
    json_decref(migs);
    /* ?limit=N: the last N, oldest first (h3's conflict, then h1's). */
    json_t *all = get(m->url, "/v1/conflicts");
    json_t *last = get(m->url, "/v1/conflicts?limit=1");
    size_t n_all = json_array_size(all);
    assert_true(n_all >= 2);
    assert_int_equal(json_array_size(last), 1);
    assert_true(json_equal(json_array_get(last, 0), json_array_get(all, n_all - 1)));
    assert_string_equal(str(json_array_get(last, 0), "host"), "h1");
    json_decref(last);
    last = get(m->url, "/v1/conflicts?limit=2");
    assert_int_equal(json_array_size(last), 2);
    assert_true(json_equal(json_array_get(last, 0), json_array_get(all, n_all - 2)));
    assert_true(json_equal(json_array_get(last, 1), json_array_get(all, n_all - 1)));
    json_decref(last);
    last = get(m->url, "/v1/conflicts?limit=1000");
    assert_true(json_equal(last, all));
    json_decref(last);
    json_decref(all);
    struct cond d_on_h3 = {m->url, "d", "h3", 0};
    assert_true(manager_vm_on(&d_on_h3));
    pool_finish();
}

/* ---- 5. the destination dies during the transfer ------------------------------------------- */

static void
test_migration_fails_midway(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    /* 4096 MiB at 1024 MiB/s: the copy takes 4 s. */
    const char *e1[] = {"--vm", "a:cpu=30,mem=4096", "--vm", "b:cpu=25", "--bandwidth", "1024",
                        NULL};
    const char *e2[] = {"--vm", "c:cpu=10", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    struct daemon *h2 = pool_start_agent("h2", m->url, e2);
    wait_hosts_up(m->url, 2);
    load(h1->url, "a", "cpu=60");
    /* Reserved on h2: the copy is running. */
    struct cond incoming = {h2->url, "a", "incoming", 0};
    assert_true(wait_until(agent_vm_is, &incoming, ACT_S));
    const char *port = strrchr(h2->url, ':') + 1;
    char listen[64];
    (void)snprintf(listen, sizeof(listen), "127.0.0.1:%s", port);
    daemon_kill(h2);
    /* The source holds the VM until the destination can say whether it runs it; the
     * destination's agent comes back with fresh state on the same address, knows nothing
     * of the migration, and the VM resumes on h1. */
    /* It comes back busy (c at 75 %), so a has no room there and is not ordered again. */
    const char *e2b[] = {"--vm", "c:cpu=75", "--listen", listen, NULL};
    h2 = pool_start_agent("h2", m->url, e2b);
    wait_migration(m->url, "a", "failed");

    json_t *migs = cli_list(m->url, "migrations");
    assert_int_equal(json_array_size(migs), 1);
    json_t *g = json_array_get(migs, 0);
    assert_migration(g, "a", "h1", "h2", "failed");
    assert_true(json_is_string(json_object_get(g, "error")));
    json_decref(migs);

    /* The VM runs on the source, once. */
    struct cond on_h1 = {h1->url, "a", "running", 0};
    assert_true(wait_until(agent_vm_is, &on_h1, ACT_S));
    const char *agents[] = {h1->url};
    assert_int_equal(count_vm(agents, 1, "a", NULL), 1);
    /* The manager sees it running on h1 (h2's last sample may still list it as arriving,
     * which is not the host's). */
    struct cond mgr_on_h1 = {m->url, "a", "h1", 1};
    assert_true(wait_until(manager_vm_on, &mgr_on_h1, ACT_S));

    /* h2 is back without room for a: no second migration. */
    wait_rounds(m->url, 5);
    migs = cli_list(m->url, "migrations");
    assert_int_equal(json_array_size(migs), 1);
    json_decref(migs);
    pool_finish();
}

/* ---- 6. the manager restarts during a migration -------------------------------------------- */

static void
restart_mid_migration(bool hard)
{
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    /* The replacement must listen where the agents know the manager. */
    const char *colon = strrchr(m->url, ':');
    assert_non_null(colon);
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    assert_true(port > 0 && port < 65536 && *end == '\0');
    char listen[64];
    (void)snprintf(listen, sizeof(listen), "127.0.0.1:%ld", port);

    const char *e1[] = {"--vm", "a:cpu=30,mem=4096", "--vm", "b:cpu=25", "--bandwidth", "1024",
                        NULL};
    const char *e2[] = {"--vm", "c:cpu=10", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    struct daemon *h2 = pool_start_agent("h2", m->url, e2);
    wait_hosts_up(m->url, 2);
    load(h1->url, "a", "cpu=60");
    wait_migration(m->url, "a", "running");
    char old_url[128];
    (void)snprintf(old_url, sizeof(old_url), "%s", m->url);
    struct cond incoming = {h2->url, "a", "incoming", 0};
    assert_true(wait_until(agent_vm_is, &incoming, ACT_S));
    if (hard) {
        daemon_kill(m);
    } else {
        pool_stop_clean(m);
    }

    struct daemon *m2 = pool_start_manager("manager2", listen, NULL);
    assert_string_equal(m2->url, old_url);
    /* The agents are known from the store: no need to wait for their next registration. */
    wait_migration(m2->url, "a", "done");
    wait_rounds(m2->url, 5);

    json_t *migs = cli_list(m2->url, "migrations");
    if (json_array_size(migs) != 1) {
        char *s = json_dumps(migs, JSON_INDENT(2));
        printf("migrations after the restart: %s\n", s);
        free(s);
    }
    assert_int_equal(json_array_size(migs), 1);
    assert_migration(json_array_get(migs, 0), "a", "h1", "h2", "done");
    json_decref(migs);

    /* The conflict history of the first manager is kept. */
    struct cond moved = {m2->url, "h1", "move a to h2", 0};
    assert_true(conflict_with(&moved));

    const char *agents[] = {h1->url, h2->url};
    const char *where = NULL;
    assert_int_equal(count_vm(agents, 2, "a", &where), 1);
    assert_string_equal(where, h2->url);
    struct cond on_h2 = {h2->url, "a", "running", 0};
    assert_true(agent_vm_is(&on_h2));
    struct cond mgr_on_h2 = {m2->url, "a", "h2", 0};
    assert_true(wait_until(manager_vm_on, &mgr_on_h2, ACT_S));
    pool_finish();
}

static void
test_manager_killed_mid_migration(void **state)
{
    (void)state;
    restart_mid_migration(true);
}

static void
test_manager_stopped_mid_migration(void **state)
{
    (void)state;
    restart_mid_migration(false);
}

/* A migration of `vm` failed because its source said the VM was already migrating: the
 * symptom of the manager ordering a VM that is already on its way (see the two tests below). */
static bool
refused_as_already_migrating(const char *manager_url, const char *vm)
{
    json_t *arr = get(manager_url, "/v1/migrations");
    bool found = false;
    size_t i;
    json_t *g;
    json_array_foreach(arr, i, g)
    {
        if (strcmp(str(g, "vm"), vm) == 0 && strstr(str(g, "error"), "already migrating") != NULL)
            found = true;
    }
    json_decref(arr);
    return found;
}

/* The migration of VM `a` ended, done or failed, on the manager. */
static bool
migration_ended(void *arg)
{
    struct cond *c = arg;
    struct cond done = {c->url, c->a, "done", 0};
    struct cond failed = {c->url, c->a, "failed", 0};
    return migration_is(&done) || migration_is(&failed);
}

/* Agent `url` reports its migration `a` in state `b`. */
static bool
agent_migration_is(void *arg)
{
    struct cond *c = arg;
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/migrations/%s", c->a);
    json_t *j = get(c->url, path);
    bool ok = strcmp(str(j, "state"), c->b) == 0;
    json_decref(j);
    return ok;
}

/* The manager dies after storing its order as "planned" and sending it, before the source's
 * answer: the source (stopped with SIGSTOP meanwhile) takes the order when it resumes, and
 * the new manager resends the same order (same id). It is the same migration: it must end
 * done, once, with no other migration of the VM ordered. */
static void
test_manager_killed_before_order_answer(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    const char *colon = strrchr(m->url, ':');
    assert_non_null(colon);
    char listen[64];
    (void)snprintf(listen, sizeof(listen), "127.0.0.1:%s", colon + 1);
    const char *e1[] = {"--vm", "a:cpu=30,mem=4096", "--vm", "b:cpu=25", "--bandwidth", "1024",
                        NULL};
    const char *e2[] = {"--vm", "c:cpu=70", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    struct daemon *h2 = pool_start_agent("h2", m->url, e2);
    wait_hosts_up(m->url, 2);
    /* A conflict on h1 with nowhere to go yet (h2 has 28 % free). */
    load(h1->url, "a", "cpu=60");
    struct cond unresolved = {m->url, "h1", "unresolved: no-destination", 0};
    assert_true(wait_until(conflict_with, &unresolved, ACT_S));
    /* h1 stops answering; h2 makes room: the manager orders a h1 -> h2 from h1's last sample
     * and waits for h1's answer. */
    assert_int_equal(kill(h1->pid, SIGSTOP), 0);
    load(h2->url, "c", "cpu=5");
    struct cond planned = {m->url, "a", "planned", 0};
    bool ok = wait_until(migration_is, &planned, ACT_S);
    daemon_kill(m);
    assert_int_equal(kill(h1->pid, SIGCONT), 0);
    assert_true(ok);
    /* h1 takes the order that was waiting in its socket. */
    struct cond leaving = {h1->url, "a", "migrating-out", 0};
    assert_true(wait_until(agent_vm_is, &leaving, ACT_S));

    struct daemon *m2 = pool_start_manager("manager2", listen, NULL);
    struct cond ended = {m2->url, "a", NULL, 0};
    assert_true(wait_until(migration_ended, &ended, ACT_S));
    struct cond arrived = {h2->url, "a", "running", 0};
    assert_true(wait_until(agent_vm_is, &arrived, ACT_S));
    wait_rounds(m2->url, 5);
    /* A resent order, or a VM already leaving, is never refused as a new order. */
    assert_false(refused_as_already_migrating(m2->url, "a"));
    json_t *migs = cli_list(m2->url, "migrations");
    assert_int_equal(json_array_size(migs), 1);
    assert_migration(json_array_get(migs, 0), "a", "h1", "h2", "done");
    json_decref(migs);
    const char *agents[] = {h1->url, h2->url};
    const char *where = NULL;
    assert_int_equal(count_vm(agents, 2, "a", &where), 1);
    assert_string_equal(where, h2->url);
    pool_finish();
}

/* A VM already on its way (a migration the manager does not know: ordered on the agent, or
 * by a manager that lost its store) is not ordered again while its host is in conflict: the
 * samples show it leaving, so the host waits as it does for the manager's own migrations. */
static void
test_vm_already_migrating(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    const char *e1[] = {"--vm", "a:cpu=30,mem=4096", "--vm", "b:cpu=25", "--bandwidth", "1024",
                        NULL};
    const char *e2[] = {"--vm", "c:cpu=10", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    struct daemon *h2 = pool_start_agent("h2", m->url, e2);
    wait_hosts_up(m->url, 2);
    char body[512];
    (void)snprintf(body, sizeof(body),
                   "{\"id\":\"operator-1\",\"vm\":\"a\",\"to\":\"%s\",\"to_name\":\"h2\"}",
                   h2->url);
    json_t *j = NULL;
    assert_int_equal(daemon_http(h1->url, "POST", "/v1/migrations", body, &j), 202);
    json_decref(j);
    /* Now h1 is in conflict (60 + 25 + 2), but a is already leaving it. */
    load(h1->url, "a", "cpu=60");
    struct cond done = {h1->url, "operator-1", "done", 0};
    assert_true(wait_until(agent_migration_is, &done, ACT_S));
    wait_rounds(m->url, 5);
    /* A resent order, or a VM already leaving, is never refused as a new order. */
    assert_false(refused_as_already_migrating(m->url, "a"));
    json_t *migs = cli_list(m->url, "migrations");
    assert_int_equal(json_array_size(migs), 0);
    json_decref(migs);
    const char *agents[] = {h1->url, h2->url};
    const char *where = NULL;
    assert_int_equal(count_vm(agents, 2, "a", &where), 1);
    assert_string_equal(where, h2->url);
    pool_finish();
}

/* ---- 7. malformed and hostile requests ----------------------------------------------------- */

/* Connect to the daemon at `url` over TCP; -1 on failure. */
static int
raw_connect(const char *url)
{
    const char *colon = strrchr(url, ':');
    if (colon == NULL)
        return -1;
    long port = strtol(colon + 1, NULL, 10);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        (void)close(fd);
        return -1;
    }
    return fd;
}

/* Send `req` raw and return the status of the answer, or 0 when the server closed without
 * one (within `timeout_s`). */
static int
raw_request(const char *url, const char *req, size_t len, double timeout_s)
{
    int fd = raw_connect(url);
    assert_true(fd >= 0);
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, req + off, len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    char buf[256];
    size_t got = 0;
    struct pollfd p = {fd, POLLIN, 0};
    while (got < sizeof(buf) - 1 && poll(&p, 1, (int)(timeout_s * 1000)) > 0) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (memchr(buf, '\n', got) != NULL)
            break;
    }
    buf[got] = '\0';
    (void)close(fd);
    if (strncmp(buf, "HTTP/1.", 7) != 0 || got < 12)
        return 0;
    return (int)strtol(buf + 9, NULL, 10);
}

static void
test_hostile_requests(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    const char *e1[] = {"--vm", "a:cpu=30", "--vm", "b:cpu=25", NULL};
    const char *e2[] = {"--vm", "c:cpu=10", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    (void)pool_start_agent("h2", m->url, e2);
    wait_hosts_up(m->url, 2);

    /* A connection that sends half a request and stays open must not hold the others up. */
    int slow = raw_connect(m->url);
    assert_true(slow >= 0);
    const char *half = "POST /v1/agents HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"na";
    assert_true(write(slow, half, strlen(half)) == (ssize_t)strlen(half));

    char long_name[400];
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    char long_name_body[600];
    (void)snprintf(long_name_body, sizeof(long_name_body),
                   "{\"name\":\"%s\",\"url\":\"http://127.0.0.1:1\"}", long_name);
    char long_url_body[600];
    (void)snprintf(long_url_body, sizeof(long_url_body),
                   "{\"name\":\"x\",\"url\":\"http://127.0.0.1:1/%s\"}", long_name);
    char deep[4200];
    for (size_t i = 0; i < 2048; i++) {
        deep[i] = '[';
        deep[4095 - i] = ']';
    }
    deep[4096] = '\0';
    struct {
        const char *method;
        const char *path;
        const char *body;
        int status;
    } cases[] = {
        {"POST", "/v1/agents", "{not json", 400},
        {"POST", "/v1/agents", "", 400},
        {"POST", "/v1/agents", "[1,2]", 400},
        {"POST", "/v1/agents", "\"h9\"", 400},
        {"POST", "/v1/agents", deep, 400},
        {"POST", "/v1/agents", "{\"name\": 5, \"url\": \"http://127.0.0.1:1\"}", 400},
        {"POST", "/v1/agents", "{\"name\": \"\", \"url\": \"http://127.0.0.1:1\"}", 400},
        {"POST", "/v1/agents", "{\"name\": \"a\\u0001b\", \"url\": \"http://127.0.0.1:1\"}", 400},
        {"POST", "/v1/agents", "{\"name\": \"a\\u0000b\", \"url\": \"http://127.0.0.1:1\"}", 400},
        {"POST", "/v1/agents", long_name_body, 400},
        {"POST", "/v1/agents", "{\"name\": \"h9\"}", 400},
        {"POST", "/v1/agents", "{\"name\": \"h9\", \"url\": 80}", 400},
        {"POST", "/v1/agents", "{\"name\": \"h9\", \"url\": \"ftp://127.0.0.1:21\"}", 400},
        {"POST", "/v1/agents", "{\"name\": \"h9\", \"url\": \"http://\"}", 400},
        {"POST", "/v1/agents", "{\"name\": \"h9\", \"url\": \"http://127.0.0.1\"}", 400},
        {"POST", "/v1/agents", "{\"name\": \"h9\", \"url\": \"http://127.0.0.1:99999\"}", 400},
        {"POST", "/v1/agents", "{\"name\": \"h9\", \"url\": \"http://127.0.0.1:1/x\"}", 400},
        {"POST", "/v1/agents", "{\"name\": \"h9\", \"url\": \"http://127.0.0.1:1?q=1\"}", 400},
        {"POST", "/v1/agents", long_url_body, 400},
        {"POST", "/v1/agents",
         "{\"name\": \"h9\", \"name\": \"h8\", \"url\": \"http://127.0.0.1:1\"}", 400},
        {"GET", "/nope", NULL, 404},
        {"GET", "/ui/nope.js", NULL, 404},
        {"GET", "/ui/a/app.js", NULL, 404},
        {"GET", "/v1/hosts/nosuch/history", NULL, 404},
        {"GET", "/v1/hosts/h1/history?since=-1", NULL, 400},
        {"GET", "/v1/hosts/h1/history?since=x", NULL, 400},
        {"GET", "/v1/migrations?limit=0", NULL, 400},
        {"GET", "/v1/migrations?limit=1.5", NULL, 400},
        {"GET", "/v1/conflicts?limit=abc", NULL, 400},
        {"GET", "/v1/conflicts?limit=1001", NULL, 400},
        {"GET", "/v1", NULL, 404},
        {"GET", "/v1/hosts/h1/x", NULL, 404},
        {"GET", "/v1/a/b/c/d/e/f/g/h/i/j", NULL, 404},
        {"GET", "/v1/hosts%00x", NULL, 400},
        {"GET", "/v1/agents", NULL, 405},
        {"DELETE", "/v1/hosts", NULL, 405},
        {"POST", "/v1/hosts", "{}", 405},
        {"PUT", "/v1/migrations", "{}", 405},
        {"DELETE", "/v1/agents", NULL, 405},
        {"POST", "/v1/health", "{}", 405},
    };
    json_t *j = NULL;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int st = daemon_http(m->url, cases[i].method, cases[i].path, cases[i].body, &j);
        if (st != cases[i].status)
            printf("case %zu: %s %s %.60s -> %d, expected %d\n", i, cases[i].method, cases[i].path,
                   cases[i].body != NULL ? cases[i].body : "", st, cases[i].status);
        assert_int_equal(st, cases[i].status);
        assert_true(json_is_string(json_object_get(j, "error")));
        json_decref(j);
    }

    /* A body over the 4 MiB limit is refused by the server itself. */
    size_t big = 5u * 1024u * 1024u;
    char *huge = malloc(big + 1);
    assert_non_null(huge);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    huge[big] = '\0';
    int st = daemon_http(m->url, "POST", "/v1/agents", huge, &j);
    free(huge);
    json_decref(j);
    if (!(st == 413 || st == 400 || st == 0))
        printf("huge body -> %d\n", st);
    assert_true(st == 413 || st == 400 || st == 0);

    /* Not HTTP at all, and headers over the limit. */
    const char *garbage = "HELLO THERE\r\n\r\n";
    st = raw_request(m->url, garbage, strlen(garbage), 5.0);
    assert_true(st == 0 || (st >= 400 && st < 500));
    size_t hlen = 40u * 1024u;
    char *headers = malloc(hlen + 64);
    assert_non_null(headers);
    size_t off = (size_t)snprintf(headers, 64, "GET /v1/health HTTP/1.1\r\nX-Big: ");
    memset(headers + off, 'x', hlen);
    off += hlen;
    memcpy(headers + off, "\r\n\r\n", 5);
    st = raw_request(m->url, headers, off + 4, 5.0);
    free(headers);
    assert_true(st == 0 || (st >= 400 && st < 500));

    /* Registrations that name no agent: nothing there, the manager itself, another agent
     * under a wrong name. Each is taken as a host that never answers a sample. (The answer
     * to a registration is checked by test_registration_answer.) */
    const char *fake[][2] = {{"ghost", "http://127.0.0.1:1"}, {"selfie", m->url}, {"h9", h1->url}};
    for (size_t i = 0; i < 3; i++) {
        char body[512];
        (void)snprintf(body, sizeof(body), "{\"name\":\"%s\",\"url\":\"%s\"}", fake[i][0],
                       fake[i][1]);
        (void)daemon_http(m->url, "POST", "/v1/agents", body, &j);
        json_decref(j);
    }
    for (size_t i = 0; i < 3; i++) {
        struct cond down = {m->url, fake[i][0], "down", 0};
        bool ok = wait_until(host_state_is, &down, ACT_S);
        if (!ok)
            printf("host %s is not down\n", fake[i][0]);
        assert_true(ok);
    }

    /* Still working: healthy, collecting, and resolving a new conflict. */
    assert_int_equal(daemon_http(m->url, "GET", "/v1/health", NULL, &j), 200);
    assert_int_equal(json_integer_value(json_object_get(j, "agents")), 5);
    json_decref(j);
    wait_rounds(m->url, 3);
    load(h1->url, "a", "cpu=60");
    wait_migration(m->url, "a", "done");
    json_t *migs = cli_list(m->url, "migrations");
    assert_int_equal(json_array_size(migs), 1);
    assert_migration(json_array_get(migs, 0), "a", "h1", "h2", "done");
    json_decref(migs);
    (void)close(slow);
    pool_finish();
}

/* POST /v1/agents with body `a` is answered 200. */
static bool
registration_taken(void *arg)
{
    const struct cond *c = arg;
    json_t *j = NULL;
    int st = daemon_http(c->url, "POST", "/v1/agents", c->a, &j);
    json_decref(j);
    return st == 200;
}

/* The answer to a registration (docs/protocol.md): 200 {"host", "interval"}. Another URL
 * under the same name is refused (409) while the first one may still answer (test_names checks
 * that strictly), and takes the name once that host is down (nothing answers on these ports). */
static void
test_registration_answer(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    const char *urls[] = {"http://127.0.0.1:1", "http://127.0.0.1:2"};
    for (size_t i = 0; i < 2; i++) {
        char body[256];
        (void)snprintf(body, sizeof(body), "{\"name\":\"reg-host-1\",\"url\":\"%s\"}", urls[i]);
        json_t *j = NULL;
        int st = daemon_http(m->url, "POST", "/v1/agents", body, &j);
        if (i == 1 && st == 409) {
            assert_non_null(strstr(str(j, "error"), urls[0]));
            json_decref(j);
            /* As an agent does: registering again until the first URL has missed its rounds. */
            struct cond again = {m->url, body, NULL, 0};
            assert_true(wait_until(registration_taken, &again, ACT_S));
            j = NULL;
            st = daemon_http(m->url, "POST", "/v1/agents", body, &j);
        }
        if (st != 200)
            printf("registration answered %d\n", st);
        assert_int_equal(st, 200);
        assert_string_equal(str(j, "host"), "reg-host-1");
        assert_true(json_is_number(json_object_get(j, "interval")));
        double iv = json_number_value(json_object_get(j, "interval"));
        assert_true(iv > 0.199 && iv < 0.201);
        json_decref(j);
    }
    /* Registered once, at its latest URL. */
    json_t *hosts = get(m->url, "/v1/hosts");
    assert_int_equal(json_array_size(hosts), 1);
    assert_string_equal(str(json_array_get(hosts, 0), "url"), urls[1]);
    json_decref(hosts);
    pool_finish();
}

/* decode_threads = auto (the default, said again here as a command line would): one thread
 * on a machine of two CPUs or more (that the process may use; the daemon inherits this
 * process's affinity), handed samples only once 2000 hosts are known; the loop
 * decodes them on one CPU. The log says which; the rounds of this small cluster stay on the
 * loop, as test_conflict_resolved() shows them deciding. */
static void
test_decode_threads_auto(void **state)
{
    (void)state;
    const char *mx[] = {"--decode-threads", "auto", NULL};
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", mx);
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    assert_int_equal(sched_getaffinity(0, sizeof(cpus), &cpus), 0);
    struct log_cond said = {m, CPU_COUNT(&cpus) >= 2
                                   ? "decode_threads=auto: one thread decodes the samples while "
                                     "2000 hosts or more are known"
                                   : "decode_threads=auto: the loop decodes the samples"};
    assert_true(wait_until(log_has, &said, UP_S));
    json_t *h = get(m->url, "/v1/health");
    assert_non_null(h);
    json_decref(h);
    pool_finish();
}

/* ---- 8. the command line ------------------------------------------------------------------- */

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
}

static void
test_cli(void **state)
{
    (void)state;
    char good[600];
    char bad[600];
    char bad_key[600];
    (void)snprintf(good, sizeof(good), "%s/%s-good.ini", daemon_tmpdir(), pool_prefix());
    (void)snprintf(bad, sizeof(bad), "%s/%s-bad.ini", daemon_tmpdir(), pool_prefix());
    (void)snprintf(bad_key, sizeof(bad_key), "%s/%s-badkey.ini", daemon_tmpdir(), pool_prefix());
    write_file(good, "; the policy of this test\n[detect]\nresources = cpu\nhost_threshold = 70\n"
                     "min_vms = 2\n\n[relocate]\ndest_select = free\n");
    write_file(bad, "[detect]\nhost_threshold = 70\nmin_vms = 0\n");
    write_file(bad_key, "[detect]\nhost_threshold = 70\n\n[relocate]\nnot_a_key = 1\n");

    char *out = NULL;
    char *err = NULL;
    const char *check_good[] = {"manager", "--check-config", "--config", good, NULL};
    assert_int_equal(run_cli_both(check_good, &out, &err), 0);
    assert_string_equal(out, "configuration OK\n");
    assert_string_equal(err, "");
    free(out);
    free(err);

    char where[640];
    const char *check_bad[] = {"manager", "--check-config", "--config", bad, NULL};
    assert_int_equal(run_cli_both(check_bad, &out, &err), 2);
    assert_string_equal(out, "");
    (void)snprintf(where, sizeof(where), "%s:3", bad);
    assert_one_error_line(err, where);
    free(out);
    free(err);

    const char *check_bad_key[] = {"manager", "--check-config", "--config", bad_key, NULL};
    assert_int_equal(run_cli_both(check_bad_key, &out, &err), 2);
    assert_string_equal(out, "");
    (void)snprintf(where, sizeof(where), "%s:5", bad_key);
    assert_one_error_line(err, where);
    assert_non_null(strstr(err, "not_a_key"));
    free(out);
    free(err);

    const char *bad_args[][8] = {
        {"manager", "--interval", "0", NULL},
        {"manager", "--interval", "-1", NULL},
        {"manager", "--interval", "0.2s", NULL},
        {"manager", "--listen", "nowhere", NULL},
        {"manager", "--mode", "peer", NULL},
        {"manager", "--data", "", NULL},
        {"manager", "--collect-offset", "-1", NULL},
        {"manager", "--interval", "1", "--collect-offset", "1", "--check-config", NULL},
        {"manager", "--config", "/nonexistent/policy.ini", "--check-config", NULL},
        {"manager", "extra", NULL},
    };
    for (size_t i = 0; i < sizeof(bad_args) / sizeof(bad_args[0]); i++) {
        int st = run_cli_both(bad_args[i], &out, &err);
        if (st != 2)
            printf("case %zu exited %d\n", i, st);
        assert_int_equal(st, 2);
        assert_string_equal(out, "");
        assert_one_error_line(err, NULL);
        free(out);
        free(err);
    }
    const char *help[] = {"manager", "--help", NULL};
    assert_int_equal(run_cli_both(help, &out, &err), 0);
    assert_non_null(strstr(out, "usage: vmloc manager"));
    free(out);
    free(err);

    /* A running manager with that policy (host threshold 70): hosts, vms, and a conflict at
     * 72 % that the default threshold would not see. */
    const char *mx[] = {"--config", good, NULL};
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", mx);
    const char *e1[] = {"--vm", "a:cpu=30", "--vm", "b:cpu=25", NULL};
    const char *e2[] = {"--vm", "c:cpu=10", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    (void)pool_start_agent("h2", m->url, e2);
    wait_hosts_up(m->url, 2);

    json_t *hosts = cli_list(m->url, "hosts");
    assert_int_equal(json_array_size(hosts), 2);
    size_t i;
    json_t *h;
    json_array_foreach(hosts, i, h)
    {
        const char *name = str(h, "name");
        assert_true(strcmp(name, "h1") == 0 || strcmp(name, "h2") == 0);
        assert_string_equal(str(h, "state"), "up");
        json_t *usage = json_object_get(h, "usage");
        assert_true(json_is_object(usage));
        assert_true(json_is_number(json_object_get(usage, "cpu")));
        double cpu = json_number_value(json_object_get(usage, "cpu"));
        json_t *vms = json_object_get(h, "vms");
        assert_true(json_is_array(vms));
        if (strcmp(name, "h1") == 0) {
            assert_true(cpu > 56.9 && cpu < 57.1);
            assert_int_equal(json_array_size(vms), 2);
            assert_true(array_has_string(vms, "a"));
            assert_true(array_has_string(vms, "b"));
        } else {
            assert_true(cpu > 11.9 && cpu < 12.1);
            assert_int_equal(json_array_size(vms), 1);
            assert_true(array_has_string(vms, "c"));
        }
    }
    json_decref(hosts);

    json_t *vms = cli_list(m->url, "vms");
    assert_int_equal(json_array_size(vms), 3);
    json_t *v;
    json_array_foreach(vms, i, v)
    {
        assert_true(json_is_string(json_object_get(v, "name")));
        assert_true(json_is_string(json_object_get(v, "host")));
        assert_true(json_is_number(json_object_get(json_object_get(v, "usage"), "cpu")));
        if (strcmp(str(v, "name"), "c") == 0)
            assert_string_equal(str(v, "host"), "h2");
        else
            assert_string_equal(str(v, "host"), "h1");
    }
    json_decref(vms);

    /* The table forms work too. */
    const char *table[] = {"--manager", m->url, "hosts", NULL};
    assert_int_equal(run_cli(table, &out), 0);
    assert_non_null(strstr(out, "h1"));
    free(out);

    /* A list of more managers than the CLI once kept (16), the one that answers last: it is
     * asked, not cut off. */
    char many[1024];
    size_t used = 0;
    for (int k = 0; k < 17; k++)
        used += (size_t)snprintf(many + used, sizeof(many) - used, "http://127.0.0.1:1,");
    (void)snprintf(many + used, sizeof(many) - used, "%s", m->url);
    const char *listed[] = {"--manager", many, "hosts", NULL};
    assert_int_equal(run_cli(listed, &out), 0);
    assert_non_null(strstr(out, "h1"));
    free(out);

    load(h1->url, "a", "cpu=45"); /* 45 + 25 + 2 = 72 >= 70 */
    wait_migration(m->url, "a", "done");
    json_t *migs = cli_list(m->url, "migrations");
    assert_int_equal(json_array_size(migs), 1);
    assert_migration(json_array_get(migs, 0), "a", "h1", "h2", "done");
    json_decref(migs);

    /* A manager that is not there: exit 1, one line. */
    const char *gone[] = {"--manager", "http://127.0.0.1:1", "hosts", "--json", NULL};
    assert_int_equal(run_cli_both(gone, &out, &err), 1);
    assert_string_equal(out, "");
    assert_one_error_line(err, NULL);
    free(out);
    free(err);
    pool_finish();
}

int
main(void)
{
    if (getenv("VMLOC_BIN") == NULL) {
        printf("VMLOC_BIN not set; run through meson test\n");
        return 77;
    }
    (void)signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_conflict_resolved, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_conflict_resolved_decode_thread, pool_setup,
                                        pool_teardown),
        cmocka_unit_test_setup_teardown(test_migration_job_figures, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_no_conflict_no_migration, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_new_agent_sampled_at_once, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_store_every_sample, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_store_every_hour, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_no_destination, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_dead_agent, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_migration_fails_midway, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_manager_killed_mid_migration, pool_setup,
                                        pool_teardown),
        cmocka_unit_test_setup_teardown(test_manager_stopped_mid_migration, pool_setup,
                                        pool_teardown),
        cmocka_unit_test_setup_teardown(test_manager_killed_before_order_answer, pool_setup,
                                        pool_teardown),
        cmocka_unit_test_setup_teardown(test_vm_already_migrating, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_hostile_requests, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_registration_answer, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_decode_threads_auto, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_cli, pool_setup, pool_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

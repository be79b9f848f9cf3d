/* A migration whose source vanishes (SIGKILL, and it stays away) while its copy runs: the
 * manager asks the destination instead of waiting out a timer, and within a few collection
 * rounds the destination is released (its reservation withdrawn, the VM left recorded on the
 * silent source) or the migration is done (the destination runs the VM). A manager restart in
 * between keeps the migration's times, so the wait does not start over. Every time the VM ends
 * on exactly one host.
 *
 * The copy is slow on purpose (600 MiB at 10 MiB/s: a minute), so that it is still running
 * when the source is killed; the old behaviour kept the destination busy for ten minutes. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testpool.h"

/* How long a destination may stay busy once its source is gone: a few rounds of 0.2 s, with a
 * wide margin for a loaded machine and a sanitizer build; the old wait was 600 s. */
#define RELEASE_S 10.0

struct cluster {
    struct daemon *m;
    struct daemon *h[2];
    char data[2][300];
    char port[3][16];      /* manager, h1, h2 */
    const char *bandwidth; /* MiB/s of the simulated copy */
};

static const char *const host_names[] = {"h1", "h2"};

static void
port_of(const struct daemon *d, char *buf, size_t len)
{
    const char *p = strrchr(d->url, ':');
    (void)snprintf(buf, len, "%s", p != NULL ? p + 1 : "0");
}

/* Start host i on its port and data (h1 with VMs a and b, h2 empty), with `failpoint` or
 * NULL. */
static struct daemon *
start_host(struct cluster *c, int i, const char *tag, const char *failpoint)
{
    char listen[40];
    (void)snprintf(listen, sizeof(listen), "127.0.0.1:%s", c->port[i + 1]);
    const char *argv[32] = {"agent",  "--name",      host_names[i], "--manager", c->m->url,
                            "--data", c->data[i],    "--listen",    listen,      "--interval",
                            "0.2",    "--bandwidth", c->bandwidth,  NULL};
    if (i == 0) {
        const char *vms[] = {"--vm", "a:cpu=10,mem=600", "--vm", "b:cpu=10,mem=600", NULL};
        size_t n = 13;
        for (size_t k = 0; vms[k] != NULL; k++)
            argv[n++] = vms[k];
        argv[n] = NULL;
    }
    if (failpoint != NULL)
        assert_int_equal(setenv("VMLOC_FAILPOINT", failpoint, 1), 0);
    char name[32];
    (void)snprintf(name, sizeof(name), "%s%s", host_names[i], tag);
    struct daemon *d = pool_start(name, argv);
    (void)unsetenv("VMLOC_FAILPOINT");
    return d;
}

static struct daemon *
start_manager(struct cluster *c, const char *tag)
{
    char listen[40];
    (void)snprintf(listen, sizeof(listen), "127.0.0.1:%s", c->port[0]);
    char name[32];
    (void)snprintf(name, sizeof(name), "m%s", tag);
    return pool_start_manager(name, listen, NULL);
}

/* The manager, h1 with a and b, h2 empty; both up; then a conflict on h1 that sends a, the
 * heavier, to h2. */
static void
cluster_start(struct cluster *c, const char *source_failpoint, const char *bandwidth)
{
    memset(c, 0, sizeof(*c));
    c->bandwidth = bandwidth;
    for (int i = 0; i < 3; i++)
        (void)snprintf(c->port[i], sizeof(c->port[i]), "0");
    for (int i = 0; i < 2; i++)
        (void)snprintf(c->data[i], sizeof(c->data[i]), "%s/%s-%s", daemon_tmpdir(), pool_prefix(),
                       host_names[i]);
    c->m = start_manager(c, "");
    port_of(c->m, c->port[0], sizeof(c->port[0]));
    for (int i = 0; i < 2; i++) {
        c->h[i] = start_host(c, i, "", i == 0 ? source_failpoint : NULL);
        port_of(c->h[i], c->port[i + 1], sizeof(c->port[i + 1]));
    }
    struct cond up = {c->m->url, NULL, NULL, 2};
    assert_true(wait_until(hosts_up, &up, UP_S));
    load(c->h[0]->url, "b", "cpu=45");
    load(c->h[0]->url, "a", "cpu=50");
}

/* The manager's record of migration `id` (a new reference), or NULL. */
static json_t *
record(const char *manager_url, const char *id)
{
    json_t *migs = get(manager_url, "/v1/migrations");
    json_t *found = NULL;
    size_t i;
    json_t *g;
    json_array_foreach(migs, i, g)
    {
        if (strcmp(str(g, "id"), id) == 0)
            found = json_incref(g);
    }
    json_decref(migs);
    return found;
}

struct copying {
    struct cluster *c;
    char id[80];
};

/* The copy runs: the source reports the migration running, the destination holds the VM as
 * incoming, and the manager's record is running. */
static bool
copy_runs(void *arg)
{
    struct copying *w = arg;
    json_t *migs = get(w->c->h[0]->url, "/v1/migrations");
    json_t *g = json_array_get(migs, 0);
    bool ok = g != NULL && strcmp(str(g, "state"), "running") == 0;
    if (ok)
        (void)snprintf(w->id, sizeof(w->id), "%s", str(g, "id"));
    json_decref(migs);
    json_t *vms = ok ? get(w->c->h[1]->url, "/v1/vms") : NULL;
    ok = ok && strcmp(str(named(vms, "a"), "state"), "incoming") == 0;
    json_decref(vms);
    json_t *rec = ok ? record(w->c->m->url, w->id) : NULL;
    ok = ok && strcmp(str(rec, "state"), "running") == 0;
    json_decref(rec);
    return ok;
}

/* Start the copy of a to h2 and calm both VMs on h1 meanwhile (the migration goes on; once it
 * ends, wherever a runs, no new conflict starts another). The migration's id into w->id. */
static void
start_copy(struct cluster *c, struct copying *w)
{
    w->c = c;
    assert_true(wait_until(copy_runs, w, ACT_S));
    load(c->h[0]->url, "a", "cpu=10");
    load(c->h[0]->url, "b", "cpu=10");
    printf("copy of a under way, migration %s\n", w->id);
}

struct outcome {
    struct cluster *c;
    const char *id;
    const char *state;   /* the manager's record: "done" or "failed" */
    const char *arrival; /* the destination's record: "committed" or "aborted" */
};

/* The migration ended as wanted on the manager (nothing in flight any more) and the
 * destination's record of the arrival says the same. */
static bool
ended(void *arg)
{
    struct outcome *o = arg;
    json_t *rec = record(o->c->m->url, o->id);
    bool ok = strcmp(str(rec, "state"), o->state) == 0 &&
              health_int(o->c->m->url, "active_migrations") == 0;
    json_decref(rec);
    char path[160];
    (void)snprintf(path, sizeof(path), "/v1/incoming/%s", o->id);
    json_t *in = ok ? get(o->c->h[1]->url, path) : NULL;
    ok = ok && strcmp(str(in, "state"), o->arrival) == 0;
    json_decref(in);
    return ok;
}

/* VM a runs on host `host` (index) only, as a running VM, and b on h1. */
struct placed {
    struct cluster *c;
    int host;
};

static bool
a_only_on(void *arg)
{
    struct placed *p = arg;
    const char *urls[] = {p->c->h[0]->url, p->c->h[1]->url};
    return pool_vm_where(urls, 2, "a") == p->host && pool_vm_where(urls, 2, "b") == 0;
}

static double
number(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

/* The source is killed during the copy and stays away; the manager restarts meanwhile. The
 * destination is released within seconds: its reservation is withdrawn, the manager's record
 * fails with the reason, and a stays on h1, where it runs again once h1 is back. */
static void
test_source_vanishes(void **state)
{
    (void)state;
    struct cluster c;
    cluster_start(&c, NULL, "10");
    struct copying w;
    start_copy(&c, &w);
    json_t *before = record(c.m->url, w.id);
    assert_non_null(before);
    double started = number(before, "started");
    json_decref(before);

    daemon_kill(c.h[0]);
    daemon_kill(c.m);
    c.m = start_manager(&c, "-again");
    struct outcome o = {&c, w.id, "failed", "aborted"};
    assert_true(wait_until(ended, &o, RELEASE_S));

    json_t *rec = record(c.m->url, w.id);
    assert_non_null(rec);
    printf("migration %s: %s (%s)\n", w.id, str(rec, "state"), str(rec, "error"));
    assert_true(number(rec, "started") == started);
    assert_non_null(strstr(str(rec, "error"), "reservation was withdrawn"));
    json_decref(rec);
    json_t *vms = get(c.h[1]->url, "/v1/vms");
    assert_null(named(vms, "a"));
    json_decref(vms);
    struct log_cond lc = {c.m, "the destination decided"};
    assert_true(log_has(&lc));

    /* h1 comes back with its state: a runs there, and nowhere else. */
    c.h[0] = start_host(&c, 0, "-again", NULL);
    struct placed p = {&c, 0};
    assert_true(wait_until(a_only_on, &p, ACT_S));
    pool_finish();
}

/* The source commits and dies before recording it, and stays away: the destination runs the
 * VM, so the migration is done, within seconds. (A fast copy here: 2 s.) */
static void
test_source_vanishes_after_commit(void **state)
{
    (void)state;
    struct cluster c;
    cluster_start(&c, "source-after-commit", "300");
    assert_true(wait_until(pool_exited, c.h[0], ACT_S));
    json_t *migs = NULL;
    assert_int_equal(daemon_http(c.m->url, "GET", "/v1/migrations", NULL, &migs), 200);
    assert_int_equal(json_array_size(migs), 1);
    char id[80];
    (void)snprintf(id, sizeof(id), "%s", str(json_array_get(migs, 0), "id"));
    json_decref(migs);
    struct outcome o = {&c, id, "done", "committed"};
    assert_true(wait_until(ended, &o, RELEASE_S));
    /* h1 comes back and learns from h2 that a moved: a runs on h2 only, b on h1. */
    c.h[0] = start_host(&c, 0, "-again", NULL);
    struct placed p = {&c, 1};
    assert_true(wait_until(a_only_on, &p, ACT_S));
    pool_finish();
}

/* Source and destination both vanish during the copy: nobody can tell the outcome, so the
 * migration stays open; a manager restart keeps its start and its last answer. When the
 * destination comes back, the manager withdraws its reservation; then the source comes back
 * and a runs on h1 only. */
static void
test_both_vanish_restart(void **state)
{
    (void)state;
    struct cluster c;
    cluster_start(&c, NULL, "10");
    struct copying w;
    start_copy(&c, &w);
    daemon_kill(c.h[1]);
    daemon_kill(c.h[0]);
    struct cond down1 = {c.m->url, "h1", "down", 0};
    struct cond down2 = {c.m->url, "h2", "down", 0};
    assert_true(wait_until(host_state_is, &down1, ACT_S));
    assert_true(wait_until(host_state_is, &down2, ACT_S));
    json_t *before = record(c.m->url, w.id);
    assert_string_equal(str(before, "state"), "running");

    daemon_kill(c.m);
    c.m = start_manager(&c, "-again");
    assert_true(wait_until(host_state_is, &down1, ACT_S));
    assert_true(wait_until(host_state_is, &down2, ACT_S));
    json_t *after = record(c.m->url, w.id);
    assert_string_equal(str(after, "state"), "running");
    assert_true(number(after, "started") == number(before, "started"));
    assert_true(number(after, "answered") == number(before, "answered"));
    json_decref(before);
    json_decref(after);

    c.h[1] = start_host(&c, 1, "-again", NULL);
    struct outcome o = {&c, w.id, "failed", "aborted"};
    assert_true(wait_until(ended, &o, RELEASE_S));
    c.h[0] = start_host(&c, 0, "-again", NULL);
    struct placed p = {&c, 0};
    assert_true(wait_until(a_only_on, &p, ACT_S));
    pool_finish();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_source_vanishes, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_source_vanishes_after_commit, pool_setup,
                                        pool_teardown),
        cmocka_unit_test_setup_teardown(test_both_vanish_restart, pool_setup, pool_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Maintenance with real processes: `vmloc drain HOST` empties a host of 20 VMs within the
 * limits and rules (a pinned VM stays and is reported, at most max_per_host moves at once,
 * memory fits), nothing moves onto a host in maintenance until `vmloc undrain`, and the
 * state survives a manager restart. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/http.h"
#include "testpool.h"

struct drain_watch {
    const char *url;
    long long max_active;
    long long vms_left;
    const char *blocked;
};

/* The drain is over (blocked by the pinned VM, one left); tracks the migrations at once. */
static bool
drain_blocked(void *arg)
{
    struct drain_watch *w = arg;
    long long active = health_int(w->url, "active_migrations");
    if (active > w->max_active)
        w->max_active = active;
    json_t *hosts = get(w->url, "/v1/hosts");
    json_t *mt = json_object_get(named(hosts, "h1"), "maintenance");
    w->vms_left = json_integer_value(json_object_get(mt, "vms_left"));
    bool done =
        mt != NULL && strcmp(str(mt, "blocked"), "pinned") == 0 && w->vms_left == 1 && active == 0;
    json_decref(hosts);
    return done;
}

/* A VM on `host` other than `not` (the drained ones landed somewhere). */
static void
second_vm_on(const char *url, const char *host, const char * not, char *out, size_t len)
{
    json_t *vms = get(url, "/v1/vms");
    out[0] = '\0';
    size_t i;
    json_t *v;
    json_array_foreach(vms, i, v)
    {
        if (strcmp(str(v, "host"), host) == 0 && strcmp(str(v, "name"), not ) != 0 &&
            strcmp(str(v, "state"), "running") == 0 && out[0] == '\0')
            (void)snprintf(out, len, "%s", str(v, "name"));
    }
    json_decref(vms);
    assert_true(out[0] != '\0');
}

/* The manager lists `n` running VMs (every host has reported). */
static bool
vms_running(void *arg)
{
    const struct cond *c = arg;
    json_t *vms = get(c->url, "/v1/vms");
    long long n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(vms, i, v)
    {
        n += strcmp(str(v, "state"), "running") == 0;
    }
    json_decref(vms);
    return n == c->n;
}

static char moved_to[64];

/* How many migrations the manager lists. */
static long long
migration_count(const char *url)
{
    json_t *arr = get(url, "/v1/migrations");
    long long n = (long long)json_array_size(arr);
    json_decref(arr);
    return n;
}

/* A migration from host `a` for a conflict, among those after the first `n`; its
 * destination in moved_to. */
static bool
migration_from(void *arg)
{
    const struct cond *c = arg;
    json_t *arr = get(c->url, "/v1/migrations");
    bool ok = false;
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        if ((long long)i >= c->n && strcmp(str(m, "from"), c->a) == 0 &&
            strncmp(str(m, "reason"), "conflict", 8) == 0) {
            (void)snprintf(moved_to, sizeof(moved_to), "%s", str(m, "to"));
            ok = true;
        }
    }
    json_decref(arr);
    return ok;
}

/* Put `host` (agent `agent`) in conflict with its VM `vm` and another of its VMs (its name
 * in `other`), and wait for the manager's migration off it (its destination in moved_to). */
static void
conflict_on(const char *manager, const char *agent, const char *host, const char *vm, char *other,
            size_t len)
{
    second_vm_on(manager, host, vm, other, len);
    long long before = migration_count(manager);
    load(agent, vm, "cpu=45");
    load(agent, other, "cpu=40");
    struct cond moved = {manager, host, NULL, before};
    assert_true(wait_until(migration_from, &moved, ACT_S));
}

static void
test_drain_twenty(void **state)
{
    (void)state;
    const char *pol = pool_write_policy("[relocate]\nmax_per_host = 4\n");
    const char *mextra[] = {"--config", pol, NULL};
    struct daemon *m = pool_start_manager("m", "127.0.0.1:0", mextra);
    /* The agents know the manager by its URL: its restart below listens on the same port. */
    char listen[32];
    (void)snprintf(listen, sizeof(listen), "127.0.0.1%s", strrchr(m->url, ':'));
    /* h1: 20 VMs of 2 % cpu and 256 MiB, plus a pinned one. */
    const char *e1[48];
    char specs[21][64];
    size_t n = 0;
    for (int i = 0; i < 20; i++) {
        (void)snprintf(specs[i], sizeof(specs[i]), "v%02d:cpu=2,mem=256", i);
        e1[n++] = "--vm";
        e1[n++] = specs[i];
    }
    e1[n++] = "--vm";
    e1[n++] = "keep:cpu=1,mem=64,pinned";
    e1[n++] = "--bandwidth";
    e1[n++] = "8192";
    e1[n] = NULL;
    struct daemon *h1 = pool_start_agent("h1", m->url, e1);
    /* Destinations: h2 has little memory left (4 GiB host, 3.5 GiB used), h3 and h4 room. */
    const char *e2[] = {"--vm", "x:cpu=10,mem=3584", "--mem-mib", "4096", "--bandwidth", "8192",
                        NULL};
    const char *e3[] = {"--vm", "y:cpu=10,mem=256", "--bandwidth", "8192", NULL};
    const char *e4[] = {"--vm", "z:cpu=12,mem=256", "--bandwidth", "8192", NULL};
    struct daemon *h2 = pool_start_agent("h2", m->url, e2);
    struct daemon *h3 = pool_start_agent("h3", m->url, e3);
    struct daemon *h4 = pool_start_agent("h4", m->url, e4);
    struct cond up = {m->url, NULL, NULL, 4};
    assert_true(wait_until(hosts_up, &up, UP_S));

    /* Unknown host: refused, nothing changes. */
    const char *bad[] = {"--manager", m->url, "drain", "nosuch", NULL};
    assert_int_equal(run_cli(bad, NULL), 2);

    const char *argv[] = {"--manager", m->url, "drain", "h1", NULL};
    assert_int_equal(run_cli(argv, NULL), 0);
    struct drain_watch w = {m->url, 0, -1, NULL};
    assert_true(wait_until(drain_blocked, &w, 60.0));
    printf("drain: 20 VMs moved, the pinned one stays; at most %lld migrations at once\n",
           w.max_active);
    assert_true(w.max_active <= 4);
    /* Every VM exactly once, none left on h1 but the pinned one; h2's memory held. */
    json_t *vms = get(m->url, "/v1/vms");
    size_t on_h1 = 0;
    size_t on_h2 = 0;
    size_t total = 0;
    size_t i;
    json_t *v;
    json_array_foreach(vms, i, v)
    {
        if (strcmp(str(v, "state"), "running") != 0)
            continue;
        total++;
        on_h1 += strcmp(str(v, "host"), "h1") == 0;
        on_h2 += strcmp(str(v, "host"), "h2") == 0;
    }
    json_decref(vms);
    assert_int_equal(total, 24);
    assert_int_equal(on_h1, 1);
    assert_true(on_h2 <= 3); /* x, and 512 MiB left: at most two 256 MiB VMs */

    /* The restart keeps the state. */
    pool_stop_clean(m);
    m = pool_start_manager("m2", listen, mextra);
    struct cond st = {m->url, "h1", "maintenance", 0};
    assert_true(wait_until(host_state_is, &st, UP_S));
    struct cond all = {m->url, NULL, NULL, 24};
    assert_true(wait_until(vms_running, &all, UP_S));

    /* A conflict on h4: h1 is the emptiest host but in maintenance, so it gets nothing. */
    char other[64];
    conflict_on(m->url, h4->url, "h4", "z", other, sizeof(other));
    printf("conflict on h4 during maintenance: moved to %s\n", moved_to);
    assert_string_not_equal(moved_to, "h1");
    load(h4->url, other, "cpu=2"); /* h4 calm again */

    /* Undrained, h1 takes VMs again: the next conflict's VM goes there. */
    const char *un[] = {"--manager", m->url, "undrain", "h1", NULL};
    assert_int_equal(run_cli(un, NULL), 0);
    struct cond upst = {m->url, "h1", "up", 0};
    assert_true(wait_until(host_state_is, &upst, UP_S));
    conflict_on(m->url, h3->url, "h3", "y", other, sizeof(other));
    printf("conflict on h3 after undrain: moved to %s\n", moved_to);
    assert_string_equal(moved_to, "h1");
    (void)h1;
    (void)h2;
    pool_finish();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_drain_twenty, pool_setup, pool_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

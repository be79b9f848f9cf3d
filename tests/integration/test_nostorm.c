/* No migration storms, in every mode, with real processes on 127.0.0.1:
 *
 *  - one spike with the default policy (no config file): p1 (a 30, b 25, c 5), p2 (d 30,
 *    e 25, f 5), p4 (h 40), p5 (i 50), then a to 55 %. Under the patent's literal rule p4
 *    takes a (58 free > 55), ends at 97 % with two heavy VMs and sends it back, for ever. With
 *    the defaults nothing can take 55 % and stay below 80 %: the conflict stays unresolved
 *    (no-destination) and a never moves;
 *  - two conflicts at once that both want the one best destination while a second good one
 *    exists: each VM moves once, to a different host, and no host ends above its threshold;
 *  - the storm guard under the literal rule with no cooldown: a moves at most 4 times (the
 *    default max_moves_per_vm), then the deciding daemon logs that the guard holds it, counts
 *    it in /metrics and explains it, and nothing moves any more.
 *
 * Each runs in central, edge and peer mode. "Nothing moves any more" is checked over twenty
 * more samples of every agent (polled, never slept). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testpool.h"

enum mode { CENTRAL, EDGE, PEER };

static const char *const mode_names[] = {"central", "edge", "peer"};

/* One cluster under test: a manager (central, edge) or none (peer), and its agents. */
struct cl {
    enum mode mode;
    struct daemon *m;
    struct peers p; /* peer mode: names and URLs fixed before the start */
    size_t n;
    char name[MAX_PEERS][16];
    char url[MAX_PEERS][128];
    struct daemon *d[MAX_PEERS];
};

/* Start `n` agents named names[i] with VMs vms[i] ("--vm" values, NULL-terminated) in `mode`,
 * with the policy `policy` (INI text; NULL: no config file, the defaults), and wait until
 * every host is known (central, edge) or has samples of every peer (peer). */
static void
cl_start(struct cl *c, enum mode mode, size_t n, const char *const *names,
         const char *const (*vms)[4], const char *policy)
{
    memset(c, 0, sizeof(*c));
    c->mode = mode;
    c->n = n;
    const char *pol = policy != NULL ? pool_write_policy(policy) : NULL;
    if (mode != PEER) {
        const char *mextra[] = {"--mode", mode_names[mode], pol != NULL ? "--config" : NULL, pol,
                                NULL};
        c->m = pool_start_manager("m", "127.0.0.1:0", mextra);
    } else {
        pool_peers_init(&c->p, n);
    }
    for (size_t i = 0; i < n; i++) {
        const char *extra[32];
        size_t k = 0;
        extra[k++] = "--mode";
        extra[k++] = mode_names[mode];
        extra[k++] = "--bandwidth";
        extra[k++] = "4096";
        for (size_t j = 0; j < 4 && vms[i][j] != NULL; j++) {
            extra[k++] = "--vm";
            extra[k++] = vms[i][j];
        }
        if (pol != NULL) {
            extra[k++] = "--config";
            extra[k++] = pol;
        }
        extra[k] = NULL;
        if (mode == PEER) {
            (void)snprintf(c->p.name[i], sizeof(c->p.name[i]), "%s", names[i]);
            pool_peer_start(&c->p, i, extra);
            c->d[i] = c->p.d[i];
        } else {
            c->d[i] = pool_start_agent(names[i], c->m->url, extra);
        }
        (void)snprintf(c->name[i], sizeof(c->name[i]), "%s", names[i]);
        (void)snprintf(c->url[i], sizeof(c->url[i]), "%s", c->d[i]->url);
    }
    if (mode != PEER) {
        struct cond up = {c->m->url, NULL, NULL, (long long)n};
        assert_true(wait_until(hosts_up, &up, UP_S));
    }
}

/* Migrations of `vm` (any state) the cluster knows: the manager's list, or in peer mode
 * every source's own list. */
static size_t
moves_of(const struct cl *c, const char *vm)
{
    size_t n = 0;
    for (size_t i = 0; i < (c->mode == PEER ? c->n : 1); i++) {
        json_t *arr = get(c->mode == PEER ? c->url[i] : c->m->url, "/v1/migrations");
        size_t k;
        json_t *m;
        json_array_foreach(arr, k, m)
        {
            n += strcmp(str(m, "vm"), vm) == 0;
        }
        json_decref(arr);
    }
    return n;
}

/* Every migration the cluster knows has ended. */
static bool
all_ended(void *arg)
{
    const struct cl *c = arg;
    bool ok = true;
    for (size_t i = 0; i < (c->mode == PEER ? c->n : 1) && ok; i++) {
        json_t *arr = get(c->mode == PEER ? c->url[i] : c->m->url, "/v1/migrations");
        size_t k;
        json_t *m;
        ok = json_is_array(arr);
        json_array_foreach(arr, k, m)
        {
            ok = ok &&
                 (strcmp(str(m, "state"), "done") == 0 || strcmp(str(m, "state"), "failed") == 0);
        }
        json_decref(arr);
    }
    return ok;
}

/* The host running `vm` (its index), -1 when none, -2 when several do. */
static int
where(const struct cl *c, const char *vm)
{
    const char *urls[MAX_PEERS];
    for (size_t i = 0; i < c->n; i++)
        urls[i] = c->url[i];
    return pool_vm_where(urls, c->n, vm);
}

/* Host i's cpu usage in its agent's latest sample. */
static double
cpu_of(const struct cl *c, size_t i)
{
    json_t *s = get(c->url[i], "/v1/sample");
    double v = json_number_value(
        json_object_get(json_object_get(json_object_get(s, "host"), "usage"), "cpu"));
    json_decref(s);
    return v;
}

struct seqs {
    const struct cl *c;
    long long at[MAX_PEERS];
    long long more;
};

static bool
samples_advanced(void *arg)
{
    struct seqs *s = arg;
    for (size_t i = 0; i < s->c->n; i++) {
        if (sample_seq(s->c->url[i], NULL) < s->at[i] + s->more)
            return false;
    }
    return true;
}

/* Wait until every agent took `more` more samples (the cluster had that long to act). */
static void
let_samples_pass(const struct cl *c, long long more)
{
    struct seqs s = {c, {0}, more};
    for (size_t i = 0; i < c->n; i++)
        s.at[i] = sample_seq(c->url[i], NULL);
    assert_true(wait_until(samples_advanced, &s, ACT_S));
}

struct outcome_cond {
    const struct cl *c;
    const char *host;
    const char *text;
};

/* A conflict of `host` was recorded with an outcome containing `text`. */
static bool
outcome_has(void *arg)
{
    const struct outcome_cond *o = arg;
    bool ok = false;
    for (size_t i = 0; i < (o->c->mode == PEER ? o->c->n : 1) && !ok; i++) {
        json_t *arr = get(o->c->mode == PEER ? o->c->url[i] : o->c->m->url, "/v1/conflicts");
        size_t k;
        json_t *e;
        json_array_foreach(arr, k, e)
        {
            ok = ok || (strcmp(str(e, "host"), o->host) == 0 &&
                        strstr(str(e, "outcome"), o->text) != NULL);
        }
        json_decref(arr);
    }
    return ok;
}

static const char *const spike_names[] = {"p1", "p2", "p4", "p5"};
static const char *const spike_vms[][4] = {
    {"a:cpu=30,mem=64", "b:cpu=25,mem=64", "c:cpu=5,mem=64", NULL},
    {"d:cpu=30,mem=64", "e:cpu=25,mem=64", "f:cpu=5,mem=64", NULL},
    {"h:cpu=40,mem=64", NULL},
    {"i:cpu=50,mem=64", NULL},
};

/* One spike, default policy: a stays on p1, the conflict is unresolved, nothing moves. */
static void
spike(enum mode mode)
{
    struct cl c;
    cl_start(&c, mode, 4, spike_names, spike_vms, NULL);
    let_samples_pass(&c, 3);
    load(c.url[0], "a", "cpu=55");
    struct outcome_cond o = {&c, "p1", "no-destination"};
    assert_true(wait_until(outcome_has, &o, ACT_S));
    let_samples_pass(&c, 20);
    const char *all[] = {"a", "b", "c", "d", "e", "f", "h", "i"};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        if (moves_of(&c, all[i]) != 0)
            printf("%s mode: %s moved\n", mode_names[mode], all[i]);
        assert_int_equal(moves_of(&c, all[i]), 0);
    }
    assert_int_equal(where(&c, "a"), 0);
    pool_finish();
}

static void
test_spike_central(void **state)
{
    (void)state;
    spike(CENTRAL);
}

static void
test_spike_edge(void **state)
{
    (void)state;
    spike(EDGE);
}

static void
test_spike_peer(void **state)
{
    (void)state;
    spike(PEER);
}

struct both_cond {
    const struct cl *c;
};

static bool
both_moved(void *arg)
{
    const struct cl *c = arg;
    return moves_of(c, "x1") >= 1 && moves_of(c, "x2") >= 1 && all_ended(arg);
}

/* Two conflicts at once (s1, s2), one best destination (g1, 20 %) that can take one of their
 * 45 % VMs but not both, and a second good one (g2, 25 %): each VM moves once, one to each. */
static void
contend(enum mode mode)
{
    static const char *const names[] = {"s1", "s2", "g1", "g2"};
    static const char *const vms[][4] = {
        {"x1:cpu=20,mem=64", "y1:cpu=35,mem=64", NULL},
        {"x2:cpu=20,mem=64", "y2:cpu=35,mem=64", NULL},
        {"z:cpu=18,mem=64", NULL},
        {"w:cpu=23,mem=64", NULL},
    };
    struct cl c;
    cl_start(&c, mode, 4, names, vms, NULL);
    let_samples_pass(&c, 3);
    load(c.url[0], "x1", "cpu=45");
    load(c.url[1], "x2", "cpu=45");
    assert_true(wait_until(both_moved, &c, ACT_S));
    let_samples_pass(&c, 20);
    assert_int_equal(moves_of(&c, "x1"), 1);
    assert_int_equal(moves_of(&c, "x2"), 1);
    static const char *const stay[] = {"y1", "y2", "z", "w"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(moves_of(&c, stay[i]), 0);
    int a1 = where(&c, "x1");
    int a2 = where(&c, "x2");
    printf("%s mode: x1 on %s, x2 on %s\n", mode_names[mode], a1 >= 0 ? names[a1] : "?",
           a2 >= 0 ? names[a2] : "?");
    assert_true(a1 >= 2 && a2 >= 2 && a1 != a2);
    for (size_t i = 0; i < 4; i++) {
        double u = cpu_of(&c, i);
        if (!(u < 80))
            printf("%s at %.1f %% cpu\n", names[i], u);
        assert_true(u < 80);
    }
    pool_finish();
}

static void
test_contend_central(void **state)
{
    (void)state;
    contend(CENTRAL);
}

static void
test_contend_edge(void **state)
{
    (void)state;
    contend(EDGE);
}

static void
test_contend_peer(void **state)
{
    (void)state;
    contend(PEER);
}

/* The daemon that decides for p1's or p4's conflicts logged that the guard holds a. */
static bool
guard_logged(void *arg)
{
    const struct cl *c = arg;
    if (c->mode != PEER) {
        struct log_cond l = {c->m, "storm guard holds vm=\"a\""};
        return log_has(&l);
    }
    for (size_t i = 0; i < c->n; i++) {
        struct log_cond l = {c->d[i], "storm guard holds vm=\"a\""};
        if (log_has(&l))
            return true;
    }
    return false;
}

/* The patent's literal rule with no cooldown: the spike starts a storm, which the guard ends
 * after max_moves_per_vm (4) moves of a. */
static void
guard(enum mode mode)
{
    struct cl c;
    cl_start(&c, mode, 4, spike_names, spike_vms, "[relocate]\ndest_headroom = no\ncooldown = 0\n");
    let_samples_pass(&c, 3);
    load(c.url[0], "a", "cpu=55");
    assert_true(wait_until(guard_logged, &c, ACT_S));
    assert_true(wait_until(all_ended, &c, ACT_S));
    let_samples_pass(&c, 20);
    size_t n = moves_of(&c, "a");
    printf("%s mode: a moved %zu times\n", mode_names[mode], n);
    assert_int_equal(n, 4);
    assert_true(where(&c, "a") >= 0);
    /* Counted once (one VM, one window) by the daemon that decided. */
    size_t counted = 0;
    for (size_t i = 0; i < (mode == PEER ? c.n : 1); i++) {
        char *text = metrics_text(mode == PEER ? c.url[i] : c.m->url);
        counted += strstr(text, "vmloc_storm_guard_holds_total 1\n") != NULL;
        assert_null(strstr(text, "vmloc_storm_guard_holds_total 2"));
        free(text);
    }
    assert_true(counted >= 1);
    if (mode != PEER) {
        const char *argv[] = {"--manager", c.m->url, "explain", "a", NULL};
        char *out = NULL;
        assert_int_equal(run_cli(argv, &out), 0);
        assert_non_null(out);
        assert_non_null(strstr(out, "storm guard: it moved 4 times within 3600 s"));
        free(out);
    }
    pool_finish();
}

static void
test_guard_central(void **state)
{
    (void)state;
    guard(CENTRAL);
}

static void
test_guard_edge(void **state)
{
    (void)state;
    guard(EDGE);
}

static void
test_guard_peer(void **state)
{
    (void)state;
    guard(PEER);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spike_central, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_spike_edge, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_spike_peer, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_contend_central, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_contend_edge, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_contend_peer, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_guard_central, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_guard_edge, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_guard_peer, pool_setup, pool_teardown),
    };
    return cmocka_run_group_tests_name("nostorm", tests, NULL, NULL);
}

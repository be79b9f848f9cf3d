/* Integration tests of peer mode (`vmloc agent --mode peer`): no manager; real agent
 * processes on 127.0.0.1 that detect on their own host, gather their peers' samples, take
 * the destination's lock and migrate. Every agent binds port 0 and the peers learn each
 * other from a peers file written once they listen. Each test waits on conditions with
 * deadlines, never blindly. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"
#include "net/http.h"
#include "testpool.h"

static void
post_load(const char *url, const char *vm, const char *body)
{
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/vms/%s/load", vm);
    json_t *j = NULL;
    int st = daemon_http(url, "POST", path, body, &j);
    json_decref(j);
    assert_int_equal(st, 200);
}

/* Where VM `vm` runs: the index of the peer that lists it as running, -1 when none, -2 when
 * more than one does. */
static int
where(const struct peers *p, const char *vm)
{
    const char *urls[MAX_PEERS];
    for (size_t i = 0; i < p->n; i++)
        urls[i] = p->url[i];
    return pool_vm_where(urls, p->n, vm);
}

struct pcond {
    const struct peers *p;
    const char *url;
    const char *vm;
    int at;
    long long n;
};

static bool
vm_runs_at(void *arg)
{
    struct pcond *c = arg;
    return where(c->p, c->vm) == c->at;
}

/* The agent at `url` has `n` migrations in its store, all done. */
static bool
migrations_done(void *arg)
{
    struct pcond *c = arg;
    json_t *arr = get(c->url, "/v1/migrations");
    size_t done = 0;
    size_t k;
    json_t *m;
    json_array_foreach(arr, k, m)
    {
        done += strcmp(str(m, "state"), "done") == 0;
    }
    bool ok =
        json_is_array(arr) && (long long)done == c->n && (long long)json_array_size(arr) == c->n;
    json_decref(arr);
    return ok;
}

static bool
lock_free(void *arg)
{
    struct pcond *c = arg;
    json_t *j = get(c->url, "/v1/lock");
    bool ok = j != NULL && json_is_false(json_object_get(j, "held"));
    json_decref(j);
    return ok;
}

static bool
lock_held(void *arg)
{
    struct pcond *c = arg;
    json_t *j = get(c->url, "/v1/lock");
    bool ok = j != NULL && json_is_true(json_object_get(j, "held"));
    json_decref(j);
    return ok;
}

/* Every VM name in `vms` runs on exactly one peer (none lost, none double-placed). */
static void
assert_each_once(const struct peers *p, const char *const *vms)
{
    for (size_t i = 0; vms[i] != NULL; i++) {
        int at = where(p, vms[i]);
        if (at < 0)
            printf("VM %s runs %s\n", vms[i], at == -1 ? "nowhere" : "on several hosts");
        assert_true(at >= 0);
    }
}

/* (a) One conflict resolved with no manager: the heaviest VM goes to the peer with the most
 * free CPU; the source's store has the conflict and the migration, readable with the CLI. */
static void
test_peer_one_conflict(void **state)
{
    (void)state;
    struct peers p;
    pool_peers_init(&p, 3);
    const char *src[] = {"--vm", "a:cpu=10", "--vm", "b:cpu=10", NULL};
    const char *busy[] = {"--vm", "c:cpu=30", NULL};
    const char *idle[] = {"--vm", "d:cpu=5", NULL};
    pool_peer_start(&p, 0, src);
    pool_peer_start(&p, 1, busy);
    pool_peer_start(&p, 2, idle);
    post_load(p.url[0], "a", "{\"cpu\": 50}");
    post_load(p.url[0], "b", "{\"cpu\": 45}");
    struct pcond c = {&p, p.url[0], "a", 2, 1};
    assert_true(wait_until(vm_runs_at, &c, ACT_S));
    assert_true(wait_until(migrations_done, &c, ACT_S));
    json_t *migs = cli_list_at("--agent", p.url[0], "migrations");
    assert_int_equal(json_array_size(migs), 1);
    json_t *m = json_array_get(migs, 0);
    assert_string_equal(str(m, "vm"), "a");
    assert_string_equal(str(m, "from"), "p1");
    assert_string_equal(str(m, "to"), "p3");
    assert_non_null(strstr(str(m, "reason"), "conflict on p1"));
    json_decref(migs);
    json_t *conf = cli_list_at("--agent", p.url[0], "conflicts");
    assert_true(json_array_size(conf) >= 1);
    assert_string_equal(str(json_array_get(conf, 0), "outcome"), "move a to p3");
    assert_string_equal(str(json_array_get(conf, 0), "host"), "p1");
    json_decref(conf);
    /* Detection happened on the source, which took one lock and was refused none. */
    assert_true(health_int(p.url[0], "conflicts_detected") >= 1);
    assert_int_equal(health_int(p.url[0], "locks_granted"), 1);
    assert_int_equal(health_int(p.url[0], "migrations_outcome_unknown"), 0);
    assert_int_equal(health_int(p.url[0], "lock_refusals"), 0);
    /* The destination granted the lock and its renewal at the migration's start (one more
     * only if the migration took over a third of the 30 s lease). */
    long long served = health_int(p.url[2], "locks_served");
    assert_true(served >= 2 && served <= 3);
    /* Both locks are released after the migration. */
    struct pcond l0 = {&p, p.url[0], NULL, 0, 0};
    struct pcond l2 = {&p, p.url[2], NULL, 0, 0};
    assert_true(wait_until(lock_free, &l0, ACT_S));
    assert_true(wait_until(lock_free, &l2, ACT_S));
    const char *vms[] = {"a", "b", "c", "d", NULL};
    assert_each_once(&p, vms);
    pool_finish();
}

/* The destination dies after taking the commit, before answering, and never comes back: whether
 * it ran the VM is not known, so the VM stays held on the source, leaving. Once the locks are
 * given back (60 s), the source's other VMs move again: the conflict's other heavy VM goes to
 * the remaining peer, and nothing runs on two hosts. */
static void
test_peer_unresolved_holds_one_vm(void **state)
{
    (void)state;
    struct peers p;
    pool_peers_init(&p, 3);
    const char *src[] = {"--vm", "a:cpu=10", "--vm", "b:cpu=10", NULL};
    const char *other[] = {"--vm", "c:cpu=10", NULL};
    const char *idle[] = {"--vm", "d:cpu=5", NULL};
    pool_peer_start(&p, 0, src);
    pool_peer_start(&p, 1, other);
    assert_int_equal(setenv("VMLOC_FAILPOINT", "dest-after-commit", 1), 0);
    pool_peer_start(&p, 2, idle);
    assert_int_equal(unsetenv("VMLOC_FAILPOINT"), 0);
    post_load(p.url[0], "a", "{\"cpu\": 50}");
    post_load(p.url[0], "b", "{\"cpu\": 45}");
    /* a goes to the idlest peer, which takes the commit and dies. */
    assert_true(wait_until(pool_exited, p.d[2], ACT_S));
    /* Within the 60 s the locks are kept, the source moves nothing else. */
    struct pcond early = {&p, NULL, "b", 1, 0};
    assert_false(wait_until(vm_runs_at, &early, 30.0));
    assert_int_equal(where(&p, "b"), 0);
    struct pcond c = {&p, NULL, "b", 1, 0};
    assert_true(wait_until(vm_runs_at, &c, 30.0 + 3 * ACT_S));
    /* a was not moved again: its one migration is still unresolved, on the source. */
    json_t *migs = get(p.url[0], "/v1/migrations");
    size_t k;
    json_t *m;
    int a_migs = 0;
    int b_done = 0;
    json_array_foreach(migs, k, m)
    {
        a_migs += strcmp(str(m, "vm"), "a") == 0;
        b_done += strcmp(str(m, "vm"), "b") == 0 && strcmp(str(m, "state"), "done") == 0;
    }
    json_decref(migs);
    assert_int_equal(a_migs, 1);
    assert_int_equal(b_done, 1);
    /* a is still on the source, leaving, its migration running (unresolved): not lost. */
    json_t *vl = get(p.url[0], "/v1/vms");
    int a_leaving = 0;
    json_array_foreach(vl, k, m)
    {
        a_leaving +=
            strcmp(str(m, "name"), "a") == 0 && strcmp(str(m, "state"), "migrating-out") == 0;
    }
    json_decref(vl);
    assert_int_equal(a_leaving, 1);
    assert_int_equal(health_int(p.url[0], "migrations_outcome_unknown"), 1);
    char *metrics = metrics_text(p.url[0]);
    bool shown = strstr(metrics, "\nvmloc_migrations_outcome_unknown 1\n") != NULL;
    free(metrics);
    assert_true(shown);
    const char *vms[] = {"b", "c", NULL};
    assert_each_once(&p, vms);
    assert_int_equal(where(&p, "a"), -1); /* running nowhere: leaving the source, as above */
    pool_finish();
}

/* Does an entry of the list at `url` + `path` have `field` equal to `want` (starting with it
 * when `prefix`)? */
static bool
any_entry(const char *url, const char *path, const char *field, const char *want, bool prefix)
{
    json_t *arr = get(url, path);
    bool ok = false;
    size_t k;
    json_t *e;
    json_array_foreach(arr, k, e)
    {
        const char *v = str(e, field);
        ok = ok || (prefix ? strncmp(v, want, strlen(want)) == 0 : strcmp(v, want) == 0);
    }
    json_decref(arr);
    return ok;
}

/* The agent at `url` has recorded a conflict whose outcome starts with `vm` (a prefix). */
static bool
conflict_outcome(void *arg)
{
    const struct pcond *c = arg;
    return any_entry(c->url, "/v1/conflicts", "outcome", c->vm, true);
}

/* Three of the four sources p1..p4 have one migration done, the fourth has recorded that
 * its conflict has no destination. */
static bool
three_moved_one_stuck(void *arg)
{
    const struct peers *p = arg;
    int moved = 0;
    int stuck = 0;
    for (size_t i = 0; i < 4; i++) {
        struct pcond m = {p, p->url[i], NULL, 0, 1};
        struct pcond u = {p, p->url[i], "unresolved: no-destination", 0, 0};
        if (migrations_done(&m))
            moved++;
        else if (conflict_outcome(&u))
            stuck++;
    }
    return moved == 3 && stuck == 1;
}

/* (b) Contention: four hosts in conflict at the same moment, all with the same best
 * destination p5, whose lock another holder has. Every one is refused by p5 and tries the
 * next best; the three other destinations take one VM each; the fourth conflict has no room
 * left and waits. When p5's lock is released, the last conflict goes there. Each destination
 * takes one migration at a time, and no VM is lost or double-placed. */
static void
test_peer_contention(void **state)
{
    (void)state;
    struct peers p;
    pool_peers_init(&p, 8);
    /* Every peer reads the same policy file: a destination must stay below its threshold,
     * so a source that moved its heaviest VM has no room for another source's. */
    char conf[600];
    (void)snprintf(conf, sizeof(conf), "%s/%s-policy.ini", daemon_tmpdir(), pool_prefix());
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    (void)fputs("[relocate]\ndest_headroom = yes\n", f);
    assert_int_equal(fclose(f), 0);
    const char *src[4][10] = {
        {"--vm", "a1:cpu=10,mem=1024", "--vm", "b1:cpu=10,mem=1024", "--bandwidth", "512",
         "--config", conf, NULL},
        {"--vm", "a2:cpu=10,mem=1024", "--vm", "b2:cpu=10,mem=1024", "--bandwidth", "512",
         "--config", conf, NULL},
        {"--vm", "a3:cpu=10,mem=1024", "--vm", "b3:cpu=10,mem=1024", "--bandwidth", "512",
         "--config", conf, NULL},
        {"--vm", "a4:cpu=10,mem=1024", "--vm", "b4:cpu=10,mem=1024", "--bandwidth", "512",
         "--config", conf, NULL},
    };
    const char *best[] = {"--config", conf, NULL}; /* p5: empty, the best for all */
    const char *other[3][5] = {{"--vm", "x6:cpu=8", "--config", conf, NULL},  /* p6..p8: room */
                               {"--vm", "x7:cpu=10", "--config", conf, NULL}, /* for one VM */
                               {"--vm", "x8:cpu=12", "--config", conf, NULL}};
    for (size_t i = 0; i < 4; i++)
        pool_peer_start(&p, i, src[i]);
    pool_peer_start(&p, 4, best);
    for (size_t i = 0; i < 3; i++)
        pool_peer_start(&p, 5 + i, other[i]);
    /* Someone else holds p5's lock: every decision is refused there first. */
    json_t *j = NULL;
    assert_int_equal(
        daemon_http(p.url[4], "POST", "/v1/lock", "{\"holder\":\"ghost\",\"lease_s\":60}", &j),
        200);
    json_decref(j);
    for (size_t i = 0; i < 4; i++) {
        char vm[8];
        (void)snprintf(vm, sizeof(vm), "a%zu", i + 1);
        post_load(p.url[i], vm, "{\"cpu\": 50}");
        (void)snprintf(vm, sizeof(vm), "b%zu", i + 1);
        post_load(p.url[i], vm, "{\"cpu\": 45}");
    }
    /* Three migrations, one into each of p6..p8; one source has no room left. */
    assert_true(wait_until(three_moved_one_stuck, &p, ACT_S));
    int waiting = -1;
    for (size_t i = 0; i < 4; i++) {
        struct pcond moved = {&p, p.url[i], NULL, 0, 1};
        if (!migrations_done(&moved))
            waiting = (int)i;
    }
    assert_true(waiting >= 0);
    /* All four were refused by p5 at least once. */
    for (size_t i = 0; i < 4; i++)
        assert_true(health_int(p.url[i], "lock_refusals") >= 1);
    assert_true(health_int(p.url[4], "locks_denied") >= 4);
    json_t *p5 = get(p.url[4], "/v1/vms");
    assert_int_equal(json_array_size(p5), 0);
    json_decref(p5);
    /* p5's lock is released: the waiting conflict goes there at its next sample. */
    assert_int_equal(
        daemon_http(p.url[4], "POST", "/v1/lock/release", "{\"holder\":\"ghost\"}", &j), 200);
    json_decref(j);
    struct pcond last = {&p, p.url[waiting], NULL, 0, 1};
    assert_true(wait_until(migrations_done, &last, ACT_S));
    int dest_count[MAX_PEERS] = {0};
    double started[4];
    double finished[4];
    int dest[4];
    for (size_t i = 0; i < 4; i++) {
        json_t *arr = get(p.url[i], "/v1/migrations");
        json_t *m = json_array_get(arr, 0);
        char vm[8];
        (void)snprintf(vm, sizeof(vm), "a%zu", i + 1);
        assert_string_equal(str(m, "vm"), vm);
        dest[i] = -1;
        for (size_t k = 0; k < p.n; k++) {
            if (strcmp(str(m, "to"), p.name[k]) == 0)
                dest[i] = (int)k;
        }
        assert_true(dest[i] >= 4);
        dest_count[dest[i]]++;
        started[i] = json_real_value(json_object_get(m, "started"));
        finished[i] = json_real_value(json_object_get(m, "finished"));
        json_decref(arr);
    }
    /* At most one migration at a time into each destination; here, one each. */
    for (size_t i = 0; i < 4; i++) {
        for (size_t k = i + 1; k < 4; k++) {
            if (dest[i] == dest[k] && !(finished[i] <= started[k] || finished[k] <= started[i]))
                fail_msg("migrations %zu and %zu overlap into %s", i, k, p.name[dest[i]]);
        }
    }
    for (size_t k = 4; k < 8; k++)
        assert_int_equal(dest_count[k], 1);
    assert_int_equal(dest[waiting], 4);
    const char *vms[] = {"a1", "b1", "a2", "b2", "a3", "b3", "a4", "b4", "x6", "x7", "x8", NULL};
    assert_each_once(&p, vms);
    pool_finish();
}

/* (c) A peer killed while it holds a destination's lock: the lock ends with its lease, the
 * arrival it announced is dropped, and the next conflict can use that host. */
static void
test_peer_holder_killed(void **state)
{
    (void)state;
    struct peers p;
    pool_peers_init(&p, 4);
    /* p1's migration takes 60 s (1024 MiB at 16 MiB/s): it is killed long before. */
    const char *slow[] = {"--vm", "a:cpu=10,mem=1024", "--vm", "b:cpu=10", "--bandwidth",
                          "16",   "--lock-lease",      "1.5",  NULL};
    const char *src2[] = {"--vm", "e:cpu=10", "--vm", "f:cpu=10", "--lock-lease", "1.5", NULL};
    const char *best[] = {"--vm", "d:cpu=5", NULL};
    const char *other[] = {"--vm", "g:cpu=20", NULL};
    pool_peer_start(&p, 0, slow);
    pool_peer_start(&p, 1, src2);
    pool_peer_start(&p, 2, best);
    pool_peer_start(&p, 3, other);
    post_load(p.url[0], "a", "{\"cpu\": 50}");
    post_load(p.url[0], "b", "{\"cpu\": 45}");
    struct pcond held = {&p, p.url[2], NULL, 0, 0};
    assert_true(wait_until(lock_held, &held, ACT_S));
    json_t *lk = get(p.url[2], "/v1/lock");
    assert_string_equal(str(lk, "holder"), "p1");
    json_decref(lk);
    daemon_kill(p.d[0]);
    struct timespec t0;
    struct timespec t1;
    (void)clock_gettime(CLOCK_MONOTONIC, &t0);
    /* The lease (1.5 s) ends the lock; the next sample of p3 frees it. */
    assert_true(wait_until(lock_free, &held, 1.5 + 3.0));
    (void)clock_gettime(CLOCK_MONOTONIC, &t1);
    double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("lock of p3 free %.2f s after its holder was killed (lease 1.5 s)\n", waited);
    /* The arrival of "a" was dropped: p3 runs only its own VM. */
    json_t *vms = get(p.url[2], "/v1/vms");
    assert_int_equal(json_array_size(vms), 1);
    assert_string_equal(str(json_array_get(vms, 0), "name"), "d");
    json_decref(vms);
    /* The others go on: a conflict on p2 now goes to p3, the best destination. */
    post_load(p.url[1], "e", "{\"cpu\": 50}");
    post_load(p.url[1], "f", "{\"cpu\": 45}");
    struct pcond c = {&p, NULL, "e", 2, 0};
    assert_true(wait_until(vm_runs_at, &c, ACT_S));
    pool_finish();
}

/* (d) A peer that is down while another decides is skipped; when it answers again it is
 * used again. */
static void
test_peer_down_skipped(void **state)
{
    (void)state;
    struct peers p;
    pool_peers_init(&p, 3);
    const char *src[] = {"--vm", "a:cpu=10", "--vm", "b:cpu=10", "--vm", "c:cpu=5", NULL};
    const char *busy[] = {"--vm", "x:cpu=20", NULL};
    const char *best[] = {NULL};
    pool_peer_start(&p, 0, src);
    pool_peer_start(&p, 1, busy);
    pool_peer_start(&p, 2, best);
    assert_int_equal(daemon_stop(p.d[2], 10.0), 0); /* p3, the best destination, is down */
    post_load(p.url[0], "a", "{\"cpu\": 50}");
    post_load(p.url[0], "b", "{\"cpu\": 45}");
    struct pcond c = {&p, NULL, "a", 1, 0};
    assert_true(wait_until(vm_runs_at, &c, ACT_S));
    assert_true(health_int(p.url[0], "peers_up") == 1);
    /* p3 comes back on the same address; the next conflict on p1 goes to it. */
    pool_peer_start(&p, 2, best);
    post_load(p.url[0], "b", "{\"cpu\": 60}");
    post_load(p.url[0], "c", "{\"cpu\": 35}");
    struct pcond c2 = {&p, NULL, "b", 2, 0};
    assert_true(wait_until(vm_runs_at, &c2, ACT_S));
    assert_int_equal(health_int(p.url[0], "peers_up"), 2);
    const char *vms[] = {"a", "b", "c", "x", NULL};
    assert_each_once(&p, vms);
    pool_finish();
}

/* What peers_seen() waits for: the agent at `url` shows host `a` and host `b` (when not
 * NULL) up among its hosts and lists `n` peers. */
static bool
peers_seen(void *arg)
{
    const struct cond *c = arg;
    if (health_int(c->url, "peers") != c->n)
        return false;
    json_t *arr = get(c->url, "/v1/hosts");
    bool ok = strcmp(str(named(arr, c->a), "state"), "up") == 0 &&
              (c->b == NULL || strcmp(str(named(arr, c->b), "state"), "up") == 0);
    json_decref(arr);
    return ok;
}

/* How many lines of `d`'s log hold `text`. */
static int
log_count(const struct daemon *d, const char *text)
{
    FILE *f = fopen(d->log_path, "r");
    assert_non_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        n += strstr(line, text) != NULL;
    (void)fclose(f);
    return n;
}

struct count_cond {
    const struct daemon *d;
    const char *text;
    int n;
};

static bool
log_count_reaches(void *arg)
{
    const struct count_cond *c = arg;
    return log_count(c->d, c->text) >= c->n;
}

static void
write_text(const char *path, const char *text)
{
    char tmp[700];
    (void)snprintf(tmp, sizeof(tmp), "%s.new", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0);
}

/* (e) The peers file: three agents start on port 0 with a peers file that does not exist yet;
 * once all listen, the file is written with their URLs (and their own, as a shared list
 * would) and each sees the two others. A bad file is rejected with a log line naming its
 * line, and the peers stay; a good one that drops a peer is taken; SIGHUP reads it again. A
 * bad file at the start is an error. */
static void
test_peers_file(void **state)
{
    (void)state;
    char file[600];
    (void)snprintf(file, sizeof(file), "%s/%s-shared-peers", daemon_tmpdir(), pool_prefix());
    struct daemon *d[3];
    char name[3][8];
    char data[3][700];
    for (size_t i = 0; i < 3; i++) {
        (void)snprintf(name[i], sizeof(name[i]), "f%zu", i + 1);
        (void)snprintf(data[i], sizeof(data[i]), "%s/%s-%s", daemon_tmpdir(), pool_prefix(),
                       name[i]);
        const char *argv[] = {"agent",    "--name",       name[i],  "--mode", "peer",
                              "--listen", "127.0.0.1:0",  "--data", data[i],  "--interval",
                              "0.2",      "--peers-file", file,     NULL};
        d[i] = pool_start(name[i], argv);
        assert_int_equal(health_int(d[i]->url, "peers"), 0);
    }
    struct log_cond missing = {d[0], "peers file missing file="};
    assert_true(log_has(&missing));

    char text[1024];
    (void)snprintf(text, sizeof(text), "# written once every agent listens\n%s\n%s  # f2\n%s\n",
                   d[0]->url, d[1]->url, d[2]->url);
    write_text(file, text);
    struct cond c1 = {d[0]->url, "f2", "f3", 2};
    struct cond c2 = {d[1]->url, "f1", "f3", 2};
    struct cond c3 = {d[2]->url, "f1", "f2", 2};
    assert_true(wait_until(peers_seen, &c1, UP_S));
    assert_true(wait_until(peers_seen, &c2, UP_S));
    assert_true(wait_until(peers_seen, &c3, UP_S));

    /* A bad file: logged with its line, the peers in use stay, the agents keep running. */
    (void)snprintf(text, sizeof(text), "%s\nnot-a-url\n", d[0]->url);
    write_text(file, text);
    char want[800];
    (void)snprintf(want, sizeof(want), "peers file rejected: %s:2: \"not-a-url\" is not a peer URL",
                   file);
    for (size_t i = 0; i < 3; i++) {
        struct log_cond rejected = {d[i], want};
        assert_true(wait_until(log_has, &rejected, UP_S));
    }
    assert_true(peers_seen(&c1));
    assert_true(peers_seen(&c2));
    assert_true(peers_seen(&c3));

    /* A good file again, without f3: f1 and f2 drop it; f3 keeps only the others. */
    (void)snprintf(text, sizeof(text), "%s\n%s\n", d[0]->url, d[1]->url);
    write_text(file, text);
    struct cond one1 = {d[0]->url, "f2", NULL, 1};
    struct cond one2 = {d[1]->url, "f1", NULL, 1};
    struct cond two3 = {d[2]->url, "f1", "f2", 2};
    assert_true(wait_until(peers_seen, &one1, UP_S));
    assert_true(wait_until(peers_seen, &one2, UP_S));
    assert_true(wait_until(peers_seen, &two3, UP_S));
    json_t *hosts = get(d[0]->url, "/v1/hosts");
    assert_null(named(hosts, "f3"));
    json_decref(hosts);

    /* SIGHUP reads the file again even when it looks unchanged. */
    struct count_cond reread = {d[0], "peers file read", log_count(d[0], "peers file read") + 1};
    assert_int_equal(kill(d[0]->pid, SIGHUP), 0);
    assert_true(wait_until(log_count_reaches, &reread, UP_S));
    assert_int_equal(health_int(d[0]->url, "peers"), 1);

    /* At the start a bad file is an error, as a bad config file is. */
    write_text(file, "http://127.0.0.1:1\nhttp://127.0.0.1:1/\n");
    const char *argv[] = {"agent",       "--name",       "f4", "--mode",         "peer", "--listen",
                          "127.0.0.1:0", "--peers-file", file, "--check-config", NULL};
    char *out = NULL;
    assert_int_equal(run_cli(argv, &out), 2);
    free(out);
    pool_finish();
}

/* A config file with 200 peers (issue 17: a line held 190 bytes and `peers` could not be
 * repeated, so a file listed about 7): two real agents and 198 closed ports, half of them on
 * one line of several KiB, the rest on `peers =` lines of their own. The agent starts from
 * that file, lists 200 peers and sees the two live ones up. */
static void
test_peer_config_200(void **state)
{
    (void)state;
    struct daemon *d[2];
    char data[3][700];
    const char *names[] = {"c1", "c2", "big"};
    for (size_t i = 0; i < 3; i++)
        (void)snprintf(data[i], sizeof(data[i]), "%s/%s-%s", daemon_tmpdir(), pool_prefix(),
                       names[i]);
    for (size_t i = 0; i < 2; i++) {
        const char *argv[] = {"agent", "--name",   names[i],      "--mode",     "peer", "--data",
                              data[i], "--listen", "127.0.0.1:0", "--interval", "0.2",  NULL};
        d[i] = pool_start(names[i], argv);
    }
    char path[600];
    (void)snprintf(path, sizeof(path), "%s/%s-200peers.ini", daemon_tmpdir(), pool_prefix());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    (void)fprintf(f, "[agent]\nname = big\nmode = peer\n; 99 closed ports on one line\npeers =");
    for (int i = 0; i < 99; i++)
        (void)fprintf(f, "%s http://127.0.0.1:%d", i > 0 ? "," : "", 1001 + i);
    (void)fprintf(f, "\npeers = %s\n", d[0]->url);
    for (int i = 99; i < 198; i++)
        (void)fprintf(f, "peers = http://127.0.0.1:%d\n", 1001 + i);
    (void)fprintf(f, "peers = %s\n[detect]\nhost_threshold = 75\n", d[1]->url);
    assert_int_equal(fclose(f), 0);

    const char *check[] = {"agent", "--config", path, "--check-config", NULL};
    char *out = NULL;
    assert_int_equal(run_cli(check, &out), 0);
    assert_non_null(strstr(out, "configuration OK"));
    free(out);

    const char *argv[] = {"agent",    "--config",    path,         "--data", data[2],
                          "--listen", "127.0.0.1:0", "--interval", "0.2",    NULL};
    struct daemon *big = pool_start("big", argv);
    struct cond c = {big->url, "c1", "c2", 200};
    assert_true(wait_until(peers_seen, &c, UP_S));
    pool_finish();
}

/* One peer started alone (the lock tests talk to it as the other hosts would): its URL. */
static const char *
one_peer(struct peers *p)
{
    pool_peers_init(p, 1);
    pool_peer_start(p, 0, NULL);
    return p->url[0];
}

/* POST /v1/lock for `holder` with a 30 s lease: the status, the answer in *j. */
static int
take_lock(const char *url, const char *holder, json_t **j)
{
    char body[96];
    (void)snprintf(body, sizeof(body), "{\"holder\":\"%s\",\"lease_s\":30}", holder);
    return daemon_http(url, "POST", "/v1/lock", body, j);
}

/* A destination restarted while an arrival is reserved holds its lock again for that
 * arrival's source: before, the lock (in memory only) came back free, another peer could take
 * it and move a VM in while the first copy ran, and both arrivals would commit. */
static void
test_lock_kept_across_restart(void **state)
{
    (void)state;
    struct peers p;
    const char *u = one_peer(&p);
    json_t *j = NULL;
    assert_int_equal(take_lock(u, "h1", &j), 200);
    json_decref(j);
    const char *in = "{\"id\":\"m1\",\"from\":\"h1\",\"transfer_s\":30,\"vm\":{\"name\":\"z\","
                     "\"demand\":{\"cpu\":5},\"mem_mib\":10,\"priority\":0,\"pinned\":false}}";
    assert_int_equal(daemon_http(u, "POST", "/v1/incoming", in, &j), 201);
    json_decref(j);

    assert_int_equal(daemon_stop(p.d[0], 10.0), 0);
    pool_peer_start(&p, 0, NULL);
    j = get(u, "/v1/lock");
    assert_true(json_is_true(json_object_get(j, "held")));
    assert_string_equal(str(j, "holder"), "h1");
    json_decref(j);
    assert_int_equal(take_lock(u, "h2", &j), 409);
    assert_string_equal(str(j, "holder"), "h1");
    json_decref(j);
    /* The source that lives on renews it and commits its VM. */
    assert_int_equal(take_lock(u, "h1", &j), 200);
    json_decref(j);
    assert_int_equal(daemon_http(u, "POST", "/v1/incoming/m1/commit", NULL, &j), 200);
    json_decref(j);
    pool_finish();
}

/* The lock API: validation, refusal to a second holder, release by the holder only, and no
 * locks outside peer mode. */
static void
test_lock_api(void **state)
{
    (void)state;
    struct peers p;
    const char *u = one_peer(&p);
    json_t *j = NULL;
    static const char *const bad[] = {
        "",
        "[]",
        "{\"holder\": \"h1\"}",
        "{\"holder\": \"h1\", \"lease_s\": 0}",
        "{\"holder\": \"h1\", \"lease_s\": 1e9}",
        "{\"holder\": \"\", \"lease_s\": 5}",
        "{\"holder\": 3, \"lease_s\": 5}",
        "{\"holder\": \"p1\", \"lease_s\": 5}",
        "{\"holder\": \"h1\", \"holder\": \"h2\", \"lease_s\": 5}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int st = daemon_http(u, "POST", "/v1/lock", bad[i], &j);
        if (st != 400)
            printf("POST /v1/lock %s: %d\n", bad[i], st);
        assert_int_equal(st, 400);
        assert_non_null(json_string_value(json_object_get(j, "error")));
        json_decref(j);
        j = NULL;
    }
    /* Nor does it release its own lock for another. */
    assert_int_equal(daemon_http(u, "POST", "/v1/lock/release", "{\"holder\":\"p1\"}", &j), 400);
    assert_non_null(strstr(str(j, "error"), "releases its own lock"));
    json_decref(j);
    assert_int_equal(daemon_http(u, "POST", "/v1/lock/release", "{\"holder\":7}", &j), 400);
    json_decref(j);
    assert_int_equal(take_lock(u, "h1", &j), 200);
    json_decref(j);
    assert_int_equal(take_lock(u, "h2", &j), 409);
    assert_string_equal(str(j, "holder"), "h1");
    json_decref(j);
    /* Renewal by the holder. */
    assert_int_equal(take_lock(u, "h1", &j), 200);
    json_decref(j);
    assert_int_equal(daemon_http(u, "POST", "/v1/lock/release", "{\"holder\":\"h2\"}", &j), 409);
    json_decref(j);
    /* An arrival from anyone but the holder is refused. */
    const char *in = "{\"id\":\"m1\",\"from\":\"h2\",\"vm\":{\"name\":\"z\",\"demand\":{\"cpu\":5},"
                     "\"mem_mib\":10,\"priority\":0,\"pinned\":false}}";
    assert_int_equal(daemon_http(u, "POST", "/v1/incoming", in, &j), 409);
    json_decref(j);
    assert_int_equal(daemon_http(u, "POST", "/v1/lock/release", "{\"holder\":\"h1\"}", &j), 200);
    assert_true(json_is_true(json_object_get(j, "released")));
    json_decref(j);
    assert_int_equal(daemon_http(u, "POST", "/v1/lock/release", "{\"holder\":\"h1\"}", &j), 200);
    assert_true(json_is_false(json_object_get(j, "released")));
    json_decref(j);
    /* With no lock held, no arrival is accepted either. */
    assert_int_equal(daemon_http(u, "POST", "/v1/incoming", in, &j), 409);
    json_decref(j);
    /* In peer mode, nobody else orders this agent's migrations. */
    assert_int_equal(daemon_http(u, "POST", "/v1/migrations",
                                 "{\"vm\":\"z\",\"to\":\"http://127.0.0.1:9\"}", &j),
                     409);
    json_decref(j);
    /* The agent still answers. */
    assert_int_equal(health_int(u, "locks_served"), 2);
    assert_int_equal(health_int(u, "locks_denied"), 1);
    pool_finish();
}

/* A lock request of `holder` with `token` to `path` (/v1/lock with a 30 s lease, or
 * /v1/lock/release): the status, the answer in *j. */
static int
token_lock(const char *url, const char *path, const char *holder, uint64_t token, json_t **j)
{
    char body[128];
    (void)snprintf(body, sizeof(body), "{\"holder\":\"%s\",%s\"token\":%llu}", holder,
                   strcmp(path, "/v1/lock") == 0 ? "\"lease_s\":30," : "",
                   (unsigned long long)token);
    return daemon_http(url, "POST", path, body, j);
}

/* Tokens: a release sent for an earlier take of a holder (its answer lost), arriving after the
 * holder's next take, ends nothing; neither that take's renewal nor a late renewal of a
 * released take takes the lock back. Without them, the late release freed the lock while the
 * holder's migration ran and a second peer could move a VM in. */
static void
test_lock_tokens(void **state)
{
    (void)state;
    struct peers p;
    const char *u = one_peer(&p);
    json_t *j = NULL;
    assert_int_equal(daemon_http(u, "POST", "/v1/lock",
                                 "{\"holder\":\"h1\",\"lease_s\":30,"
                                 "\"token\":0}",
                                 &j),
                     400);
    assert_non_null(strstr(str(j, "error"), "token"));
    json_decref(j);
    assert_int_equal(token_lock(u, "/v1/lock", "h1", 41, &j), 200);
    assert_int_equal(json_integer_value(json_object_get(j, "token")), 41);
    json_decref(j);
    assert_int_equal(token_lock(u, "/v1/lock", "h1", 42, &j), 200); /* its next take */
    json_decref(j);
    assert_int_equal(token_lock(u, "/v1/lock/release", "h1", 41, &j), 200);
    assert_true(json_is_false(json_object_get(j, "released")));
    json_decref(j);
    assert_int_equal(token_lock(u, "/v1/lock", "h2", 1, &j), 409); /* still held */
    assert_string_equal(str(j, "holder"), "h1");
    json_decref(j);
    assert_int_equal(token_lock(u, "/v1/lock", "h1", 41, &j), 409);
    assert_non_null(strstr(str(j, "error"), "stale"));
    json_decref(j);
    assert_int_equal(token_lock(u, "/v1/lock/release", "h1", 42, &j), 200);
    assert_true(json_is_true(json_object_get(j, "released")));
    json_decref(j);
    assert_int_equal(token_lock(u, "/v1/lock", "h1", 42, &j), 409);
    assert_true(json_is_null(json_object_get(j, "holder")));
    json_decref(j);
    assert_int_equal(token_lock(u, "/v1/lock", "h2", 7, &j), 200); /* free for another */
    json_decref(j);
    assert_int_equal(health_int(u, "locks_denied"), 3);
    pool_finish();
}

/* The agent at `url` has a migration in state `vm` (the state's name, in this condition). */
static bool
migration_in_state(void *arg)
{
    const struct pcond *c = arg;
    return any_entry(c->url, "/v1/migrations", "state", c->vm, false);
}

/* A source whose destination's lock goes to another host during the migration (as when its
 * lease ran out) stops its migration: that host may move a VM in, and the lock allows one
 * arrival at a time. The VM stays on the source. Before, the migration went on. */
static void
test_lock_lost_stops_migration(void **state)
{
    (void)state;
    struct peers p;
    pool_peers_init(&p, 2);
    /* 200 s to copy either VM; renewals every second. */
    const char *src[] = {"--vm",
                         "a:cpu=10,mem=2000",
                         "--vm",
                         "b:cpu=10,mem=2000",
                         "--bandwidth",
                         "10",
                         "--lock-lease",
                         "3",
                         NULL};
    const char *idle[] = {"--vm", "d:cpu=5", NULL};
    pool_peer_start(&p, 0, src);
    pool_peer_start(&p, 1, idle);
    post_load(p.url[0], "a", "{\"cpu\": 50}");
    post_load(p.url[0], "b", "{\"cpu\": 45}");
    struct pcond running = {&p, p.url[0], "running", 0, 0};
    assert_true(wait_until(migration_in_state, &running, ACT_S));
    /* The source numbers its takes: a release with another token leaves its take. */
    json_t *j = NULL;
    assert_int_equal(token_lock(p.url[1], "/v1/lock/release", "p1", 1, &j), 200);
    assert_true(json_is_false(json_object_get(j, "released")));
    json_decref(j);
    /* The destination's lock given back in the source's name, then taken by another host. */
    assert_int_equal(daemon_http(p.url[1], "POST", "/v1/lock/release", "{\"holder\":\"p1\"}", &j),
                     200);
    assert_true(json_is_true(json_object_get(j, "released")));
    json_decref(j);
    assert_int_equal(take_lock(p.url[1], "h9", &j), 200);
    json_decref(j);
    struct pcond failed = {&p, p.url[0], "failed", 0, 0};
    assert_true(wait_until(migration_in_state, &failed, ACT_S));
    json_t *migs = get(p.url[0], "/v1/migrations");
    const char *err = str(json_array_get(migs, 0), "error");
    if (strstr(err, "aborted: the destination's lock") == NULL)
        printf("migration error: %s\n", err);
    assert_non_null(strstr(err, "aborted: the destination's lock"));
    json_decref(migs);
    assert_int_equal(where(&p, "a"), 0);
    assert_int_equal(where(&p, "b"), 0);
    const char *vms[] = {"a", "b", "d", NULL};
    assert_each_once(&p, vms);
    pool_finish();
}

/* Command-line checks of the modes. */
static void
test_mode_options(void **state)
{
    (void)state;
    const char *const *const bad[] = {
        (const char *const[]){"agent", "--name", "h", "--mode", "bogus", NULL},
        (const char *const[]){"agent", "--name", "h", "--peer", "http://127.0.0.1:1", NULL},
        (const char *const[]){"agent", "--name", "h", "--mode", "peer", "--manager",
                              "http://127.0.0.1:1", NULL},
        (const char *const[]){"agent", "--name", "h", "--mode", "edge", NULL},
        (const char *const[]){"agent", "--name", "h", "--mode", "peer", "--peer", "nope", NULL},
        (const char *const[]){"agent", "--name", "h", "--mode", "peer", "--peer",
                              "http://127.0.0.1:1", "--peer", "http://127.0.0.1:1", NULL},
        (const char *const[]){"agent", "--name", "h", "--mode", "peer", "--lock-lease", "0", NULL},
        (const char *const[]){"agent", "--name", "h", "--peers-file", "/nonexistent", NULL},
        (const char *const[]){"manager", "--collect", "notified", NULL},
        (const char *const[]){"manager", "--mode", "peer", NULL},
        (const char *const[]){"manager", "--mode", "edge", "--collect", "sometimes", NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int st = run_cli(bad[i], NULL);
        if (st != 2)
            printf("case %zu exited %d, expected 2\n", i, st);
        assert_int_equal(st, 2);
    }
    const char *const *const good[] = {
        (const char *const[]){"agent", "--name", "h", "--mode", "peer", "--peer",
                              "http://127.0.0.1:1", "--lock-lease", "2.5", "--check-config", NULL},
        (const char *const[]){"agent", "--name", "h", "--mode", "edge", "--manager",
                              "http://127.0.0.1:1", "--check-config", NULL},
        /* A peers file that is not there yet is fine: the agent waits for it. */
        (const char *const[]){"agent", "--name", "h", "--mode", "peer", "--peers-file",
                              "/nonexistent/peers", "--check-config", NULL},
        (const char *const[]){"manager", "--mode", "edge", "--collect", "notified",
                              "--check-config", NULL},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(run_cli(good[i], NULL), 0);
    /* Peers from the config file; a bad one is named with its file and line. */
    char ok_path[600];
    char bad_path[600];
    (void)snprintf(ok_path, sizeof(ok_path), "%s/%s-peers.ini", daemon_tmpdir(), pool_prefix());
    (void)snprintf(bad_path, sizeof(bad_path), "%s/%s-badpeers.ini", daemon_tmpdir(),
                   pool_prefix());
    FILE *f = fopen(ok_path, "w");
    assert_non_null(f);
    (void)fputs("[agent]\nname = h1\nmode = peer\nlock_lease = 5\n"
                "peers = http://127.0.0.1:7702, http://127.0.0.1:7703\n[detect]\n"
                "host_threshold = 75\n",
                f);
    assert_int_equal(fclose(f), 0);
    f = fopen(bad_path, "w");
    assert_non_null(f);
    (void)fputs("[agent]\nname = h1\nmode = peer\npeers = http://127.0.0.1:7702 ftp://x\n", f);
    assert_int_equal(fclose(f), 0);
    const char *ok_argv[] = {"agent", "--config", ok_path, "--check-config", NULL};
    char *out = NULL;
    assert_int_equal(run_cli(ok_argv, &out), 0);
    assert_non_null(strstr(out, "configuration OK"));
    free(out);
    const char *bad_argv[] = {"agent", "--config", bad_path, "--check-config", NULL};
    assert_int_equal(run_cli(bad_argv, NULL), 2);
    pool_finish();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_peer_one_conflict, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_peer_contention, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_peer_holder_killed, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_peer_down_skipped, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_peer_unresolved_holds_one_vm, pool_setup,
                                        pool_teardown),
        cmocka_unit_test_setup_teardown(test_peers_file, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_peer_config_200, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_lock_api, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_lock_tokens, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_lock_lost_stops_migration, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_lock_kept_across_restart, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_mode_options, pool_setup, pool_teardown),
    };
    return cmocka_run_group_tests_name("peer", tests, NULL, NULL);
}

/* Fault injection: the manager, the source agent and the destination agent are each stopped at
 * each step of a migration (before the order, during the transfer, after the transfer before
 * its report), then started again on the same address and data. Every time, every VM must end
 * on exactly one host, the manager's view and its migration record must agree with the agents,
 * and nothing may stay in flight.
 *
 * Exact points are reached with failpoints (VMLOC_FAILPOINT, src/common/failpoint.h), which
 * end the process as a crash would; "during the transfer" is a SIGKILL while the source
 * reports the migration running (the copy of 600 MiB at 300 MiB/s takes 2 s). The agents
 * keep their simulated hosts in --data, as a real hypervisor keeps its VMs. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "testpool.h"

enum victim { V_MANAGER, V_SOURCE, V_DEST };
enum when { W_BEFORE_ORDER, W_DURING, W_AFTER_TRANSFER };

struct fault {
    const char *title;
    enum victim victim;
    enum when when;
    const char *failpoint; /* NULL: SIGKILL during the transfer */
};

static const struct fault faults[] = {
    {"manager before the order", V_MANAGER, W_BEFORE_ORDER, "manager-before-order"},
    {"manager during the transfer", V_MANAGER, W_DURING, NULL},
    {"manager after the transfer, before the report", V_MANAGER, W_AFTER_TRANSFER, NULL},
    {"source before the order is taken", V_SOURCE, W_BEFORE_ORDER, "source-on-order"},
    {"source during the transfer", V_SOURCE, W_DURING, NULL},
    {"source after the commit, before recording it", V_SOURCE, W_AFTER_TRANSFER,
     "source-after-commit"},
    {"destination before the reservation", V_DEST, W_BEFORE_ORDER, "dest-on-reserve"},
    {"destination during the transfer", V_DEST, W_DURING, NULL},
    {"destination after the commit, before answering", V_DEST, W_AFTER_TRANSFER,
     "dest-after-commit"},
};

struct cluster {
    struct daemon *m;
    struct daemon *h[2];
    char data[2][300];
    char port[3][16]; /* manager, h1, h2 */
};

static const char *const host_names[] = {"h1", "h2"};

/* The port of a daemon's URL ("http://127.0.0.1:PORT"). */
static void
port_of(const struct daemon *d, char *buf, size_t len)
{
    const char *p = strrchr(d->url, ':');
    (void)snprintf(buf, len, "%s", p != NULL ? p + 1 : "0");
}

/* Start host i (h1 with VMs a and b, h2 with `vm`, or none when NULL). */
static struct daemon *
start_host_with(struct cluster *c, int i, const char *tag, const char *failpoint, const char *vm)
{
    char listen[40];
    (void)snprintf(listen, sizeof(listen), "127.0.0.1:%s", c->port[i + 1]);
    const char *vms0[] = {"--listen", listen, "--data",           c->data[i], "--bandwidth",
                          "300",      "--vm", "a:cpu=10,mem=600", "--vm",     "b:cpu=10,mem=600",
                          NULL};
    const char *vms1[] = {
        "--listen", listen, "--data", c->data[i], "--bandwidth", "300", vm != NULL ? "--vm" : NULL,
        vm,         NULL};
    if (failpoint != NULL)
        assert_int_equal(setenv("VMLOC_FAILPOINT", failpoint, 1), 0);
    char name[32];
    (void)snprintf(name, sizeof(name), "%s%s", host_names[i], tag);
    /* The name given to the agent is the host's; the pool's name tells the logs apart. */
    const char *argv[32] = {"agent",   "--name",     host_names[i], "--manager",
                            c->m->url, "--interval", "0.2"};
    size_t n = 7;
    for (const char *const *e = i == 0 ? vms0 : vms1; *e != NULL; e++)
        argv[n++] = *e;
    argv[n] = NULL;
    struct daemon *d = pool_start(name, argv);
    (void)unsetenv("VMLOC_FAILPOINT");
    return d;
}

static struct daemon *
start_host(struct cluster *c, int i, const char *tag, const char *failpoint)
{
    return start_host_with(c, i, tag, failpoint, NULL);
}

static struct daemon *
start_manager(struct cluster *c, const char *tag, const char *failpoint)
{
    char listen[40];
    (void)snprintf(listen, sizeof(listen), "127.0.0.1:%s", c->port[0]);
    if (failpoint != NULL)
        assert_int_equal(setenv("VMLOC_FAILPOINT", failpoint, 1), 0);
    char name[32];
    (void)snprintf(name, sizeof(name), "m%s", tag);
    struct daemon *d = pool_start_manager(name, listen, NULL);
    (void)unsetenv("VMLOC_FAILPOINT");
    return d;
}

struct mig_watch {
    const char *url; /* the source agent */
    char id[80];
    const char *state; /* wanted state, or NULL for any */
};

/* The source lists a migration (in `state` if given); its id is kept. */
static bool
source_migration(void *arg)
{
    struct mig_watch *w = arg;
    json_t *migs = get(w->url, "/v1/migrations");
    size_t i;
    json_t *m;
    bool found = false;
    json_array_foreach(migs, i, m)
    {
        if (w->state == NULL || strcmp(str(m, "state"), w->state) == 0) {
            (void)snprintf(w->id, sizeof(w->id), "%s", str(m, "id"));
            found = true;
        }
    }
    json_decref(migs);
    return found;
}

/* VM `a` (the heavier) is on the destination in state `c->b`: "incoming" while reserved there
 * and its copy under way, "running" once committed. */
static bool
a_on_dest_is(void *arg)
{
    const struct cond *c = arg;
    json_t *vms = get(c->url, "/v1/vms");
    json_t *v = named(vms, "a");
    bool ok = v != NULL && strcmp(str(v, "state"), c->b) == 0;
    json_decref(vms);
    return ok;
}

/* The manager has no migration in flight and lists both hosts up. */
static bool
settled(void *arg)
{
    const char *url = arg;
    struct cond up = {url, NULL, NULL, 2};
    return hosts_up(&up) && health_int(url, "active_migrations") == 0;
}

/* Where each VM runs per the agents: every VM on exactly one host, none in flight. Fills
 * `where` ("a" -> host). */
static void
assert_once(struct cluster *c, json_t *where)
{
    int seen = 0;
    for (int i = 0; i < 2; i++) {
        json_t *vms = get(c->h[i]->url, "/v1/vms");
        assert_non_null(vms);
        size_t k;
        json_t *v;
        json_array_foreach(vms, k, v)
        {
            const char *name = str(v, "name");
            if (strcmp(str(v, "state"), "running") != 0)
                printf("VM %s on %s is %s\n", name, host_names[i], str(v, "state"));
            assert_string_equal(str(v, "state"), "running");
            if (json_object_get(where, name) != NULL)
                printf("VM %s runs on two hosts\n", name);
            assert_null(json_object_get(where, name));
            (void)json_object_set_new(where, name, json_string(host_names[i]));
            seen++;
        }
        json_decref(vms);
    }
    assert_int_equal(seen, 2);
    assert_non_null(json_object_get(where, "a"));
    assert_non_null(json_object_get(where, "b"));
}

/* The manager's VM list and the migration's record agree with the agents. */
static bool
manager_agrees(struct cluster *c, json_t *where, const char *id)
{
    json_t *vms = get(c->m->url, "/v1/vms");
    bool ok = vms != NULL && json_array_size(vms) == 2;
    size_t k;
    json_t *v;
    json_array_foreach(vms, k, v)
    {
        json_t *h = json_object_get(where, str(v, "name"));
        if (h == NULL || strcmp(json_string_value(h), str(v, "host")) != 0)
            ok = false;
    }
    json_decref(vms);
    if (!ok)
        return false;
    json_t *migs = get(c->m->url, "/v1/migrations");
    json_array_foreach(migs, k, v)
    {
        if (strcmp(str(v, "id"), id) != 0)
            continue;
        const char *st = str(v, "state");
        const char *on = json_string_value(json_object_get(where, "a"));
        printf("migration %s: %s (%s), VM a on %s\n", id, st, str(v, "error"), on);
        if (strcmp(st, "done") == 0)
            ok = strcmp(on, str(v, "to")) == 0;
        else if (strcmp(st, "failed") == 0)
            ok = strcmp(on, str(v, "from")) == 0;
        else
            ok = false;
    }
    json_decref(migs);
    return ok;
}

struct agree_arg {
    struct cluster *c;
    const char *id;
};

static bool
agrees(void *arg)
{
    struct agree_arg *g = arg;
    json_t *where = json_object();
    bool ok = true;
    for (int i = 0; i < 2 && ok; i++) {
        json_t *vms = get(g->c->h[i]->url, "/v1/vms");
        size_t k;
        json_t *v;
        json_array_foreach(vms, k, v)
        {
            if (strcmp(str(v, "state"), "running") != 0)
                ok = false;
            (void)json_object_set_new(where, str(v, "name"), json_string(host_names[i]));
        }
        json_decref(vms);
    }
    ok = ok && json_object_size(where) == 2 && manager_agrees(g->c, where, g->id);
    json_decref(where);
    return ok;
}

/* Set every VM's cpu demand back to 10 % on the host that runs it. */
static void
calm(struct cluster *c)
{
    for (int i = 0; i < 2; i++) {
        json_t *vms = get(c->h[i]->url, "/v1/vms");
        size_t k;
        json_t *v;
        json_array_foreach(vms, k, v)
        {
            char path[128];
            (void)snprintf(path, sizeof(path), "/v1/vms/%s/load", str(v, "name"));
            json_t *j = NULL;
            (void)daemon_http(c->h[i]->url, "POST", path, "{\"cpu\": 10}", &j);
            json_decref(j);
        }
        json_decref(vms);
    }
}

struct settle_arg {
    const char *dest_url;
    const char *id;
};

/* The destination's record of arrival `id` is settled. */
static bool
arrival_settled(void *arg)
{
    struct settle_arg *sa = arg;
    char path[160];
    (void)snprintf(path, sizeof(path), "/v1/incoming/%s", sa->id);
    json_t *in = get(sa->dest_url, path);
    bool ok = in != NULL && strcmp(str(in, "state"), "committed") == 0 &&
              json_is_true(json_object_get(in, "settled"));
    json_decref(in);
    return ok;
}

/* Start the manager and both hosts (with failpoint `fp[0]` for the manager, fp[1] and fp[2]
 * for h1 and h2, each NULL for none), wait until both are up, and put the conflict: a and b
 * heavy on h1, so that a, the heavier, goes to h2. */
static void
cluster_start(struct cluster *c, const char *const fp[3])
{
    memset(c, 0, sizeof(*c));
    for (int i = 0; i < 3; i++)
        (void)snprintf(c->port[i], sizeof(c->port[i]), "0");
    for (int i = 0; i < 2; i++)
        (void)snprintf(c->data[i], sizeof(c->data[i]), "%s/%s-%s", daemon_tmpdir(), pool_prefix(),
                       host_names[i]);
    c->m = start_manager(c, "", fp[0]);
    port_of(c->m, c->port[0], sizeof(c->port[0]));
    for (int i = 0; i < 2; i++) {
        c->h[i] = start_host(c, i, "", fp[i + 1]);
        port_of(c->h[i], c->port[i + 1], sizeof(c->port[i + 1]));
    }
    struct cond up = {c->m->url, NULL, NULL, 2};
    assert_true(wait_until(hosts_up, &up, UP_S));
    load(c->h[0]->url, "b", "cpu=45");
    load(c->h[0]->url, "a", "cpu=50");
}

static void
run_fault(const struct fault *f)
{
    printf("--- %s\n", f->title);
    struct cluster c;
    const char *fp[3] = {f->victim == V_MANAGER ? f->failpoint : NULL,
                         f->victim == V_SOURCE ? f->failpoint : NULL,
                         f->victim == V_DEST ? f->failpoint : NULL};
    cluster_start(&c, fp);

    struct daemon *victim = f->victim == V_MANAGER ? c.m : f->victim == V_SOURCE ? c.h[0] : c.h[1];
    struct mig_watch w = {c.h[0]->url, "", "running"};
    if (f->failpoint != NULL) {
        assert_true(wait_until(pool_exited, victim, ACT_S));
    } else {
        /* During the copy: the order taken and the destination's reservation made. */
        assert_true(wait_until(source_migration, &w, ACT_S));
        struct cond arriving = {c.h[1]->url, NULL, "incoming", 0};
        assert_true(wait_until(a_on_dest_is, &arriving, ACT_S));
        daemon_kill(victim);
        printf("killed %s during the transfer of %s\n", victim->log_path, w.id);
        /* After the transfer: the agents finish it while the manager is gone. */
        struct cond arrived = {c.h[1]->url, NULL, "running", 0};
        if (f->when == W_AFTER_TRANSFER)
            assert_true(wait_until(a_on_dest_is, &arrived, ACT_S));
    }

    /* Start the victim again, on the same address and data, without the failpoint. */
    if (f->victim == V_MANAGER)
        c.m = start_manager(&c, "-again", NULL);
    else
        c.h[f->victim == V_SOURCE ? 0 : 1] =
            start_host(&c, f->victim == V_SOURCE ? 0 : 1, "-again", NULL);
    /* Calm both VMs wherever they are, so that no new conflict starts another migration. */
    calm(&c);
    assert_true(wait_until(settled, (void *)c.m->url, 30.0));

    /* The migration the manager ordered (the first one it recorded). */
    json_t *migs = get(c.m->url, "/v1/migrations");
    assert_non_null(migs);
    assert_true(json_array_size(migs) >= 1);
    char id[80];
    (void)snprintf(id, sizeof(id), "%s", str(json_array_get(migs, 0), "id"));
    json_decref(migs);

    json_t *where = json_object();
    assert_once(&c, where);
    json_decref(where);
    struct agree_arg g = {&c, id};
    assert_true(wait_until(agrees, &g, 10.0));

    /* The source's own record says the same as the manager's. */
    char path[160];
    (void)snprintf(path, sizeof(path), "/v1/migrations/%s", id);
    json_t *src = get(c.h[0]->url, path);
    json_t *mm = get(c.m->url, "/v1/migrations");
    json_t *rec = NULL;
    size_t k;
    json_t *v;
    json_array_foreach(mm, k, v)
    {
        if (strcmp(str(v, "id"), id) == 0)
            rec = v;
    }
    assert_non_null(rec);
    if (src != NULL) /* the source may never have taken the order */
        assert_string_equal(str(src, "state"), str(rec, "state"));
    /* A move that happened is settled with the destination: the source told it, after its
     * own recovery if need be, that the arrival's record may go. */
    if (strcmp(str(rec, "state"), "done") == 0) {
        struct settle_arg sa = {c.h[1]->url, id};
        assert_true(wait_until(arrival_settled, &sa, 10.0));
    }
    json_decref(src);
    json_decref(mm);
    pool_finish();
}

static void
test_fault(void **state)
{
    run_fault(*state);
}

/* The destination dies after the commit, before answering, and comes back without its record
 * of the arrival (a new data directory), as after a loss of its state or long after the move.
 * The source, asking, gets 404; whether the destination runs the VM then decides: the move
 * happened when it does (its hypervisor kept the VM), it did not when it does not. Either way
 * the VM runs on exactly one host. */
static void
lost_record(bool runs_it)
{
    struct cluster c;
    const char *fp[3] = {NULL, NULL, "dest-after-commit"};
    cluster_start(&c, fp);
    assert_true(wait_until(pool_exited, c.h[1], ACT_S));
    (void)snprintf(c.data[1], sizeof(c.data[1]), "%s/%s-h2-fresh", daemon_tmpdir(), pool_prefix());
    c.h[1] = start_host_with(&c, 1, "-again", NULL, runs_it ? "a:cpu=50,mem=600" : NULL);
    struct mig_watch w = {c.h[0]->url, "", runs_it ? "done" : "failed"};
    assert_true(wait_until(source_migration, &w, ACT_S));
    calm(&c);
    assert_true(wait_until(settled, (void *)c.m->url, 30.0));
    json_t *where = json_object();
    assert_once(&c, where);
    assert_string_equal(json_string_value(json_object_get(where, "a")), runs_it ? "h2" : "h1");
    json_decref(where);
    pool_finish();
}

static void
test_lost_record_vm_there(void **state)
{
    (void)state;
    lost_record(true);
}

static void
test_lost_record_vm_gone(void **state)
{
    (void)state;
    lost_record(false);
}

/* The source's answer to every order is lost (the order arrives and is left unanswered, the
 * failpoint source-on-order:drop) while its samples keep coming. After the resends the manager
 * asks the destination, which has no record of the arrival: the migration is held, not
 * failed, since a live source may have taken the order and reserve next. Once the source's
 * host is down the same answer fails it, and VM a is on h1's record only, not on h2. */
static void
test_order_answer_lost(void **state)
{
    (void)state;
    struct cluster c;
    const char *fp[3] = {NULL, "source-on-order:drop", NULL};
    cluster_start(&c, fp);
    /* Five orders of 10 s each without an answer, then the destination is asked. */
    struct log_cond held = {c.m, "migration held id="};
    assert_true(wait_until(log_has, &held, 120.0));
    struct cond planned = {c.m->url, "a", "planned", 0};
    struct cond failed = {c.m->url, "a", "failed", 0};
    assert_true(migration_is(&planned));
    assert_false(migration_is(&failed));
    struct cond h1_up = {c.m->url, "h1", "up", 0};
    assert_true(host_state_is(&h1_up));

    daemon_kill(c.h[0]);
    assert_true(wait_until(migration_is, &failed, 60.0));
    json_t *vms = get(c.h[1]->url, "/v1/vms");
    assert_non_null(vms);
    assert_null(named(vms, "a"));
    json_decref(vms);
    struct log_cond never = {c.m, "the destination never had the VM"};
    assert_true(log_has(&never));
    pool_finish();
}

/* A state file that cannot be read stops the agent (it could not know which VMs it runs),
 * and its log names the file and the field; a file of another host's is refused too. */
static void
test_bad_state_file(void **state)
{
    (void)state;
    char dir[300];
    (void)snprintf(dir, sizeof(dir), "%s/%s-bad", daemon_tmpdir(), pool_prefix());
    assert_int_equal(mkdir(dir, 0700), 0);
    char file[400];
    (void)snprintf(file, sizeof(file), "%s/hv-sim.json", dir);
    static const char *const bad[] = {
        "{\"version\": 1, \"host\": \"h1\", \"vms\": [{\"name\": \"a\"}], \"incoming\": [], "
        "\"migrations\": []}",
        "{\"version\": 1, \"host\": \"other\", \"vms\": [], \"incoming\": [], \"migrations\": []}",
        "{\"version\": 1, \"host\": \"h1\", \"vms\": []",
        /* An arrival's "settled" that is not a boolean. */
        "{\"version\": 1, \"host\": \"h1\", \"vms\": [], \"incoming\": [{\"id\": \"m1\", "
        "\"vm\": \"a\", \"from\": \"h2\", \"state\": \"committed\", \"settled\": \"yes\"}], "
        "\"migrations\": []}",
        /* A reserved arrival's announced copy time out of range. */
        "{\"version\": 1, \"host\": \"h1\", \"vms\": [], \"incoming\": [{\"id\": \"m1\", "
        "\"vm\": \"a\", \"from\": \"h2\", \"state\": \"reserved\", \"transfer_s\": -1}], "
        "\"migrations\": []}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        FILE *f = fopen(file, "w");
        assert_non_null(f);
        assert_true(fputs(bad[i], f) >= 0);
        assert_int_equal(fclose(f), 0);
        const char *argv[] = {"agent",       "--name", "h1", "--listen",
                              "127.0.0.1:0", "--data", dir,  NULL};
        assert_int_not_equal(run_cli(argv, NULL), 0);
    }
    pool_finish();
}

#define FAULT(i)                                                                                   \
    cmocka_unit_test_prestate_setup_teardown(test_fault, pool_setup, pool_teardown,                \
                                             (void *)&faults[i])

int
main(void)
{
    const struct CMUnitTest tests[] = {
        FAULT(0),
        FAULT(1),
        FAULT(2),
        FAULT(3),
        FAULT(4),
        FAULT(5),
        FAULT(6),
        FAULT(7),
        FAULT(8),
        cmocka_unit_test_setup_teardown(test_bad_state_file, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_lost_record_vm_there, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_lost_record_vm_gone, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_order_answer_lost, pool_setup, pool_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

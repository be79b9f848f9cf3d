/* Integration tests of `vmloc agent` with the simulated backend: real processes on
 * 127.0.0.1, talked to over HTTP and through the vmloc CLI. No test sleeps to wait: each
 * waits for the daemon's listening line or polls a condition with a deadline. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon.h"
#include "run.h"

static void
start_agent(struct daemon *d, const char *name, const char *const *extra)
{
    const char *argv[32] = {"agent",       "--name",     name, "--listen",
                            "127.0.0.1:0", "--interval", "0.1"};
    size_t n = 7;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    assert_int_equal(daemon_start(d, name, argv, 10.0), 0);
}

static void
stop_clean(struct daemon *d)
{
    int st = daemon_stop(d, 10.0);
    if (st != 0)
        daemon_dump_log(d);
    assert_int_equal(st, 0);
}

/* The VM object named `vm` in agent `url`'s /v1/vms, or NULL (caller decrefs `*ret_all`). */
static json_t *
find_vm(const char *url, const char *vm, json_t **ret_all)
{
    json_t *arr = NULL;
    *ret_all = NULL;
    if (daemon_http(url, "GET", "/v1/vms", NULL, &arr) != 200 || !json_is_array(arr)) {
        json_decref(arr);
        return NULL;
    }
    *ret_all = arr;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (strcmp(json_string_value(json_object_get(v, "name")), vm) == 0)
            return v;
    }
    return NULL;
}

static double
vm_kind(const char *url, const char *vm, const char *field, const char *kind)
{
    json_t *all;
    json_t *v = find_vm(url, vm, &all);
    double d =
        v != NULL ? json_number_value(json_object_get(json_object_get(v, field), kind)) : -1.0;
    json_decref(all);
    return d;
}

static void
test_health_and_sample(void **state)
{
    (void)state;
    struct daemon a;
    const char *extra[] = {"--vm", "web:cpu=30,disk=10,mem=2048", "--vm", "db:cpu=25", NULL};
    start_agent(&a, "h1", extra);
    json_t *j = NULL;
    assert_int_equal(daemon_http(a.url, "GET", "/v1/health", NULL, &j), 200);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "h1");
    json_decref(j);
    assert_int_equal(daemon_http(a.url, "GET", "/v1/sample", NULL, &j), 200);
    json_t *host = json_object_get(j, "host");
    assert_string_equal(json_string_value(json_object_get(host, "name")), "h1");
    json_t *vms = json_object_get(host, "vms");
    assert_int_equal(json_array_size(vms), 2);
    /* Host total = VMs + 2 % hypervisor overhead; usage has every kind. */
    double cpu = json_number_value(json_object_get(json_object_get(host, "usage"), "cpu"));
    assert_true(cpu > 56.9 && cpu < 57.1);
    double disk = json_number_value(json_object_get(json_object_get(host, "usage"), "disk"));
    assert_true(disk > 9.9 && disk < 10.1);
    json_decref(j);
    stop_clean(&a);
}

static void
test_load_and_overcommit(void **state)
{
    (void)state;
    struct daemon a;
    const char *extra[] = {"--vm", "a:cpu=30", "--vm", "b:cpu=20", NULL};
    start_agent(&a, "h1", extra);
    const char *load[] = {"load", "--agent", a.url, "a", "cpu=50", NULL};
    assert_int_equal(run_cli(load, NULL), 0);
    assert_true(vm_kind(a.url, "a", "usage", "cpu") > 49.9);
    /* Demand beyond capacity: 90 + 60 + 2 % overhead > 100, both get the same fraction. */
    const char *l1[] = {"load", "--agent", a.url, "a", "cpu=90", NULL};
    const char *l2[] = {"load", "--agent", a.url, "b", "cpu=60", NULL};
    assert_int_equal(run_cli(l1, NULL), 0);
    assert_int_equal(run_cli(l2, NULL), 0);
    double ga = vm_kind(a.url, "a", "usage", "cpu");
    double gb = vm_kind(a.url, "b", "usage", "cpu");
    assert_true(vm_kind(a.url, "a", "demand", "cpu") > 89.9);
    assert_true(ga < 90.0 && gb < 60.0);
    assert_true(ga + gb < 98.01 && ga + gb > 97.99);
    assert_true(ga / gb > 1.49 && ga / gb < 1.51);
    /* Bad loads are refused and change nothing. */
    const char *bad1[] = {"load", "--agent", a.url, "a", "cpu=101", NULL};
    const char *bad2[] = {"load", "--agent", a.url, "a", "gpu=5", NULL};
    const char *bad3[] = {"load", "--agent", a.url, "nosuchvm", "cpu=5", NULL};
    const char *bad4[] = {"load", "a", "cpu=5", NULL};
    assert_int_equal(run_cli(bad1, NULL), 2);
    assert_int_equal(run_cli(bad2, NULL), 2);
    assert_int_equal(run_cli(bad3, NULL), 2);
    assert_int_equal(run_cli(bad4, NULL), 2);
    assert_true(vm_kind(a.url, "a", "demand", "cpu") > 89.9);
    stop_clean(&a);
}

struct mig_wait {
    const char *url;
    const char *id;
    const char *state;
};

static bool
migration_in_state(void *arg)
{
    struct mig_wait *w = arg;
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/migrations/%s", w->id);
    json_t *j = NULL;
    bool ok = daemon_http(w->url, "GET", path, NULL, &j) == 200 &&
              strcmp(json_string_value(json_object_get(j, "state")), w->state) == 0;
    json_decref(j);
    return ok;
}

static int
order(const char *src, const char *id, const char *vm, const char *dst_url, const char *dst)
{
    char body[512];
    (void)snprintf(body, sizeof(body),
                   "{\"id\":\"%s\",\"vm\":\"%s\",\"to\":\"%s\",\"to_name\":\"%s\"}", id, vm,
                   dst_url, dst);
    json_t *j = NULL;
    int st = daemon_http(src, "POST", "/v1/migrations", body, &j);
    json_decref(j);
    return st;
}

static void
test_migration_moves_vm(void **state)
{
    (void)state;
    struct daemon a;
    struct daemon b;
    const char *ea[] = {"--vm", "big:cpu=45,mem=256", "--vm", "small:cpu=30", "--bandwidth", "1024",
                        NULL};
    const char *eb[] = {"--vm", "other:cpu=10", NULL};
    start_agent(&a, "src", ea);
    start_agent(&b, "dst", eb);
    assert_int_equal(order(a.url, "mig-1", "big", b.url, "dst"), 202);
    /* While it runs the VM is on the source, 10 % slower, and announced on the destination. */
    struct mig_wait w = {a.url, "mig-1", "done"};
    assert_true(wait_until(migration_in_state, &w, 10.0));
    json_t *all;
    assert_null(find_vm(a.url, "big", &all));
    json_decref(all);
    json_t *v = find_vm(b.url, "big", &all);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "state")), "running");
    assert_true(json_number_value(json_object_get(json_object_get(v, "usage"), "cpu")) > 44.9);
    json_decref(all);
    /* The same order again: the VM is no longer there. */
    assert_int_equal(order(a.url, "mig-2", "big", b.url, "dst"), 404);
    /* migrations --json has the contract's keys. */
    const char *cli[] = {"--agent", a.url, "migrations", "--json", NULL};
    char *out = NULL;
    assert_int_equal(run_cli(cli, &out), 0);
    json_t *arr = json_loads(out, 0, NULL);
    free(out);
    assert_true(json_is_array(arr));
    json_t *m = json_array_get(arr, 0);
    assert_string_equal(json_string_value(json_object_get(m, "vm")), "big");
    assert_string_equal(json_string_value(json_object_get(m, "from")), "src");
    assert_string_equal(json_string_value(json_object_get(m, "to")), "dst");
    assert_string_equal(json_string_value(json_object_get(m, "state")), "done");
    assert_true(json_is_number(json_object_get(m, "started")));
    assert_true(json_is_number(json_object_get(m, "finished")));
    json_decref(arr);
    stop_clean(&a);
    stop_clean(&b);
}

static void
test_migration_to_dead_host_fails(void **state)
{
    (void)state;
    struct daemon a;
    const char *ea[] = {"--vm", "x:cpu=40", NULL};
    start_agent(&a, "src", ea);
    assert_int_equal(order(a.url, "mig-dead", "x", "http://127.0.0.1:1", "ghost"), 202);
    struct mig_wait w = {a.url, "mig-dead", "failed"};
    assert_true(wait_until(migration_in_state, &w, 10.0));
    json_t *all;
    json_t *v = find_vm(a.url, "x", &all);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "state")), "running");
    json_decref(all);
    stop_clean(&a);
}

static bool
vm_incoming(void *arg)
{
    const char *url = arg;
    json_t *all;
    json_t *v = find_vm(url, "x", &all);
    bool ok = v != NULL && strcmp(json_string_value(json_object_get(v, "state")), "incoming") == 0;
    json_decref(all);
    return ok;
}

static bool
vm_leaving(void *arg)
{
    const char *url = arg;
    json_t *all;
    json_t *v = find_vm(url, "x", &all);
    bool ok =
        v != NULL && strcmp(json_string_value(json_object_get(v, "state")), "migrating-out") == 0;
    json_decref(all);
    return ok;
}

/* The destination dies during the transfer. The source cannot know whether a commit got
 * there, so it holds the VM (running, leaving) until the destination answers; a restarted
 * destination knows nothing of the migration, so the VM resumes on the source, once. */
static void
test_destination_dies_midway(void **state)
{
    (void)state;
    struct daemon a;
    struct daemon b;
    const char *ea[] = {"--vm", "x:cpu=40,mem=2048", "--bandwidth", "1024", NULL};
    start_agent(&a, "src", ea);
    start_agent(&b, "dst", NULL);
    const char *port = strrchr(b.url, ':') + 1;
    char listen[64];
    (void)snprintf(listen, sizeof(listen), "127.0.0.1:%s", port);
    assert_int_equal(order(a.url, "mig-mid", "x", b.url, "dst"), 202);
    assert_true(wait_until(vm_incoming, b.url, 5.0)); /* reserved: the copy is running */
    daemon_kill(&b);
    /* While the destination is gone, the VM is still here, exactly once, still running. */
    struct mig_wait running = {a.url, "mig-mid", "running"};
    assert_true(wait_until(vm_leaving, a.url, 5.0));
    assert_true(migration_in_state(&running));
    /* The destination comes back (fresh state, same address). */
    const char *eb[] = {"--listen", listen, NULL};
    start_agent(&b, "dst", eb);
    struct mig_wait w = {a.url, "mig-mid", "failed"};
    assert_true(wait_until(migration_in_state, &w, 15.0));
    json_t *all;
    json_t *v = find_vm(a.url, "x", &all);
    assert_non_null(v);
    assert_string_equal(json_string_value(json_object_get(v, "state")), "running");
    assert_int_equal(json_array_size(all), 1);
    json_decref(all);
    assert_null(find_vm(b.url, "x", &all));
    json_decref(all);
    stop_clean(&a);
    stop_clean(&b);
}

static void
test_hostile_requests(void **state)
{
    (void)state;
    struct daemon a;
#define INCOMING(from, prio)                                                                       \
    "{\"id\": \"r1\", \"from\": \"" from "\", \"transfer_s\": 30, \"capacity\": 1, \"vm\": "       \
    "{\"name\": \"v1\", \"demand\": {\"cpu\": 5}, \"priority\": " prio "}}"
    const char *ea[] = {"--vm", "x:cpu=40", "--vm", "p:cpu=5,pinned", NULL};
    start_agent(&a, "h1", ea);
    json_t *j = NULL;
    struct {
        const char *method;
        const char *path;
        const char *body;
        int status;
    } cases[] = {
        {"GET", "/nope", NULL, 404},
        {"GET", "/v1/vms/x/load", NULL, 405},
        {"DELETE", "/v1/vms", NULL, 405},
        {"POST", "/v1/vms/x/load", "{not json", 400},
        {"POST", "/v1/vms/x/load", "[1,2]", 400},
        {"POST", "/v1/vms/x/load", "{\"cpu\": \"high\"}", 400},
        {"POST", "/v1/vms/x/load", "{\"cpu\": -1}", 400},
        {"POST", "/v1/vms/x/load", "{}", 400},
        {"POST", "/v1/vms/zz/load", "{\"cpu\": 1}", 404},
        {"POST", "/v1/migrations", "{\"vm\": 3}", 400},
        {"POST", "/v1/migrations", "{\"vm\": \"x\", \"to\": \"ftp://a\"}", 400},
        {"POST", "/v1/migrations", "{\"vm\": \"p\", \"to\": \"http://127.0.0.1:9\"}", 409},
        {"POST", "/v1/incoming", "{\"id\": \"../x\", \"from\": \"a\", \"vm\": {}}", 400},
        /* What the agent could not read back from its state file at the next start: a source
         * that is not a host name, a priority past WIRE_PRIORITY_MAX. */
        {"POST", "/v1/incoming", INCOMING("a\\u200bb", "5"), 400},
        {"POST", "/v1/incoming", INCOMING("a\\tb", "5"), 400},
        {"POST", "/v1/incoming", INCOMING("a", "100000000000000000"), 400},
        {"POST", "/v1/incoming", INCOMING("h1", "5"), 400}, /* from this host itself */
        {"POST", "/v1/incoming", INCOMING("a", "1000000000000000"), 201},
        {"POST", "/v1/incoming/none/commit", NULL, 404},
        {"GET", "/v1/migrations/none", NULL, 404},
        {"GET", "/v1/a/b/c/d/e/f/g/h/i/j", NULL, 404},
        {"GET", "/v1/%ff%fe", NULL, 404}, /* not UTF-8: the error must still be JSON */
    };
#undef INCOMING
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int st = daemon_http(a.url, cases[i].method, cases[i].path, cases[i].body, &j);
        if (st != cases[i].status)
            printf("case %zu: %s %s -> %d, expected %d\n", i, cases[i].method, cases[i].path, st,
                   cases[i].status);
        assert_int_equal(st, cases[i].status);
        if (st >= 400)
            assert_true(json_is_string(json_object_get(j, "error")));
        json_decref(j);
    }
    /* A body over the limit is refused by the server itself. */
    size_t big = 5u * 1024u * 1024u;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    huge[0] = '{';
    huge[big - 1] = '}';
    huge[big] = '\0';
    int st = daemon_http(a.url, "POST", "/v1/vms/x/load", huge, &j);
    free(huge);
    json_decref(j);
    assert_true(st == 413 || st == 400 || st == 0);
    /* Still serving, state unchanged. */
    assert_int_equal(daemon_http(a.url, "GET", "/v1/health", NULL, &j), 200);
    json_decref(j);
    assert_true(vm_kind(a.url, "x", "demand", "cpu") > 39.9);
    stop_clean(&a);
}

/* An agent whose data directory exists but cannot be written refuses to start (exit 1)
 * instead of running with a state it cannot keep. /sys refuses new files even to root. */
static void
test_data_dir_not_writable(void **state)
{
    (void)state;
    const char *argv[] = {"agent",  "--name", "hw",   "--listen", "127.0.0.1:0",
                          "--data", "/sys",   "--vm", "a:cpu=10", NULL};
    struct daemon d;
    if (daemon_start(&d, "hw", argv, 10.0) == 0) {
        daemon_kill(&d);
        fail_msg("an agent with a data directory it cannot write started");
    }
}

/* A load change that cannot be saved in the host state is refused (503) and not made: the
 * agent never answers for a change a restart would lose. */
static void
test_load_not_saved_is_refused(void **state)
{
    (void)state;
    char dir[512];
    char gone[600];
    (void)snprintf(dir, sizeof(dir), "%s/state-hs", daemon_tmpdir());
    (void)snprintf(gone, sizeof(gone), "%s.gone", dir);
    struct daemon a;
    const char *extra[] = {"--vm", "a:cpu=30", "--data", dir, NULL};
    start_agent(&a, "hs", extra);
    json_t *j = NULL;
    assert_int_equal(daemon_http(a.url, "POST", "/v1/vms/a/load", "{\"cpu\": 40}", &j), 200);
    json_decref(j);
    /* The directory goes away under the running agent: its next state write fails. */
    assert_int_equal(rename(dir, gone), 0);
    j = NULL;
    assert_int_equal(daemon_http(a.url, "POST", "/v1/vms/a/load", "{\"cpu\": 70}", &j), 503);
    assert_non_null(strstr(json_string_value(json_object_get(j, "error")), "could not be saved"));
    json_decref(j);
    assert_true(vm_kind(a.url, "a", "demand", "cpu") > 39.9 &&
                vm_kind(a.url, "a", "demand", "cpu") < 40.1);
    /* Back in place, the change goes through again. */
    assert_int_equal(rename(gone, dir), 0);
    j = NULL;
    assert_int_equal(daemon_http(a.url, "POST", "/v1/vms/a/load", "{\"cpu\": 70}", &j), 200);
    json_decref(j);
    assert_true(vm_kind(a.url, "a", "demand", "cpu") > 69.9);
    stop_clean(&a);
}

/* Names with a slash, a percent sign, a space or non-ASCII letters go through the API: the
 * command encodes them and the daemon decodes each path segment on its own. */
static void
test_odd_names(void **state)
{
    (void)state;
    struct daemon a;
    const char *extra[] = {"--vm", "a/b:cpu=10",       "--vm", "50%:cpu=10", "--vm", "my vm:cpu=10",
                           "--vm", "v\xc3\xa9:cpu=10", NULL};
    start_agent(&a, "hn", extra);
    static const char *const names[] = {"a/b", "50%", "my vm", "v\xc3\xa9"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *load[] = {"load", "--agent", a.url, names[i], "cpu=42", NULL};
        assert_int_equal(run_cli(load, NULL), 0);
        double d = vm_kind(a.url, names[i], "demand", "cpu");
        if (!(d > 41.9 && d < 42.1))
            fail_msg("%s: demand %.1f after vmloc load", names[i], d);
    }
    /* The encoded slash is one segment: "a%2Fb" is the VM a/b, not a path a, b. */
    json_t *j = NULL;
    assert_int_equal(daemon_http(a.url, "POST", "/v1/vms/a%2Fb/load", "{\"cpu\": 43}", &j), 200);
    json_decref(j);
    assert_true(vm_kind(a.url, "a/b", "demand", "cpu") > 42.9);
    stop_clean(&a);
}

static void
test_bad_arguments(void **state)
{
    (void)state;
    const char *cases[][8] = {
        {"agent", NULL},
        {"agent", "--name", "h", "--vm", "bad", NULL},
        {"agent", "--name", "h", "--vm", "a:cpu=200", NULL},
        {"agent", "--name", "h", "--interval", "0", NULL},
        {"agent", "--name", "h", "--listen", "nowhere", NULL},
        {"agent", "--name", "h", "--manager", "localhost", NULL},
        {"agent", "--name", "h", "--backend", "xen", NULL},
        {"agent", "--name", "h", "--vm", "a:cpu=1", "--vm", "a:cpu=2", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out = NULL;
        int st = run_cli(cases[i], &out);
        if (st != 2)
            printf("case %zu exited %d\n", i, st);
        assert_int_equal(st, 2);
        assert_string_equal(out, "");
        free(out);
    }
    const char *help[] = {"agent", "--help", NULL};
    char *out = NULL;
    assert_int_equal(run_cli(help, &out), 0);
    assert_non_null(strstr(out, "usage: vmloc agent"));
    free(out);
}

static int
write_file(const char *name, const char *text, char *path, size_t len)
{
    (void)snprintf(path, len, "%s/%s", daemon_tmpdir(), name);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    (void)fputs(text, f);
    return fclose(f);
}

static void
test_config_files(void **state)
{
    (void)state;
    char good[512];
    char bad[512];
    char mgr[512];
    assert_int_equal(write_file("agent-good.ini",
                                "[agent]\nname = hx\nlisten = 127.0.0.1:0\n[sim]\ncapacity = 2\n"
                                "[vm \"web-1\"]\ncpu = 30\nmem_mib = 2048\n[vm \"db\"]\ncpu = 5\n"
                                "pinned = yes\n",
                                good, sizeof(good)),
                     0);
    assert_int_equal(write_file("agent-bad.ini", "[agent]\nname = hx\n[vm \"a\"]\ncpu = 130\n", bad,
                                sizeof(bad)),
                     0);
    assert_int_equal(write_file("manager.ini",
                                "[manager]\ninterval = 0.5\n[detect]\nhost_threshold = 85\n", mgr,
                                sizeof(mgr)),
                     0);
    const char *ok1[] = {"agent", "--config", good, "--check-config", NULL};
    const char *ok2[] = {"manager", "--config", mgr, "--check-config", NULL};
    const char *ko1[] = {"agent", "--config", bad, "--check-config", NULL};
    const char *ko2[] = {"manager", "--config", good, "--check-config", NULL};
    char *out = NULL;
    assert_int_equal(run_cli(ok1, &out), 0);
    assert_string_equal(out, "configuration OK\n");
    free(out);
    assert_int_equal(run_cli(ok2, &out), 0);
    assert_string_equal(out, "configuration OK\n");
    free(out);
    assert_int_equal(run_cli(ko1, &out), 2);
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(run_cli(ko2, &out), 2); /* [agent] is not a manager section */
    free(out);
    /* The file's VMs and settings are what the agent runs with; options win. */
    struct daemon a;
    const char *argv[] = {"agent", "--config", good, "--capacity", "3", NULL};
    assert_int_equal(daemon_start(&a, "hx", argv, 10.0), 0);
    json_t *j = NULL;
    assert_int_equal(daemon_http(a.url, "GET", "/v1/sample", NULL, &j), 200);
    json_t *host = json_object_get(j, "host");
    assert_string_equal(json_string_value(json_object_get(host, "name")), "hx");
    assert_true(json_number_value(json_object_get(host, "capacity")) > 2.9);
    assert_int_equal(json_array_size(json_object_get(host, "vms")), 2);
    json_decref(j);
    stop_clean(&a);
}

/* The [libvirt] addresses other hosts use are checked where the operator writes them: a
 * peer_uri other agents would refuse, or a migration_address with a port, fails the agent's
 * start with one line naming the file, the line and why (every build reads [libvirt]). */
static void
test_libvirt_addresses_checked(void **state)
{
    (void)state;
    const struct {
        const char *text;
        const char *why;
    } cases[] = {
        {"peer_uri = qemu+ext://h/system?command=/bin/true\n", "the transport \"ext\""},
        {"peer_uri = qemu:///system\n", "it names no host"},
        {"peer_uri = qemu+ssh://h/system?known_hosts=/tmp/k\n", "the parameter \"known_hosts\""},
        {"migration_address = 10.0.0.2:49152\n", "a port or a URL"},
        {"migration_address = tcp://10.0.0.2\n", "a port or a URL"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[256];
        char path[512];
        (void)snprintf(text, sizeof(text), "[agent]\nname = hx\n[libvirt]\n%s", cases[i].text);
        assert_int_equal(write_file("agent-lv.ini", text, path, sizeof(path)), 0);
        const char *argv[] = {daemon_bin(), "agent", "--config", path, "--check-config", NULL};
        struct run_result r;
        assert_int_equal(run_program(argv, NULL, 0, 30.0, &r), 0);
        char where[600];
        (void)snprintf(where, sizeof(where), "%s:4", path);
        bool ok = r.exit_status == 2 && strstr(r.err, where) != NULL &&
                  strstr(r.err, cases[i].why) != NULL;
        if (!ok)
            printf("%s: %s, stderr '%s' (want '%s' and '%s')\n", cases[i].text, run_describe(&r),
                   r.err, where, cases[i].why);
        run_result_done(&r);
        assert_true(ok);
    }
    const char *good = "[agent]\nname = hx\n[libvirt]\npeer_uri = qemu+tls://kvm-07/system\n"
                       "migration_address = 2001:db8::7\n";
    char path[512];
    assert_int_equal(write_file("agent-lv.ini", good, path, sizeof(path)), 0);
    const char *argv[] = {daemon_bin(), "agent", "--config", path, "--check-config", NULL};
    struct run_result r;
    assert_int_equal(run_program(argv, NULL, 0, 30.0, &r), 0);
    bool ok = r.exit_status == 0 && strcmp(r.out, "configuration OK\n") == 0;
    if (!ok)
        printf("good [libvirt]: %s, stderr '%s'\n", run_describe(&r), r.err);
    run_result_done(&r);
    assert_true(ok);
}

/* The backends built in, as `vmloc --version` lists them: with libvirt (meson -Dlibvirt) an
 * agent takes --backend libvirt; without it that is a usage error of one line (exit 2), and
 * the simulated backend still works. */
static void
test_backends_built_in(void **state)
{
    (void)state;
    const char *version[] = {"--version", NULL};
    char *out = NULL;
    assert_int_equal(run_cli(version, &out), 0);
    const char *line = strstr(out, "backends: sim");
    assert_non_null(line);
    bool libvirt = strncmp(line, "backends: sim, libvirt\n", 23) == 0;
    free(out);
    const char *lv[] = {"agent", "--name", "h", "--backend", "libvirt", "--check-config", NULL};
    const char *sim[] = {"agent", "--name", "h", "--backend", "sim", "--check-config", NULL};
    assert_int_equal(run_cli(sim, NULL), 0);
    if (libvirt) {
        assert_int_equal(run_cli(lv, NULL), 0);
        return;
    }
    out = NULL;
    assert_int_equal(run_cli(lv, &out), 2);
    free(out);
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
        cmocka_unit_test(test_health_and_sample),
        cmocka_unit_test(test_load_and_overcommit),
        cmocka_unit_test(test_migration_moves_vm),
        cmocka_unit_test(test_migration_to_dead_host_fails),
        cmocka_unit_test(test_destination_dies_midway),
        cmocka_unit_test(test_hostile_requests),
        cmocka_unit_test(test_odd_names),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_data_dir_not_writable),
        cmocka_unit_test(test_load_not_saved_is_refused),
        cmocka_unit_test(test_config_files),
        cmocka_unit_test(test_backends_built_in),
        cmocka_unit_test(test_libvirt_addresses_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

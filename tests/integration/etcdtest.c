/* An etcd cluster for daemon tests (etcdtest.h). */
#define _POSIX_C_SOURCE 200809L
#include "etcdtest.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/file.h"
#include "net/http_client.h"
#include "net/tls.h"
#include "testpool.h"

#define START_ATTEMPTS 5

static size_t n_members;
static pid_t member_pid[ETCDTEST_MAX_MEMBERS];
static char member_url[ETCDTEST_MAX_MEMBERS][64];
static char member_log[ETCDTEST_MAX_MEMBERS][600];
static char member_dir[ETCDTEST_MAX_MEMBERS][600];
static char all_urls[ETCDTEST_MAX_MEMBERS * 65 + 1];
/* TLS mode (etcdtest_start_tls()): the files, and the probe's client TLS; NULL: plain. */
static const struct etcdtest_tls *tls_files;
static struct http_tls *probe_tls;

const char *
etcdtest_require(void)
{
    static const char *const paths[] = {"/usr/bin/etcd", "/usr/local/bin/etcd"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    }
    printf("SKIP: etcd is not installed (apt-get install etcd-server etcd-client, or "
           "scripts/deps.sh)\n");
    exit(77);
}

const char *
etcdtest_url(void)
{
    return all_urls;
}

const char *
etcdtest_member_url(size_t i)
{
    assert_true(i < n_members);
    return member_url[i];
}

pid_t
etcdtest_member_pid(size_t i)
{
    assert_true(i < n_members);
    return member_pid[i];
}

int
etcdtest_member_of(const char *url)
{
    for (size_t i = 0; url != NULL && i < n_members; i++)
        if (strcmp(member_url[i], url) == 0)
            return (int)i;
    return -1;
}

int
etcdtest_free_port(void)
{
    int port = 0;
    (void)close(pool_bind_loopback(&port));
    return port;
}

/* GET /health of member `i` over TLS: its status, and its JSON in *ret. */
static int
health_tls(size_t i, json_t **ret)
{
    struct http_creds creds = {.token = NULL, .tls = probe_tls};
    struct http_answer a;
    if (http_fetch(member_url[i], "GET", "/health", NULL, &creds, 2.0, &a) < 0)
        return 0;
    *ret = json_loads(a.body != NULL ? a.body : "", 0, NULL);
    free(a.body);
    return a.status;
}

static bool
member_healthy(size_t i)
{
    json_t *j = NULL;
    int st = probe_tls != NULL ? health_tls(i, &j)
                               : daemon_http_token(member_url[i], "GET", "/health", NULL, NULL, &j);
    bool ok = st == 200 && j != NULL && strcmp(str(j, "health"), "true") == 0;
    json_decref(j);
    return ok;
}

/* Every member healthy (the cluster has a leader), or one has exited (the probe-then-bind
 * race). */
static bool
up_or_gone(void *arg)
{
    bool *gone = arg;
    for (size_t i = 0; i < n_members; i++) {
        int status = 0;
        if (member_pid[i] > 0 && waitpid(member_pid[i], &status, WNOHANG) == member_pid[i]) {
            member_pid[i] = 0;
            *gone = true;
            return true;
        }
    }
    for (size_t i = 0; i < n_members; i++)
        if (!member_healthy(i))
            return false;
    return true;
}

static void
remove_dir(char *dir)
{
    if (dir[0] == '\0')
        return;
    int r = file_remove_tree(dir);
    if (r < 0 && r != -ENOENT)
        printf("cannot remove %s: %s\n", dir, strerror(-r));
    dir[0] = '\0';
}

void
etcdtest_stop(void)
{
    for (size_t i = 0; i < n_members; i++) {
        if (member_pid[i] > 0) {
            (void)kill(-member_pid[i], SIGCONT); /* a stopped one takes SIGKILL anyway */
            (void)kill(-member_pid[i], SIGKILL);
            (void)kill(member_pid[i], SIGKILL);
            (void)waitpid(member_pid[i], NULL, 0);
            member_pid[i] = 0;
        }
        /* etcd preallocates two 64 MiB WAL segments per member: its data goes with it (its
         * log stays), not only with the test's directory at the end. */
        remove_dir(member_dir[i]);
    }
}

/* Start member `i` of `bin` in the cluster `cluster` (--initial-cluster) on client URL `cu`
 * and peer URL `pu`, in data directory `dir`. */
static void
member_start(const char *bin, size_t i, const char *cu, const char *pu, const char *cluster,
             const char *dir)
{
    char name[8];
    (void)snprintf(name, sizeof(name), "e%zu", i);
    (void)snprintf(member_log[i], sizeof(member_log[i]), "%s-etcd-%s.log", pool_data_dir(), name);
    (void)snprintf(member_url[i], sizeof(member_url[i]), "%s", cu);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)setpgid(0, 0);
        /* A test that fails in its setup (no teardown then) or crashes must not leave etcd
         * running: it dies with the test. */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(member_log[i], O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            (void)dup2(fd, 1);
            (void)dup2(fd, 2);
        }
        /* An election within about a second of losing etcd's leader (its default takes up
         * to two), well inside what the managers' lease tolerates (docs/running.md). */
        const char *argv[32] = {"etcd",  "--name",
                                name,    "--data-dir",
                                dir,     "--listen-client-urls",
                                cu,      "--advertise-client-urls",
                                cu,      "--listen-peer-urls",
                                pu,      "--initial-advertise-peer-urls",
                                pu,      "--initial-cluster",
                                cluster, "--heartbeat-interval",
                                "100",   "--election-timeout",
                                "500"};
        size_t n = 19;
        if (tls_files != NULL) {
            /* Clients over TLS, each with a certificate of the CA; members among themselves
             * in plain HTTP (on loopback: not what the test is about). */
            argv[n++] = "--cert-file";
            argv[n++] = tls_files->cert;
            argv[n++] = "--key-file";
            argv[n++] = tls_files->key;
            argv[n++] = "--trusted-ca-file";
            argv[n++] = tls_files->ca;
            argv[n++] = "--client-cert-auth";
        }
        argv[n] = NULL;
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    member_pid[i] = pid;
}

/* Start the members on fresh ports and data directories (attempt `attempt`): true when all
 * are healthy, false when one exited at start (then all are stopped). */
static bool
try_start(const char *bin, int attempt)
{
    char cu[ETCDTEST_MAX_MEMBERS][64];
    char pu[ETCDTEST_MAX_MEMBERS][64];
    char cluster[ETCDTEST_MAX_MEMBERS * 80] = "";
    all_urls[0] = '\0';
    for (size_t i = 0; i < n_members; i++) {
        (void)snprintf(cu[i], sizeof(cu[i]), "%s://127.0.0.1:%d",
                       tls_files != NULL ? "https" : "http", etcdtest_free_port());
        (void)snprintf(pu[i], sizeof(pu[i]), "http://127.0.0.1:%d", etcdtest_free_port());
        size_t len = strlen(cluster);
        (void)snprintf(cluster + len, sizeof(cluster) - len, "%se%zu=%s", i > 0 ? "," : "", i,
                       pu[i]);
        len = strlen(all_urls);
        (void)snprintf(all_urls + len, sizeof(all_urls) - len, "%s%s", i > 0 ? "," : "", cu[i]);
    }
    for (size_t i = 0; i < n_members; i++) {
        (void)snprintf(member_dir[i], sizeof(member_dir[i]), "%s-etcd%d-%zu", pool_data_dir(),
                       attempt, i);
        member_start(bin, i, cu[i], pu[i], cluster, member_dir[i]);
    }
    bool gone = false;
    if (!wait_until(up_or_gone, &gone, 30.0)) {
        printf("etcd did not become healthy; its logs are %s and the like\n", member_log[0]);
        fail();
    }
    if (gone)
        etcdtest_stop();
    return !gone;
}

void
etcdtest_start(const char *bin, size_t n)
{
    etcdtest_start_tls(bin, n, NULL);
}

void
etcdtest_start_tls(const char *bin, size_t n, const struct etcdtest_tls *tls)
{
    assert_true(n >= 1 && n <= ETCDTEST_MAX_MEMBERS);
    tls_files = tls;
    http_tls_free(probe_tls);
    probe_tls = NULL;
    if (tls != NULL) {
        char err[600];
        if (http_tls_client_new(tls->ca, tls->client_cert, tls->client_key, &probe_tls, err,
                                sizeof(err)) < 0)
            fail_msg("etcd TLS files: %s", err);
    }
    n_members = n;
    for (int attempt = 0; attempt < START_ATTEMPTS; attempt++)
        if (try_start(bin, attempt))
            return;
    printf("an etcd member exited at start %d times; the last logs are %s and the like\n",
           START_ATTEMPTS, member_log[0]);
    fail();
}

struct daemon *
etcdtest_manager_with(const char *id, const char *const *extra)
{
    char data[700];
    (void)snprintf(data, sizeof(data), "%s-%s", pool_data_dir(), id);
    const char *argv[32] = {"manager", "--listen", "127.0.0.1:0",  "--data",  data, "--interval",
                            "0.2",     "--etcd",   etcdtest_url(), "--ha-id", id};
    size_t n = 11;
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++) {
        assert_true(n + 1 < sizeof(argv) / sizeof(argv[0]));
        argv[n++] = extra[i];
    }
    argv[n] = NULL;
    return pool_start(id, argv);
}

struct daemon *
etcdtest_manager(const char *id)
{
    return etcdtest_manager_with(id, NULL);
}

struct daemon *
etcdtest_agent(const char *name, const char *m1, const char *m2, const char *bandwidth,
               const char *vm, const char *vm2)
{
    char data[700];
    (void)snprintf(data, sizeof(data), "%s-%s", pool_data_dir(), name);
    const char *extra[12];
    size_t n = 0;
    extra[n++] = "--data";
    extra[n++] = data;
    extra[n++] = "--vm";
    extra[n++] = vm;
    if (vm2 != NULL) {
        extra[n++] = "--vm";
        extra[n++] = vm2;
    }
    if (m2 != NULL) {
        extra[n++] = "--manager";
        extra[n++] = m2;
    }
    if (bandwidth != NULL) {
        extra[n++] = "--bandwidth";
        extra[n++] = bandwidth;
    }
    extra[n] = NULL;
    return pool_start_agent(name, m1, extra);
}

bool
etcdtest_role_is(void *arg)
{
    const struct cond *c = arg;
    json_t *h = get(c->url, "/v1/health");
    bool ok = h != NULL && strcmp(str(h, "role"), c->a) == 0;
    json_decref(h);
    return ok;
}

int
etcdtest_teardown(void **state)
{
    (void)pool_teardown(state);
    etcdtest_stop();
    http_tls_free(probe_tls);
    probe_tls = NULL;
    tls_files = NULL;
    return 0;
}

void
etcdtest_put(const char *key, const char *value)
{
    assert_null(tls_files); /* plain etcd only */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            (void)dup2(null, 1);
        execlp("etcdctl", "etcdctl", "--endpoints", all_urls, "put", "--", key, value,
               (char *)NULL);
        _exit(127);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("etcdctl put %s failed (status %d)", key, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

bool
etcdtest_journal_flushed(void *arg)
{
    return health_int(arg, "journal_pending") == 0;
}

void
etcdtest_three_agents(const struct daemon *m1, const struct daemon *m2, const char *bandwidth,
                      const char *a_spec, const char *urls[3])
{
    urls[0] = etcdtest_agent("h1", m1->url, m2->url, bandwidth, a_spec, "b:cpu=25")->url;
    urls[1] = etcdtest_agent("h2", m1->url, m2->url, bandwidth, "d:cpu=5", NULL)->url;
    urls[2] = etcdtest_agent("h3", m1->url, m2->url, bandwidth, "c:cpu=5", NULL)->url;
    struct cond up1 = {m1->url, NULL, NULL, 3};
    struct cond up2 = {m2->url, NULL, NULL, 3};
    assert_true(wait_until(hosts_up, &up1, UP_S));
    assert_true(wait_until(hosts_up, &up2, UP_S));
}

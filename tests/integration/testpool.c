/* The daemons of one integration test and the helpers the daemon tests share (testpool.h). */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/http.h"
#include "net/http_client.h"
#include "testpool.h"

static struct daemon pool[POOL_MAX_DAEMONS];
static size_t n_pool;
static bool test_passed;
static char prefix[32];
static char data_dir[512];

int
pool_setup(void **state)
{
    static int seq;
    (void)state;
    /* The test talks to its daemons through http_fetch(), as the command line does, and like
     * it (cli/main.c) must not die of a peer that closes early: a TLS server refusing the
     * client's certificate closes the connection while the client is still writing. */
    (void)signal(SIGPIPE, SIG_IGN);
    n_pool = 0;
    test_passed = false;
    (void)snprintf(prefix, sizeof(prefix), "t%d", ++seq);
    (void)snprintf(data_dir, sizeof(data_dir), "%s/%s-data", daemon_tmpdir(), prefix);
    return 0;
}

/* A test that did not reach its end: show every log of it, kill what still runs. */
int
pool_teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < n_pool; i++) {
        if (!test_passed)
            daemon_dump_log(&pool[i]);
        daemon_kill(&pool[i]);
    }
    n_pool = 0;
    return 0;
}

const char *
pool_prefix(void)
{
    return prefix;
}

const char *
pool_data_dir(void)
{
    return data_dir;
}

struct daemon *
pool_start(const char *name, const char *const *argv)
{
    assert_true(n_pool < POOL_MAX_DAEMONS);
    struct daemon *d = &pool[n_pool];
    char tag[96];
    (void)snprintf(tag, sizeof(tag), "%s-%s", prefix, name);
    int r = daemon_start(d, tag, argv, START_S);
    n_pool++; /* even when it failed: the teardown shows its log */
    assert_int_equal(r, 0);
    return d;
}

struct daemon *
pool_spawn(const char *name, const char *prog, const char *const *argv)
{
    assert_true(n_pool < POOL_MAX_DAEMONS);
    struct daemon *d = &pool[n_pool];
    char tag[96];
    (void)snprintf(tag, sizeof(tag), "%s-%s", prefix, name);
    int r = daemon_spawn(d, tag, prog, argv, "listening on", START_S);
    n_pool++; /* even when it failed: the teardown shows its log */
    assert_int_equal(r, 0);
    return d;
}

struct daemon *
pool_start_manager(const char *name, const char *listen, const char *const *extra)
{
    const char *argv[96] = {"manager", "--listen", listen, "--data", data_dir, "--interval", "0.2"};
    size_t n = 7;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 95; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return pool_start(name, argv);
}

struct daemon *
pool_start_agent(const char *name, const char *manager_url, const char *const *extra)
{
    const char *argv[96] = {"agent",     "--name",    name,         "--listen", "127.0.0.1:0",
                            "--manager", manager_url, "--interval", "0.2"};
    size_t n = 9;
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 95; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    return pool_start(name, argv);
}

void
pool_stop_clean(struct daemon *d)
{
    if (d->pid <= 0)
        return;
    int st = daemon_stop(d, 10.0);
    if (st != 0) {
        printf("%s did not stop cleanly on SIGTERM (status %d)\n", d->log_path, st);
        daemon_dump_log(d);
    }
    assert_int_equal(st, 0);
}

void
pool_finish(void)
{
    for (size_t i = n_pool; i > 0; i--)
        pool_stop_clean(&pool[i - 1]);
    test_passed = true;
}

json_t *
get(const char *url, const char *path)
{
    json_t *j = NULL;
    if (daemon_http(url, "GET", path, NULL, &j) != 200) {
        json_decref(j);
        return NULL;
    }
    return j;
}

long long
health_int(const char *url, const char *key)
{
    json_t *j = get(url, "/v1/health");
    json_t *v = json_object_get(j, key);
    long long r = json_is_integer(v) ? (long long)json_integer_value(v) : -1;
    json_decref(j);
    return r;
}

const char *
str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

void
load(const char *agent_url, const char *vm, const char *kind_pct)
{
    const char *argv[] = {"load", "--agent", agent_url, vm, kind_pct, NULL};
    assert_int_equal(run_cli(argv, NULL), 0);
}

json_t *
cli_list_at(const char *flag, const char *url, const char *what)
{
    const char *argv[] = {flag, url, what, "--json", NULL};
    char *out = NULL;
    int st = run_cli(argv, &out);
    if (st != 0)
        printf("vmloc %s %s %s --json exited %d\n", flag, url, what, st);
    assert_int_equal(st, 0);
    json_t *j = json_loads(out != NULL ? out : "", 0, NULL);
    if (!json_is_array(j))
        printf("not a JSON array: %s\n", out != NULL ? out : "(nothing)");
    free(out);
    assert_true(json_is_array(j));
    return j;
}

/* ---- conditions to wait for (testpool.h) ---- */

/* The manager knows exactly `n` hosts and every one is "up". */
bool
hosts_up(void *arg)
{
    struct cond *c = arg;
    json_t *arr = get(c->url, "/v1/hosts");
    bool ok = json_is_array(arr) && (long long)json_array_size(arr) == c->n;
    size_t i;
    json_t *h;
    json_array_foreach(arr, i, h)
    {
        if (strcmp(str(h, "state"), "up") != 0)
            ok = false;
    }
    json_decref(arr);
    return ok;
}

/* Host `a` is in state `b` on the manager. */
bool
host_state_is(void *arg)
{
    struct cond *c = arg;
    json_t *arr = get(c->url, "/v1/hosts");
    bool ok = false;
    size_t i;
    json_t *h;
    json_array_foreach(arr, i, h)
    {
        if (strcmp(str(h, "name"), c->a) == 0)
            ok = strcmp(str(h, "state"), c->b) == 0;
    }
    json_decref(arr);
    return ok;
}

/* The manager has a migration of VM `a` in state `b`. */
bool
migration_is(void *arg)
{
    struct cond *c = arg;
    json_t *arr = get(c->url, "/v1/migrations");
    bool ok = false;
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        if (strcmp(str(m, "vm"), c->a) == 0 && strcmp(str(m, "state"), c->b) == 0)
            ok = true;
    }
    json_decref(arr);
    return ok;
}

/* The manager's collection rounds reached `n`. */
bool
rounds_reach(void *arg)
{
    struct cond *c = arg;
    return health_int(c->url, "rounds") >= c->n;
}

/* The manager knows exactly `n` hosts, in any state. */
bool
hosts_known(void *arg)
{
    struct cond *c = arg;
    json_t *arr = get(c->url, "/v1/hosts");
    bool ok = json_is_array(arr) && (long long)json_array_size(arr) == c->n;
    json_decref(arr);
    return ok;
}

bool
migration_of(void *arg)
{
    const struct cond *c = arg;
    json_t *arr = get(c->url, "/v1/migrations");
    bool ok = false;
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        ok |= strcmp(str(m, "vm"), c->a) == 0;
    }
    json_decref(arr);
    return ok;
}

const char *
pool_write_policy(const char *text)
{
    static char path[600];
    (void)snprintf(path, sizeof(path), "%s/%s-policy.ini", daemon_tmpdir(), prefix);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    return path;
}

json_t *
named(json_t *arr, const char *name)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        if (strcmp(str(o, "name"), name) == 0)
            return o;
    }
    return NULL;
}

bool
log_has(void *arg)
{
    struct log_cond *c = arg;
    FILE *f = fopen(c->d->log_path, "r");
    if (f == NULL)
        return false;
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, c->text) != NULL;
    (void)fclose(f);
    return found;
}

long long
sample_seq(const char *agent_url, double *ret_time)
{
    json_t *s = get(agent_url, "/v1/sample");
    long long seq = -1;
    double t = 0;
    if (s != NULL) {
        seq = json_integer_value(json_object_get(s, "seq"));
        t = json_real_value(json_object_get(s, "time"));
    }
    if (ret_time != NULL)
        *ret_time = t;
    json_decref(s);
    return seq;
}

void
pool_peers_init(struct peers *p, size_t n)
{
    memset(p, 0, sizeof(*p));
    assert_true(n <= MAX_PEERS);
    p->n = n;
    (void)snprintf(p->file, sizeof(p->file), "%s/%s-peers", daemon_tmpdir(), pool_prefix());
    for (size_t i = 0; i < n; i++) {
        (void)snprintf(p->name[i], sizeof(p->name[i]), "p%zu", i + 1);
        (void)snprintf(p->listen[i], sizeof(p->listen[i]), "127.0.0.1:0");
        (void)snprintf(p->data[i], sizeof(p->data[i]), "%s/%s-%s", daemon_tmpdir(), pool_prefix(),
                       p->name[i]);
    }
}

/* The peers file: every peer that has listened, replaced at once (rename) so that no agent
 * reads half of it. */
static void
write_peers_file(const struct peers *p)
{
    char tmp[700];
    (void)snprintf(tmp, sizeof(tmp), "%s.new", p->file);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    (void)fprintf(f, "# the peers of test %s\n", pool_prefix());
    for (size_t i = 0; i < p->n; i++) {
        if (p->url[i][0] != '\0')
            (void)fprintf(f, "%s\n", p->url[i]);
    }
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, p->file), 0);
}

struct peers_known {
    const struct peers *p;
    long long n;
};

/* Every running peer lists `n` peers. */
static bool
peers_listed(void *arg)
{
    const struct peers_known *k = arg;
    for (size_t i = 0; i < k->p->n; i++) {
        if (k->p->d[i] != NULL && k->p->d[i]->pid > 0 && health_int(k->p->url[i], "peers") != k->n)
            return false;
    }
    return true;
}

void
pool_peer_start(struct peers *p, size_t i, const char *const *extra)
{
    const char *argv[64] = {"agent",    "--name",       p->name[i], "--mode",   "peer",
                            "--listen", p->listen[i],   "--data",   p->data[i], "--interval",
                            "0.2",      "--peers-file", p->file};
    size_t n = 13;
    for (size_t k = 0; extra != NULL && extra[k] != NULL && n < 63; k++)
        argv[n++] = extra[k];
    argv[n] = NULL;
    p->d[i] = pool_start(p->name[i], argv);
    /* Its port, from its listening line: kept for a restart on the same address. */
    (void)snprintf(p->url[i], sizeof(p->url[i]), "%s", p->d[i]->url);
    const char *port = strrchr(p->url[i], ':');
    assert_non_null(port);
    (void)snprintf(p->listen[i], sizeof(p->listen[i]), "127.0.0.1%s", port);
    write_peers_file(p);
    long long started = 0;
    for (size_t k = 0; k < p->n; k++)
        started += p->url[k][0] != '\0';
    struct peers_known known = {p, started - 1};
    assert_true(wait_until(peers_listed, &known, UP_S));
}

char *
metrics_text(const char *url)
{
    struct http_answer ans;
    struct http_creds creds = {test_token(), NULL};
    assert_int_equal(http_fetch(url, "GET", "/metrics", NULL, &creds, 5.0, &ans), 0);
    assert_int_equal(ans.status, 200);
    assert_non_null(ans.body);
    return ans.body;
}

double
metrics_value(const char *url, const char *name)
{
    char *text = metrics_text(url);
    char key[160];
    (void)snprintf(key, sizeof(key), "\n%s ", name);
    const char *p = strstr(text, key);
    double v = p != NULL ? strtod(p + strlen(key), NULL) : -1;
    free(text);
    return v;
}

int
pool_vm_where(const char *const *urls, size_t n, const char *vm)
{
    int at = -1;
    for (size_t i = 0; i < n; i++) {
        json_t *arr = get(urls[i], "/v1/vms");
        size_t k;
        json_t *v;
        json_array_foreach(arr, k, v)
        {
            if (strcmp(str(v, "name"), vm) == 0 && strcmp(str(v, "state"), "running") == 0)
                at = at == -1 ? (int)i : -2;
        }
        json_decref(arr);
    }
    return at;
}

bool
pool_exited(void *arg)
{
    struct daemon *d = arg;
    int st = 0;
    if (d->pid <= 0)
        return true;
    if (waitpid(d->pid, &st, WNOHANG) != d->pid)
        return false;
    printf("%s stopped with status %d\n", d->log_path, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    d->pid = 0;
    return true;
}

int
pool_bind_loopback(int *ret_port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t sl = sizeof(sa);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *ret_port = ntohs(sa.sin_port);
    return fd;
}

int
pool_listen_loopback(char *url, size_t len)
{
    int port = 0;
    int lfd = pool_bind_loopback(&port);
    assert_int_equal(listen(lfd, 16), 0);
    (void)snprintf(url, len, "http://127.0.0.1:%d", port);
    return lfd;
}

int
pool_register(const char *manager_url, const char *name, const char *agent_url)
{
    char body[256];
    (void)snprintf(body, sizeof(body), "{\"name\":\"%s\",\"url\":\"%s\"}", name, agent_url);
    json_t *j = NULL;
    int st = daemon_http(manager_url, "POST", "/v1/agents", body, &j);
    json_decref(j);
    return st;
}

static void *
fake_thread(void *arg)
{
    struct pool_fake *f = arg;
    while (!atomic_load(&f->stop)) {
        struct pollfd p = {.fd = f->fd, .events = POLLIN};
        if (poll(&p, 1, 100) != 1)
            continue;
        int fd = accept(f->fd, NULL, NULL);
        if (fd < 0)
            continue;
        f->serve(fd, f->arg);
        (void)close(fd);
    }
    return NULL;
}

void
pool_fake_start(struct pool_fake *f, void (*serve)(int fd, void *arg), void *arg)
{
    f->serve = serve;
    f->arg = arg;
    f->fd = pool_listen_loopback(f->url, sizeof(f->url));
    atomic_store(&f->stop, false);
    assert_int_equal(pthread_create(&f->th, NULL, fake_thread, f), 0);
    f->started = true;
}

void
pool_fake_stop(struct pool_fake *f)
{
    if (!f->started)
        return;
    atomic_store(&f->stop, true);
    (void)pthread_join(f->th, NULL);
    (void)close(f->fd);
    f->started = false;
}

bool
pool_fake_stopping(struct pool_fake *f)
{
    return atomic_load(&f->stop);
}

bool
pool_read_request(int fd, char *req, size_t cap, int timeout_ms)
{
    size_t got = 0;
    const char *end = NULL;
    long body_len = 0;
    req[0] = '\0';
    while (end == NULL || (long)(got - (size_t)(end + 4 - req)) < body_len) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (got + 1 >= cap || poll(&p, 1, timeout_ms) != 1)
            return false;
        ssize_t n = read(fd, req + got, cap - 1 - got);
        if (n <= 0)
            return false;
        got += (size_t)n;
        req[got] = '\0';
        end = strstr(req, "\r\n\r\n");
        const char *cl = strstr(req, "Content-Length: ");
        if (end != NULL && cl != NULL && cl < end)
            body_len = strtol(cl + 16, NULL, 10);
    }
    return true;
}

int
pool_accept_request(int lfd, char *req, size_t cap)
{
    assert_true(cap > 1);
    struct pollfd p = {.fd = lfd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, (int)(UP_S * 1000)), 1);
    int fd = accept(lfd, NULL, NULL);
    assert_true(fd >= 0);
    assert_true(pool_read_request(fd, req, cap, (int)(UP_S * 1000)));
    return fd;
}

void
pool_answer_close(int fd, const char *body)
{
    char head[160];
    int hn = snprintf(head, sizeof(head),
                      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                      "%zu\r\nConnection: close\r\n\r\n",
                      strlen(body));
    /* MSG_NOSIGNAL: a daemon that gave up on the answer must not kill the test. */
    assert_int_equal(send(fd, head, (size_t)hn, MSG_NOSIGNAL), hn);
    assert_int_equal(send(fd, body, strlen(body), MSG_NOSIGNAL), (ssize_t)strlen(body));
    (void)close(fd);
}

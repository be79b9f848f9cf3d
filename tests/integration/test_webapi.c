/* What the web page reads, with real processes: the page and its files, each host's usage
 * history with its thresholds, the per-host thresholds in GET /v1/hosts, and in peer mode the
 * hosts of every peer as one agent sees them (GET /v1/hosts on an agent). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/http.h"
#include "net/http_client.h"
#include "testpool.h"

/* GET `path` as text: the status, and the body in *ret (caller frees). */
static int
get_text(const char *url, const char *path, char **ret)
{
    struct http_answer ans;
    *ret = NULL;
    struct http_creds creds = {test_token(), NULL};
    if (http_fetch(url, "GET", path, NULL, &creds, 5.0, &ans) < 0)
        return 0;
    *ret = ans.body;
    return ans.status;
}

struct hist_cond {
    const char *url;
    const char *host;
    size_t points;
};

static bool
history_has(void *arg)
{
    const struct hist_cond *c = arg;
    char path[200];
    (void)snprintf(path, sizeof(path), "/v1/hosts/%s/history", c->host);
    json_t *j = get(c->url, path);
    bool ok = json_array_size(json_object_get(j, "time")) >= c->points;
    json_decref(j);
    return ok;
}

struct up_cond {
    const char *url;
    const char *const *names;
    size_t n;
    const char *state;
};

/* Every named host is listed in `state`, and the list has exactly n hosts. */
static bool
hosts_in_state(void *arg)
{
    const struct up_cond *c = arg;
    json_t *hosts = get(c->url, "/v1/hosts");
    bool ok = json_array_size(hosts) == c->n;
    for (size_t i = 0; ok && i < c->n; i++) {
        json_t *h = named(hosts, c->names[i]);
        ok = h != NULL && strcmp(str(h, "state"), c->state) == 0;
    }
    json_decref(hosts);
    return ok;
}

struct last_cond {
    const char *url;
    const char *host;
    double cpu;
};

/* The newest point of the host's history has this cpu usage. */
static bool
history_ends_at(void *arg)
{
    const struct last_cond *c = arg;
    char path[200];
    (void)snprintf(path, sizeof(path), "/v1/hosts/%s/history", c->host);
    json_t *j = get(c->url, path);
    json_t *cpu = json_object_get(json_object_get(j, "usage"), "cpu");
    size_t n = json_array_size(cpu);
    bool ok = n > 0 && json_real_value(json_array_get(cpu, n - 1)) == c->cpu;
    json_decref(j);
    return ok;
}

/* p3 is listed down by the agent at `arg`, with a reason. */
static bool
peer_down(void *arg)
{
    json_t *hosts = get(arg, "/v1/hosts");
    json_t *h = named(hosts, "p3");
    bool ok = h != NULL && strcmp(str(h, "state"), "down") == 0 && str(h, "reason")[0] != '\0';
    json_decref(hosts);
    return ok;
}

static void
test_manager_page_and_history(void **state)
{
    (void)state;
    const char *policy = pool_write_policy("[host \"h2\"]\nhost_threshold.cpu = 60\n");
    const char *mextra[] = {"--config", policy, NULL};
    struct daemon *m = pool_start_manager("m", "127.0.0.1:0", mextra);
    const char *e1[] = {"--vm", "a:cpu=30", NULL};
    const char *e2[] = {"--vm", "b:cpu=10", NULL};
    struct daemon *a1 = pool_start_agent("h1", m->url, e1);
    (void)pool_start_agent("h2", m->url, e2);
    static const char *const names[] = {"h1", "h2"};
    struct up_cond uc = {m->url, names, 2, "up"};
    assert_true(wait_until(hosts_in_state, &uc, UP_S));

    /* The page and its files, built into the binary. */
    char *body = NULL;
    assert_int_equal(get_text(m->url, "/", &body), 200);
    assert_non_null(strstr(body, "<title>vmloc</title>"));
    assert_non_null(strstr(body, "/ui/app.js"));
    free(body);
    assert_int_equal(get_text(m->url, "/ui/app.js", &body), 200);
    assert_non_null(strstr(body, "/v1/hosts"));
    free(body);
    assert_int_equal(get_text(m->url, "/ui/app.css", &body), 200);
    free(body);

    /* Thresholds per host, from the policy in force. */
    json_t *hosts = get(m->url, "/v1/hosts");
    json_t *t1 = json_object_get(named(hosts, "h1"), "threshold");
    json_t *t2 = json_object_get(named(hosts, "h2"), "threshold");
    assert_true(json_real_value(json_object_get(t1, "cpu")) == 80.0);
    assert_true(json_real_value(json_object_get(t2, "cpu")) == 60.0);
    assert_true(json_real_value(json_object_get(t2, "disk")) == 80.0);
    json_decref(hosts);

    /* History: points at least a second apart, in order, with the host's usage. */
    struct hist_cond hc = {m->url, "h1", 3};
    assert_true(wait_until(history_has, &hc, ACT_S));
    json_t *h = get(m->url, "/v1/hosts/h1/history");
    assert_string_equal(str(h, "host"), "h1");
    json_t *times = json_object_get(h, "time");
    json_t *cpu = json_object_get(json_object_get(h, "usage"), "cpu");
    assert_int_equal(json_array_size(times), json_array_size(cpu));
    for (size_t i = 1; i < json_array_size(times); i++) {
        double gap = json_real_value(json_array_get(times, i)) -
                     json_real_value(json_array_get(times, i - 1));
        assert_true(gap >= 0.999);
    }
    /* The load is steady: every point is the host's usage now (its VM and the host's own). */
    json_t *now = get(m->url, "/v1/hosts");
    double h1_cpu =
        json_real_value(json_object_get(json_object_get(named(now, "h1"), "usage"), "cpu"));
    json_decref(now);
    assert_true(h1_cpu >= 30.0 && h1_cpu < 40.0);
    for (size_t i = 0; i < json_array_size(cpu); i++)
        assert_true(json_real_value(json_array_get(cpu, i)) == h1_cpu);
    assert_true(json_real_value(json_object_get(json_object_get(h, "threshold"), "cpu")) == 80.0);

    /* since= keeps the newer points only. */
    double last = json_real_value(json_array_get(times, json_array_size(times) - 1));
    char path[128];
    (void)snprintf(path, sizeof(path), "/v1/hosts/h1/history?since=%.3f", last);
    json_t *tail = get(m->url, path);
    assert_true(json_array_size(json_object_get(tail, "time")) >= 1);
    assert_true(json_array_size(json_object_get(tail, "time")) < json_array_size(times) + 2);
    assert_true(json_real_value(json_array_get(json_object_get(tail, "time"), 0)) >= last);
    json_decref(tail);
    json_decref(h);

    /* A load change shows in the history. */
    load(a1->url, "a", "cpu=50");
    struct last_cond lc = {m->url, "h1", h1_cpu + 20.0};
    assert_true(wait_until(history_ends_at, &lc, ACT_S));
    pool_finish();
}

/* Peer mode: an agent lists every peer's host, keeps their history as it sees them, serves
 * the page and its policy; a peer that stops is shown down. */
static void
test_peer_view(void **state)
{
    (void)state;
    enum { N = 3 };
    static const char *const names[N] = {"p1", "p2", "p3"};
    static const char *const vms[N] = {"a:cpu=30", "b:cpu=20", "c:cpu=10"};
    struct peers p;
    pool_peers_init(&p, N);
    struct daemon *d[N];
    char *url[N];
    for (size_t i = 0; i < N; i++) {
        const char *extra[] = {"--vm", vms[i], NULL};
        pool_peer_start(&p, i, extra);
        d[i] = p.d[i];
        url[i] = p.url[i];
    }
    struct up_cond uc = {url[0], names, N, "up"};
    assert_true(wait_until(hosts_in_state, &uc, UP_S));
    json_t *hosts = get(url[0], "/v1/hosts");
    assert_string_equal(str(json_array_get(hosts, 0), "name"), "p1"); /* itself first */
    json_t *p2 = named(hosts, "p2");
    assert_string_equal(str(p2, "url"), url[1]);
    assert_string_equal(json_string_value(json_array_get(json_object_get(p2, "vms"), 0)), "b");
    json_t *own = get(url[1], "/v1/sample");
    assert_true(json_real_value(json_object_get(json_object_get(p2, "usage"), "cpu")) ==
                json_real_value(json_object_get(
                    json_object_get(json_object_get(own, "host"), "usage"), "cpu")));
    json_decref(own);
    assert_true(json_real_value(json_object_get(json_object_get(p2, "threshold"), "cpu")) == 80.0);
    json_decref(hosts);
    /* The CLI reads the same list. */
    json_t *cl = cli_list_at("--agent", url[0], "hosts");
    assert_int_equal(json_array_size(cl), N);
    json_decref(cl);

    /* Its own history, and a peer's as seen from here. */
    struct hist_cond mine = {url[0], "p1", 2};
    assert_true(wait_until(history_has, &mine, ACT_S));
    struct hist_cond peer = {url[0], "p2", 1};
    assert_true(wait_until(history_has, &peer, ACT_S));
    json_t *j = NULL;
    assert_int_equal(daemon_http(url[0], "GET", "/v1/hosts/nobody/history", NULL, &j), 404);
    json_decref(j);

    char *body = NULL;
    assert_int_equal(get_text(url[0], "/", &body), 200);
    assert_non_null(strstr(body, "<title>vmloc</title>"));
    free(body);
    assert_int_equal(get_text(url[0], "/v1/policy", &body), 200);
    assert_non_null(strstr(body, "[detect]"));
    free(body);

    /* p3 stops: p1 lists it down, with why. */
    pool_stop_clean(d[2]);
    assert_true(wait_until(peer_down, url[0], ACT_S));
    pool_finish();
}

/* Send `method path` to `url` by hand, with a Host header `host` (NULL: the URL's), an
 * Origin header when `origin` is not NULL and the token when `token` (the client library
 * sets neither header as it likes); the answer's status, 0 when none. */
static int
raw_request(const char *url, const char *method, const char *path, const char *host,
            const char *origin, bool token)
{
    const char *hp = url + strlen("http://");
    const char *colon = strrchr(hp, ':');
    assert_non_null(colon);
    int port = (int)strtol(colon + 1, NULL, 10);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    char headers[600] = "";
    if (origin != NULL)
        (void)snprintf(headers, sizeof(headers), "Origin: %s\r\n", origin);
    if (token)
        (void)snprintf(headers + strlen(headers), sizeof(headers) - strlen(headers),
                       "Authorization: Bearer %s\r\n", test_token());
    bool post = strcmp(method, "POST") == 0;
    char req[1024];
    int n = snprintf(
        req, sizeof(req), "%s %s HTTP/1.1\r\nHost: %s\r\n%s%sConnection: close\r\n\r\n%s", method,
        path, host != NULL ? host : hp, headers,
        post ? "Content-Type: application/json\r\nContent-Length: 2\r\n" : "", post ? "{}" : "");
    assert_int_equal(write(fd, req, (size_t)n), n);
    char ans[64] = "";
    ssize_t got = read(fd, ans, sizeof(ans) - 1);
    (void)close(fd);
    if (got <= 0)
        return 0;
    ans[got] = '\0';
    return strncmp(ans, "HTTP/1.1 ", 9) == 0 ? (int)strtol(ans + 9, NULL, 10) : 0;
}

static int
post_with_origin(const char *url, const char *path, const char *origin)
{
    return raw_request(url, "POST", path, NULL, origin, true);
}

/* A page of another site cannot drain a host through the operator's browser: a POST with a
 * foreign Origin is refused and changes nothing; the manager's own page (same origin) may. */
static void
test_cross_site_refused(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("m", "127.0.0.1:0", NULL);
    (void)pool_start_agent("h1", m->url, NULL);
    static const char *const names[] = {"h1"};
    struct up_cond uc = {m->url, names, 1, "up"};
    assert_true(wait_until(hosts_in_state, &uc, UP_S));
    assert_int_equal(post_with_origin(m->url, "/v1/hosts/h1/drain", "http://evil.example"), 403);
    json_t *hosts = get(m->url, "/v1/hosts");
    assert_string_equal(str(named(hosts, "h1"), "state"), "up");
    json_decref(hosts);
    assert_int_equal(post_with_origin(m->url, "/v1/hosts/h1/drain", m->url), 202);
    assert_int_equal(post_with_origin(m->url, "/v1/hosts/h1/undrain", m->url), 200);
    pool_finish();
}

/* DNS rebinding: with open_reads, a page of another site whose name was rebound to the
 * manager's address sends that name as Host; its reads without the token are refused. The
 * daemon's addresses, its host name, localhost and allowed_hosts are served; with the token
 * any Host is; the page's own files are served whatever the Host. */
static void
test_rebound_host_refused(void **state)
{
    (void)state;
    const char *const extra[] = {"--open-reads", "--allowed-hosts", "vmloc.example, mgr.test.",
                                 NULL};
    struct daemon *m = pool_start_manager("m", "127.0.0.1:0", extra);
    const char *port = strrchr(m->url, ':');
    char evil[64], v4[64], v6[64], named[64], alias[64], local[64], self[300];
    (void)snprintf(evil, sizeof(evil), "rebind.evil.example%s", port);
    (void)snprintf(v4, sizeof(v4), "127.0.0.1%s", port);
    (void)snprintf(v6, sizeof(v6), "[::1]%s", port);
    (void)snprintf(named, sizeof(named), "VMLOC.example%s", port);
    (void)snprintf(alias, sizeof(alias), "mgr.test%s", port);
    (void)snprintf(local, sizeof(local), "localhost%s", port);
    char hn[256] = "";
    assert_int_equal(gethostname(hn, sizeof(hn) - 1), 0);
    (void)snprintf(self, sizeof(self), "%s%s", hn, port);
    assert_int_equal(raw_request(m->url, "GET", "/v1/hosts", evil, NULL, false), 403);
    assert_int_equal(raw_request(m->url, "GET", "/v1/health", "evil.example", NULL, false), 403);
    assert_int_equal(raw_request(m->url, "GET", "/v1/hosts", evil, NULL, true), 200);
    assert_int_equal(raw_request(m->url, "GET", "/", evil, NULL, false), 200);
    const char *ok[] = {v4, v6, named, alias, local, self};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        int st = raw_request(m->url, "GET", "/v1/hosts", ok[i], NULL, false);
        if (st != 200)
            printf("Host %s: %d\n", ok[i], st);
        assert_int_equal(st, 200);
    }
    pool_finish();
}

/* An agent in central mode has no host list and no page: it says to ask the manager. */
static void
test_central_agent_has_no_page(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("m", "127.0.0.1:0", NULL);
    struct daemon *a = pool_start_agent("h1", m->url, NULL);
    json_t *j = NULL;
    assert_int_equal(daemon_http(a->url, "GET", "/v1/hosts", NULL, &j), 404);
    assert_non_null(strstr(str(j, "error"), "manager"));
    json_decref(j);
    assert_int_equal(daemon_http(a->url, "GET", "/", NULL, &j), 404);
    assert_non_null(strstr(str(j, "error"), "manager"));
    json_decref(j);
    /* Its own history is there all the same. */
    struct hist_cond own = {a->url, "h1", 1};
    assert_true(wait_until(history_has, &own, ACT_S));
    assert_int_equal(daemon_http(a->url, "GET", "/v1/migrations?limit=0", NULL, &j), 400);
    json_decref(j);
    pool_finish();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_manager_page_and_history, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_peer_view, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_central_agent_has_no_page, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_cross_site_refused, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_rebound_host_refused, pool_setup, pool_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The HTTP client against a server that misbehaves (a stand-in for a broken or hostile
 * peer): headers longer than HTTP_MAX_HEADERS and a body longer than HTTP_MAX_ANSWER, with or
 * without a Content-Length, count as no answer, and the client stays usable; a server that
 * never answers times out at the time-out asked for. A normal answer is read whole; requests
 * carry the token, the method and the JSON body as sent; two requests in a row to one peer
 * share one connection; the callback never runs inside http_request(), and never after
 * http_client_free(); bad URLs are refused before anything is sent. The server is a forked
 * process on 127.0.0.1. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/http.h"
#include "net/http_client.h"
#include "testpool.h"

enum mode { NORMAL, LONG_HEADER, HUGE_BODY, HUGE_STREAM, SILENT, ECHO, KEEPALIVE };

/* Read one request (headers and a body of Content-Length bytes) from `fd` into `buf` (size
 * `cap`, NUL-terminated). Its length, or -1 when the peer closed first. */
static ssize_t
read_request(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    size_t want = 0; /* the whole request, once the headers are in */
    while (len + 1 < cap && (want == 0 || len < want)) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (want == 0 && end != NULL) {
            size_t body = 0;
            const char *cl = strstr(buf, "Content-Length: ");
            if (cl != NULL && cl < end)
                body = strtoul(cl + 16, NULL, 10);
            want = (size_t)(end + 4 - buf) + body;
        }
    }
    return (ssize_t)len;
}

static void
write_all(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

/* An answer of `body` with its Content-Length; the connection is kept unless `close`. */
static void
answer(int fd, const char *body, bool close_it)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n%s\r\n",
                     strlen(body), close_it ? "Connection: close\r\n" : "");
    write_all(fd, head, (size_t)n);
    write_all(fd, body, strlen(body));
}

/* More than HTTP_MAX_ANSWER of body, announced (`announce`) or not. */
static void
send_huge(int fd, bool announce)
{
    unsigned long long len = (unsigned long long)HTTP_MAX_ANSWER + (1u << 20);
    char head[256];
    int n = announce ? snprintf(head, sizeof(head),
                                "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\n\r\n", len)
                     : snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    write_all(fd, head, (size_t)n);
    char chunk[65536];
    memset(chunk, ' ', sizeof(chunk));
    for (unsigned long long sent = 0; sent < len; sent += sizeof(chunk)) {
        if (write(fd, chunk, sizeof(chunk)) < 0)
            break; /* the client gave up: what we want */
    }
}

/* Answer requests on `fd` as `mode` says until the client closes; `conn` counts connections. */
static void
serve_one(int fd, enum mode mode, int conn)
{
    char req[8192];
    for (int n_req = 1;; n_req++) {
        if (read_request(fd, req, sizeof(req)) < 0)
            return;
        if (mode == NORMAL) {
            answer(fd, "{\"ok\": true}", true);
        } else if (mode == LONG_HEADER) {
            write_all(fd, "HTTP/1.1 200 OK\r\nX-Long: ", 25);
            char chunk[1024];
            memset(chunk, 'a', sizeof(chunk));
            for (int i = 0; i < 40; i++) /* 40 KiB of one header */
                write_all(fd, chunk, sizeof(chunk));
            write_all(fd, "\r\nContent-Length: 2\r\n\r\n{}", 25);
        } else if (mode == HUGE_BODY || mode == HUGE_STREAM) {
            send_huge(fd, mode == HUGE_BODY);
        } else if (mode == SILENT) {
            (void)read(fd, req, sizeof(req)); /* until the client gives up */
        } else if (mode == ECHO) {
            answer(fd, req, true);
        } else {
            char body[64];
            (void)snprintf(body, sizeof(body), "{\"conn\": %d, \"req\": %d}", conn, n_req);
            answer(fd, body, false);
            continue;
        }
        return;
    }
}

/* Serve one connection at a time with `mode`, forever (the parent kills it). */
static void
serve(int lfd, enum mode mode)
{
    (void)signal(SIGPIPE, SIG_IGN);
    for (int conn = 1;; conn++) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        serve_one(fd, mode, conn);
        (void)close(fd);
    }
}

static pid_t
start_server(enum mode mode, char *url, size_t len)
{
    int lfd = pool_listen_loopback(url, len);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        serve(lfd, mode);
        _exit(0);
    }
    (void)close(lfd);
    return pid;
}

static void
stop_server(pid_t pid)
{
    (void)kill(pid, SIGKILL);
    (void)waitpid(pid, NULL, 0);
}

static int
fetch(const char *url, int *status, char **body)
{
    struct http_answer ans;
    int r = http_fetch(url, "GET", "/x", NULL, NULL, 20.0, &ans);
    *body = ans.body;
    *status = ans.status;
    return r;
}

static double
now_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_normal_answer(void **state)
{
    (void)state;
    char url[64];
    pid_t pid = start_server(NORMAL, url, sizeof(url));
    int status;
    char *body;
    assert_int_equal(fetch(url, &status, &body), 0);
    assert_int_equal(status, 200);
    assert_string_equal(body, "{\"ok\": true}");
    free(body);
    stop_server(pid);
}

static void
test_long_header_is_no_answer(void **state)
{
    (void)state;
    char url[64];
    pid_t pid = start_server(LONG_HEADER, url, sizeof(url));
    int status;
    char *body;
    int r = fetch(url, &status, &body);
    free(body);
    assert_true(r < 0 || status == 0);
    stop_server(pid);
}

/* A body over the limit, with a Content-Length (`mode` HUGE_BODY) or streamed until the
 * server closes (HUGE_STREAM), is no answer; the client still works afterwards. */
static void
huge_is_no_answer(enum mode mode)
{
    char url[64];
    pid_t pid = start_server(mode, url, sizeof(url));
    int status;
    char *body;
    int r = fetch(url, &status, &body);
    free(body);
    assert_true(r < 0 || status == 0);
    stop_server(pid);
    pid = start_server(NORMAL, url, sizeof(url));
    assert_int_equal(fetch(url, &status, &body), 0);
    assert_int_equal(status, 200);
    free(body);
    stop_server(pid);
}

static void
test_huge_body_is_no_answer(void **state)
{
    (void)state;
    huge_is_no_answer(HUGE_BODY);
}

static void
test_huge_stream_is_no_answer(void **state)
{
    (void)state;
    huge_is_no_answer(HUGE_STREAM);
}

/* A server that takes the request and never answers: -ETIMEDOUT at the time-out asked for. */
static void
test_silent_server_times_out(void **state)
{
    (void)state;
    char url[64];
    pid_t pid = start_server(SILENT, url, sizeof(url));
    struct http_answer ans;
    double t0 = now_s();
    assert_int_equal(http_fetch(url, "GET", "/x", NULL, NULL, 0.3, &ans), -ETIMEDOUT);
    double took = now_s() - t0;
    assert_non_null(ans.err);
    assert_string_equal(ans.err, "timed out");
    assert_null(ans.body);
    assert_true(took >= 0.25);
    assert_true(took < 5.0);
    stop_server(pid);
}

/* What the server receives: method, path, the token and the JSON body with its type. */
static void
test_request_as_sent(void **state)
{
    (void)state;
    char url[64];
    pid_t pid = start_server(ECHO, url, sizeof(url));
    struct http_creds creds = {"t0k3n", NULL};
    struct http_answer ans;
    assert_int_equal(http_fetch(url, "POST", "/v1/agents", "{\"name\": \"h1\"}", &creds, 5.0, &ans),
                     0);
    assert_int_equal(ans.status, 200);
    assert_non_null(ans.body);
    assert_int_equal(strncmp(ans.body, "POST /v1/agents HTTP/1.1\r\n", 26), 0);
    assert_non_null(strstr(ans.body, "\r\nAuthorization: Bearer t0k3n\r\n"));
    assert_non_null(strstr(ans.body, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strstr(ans.body, "\r\nContent-Length: 14\r\n"));
    assert_non_null(strstr(ans.body, "\r\n\r\n{\"name\": \"h1\"}"));
    free(ans.body);
    /* Without a token, none is sent. */
    assert_int_equal(http_fetch(url, "GET", "/v1/health", NULL, NULL, 5.0, &ans), 0);
    assert_int_equal(strncmp(ans.body, "GET /v1/health HTTP/1.1\r\n", 25), 0);
    assert_null(strstr(ans.body, "Authorization"));
    free(ans.body);
    /* A token with a control character is refused before anything is sent. */
    struct http_creds bad = {"t0k\r\nX: y", NULL};
    assert_int_equal(http_fetch(url, "GET", "/", NULL, &bad, 5.0, &ans), -EINVAL);
    /* So is a path that would end the request line (an id never checked, say). */
    assert_int_equal(http_fetch(url, "POST", "/v1/migrations/a HTTP/1.1\r\nX: y\r\n\r\nGET /", NULL,
                                NULL, 5.0, &ans),
                     -EINVAL);
    assert_int_equal(http_fetch(url, "GET", "/v1/a b", NULL, NULL, 5.0, &ans), -EINVAL);
    assert_int_equal(http_fetch(url, "GET", "/v1/health?x=1", NULL, NULL, 5.0, &ans), 0);
    free(ans.body);
    stop_server(pid);
}

static void
test_bad_urls(void **state)
{
    (void)state;
    struct http_answer ans;
    assert_int_equal(http_fetch("127.0.0.1:80", "GET", "/", NULL, NULL, 1.0, &ans), -EINVAL);
    assert_int_equal(http_fetch("http://127.0.0.1", "GET", "/", NULL, NULL, 1.0, &ans), -EINVAL);
    assert_int_equal(http_fetch("http://:80", "GET", "/", NULL, NULL, 1.0, &ans), -EINVAL);
    assert_int_equal(http_fetch("http://127.0.0.1:99999", "GET", "/", NULL, NULL, 1.0, &ans),
                     -EINVAL);
    assert_int_equal(http_fetch("ftp://127.0.0.1:21", "GET", "/", NULL, NULL, 1.0, &ans), -EINVAL);
    /* https:// needs TLS. */
    assert_int_equal(http_fetch("https://127.0.0.1:1", "GET", "/", NULL, NULL, 1.0, &ans),
                     -EPROTONOSUPPORT);
}

/* What a URL given to the daemons (--advertise, --manager, peers, an order's "to") may be:
 * a scheme, a host and a port, nothing else. */
static void
test_url_check(void **state)
{
    (void)state;
    const char *ok[] = {"http://127.0.0.1:7701", "https://kvm-07.example:7701/",
                        "http://[::1]:7700"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (http_url_check(ok[i]) != 0)
            fail_msg("%s refused", ok[i]);
    }
    const char *bad[] = {"http://x@h:1",    "http://h:1#f", "http://h:1/v1", "http://h:1?a=b",
                         "ftp://h:21",      "http://h",     "127.0.0.1:80",  "http://:80",
                         "http://u:p@h:1/", "http://h:1/#"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (http_url_check(bad[i]) != -EINVAL)
            fail_msg("%s accepted", bad[i]);
    }
}

struct result {
    struct event_base *base;
    int calls;
    int status;
    char body[128];
    char err[200];
    double at; /* when it was delivered (CLOCK_MONOTONIC) */
};

static void
done_cb(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct result *res = arg;
    res->calls++;
    res->status = status;
    (void)snprintf(res->body, sizeof(res->body), "%.*s", (int)len, body != NULL ? body : "");
    (void)snprintf(res->err, sizeof(res->err), "%s", err != NULL ? err : "");
    res->at = now_s();
    (void)event_base_loopbreak(res->base);
}

/* Run `base` until `res` has its answer (each request has its own time-out). */
static void
wait_done(struct event_base *base, struct result *res)
{
    while (res->calls == 0)
        assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
}

/* Two requests in a row to one peer: the second goes over the first one's connection. */
static void
test_connection_kept(void **state)
{
    (void)state;
    char url[64];
    pid_t pid = start_server(KEEPALIVE, url, sizeof(url));
    struct event_base *base = event_base_new();
    assert_non_null(base);
    struct http_client *c = http_client_new(base);
    assert_non_null(c);
    struct result res[2];
    for (int i = 0; i < 2; i++) {
        memset(&res[i], 0, sizeof(res[i]));
        res[i].base = base;
        assert_int_equal(http_request(c, url, "GET", "/v1/sample", NULL, 5.0, done_cb, &res[i]), 0);
        wait_done(base, &res[i]);
        assert_int_equal(res[i].calls, 1);
        assert_int_equal(res[i].status, 200);
    }
    assert_string_equal(res[0].body, "{\"conn\": 1, \"req\": 1}");
    assert_string_equal(res[1].body, "{\"conn\": 1, \"req\": 2}");
    http_client_free(c);
    event_base_free(base);
    stop_server(pid);
}

/* At most max_conns connections open: at the limit a kept-alive connection to another peer is
 * closed to make room (the next request to that peer opens a new one), and when every
 * connection is in use a request waits for one, in order, failing if it waits past its
 * time-out. */
static void
test_connection_limit(void **state)
{
    (void)state;
    char a[64], b[64], silent[64];
    pid_t pa = start_server(KEEPALIVE, a, sizeof(a));
    pid_t pb = start_server(KEEPALIVE, b, sizeof(b));
    pid_t ps = start_server(SILENT, silent, sizeof(silent));
    struct event_base *base = event_base_new();
    assert_non_null(base);
    struct http_client *c = http_client_new(base);
    assert_non_null(c);
    http_client_set_max_conns(c, 1);
    const char *order[] = {a, b, a};
    const char *want[] = {"{\"conn\": 1, \"req\": 1}", "{\"conn\": 1, \"req\": 1}",
                          "{\"conn\": 2, \"req\": 1}"};
    for (int i = 0; i < 3; i++) {
        struct result r;
        memset(&r, 0, sizeof(r));
        r.base = base;
        assert_int_equal(http_request(c, order[i], "GET", "/v1/sample", NULL, 5.0, done_cb, &r), 0);
        wait_done(base, &r);
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, want[i]);
    }
    /* The silent peer holds the only connection for 1 s; b's request (5 s) waits and then
     * goes, a's (0.5 s) gives up waiting at 0.5 s. */
    struct result rs, rb, ra;
    memset(&rs, 0, sizeof(rs));
    memset(&rb, 0, sizeof(rb));
    memset(&ra, 0, sizeof(ra));
    rs.base = rb.base = ra.base = base;
    double t0 = now_s();
    assert_int_equal(http_request(c, silent, "GET", "/", NULL, 1.0, done_cb, &rs), 0);
    assert_int_equal(http_request(c, b, "GET", "/v1/sample", NULL, 5.0, done_cb, &rb), 0);
    assert_int_equal(http_request(c, a, "GET", "/v1/sample", NULL, 0.5, done_cb, &ra), 0);
    while (rs.calls == 0 || rb.calls == 0 || ra.calls == 0)
        assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
    assert_int_equal(rs.status, 0);
    assert_int_equal(rb.status, 200);
    assert_true(rb.at >= rs.at);
    assert_true(rb.at - t0 >= 0.9);
    assert_int_equal(ra.status, 0);
    assert_non_null(strstr(ra.err, "waiting for a connection"));
    /* ...at its own time-out, not when the silent peer's request ends. */
    assert_true(ra.at - t0 < 0.9);
    http_client_free(c);
    event_base_free(base);
    stop_server(pa);
    stop_server(pb);
    stop_server(ps);
}

/* A request that waited for a connection is sent with what is left of its time-out, not all
 * of it: the first silent peer holds the only connection for 1 s, and the second's request
 * (1.5 s) then gives up at 1.5 s after it was made. */
static void
test_waited_request_keeps_its_deadline(void **state)
{
    (void)state;
    char s1[64], s2[64];
    pid_t p1 = start_server(SILENT, s1, sizeof(s1));
    pid_t p2 = start_server(SILENT, s2, sizeof(s2));
    struct event_base *base = event_base_new();
    assert_non_null(base);
    struct http_client *c = http_client_new(base);
    assert_non_null(c);
    http_client_set_max_conns(c, 1);
    struct result r1, r2;
    memset(&r1, 0, sizeof(r1));
    memset(&r2, 0, sizeof(r2));
    r1.base = r2.base = base;
    double t0 = now_s();
    assert_int_equal(http_request(c, s1, "GET", "/", NULL, 1.0, done_cb, &r1), 0);
    assert_int_equal(http_request(c, s2, "GET", "/", NULL, 1.5, done_cb, &r2), 0);
    while (r1.calls == 0 || r2.calls == 0)
        assert_int_equal(event_base_loop(base, EVLOOP_ONCE), 0);
    assert_int_equal(r1.status, 0);
    assert_int_equal(r2.status, 0);
    assert_string_equal(r2.err, "timed out");
    assert_true(r2.at >= r1.at);
    assert_true(r2.at - t0 >= 1.4);
    assert_true(r2.at - t0 < 2.2);
    http_client_free(c);
    event_base_free(base);
    stop_server(p1);
    stop_server(p2);
}

/* A request that fails at once (nothing listens) still reports from the loop, not from
 * inside http_request(); a request in flight when the client is freed never reports. */
static void
test_callbacks_from_the_loop(void **state)
{
    (void)state;
    /* A port of 127.0.0.1 bound but not listening: nothing answers there, and no other
     * process can take it while the socket is held. */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t salen = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
    char closed[64];
    (void)snprintf(closed, sizeof(closed), "http://127.0.0.1:%d", (int)ntohs(sa.sin_port));
    struct event_base *base = event_base_new();
    assert_non_null(base);
    struct http_client *c = http_client_new(base);
    assert_non_null(c);
    struct result res;
    memset(&res, 0, sizeof(res));
    res.base = base;
    assert_int_equal(http_request(c, closed, "GET", "/", NULL, 5.0, done_cb, &res), 0);
    assert_int_equal(res.calls, 0);
    wait_done(base, &res);
    assert_int_equal(res.calls, 1);
    assert_int_equal(res.status, 0);
    assert_true(res.err[0] != '\0');
    (void)close(fd);

    char url[64];
    pid_t pid = start_server(SILENT, url, sizeof(url));
    struct result late;
    memset(&late, 0, sizeof(late));
    late.base = base;
    assert_int_equal(http_request(c, url, "GET", "/", NULL, 5.0, done_cb, &late), 0);
    assert_int_equal(event_base_loop(base, EVLOOP_NONBLOCK), 0);
    http_client_free(c);
    /* Nothing of the client's is left in the loop (dispatch finds no event at all), so the
     * callback can never run. */
    assert_int_equal(event_base_dispatch(base), 1);
    assert_int_equal(late.calls, 0);
    event_base_free(base);
    stop_server(pid);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal_answer),
        cmocka_unit_test(test_long_header_is_no_answer),
        cmocka_unit_test(test_huge_body_is_no_answer),
        cmocka_unit_test(test_huge_stream_is_no_answer),
        cmocka_unit_test(test_silent_server_times_out),
        cmocka_unit_test(test_request_as_sent),
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_url_check),
        cmocka_unit_test(test_connection_kept),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_waited_request_keeps_its_deadline),
        cmocka_unit_test(test_callbacks_from_the_loop),
    };
    return cmocka_run_group_tests_name("http_client", tests, NULL, NULL);
}

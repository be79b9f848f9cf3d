/* The etcd client (src/net/etcd.c) against stand-ins for troubled members on 127.0.0.1: a
 * member that accepts connections but never answers (stopped with SIGSTOP, cut off) costs a
 * call half of its time-out, then the next member answers it and later calls start there; a
 * keepalive stream that ends in etcd's "no leader" error is a lack of quorum (-EAGAIN); etcd's
 * error text is escaped before it reaches a log; a call that timed out in the client's queue
 * of requests waiting for a connection is a time-out; a URL list is all http:// or all
 * https://. The answering members are forked processes; the silent one is a listening socket
 * nobody accepts on. */
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

#include "net/etcd.h"
#include "testpool.h"

/* Read one request's headers and body from `fd`; false when the peer closed first. */
static bool
read_request(int fd)
{
    char buf[8192];
    size_t got = 0;
    size_t want = 0;
    while (got + 1 < sizeof(buf) && (want == 0 || got < want)) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (n <= 0)
            return false;
        got += (size_t)n;
        buf[got] = '\0';
        const char *end = strstr(buf, "\r\n\r\n");
        if (want == 0 && end != NULL) {
            const char *cl = strstr(buf, "Content-Length: ");
            size_t body = cl != NULL && cl < end ? strtoul(cl + 16, NULL, 10) : 0;
            want = (size_t)(end + 4 - buf) + body;
        }
    }
    return true;
}

/* The members started, stopped by the teardown also when a test fails. */
static pid_t members[4];
static size_t n_members;

/* A member answering every request with `status` and `body`, in a child process. */
static pid_t
start_member(int status, const char *body, char *url, size_t len)
{
    int lfd = pool_listen_loopback(url, len);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)signal(SIGPIPE, SIG_IGN);
        for (;;) {
            int fd = accept(lfd, NULL, NULL);
            if (fd < 0)
                continue;
            if (read_request(fd)) {
                char head[256];
                int n = snprintf(head, sizeof(head),
                                 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                                 status, strlen(body));
                if (write(fd, head, (size_t)n) < 0 || write(fd, body, strlen(body)) < 0)
                    (void)0; /* the client gave up */
            }
            (void)close(fd);
        }
    }
    (void)close(lfd);
    assert_true(n_members < sizeof(members) / sizeof(members[0]));
    members[n_members++] = pid;
    return pid;
}

static void
stop_member(pid_t pid)
{
    for (size_t i = 0; i < n_members; i++) {
        if (members[i] == pid) {
            members[i] = members[--n_members];
            break;
        }
    }
    (void)kill(pid, SIGKILL);
    (void)waitpid(pid, NULL, 0);
}

static int
teardown(void **state)
{
    (void)state;
    while (n_members > 0)
        stop_member(members[0]);
    return 0;
}

static double
now_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What the calls of a test brought back. */
struct results {
    struct event_base *base;
    size_t want, got;
    struct etcd_result r[ETCD_MAX_CONNS + 1];
    double at[ETCD_MAX_CONNS + 1];
};

static void
done_cb(void *arg, const struct etcd_result *r)
{
    struct results *res = arg;
    if (res->got < sizeof(res->r) / sizeof(res->r[0])) {
        res->r[res->got] = *r;
        res->at[res->got] = now_s();
    }
    if (++res->got == res->want)
        (void)event_base_loopbreak(res->base);
}

/* Run the loop until every call answered, at most 10 s. */
static void
wait_all(struct results *res)
{
    struct timeval limit = {10, 0};
    (void)event_base_loopexit(res->base, &limit);
    (void)event_base_dispatch(res->base);
    assert_int_equal(res->got, res->want);
}

static const char keepalive_ok[] =
    "{\"result\":{\"header\":{\"revision\":\"7\"},\"ID\":\"42\",\"TTL\":\"3\"}}";

/* A silent member first: the call is answered by the second within its time-out, sent there
 * after half of it, and the next call goes to the second at once. */
static void
test_silent_member_is_skipped(void **state)
{
    (void)state;
    char silent[64];
    char live[64];
    int sfd = pool_listen_loopback(silent, sizeof(silent));
    pid_t pid = start_member(200, keepalive_ok, live, sizeof(live));
    char list[200];
    (void)snprintf(list, sizeof(list), "%s,%s", silent, live);
    struct results res = {.base = event_base_new(), .want = 1};
    struct etcd *e = NULL;
    assert_int_equal(etcd_new(res.base, list, &e), 0);
    double t0 = now_s();
    assert_int_equal(etcd_lease_keepalive(e, 42, 1.0, done_cb, &res), 0);
    wait_all(&res);
    assert_int_equal(res.r[0].err, 0);
    assert_int_equal(res.r[0].ttl, 3);
    double took = res.at[0] - t0;
    printf("answered by the second member after %.2f s\n", took);
    assert_true(took >= 0.45 && took < 0.9);
    /* Counted from the send that was answered, not the one that was not. */
    assert_true(res.r[0].sent_mono >= t0 + 0.45);
    assert_string_equal(etcd_url(e), live);
    res.want = 2;
    t0 = now_s();
    assert_int_equal(etcd_lease_keepalive(e, 42, 1.0, done_cb, &res), 0);
    wait_all(&res);
    assert_int_equal(res.r[1].err, 0);
    assert_true(res.at[1] - t0 < 0.4);
    etcd_free(e);
    event_base_free(res.base);
    stop_member(pid);
    (void)close(sfd);
}

/* Every member silent: the call fails at its own time-out, not later. */
static void
test_all_silent_time_out(void **state)
{
    (void)state;
    char a[64];
    char b[64];
    int fa = pool_listen_loopback(a, sizeof(a));
    int fb = pool_listen_loopback(b, sizeof(b));
    char list[200];
    (void)snprintf(list, sizeof(list), "%s,%s", a, b);
    struct results res = {.base = event_base_new(), .want = 1};
    struct etcd *e = NULL;
    assert_int_equal(etcd_new(res.base, list, &e), 0);
    double t0 = now_s();
    assert_int_equal(etcd_get(e, "k", 0.6, done_cb, &res), 0);
    wait_all(&res);
    assert_int_equal(res.r[0].err, -ETIMEDOUT);
    assert_true(res.at[0] - t0 < 0.9);
    etcd_free(e);
    event_base_free(res.base);
    (void)close(fa);
    (void)close(fb);
}

/* A keepalive whose stream ends in etcd's error without a leader: -EAGAIN. */
static void
test_no_leader_is_no_quorum(void **state)
{
    (void)state;
    char url[64];
    pid_t pid = start_member(200,
                             "{\"error\":{\"grpc_code\":14,\"http_code\":503,\"message\":"
                             "\"etcdserver: no leader\",\"http_status\":\"Service Unavailable\"}}",
                             url, sizeof(url));
    struct results res = {.base = event_base_new(), .want = 1};
    struct etcd *e = NULL;
    assert_int_equal(etcd_new(res.base, url, &e), 0);
    assert_int_equal(etcd_lease_keepalive(e, 42, 1.0, done_cb, &res), 0);
    wait_all(&res);
    assert_int_equal(res.r[0].err, -EAGAIN);
    assert_non_null(strstr(res.r[0].why, "etcdserver: no leader"));
    etcd_free(e);
    event_base_free(res.base);
    stop_member(pid);
}

/* etcd's text in an error is outside input: control characters, quotes and backslashes come
 * out as \xNN. */
static void
test_error_text_escaped(void **state)
{
    (void)state;
    char url[64];
    pid_t pid = start_member(
        500,
        "{\"error\":\"x\",\"message\":\"bad\\u001b[2J\\nforged line \\\"q\\\" \\\\\",\"code\":2}",
        url, sizeof(url));
    struct results res = {.base = event_base_new(), .want = 1};
    struct etcd *e = NULL;
    assert_int_equal(etcd_new(res.base, url, &e), 0);
    assert_int_equal(etcd_get(e, "k", 1.0, done_cb, &res), 0);
    wait_all(&res);
    assert_int_equal(res.r[0].err, -EIO);
    const char *why = res.r[0].why;
    printf("why: %s\n", why);
    assert_non_null(strstr(why, "bad\\x1b[2J\\x0aforged line \\x22q\\x22 \\x5c"));
    for (const char *p = why; *p != '\0'; p++)
        assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
    etcd_free(e);
    event_base_free(res.base);
    stop_member(pid);
}

/* More calls than connections to a silent member: those that waited for a connection until
 * their time-out report a time-out, like the others. */
static void
test_queue_time_out_is_time_out(void **state)
{
    (void)state;
    char url[64];
    int fd = pool_listen_loopback(url, sizeof(url));
    struct results res = {.base = event_base_new(), .want = ETCD_MAX_CONNS + 1};
    struct etcd *e = NULL;
    assert_int_equal(etcd_new(res.base, url, &e), 0);
    for (size_t i = 0; i < res.want; i++)
        assert_int_equal(etcd_get(e, "k", 0.5, done_cb, &res), 0);
    wait_all(&res);
    size_t queued = 0;
    for (size_t i = 0; i < res.want; i++) {
        assert_int_equal(res.r[i].err, -ETIMEDOUT);
        queued += strstr(res.r[i].why, "waiting for a connection") != NULL ? 1 : 0;
    }
    assert_true(queued >= 1);
    etcd_free(e);
    event_base_free(res.base);
    (void)close(fd);
}

/* The URL lists etcd_new() takes: one scheme for all, each URL well formed. */
/* A prefix read whose answer holds a value longer than the limits: that key is left out and
 * counted, the others are read (one bad key must not keep every manager from leading). */
struct prefix_seen {
    struct event_base *base;
    int err;
    size_t n_kvs, n_skipped;
    char first[ETCD_MAX_KEY + 1];
};

static void
prefix_cb(void *arg, const struct etcd_result *r)
{
    struct prefix_seen *p = arg;
    p->err = r->err;
    p->n_kvs = r->n_kvs;
    p->n_skipped = r->n_skipped;
    (void)snprintf(p->first, sizeof(p->first), "%s", r->n_kvs > 0 ? r->kvs[0].key : "");
    (void)event_base_loopbreak(p->base);
}

static void
test_oversized_value_skipped(void **state)
{
    (void)state;
    /* "cC9h" is "p/a", "eA==" is "x"; 6,000 'A's decode to 4,500 bytes, over ETCD_MAX_VALUE. */
    char body[7000];
    char big[6001];
    memset(big, 'A', 6000);
    big[6000] = '\0';
    (void)snprintf(body, sizeof(body),
                   "{\"header\":{\"revision\":\"7\"},\"kvs\":["
                   "{\"key\":\"cC9i\",\"value\":\"%s\",\"create_revision\":\"5\"},"
                   "{\"key\":\"cC9h\",\"value\":\"eA==\",\"create_revision\":\"6\"}],"
                   "\"count\":\"2\"}",
                   big);
    char url[64];
    pid_t pid = start_member(200, body, url, sizeof(url));
    struct prefix_seen seen = {.base = event_base_new(), .err = 1};
    struct etcd *e = NULL;
    assert_int_equal(etcd_new(seen.base, url, &e), 0);
    assert_int_equal(etcd_get_prefix(e, "p/", 2.0, prefix_cb, &seen), 0);
    struct timeval limit = {10, 0};
    (void)event_base_loopexit(seen.base, &limit);
    (void)event_base_dispatch(seen.base);
    assert_int_equal(seen.err, 0);
    assert_int_equal(seen.n_kvs, 1);
    assert_int_equal(seen.n_skipped, 1);
    assert_string_equal(seen.first, "p/a");
    etcd_free(e);
    event_base_free(seen.base);
    stop_member(pid);
}

static void
test_url_lists(void **state)
{
    (void)state;
    static const struct {
        const char *list;
        bool valid;
        bool tls;
    } cases[] = {
        {"http://127.0.0.1:2379", true, false},
        {"http://127.0.0.1:2379,http://10.0.0.2:2379", true, false},
        {"https://127.0.0.1:2379", true, true},
        {"https://a.example:2379,https://10.0.0.2:2379", true, true},
        {"https://127.0.0.1:2379,http://10.0.0.2:2379", false, true},
        {"http://127.0.0.1:2379,https://10.0.0.2:2379", false, false},
        {"ftp://127.0.0.1:2379", false, false},
        {"https://", false, true},
        {"https://127.0.0.1:2379,", false, true},
        {"", false, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        printf("case %zu: %s\n", i, cases[i].list);
        assert_int_equal(etcd_urls_valid(cases[i].list), cases[i].valid);
        assert_int_equal(etcd_urls_tls(cases[i].list), cases[i].tls);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_silent_member_is_skipped, teardown),
        cmocka_unit_test_teardown(test_all_silent_time_out, teardown),
        cmocka_unit_test_teardown(test_no_leader_is_no_quorum, teardown),
        cmocka_unit_test_teardown(test_error_text_escaped, teardown),
        cmocka_unit_test_teardown(test_queue_time_out_is_time_out, teardown),
        cmocka_unit_test_teardown(test_oversized_value_skipped, teardown),
        cmocka_unit_test(test_url_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

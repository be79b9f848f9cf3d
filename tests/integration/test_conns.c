/* The daemons' connection limits with a real manager: under a low open-file limit, 400 idle
 * connections neither starve a legitimate client nor flood the log, and the manager serves
 * again once they close; one address cannot hold more than max_connections_per_client; a
 * client that trickles its request in is cut off at request_timeout, however steadily it
 * sends, and so is a kept-alive connection that stays idle. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testpool.h"

#define ATTACKERS 400

static double
now_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The port of a daemon's URL "http://127.0.0.1:PORT". */
static uint16_t
url_port(const struct daemon *d)
{
    const char *colon = strrchr(d->url, ':');
    assert_non_null(colon);
    long p = strtol(colon + 1, NULL, 10);
    assert_true(p > 0 && p < 65536);
    return (uint16_t)p;
}

/* A TCP connection from address `src` (of 127/8) to 127.0.0.1:`port`; non-blocking when
 * `nonblock` (the connect may still be under way). The socket, or -1. */
static int
connect_from(const char *src, uint16_t port, bool nonblock)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, src, &a.sin_addr), 1);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        (void)close(fd);
        return -1;
    }
    if (nonblock)
        (void)fcntl(fd, F_SETFL, O_NONBLOCK);
    a.sin_port = htons(port);
    assert_int_equal(inet_pton(AF_INET, "127.0.0.1", &a.sin_addr), 1);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 && errno != EINPROGRESS) {
        (void)close(fd);
        return -1;
    }
    return fd;
}

/* Wait up to `timeout_s` for what comes next on `fd`: bytes into `buf` (NUL-terminated; >0),
 * the end of the connection (0, also for a reset), or nothing in time (-1). */
static ssize_t
read_within(int fd, char *buf, size_t len, double timeout_s)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, (int)(timeout_s * 1000)) <= 0)
        return -1;
    ssize_t n = recv(fd, buf, len - 1, 0);
    if (n < 0)
        n = 0;
    buf[n] = '\0';
    return n;
}

/* GET /v1/health from `src` on a connection of its own: the first line of the answer within
 * `timeout_s` into `line` ("" when the connection ended or nothing came). read_within()'s
 * answer: >0 (an answer), 0 (the connection ended), -1 (nothing in time). */
static ssize_t
health_from(const char *src, uint16_t port, double timeout_s, char *line, size_t len)
{
    line[0] = '\0';
    int fd = connect_from(src, port, false);
    assert_true(fd >= 0);
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                     "Connection: close\r\n\r\n",
                     test_token());
    ssize_t r = 0; /* a connection closed before the request went out ended too */
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) == n) {
        char buf[256];
        r = read_within(fd, buf, sizeof(buf), timeout_s);
        if (r > 0)
            (void)snprintf(line, len, "%.*s", (int)strcspn(buf, "\r\n"), buf);
    }
    (void)close(fd);
    return r;
}

/* Lines in daemon `d`'s log. */
static size_t
log_lines(const struct daemon *d)
{
    FILE *f = fopen(d->log_path, "r");
    assert_non_null(f);
    size_t n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    (void)fclose(f);
    return n;
}

struct health_cond {
    const char *src;
    uint16_t port;
};

static bool
health_ok(void *arg)
{
    const struct health_cond *h = arg;
    char line[128];
    (void)health_from(h->src, h->port, 2.0, line, sizeof(line));
    return strcmp(line, "HTTP/1.1 200 OK") == 0;
}

/* Has the manager accepted every connection the kernel completed on its listening `port`
 * (the accept queue of the LISTEN socket, rx_queue in /proc/net/tcp, is empty)? A client
 * connecting while the queue is full has its handshake dropped and retried a second later,
 * which is the kernel's delay, not the manager's. True when the socket is not listed. */
static bool
accept_queue_empty(void *arg)
{
    unsigned port = *(const uint16_t *)arg;
    FILE *f = fopen("/proc/net/tcp", "r");
    if (f == NULL)
        return true;
    char line[512];
    bool empty = true;
    while (fgets(line, sizeof(line), f) != NULL) {
        /* "  sl: LOCALIP:PORT REMOTEIP:PORT ST TXQ:RXQ ...", in hex */
        char *e = strchr(line, ':');
        e = e != NULL ? strchr(e + 1, ':') : NULL;
        if (e == NULL)
            continue;
        unsigned long lport = strtoul(e + 1, &e, 16);
        (void)strtoul(e, &e, 16); /* the remote address */
        if (*e != ':')
            continue;
        (void)strtoul(e + 1, &e, 16); /* its port */
        unsigned long st = strtoul(e, &e, 16);
        (void)strtoul(e, &e, 16); /* tx_queue */
        if (*e != ':')
            continue;
        unsigned long rxq = strtoul(e + 1, &e, 16);
        if (lport == port && st == 0x0A)
            empty = rxq == 0;
    }
    (void)fclose(f);
    return empty;
}

/* A manager limited to 256 descriptors, and 400 connections that send nothing. */
static void
test_fd_exhaustion(void **state)
{
    (void)state;
    const char *argv[] = {"--nofile=256:256", daemon_bin(), "manager",       "--listen",
                          "127.0.0.1:0",      "--data",     pool_data_dir(), NULL};
    struct daemon *m = pool_spawn("manager", "/usr/bin/prlimit", argv);
    uint16_t port = url_port(m);
    size_t before = log_lines(m);

    int att[ATTACKERS];
    for (size_t i = 0; i < ATTACKERS; i++) {
        att[i] = connect_from("127.0.0.1", port, true);
        assert_true(att[i] >= 0);
    }
    /* Every one is let in (the kernel's queue of connections to accept is empty again, so
     * that the next one needs no retry of its handshake)... */
    double deadline = now_s() + ACT_S;
    for (size_t i = 0; i < ATTACKERS; i++) {
        struct pollfd p = {.fd = att[i], .events = POLLOUT};
        int left = (int)((deadline - now_s()) * 1000);
        assert_true(left > 0 && poll(&p, 1, left) == 1);
    }
    assert_true(wait_until(accept_queue_empty, &port, ACT_S));
    /* ...and a legitimate client is answered at once, not after the attackers' time runs out. */
    char line[128];
    double t0 = now_s();
    (void)health_from("127.0.0.1", port, 3.0, line, sizeof(line));
    assert_string_equal(line, "HTTP/1.1 200 OK");
    assert_true(now_s() - t0 < 1.0);
    (void)health_from("127.0.0.2", port, 3.0, line, sizeof(line));
    assert_string_equal(line, "HTTP/1.1 200 OK");
    /* The log says so in a few lines, not a line per failed accept(). */
    struct log_cond full = {m, "max_connections=192 reached"};
    assert_true(wait_until(log_has, &full, ACT_S));
    assert_true(log_lines(m) - before < 20);

    for (size_t i = 0; i < ATTACKERS; i++)
        (void)close(att[i]);
    struct health_cond h = {"127.0.0.1", port};
    assert_true(wait_until(health_ok, &h, ACT_S));
    assert_true(log_lines(m) - before < 20);
    pool_finish();
}

/* max_connections_per_client = 4: a fifth connection from one address closes that address's
 * connection that has waited longest for its request (many agents behind one address keep an
 * idle connection each) and is served; another address's connection is not touched. */
static void
test_per_client_cap(void **state)
{
    (void)state;
    const char *extra[] = {"--max-connections-per-client", "4", NULL};
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", extra);
    uint16_t port = url_port(m);
    int other = connect_from("127.0.0.2", port, false);
    assert_true(other >= 0);
    int idle[4];
    for (size_t i = 0; i < 4; i++) {
        idle[i] = connect_from("127.0.0.1", port, false);
        assert_true(idle[i] >= 0);
    }
    char line[128];
    char buf[64];
    /* (Let the server take the four before the fifth comes.) */
    assert_int_equal(read_within(idle[3], buf, sizeof(buf), 0.3), -1);
    assert_true(health_from("127.0.0.1", port, 3.0, line, sizeof(line)) > 0);
    assert_string_equal(line, "HTTP/1.1 200 OK");
    struct log_cond closing = {m, "max_connections_per_client=4 reached: closing the client's "
                                  "connection that has waited longest"};
    assert_true(wait_until(log_has, &closing, ACT_S));
    assert_int_equal(read_within(idle[0], buf, sizeof(buf), 3.0), 0);
    for (size_t i = 1; i < 4; i++)
        assert_int_equal(read_within(idle[i], buf, sizeof(buf), 0.1), -1);
    assert_int_equal(read_within(other, buf, sizeof(buf), 0.1), -1);
    (void)health_from("127.0.0.2", port, 3.0, line, sizeof(line));
    assert_string_equal(line, "HTTP/1.1 200 OK");
    for (size_t i = 0; i < 4; i++)
        (void)close(idle[i]);
    (void)close(other);
    pool_finish();
}

/* request_timeout = 2: a client that sends a byte every half second (never silent for long)
 * is cut off after about 2 s; a kept-alive connection left idle after an answer too. */
static void
test_request_deadline(void **state)
{
    (void)state;
    const char *extra[] = {"--request-timeout", "2", NULL};
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", extra);
    uint16_t port = url_port(m);

    int fd = connect_from("127.0.0.1", port, false);
    assert_true(fd >= 0);
    const char *head = "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
                       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    double t0 = now_s();
    double cut = -1;
    char buf[256];
    /* One byte, then half a second of watching for the end; at most 8 s in all. */
    for (size_t i = 0; head[i] != '\0' && now_s() - t0 < 8.0; i++) {
        if (send(fd, head + i, 1, MSG_NOSIGNAL) != 1 ||
            read_within(fd, buf, sizeof(buf), 0.5) >= 0) {
            cut = now_s() - t0;
            break;
        }
    }
    (void)close(fd);
    assert_true(cut >= 0); /* cut off at all, before the 8 s of sending ran out */
    assert_true(cut >= 1.5);
    assert_true(cut < 4.0);
    struct log_cond slow = {m, "no whole request within request_timeout=2s"};
    assert_true(wait_until(log_has, &slow, ACT_S));

    /* Kept alive after an answer, then silent: closed about 2 s after the answer. */
    fd = connect_from("127.0.0.1", port, false);
    assert_true(fd >= 0);
    char req[512];
    int n =
        snprintf(req, sizeof(req),
                 "GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n",
                 test_token());
    assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
    assert_true(read_within(fd, buf, sizeof(buf), 3.0) > 0);
    assert_memory_equal(buf, "HTTP/1.1 200 OK", 15);
    t0 = now_s();
    ssize_t r;
    while ((r = read_within(fd, buf, sizeof(buf), 6.0)) > 0)
        ; /* the rest of the answer */
    double idle = now_s() - t0;
    (void)close(fd);
    assert_int_equal(r, 0);
    assert_true(idle < 4.0);
    pool_finish();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fd_exhaustion, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_per_client_cap, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_request_deadline, pool_setup, pool_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

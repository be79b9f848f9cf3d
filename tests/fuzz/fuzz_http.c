/* libFuzzer target for HTTP request handling: the input is sent, as raw bytes, to a real
 * server of src/net/http_server.c on 127.0.0.1 (libevent's evhttp parses it; vmloc's layer
 * splits and decodes the path and query, checks the Origin, the bearer token and the body's
 * nesting, routes it, and answers). The routes stand for the daemons' handlers: each decodes its
 * body with the wire decoder the daemons use for it, or reads the query parameters the lists take.
 * Every answer must be a well-formed HTTP response with a status the server may give; the
 * connection must end; sanitizers catch memory errors and leaks. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "net/http_server.h"
#include "proto/perr.h"
#include "proto/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TOKEN "fuzz-token-0123456789abcdef"

static void
answer(struct http_req *r, int rc, const struct perr *err)
{
    if (rc == 0)
        http_reply_json(r, 200, "{}");
    else
        http_reply_error(r, 400, "%s", err->msg);
}

static void
h_list(struct http_req *r, void *ctx)
{
    (void)ctx;
    double since = 0;
    int limit = http_query_limit(r, 1000);
    if (limit < 0)
        return;
    if (http_query_number(r, "since", 0, 1e12, &since) < 0) {
        http_reply_error(r, 400, "since: bad");
        return;
    }
    http_reply_json(r, 200, "[]");
}

static void
h_order(struct http_req *r, void *ctx)
{
    (void)ctx;
    struct wire_order o;
    struct perr err;
    answer(r, wire_order_decode(r->body, r->body_len, &o, &err), &err);
}

static void
h_load(struct http_req *r, void *ctx)
{
    (void)ctx;
    struct wire_load l;
    struct perr err;
    if (!wire_name_valid(r->parts[2])) {
        http_reply_error(r, 400, "bad VM name");
        return;
    }
    answer(r, wire_load_decode(r->body, r->body_len, &l, &err), &err);
}

static void
h_lock(struct http_req *r, void *ctx)
{
    (void)ctx;
    struct wire_lock l;
    struct perr err;
    answer(r, wire_lock_decode(r->body, r->body_len, true, &l, &err), &err);
}

static void
h_incoming(struct http_req *r, void *ctx)
{
    (void)ctx;
    struct wire_incoming in;
    struct perr err;
    answer(r, wire_incoming_decode(r->body, r->body_len, &in, &err), &err);
}

static void
h_notify(struct http_req *r, void *ctx)
{
    (void)ctx;
    struct wire_sample s;
    struct perr err;
    memset(&s, 0, sizeof(s));
    int rc = wire_sample_decode(r->body, r->body_len, &s, &err);
    if (rc == 0)
        wire_sample_done(&s);
    answer(r, rc, &err);
}

static void
h_page(struct http_req *r, void *ctx)
{
    (void)ctx;
    http_reply_raw(r, 200, "text/html", "<!doctype html>", 15);
}

static const struct http_route routes[] = {
    {"GET", "/", h_page, true},
    {"GET", "/v1/migrations", h_list, false},
    {"GET", "/v1/hosts/*/history", h_list, false},
    {"POST", "/v1/migrations", h_order, false},
    {"POST", "/v1/vms/*/load", h_load, false},
    {"POST", "/v1/lock", h_lock, false},
    {"POST", "/v1/incoming", h_incoming, false},
    {"POST", "/v1/notify", h_notify, false},
};

static struct event_base *base;
static struct http_server *server;
static struct sockaddr_in addr;

static void
setup(void)
{
    log_init("fuzz", LOG_LEVEL_ERROR);
    base = event_base_new();
    uint16_t port = 0;
    if (base == NULL ||
        http_server_start(base, "127.0.0.1:0", routes, sizeof(routes) / sizeof(routes[0]), NULL,
                          &server, &port) < 0)
        abort();
    struct http_auth auth;
    memset(&auth, 0, sizeof(auth));
    (void)snprintf(auth.token, sizeof(auth.token), "%s", FUZZ_TOKEN);
    http_server_set_auth(server, &auth);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

struct conn {
    char buf[8192];
    size_t len;
    bool closed;
};

static void
read_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    char tmp[4096];
    if (what & EV_TIMEOUT) {
        c->closed = true; /* a request still incomplete: evhttp waits for more */
        (void)event_base_loopbreak(base);
        return;
    }
    ssize_t n = read(fd, tmp, sizeof(tmp));
    if (n <= 0) {
        c->closed = true;
        (void)event_base_loopbreak(base);
        return;
    }
    size_t take = (size_t)n < sizeof(c->buf) - 1 - c->len ? (size_t)n : sizeof(c->buf) - 1 - c->len;
    memcpy(c->buf + c->len, tmp, take);
    c->len += take;
    c->buf[c->len] = '\0';
}

/* The answer, if any (evhttp may close a connection it cannot parse without a word), starts
 * with a status line of a code the server gives. Later responses of pipelined requests are not
 * checked: an error body may quote the path, which can look like a status line. */
static void
check_answer(const struct conn *c)
{
    /* Ours, and those evhttp gives itself (100 and 417 for Expect, 411, 414, 505). */
    static const int codes[] = {100, 200, 400, 401, 403, 404, 405, 408,
                                411, 413, 414, 417, 431, 501, 503, 505};
    if (c->len == 0)
        return;
    /* evhttp answers in the version the request named ("HTTP/0.1 400 ...", "HTTP/1.10 ..."). */
    const char *sp = strchr(c->buf, ' ');
    if (strncmp(c->buf, "HTTP/", 5) != 0 || sp == NULL || sp - c->buf > 16) {
        (void)fprintf(stderr, "answer without a status line: %.40s\n", c->buf);
        abort();
    }
    int code = (int)strtol(sp + 1, NULL, 10);
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (codes[i] == code)
            return;
    }
    (void)fprintf(stderr, "unexpected status %d\n", code);
    abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (base == NULL)
        setup();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        abort();
    /* libFuzzer's timer signal may interrupt connect(), which then goes on by itself. */
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        struct pollfd p = {fd, POLLOUT, 0};
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (errno != EINTR || poll(&p, 1, 5000) != 1 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
            perror("fuzz_http: connect");
            abort();
        }
    }
    /* Write while the server reads: the loop runs between chunks. */
    struct conn c;
    memset(&c, 0, sizeof(c));
    struct event *ev = event_new(base, fd, EV_READ | EV_PERSIST, read_cb, &c);
    struct timeval tv = {1, 0};
    if (ev == NULL || event_add(ev, &tv) < 0)
        abort();
    size_t off = 0;
    while (off < size) {
        ssize_t n = send(fd, data + off, size - off, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n > 0)
            off += (size_t)n;
        else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            break; /* the server closed early (a refused request) */
        (void)event_base_loop(base, EVLOOP_NONBLOCK);
        if (c.closed)
            break;
    }
    (void)shutdown(fd, SHUT_WR);
    while (!c.closed)
        (void)event_base_loop(base, EVLOOP_ONCE);
    event_free(ev);
    /* Reset rather than close: a closed socket waits in TIME_WAIT, and a fuzzer making
     * thousands of connections a second would run out of local ports. */
    struct linger lg = {1, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    (void)close(fd);
    /* Let the server notice the close and free its side. */
    (void)event_base_loop(base, EVLOOP_NONBLOCK);
    check_answer(&c);
    return 0;
}

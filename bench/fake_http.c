/* A minimal HTTP/1.1 server for the fake agents (see fake_http.h). */
#define _GNU_SOURCE /* accept4, memmem */
#include "fake_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* A request's head and body together at most (the manager's orders are a few hundred bytes). */
#define FHTTP_MAX_REQUEST 65536

struct fconn {
    struct fhttp *srv;
    int fd;
    struct event *ev; /* EV_READ | EV_PERSIST; EV_WRITE too while `out` holds bytes */
    char *in;
    size_t in_len;
    size_t in_cap;
    char *out; /* what a write left over */
    size_t out_len;
    size_t out_off;
    bool closing; /* close once `out` is written */
    struct fconn *prev;
    struct fconn *next;
};

struct fhttp {
    struct event_base *base;
    int fd;
    struct event *ev;
    fhttp_fn fn;
    void *arg;
    struct fconn *conns;
};

static void
conn_free(struct fconn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        c->srv->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    event_free(c->ev);
    (void)close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

static const char *
reason(int code)
{
    switch (code) {
    case 200:
        return "OK";
    case 202:
        return "Accepted";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 409:
        return "Conflict";
    default:
        return "Error";
    }
}

static void conn_cb(evutil_socket_t fd, short what, void *arg);

/* Write head + body; keep what the socket did not take. 0, or -1 (the connection is dead). */
static int
send_answer(struct fconn *c, int code, const char *body, size_t len, bool close_after)
{
    char head[256];
    int hn = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: "
                      "%zu\r\n%s\r\n",
                      code, reason(code), len, close_after ? "Connection: close\r\n" : "");
    if (hn < 0 || (size_t)hn >= sizeof(head))
        return -1;
    struct iovec iov[2] = {{head, (size_t)hn}, {(void *)body, len}};
    size_t total = (size_t)hn + len;
    size_t done = 0;
    if (c->out_len == 0) {
        ssize_t w = writev(c->fd, iov, len > 0 ? 2 : 1);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        done = w > 0 ? (size_t)w : 0;
    }
    if (done == total)
        return 0;
    /* Keep the rest, after whatever is waiting already. */
    char *grown = realloc(c->out, c->out_len + total - done);
    if (grown == NULL)
        return -1;
    c->out = grown;
    size_t skip = done;
    for (size_t i = 0; i < 2; i++) {
        size_t n = iov[i].iov_len;
        if (skip >= n) {
            skip -= n;
            continue;
        }
        memcpy(c->out + c->out_len, (const char *)iov[i].iov_base + skip, n - skip);
        c->out_len += n - skip;
        skip = 0;
    }
    (void)event_del(c->ev);
    (void)event_assign(c->ev, c->srv->base, c->fd, EV_READ | EV_WRITE | EV_PERSIST, conn_cb, c);
    return event_add(c->ev, NULL);
}

/* What serve() reads of a request's head, which it leaves as it is: a head may be read again
 * when its body has not all come yet. */
struct head {
    bool post;
    char path[512];
    char host[64];
    size_t body_len;
    bool close_after;
};

/* Does the header line [l, e) name `name` (case aside)? Its value, past blanks, or NULL. */
static const char *
header_value(const char *l, const char *e, const char *name)
{
    size_t n = strlen(name);
    if ((size_t)(e - l) <= n || strncasecmp(l, name, n) != 0 || l[n] != ':')
        return NULL;
    const char *v = l + n + 1;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    return v;
}

/* Parse the head [start, end) (end: its blank line). 0, or -1 for a request it cannot take. */
static int
parse_head(const char *start, const char *end, struct head *h)
{
    memset(h, 0, sizeof(*h));
    const char *eol = memchr(start, '\r', (size_t)(end - start) + 1);
    const char *sp1 = memchr(start, ' ', (size_t)(eol - start));
    const char *sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)) : NULL;
    if (sp1 == NULL || sp2 == NULL || (size_t)(sp2 - sp1 - 1) >= sizeof(h->path))
        return -1;
    h->post = sp1 - start == 4 && memcmp(start, "POST", 4) == 0;
    if (!h->post && !(sp1 - start == 3 && memcmp(start, "GET", 3) == 0))
        return -1;
    memcpy(h->path, sp1 + 1, (size_t)(sp2 - sp1 - 1));
    h->close_after = eol - sp2 - 1 == 8 && memcmp(sp2 + 1, "HTTP/1.0", 8) == 0;
    for (const char *l = eol + 2; l < end;) {
        const char *e = memmem(l, (size_t)(end + 2 - l), "\r\n", 2);
        const char *host = header_value(l, e, "Host");
        const char *clen = header_value(l, e, "Content-Length");
        const char *conn = header_value(l, e, "Connection");
        if (host != NULL) {
            size_t n = 0;
            while (host + n < e && host[n] != ':')
                n++;
            if (n >= sizeof(h->host))
                return -1;
            memcpy(h->host, host, n);
        } else if (clen != NULL) {
            size_t n = 0;
            const char *v = clen;
            for (; v < e && *v >= '0' && *v <= '9'; v++) {
                n = n * 10 + (size_t)(*v - '0');
                if (n > FHTTP_MAX_REQUEST)
                    return -1;
            }
            if (v == clen || v != e)
                return -1;
            h->body_len = n;
        } else if (conn != NULL) {
            h->close_after =
                h->close_after || ((size_t)(e - conn) == 5 && strncasecmp(conn, "close", 5) == 0);
        }
        l = e + 2;
    }
    return 0;
}

/* Answer the complete requests at the start of `in`; 0, or -1 to close. */
static int
serve(struct fconn *c)
{
    size_t at = 0;
    while (c->out_len == 0 && !c->closing) {
        char *start = c->in + at;
        size_t avail = c->in_len - at;
        char *end = memmem(start, avail, "\r\n\r\n", 4);
        if (end == NULL)
            break;
        size_t head_len = (size_t)(end - start) + 4;
        struct head h;
        if (parse_head(start, end, &h) < 0)
            return -1;
        if (avail < head_len + h.body_len)
            break; /* the body is still coming */
        char *body = start + head_len;
        char saved = body[h.body_len]; /* NUL-terminate the body in place, then put it back */
        body[h.body_len] = '\0';
        struct fhttp_req req = {h.post, h.path, h.host, body, h.body_len};
        char *ans = NULL;
        size_t ans_len = 0;
        int code = c->srv->fn(c->srv->arg, &req, &ans, &ans_len);
        body[h.body_len] = saved;
        int r =
            send_answer(c, code, ans != NULL ? ans : "", ans != NULL ? ans_len : 0, h.close_after);
        free(ans);
        if (r < 0)
            return -1;
        at += head_len + h.body_len;
        c->closing = h.close_after;
    }
    memmove(c->in, c->in + at, c->in_len - at);
    c->in_len -= at;
    return c->closing && c->out_len == 0 ? -1 : 0;
}

static void
conn_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fconn *c = arg;
    if (what & EV_WRITE) {
        ssize_t w = write(fd, c->out + c->out_off, c->out_len - c->out_off);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
            conn_free(c);
            return;
        }
        c->out_off += w > 0 ? (size_t)w : 0;
        if (c->out_off == c->out_len) {
            c->out_len = c->out_off = 0;
            (void)event_del(c->ev);
            (void)event_assign(c->ev, c->srv->base, fd, EV_READ | EV_PERSIST, conn_cb, c);
            if (event_add(c->ev, NULL) < 0 || serve(c) < 0) {
                conn_free(c);
                return;
            }
        }
    }
    if (!(what & EV_READ))
        return;
    if (c->in_cap - c->in_len < 8192) {
        size_t cap = c->in_cap > 0 ? c->in_cap * 2 : 16384;
        char *n = cap <= 2 * FHTTP_MAX_REQUEST ? realloc(c->in, cap + 1) : NULL;
        if (n == NULL) {
            conn_free(c); /* a request larger than any the manager sends */
            return;
        }
        c->in = n;
        c->in_cap = cap;
    }
    ssize_t r = read(fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        conn_free(c);
        return;
    }
    if (r < 0)
        return;
    c->in_len += (size_t)r;
    c->in[c->in_len] = '\0';
    if (serve(c) < 0)
        conn_free(c);
}

static bool
loopback(const struct sockaddr_in *sin)
{
    return sin->sin_family == AF_INET && (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
}

static void
accept_cb(evutil_socket_t fd, short what, void *arg)
{
    struct fhttp *s = arg;
    (void)what;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_in sin;
        socklen_t sl = sizeof(sin);
        int cfd = accept4(fd, (struct sockaddr *)&sin, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0)
            return;
        struct fconn *c = loopback(&sin) ? calloc(1, sizeof(*c)) : NULL;
        if (c != NULL) {
            c->srv = s;
            c->fd = cfd;
            c->ev = event_new(s->base, cfd, EV_READ | EV_PERSIST, conn_cb, c);
        }
        if (c == NULL || c->ev == NULL || event_add(c->ev, NULL) < 0) {
            if (c != NULL && c->ev != NULL)
                event_free(c->ev);
            free(c);
            (void)close(cfd);
            continue;
        }
        c->next = s->conns;
        if (s->conns != NULL)
            s->conns->prev = c;
        s->conns = c;
    }
}

struct fhttp *
fhttp_listen(struct event_base *base, const char *addr, fhttp_fn fn, void *arg, unsigned *ret_port)
{
    struct fhttp *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->base = base;
    s->fn = fn;
    s->arg = arg;
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t sl = sizeof(sin);
    int one = 1;
    if (s->fd < 0 || inet_pton(AF_INET, addr, &sin.sin_addr) != 1 ||
        setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(s->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(s->fd, 4096) < 0 ||
        getsockname(s->fd, (struct sockaddr *)&sin, &sl) < 0) {
        int e = errno != 0 ? errno : EINVAL;
        if (s->fd >= 0)
            (void)close(s->fd);
        free(s);
        errno = e;
        return NULL;
    }
    s->ev = event_new(base, s->fd, EV_READ | EV_PERSIST, accept_cb, s);
    if (s->ev == NULL || event_add(s->ev, NULL) < 0) {
        if (s->ev != NULL)
            event_free(s->ev);
        (void)close(s->fd);
        free(s);
        errno = ENOMEM;
        return NULL;
    }
    *ret_port = ntohs(sin.sin_port);
    return s;
}

void
fhttp_free(struct fhttp *s)
{
    if (s == NULL)
        return;
    while (s->conns != NULL)
        conn_free(s->conns);
    event_free(s->ev);
    (void)close(s->fd);
    free(s);
}

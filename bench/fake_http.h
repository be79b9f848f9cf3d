/* The fake agents' HTTP server in one-port mode: HTTP/1.1 with kept-alive connections, GET and
 * POST with a Content-Length body, one answer per request in order, and nothing else (no
 * chunked bodies, no TLS). It stands in for 10,000 agents that run on their own machines, so
 * that what it costs this machine per request stays small beside the manager it measures:
 * a request is read, parsed and answered with one read and one write, on connections that
 * stay registered with the loop. Peers outside 127.0.0.0/8 are refused at accept. */
#ifndef VMLOC_BENCH_FAKE_HTTP_H
#define VMLOC_BENCH_FAKE_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct fhttp;

struct fhttp_req {
    bool post;        /* else GET */
    const char *path; /* the request target, as sent */
    const char *host; /* the Host header without its port ("" when there is none) */
    const char *body; /* POST: its body (NUL-terminated), else "" */
    size_t body_len;
};

/* The answer to `req`: its status, and its JSON body in *ret_body (malloc'd; the server frees
 * it; NULL for an empty body). */
typedef int (*fhttp_fn)(void *arg, const struct fhttp_req *req, char **ret_body, size_t *ret_len);

/* Listen on `addr`, a port the kernel chooses (*ret_port), answering through `fn`. The server,
 * or NULL with errno set. */
struct fhttp *fhttp_listen(struct event_base *base, const char *addr, fhttp_fn fn, void *arg,
                           unsigned *ret_port);

/* Close the listener and every connection. Accepts NULL. */
void fhttp_free(struct fhttp *s);

#endif

/* The HTTP client: asynchronous requests on a daemon's event loop, and a blocking fetch for
 * the command line, with the API token and mutual TLS (tls.h). Answers are size-limited and
 * every request has a time-out. Owns its connections; never accepts one. */
#ifndef VMLOC_NET_HTTP_CLIENT_H
#define VMLOC_NET_HTTP_CLIENT_H

#include <stddef.h>

#include "core/compiler.h"
#include "net/http.h" /* HTTP_MAX_TOKEN, HTTP_TIMEOUT_S */

struct event_base;
struct http_tls;

/* The largest answer a client reads unless told otherwise (http_client_set_limits()): a
 * manager's VM list for a large cluster fits; a peer that streams without end does not
 * exhaust our memory. */
#define HTTP_MAX_ANSWER ((size_t)64 * 1024u * 1024u)
/* What all the answers a client is reading at once may hold past their first
 * HTTP_ANSWER_FREE bytes each, unless told otherwise. */
#define HTTP_MAX_HELD (2u * HTTP_MAX_ANSWER)
/* The bytes of each answer that never count against that budget: an answer of a normal size
 * (a sample of a hundred VMs) is never dropped, however many peers answer at once. */
#define HTTP_ANSWER_FREE ((size_t)64 * 1024u)

/* Called once per request: `status` is the HTTP status, or 0 when no answer came (then
 * `body` is NULL and `err` says why). `body` is NUL-terminated and borrowed. */
typedef void (*http_done_fn)(void *arg, int status, const char *body, size_t len, const char *err);

/* An HTTP client on one event loop. It owns every connection it opens: a finished one is
 * freed on the next loop turn (evhttp must not free it inside its own callback), and
 * http_client_free() cancels what is still in flight, so nothing leaks at shutdown. */
struct http_client;

/* A client on `base` (borrowed; must outlive the client). NULL only on OOM. */
struct http_client *http_client_new(struct event_base *base);

/* Cancel requests in flight (their callbacks are not called) and free everything.
 * Accepts NULL. */
void http_client_free(struct http_client *c);

/* Read at most `max_answer` bytes of body per answer (over it, or over HTTP_MAX_HEADERS of
 * headers, the connection is closed and the request reports "answer too large: ..."), and
 * at most `max_held` bytes for all the answers being read at once, past the first
 * HTTP_ANSWER_FREE bytes of each: everything a connection reads for a request (headers,
 * framing, body) counts until the request is delivered. Past `max_held`, the answers that
 * hold the most are dropped (their connections closed, their requests reporting "answer
 * dropped: ...") until the others fit. What answers hold is so at most `max_held` plus
 * HTTP_ANSWER_FREE per request in flight. Once none is
 * held after a large amount was, the freed memory goes back to the system. Applies to the
 * requests sent afterwards. 0, or -EINVAL (`max_answer` 0 or over 2 GiB, or `max_held` below
 * `max_answer` plus HTTP_MAX_HEADERS); the limits in use then stay. */
MUST_CHECK int http_client_set_limits(struct http_client *c, size_t max_answer, size_t max_held);

/* Keep at most `n` connections open at once (in use and kept alive; 0: no limit, the
 * default). A request that needs one more waits, oldest first, until a request ends (a
 * kept-alive connection to another peer is closed first to make room); one still waiting
 * after its time-out fails with "timed out waiting for a connection ...". So a daemon with
 * thousands of peers, rogue ones included, never runs out of descriptors for its own files
 * or its listening socket. */
void http_client_set_max_conns(struct http_client *c, size_t n);

/* Send "Authorization: Bearer TOKEN" with every later request (`token` copied; NULL or ""
 * sends none). -EINVAL when it is longer than HTTP_MAX_TOKEN or holds a control character;
 * the token in use then stays. */
MUST_CHECK int http_client_set_token(struct http_client *c, const char *token);

/* Use `tls` (borrowed; NULL: none) for https:// URLs. Without it an https:// request fails
 * with -EPROTONOSUPPORT; with it, so does an http:// one (the token never crosses a plain
 * connection of a TLS cluster). */
void http_client_set_tls(struct http_client *c, struct http_tls *tls);

/* Send `method` ("POST", "PUT" or "DELETE"; any other is sent as GET) `path` to `base_url`
 * ("http://ADDR:PORT" or "https://ADDR:PORT", as http_url_check() takes) with an optional
 * JSON `body` (copied). The answer must come within `timeout_s` of each step (connecting,
 * sending, each read), with at most HTTP_MAX_HEADERS of headers and HTTP_MAX_ANSWER of body
 * (or the limits set by http_client_set_limits()), else it counts as none. `done` is called from
 * the event loop, never from inside this call, exactly once, unless this returns an error or the
 * client is freed first; it may send new requests but must not free the client. 0, or -EINVAL (bad
 * URL, another scheme, or a space or control character in `path`) / -EPROTONOSUPPORT (scheme and
 * TLS disagree, see http_client_set_tls()) / -ENOMEM / -EIO. */
MUST_CHECK int http_request(struct http_client *c, const char *base_url, const char *method,
                            const char *path, const char *body, double timeout_s, http_done_fn done,
                            void *arg);

/* http_request() to a base URL taken apart before (http_target_parse()). The same results; -EINVAL
 * only for `path`. */
MUST_CHECK int http_request_to(struct http_client *c, const struct http_target *t,
                               const char *method, const char *path, const char *body,
                               double timeout_s, http_done_fn done, void *arg);

/* A blocking request's answer. */
struct http_answer {
    int status;
    char *body;      /* caller frees */
    const char *err; /* why no answer came (in err_buf); NULL when the request was not sent */
    char err_buf[160];
};

/* What a blocking request presents: the API token and, for https:// URLs, TLS. */
struct http_creds {
    const char *token;    /* NULL: none */
    struct http_tls *tls; /* NULL: none */
};

/* Blocking request for the CLI, on an event loop of its own, with `creds` (NULL: none).
 * 0: ret->status and ret->body set. -ECONNREFUSED/-ETIMEDOUT/-EIO with ret->err when no
 * answer came (a refused TLS handshake included); -EINVAL for a bad URL or token;
 * -EPROTONOSUPPORT for https:// without TLS; -ENOMEM. */
MUST_CHECK int http_fetch(const char *base_url, const char *method, const char *path,
                          const char *body, const struct http_creds *creds, double timeout_s,
                          struct http_answer *ret);

#endif

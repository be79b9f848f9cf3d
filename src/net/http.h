/* HTTP for the daemons and the management terminal, on libevent's evhttp: a server with a
 * route table ("/v1/vms/ * /load" patterns, 404 and 405 answered here) and size limits, an
 * asynchronous client for daemons, and a blocking fetch for the CLI. The only module that
 * touches sockets. Bodies are JSON; errors are {"error": "..."} with a 4xx or 5xx code. */
#ifndef VMLOC_NET_HTTP_H
#define VMLOC_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

struct event_base;
struct evhttp_request;

/* Limits on what a peer may send us (documented in docs/protocol.md). */
#define HTTP_MAX_BODY (4u * 1024u * 1024u)
#define HTTP_MAX_HEADERS (16u * 1024u)
/* The largest answer a client reads (a manager's VM list for a large cluster fits; a peer
 * that streams without end does not exhaust our memory). */
#define HTTP_MAX_ANSWER (64u * 1024u * 1024u)
#define HTTP_MAX_PATH_PARTS 8
/* Deepest nesting of arrays and objects in a request body (every body is JSON; the deepest
 * message, a sample, nests 4 levels). */
#define HTTP_MAX_JSON_DEPTH 16
#define HTTP_TIMEOUT_S 10
/* The longest API token (common/token.h's TOKEN_MAX). */
#define HTTP_MAX_TOKEN 256

/* One request being served. Valid only during the handler call, unless http_req_hold(). */
struct http_req {
    struct evhttp_request *ev;
    const char *method;               /* "GET", "POST", ... */
    char *path;                       /* decoded path, without the query */
    char *query;                      /* raw query string or NULL */
    char *parts[HTTP_MAX_PATH_PARTS]; /* path segments (into a copy of path) */
    size_t n_parts;
    const char *body; /* NUL-terminated copy of the body ("" when none) */
    size_t body_len;
    char *storage;
    const struct http_server *server; /* the server it came to */
};

typedef void (*http_handler_fn)(struct http_req *r, void *ctx);

/* A route: method ("GET", ...) and a pattern of segments where "*" matches any one
 * segment, e.g. "/v1/vms/ * /load" written without the spaces. */
struct http_route {
    const char *method;
    const char *pattern;
    http_handler_fn fn;
    bool open; /* served without a credential (the web page's own files) */
};

/* Who may call a server. With a token, every request must carry "Authorization: Bearer
 * TOKEN" (else 401, and nothing runs), except routes marked open and, with `open_reads`, GET
 * and HEAD requests. An empty token turns the check off (tests of the HTTP layer only: every
 * daemon loads one). */
struct http_auth {
    char token[HTTP_MAX_TOKEN + 1];
    char prev_token[HTTP_MAX_TOKEN + 1]; /* also accepted during a rotation; "" = none */
    char token_file[4096];               /* where both came from ("": nowhere to reload) */
    bool open_reads;
    /* With TLS: a request that speaks for a host (registers it, notifies for it, holds a lock
     * as it, moves a VM from it) must come with a client certificate that names that host. */
    bool bind_names;
};

struct http_server;

/* Where a daemon's credentials come from: its config keys token_file, open_reads, tls_cert,
 * tls_key and tls_ca (and the options of the same names). Loaded by the command line into a
 * struct http_auth and a struct http_tls. */
struct http_security_conf {
    char token_file[4096]; /* "" = the default (common/token.h) */
    bool open_reads;       /* GET requests need no token */
    char tls_cert[4096];   /* mutual TLS: all three or none */
    char tls_key[4096];
    char tls_ca[4096];
    bool tls_bind_names; /* struct http_auth's bind_names; needs TLS */
};

/* --- TLS --------------------------------------------------------------------------------- */

/* Mutual TLS for a cluster: this process's certificate and key (PEM) and the cluster's CA.
 * A server with it speaks only TLS and takes only clients whose certificate the CA signed; a
 * client with it uses TLS for https:// URLs, presents its certificate and accepts only servers
 * whose certificate the CA signed. Every member of the cluster holds a certificate of the same
 * CA; host names are not checked against the certificates (docs/security.md). */
struct http_tls;

/* Load `cert`, `key` and `ca` (paths). The key file must not be readable by group or others.
 * 0: *ret set; -EINVAL/-EPERM/-ENOMEM with `err` naming the file and what is wrong. */
MUST_CHECK int http_tls_new(const char *cert, const char *key, const char *ca,
                            struct http_tls **ret, char *err, size_t errlen);

/* Free. Accepts NULL. Every server and client that uses it must be freed first. */
void http_tls_free(struct http_tls *t);

/* Listen on `listen` ("ADDR:PORT"; port 0 picks a free one) and serve `routes` (borrowed;
 * must outlive the server) with `ctx`. 0: *ret set, *ret_port the real port. -EINVAL: bad
 * address. -EADDRINUSE or another -errno: could not bind. -ENOMEM. */
MUST_CHECK int http_server_start(struct event_base *base, const char *listen,
                                 const struct http_route *routes, size_t n_routes, void *ctx,
                                 struct http_server **ret, uint16_t *ret_port);

/* Require `auth` (copied) of every later request. */
void http_server_set_auth(struct http_server *s, const struct http_auth *auth);

/* Accept only TLS connections from now on, with client certificates checked against `tls`
 * (borrowed). */
void http_server_set_tls(struct http_server *s, struct http_tls *tls);

/* Stop listening and free the server. Accepts NULL. */
void http_server_free(struct http_server *s);

/* Answer `r` with `code` and the JSON text `json` (borrowed). */
void http_reply_json(struct http_req *r, int code, const char *json);

/* Answer `r` with `code` and a body of another type (e.g. "text/html"). */
void http_reply_raw(struct http_req *r, int code, const char *content_type, const char *body,
                    size_t len);

/* The number in query parameter `key` ("?limit=50"). 0: absent (*ret unchanged); 1: *ret set;
 * -EINVAL: not a number from `min` to `max`, or the query is malformed. */
MUST_CHECK int http_query_number(const struct http_req *r, const char *key, double min, double max,
                                 double *ret);

/* The `limit` query parameter of a list: a whole number from 1 to `max`, `max` when absent.
 * -1 after answering 400. */
int http_query_limit(struct http_req *r, int max);

/* Answer `r` with `code` and {"error": MESSAGE}. */
void http_reply_error(struct http_req *r, int code, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* May request `r` speak for host `name`? Yes (0) unless its server binds names (TLS with
 * bind_names) and the client's certificate does not name `name` among its DNS names (or its
 * common name when it has none) or IP addresses: -EACCES with `why` saying so. */
MUST_CHECK int http_req_speaks_for(const struct http_req *r, const char *name, char *why,
                                   size_t why_len);

/* http_req_speaks_for(), and on a refusal a 403 with the reason and a log line naming `what`
 * (e.g. "registration"). true when the request may go on. */
bool http_req_check_host(struct http_req *r, const char *name, const char *what);

/* Split "ADDR:PORT" into a NUL-terminated address in `addr` (size `len`) and a port.
 * 0 or -EINVAL. */
MUST_CHECK int http_split_hostport(const char *s, char *addr, size_t len, uint16_t *ret_port);

/* --- client ----------------------------------------------------------------------------- */

/* Called once per request: `status` is the HTTP status, or 0 when no answer came (then
 * `body` is NULL and `err` says why). `body` is NUL-terminated and borrowed. */
typedef void (*http_done_fn)(void *arg, int status, const char *body, size_t len, const char *err);

/* An HTTP client on one event loop. It owns every connection it opens: a finished one is
 * freed on the next loop turn (evhttp must not free it inside its own callback), and
 * http_client_free() cancels what is still in flight, so nothing leaks at shutdown. */
struct http_client;

/* NULL only on OOM. */
struct http_client *http_client_new(struct event_base *base);

/* Cancel requests in flight (their callbacks are not called) and free everything.
 * Accepts NULL. */
void http_client_free(struct http_client *c);

/* Send "Authorization: Bearer TOKEN" with every later request (`token` copied; NULL or ""
 * sends none). -EINVAL when it is longer than HTTP_MAX_TOKEN or holds a control character. */
MUST_CHECK int http_client_set_token(struct http_client *c, const char *token);

/* Use `tls` (borrowed; NULL: none) for https:// URLs. Without it an https:// request fails
 * with -EPROTONOSUPPORT; with it, so does an http:// one (the token never crosses a plain
 * connection of a TLS cluster). */
void http_client_set_tls(struct http_client *c, struct http_tls *tls);

/* Send `method` `path` to `base_url` ("http://ADDR:PORT") with an optional JSON `body`;
 * `done` is called from the event loop, exactly once, unless this returns an error or the
 * client is freed first. 0 or -EINVAL (bad URL) / -ENOMEM / -EIO. */
MUST_CHECK int http_request(struct http_client *c, const char *base_url, const char *method,
                            const char *path, const char *body, double timeout_s, http_done_fn done,
                            void *arg);

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

/* Blocking request for the CLI, with `creds` (NULL: none). 0: ret->status and ret->body set.
 * -ECONNREFUSED/-ETIMEDOUT/-EIO with ret->err when no answer came (a refused TLS handshake
 * included); -EINVAL for a bad URL or token; -EPROTONOSUPPORT for https:// without TLS. */
MUST_CHECK int http_fetch(const char *base_url, const char *method, const char *path,
                          const char *body, const struct http_creds *creds, double timeout_s,
                          struct http_answer *ret);

/* Check that `url` looks like "http://HOST:PORT" or "https://HOST:PORT" with nothing after
 * the port but an optional "/". 0 or -EINVAL. */
MUST_CHECK int http_url_check(const char *url);

/* Most ports http_free_ports() hands out at once. */
#define HTTP_MAX_FREE_PORTS 1024

/* `n` distinct TCP ports free on 127.0.0.1 right now (the kernel's choices for port 0, all held
 * at once so none repeats), for processes that must know each other's address before they
 * start (peer agents in the demo, the tests and the benchmarks). 0 or -errno; another process
 * may still take a port before it is used. */
MUST_CHECK int http_free_ports(int *ports, size_t n);

#endif

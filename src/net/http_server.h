/* The daemons' HTTP server, on libevent's evhttp: a route table ("/v1/vms/ * /load"
 * patterns; 404 and 405 answered here), size limits, the API token check, mutual TLS
 * (tls.h) and the replies. Bodies are JSON; errors are {"error": "..."} with a 4xx or 5xx
 * code. Owns the listening socket and its connections; never sends a request. */
#ifndef VMLOC_NET_HTTP_SERVER_H
#define VMLOC_NET_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "net/http.h" /* HTTP_MAX_TOKEN */

struct event_base;
struct evhttp_request;
struct http_server;
struct http_tls;

/* Limits on what a peer may send us (documented in docs/protocol.md); HTTP_MAX_HEADERS (http.h)
 * and the connection limits (struct http_limits, http_server_set_limits()) apply too. */
#define HTTP_MAX_BODY ((size_t)4 * 1024u * 1024u)
#define HTTP_MAX_PATH_PARTS 8
/* Deepest nesting of arrays and objects in a request body (every body is JSON; the deepest
 * message, a sample, nests 4 levels). */
#define HTTP_MAX_JSON_DEPTH 16

/* One request being served. Valid only during the handler call. */
struct http_req {
    struct evhttp_request *ev;
    const char *method;               /* "GET", "POST", ... */
    char *path;                       /* decoded path, without the query */
    char *query;                      /* raw query string or NULL */
    char *parts[HTTP_MAX_PATH_PARTS]; /* path segments, each decoded on its own ("a%2Fb": "a/b") */
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
    /* Names besides the daemon's own (its host name, its listen address, "localhost" and any
     * address) that a request without a token may name in its Host header (http_host_allowed()):
     * comma-separated, "" = none. Requests with the token may name any. */
    char allowed_hosts[HTTP_MAX_HOST_NAMES];
};

/* Listen on `listen` ("ADDR:PORT"; port 0 picks a free one) and serve `routes` (borrowed;
 * must outlive the server) with `ctx`. 0: *ret set, *ret_port the real port. -EINVAL: bad
 * address. -EADDRINUSE or another -errno: could not bind. -ENOMEM. Nothing is left behind
 * and *ret is untouched on error. */
MUST_CHECK int http_server_start(struct event_base *base, const char *listen,
                                 const struct http_route *routes, size_t n_routes, void *ctx,
                                 struct http_server **ret, uint16_t *ret_port);

/* Require `auth` (copied) of every later request. */
void http_server_set_auth(struct http_server *s, const struct http_auth *auth);

/* Apply `lim` (copied) from now on: connections per server (lowered to fit the open-file limit,
 * with descriptors left for the daemon's own work) and per client address, and the time a
 * client has to send a whole request. A new server has http_limits_init()'s. */
void http_server_set_limits(struct http_server *s, const struct http_limits *lim);

/* Accept only TLS connections from now on, with client certificates checked against `tls`
 * (borrowed; must outlive the server). */
void http_server_set_tls(struct http_server *s, struct http_tls *tls);

/* Stop listening, close every connection and free the server. Accepts NULL. */
void http_server_free(struct http_server *s);

/* Answer `r` with `code` and the JSON text `json` (borrowed). */
void http_reply_json(struct http_req *r, int code, const char *json);

struct json_t;
/* Answer `r` with `code` and the JSON of `j` (taken; NULL: out of memory, answered 503). */
void http_reply_json_value(struct http_req *r, int code, struct json_t *j);

/* Answer `r` with `code` (a 3xx), a "Location: `location`" header and the JSON text `json`;
 * both borrowed. */
void http_reply_redirect(struct http_req *r, int code, const char *location, const char *json);

/* The request's target as it came: its path, still percent-encoded, and its query. */
const char *http_req_target(const struct http_req *r);

/* Answer `r` with `code` and a body of another type (e.g. "text/html"); `body` borrowed. */
void http_reply_raw(struct http_req *r, int code, const char *content_type, const char *body,
                    size_t len);

struct mtext;
/* Answer `r` with the Prometheus text `t` (200), or 503 when building it ran out of memory;
 * `t` is freed either way. */
void http_reply_metrics(struct http_req *r, struct mtext *t);

/* Answer `r` with `code` and {"error": MESSAGE}, MESSAGE made valid UTF-8 and JSON. */
void http_reply_error(struct http_req *r, int code, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* A request answered after its handler has returned: once something it changed is durable
 * elsewhere (the manager's drain, once it is in etcd). */
struct http_later;

/* Keep `r` to answer it later with http_later_reply_json() or http_later_reply_error(): its
 * handler then returns without answering it. Its path, query and body are gone by then. evhttp
 * reads nothing more from the connection until the answer, so it holds the connection (and a
 * descriptor) meanwhile, and a client that hangs up is noticed only then (the answer is
 * dropped): the caller must answer within a bounded time. Every one must be answered exactly
 * once, and before the server is freed. NULL (out of memory): answer `r` now instead. */
struct http_later *http_req_later(struct http_req *r);

/* Answer `l` with `code` and the JSON text `json` (borrowed); frees `l`. */
void http_later_reply_json(struct http_later *l, int code, const char *json);

/* Answer `l` with `code` and {"error": `msg`}, as http_reply_error(); frees `l`. */
void http_later_reply_error(struct http_later *l, int code, const char *msg);

/* The number in query parameter `key` ("?limit=50"). 0: absent (*ret unchanged); 1: *ret set;
 * -EINVAL: not a number from `min` to `max`, or the query is malformed. */
MUST_CHECK int http_query_number(const struct http_req *r, const char *key, double min, double max,
                                 double *ret);

/* The `limit` query parameter of a list: a whole number from 1 to `max`, `max` when absent.
 * -1 after answering 400. */
int http_query_limit(struct http_req *r, int max);

/* May request `r` speak for host `name`? Yes (0) unless its server binds names (TLS with
 * bind_names) and the client's certificate does not name `name` among its DNS names (or its
 * common name when it has none) or IP addresses: -EACCES with `why` saying so. */
MUST_CHECK int http_req_speaks_for(const struct http_req *r, const char *name, char *why,
                                   size_t why_len);

/* http_req_speaks_for(), and on a refusal a 403 with the reason and a log line naming `what`
 * (e.g. "registration"). true when the request may go on. */
bool http_req_check_host(struct http_req *r, const char *name, const char *what);

#endif

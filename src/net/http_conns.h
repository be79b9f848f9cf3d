/* The connections of one HTTP server (http_server.c's helper): counted, capped and timed, so
 * that clients who open many connections, or send slowly, cannot take the daemon's file
 * descriptors or its time. It caps connections per server and per client address, keeps
 * descriptors in reserve for the daemon's own work, pauses accepting while descriptors are
 * short, gives each request a total deadline, and rate-limits its warnings. Owns its records
 * and timers; never reads or answers a request. docs/security.md, "Connections", says what
 * a client sees at each limit. */
#ifndef VMLOC_NET_HTTP_CONNS_H
#define VMLOC_NET_HTTP_CONNS_H

#include "net/http.h" /* struct http_limits */

struct event_base;
struct evconnlistener;
struct evhttp;
struct evhttp_request;
struct http_conns;
struct http_tls;

/* Descriptors kept for the daemon's own work (its store, logs, outgoing requests): the
 * connection cap leaves a quarter of the open-file limit, and at least this many, free. */
#define HTTP_FD_RESERVE ((size_t)64)
/* After accept() fails for want of descriptors, accepting resumes when a connection closes
 * or after this long. */
#define HTTP_ACCEPT_PAUSE_S 0.5
/* Warnings of one kind (connections refused, closed, accept failing) logged at most in a
 * minute; then one line a minute says how many were left out (common/ratelog.h). */
#define HTTP_WARN_BURST 6

/* Track the connections `http` accepts through `lev` (both borrowed; must outlive the
 * tracker), on `base`, under `lim` (copied). Installs itself as `http`'s hook for new
 * connections and as `lev`'s error callback. NULL only on OOM. */
struct http_conns *http_conns_new(struct event_base *base, struct evhttp *http,
                                  struct evconnlistener *lev, const struct http_limits *lim);

/* Apply `lim` (copied) from now on; connections already open stay. */
void http_conns_set_limits(struct http_conns *c, const struct http_limits *lim);

/* Wrap every later connection in TLS with `tls` (borrowed; must outlive the tracker). */
void http_conns_set_tls(struct http_conns *c, struct http_tls *tls);

/* The server's request callback calls this first: `req` has arrived whole, so its connection's
 * deadline stops until the answer is sent (and then starts again, for the next request). */
void http_conns_request_read(struct http_conns *c, struct evhttp_request *req);

/* Forget every connection (they stay open, to be closed by evhttp_free()) and free the
 * tracker. Call before evhttp_free(). Accepts NULL. */
void http_conns_free(struct http_conns *c);

#endif

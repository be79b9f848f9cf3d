/* The connections of one HTTP server (http_conns.h).
 *
 * libevent 2.1's evhttp accepts connections itself and tells its user nothing until a whole
 * request has arrived, so this module hooks in where it can:
 *
 * - evhttp's "bufferevent callback", called for every connection it accepts, before it
 *   makes its connection object: here the connection is counted (a record is made) and,
 *   when the server is full, the oldest connection still waiting for its request is closed
 *   to make room (or, with none, the new one is refused and accepting pauses). The record
 *   holds a reference on the bufferevent until the next turn of the loop, when the
 *   connection object exists: then it is "adopted": its close callback is set (to uncount
 *   it), the per-address cap is checked (by address, which evhttp has by then), and its
 *   deadline is armed.
 * - the server's request callback (http_conns_request_read()) stops the deadline while the
 *   request is served, and the request's completion callback starts it again for the next
 *   request of a kept-alive connection. So a connection must bring each whole request within
 *   request_timeout, however slowly it trickles in: evhttp's own time-out only bounds the
 *   silence between two reads.
 * - the listener's error callback: accept() failing for want of descriptors (EMFILE, ENFILE)
 *   would otherwise be retried by libevent at once, forever, with a log line each time.
 *   Accepting pauses instead, until a connection closes or HTTP_ACCEPT_PAUSE_S passes; the
 *   clients wait in the kernel's backlog meanwhile.
 *
 * The cap counts this server's connections only; it is set below the open-file limit (less
 * HTTP_FD_RESERVE, or a quarter) so that the store and the outgoing requests find
 * descriptors even when the server is full. Lookups walk the list of connections: a few
 * thousand at most, against a request's parsing and answer. */
#define _POSIX_C_SOURCE 200809L
#include "net/http_conns.h"

#include <errno.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>

#include "common/clock.h" /* clock_mono_s() */
#include "common/log.h"
#include "common/ratelog.h"
#include "core/compiler.h" /* PRINTF_LIKE */
#include "net/tls.h"

/* One connection. */
struct conn {
    TAILQ_ENTRY(conn) link;
    struct http_conns *c;
    struct bufferevent *bev;         /* referenced until adopted, then NULL */
    struct evhttp_connection *evcon; /* NULL until adopted */
    struct event *deadline;
    char addr[64]; /* the client's address, once adopted */
    bool reading;  /* no whole request yet: cut at the deadline, or closed to make room */
    bool refused;  /* over the server's cap: closed when adopted */
};

TAILQ_HEAD(conn_list, conn);

struct http_conns {
    struct event_base *base;
    struct evhttp *http;
    struct evconnlistener *lev;
    struct http_tls *tls;
    struct http_limits lim;
    size_t cap;              /* lim.max_connections, lowered to fit the open-file limit */
    struct conn_list fresh;  /* made on accept, adopted on the next turn */
    struct conn_list conns;  /* adopted, oldest first */
    size_t n;                /* in both lists */
    struct event *adopt_ev;  /* adopts `fresh` */
    struct event *resume_ev; /* accepts again after a pause for descriptors */
    bool paused;
    bool registered; /* in live_trackers */
    struct ratelog warn_full, warn_client, warn_slow, warn_accept;
    LIST_ENTRY(http_conns) live;
};

/* libevent hands the listener's error callback the evhttp, not us: the trackers alive, to
 * find ours by its listener. One per server; a daemon has one. */
static LIST_HEAD(, http_conns) live_trackers = LIST_HEAD_INITIALIZER(live_trackers);

/* Log a warning of the kind `r` (`what` names it in the summary of those left out) unless
 * HTTP_WARN_BURST of that kind were logged in the last minute. */
static void warn_rated(struct ratelog *r, const char *what, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void
warn_rated(struct ratelog *r, const char *what, const char *fmt, ...)
{
    if (!ratelog_allow(r, clock_mono_s(), HTTP_WARN_BURST, what))
        return;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_warnx("%s", msg);
}

/* How many connections the open-file limit leaves room for. */
static size_t
fd_budget(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return SIZE_MAX;
    size_t n = (size_t)rl.rlim_cur;
    if (n <= 2 * HTTP_FD_RESERVE)
        return n / 2;
    size_t reserve = n / 4 > HTTP_FD_RESERVE ? n / 4 : HTTP_FD_RESERVE;
    return n - reserve;
}

static struct timeval
seconds_tv(double t)
{
    struct timeval tv;
    tv.tv_sec = (time_t)t;
    tv.tv_usec = (suseconds_t)((t - (double)tv.tv_sec) * 1e6);
    return tv;
}

static void
arm(struct conn *k)
{
    struct timeval tv = seconds_tv(k->c->lim.request_timeout_s);
    if (event_add(k->deadline, &tv) < 0)
        log_warnx("cannot arm a connection's deadline, ignoring");
}

static void
pause_accepting(struct http_conns *c)
{
    if (!c->paused && evconnlistener_disable(c->lev) == 0)
        c->paused = true;
}

/* Accept again, if there is room: a free place, or a connection that can be closed to make
 * one (it waits for a request). */
static void
resume_accepting(struct http_conns *c)
{
    if (!c->paused)
        return;
    bool room = c->n < c->cap;
    struct conn *k;
    TAILQ_FOREACH(k, &c->conns, link)
    {
        if (room)
            break;
        room = k->reading;
    }
    if (room && evconnlistener_enable(c->lev) == 0)
        c->paused = false;
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    resume_accepting(arg);
}

static void
conn_free(struct conn *k, struct conn_list *list)
{
    TAILQ_REMOVE(list, k, link);
    k->c->n--;
    if (k->deadline != NULL)
        event_free(k->deadline);
    if (k->bev != NULL)
        (void)bufferevent_decref(k->bev);
    free(k);
}

/* evhttp is freeing the connection: uncount it, and accept again if that was what held. */
static void
closed_cb(struct evhttp_connection *evcon, void *arg)
{
    struct conn *k = arg;
    struct http_conns *c = k->c;
    (void)evcon;
    conn_free(k, &c->conns);
    resume_accepting(c);
}

/* The connection's time to send a whole request is up: close it without an answer. */
static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *k = arg;
    struct http_conns *c = k->c;
    (void)fd;
    (void)what;
    if (!k->reading)
        return;
    warn_rated(&c->warn_slow, "connections closed at request_timeout",
               "connection closed: no whole request within request_timeout=%gs client=%s",
               c->lim.request_timeout_s, k->addr);
    evhttp_connection_free(k->evcon); /* calls closed_cb(), which frees `k` */
}

/* The answer to the request went out; the connection waits for the next one. */
static void
complete_cb(struct evhttp_request *req, void *arg)
{
    struct conn *k = arg;
    (void)req;
    k->reading = true;
    arm(k);
    resume_accepting(k->c);
}

static size_t
count_from(const struct http_conns *c, const char *addr)
{
    size_t n = 0;
    struct conn *k;
    TAILQ_FOREACH(k, &c->conns, link)
    {
        if (strcmp(k->addr, addr) == 0)
            n++;
    }
    return n;
}

/* `k`'s address holds more than max_connections_per_client: close that address's connection
 * that has waited longest for its request (many agents behind one address keep an idle
 * connection each; an attacker's own idle ones go first). false when every other connection
 * of the address is being served. */
static bool
make_room_for(struct http_conns *c, const struct conn *k)
{
    struct conn *o;
    TAILQ_FOREACH(o, &c->conns, link)
    {
        if (o == k || !o->reading || strcmp(o->addr, k->addr) != 0)
            continue;
        warn_rated(&c->warn_client, "connections refused at max_connections_per_client",
                   "max_connections_per_client=%lu reached: closing the client's connection "
                   "that has waited longest for its request client=%s",
                   (unsigned long)c->lim.max_connections_per_client, k->addr);
        evhttp_connection_free(o->evcon); /* calls closed_cb() */
        return true;
    }
    return false;
}

/* Adopt `k` (removed from `fresh`), whose bufferevent is `bev`: its connection object exists
 * now. */
static void
adopt(struct http_conns *c, struct conn *k, struct bufferevent *bev)
{
    void *evcon = NULL;
    bufferevent_getcb(bev, NULL, NULL, NULL, &evcon);
    TAILQ_INSERT_TAIL(&c->conns, k, link);
    if (evcon == NULL) { /* evhttp could not set it up and freed it already */
        conn_free(k, &c->conns);
        return;
    }
    k->evcon = evcon;
    char *addr = NULL;
    ev_uint16_t port = 0;
    evhttp_connection_get_peer(k->evcon, &addr, &port);
    (void)snprintf(k->addr, sizeof(k->addr), "%s", addr != NULL ? addr : "?");
    evhttp_connection_set_closecb(k->evcon, closed_cb, k);
    if (k->refused) {
        warn_rated(&c->warn_full, "connections refused or closed at max_connections",
                   "connection refused: max_connections=%zu reached and every connection is "
                   "being served client=%s",
                   c->cap, k->addr);
        evhttp_connection_free(k->evcon); /* calls closed_cb() */
        return;
    }
    if (count_from(c, k->addr) > c->lim.max_connections_per_client && !make_room_for(c, k)) {
        warn_rated(&c->warn_client, "connections refused at max_connections_per_client",
                   "connection refused: max_connections_per_client=%lu reached and every "
                   "connection of the client is being served client=%s",
                   (unsigned long)c->lim.max_connections_per_client, k->addr);
        evhttp_connection_free(k->evcon); /* calls closed_cb() */
        return;
    }
    k->reading = true;
    arm(k);
}

static void
adopt_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_conns *c = arg;
    (void)fd;
    (void)what;
    struct conn *k;
    while ((k = TAILQ_FIRST(&c->fresh)) != NULL) {
        struct bufferevent *bev = k->bev;
        TAILQ_REMOVE(&c->fresh, k, link);
        k->bev = NULL;
        adopt(c, k, bev);
        (void)bufferevent_decref(bev); /* the last reference of a connection freed above */
    }
}

/* The server is full: close the connection that has waited longest for its request. false
 * when every connection is being served. */
static bool
make_room(struct http_conns *c)
{
    struct conn *k;
    TAILQ_FOREACH(k, &c->conns, link)
    {
        if (!k->reading)
            continue;
        warn_rated(&c->warn_full, "connections refused or closed at max_connections",
                   "max_connections=%zu reached: closing the connection that has waited "
                   "longest for its request client=%s",
                   c->cap, k->addr);
        evhttp_connection_free(k->evcon); /* calls closed_cb() */
        return true;
    }
    return false;
}

/* evhttp's hook for a connection it has just accepted: make its bufferevent (TLS or plain),
 * and count it. */
static struct bufferevent *
bev_cb(struct event_base *base, void *arg)
{
    struct http_conns *c = arg;
    struct bufferevent *bev;
    if (c->tls != NULL) {
        SSL *ssl = SSL_new(http_tls_server_ctx(c->tls));
        if (ssl == NULL)
            return NULL;
        /* On failure libevent frees `ssl` itself (BEV_OPT_CLOSE_ON_FREE). A client that fails
         * the handshake is dropped before any HTTP is read. */
        bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    } else {
        bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    if (bev == NULL)
        return NULL; /* evhttp makes a plain one itself; a TLS server refuses its requests */
    struct conn *k = calloc(1, sizeof(*k));
    if (k != NULL)
        k->deadline = event_new(base, -1, 0, deadline_cb, k);
    if (k == NULL || k->deadline == NULL) {
        free(k);
        return bev; /* out of memory: served, uncounted; evhttp's own time-out applies */
    }
    k->c = c;
    bufferevent_incref(bev);
    k->bev = bev;
    TAILQ_INSERT_TAIL(&c->fresh, k, link);
    c->n++;
    if (c->n > c->cap) {
        /* Full: one connection per turn of the loop, so that the descriptor of the one
         * closed to make room is released (libevent does it at the end of the turn) before
         * the next is accepted. */
        k->refused = !make_room(c);
        pause_accepting(c);
        if (!k->refused) {
            struct timeval now = {0, 0};
            (void)event_add(c->resume_ev, &now);
        }
    }
    event_active(c->adopt_ev, EV_TIMEOUT, 1);
    return bev;
}

/* accept() failed with an error libevent does not retry by itself. */
static void
accept_error_cb(struct evconnlistener *lev, void *arg)
{
    int err = errno;
    (void)arg;
    struct http_conns *c;
    LIST_FOREACH(c, &live_trackers, live)
    {
        if (c->lev == lev)
            break;
    }
    if (c == NULL)
        return;
    bool short_of_fds = err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
    warn_rated(&c->warn_accept, "accept() failures",
               "cannot accept connections: %s connections=%zu max_connections=%zu%s", strerror(err),
               c->n, c->cap, short_of_fds ? "; pausing until a connection closes" : ", ignoring");
    if (!short_of_fds)
        return;
    pause_accepting(c);
    struct timeval tv = {0, (suseconds_t)(HTTP_ACCEPT_PAUSE_S * 1e6)};
    (void)event_add(c->resume_ev, &tv);
}

/* Apply `lim`; true when the open-file limit lowered the cap. */
static bool
apply_limits(struct http_conns *c, const struct http_limits *lim)
{
    c->lim = *lim;
    size_t budget = fd_budget();
    c->cap = lim->max_connections;
    bool lowered = budget < c->cap;
    if (lowered)
        c->cap = budget;
    if (c->cap == 0)
        c->cap = 1;
    if (c->lim.max_connections_per_client == 0)
        c->lim.max_connections_per_client = 1;
    /* evhttp's own time-out bounds the silence between reads, and each write of an answer. */
    struct timeval tv = seconds_tv(lim->request_timeout_s);
    evhttp_set_timeout_tv(c->http, &tv);
    return lowered;
}

void
http_conns_set_limits(struct http_conns *c, const struct http_limits *lim)
{
    if (apply_limits(c, lim))
        log_info("max_connections lowered to %zu: the open-file limit leaves no more "
                 "descriptors besides those kept for the store and outgoing requests",
                 c->cap);
    resume_accepting(c);
}

void
http_conns_set_tls(struct http_conns *c, struct http_tls *tls)
{
    c->tls = tls;
}

struct http_conns *
http_conns_new(struct event_base *base, struct evhttp *http, struct evconnlistener *lev,
               const struct http_limits *lim)
{
    struct http_conns *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->base = base;
    c->http = http;
    c->lev = lev;
    TAILQ_INIT(&c->fresh);
    TAILQ_INIT(&c->conns);
    c->adopt_ev = event_new(base, -1, 0, adopt_cb, c);
    c->resume_ev = event_new(base, -1, 0, resume_cb, c);
    if (c->adopt_ev == NULL || c->resume_ev == NULL) {
        http_conns_free(c);
        return NULL;
    }
    (void)apply_limits(c, lim);
    LIST_INSERT_HEAD(&live_trackers, c, live);
    c->registered = true;
    evhttp_set_bevcb(http, bev_cb, c);
    evconnlistener_set_error_cb(lev, accept_error_cb);
    return c;
}

void
http_conns_request_read(struct http_conns *c, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct conn *k;
    TAILQ_FOREACH(k, &c->conns, link)
    {
        if (k->evcon == evcon)
            break;
    }
    if (k == NULL)
        return; /* not counted (out of memory when it came) */
    k->reading = false;
    (void)event_del(k->deadline);
    evhttp_request_set_on_complete_cb(req, complete_cb, k);
}

void
http_conns_free(struct http_conns *c)
{
    if (c == NULL)
        return;
    struct conn *k;
    while ((k = TAILQ_FIRST(&c->fresh)) != NULL)
        conn_free(k, &c->fresh);
    while ((k = TAILQ_FIRST(&c->conns)) != NULL) {
        evhttp_connection_set_closecb(k->evcon, NULL, NULL);
        conn_free(k, &c->conns);
    }
    if (c->registered)
        LIST_REMOVE(c, live);
    if (c->adopt_ev != NULL)
        event_free(c->adopt_ev);
    if (c->resume_ev != NULL)
        event_free(c->resume_ev);
    free(c);
}

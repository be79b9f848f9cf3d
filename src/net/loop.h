/* The event loop every daemon runs: libevent's base, an HTTP client, the HTTP server, and
 * signals handled as loop events (the handler itself only records the signal, inside
 * libevent; the callback runs in the loop): SIGTERM and SIGINT stop it cleanly, SIGHUP reads
 * the API token file again and calls the daemon's own reload hook. Under a service manager
 * (NOTIFY_SOCKET) it also says READY=1 once listening, RELOADING=1 and READY=1 around a
 * SIGHUP, STOPPING=1 on a stop, the daemon's STATUS= when it changes, and pings the watchdog
 * (WATCHDOG_USEC) from a timer of the loop itself, so that a stalled loop is noticed. Owns
 * all of these. */
#ifndef VMLOC_NET_LOOP_H
#define VMLOC_NET_LOOP_H

#include <stdint.h>
#include <sys/time.h>

#include "core/compiler.h"
#include "net/http_server.h" /* struct http_auth */
#include "net/sdnotify.h"    /* struct sdnotify */

struct event;
struct event_base;
struct http_client;
struct http_server;
struct http_tls;

struct loop {
    struct event_base *base;
    struct http_client *client;
    struct http_server *http;
    struct event *sig_term;
    struct event *sig_int;
    struct event *sig_hup;
    char addr[200];
    uint16_t port;
    char url[256];
    struct http_auth auth;
    struct http_limits limits; /* for the server; http_limits_init()'s unless set */
    struct http_tls *tls;      /* borrowed; NULL: plain HTTP */
    void (*on_hup)(void *ctx); /* after the token file, on SIGHUP; NULL: none */
    void *on_hup_ctx;
    struct sdnotify notify;    /* the service manager (notify.fd -1: none) */
    struct event *watchdog_ev; /* WATCHDOG=1 at half the watchdog interval; NULL: none */
    struct event *status_ev;   /* the status, checked every LOOP_STATUS_EVERY_S; NULL: none */
    /* Fills `buf` (`len` bytes) with one line on the daemon's state; NULL: none. */
    void (*status_fn)(void *ctx, char *buf, size_t len);
    void *status_ctx;
};

/* How often the daemon's status is asked for (and sent when it changed). */
#define LOOP_STATUS_EVERY_S 1.0

/* Create the base, the client and the signal events; ignore SIGPIPE; raise the open-file
 * limit to its hard maximum (a manager talks to every agent at once).
 * 0 or -ENOMEM (everything created so far is freed by loop_done()). */
MUST_CHECK int loop_init(struct loop *l);

/* Use `auth` (copied) for the server loop_listen() starts, and send its token with every
 * request of the loop's client. Call before loop_listen(). 0 or -EINVAL (a bad token). */
MUST_CHECK int loop_set_auth(struct loop *l, const struct http_auth *auth);

/* Apply `lim` (copied) to the server loop_listen() starts (http_server_set_limits()), and
 * cap the outgoing connections of l->client at what the open-file limit leaves beside the
 * server's max_connections (docs/security.md, "Connections"). Call before loop_listen(). */
void loop_set_limits(struct loop *l, const struct http_limits *lim);

/* What a daemon's loop is set up with (loop_setup()). */
struct loop_conf {
    size_t max_answer;                /* the largest answer the client reads */
    size_t max_held;                  /* the answers it holds at once */
    const struct http_auth *auth;     /* loop_set_auth() */
    const struct http_limits *limits; /* loop_set_limits() */
    struct http_tls *tls;             /* loop_set_tls(); NULL: plain HTTP */
};

/* loop_init(), the client's answer limits (http_client_set_limits()), then loop_set_auth(),
 * loop_set_limits() and loop_set_tls() with `c`: a daemon's loop in one call, which logs what
 * failed. 0 or a negative errno (loop_done() frees what was made). */
MUST_CHECK int loop_setup(struct loop *l, const struct loop_conf *c);

/* On SIGHUP, after the token file is read again, call `fn(ctx)` (NULL: nothing) too: what
 * else the daemon reads again (the agent's peers file). */
void loop_on_hup(struct loop *l, void (*fn)(void *ctx), void *ctx);

/* Under a service manager, `fn(ctx, buf, len)` says in one line what the daemon is doing
 * ("3 hosts (3 up), 1 in conflict, 0 migrations in flight"): asked for when the daemon is
 * ready and every LOOP_STATUS_EVERY_S after, sent as STATUS= when it changed. */
void loop_set_status(struct loop *l, void (*fn)(void *ctx, char *buf, size_t len), void *ctx);

/* Read the token file of the auth in use again (SIGHUP does this): its first token is sent
 * from now on, and both it and the previous one, when the file has one, are accepted. On any
 * error the tokens in use stay and the error is logged. 0 or a negative errno. */
MUST_CHECK int loop_reload_token(struct loop *l);

/* Speak mutual TLS (`tls`, borrowed, must outlive the loop) on the server loop_listen()
 * starts (its URL then starts with https://) and for https:// URLs of the client. Call before
 * loop_listen(). */
void loop_set_tls(struct loop *l, struct http_tls *tls);

/* Serve `routes` with `ctx` on `listen` ("ADDR:PORT"); fills addr, port and url.
 * 0, -EINVAL (bad address) or -errno from binding. */
MUST_CHECK int loop_listen(struct loop *l, const char *listen, const struct http_route *routes,
                           size_t n_routes, void *ctx);

/* Print "listening on http://ADDR:PORT" on standard output and flush it: the one line a
 * supervisor or a test waits for; tell the service manager READY=1 and the status. */
void loop_announce(struct loop *l);

/* Run until a signal stops the loop. 0, or -EIO if the loop failed. */
MUST_CHECK int loop_run(struct loop *l);

/* Free everything (requests in flight are cancelled). Accepts a loop whose init failed. */
void loop_done(struct loop *l);

/* `seconds` as a struct timeval. */
struct timeval loop_tv(double seconds);

#endif

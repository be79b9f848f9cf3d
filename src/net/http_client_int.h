/* Inside the HTTP client: its state, shared by http_client.c (the requests, their answers and
 * the requests waiting for a connection) and http_pool.c (the kept-alive connections). Only
 * those two files include this; everything else uses http_client.h. */
#ifndef VMLOC_NET_HTTP_CLIENT_INT_H
#define VMLOC_NET_HTTP_CLIENT_INT_H

#include <event2/event.h>
#include <event2/http.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "net/http_client.h" /* http_done_fn, HTTP_MAX_TOKEN */

/* Buckets of the kept-alive connections, by peer (a power of two). */
#define HTTP_IDLE_BUCKETS 16384u

/* Time-outs kept as libevent "common time-outs" (call_timeout()); others use the heap. */
#define HTTP_COMMON_TIMEOUTS 8

/* A kept-alive connection (http_pool.c). */
struct idle {
    char key[300]; /* "host:port" */
    uint32_t hash; /* fnv1a(key): compared before the key */
    struct evhttp_connection *conn;
    struct idle *next;  /* in its bucket */
    struct idle *older; /* in the age list */
    struct idle *newer;
    time_t since;
};

/* One request and the connection that carries it. */
struct call {
    struct http_client *client;
    char key[300];
    uint32_t hash; /* fnv1a(key) */
    bool waited;   /* queued for a connection before it was sent (max_conns) */
    bool keep;     /* the answer left the connection usable for another request */
    struct evhttp_connection *conn;
    struct evhttp_request *req; /* NULL once evhttp has finished with it */
    http_done_fn done;
    void *arg;
    const char *err;
    char err_buf[160];    /* for an `err` that is not a constant (a TLS verification's) */
    int status;           /* the answer, kept until it is delivered */
    struct evbuffer *acc; /* the answer's body as it comes (NULL: none yet) */
    bool no_room;         /* the body did not fit in memory */
    char *body;           /* the whole body, NUL-terminated, once the answer is in */
    size_t len;
    bool finished;
    /* What the answer brought so far (headers, framing and body, as read from the socket):
     * an upper bound of the memory it holds; all but its first HTTP_ANSWER_FREE bytes count
     * in the client's `held`. */
    size_t held;
    struct evbuffer *watched; /* the connection's input, while `watch` counts what it reads */
    struct evbuffer_cb_entry *watch;
    bool dropped; /* refused for the client's budget: cancelled on the next loop turn */
    struct call *next;
    struct call *prev;
    /* What to send, kept while the request waits for a connection (max_conns). */
    enum evhttp_cmd_type method;
    char *path;
    char *send_body; /* NULL: none */
    char host[256];
    unsigned short port;
    bool tls;
    double timeout_s;
    double deadline; /* CLOCK_MONOTONIC: a request still waiting then fails */
};

/* Completions are never delivered from inside evhttp: a request that fails at once (a host
 * name that does not resolve) would otherwise call back before http_request() returns, and
 * callers rely on setting their own state after sending. They are queued and delivered,
 * then freed with their connection, by the reaper on the next loop turn. */
struct http_client {
    struct event_base *base;
    struct evdns_base *dns; /* asynchronous name resolution (never block the loop) */
    struct call *live;      /* requests in flight */
    struct call *zombies;   /* finished: deliver, then free with the connection */
    struct event *reaper;
    struct event *wait_timer;             /* at the earliest deadline of the waiting requests */
    struct idle *idle[HTTP_IDLE_BUCKETS]; /* kept-alive connections by peer */
    struct idle *oldest;                  /* the same, by age */
    struct idle *newest;
    size_t n_idle;
    struct idle *spare; /* records kept for the next put (at most HTTP_IDLE_MAX) */
    size_t n_spare;
    struct timeval timeouts[HTTP_COMMON_TIMEOUTS];      /* durations of requests, and */
    const struct timeval *common[HTTP_COMMON_TIMEOUTS]; /* the same as common time-outs */
    size_t n_timeouts;
    char auth_header[HTTP_MAX_TOKEN + 8]; /* "Bearer TOKEN", or "" */
    struct http_tls *tls;                 /* for https:// URLs, or NULL */
    size_t max_answer;                    /* body bytes of one answer */
    size_t max_held;                      /* bytes of all the answers being read */
    size_t held;                          /* what the live requests hold past HTTP_ANSWER_FREE */
    size_t held_peak;                     /* the most held since memory was last trimmed */
    bool any_dropped;                     /* a live request was dropped since the last reap */
    size_t max_conns;                     /* connections open at once (0: no limit) */
    size_t n_conns;                       /* open: in use and kept alive */
    struct call *wait_head;               /* requests waiting for a connection, oldest first */
    struct call *wait_tail;
};

/* ---- the kept-alive connections (http_pool.c) ---- */

/* Is a connection to `key` ("host:port", `hash` its fnv1a()) kept alive? */
bool http_pool_has(const struct http_client *cl, const char *key, uint32_t hash);
/* Take the kept-alive connection to `key` (now the caller's), or NULL: none, or libevent
 * already dropped its socket (then it is closed here). */
struct evhttp_connection *http_pool_take(struct http_client *cl, const char *key, uint32_t hash);
/* Keep `conn` (taken over) for the next request to `key`, or close it (no memory, or its
 * socket is gone). The oldest idle connections are closed first when there are too many or
 * they are too old. */
void http_pool_put(struct http_client *cl, const char *key, uint32_t hash,
                   struct evhttp_connection *conn);
/* Free the records kept for connections in use (http_client_free()). */
void http_pool_free_spares(struct http_client *cl);
/* Close the oldest kept-alive connection; there must be one (cl->oldest != NULL). */
void http_pool_close_oldest(struct http_client *cl);
/* Close `conn`, one of the client's connections (in use or kept), and count it gone. */
void http_pool_conn_free(struct http_client *cl, struct evhttp_connection *conn);

#endif

/* The HTTP client on libevent's evhttp, with kept-alive connections (http_client.h). */
#define _POSIX_C_SOURCE 200809L
#include "net/http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h> /* malloc_trim() */
#endif

#include "common/log.h"
#include "net/http_client_int.h"
#include "net/tls.h"

/* After answers held this much at once, the memory they took is handed back to the system
 * once none is held any more (glibc keeps freed heap memory otherwise). */
#define HTTP_TRIM_AFTER ((size_t)1024 * 1024u)

static void
list_remove(struct call **head, struct call *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->next = NULL;
    c->prev = NULL;
}

static void
list_push(struct call **head, struct call *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head != NULL)
        (*head)->prev = c;
    *head = c;
}

/* Free a finished request; its connection is kept for the next request to the same peer
 * when the answer left it usable, and there is no connection kept for that peer yet. */
/* What of `c`'s answer counts against the client's budget: all but its first
 * HTTP_ANSWER_FREE bytes. */
static size_t
counted(const struct call *c)
{
    return c->held > HTTP_ANSWER_FREE ? c->held - HTTP_ANSWER_FREE : 0;
}

/* Stop counting what `c`'s connection reads: before the connection is reused or freed. */
static void
unwatch(struct call *c)
{
    if (c->watch != NULL)
        (void)evbuffer_remove_cb_entry(c->watched, c->watch);
    c->watch = NULL;
    c->watched = NULL;
}

/* What `c` read is no longer held. When none of the client's answers is held any more after
 * a large amount was, hand the freed memory back to the system: glibc's malloc keeps it
 * otherwise (a flood of answers would leave the daemon that large for good). */
static void
release(struct call *c)
{
    struct http_client *cl = c->client;
    cl->held -= counted(c);
    c->held = 0;
    if (cl->held == 0 && cl->held_peak >= HTTP_TRIM_AFTER) {
        cl->held_peak = 0;
#ifdef __GLIBC__
        (void)malloc_trim(0);
#endif
    }
}

static void
call_free(struct call *c)
{
    struct http_client *cl = c->client;
    unwatch(c);
    if (c->keep && c->conn != NULL) {
        struct evhttp_connection *other = http_pool_take(cl, c->key, c->hash);
        if (other != NULL)
            http_pool_conn_free(cl, other);
        http_pool_put(cl, c->key, c->hash, c->conn);
    } else if (c->conn != NULL) {
        http_pool_conn_free(cl, c->conn);
    }
    if (c->acc != NULL)
        evbuffer_free(c->acc);
    free(c->body);
    free(c->path);
    free(c->send_body);
    release(c);
    free(c);
}

static void dispatch_waiting(struct http_client *cl);
static void arm_wait_timer(struct http_client *cl);
static void wait_timer_cb(evutil_socket_t fd, short what, void *arg);

/* Deliver finished requests (when `deliver`) and free them. A callback may send new
 * requests; they are delivered on a later turn. */
static void
reap(struct http_client *cl, bool deliver)
{
    while (cl->zombies != NULL) {
        struct call *c = cl->zombies;
        list_remove(&cl->zombies, c);
        if (deliver) {
            if (c->status == 0)
                c->done(c->arg, 0, NULL, 0, c->err != NULL ? c->err : "connection failed");
            else if (c->body == NULL)
                c->done(c->arg, 0, NULL, 0, "out of memory");
            else
                c->done(c->arg, c->status, c->body, c->len, NULL);
        }
        call_free(c);
    }
    if (deliver)
        dispatch_waiting(cl);
}

static void call_finish(struct call *c);

/* Cancel the requests dropped for the budget (their connections are closed with what they
 * read), and queue them for delivery with their reason. The live list is walked only when
 * one was dropped: the reaper runs for every finished request, and a walk each time cost a
 * manager with 4,000 requests in flight a round 8 million steps (its busiest function). */
static void
cancel_dropped(struct http_client *cl)
{
    if (!cl->any_dropped)
        return;
    cl->any_dropped = false;
    struct call *next;
    for (struct call *c = cl->live; c != NULL; c = next) {
        next = c->next;
        if (!c->dropped)
            continue;
        unwatch(c);
        evhttp_cancel_request(c->req); /* frees the request; calls only call_error_cb() */
        call_finish(c);
    }
}

static void
reaper_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    cancel_dropped(arg);
    reap(arg, true);
}

/* Refuse the answer `c` is reading, for the client's budget: it no longer counts, and is
 * cancelled on the next loop turn (not here, inside the connection's read). */
static void
drop(struct call *c)
{
    struct http_client *cl = c->client;
    cl->held -= counted(c);
    c->held = 0;
    c->dropped = true;
    c->keep = false;
    (void)snprintf(c->err_buf, sizeof(c->err_buf),
                   "answer dropped: the answers being read at once passed %zu bytes, and it was "
                   "the largest",
                   cl->max_held);
    c->err = c->err_buf;
    cl->any_dropped = true;
    event_active(cl->reaper, 0, 0);
}

/* Count what the connection of request `arg` reads. Past the client's budget, the largest
 * answers being read are dropped until the others fit: a flood from a few peers cannot
 * crowd out the answers of the rest, and answers of a normal size (HTTP_ANSWER_FREE) are
 * never dropped, however many peers answer at once. */
static void
received_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    (void)buf;
    struct call *c = arg;
    struct http_client *cl = c->client;
    if (info->n_added == 0 || c->dropped)
        return;
    size_t before = counted(c);
    c->held += info->n_added;
    cl->held += counted(c) - before;
    if (cl->held > cl->held_peak)
        cl->held_peak = cl->held;
    while (cl->held > cl->max_held) {
        struct call *big = NULL;
        for (struct call *o = cl->live; o != NULL; o = o->next) {
            if (!o->dropped && counted(o) > 0 && (big == NULL || o->held > big->held))
                big = o;
        }
        if (big == NULL)
            break;
        drop(big);
    }
}

struct http_client *
http_client_new(struct event_base *base)
{
    struct http_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->base = base;
    c->max_answer = HTTP_MAX_ANSWER;
    c->max_held = HTTP_MAX_HELD;
    c->reaper = event_new(base, -1, 0, reaper_cb, c);
    c->wait_timer = evtimer_new(base, wait_timer_cb, c);
    if (c->reaper == NULL || c->wait_timer == NULL) {
        if (c->reaper != NULL)
            event_free(c->reaper);
        if (c->wait_timer != NULL)
            event_free(c->wait_timer);
        free(c);
        return NULL;
    }
    c->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
    if (c->dns == NULL) {
        /* No usable resolv.conf: numeric addresses and /etc/hosts still work. */
        c->dns = evdns_base_new(base, 0);
        if (c->dns != NULL && evdns_base_load_hosts(c->dns, NULL) < 0)
            log_debug("no /etc/hosts for name resolution, ignoring");
    }
    return c;
}

void
http_client_free(struct http_client *cl)
{
    if (cl == NULL)
        return;
    while (cl->live != NULL) {
        struct call *c = cl->live;
        list_remove(&cl->live, c);
        unwatch(c);
        c->dropped = true; /* whatever evhttp reports of the cancel goes nowhere */
        if (c->req != NULL)
            evhttp_cancel_request(c->req); /* frees the request, calls nothing of ours */
        call_free(c);
    }
    reap(cl, false);
    while (cl->wait_head != NULL) {
        struct call *c = cl->wait_head;
        cl->wait_head = c->next;
        call_free(c);
    }
    while (cl->oldest != NULL)
        http_pool_close_oldest(cl);
    http_pool_free_spares(cl);
    event_free(cl->reaper);
    event_free(cl->wait_timer);
    if (cl->dns != NULL)
        evdns_base_free(cl->dns, 0);
    free(cl);
}

/* The request is over: queue it for delivery and wake the reaper. */
static void
call_finish(struct call *c)
{
    struct http_client *cl = c->client;
    unwatch(c);
    c->req = NULL;
    c->finished = true;
    list_remove(&cl->live, c);
    list_push(&cl->zombies, c);
    event_active(cl->reaper, 0, 0);
}

/* Over TLS, when the server's certificate was refused: why, in `c->err_buf`. */
static bool
tls_refused(struct call *c)
{
    if (c->conn == NULL)
        return false;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(c->conn);
    SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
    if (ssl == NULL)
        return false;
    long v = SSL_get_verify_result(ssl);
    if (v == X509_V_OK)
        return false;
    (void)snprintf(c->err_buf, sizeof(c->err_buf), "TLS: the server's certificate is refused: %s",
                   X509_verify_cert_error_string(v));
    return true;
}

static void
call_error_cb(enum evhttp_request_error e, void *arg)
{
    struct call *c = arg;
    if (c->dropped)
        return; /* its reason is set */
    if (e != EVREQ_HTTP_TIMEOUT && e != EVREQ_HTTP_DATA_TOO_LONG && tls_refused(c)) {
        c->err = c->err_buf;
        return;
    }
    switch (e) {
    case EVREQ_HTTP_TIMEOUT:
        c->err = "timed out";
        break;
    case EVREQ_HTTP_EOF:
        c->err = "connection closed";
        break;
    case EVREQ_HTTP_DATA_TOO_LONG:
        (void)snprintf(c->err_buf, sizeof(c->err_buf),
                       "answer too large: over %zu bytes of body or %zu bytes of headers",
                       c->client->max_answer, HTTP_MAX_HEADERS);
        c->err = c->err_buf;
        break;
    default:
        c->err = "connection failed";
        break;
    }
}

/* Copy what evhttp has read of the answer's body into the call's own buffer, whose chains
 * are filled before new ones are added: evhttp's own may be mostly empty (one per read,
 * however small the read), so a peer sending in small pieces would make a body take many
 * times its size. A body that does not fit in memory is dropped, and the answer then reports
 * "out of memory". */
static void
take_body(struct call *c, struct evhttp_request *req)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    if (n > 0 && !c->dropped && !c->no_room) {
        if (c->acc == NULL)
            c->acc = evbuffer_new();
        struct evbuffer_iovec v[8];
        struct evbuffer_ptr at;
        (void)evbuffer_ptr_set(in, &at, 0, EVBUFFER_PTR_SET);
        size_t done = 0;
        while (c->acc != NULL && done < n) {
            int k = evbuffer_peek(in, -1, &at, v, 8);
            for (int i = 0; i < k && i < 8 && c->acc != NULL; i++) {
                if (evbuffer_add(c->acc, v[i].iov_base, v[i].iov_len) < 0) {
                    evbuffer_free(c->acc);
                    c->acc = NULL;
                }
                done += v[i].iov_len;
            }
            if (k <= 8 || evbuffer_ptr_set(in, &at, done, EVBUFFER_PTR_SET) < 0)
                break;
        }
        c->no_room = c->acc == NULL;
    }
    (void)evbuffer_drain(in, n);
}

/* Called by evhttp as the body comes, after each read. */
static void
body_cb(struct evhttp_request *req, void *arg)
{
    take_body(arg, req);
}

static void
call_done_cb(struct evhttp_request *req, void *arg)
{
    struct call *c = arg;
    c->status = req != NULL && !c->dropped ? evhttp_request_get_response_code(req) : 0;
    if (c->status != 0) {
        /* HTTP/1.1 keeps the connection unless the peer said otherwise. */
        const char *conn_hdr =
            evhttp_find_header(evhttp_request_get_input_headers(req), "Connection");
        c->keep = evhttp_request_get_response_code(req) > 0 &&
                  (conn_hdr == NULL || evutil_ascii_strcasecmp(conn_hdr, "close") != 0);
        take_body(c, req);
        c->len = c->acc != NULL ? evbuffer_get_length(c->acc) : 0;
        c->body = c->no_room ? NULL : malloc(c->len + 1);
        if (c->body != NULL) {
            if (c->len > 0)
                (void)evbuffer_remove(c->acc, c->body, c->len);
            c->body[c->len] = '\0';
        }
        evbuffer_free(c->acc);
        c->acc = NULL;
    }
    call_finish(c);
}

static enum evhttp_cmd_type
method_code(const char *m)
{
    if (strcmp(m, "POST") == 0)
        return EVHTTP_REQ_POST;
    if (strcmp(m, "PUT") == 0)
        return EVHTTP_REQ_PUT;
    if (strcmp(m, "DELETE") == 0)
        return EVHTTP_REQ_DELETE;
    return EVHTTP_REQ_GET;
}

/* Make `ssl` accept only a certificate that names `host`, the host of the URL: an IP address
 * must be among its subjectAltName IP addresses, a name among its DNS names (or be its common
 * name when it has none; no partial wildcards). 0, or -1. */
static int
tls_expect_host(SSL *ssl, const char *host)
{
    char h[256];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') { /* an IPv6 literal in a URL */
        host++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(h))
        return -1;
    memcpy(h, host, n);
    h[n] = '\0';
    unsigned char addr[16];
    if (inet_pton(AF_INET, h, addr) == 1 || inet_pton(AF_INET6, h, addr) == 1)
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), h) == 1 ? 0 : -1;
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, h) != 1)
        return -1;
    (void)SSL_set_tlsext_host_name(ssl, h);
    return 0;
}

/* A new connection over TLS to `host`: the server's certificate must be signed by the CA and
 * name `host`. */
static struct evhttp_connection *
tls_connection(struct http_client *cl, const char *host, unsigned short port)
{
    SSL *ssl = SSL_new(http_tls_client_ctx(cl->tls));
    if (ssl == NULL)
        return NULL;
    if (tls_expect_host(ssl, host) < 0) {
        SSL_free(ssl);
        return NULL;
    }
    /* On failure libevent frees `ssl` itself (BEV_OPT_CLOSE_ON_FREE). */
    struct bufferevent *bev =
        bufferevent_openssl_socket_new(cl->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                       BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev == NULL)
        return NULL;
    /* evhttp reads an answer to its end; a peer that closes without close_notify has still
     * sent all of it. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    struct evhttp_connection *conn =
        evhttp_connection_base_bufferevent_new(cl->base, cl->dns, bev, host, port);
    if (conn == NULL)
        bufferevent_free(bev);
    return conn;
}

static double
mono_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* `tv` as one of libevent's common time-outs, whose timers wait in a queue of their own
 * rather than in the heap of all timers. Each request re-arms its connection's two timers; at
 * 10,000 connections a heap of 20,000 took a walk with a cache miss a level each time. Up to
 * HTTP_COMMON_TIMEOUTS durations, the first the client sends with (a manager's are its round's
 * and HTTP_TIMEOUT_S; the etcd client's vary with its calls' deadlines and soon use the heap
 * again); past that, `tv` itself. */
static const struct timeval *
call_timeout(struct http_client *cl, const struct timeval *tv)
{
    for (size_t i = 0; i < cl->n_timeouts; i++) {
        if (cl->timeouts[i].tv_sec == tv->tv_sec && cl->timeouts[i].tv_usec == tv->tv_usec)
            return cl->common[i];
    }
    if (cl->n_timeouts == HTTP_COMMON_TIMEOUTS)
        return tv;
    const struct timeval *common = event_base_init_common_timeout(cl->base, tv);
    if (common == NULL)
        return tv;
    cl->timeouts[cl->n_timeouts] = *tv;
    cl->common[cl->n_timeouts] = common;
    cl->n_timeouts++;
    return common;
}

/* Open `c`'s connection (a kept-alive one to its peer if there is one) and send it. 0, or
 * -ENOMEM / -EIO with nothing left open; `c` itself is the caller's then. */
static int
call_start(struct call *c)
{
    struct http_client *cl = c->client;
    c->conn = http_pool_take(cl, c->key, c->hash);
    if (c->conn == NULL) {
        c->conn = c->tls ? tls_connection(cl, c->host, c->port)
                         : evhttp_connection_base_new(cl->base, cl->dns, c->host, c->port);
        if (c->conn != NULL) {
            cl->n_conns++;
            evhttp_connection_set_max_headers_size(c->conn, HTTP_MAX_HEADERS);
        }
    }
    if (c->conn != NULL) {
        evhttp_connection_set_max_body_size(c->conn, (ev_ssize_t)cl->max_answer);
        /* Everything the connection reads for this request is counted (received_cb()). */
        c->watched = bufferevent_get_input(evhttp_connection_get_bufferevent(c->conn));
        c->watch = evbuffer_add_cb(c->watched, received_cb, c);
    }
    c->req = evhttp_request_new(call_done_cb, c);
    if (c->conn == NULL || c->watch == NULL || c->req == NULL) {
        unwatch(c);
        if (c->conn != NULL)
            http_pool_conn_free(cl, c->conn);
        c->conn = NULL;
        if (c->req != NULL)
            evhttp_request_free(c->req);
        c->req = NULL;
        return -ENOMEM;
    }
    evhttp_request_set_error_cb(c->req, call_error_cb);
    evhttp_request_set_chunked_cb(c->req, body_cb);
    struct timeval tv;
    /* A request that waited for its connection has what is left of its time-out. */
    double left = c->waited ? c->deadline - mono_s() : c->timeout_s;
    if (left > c->timeout_s)
        left = c->timeout_s;
    if (left < 0.001)
        left = 0.001;
    tv.tv_sec = (time_t)left;
    tv.tv_usec = (suseconds_t)((left - (double)tv.tv_sec) * 1e6);
    evhttp_connection_set_timeout_tv(c->conn, c->waited ? &tv : call_timeout(cl, &tv));
    evhttp_connection_set_retries(c->conn, 0);
    struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
    (void)evhttp_add_header(h, "Host", c->host);
    if (cl->auth_header[0] != '\0')
        (void)evhttp_add_header(h, "Authorization", cl->auth_header);
    if (c->send_body != NULL) {
        (void)evhttp_add_header(h, "Content-Type", "application/json");
        (void)evbuffer_add(evhttp_request_get_output_buffer(c->req), c->send_body,
                           strlen(c->send_body));
    }
    /* In the list before sending: evhttp may finish the request at once. */
    list_push(&cl->live, c);
    if (evhttp_make_request(c->conn, c->req, c->method, c->path) < 0) {
        if (c->finished)
            return 0; /* already queued for delivery */
        /* evhttp freed the request and will call nothing. */
        list_remove(&cl->live, c);
        c->req = NULL;
        http_pool_conn_free(cl, c->conn);
        c->conn = NULL;
        return -EIO;
    }
    return 0;
}

/* Must a request to `key` wait for a connection? Not while there is a kept-alive one to its
 * peer, or room for one more; at the limit, the oldest kept-alive connection (to another
 * peer) is closed to make room. */
static bool
must_wait(struct http_client *cl, const struct call *c)
{
    if (cl->max_conns == 0 || cl->n_conns < cl->max_conns || http_pool_has(cl, c->key, c->hash))
        return false;
    if (cl->oldest == NULL)
        return true;
    http_pool_close_oldest(cl);
    return false;
}

/* Deliver `c`, which never had a connection, with `err` on the next loop turn. */
static void
call_fail_later(struct call *c, const char *err)
{
    struct http_client *cl = c->client;
    c->err = err;
    c->finished = true;
    list_push(&cl->zombies, c);
    event_active(cl->reaper, 0, 0);
}

/* Send the waiting requests that now find a connection, oldest first; those that waited
 * past their time-out fail. */
static void
dispatch_waiting(struct http_client *cl)
{
    double now = mono_s();
    /* Those whose time is up fail, wherever they are in the queue. */
    struct call *prev = NULL;
    for (struct call *c = cl->wait_head, *next; c != NULL; c = next) {
        next = c->next;
        if (now < c->deadline) {
            prev = c;
            continue;
        }
        if (prev != NULL)
            prev->next = next;
        else
            cl->wait_head = next;
        if (cl->wait_tail == c)
            cl->wait_tail = prev;
        c->next = NULL;
        call_fail_later(c, "timed out waiting for a connection (the client's limit of open "
                           "connections was reached)");
    }
    while (cl->wait_head != NULL && !must_wait(cl, cl->wait_head)) {
        struct call *c = cl->wait_head;
        cl->wait_head = c->next;
        if (cl->wait_head == NULL)
            cl->wait_tail = NULL;
        c->next = NULL;
        int r = call_start(c);
        if (r < 0)
            call_fail_later(c, r == -ENOMEM ? "could not send the request (out of memory)"
                                            : "could not send the request");
    }
    arm_wait_timer(cl);
}

/* Wake at the earliest deadline of the waiting requests (none: no wake-up). */
static void
arm_wait_timer(struct http_client *cl)
{
    if (cl->wait_head == NULL) {
        (void)evtimer_del(cl->wait_timer);
        return;
    }
    double first = cl->wait_head->deadline;
    for (const struct call *c = cl->wait_head->next; c != NULL; c = c->next)
        first = c->deadline < first ? c->deadline : first;
    double in = first - mono_s();
    if (in < 0)
        in = 0;
    struct timeval tv = {(time_t)in, (suseconds_t)((in - (double)(time_t)in) * 1e6)};
    (void)evtimer_add(cl->wait_timer, &tv);
}

static void
wait_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    dispatch_waiting(arg);
}

int
http_request(struct http_client *cl, const char *base_url, const char *method, const char *path,
             const char *body, double timeout_s, http_done_fn done, void *arg)
{
    struct http_target t;
    if (http_target_parse(&t, base_url) < 0)
        return -EINVAL;
    return http_request_to(cl, &t, method, path, body, timeout_s, done, arg);
}

int
http_request_to(struct http_client *cl, const struct http_target *t, const char *method,
                const char *path, const char *body, double timeout_s, http_done_fn done, void *arg)
{
    /* A client with TLS talks TLS only: its token must not cross a plain connection. */
    if (t->tls != (cl->tls != NULL))
        return -EPROTONOSUPPORT;
    /* The path goes into the request line as it is: a space or a control character in it
     * (from an id that was never checked) would end that line and start another request. */
    for (const char *p = path; *p != '\0'; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return -EINVAL;
    }
    struct call *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->client = cl;
    c->done = done;
    c->arg = arg;
    c->method = method_code(method);
    c->tls = t->tls;
    c->port = t->port;
    c->timeout_s = timeout_s;
    c->deadline = mono_s() + timeout_s;
    memcpy(c->host, t->key + t->host_at, t->host_len);
    c->host[t->host_len] = '\0';
    /* Kept-alive connections are told apart by scheme too. */
    size_t key_len = strnlen(t->key, sizeof(t->key) - 1);
    memcpy(c->key, t->key, key_len);
    c->key[key_len] = '\0';
    c->hash = t->hash;
    c->path = strdup(path);
    c->send_body = body != NULL ? strdup(body) : NULL;
    if (c->path == NULL || (body != NULL && c->send_body == NULL)) {
        call_free(c);
        return -ENOMEM;
    }
    if (cl->wait_head != NULL || must_wait(cl, c)) {
        c->waited = true;
        if (cl->wait_tail != NULL)
            cl->wait_tail->next = c;
        else
            cl->wait_head = c;
        cl->wait_tail = c;
        arm_wait_timer(cl);
        return 0;
    }
    int r = call_start(c);
    if (r < 0)
        call_free(c);
    return r;
}

void
http_client_set_max_conns(struct http_client *c, size_t n)
{
    c->max_conns = n;
}

void
http_client_set_tls(struct http_client *c, struct http_tls *tls)
{
    c->tls = tls;
}

int
http_client_set_limits(struct http_client *c, size_t max_answer, size_t max_held)
{
    if (max_answer == 0 || max_answer > (size_t)INT32_MAX ||
        max_held < max_answer + HTTP_MAX_HEADERS)
        return -EINVAL;
    c->max_answer = max_answer;
    c->max_held = max_held;
    return 0;
}

int
http_client_set_token(struct http_client *c, const char *token)
{
    if (token == NULL || token[0] == '\0') {
        c->auth_header[0] = '\0';
        return 0;
    }
    if (strlen(token) > HTTP_MAX_TOKEN)
        return -EINVAL;
    for (const char *p = token; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return -EINVAL;
    (void)snprintf(c->auth_header, sizeof(c->auth_header), "Bearer %s", token);
    return 0;
}

/* The HTTP client on libcurl's multi interface, driven by the caller's libevent base
 * (http_client.h).
 *
 * libcurl does the HTTP: connections, keep-alive and their pool, name resolution, TLS,
 * time-outs. It does no waiting of its own: it tells us, through two callbacks, which
 * sockets it wants to hear about (CURLMOPT_SOCKETFUNCTION: a libevent event per socket,
 * struct watch) and when it next needs to be called whatever happens on them
 * (CURLMOPT_TIMERFUNCTION: one libevent timer). When an event or the timer fires we hand it to
 * curl_multi_socket_action(), which moves every transfer concerned along, and then read the
 * finished transfers (curl_multi_info_read()) and call their callbacks. A request therefore
 * never completes inside http_request(): curl_multi_add_handle() only arms the timer, and
 * the transfer starts when the loop next runs. This is the scheme of libcurl's hiperfifo.c
 * example.
 *
 * The limits are ours: a header callback counts the answer's header bytes against
 * HTTP_MAX_HEADERS, the body callback its bytes against HTTP_MAX_ANSWER, and libcurl aborts
 * the transfer when either says no. */
#define _POSIX_C_SOURCE 200809L
#include "net/http_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/http.h> /* evhttp_uri_parse() */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/tls.h"

/* Connections kept open after an answer for the next request to the same peer (a manager
 * asks each agent once per interval): at most this many in all, the oldest closed first. */
#define HTTP_CLIENT_MAX_IDLE 16384
/* A kept-alive connection idle for longer is closed rather than reused. */
#define HTTP_CLIENT_IDLE_MAX_AGE_S 60
/* The longest URL (base URL and path) a request goes to. */
#define HTTP_CLIENT_MAX_URL 2048
/* The first allocation for an answer's body (a sample of 25 VMs is about 5.5 KB). */
#define HTTP_CLIENT_BODY_START 8192u
/* Easy handles kept for the next requests (libcurl's per-transfer state: allocating it anew
 * for each request is a good part of the client's cost). */
#define HTTP_CLIENT_SPARE_EASY 1024
/* The longest time-out a request takes (more would overflow libcurl's milliseconds). */
#define HTTP_CLIENT_MAX_TIMEOUT_S 86400.0

/* A socket libcurl asked us to watch, and its event. */
struct watch {
    struct event *ev;
    struct watch *next;
    struct watch *prev;
};

/* One request. */
struct call {
    struct http_client *client;
    CURL *easy;
    struct curl_slist *headers;
    http_done_fn done;
    void *arg;
    char host[256]; /* the URL's host, for the check of the server's certificate */
    char *body;     /* the answer so far, NUL-terminated when not NULL */
    size_t len;
    size_t cap;
    size_t header_bytes;
    bool too_large; /* a limit was hit */
    bool no_memory;
    char curl_err[CURL_ERROR_SIZE]; /* libcurl's own words for a failure */
    char err[200];                  /* ours, given to the callback */
    struct call *next;
    struct call *prev;
};

struct http_client {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;   /* libcurl's time-outs */
    struct call *live;     /* requests in flight */
    struct watch *watches; /* sockets libcurl watches */
    char auth_header[sizeof("Authorization: Bearer ") + HTTP_MAX_TOKEN]; /* or "" */
    struct http_tls *tls; /* for https:// URLs, or NULL */
    CURL *spare[HTTP_CLIENT_SPARE_EASY];
    size_t n_spare;
};

static void
call_link(struct call **head, struct call *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head != NULL)
        (*head)->prev = c;
    *head = c;
}

static void
call_unlink(struct call **head, struct call *c)
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

/* Free a request that is in no list and no longer in the multi handle. */
static void
call_free(struct call *c)
{
    struct http_client *cl = c->client;
    if (c->easy != NULL && cl->n_spare < HTTP_CLIENT_SPARE_EASY)
        cl->spare[cl->n_spare++] = c->easy;
    else if (c->easy != NULL)
        curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->headers);
    free(c->body);
    free(c);
}

static void
watch_free(struct http_client *cl, struct watch *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        cl->watches = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    if (w->ev != NULL)
        event_free(w->ev);
    free(w);
}

/* Why request `c` got no answer, in c->err (`result` is libcurl's verdict). */
static const char *
call_error(struct call *c, CURLcode result)
{
    if (c->no_memory || result == CURLE_OUT_OF_MEMORY)
        return "out of memory";
    if (c->too_large || result == CURLE_FILESIZE_EXCEEDED)
        return "answer too large";
    const char *detail = c->curl_err[0] != '\0' ? c->curl_err : curl_easy_strerror(result);
    switch (result) {
    case CURLE_OPERATION_TIMEDOUT:
        return "timed out";
    case CURLE_GOT_NOTHING:
        return "connection closed";
    case CURLE_PEER_FAILED_VERIFICATION:
        http_tls_refusal(c->easy, detail, c->err, sizeof(c->err));
        return c->err;
    default:
        (void)snprintf(c->err, sizeof(c->err), "connection failed: %.160s", detail);
        return c->err;
    }
}

/* Request `c` is over (`result`): take it out of the client, call its callback, free it. */
static void
call_end(struct call *c, CURLcode result)
{
    struct http_client *cl = c->client;
    long status = 0;
    if (result == CURLE_OK &&
        curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
        status = 0;
    call_unlink(&cl->live, c);
    (void)curl_multi_remove_handle(cl->multi, c->easy);
    if (result == CURLE_OK && status > 0) {
        c->done(c->arg, (int)status, c->body != NULL ? c->body : "", c->len, NULL);
    } else {
        const char *why = result == CURLE_OK ? "no HTTP answer" : call_error(c, result);
        c->done(c->arg, 0, NULL, 0, why);
    }
    call_free(c);
}

/* Deliver every request libcurl has finished. */
static void
deliver_finished(struct http_client *cl)
{
    CURLMsg *msg;
    int left = 0;
    while ((msg = curl_multi_info_read(cl->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURLcode result = msg->data.result; /* `msg` dies with the handle's removal */
        char *priv = NULL;
        if (curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv) != CURLE_OK ||
            priv == NULL)
            continue; /* not ours: cannot happen */
        call_end((struct call *)(void *)priv, result);
    }
}

/* libevent: a watched socket is ready. */
static void
socket_event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_client *cl = arg;
    int action = ((what & EV_READ) != 0 ? CURL_CSELECT_IN : 0) |
                 ((what & EV_WRITE) != 0 ? CURL_CSELECT_OUT : 0);
    int running = 0;
    (void)curl_multi_socket_action(cl->multi, fd, action, &running);
    deliver_finished(cl);
}

/* libevent: libcurl's time-out is due. */
static void
timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct http_client *cl = arg;
    int running = 0;
    (void)curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    deliver_finished(cl);
}

/* libcurl: watch socket `s` for `what` (CURL_POLL_IN/OUT/INOUT), or no longer
 * (CURL_POLL_REMOVE). `socketp` is the struct watch we gave it, NULL the first time. */
static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    struct http_client *cl = userp;
    struct watch *w = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (w != NULL)
            watch_free(cl, w);
        return 0;
    }
    short kind = (short)(EV_PERSIST | ((what & CURL_POLL_IN) != 0 ? EV_READ : 0) |
                         ((what & CURL_POLL_OUT) != 0 ? EV_WRITE : 0));
    if (w == NULL) {
        w = calloc(1, sizeof(*w));
        if (w == NULL)
            return -1;
        w->next = cl->watches;
        if (cl->watches != NULL)
            cl->watches->prev = w;
        cl->watches = w;
        w->ev = event_new(cl->base, s, kind, socket_event_cb, cl);
        if (w->ev == NULL || curl_multi_assign(cl->multi, s, w) != CURLM_OK) {
            watch_free(cl, w);
            return -1;
        }
    } else {
        /* A new interest: the event is re-armed with it. */
        (void)event_del(w->ev);
        if (event_assign(w->ev, cl->base, s, kind, socket_event_cb, cl) < 0)
            return -1;
    }
    return event_add(w->ev, NULL) < 0 ? -1 : 0;
}

/* libcurl: call curl_multi_socket_action(CURL_SOCKET_TIMEOUT) in `timeout_ms` (0: at once,
 * on the next loop turn), or never (-1). */
static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct http_client *cl = userp;
    if (timeout_ms < 0)
        return event_del(cl->timer) < 0 ? -1 : 0;
    struct timeval tv;
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    return event_add(cl->timer, &tv) < 0 ? -1 : 0;
}

/* libcurl: header bytes of the answer (each header line, the status line included). */
static size_t
header_cb(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    struct call *c = arg;
    size_t len = size * n;
    if (len > HTTP_MAX_HEADERS - c->header_bytes) {
        c->too_large = true;
        return 0; /* abort */
    }
    c->header_bytes += len;
    return len;
}

/* libcurl: body bytes of the answer, kept up to HTTP_MAX_ANSWER. */
static size_t
body_cb(char *data, size_t size, size_t n, void *arg)
{
    struct call *c = arg;
    size_t len = size * n;
    if (len > HTTP_MAX_ANSWER - c->len) {
        c->too_large = true;
        return 0; /* abort */
    }
    if (c->len + len + 1 > c->cap) {
        size_t cap = c->cap != 0 ? c->cap : HTTP_CLIENT_BODY_START;
        while (cap < c->len + len + 1)
            cap *= 2;
        if (cap > (size_t)HTTP_MAX_ANSWER + 1)
            cap = (size_t)HTTP_MAX_ANSWER + 1;
        char *b = realloc(c->body, cap);
        if (b == NULL) {
            c->no_memory = true;
            return 0;
        }
        c->body = b;
        c->cap = cap;
    }
    memcpy(c->body + c->len, data, len);
    c->len += len;
    c->body[c->len] = '\0';
    return len;
}

struct http_client *
http_client_new(struct event_base *base)
{
    /* Reference-counted by libcurl, and thread-safe in the versions we build with. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return NULL;
    struct http_client *cl = calloc(1, sizeof(*cl));
    if (cl == NULL) {
        curl_global_cleanup();
        return NULL;
    }
    cl->base = base;
    cl->multi = curl_multi_init();
    cl->timer = evtimer_new(base, timer_event_cb, cl);
    if (cl->multi == NULL || cl->timer == NULL ||
        curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION, socket_cb) != CURLM_OK ||
        curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl) != CURLM_OK ||
        curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION, timer_cb) != CURLM_OK ||
        curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl) != CURLM_OK ||
        /* Without a size the pool shrinks with the requests in flight: a manager's
         * connections to its agents would close at the end of every round. */
        curl_multi_setopt(cl->multi, CURLMOPT_MAXCONNECTS, (long)HTTP_CLIENT_MAX_IDLE) !=
            CURLM_OK) {
        http_client_free(cl);
        return NULL;
    }
    return cl;
}

void
http_client_free(struct http_client *cl)
{
    if (cl == NULL)
        return;
    while (cl->live != NULL) {
        struct call *c = cl->live;
        call_unlink(&cl->live, c);
        (void)curl_multi_remove_handle(cl->multi, c->easy); /* calls nothing of the caller's */
        call_free(c);
    }
    /* Closes the kept-alive connections; libcurl may still call socket_cb() and timer_cb(). */
    if (cl->multi != NULL)
        (void)curl_multi_cleanup(cl->multi);
    while (cl->watches != NULL)
        watch_free(cl, cl->watches);
    while (cl->n_spare > 0)
        curl_easy_cleanup(cl->spare[--cl->n_spare]);
    if (cl->timer != NULL)
        event_free(cl->timer);
    free(cl);
    curl_global_cleanup();
}

void
http_client_set_tls(struct http_client *c, struct http_tls *tls)
{
    c->tls = tls;
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
    (void)snprintf(c->auth_header, sizeof(c->auth_header), "Authorization: Bearer %s", token);
    return 0;
}

/* The URL of `path` at `base_url`'s scheme, host and port, in `url` (size `len`), and the
 * host in `host` (size `host_len`). As libevent reads URLs, so that it takes what
 * http_url_check() takes. 0, or -EINVAL (not http:// or https://, no host or port, or too
 * long). */
static int
request_url(const char *base_url, const char *path, char *url, size_t len, char *host,
            size_t host_len, bool *ret_tls)
{
    struct evhttp_uri *u = evhttp_uri_parse(base_url);
    if (u == NULL)
        return -EINVAL;
    const char *scheme = evhttp_uri_get_scheme(u);
    const char *h = evhttp_uri_get_host(u);
    int port = evhttp_uri_get_port(u);
    bool tls = scheme != NULL && strcmp(scheme, "https") == 0;
    bool plain = scheme != NULL && strcmp(scheme, "http") == 0;
    int r = -EINVAL;
    if ((tls || plain) && h != NULL && h[0] != '\0' && strlen(h) < host_len && port > 0 &&
        port <= 65535) {
        int n =
            snprintf(url, len, "%s://%s:%d%s%s", scheme, h, port, path[0] == '/' ? "" : "/", path);
        if (n > 0 && (size_t)n < len) {
            (void)snprintf(host, host_len, "%s", h);
            *ret_tls = tls;
            r = 0;
        }
    }
    evhttp_uri_free(u);
    return r;
}

/* The request's headers: the token, and the body's type. 0 or -ENOMEM. */
static int
call_headers(struct call *c, const char *method, const char *body)
{
    const char *lines[3];
    size_t n = 0;
    if (c->client->auth_header[0] != '\0')
        lines[n++] = c->client->auth_header;
    if (body != NULL) {
        lines[n++] = "Content-Type: application/json";
        lines[n++] = "Expect:"; /* send the body at once, without waiting for a 100 */
    } else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
        lines[n++] = "Content-Type:"; /* no type for no body (libcurl would say a form) */
    }
    for (size_t i = 0; i < n; i++) {
        struct curl_slist *h = curl_slist_append(c->headers, lines[i]);
        if (h == NULL)
            return -ENOMEM;
        c->headers = h;
    }
    return 0;
}

/* The method and the body (copied) of the request: POST, PUT and DELETE as named, anything
 * else as GET (without a body). */
static bool
call_method(CURL *e, const char *method, const char *body)
{
    bool post = strcmp(method, "POST") == 0;
    bool put = strcmp(method, "PUT") == 0;
    bool del = strcmp(method, "DELETE") == 0;
    if (!post && !put && !del)
        return curl_easy_setopt(e, CURLOPT_HTTPGET, 1L) == CURLE_OK;
    bool ok = true;
    if (post || put || body != NULL) {
        const char *b = body != NULL ? body : "";
        ok = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(b)) == CURLE_OK &&
             curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, b) == CURLE_OK;
    }
    if (ok && !post)
        ok = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
    return ok;
}

/* Every option of request `c`. 0 or -ENOMEM. */
static int
call_setup(struct call *c, const char *url, const char *method, const char *body, double timeout_s)
{
    CURL *e = c->easy;
    if (!(timeout_s < HTTP_CLIENT_MAX_TIMEOUT_S))
        timeout_s = HTTP_CLIENT_MAX_TIMEOUT_S;
    long ms = timeout_s > 0.001 ? (long)(timeout_s * 1000.0 + 0.5) : 1; /* 0 would be none */
    if (call_headers(c, method, body) < 0)
        return -ENOMEM;
    bool ok =
        curl_easy_setopt(e, CURLOPT_URL, url) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)c) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->curl_err) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_HEADERDATA, (void *)c) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, body_cb) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)c) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_MAX_ANSWER) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, ms) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ms) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_MAXAGE_CONN, (long)HTTP_CLIENT_IDLE_MAX_AGE_S) == CURLE_OK &&
        /* No cache of names: a reused connection needs no name, and libcurl (7.88) walks its
         * whole cache at the end of every request, one entry per peer. */
        curl_easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, 0L) == CURLE_OK &&
        /* HTTP/1.1 to our own daemons only: no proxy from the environment, no redirect, no
         * other protocol, no signals (the daemons own theirs). */
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_PROXY, "") == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) == CURLE_OK &&
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK && call_method(e, method, body);
    if (!ok)
        return -ENOMEM;
    if (c->client->tls != NULL)
        return http_tls_client_setup(c->client->tls, e, c->host);
    return 0;
}

int
http_request(struct http_client *cl, const char *base_url, const char *method, const char *path,
             const char *body, double timeout_s, http_done_fn done, void *arg)
{
    char url[HTTP_CLIENT_MAX_URL];
    char host[256];
    bool tls = false;
    int r = request_url(base_url, path, url, sizeof(url), host, sizeof(host), &tls);
    if (r < 0)
        return r;
    /* A client with TLS talks TLS only: its token must not cross a plain connection. */
    if (tls != (cl->tls != NULL))
        return -EPROTONOSUPPORT;
    struct call *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -ENOMEM;
    c->client = cl;
    c->done = done;
    c->arg = arg;
    (void)snprintf(c->host, sizeof(c->host), "%s", host);
    if (cl->n_spare > 0) {
        c->easy = cl->spare[--cl->n_spare];
        curl_easy_reset(c->easy);
    } else {
        c->easy = curl_easy_init();
    }
    r = c->easy != NULL ? call_setup(c, url, method, body, timeout_s) : -ENOMEM;
    /* Adding only arms the timer: nothing is sent, and nothing can finish, before the loop
     * runs again. */
    if (r == 0 && curl_multi_add_handle(cl->multi, c->easy) != CURLM_OK)
        r = -EIO;
    if (r < 0) {
        call_free(c);
        return r;
    }
    call_link(&cl->live, c);
    return 0;
}

struct fetch {
    struct event_base *base;
    struct http_client *client;
    int status;
    char *body;
    char err[160]; /* "" when none */
    bool done;
};

static void
fetch_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct fetch *f = arg;
    f->status = status;
    if (err != NULL)
        (void)snprintf(f->err, sizeof(f->err), "%s", err);
    if (body != NULL) {
        f->body = malloc(len + 1);
        if (f->body != NULL) {
            memcpy(f->body, body, len);
            f->body[len] = '\0';
        }
    }
    f->done = true;
    (void)event_base_loopbreak(f->base);
}

int
http_fetch(const char *base_url, const char *method, const char *path, const char *body,
           const struct http_creds *creds, double timeout_s, struct http_answer *ret)
{
    struct fetch f;
    memset(&f, 0, sizeof(f));
    memset(ret, 0, sizeof(*ret));
    f.base = event_base_new();
    if (f.base == NULL)
        return -ENOMEM;
    f.client = http_client_new(f.base);
    if (f.client == NULL) {
        event_base_free(f.base);
        return -ENOMEM;
    }
    int r = http_client_set_token(f.client, creds != NULL ? creds->token : NULL);
    if (creds != NULL)
        http_client_set_tls(f.client, creds->tls);
    if (r == 0)
        r = http_request(f.client, base_url, method, path, body, timeout_s, fetch_done, &f);
    if (r < 0) {
        http_client_free(f.client);
        event_base_free(f.base);
        return r;
    }
    /* Until the answer, or until nothing is left to wait for (which would be a bug). */
    while (!f.done) {
        if (event_base_dispatch(f.base) != 0)
            break;
    }
    http_client_free(f.client);
    event_base_free(f.base);
    if (!f.done || f.status == 0) {
        (void)snprintf(ret->err_buf, sizeof(ret->err_buf), "%s",
                       f.err[0] != '\0' ? f.err : "no answer");
        ret->err = ret->err_buf;
        free(f.body);
        if (strcmp(f.err, "timed out") == 0)
            return -ETIMEDOUT;
        return -ECONNREFUSED;
    }
    if (f.body == NULL)
        return -ENOMEM;
    ret->status = f.status;
    ret->body = f.body;
    return 0;
}

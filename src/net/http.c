/* HTTP server, asynchronous client and blocking fetch on libevent's evhttp. */
#define _POSIX_C_SOURCE 200809L
#include "net/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <limits.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/token.h"
#include "proto/utf8.h"

struct http_tls {
    SSL_CTX *server; /* for accepting: client certificates required */
    SSL_CTX *client; /* for connecting: the server's certificate checked */
};

struct http_server {
    struct event_base *base;
    struct http_tls *tls;
    struct evhttp *http;
    const struct http_route *routes;
    size_t n_routes;
    void *ctx;
    struct http_auth auth;
};

/* The first OpenSSL error as text (or `fallback`), for messages. */
static const char *
ssl_error(char *buf, size_t len, const char *fallback)
{
    unsigned long e = ERR_get_error();
    if (e == 0)
        return fallback;
    ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

static SSL_CTX *
tls_ctx(bool server, const char *cert, const char *key, const char *ca, char *err, size_t errlen)
{
    char why[256];
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (ctx == NULL) {
        (void)snprintf(err, errlen, "TLS: %s", ssl_error(why, sizeof(why), "out of memory"));
        return NULL;
    }
    const char *bad = NULL;
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
        bad = "TLS 1.2";
    else if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        bad = cert;
    else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        bad = key;
    else if (SSL_CTX_check_private_key(ctx) != 1)
        bad = key;
    else if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
        bad = ca;
    if (bad != NULL) {
        (void)snprintf(err, errlen, "%s: %s", bad,
                       ssl_error(why, sizeof(why), "not a usable PEM file"));
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* Mutual: a server asks every client for a certificate of the CA and refuses the others;
     * a client checks the server's. */
    SSL_CTX_set_verify(
        ctx, server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_verify_depth(ctx, 4);
    /* A server that asks for client certificates must name its sessions, or OpenSSL ends
     * every resumed session (browsers, curl) with an internal error. */
    if (server && SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"vmloc", 5) != 1) {
        (void)snprintf(err, errlen, "TLS: %s", ssl_error(why, sizeof(why), "session context"));
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int
http_tls_new(const char *cert, const char *key, const char *ca, struct http_tls **ret, char *err,
             size_t errlen)
{
    struct stat st;
    if (stat(key, &st) < 0) {
        (void)snprintf(err, errlen, "%s: %s", key, strerror(errno));
        return -errno;
    }
    if ((st.st_mode & 077) != 0) {
        (void)snprintf(err, errlen,
                       "%s: group or others may read the private key (mode %04o); run chmod 600 "
                       "on it",
                       key, (unsigned)(st.st_mode & 07777));
        return -EPERM;
    }
    struct http_tls *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        (void)snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    t->server = tls_ctx(true, cert, key, ca, err, errlen);
    t->client = t->server != NULL ? tls_ctx(false, cert, key, ca, err, errlen) : NULL;
    if (t->client == NULL) {
        http_tls_free(t);
        return -EINVAL;
    }
    *ret = t;
    return 0;
}

void
http_tls_free(struct http_tls *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->server);
    SSL_CTX_free(t->client);
    free(t);
}

int
http_split_hostport(const char *s, char *addr, size_t len, uint16_t *ret_port)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s)
        return -EINVAL;
    const char *a = s;
    const char *b = colon;
    if (*a == '[' && b[-1] == ']') { /* [::1]:8080 */
        a++;
        b--;
    }
    size_t n = (size_t)(b - a);
    if (n == 0 || n >= len)
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || port < 0 || port > 65535)
        return -EINVAL;
    memcpy(addr, a, n);
    addr[n] = '\0';
    *ret_port = (uint16_t)port;
    return 0;
}

static const char *
method_name(enum evhttp_cmd_type c)
{
    switch (c) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_HEAD:
        return "HEAD";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_OPTIONS:
        return "OPTIONS";
    case EVHTTP_REQ_TRACE:
        return "TRACE";
    case EVHTTP_REQ_CONNECT:
        return "CONNECT";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    }
    return "?";
}

static void
send_body(struct evhttp_request *req, int code, const char *type, const char *body, size_t len)
{
    struct evbuffer *buf = evbuffer_new();
    if (buf == NULL) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    (void)evhttp_add_header(h, "Content-Type", type);
    (void)evhttp_add_header(h, "Cache-Control", "no-store");
    (void)evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    if (strncmp(type, "text/html", 9) == 0) {
        /* The web page loads nothing from elsewhere and is not framed. */
        (void)evhttp_add_header(h, "Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; "
                                "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    }
    if (evbuffer_add(buf, body, len) < 0) {
        evbuffer_free(buf);
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    evhttp_send_reply(req, code, NULL, buf);
    evbuffer_free(buf);
}

void
http_reply_raw(struct http_req *r, int code, const char *content_type, const char *body, size_t len)
{
    send_body(r->ev, code, content_type, body, len);
}

void
http_reply_json(struct http_req *r, int code, const char *json)
{
    send_body(r->ev, code, "application/json", json, strlen(json));
}

/* Append `s` to `out` as the inside of a JSON string. */
static size_t
json_escape(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (; *s != '\0' && o + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o] = '\0';
    return o;
}

void
http_reply_error(struct http_req *r, int code, const char *fmt, ...)
{
    char msg[512];
    char esc[1100];
    char body[1200];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* The message may quote a path or name from the request: keep the answer valid JSON. */
    if (!utf8_valid((const unsigned char *)msg, strlen(msg))) {
        for (char *p = msg; *p != '\0'; p++) {
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        }
    }
    (void)json_escape(esc, sizeof(esc), msg);
    int n = snprintf(body, sizeof(body), "{\"error\": \"%s\"}", esc);
    if (n < 0)
        n = 0;
    send_body(r->ev, code, "application/json", body, strlen(body));
}

int
http_query_number(const struct http_req *r, const char *key, double min, double max, double *ret)
{
    if (r->query == NULL)
        return 0;
    struct evkeyvalq q;
    TAILQ_INIT(&q);
    if (evhttp_parse_query_str(r->query, &q) < 0) {
        evhttp_clear_headers(&q);
        return -EINVAL;
    }
    const char *v = evhttp_find_header(&q, key);
    int rc = 0;
    if (v != NULL) {
        char *end = NULL;
        errno = 0;
        double d = strtod(v, &end);
        if (errno != 0 || end == v || *end != '\0' || !(d >= min && d <= max)) {
            rc = -EINVAL;
        } else {
            *ret = d;
            rc = 1;
        }
    }
    evhttp_clear_headers(&q);
    return rc;
}

int
http_query_limit(struct http_req *r, int max)
{
    double v = max;
    if (http_query_number(r, "limit", 1, max, &v) < 0 || v != (double)(int)v) {
        http_reply_error(r, 400, "limit: must be a whole number from 1 to %d", max);
        return -1;
    }
    return (int)v;
}

/* Does `pattern` ("/v1/vms/ * /load") match the request's path segments? */
static bool
path_matches(const char *pattern, const struct http_req *r)
{
    const char *p = pattern;
    size_t i = 0;
    while (*p != '\0') {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        const char *end = strchr(p, '/');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (i >= r->n_parts)
            return false;
        if (!(len == 1 && *p == '*') &&
            (strlen(r->parts[i]) != len || memcmp(r->parts[i], p, len) != 0))
            return false;
        i++;
        p += len;
    }
    return i == r->n_parts;
}

static int
req_prepare(struct evhttp_request *ev, struct http_req *r)
{
    memset(r, 0, sizeof(*r));
    r->ev = ev;
    r->method = method_name(evhttp_request_get_command(ev));
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *raw = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    if (raw == NULL || raw[0] != '/')
        return -EINVAL;
    size_t plen = 0;
    r->path = evhttp_uridecode(raw, 0, &plen);
    if (r->path == NULL || strlen(r->path) != plen)
        return -EINVAL;
    const char *q = evhttp_uri_get_query(uri);
    r->query = q != NULL ? strdup(q) : NULL;
    struct evbuffer *in = evhttp_request_get_input_buffer(ev);
    size_t blen = evbuffer_get_length(in);
    size_t total = plen + 1 + blen + 1;
    r->storage = malloc(total);
    if (r->storage == NULL)
        return -ENOMEM;
    char *body = r->storage + plen + 1;
    if (blen > 0 && evbuffer_copyout(in, body, blen) != (ev_ssize_t)blen)
        return -EIO;
    body[blen] = '\0';
    if (strlen(body) != blen)
        return -EINVAL; /* NUL inside the body */
    r->body = body;
    r->body_len = blen;
    memcpy(r->storage, r->path, plen + 1);
    char *s = r->storage;
    while (*s != '\0') {
        while (*s == '/')
            *s++ = '\0';
        if (*s == '\0')
            break;
        if (r->n_parts == HTTP_MAX_PATH_PARTS)
            return -E2BIG;
        r->parts[r->n_parts++] = s;
        while (*s != '\0' && *s != '/')
            s++;
    }
    return 0;
}

/* How deeply `body` nests arrays and objects (brackets inside strings do not count). A body
 * that is not JSON at all is left to its handler's parser. */
static size_t
json_depth(const char *body, size_t len)
{
    size_t depth = 0;
    size_t max = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = body[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                max = depth;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return max;
}

static void
req_release(struct http_req *r)
{
    free(r->path);
    free(r->query);
    free(r->storage);
}

/* A request that changes something and comes from a page of another site: a browser says so
 * with an Origin header (a web page of ours sends its own). Clients that are not browsers send
 * no Origin. Without authentication (yet) this keeps other sites an operator visits from
 * draining hosts or applying recommendations through the browser. */
static bool
cross_site(const struct http_req *r)
{
    if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0)
        return false;
    const struct evkeyvalq *h = evhttp_request_get_input_headers(r->ev);
    const char *origin = evhttp_find_header(h, "Origin");
    if (origin == NULL)
        return false;
    const char *host = evhttp_find_header(h, "Host");
    const char *p = strstr(origin, "://");
    if (host == NULL || p == NULL)
        return true;
    return strcmp(p + 3, host) != 0;
}

/* Is the request's "Authorization: Bearer ..." the server's token? The comparison takes the
 * same time wherever the two differ. */
static bool
authorized(const struct http_server *s, const struct http_req *r)
{
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(r->ev), "Authorization");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    const char *t = h + 7;
    while (*t == ' ')
        t++;
    size_t len = strlen(t);
    while (len > 0 && t[len - 1] == ' ')
        len--;
    /* Both are compared, so that the time taken does not tell which one matched. */
    bool cur = token_equal(s->auth.token, t, len);
    bool prev = s->auth.prev_token[0] != '\0' && token_equal(s->auth.prev_token, t, len);
    return cur || prev;
}

/* Must this request show the token? Every request does, except the open routes (the page's
 * files) and, with open_reads, the reading ones. */
static bool
needs_credential(const struct http_server *s, const struct http_req *r)
{
    if (s->auth.token[0] == '\0')
        return false;
    bool read = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    if (read && s->auth.open_reads)
        return false;
    for (size_t i = 0; i < s->n_routes; i++) {
        const struct http_route *rt = &s->routes[i];
        if (rt->open && strcmp(rt->method, r->method) == 0 && path_matches(rt->pattern, r))
            return false;
    }
    return true;
}

void
http_server_set_auth(struct http_server *s, const struct http_auth *auth)
{
    s->auth = *auth;
}

/* evhttp's hook for a new connection: wrap it in TLS. A client that fails the handshake (no
 * certificate, or one of another CA) is dropped before any HTTP is read. */
static struct bufferevent *
tls_bevcb(struct event_base *base, void *arg)
{
    struct http_server *s = arg;
    SSL *ssl = SSL_new(s->tls->server);
    if (ssl == NULL)
        return NULL;
    /* On failure libevent frees `ssl` itself (BEV_OPT_CLOSE_ON_FREE). */
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
}

void
http_server_set_tls(struct http_server *s, struct http_tls *tls)
{
    s->tls = tls;
    evhttp_set_bevcb(s->http, tls_bevcb, s);
}

/* On a TLS server, did this request come over TLS? libevent falls back to a plain socket when
 * the TLS hook cannot make its object (out of memory): such a connection gets nothing. */
static bool
over_tls(struct evhttp_request *ev)
{
    struct evhttp_connection *c = evhttp_request_get_connection(ev);
    struct bufferevent *bev = c != NULL ? evhttp_connection_get_bufferevent(c) : NULL;
    return bev != NULL && bufferevent_openssl_get_ssl(bev) != NULL;
}

int
http_req_speaks_for(const struct http_req *r, const char *name, char *why, size_t why_len)
{
    const struct http_server *s = r->server;
    if (s == NULL || s->tls == NULL || !s->auth.bind_names)
        return 0;
    struct evhttp_connection *c = evhttp_request_get_connection(r->ev);
    struct bufferevent *bev = c != NULL ? evhttp_connection_get_bufferevent(c) : NULL;
    SSL *ssl = bev != NULL ? bufferevent_openssl_get_ssl(bev) : NULL;
    X509 *cert = ssl != NULL ? SSL_get1_peer_certificate(ssl) : NULL;
    if (cert == NULL) {
        (void)snprintf(why, why_len, "no client certificate to check the host name against");
        return -EACCES;
    }
    /* No wildcard: one certificate must not speak for every host of a domain. */
    bool ok = X509_check_host(cert, name, strlen(name), X509_CHECK_FLAG_NO_WILDCARDS, NULL) == 1 ||
              X509_check_ip_asc(cert, name, 0) == 1;
    X509_free(cert);
    if (!ok) {
        (void)snprintf(why, why_len,
                       "the client's certificate does not name host \"%.*s\" (tls_bind_names)",
                       (int)(strlen(name) > 80 ? 80 : strlen(name)), name);
        return -EACCES;
    }
    return 0;
}

bool
http_req_check_host(struct http_req *r, const char *name, const char *what)
{
    char why[200];
    if (http_req_speaks_for(r, name, why, sizeof(why)) == 0)
        return true;
    log_warnx("%s refused: %s", what, why);
    http_reply_error(r, 403, "%s", why);
    return false;
}

static void
server_cb(struct evhttp_request *ev, void *arg)
{
    struct http_server *s = arg;
    struct http_req r;
    if (s->tls != NULL && !over_tls(ev)) {
        log_warnx("request without TLS on a TLS server refused");
        evhttp_send_error(ev, 503, "TLS required");
        return;
    }
    int rc = req_prepare(ev, &r);
    r.server = s;
    if (rc == -ENOMEM) {
        http_reply_error(&r, 503, "out of memory");
        goto out;
    }
    if (rc == -E2BIG) {
        http_reply_error(&r, 404, "no such resource");
        goto out;
    }
    if (rc < 0) {
        http_reply_error(&r, 400, "malformed request (path or body)");
        goto out;
    }
    if (cross_site(&r)) {
        http_reply_error(&r, 403,
                         "cross-site request refused (its Origin is not this daemon's address)");
        goto out;
    }
    if (needs_credential(s, &r) && !authorized(s, &r)) {
        (void)evhttp_add_header(evhttp_request_get_output_headers(ev), "WWW-Authenticate",
                                "Bearer realm=\"vmloc\"");
        http_reply_error(&r, 401,
                         "this API needs the cluster's token (Authorization: Bearer TOKEN, from "
                         "the token file; see docs/security.md)");
        goto out;
    }
    if (json_depth(r.body, r.body_len) > HTTP_MAX_JSON_DEPTH) {
        http_reply_error(&r, 400, "body: nested deeper than %d levels", HTTP_MAX_JSON_DEPTH);
        goto out;
    }
    bool path_known = false;
    for (size_t i = 0; i < s->n_routes; i++) {
        const struct http_route *rt = &s->routes[i];
        if (!path_matches(rt->pattern, &r))
            continue;
        path_known = true;
        if (strcmp(rt->method, r.method) == 0) {
            rt->fn(&r, s->ctx);
            goto out;
        }
    }
    if (path_known)
        http_reply_error(&r, 405, "method %s not allowed on %s", r.method, r.path);
    else
        http_reply_error(&r, 404, "no such resource: %s", r.path);
out:
    req_release(&r);
}

int
http_server_start(struct event_base *base, const char *listen, const struct http_route *routes,
                  size_t n_routes, void *ctx, struct http_server **ret, uint16_t *ret_port)
{
    char addr[256];
    uint16_t port;
    if (http_split_hostport(listen, addr, sizeof(addr), &port) < 0)
        return -EINVAL;
    struct http_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return -ENOMEM;
    s->base = base;
    s->routes = routes;
    s->n_routes = n_routes;
    s->ctx = ctx;
    s->http = evhttp_new(base);
    if (s->http == NULL) {
        free(s);
        return -ENOMEM;
    }
    evhttp_set_max_body_size(s->http, HTTP_MAX_BODY);
    evhttp_set_max_headers_size(s->http, HTTP_MAX_HEADERS);
    evhttp_set_timeout(s->http, HTTP_TIMEOUT_S);
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(s->http, server_cb, s);
    errno = 0;
    struct evhttp_bound_socket *sock = evhttp_bind_socket_with_handle(s->http, addr, port);
    if (sock == NULL) {
        int r = errno != 0 ? -errno : -EADDRNOTAVAIL;
        evhttp_free(s->http);
        free(s);
        return r;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = evhttp_bound_socket_get_fd(sock);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        int r = -errno;
        evhttp_free(s->http);
        free(s);
        return r;
    }
    if (ss.ss_family == AF_INET)
        *ret_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else
        *ret_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    *ret = s;
    return 0;
}

void
http_server_free(struct http_server *s)
{
    if (s == NULL)
        return;
    evhttp_free(s->http);
    free(s);
}

/* --- client ----------------------------------------------------------------------------- */

/* Connections kept open after an answer, at most one per peer, for the next request to the
 * same peer (a manager asks each agent once per interval). */
#define HTTP_IDLE_MAX 16384
#define HTTP_IDLE_BUCKETS 1024u

/* Idle connections older than this are closed rather than reused. */
#define HTTP_IDLE_MAX_AGE_S 60

struct idle {
    char key[300]; /* "host:port" */
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
    bool keep; /* the answer left the connection usable for another request */
    struct evhttp_connection *conn;
    struct evhttp_request *req; /* NULL once evhttp has finished with it */
    http_done_fn done;
    void *arg;
    const char *err;
    char err_buf[160]; /* for an `err` that is not a constant (a TLS verification's) */
    int status;        /* the answer, kept until it is delivered */
    char *body;
    size_t len;
    bool finished;
    struct call *next;
    struct call *prev;
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
    struct idle *idle[HTTP_IDLE_BUCKETS]; /* kept-alive connections by peer */
    struct idle *oldest;                  /* the same, by age */
    struct idle *newest;
    size_t n_idle;
    char auth_header[HTTP_MAX_TOKEN + 8]; /* "Bearer TOKEN", or "" */
    struct http_tls *tls;                 /* for https:// URLs, or NULL */
};

static size_t
idle_bucket(const char *key)
{
    uint32_t h = 2166136261u;
    for (const char *p = key; *p != '\0'; p++) {
        h ^= (unsigned char)*p;
        h *= 16777619u;
    }
    return h & (HTTP_IDLE_BUCKETS - 1);
}

static void
idle_unlink_age(struct http_client *cl, struct idle *i)
{
    if (i->older != NULL)
        i->older->newer = i->newer;
    else
        cl->oldest = i->newer;
    if (i->newer != NULL)
        i->newer->older = i->older;
    else
        cl->newest = i->older;
}

/* Remove `i` from its bucket and the age list, and free it; its connection is returned. */
static struct evhttp_connection *
idle_remove(struct http_client *cl, struct idle *i)
{
    for (struct idle **p = &cl->idle[idle_bucket(i->key)]; *p != NULL; p = &(*p)->next) {
        if (*p == i) {
            *p = i->next;
            break;
        }
    }
    idle_unlink_age(cl, i);
    struct evhttp_connection *conn = i->conn;
    free(i);
    cl->n_idle--;
    return conn;
}

/* Whether libevent still holds the connection's socket: it drops a connection on which the
 * peer sent something while it was idle, and reusing such a one can trip an assertion in
 * libevent 2.1 when the reconnect then fails. */
static bool
conn_open(struct evhttp_connection *conn)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
    return bev != NULL && bufferevent_getfd(bev) >= 0;
}

/* Take the kept-alive connection to `key`, or NULL. */
static struct evhttp_connection *
idle_take(struct http_client *cl, const char *key)
{
    for (struct idle *i = cl->idle[idle_bucket(key)]; i != NULL; i = i->next) {
        if (strcmp(i->key, key) != 0)
            continue;
        struct evhttp_connection *conn = idle_remove(cl, i);
        if (conn_open(conn))
            return conn;
        evhttp_connection_free(conn);
        return NULL;
    }
    return NULL;
}

/* Keep `conn` for the next request to `key`, or free it. The oldest idle connections go
 * first when there are too many or they are too old, so peers that went away do not fill
 * the pool. */
static void
idle_put(struct http_client *cl, const char *key, struct evhttp_connection *conn)
{
    struct timeval now;
    if (event_base_gettimeofday_cached(cl->base, &now) < 0)
        now.tv_sec = 0;
    while (cl->oldest != NULL &&
           (cl->n_idle >= HTTP_IDLE_MAX || now.tv_sec - cl->oldest->since > HTTP_IDLE_MAX_AGE_S))
        evhttp_connection_free(idle_remove(cl, cl->oldest));
    struct idle *i = malloc(sizeof(*i));
    if (i == NULL || !conn_open(conn)) {
        free(i);
        evhttp_connection_free(conn);
        return;
    }
    (void)snprintf(i->key, sizeof(i->key), "%s", key);
    i->conn = conn;
    i->since = now.tv_sec;
    size_t b = idle_bucket(key);
    i->next = cl->idle[b];
    cl->idle[b] = i;
    i->older = cl->newest;
    i->newer = NULL;
    if (cl->newest != NULL)
        cl->newest->newer = i;
    else
        cl->oldest = i;
    cl->newest = i;
    cl->n_idle++;
}

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
static void
call_free(struct call *c)
{
    struct http_client *cl = c->client;
    if (c->keep && c->conn != NULL) {
        struct evhttp_connection *other = idle_take(cl, c->key);
        if (other != NULL)
            evhttp_connection_free(other);
        idle_put(cl, c->key, c->conn);
    } else if (c->conn != NULL) {
        evhttp_connection_free(c->conn);
    }
    free(c->body);
    free(c);
}

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
}

static void
reaper_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    reap(arg, true);
}

struct http_client *
http_client_new(struct event_base *base)
{
    struct http_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->base = base;
    c->reaper = event_new(base, -1, 0, reaper_cb, c);
    if (c->reaper == NULL) {
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
        if (c->req != NULL)
            evhttp_cancel_request(c->req); /* frees the request, calls nothing */
        call_free(c);
    }
    reap(cl, false);
    while (cl->oldest != NULL)
        evhttp_connection_free(idle_remove(cl, cl->oldest));
    event_free(cl->reaper);
    if (cl->dns != NULL)
        evdns_base_free(cl->dns, 0);
    free(cl);
}

/* The request is over: queue it for delivery and wake the reaper. */
static void
call_finish(struct call *c)
{
    struct http_client *cl = c->client;
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
        c->err = "answer too large";
        break;
    default:
        c->err = "connection failed";
        break;
    }
}

static void
call_done_cb(struct evhttp_request *req, void *arg)
{
    struct call *c = arg;
    c->status = req != NULL ? evhttp_request_get_response_code(req) : 0;
    if (c->status != 0) {
        /* HTTP/1.1 keeps the connection unless the peer said otherwise. */
        const char *conn_hdr =
            evhttp_find_header(evhttp_request_get_input_headers(req), "Connection");
        c->keep = evhttp_request_get_response_code(req) > 0 &&
                  (conn_hdr == NULL || evutil_ascii_strcasecmp(conn_hdr, "close") != 0);
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        c->len = evbuffer_get_length(in);
        c->body = malloc(c->len + 1);
        if (c->body != NULL) {
            if (c->len > 0)
                (void)evbuffer_copyout(in, c->body, c->len);
            c->body[c->len] = '\0';
        }
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

int
http_url_check(const char *url)
{
    struct evhttp_uri *u = evhttp_uri_parse(url);
    if (u == NULL)
        return -EINVAL;
    const char *scheme = evhttp_uri_get_scheme(u);
    const char *host = evhttp_uri_get_host(u);
    const char *path = evhttp_uri_get_path(u);
    int port = evhttp_uri_get_port(u);
    bool ok = scheme != NULL && (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) &&
              host != NULL && host[0] != '\0' && port > 0 &&
              (path == NULL || path[0] == '\0' || strcmp(path, "/") == 0) &&
              evhttp_uri_get_query(u) == NULL;
    evhttp_uri_free(u);
    return ok ? 0 : -EINVAL;
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
    SSL *ssl = SSL_new(cl->tls->client);
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

int
http_request(struct http_client *cl, const char *base_url, const char *method, const char *path,
             const char *body, double timeout_s, http_done_fn done, void *arg)
{
    struct evhttp_uri *u = evhttp_uri_parse(base_url);
    if (u == NULL)
        return -EINVAL;
    const char *host = evhttp_uri_get_host(u);
    const char *scheme = evhttp_uri_get_scheme(u);
    int port = evhttp_uri_get_port(u);
    bool tls = scheme != NULL && strcmp(scheme, "https") == 0;
    /* (A TLS host name must fit the check of the server's certificate: tls_expect_host().) */
    if (host == NULL || host[0] == '\0' || port <= 0 || port > 65535 ||
        (tls && strlen(host) > 255)) {
        evhttp_uri_free(u);
        return -EINVAL;
    }
    /* A client with TLS talks TLS only: its token must not cross a plain connection. */
    if (tls != (cl->tls != NULL)) {
        evhttp_uri_free(u);
        return -EPROTONOSUPPORT;
    }
    struct call *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        evhttp_uri_free(u);
        return -ENOMEM;
    }
    c->client = cl;
    c->done = done;
    c->arg = arg;
    /* Kept-alive connections are told apart by scheme too. */
    (void)snprintf(c->key, sizeof(c->key), "%s%s:%d", tls ? "s:" : "", host, port);
    c->conn = idle_take(cl, c->key);
    if (c->conn == NULL) {
        c->conn = tls ? tls_connection(cl, host, (unsigned short)port)
                      : evhttp_connection_base_new(cl->base, cl->dns, host, (unsigned short)port);
        if (c->conn != NULL) {
            evhttp_connection_set_max_body_size(c->conn, HTTP_MAX_ANSWER);
            evhttp_connection_set_max_headers_size(c->conn, HTTP_MAX_HEADERS);
        }
    }
    c->req = evhttp_request_new(call_done_cb, c);
    if (c->conn == NULL || c->req == NULL) {
        if (c->conn != NULL)
            evhttp_connection_free(c->conn);
        if (c->req != NULL)
            evhttp_request_free(c->req);
        free(c);
        evhttp_uri_free(u);
        return -ENOMEM;
    }
    evhttp_request_set_error_cb(c->req, call_error_cb);
    struct timeval tv;
    tv.tv_sec = (time_t)timeout_s;
    tv.tv_usec = (suseconds_t)((timeout_s - (double)tv.tv_sec) * 1e6);
    evhttp_connection_set_timeout_tv(c->conn, &tv);
    evhttp_connection_set_retries(c->conn, 0);
    struct evkeyvalq *h = evhttp_request_get_output_headers(c->req);
    (void)evhttp_add_header(h, "Host", host);
    if (cl->auth_header[0] != '\0')
        (void)evhttp_add_header(h, "Authorization", cl->auth_header);
    if (body != NULL) {
        (void)evhttp_add_header(h, "Content-Type", "application/json");
        (void)evbuffer_add(evhttp_request_get_output_buffer(c->req), body, strlen(body));
    }
    evhttp_uri_free(u);
    /* In the list before sending: evhttp may finish the request at once. */
    list_push(&cl->live, c);
    if (evhttp_make_request(c->conn, c->req, method_code(method), path) < 0) {
        if (c->finished)
            return 0; /* already queued for delivery */
        /* evhttp freed the request and will call nothing. */
        list_remove(&cl->live, c);
        c->req = NULL;
        call_free(c);
        return -EIO;
    }
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
    (void)snprintf(c->auth_header, sizeof(c->auth_header), "Bearer %s", token);
    return 0;
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
    while (!f.done) {
        if (event_base_dispatch(f.base) < 0)
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

int
http_free_ports(int *ports, size_t n)
{
    /* Every socket stays bound until all ports are known, so the kernel cannot hand out one
     * port twice. */
    int fds[HTTP_MAX_FREE_PORTS];
    size_t got = 0;
    int rc = 0;
    if (n > HTTP_MAX_FREE_PORTS)
        return -EINVAL;
    for (; got < n; got++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            rc = -errno;
            break;
        }
        fds[got] = fd;
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof(sa));
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof(sa);
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
            rc = -errno;
            got++;
            break;
        }
        ports[got] = ntohs(sa.sin_port);
    }
    for (size_t i = 0; i < got; i++)
        (void)close(fds[i]);
    return rc;
}

/* The HTTP server on libevent's evhttp (http_server.h): routing, limits, the token and TLS
 * checks, replies. */
#define _POSIX_C_SOURCE 200809L
#include "net/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h> /* gethostname() */

#include "common/log.h"
#include "common/metrics.h"
#include "common/token.h"
#include "net/http_conns.h"
#include "net/tls.h"
#include "proto/utf8.h"

struct http_server {
    struct event_base *base;
    struct http_tls *tls;
    struct evhttp *http;
    const struct http_route *routes;
    size_t n_routes;
    void *ctx;
    struct http_auth auth;
    char own_names[HTTP_MAX_HOST_NAMES]; /* its listen address and the machine's host name */
    struct http_conns *conns;            /* counted, capped and timed */
};

/* The request alone: evhttp keeps it (and its connection) until it is answered, and frees it
 * then (or when the connection fails on the answer). */
struct http_later {
    struct evhttp_request *ev;
};

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
http_reply_metrics(struct http_req *r, struct mtext *t)
{
    if (t->oom)
        http_reply_error(r, 503, "out of memory");
    else
        send_body(r->ev, 200, "text/plain; version=0.0.4; charset=utf-8", t->p, t->len);
    mtext_done(t);
}

void
http_reply_redirect(struct http_req *r, int code, const char *location, const char *json)
{
    (void)evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Location", location);
    send_body(r->ev, code, "application/json", json, strlen(json));
}

const char *
http_req_target(const struct http_req *r)
{
    return evhttp_request_get_uri(r->ev);
}

void
http_reply_json(struct http_req *r, int code, const char *json)
{
    send_body(r->ev, code, "application/json", json, strlen(json));
}

void
http_reply_json_value(struct http_req *r, int code, json_t *j)
{
    char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (s == NULL) {
        http_reply_error(r, 503, "out of memory");
        return;
    }
    http_reply_json(r, code, s);
    free(s);
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

/* Answer `ev` with `code` and {"error": `msg`}; `msg` (at most 511 bytes are kept) is made
 * valid UTF-8 (it may quote a path or name from the request) and JSON. */
static void
send_error(struct evhttp_request *ev, int code, char *msg)
{
    char esc[1100];
    char body[1200];
    if (!utf8_valid((const unsigned char *)msg, strlen(msg))) {
        for (char *p = msg; *p != '\0'; p++) {
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        }
    }
    (void)json_escape(esc, sizeof(esc), msg);
    (void)snprintf(body, sizeof(body), "{\"error\": \"%s\"}", esc);
    send_body(ev, code, "application/json", body, strlen(body));
}

void
http_reply_error(struct http_req *r, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    send_error(r->ev, code, msg);
}

struct http_later *
http_req_later(struct http_req *r)
{
    struct http_later *l = malloc(sizeof(*l));
    if (l != NULL)
        l->ev = r->ev;
    return l;
}

void
http_later_reply_json(struct http_later *l, int code, const char *json)
{
    send_body(l->ev, code, "application/json", json, strlen(json));
    free(l);
}

void
http_later_reply_error(struct http_later *l, int code, const char *msg)
{
    char copy[512];
    (void)snprintf(copy, sizeof(copy), "%s", msg);
    send_error(l->ev, code, copy);
    free(l);
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

/* The next segment of a path at *p (slashes skipped), its length in *ret_len, and *p moved
 * past it; NULL at the end. */
static const char *
next_segment(const char **p, size_t *ret_len)
{
    const char *s = *p;
    while (*s == '/')
        s++;
    if (*s == '\0')
        return NULL;
    const char *end = strchr(s, '/');
    *ret_len = end != NULL ? (size_t)(end - s) : strlen(s);
    *p = s + *ret_len;
    return s;
}

/* Does `pattern` ("/v1/vms/ * /load") match the request's path segments? */
static bool
path_matches(const char *pattern, const struct http_req *r)
{
    const char *next = pattern;
    const char *p;
    size_t len;
    size_t i = 0;
    while ((p = next_segment(&next, &len)) != NULL) {
        if (i >= r->n_parts)
            return false;
        if (!(len == 1 && *p == '*') &&
            (strlen(r->parts[i]) != len || memcmp(r->parts[i], p, len) != 0))
            return false;
        i++;
    }
    return i == r->n_parts;
}

/* Split the raw (still encoded) path `raw` at its slashes and decode each segment into `out`
 * (`cap` bytes, at least strlen(raw) + 1), so that a name holding an encoded slash ("a%2Fb")
 * stays one segment. 0, -EINVAL (a segment that decodes to a NUL), -E2BIG (too many). */
static int
split_path(const char *raw, char *out, size_t cap, struct http_req *r)
{
    size_t off = 0;
    const char *next = raw;
    const char *p;
    size_t len;
    while ((p = next_segment(&next, &len)) != NULL) {
        if (r->n_parts == HTTP_MAX_PATH_PARTS)
            return -E2BIG;
        char *tmp = strndup(p, len);
        if (tmp == NULL)
            return -ENOMEM;
        size_t dlen = 0;
        char *dec = evhttp_uridecode(tmp, 0, &dlen);
        free(tmp);
        if (dec == NULL)
            return -ENOMEM;
        if (strlen(dec) != dlen || off + dlen + 1 > cap) {
            free(dec);
            return -EINVAL;
        }
        memcpy(out + off, dec, dlen + 1);
        free(dec);
        r->parts[r->n_parts++] = out + off;
        off += dlen + 1;
    }
    return 0;
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
    size_t rlen = strlen(raw);
    if (rlen > plen)
        plen = rlen; /* room for the segments, decoded one by one (never longer than raw) */
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
    return split_path(raw, r->storage, plen + 1, r);
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

/* Is the request for one of the open routes (the page's files)? */
static bool
open_route(const struct http_server *s, const struct http_req *r)
{
    for (size_t i = 0; i < s->n_routes; i++) {
        const struct http_route *rt = &s->routes[i];
        if (rt->open && strcmp(rt->method, r->method) == 0 && path_matches(rt->pattern, r))
            return true;
    }
    return false;
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
    return !open_route(s, r);
}

/* Is this read, served without the token because of open_reads, addressed to a name that is
 * not the daemon's? That is what a page of another site sends once its DNS name has been
 * rebound to the daemon's address: it must not read the cluster. A client without a Host
 * header is not a browser. */
static bool
foreign_host(const struct http_server *s, const struct http_req *r)
{
    if (!s->auth.open_reads || open_route(s, r))
        return false;
    const char *host = evhttp_find_header(evhttp_request_get_input_headers(r->ev), "Host");
    return host != NULL && !http_host_allowed(host, s->own_names) &&
           !http_host_allowed(host, s->auth.allowed_hosts);
}

void
http_server_set_auth(struct http_server *s, const struct http_auth *auth)
{
    s->auth = *auth;
}

void
http_server_set_tls(struct http_server *s, struct http_tls *tls)
{
    s->tls = tls;
    http_conns_set_tls(s->conns, tls); /* its hook for new connections speaks TLS from now on */
}

void
http_server_set_limits(struct http_server *s, const struct http_limits *lim)
{
    http_conns_set_limits(s->conns, lim);
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
    http_conns_request_read(s->conns, ev);
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
    bool credential = s->auth.token[0] != '\0' && authorized(s, &r);
    if (needs_credential(s, &r) && !credential) {
        (void)evhttp_add_header(evhttp_request_get_output_headers(ev), "WWW-Authenticate",
                                "Bearer realm=\"vmloc\"");
        http_reply_error(&r, 401,
                         "this API needs the cluster's token (Authorization: Bearer TOKEN, from "
                         "the token file; see docs/security.md)");
        goto out;
    }
    if (!credential && foreign_host(s, &r)) {
        http_reply_error(&r, 403,
                         "Host '%s' is none of this daemon's names: reads without the token "
                         "answer only to its addresses, its host name and allowed_hosts "
                         "(docs/security.md)",
                         evhttp_find_header(evhttp_request_get_input_headers(ev), "Host"));
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
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) < 0)
        host[0] = '\0';
    (void)snprintf(s->own_names, sizeof(s->own_names), "%s,%s", addr, host);
    s->http = evhttp_new(base);
    if (s->http == NULL) {
        free(s);
        return -ENOMEM;
    }
    evhttp_set_max_body_size(s->http, HTTP_MAX_BODY);
    evhttp_set_max_headers_size(s->http, HTTP_MAX_HEADERS);
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
    struct http_limits lim;
    http_limits_init(&lim);
    s->conns = http_conns_new(base, s->http, evhttp_bound_socket_get_listener(sock), &lim);
    if (s->conns == NULL) {
        evhttp_free(s->http);
        free(s);
        return -ENOMEM;
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
    http_conns_free(s->conns);
    evhttp_free(s->http);
    free(s);
}

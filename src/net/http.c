/* Addresses and URLs as the HTTP server and client both read them (http.h). */
#define _POSIX_C_SOURCE 200809L
#include "net/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/http.h> /* evhttp_uri_parse() */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h> /* strncasecmp() */

#include "core/fnv.h"

void
http_limits_init(struct http_limits *l)
{
    l->max_connections = HTTP_MAX_CONNECTIONS;
    l->max_connections_per_client = HTTP_MAX_CONNECTIONS_PER_CLIENT;
    l->request_timeout_s = HTTP_TIMEOUT_S;
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
              evhttp_uri_get_query(u) == NULL && evhttp_uri_get_userinfo(u) == NULL &&
              evhttp_uri_get_fragment(u) == NULL;
    evhttp_uri_free(u);
    return ok ? 0 : -EINVAL;
}

int
http_target_parse(struct http_target *t, const char *base_url)
{
    struct evhttp_uri *u = evhttp_uri_parse(base_url);
    if (u == NULL)
        return -EINVAL;
    const char *host = evhttp_uri_get_host(u);
    const char *scheme = evhttp_uri_get_scheme(u);
    int port = evhttp_uri_get_port(u);
    bool tls = scheme != NULL && strcmp(scheme, "https") == 0;
    bool plain = scheme != NULL && strcmp(scheme, "http") == 0;
    size_t len = host != NULL ? strlen(host) : 0;
    /* (A TLS host name must fit the check of the server's certificate: tls_expect_host().) */
    int r = -EINVAL;
    if ((tls || plain) && len > 0 && len <= 255 && port > 0 && port <= 65535) {
        t->tls = tls;
        t->port = (uint16_t)port;
        t->host_at = tls ? 2 : 0;
        t->host_len = (uint8_t)len;
        (void)snprintf(t->key, sizeof(t->key), "%s%s:%d", tls ? "s:" : "", host, port);
        t->hash = fnv1a(t->key);
        r = 0;
    }
    evhttp_uri_free(u);
    return r;
}

/* Does `s` (`n` bytes) name an IPv4 or IPv6 address? */
static bool
is_address(const char *s, size_t n)
{
    char buf[64];
    unsigned char bin[sizeof(struct in6_addr)];
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return inet_pton(AF_INET, buf, bin) == 1 || inet_pton(AF_INET6, buf, bin) == 1;
}

/* Is the name `a` (`n` bytes, a final '.' already dropped) one of the comma-separated
 * `names`? */
static bool
name_listed(const char *a, size_t n, const char *names)
{
    const char *p = names;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        size_t cmp = len > 0 && p[len - 1] == '.' ? len - 1 : len;
        if (cmp == n && n > 0 && strncasecmp(p, a, n) == 0)
            return true;
        p += len;
    }
    return false;
}

/* Is `s` nothing, or ':' and a port's digits? */
static bool
port_or_nothing(const char *s)
{
    return s[0] == '\0' ||
           (s[0] == ':' && s[1] != '\0' && s[1 + strspn(s + 1, "0123456789")] == '\0');
}

bool
http_host_allowed(const char *host, const char *names)
{
    if (host[0] == '[') { /* [IPv6] or [IPv6]:PORT */
        const char *close = strchr(host, ']');
        return close != NULL && port_or_nothing(close + 1) &&
               is_address(host + 1, (size_t)(close - host - 1));
    }
    size_t n = strcspn(host, ":");
    if (!port_or_nothing(host + n))
        return false;
    if (is_address(host, n))
        return true;
    if (n > 0 && host[n - 1] == '.')
        n--;
    if (n == strlen("localhost") && strncasecmp(host, "localhost", n) == 0)
        return true;
    return name_listed(host, n, names);
}

int
http_host_names_check(const char *names, char *why, size_t why_len)
{
    const char *p = names;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ", ");
        if (len == 0)
            break;
        size_t ok = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.");
        if (ok < len || len > 253 || p[0] == '.' || p[0] == '-') {
            (void)snprintf(why, why_len,
                           "'%.*s' is not a host name (letters, digits, '-' and '.', at most "
                           "253 bytes, separated by commas)",
                           (int)(len > 300 ? 300 : len), p);
            return -EINVAL;
        }
        p += len;
    }
    return 0;
}

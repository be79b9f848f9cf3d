/* Addresses and URLs as the HTTP server and client both read them (http.h). */
#define _POSIX_C_SOURCE 200809L
#include "net/http.h"

#include <errno.h>
#include <event2/http.h> /* evhttp_uri_parse() */
#include <stdlib.h>
#include <string.h>

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
              evhttp_uri_get_query(u) == NULL;
    evhttp_uri_free(u);
    return ok ? 0 : -EINVAL;
}

/* What the HTTP server (http_server.h) and client (http_client.h) share: the limits both
 * sides apply, the daemons' credential settings, and the syntax of listen addresses and peer
 * URLs. The HTTP layer's exported names all carry the http_ prefix, whichever of its
 * files holds them. */
#ifndef VMLOC_NET_HTTP_H
#define VMLOC_NET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

/* The most header bytes a server reads of a request and a client of an answer. */
#define HTTP_MAX_HEADERS ((size_t)16 * 1024u)
/* The time-out callers give most requests, and a server's request_timeout by default. */
#define HTTP_TIMEOUT_S 10
/* A server's max_connections and max_connections_per_client by default (struct http_limits). */
#define HTTP_MAX_CONNECTIONS 4096
#define HTTP_MAX_CONNECTIONS_PER_CLIENT 256
/* The longest API token (common/token.h's TOKEN_MAX). */
#define HTTP_MAX_TOKEN 256
/* The longest list of names a daemon also answers to (config key allowed_hosts), in bytes. */
#define HTTP_MAX_HOST_NAMES 1024

/* How many connections a server holds and how long a client may take to send a request
 * (docs/security.md, "Connections"): the config keys max_connections,
 * max_connections_per_client and request_timeout. */
struct http_limits {
    uint32_t max_connections;            /* at once; the open-file limit may lower it */
    uint32_t max_connections_per_client; /* at once from one address */
    double request_timeout_s; /* a whole request (head and body) must arrive within this time
                                 of the connection's opening or of the previous answer */
};

/* Fill `l` with the defaults (HTTP_MAX_CONNECTIONS, HTTP_MAX_CONNECTIONS_PER_CLIENT,
 * HTTP_TIMEOUT_S). */
void http_limits_init(struct http_limits *l);

/* Where a daemon's credentials and connection limits come from: its config keys token_file,
 * open_reads, allowed_hosts, tls_cert, tls_key, tls_ca, tls_bind_names and those of struct
 * http_limits (and the options of the same names). Loaded by the command line into a struct
 * http_auth (http_server.h) and a struct http_tls (tls.h); the limits go to the server as
 * they are. */
struct http_security_conf {
    char token_file[4096]; /* "" = the default (common/token.h) */
    bool open_reads;       /* GET requests need no token */
    char tls_cert[4096];   /* mutual TLS: all three or none */
    char tls_key[4096];
    char tls_ca[4096];
    bool tls_bind_names; /* struct http_auth's bind_names; needs TLS */
    /* More names the daemon answers reads without a token on (comma-separated DNS names,
     * http_host_names_check()); struct http_auth's allowed_hosts. */
    char allowed_hosts[HTTP_MAX_HOST_NAMES];
    struct http_limits limits;
};

/* Split "ADDR:PORT" ("[::1]:PORT" for IPv6) into a NUL-terminated address in `addr` (size
 * `len`) and a port. 0, or -EINVAL (no port, a port over 65535, or an address that does not
 * fit); `addr` and *ret_port are untouched on error. */
MUST_CHECK int http_split_hostport(const char *s, char *addr, size_t len, uint16_t *ret_port);

/* Check that `url` looks like "http://HOST:PORT" or "https://HOST:PORT" with nothing after
 * the port but an optional "/": what http_request() (http_client.h) takes as a base URL.
 * 0 or -EINVAL. */
MUST_CHECK int http_url_check(const char *url);

/* A peer's base URL taken apart once, for many requests (http_request_to()): a manager sends
 * one to each agent every interval. */
struct http_target {
    char key[264];   /* "HOST:PORT", or "s:HOST:PORT" for https: its kept-alive connection */
    uint32_t hash;   /* fnv1a(key) */
    uint16_t port;   /* 1 to 65535 */
    uint8_t host_at; /* HOST is key[host_at], host_len bytes (1 to 255) */
    uint8_t host_len;
    bool tls; /* https */
};

/* Take apart `base_url` ("http://HOST:PORT" or "https://HOST:PORT"; a path is ignored) into
 * *t. 0, or -EINVAL (another scheme, no host, a host longer than 255 bytes, no port or one out
 * of range), *t then undefined. */
MUST_CHECK int http_target_parse(struct http_target *t, const char *base_url);

/* Is `host`, a request's Host header ("NAME", "NAME:PORT", "IPV4:PORT", "[IPV6]:PORT"), an
 * address, "localhost", or one of `names` (comma-separated; compared without case, a final
 * "." ignored)? A page whose DNS name was rebound to the daemon's address sends its own name
 * as Host, never an address, so with only these accepted it cannot read the API (see
 * docs/security.md, "Reads without a token"). A malformed header is not accepted. */
bool http_host_allowed(const char *host, const char *names);

/* Check a list of host names as allowed_hosts takes it: comma-separated (spaces around a
 * comma allowed), each a DNS name of letters, digits, '-' and '.', at most 253 bytes. 0, or
 * -EINVAL with `why` (`why_len` bytes) naming the bad entry. */
MUST_CHECK int http_host_names_check(const char *names, char *why, size_t why_len);

#endif

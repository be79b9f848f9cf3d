/* Mutual TLS for a cluster: this process's certificate and key (PEM) and the cluster's CA,
 * loaded once at start. A server with it speaks only TLS and takes only clients whose
 * certificate the CA signed; a client with it uses TLS for https:// URLs, presents its
 * certificate and accepts only servers whose certificate the CA signed and names the host of
 * the URL. Every member of the cluster holds a certificate of the same CA; servers do not
 * check client host names unless asked to (tls_bind_names, docs/security.md). Owns the
 * server's OpenSSL context and the PEM files' bytes the client presents through libcurl;
 * never opens a connection. */
#ifndef VMLOC_NET_TLS_H
#define VMLOC_NET_TLS_H

#include <stddef.h>

#include "core/compiler.h"

struct http_tls;
struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

/* The largest PEM file (certificate chain, key or CA) read. */
#define HTTP_TLS_MAX_PEM (1024u * 1024u)

/* Load `cert`, `key` and `ca` (paths). The key file must not be readable by group or others.
 * All three are read once, here. 0: *ret set (free with http_tls_free()). -EPERM (a readable
 * key), -EINVAL (a file that is not a usable PEM file, or a key that does not match the
 * certificate), -EFBIG (over HTTP_TLS_MAX_PEM), -ENOMEM or another -errno from stat() or
 * read(), with `err` (size `errlen`) naming the file and what is wrong; *ret untouched on
 * error. */
MUST_CHECK int http_tls_new(const char *cert, const char *key, const char *ca,
                            struct http_tls **ret, char *err, size_t errlen);

/* Free `t`. Accepts NULL. Every server and client that uses it must be freed first. */
void http_tls_free(struct http_tls *t);

/* For the HTTP layer only. */

/* The context a server accepts connections with: client certificates of the CA required.
 * Borrowed from `t`. */
struct ssl_ctx_st *http_tls_server_ctx(const struct http_tls *t);

/* Make the libcurl easy handle `easy` (a CURL *) present `t`'s certificate and accept only
 * a server whose certificate `t`'s CA signed (the system's CAs are not used) and names `host`
 * (the URL's host; "[...]" for an IPv6 address), over TLS 1.2 or later. `t` and `host` are
 * borrowed for as long as the handle may connect. 0, or -ENOMEM (the handle is then to be
 * freed). */
MUST_CHECK int http_tls_client_setup(const struct http_tls *t, void *easy, const char *host);

/* Why a request on `easy` (set up as above) ended in libcurl's CURLE_PEER_FAILED_VERIFICATION,
 * with libcurl's own text `detail`: "TLS: the server's certificate is refused: REASON", in
 * `buf` (size `len`). */
void http_tls_refusal(void *easy, const char *detail, char *buf, size_t len);

#endif

/* Mutual TLS for a cluster: this process's certificate and key (PEM) and the cluster's CA,
 * loaded once at start. A server with it speaks only TLS and takes only clients whose
 * certificate the CA signed; a client with it uses TLS for https:// URLs, presents its
 * certificate and accepts only servers whose certificate the CA signed and names the host of
 * the URL. Every member of the cluster holds a certificate of the same CA; servers do not
 * check client host names unless asked to (tls_bind_names, docs/security.md). Owns the
 * OpenSSL contexts; never opens a connection. */
#ifndef VMLOC_NET_TLS_H
#define VMLOC_NET_TLS_H

#include <stddef.h>

#include "core/compiler.h"

struct http_tls;
struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

/* Load `cert`, `key` and `ca` (paths). The key file must not be readable by group or others.
 * 0: *ret set (free with http_tls_free()). -EPERM (a readable key), -EINVAL (a file that is
 * not a usable PEM file, or a key that does not match the certificate), -ENOMEM or another
 * -errno from stat(), with `err` (size `errlen`) naming the file and what is wrong; *ret
 * untouched on error. */
MUST_CHECK int http_tls_new(const char *cert, const char *key, const char *ca,
                            struct http_tls **ret, char *err, size_t errlen);

/* TLS for a client only (of a service outside the cluster, such as etcd): servers' certificates
 * checked against `ca`, and `cert` with `key` presented when the server asks (both NULL: none).
 * Errors as http_tls_new(). Its server context is NULL: never give it to a server. */
MUST_CHECK int http_tls_client_new(const char *ca, const char *cert, const char *key,
                                   struct http_tls **ret, char *err, size_t errlen);

/* Free `t`. Accepts NULL. Every server and client that uses it must be freed first. */
void http_tls_free(struct http_tls *t);

/* For the HTTP layer only. */

/* The context a server accepts connections with: client certificates of the CA required.
 * Borrowed from `t`; NULL for http_tls_client_new()'s. */
struct ssl_ctx_st *http_tls_server_ctx(const struct http_tls *t);

/* The context a client connects with: the server's certificate checked against the CA.
 * Borrowed from `t`. */
struct ssl_ctx_st *http_tls_client_ctx(const struct http_tls *t);

#endif

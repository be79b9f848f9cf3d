/* Mutual TLS set-up: the server's and the client's OpenSSL contexts (tls.h). */
#define _POSIX_C_SOURCE 200809L
#include "net/tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct http_tls {
    SSL_CTX *server; /* for accepting: client certificates required */
    SSL_CTX *client; /* for connecting: the server's certificate checked */
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

/* A context for `server` or a client: `cert` and `key` (a client's may be NULL: none
 * presented), `ca` checking the peer. NULL with `err` filled. */
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
    else if (cert != NULL && SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        bad = cert;
    else if (cert != NULL && SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        bad = key;
    else if (cert != NULL && SSL_CTX_check_private_key(ctx) != 1)
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

/* Is `key` a private key file only its owner may read? 0, or -EPERM / -errno with `err`. */
static int
key_private(const char *key, char *err, size_t errlen)
{
    struct stat st;
    if (stat(key, &st) < 0) {
        int r = -errno;
        (void)snprintf(err, errlen, "%s: %s", key, strerror(-r));
        return r;
    }
    if ((st.st_mode & 077) != 0) {
        (void)snprintf(err, errlen,
                       "%s: group or others may read the private key (mode %04o); run chmod 600 "
                       "on it",
                       key, (unsigned)(st.st_mode & 07777));
        return -EPERM;
    }
    return 0;
}

/* A server side (when `server`) and a client side with `cert`/`key` (NULL: none) and the
 * CA `ca`; the key is checked to be private first. */
static int
tls_pair_new(bool server, const char *cert, const char *key, const char *ca, struct http_tls **ret,
             char *err, size_t errlen)
{
    int r = key != NULL ? key_private(key, err, errlen) : 0;
    if (r < 0)
        return r;
    struct http_tls *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        (void)snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    t->server = server ? tls_ctx(true, cert, key, ca, err, errlen) : NULL;
    t->client = !server || t->server != NULL ? tls_ctx(false, cert, key, ca, err, errlen) : NULL;
    if (t->client == NULL) {
        http_tls_free(t);
        return -EINVAL;
    }
    *ret = t;
    return 0;
}

int
http_tls_new(const char *cert, const char *key, const char *ca, struct http_tls **ret, char *err,
             size_t errlen)
{
    return tls_pair_new(true, cert, key, ca, ret, err, errlen);
}

int
http_tls_client_new(const char *ca, const char *cert, const char *key, struct http_tls **ret,
                    char *err, size_t errlen)
{
    if ((cert == NULL) != (key == NULL)) {
        (void)snprintf(err, errlen,
                       "a client certificate needs its key, and a key its "
                       "certificate");
        return -EINVAL;
    }
    return tls_pair_new(false, cert, key, ca, ret, err, errlen);
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

SSL_CTX *
http_tls_server_ctx(const struct http_tls *t)
{
    return t->server;
}

SSL_CTX *
http_tls_client_ctx(const struct http_tls *t)
{
    return t->client;
}

/* Mutual TLS set-up (tls.h): the server's OpenSSL context, and the options that make
 * libcurl connect the same way (the same files, TLS 1.2 or later, the server's certificate
 * checked against the CA alone and against the host of the URL). */
#define _DEFAULT_SOURCE /* explicit_bzero() */
#include "net/tls.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h> /* X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/file.h" /* file_read_all() */

/* Longest certificate chain a certificate may have up to the CA. */
#define TLS_VERIFY_DEPTH 4

/* A PEM file as read at start. */
struct pem {
    char *text;
    size_t len;
};

struct http_tls {
    SSL_CTX *server; /* for accepting: client certificates required */
    /* For connecting: libcurl builds its own context from these. */
    struct pem cert;
    struct pem key;
    struct pem ca;
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

/* The server's context: TLS 1.2 or later, `cert` and `key`, and client certificates of `ca`
 * required. NULL with `err` saying why. */
static SSL_CTX *
tls_ctx(const char *cert, const char *key, const char *ca, char *err, size_t errlen)
{
    char why[256];
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
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
    /* Mutual: a server asks every client for a certificate of the CA and refuses the others. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    SSL_CTX_set_verify_depth(ctx, TLS_VERIFY_DEPTH);
    /* A server that asks for client certificates must name its sessions, or OpenSSL ends
     * every resumed session (browsers, curl) with an internal error. */
    if (SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"vmloc", 5) != 1) {
        (void)snprintf(err, errlen, "TLS: %s", ssl_error(why, sizeof(why), "session context"));
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* Read `path` into `p`. 0, or -errno with `err` saying why. */
static int
pem_read(struct pem *p, const char *path, char *err, size_t errlen)
{
    int r = file_read_all(path, HTTP_TLS_MAX_PEM, &p->text, &p->len);
    if (r < 0)
        (void)snprintf(err, errlen, "%s: %s", path,
                       r == -EFBIG ? "larger than a PEM file should be" : strerror(-r));
    return r;
}

static void
pem_done(struct pem *p)
{
    if (p->text != NULL)
        explicit_bzero(p->text, p->len);
    free(p->text);
    p->text = NULL;
    p->len = 0;
}

int
http_tls_new(const char *cert, const char *key, const char *ca, struct http_tls **ret, char *err,
             size_t errlen)
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
    struct http_tls *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        (void)snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    /* The server's context checks the files; the client presents the same bytes. */
    t->server = tls_ctx(cert, key, ca, err, errlen);
    int r = t->server != NULL ? 0 : -EINVAL;
    if (r == 0)
        r = pem_read(&t->cert, cert, err, errlen);
    if (r == 0)
        r = pem_read(&t->key, key, err, errlen);
    if (r == 0)
        r = pem_read(&t->ca, ca, err, errlen);
    if (r < 0) {
        http_tls_free(t);
        return r;
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
    pem_done(&t->cert);
    pem_done(&t->key);
    pem_done(&t->ca);
    free(t);
}

SSL_CTX *
http_tls_server_ctx(const struct http_tls *t)
{
    return t->server;
}

/* `host` of a URL without the brackets of an IPv6 literal, in `h` (size `len`). 0, or -1
 * when it does not fit. */
static int
bare_host(const char *host, char *h, size_t len)
{
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n == 0 || n >= len)
        return -1;
    memcpy(h, host, n);
    h[n] = '\0';
    return 0;
}

/* libcurl's hook for the OpenSSL context of each new connection (`arg`: the URL's host): what
 * its options do not set. OpenSSL itself checks that the certificate names the host, as it
 * checks the chain, so that a refusal is told the same way for both: an IP address must be
 * among the certificate's IP addresses, a name among its DNS names (or be its common name
 * when it has none), without partial wildcards. */
static CURLcode
client_ctx_cb(CURL *easy, void *ssl_ctx, void *arg)
{
    (void)easy;
    char h[256];
    unsigned char addr[16];
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ssl_ctx);
    SSL_CTX_set_verify_depth(ssl_ctx, TLS_VERIFY_DEPTH);
    if (bare_host(arg, h, sizeof(h)) < 0)
        return CURLE_SSL_CERTPROBLEM;
    if (inet_pton(AF_INET, h, addr) == 1 || inet_pton(AF_INET6, h, addr) == 1)
        return X509_VERIFY_PARAM_set1_ip_asc(param, h) == 1 ? CURLE_OK : CURLE_OUT_OF_MEMORY;
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return X509_VERIFY_PARAM_set1_host(param, h, 0) == 1 ? CURLE_OK : CURLE_OUT_OF_MEMORY;
}

int
http_tls_client_setup(const struct http_tls *t, void *easy, const char *host)
{
    /* libcurl keeps pointers to the bytes (NOCOPY): `t` outlives every client using it. */
    struct curl_blob cert = {t->cert.text, t->cert.len, CURL_BLOB_NOCOPY};
    struct curl_blob key = {t->key.text, t->key.len, CURL_BLOB_NOCOPY};
    struct curl_blob ca = {t->ca.text, t->ca.len, CURL_BLOB_NOCOPY};
    /* Only the cluster's CA: none of the system's (its CA file and directory are unset).
     * libcurl checks the host name again after OpenSSL (VERIFYHOST). */
    bool ok =
        curl_easy_setopt(easy, CURLOPT_SSLCERT_BLOB, &cert) == CURLE_OK &&
        curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM") == CURLE_OK &&
        curl_easy_setopt(easy, CURLOPT_SSLKEY_BLOB, &key) == CURLE_OK &&
        curl_easy_setopt(easy, CURLOPT_SSLKEYTYPE, "PEM") == CURLE_OK &&
        curl_easy_setopt(easy, CURLOPT_CAINFO, NULL) == CURLE_OK &&
        curl_easy_setopt(easy, CURLOPT_CAPATH, NULL) == CURLE_OK &&
        curl_easy_setopt(easy, CURLOPT_CAINFO_BLOB, &ca) == CURLE_OK &&
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
        curl_easy_setopt(easy, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) == CURLE_OK &&
        curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, client_ctx_cb) == CURLE_OK &&
        curl_easy_setopt(easy, CURLOPT_SSL_CTX_DATA, (void *)host) == CURLE_OK;
    return ok ? 0 : -ENOMEM;
}

void
http_tls_refusal(void *easy, const char *detail, char *buf, size_t len)
{
    long v = X509_V_OK;
    if (curl_easy_getinfo(easy, CURLINFO_SSL_VERIFYRESULT, &v) != CURLE_OK)
        v = X509_V_OK;
    /* (libcurl reports X509_V_ERR_UNSPECIFIED when it refused before asking OpenSSL.) */
    if (v != X509_V_OK && v != X509_V_ERR_UNSPECIFIED)
        (void)snprintf(buf, len, "TLS: the server's certificate is refused: %s",
                       X509_verify_cert_error_string(v));
    else
        (void)snprintf(buf, len, "TLS: the server's certificate is refused: %s", detail);
}

/* etcd's v3 JSON gateway, asynchronously (etcd.h).
 *
 * The gateway maps each gRPC call to POST /v3/<service>/<call> with the message as JSON, in
 * proto3's JSON mapping: bytes (keys, values) are base64, 64-bit integers are strings, and a
 * field at its default value (false, 0, an empty list) is left out of an answer. An error is
 * a non-2xx status with {"error", "code"}. /v3/lease/keepalive is a stream: one message in the
 * body gets one {"result": ...} back and the stream ends with the body. */
#define _POSIX_C_SOURCE 200809L
#include "net/etcd.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "net/http.h"
#include "net/http_client.h"

/* The largest answer: a prefix read of ETCD_MAX_KVS keys of a few hundred bytes each (the
 * manager's journal), base64 in JSON. */
#define ETCD_MAX_ANSWER ((size_t)16 * 1024u * 1024u)
/* A key or value as base64, with its NUL. */
#define B64_KEY (4 * (ETCD_MAX_KEY + 2) / 3 + 8)
#define B64_VALUE (4 * (ETCD_MAX_VALUE + 2) / 3 + 8)

/* The longest member URL. */
#define ETCD_URL_LEN 256

struct call;

struct etcd {
    struct http_client *client;
    char urls[ETCD_MAX_URLS][ETCD_URL_LEN];
    size_t n_urls;
    size_t cur;
    struct call *live; /* calls in flight, freed with the client */
};

static void call_free(struct call *c);

enum op { OP_GRANT, OP_KEEPALIVE, OP_CREATE, OP_GET, OP_PUT_IF, OP_PREFIX };

struct call {
    struct etcd *e;
    struct call *prev, *next;
    enum op op;
    size_t url;
    double sent;     /* monotonic: when this attempt was sent */
    double deadline; /* monotonic: when the whole call must have an answer */
    size_t tries;    /* members asked so far */
    char *path;
    char *body; /* kept to ask the next member */
    etcd_done_fn done;
    void *arg;
};

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* `len` bytes of `in` as base64 into `out` (`cap` bytes, NUL-terminated). -E2BIG. */
static int
b64_encode(const char *in, size_t len, char *out, size_t cap)
{
    if ((len + 2) / 3 * 4 + 1 > cap)
        return -E2BIG;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned char)in[i] << 16;
        if (i + 1 < len)
            v |= (unsigned char)in[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)in[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = (char)(i + 1 < len ? b64[(v >> 6) & 63] : '=');
        out[o++] = (char)(i + 2 < len ? b64[v & 63] : '=');
    }
    out[o] = '\0';
    return 0;
}

static int
b64_value(char c)
{
    const char *p = c != '\0' ? strchr(b64, c) : NULL;
    return p != NULL ? (int)(p - b64) : -1;
}

/* Base64 `in` into `out` (`cap` bytes with the NUL). -EPROTO not base64; -E2BIG too long. */
static int
b64_decode(const char *in, char *out, size_t cap)
{
    size_t len = strlen(in);
    if (len % 4 != 0)
        return -EPROTO;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int q[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            q[k] = b64_value(in[i + (size_t)k]);
            if (in[i + (size_t)k] == '=' && i + 4 == len && k >= 2) {
                q[k] = 0;
                pad++;
            } else if (q[k] < 0 || pad > 0) {
                return -EPROTO;
            }
        }
        unsigned v =
            (unsigned)q[0] << 18 | (unsigned)q[1] << 12 | (unsigned)q[2] << 6 | (unsigned)q[3];
        if (o + 3 - (size_t)pad + 1 > cap)
            return -E2BIG;
        out[o++] = (char)(v >> 16);
        if (pad < 2)
            out[o++] = (char)((v >> 8) & 0xff);
        if (pad < 1)
            out[o++] = (char)(v & 0xff);
    }
    out[o] = '\0';
    if (strlen(out) != o)
        return -EPROTO; /* a NUL inside: not a value of ours */
    return 0;
}

bool
etcd_urls_tls(const char *list)
{
    return list != NULL && strncmp(list, "https://", 8) == 0;
}

bool
etcd_urls_valid(const char *list)
{
    size_t n = 0;
    const char *p = list;
    if (list == NULL || list[0] == '\0' || strlen(list) > ETCD_MAX_URL_LIST)
        return false;
    /* One scheme for all: a client with TLS speaks only https. */
    bool tls = etcd_urls_tls(list);
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        char url[ETCD_URL_LEN];
        if (len == 0 || len >= sizeof(url) || ++n > ETCD_MAX_URLS)
            return false;
        memcpy(url, p, len);
        url[len] = '\0';
        if (strncmp(url, tls ? "https://" : "http://", tls ? 8 : 7) != 0 || http_url_check(url) < 0)
            return false;
        if (end == NULL)
            return true;
        p = end + 1;
    }
}

/* The URLs of `list` (etcd_urls_valid()) into `urls`; their count. */
static size_t
split_urls(const char *list, char urls[][ETCD_URL_LEN])
{
    size_t n = 0;
    for (const char *p = list; p != NULL; n++) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        memcpy(urls[n], p, len);
        urls[n][len] = '\0';
        p = end != NULL ? end + 1 : NULL;
    }
    return n;
}

int
etcd_new(struct event_base *base, const char *urls, struct etcd **ret)
{
    if (!etcd_urls_valid(urls))
        return -EINVAL;
    struct etcd *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return -ENOMEM;
    e->n_urls = split_urls(urls, e->urls);
    e->client = http_client_new(base);
    if (e->client == NULL ||
        http_client_set_limits(e->client, ETCD_MAX_ANSWER, 2 * ETCD_MAX_ANSWER) < 0) {
        etcd_free(e);
        return -ENOMEM;
    }
    http_client_set_max_conns(e->client, ETCD_MAX_CONNS);
    *ret = e;
    return 0;
}

void
etcd_free(struct etcd *e)
{
    if (e == NULL)
        return;
    http_client_free(e->client); /* cancels the calls: their callbacks never run */
    while (e->live != NULL)
        call_free(e->live);
    free(e);
}

void
etcd_set_tls(struct etcd *e, struct http_tls *tls)
{
    http_client_set_tls(e->client, tls);
}

const char *
etcd_url(const struct etcd *e)
{
    return e->urls[e->cur];
}

/* A 64-bit number of an answer: a string of digits (proto3's JSON) or a JSON integer; absent
 * is 0. -EPROTO anything else. */
static int
get_int64(json_t *o, const char *key, int64_t *ret)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        *ret = 0;
        return 0;
    }
    if (json_is_integer(v)) {
        *ret = json_integer_value(v);
        return 0;
    }
    const char *s = json_string_value(v);
    if (s == NULL || s[0] == '\0' || strlen(s) > 20)
        return -EPROTO;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -EPROTO;
    *ret = n;
    return 0;
}

/* The first key-value of a range answer `rr` into `r`. */
static int
take_kv(json_t *rr, struct etcd_result *r)
{
    json_t *kvs = json_object_get(rr, "kvs");
    json_t *kv = json_array_get(kvs, 0);
    if (kvs != NULL && !json_is_array(kvs))
        return -EPROTO;
    if (kv == NULL)
        return 0; /* absent */
    const char *v = json_string_value(json_object_get(kv, "value"));
    int rc = get_int64(kv, "create_revision", &r->create_rev);
    if (rc == 0)
        rc = get_int64(kv, "lease", &r->kv_lease);
    if (rc == 0)
        rc = b64_decode(v != NULL ? v : "", r->value, sizeof(r->value));
    if (rc == 0 && r->create_rev <= 0)
        rc = -EPROTO;
    r->has_kv = rc == 0;
    return rc < 0 ? -EPROTO : 0;
}

/* Every key-value of a range answer `rr` into r->kvs (allocated; the caller frees it). */
static int
take_kvs(json_t *rr, struct etcd_result *r)
{
    json_t *kvs = json_object_get(rr, "kvs");
    if (kvs != NULL && !json_is_array(kvs))
        return -EPROTO;
    if (json_is_true(json_object_get(rr, "more")))
        return -EPROTO;
    size_t all = json_array_size(kvs);
    size_t n = all < ETCD_MAX_KVS ? all : ETCD_MAX_KVS;
    struct etcd_kv *list = n > 0 ? calloc(n, sizeof(*list)) : NULL;
    if (n > 0 && list == NULL)
        return -ENOMEM;
    r->kvs = list;
    r->n_skipped = all - n;
    for (size_t i = 0; i < n; i++) {
        json_t *kv = json_array_get(kvs, i);
        const char *k = json_string_value(json_object_get(kv, "key"));
        const char *v = json_string_value(json_object_get(kv, "value"));
        if (k == NULL)
            return -EPROTO;
        struct etcd_kv *out = &list[r->n_kvs];
        int dk = b64_decode(k, out->key, sizeof(out->key));
        int dv = dk == 0 ? b64_decode(v != NULL ? v : "", out->value, sizeof(out->value)) : 0;
        if (dk == -E2BIG || dv == -E2BIG) {
            r->n_skipped++; /* longer than the limits: left out */
            continue;
        }
        if (dk < 0 || dv < 0)
            return -EPROTO; /* not base64: not etcd's answer */
        r->n_kvs++;
    }
    return 0;
}

/* Read a 200 answer's fields for `op` into `r`. */
static int
decode(enum op op, const char *body, size_t len, struct etcd_result *r)
{
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    int rc = json_is_object(j) ? 0 : -EPROTO;
    json_t *o = j;
    if (rc == 0 && op == OP_KEEPALIVE) {
        o = json_object_get(j, "result");
        rc = json_is_object(o) ? 0 : -EPROTO;
    }
    if (rc == 0)
        rc = get_int64(json_object_get(o, "header"), "revision", &r->revision);
    if (rc == 0 && (op == OP_GRANT || op == OP_KEEPALIVE))
        rc = get_int64(o, "TTL", &r->ttl);
    if (rc == 0 && op == OP_GRANT)
        rc = get_int64(o, "ID", &r->lease);
    if (rc == 0 && op == OP_GRANT && (r->lease == 0 || r->ttl <= 0))
        rc = -EPROTO;
    if (rc == 0 && op == OP_GET)
        rc = take_kv(o, r);
    if (rc == 0 && op == OP_PREFIX)
        rc = take_kvs(o, r);
    if (rc == 0 && op == OP_PUT_IF)
        r->succeeded = json_is_true(json_object_get(o, "succeeded"));
    if (rc == 0 && op == OP_CREATE) {
        json_t *s = json_object_get(o, "succeeded");
        r->succeeded = json_is_true(s);
        json_t *first = json_array_get(json_object_get(o, "responses"), 0);
        if (!r->succeeded)
            rc = take_kv(json_object_get(first, "response_range"), r);
    }
    json_decref(j);
    return rc;
}

/* `len` bytes of `in` (outside input: etcd's text) into `out` (`cap` bytes), printable ASCII
 * as it is and every other byte, backslash and double quote as \xNN, cut to fit. */
static void
escape(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && in[i] != '\0'; i++) {
        unsigned char ch = (unsigned char)in[i];
        bool plain = ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '"';
        if (o + (plain ? 1 : 4) + 1 > cap)
            break;
        if (plain)
            out[o++] = (char)ch;
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
    }
    out[o] = '\0';
}

/* A refusal (`status`, not 200) or, for a keepalive, an error in a 200 stream ({"error":
 * {"grpc_code", "message"}}): r->err and r->why from its body. -ENOENT gRPC's NOT_FOUND (5,
 * "requested lease not found"); -EAGAIN UNAVAILABLE (14: "no leader", "request timed out":
 * the member has no quorum); -EIO else. */
static void
refusal(const struct call *c, int status, json_t *j, struct etcd_result *r)
{
    json_t *o = json_is_object(json_object_get(j, "error")) ? json_object_get(j, "error") : j;
    const char *m = json_string_value(json_object_get(o, "message"));
    json_t *code = json_object_get(o, "code");
    if (code == NULL)
        code = json_object_get(o, "grpc_code");
    json_int_t n = json_integer_value(code);
    r->err = n == 5 ? -ENOENT : n == 14 ? -EAGAIN : -EIO;
    char text[80];
    escape(m != NULL ? m : "(no message)", 60, text, sizeof(text));
    (void)snprintf(r->why, sizeof(r->why), "%.100s: status %d: %s", c->e->urls[c->url], status,
                   text);
}

/* What call `c` brought (`status` 0: no answer, `err` says why). */
static void
classify(const struct call *c, int status, const char *body, size_t len, const char *err,
         struct etcd_result *r)
{
    struct etcd *e = c->e;
    char text[200];
    if (status == 0) {
        /* "timed out", or "timed out waiting for a connection" in the client's queue. */
        r->err = strncmp(err, "timed out", 9) == 0 ? -ETIMEDOUT : -ECONNREFUSED;
        escape(err, strlen(err), text, sizeof(text));
        (void)snprintf(r->why, sizeof(r->why), "%.100s: %.180s", e->urls[c->url], text);
        return;
    }
    json_t *j = json_loadb(body != NULL ? body : "", len, 0, NULL);
    if (status != 200 || (c->op == OP_KEEPALIVE && json_object_get(j, "error") != NULL)) {
        refusal(c, status, j, r);
    } else if (decode(c->op, body, len, r) < 0) {
        free((void *)r->kvs);
        r->kvs = NULL;
        r->err = -EPROTO;
        escape(body != NULL ? body : "", len < 60 ? len : 60, text, sizeof(text));
        (void)snprintf(r->why, sizeof(r->why),
                       "%.100s: an answer etcd's gateway does not give: %.170s", e->urls[c->url],
                       text);
    }
    json_decref(j);
}

static int attempt(struct call *c);

/* Take `c` off the client's list and free it. */
static void
call_free(struct call *c)
{
    struct etcd *e = c->e;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        e->live = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    free(c->path);
    free(c->body);
    free(c);
}

static void
call_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct call *c = arg;
    struct etcd *e = c->e;
    struct etcd_result r;
    memset(&r, 0, sizeof(r));
    r.sent_mono = c->sent;
    classify(c, status, body, len, err, &r);
    /* No answer, or a member without quorum: the next member, while the call has time. */
    bool member_fault = r.err == -ETIMEDOUT || r.err == -ECONNREFUSED || r.err == -EAGAIN ||
                        (r.err == -EIO && status >= 500);
    if (member_fault && c->url == e->cur)
        e->cur = (e->cur + 1) % e->n_urls;
    if (member_fault && c->tries < e->n_urls && clock_mono_s() < c->deadline - 0.01 &&
        attempt(c) == 0)
        return;
    etcd_done_fn done = c->done;
    void *darg = c->arg;
    call_free(c);
    if (r.err < 0)
        r.n_kvs = 0; /* a prefix read that failed part way */
    done(darg, &r);
    free((void *)r.kvs);
}

/* Send `c` to the current member, with half of the time the call has left (all of it when
 * this is the last member to ask): a member that accepts the connection but never answers
 * (stopped, cut off) leaves time for the others. */
static int
attempt(struct call *c)
{
    struct etcd *e = c->e;
    double left = c->deadline - clock_mono_s();
    double t = c->tries + 1 < e->n_urls ? left / 2.0 : left;
    c->url = e->cur;
    c->tries++;
    c->sent = clock_mono_s();
    return http_request(e->client, e->urls[c->url], "POST", c->path, c->body, t, call_done, c);
}

static int
send_call(struct etcd *e, enum op op, const char *path, json_t *msg, double timeout_s,
          etcd_done_fn done, void *arg)
{
    char *body = msg != NULL ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    struct call *c = body != NULL ? calloc(1, sizeof(*c)) : NULL;
    char *p = c != NULL ? strdup(path) : NULL;
    if (p == NULL) {
        free(c);
        free(body);
        return -ENOMEM;
    }
    *c = (struct call){.e = e, .op = op, .path = p, .body = body, .done = done, .arg = arg};
    c->deadline = clock_mono_s() + timeout_s;
    int r = attempt(c);
    if (r < 0) {
        free(p);
        free(body);
        free(c);
        return r;
    }
    c->next = e->live;
    if (e->live != NULL)
        e->live->prev = c;
    e->live = c;
    return 0;
}

/* A 64-bit number as proto3's JSON writes it. */
static json_t *
int64_json(int64_t v)
{
    char s[24];
    (void)snprintf(s, sizeof(s), "%lld", (long long)v);
    return json_string(s);
}

int
etcd_lease_grant(struct etcd *e, int64_t ttl_s, double timeout_s, etcd_done_fn done, void *arg)
{
    json_t *m = json_pack("{s:o}", "TTL", int64_json(ttl_s));
    return send_call(e, OP_GRANT, "/v3/lease/grant", m, timeout_s, done, arg);
}

int
etcd_lease_keepalive(struct etcd *e, int64_t id, double timeout_s, etcd_done_fn done, void *arg)
{
    json_t *m = json_pack("{s:o}", "ID", int64_json(id));
    return send_call(e, OP_KEEPALIVE, "/v3/lease/keepalive", m, timeout_s, done, arg);
}

int
etcd_create(struct etcd *e, const char *key, const char *value, int64_t lease, double timeout_s,
            etcd_done_fn done, void *arg)
{
    char k[B64_KEY];
    char v[B64_VALUE];
    if (b64_encode(key, strlen(key), k, sizeof(k)) < 0 ||
        b64_encode(value, strlen(value), v, sizeof(v)) < 0)
        return -EINVAL;
    json_t *m = json_pack("{s:[{s:s,s:s,s:s,s:s}],s:[{s:{s:s,s:s,s:o}}],s:[{s:{s:s}}]}", "compare",
                          "key", k, "result", "EQUAL", "target", "CREATE", "create_revision", "0",
                          "success", "request_put", "key", k, "value", v, "lease",
                          int64_json(lease), "failure", "request_range", "key", k);
    return send_call(e, OP_CREATE, "/v3/kv/txn", m, timeout_s, done, arg);
}

int
etcd_get(struct etcd *e, const char *key, double timeout_s, etcd_done_fn done, void *arg)
{
    char k[B64_KEY];
    if (b64_encode(key, strlen(key), k, sizeof(k)) < 0)
        return -EINVAL;
    json_t *m = json_pack("{s:s}", "key", k);
    return send_call(e, OP_GET, "/v3/kv/range", m, timeout_s, done, arg);
}

int
etcd_put_if(struct etcd *e, const char *key, const char *value, const char *guard_key,
            int64_t guard_rev, double timeout_s, etcd_done_fn done, void *arg)
{
    char k[B64_KEY];
    char g[B64_KEY];
    char v[B64_VALUE];
    if (strlen(key) > ETCD_MAX_KEY || strlen(guard_key) > ETCD_MAX_KEY ||
        (value != NULL && strlen(value) > ETCD_MAX_VALUE) ||
        b64_encode(key, strlen(key), k, sizeof(k)) < 0 ||
        b64_encode(guard_key, strlen(guard_key), g, sizeof(g)) < 0 ||
        (value != NULL && b64_encode(value, strlen(value), v, sizeof(v)) < 0))
        return -EINVAL;
    json_t *req = value != NULL ? json_pack("{s:{s:s,s:s}}", "request_put", "key", k, "value", v)
                                : json_pack("{s:{s:s}}", "request_delete_range", "key", k);
    json_t *m =
        json_pack("{s:[{s:s,s:s,s:s,s:o}],s:[o]}", "compare", "key", g, "result", "EQUAL", "target",
                  "CREATE", "create_revision", int64_json(guard_rev), "success", req);
    return send_call(e, OP_PUT_IF, "/v3/kv/txn", m, timeout_s, done, arg);
}

int
etcd_get_prefix(struct etcd *e, const char *prefix, double timeout_s, etcd_done_fn done, void *arg)
{
    size_t len = strlen(prefix);
    char end[ETCD_MAX_KEY + 1];
    char k[B64_KEY];
    char ke[B64_KEY];
    /* The range's end: the prefix with its last byte one higher (ours are ASCII). */
    if (len == 0 || len > ETCD_MAX_KEY || (unsigned char)prefix[len - 1] >= 0x7f)
        return -EINVAL;
    memcpy(end, prefix, len + 1);
    end[len - 1] = (char)(end[len - 1] + 1);
    if (b64_encode(prefix, len, k, sizeof(k)) < 0 || b64_encode(end, len, ke, sizeof(ke)) < 0)
        return -EINVAL;
    json_t *m = json_pack("{s:s,s:s,s:o}", "key", k, "range_end", ke, "limit",
                          int64_json(ETCD_MAX_KVS + 1));
    return send_call(e, OP_PREFIX, "/v3/kv/range", m, timeout_s, done, arg);
}

int
etcd_revoke_blocking(const char *urls, struct http_tls *tls, int64_t id, double timeout_s)
{
    struct http_creds creds = {.token = NULL, .tls = tls};
    if (!etcd_urls_valid(urls))
        return -EINVAL;
    char list[ETCD_MAX_URLS][ETCD_URL_LEN];
    size_t n = split_urls(urls, list);
    char body[64];
    (void)snprintf(body, sizeof(body), "{\"ID\":\"%lld\"}", (long long)id);
    int r = -ECONNREFUSED;
    /* Any member answering settles it: revoked, or already gone. */
    for (size_t i = 0; i < n && r < 0; i++) {
        struct http_answer a;
        r = http_fetch(list[i], "POST", "/v3/lease/revoke", body, &creds, timeout_s, &a);
        if (r == 0)
            free(a.body);
    }
    return r;
}

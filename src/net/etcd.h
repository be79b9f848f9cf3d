/* A client of etcd's v3 JSON gateway (POST /v3/kv/range, /v3/kv/txn, /v3/lease/grant,
 * /v3/lease/keepalive, /v3/lease/revoke; keys and values base64 in JSON, 64-bit numbers as
 * strings), asynchronous on a daemon's event loop. Owns its own HTTP client (etcd must not see
 * the cluster's API token: its gateway takes any bearer token for one of its own). Speaks to
 * one member at a time; when one does not answer (down, stopped, cut off) or answers that it
 * has no quorum, the call is sent again to the next URL of the list within its own time-out,
 * and later calls start there.
 * Knows nothing of leaders: manager_ha.c builds the election on these calls. */
#ifndef VMLOC_NET_ETCD_H
#define VMLOC_NET_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

struct event_base;
struct http_tls;

/* Members in a list, and the longest value kept of a key. */
#define ETCD_MAX_URLS 16
#define ETCD_MAX_VALUE 4096
/* The longest key, and the most keys one prefix read returns. */
#define ETCD_MAX_KEY 512
#define ETCD_MAX_KVS 16384
/* Connections open at once to the members; calls past it wait for one (a manager has one
 * call in flight at a time). */
#define ETCD_MAX_CONNS 8
/* The longest URL list, as written in a config ("http://a:2379,http://b:2379"). */
#define ETCD_MAX_URL_LIST 2048

/* What a call brought back. */
struct etcd_result {
    int err;            /* 0, or -ETIMEDOUT/-ECONNREFUSED (no answer), -EPROTO (bad answer),
                           -ENOENT (etcd: no such lease), -EAGAIN (etcd: no leader, no
                           quorum), -EIO (another refusal); from the last member asked */
    char why[320];      /* what went wrong, for the log ("" when err is 0); etcd's own text
                           in it is escaped (\xNN) */
    int64_t revision;   /* the store's revision in the answer's header */
    bool succeeded;     /* txn: the comparison held */
    int64_t lease;      /* grant: the lease's id */
    int64_t ttl;        /* grant, keepalive: its TTL in seconds (keepalive: 0, the lease is gone) */
    bool has_kv;        /* range, a failed campaign: the key exists */
    int64_t create_rev; /* its creation's revision */
    int64_t kv_lease;   /* the lease it is attached to (0: none) */
    char value[ETCD_MAX_VALUE + 1]; /* its value, NUL-terminated (longer values: -EPROTO) */
    double sent_mono;               /* monotonic: when the answered request was sent */
    /* etcd_get_prefix(): the keys read, in key order (borrowed for the callback). */
    const struct etcd_kv *kvs;
    size_t n_kvs;
    size_t n_skipped; /* keys past ETCD_MAX_KVS, or whose key or value is over the limits */
};

/* One key of a prefix read. */
struct etcd_kv {
    char key[ETCD_MAX_KEY + 1];
    char value[ETCD_MAX_VALUE + 1];
};

/* Called once per call, from the loop, unless the client is freed first. `r` is borrowed. */
typedef void (*etcd_done_fn)(void *arg, const struct etcd_result *r);

struct etcd;

/* Is `list` one to ETCD_MAX_URLS comma-separated http://HOST:PORT URLs, or as many
 * https://HOST:PORT ones (one scheme for all), what etcd_new() takes? */
bool etcd_urls_valid(const char *list);
/* Are they https:// URLs (etcd_urls_valid() said yes): then the client needs etcd_set_tls(). */
bool etcd_urls_tls(const char *list);

/* A client of the members in `urls` (etcd_urls_valid()) on `base` (borrowed; must outlive it).
 * 0 with *ret; -EINVAL a bad list; -ENOMEM. */
MUST_CHECK int etcd_new(struct event_base *base, const char *urls, struct etcd **ret);

/* Cancel the calls in flight (their callbacks are not called) and free. Accepts NULL. */
void etcd_free(struct etcd *e);

/* Speak TLS with `tls` (borrowed; must outlive `e`; NULL: none) to https:// members: their
 * certificates are checked against its CA, and its client certificate, if any, presented.
 * Without it no call to an https:// member can be sent. */
void etcd_set_tls(struct etcd *e, struct http_tls *tls);

/* The member the next call goes to. */
const char *etcd_url(const struct etcd *e);

/* The calls. Each answers within `timeout_s` or reports the last member's failure: a member
 * is given half of the time left (the last one to ask all of it), then the next is asked, each
 * member at most once; 0 when sent, or -ENOMEM / -EIO (then `done` is not called). */
/* A lease of `ttl_s` seconds: r->lease, r->ttl. */
MUST_CHECK int etcd_lease_grant(struct etcd *e, int64_t ttl_s, double timeout_s, etcd_done_fn done,
                                void *arg);
/* Renew lease `id` once: r->ttl, 0 when the lease is gone. */
MUST_CHECK int etcd_lease_keepalive(struct etcd *e, int64_t id, double timeout_s, etcd_done_fn done,
                                    void *arg);
/* Create `key` with `value` attached to lease `lease` only if it does not exist (its
 * create_revision is 0), in one transaction; else read it. r->succeeded: created, at
 * r->revision; else r->has_kv, r->create_rev, r->value say who holds it. */
MUST_CHECK int etcd_create(struct etcd *e, const char *key, const char *value, int64_t lease,
                           double timeout_s, etcd_done_fn done, void *arg);
/* Read `key`: r->has_kv and its fields. */
MUST_CHECK int etcd_get(struct etcd *e, const char *key, double timeout_s, etcd_done_fn done,
                        void *arg);

/* Write `value` to `key` (no lease: it outlives the writer), or delete `key` when `value` is
 * NULL, in one transaction that does so only while `guard_key` has create_revision
 * `guard_rev` (the leader key of the writer's term). r->succeeded: written; false: the guard
 * no longer holds (another manager leads), nothing written. */
MUST_CHECK int etcd_put_if(struct etcd *e, const char *key, const char *value,
                           const char *guard_key, int64_t guard_rev, double timeout_s,
                           etcd_done_fn done, void *arg);
/* Read every key that starts with `prefix` (not empty): r->kvs, r->n_kvs. Keys past the
 * first ETCD_MAX_KVS, and keys whose key or value is longer than the limits, are left out and
 * counted in r->n_skipped (one bad key written by someone else must not stop the reader). */
MUST_CHECK int etcd_get_prefix(struct etcd *e, const char *prefix, double timeout_s,
                               etcd_done_fn done, void *arg);

/* Revoke lease `id` now and wait for the answer (at most `timeout_s`), on an event loop of its
 * own, with `tls` (borrowed; NULL: none) as etcd_set_tls(): for a clean stop, after the
 * daemon's loop has ended. 0 or a negative errno. */
MUST_CHECK int etcd_revoke_blocking(const char *urls, struct http_tls *tls, int64_t id,
                                    double timeout_s);

#endif

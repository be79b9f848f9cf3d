/* The manager (central and edge modes): collects a sample from every registered agent each
 * interval, stores it, runs detection and relocation through the core, orders migrations through
 * the source agents, follows each to its end, and serves the management terminal's API. */
#ifndef VMLOC_MANAGER_MANAGER_H
#define VMLOC_MANAGER_MANAGER_H

#include "common/log.h"
#include "core/policy.h"
#include "net/etcd.h" /* ETCD_MAX_URL_LIST */
#include "net/http_server.h"
#include "proto/wire.h"

#define MANAGER_DEFAULT_LISTEN "127.0.0.1:7700"
/* The store's directory under the daemons' state directory (common/statedir.h) when --data
 * is not given. */
#define MANAGER_DATA_ROLE "manager"
#define MANAGER_DEFAULT_INTERVAL_S 1.0
/* Raw samples: 10 minutes, enough for the page's chart and a look at a recent conflict; a
 * week of one-minute roll-ups; 90 days of conflicts, migrations and recommendations
 * (docs/running.md, "The store", says what each costs per host). */
#define MANAGER_DEFAULT_RETENTION_S 600.0
#define MANAGER_DEFAULT_ROLLUP_RETENTION_S 604800.0
#define MANAGER_DEFAULT_EVENT_RETENTION_S 7776000.0
/* A host whose agent is silent this long is forgotten (7 days); 0: never. */
#define MANAGER_DEFAULT_FORGET_AFTER_S 604800.0
/* Samples are decided on every interval but stored at most every 10 s per host: at 1,000
 * agents x 25 VMs every sample would grow the store by 5.4 MiB/s. */
#define MANAGER_DEFAULT_STORE_EVERY_S 10.0
/* Threads beside the loop that decode the collected samples. "auto" (the default): one when
 * the manager may run on two CPUs or more (its affinity), given the samples once it knows
 * MANAGER_DECODE_AUTO_FROM hosts; below that a round takes milliseconds and the loop decodes
 * them itself. One thread shortens a round of 10,000 samples by a sixth on two cores, its p99
 * by a fifth, for the same CPU at the median of paired runs (bench/README.md, "Smaller
 * decoded samples, and the decoding thread by default"). */
#define MANAGER_DECODE_AUTO (-1)
#define MANAGER_DEFAULT_DECODE_THREADS MANAGER_DECODE_AUTO
#define MANAGER_DECODE_AUTO_FROM 2000u

/* High availability (--etcd): the lease's default, and the longest id and key prefix. */
#define MANAGER_DEFAULT_HA_LEASE_S 3
#define MANAGER_DEFAULT_HA_PREFIX "/vmloc"
#define MANAGER_HA_ID_MAX 64
#define MANAGER_HA_PREFIX_MAX 200

struct manager_opts {
    char listen[WIRE_MAX_URL + 1];
    char data[4096]; /* "" until the caller resolves the default (MANAGER_DATA_ROLE) */
    double interval_s;
    /* Rounds start this long after each whole interval of the wall clock, when the agents'
     * samples of that instant are ready; < 0: the default, manager_collect_offset(). */
    double collect_offset_s;
    double retention_s;        /* how long raw samples are kept in the store */
    double rollup_retention_s; /* and one-minute roll-ups */
    double event_retention_s;  /* and conflicts, migrations and recommendations */
    double forget_after_s;     /* a host silent this long is forgotten; 0: never */
    double store_every_s;      /* a host's sample is stored at most this often */
    int32_t decode_threads;    /* threads that decode collected samples; 0: the loop does;
                                  MANAGER_DECODE_AUTO: see MANAGER_DEFAULT_DECODE_THREADS */
    char policy_path[4096];    /* "" = defaults */
    struct policy policy;      /* parsed (owned by the caller) */
    enum log_level log_level;
    bool edge;                     /* edge mode: agents detect and notify; decide for them only */
    bool collect_on_notify;        /* edge mode: collect only when notified, not every interval */
    struct http_security_conf sec; /* token file, open reads, TLS files */
    struct http_auth auth;         /* loaded from `sec` by the caller before manager_run() */
    struct http_tls *tls;          /* likewise; NULL: plain HTTP */
    /* Active/standby managers (manager_ha.c): etcd's members ("" without), this manager's
     * name among them, the prefix of the leader key and the lease, whole seconds. */
    char etcd[ETCD_MAX_URL_LIST + 1];
    char ha_id[MANAGER_HA_ID_MAX + 1];
    char ha_prefix[MANAGER_HA_PREFIX_MAX + 1];
    int32_t ha_lease_s;
    /* TLS to https:// etcd members: the CA that signed their certificates, and the client
     * certificate and key etcd's --client-cert-auth asks for ("" each: none). */
    char etcd_ca[4096];
    char etcd_cert[4096];
    char etcd_key[4096];
    struct http_tls *etcd_tls; /* loaded from them by the caller before manager_run() */
};

/* Fill `o` with the defaults (the policy with policy_init()). */
void manager_opts_init(struct manager_opts *o);

/* The collection offset in effect: collect_offset_s, or by default a fifth of the interval,
 * at most 0.5 s. */
double manager_collect_offset(const struct manager_opts *o);

/* Run until SIGTERM/SIGINT; prints "listening on http://ADDR:PORT" once it accepts
 * connections. Returns 0 after a clean stop, 1 when it could not start. */
int manager_run(const struct manager_opts *o);

#endif

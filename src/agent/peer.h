/* Peer mode: no manager. When this host is in conflict the agent gathers fresh samples from
 * its peers, decides with the core, takes the destination's lock and migrates (peer.c has the
 * whole story); it serves its own lock to the peers and, on its web page, every host as it
 * sees them (peer_view.c). The mode's state is its own, behind this interface: the agent
 * reports its samples, conflicts and migrations' ends, and asks for the lock and the views. */
#ifndef VMLOC_AGENT_PEER_H
#define VMLOC_AGENT_PEER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "agent/migrate.h"
#include "common/metrics.h"
#include "core/compiler.h"
#include "core/policy.h"
#include "net/http_client.h"
#include "proto/wire.h"

struct peer_mode;
struct sim_arrivals;
struct event_base;

struct peer_opts {
    const char *name;
    const char *url; /* this agent's, as the peers reach it */
    double interval_s;
    double lock_lease_s;
    const struct policy *policy;
    const char *data; /* the store's folder */
    const char (*peers)[WIRE_MAX_URL + 1];
    size_t n_peers;
    bool peers_later; /* more peers come with peer_set_peers() (a peers file) */
};

/* What the mode uses of the agent. */
struct peer_env {
    struct event_base *base;
    struct http_client *client;
    struct migrate *migs;
    struct sim_arrivals *arrivals; /* the backend's, or NULL: dropped when a holder's lease ends */
    /* This host's latest sample, or NULL while there is none. */
    const struct wire_sample *(*own)(void *ctx);
    void *ctx;
};

/* 0 with *ret; -1 after logging why (the store cannot be opened, out of memory). */
int peer_new(const struct peer_opts *o, const struct peer_env *env, struct peer_mode **ret);
void peer_free(struct peer_mode *pm);

/* Peer mode: how long a peer is given to answer, for an agent sampling every `interval_s`
 * (the interval, at least 0.5 s and at most 5 s). A lock lease must outlast a decision. */
double peer_ask_timeout(double interval_s);

/* Every sampling tick: a lock whose lease ran out is freed, with the arrivals its holder
 * announced; a peer list given with peer_set_peers() is applied unless a decision runs. */
void peer_tick(struct peer_mode *pm);

/* Use `urls` (`n`, copied; this agent's own URL is skipped) as the peers from now on, or
 * from the end of the decision that runs. A peer listed before keeps what was seen of it;
 * one no longer listed is dropped (answers still on their way to it are ignored). 0, or
 * -ENOMEM (the list in use stays). */
MUST_CHECK int peer_set_peers(struct peer_mode *pm, const char (*urls)[WIRE_MAX_URL + 1], size_t n);

/* This host's detection at the latest sample: in conflict `key` (conflict_key()), or not
 * (NULL: the episode is over). */
void peer_conflict(struct peer_mode *pm, const char *key);

/* This host's detection at the latest sample `own`: a usage conflict `key` that [detect]
 * contention = confirm did not confirm. Not acted on; recorded in the store and logged with
 * why once per episode, as the manager does. */
void peer_unconfirmed(struct peer_mode *pm, const char *key, const struct wire_sample *own);

/* A conflict that persists: gather, decide, lock, migrate (unless a decision runs). */
void peer_act(struct peer_mode *pm);

/* A migration of ours ended. */
void peer_migration_ended(struct peer_mode *pm, const struct migration *m);

/* POST /v1/lock from `holder` with its request's `token` (0 none; hostlock.h): 0 granted (or
 * renewed); -EBUSY with the current holder and its lease left; -ESTALE a request older than
 * the holder's last take or release (*ret_holder NULL when the lock is free). Counted and
 * logged. */
int peer_lock_request(struct peer_mode *pm, const char *holder, uint64_t token, double lease_s,
                      const char **ret_holder, double *ret_left_s);
/* POST /v1/lock/release: 0; 1 it was not held, or not under `token`; -EPERM held by another
 * (*ret_holder). */
int peer_lock_release(struct peer_mode *pm, const char *holder, uint64_t token,
                      const char **ret_holder);
/* The lock's holder with its lease left, or NULL when it is free. */
const char *peer_lock_holder(struct peer_mode *pm, double *ret_left_s);

/* May `from` move a VM here now? Only the holder of this host's lock may. */
bool peer_takes_from(struct peer_mode *pm, const char *from);

/* What GET /v1/health adds (peers, phase, lock counters; peer_view.c). NULL on OOM. */
json_t *peer_health(const struct peer_mode *pm);
/* What GET /metrics adds (peer_view.c). */
void peer_metrics(const struct peer_mode *pm, struct mtext *t);

/* The store's lists, as a manager serves them. NULL on failure. */
json_t *peer_conflicts_json(struct peer_mode *pm, int limit);
json_t *peer_migrations_json(struct peer_mode *pm, int limit);

/* The web page's view (peer_view.c). Ask the peers for fresh samples, unless that was done
 * less than an interval ago or a decision runs. */
void peer_view_refresh(struct peer_mode *pm);
/* Append every peer as last seen to `arr` (GET /v1/hosts), and mark the VM names on two hosts
 * in the entries already there (this host's) and in the peers'. 0, or -ENOMEM. */
int peer_view_hosts(const struct peer_mode *pm, json_t *arr);
/* A peer's usage history as seen from here. 0 with *ret; -ENOENT no such peer; -ENOMEM. */
int peer_view_history(const struct peer_mode *pm, const char *name, double since, json_t **ret);

#endif

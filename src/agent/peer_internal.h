/* Peer mode's state, shared by its files: peer.c (the decision), peer_model.c (its model),
 * peer_lock.c (this host's lock) and peer_view.c (what the web page shows of the peers, and what
 * health and metrics add). */
#ifndef VMLOC_AGENT_PEER_INTERNAL_H
#define VMLOC_AGENT_PEER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/hostlock.h"
#include "agent/migration.h"
#include "agent/peer.h"
#include "common/backoff.h"
#include "common/once.h"
#include "store/store.h"
#include "view/conflictlog.h"
#include "view/dupvms.h"
#include "view/hostview.h"

struct event;

/* A migration whose commit got no answer holds this host's lock at most this long; after
 * that only its VM stays blocked (marked leaving) until the destination answers. */
#define PEER_RESOLVE_HOLD_S 60.0

/* Has migration `m` waited past PEER_RESOLVE_HOLD_S at monotonic `now` for its destination to
 * say whether it runs the VM? Then its locks go, and only its VM stays held. */
static inline bool
peer_unresolved_held(const struct migration *m, double now)
{
    return m->unknown_since > 0 && now - m->unknown_since > PEER_RESOLVE_HOLD_S;
}

/* Another agent. */
struct peer {
    struct peer_mode *pm;
    struct hview v;      /* as last seen: name "" until its first sample */
    bool fresh;          /* `v.sample` answered in this decision */
    bool waiting;        /* a sample request is outstanding */
    bool refused;        /* refused its lock in the current decision */
    bool counted;        /* the current gathering waits for its answer */
    uint64_t gen;        /* the gathering its outstanding request belongs to */
    bool view_waiting;   /* a sample request for the page is outstanding */
    int inflight;        /* requests sent to it whose callback has not run yet */
    bool retired;        /* no longer listed: freed once `inflight` is 0 */
    uint64_t lock_token; /* of our latest request for its lock (hostlock.h) */
};

/* Where the decision stands. */
enum peer_phase {
    PEER_IDLE = 0,
    PEER_GATHERING = 1,  /* asking every peer for a fresh sample */
    PEER_LOCKING = 2,    /* asking the chosen destination for its lock */
    PEER_CONFIRMING = 3, /* holding its lock, reading the destination's sample again */
    PEER_MIGRATING = 4,  /* holding the destination's lock while our migration runs */
};

struct peer_mode {
    struct peer_opts o;
    struct peer_env env;
    struct hostlock lock;
    struct peer **peers; /* each one stays where it is while requests to it are in flight */
    size_t n_peers;
    struct peer **retired; /* peers no longer listed whose requests are still in flight */
    size_t n_retired;
    char (*pending)[WIRE_MAX_URL + 1]; /* a new list, applied when no decision runs */
    size_t n_pending;
    bool has_pending;
    enum peer_phase phase;
    int outstanding;            /* answers the current gathering still waits for */
    uint64_t gather_gen;        /* which gathering is current */
    struct event *gather_ev;    /* the gathering's deadline */
    bool name_clash;            /* a peer reported this host's name in this gathering */
    int lock_attempts;          /* lock requests in the current decision */
    uint64_t decide_started_us; /* monotonic: when the running decision began */
    size_t lock_target;         /* index into peers while LOCKING or MIGRATING */
    char lock_reason[256];
    const struct migration *acting;
    bool dst_lost; /* MIGRATING: the destination's lock went to another host (lock_lost()) */
    struct event *renew_ev;
    struct store *store;
    char *key;              /* this host's conflict at the latest sample (NULL: none) */
    struct episode episode; /* the conflict episode and outcome last recorded */
    uint64_t locks_granted; /* destination locks we obtained */
    uint64_t lock_refusals; /* destination locks refused to us */
    uint64_t locks_served;  /* lock requests to this host that we granted */
    uint64_t locks_denied;  /* lock requests to this host that we refused */
    double last_resolve_ms; /* gathering start to migration start, last decision */
    struct backoff backoff; /* VMs whose last migration failed wait before the next try */
    struct once storm_once; /* VMs the storm guard holds, logged once per VM and window */
    uint64_t storm_holds_total;
    struct dupvms dups;     /* VM names on two hosts at the last decision */
    uint64_t view_asked_us; /* monotonic: peers last asked for the page's host list */
    uint64_t lock_seq;      /* the last lock token used; from the wall clock at start */
};

/* After a restart: hold the lock again for the source of an arrival still reserved
 * (peer_lock.c). */
void peer_lock_restore(struct peer_mode *pm);
/* Take (or renew) this host's lock for `holder` with `token` (peer_lock.c; hostlock.h): 0,
 * -EBUSY with the holder and its lease left, or -ESTALE. Release it for `holder`: 0; 1 it was
 * not held (or not under `token`); -EPERM held by another. A lease that ran out is freed
 * first, with its holder's arrivals. This host's own lock uses token 0. */
int peer_lock_own(struct peer_mode *pm, const char *holder, uint64_t token, double lease_s,
                  const char **ret_holder, double *ret_left_s);
int peer_lock_drop(struct peer_mode *pm, const char *holder, uint64_t token);

/* Send a request to peer `p` (http_request() with `p` as the argument): every callback of
 * such a request starts with peer_answered(p). 0 or as http_request(). (peer.c) */
int peer_send(struct peer_mode *pm, struct peer *p, const char *method, const char *path,
              const char *body, http_done_fn done);
/* Each sampling tick (peer_tick()): free the dropped peers no request waits for, and apply
 * a new list unless a decision runs. (peer_list.c) */
void peer_list_tick(struct peer_mode *pm);
/* Make `urls` (`n`) the peers; a peer listed before stays as it is. Only while no decision
 * runs. 0 or -ENOMEM (the list in use stays). (peer_list.c) */
int peer_list_apply(struct peer_mode *pm, const char (*urls)[WIRE_MAX_URL + 1], size_t n);
/* Free a peer and its view. */
void peer_destroy(struct peer *p);
/* A request to `p` came back (or failed): one fewer in flight. */
void peer_answered(struct peer *p);

/* The model of this decision: this host (`own`) and every peer with a fresh sample into `cl`;
 * map[i]: the peer index + 1 of cluster host i (0: this host); no_dest, no_source and check
 * per host, as plan_compute() takes them. 0 or -ENOMEM. (peer_model.c) */
int peer_build_model(struct peer_mode *pm, const struct wire_sample *own, struct cluster *cl,
                     size_t *map, bool *no_dest, bool *no_source, bool *check);

/* Record this host's conflict with `outcome` once per episode and outcome. true: it was new.
 * (peer_store.c) */
bool peer_record_conflict(struct peer_mode *pm, const char *outcome);
/* Store migration `m` (borrowed) as this host's, in its present state; a failure is logged.
 * (peer_store.c) */
void peer_record_migration(struct peer_mode *pm, const struct migration *m);

/* Take peer `p`'s answer to a sample request into its view: true when it is a usable sample
 * (a peer that did not answer or sent a bad sample is marked down; a retired one is left
 * alone). (peer.c) */
bool peer_take_sample(struct peer_mode *pm, struct peer *p, int status, const char *body,
                      size_t len, const char *err);

#endif

/* The agent's state shared by its parts: agent.c (lifecycle, sampling, registration),
 * agent_api.c (HTTP handlers) and agent_migrate.c (moving VMs between agents). */
#ifndef VMLOC_AGENT_AGENT_INTERNAL_H
#define VMLOC_AGENT_AGENT_INTERNAL_H

#include <event2/util.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "agent/agent.h"
#include "agent/lv.h"
#include "agent/simhost.h"
#include "common/backoff.h"
#include "common/metrics.h"
#include "common/once.h"
#include "net/http.h"
#include "net/loop.h"
#include "proto/uhist.h"
#include "store/store.h"

struct event;
struct event_base;

enum mig_state {
    MIG_RUNNING = 0,
    MIG_DONE = 1,
    MIG_FAILED = 2,
};

/* A migration out of this host, from order to outcome. */
struct migration {
    struct agent *a;
    char id[WIRE_MAX_ID + 1];
    char vm[MODEL_MAX_NAME + 1];
    char to_url[WIRE_MAX_URL + 1];
    char to_name[MODEL_MAX_NAME + 1];
    enum mig_state state;
    double started; /* wall clock, seconds: shown and kept in the state file */
    double finished;
    double started_mono; /* monotonic: its duration and time-out, whatever the wall clock does */
    double took_s;       /* its duration, once finished */
    double mem_mib;
    double transfer_s;
    char error[256];
    struct event *timer;
    bool in_flight;         /* an HTTP request for it is outstanding */
    bool resolving;         /* a commit got no answer: asking until the destination answers */
    bool commit_sent;       /* sim: the commit went out (saved before it did) */
    bool settled;           /* sim, done: the destination was told its record may go */
    unsigned settle_tries;  /* sim, done: tellings that got no answer */
    double resolving_since; /* monotonic: since when */
    char reason[256];       /* peer mode: why this agent decided it; "" when ordered */
    struct lv_mig *lv;      /* libvirt backend: the migration job, NULL before it starts */
    bool aborting;          /* libvirt: the time-out asked libvirt to abort it */
    double progress_mib;    /* libvirt: memory copied so far, of total_mib */
    double total_mib;
};

enum in_state {
    IN_RESERVED = 0,
    IN_COMMITTED = 1,
    IN_ABORTED = 2,
};

/* A VM arriving on this host. */
struct incoming {
    struct agent *a;
    char id[WIRE_MAX_ID + 1];
    char vm[MODEL_MAX_NAME + 1];
    char from[MODEL_MAX_NAME + 1];
    enum in_state state;
    double since;
    double transfer_s; /* the copy's time its source announced (0: unknown) */
    /* capacity of the source over this host's: the VM's demand, in percent of the source,
     * times this is the same load in percent of this host */
    double scale;
    struct event *expiry;
    /* Committed: the source confirmed it knows. Until then the record is kept (a source that
     * comes back after a crash asks for it, and an unknown id would make it resume the VM). */
    bool settled;
};

#define AGENT_MAX_HISTORY 1000
/* A committed arrival whose source has not settled it is forgotten after a day at the
 * earliest, and only to make room. */
#define AGENT_UNSETTLED_KEEP_S 86400.0
/* Points of a host's usage history are at least this far apart. */
#define AGENT_HIST_GAP_S 1.0

/* libvirt: what the agent knows of one running domain (by UUID), from when it first saw it. */
struct lv_dom {
    char uuid[40];
    double since;  /* wall clock, or -1: running before the agent's first sample */
    bool present;  /* in the latest sample */
    bool incoming; /* seen paused for an incoming migration (lv_arrival_step()) */
    /* Its moves (oldest first), read from its metadata once and kept in step with it. */
    double moves[MODEL_MAX_VM_MOVES];
    uint32_t n_moves;
    bool moves_read;    /* read (or found absent or bad); false: read again at the next sample */
    bool moves_unsaved; /* a move added here is not in its metadata yet: written again */
    double unread_move; /* an arrival seen while its history could not be read (0: none) */
    bool warned;        /* a failure to read or write them was logged */
};

/* Another agent, in peer mode. */
struct peer {
    struct agent *a;
    char url[WIRE_MAX_URL + 1];
    char name[MODEL_MAX_NAME + 1]; /* from its last sample; "" until one came */
    bool up;                       /* answered the last time it was asked */
    bool has_sample;               /* `sample` is fresh: it answered in this decision */
    bool waiting;                  /* a sample request is outstanding */
    bool refused;                  /* refused its lock in the current decision */
    bool counted;                  /* the current gathering waits for its answer */
    uint64_t gen;                  /* the gathering its outstanding request belongs to */
    struct wire_sample sample;
    double last_seen; /* wall clock */
    /* What the web page shows of it (agent_view.c). */
    bool view_waiting;  /* a sample request for the page is outstanding */
    bool in_conflict;   /* at its last sample, under this agent's policy */
    struct uhist *hist; /* its usage as seen from here (NULL until a sample came) */
};

/* Where the peer-mode decision stands (agent_peer.c). */
enum peer_phase {
    PEER_IDLE = 0,
    PEER_GATHERING = 1,  /* asking every peer for a fresh sample */
    PEER_LOCKING = 2,    /* asking the chosen destination for its lock */
    PEER_CONFIRMING = 3, /* holding its lock, reading the destination's sample again */
    PEER_MIGRATING = 4,  /* holding the destination's lock while our migration runs */
};

/* The lock of this host (peer mode): who may migrate into or out of it now. */
struct host_lock {
    bool held;
    char holder[MODEL_MAX_NAME + 1];
    uint64_t expires_us; /* monotonic clock */
};

struct agent {
    const struct agent_opts *opts; /* the caller's, for the agent's whole run */
    struct loop loop;
    struct event_base *base;    /* loop.base */
    struct http_client *client; /* loop.client */
    struct simhost hv;           /* the simulated backend */
    struct hv_trace trace;      /* its VMs' trace, when [sim] trace gives one */
    struct lv_conn lv;       /* the libvirt backend */
    struct event *lv_wake_ev;   /* libvirt's events and migration ends */
    bool lv_started;            /* agent_lv_init() ran: agent_lv_done() must run */
    char hv_error[256];         /* libvirt: why no sample ("" when sampling works) */
    /* libvirt: when each running domain first appeared here (by UUID), for the cooldown;
     * -1 for those already running at the first sample. */
    struct lv_dom *arrivals;
    size_t n_arrivals;
    bool arrivals_known; /* the first sample was taken */
    char url[WIRE_MAX_URL + 1];
    uint64_t seq;
    double sample_time;
    /* The latest sample (has_sample false while the hypervisor is away), and its JSON as
     * served, written once per sample (wire_sample_encode()). */
    struct wire_sample sample;
    bool has_sample;
    char *sample_json;
    /* the sample taken at the last sampling instant (samples taken on events, a migration or
     * a load change, come in between): GET /v1/sample?scheduled=1 */
    char *scheduled_json;
    struct event *sample_ev;
    struct event *register_ev;
    bool registered;
    struct migration *migs[AGENT_MAX_HISTORY];
    size_t n_migs;
    bool state_loaded; /* sim with --data: the state file was read (or absent): save it */
    char *state_text;  /* sim with --data: the state last written (agent_state.c) */
    struct incoming *ins[AGENT_MAX_HISTORY];
    size_t n_ins;
    uint64_t next_id;

    /* Detection on this host (edge and peer modes; agent_detect.c). */
    bool in_conflict;       /* at the last sample */
    char conflict_vms[512]; /* "a,b": the conflicting VMs at the last sample */
    char conflict_kinds[64];
    uint64_t conflicts_detected; /* episodes */
    uint32_t conflict_seen;      /* conflicts in the last samples, newest in bit 0 */
    bool notify_in_flight;       /* edge: a notification is outstanding */
    uint64_t notifications;

    /* Peer mode (agent_peer.c). */
    struct host_lock lock;
    struct peer *peers;
    size_t n_peers;
    enum peer_phase phase;
    int outstanding;         /* answers the current gathering still waits for */
    uint64_t gather_gen;     /* which gathering is current */
    struct event *gather_ev; /* the gathering's deadline */
    bool name_clash;         /* a peer reported this host's name in this gathering */
    int lock_attempts;       /* lock requests in the current decision */
    uint64_t decide_started_us; /* monotonic: when the running decision began */
    size_t lock_target; /* index into peers while LOCKING or MIGRATING */
    char lock_reason[256];
    char acting_vm[MODEL_MAX_NAME + 1];
    struct migration *acting;
    struct event *renew_ev;
    struct store *store;
    char recorded_sig[600]; /* the conflict episode and outcome last recorded */
    uint64_t locks_granted; /* destination locks we obtained */
    uint64_t lock_refusals; /* destination locks refused to us */
    uint64_t locks_served;  /* lock requests to this host that we granted */
    uint64_t locks_denied;  /* lock requests to this host that we refused */
    double last_resolve_ms; /* gathering start to migration start, last decision */
    struct backoff backoff; /* peer: VMs whose last migration failed wait before the next try */
    struct once storm_once; /* peer: VMs the storm guard holds, logged once per VM and window */
    uint64_t storm_holds_total;

    /* The web page (agent_view.c). */
    struct uhist *hist;     /* this host's recent usage (NULL until the first sample) */
    uint64_t view_asked_us; /* monotonic: peers last asked for the page's host list */

    /* For GET /metrics: this agent's own migrations (as the source). */
    uint64_t mig_done_total;
    uint64_t mig_failed_total;
    struct histo mig_h;
    struct histo sample_h;   /* how long taking a sample took (a slow hypervisor shows here) */
    double slow_warned_mono; /* when a slow sample was last warned of (0: never) */
};

/* The HTTP routes of an agent (agent_api.c). */
extern const struct http_route agent_routes[];
extern const size_t agent_n_routes;

/* Take a sample now and cache its JSON (agent.c). */
void agent_sample(struct agent *a);

/* Append VM object `o` (taken) to `arr`, with the host's name. Returns `arr`, or NULL (both
 * freed) when `o` is NULL or memory runs out (agent.c). */
json_t *agent_vm_append(struct agent *a, json_t *arr, json_t *o);

/* JSON of a VM list or of one VM, for the API (agent.c). Caller frees. NULL on OOM. */
char *agent_vms_json(struct agent *a);

/* Start migrating VM `o->vm` to `o->to`. 0: *ret_m set (owned by the agent). -ENOENT: no
 * such VM; -EBUSY: it is already migrating or arriving; -EPERM: it is pinned; -EEXIST:
 * the id is taken; -ENOMEM (agent_migrate.c). */
int agent_migrate_start(struct agent *a, const struct wire_order *o, struct migration **ret_m);

/* A migration record for order `o` (its id, or a new one), running from now; not yet in
 * the history. NULL with *ret_err (-EBUSY history full, -ENOMEM). */
struct migration *agent_migration_new(struct agent *a, const struct wire_order *o, int *ret_err);
/* Put `m` into the history (room was made by agent_migration_new()). */
void agent_migration_add(struct agent *a, struct migration *m);

/* The libvirt backend's side of the agent (agent_libvirt.c). */
int agent_lv_init(struct agent *a);
void agent_lv_done(struct agent *a);
/* Make `s` (taken) the agent's latest sample: a->sample, and its JSON in a->sample_json. A
 * sample that cannot be encoded (out of memory) is dropped and logged; the previous one
 * stays. */
void agent_sample_set(struct agent *a, struct wire_sample *s);

/* No sample now (the hypervisor is away): a->has_sample false, a->sample_json NULL. */
void agent_sample_clear(struct agent *a);

/* Sample through libvirt (agent_sample_set()), or no sample with a->hv_error when libvirt is
 * away. */
void agent_lv_sample(struct agent *a);
/* The VMs as GET /v1/vms lists them. NULL on OOM. */
json_t *agent_lv_vms(struct agent *a);
/* What other agents need to migrate VMs here, and the connection's state (for /v1/health). */
json_t *agent_lv_health(struct agent *a);
int agent_lv_migrate_start(struct agent *a, const struct wire_order *o, struct migration **ret_m);

/* Find a migration or an arrival by id; NULL if none. */
struct migration *agent_migration_find(struct agent *a, const char *id);
/* Trace-driven VMs ask for their trace's value at wall time `now` (before an allocation). */
void agent_trace_demand(struct agent *a, double now);

struct incoming *agent_incoming_find(struct agent *a, const char *id);

/* Handle the destination side: reserve, commit, abort, settle (agent_migrate.c). Return an HTTP
 * status and fill `msg` on errors. */
int agent_incoming_reserve(struct agent *a, const struct wire_incoming *in, char *msg, size_t len);
int agent_incoming_commit(struct agent *a, const char *id, const struct wire_load *final, char *msg,
                          size_t len);
int agent_incoming_abort(struct agent *a, const char *id, char *msg, size_t len);
int agent_incoming_settle(struct agent *a, const char *id, char *msg, size_t len);

/* JSON of one migration / all migrations (agent_migrate.c). Caller frees. */
char *agent_migration_json(const struct migration *m);
char *agent_migrations_json(struct agent *a);
const char *mig_state_name(enum mig_state s);

/* Free migration and arrival records (agent_migrate.c). */
void agent_migrate_done(struct agent *a);

/* An arrival not committed within this time after its copy should have ended is dropped. */
#define AGENT_INCOMING_EXPIRY_S 120

/* The expiry timer of a reserved arrival (`arg`: the struct incoming). */
void agent_incoming_expiry_cb(evutil_socket_t fd, short what, void *arg);

/* A migration read back from the state file after a restart: one that was running is
 * resolved with its destination (the VM stays here, leaving, until the destination says
 * whether it runs it). 0 or -ENOMEM. */
int agent_migration_resume(struct migration *m);

/* --- the simulated host's state file (agent_state.c) --- */

/* Is the state kept on disk (simulated backend with --data)? */
bool agent_state_enabled(const struct agent *a);

/* Read DATA/hv-sim.json if it exists, before the loop runs: its VMs, arrivals and
 * migrations. *ret_found: the file was there (then the --vm list is not used). 0, or a
 * negative errno after logging what is wrong (the agent must not start). */
int agent_state_load(struct agent *a, bool *ret_found);

/* Once the loop exists: arm the restored arrivals' expiry and resolve the restored running
 * migrations. 0 or -ENOMEM. */
int agent_state_resume(struct agent *a);

/* Write the state if it changed since the last write (atomically). 0 or -errno (logged). */
int agent_state_save(struct agent *a);

/* After each sampling tick: keep the host's usage history, detect on the sample just taken
 * and act on the mode: edge notifies the manager, peer starts a decision (agent_detect.c). */
void agent_detect(struct agent *a);

/* Peer mode (agent_peer.c). */
int agent_peer_init(struct agent *a);
void agent_peer_done(struct agent *a);
/* Every sampling tick: a lock whose lease ran out is freed, with the arrivals its holder
 * announced. */
void agent_peer_tick(struct agent *a);
/* A conflict on this host: gather, decide, lock, migrate (unless a decision runs). */
void agent_peer_act(struct agent *a);
/* Take peer `p`'s answer to a sample request into p->sample: true when it is a usable
 * sample (a peer that did not answer or sent a bad sample is marked down). */
bool agent_peer_take_sample(struct agent *a, struct peer *p, int status, const char *body,
                            size_t len, const char *err);
/* A migration of ours ended (agent_migrate.c calls it in every mode). */
void agent_migration_ended(struct agent *a, struct migration *m);
/* Note that migration `m` ends now: its finish time on the wall clock, and its duration on the
 * monotonic clock, so that a clock jump during the copy neither shortens nor stretches it. */
void mig_set_finished(struct migration *m);

/* The web page's view (agent_view.c). Peer mode: ask the peers for fresh samples, unless
 * that was done less than an interval ago or a decision runs. */
void agent_view_refresh(struct agent *a);
/* Peer `p`'s sample was just taken: note whether it is in conflict, keep its history. */
void agent_view_peer_sampled(struct agent *a, struct peer *p);
/* GET /v1/hosts in peer mode: this host, then every peer as last seen. NULL on OOM. */
json_t *agent_view_hosts(struct agent *a);
/* GET /v1/hosts/NAME/history: this host's, or in peer mode a peer's as seen from here.
 * 0 with *ret set; -ENOENT: no such host; -ENOMEM. */
int agent_view_history(struct agent *a, const char *name, double since, json_t **ret);

/* The lock of this host: take (or renew) for `holder`; 0, or -EBUSY with *ret_holder the
 * current holder and *ret_left_s its lease left. Release: 0; -EPERM when held by another
 * (nothing changes); 1 when it was not held. */
int agent_lock_take(struct agent *a, const char *holder, double lease_s, const char **ret_holder,
                    double *ret_left_s);
int agent_lock_release(struct agent *a, const char *holder);
/* The lock's holder, with its lease left, or NULL when it is free. */
const char *agent_lock_holder(struct agent *a, double *ret_left_s);

#endif

/* The manager's state, shared by its files, and each file's functions in a section of its
 * own, from the lowest layer up (docs/design.md): a file calls only the sections before its
 * own, and reports up through the hooks that manager.c fills in. */
#ifndef VMLOC_MANAGER_MANAGER_INTERNAL_H
#define VMLOC_MANAGER_MANAGER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common/backoff.h"
#include "common/metrics.h"
#include "common/nameidx.h"
#include "common/once.h"
#include "common/ratelog.h"
#include "manager/manager.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "proto/uhist.h"
#include "store/store.h"
#include "view/conflictlog.h"
#include "view/dupvms.h"
#include "view/hostview.h"

struct event;
struct event_base;

struct etcd;
struct manager;
struct manager_ha;
struct manager_journal;
struct mtext;

/* One agent, i.e. one host. Allocated one by one, so pointers stay valid. */
struct mhost {
    struct manager *m;
    struct hview v;            /* its record: name, url, latest sample, up, history, in conflict */
    struct http_target target; /* v.url taken apart, when target_ok (cleared as v.url moves) */
    bool target_ok;
    bool stale_view; /* edge: when it notified, the others' samples were of an earlier instant */
    int misses;      /* consecutive rounds without an answer */
    char miss_reason[300];  /* why the last one did not come */
    double last_stored;     /* monotonic: when a sample was last stored (0: none yet) */
    double sample_age;      /* its last sample's age when collected, by the two clocks */
    unsigned odd_ages;      /* consecutive samples too old, or dated ahead of this clock */
    double age_warned;      /* monotonic: when that was last logged (0: never) */
    struct episode episode; /* the conflict episode and outcome last recorded */
    bool unresolved_logged;
    bool unconfirmed_open; /* contention = confirm: its usage conflict, not confirmed, recorded */
    bool waiting;          /* a sample request is outstanding */
    unsigned inflight;     /* requests with this host as their argument, not yet answered */
    bool forgotten;        /* off the list; freed when `inflight` is back to 0 */
    double contact;        /* wall clock: its last registration or sample */
    double reg_stored;     /* wall clock: the registration time of its stored row (0: none) */
    char reg_stored_url[WIRE_MAX_URL + 1]; /* the URL of that row */
    /* edge: a notification's sample came while the round's sample request was out; its
     * answer is kept only if it is newer (the flag goes with the next request) */
    bool notified_mid_round;
    bool notified;          /* edge: its agent notified a conflict since the last decision */
    double notified_at;     /* monotonic: its last notification */
    double agent_interval;  /* the agent's sampling interval, from its registration (0: unknown) */
    uint32_t conflict_seen; /* central: conflicts in its last samples, newest in bit 0 */
    uint64_t persist_seq;   /* the sample last counted in conflict_seen (0: none) */
    /* Maintenance (vmloc drain): its VMs are moved off, nothing comes in, until undrained. */
    bool maintenance;
    double maintenance_since;                /* wall clock */
    int drain_block;                         /* enum plan_block of the last decision, 0: none */
    bool drained_logged;                     /* "drained" was logged for this maintenance */
    char drain_block_vm[MODEL_MAX_NAME + 1]; /* the VM that blocks it, "" if none */
    /* Another agent registering under this host's name from another URL, refused while this
     * one answers: its URL (the latest), when it last tried and how often in this episode. */
    char clash_url[WIRE_MAX_URL + 1];
    double clash_last;      /* wall clock */
    double clash_last_mono; /* monotonic: the episode lasts MANAGER_CLASH_HOLD_S after it */
    uint64_t clash_refused;
};

enum mmig_state {
    MMIG_PLANNED = 0,
    MMIG_RUNNING = 1,
    MMIG_DONE = 2,
    MMIG_FAILED = 3,
};

/* A migration the manager ordered and has not seen end. */
struct mmig {
    struct manager *m;
    struct store_migration rec;
    enum mmig_state state;
    bool in_flight;      /* an HTTP request about it is outstanding */
    int attempts;        /* orders sent without an answer */
    double last_answer;  /* monotonic: the last answer about it (rec.answered on the wall clock) */
    double started_mono; /* monotonic: when it was planned, for its duration */
    unsigned silent;     /* follow-ups in a row the source did not answer */
    bool asked_dst;      /* the source fell silent and the destination is being asked */
    bool abort_refused;  /* the destination refused our withdrawal (logged once) */
    bool source_done;    /* the source said it is done (with its job's figures, if any) */
    bool journal_wait;   /* --etcd: planned, its order waits for its record in etcd */
    bool store_wait;     /* planned in a decision, its order waits for its record's commit */
    bool store_done;     /* ... and a commit during the decision took its record: it goes out */
    bool store_lost;     /* ... or a commit failed after its record was written: never sent */
    bool sent_logged;    /* "migration ordered" logged (when its order first went out) */
    bool src_forgot;     /* the source answered that it has no such migration (404) */
    bool held_logged;    /* "the source may still act" logged */
    bool kept_logged;    /* "reservation kept" logged */
    bool unlisted;       /* --etcd: not in the journal when this manager took the lead, so
                            another leader may have settled it: followed, recorded in our store
                            and not reported when it ends; journaled again if its source says
                            it still runs (manager_mark_unlisted()) */
    bool never_sent;     /* unlisted, and its order was never sent by this manager (it waited
                            for its journal record): if its source never heard of it either,
                            it failed as never ordered, reported as any */
};

#define MANAGER_MAX_AGENTS 10000
/* Slots of the hosts' index by name: a power of two over twice MANAGER_MAX_AGENTS, so that a
 * lookup probes a slot or two. */
#define MANAGER_HOST_INDEX 32768
/* Collection rounds an agent may miss before its host is marked down. */
#define MANAGER_DOWN_AFTER 3
/* Lines a minute of each kind that one line per host would flood (common/ratelog.h). */
#define MANAGER_LOG_BURST 20
/* A host's samples out of step with the rounds: this many in a row are logged, at most every
 * ten minutes; dated more than 50 ms ahead of the manager's clock counts as out of step. */
#define MANAGER_ODD_AGES 5
#define MANAGER_AGE_WARN_EVERY_S 600.0
#define MANAGER_AGE_AHEAD_S 0.05
/* The raw samples the store holds (store_hold_raw()) are written this often. */
#define MANAGER_RAW_WRITE_S 10.0
/* A refused rival registration is shown for this long after its last try (a refused agent
 * tries again every 5 s, whatever register_every): the clash episode lasts while it keeps
 * trying. */
#define MANAGER_CLASH_HOLD_S 30.0
/* A host's row in the store's `agents` table is rewritten on a registration that changes it
 * (a new host, another URL), else only once it is this old (and at most a tenth of
 * forget_after): after a restart a host's silence counts from that time, up to this much
 * early. Agents refresh every 5 to 60 s (register_every); one row write each would be most of
 * what the manager writes. */
#define MANAGER_REG_REFRESH_S 3600.0
/* How often an agent refreshes its registration, as the manager asks in its answer
 * ("register_every"): every MANAGER_REG_EVERY_MIN_S while that keeps the refreshes under
 * MANAGER_REG_PER_S a second, else less often, up to MANAGER_REG_EVERY_MAX_S (at 10,000
 * agents every 50 s). A refresh only says the agent is there; the rounds reach it anyway, so
 * at scale they would cost the manager a tenth of its CPU for nothing (bench/README.md). */
#define MANAGER_REG_EVERY_MIN_S 5.0
#define MANAGER_REG_EVERY_MAX_S 60.0
#define MANAGER_REG_PER_S 200.0
#define MANAGER_MAX_ACTIVE 4096
/* Pending recommendations kept (automation = manual or dry-run). */
#define MANAGER_MAX_RECS 4096

struct figures_ask;

struct manager {
    struct manager_opts opts;
    struct loop loop;
    struct event_base *base;    /* loop.base */
    struct http_client *client; /* loop.client */
    struct store *store;
    struct mhost **hosts;
    size_t n_hosts;
    struct nameidx host_index; /* the hosts by name (empty until the first registers) */
    struct mhost **retired;    /* forgotten hosts some request still points to */
    size_t n_retired;
    struct mmig *active[MANAGER_MAX_ACTIVE];
    size_t n_active;
    struct figures_ask *asks; /* requests for ended migrations' job figures, in flight */
    struct event *round_ev;
    struct workq *decoder;   /* threads that decode the rounds' samples; NULL: the loop does */
    size_t decode_from;      /* ... when the manager knows this many hosts or more */
    uint64_t decoded_beside; /* samples they decoded (GET /v1/health) */
    size_t decode_bytes;     /* the bodies of the samples waiting for them */
    int outstanding;         /* sample requests of the current round, and samples decoding */
    bool in_round;
    bool txn;           /* a store transaction is open (manager.c, txn_commit()) */
    bool hold_orders;   /* a decision runs: its orders wait for one commit of their records */
    int store_paused;   /* manager_store_pause() calls not yet resumed */
    double raw_written; /* monotonic s: when the raw samples held were last written */
    uint64_t rounds;
    uint64_t round_started_us;
    double last_round_ms;
    double last_decide_ms;
    uint64_t next_id;
    uint64_t notifications;  /* edge mode */
    struct event *decide_ev; /* edge: one decision for the notifications of one loop pass */
    /* For GET /metrics. */
    struct histo round_h;  /* collection round, seconds */
    struct histo decide_h; /* decision, seconds */
    struct histo age_h;    /* a sample's age when collected (sample time to answer), seconds */
    struct histo mig_h;    /* migration, order to end, seconds */
    /* Recommendations still pending (or shown, in dry-run), with a mark per decision. */
    struct store_rec *recs[MANAGER_MAX_RECS];
    bool rec_seen[MANAGER_MAX_RECS];
    size_t n_recs;
    struct backoff backoff; /* VMs whose last migration failed wait before the next try */
    struct once storm_once; /* VMs the storm guard holds, logged once per VM and window */
    /* Lines that a flood of hosts would repeat (rogue registrations, a cluster restarting):
     * at most MANAGER_LOG_BURST a minute each, then a count. */
    struct ratelog registered_log;
    struct ratelog no_sample_log;
    struct ratelog clash_log; /* "registration refused": a rival from many URLs */
    uint64_t storm_holds_total;
    struct dupvms dups;             /* VM names on two hosts at the last decision */
    uint64_t registrations_refused; /* rival registrations refused (409), all episodes */
    uint64_t conflicts_total;
    uint64_t ordered_total;
    uint64_t done_total;
    uint64_t failed_total;
    struct manager_ha *ha;           /* active/standby on etcd; NULL without --etcd */
    struct manager_journal *journal; /* the leader's journal in etcd; NULL without --etcd */
};

/* ---- the leader's journal in etcd (manager_journal.c) ---- */

/* A drain as the journal lists it: the host its key names, and whether its record could be
 * read (then `since`, when the drain began). */
struct journal_drain {
    const char *host; /* borrowed */
    bool readable;
    double since;
};
/* What the journal tells the layers above it, which manager.c fills in: the journal calls
 * none of them itself. */
struct manager_journal_hooks {
    /* Migration `id`'s record is in etcd: its order, if waiting for that, goes out now. */
    void (*journaled)(struct manager *m, const char *id);
    /* A write found another manager's leader key: stop leading now. */
    void (*deposed)(struct manager *m, const char *why);
    /* The journal read on taking the lead, in this order: each migration record (true when
     * it became one of ours); the ids of every migration it lists, sorted by strcmp (only
     * when the list is whole); its drains (the hosts put into maintenance); the
     * recommendations it holds. */
    bool (*adopt)(struct manager *m, const struct store_migration *rec);
    void (*listed)(struct manager *m, const char *const *ids, size_t n);
    size_t (*drains)(struct manager *m, const struct journal_drain *d, size_t n);
    void (*recs)(struct manager *m, const struct store_rec *recs, size_t n);
};
/* The journal of the managers sharing `e` (borrowed) under key prefix `prefix`, whose writes
 * hold only while `leader_key` is of the writer's term; each call waits at most `timeout_s`;
 * it reports through `hooks` (borrowed, static). 0 with *ret, or -ENOMEM. */
int manager_journal_new(struct manager *m, const struct manager_journal_hooks *hooks,
                        struct etcd *e, const char *prefix, const char *leader_key,
                        double timeout_s, struct manager_journal **ret);
/* Free (the writes queued are dropped). Accepts NULL. */
void manager_journal_free(struct manager_journal *j);
/* Called once a load ends: `err` NULL when read (writes under `term` go out from now on), else
 * why not. */
typedef void (*manager_journal_loaded_fn)(struct manager *m, uint64_t term, const char *err);
/* Taking the lead at `term`: read the journal, adopt its migrations, drains and
 * recommendations, then `loaded`. 0 when the read was sent; -EBUSY a read is under way;
 * -ENOMEM / -EIO. */
int manager_journal_load(struct manager *m, uint64_t term, manager_journal_loaded_fn loaded);
/* Stop writing (the lead is lost); queued writes are dropped. */
void manager_journal_end(struct manager *m);
/* Is the journal written now (this manager leads with the journal read)? false without --etcd. */
bool manager_journal_writing(const struct manager *m);
/* Journal migration `rec` (its current state), or delete its record once it has `ended`. 0:
 * the write is queued; -EPERM: not writing; -ENOMEM: it could not be made (logged). */
int manager_journal_migration(struct manager *m, const struct store_migration *rec, bool ended);
/* Journal recommendation `rec` while it is held (state pending or dry-run), or delete its
 * record once settled (any other state). No-op unless writing. */
void manager_journal_rec(struct manager *m, const struct store_rec *rec);
/* A request to answer once a change is in the journal: `r`, with `code` and the JSON text
 * `json` (copied). */
struct journal_answer {
    struct http_req *r;
    int code;
    const char *json;
    const char *late; /* a static text: the 503's when etcd does not confirm in time (NULL: the
                         journal's own, "... ask again") */
};
/* How long a request waits for etcd's confirmation before it is answered 503. */
#define MANAGER_JOURNAL_ANSWER_S 5.0
/* Journal host `host`'s drain (`on`, since `since`) or its end, and with `ans` (or NULL)
 * answer that request once the record is in etcd, or 503 if this manager stops leading first
 * or etcd does not confirm it within MANAGER_JOURNAL_ANSWER_S (a manager that stops sends no
 * answer: its client sees the connection close). 1: queued (`ans` will be answered); 0: not
 * writing (no etcd, or not leading): answer `ans` now; -ENOMEM: not queued, or queued with
 * nothing to wait on it (logged): `ans` is the caller's to answer. */
int manager_journal_drain(struct manager *m, const char *host, bool on, double since,
                          const struct journal_answer *ans);
/* Send the next queued write if none is in flight (after etcd did not answer). */
void manager_journal_kick(struct manager *m);
/* Writes queued or in flight. */
size_t manager_journal_pending(const struct manager *m);

/* ---- active/standby managers on etcd (manager_ha.c) ---- */

/* What the election tells the layers above it, which manager.c fills in. */
struct manager_ha_hooks {
    /* This manager has just taken the lead, with the journal read: decide and follow at
     * once. */
    void (*took_lead)(struct manager *m);
    const struct manager_journal_hooks *journal; /* for the journal it writes while leading */
};
/* With --etcd: campaign for the lead from now on (the loop's URL is the one announced),
 * reporting through `hooks` (borrowed, static). 0, or -ENOMEM / -EINVAL (nothing left
 * behind). Without --etcd: 0, and nothing runs. */
int manager_ha_start(struct manager *m, const struct manager_ha_hooks *hooks);
/* Stop campaigning and give the lead away (its lease revoked, waiting at most a second).
 * Accepts a manager without HA. */
void manager_ha_stop(struct manager *m);
/* May this manager decide and order now? Always without --etcd; with it, only the leader
 * whose lease cannot have run out on etcd's side (it steps down here when it may have). */
bool manager_ha_leads(struct manager *m);
/* The term to send with orders: the leader's, 0 without --etcd or when not leading. */
uint64_t manager_ha_term(const struct manager *m);
/* A change (drain, apply, forget...) sent to a manager that does not lead: answered here with
 * 307 to the leader, or 503 when none is known, and true; false: serve it. */
bool manager_ha_redirect(struct manager *m, struct http_req *r);
/* GET /v1/health: "role" (leader, follower, none), "term", "leader", "ha_id", "etcd" and
 * "ha_problem" into `o`; nothing without --etcd. */
void manager_ha_health(struct manager *m, json_t *o);
/* GET /metrics: the vmloc_ha_* families; nothing without --etcd. */
void manager_ha_metrics(struct manager *m, struct mtext *t);

/* The journal in etcd has a write under this manager's term refused (another manager leads):
 * stop leading now. */
void manager_ha_deposed(struct manager *m, const char *why);

/* ---- the hosts (manager_hosts.c) ---- */

/* Find or add the host of agent `name` at `url`. The first registration of a name holds it:
 * another URL takes it over only once the holder has gone silent (marked down after
 * MANAGER_DOWN_AFTER missed rounds; logged as a warning), else it is refused and the clash
 * recorded on the holder (logged as an error once per episode). 0 with *ret_h; -EEXIST
 * refused (*ret_h: the holder); -ENOSPC too many agents; -ENOMEM. */
int manager_host_register(struct manager *m, const char *name, const char *url,
                          struct mhost **ret_h);
/* Store host `h`'s registration (its URL and `contact`) unless its stored row has the same
 * URL and is recent (MANAGER_REG_REFRESH_S); a failure is logged and tried again at the next
 * registration. */
void manager_host_store_reg(struct manager *m, struct mhost *h);
/* Is a rival registration of host `h` refused recently (its clash episode still open)? */
bool manager_host_clash(const struct mhost *h);
struct mhost *manager_host_find(struct manager *m, const char *name);
/* Ask a newly registered agent for its sample at once, outside the rounds, so that its host
 * is a destination (and shown) without waiting for the next round. */
void manager_sample_now(struct manager *m, struct mhost *h);
/* Take host `h`'s sample `s`: its latest, in its roll-ups, stored raw if due. `s` is moved. */
void manager_host_sample(struct manager *m, struct mhost *h, struct wire_sample *s);
/* Forget host `h` (`why` for the log): off the list and out of the store. Not forgotten
 * (nothing changed): -EBUSY while a migration involves it, -EIO when the store could not
 * forget it, -ENOMEM. Requests in flight to it finish first (manager_host_answered()).
 * Forgotten: 0, answer `ans` (may be NULL) now; with etcd, a host in maintenance leaves the
 * journal's drains too, and `ans` waits for that write (1: answered once etcd confirms it, as
 * manager_journal_drain() says), or MANAGER_FORGOT_UNJOURNALED when that write cannot be
 * made or waited on (out of memory, logged): `ans` is the caller's. */
#define MANAGER_FORGOT_UNJOURNALED 2
int manager_host_forget(struct manager *m, struct mhost *h, const char *why,
                        const struct journal_answer *ans);
/* Forget the hosts silent for longer than forget_after (once a round). */
void manager_forget_silent(struct manager *m);
/* Send `method path` to host `h` with `done(h, ...)`; every such callback starts with
 * manager_host_answered(). 0 or as http_request(). */
int manager_host_send(struct manager *m, struct mhost *h, const char *method, const char *path,
                      double timeout_s, http_done_fn done);
/* A request to `h` came back: false when `h` was forgotten meanwhile (then it may be freed:
 * the callback must not touch it again). */
bool manager_host_answered(struct mhost *h);
/* Free a host (its view and episode). */
void manager_host_free(struct mhost *h);

/* Host `h` did not answer this round (`why`): down after MANAGER_DOWN_AFTER in a row. */
void manager_host_missed(struct manager *m, struct mhost *h, const char *why);
/* VMs still on host `h` (its latest sample, arrivals not counted). */
size_t manager_host_vms(const struct mhost *h);
/* A host's state as the API names it: "maintenance", "up", "down" or "unknown". */
const char *manager_host_state(const struct mhost *h);
/* Put host `h` into maintenance or take it out (stored; a decision follows soon); the caller
 * journals it then (manager_journal_drain(), with h->maintenance_since). 0, or -EIO: the store
 * could not record it, nothing changed. */
MUST_CHECK int manager_set_maintenance(struct manager *m, struct mhost *h, bool on);
/* On taking the lead, the drains the journal lists (`d`, n): the known hosts among them go
 * into maintenance since the drain's time, and a host in maintenance here that no drain names
 * (its record readable or not) leaves it (another leader took it out); stored here, not
 * journaled again.
 * The hosts put into maintenance. */
size_t manager_drains_restore(struct manager *m, const struct journal_drain *d, size_t n);

/* Writes between manager_store_pause() and manager_store_resume() commit one by one as they
 * are made, so a write's result says whether it is committed (it survives a crash of the
 * manager; with the store's synchronous=NORMAL a power loss may take the last commits): an
 * operator's change or an order made outside a decision neither waits for the next commit nor
 * is answered or sent when it was not stored; with --etcd a migration's end is committed
 * before its journal record goes. The manager's open transaction (manager.c,
 * txn_commit()) is committed first (a failure is logged) and begun again on resume. Pairs may nest:
 * the outermost pair commits and begins. */
void manager_store_pause(struct manager *m);
void manager_store_resume(struct manager *m);
/* Edge mode: an agent notified a conflict with the sample taken. Decides at once, or after a
 * fresh collection round when collecting only on notification. */
void manager_notified(struct manager *m, struct mhost *h);

/* ---- the figures of finished jobs (manager_figures.c) ---- */

/* The figures of a finished job in the source's answer `j` (borrowed) into `rec`: each a
 * number from 0 to 1e12, else -1 (unknown); rec->has_job when any is known. */
void manager_job_figures(struct store_migration *rec, const json_t *j);
/* `g` ended as the samples showed, before its source said so: ask the source what its job
 * took, to store with it (a failed request leaves the figures unknown). */
void manager_figures_ask(struct manager *m, const struct mmig *g);
/* Free the requests for figures still in flight (the manager stops). */
void manager_figures_free(struct manager *m);

/* ---- the migrations it ordered (manager_mig.c) ---- */

/* The state's name, as stored and shown. */
const char *mmig_state_name(enum mmig_state s);
/* Order the migration of `vm` from `src` to `dst` now (stored, and committed, first); its id
 * into `ret_id` when not NULL. 0, or -EPERM (this manager does not lead: manager_ha.c) /
 * -EBUSY / -ENOMEM / -EIO when it was not ordered. During a decision (m->hold_orders) the
 * record is written in the open transaction and the order waits for manager_orders_stored(). */
int manager_order(struct manager *m, const char *vm, const char *src, const char *dst,
                  const char *reason, char *ret_id, size_t id_len);
/* Follow migrations in flight. */
void manager_follow(struct manager *m);
/* Migrations the latest samples show finished end now, before a decision. */
void manager_settle_from_samples(struct manager *m);
/* Free the active migrations. */
void manager_migrations_done(struct manager *m);
/* Migration `id`'s record is in etcd: its order, if waiting for that, goes out now. */
void manager_journaled(struct manager *m, const char *id);
/* The records of the orders a decision made were committed (`stored`): they go out (or wait
 * for etcd); when not, they fail, never sent. */
void manager_orders_stored(struct manager *m, bool stored);
/* On taking the lead, after the journal was read: migrations of ours still waiting for their
 * journal write (left so only when the journal could not be read whole: manager_mark_unlisted()
 * settles them otherwise) fail, as never ordered; the others are journaled again under the new
 * term. */
void manager_journal_all(struct manager *m);

/* ---- migrations taken over (manager_adopt.c) ---- */

/* Our migration `id` in flight, or NULL. */
struct mmig *manager_mig_find(struct manager *m, const char *id);
/* The state named `s` ("planned" for a name it does not know). */
enum mmig_state mmig_state_parse(const char *s);

/* Load unfinished migrations from the store after a restart. */
int manager_recover(struct manager *m);
/* Migration `rec` (unfinished) read from the journal of an earlier leader becomes one of ours:
 * stored, then followed like one recovered after a restart. false: it was ours already (or
 * no room, logged). */
bool manager_adopt(struct manager *m, const struct store_migration *rec);
/* On taking the lead, with the journal read: a migration of ours that the journal does not
 * list (`ids`, `n`, sorted by strcmp) is most likely one
 * another leader settled while this manager held it (every order is journaled before it
 * goes out, and a record goes only when a leader settles it), but may be one that was never
 * journaled (held in our store from before --etcd, or an etcd that was emptied), or one
 * whose order waited for a record that never landed. It is marked unlisted: not journaled
 * again, not ordered again, and not reported when it ends (our store records the outcome),
 * unless its source answers that it still runs, which makes it ours again (journaled and
 * followed as any). */
void manager_mark_unlisted(struct manager *m, const char *const *ids, size_t n);

/* ---- the model of a decision (manager_model.c) ---- */

/* The model a decision works on: every host with a sample (maintenance and down as such), the
 * cluster's time now, per host whether a migration runs there (`map` and `busy` hold
 * m->n_hosts entries), and per VM whether it is held back or a duplicate name
 * (cluster_mark_duplicates()). 0 or -ENOMEM. */
int manager_model(struct manager *m, struct cluster *cl, struct mhost **map, bool *busy);

/* ---- recommendations (manager_recs.c) ---- */

/* Record the move a decision chose as a recommendation (or keep the pending one for the same
 * move; one for the same VM elsewhere is superseded): its id, or a text saying why none. */
const char *manager_recommend(struct manager *m, const char *vm, const char *src, const char *dst,
                              const char *reason, bool dry);
/* After a decision: a recommendation not chosen again whose source is no longer in conflict
 * (or no longer runs the VM) has expired. */
void manager_recs_expire(struct manager *m);
/* Apply pending recommendation `id` after checking through the core that it still holds: 0
 * with its migration's id in `ret_mig`; an HTTP status (404, 409, 503) with `msg` filled. */
int manager_apply(struct manager *m, const char *id, char *ret_mig, size_t mig_len, char *msg,
                  size_t len);
/* Load the pending recommendations from the store after a restart. */
int manager_recs_load(struct manager *m);
/* On taking the lead, from the journal in etcd: `recs` (n, borrowed; pending or dry-run)
 * become the recommendations held, under their ids (stored); one held here that the journal
 * lacks was settled under another leader and is dropped (stored as expired). */
void manager_recs_restore(struct manager *m, const struct store_rec *recs, size_t n);

/* ---- decisions (manager_decide.c) ---- */

/* After a collection round: decide and act. In edge mode only the hosts whose agents notified
 * are examined, and their flags are cleared. */
void manager_decide(struct manager *m);

/* Edge mode: host `h`'s agent notified a usage conflict that its [detect] contention = confirm
 * did not confirm, with `waiting` heavy VMs waiting and cpu pressure `cpu_pressure` (< 0: not
 * measured). Recorded and logged as CONFLICT_UNCONFIRMED once per episode (the VMs and kinds
 * from the usage rule on h's latest sample), never acted on; nothing on a follower. */
void manager_note_notified_unconfirmed(struct manager *m, struct mhost *h, uint32_t waiting,
                                       double cpu_pressure);

/* ---- why a VM is where it is (manager_explain.c) ---- */

/* GET /v1/vms/NAME/explain. */
void manager_get_explain(struct http_req *r, void *ctx);

/* ---- the HTTP API (manager_api.c) ---- */

extern const struct http_route manager_routes[];
extern const size_t manager_n_routes;

/* The most rows a listing endpoint answers with. */
#define MANAGER_API_LIST_LIMIT 1000

/* manager.c, on top, is called by none of them: it runs the rest (manager_run(), manager.h)
 * and fills in the hooks. */

#endif

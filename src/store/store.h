/* The store of the manager, or of a peer agent (the patent's resource usage state storage unit):
 * samples, conflicts, migrations and registered agents in one SQLite database under the data
 * directory, in WAL mode so readers never block the decision loop. The schema carries a version
 * (PRAGMA user_version), and an older store is upgraded when opened (store.c's steps[]);
 * samples are kept for a bounded time. Every write that must survive a crash (a migration ordered,
 * its outcome) is committed before the action that depends on it. */
#ifndef VMLOC_STORE_STORE_H
#define VMLOC_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/compiler.h"
#include "core/model.h"

/* The schema version this vmloc writes: the number of migration steps in store.c (PRAGMA
 * user_version and meta.schema_version of an up-to-date store). */
#define STORE_SCHEMA_VERSION 9
#define STORE_FILE "vmloc.db"

/* The raw samples' count in a store of version 9 or later, table by table, each through its
 * index (a count of the view `samples` reads every row, BLOBs included). */
#define STORE_RAW_COUNT_SQL                                                                        \
    "SELECT (SELECT count(*) FROM samples_0) + (SELECT count(*) FROM samples_1)"                   \
    " + (SELECT count(*) FROM samples_2) + (SELECT count(*) FROM samples_3)"                       \
    " + (SELECT count(*) FROM samples_4) + (SELECT count(*) FROM samples_5)"                       \
    " + (SELECT count(*) FROM samples_6) + (SELECT count(*) FROM samples_7)"

struct store;

/* A migration as stored. Strings are owned by the record's storage (see store_migration_*). */
struct store_migration {
    char id[80];
    char vm[256];
    char src[256];
    char dst[256];
    char state[16]; /* planned, running, done, failed */
    double started;
    double finished; /* < 0: not finished */
    char error[256];
    char reason[256];
    double answered; /* the last answer an agent gave about it (wall clock); 0: none recorded */
    /* What its job took, as the source agent reported it once done: the VM's pause, the data
     * sent, the whole time. has_job false: none known; else each < 0 when not reported. */
    bool has_job;
    double downtime_ms;
    double transferred_mib;
    double total_ms;
};

/* Open (creating if needed) the store in directory `dir` (created if missing), upgrading an
 * older schema to STORE_SCHEMA_VERSION step by step (each step one transaction).
 * 0: *ret set. -EPROTO: the store's schema is newer than this vmloc knows (`err` names the
 * file and both versions; the file is untouched). Other -errno with `err` filled (a file that
 * is not a database, a failed step, which leaves the store at the step before). */
MUST_CHECK int store_open(const char *dir, struct store **ret, char *err, size_t errlen);

/* Did store_open() upgrade an existing store? true with *ret_from, the version it found (0:
 * written before versions were kept); false for a new or up-to-date store. For the log. */
bool store_upgraded(const struct store *s, int *ret_from);

/* The database file ("DIR/vmloc.db"), for messages. */
const char *store_path(const struct store *s);

/* Close. Accepts NULL. */
void store_close(struct store *s);

/* Group writes into one transaction (one fsync per round, not per sample). A transaction
 * rolled back (by a failed write or commit) takes the names it added with it: the cache
 * forgets them, and drops the raw samples queued since the last commit (those held from
 * before carry names that are stored, and stay). store_commit(): 0; -EIO when
 * the queued samples could not be written or the COMMIT failed; after a failed COMMIT no
 * transaction is left open (it is rolled back), so the writes that follow commit one by one
 * until the next store_begin(). */
MUST_CHECK int store_begin(struct store *s);
MUST_CHECK int store_commit(struct store *s);
/* Roll the open transaction back, as a failed store_commit() leaves it (none open: nothing). */
void store_rollback(struct store *s);

/* ---- usage samples (store_samples.c) --------------------------------------------------------
 *
 * Samples are kept as numbers (store_codec.h): a raw sample is a row of the host's usage per
 * kind with its VMs' usage in one BLOB, host and VM names interned in the names table; every
 * sample also folds into its host's one-minute roll-up (minimum, mean and maximum per kind),
 * kept an hour of a host to a row. What store_add_sample() queues is written by store_commit(),
 * all the samples of a round in the one transaction of store_begin() .. store_commit(), unless
 * the store holds raw samples (store_hold_raw(), as the manager does): then they wait for
 * store_write_raw(). */

/* Take host `host`'s usage `pct` (percent per kind; the kinds given in `kinds`, a KIND_BIT
 * mask, others read 0 in the roll-ups) measured at `time` (seconds since the epoch): folded
 * into the host's roll-up of that minute (written when its next minute begins, and by
 * store_sync()), and when `keep_raw` queued as a raw sample, with its pressure `psi` (the
 * lines present; NULL: none measured) and the VMs store_add_vm() adds next. A time before the
 * minute being summed (a clock set back) is left out of the roll-ups. 0; -EINVAL `host`
 * empty; -ENOMEM; -EIO (the names table or a roll-up could not be read or written). */
MUST_CHECK int store_add_sample(struct store *s, double time, const char *host, const double *pct,
                                unsigned kinds, const struct pressure *psi, bool keep_raw);
/* Add VM `vm` with usage `pct` (kinds in `kinds`) and CPU wait `*cpu_wait` (percent; NULL: not
 * measured) to the raw sample store_add_sample() queued last; nothing when it keeps no raw
 * sample. 0; -EINVAL `vm` empty; -ENOMEM; -EIO. */
MUST_CHECK int store_add_vm(struct store *s, const char *vm, const double *pct, unsigned kinds,
                            const double *cpu_wait);

/* Finish the minutes being summed and write them, with what is queued, in a transaction of
 * its own (for a clean stop: a crash loses at most the minute in progress). 0 or -EIO. */
MUST_CHECK int store_sync(struct store *s);

/* Hold the raw samples queued past store_commit() (`hold`; off when the store opens) until
 * store_write_raw(): a commit rewrites the last pages of the table and of its index whatever
 * it adds, so a few rounds' samples written at once cost fewer pages than a commit each. A
 * read of samples (store_each_sample()) and store_sync() write what is held first, and
 * store_stats() counts it; a crash loses it. */
void store_hold_raw(struct store *s, bool hold);
/* Write the raw samples queued, in the transaction open or in one of their own. 0 or -EIO
 * (they are dropped). */
MUST_CHECK int store_write_raw(struct store *s);

/* A raw sample as read back; names and VMs borrowed for the callback. */
struct store_vm_row {
    const char *name;
    double pct[KIND_COUNT];
    unsigned kinds;
    double cpu_wait; /* percent, to the hundredth; meaningful only when has_cpu_wait */
    bool has_cpu_wait;
};
struct store_row {
    double time;
    const char *host;
    double pct[KIND_COUNT];
    unsigned kinds;
    struct pressure pressure;       /* the lines stored, to the hundredth of a percent */
    const struct store_vm_row *vms; /* NULL unless asked for */
    size_t n_vms;
};

/* Call `fn` for each raw sample of host `host` (NULL: every host) taken at or after `since`,
 * oldest first (in the order written), with its VMs when `with_vms`. Rows that do not decode
 * are skipped and counted in *ret_bad (may be NULL). 0; -ENOMEM; -EIO. */
MUST_CHECK int store_each_sample(struct store *s, const char *host, double since, bool with_vms,
                                 void (*fn)(void *ctx, const struct store_row *r), void *ctx,
                                 long long *ret_bad);

/* One minute of a host's roll-ups (percent per kind; the stored ones to half a percent). */
struct store_minute {
    double time;      /* the minute's start, seconds since the epoch */
    unsigned samples; /* samples summed, for the minute in progress; 0 for a stored minute */
    double min[KIND_COUNT];
    double mean[KIND_COUNT];
    double max[KIND_COUNT];
    /* the host's cpu pressure (some): only when a sample of the minute carried it */
    bool has_cpu_some;
    double cpu_some_min;
    double cpu_some_mean;
    double cpu_some_max;
};

/* Call `fn` for each one-minute roll-up of host `host` that starts at or after `since`,
 * oldest first, ending with the minute in progress. 0; -EIO. */
MUST_CHECK int store_each_minute(struct store *s, const char *host, double since,
                                 void (*fn)(void *ctx, const struct store_minute *m), void *ctx);

/* How long each kind of row is kept (seconds). */
struct store_retention {
    /* raw samples: a row goes with the rest of its table (store_ring.c), kept retention to
     * retention + a sixth (1 / (STORE_RAW_TABLES - 2)), and the round or two before the
     * table's first pruning call and a held write (store_hold_raw()) */
    double raw_s;
    double rollup_s; /* one-minute roll-ups (an hour's row goes once all of it is older) */
    double event_s;  /* conflicts, finished migrations, recommendations no longer pending */
};

/* Rows deleted by one store_prune() call at most, per table: a call costs a few
 * milliseconds, and the manager calls it every round until the backlog is gone. */
#define STORE_PRUNE_BATCH 5000

/* Delete rows older than `now` minus their retention under `r`, at most STORE_PRUNE_BATCH
 * per table, oldest first, and raw samples a whole table of them at a time (store_ring.c).
 * Returns the rows deleted (>= 0), or -EIO. */
MUST_CHECK int store_prune(struct store *s, double now, const struct store_retention *r);

/* The JSON samples step 3 of the schema dropped from an older store when it was opened (for
 * the log); 0 when none. */
long long store_dropped_samples(const struct store *s);

MUST_CHECK int store_add_conflict(struct store *s, double time, const char *host,
                                  const char *resources_json, const char *vms_json,
                                  const char *outcome);

/* Insert or update a migration (by id). An update keeps the time it started first stored
 * with: a migration's start never changes, and its index is then not rewritten. */
MUST_CHECK int store_put_migration(struct store *s, const struct store_migration *m);

/* Call `fn` for migrations, oldest first: all unfinished ones when `active_only`, else the
 * newest `limit`. Returns 0 or -EIO. */
MUST_CHECK int store_each_migration(struct store *s, bool active_only, int limit,
                                    void (*fn)(void *ctx, const struct store_migration *m),
                                    void *ctx);

/* Call `fn` for the newest `limit` conflicts, oldest first. */
MUST_CHECK int store_each_conflict(struct store *s, int limit,
                                   void (*fn)(void *ctx, double time, const char *host,
                                              const char *resources_json, const char *vms_json,
                                              const char *outcome),
                                   void *ctx);

/* The agents the manager knows, with when each last registered (wall clock). */
MUST_CHECK int store_put_agent(struct store *s, const char *name, const char *url, double time);
MUST_CHECK int store_each_agent(struct store *s,
                                void (*fn)(void *ctx, const char *name, const char *url,
                                           double registered),
                                void *ctx);
/* Forget agent `name`: its registration and its maintenance. 0 or -EIO. */
MUST_CHECK int store_forget_agent(struct store *s, const char *name);

/* Put host `host` into maintenance since `since` (`on`), or take it out (committed at once,
 * outside any transaction of store_begin()). */
MUST_CHECK int store_set_maintenance(struct store *s, const char *host, bool on, double since);
/* Call `fn` for every host in maintenance. */
MUST_CHECK int store_each_maintenance(struct store *s,
                                      void (*fn)(void *ctx, const char *host, double since),
                                      void *ctx);

/* A recommendation: a move decided but left to the operator (automation = manual) or only
 * shown (dry-run). */
struct store_rec {
    char id[80];
    double time; /* decided */
    char vm[256];
    char src[256];
    char dst[256];
    char reason[256];
    char state[16];     /* pending, applied, superseded, expired, dry-run */
    char migration[80]; /* the migration an apply ordered, "" if none */
    double updated;
};

/* Insert or update a recommendation (by id). */
MUST_CHECK int store_put_recommendation(struct store *s, const struct store_rec *r);
/* Call `fn` for the pending recommendations, oldest first (`pending_only`), or for the
 * newest `limit` of any state, oldest first. */
MUST_CHECK int store_each_recommendation(struct store *s, bool pending_only, int limit,
                                         void (*fn)(void *ctx, const struct store_rec *r),
                                         void *ctx);

/* Number of raw sample rows (with those queued), and the database's size in bytes (its main
 * file). */
MUST_CHECK int store_stats(struct store *s, long long *ret_samples, long long *ret_bytes);

#endif

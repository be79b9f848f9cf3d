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

/* The schema version this vmloc writes: the number of migration steps in store.c (PRAGMA
 * user_version and meta.schema_version of an up-to-date store). */
#define STORE_SCHEMA_VERSION 2
#define STORE_FILE "vmloc.db"

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

/* Group writes into one transaction (one fsync per round, not per sample). */
MUST_CHECK int store_begin(struct store *s);
MUST_CHECK int store_commit(struct store *s);

MUST_CHECK int store_add_sample(struct store *s, double time, const char *host, const char *body);

/* Delete up to 5,000 samples older than `before` (seconds since the epoch), oldest first;
 * call again until nothing is left to delete. */
MUST_CHECK int store_prune_samples(struct store *s, double before);

MUST_CHECK int store_add_conflict(struct store *s, double time, const char *host,
                                  const char *resources_json, const char *vms_json,
                                  const char *outcome);

/* Insert or update a migration (by id). */
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
/* Delete up to 5,000 recommendations that are no longer pending and were last updated before
 * `before`. */
MUST_CHECK int store_prune_recommendations(struct store *s, double before);
/* Call `fn` for the pending recommendations, oldest first (`pending_only`), or for the
 * newest `limit` of any state, oldest first. */
MUST_CHECK int store_each_recommendation(struct store *s, bool pending_only, int limit,
                                         void (*fn)(void *ctx, const struct store_rec *r),
                                         void *ctx);

/* Number of sample rows, and the database's size in bytes. */
MUST_CHECK int store_stats(struct store *s, long long *ret_samples, long long *ret_bytes);

#endif

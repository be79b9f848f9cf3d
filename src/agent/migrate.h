/* The agent's migrations out of its host: the table of their records (the last
 * MIGRATE_MAX_HISTORY), the ids this agent makes, and the start of each through the backend
 * (hv.h). The table reports an ended migration upward through its events; it calls nothing
 * above it. */
#ifndef VMLOC_AGENT_MIGRATE_H
#define VMLOC_AGENT_MIGRATE_H

#include <stddef.h>

#include <jansson.h>

#include "agent/hv.h"
#include "agent/migration.h"
#include "core/compiler.h"
#include "proto/wire.h"

#define MIGRATE_MAX_HISTORY 1000

struct migrate;

struct migrate_events {
    void *ctx;
    /* Migration `m` ended (done or failed). */
    void (*ended)(void *ctx, const struct migration *m);
};

/* A table for host `host` whose VMs move through `hv`. NULL on OOM. */
struct migrate *migrate_new(struct hv *hv, const char *host, const struct migrate_events *ev);

/* Free the records (the backend's running jobs are aborted and awaited first). Accepts NULL. */
void migrate_free(struct migrate *t);

/* Start moving `o->vm` to `o->to` (`reason`: why this agent decided it, "" when ordered).
 * 0 with *ret_m (the table's); -EEXIST the order's id is taken; -ENOENT no such VM; -EBUSY it
 * is already moving, or the history is full of records still needed; -EPERM it is pinned;
 * -ENOMEM; or the backend's error. */
MUST_CHECK int migrate_start(struct migrate *t, const struct wire_order *o, const char *reason,
                             struct migration **ret_m);

/* Records restored from the backend's state (taken, with `recs` itself): they join the table,
 * and running ones are taken up again once the loop runs. 0, or -E2BIG / -ENOMEM (nothing
 * taken then: the caller still owns them). */
MUST_CHECK int migrate_adopt(struct migrate *t, struct migration **recs, size_t n);

/* Once the loop runs: the backend takes up the adopted migrations again. 0 or -ENOMEM. */
MUST_CHECK int migrate_resume(struct migrate *t);

/* Stop running migration `m` because `why` (hv.h, migrate_abort): 0 asked, -EALREADY not
 * running, -EBUSY too late, -EOPNOTSUPP the backend cannot. The end comes as usual, through
 * the events, and may come before this returns. */
MUST_CHECK int migrate_abort(struct migrate *t, struct migration *m, const char *why);

/* The record with `id`, or NULL. */
struct migration *migrate_find(struct migrate *t, const char *id);

/* Every record, oldest first (`*ret_n` of them). */
struct migration *const *migrate_all(const struct migrate *t, size_t *ret_n);

/* Migrations running whose outcome nobody knows: the destination did not answer their commit
 * (unknown_since), and their VM stays here, leaving, until it does. */
size_t migrate_count_unknown(const struct migrate *t);

/* GET /v1/migrations: the last `limit` records (oldest first) as migration_json() shows them.
 * NULL on OOM. */
json_t *migrate_json(const struct migrate *t, size_t limit);

#endif

/* Peer mode's store: what this host decided and did (its conflicts, once per episode and
 * outcome, and its migrations), and the JSON of GET /v1/conflicts and GET /v1/migrations read
 * back from it. The decision (peer.c) calls in here; nothing here sends a request. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/peer_internal.h"
#include "common/clock.h"
#include "common/log.h"
#include "core/plan.h"
#include "store/store_json.h"

bool
peer_record_conflict(struct peer_mode *pm, const char *outcome)
{
    if (pm->key == NULL || !episode_note(&pm->episode, pm->key, outcome))
        return false;
    conflict_record(pm->store, clock_wall_s(), pm->o.name, pm->key, outcome, false);
    return true;
}

void
peer_record_migration(struct peer_mode *pm, const struct migration *m)
{
    struct store_migration rec;
    memset(&rec, 0, sizeof(rec));
    (void)snprintf(rec.id, sizeof(rec.id), "%s", m->id);
    (void)snprintf(rec.vm, sizeof(rec.vm), "%s", m->vm);
    (void)snprintf(rec.src, sizeof(rec.src), "%s", pm->o.name);
    (void)snprintf(rec.dst, sizeof(rec.dst), "%s", m->to_name);
    (void)snprintf(rec.state, sizeof(rec.state), "%s", mig_state_name(m->state));
    rec.started = m->started;
    rec.finished = m->state == MIG_RUNNING ? -1.0 : m->finished;
    (void)snprintf(rec.error, sizeof(rec.error), "%s", m->error);
    (void)snprintf(rec.reason, sizeof(rec.reason), "%s", m->reason);
    rec.has_job = m->downtime_ms >= 0 || m->transferred_mib >= 0 || m->total_ms >= 0;
    rec.downtime_ms = m->downtime_ms;
    rec.transferred_mib = m->transferred_mib;
    rec.total_ms = m->total_ms;
    if (store_put_migration(pm->store, &rec) < 0)
        log_warnx("migration not stored id=%s, ignoring", m->id);
}

json_t *
peer_conflicts_json(struct peer_mode *pm, int limit)
{
    return store_conflicts_json(pm->store, limit);
}

json_t *
peer_migrations_json(struct peer_mode *pm, int limit)
{
    return store_migrations_json(pm->store, limit);
}

void
peer_conflict(struct peer_mode *pm, const char *key)
{
    if (key == NULL) {
        free(pm->key);
        pm->key = NULL;
        episode_close(&pm->episode);
        return;
    }
    char *k = strdup(key);
    if (k == NULL)
        return; /* the previous conflict is recorded meanwhile: a record late, none lost */
    free(pm->key);
    pm->key = k;
}

/* Why the core did not confirm this host's usage conflict on its sample `own`, into `buf`. */
static void
unconfirmed_why(const struct peer_mode *pm, const struct wire_sample *own, char *buf, size_t len)
{
    struct cluster cl;
    struct plan p;
    size_t hi;
    cluster_init(&cl);
    plan_init(&p);
    (void)snprintf(buf, len, "not confirmed");
    if (wire_sample_to_cluster(own, true, &cl, &hi) == 0 &&
        plan_compute(&cl, pm->o.policy, NULL, &p) == 0) {
        for (size_t i = 0; i < p.n_unconfirmed; i++) {
            if (p.unconfirmed[i].host == hi)
                plan_confirm_describe(pm->o.policy, &p.unconfirmed[i], buf, len);
        }
    }
    plan_done(&p);
    cluster_done(&cl);
}

void
peer_unconfirmed(struct peer_mode *pm, const char *key, const struct wire_sample *own)
{
    peer_conflict(pm, key);
    if (pm->key == NULL || strcmp(pm->key, key) != 0)
        return; /* out of memory: noted at the next sample */
    char why[256];
    unconfirmed_why(pm, own, why, sizeof(why));
    (void)conflict_note_unconfirmed(&pm->episode, pm->store, clock_wall_s(), pm->o.name, pm->key,
                                    why);
}

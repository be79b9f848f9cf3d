/* The migrations a manager takes over: those its store holds unfinished at its start
 * (recovered), those etcd's journal holds when it takes the lead (adopted), and, with --etcd,
 * those it holds that the journal does not list (unlisted: manager_mark_unlisted()), each
 * followed by manager_mig.c as its own orders are; and a migration found by id, and a
 * record's state read. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "manager/manager_internal.h"

enum mmig_state
mmig_state_parse(const char *s)
{
    if (strcmp(s, "running") == 0)
        return MMIG_RUNNING;
    if (strcmp(s, "done") == 0)
        return MMIG_DONE;
    if (strcmp(s, "failed") == 0)
        return MMIG_FAILED;
    return MMIG_PLANNED;
}

struct mmig *
manager_mig_find(struct manager *m, const char *id)
{
    for (size_t i = 0; i < m->n_active; i++) {
        if (strcmp(m->active[i]->rec.id, id) == 0)
            return m->active[i];
    }
    return NULL;
}

/* A migration of ours made from record `rec` (of the store or the journal): its waits go on
 * from the record's times, not from now. NULL when out of memory. */
static struct mmig *
from_record(struct manager *m, const struct store_migration *rec)
{
    struct mmig *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return NULL;
    g->m = m;
    g->rec = *rec;
    g->state = mmig_state_parse(rec->state);
    double mono = clock_mono_s();
    double wall = clock_wall_s();
    g->started_mono = clock_mono_of_wall(rec->started, wall, mono);
    g->last_answer =
        rec->answered > 0 ? clock_mono_of_wall(rec->answered, wall, mono) : g->started_mono;
    return g;
}

bool
manager_adopt(struct manager *m, const struct store_migration *rec)
{
    struct mmig *own = manager_mig_find(m, rec->id);
    if (own != NULL) {
        /* Ours already: this manager led when it was ordered. One whose order waited for
         * this record did not hear that it landed (the lead was lost meanwhile): it is in
         * etcd, so another leader may have ordered it; it goes on as the journal says. */
        if (own->journal_wait) {
            own->journal_wait = false;
            own->rec = *rec;
            own->state = mmig_state_parse(rec->state);
            if (rec->answered > 0)
                own->last_answer =
                    clock_mono_of_wall(rec->answered, clock_wall_s(), clock_mono_s());
            if (store_put_migration(m->store, &own->rec) < 0)
                log_warnx("journaled migration not stored id=%s, ignoring", rec->id);
        }
        own->unlisted = false; /* listed again (another leader journaled it meanwhile) */
        return false;
    }
    if (m->n_active >= MANAGER_MAX_ACTIVE) {
        log_warnx("too many migrations in flight: journaled id=%s not adopted, ignoring", rec->id);
        return false;
    }
    struct mmig *g = from_record(m, rec);
    if (g == NULL) {
        log_warnx("out of memory: journaled id=%s not adopted, ignoring", rec->id);
        return false;
    }
    /* In this manager's store too: it reports the migration, once, when it ends. Committed
     * with the next commit: it may be ordered again before, as the journal in etcd has it. */
    if (store_put_migration(m->store, &g->rec) < 0)
        log_warnx("adopted migration not stored id=%s, ignoring", rec->id);
    m->active[m->n_active++] = g;
    log_info("migration adopted from the journal id=%s vm=\"%s\" from=\"%s\" to=\"%s\" "
             "state=%s",
             rec->id, rec->vm, rec->src, rec->dst, rec->state);
    return true;
}

static int
id_cmp(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

void
manager_mark_unlisted(struct manager *m, const char *const *ids, size_t n)
{
    for (size_t i = 0; i < m->n_active; i++) {
        struct mmig *g = m->active[i];
        bool listed = n > 0 && bsearch(g->rec.id, ids, n, sizeof(*ids), id_cmp) != NULL;
        if (listed || g->unlisted)
            continue; /* listed: manager_adopt() took the journal's word for it */
        /* One whose order waited for its record: the record never landed (never ordered),
         * or landed and another leader settled it. Its source says which: one that never
         * heard of it, the VM still there, was never ordered (follow_done()). */
        g->never_sent = g->journal_wait;
        g->journal_wait = false;
        g->unlisted = true;
        log_info("migration not in the journal id=%s vm=\"%s\" from=\"%s\" to=\"%s\": another "
                 "leader may have settled it; its agents are asked",
                 g->rec.id, g->rec.vm, g->rec.src, g->rec.dst);
    }
}

static void
recover_one(void *ctx, const struct store_migration *rec)
{
    struct manager *m = ctx;
    if (m->n_active >= MANAGER_MAX_ACTIVE) {
        log_warnx("migration not recovered id=%s vm=\"%s\": %d migrations are followed "
                  "already, ignoring",
                  rec->id, rec->vm, MANAGER_MAX_ACTIVE);
        return;
    }
    struct mmig *g = from_record(m, rec);
    if (g == NULL) {
        log_warnx("out of memory: migration id=%s not recovered, ignoring", rec->id);
        return;
    }
    m->active[m->n_active++] = g;
    log_info("migration recovered id=%s vm=\"%s\" from=\"%s\" to=\"%s\" state=%s", rec->id, rec->vm,
             rec->src, rec->dst, rec->state);
}

int
manager_recover(struct manager *m)
{
    return store_each_migration(m->store, true, 0, recover_one, m);
}

/* The migrations table (migrate.h). */
#include "agent/migrate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "core/fnv.h"

struct migrate {
    struct hv *hv;
    char host[MODEL_MAX_NAME + 1];
    struct migrate_events ev;
    struct migration *recs[MIGRATE_MAX_HISTORY];
    size_t n;
    uint64_t next_id;
};

struct migrate *
migrate_new(struct hv *hv, const char *host, const struct migrate_events *ev)
{
    struct migrate *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->hv = hv;
    (void)snprintf(t->host, sizeof(t->host), "%s", host);
    t->ev = *ev;
    return t;
}

static void
record_free(struct migrate *t, struct migration *m)
{
    t->hv->ops->migrate_release(t->hv, m);
    free(m);
}

void
migrate_free(struct migrate *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++)
        record_free(t, t->recs[i]);
    free(t);
}

int
migrate_abort(struct migrate *t, struct migration *m, const char *why)
{
    if (t->hv->ops->migrate_abort == NULL)
        return -EOPNOTSUPP;
    return t->hv->ops->migrate_abort(t->hv, m, why);
}

struct migration *
migrate_find(struct migrate *t, const char *id)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->recs[i]->id, id) == 0)
            return t->recs[i];
    }
    return NULL;
}

struct migration *const *
migrate_all(const struct migrate *t, size_t *ret_n)
{
    *ret_n = t->n;
    return t->recs;
}

size_t
migrate_count_unknown(const struct migrate *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        n += t->recs[i]->state == MIG_RUNNING && t->recs[i]->unknown_since > 0;
    return n;
}

/* Make room by forgetting the oldest finished record the backend no longer needs; one it
 * would rather keep (a move its destination was not told is settled) goes last. false: all
 * are needed. */
static bool
make_room(struct migrate *t)
{
    if (t->n < MIGRATE_MAX_HISTORY)
        return true;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < t->n; i++) {
            struct migration *m = t->recs[i];
            int hold = t->hv->ops->migrate_hold(t->hv, m);
            if (hold == 2 || (hold == 1 && pass == 0))
                continue;
            if (hold == 1)
                log_warnx("forgetting migration id=%s before its destination was told it is "
                          "settled; the destination keeps the arrival longer",
                          m->id);
            record_free(t, m);
            memmove(&t->recs[i], &t->recs[i + 1], (t->n - i - 1) * sizeof(struct migration *));
            t->n--;
            return true;
        }
    }
    return false;
}

static void
ended(void *arg, struct migration *m)
{
    struct migrate *t = arg;
    t->ev.ended(t->ev.ctx, m);
}

int
migrate_start(struct migrate *t, const struct wire_order *o, const char *reason,
              struct migration **ret_m)
{
    /* The id first: an order resent by a manager that restarted is the same order, whatever
     * state its VM is in now. */
    if (o->id[0] != '\0' && migrate_find(t, o->id) != NULL)
        return -EEXIST;
    double mem_mib = 0;
    int r = t->hv->ops->migrate_check(t->hv, o->vm, &mem_mib);
    if (r < 0)
        return r;
    char id[WIRE_MAX_ID + 1];
    if (o->id[0] != '\0')
        (void)snprintf(id, sizeof(id), "%s", o->id);
    else /* the host's name hashed in: two agents deciding in the same millisecond (peer
          * mode) never make the same id */
        (void)snprintf(id, sizeof(id), "m%llu-%08x-%llu",
                       (unsigned long long)(clock_wall_s() * 1000), (unsigned)fnv1a(t->host),
                       (unsigned long long)++t->next_id);
    if (!make_room(t))
        return -EBUSY;
    struct migration *m = migration_new(id, o->vm, o->to, o->to_name);
    if (m == NULL)
        return -ENOMEM;
    m->mem_mib = mem_mib;
    (void)snprintf(m->reason, sizeof(m->reason), "%s", reason);
    /* In the table before the backend starts: it may save the host's state at once. */
    t->recs[t->n++] = m;
    r = t->hv->ops->migrate_start(t->hv, m, ended, t);
    if (r < 0) {
        t->n--;
        free(m);
        return r;
    }
    *ret_m = m;
    return 0;
}

int
migrate_adopt(struct migrate *t, struct migration **recs, size_t n)
{
    if (t->n + n > MIGRATE_MAX_HISTORY)
        return -E2BIG;
    for (size_t i = 0; i < n; i++)
        t->recs[t->n++] = recs[i];
    free(recs);
    return 0;
}

int
migrate_resume(struct migrate *t)
{
    if (t->hv->ops->migrate_resume == NULL)
        return 0;
    /* A resumed migration may end at once (and be reported): the table is complete first. */
    size_t n = t->n;
    struct migration **recs = malloc((n + 1) * sizeof(struct migration *));
    if (recs == NULL)
        return -ENOMEM;
    memcpy(recs, t->recs, n * sizeof(struct migration *));
    int r = 0;
    for (size_t i = 0; r == 0 && i < n; i++)
        r = t->hv->ops->migrate_resume(t->hv, recs[i], ended, t);
    free(recs);
    return r;
}

json_t *
migrate_json(const struct migrate *t, size_t limit)
{
    json_t *arr = json_array();
    for (size_t i = t->n > limit ? t->n - limit : 0; i < t->n && arr != NULL; i++) {
        json_t *o = migration_json(t->recs[i], t->host);
        if (o == NULL || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

/* The store's lists as JSON (store_json.h). */
#include "store/store_json.h"

static void
add_conflict(void *ctx, double time, const char *host, const char *resources_json,
             const char *vms_json, const char *outcome)
{
    json_t *arr = ctx;
    json_t *res = json_loads(resources_json, 0, NULL);
    json_t *vms = json_loads(vms_json, 0, NULL);
    json_t *o = json_pack("{s:s,s:f,s:o,s:o,s:s}", "host", host, "time", time, "resources",
                          res != NULL ? res : json_array(), "vms", vms != NULL ? vms : json_array(),
                          "outcome", outcome);
    if (o != NULL)
        (void)json_array_append_new(arr, o);
}

json_t *
store_conflicts_json(struct store *s, int limit)
{
    json_t *arr = json_array();
    if (arr == NULL || store_each_conflict(s, limit, add_conflict, arr) < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

/* A figure of a migration's job: null when unknown. */
static json_t *
figure(bool known, double v)
{
    return known && v >= 0 ? json_real(v) : json_null();
}

static void
add_migration(void *ctx, const struct store_migration *g)
{
    json_t *arr = ctx;
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:f,s:o,s:o,s:s}", "id", g->id, "vm", g->vm, "from", g->src,
                  "to", g->dst, "state", g->state, "started", g->started, "finished",
                  g->finished >= 0 ? json_real(g->finished) : json_null(), "error",
                  g->error[0] != '\0' ? json_string(g->error) : json_null(), "reason", g->reason);
    if (o != NULL && g->answered > 0)
        (void)json_object_set_new(o, "answered", json_real(g->answered));
    if (o != NULL &&
        json_object_update_new(o, json_pack("{s:o,s:o,s:o}", "downtime_ms",
                                            figure(g->has_job, g->downtime_ms), "transferred_mib",
                                            figure(g->has_job, g->transferred_mib), "total_ms",
                                            figure(g->has_job, g->total_ms))) < 0) {
        json_decref(o);
        o = NULL;
    }
    if (o != NULL)
        (void)json_array_append_new(arr, o);
}

json_t *
store_migrations_json(struct store *s, int limit)
{
    json_t *arr = json_array();
    if (arr == NULL || store_each_migration(s, false, limit, add_migration, arr) < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

static void
add_rec(void *ctx, const struct store_rec *r)
{
    json_t *arr = ctx;
    json_t *o = json_pack("{s:s,s:f,s:s,s:s,s:s,s:s,s:s,s:f}", "id", r->id, "time", r->time, "vm",
                          r->vm, "from", r->src, "to", r->dst, "reason", r->reason, "state",
                          r->state, "updated", r->updated);
    if (o != NULL && r->migration[0] != '\0')
        (void)json_object_set_new(o, "migration", json_string(r->migration));
    if (o != NULL)
        (void)json_array_append_new(arr, o);
}

json_t *
store_recommendations_json(struct store *s, int limit)
{
    json_t *arr = json_array();
    if (arr == NULL || store_each_recommendation(s, false, limit, add_rec, arr) < 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

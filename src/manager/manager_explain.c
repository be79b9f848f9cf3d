/* GET /v1/vms/NAME/explain (docs/protocol.md): the manager's answer to "why is this VM where it
 * is, and where could it go", from the model of now and the store's migrations and
 * recommendations. */
#define _POSIX_C_SOURCE 200809L
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "core/plan.h"
#include "manager/manager_internal.h"
#include "store/store_json.h"

static void
add_vm_migration(void *ctx, const struct store_migration *g)
{
    json_t **io = ctx; /* [0]: the list, [1]: the VM's name as a JSON string */
    if (strcmp(g->vm, json_string_value(io[1])) != 0)
        return;
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:f,s:s}", "id", g->id, "from", g->src, "to", g->dst,
                          "state", g->state, "started", g->started, "reason", g->reason);
    if (o != NULL && g->error[0] != '\0')
        (void)json_object_set_new(o, "error", json_string(g->error));
    if (o != NULL)
        (void)json_array_append_new(io[0], o);
}

/* The hosts of `cl` that list VM `vm`, in model order (a duplicate name). NULL on OOM. */
static json_t *
hosts_of_vm(const struct cluster *cl, const char *vm)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < cl->n_vms; i++) {
        if (strcmp(cl->vms[i].name, vm) == 0 &&
            json_array_append_new(arr, json_string(cl->hosts[cl->vms[i].host].name)) < 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

/* GET /v1/vms/NAME/explain: where the VM is, whether it may move, and for every other host
 * whether it could take it and why not; the rules that name it, its migrations and
 * recommendations. */
void
manager_get_explain(struct http_req *r, void *ctx)
{
    struct manager *m = ctx;
    const char *name = r->parts[2];
    struct cluster cl;
    cluster_init(&cl);
    struct mhost **map = calloc(m->n_hosts + 1, sizeof(struct mhost *));
    bool *busy = calloc(m->n_hosts + 1, sizeof(*busy));
    json_t *o = NULL;
    if (map == NULL || busy == NULL || manager_model(m, &cl, map, busy) < 0) {
        http_reply_error(r, 503, "out of memory");
        goto out;
    }
    size_t vi = cl.n_vms;
    for (size_t i = 0; i < cl.n_vms && vi == cl.n_vms; i++) {
        if (strcmp(cl.vms[i].name, name) == 0)
            vi = i;
    }
    if (vi == cl.n_vms) {
        http_reply_error(r, 404, "no VM \"%s\" in the latest samples", name);
        goto out;
    }
    struct plan_opts popts = {.no_dest = busy, .no_source = busy};
    struct vm_explain e;
    if (plan_explain_vm(&cl, &m->opts.policy, &popts, vi, &e) < 0) {
        http_reply_error(r, 503, "out of memory");
        goto out;
    }
    const struct policy *pol = &m->opts.policy;
    json_t *dests = json_array();
    for (size_t i = 0; i < e.n_dests && dests != NULL; i++) {
        const struct dest_explain *d = &e.dests[i];
        json_t *dj = json_pack("{s:s,s:s,s:f}", "host", cl.hosts[d->host].name, "verdict",
                               dest_verdict_name(d->verdict), "score", d->score);
        if (dj != NULL && d->verdict == DEST_NO_ROOM)
            (void)json_object_update_new(dj, json_pack("{s:s,s:f,s:f}", "kind", kind_name(d->kind),
                                                       "free", d->free, "need", d->need));
        if (dj != NULL && d->verdict == DEST_NO_MEMORY)
            (void)json_object_update_new(
                dj, json_pack("{s:f,s:f}", "free_mib", d->free, "need_mib", d->need));
        if (dj != NULL && d->verdict == DEST_RULE)
            (void)json_object_set_new(dj, "rule", json_string(pol->rules[d->rule_id - 1].name));
        if (dj != NULL && d->verdict == DEST_OK && d->should_kept > 0)
            (void)json_object_set_new(dj, "should_kept", json_integer(d->should_kept));
        if (dj == NULL || json_array_append_new(dests, dj) < 0) {
            json_decref(dests);
            dests = NULL;
        }
    }
    json_t *rules = json_array();
    for (size_t i = 0; i < pol->n_rules && rules != NULL; i++) {
        for (size_t j = 0; j < pol->rules[i].n_vms; j++) {
            if (strcmp(pol->rules[i].vms[j], name) == 0)
                (void)json_array_append_new(
                    rules, json_pack("{s:s,s:s,s:s}", "name", pol->rules[i].name, "type",
                                     rule_kind_name(pol->rules[i].kind), "strength",
                                     pol->rules[i].must ? "must" : "should"));
        }
    }
    json_t *migs = json_array();
    json_t *io[2] = {migs, json_string(name)};
    if (migs != NULL && io[1] != NULL &&
        store_each_migration(m->store, false, MANAGER_API_LIST_LIMIT, add_vm_migration, io) < 0)
        log_warnx("explain: migrations not read from the store vm=\"%s\", ignoring", name);
    json_decref(io[1]);
    const struct mhost *h = map[e.host];
    o = json_pack("{s:s,s:s,s:s,s:b,s:b,s:b,s:b,s:o,s:I,s:o,s:o}", "vm", name, "host",
                  cl.hosts[e.host].name, "host_state", manager_host_state(h), "host_in_conflict",
                  e.host_in_conflict, "heavy", e.heavy, "pinned", e.pinned, "cooling", e.cooling,
                  "destinations", dests != NULL ? dests : json_array(), "possible",
                  (json_int_t)e.n_ok, "rules", rules != NULL ? rules : json_array(), "migrations",
                  migs != NULL ? migs : json_array());
    /* [detect] contention = confirm: whether the host's usage conflict is confirmed, by what. */
    if (o != NULL && pol->contention == CONTENTION_CONFIRM &&
        (e.host_in_conflict || e.host_unconfirmed)) {
        struct plan_conflict pc = {
            .confirmed_by = e.confirmed_by, .waiting = e.waiting, .cpu_pressure = e.cpu_pressure};
        char why[256];
        plan_confirm_describe(pol, &pc, why, sizeof(why));
        (void)json_object_set_new(o, "contention", json_string(why));
    }
    if (o != NULL && cl.vms[e.vm].has_cpu_wait)
        (void)json_object_set_new(o, "cpu_wait", json_real(cl.vms[e.vm].cpu_wait_pct));
    if (o != NULL && e.cooling) {
        (void)json_object_set_new(o, "cooldown_left_s", json_real(e.cooldown_left));
        (void)json_object_set_new(o, "cooldown_until", json_real(e.cooldown_until));
    }
    if (o != NULL) {
        (void)json_object_set_new(o, "storm_guard", json_boolean(e.storm_guard));
        (void)json_object_set_new(o, "recent_moves", json_integer(e.recent_moves));
        (void)json_object_set_new(o, "storm_guard_policy",
                                  json_pack("{s:I,s:f}", "max_moves_per_vm",
                                            (json_int_t)pol->max_moves_per_vm, "storm_window_s",
                                            pol->storm_window_s));
    }
    if (o != NULL && e.storm_guard) {
        (void)json_object_set_new(o, "storm_guard_until", json_real(e.storm_until));
        (void)json_object_set_new(o, "storm_guard_left_s", json_real(e.storm_until - cl.time));
    }
    if (o != NULL && e.held)
        (void)json_object_set_new(o, "retry_in_s",
                                  json_real(backoff_left(&m->backoff, name, clock_mono_s())));
    if (o != NULL && e.held_rule_id > 0)
        (void)json_object_set_new(o, "held_by_rule",
                                  json_string(pol->rules[e.held_rule_id - 1].name));
    if (o != NULL && busy[e.host])
        (void)json_object_set_new(o, "host_busy", json_true());
    /* Its name on two hosts: this answer is about the first copy; every host is named. */
    if (o != NULL && e.duplicate)
        (void)json_object_set_new(o, "duplicate_on", hosts_of_vm(&cl, name));
    vm_explain_done(&e);
    http_reply_json_value(r, 200, o);
out:
    free(map);
    free(busy);
    cluster_done(&cl);
}

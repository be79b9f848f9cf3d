/* `vmloc plan --json` output, built with jansson (small: one entry per conflicting host). */
#include "proto/plan_json.h"

#include <errno.h>
#include <jansson.h>

#include "proto/wire.h"

/* Round to 1e-6 so outputs stay readable and stable across platforms' last bits. */
static json_t *
num(double v)
{
    double r = (double)(long long)(v * 1e6 + (v >= 0 ? 0.5 : -0.5)) / 1e6;
    if (v > 1e12 || v < -1e12)
        r = v;
    return json_real(r);
}

static json_t *
kinds_array(unsigned mask, const struct policy *pol)
{
    json_t *a = json_array();
    if (a == NULL)
        return NULL;
    /* In the order of detect.resources. */
    for (size_t i = 0; i < pol->n_resources; i++) {
        enum kind k = pol->resources[i];
        if ((mask & KIND_BIT(k)) && json_array_append_new(a, json_string(kind_name(k))) < 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *
per_kind(const double *v, unsigned mask)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if ((mask & KIND_BIT(k)) &&
            json_object_set_new(o, kind_name((enum kind)k), num(v[k])) < 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *
conflict_json(const struct cluster *cl, const struct policy *pol, const struct plan *p,
              const struct plan_conflict *c)
{
    const struct host *h = &cl->hosts[c->host];
    json_t *vms = json_array();
    json_t *thr = json_object();
    json_t *o = json_object();
    if (vms == NULL || thr == NULL || o == NULL)
        goto fail;
    for (uint32_t j = 0; j < c->vm_count; j++) {
        const struct vm *v = &cl->vms[p->conflict_vms[c->vm_off + j]];
        if (json_array_append_new(vms, wire_text_json(v->name)) < 0)
            goto fail;
    }
    for (size_t i = 0; i < pol->n_resources; i++) {
        enum kind k = pol->resources[i];
        if (!(c->kinds & KIND_BIT(k)))
            continue;
        json_t *t = json_pack("{s:o,s:o,s:o}", "usage", num(h->usage.pct[k]), "host",
                              num(c->host_threshold[k]), "vm", num(c->vm_threshold[k]));
        if (t == NULL || json_object_set_new(thr, kind_name(k), t) < 0)
            goto fail;
    }
    /* json_object_set_new() takes the value's reference even when it fails. */
    if (json_object_set_new(o, "host", wire_text_json(h->name)) < 0 ||
        json_object_set_new(o, "resources", kinds_array(c->kinds, pol)) < 0) {
        goto fail;
    }
    if (json_object_set_new(o, "vms", vms) < 0) {
        vms = NULL;
        goto fail;
    }
    if (json_object_set_new(o, "thresholds", thr) < 0) {
        json_decref(o);
        return NULL;
    }
    /* [detect] contention = confirm: what confirmed it, or why it was not (only then: the
     * contract's fields stay as they were otherwise). */
    if (pol->contention == CONTENTION_CONFIRM) {
        char why[256];
        plan_confirm_describe(pol, c, why, sizeof(why));
        if (json_object_set_new(o, "contention", json_string(why)) < 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
fail:
    json_decref(vms);
    json_decref(thr);
    json_decref(o);
    return NULL;
}

static json_t *
move_json(const struct cluster *cl, const struct policy *pol, const struct plan_move *m)
{
    unsigned mask = KIND_BIT(KIND_CPU) | policy_resource_mask(pol);
    json_t *o =
        json_pack("{s:o,s:o,s:o,s:o,s:o,s:o}", "vm", wire_text_json(cl->vms[m->vm].name), "from",
                  wire_text_json(cl->hosts[m->from].name), "to",
                  wire_text_json(cl->hosts[m->to].name), "score", num(m->score), "vm_usage",
                  per_kind(m->vm_usage, mask), "dest_usage_before", per_kind(m->dest_usage, mask));
    /* Only a drain's moves say why: a conflict's keep the contract's fields. */
    if (o != NULL && m->why == PLAN_MOVE_DRAIN &&
        json_object_set_new(o, "drain", json_true()) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *
unresolved_json(const struct cluster *cl, const struct policy *pol, const struct plan_unresolved *u)
{
    json_t *o = json_pack("{s:o,s:s}", "host", wire_text_json(cl->hosts[u->host].name), "reason",
                          plan_reason_name(u->reason));
    if (o != NULL && u->vm != UINT32_MAX &&
        json_object_set_new(o, "vm", wire_text_json(cl->vms[u->vm].name)) < 0) {
        json_decref(o);
        return NULL;
    }
    /* A placement rule kept the VM off the host it would have gone to. */
    if (o != NULL && u->rule_id > 0 &&
        (json_object_set_new(o, "rule", wire_text_json(pol->rules[u->rule_id - 1].name)) < 0 ||
         json_object_set_new(o, "rule_host", wire_text_json(cl->hosts[u->rule_host].name)) < 0)) {
        json_decref(o);
        return NULL;
    }
    /* The storm guard holds the VM until then (seconds since the epoch). */
    if (o != NULL && u->reason == PLAN_REASON_STORM_GUARD &&
        json_object_set_new(o, "until", json_real(u->until)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int
plan_json_encode(const struct cluster *cl, const struct policy *pol, const struct plan *p,
                 char **ret_s)
{
    int r = -ENOMEM;
    json_t *conflicts = json_array();
    json_t *moves = json_array();
    json_t *unres = json_array();
    json_t *root = NULL;
    if (conflicts == NULL || moves == NULL || unres == NULL)
        goto out;
    for (size_t i = 0; i < p->n_conflicts; i++) {
        if (json_array_append_new(conflicts, conflict_json(cl, pol, p, &p->conflicts[i])) < 0)
            goto out;
    }
    for (size_t i = 0; i < p->n_moves; i++) {
        if (json_array_append_new(moves, move_json(cl, pol, &p->moves[i])) < 0)
            goto out;
    }
    for (size_t i = 0; i < p->n_unresolved; i++) {
        if (json_array_append_new(unres, unresolved_json(cl, pol, &p->unresolved[i])) < 0)
            goto out;
    }
    root = json_pack("{s:O,s:O,s:O}", "conflicts", conflicts, "migrations", moves, "unresolved",
                     unres);
    if (root == NULL)
        goto out;
    if (p->drains != NULL) {
        json_t *drains = json_array();
        for (size_t i = 0; drains != NULL && i < p->n_drains; i++) {
            const struct plan_drain *d = &p->drains[i];
            json_t *o =
                json_pack("{s:o,s:I,s:I}", "host", wire_text_json(cl->hosts[d->host].name),
                          "vms_left", (json_int_t)d->vms_left, "moving", (json_int_t)d->moving);
            if (o != NULL && d->block != 0)
                (void)json_object_set_new(o, "blocked", json_string(plan_block_name(d->block)));
            if (o != NULL && d->vm != UINT32_MAX)
                (void)json_object_set_new(o, "vm", wire_text_json(cl->vms[d->vm].name));
            if (o != NULL && d->rule_id > 0)
                (void)json_object_set_new(o, "rule",
                                          wire_text_json(pol->rules[d->rule_id - 1].name));
            if (o == NULL || json_array_append_new(drains, o) < 0) {
                json_decref(drains);
                drains = NULL;
            }
        }
        if (drains == NULL || json_object_set_new(root, "drains", drains) < 0)
            goto out;
    }
    if (p->n_unconfirmed > 0) {
        json_t *un = json_array();
        for (size_t i = 0; un != NULL && i < p->n_unconfirmed; i++) {
            if (json_array_append_new(un, conflict_json(cl, pol, p, &p->unconfirmed[i])) < 0) {
                json_decref(un);
                un = NULL;
            }
        }
        if (un == NULL || json_object_set_new(root, "unconfirmed", un) < 0)
            goto out;
    }
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (s == NULL)
        goto out;
    *ret_s = s;
    r = 0;
out:
    json_decref(root);
    json_decref(conflicts);
    json_decref(moves);
    json_decref(unres);
    return r;
}

/* What the manager and the agents make of a decoded sample (struct wire_sample): the one
 * translation into the core's model (wire_sample_to_cluster()), the host's conflict on its
 * own, and the JSON of a host and of a VM's hold as the HTTP API lists them. The decoder is
 * wire_sample.c, the encoder wire_sample_encode.c. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/detect.h"
#include "proto/wire.h"

int
wire_sample_to_cluster(const struct wire_sample *s, bool up, struct cluster *cl, size_t *ret_hi)
{
    size_t hi;
    int r = cluster_add_host(cl, s->name, strlen(s->name), &hi);
    if (r < 0)
        return r;
    struct host *ch = &cl->hosts[hi];
    ch->capacity = s->capacity;
    ch->state = up ? HOST_UP : HOST_DOWN;
    if (s->mem_mib > 0) {
        ch->mem_mib = s->mem_mib;
        ch->has_mem = true;
    }
    for (unsigned k = 0; k < KIND_COUNT; k++)
        usage_set(&ch->usage, (enum kind)k, s->usage[k]);
    ch->pressure = s->pressure;
    for (size_t j = 0; j < s->n_vms; j++) {
        const struct wire_sample_vm *v = &s->vms[j];
        if (v->incoming)
            continue; /* not yet this host's */
        size_t vi;
        r = cluster_add_vm(cl, v->name, strlen(v->name), &vi);
        if (r < 0)
            return r;
        struct vm *cv = &cl->vms[vi];
        for (unsigned k = 0; k < KIND_COUNT; k++)
            usage_set(&cv->usage, (enum kind)k, v->usage[k]);
        cv->mem_mib = v->mem_mib;
        cv->has_mem = v->mem_mib > 0;
        cv->priority = v->priority;
        cv->pinned = v->pinned;
        cv->arrived = v->arrived;
        cv->migrating = v->migrating_out;
        cv->cpu_wait_pct = v->has_cpu_wait ? v->cpu_wait : 0.0;
        cv->has_cpu_wait = v->has_cpu_wait;
        /* In order, as the decoder checked: only -ENOMEM can come back. */
        r = v->n_moves > 0 ? cluster_set_vm_moves(cl, vi, s->moves + v->moves_first, v->n_moves)
                           : 0;
        if (r == -ENOMEM)
            return r;
    }
    *ret_hi = hi;
    return 0;
}

json_t *
wire_vm_hold_json(json_t *o, const struct policy *pol, double arrived, const double *moves,
                  uint32_t n, double now)
{
    if (o == NULL)
        return NULL;
    double until = 0;
    bool bad = false;
    if (arrived >= 0)
        bad |= json_object_set_new(o, "arrived", json_real(arrived)) < 0;
    if (n > 0)
        bad |= json_object_set_new(o, "recent_moves",
                                   json_integer(policy_storm_count(pol, moves, n, now))) < 0;
    if (policy_cooling_until(pol, arrived, now, &until))
        bad |= json_object_set_new(o, "cooldown_until", json_real(until)) < 0;
    if (n > 0 && policy_storm_until(pol, moves, n, 0, now, &until))
        bad |= json_object_set_new(o, "storm_guard_until", json_real(until)) < 0;
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

bool
wire_sample_moving(const struct wire_sample *s)
{
    for (size_t j = 0; j < s->n_vms; j++) {
        if (s->vms[j].incoming || s->vms[j].migrating_out)
            return true;
    }
    return false;
}

json_t *
wire_pressure_json(const struct pressure *p)
{
    json_t *o = json_object();
    for (unsigned r = 0; r < PRESSURE_RES_COUNT && o != NULL; r++) {
        json_t *lines = NULL;
        for (unsigned l = 0; l < PRESSURE_LINE_COUNT; l++) {
            if (!(p->present & PRESSURE_BIT(r, l)))
                continue;
            if (lines == NULL)
                lines = json_object();
            if (lines == NULL ||
                json_object_set_new(lines, pressure_line_name((enum pressure_line)l),
                                    json_real(round(p->pct[r][l] * 1000.0) / 1000.0)) < 0) {
                json_decref(lines);
                json_decref(o);
                return NULL;
            }
        }
        if (lines != NULL &&
            json_object_set_new(o, pressure_res_name((enum pressure_res)r), lines) < 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

json_t *
wire_host_json(const struct wire_sample *s, const char *name, const char *url, const char *state,
               double last_seen, bool in_conflict, const double *threshold, const char *reason)
{
    json_t *vms = json_array();
    for (size_t j = 0; s != NULL && j < s->n_vms && vms != NULL; j++) {
        if (!s->vms[j].incoming && json_array_append_new(vms, json_string(s->vms[j].name)) < 0) {
            json_decref(vms);
            vms = NULL;
        }
    }
    double zero[KIND_COUNT] = {0};
    json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:o,s:f,s:o,s:b,s:o}", "name", name, "url", url,
                          "state", state, "usage", wire_kinds_json(s != NULL ? s->usage : zero),
                          "vms", vms, "capacity", s != NULL ? s->capacity : 1.0, "last_seen",
                          s != NULL ? json_real(last_seen) : json_null(), "in_conflict",
                          in_conflict, "threshold", wire_kinds_json(threshold));
    if (o != NULL && reason != NULL && json_object_set_new(o, "reason", json_string(reason)) < 0) {
        json_decref(o);
        o = NULL;
    }
    /* The host's PSI, where its agent measures it: absent otherwise, never invented. */
    if (o != NULL && s != NULL && s->pressure.present != 0 &&
        json_object_set_new(o, "pressure", wire_pressure_json(&s->pressure)) < 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

int
wire_sample_conflict(const struct wire_sample *s, const struct policy *pol, uint8_t *ret_kinds,
                     const char **ret_vms, size_t *ret_n, uint32_t *ret_waiting)
{
    struct cluster cl;
    cluster_init(&cl);
    size_t hi;
    int r = wire_sample_to_cluster(s, true, &cl, &hi);
    uint32_t *idx = r == 0 ? malloc((cl.hosts[hi].vm_count + 1u) * sizeof(*idx)) : NULL;
    if (r == 0 && idx == NULL)
        r = -ENOMEM;
    if (r == 0) {
        struct host_params hp;
        struct detection det;
        size_t nv = 0;
        policy_host_params(pol, &cl.hosts[hi], &hp);
        detect_host(&cl, pol, &hp, hi, &det, idx, &nv);
        r = det.conflict ? 1 : det.unconfirmed ? 2 : 0;
        if (ret_kinds != NULL)
            *ret_kinds = r >= 1 ? det.kinds : 0;
        if (ret_waiting != NULL)
            *ret_waiting = r >= 1 ? det.waiting : 0;
        size_t named = 0;
        /* The cluster's VMs are the sample's, without those arriving, in the same order. */
        for (size_t j = 0; r >= 1 && ret_vms != NULL && j < nv; j++) {
            size_t k = idx[j] - cl.hosts[hi].vm_first;
            for (size_t i = 0; i < s->n_vms; i++) {
                if (s->vms[i].incoming)
                    continue;
                if (k-- == 0) {
                    ret_vms[named++] = s->vms[i].name;
                    break;
                }
            }
        }
        if (ret_n != NULL)
            *ret_n = named;
    }
    free(idx);
    cluster_done(&cl);
    return r;
}

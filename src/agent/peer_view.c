/* What the web page reads of the peers, and what /v1/health and /metrics add in peer mode
 * (peer.h). In peer mode no manager knows the cluster, so an agent shows every host as it sees
 * it. The peers are asked for fresh samples only while someone reads the host list (at most
 * once per sampling interval), never while a decision of ours runs, so watching the page costs
 * the peers nothing when nobody watches and never disturbs a decision. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/peer_internal.h"
#include "common/clock.h"
#include "common/log.h"

static void
view_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct peer *p = arg;
    struct peer_mode *pm = p->pm;
    peer_answered(p);
    p->view_waiting = false;
    if (pm->phase != PEER_IDLE)
        return; /* a decision of ours reads the peers' samples: leave them as they are */
    (void)peer_take_sample(pm, p, status, body, len, err);
}

void
peer_view_refresh(struct peer_mode *pm)
{
    if (pm->phase != PEER_IDLE)
        return;
    uint64_t now = clock_now_us();
    double every = pm->o.interval_s > 0.5 ? pm->o.interval_s : 0.5;
    if (pm->view_asked_us != 0 && (double)(now - pm->view_asked_us) < every * 1e6 * 0.9)
        return;
    pm->view_asked_us = now;
    for (size_t i = 0; i < pm->n_peers; i++) {
        struct peer *p = pm->peers[i];
        if (p->view_waiting || p->waiting)
            continue;
        if (peer_send(pm, p, "GET", "/v1/sample", NULL, view_done) == 0)
            p->view_waiting = true;
    }
}

int
peer_view_hosts(const struct peer_mode *pm, json_t *arr)
{
    /* This host's entry, already in `arr`: its VMs that a peer lists too. */
    size_t k;
    json_t *own;
    json_array_foreach(arr, k, own)
    {
        const char *name = json_string_value(json_object_get(own, "name"));
        json_t *dups = name != NULL ? dupvms_host_json(&pm->dups, name) : NULL;
        if (dups != NULL && json_object_set_new(own, "duplicate_vms", dups) < 0)
            return -ENOMEM;
    }
    for (size_t i = 0; i < pm->n_peers; i++) {
        const struct peer *p = pm->peers[i];
        bool known = p->v.name[0] != '\0';
        const char *state = p->v.up ? (known ? "up" : "unknown") : "down";
        struct hview v = p->v;
        v.in_conflict = known && p->v.up && p->v.in_conflict;
        json_t *o = hview_json(&v, pm->o.policy, state, p->v.up ? NULL : "does not answer");
        json_t *dups = known && o != NULL ? dupvms_host_json(&pm->dups, p->v.name) : NULL;
        if (dups != NULL && json_object_set_new(o, "duplicate_vms", dups) < 0) {
            json_decref(o);
            o = NULL;
        }
        if (o == NULL || json_array_append_new(arr, o) < 0)
            return -ENOMEM;
    }
    return 0;
}

int
peer_view_history(const struct peer_mode *pm, const char *name, double since, json_t **ret)
{
    for (size_t i = 0; i < pm->n_peers; i++) {
        const struct peer *p = pm->peers[i];
        if (p->v.name[0] != '\0' && strcmp(p->v.name, name) == 0) {
            *ret = hview_history_json(p->v.hist, name, p->v.sample.capacity, pm->o.policy, since);
            return *ret != NULL ? 0 : -ENOMEM;
        }
    }
    return -ENOENT;
}

/* ---- what /v1/health and /metrics add ------------------------------------------------------ */

json_t *
peer_health(const struct peer_mode *pm)
{
    size_t up = 0;
    for (size_t i = 0; i < pm->n_peers; i++)
        up += pm->peers[i]->v.up;
    static const char *const phases[] = {"idle", "gathering", "locking", "confirming", "migrating"};
    return json_pack("{s:I,s:I,s:s,s:I,s:I,s:I,s:I,s:f,s:o}", "peers", (json_int_t)pm->n_peers,
                     "peers_up", (json_int_t)up, "phase", phases[pm->phase], "locks_granted",
                     (json_int_t)pm->locks_granted, "lock_refusals", (json_int_t)pm->lock_refusals,
                     "locks_served", (json_int_t)pm->locks_served, "locks_denied",
                     (json_int_t)pm->locks_denied, "last_decision_ms", pm->last_resolve_ms,
                     "duplicate_vms", dupvms_json(&pm->dups));
}

void
peer_metrics(const struct peer_mode *pm, struct mtext *t)
{
    mtext_family(t, "vmloc_lock_requests_total", "counter",
                 "Destination locks this agent asked for, by answer");
    mtext_sample(t, "vmloc_lock_requests_total", "result=\"granted\"", (double)pm->locks_granted);
    mtext_sample(t, "vmloc_lock_requests_total", "result=\"refused\"", (double)pm->lock_refusals);
    mtext_family(t, "vmloc_lock_answers_total", "counter",
                 "Requests for this host's lock, by answer");
    mtext_sample(t, "vmloc_lock_answers_total", "result=\"granted\"", (double)pm->locks_served);
    mtext_sample(t, "vmloc_lock_answers_total", "result=\"refused\"", (double)pm->locks_denied);
    mtext_one(t, "vmloc_storm_guard_holds_total", "counter",
              "VMs of this host the storm guard held back from a conflict's move, once per "
              "VM and window",
              (double)pm->storm_holds_total);
    mtext_one(t, "vmloc_duplicate_vms", "gauge",
              "VM names listed by two hosts outside a migration, at this agent's last decision "
              "(not moved)",
              (double)pm->dups.count);
    mtext_one(t, "vmloc_duplicate_vms_total", "counter",
              "VM names found on two hosts (once per episode)", (double)pm->dups.episodes_total);
}

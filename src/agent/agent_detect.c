/* Detection on the agent's own host (edge and peer modes): after every sampling tick the
 * sample just taken goes through the same translation and the same core detector as on the
 * manager (wire_sample_to_cluster(), detect_host()), so a host is in conflict here exactly
 * when the manager would find it so on that sample.
 *
 * Edge: while the conflict lasts, each tick sends that sample to the managers
 * (POST /v1/notify; agent_managers.c), whose leader decides and orders the migration; one
 * notification is in flight per manager at a time, and none while a VM of the host is arriving or
 * leaving (the manager does not move anything into or out of a host with a migration running).
 * A usage conflict that [detect] contention = confirm did not confirm is notified the same
 * way, each tick while it lasts, marked "unconfirmed" with the figures the agent saw: the
 * manager records it once per episode and acts on nothing.
 * Peer: the conflict starts a decision among the peers (peer.c). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "common/log.h"
#include "view/conflictlog.h"
#include "view/hostview.h"

/* Detect on the sample `s`: 1 in conflict, 2 in a usage conflict that [detect] contention =
 * confirm did not confirm (*ret_key, the caller's, and *ret_waiting, its heavy VMs that wait,
 * for both), 0 not, <0 on OOM. */
static int
detect(struct agent *a, const struct wire_sample *s, char **ret_key, uint32_t *ret_waiting)
{
    const char **vms = calloc(s->n_vms + 1, sizeof(*vms));
    if (vms == NULL)
        return -ENOMEM;
    uint8_t kinds = 0;
    size_t n = 0;
    int r = wire_sample_conflict(s, &a->opts->policy, &kinds, vms, &n, ret_waiting);
    *ret_key = r >= 1 ? conflict_key(kinds, vms, n) : NULL;
    free(vms);
    return r >= 1 && *ret_key == NULL ? -ENOMEM : r;
}

/* Edge: notify the managers of the usage conflict on sample `s` that contention = confirm did
 * not confirm, with its `waiting` VMs and the host's cpu pressure. */
static void
notify_unconfirmed(struct agent *a, const struct wire_sample *s, uint32_t waiting)
{
    struct wire_sample n = *s; /* borrows the sample's arrays, for the encoder only */
    n.unconfirmed = true;
    n.unconfirmed_waiting = waiting;
    n.unconfirmed_cpu_pressure = pressure_has(&s->pressure, PRESSURE_CPU, PRESSURE_SOME)
                                     ? s->pressure.pct[PRESSURE_CPU][PRESSURE_SOME]
                                     : -1.0;
    char *body = NULL;
    if (wire_sample_encode(&n, &body) < 0) {
        log_warnx("unconfirmed conflict not notified: out of memory, ignoring");
        return;
    }
    agent_managers_notify(a, body);
    free(body);
}

void
agent_detect(struct agent *a)
{
    if (!a->has_sample)
        return;
    const struct wire_sample *s = &a->sample;
    /* The host's recent usage, for the web page. */
    if (a->hist == NULL)
        a->hist = uhist_new(HVIEW_HIST_GAP_S);
    if (a->hist != NULL)
        uhist_push(a->hist, s->time, s->usage, &s->pressure);
    if (a->opts->mode == AGENT_MODE_CENTRAL)
        return;
    bool moving = wire_sample_moving(s);
    char *key = NULL;
    uint32_t waiting = 0;
    int r = detect(a, s, &key, &waiting);
    if (r < 0)
        return;
    if (r == 1 && (!a->in_conflict || strcmp(key, a->conflict_key) != 0)) {
        a->conflicts_detected++;
        char *text = conflict_key_text(key);
        log_info("conflict detected host=\"%s\" %s", a->opts->name, text != NULL ? text : "");
        free(text);
    } else if (r != 1 && a->in_conflict) {
        log_info("conflict over host=\"%s\"%s", a->opts->name,
                 r == 2 ? ": no longer confirmed" : "");
    }
    a->in_conflict = r == 1;
    if (a->peer != NULL && r == 2)
        peer_unconfirmed(a->peer, key, s);
    else if (a->peer != NULL)
        peer_conflict(a->peer, key);
    else if (r == 2)
        notify_unconfirmed(a, s, waiting);
    free(a->conflict_key);
    a->conflict_key = r == 1 ? key : NULL;
    if (r != 1)
        free(key);
    /* Anti-flapping: act only on a conflict seen in k of the last n samples. */
    a->conflict_seen = policy_persist_push(a->conflict_seen, r == 1);
    if (r != 1)
        return;
    if (!policy_persist_holds(&a->opts->policy, a->conflict_seen)) {
        log_debug("conflict waits for persistence host=\"%s\" persistence=%u/%u", a->opts->name,
                  (unsigned)a->opts->policy.persist_k, (unsigned)a->opts->policy.persist_n);
        return;
    }
    if (a->peer != NULL)
        peer_act(a->peer);
    else if (!moving)
        agent_managers_notify(
            a, NULL); /* while a VM arrives or leaves, the manager would not act on this host */
}

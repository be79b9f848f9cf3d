/* Detection on the agent's own host (edge and peer modes): after every sampling tick the
 * sample just taken goes through the same translation and the same core detector as on the
 * manager (wire_sample_to_cluster(), detect_host()), so a host is in conflict here exactly
 * when the manager would find it so on that sample.
 *
 * Edge: while the conflict lasts, each tick sends that sample to the manager
 * (POST /v1/notify), which decides and orders the migration; one notification is in flight
 * at a time, and none while a VM of the host is arriving or leaving (the manager does not
 * move anything into or out of a host with a migration running). Peer: the conflict starts a
 * decision among the peers (agent_peer.c). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "common/log.h"
#include "core/detect.h"

static void
notify_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct agent *a = arg;
    (void)len;
    a->notify_in_flight = false;
    if (status == 200 || status == 202) {
        a->notifications++;
        return;
    }
    if (status == 0)
        log_warnx("conflict notification got no answer manager=%s error=\"%s\"; sending again "
                  "next sample",
                  a->opts->manager, err);
    else
        log_warnx("conflict notification refused manager=%s status=%d body=%.200s", a->opts->manager,
                  status, body != NULL ? body : "");
}

static void
notify(struct agent *a)
{
    if (a->opts->manager[0] == '\0') {
        log_warnx("conflict on this host but no manager to notify (--manager URL)");
        return;
    }
    if (a->notify_in_flight)
        return;
    int r = http_request(a->client, a->opts->manager, "POST", "/v1/notify", a->sample_json,
                         HTTP_TIMEOUT_S, notify_done, a);
    if (r < 0) {
        log_warnx("conflict notification not sent manager=%s error=\"%s\"", a->opts->manager,
                  strerror(-r));
        return;
    }
    a->notify_in_flight = true;
}

void
agent_detect(struct agent *a)
{
    if (!a->has_sample)
        return;
    const struct wire_sample *s = &a->sample;
    /* The host's recent usage, for the web page. */
    if (a->hist == NULL)
        a->hist = uhist_new(AGENT_HIST_GAP_S);
    if (a->hist != NULL)
        uhist_push(a->hist, s->time, s->usage);
    if (a->opts->mode == AGENT_MODE_CENTRAL)
        return;
    char kinds[sizeof(a->conflict_kinds)];
    char vms[sizeof(a->conflict_vms)];
    bool moving = wire_sample_moving(s);
    int r = wire_sample_conflict(s, &a->opts->policy, kinds, sizeof(kinds), vms, sizeof(vms));
    if (r < 0)
        return;
    if (r == 1 && (!a->in_conflict || strcmp(vms, a->conflict_vms) != 0 ||
                   strcmp(kinds, a->conflict_kinds) != 0)) {
        a->conflicts_detected++;
        log_info("conflict detected host=\"%s\" resources=%s vms=%s", a->opts->name, kinds, vms);
    } else if (r == 0 && a->in_conflict) {
        log_info("conflict over host=\"%s\"", a->opts->name);
        a->recorded_sig[0] = '\0';
    }
    a->in_conflict = r == 1;
    (void)snprintf(a->conflict_kinds, sizeof(a->conflict_kinds), "%s", r == 1 ? kinds : "");
    (void)snprintf(a->conflict_vms, sizeof(a->conflict_vms), "%s", r == 1 ? vms : "");
    /* Anti-flapping: act only on a conflict seen in k of the last n samples. */
    a->conflict_seen = policy_persist_push(a->conflict_seen, r == 1);
    if (r != 1)
        return;
    if (!policy_persist_holds(&a->opts->policy, a->conflict_seen)) {
        log_debug("conflict waits for persistence host=\"%s\" persistence=%u/%u", a->opts->name,
                  (unsigned)a->opts->policy.persist_k, (unsigned)a->opts->policy.persist_n);
        return;
    }
    if (a->opts->mode == AGENT_MODE_PEER)
        agent_peer_act(a);
    else if (!moving)
        notify(a); /* while a VM arrives or leaves, the manager would not act on this host */
}

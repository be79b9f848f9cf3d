/* What the web page reads from an agent: this host's recent usage (every mode), and in peer
 * mode, where no manager knows the cluster, every host as this agent sees it. The peers are
 * asked for fresh samples only while someone reads the host list (at most once per sampling
 * interval), never while a decision of ours runs, so watching the page costs the peers
 * nothing when nobody watches and never disturbs a decision. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent_internal.h"
#include "common/clock.h"
#include "common/log.h"

/* The thresholds of a host named `name` with capacity `capacity` under this agent's policy. */
static void
thresholds(const struct agent *a, const char *name, double capacity, double *ret)
{
    struct host model;
    memset(&model, 0, sizeof(model));
    model.name = name;
    model.capacity = capacity;
    struct host_params hp;
    policy_host_params(&a->opts->policy, &model, &hp);
    memcpy(ret, hp.host_threshold, sizeof(hp.host_threshold));
}

void
agent_view_peer_sampled(struct agent *a, struct peer *p)
{
    char kinds[8];
    char vms[8];
    p->in_conflict = wire_sample_conflict(&p->sample, &a->opts->policy, kinds, sizeof(kinds), vms,
                                          sizeof(vms)) == 1;
    if (p->hist == NULL)
        p->hist = uhist_new(AGENT_HIST_GAP_S);
    if (p->hist != NULL)
        uhist_push(p->hist, p->sample.time, p->sample.usage);
}

static void
view_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct peer *p = arg;
    struct agent *a = p->a;
    p->view_waiting = false;
    if (a->phase != PEER_IDLE)
        return; /* a decision of ours reads the peers' samples: leave them as they are */
    if (agent_peer_take_sample(a, p, status, body, len, err))
        agent_view_peer_sampled(a, p);
}

void
agent_view_refresh(struct agent *a)
{
    if (a->opts->mode != AGENT_MODE_PEER || a->phase != PEER_IDLE)
        return;
    uint64_t now = clock_now_us();
    double every = a->opts->interval_s > 0.5 ? a->opts->interval_s : 0.5;
    if (a->view_asked_us != 0 && (double)(now - a->view_asked_us) < every * 1e6 * 0.9)
        return;
    a->view_asked_us = now;
    for (size_t i = 0; i < a->n_peers; i++) {
        struct peer *p = &a->peers[i];
        if (p->view_waiting || p->waiting)
            continue;
        if (http_request(a->client, p->url, "GET", "/v1/sample", NULL,
                         agent_peer_ask_timeout(a->opts->interval_s), view_done, p) == 0)
            p->view_waiting = true;
    }
}

json_t *
agent_view_hosts(struct agent *a)
{
    json_t *arr = json_array();
    double thr[KIND_COUNT];
    const struct wire_sample *s = a->has_sample ? &a->sample : NULL;
    thresholds(a, a->opts->name, s != NULL ? s->capacity : 1.0, thr);
    json_t *o = wire_host_json(s, a->opts->name, a->url, s != NULL ? "up" : "down", a->sample_time,
                               a->in_conflict, thr,
                               s != NULL ? NULL : (a->hv_error[0] ? a->hv_error : "no sample yet"));
    if (arr == NULL || o == NULL || json_array_append_new(arr, o) < 0) {
        json_decref(arr);
        return NULL;
    }
    for (size_t i = 0; i < a->n_peers; i++) {
        const struct peer *p = &a->peers[i];
        bool known = p->name[0] != '\0';
        thresholds(a, known ? p->name : p->url, known ? p->sample.capacity : 1.0, thr);
        const char *state = p->up ? (known ? "up" : "unknown") : "down";
        o = wire_host_json(known ? &p->sample : NULL, known ? p->name : p->url, p->url, state,
                           p->last_seen, known && p->up && p->in_conflict, thr,
                           p->up ? NULL : "does not answer");
        if (o == NULL || json_array_append_new(arr, o) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

int
agent_view_history(struct agent *a, const char *name, double since, json_t **ret)
{
    double thr[KIND_COUNT];
    if (strcmp(name, a->opts->name) == 0) {
        thresholds(a, name, a->has_sample ? a->sample.capacity : 1.0, thr);
        *ret = uhist_json(a->hist, name, thr, since);
        return *ret != NULL ? 0 : -ENOMEM;
    }
    for (size_t i = 0; a->opts->mode == AGENT_MODE_PEER && i < a->n_peers; i++) {
        const struct peer *p = &a->peers[i];
        if (p->name[0] != '\0' && strcmp(p->name, name) == 0) {
            thresholds(a, name, p->sample.capacity, thr);
            *ret = uhist_json(p->hist, name, thr, since);
            return *ret != NULL ? 0 : -ENOMEM;
        }
    }
    return -ENOENT;
}

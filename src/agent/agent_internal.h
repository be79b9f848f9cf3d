/* The agent's top floor: agent.c (its life, sampling, registration), agent_detect.c (detection
 * on its own host) and agent_api.c (its HTTP API) share this. Below them, each with its own
 * header: the peer mode (peer.h), the migrations (migrate.h), the hypervisor backend (hv.h). */
#ifndef VMLOC_AGENT_AGENT_INTERNAL_H
#define VMLOC_AGENT_AGENT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/agent.h"
#include "agent/hv.h"
#include "agent/migrate.h"
#include "agent/peer.h"
#include "agent/peerfile.h"
#include "common/metrics.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "proto/uhist.h"

struct event;
struct event_base;
struct agent;

/* One manager the agent registers with (agent_managers.c): each on its own schedule, its
 * failures said once per episode, and in edge mode one notification in flight at a time. */
struct agent_mgr {
    struct agent *a;
    const char *url; /* the agent's options' */
    struct event *ev;
    bool registered;         /* the last registration was taken */
    bool name_refused;       /* this manager refuses this name (409): another agent holds it */
    bool failing;            /* an episode of failures is under way (it was logged) */
    unsigned failures;       /* in a row */
    uint64_t failures_total; /* since the start */
    double retry_s;          /* the next retry's delay after a failure (backoff) */
    double every_s;          /* between refreshes, as the manager asks */
    bool every_bad;          /* its last answer asked for an unusable period (logged) */
    bool notify_in_flight;
};

struct agent {
    const struct agent_opts *opts; /* the caller's, for the agent's whole run */
    struct loop loop;
    struct event_base *base;     /* loop.base */
    struct http_client *client;  /* loop.client */
    struct hv *hv;               /* the backend */
    struct migrate *migs;        /* this host's migrations */
    struct peer_mode *peer;      /* peer mode; NULL in the others */
    struct peerfile *peers_file; /* peer mode with --peers-file; NULL otherwise */
    char url[WIRE_MAX_URL + 1];

    /* The latest sample (has_sample false while the hypervisor is away, hv_error saying why),
     * and its JSON as served, written once per sample (wire_sample_encode()). */
    uint64_t seq;
    double sample_time;
    struct wire_sample sample;
    bool has_sample;
    char *sample_json;
    char hv_error[256];
    /* the sample taken at the last sampling instant (samples taken on events, a migration or
     * a load change, come in between): GET /v1/sample?scheduled=1 */
    char *scheduled_json;
    struct event *sample_ev;
    struct agent_mgr *mgrs; /* one per opts->managers; NULL in peer mode or without one */
    size_t n_mgrs;

    /* Detection on this host (edge and peer modes; agent_detect.c). */
    bool in_conflict;            /* at the last sample */
    char *conflict_key;          /* its conflict then (conflict_key()), NULL when none */
    uint64_t conflicts_detected; /* episodes */
    uint32_t conflict_seen;      /* conflicts in the last samples, newest in bit 0 */
    uint64_t notifications;
    struct uhist *hist; /* this host's recent usage (NULL until the first sample) */

    /* For GET /metrics: this agent's own migrations (as the source). */
    uint64_t mig_done_total;
    uint64_t mig_failed_total;
    struct histo mig_h;
    struct histo downtime_h; /* the pause of migrations that succeeded, as the backend measured */
    struct histo sample_h;   /* how long taking a sample took (a slow hypervisor shows here) */
    double slow_warned_mono; /* when a slow sample was last warned of (0: never) */

    /* Fencing (agent_fence.c): the highest manager term seen, and orders refused as older. */
    uint64_t fence_term;
    uint64_t fence_refused_total;
};

/* Read the highest manager term from DATA/manager-term, if there is one (agent_fence.c). */
void agent_fence_load(struct agent *a);

/* May an order (`what`, for the log) carrying manager term `term` (0: none) be taken? true
 * (a higher term is remembered, and kept on disk with --data); false: older than the highest
 * seen, logged and counted, with `why` (`len` bytes) saying so. */
bool agent_fence_admit(struct agent *a, uint64_t term, const char *what, char *why, size_t len);

/* Start registering with every manager of the options (agent_managers.c). 0, or -ENOMEM
 * (nothing started). agent_managers_free() ends it. */
int agent_managers_start(struct agent *a);
void agent_managers_free(struct agent *a);

/* The managers' registrations, counted over them all. */
struct agent_mgr_counts {
    size_t registered; /* managers that have taken this agent's registration */
    size_t refusing;   /* managers that refuse its name */
    uint64_t failures; /* registrations that failed (no answer, or refused other than for
                        * the name) */
};
struct agent_mgr_counts agent_managers_count(const struct agent *a);

/* Edge mode: send the latest sample, which shows a conflict, to every manager that does not
 * refuse this agent's name (agent_managers.c). `body` is what is sent: NULL for the sample as
 * it is (a conflict), else the sample with "unconfirmed" (wire_sample_encode(); borrowed). */
void agent_managers_notify(struct agent *a, const char *body);

/* The HTTP routes of an agent (agent_api.c). */
extern const struct http_route agent_routes[];
extern const size_t agent_n_routes;

/* Take a sample now: a->sample and its JSON (agent.c). */
void agent_sample(struct agent *a);

/* Write the backend's state if it keeps one (agent.c). 0 or a negative errno (logged). */
int agent_state_save(struct agent *a);

/* After each sampling tick: keep the host's usage history, detect on the sample just taken
 * and act on the mode: edge notifies the manager, peer starts a decision (agent_detect.c). */
void agent_detect(struct agent *a);

#endif

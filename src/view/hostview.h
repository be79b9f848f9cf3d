/* One host as a collector knows it: the manager knows every host of the cluster this way, a
 * peer agent its peers. Its latest sample, whether it answers, its recent usage, and what
 * GET /v1/hosts, GET /v1/hosts/NAME/history and GET /metrics show of it, written once for both
 * daemons. */
#ifndef VMLOC_VIEW_HOSTVIEW_H
#define VMLOC_VIEW_HOSTVIEW_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/metrics.h"
#include "core/model.h"
#include "core/policy.h"
#include "proto/uhist.h"
#include "proto/wire.h"

/* Points of a host's usage history are at least this far apart (600 points: ten minutes or
 * more). */
#define HVIEW_HIST_GAP_S 1.0

struct hview {
    char name[MODEL_MAX_NAME + 1]; /* "" while unknown (a peer before its first sample) */
    char url[WIRE_MAX_URL + 1];
    struct wire_sample sample; /* the latest (valid when has_sample) */
    bool has_sample;
    bool up;            /* answered recently */
    double last_seen;   /* wall clock of the latest sample */
    bool in_conflict;   /* at its latest sample or decision */
    struct uhist *hist; /* recent usage (NULL until the first sample) */
};

/* A host named `name` ("" unknown) at `url`, up, with no sample yet. */
void hview_init(struct hview *h, const char *name, const char *url);

/* Free what `h` holds. */
void hview_done(struct hview *h);

/* Take sample `s` (moved into `h`), seen at wall time `now`: the host's latest, its usage in the
 * history; the host's name is the sample's. */
void hview_take(struct hview *h, struct wire_sample *s, double now);

/* Add usage `pct` (percent per kind) and pressure `psi` (NULL: none) at `time` to the history
 * of `h` (a point read back from the store). */
void hview_push_usage(struct hview *h, double time, const double *pct, const struct pressure *psi);

/* The thresholds of a host named `name` with capacity `capacity` under `pol`, per kind. */
void hview_thresholds(const struct policy *pol, const char *name, double capacity, double *ret);

/* GET /v1/hosts: one host (wire_host_json()) with its thresholds under `pol`; `s` may be NULL
 * (no sample yet), `reason` NULL. A new object, or NULL on OOM. */
json_t *hview_host_json(const struct wire_sample *s, const char *name, const char *url,
                        const char *state, double last_seen, bool in_conflict,
                        const struct policy *pol, const char *reason);

/* The same of record `h` in state `state` (its url for a name while unknown). */
json_t *hview_json(const struct hview *h, const struct policy *pol, const char *state,
                   const char *reason);

/* GET /v1/hosts/NAME/history: the usage of `hist` (may be NULL) since `since`, with the
 * thresholds of host `name` of capacity `capacity`. NULL on OOM. */
json_t *hview_history_json(const struct uhist *hist, const char *name, double capacity,
                           const struct policy *pol, double since);

/* GET /metrics: the families vmloc_host_usage_ratio and vmloc_vm_usage_ratio with a line per
 * kind of each of the `n` samples (VMs still arriving are not their host's yet), then
 * vmloc_vm_cpu_wait_ratio and vmloc_host_pressure_ratio{resource,kind} where measured. */
void hview_usage_metrics(struct mtext *t, const struct wire_sample *const *samples, size_t n);

#endif

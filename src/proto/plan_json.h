/* The result of `vmloc plan` as JSON: {"conflicts": [...], "migrations": [...],
 * "unresolved": [...]}, names resolved through the cluster, lists in the order the hosts
 * were handled, plus explanatory keys (thresholds, usage, scores). */
#ifndef VMLOC_PROTO_PLAN_JSON_H
#define VMLOC_PROTO_PLAN_JSON_H

#include "core/compiler.h"
#include "core/model.h"
#include "core/plan.h"
#include "core/policy.h"

/* Encode `p` (computed on `cl` under `pol`) as a pretty-printed JSON object in a new
 * NUL-terminated string (caller frees). 0: *ret_s set. -ENOMEM. */
MUST_CHECK int plan_json_encode(const struct cluster *cl, const struct policy *pol,
                                const struct plan *p, char **ret_s);

#endif

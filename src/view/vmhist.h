/* The history of a host's VMs as a collector's store keeps it: their usage and CPU wait in
 * the host's raw samples (one every store_every, for retention), as the JSON of
 * GET /v1/hosts/NAME/history?vms=1 (docs/protocol.md). Reads the store; writes nothing. */
#ifndef VMLOC_VIEW_VMHIST_H
#define VMLOC_VIEW_VMHIST_H

#include <jansson.h>

#include "store/store.h"

/* The most raw samples vmhist_json() reads: the newest this many of the host (as many points
 * as the host's own history, proto/uhist.h). */
#define VMHIST_SAMPLES 600

/* The VMs of host `host` in its raw samples taken at or after `since` (seconds since the
 * epoch; 0: all), the newest VMHIST_SAMPLES of them, as a new JSON array the caller owns, one
 * object a VM in the order they first appear: {"name", "time": [T...], "usage": {"cpu":
 * [...], "mem_bw": [...], "disk": [...], "net": [...]}, "cpu_wait": [...]}, each list as long
 * as its "time" (the samples that list the VM), `null` where a kind or the wait was not
 * measured. Samples whose VMs do not decode are left out. NULL when the store cannot be read
 * or memory runs out. */
json_t *vmhist_json(struct store *s, const char *host, double since);

#endif

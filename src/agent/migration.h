/* A migration out of this host, as the agent records it from the order to the outcome: what
 * GET /v1/migrations lists. The record is the migration table's (migrate.h); the backend that
 * moves the VM (hv.h) keeps its own part in `job` and writes the outcome here. */
#ifndef VMLOC_AGENT_MIGRATION_H
#define VMLOC_AGENT_MIGRATION_H

#include <stdbool.h>

#include <jansson.h>

#include "core/model.h"
#include "proto/wire.h"

enum mig_state {
    MIG_RUNNING = 0,
    MIG_DONE = 1,
    MIG_FAILED = 2,
};

struct migration {
    char id[WIRE_MAX_ID + 1];
    char vm[MODEL_MAX_NAME + 1];
    char to_url[WIRE_MAX_URL + 1];
    char to_name[MODEL_MAX_NAME + 1];
    enum mig_state state;
    double started; /* wall clock, seconds: shown and kept in the state file */
    double finished;
    double started_mono; /* monotonic: its duration and time-out, whatever the wall clock does */
    double took_s;       /* its duration, once finished */
    double mem_mib;
    double transfer_s; /* the copy's expected time (simulated backend; 0: unknown) */
    char error[256];
    char reason[256]; /* peer mode: why this agent decided it; "" when ordered */
    /* Since when (monotonic) nobody knows whether it moved: the destination did not answer
     * the commit. 0: its outcome is known or not yet due. */
    double unknown_since;
    /* What libvirt reports of the copy while it runs: memory copied of the total, MiB. */
    bool has_progress;
    double progress_mib;
    double total_mib;
    /* What the finished copy took, as the backend reports it (libvirt's completed job, the
     * simulated backend's model): how long the VM was paused, the data sent and the job's
     * whole time. Each < 0 while unknown (running, failed, or not reported). */
    double downtime_ms;
    double transferred_mib;
    double total_ms;
    void *job; /* the backend's part (hv.h); NULL when it has none */
};

/* "running", "done", "failed". */
const char *mig_state_name(enum mig_state s);

/* A record for VM `vm` to `to_url` (`to_name`, "" for the URL), running from now, its
 * completed job's figures unknown. NULL on OOM. `id` is copied. */
struct migration *migration_new(const char *id, const char *vm, const char *to_url,
                                const char *to_name);

/* Note that `m` ends now as `state`: its finish time on the wall clock, and its duration on
 * the monotonic clock, so that a clock jump during the copy neither shortens nor stretches
 * it. */
void migration_finish(struct migration *m, enum mig_state state);

/* The record as GET /v1/migrations/ID shows it, from host `from`. A new object, or NULL on
 * OOM. */
json_t *migration_json(const struct migration *m, const char *from);

#endif

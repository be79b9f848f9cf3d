/* The simulated backend's own parts: hv_sim.c (the operations, the state file),
 * sim_transfer.c (moving a VM out) and sim_arrival.c (taking one in) share these. */
#ifndef VMLOC_AGENT_SIM_H
#define VMLOC_AGENT_SIM_H

#include <event2/util.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/hv_sim.h"
#include "agent/simhost.h"
#include "core/compiler.h"
#include "proto/simstate.h"

/* An arrival with its reservation, until its source settles it. */
struct arrival {
    struct hv_sim *hv;
    char id[WIRE_MAX_ID + 1];
    char vm[MODEL_MAX_NAME + 1];
    char from[MODEL_MAX_NAME + 1];
    enum simstate_in_state state;
    double since;      /* wall clock: when it was reserved */
    double transfer_s; /* the copy's time its source announced (0: unknown) */
    /* capacity of the source over this host's: the VM's demand, in percent of the source,
     * times this is the same load in percent of this host */
    double scale;
    struct event *expiry;
    /* Committed: the source confirmed it knows. Until then the record is kept (a source that
     * comes back after a crash asks for it, and an unknown id would make it resume the VM). */
    bool settled;
};

/* The arrivals this host keeps (the last SIMSTATE_MAX_RECORDS). */
struct sim_arrivals {
    struct hv_sim *hv;
    struct arrival *ins[SIMSTATE_MAX_RECORDS];
    size_t n;
};

/* An arrival not committed within this time after its copy should have ended is dropped. */
#define SIM_INCOMING_EXPIRY_S 120
/* A committed arrival whose source has not settled it is forgotten after a day at the
 * earliest, and only to make room. */
#define SIM_UNSETTLED_KEEP_S 86400.0

struct hv_sim {
    struct hv base;
    struct hv_sim_opts o;
    struct simhost host;
    struct hv_trace trace; /* its VMs' trace, when [sim] trace gives one */
    struct sim_arrivals arr;
    struct event_base *evbase;
    struct http_client *client;
    struct hv_events ev;
    bool state_loaded; /* with a data folder: the state file was read (or absent): save it */
    char *state_text;  /* the state last written */
    /* With o.pressure: the host's cpu pressure `some` (avg10, percent), the monotonic time of
     * the sample that last moved it (< 0: none yet), and whether the host was stalled then
     * (held until the next sample: the demand changes only at a sample). */
    double psi_some;
    double psi_mono;
    bool psi_stalled;
};

/* ---- sim_transfer.c: a VM leaving this host ---- */

/* Start moving `m->vm` (running here, checked) to its destination. 0 or a negative errno. */
int sim_transfer_start(struct hv_sim *hv, struct migration *m, hv_ended_fn done, void *arg);
/* Take up a migration restored from the state file (its job made by sim_job_restore()). */
int sim_transfer_resume(struct hv_sim *hv, struct migration *m, hv_ended_fn done, void *arg);
/* hv_ops.migrate_abort(), .migrate_hold() and .migrate_release(). */
MUST_CHECK int sim_transfer_abort(struct migration *m, const char *why);
int sim_transfer_hold(const struct migration *m);
void sim_transfer_release(struct migration *m);
/* The job of a restored migration, with what the state file says of its commit. 0 or
 * -ENOMEM. */
int sim_job_restore(struct hv_sim *hv, struct migration *m, bool commit_sent, bool settled);
/* What the state file keeps of the job of `m`. */
void sim_job_flags(const struct migration *m, bool *ret_commit_sent, bool *ret_settled);

/* ---- sim_arrival.c: the arrivals' table ---- */

void sim_arrivals_init(struct sim_arrivals *t, struct hv_sim *hv);
void sim_arrivals_done(struct sim_arrivals *t);
/* The arrivals of a state file (their VMs are already in the host). 0, or -EINVAL with `err`
 * ("incoming[2]: ..."), or -ENOMEM. */
int sim_arrivals_restore(struct sim_arrivals *t, const struct simstate *s, struct perr *err);
/* Once the loop runs: the restored reservations stand again until commit, abort or expiry.
 * 0 or -ENOMEM. */
int sim_arrivals_resume(struct sim_arrivals *t);
/* The table as the state file keeps it, into `out` (room for t->n). */
void sim_arrivals_export(const struct sim_arrivals *t, struct simstate_in *out);

/* ---- hv_sim.c ---- */

/* Trace-driven VMs take their trace's value at wall time `now`. */
void hv_sim_trace_demand(struct hv_sim *hv, double now);

#endif

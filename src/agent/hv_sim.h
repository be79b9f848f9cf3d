/* The simulated backend (hv.h): a simulated host (simhost.c) whose VMs' demand is set by the
 * operator (`vmloc load`), by the agent's options, or by a trace (hv_trace.c). Its VMs move to
 * another simulated agent by the reservation protocol of sim_transfer.c (this side) and
 * sim_arrival.c (the destination's side); with a data folder its state survives a restart of
 * the agent (DATA/hv-sim.json, proto/simstate.h). */
#ifndef VMLOC_AGENT_HV_SIM_H
#define VMLOC_AGENT_HV_SIM_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/hv.h"
#include "agent/hv_trace.h"
#include "core/compiler.h"
#include "core/policy.h"
#include "net/http_client.h"

struct event_base;

/* What the backend is given (the caller's, for the backend's life). */
struct hv_sim_opts {
    const char *name;
    double capacity;
    double mem_mib;
    const double *overhead;       /* KIND_COUNT percents: the hypervisor's own use */
    double bandwidth_mib_s;       /* a migration copies memory at this rate */
    const struct wire_vmdef *vms; /* the VMs it starts with, unless its state file has others */
    size_t n_vms;
    const struct hv_trace_opts *trace; /* VMs whose demand follows a trace ([sim] trace) */
    const char *data;                  /* the folder of its state file; "" : none */
    const struct policy *policy;       /* what holds a VM where it is, for GET /v1/vms */
    bool pressure; /* report the host's cpu pressure (`some`, avg10) modelled (--sim-pressure) */
};

/* A simulated host on `base`, talking to other agents through `client`. Logs why and returns
 * a negative errno when the options cannot work (a trace that cannot be read). The VMs come
 * with hv_ops.restore(). */
MUST_CHECK int hv_sim_new(const struct hv_sim_opts *o, struct event_base *base,
                          struct http_client *client, const struct hv_events *ev, struct hv **ret);

#endif

/* The libvirt backend (hv.h): samples of the host's real domains (lv.h measures them), and
 * live migrations run by libvirt. */
#ifndef VMLOC_AGENT_HV_LIBVIRT_H
#define VMLOC_AGENT_HV_LIBVIRT_H

#include <stddef.h>

#include "agent/hv.h"
#include "agent/lv.h"
#include "core/compiler.h"
#include "core/policy.h"
#include "net/http_client.h"

struct event_base;

/* What the backend is given (the caller's, for the backend's life). */
struct hv_lv_opts {
    const char *name;
    double capacity;
    double interval_s; /* the agent's sampling interval */
    const struct hv_libvirt_opts *libvirt;
    const struct wire_vmdef *vms; /* [vm "NAME"] settings of domains: priority, pinned */
    size_t n_vms;
    const struct policy *policy; /* what holds a VM where it is, for GET /v1/vms */
};

/* The backend on `base`, asking other agents through `client`; it connects to libvirt now
 * (a failure is retried by the samples). Logs why and returns a negative errno when the
 * options cannot work. */
MUST_CHECK int hv_libvirt_new(const struct hv_lv_opts *o, struct event_base *base,
                              struct http_client *client, const struct hv_events *ev,
                              struct hv **ret);

#endif

/* The agent: runs on each hypervisor host. It samples the host and its VMs every interval
 * through the backend (resource usage state acquisition), serves the latest sample and its
 * migrations over HTTP, executes migrations ordered by the manager (VM control) and
 * registers with the manager. This header is what the CLI needs to start one. */
#ifndef VMLOC_AGENT_AGENT_H
#define VMLOC_AGENT_AGENT_H

#include <stddef.h>

#include "common/log.h"
#include "core/model.h"
#include "proto/wire.h"

#define AGENT_DEFAULT_LISTEN "127.0.0.1:7701"
#define AGENT_DEFAULT_INTERVAL_S 1.0
#define AGENT_DEFAULT_BANDWIDTH_MIB_S 1024.0
#define AGENT_MAX_VMS 4096

struct agent_opts {
    char name[MODEL_MAX_NAME + 1];
    char listen[WIRE_MAX_URL + 1];
    char manager[WIRE_MAX_URL + 1];   /* "" when none */
    char advertise[WIRE_MAX_URL + 1]; /* URL others use to reach us; "" = from listen */
    double interval_s;
    double bandwidth_mib_s; /* simulated migration bandwidth */
    double capacity;
    double mem_mib;
    double overhead[KIND_COUNT];
    struct wire_vmdef vms[AGENT_MAX_VMS];
    size_t n_vms;
    enum log_level log_level;
};

/* Fill `o` with the defaults. */
void agent_opts_init(struct agent_opts *o);

/* Run an agent until SIGTERM or SIGINT. Prints "listening on http://ADDR:PORT" on standard
 * output once it accepts connections. Returns the process exit status (0 after a clean stop,
 * 1 when it could not start). */
int agent_run(const struct agent_opts *o);

#endif

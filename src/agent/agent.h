/* The agent: runs on each hypervisor host. It samples the host and its VMs every interval
 * through the backend (resource usage state acquisition), serves the latest sample and its
 * migrations over HTTP, executes migrations ordered by the manager (VM control) and
 * registers with the manager. This header is what the CLI needs to start one. */
#ifndef VMLOC_AGENT_AGENT_H
#define VMLOC_AGENT_AGENT_H

#include <stdbool.h>
#include <stddef.h>

#include "agent/hv_trace.h"
#include "agent/lv.h"
#include "common/log.h"
#include "core/model.h"
#include "core/policy.h"
#include "net/http_server.h"
#include "proto/wire.h"

#define AGENT_DEFAULT_LISTEN "127.0.0.1:7701"
#define AGENT_DEFAULT_INTERVAL_S 1.0
#define AGENT_DEFAULT_BANDWIDTH_MIB_S 1024.0
#define AGENT_MAX_VMS 4096
#define AGENT_MAX_PEERS 1024
/* Managers an agent registers with: active/standby managers on etcd are two or three. */
#define AGENT_MAX_MANAGERS 8
/* A destination lock taken in peer mode lasts this long unless its holder renews it. */
#define AGENT_DEFAULT_LOCK_LEASE_S 30.0

/* Where the host's measurements come from and how VMs move. */
enum agent_backend {
    AGENT_BACKEND_SIM = 0,     /* a simulated hypervisor (vmloc load sets the demand) */
    AGENT_BACKEND_LIBVIRT = 1, /* real domains through libvirt, live migration */
};

/* Who detects and decides (docs/running.md, "Deployments"). */
enum agent_mode {
    AGENT_MODE_CENTRAL = 0, /* the manager collects, detects and decides */
    AGENT_MODE_EDGE = 1,    /* this agent detects and notifies the manager, which decides */
    AGENT_MODE_PEER = 2,    /* no manager: this agent detects, decides with its peers' samples,
                               locks the destination and migrates */
};

struct agent_opts {
    char name[MODEL_MAX_NAME + 1];
    char listen[WIRE_MAX_URL + 1];
    /* The managers to register with (and, in edge mode, to notify): every one of
     * active/standby managers, or the one manager. n_managers 0: none. */
    char managers[AGENT_MAX_MANAGERS][WIRE_MAX_URL + 1];
    size_t n_managers;
    bool managers_from_args;          /* the CLI's: --manager has replaced the config file's list */
    char advertise[WIRE_MAX_URL + 1]; /* URL others use to reach us; "" = from listen */
    double interval_s;
    double bandwidth_mib_s; /* simulated migration bandwidth */
    double capacity;
    double mem_mib;
    double overhead[KIND_COUNT];
    bool sim_pressure; /* sim: report the host's cpu pressure (`some`, avg10) modelled */
    struct wire_vmdef vms[AGENT_MAX_VMS];
    size_t n_vms;
    enum log_level log_level;
    enum agent_mode mode;
    struct policy policy; /* edge and peer modes detect with it; policy_finish() done; owned
                             by the caller */
    char peers[AGENT_MAX_PEERS][WIRE_MAX_URL + 1]; /* peer mode: the other agents' URLs */
    size_t n_peers;
    char peers_file[4096]; /* peer mode: more peers, read again when it changes; "" = none */
    double lock_lease_s;
    char data[4096]; /* peer mode: the store's directory */
    enum agent_backend backend;
    struct hv_libvirt_opts libvirt;
    struct hv_trace_opts trace;    /* sim: VMs whose demand follows a trace ([sim] trace...) */
    struct http_security_conf sec; /* token file, open reads, TLS files */
    struct http_auth auth;         /* loaded from `sec` by the caller before agent_run() */
    struct http_tls *tls;          /* likewise; NULL: plain HTTP */
};

/* Fill `o` with the defaults (the policy with policy_init(), not finished). */
void agent_opts_init(struct agent_opts *o);

/* Peer mode: how long a peer is given to answer, for an agent sampling every `interval_s`
 * (the interval, at least 0.5 s and at most 5 s). A lock lease must outlast a decision. */
double agent_peer_ask_timeout(double interval_s);

/* "sim", "libvirt". */
const char *agent_backend_name(enum agent_backend b);

/* "central", "edge", "peer"; parse: 0 or -EINVAL. */
const char *agent_mode_name(enum agent_mode m);
int agent_mode_parse(const char *s, enum agent_mode *ret);

/* Run an agent until SIGTERM or SIGINT. Prints "listening on http://ADDR:PORT" on standard
 * output once it accepts connections. Returns the process exit status (0 after a clean stop,
 * 1 when it could not start). */
int agent_run(const struct agent_opts *o);

#endif

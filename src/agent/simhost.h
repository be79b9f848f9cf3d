/* The simulated hypervisor: a host of a given capacity running VMs whose demand per kind is
 * set by the operator (`vmloc load`) or the config. Each sample gives every VM what it asked
 * for while the host has room; beyond that each VM gets the same fraction of its demand. The
 * hypervisor itself uses a small overhead; a VM migrating out runs 10% slower, and a VM
 * arriving holds 10% of its demand on the destination until it runs there. Pure state: the
 * agent moves VMs between hosts over the network and calls these functions. */
#ifndef VMLOC_AGENT_SIMHOST_H
#define VMLOC_AGENT_SIMHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/model.h"

enum simvm_state {
    SIMVM_RUNNING = 0,
    SIMVM_MIGRATING_OUT = 1,
    SIMVM_INCOMING = 2,
};

/* "running", "migrating-out", "incoming". */
const char *simvm_state_name(enum simvm_state s);

struct simvm {
    char name[MODEL_MAX_NAME + 1];
    double demand[KIND_COUNT]; /* percent of this host's capacity */
    double mem_mib;
    int64_t priority;
    double arrived; /* when it arrived by migration (seconds since the epoch); < 0: unknown */
    double moves[MODEL_MAX_VM_MOVES]; /* its recent arrivals by migration, oldest first */
    uint32_t n_moves;
    /* A VM whose demand follows a trace file (the agent's hv_trace): the file's name ("":
     * none), its index there, its size and cores. */
    char trace[MODEL_MAX_NAME + 1];
    long trace_vm;
    double mips;
    uint32_t cores;
    bool pinned;
    enum simvm_state state;
};

struct simhost {
    char host_name[MODEL_MAX_NAME + 1];
    double capacity; /* relative capacity coefficient */
    double mem_mib;
    double overhead[KIND_COUNT]; /* the hypervisor's own use, percent */
    struct simvm *vms;
    size_t n_vms;
    size_t cap_vms;
};

/* Slowdown of a VM while it migrates out, and the share of its demand an arriving VM holds
 * on the destination (the literature's usual 10%). */
#define SIMHOST_MIGRATION_SLOWDOWN 0.9
#define SIMHOST_INCOMING_SHARE 0.1

/* An empty host named `name` with capacity 1, 65536 MiB and 2 % CPU overhead.
 * 0 or -E2BIG (name too long). */
MUST_CHECK int simhost_init(struct simhost *hv, const char *name);

/* Free the VM table. Accepts NULL. */
void simhost_done(struct simhost *hv);

/* Index of VM `name`, or -1. */
long simhost_find(const struct simhost *hv, const char *name);

/* Add a copy of `vm`. 0; -EEXIST: a VM of that name is here; -ENOSPC: its memory does not
 * fit in what the other VMs leave; -EINVAL: bad demand (outside 0..100); -ENOMEM. */
MUST_CHECK int simhost_add(struct simhost *hv, const struct simvm *vm);

/* Remove VM `name`. 0 or -ENOENT. */
MUST_CHECK int simhost_remove(struct simhost *hv, const char *name);

/* Set the demand of VM `name` for the kinds in `mask` to `pct[k]` (0..100).
 * 0; -ENOENT; -EINVAL (value out of range). */
MUST_CHECK int simhost_set_demand(struct simhost *hv, const char *name, unsigned mask,
                                  const double *pct);

/* Change VM `name`'s state. 0 or -ENOENT. */
MUST_CHECK int simhost_set_state(struct simhost *hv, const char *name, enum simvm_state s);

/* Memory the VMs hold (running, leaving and arriving), MiB. */
double simhost_mem_used(const struct simhost *hv);

/* What each VM gets now: `ret_usage[i][k]` for VM i (0 for arriving VMs), and the host's
 * total per kind in `ret_host[k]` (overhead + allocations + arrivals' reservations). */
void simhost_allocate(const struct simhost *hv, double (*ret_usage)[KIND_COUNT], double *ret_host);

/* What each VM waits for CPU now, in percent of wall time: its unmet share of its cpu demand
 * when the host's demand exceeds what the VMs may have (100 % less the overhead), so every
 * running VM waits (1 - room / demand) x 100 %, and 0 while there is room. A VM that asks for
 * no CPU waits 0; an arriving VM does not run here: -1 (unknown). `ret_wait[i]` for VM i. */
void simhost_cpu_wait(const struct simhost *hv, double *ret_wait);

/* Whether the host's VMs now ask more CPU than they may have (100 % less the overhead),
 * arrivals counted with their reservation: then some VM waits, which the kernel counts as
 * cpu pressure (`some`). */
bool simhost_cpu_stalled(const struct simhost *hv);

#endif

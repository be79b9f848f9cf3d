/* The simulated host's state file (DATA/hv-sim.json): what a real hypervisor keeps across a
 * restart of its agent. Version 1:
 *
 *   {"version": 1, "host": "h1",
 *    "vms": [{"name", "demand": {cpu, mem_bw, disk, net}, "mem_mib", "priority", "pinned",
 *             "arrived", "moves"?, "state", "trace"?, "mips"?, "cores"?}],
 *    "incoming": [{"id", "vm", "from", "state", "settled"?, "since"?, "transfer_s"?,
 *                  "scale"?}],
 *    "migrations": [{"id", "vm", "to_url", "to_name", "state", "started", "finished",
 *                    "mem_mib", "transfer_s", "error"?, "reason"?, "commit_sent"?,
 *                    "settled"?}]}
 *
 * The optional fields are those files written by earlier versions lack; their defaults are
 * the safe reading of such a file (see simstate_decode()). Bytes <-> structs only: which VMs
 * and records make sense for the host is the agent's to check. */
#ifndef VMLOC_PROTO_SIMSTATE_H
#define VMLOC_PROTO_SIMSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/model.h"
#include "proto/perr.h"
#include "proto/wire.h"

#define SIMSTATE_VERSION 1
/* A host's state: 4,096 VMs and 2,000 records at about 300 bytes each fit easily. */
#define SIMSTATE_MAX_BYTES ((size_t)16 * 1024u * 1024u)
/* The most records of each list a file may hold. */
#define SIMSTATE_MAX_VMS 4096
#define SIMSTATE_MAX_RECORDS 1000

/* A VM: running, leaving ("migrating-out") or arriving ("incoming"). */
enum simstate_vm_state {
    SIMSTATE_VM_RUNNING = 0,
    SIMSTATE_VM_MIGRATING_OUT = 1,
    SIMSTATE_VM_INCOMING = 2,
};

struct simstate_vm {
    char name[MODEL_MAX_NAME + 1];
    double demand[KIND_COUNT]; /* percent of the host, 0..100 */
    double mem_mib;
    int64_t priority;
    bool pinned;
    double arrived; /* seconds since the epoch; < 0: unknown */
    double moves[MODEL_MAX_VM_MOVES];
    uint32_t n_moves;
    enum simstate_vm_state state;
    char trace[MODEL_MAX_NAME + 1]; /* "" : its demand does not follow a trace */
    double mips;
    uint32_t cores;
};

enum simstate_in_state {
    SIMSTATE_IN_RESERVED = 0,
    SIMSTATE_IN_COMMITTED = 1,
    SIMSTATE_IN_ABORTED = 2,
};

/* An arrival the host reserved, committed or aborted. */
struct simstate_in {
    char id[WIRE_MAX_ID + 1];
    char vm[MODEL_MAX_NAME + 1];
    char from[MODEL_MAX_NAME + 1];
    enum simstate_in_state state;
    bool settled;      /* absent: true (files of before the sources settled arrivals) */
    double since;      /* absent: -1 (the reader takes "now") */
    double transfer_s; /* absent: 0 (unknown) */
    double scale;      /* absent: 1 (the same size) */
};

enum simstate_mig_state {
    SIMSTATE_MIG_RUNNING = 0,
    SIMSTATE_MIG_DONE = 1,
    SIMSTATE_MIG_FAILED = 2,
};

/* A migration out of the host. */
struct simstate_mig {
    char id[WIRE_MAX_ID + 1];
    char vm[MODEL_MAX_NAME + 1];
    char to_url[WIRE_MAX_URL + 1];
    char to_name[MODEL_MAX_NAME + 1];
    enum simstate_mig_state state;
    double started;
    double finished;
    double mem_mib;
    double transfer_s;
    char error[256];
    char reason[256];
    bool commit_sent; /* absent: true (only the destination decides) */
    bool settled;     /* absent: false (telling it again does no harm) */
};

struct simstate {
    char host[MODEL_MAX_NAME + 1];
    struct simstate_vm *vms;
    size_t n_vms;
    struct simstate_in *ins;
    size_t n_ins;
    struct simstate_mig *migs;
    size_t n_migs;
};

/* Read a state file's `len` bytes into the empty *ret (free with simstate_done(), also after
 * a failure). 0; -EINVAL with `err` naming the line and column of a syntax error, or the
 * field ("vms[2].demand: four kinds, each from 0 to 100"); -ENOMEM. */
MUST_CHECK int simstate_decode(const char *text, size_t len, struct simstate *ret,
                               struct perr *err);

/* The file's text (compact JSON, caller frees). Texts cut to fit their buffers may end inside a
 * UTF-8 character: that partial character is left out. 0, or -ENOMEM. */
MUST_CHECK int simstate_encode(const struct simstate *s, char **ret_text);

/* Free what `s` owns. Accepts NULL. */
void simstate_done(struct simstate *s);

/* "running", "migrating-out", "incoming" / "reserved", "committed", "aborted" / "running",
 * "done", "failed". */
const char *simstate_vm_state_name(enum simstate_vm_state s);
const char *simstate_in_state_name(enum simstate_in_state s);
const char *simstate_mig_state_name(enum simstate_mig_state s);

#endif

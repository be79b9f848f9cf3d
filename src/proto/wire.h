/* Wire messages between vmloc processes (HTTP bodies, JSON): decoding and validation of
 * what a peer sends. Every field is checked like the snapshot's; errors name the field
 * ("vm.demand.cpu: must be between 0 and 100"). Pure: bytes in, structs out. The protocol
 * is described in docs/protocol.md. */
#ifndef VMLOC_PROTO_WIRE_H
#define VMLOC_PROTO_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/compiler.h"
#include "core/model.h"
#include "core/policy.h"
#include "proto/perr.h"

#define WIRE_VERSION 1
#define WIRE_MAX_ID 64
#define WIRE_MAX_URL 255
#define WIRE_MAX_DEPTH 16

/* A change of demand: {"cpu": 50, "disk": 10}. */
struct wire_load {
    unsigned mask; /* KIND_BIT of the kinds given */
    double pct[KIND_COUNT];
};

/* A migration order to a source agent: {"id": "...", "vm": "...", "to": "http://...",
 * "to_name": "h2"}; id optional (the agent makes one). */
struct wire_order {
    char id[WIRE_MAX_ID + 1];
    char vm[MODEL_MAX_NAME + 1];
    char to[WIRE_MAX_URL + 1];
    char to_name[MODEL_MAX_NAME + 1];
};

/* A lock request to a peer agent (peer mode): {"holder": "h1", "lease_s": 30}; a release
 * names the holder only. The lease is bounded to 0.1 .. WIRE_MAX_LEASE_S seconds. */
struct wire_lock {
    char holder[MODEL_MAX_NAME + 1];
    double lease_s; /* 0 when not given (a release) */
};

#define WIRE_MAX_LEASE_S 3600.0

/* A VM's definition and state, as sent to the destination of a migration. */
struct wire_vmdef {
    char name[MODEL_MAX_NAME + 1];
    double demand[KIND_COUNT];
    double mem_mib;
    int64_t priority;
    bool pinned;
};

/* {"id": "...", "from": "h1", "transfer_s": 4.0, "vm": {"name", "demand": {...}, "mem_mib",
 * "priority", "pinned"}}: a source asks a destination to reserve room for an arriving VM. */
struct wire_incoming {
    char id[WIRE_MAX_ID + 1];
    char from[MODEL_MAX_NAME + 1];
    struct wire_vmdef vm;
    double transfer_s; /* how long the copy will take ("transfer_s", optional; 0 = unknown) */
};

/* One VM in an agent's sample. */
struct wire_sample_vm {
    char name[MODEL_MAX_NAME + 1];
    double usage[KIND_COUNT];
    double demand[KIND_COUNT];
    double mem_mib;
    int64_t priority;
    double arrived; /* when it arrived on this host (seconds since the epoch); < 0: unknown */
    bool pinned;
    bool incoming;      /* arriving: not yet the host's */
    bool migrating_out; /* leaving */
};

/* An agent's sample (GET /v1/sample): its host and VMs. */
struct wire_sample {
    uint64_t seq;
    double time;
    char url[WIRE_MAX_URL + 1];
    char name[MODEL_MAX_NAME + 1];
    double capacity;
    double mem_mib;
    double usage[KIND_COUNT];
    struct wire_sample_vm *vms; /* owned */
    size_t n_vms;
};

#define WIRE_MAX_SAMPLE_VMS 4096

/* Decode an agent's sample into the empty *ret (free with wire_sample_done()).
 * 0; -EINVAL with err naming the field; -ENOMEM. */
MUST_CHECK int wire_sample_decode(const char *body, size_t len, struct wire_sample *ret,
                                  struct perr *err);

/* Free what a sample owns. Accepts NULL. */
void wire_sample_done(struct wire_sample *s);

/* Add the host of sample `s` and its VMs to the model `cl`, in state up or down; VMs still
 * arriving (`incoming`) are not yet the host's and are left out. The one translation from a
 * sample to the core's model: the manager and every agent decide on the same input.
 * 0 with *ret_hi the host's index; -E2BIG (too many hosts or VMs for the model); -ENOMEM. */
MUST_CHECK int wire_sample_to_cluster(const struct wire_sample *s, bool up, struct cluster *cl,
                                      size_t *ret_hi);

/* One host as GET /v1/hosts lists it (docs/protocol.md): {"name", "url", "state", "usage",
 * "vms", "capacity", "last_seen", "in_conflict", "threshold", "reason"?}. `s` may be NULL (no
 * sample yet: zero usage, no VMs, "last_seen" null); VMs still arriving are left out;
 * `reason` may be NULL. A new object, or NULL on OOM. */
json_t *wire_host_json(const struct wire_sample *s, const char *name, const char *url,
                       const char *state, double last_seen, bool in_conflict,
                       const double *threshold, const char *reason);

/* Is the host of sample `s`, alone, in conflict under `pol` (the core's detect_host() on the
 * one translation)? 1: yes (the conflicting kinds and VMs written, comma-separated, truncated
 * to fit); 0: no; -E2BIG or -ENOMEM. */
int wire_sample_conflict(const struct wire_sample *s, const struct policy *pol, char *kinds,
                         size_t klen, char *vms, size_t vlen);

/* Is a VM of this sample arriving or leaving (a migration into or out of the host runs)? */
bool wire_sample_moving(const struct wire_sample *s);

/* Decoders: 0 with *ret filled; -EINVAL with err naming the field ("<body>" as source). */
MUST_CHECK int wire_load_decode(const char *body, size_t len, struct wire_load *ret,
                                struct perr *err);
MUST_CHECK int wire_order_decode(const char *body, size_t len, struct wire_order *ret,
                                 struct perr *err);
/* `need_lease`: a lock request (lease_s required); else a release (lease_s ignored). */
MUST_CHECK int wire_lock_decode(const char *body, size_t len, bool need_lease,
                                struct wire_lock *ret, struct perr *err);
MUST_CHECK int wire_incoming_decode(const char *body, size_t len, struct wire_incoming *ret,
                                    struct perr *err);

/* {"cpu": v[0], "mem_bw": v[1], "disk": v[2], "net": v[3]}, each rounded to 0.001 (a new
 * jansson object the caller owns), or NULL on OOM. The one encoding of usage on the wire. */
json_t *wire_kinds_json(const double *v);

/* Is `id` 1..64 characters of [A-Za-z0-9._-]? */
bool wire_id_valid(const char *id);

/* Is `name` a valid host or VM name (1..255 bytes, no control characters)? */
bool wire_name_valid(const char *name);

/* Parse "NAME:cpu=PCT[,mem_bw=PCT][,disk=PCT][,net=PCT][,mem=MIB][,priority=N][,pinned]"
 * (the agent's --vm option). 0 or -EINVAL with err. */
MUST_CHECK int wire_vmspec_parse(const char *spec, struct wire_vmdef *ret, struct perr *err);

#endif

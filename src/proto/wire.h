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
    uint64_t term; /* the ordering manager's term (fencing, docs/protocol.md); 0: none given */
};

/* The largest term an order may carry: etcd's revisions, within JSON's exact integers. */
#define WIRE_MAX_TERM 9007199254740991ull

/* A lock request to a peer agent (peer mode): {"holder": "h1", "lease_s": 30}; a release
 * names the holder only. The lease is bounded to 0.1 .. WIRE_MAX_LEASE_S seconds. */
struct wire_lock {
    char holder[MODEL_MAX_NAME + 1];
    double lease_s; /* 0 when not given (a release) */
    uint64_t token; /* the request's "token" (agent/hostlock.h): 1 to WIRE_MAX_TERM; 0 absent */
};

#define WIRE_MAX_LEASE_S 3600.0

/* A VM's definition and state, as sent to the destination of a migration. */
struct wire_vmdef {
    char name[MODEL_MAX_NAME + 1];
    double demand[KIND_COUNT];
    double mem_mib;
    int64_t priority;
    bool pinned;
    /* its recent moves, oldest first ("moves", optional): the storm guard's history travels
     * with the VM */
    double moves[MODEL_MAX_VM_MOVES];
    uint32_t n_moves;
    /* A VM whose demand follows a trace file ("trace", the file's name in the hosts' trace
     * folder; "" none) with its size ("mips", > 0) and cores ("cores", 1..4096). */
    char trace[MODEL_MAX_NAME + 1];
    double mips;
    uint32_t cores;
};

/* {"id": "...", "from": "h1", "transfer_s": 4.0, "capacity": 1.0, "vm": {"name", "demand":
 * {...}, "mem_mib", "priority", "pinned", "moves"?, "trace"?, "mips"?, "cores"?}}: a source
 * asks a destination to reserve room for an arriving VM. */
struct wire_incoming {
    char id[WIRE_MAX_ID + 1];
    char from[MODEL_MAX_NAME + 1];
    struct wire_vmdef vm;
    double transfer_s; /* how long the copy will take ("transfer_s", optional; 0 = unknown) */
    /* the source's relative capacity ("capacity", optional; 0 = not given): the VM's demand is
     * in percent of the source, so a destination of another capacity rescales it */
    double capacity;
};

#define WIRE_MAX_UUID 36

/* One VM in an agent's sample. */
struct wire_sample_vm {
    char name[MODEL_MAX_NAME + 1];
    double usage[KIND_COUNT];
    double demand[KIND_COUNT];
    uint8_t usage_kinds;  /* KIND_BIT of the kinds its usage gives (absent ones read 0) */
    uint8_t demand_kinds; /* and its demand */
    double mem_mib;
    int64_t priority;
    double arrived; /* when it arrived on this host (seconds since the epoch); < 0: unknown */
    /* its recent moves (arrival times by migration, oldest first, at most
     * MODEL_MAX_VM_MOVES): wire_sample.moves[moves_first .. moves_first + n_moves) */
    uint32_t moves_first;
    uint32_t n_moves;
    bool pinned;
    bool incoming;      /* arriving: not yet the host's */
    bool migrating_out; /* leaving */
    /* libvirt backend: whether its counters have a rate yet ("measured"; -1 when not given) */
    int8_t measured;
    /* The libvirt backend's domain UUID ("uuid", at most WIRE_MAX_UUID characters) and the
     * trace file the simulated backend's VM follows ("trace", at most MODEL_MAX_NAME): where
     * each starts in wire_sample.strs, 0 when not given. Read them with wire_vm_uuid() and
     * wire_vm_trace(): the manager never uses them, and 300 bytes in every VM's record were a
     * seventh of its memory at 10,000 hosts. */
    uint32_t uuid_at;
    uint32_t trace_at;
    /* CPU wait ("cpu_wait", optional): percent of wall time its vCPUs were runnable but not
     * running (libvirt: vcpu.N.delay; simulated: its unmet share of demand) */
    double cpu_wait;
    bool has_cpu_wait;
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
    uint8_t usage_kinds; /* KIND_BIT of the kinds the host's usage gives */
    /* the host's PSI ("pressure", optional: {"cpu": {"some": PCT, "full": PCT}, "memory":
     * ..., "io": ...}, the lines the kernel gives) */
    struct pressure pressure;
    struct wire_sample_vm *vms; /* owned */
    size_t n_vms;
    double *moves; /* owned: the VMs' moves */
    size_t n_moves;
    /* owned: the VMs' uuid and trace strings, each ending in NUL, after one NUL at 0 (NULL
     * while there are none); strs_len bytes used of strs_cap */
    char *strs;
    size_t strs_len;
    size_t strs_cap;
    /* POST /v1/notify only ("unconfirmed", optional; written by wire_sample_encode()): the agent
     * notifies a usage conflict that [detect] contention = confirm did not confirm, with the
     * figures it saw: its heavy VMs that wait at least contention_wait, and its cpu pressure (some;
     * < 0: not measured). Not part of a sample: GET /v1/sample never carries it. */
    bool unconfirmed;
    uint32_t unconfirmed_waiting;
    double unconfirmed_cpu_pressure;
};

#define WIRE_MAX_SAMPLE_VMS 4096

/* The longest JSON wire_sample_encode() writes for a sample that wire_sample_decode() takes:
 * the size of the largest answer to GET /v1/sample, so the most a daemon reads of another's
 * answer (docs/protocol.md). Built from the limits above, field by field, as the encoder
 * writes them: a number at most WIRE_JSON_NUM characters (the longest "%.17g" of a double
 * >= 0, "1.2345678901234567e-300"; an int64 takes 20), a usage or demand figure at most
 * WIRE_JSON_PCT ("99.999"), a name's bytes at most 2 each (no control characters: only `"`
 * and `\` are escaped), any other string's at most 6 each ("\u0001"), plus the keys and
 * punctuation spelled out below. About 12 MiB; a real sample is a few KB. Checked against
 * the encoder's output for the largest sample by tests/unit/test_wire_sample.c. */
#define WIRE_JSON_NUM ((size_t)23)
#define WIRE_JSON_PCT ((size_t)6)
#define WIRE_JSON_NAME(n) ((size_t)2 + 2 * (size_t)(n))
#define WIRE_JSON_STRING(n) ((size_t)2 + 6 * (size_t)(n))
/* Every kind of usage or demand, in one object. */
#define WIRE_SAMPLE_KINDS_BYTES                                                                    \
    (sizeof("{\"cpu\":,\"mem_bw\":,\"disk\":,\"net\":}") - 1u + KIND_COUNT * WIRE_JSON_PCT)
/* One VM with every field, and the comma after it. */
#define WIRE_SAMPLE_VM_BYTES                                                                       \
    (sizeof("{\"name\":,\"usage\":,\"demand\":,\"mem_mib\":,\"priority\":,\"pinned\":false,"       \
            "\"state\":\"migrating-out\",\"trace\":,\"uuid\":,\"measured\":false,\"arrived\":,"    \
            "\"cpu_wait\":,\"moves\":[]},") -                                                      \
     1u + WIRE_JSON_NAME(MODEL_MAX_NAME) + 2u * WIRE_SAMPLE_KINDS_BYTES + 3u * WIRE_JSON_NUM +     \
     WIRE_JSON_PCT + 20u + WIRE_JSON_STRING(MODEL_MAX_NAME) + WIRE_JSON_STRING(WIRE_MAX_UUID) +    \
     MODEL_MAX_VM_MOVES * (WIRE_JSON_NUM + 1u))
#define WIRE_MAX_SAMPLE_BYTES                                                                      \
    (sizeof(                                                                                       \
         "{\"version\":1,\"seq\":,\"time\":,\"url\":,"                                             \
         "\"unconfirmed\":{\"waiting\":,\"cpu_pressure\":},\"host\":{\"name\":,\"capacity\":,"     \
         "\"mem_mib\":,\"state\":\"up\",\"usage\":,\"pressure\":{\"cpu\":{\"some\":,\"full\":},"   \
         "\"memory\":{\"some\":,\"full\":},\"io\":{\"some\":,\"full\":}},\"vms\":[]}}") -          \
     1u + (size_t)PRESSURE_RES_COUNT * PRESSURE_LINE_COUNT * WIRE_JSON_PCT + 6u * WIRE_JSON_NUM +  \
     WIRE_JSON_STRING(WIRE_MAX_URL) + WIRE_JSON_NAME(MODEL_MAX_NAME) + WIRE_SAMPLE_KINDS_BYTES +   \
     (size_t)WIRE_MAX_SAMPLE_VMS * WIRE_SAMPLE_VM_BYTES)

/* Decode an agent's sample into the empty *ret (free with wire_sample_done()); a VM without
 * "demand" gets its usage as its demand. 0; -EINVAL with err naming the field; -ENOMEM. */
MUST_CHECK int wire_sample_decode(const char *body, size_t len, struct wire_sample *ret,
                                  struct perr *err);

/* Free what a sample owns. Accepts NULL. */
void wire_sample_done(struct wire_sample *s);

/* The VM's UUID and trace file ("" when not given). */
const char *wire_vm_uuid(const struct wire_sample *s, const struct wire_sample_vm *v);
const char *wire_vm_trace(const struct wire_sample *s, const struct wire_sample_vm *v);

/* Set them to the `len` bytes at `str` (a copy in s->strs; len 0: not given). `str` must not
 * point into s->strs itself (the pool may move as it grows). 0, -EINVAL (a NUL among the
 * bytes), or -ENOMEM. */
MUST_CHECK int wire_vm_set_uuid(struct wire_sample *s, struct wire_sample_vm *v, const char *str,
                                size_t len);
MUST_CHECK int wire_vm_set_trace(struct wire_sample *s, struct wire_sample_vm *v, const char *str,
                                 size_t len);

/* The agent's sample as JSON (GET /v1/sample; what wire_sample_decode() reads back): version,
 * seq, time, url, "unconfirmed" when s->unconfirmed (a notification's), and the host (name,
 * capacity, mem_mib, "state": "up", usage) with its VMs (name, usage, demand, mem_mib,
 * priority, pinned, state, arrived and moves when known; demand, priority, pinned and state
 * left out at their defaults: demand as usage as written, 0, false, running). Only
 * the kinds in usage_kinds and demand_kinds are written; usage and demand to a thousandth of a
 * percent, the other numbers exactly. 0 with *ret_json (caller frees); -ENOMEM. */
MUST_CHECK int wire_sample_encode(const struct wire_sample *s, char **ret_json);

/* Round the usage and demand of `s` as wire_sample_encode() writes them: `s` then equals what
 * wire_sample_decode() reads back from its JSON, so an agent decides on the figures its
 * manager and peers read. */
void wire_sample_round(struct wire_sample *s);

/* Add the host of sample `s` and its VMs to the model `cl`, in state up or down; VMs still
 * arriving (`incoming`) are not yet the host's and are left out. The one translation from a
 * sample to the core's model: the manager and every agent decide on the same input.
 * 0 with *ret_hi the host's index; -E2BIG (too many hosts or VMs for the model); -ENOMEM. */
MUST_CHECK int wire_sample_to_cluster(const struct wire_sample *s, bool up, struct cluster *cl,
                                      size_t *ret_hi);

/* One host as GET /v1/hosts lists it (docs/protocol.md): {"name", "url", "state", "usage",
 * "vms", "capacity", "last_seen", "in_conflict", "threshold", "reason"?, "pressure"?}. `s` may be
 * NULL (no sample yet: zero usage, no VMs, "last_seen" null); VMs still arriving are left out;
 * `reason` may be NULL. A new object, or NULL on OOM. */
json_t *wire_host_json(const struct wire_sample *s, const char *name, const char *url,
                       const char *state, double last_seen, bool in_conflict,
                       const double *threshold, const char *reason);

/* A host's PSI as the API lists it: {"cpu": {"some": PCT, "full": PCT}, ...}, only the lines
 * present, each to a thousandth of a percent. A new object, or NULL on OOM. */
json_t *wire_pressure_json(const struct pressure *p);

/* Is the host of sample `s`, alone, in conflict under `pol` (the core's detect_host() on the
 * one translation)? 1: yes, with the conflicting kinds (KIND_BIT mask) in *ret_kinds and, when
 * `ret_vms` is not NULL (room for s->n_vms), the conflicting VMs' names (pointing into `s`, in
 * the detector's order) in ret_vms[0 .. *ret_n); 2: a usage conflict that [detect]
 * contention = confirm did not confirm (not a conflict; its kinds and VMs as for 1); 0: no;
 * -E2BIG or -ENOMEM. With 1 or 2, *ret_waiting is how many of the conflict's heavy VMs wait at
 * least contention_wait (0 with contention off). ret_kinds, ret_vms, ret_n and ret_waiting may
 * be NULL. */
int wire_sample_conflict(const struct wire_sample *s, const struct policy *pol, uint8_t *ret_kinds,
                         const char **ret_vms, size_t *ret_n, uint32_t *ret_waiting);

/* Add to `o` (a VM as GET /v1/vms lists it; taken) what holds a running VM where it is at wall
 * time `now` under `pol`, from its arrival (`arrived`, < 0: unknown) and its moves (`n`,
 * oldest first): "arrived" and "recent_moves" (its moves within the storm window) when known,
 * "cooldown_until" while it cools down, "storm_guard_until" while the storm guard holds it
 * (seconds since the epoch). `o` again, or NULL (and `o` freed) on OOM or when `o` is NULL. */
json_t *wire_vm_hold_json(json_t *o, const struct policy *pol, double arrived, const double *moves,
                          uint32_t n, double now);

/* Text that may not be UTF-8 (a name the model accepts as bytes, a hypervisor's message) as a
 * JSON string: bytes that are not UTF-8 become U+FFFD, so the output stays valid JSON. NULL
 * only on OOM. */
json_t *wire_text_json(const char *s);

/* Is a VM of this sample arriving or leaving (a migration into or out of the host runs)? */
bool wire_sample_moving(const struct wire_sample *s);

/* The largest |priority| a VM may have where an agent keeps it (its state file keeps it
 * exactly, and reads back no more): a reservation's VM, an agent's --vm. */
#define WIRE_PRIORITY_MAX INT64_C(1000000000000000)

/* Decoders: 0 with *ret filled; -EINVAL with err naming the field ("<body>" as source). */
MUST_CHECK int wire_load_decode(const char *body, size_t len, struct wire_load *ret,
                                struct perr *err);
/* An order: {"id"?, "vm", "to", "to_name"?, "term"?}. */
MUST_CHECK int wire_order_decode(const char *body, size_t len, struct wire_order *ret,
                                 struct perr *err);
/* `need_lease`: a lock request (lease_s required); else a release (lease_s ignored). */
/* The optional term of a body that may carry one (a withdrawal: {"term": N}): 0 and *ret set
 * (0 when absent or the body is empty); -EINVAL not a whole number from 1 to WIRE_MAX_TERM. */
MUST_CHECK int wire_term_decode(const char *body, size_t len, uint64_t *ret, struct perr *err);
MUST_CHECK int wire_lock_decode(const char *body, size_t len, bool need_lease,
                                struct wire_lock *ret, struct perr *err);
MUST_CHECK int wire_incoming_decode(const char *body, size_t len, struct wire_incoming *ret,
                                    struct perr *err);

/* A VM's moves as JSON: an array of the `n` times (a new jansson array), or NULL on OOM. The
 * one encoding of "moves" on the wire and in state files. */
json_t *wire_moves_json(const double *times, uint32_t n);

/* Decode "moves" (`v`, the array; `path` names it in errors): at most MODEL_MAX_VM_MOVES
 * times from 0 to 1e11, none before the one listed before it. 0 with ret/ret_n set;
 * -EINVAL with err. */
MUST_CHECK int wire_moves_decode(json_t *v, const char *path, double *ret, uint32_t *ret_n,
                                 struct perr *err);

/* {"cpu": v[0], "mem_bw": v[1], "disk": v[2], "net": v[3]}, each rounded to 0.001 (a new
 * jansson object the caller owns), or NULL on OOM. The one encoding of usage on the wire. */
json_t *wire_kinds_json(const double *v);

/* Is `id` 1..64 characters of [A-Za-z0-9._-]? */
bool wire_id_valid(const char *id);

/* Is `name` a valid host, VM or rule name: 1..255 bytes of UTF-8 without control,
 * bidirectional or invisible formatting characters (utf8_hidden_at())? */
bool wire_name_valid(const char *name);

/* What is wrong with the `len` bytes at `name` as a name (wire_name_valid()); for
 * NAME_HIDDEN and a control character found past the ASCII ones, its code point in *ret_cp. */
enum wire_name_fault {
    NAME_OK = 0,
    NAME_EMPTY,
    NAME_TOO_LONG, /* over MODEL_MAX_NAME bytes */
    NAME_CONTROL,  /* C0 or DEL (a C1 control is NAME_HIDDEN) */
    NAME_NOT_UTF8,
    NAME_HIDDEN, /* a C1 control, bidirectional or invisible formatting character */
};
enum wire_name_fault wire_name_fault(const char *name, size_t len, uint32_t *ret_cp);

/* Why the `len` bytes at `name` are not a valid name (see wire_name_valid()), NULL when they
 * are one. The text may be written into `buf` (`cap` bytes; 160 are enough). */
const char *wire_name_problem(const char *name, size_t len, char *buf, size_t cap);

/* Parse "NAME:cpu=PCT[,mem_bw=PCT][,disk=PCT][,net=PCT][,mem=MIB][,priority=N][,pinned]" or,
 * for a VM that follows a trace file, "NAME:trace=FILE,mips=MIPS[,cores=N][,mem=MIB]..." (the
 * agent's --vm option). 0 or -EINVAL with err. */
MUST_CHECK int wire_vmspec_parse(const char *spec, struct wire_vmdef *ret, struct perr *err);

#endif

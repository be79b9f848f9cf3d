/* Inside the snapshot decoder: its state (a stack of frames and the slot of the pending
 * value) and the small helpers both halves use. snapshot.c walks the structure (objects,
 * arrays, keys) and snapshot_values.c checks and stores the values; nothing else includes
 * this. */
#ifndef VMLOC_PROTO_SNAPSHOT_INT_H
#define VMLOC_PROTO_SNAPSHOT_INT_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model.h"
#include "proto/jstrict.h"
#include "proto/nameset.h"
#include "proto/snapshot.h"

enum frame_type {
    F_ROOT,      /* the top-level object */
    F_HOSTS,     /* "hosts": [...] */
    F_HOST,      /* one host object */
    F_HUSAGE,    /* a host's "usage" */
    F_VMS,       /* a host's "vms": [...] */
    F_VM,        /* one VM object */
    F_VUSAGE,    /* a VM's "usage" */
    F_VMOVES,    /* a VM's "moves": [...] */
    F_HPRES,     /* a host's "pressure": a resource per key */
    F_HPRES_RES, /* host.pressure.RES: "some" and "full" */
    F_SKIP,      /* inside an ignored value */
};

/* What the next value is, from the pending key (objects) or the frame (arrays). */
enum slot {
    S_NONE,
    S_TOP, /* the root object (the layer lets nothing else through) */
    S_IGNORE,
    S_TIME,
    S_HOSTS,
    S_HOST,
    S_H_NAME,
    S_H_CAPACITY,
    S_H_MEM,
    S_H_STATE,
    S_H_USAGE,
    S_H_VMS,
    S_VM,
    S_V_NAME,
    S_V_USAGE,
    S_V_MEM,
    S_V_PRIORITY,
    S_V_PINNED,
    S_V_ARRIVED,
    S_V_MOVES,
    S_V_MOVE, /* one of a VM's moves */
    S_KIND,   /* a usage value; the kind is in decoder.kind */
    S_H_PRESSURE,
    S_PRES_RES,  /* one resource of a host's pressure; it is in decoder.pres_res */
    S_PRES_LINE, /* one of its lines; it is in decoder.pres_line */
    S_V_CPU_WAIT,
};

/* Bits of frame.seen, to find required keys missing (the layer refuses repeated ones). */
#define SEEN_NAME 0x01u
#define SEEN_CAPACITY 0x02u
#define SEEN_MEM 0x04u
#define SEEN_STATE 0x08u
#define SEEN_USAGE 0x10u
#define SEEN_VMS 0x20u
#define SEEN_PRIORITY 0x40u
#define SEEN_PINNED 0x80u
#define SEEN_TIME 0x100u
#define SEEN_ARRIVED 0x400u
#define SEEN_HOSTS 0x200u
#define SEEN_MOVES 0x800u
#define SEEN_PRESSURE 0x1000u
#define SEEN_CPU_WAIT 0x2000u

struct frame {
    enum frame_type type;
    unsigned seen;
};

/* Names wait in a short queue before their duplicate check, so the hash table's cache miss
 * (prefetched when the name arrives) overlaps with parsing the next ones: on 2.5 M names the
 * check went from a quarter of the decode time to a few percent. Every error path drains the
 * queue first, so a duplicate is still reported before any error that comes after it. */
#define PENDING_NAMES 16

struct pending_name {
    uint32_t hash;
    uint32_t index;
    bool is_host;
};

struct snapshot_decoder {
    struct jstrict *js;
    struct cluster cl;
    struct nameset host_names;
    struct nameset vm_names;
    struct frame stack[SNAPSHOT_MAX_DEPTH + 1];
    size_t depth;
    enum slot slot; /* pending slot inside an object frame */
    enum kind kind;
    enum pressure_res pres_res;   /* the pending or open resource of a host's pressure */
    enum pressure_line pres_line; /* the pending line of it */
    size_t vm_in_host;            /* index of the current VM inside its host's "vms" */
    bool failed;                  /* a queued name was a duplicate (the error is recorded) */
    struct pending_name pending[PENDING_NAMES];
    size_t pending_head;
    size_t n_pending;
    double moves[SNAPSHOT_MAX_MOVES]; /* the current VM's "moves", until the array ends */
    size_t n_moves;
};

/* Record an error about the pending value: "SOURCE: PATH: WHAT". Returns 0 (stop). */
static inline int
fail_at(struct snapshot_decoder *d, int code, const char *what)
{
    return jstrict_fail(d->js, code, what);
}

static inline int
fail_oom(struct snapshot_decoder *d)
{
    return jstrict_failf(d->js, -ENOMEM, "out of memory");
}

/* The slot of the next value in the current frame. */
static inline enum slot
current_slot(const struct snapshot_decoder *d)
{
    if (d->depth == 0)
        return S_TOP;
    switch (d->stack[d->depth - 1].type) {
    case F_HOSTS:
        return S_HOST;
    case F_VMS:
        return S_VM;
    case F_VMOVES:
        return S_V_MOVE;
    case F_SKIP:
        return S_IGNORE;
    default:
        return d->slot;
    }
}

/* After a value was consumed inside an object, no key is pending any more. */
static inline int
consumed(struct snapshot_decoder *d)
{
    d->slot = S_NONE;
    return 1;
}

/* What a value in slot `s` must be ("must be an object", ...), for its type error. */
const char *snapshot_slot_type_error(enum slot s);

/* ---- the values (snapshot_values.c): jstrict callbacks, `ctx` a struct snapshot_decoder ---- */

/* null, true or false, a number (its text), a string: checked against the pending slot and
 * stored in the model, or ignored. 1: go on; 0: an error was recorded (jstrict_fail()). */
int snapshot_values_null(void *ctx);
int snapshot_values_boolean(void *ctx, bool b);
int snapshot_values_number(void *ctx, const char *s, size_t len);
int snapshot_values_string(void *ctx, const unsigned char *s, size_t len);
/* Check every queued name, oldest first, stopping at the first duplicate (jstrict's
 * `flush`: before any error, and at the end). */
void snapshot_values_flush(void *ctx);

#endif

/* The agent's sample, decoded while it is parsed (yajl callbacks), without building a
 * document tree: the manager decodes a sample from every agent every interval, and a tree
 * costs five times the parse. Same rules as the other wire messages: a JSON object, no
 * repeated key in any object, unknown keys ignored (their values skipped whatever their
 * shape), every known field checked for type and range, errors naming the field path
 * ("host.vms[3].usage.cpu: must be between 0 and 100"). What is about JSON itself (syntax,
 * UTF-8, repeated keys, nesting, what may follow the object) is proto/jstrict.h's. The
 * encoder is wire_sample_encode.c; what is made of a sample, wire_sample_model.c. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "proto/jstrict.h"
#include "proto/nameset.h"
#include "proto/wire.h"

enum ctx {
    CTX_ROOT,
    CTX_HOST,
    CTX_HOST_USAGE,
    CTX_VMS,
    CTX_VM,
    CTX_VM_USAGE,
    CTX_VM_DEMAND,
    CTX_VM_MOVES,
    CTX_PRESSURE,     /* host.pressure: a resource per key */
    CTX_PRESSURE_RES, /* host.pressure.RES: "some" and "full" */
    CTX_UNCONFIRMED,  /* "unconfirmed" (POST /v1/notify): the figures the agent saw */
    CTX_SKIP,
};

/* The field whose value comes next. */
enum field {
    F_NONE,
    F_SKIP,
    F_SEQ,
    F_TIME,
    F_URL,
    F_HOST,
    F_NAME,
    F_CAPACITY,
    F_MEM,
    F_USAGE,
    F_DEMAND,
    F_VMS,
    F_PRIORITY,
    F_PINNED,
    F_STATE,
    F_KIND,
    F_ARRIVED,
    F_MOVES,
    F_MOVE, /* one of a VM's moves */
    F_UUID,
    F_MEASURED,
    F_TRACE,
    F_CPU_WAIT,
    F_PRESSURE,
    F_PRES_RES,  /* one resource of host.pressure */
    F_PRES_LINE, /* one of its lines */
    F_UNCONFIRMED,
    F_WAITING,      /* unconfirmed.waiting */
    F_CPU_PRESSURE, /* unconfirmed.cpu_pressure: the last */
};
#define F_COUNT (F_CPU_PRESSURE + 1)
_Static_assert(F_COUNT <= 32, "a bit per field: level.seen, and the keys' bits for jstrict");

struct level {
    enum ctx ctx;
    unsigned seen; /* bit per known field seen (1u << enum field) */
};

struct dec {
    struct wire_sample s;
    size_t cap_vms;
    size_t cap_moves;
    struct level stack[WIRE_MAX_DEPTH + 1];
    int depth; /* index of the innermost level; -1 before the root */
    enum field pending;
    enum kind pending_kind;
    enum pressure_res pending_res; /* the resource of the pending F_PRES_RES, then the open one */
    enum pressure_line pending_line;
    struct jstrict *js;
    struct nameset names; /* VM names seen, for the duplicate check */
    enum field key_f;     /* the key key_bit() classified last */
    int key_sub;          /* its kind, resource or line; -1: none (an unknown kind) */
};

static const char *
vm_name_of(const void *ctx, uint32_t i)
{
    const struct dec *d = ctx;
    return d->s.vms[i].name;
}

/* The path of the innermost level, for messages: "", "host", "host.vms[2]", ... */
static void
path_of(const struct dec *d, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (d->depth < 1)
        return;
    size_t vi = d->s.n_vms > 0 ? d->s.n_vms - 1 : 0;
    switch (d->stack[d->depth].ctx) {
    case CTX_HOST:
        (void)snprintf(buf, cap, "host");
        break;
    case CTX_HOST_USAGE:
        (void)snprintf(buf, cap, "host.usage");
        break;
    case CTX_VMS:
        (void)snprintf(buf, cap, "host.vms");
        break;
    case CTX_VM:
        (void)snprintf(buf, cap, "host.vms[%zu]", vi);
        break;
    case CTX_VM_USAGE:
        (void)snprintf(buf, cap, "host.vms[%zu].usage", vi);
        break;
    case CTX_VM_DEMAND:
        (void)snprintf(buf, cap, "host.vms[%zu].demand", vi);
        break;
    case CTX_VM_MOVES:
        (void)snprintf(buf, cap, "host.vms[%zu].moves[%u]", vi,
                       d->s.n_vms > 0 ? (unsigned)d->s.vms[vi].n_moves : 0u);
        break;
    case CTX_PRESSURE:
        (void)snprintf(buf, cap, "host.pressure");
        break;
    case CTX_PRESSURE_RES:
        (void)snprintf(buf, cap, "host.pressure.%s", pressure_res_name(d->pending_res));
        break;
    case CTX_UNCONFIRMED:
        (void)snprintf(buf, cap, "unconfirmed");
        break;
    case CTX_ROOT:
    case CTX_SKIP:
        break;
    }
}

/* The pending value's path (jstrict's `path`): "PATH.KEY" for the pending key, "PATH" for
 * an element of a VM's moves, "host.vms[N]" for a VM, "body" before the object. */
static void
value_path(const void *ctx, char *buf, size_t cap)
{
    const struct dec *d = ctx;
    if (d->depth < 0) {
        (void)snprintf(buf, cap, "body");
        return;
    }
    if (d->stack[d->depth].ctx == CTX_VMS) {
        (void)snprintf(buf, cap, "host.vms[%zu]", d->s.n_vms);
        return;
    }
    char path[64];
    path_of(d, path, sizeof(path));
    if (d->stack[d->depth].ctx == CTX_VM_MOVES) {
        (void)snprintf(buf, cap, "%s", path);
        return;
    }
    size_t kl;
    const char *key = jstrict_key(d->js, &kl);
    (void)snprintf(buf, cap, "%s%s%.*s", path, path[0] != '\0' ? "." : "", (int)kl, key);
}

/* "PATH.KEY: what" for the pending key ("PATH: what" for an element of a VM's moves). */
static int
fail_field(struct dec *d, const char *what)
{
    return jstrict_fail(d->js, -EINVAL, what);
}

/* A message of our own ("host.name: missing (required)"). Returns 0. */
#define FAIL(d, ...) jstrict_failf((d)->js, -EINVAL, __VA_ARGS__)

static int
fail_oom(struct dec *d)
{
    return jstrict_failf(d->js, -ENOMEM, "out of memory");
}

/* What a value of each field must be, for the error about a value of another type. */
static const char *const wanted[F_COUNT] = {
    [F_SEQ] = "must be an integer >= 0",  [F_WAITING] = "must be an integer from 0 to 4096",
    [F_PRIORITY] = "must be an integer",  [F_TIME] = "must be a number",
    [F_CAPACITY] = "must be a number",    [F_MEM] = "must be a number",
    [F_KIND] = "must be a number",        [F_ARRIVED] = "must be a number",
    [F_MOVE] = "must be a number",        [F_CPU_WAIT] = "must be a number",
    [F_PRES_LINE] = "must be a number",   [F_CPU_PRESSURE] = "must be a number",
    [F_HOST] = "must be an object",       [F_USAGE] = "must be an object",
    [F_DEMAND] = "must be an object",     [F_PRESSURE] = "must be an object",
    [F_PRES_RES] = "must be an object",   [F_UNCONFIRMED] = "must be an object",
    [F_VMS] = "must be an array",         [F_MOVES] = "must be an array",
    [F_PINNED] = "must be true or false", [F_MEASURED] = "must be true or false",
    [F_URL] = "must be a string",         [F_NAME] = "must be a string",
    [F_UUID] = "must be a string",        [F_TRACE] = "must be a string",
};

static int
wrong_type(struct dec *d, enum field f)
{
    return fail_field(d, wanted[f] != NULL ? wanted[f] : "has the wrong type");
}

/* The layer refuses nesting beyond WIRE_MAX_DEPTH before a level is pushed. */
static int
push(struct dec *d, enum ctx ctx)
{
    d->depth++;
    struct level *l = &d->stack[d->depth];
    l->ctx = ctx;
    l->seen = 0;
    d->pending = F_NONE;
    return 1;
}

static struct level *
top(struct dec *d)
{
    return &d->stack[d->depth];
}

/* Checks common to every scalar value; returns the field it is for (F_SKIP to ignore). */
static enum field
scalar_field(struct dec *d, bool *ret_fail)
{
    *ret_fail = false;
    if (top(d)->ctx == CTX_VMS) {
        (void)FAIL(d, "host.vms[%zu]: must be an object", d->s.n_vms);
        *ret_fail = true;
        return F_NONE;
    }
    if (top(d)->ctx == CTX_SKIP)
        return F_SKIP;
    if (top(d)->ctx == CTX_VM_MOVES)
        return F_MOVE;
    enum field f = d->pending;
    d->pending = F_NONE;
    return f;
}

/* One of a VM's moves: a time after the one before it, at most MODEL_MAX_VM_MOVES. */
static int
add_move(struct dec *d, struct wire_sample_vm *vm, double v)
{
    if (!isfinite(v) || v < 0 || v > 1e11)
        return fail_field(d, "must be a number from 0 to 1e+11");
    if (vm->n_moves > 0 && v < d->s.moves[d->s.n_moves - 1])
        return fail_field(d, "must not be before the move listed before it");
    if (vm->n_moves >= MODEL_MAX_VM_MOVES)
        return fail_field(d, "more moves than the 16 a sample carries");
    double *n = grow_array(d->s.moves, &d->cap_moves, d->s.n_moves + 1, sizeof(*n), 32);
    if (n == NULL)
        return fail_oom(d);
    d->s.moves = n;
    d->s.moves[d->s.n_moves++] = v;
    vm->n_moves++;
    return 1;
}

static int
on_null(void *ctx)
{
    struct dec *d = ctx;
    bool bad;
    enum field f = scalar_field(d, &bad);
    if (bad)
        return 0;
    if (f == F_SKIP || f == F_STATE)
        return 1;
    return wrong_type(d, f);
}

static int
on_boolean(void *ctx, bool v)
{
    struct dec *d = ctx;
    bool bad;
    enum field f = scalar_field(d, &bad);
    if (bad)
        return 0;
    if (f == F_SKIP || f == F_STATE)
        return 1;
    if (f == F_PINNED) {
        d->s.vms[d->s.n_vms - 1].pinned = v != 0;
        return 1;
    }
    if (f == F_MEASURED) {
        d->s.vms[d->s.n_vms - 1].measured = v != 0 ? 1 : 0;
        return 1;
    }
    return wrong_type(d, f);
}

/* What each numeric field takes: a number from lo to hi, whole ones written as integers;
 * `msg` says so when it is not (NULL: not a numeric field, or checked where it is kept). */
static const struct num_range {
    double lo, hi;
    bool whole;
    const char *msg;
} num_ranges[] = {
    [F_SEQ] = {0, HUGE_VAL, true, "must be an integer >= 0"},
    [F_TIME] = {0, 1e11, false, "must be a number from 0 to 1e+11"},
    [F_CAPACITY] = {1e-9, 1e6, false, "must be a number from 1e-09 to 1e+06"},
    [F_MEM] = {0, 1e12, false, "must be a number from 0 to 1e+12"},
    [F_PRIORITY] = {-HUGE_VAL, HUGE_VAL, true, "must be an integer"},
    [F_ARRIVED] = {0, 1e11, false, "must be a number from 0 to 1e+11"},
    [F_CPU_WAIT] = {0, 100, false, "must be between 0 and 100"},
    [F_PRES_LINE] = {0, 100, false, "must be between 0 and 100"},
    [F_WAITING] = {0, WIRE_MAX_SAMPLE_VMS, true, "must be an integer from 0 to 4096"},
    [F_CPU_PRESSURE] = {0, 100, false, "must be between 0 and 100"},
    [F_KIND] = {0, 100, false, "must be between 0 and 100"},
};

/* A number for field `f`; `is_int` when written as an integer (then `iv` is its value). */
static int
number(struct dec *d, enum field f, double v, bool is_int, long long iv)
{
    struct wire_sample_vm *vm = d->s.n_vms > 0 ? &d->s.vms[d->s.n_vms - 1] : NULL;
    const struct num_range *r =
        (size_t)f < sizeof(num_ranges) / sizeof(num_ranges[0]) ? &num_ranges[f] : NULL;
    if (r != NULL && r->msg != NULL && ((r->whole && !is_int) || !(v >= r->lo && v <= r->hi)))
        return fail_field(d, r->msg);
    switch (f) {
    case F_SKIP:
    case F_STATE:
        return 1;
    case F_SEQ:
        d->s.seq = (uint64_t)iv;
        return 1;
    case F_TIME:
        d->s.time = v;
        return 1;
    case F_CAPACITY:
        d->s.capacity = v;
        return 1;
    case F_MEM:
        if (top(d)->ctx == CTX_VM)
            vm->mem_mib = v;
        else
            d->s.mem_mib = v;
        return 1;
    case F_PRIORITY:
        vm->priority = iv;
        return 1;
    case F_ARRIVED:
        vm->arrived = v;
        return 1;
    case F_MOVE:
        return add_move(d, vm, v);
    case F_CPU_WAIT:
        vm->cpu_wait = v;
        vm->has_cpu_wait = true;
        return 1;
    case F_PRES_LINE:
        pressure_set(&d->s.pressure, d->pending_res, d->pending_line, v);
        return 1;
    case F_WAITING:
        d->s.unconfirmed_waiting = (uint32_t)iv;
        return 1;
    case F_CPU_PRESSURE:
        d->s.unconfirmed_cpu_pressure = v;
        return 1;
    case F_KIND:
        if (top(d)->ctx == CTX_HOST_USAGE) {
            d->s.usage[d->pending_kind] = v;
            d->s.usage_kinds |= (uint8_t)KIND_BIT(d->pending_kind);
        } else if (top(d)->ctx == CTX_VM_USAGE) {
            vm->usage[d->pending_kind] = v;
            vm->usage_kinds |= (uint8_t)KIND_BIT(d->pending_kind);
        } else {
            vm->demand[d->pending_kind] = v;
            vm->demand_kinds |= (uint8_t)KIND_BIT(d->pending_kind);
        }
        return 1;
    case F_NONE:
    case F_URL:
    case F_HOST:
    case F_NAME:
    case F_USAGE:
    case F_DEMAND:
    case F_VMS:
    case F_MOVES:
    case F_PINNED:
    case F_UUID:
    case F_MEASURED:
    case F_TRACE:
    case F_PRESSURE:
    case F_PRES_RES:
    case F_UNCONFIRMED:
        break;
    }
    return wrong_type(d, f);
}

/* A number as written: an integer when it has no fraction or exponent (any int64, as the
 * other wire decoders take), else a double; out of range is invalid JSON, as there. */
static int
on_number(void *ctx, const char *num, size_t len)
{
    struct dec *d = ctx;
    bool bad;
    enum field f = scalar_field(d, &bad);
    if (bad)
        return 0;
    struct jstrict_number n;
    if (jstrict_number_parse(num, len, &n) < 0)
        return fail_oom(d);
    if (n.is_int ? !n.int_ok : isinf(n.v))
        return jstrict_fail_syntax(d->js, "number out of range");
    return number(d, f, n.is_int ? (double)n.i : n.v, n.is_int, (long long)n.i);
}

/* Copy a string value of 1 to cap - 1 bytes without NUL into `out`, or (out NULL) into the
 * sample's strings with `set` (wire_vm_set_uuid(), ...) for the last VM. */
static int
copy_string(struct dec *d, const unsigned char *s, size_t len, char *out, size_t cap,
            int (*set)(struct wire_sample *, struct wire_sample_vm *, const char *, size_t))
{
    if (len == 0 || len >= cap || memchr(s, '\0', len) != NULL) {
        char what[64];
        (void)snprintf(what, sizeof(what), "must be 1 to %zu characters", cap - 1);
        return fail_field(d, what);
    }
    if (out == NULL)
        return set(&d->s, &d->s.vms[d->s.n_vms - 1], (const char *)s, len) < 0 ? fail_oom(d) : 1;
    memcpy(out, s, len);
    out[len] = '\0';
    return 1;
}

static int
on_string(void *ctx, const unsigned char *s, size_t len)
{
    struct dec *d = ctx;
    bool bad;
    enum field f = scalar_field(d, &bad);
    if (bad)
        return 0;
    struct wire_sample_vm *vm = d->s.n_vms > 0 ? &d->s.vms[d->s.n_vms - 1] : NULL;
    switch (f) {
    case F_SKIP:
        return 1;
    case F_URL:
        return copy_string(d, s, len, d->s.url, sizeof(d->s.url), NULL);
    case F_NAME:
        if (top(d)->ctx == CTX_VM)
            return copy_string(d, s, len, vm->name, sizeof(vm->name), NULL);
        return copy_string(d, s, len, d->s.name, sizeof(d->s.name), NULL);
    case F_UUID:
        return copy_string(d, s, len, NULL, WIRE_MAX_UUID + 1, wire_vm_set_uuid);
    case F_TRACE:
        return copy_string(d, s, len, NULL, MODEL_MAX_NAME + 1, wire_vm_set_trace);
    case F_STATE:
        vm->incoming = len == 8 && memcmp(s, "incoming", 8) == 0;
        vm->migrating_out = len == 13 && memcmp(s, "migrating-out", 13) == 0;
        return 1;
    default:
        return wrong_type(d, f);
    }
}

static int
add_vm(struct dec *d)
{
    if (d->s.n_vms >= WIRE_MAX_SAMPLE_VMS)
        return FAIL(d, "host.vms: more than %d VMs", WIRE_MAX_SAMPLE_VMS);
    struct wire_sample_vm *n = grow_array(d->s.vms, &d->cap_vms, d->s.n_vms + 1, sizeof(*n), 32);
    if (n == NULL)
        return fail_oom(d);
    d->s.vms = n;
    memset(&d->s.vms[d->s.n_vms], 0, sizeof(d->s.vms[0]));
    d->s.vms[d->s.n_vms].measured = -1;
    d->s.vms[d->s.n_vms++].arrived = -1.0;
    return 1;
}

static int
on_start_map(void *ctx)
{
    struct dec *d = ctx;
    if (d->depth < 0)
        return push(d, CTX_ROOT);
    struct level *l = top(d);
    if (l->ctx == CTX_VMS)
        return add_vm(d) == 0 ? 0 : push(d, CTX_VM);
    if (l->ctx == CTX_SKIP)
        return push(d, CTX_SKIP);
    if (l->ctx == CTX_VM_MOVES)
        return fail_field(d, "must be a number");
    enum field f = d->pending;
    d->pending = F_NONE;
    switch (f) {
    case F_SKIP:
    case F_STATE:
        return push(d, CTX_SKIP);
    case F_HOST:
        return push(d, CTX_HOST);
    case F_USAGE:
        return push(d, l->ctx == CTX_VM ? CTX_VM_USAGE : CTX_HOST_USAGE);
    case F_DEMAND:
        return push(d, CTX_VM_DEMAND);
    case F_PRESSURE:
        return push(d, CTX_PRESSURE);
    case F_PRES_RES:
        return push(d, CTX_PRESSURE_RES);
    case F_UNCONFIRMED:
        d->s.unconfirmed = true;
        return push(d, CTX_UNCONFIRMED);
    default:
        return wrong_type(d, f);
    }
}

static int
on_start_array(void *ctx)
{
    struct dec *d = ctx;
    struct level *l = top(d);
    if (l->ctx == CTX_VMS)
        return FAIL(d, "host.vms[%zu]: must be an object", d->s.n_vms);
    if (l->ctx == CTX_SKIP)
        return push(d, CTX_SKIP);
    if (l->ctx == CTX_VM_MOVES)
        return fail_field(d, "must be a number");
    enum field f = d->pending;
    d->pending = F_NONE;
    if (f == F_SKIP || f == F_STATE)
        return push(d, CTX_SKIP);
    if (f == F_VMS)
        return push(d, CTX_VMS);
    if (f == F_MOVES) {
        struct wire_sample_vm *vm = &d->s.vms[d->s.n_vms - 1];
        vm->moves_first = (uint32_t)d->s.n_moves;
        vm->n_moves = 0;
        return push(d, CTX_VM_MOVES);
    }
    return wrong_type(d, f);
}

static enum field
field_of(enum ctx c, const unsigned char *k, size_t len)
{
#define IS(s) (len == sizeof(s) - 1 && memcmp(k, s, len) == 0)
    switch (c) {
    case CTX_ROOT:
        return IS("seq")           ? F_SEQ
               : IS("time")        ? F_TIME
               : IS("url")         ? F_URL
               : IS("host")        ? F_HOST
               : IS("unconfirmed") ? F_UNCONFIRMED
                                   : F_SKIP;
    case CTX_HOST:
        return IS("name")       ? F_NAME
               : IS("capacity") ? F_CAPACITY
               : IS("mem_mib")  ? F_MEM
               : IS("usage")    ? F_USAGE
               : IS("pressure") ? F_PRESSURE
               : IS("vms")      ? F_VMS
                                : F_SKIP;
    case CTX_VM:
        return IS("name")       ? F_NAME
               : IS("usage")    ? F_USAGE
               : IS("demand")   ? F_DEMAND
               : IS("mem_mib")  ? F_MEM
               : IS("priority") ? F_PRIORITY
               : IS("pinned")   ? F_PINNED
               : IS("arrived")  ? F_ARRIVED
               : IS("moves")    ? F_MOVES
               : IS("state")    ? F_STATE
               : IS("uuid")     ? F_UUID
               : IS("measured") ? F_MEASURED
               : IS("trace")    ? F_TRACE
               : IS("cpu_wait") ? F_CPU_WAIT
                                : F_SKIP;
    case CTX_HOST_USAGE:
    case CTX_VM_USAGE:
    case CTX_VM_DEMAND:
        return F_KIND;
    case CTX_PRESSURE: /* a resource this version does not know (a newer kernel's) is skipped */
        return IS("cpu") || IS("memory") || IS("io") ? F_PRES_RES : F_SKIP;
    case CTX_PRESSURE_RES:
        return IS("some") || IS("full") ? F_PRES_LINE : F_SKIP;
    case CTX_UNCONFIRMED:
        return IS("waiting") ? F_WAITING : IS("cpu_pressure") ? F_CPU_PRESSURE : F_SKIP;
    case CTX_VMS:
    case CTX_VM_MOVES:
    case CTX_SKIP:
        break;
    }
    return F_SKIP;
#undef IS
}

/* Which key this is (in d->key_f, and for a kind, resource or line d->key_sub), and its bit
 * among the innermost object's names for jstrict: its field's, or its kind's, resource's or
 * line's in the objects that hold those; -1 for a key to skip or an unknown kind. The bits
 * must differ among the names of one object: no object mixes fields with kinds, resources
 * or lines. */
static int
key_bit(void *ctx, const unsigned char *k, size_t len)
{
    struct dec *d = ctx;
    enum ctx c = top(d)->ctx;
    d->key_f = c == CTX_SKIP ? F_SKIP : field_of(c, k, len);
    d->key_sub = -1;
    if (d->key_f == F_KIND) {
        enum kind kind;
        if (kind_parse((const char *)k, len, &kind) == 0)
            d->key_sub = (int)kind;
    } else if (d->key_f == F_PRES_RES) {
        d->key_sub = k[0] == 'c' ? PRESSURE_CPU : k[0] == 'm' ? PRESSURE_MEMORY : PRESSURE_IO;
    } else if (d->key_f == F_PRES_LINE) {
        d->key_sub = k[0] == 's' ? PRESSURE_SOME : PRESSURE_FULL;
    } else if (d->key_f != F_SKIP) {
        return (int)d->key_f;
    }
    return d->key_sub;
}

/* The key key_bit() has just classified. */
static int
on_map_key(void *ctx, const unsigned char *k, size_t len)
{
    struct dec *d = ctx;
    (void)k;
    (void)len;
    enum field f = d->key_f;
    if (f == F_KIND && d->key_sub < 0)
        return fail_field(d, "unknown resource kind (expected cpu, mem_bw, disk, net)");
    if (f == F_KIND)
        d->pending_kind = (enum kind)d->key_sub;
    else if (f == F_PRES_RES)
        d->pending_res = (enum pressure_res)d->key_sub;
    else if (f == F_PRES_LINE)
        d->pending_line = (enum pressure_line)d->key_sub;
    else if (f != F_SKIP)
        top(d)->seen |= 1u << f;
    d->pending = f;
    return 1;
}

/* Did the innermost level have field `f`? */
static bool
seen(struct dec *d, enum field f)
{
    return (top(d)->seen & (1u << f)) != 0;
}

static int
end_vm(struct dec *d)
{
    size_t i = d->s.n_vms - 1;
    struct wire_sample_vm *vm = &d->s.vms[i];
    if (!seen(d, F_NAME))
        return FAIL(d, "host.vms[%zu].name: missing (required)", i);
    if (!wire_name_valid(vm->name))
        return FAIL(d, "host.vms[%zu].name: not a valid VM name", i);
    if (!seen(d, F_USAGE))
        return FAIL(d, "host.vms[%zu].usage: missing (required)", i);
    if (!seen(d, F_DEMAND)) { /* left out: the same as its usage */
        memcpy(vm->demand, vm->usage, sizeof(vm->demand));
        vm->demand_kinds = vm->usage_kinds;
    }
    uint32_t other;
    int r = nameset_add(&d->names, vm->name, (uint32_t)i, &other);
    if (r < 0)
        return fail_oom(d);
    if (r > 0)
        return FAIL(d, "host.vms[%zu].name: duplicate VM name", i);
    return 1;
}

static int
end_host(struct dec *d)
{
    if (!seen(d, F_NAME))
        return FAIL(d, "host.name: missing (required)");
    if (!wire_name_valid(d->s.name))
        return FAIL(d, "host.name: not a valid host name");
    if (!seen(d, F_USAGE))
        return FAIL(d, "host.usage: missing (required)");
    return 1;
}

static int
end_unconfirmed(struct dec *d)
{
    if (!seen(d, F_WAITING))
        return FAIL(d, "unconfirmed.waiting: missing (required)");
    return 1;
}

static int
end_root(struct dec *d)
{
    if (!seen(d, F_SEQ))
        return FAIL(d, "seq: must be an integer >= 0");
    if (!seen(d, F_TIME))
        return FAIL(d, "time: missing (required)");
    if (!seen(d, F_HOST))
        return FAIL(d, "host: must be an object");
    return 1;
}

/* The checks at the end of an object, by what it is (NULL: none). */
typedef int end_fn(struct dec *d);
static end_fn *const end_of[CTX_SKIP + 1] = {
    [CTX_VM] = end_vm,
    [CTX_HOST] = end_host,
    [CTX_ROOT] = end_root,
    [CTX_UNCONFIRMED] = end_unconfirmed,
};

static int
on_end_map(void *ctx)
{
    struct dec *d = ctx;
    end_fn *end = end_of[top(d)->ctx];
    if (end != NULL && end(d) == 0)
        return 0;
    d->depth--;
    d->pending = F_NONE;
    return 1;
}

static int
on_end_array(void *ctx)
{
    struct dec *d = ctx;
    d->depth--;
    d->pending = F_NONE;
    return 1;
}

static const struct jstrict_callbacks callbacks = {
    .on_null = on_null,
    .on_bool = on_boolean,
    .on_number = on_number,
    .on_string = on_string,
    .on_start_map = on_start_map,
    .on_key = on_map_key,
    .key_bit = key_bit,
    .on_end_map = on_end_map,
    .on_start_array = on_start_array,
    .on_end_array = on_end_array,
    .path = value_path,
};

int
wire_sample_decode(const char *body, size_t len, struct wire_sample *ret, struct perr *err)
{
    struct dec *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        perr_set(err, "out of memory");
        return -ENOMEM;
    }
    d->s.capacity = 1.0;
    d->s.unconfirmed_cpu_pressure = -1.0;
    d->depth = -1;
    nameset_init(&d->names, vm_name_of, d);
    const struct jstrict_config cfg = {.source = "body", .max_depth = WIRE_MAX_DEPTH};
    d->js = jstrict_new(&cfg, &callbacks, d);
    int r = -ENOMEM;
    if (d->js == NULL)
        perr_set(err, "out of memory");
    else
        r = jstrict_feed(d->js, body, len, err);
    if (r == 0)
        r = jstrict_finish(d->js, err);
    if (r == -E2BIG)
        r = -EINVAL; /* nested too deeply: invalid, as every refused sample */
    jstrict_free(d->js);
    nameset_done(&d->names);
    if (r < 0)
        wire_sample_done(&d->s);
    else
        *ret = d->s;
    free(d);
    return r;
}

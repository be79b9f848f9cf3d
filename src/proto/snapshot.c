/* Snapshot decoding with yajl's streaming (SAX) parser, through proto/jstrict.h (the
 * encoder is snapshot_encode.c).
 *
 * Why yajl and not jansson here: a 100,000-host snapshot is about 100 MB of JSON. jansson
 * builds a tree of millions of hash-table objects first (6.4 s and 2 GB for 111 MB on our
 * machines); yajl hands each token to a callback (0.45 s, nothing retained), so the decoder
 * validates and fills the model in one pass. jansson stays for small messages.
 *
 * The decoder is a push-down state machine: a stack of frames (what object or array we are
 * in) and, inside an object, the slot the pending key names. Each callback checks the value
 * against the slot, stores it in the model, or ignores it (unknown keys outside `usage`,
 * nested to any depth up to SNAPSHOT_MAX_DEPTH). What is about JSON itself (syntax, UTF-8,
 * repeated keys in any object, nesting, what may follow the root) is the layer's; errors,
 * ours and its, are recorded once there, with the field's path, and stop the parse. */
#include "proto/snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/jstrict.h"
#include "proto/nameset.h"
#include "proto/wire.h"

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

/* The path of the pending value, e.g. "hosts[3].vms[1].usage.cpu" (jstrict's `path`). */
static void
path_of(const void *ctx, char *buf, size_t len)
{
    const struct snapshot_decoder *d = ctx;
    size_t hi = d->cl.n_hosts > 0 ? d->cl.n_hosts - 1 : 0;
    size_t kl;
    const char *k = jstrict_key(d->js, &kl);
    char key[JSTRICT_KEY_SHOWN + 1];
    memcpy(key, k, kl);
    key[kl] = '\0';
    enum frame_type t = d->depth > 0 ? d->stack[d->depth - 1].type : F_ROOT;
    /* Inside ignored values, report the known frame below them. */
    size_t i = d->depth;
    while (i > 0 && d->stack[i - 1].type == F_SKIP)
        i--;
    if (i < d->depth)
        t = i > 0 ? d->stack[i - 1].type : F_ROOT;
    switch (t) {
    case F_ROOT:
        if (d->depth == 0)
            (void)snprintf(buf, len, "(root)");
        else
            (void)snprintf(buf, len, "%s", key);
        break;
    case F_HOSTS:
        (void)snprintf(buf, len, "hosts[%zu]", d->cl.n_hosts);
        break;
    case F_HOST:
        (void)snprintf(buf, len, "hosts[%zu].%s", hi, key);
        break;
    case F_HUSAGE:
        (void)snprintf(buf, len, "hosts[%zu].usage.%s", hi, key);
        break;
    case F_VMS:
        (void)snprintf(buf, len, "hosts[%zu].vms[%zu]", hi, d->vm_in_host);
        break;
    case F_VM:
        (void)snprintf(buf, len, "hosts[%zu].vms[%zu].%s", hi, d->vm_in_host - 1, key);
        break;
    case F_VUSAGE:
        (void)snprintf(buf, len, "hosts[%zu].vms[%zu].usage.%s", hi, d->vm_in_host - 1, key);
        break;
    case F_VMOVES:
        (void)snprintf(buf, len, "hosts[%zu].vms[%zu].moves[%zu]", hi, d->vm_in_host - 1,
                       d->n_moves);
        break;
    case F_HPRES:
        (void)snprintf(buf, len, "hosts[%zu].pressure.%s", hi, key);
        break;
    case F_HPRES_RES:
        (void)snprintf(buf, len, "hosts[%zu].pressure.%s.%s", hi, pressure_res_name(d->pres_res),
                       key);
        break;
    case F_SKIP:
        (void)snprintf(buf, len, "%s", key);
        break;
    }
}

/* Record an error about the pending value: "SOURCE: PATH: WHAT". Returns 0 (stop). */
static int
fail_at(struct snapshot_decoder *d, int code, const char *what)
{
    return jstrict_fail(d->js, code, what);
}

/* Record an error with a path given by the caller. Returns 0. */
static int
fail_path(struct snapshot_decoder *d, int code, const char *path, const char *what)
{
    return jstrict_failf(d->js, code, "%s: %s", path, what);
}

static int
fail_oom(struct snapshot_decoder *d)
{
    return jstrict_failf(d->js, -ENOMEM, "out of memory");
}

/* The slot of the next value in the current frame. */
static enum slot
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

static const char *
slot_type_error(enum slot s)
{
    switch (s) {
    case S_TOP:
    case S_HOST:
    case S_VM:
    case S_H_USAGE:
    case S_V_USAGE:
    case S_H_PRESSURE:
    case S_PRES_RES:
        return "must be an object";
    case S_HOSTS:
    case S_H_VMS:
    case S_V_MOVES:
        return "must be an array";
    case S_H_NAME:
    case S_V_NAME:
    case S_H_STATE:
        return "must be a string";
    case S_V_PINNED:
        return "must be true or false";
    case S_V_PRIORITY:
        return "must be an integer";
    default:
        return "must be a number";
    }
}

/* The layer refuses nesting beyond SNAPSHOT_MAX_DEPTH before the frame is pushed. */
static int
push(struct snapshot_decoder *d, enum frame_type t)
{
    d->stack[d->depth].type = t;
    d->stack[d->depth].seen = 0;
    d->depth++;
    d->slot = S_NONE;
    return 1;
}

/* After a value was consumed inside an object, no key is pending any more. */
static int
consumed(struct snapshot_decoder *d)
{
    d->slot = S_NONE;
    return 1;
}

static int
on_null(void *ctx)
{
    struct snapshot_decoder *d = ctx;
    enum slot s = current_slot(d);
    if (s == S_IGNORE)
        return consumed(d);
    return fail_at(d, -EINVAL, slot_type_error(s));
}

static int
on_boolean(void *ctx, bool b)
{
    struct snapshot_decoder *d = ctx;
    enum slot s = current_slot(d);
    if (s == S_IGNORE)
        return consumed(d);
    if (s != S_V_PINNED)
        return fail_at(d, -EINVAL, slot_type_error(s));
    d->cl.vms[d->cl.n_vms - 1].pinned = b;
    return consumed(d);
}

static int
on_number(void *ctx, const char *s, size_t len)
{
    struct snapshot_decoder *d = ctx;
    enum slot s_ = current_slot(d);
    if (s_ == S_IGNORE)
        return consumed(d);
    struct jstrict_number n;
    if (jstrict_number_parse(s, len, &n) < 0)
        return fail_oom(d);
    if (s_ == S_V_PRIORITY) {
        if (!n.is_int)
            return fail_at(d, -EINVAL, "must be an integer");
        if (!n.int_ok)
            return fail_at(d, -EINVAL, "integer out of range");
        d->cl.vms[d->cl.n_vms - 1].priority = n.i;
        return consumed(d);
    }
    switch (s_) {
    case S_TIME:
    case S_H_CAPACITY:
    case S_H_MEM:
    case S_V_MEM:
    case S_V_ARRIVED:
    case S_V_MOVE:
    case S_KIND:
    case S_PRES_LINE:
    case S_V_CPU_WAIT:
        break;
    default:
        return fail_at(d, -EINVAL, slot_type_error(s_));
    }
    double v = n.v;
    if (!isfinite(v))
        return fail_at(d, -EINVAL, "must be a finite number");
    switch (s_) {
    case S_TIME:
        d->cl.time = v;
        d->cl.has_time = true;
        break;
    case S_H_CAPACITY:
        if (!(v > 0.0))
            return fail_at(d, -EINVAL, "must be greater than 0");
        d->cl.hosts[d->cl.n_hosts - 1].capacity = v;
        break;
    case S_H_MEM:
        if (v < 0.0)
            return fail_at(d, -EINVAL, "must be at least 0");
        d->cl.hosts[d->cl.n_hosts - 1].mem_mib = v;
        d->cl.hosts[d->cl.n_hosts - 1].has_mem = true;
        break;
    case S_V_MEM:
        if (v < 0.0)
            return fail_at(d, -EINVAL, "must be at least 0");
        d->cl.vms[d->cl.n_vms - 1].mem_mib = v;
        d->cl.vms[d->cl.n_vms - 1].has_mem = true;
        break;
    case S_V_ARRIVED:
        if (v < 0.0)
            return fail_at(d, -EINVAL, "must be a time in seconds since the epoch (0 or more)");
        d->cl.vms[d->cl.n_vms - 1].arrived = v;
        break;
    case S_V_MOVE:
        if (v < 0.0)
            return fail_at(d, -EINVAL, "must be a time in seconds since the epoch (0 or more)");
        if (d->n_moves >= SNAPSHOT_MAX_MOVES)
            return fail_at(d, -E2BIG, "too many moves (at most 64)");
        d->moves[d->n_moves++] = v;
        break;
    case S_PRES_LINE:
        if (v < 0.0 || v > 100.0)
            return fail_at(d, -EINVAL, "must be between 0 and 100");
        pressure_set(&d->cl.hosts[d->cl.n_hosts - 1].pressure, d->pres_res, d->pres_line, v);
        break;
    case S_V_CPU_WAIT:
        if (v < 0.0 || v > 100.0)
            return fail_at(d, -EINVAL, "must be between 0 and 100");
        d->cl.vms[d->cl.n_vms - 1].cpu_wait_pct = v;
        d->cl.vms[d->cl.n_vms - 1].has_cpu_wait = true;
        break;
    default: { /* S_KIND */
        if (v < 0.0 || v > 100.0)
            return fail_at(d, -EINVAL, "must be between 0 and 100");
        enum frame_type t = d->stack[d->depth - 1].type;
        struct usage *u = t == F_HUSAGE ? &d->cl.hosts[d->cl.n_hosts - 1].usage
                                        : &d->cl.vms[d->cl.n_vms - 1].usage;
        usage_set(u, d->kind, v);
        break;
    }
    }
    return consumed(d);
}

/* Check one queued name against those before it; a duplicate becomes the error. */
static void
check_name(struct snapshot_decoder *d, const struct pending_name *p)
{
    const char *name = p->is_host ? d->cl.hosts[p->index].name : d->cl.vms[p->index].name;
    uint32_t first = 0;
    int r = nameset_add_hashed(p->is_host ? &d->host_names : &d->vm_names, name, p->hash, p->index,
                               &first);
    if (r == 0)
        return;
    /* The names still queued came later: this error is the first. */
    d->n_pending = 0;
    d->failed = true;
    if (r < 0) {
        (void)fail_oom(d);
    } else if (p->is_host) {
        (void)jstrict_failf(d->js, -EINVAL,
                            "hosts[%" PRIu32
                            "].name: duplicate host name \"%s\" (also hosts[%" PRIu32 "])",
                            p->index, name, first);
    } else {
        const struct vm *v = &d->cl.vms[p->index];
        const struct vm *f = &d->cl.vms[first];
        (void)jstrict_failf(d->js, -EINVAL,
                            "hosts[%" PRIu32 "].vms[%" PRIu32
                            "].name: duplicate VM name \"%s\" (also "
                            "hosts[%" PRIu32 "].vms[%" PRIu32 "])",
                            v->host, p->index - d->cl.hosts[v->host].vm_first, name, f->host,
                            first - d->cl.hosts[f->host].vm_first);
    }
}

/* Check every queued name, oldest first, stopping at the first duplicate (jstrict's
 * `flush`: before any error, and at the end). */
static void
drain_names(void *ctx)
{
    struct snapshot_decoder *d = ctx;
    while (d->n_pending > 0 && !d->failed) {
        struct pending_name p = d->pending[d->pending_head];
        d->pending_head = (d->pending_head + 1) % PENDING_NAMES;
        d->n_pending--;
        check_name(d, &p);
    }
    d->n_pending = 0;
}

static int
on_name(struct snapshot_decoder *d, bool is_host, const unsigned char *s, size_t len)
{
    char pbuf[160];
    const char *problem = wire_name_problem((const char *)s, len, pbuf, sizeof(pbuf));
    if (problem != NULL)
        return fail_at(d, -EINVAL, problem);
    size_t i = is_host ? d->cl.n_hosts - 1 : d->cl.n_vms - 1;
    int r = is_host ? cluster_set_host_name(&d->cl, i, (const char *)s, len)
                    : cluster_set_vm_name(&d->cl, i, (const char *)s, len);
    if (r < 0)
        return fail_oom(d);
    const char *stored = is_host ? d->cl.hosts[i].name : d->cl.vms[i].name;
    struct pending_name p = {nameset_hash(stored), (uint32_t)i, is_host};
    nameset_prefetch(is_host ? &d->host_names : &d->vm_names, p.hash);
    if (d->n_pending == PENDING_NAMES) {
        struct pending_name old = d->pending[d->pending_head];
        d->pending_head = (d->pending_head + 1) % PENDING_NAMES;
        d->n_pending--;
        check_name(d, &old);
        if (d->failed)
            return 0;
    }
    d->pending[(d->pending_head + d->n_pending) % PENDING_NAMES] = p;
    d->n_pending++;
    return consumed(d);
}

static int
on_string(void *ctx, const unsigned char *s, size_t len)
{
    struct snapshot_decoder *d = ctx;
    enum slot sl = current_slot(d);
    switch (sl) {
    case S_IGNORE:
        return consumed(d);
    case S_H_NAME:
        return on_name(d, true, s, len);
    case S_V_NAME:
        return on_name(d, false, s, len);
    case S_H_STATE: {
        enum host_state st;
        if (host_state_parse((const char *)s, len, &st) < 0)
            return fail_at(d, -EINVAL, "must be one of up, maintenance, down");
        d->cl.hosts[d->cl.n_hosts - 1].state = st;
        return consumed(d);
    }
    default:
        return fail_at(d, -EINVAL, slot_type_error(sl));
    }
}

static int
on_start_map(void *ctx)
{
    struct snapshot_decoder *d = ctx;
    enum slot s = current_slot(d);
    size_t i;
    int r;
    switch (s) {
    case S_TOP:
        return push(d, F_ROOT);
    case S_IGNORE:
        return push(d, F_SKIP);
    case S_HOST:
        r = cluster_add_host(&d->cl, "", 0, &i);
        if (r == -E2BIG)
            return fail_at(d, r, "too many hosts");
        if (r < 0)
            return fail_oom(d);
        d->vm_in_host = 0;
        return push(d, F_HOST);
    case S_VM:
        r = cluster_add_vm(&d->cl, "", 0, &i);
        if (r == -E2BIG)
            return fail_at(d, r, "too many VMs");
        if (r < 0)
            return fail_oom(d);
        d->vm_in_host++;
        return push(d, F_VM);
    case S_H_USAGE:
        return push(d, F_HUSAGE);
    case S_V_USAGE:
        return push(d, F_VUSAGE);
    case S_H_PRESSURE:
        return push(d, F_HPRES);
    case S_PRES_RES:
        return push(d, F_HPRES_RES);
    default:
        return fail_at(d, -EINVAL, slot_type_error(s));
    }
}

struct keyinfo {
    const char *name;
    enum slot slot;
    unsigned bit;
};

static const struct keyinfo root_keys[] = {
    {"time", S_TIME, SEEN_TIME},
    {"hosts", S_HOSTS, SEEN_HOSTS},
};

static const struct keyinfo host_keys[] = {
    {"name", S_H_NAME, SEEN_NAME},
    {"capacity", S_H_CAPACITY, SEEN_CAPACITY},
    {"mem_mib", S_H_MEM, SEEN_MEM},
    {"state", S_H_STATE, SEEN_STATE},
    {"usage", S_H_USAGE, SEEN_USAGE},
    {"vms", S_H_VMS, SEEN_VMS},
    {"pressure", S_H_PRESSURE, SEEN_PRESSURE},
};

static const struct keyinfo vm_keys[] = {
    {"name", S_V_NAME, SEEN_NAME},       {"usage", S_V_USAGE, SEEN_USAGE},
    {"mem_mib", S_V_MEM, SEEN_MEM},      {"priority", S_V_PRIORITY, SEEN_PRIORITY},
    {"pinned", S_V_PINNED, SEEN_PINNED}, {"arrived", S_V_ARRIVED, SEEN_ARRIVED},
    {"moves", S_V_MOVES, SEEN_MOVES},    {"cpu_wait", S_V_CPU_WAIT, SEEN_CPU_WAIT},
};

static int
match_key(struct snapshot_decoder *d, const struct keyinfo *keys, size_t n, const unsigned char *k,
          size_t len)
{
    struct frame *f = &d->stack[d->depth - 1];
    for (size_t i = 0; i < n; i++) {
        if (strlen(keys[i].name) == len && memcmp(keys[i].name, k, len) == 0) {
            f->seen |= keys[i].bit;
            d->slot = keys[i].slot;
            return 1;
        }
    }
    d->slot = S_IGNORE; /* unknown keys outside usage are ignored, for newer writers */
    return 1;
}

static int
ignore_key(struct snapshot_decoder *d)
{
    d->slot = S_IGNORE;
    return 1;
}

static int
on_map_key(void *ctx, const unsigned char *k, size_t len)
{
    struct snapshot_decoder *d = ctx;
    struct frame *f = &d->stack[d->depth - 1];
    switch (f->type) {
    case F_ROOT:
        return match_key(d, root_keys, ARRAY_SIZE(root_keys), k, len);
    case F_HOST:
        return match_key(d, host_keys, ARRAY_SIZE(host_keys), k, len);
    case F_VM:
        return match_key(d, vm_keys, ARRAY_SIZE(vm_keys), k, len);
    case F_HUSAGE:
    case F_VUSAGE: {
        enum kind kd;
        if (kind_parse((const char *)k, len, &kd) < 0)
            return fail_at(d, -EINVAL, "unknown resource kind (expected cpu, mem_bw, disk, net)");
        f->seen |= KIND_BIT(kd);
        d->kind = kd;
        d->slot = S_KIND;
        return 1;
    }
    case F_HPRES:
        /* A resource this version does not know (a newer kernel's) is ignored, as in a sample. */
        if (len == 3 && memcmp(k, "cpu", 3) == 0)
            d->pres_res = PRESSURE_CPU;
        else if (len == 6 && memcmp(k, "memory", 6) == 0)
            d->pres_res = PRESSURE_MEMORY;
        else if (len == 2 && memcmp(k, "io", 2) == 0)
            d->pres_res = PRESSURE_IO;
        else
            return ignore_key(d);
        d->slot = S_PRES_RES;
        return 1;
    case F_HPRES_RES:
        if (len == 4 && memcmp(k, "some", 4) == 0)
            d->pres_line = PRESSURE_SOME;
        else if (len == 4 && memcmp(k, "full", 4) == 0)
            d->pres_line = PRESSURE_FULL;
        else
            return ignore_key(d);
        d->slot = S_PRES_LINE;
        return 1;
    default:
        d->slot = S_IGNORE;
        return 1;
    }
}

/* Pop the current frame and restore the pending-key text of the parent for messages. */
static int
pop(struct snapshot_decoder *d)
{
    d->depth--;
    d->slot = S_NONE;
    return 1;
}

static int
on_end_map(void *ctx)
{
    struct snapshot_decoder *d = ctx;
    struct frame *f = &d->stack[d->depth - 1];
    char path[160];
    size_t hi = d->cl.n_hosts > 0 ? d->cl.n_hosts - 1 : 0;
    switch (f->type) {
    case F_ROOT:
        if (!(f->seen & SEEN_HOSTS))
            return fail_path(d, -EINVAL, "hosts", "missing (required)");
        break;
    case F_HOST:
        if (!(f->seen & SEEN_NAME)) {
            (void)snprintf(path, sizeof(path), "hosts[%zu].name", hi);
            return fail_path(d, -EINVAL, path, "missing (required)");
        }
        if (!(f->seen & SEEN_USAGE)) {
            (void)snprintf(path, sizeof(path), "hosts[%zu].usage", hi);
            return fail_path(d, -EINVAL, path, "missing (required)");
        }
        break;
    case F_VM:
        if (!(f->seen & SEEN_NAME)) {
            (void)snprintf(path, sizeof(path), "hosts[%zu].vms[%zu].name", hi, d->vm_in_host - 1);
            return fail_path(d, -EINVAL, path, "missing (required)");
        }
        if (!(f->seen & SEEN_USAGE)) {
            (void)snprintf(path, sizeof(path), "hosts[%zu].vms[%zu].usage", hi, d->vm_in_host - 1);
            return fail_path(d, -EINVAL, path, "missing (required)");
        }
        break;
    case F_HUSAGE:
        if (!(f->seen & KIND_BIT(KIND_CPU))) {
            (void)snprintf(path, sizeof(path), "hosts[%zu].usage.cpu", hi);
            return fail_path(d, -EINVAL, path, "missing (required)");
        }
        break;
    case F_VUSAGE:
        if (!(f->seen & KIND_BIT(KIND_CPU))) {
            (void)snprintf(path, sizeof(path), "hosts[%zu].vms[%zu].usage.cpu", hi,
                           d->vm_in_host - 1);
            return fail_path(d, -EINVAL, path, "missing (required)");
        }
        break;
    default:
        break;
    }
    return pop(d);
}

static int
on_start_array(void *ctx)
{
    struct snapshot_decoder *d = ctx;
    enum slot s = current_slot(d);
    switch (s) {
    case S_IGNORE:
        return push(d, F_SKIP);
    case S_HOSTS:
        return push(d, F_HOSTS);
    case S_H_VMS:
        return push(d, F_VMS);
    case S_V_MOVES:
        d->n_moves = 0;
        return push(d, F_VMOVES);
    default:
        return fail_at(d, -EINVAL, slot_type_error(s));
    }
}

static int
on_end_array(void *ctx)
{
    struct snapshot_decoder *d = ctx;
    if (d->stack[d->depth - 1].type == F_VMOVES) {
        int r = cluster_set_vm_moves(&d->cl, d->cl.n_vms - 1, d->moves, d->n_moves);
        if (r == -ENOMEM)
            return fail_oom(d);
        if (r < 0) {
            char path[160];
            (void)snprintf(path, sizeof(path), "hosts[%zu].vms[%zu].moves",
                           d->cl.n_hosts > 0 ? d->cl.n_hosts - 1 : 0, d->vm_in_host - 1);
            return fail_path(d, -EINVAL, path, "must be in increasing order (oldest first)");
        }
    }
    return pop(d);
}

static const struct jstrict_callbacks callbacks = {
    .on_null = on_null,
    .on_bool = on_boolean,
    .on_number = on_number,
    .on_string = on_string,
    .on_start_map = on_start_map,
    .on_key = on_map_key,
    .on_end_map = on_end_map,
    .on_start_array = on_start_array,
    .on_end_array = on_end_array,
    .path = path_of,
    .flush = drain_names,
};

static const char *
host_name_of(const void *ctx, uint32_t i)
{
    const struct cluster *cl = ctx;
    return cl->hosts[i].name;
}

static const char *
vm_name_of(const void *ctx, uint32_t i)
{
    const struct cluster *cl = ctx;
    return cl->vms[i].name;
}

struct snapshot_decoder *
snapshot_decoder_new(const char *source)
{
    struct snapshot_decoder *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    const struct jstrict_config cfg = {
        .source = source,
        .source_on_fields = true,
        .max_depth = SNAPSHOT_MAX_DEPTH,
    };
    cluster_init(&d->cl);
    nameset_init(&d->host_names, host_name_of, &d->cl);
    nameset_init(&d->vm_names, vm_name_of, &d->cl);
    d->js = jstrict_new(&cfg, &callbacks, d);
    if (d->js == NULL) {
        free(d);
        return NULL;
    }
    return d;
}

/* A compact snapshot spends about 40 bytes per VM and a few hundred per host; the estimate
 * only sizes tables, so being off costs a little memory or one more growth, never a result. */
#define HINT_BYTES_PER_VM 40
#define HINT_BYTES_PER_HOST 1000
#define HINT_MAX_VMS 50000000u

int
snapshot_decoder_size_hint(struct snapshot_decoder *d, size_t total_bytes)
{
    size_t vms = total_bytes / HINT_BYTES_PER_VM;
    size_t hosts = total_bytes / HINT_BYTES_PER_HOST + 1;
    if (vms > HINT_MAX_VMS)
        vms = HINT_MAX_VMS;
    if (vms < 64)
        return 0;
    if (nameset_reserve(&d->vm_names, vms) < 0 || nameset_reserve(&d->host_names, hosts) < 0 ||
        cluster_reserve(&d->cl, hosts, vms) < 0)
        return -ENOMEM;
    return 0;
}

void
snapshot_decoder_free(struct snapshot_decoder *d)
{
    if (d == NULL)
        return;
    jstrict_free(d->js);
    cluster_done(&d->cl);
    nameset_done(&d->host_names);
    nameset_done(&d->vm_names);
    free(d);
}

int
snapshot_decoder_feed(struct snapshot_decoder *d, const void *buf, size_t len, struct perr *err)
{
    return jstrict_feed(d->js, buf, len, err);
}

int
snapshot_decoder_finish(struct snapshot_decoder *d, struct cluster *ret_cl, struct perr *err)
{
    int r = jstrict_finish(d->js, err); /* checks the names still queued */
    if (r < 0)
        return r;
    *ret_cl = d->cl;
    cluster_init(&d->cl);
    return 0;
}

int
snapshot_decode(const void *buf, size_t len, const char *source, struct cluster *ret_cl,
                struct perr *err)
{
    struct snapshot_decoder *d = snapshot_decoder_new(source);
    if (d == NULL) {
        perr_set(err, "%s: out of memory", source != NULL ? source : "<stdin>");
        return -ENOMEM;
    }
    int r = snapshot_decoder_size_hint(d, len);
    if (r < 0)
        perr_set(err, "%s: out of memory", source != NULL ? source : "<stdin>");
    if (r == 0)
        r = snapshot_decoder_feed(d, buf, len, err);
    if (r == 0)
        r = snapshot_decoder_finish(d, ret_cl, err);
    snapshot_decoder_free(d);
    return r;
}

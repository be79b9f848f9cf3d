/* Snapshot decoding with yajl's streaming (SAX) parser, through proto/jstrict.h (the
 * encoder is snapshot_encode.c).
 *
 * Why yajl and not jansson here: a 100,000-host snapshot is about 100 MB of JSON. jansson
 * builds a tree of millions of hash-table objects first (6.4 s and 2 GB for 111 MB on our
 * machines); yajl hands each token to a callback (0.45 s, nothing retained), so the decoder
 * validates and fills the model in one pass. jansson stays for small messages.
 *
 * The decoder is a push-down state machine: a stack of frames (what object or array we are
 * in) and, inside an object, the slot the pending key names (snapshot_int.h). Each callback
 * for a value (snapshot_values.c) checks it against the slot, stores it in the model, or
 * ignores it (unknown keys outside `usage`, nested to any depth up to SNAPSHOT_MAX_DEPTH).
 * What is about JSON itself (syntax, UTF-8, repeated keys in any object, nesting, what may
 * follow the root) is the layer's; errors, ours and its, are recorded once there, with the
 * field's path, and stop the parse. */
#include "proto/snapshot.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/jstrict.h"
#include "proto/nameset.h"
#include "proto/snapshot_int.h"
#include "proto/wire.h"

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

/* Record an error with a path given by the caller. Returns 0. */
static int
fail_path(struct snapshot_decoder *d, int code, const char *path, const char *what)
{
    return jstrict_failf(d->js, code, "%s: %s", path, what);
}

const char *
snapshot_slot_type_error(enum slot s)
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
        return fail_at(d, -EINVAL, snapshot_slot_type_error(s));
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
        return fail_at(d, -EINVAL, snapshot_slot_type_error(s));
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
    .on_null = snapshot_values_null,
    .on_bool = snapshot_values_boolean,
    .on_number = snapshot_values_number,
    .on_string = snapshot_values_string,
    .on_start_map = on_start_map,
    .on_key = on_map_key,
    .on_end_map = on_end_map,
    .on_start_array = on_start_array,
    .on_end_array = on_end_array,
    .path = path_of,
    .flush = snapshot_values_flush,
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

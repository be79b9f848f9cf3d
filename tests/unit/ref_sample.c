/* The sample decoder as it was written with jansson (a document tree), kept as the oracle
 * that the streaming decoder (proto/wire_sample.c) is compared with. Test code only. */
#include "ref_sample.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *
parse_object(const char *body, size_t len, struct perr *err)
{
    json_error_t je;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (j == NULL) {
        perr_set(err, "body:%d:%d: invalid JSON: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        perr_set(err, "body: must be a JSON object");
        json_decref(j);
        return NULL;
    }
    return j;
}

static int
get_string(json_t *o, const char *key, const char *path, bool required, char *out, size_t cap,
           struct perr *err)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        if (!required)
            return 0;
        perr_set(err, "%s: missing (required)", path);
        return -EINVAL;
    }
    if (!json_is_string(v)) {
        perr_set(err, "%s: must be a string", path);
        return -EINVAL;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n == 0 || n >= cap || strlen(s) != n) {
        perr_set(err, "%s: must be 1 to %zu characters", path, cap - 1);
        return -EINVAL;
    }
    memcpy(out, s, n + 1);
    return 0;
}

static int
decode_kinds(json_t *o, const char *path, unsigned *ret_mask, double *pct, struct perr *err)
{
    if (!json_is_object(o)) {
        perr_set(err, "%s: must be an object", path);
        return -EINVAL;
    }
    const char *key;
    json_t *v;
    unsigned mask = 0;
    json_object_foreach(o, key, v)
    {
        enum kind k;
        if (kind_parse(key, strlen(key), &k) < 0) {
            perr_set(err, "%s.%s: unknown resource kind (expected cpu, mem_bw, disk, net)", path,
                     key);
            return -EINVAL;
        }
        if (!json_is_number(v)) {
            perr_set(err, "%s.%s: must be a number", path, key);
            return -EINVAL;
        }
        double d = json_number_value(v);
        if (!isfinite(d) || d < 0.0 || d > 100.0) {
            perr_set(err, "%s.%s: must be between 0 and 100", path, key);
            return -EINVAL;
        }
        pct[k] = d;
        mask |= KIND_BIT(k);
    }
    *ret_mask = mask;
    return 0;
}

static int
get_number(json_t *o, const char *key, const char *path, double lo, double hi, bool required,
           double *ret, struct perr *err)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        if (!required)
            return 0;
        perr_set(err, "%s: missing (required)", path);
        return -EINVAL;
    }
    double d = json_number_value(v);
    if (!json_is_number(v) || !isfinite(d) || d < lo || d > hi) {
        perr_set(err, "%s: must be a number from %g to %g", path, lo, hi);
        return -EINVAL;
    }
    *ret = d;
    return 0;
}

/* "moves": at most MODEL_MAX_VM_MOVES times from 0 to 1e11, none before the one before it;
 * appended to the sample's moves. */
static int
decode_moves(json_t *v, const char *path, struct wire_sample *s, struct wire_sample_vm *vm,
             struct perr *err)
{
    json_t *mv = json_object_get(v, "moves");
    if (mv == NULL)
        return 0;
    if (!json_is_array(mv)) {
        perr_set(err, "%s.moves: must be an array", path);
        return -EINVAL;
    }
    vm->moves_first = (uint32_t)s->n_moves;
    for (size_t k = 0; k < json_array_size(mv); k++) {
        json_t *t = json_array_get(mv, k);
        double d = json_number_value(t);
        if (!json_is_number(t)) {
            perr_set(err, "%s.moves[%zu]: must be a number", path, k);
            return -EINVAL;
        }
        if (!isfinite(d) || d < 0 || d > 1e11) {
            perr_set(err, "%s.moves[%zu]: must be a number from 0 to 1e+11", path, k);
            return -EINVAL;
        }
        if (k > 0 && d < s->moves[s->n_moves - 1]) {
            perr_set(err, "%s.moves[%zu]: must not be before the move listed before it", path, k);
            return -EINVAL;
        }
        if (k >= MODEL_MAX_VM_MOVES) {
            perr_set(err, "%s.moves[%zu]: more moves than the 16 a sample carries", path, k);
            return -EINVAL;
        }
        double *n = realloc(s->moves, (s->n_moves + 1) * sizeof(*n));
        if (n == NULL) {
            perr_set(err, "out of memory");
            return -ENOMEM;
        }
        s->moves = n;
        s->moves[s->n_moves++] = d;
        vm->n_moves++;
    }
    return 0;
}

/* Out of memory, said in `err`. -ENOMEM. */
static int
oom(struct perr *err)
{
    perr_set(err, "out of memory");
    return -ENOMEM;
}

static int
decode_sample_vm(json_t *v, size_t i, struct wire_sample *s, struct perr *err)
{
    struct wire_sample_vm *vm = &s->vms[i];
    char path[64];
    (void)snprintf(path, sizeof(path), "host.vms[%zu]", i);
    if (!json_is_object(v)) {
        perr_set(err, "%s: must be an object", path);
        return -EINVAL;
    }
    char p2[96];
    (void)snprintf(p2, sizeof(p2), "%s.name", path);
    int r = get_string(v, "name", p2, true, vm->name, sizeof(vm->name), err);
    if (r == 0 && !wire_name_valid(vm->name)) {
        perr_set(err, "%s: not a valid VM name", p2);
        r = -EINVAL;
    }
    unsigned mask = 0;
    json_t *u = json_object_get(v, "usage");
    (void)snprintf(p2, sizeof(p2), "%s.usage", path);
    if (r == 0 && u == NULL) {
        perr_set(err, "%s: missing (required)", p2);
        r = -EINVAL;
    }
    if (r == 0)
        r = decode_kinds(u, p2, &mask, vm->usage, err);
    json_t *dem = json_object_get(v, "demand");
    (void)snprintf(p2, sizeof(p2), "%s.demand", path);
    if (r == 0 && dem != NULL)
        r = decode_kinds(dem, p2, &mask, vm->demand, err);
    else if (r == 0) /* left out: the same as its usage */
        memcpy(vm->demand, vm->usage, sizeof(vm->demand));
    (void)snprintf(p2, sizeof(p2), "%s.mem_mib", path);
    if (r == 0)
        r = get_number(v, "mem_mib", p2, 0, 1e12, false, &vm->mem_mib, err);
    json_t *pr = json_object_get(v, "priority");
    if (r == 0 && pr != NULL) {
        if (!json_is_integer(pr)) {
            perr_set(err, "%s.priority: must be an integer", path);
            r = -EINVAL;
        } else {
            vm->priority = json_integer_value(pr);
        }
    }
    json_t *pin = json_object_get(v, "pinned");
    if (r == 0 && pin != NULL) {
        if (!json_is_boolean(pin)) {
            perr_set(err, "%s.pinned: must be true or false", path);
            r = -EINVAL;
        } else {
            vm->pinned = json_is_true(pin);
        }
    }
    /* When it arrived (optional; -1: unknown). */
    vm->arrived = -1.0;
    (void)snprintf(p2, sizeof(p2), "%s.arrived", path);
    if (r == 0)
        r = get_number(v, "arrived", p2, 0, 1e11, false, &vm->arrived, err);
    if (r == 0)
        r = decode_moves(v, path, s, vm, err);
    const char *st = json_string_value(json_object_get(v, "state"));
    if (r == 0 && st != NULL) {
        vm->incoming = strcmp(st, "incoming") == 0;
        vm->migrating_out = strcmp(st, "migrating-out") == 0;
    }
    /* Optional: the libvirt domain's UUID and whether its rates are measured yet, and the
     * trace file a simulated VM follows. */
    vm->measured = -1;
    char str[MODEL_MAX_NAME + 1] = "";
    (void)snprintf(p2, sizeof(p2), "%s.uuid", path);
    if (r == 0)
        r = get_string(v, "uuid", p2, false, str, WIRE_MAX_UUID + 1, err);
    if (r == 0 && wire_vm_set_uuid(s, vm, str, strlen(str)) < 0)
        r = oom(err);
    str[0] = '\0';
    (void)snprintf(p2, sizeof(p2), "%s.trace", path);
    if (r == 0)
        r = get_string(v, "trace", p2, false, str, sizeof(str), err);
    if (r == 0 && wire_vm_set_trace(s, vm, str, strlen(str)) < 0)
        r = oom(err);
    /* CPU wait (optional), percent. */
    (void)snprintf(p2, sizeof(p2), "%s.cpu_wait", path);
    vm->has_cpu_wait = json_object_get(v, "cpu_wait") != NULL;
    if (r == 0)
        r = get_number(v, "cpu_wait", p2, 0, 100, false, &vm->cpu_wait, err);
    json_t *me = json_object_get(v, "measured");
    if (r == 0 && me != NULL) {
        if (!json_is_boolean(me)) {
            perr_set(err, "%s.measured: must be true or false", path);
            r = -EINVAL;
        } else {
            vm->measured = json_is_true(me) ? 1 : 0;
        }
    }
    return r;
}

/* "pressure" (optional): {"cpu"|"memory"|"io": {"some"?: PCT, "full"?: PCT}}; other keys, at
 * either level, are ignored. */
static int
decode_pressure(json_t *h, struct pressure *ret, struct perr *err)
{
    static const char *const res[PRESSURE_RES_COUNT] = {"cpu", "memory", "io"};
    static const char *const lines[PRESSURE_LINE_COUNT] = {"some", "full"};
    json_t *p = json_object_get(h, "pressure");
    if (p == NULL)
        return 0;
    if (!json_is_object(p)) {
        perr_set(err, "host.pressure: must be an object");
        return -EINVAL;
    }
    for (unsigned r = 0; r < PRESSURE_RES_COUNT; r++) {
        json_t *o = json_object_get(p, res[r]);
        if (o == NULL)
            continue;
        if (!json_is_object(o)) {
            perr_set(err, "host.pressure.%s: must be an object", res[r]);
            return -EINVAL;
        }
        for (unsigned l = 0; l < PRESSURE_LINE_COUNT; l++) {
            char path[64];
            double v;
            (void)snprintf(path, sizeof(path), "host.pressure.%s.%s", res[r], lines[l]);
            if (json_object_get(o, lines[l]) == NULL)
                continue;
            int rc = get_number(o, lines[l], path, 0, 100, true, &v, err);
            if (rc < 0)
                return rc;
            pressure_set(ret, (enum pressure_res)r, (enum pressure_line)l, v);
        }
    }
    return 0;
}

int
ref_sample_decode(const char *body, size_t len, struct wire_sample *ret, struct perr *err)
{
    json_t *j = parse_object(body, len, err);
    if (j == NULL)
        return -EINVAL;
    struct wire_sample s;
    memset(&s, 0, sizeof(s));
    s.capacity = 1.0;
    int r = 0;
    json_t *seq = json_object_get(j, "seq");
    if (!json_is_integer(seq) || json_integer_value(seq) < 0) {
        perr_set(err, "seq: must be an integer >= 0");
        r = -EINVAL;
    } else {
        s.seq = (uint64_t)json_integer_value(seq);
    }
    if (r == 0)
        r = get_number(j, "time", "time", 0, 1e11, true, &s.time, err);
    if (r == 0)
        r = get_string(j, "url", "url", false, s.url, sizeof(s.url), err);
    json_t *h = json_object_get(j, "host");
    if (r == 0 && !json_is_object(h)) {
        perr_set(err, "host: must be an object");
        r = -EINVAL;
    }
    if (r == 0)
        r = get_string(h, "name", "host.name", true, s.name, sizeof(s.name), err);
    if (r == 0 && !wire_name_valid(s.name)) {
        perr_set(err, "host.name: not a valid host name");
        r = -EINVAL;
    }
    if (r == 0)
        r = get_number(h, "capacity", "host.capacity", 1e-9, 1e6, false, &s.capacity, err);
    if (r == 0)
        r = get_number(h, "mem_mib", "host.mem_mib", 0, 1e12, false, &s.mem_mib, err);
    unsigned mask = 0;
    if (r == 0) {
        json_t *u = json_object_get(h, "usage");
        if (u == NULL) {
            perr_set(err, "host.usage: missing (required)");
            r = -EINVAL;
        } else {
            r = decode_kinds(u, "host.usage", &mask, s.usage, err);
        }
    }
    if (r == 0)
        r = decode_pressure(h, &s.pressure, err);
    json_t *vms = json_object_get(h, "vms");
    if (r == 0 && vms != NULL && !json_is_array(vms)) {
        perr_set(err, "host.vms: must be an array");
        r = -EINVAL;
    }
    size_t n = r == 0 && vms != NULL ? json_array_size(vms) : 0;
    if (n > WIRE_MAX_SAMPLE_VMS) {
        perr_set(err, "host.vms: more than %d VMs", WIRE_MAX_SAMPLE_VMS);
        r = -EINVAL;
    }
    if (r == 0 && n > 0) {
        s.vms = calloc(n, sizeof(*s.vms));
        if (s.vms == NULL) {
            perr_set(err, "out of memory");
            r = -ENOMEM;
        }
    }
    for (size_t i = 0; r == 0 && i < n; i++) {
        r = decode_sample_vm(json_array_get(vms, i), i, &s, err);
        for (size_t k = 0; r == 0 && k < i; k++) {
            if (strcmp(s.vms[k].name, s.vms[i].name) == 0) {
                perr_set(err, "host.vms[%zu].name: duplicate VM name", i);
                r = -EINVAL;
            }
        }
        s.n_vms = i + 1;
    }
    json_decref(j);
    if (r < 0) {
        wire_sample_done(&s);
        return r;
    }
    *ret = s;
    return 0;
}

/* The simulated host's state file (simstate.h). Read with jansson, duplicate keys refused;
 * every field is checked for its type and range, and the first problem is reported with its
 * path ("incoming[0].settled: must be true or false"). */
#include "proto/simstate.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/utf8.h"

static const char *const vm_states[] = {"running", "migrating-out", "incoming"};
static const char *const in_states[] = {"reserved", "committed", "aborted"};
static const char *const mig_states[] = {"running", "done", "failed"};

const char *
simstate_vm_state_name(enum simstate_vm_state s)
{
    return (unsigned)s < 3 ? vm_states[s] : vm_states[0];
}

const char *
simstate_in_state_name(enum simstate_in_state s)
{
    return (unsigned)s < 3 ? in_states[s] : in_states[0];
}

const char *
simstate_mig_state_name(enum simstate_mig_state s)
{
    return (unsigned)s < 3 ? mig_states[s] : mig_states[0];
}

void
simstate_done(struct simstate *s)
{
    if (s == NULL)
        return;
    free(s->vms);
    free(s->ins);
    free(s->migs);
    memset(s, 0, sizeof(*s));
}

/* ---- reading ------------------------------------------------------------------------------ */

/* Where the reader is: the list and the index of the record being read. */
struct rd {
    struct perr *err;
    const char *list;
    size_t i;
};

/* Report "LIST[I].KEY: WHAT" (KEY may be ""). Returns false. */
static bool
bad(const struct rd *rd, const char *key, const char *what)
{
    perr_set(rd->err, "%s[%zu]%s%s: %s", rd->list, rd->i, key[0] != '\0' ? "." : "", key, what);
    return false;
}

/* A string of 1 to len - 1 bytes (a valid name when `name`). */
static bool
get_str(const struct rd *rd, json_t *o, const char *key, char *dst, size_t len, bool name)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (s == NULL || s[0] == '\0' || strlen(s) >= len || (name && !wire_name_valid(s)))
        return bad(rd, key, name ? "missing, or not a valid name" : "missing or too long");
    memcpy(dst, s, strlen(s) + 1);
    return true;
}

/* A text that may be empty or absent ("" then). */
static bool
get_text(const struct rd *rd, json_t *o, const char *key, char *dst, size_t len)
{
    json_t *v = json_object_get(o, key);
    dst[0] = '\0';
    if (v == NULL)
        return true;
    const char *s = json_string_value(v);
    if (s == NULL || strlen(s) >= len)
        return bad(rd, key, "must be a text");
    memcpy(dst, s, strlen(s) + 1);
    return true;
}

static bool
get_num(const struct rd *rd, json_t *o, const char *key, double lo, double hi, double *ret)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi))
        return bad(rd, key, "missing or out of range");
    *ret = json_number_value(v);
    return true;
}

/* An optional number: *ret keeps its default when absent. */
static bool
opt_num(const struct rd *rd, json_t *o, const char *key, double lo, double hi, double *ret)
{
    return json_object_get(o, key) == NULL || get_num(rd, o, key, lo, hi, ret);
}

/* An optional boolean: *ret keeps its default when absent. */
static bool
opt_bool(const struct rd *rd, json_t *o, const char *key, bool *ret)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return true;
    if (!json_is_boolean(v))
        return bad(rd, key, "must be true or false");
    *ret = json_is_true(v);
    return true;
}

/* One of `names` (three of them). */
static bool
get_state(const struct rd *rd, json_t *o, const char *const *names, const char *expect, int *ret)
{
    const char *s = json_string_value(json_object_get(o, "state"));
    for (int k = 0; s != NULL && k < 3; k++) {
        if (strcmp(s, names[k]) == 0) {
            *ret = k;
            return true;
        }
    }
    return bad(rd, "state", expect);
}

static bool
read_vm(const struct rd *rd, json_t *o, struct simstate_vm *v)
{
    double prio = 0;
    int st = 0;
    if (!get_str(rd, o, "name", v->name, sizeof(v->name), true) ||
        !get_num(rd, o, "mem_mib", 0, 1e12, &v->mem_mib) ||
        !get_num(rd, o, "priority", -(double)WIRE_PRIORITY_MAX, (double)WIRE_PRIORITY_MAX, &prio) ||
        !get_num(rd, o, "arrived", -1e12, 1e12, &v->arrived) ||
        !get_state(rd, o, vm_states, "must be running, migrating-out or incoming", &st))
        return false;
    v->priority = (int64_t)prio;
    v->state = (enum simstate_vm_state)st;
    json_t *d = json_object_get(o, "demand");
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        json_t *x = json_object_get(d, kind_name((enum kind)k));
        if (!json_is_number(x) || !(json_number_value(x) >= 0 && json_number_value(x) <= 100))
            return bad(rd, "demand", "four kinds, each from 0 to 100");
        v->demand[k] = json_number_value(x);
    }
    if (!json_is_boolean(json_object_get(o, "pinned")))
        return bad(rd, "pinned", "must be true or false");
    v->pinned = json_is_true(json_object_get(o, "pinned"));
    /* Absent in files written before the storm guard: no moves known. */
    json_t *mv = json_object_get(o, "moves");
    struct perr merr;
    if (mv != NULL && wire_moves_decode(mv, "moves", v->moves, &v->n_moves, &merr) < 0)
        return bad(rd, "", merr.msg);
    json_t *tr = json_object_get(o, "trace");
    if (tr == NULL)
        return true;
    double cores = 1;
    if (!json_is_string(tr) || json_string_length(tr) == 0 ||
        json_string_length(tr) >= sizeof(v->trace))
        return bad(rd, "trace", "must be a trace file's name");
    memcpy(v->trace, json_string_value(tr), json_string_length(tr) + 1);
    if (!get_num(rd, o, "mips", 0, 1e9, &v->mips) || !get_num(rd, o, "cores", 1, 4096, &cores))
        return false;
    v->cores = (uint32_t)cores;
    return true;
}

static bool
read_in(const struct rd *rd, json_t *o, struct simstate_in *in)
{
    int st = 0;
    if (!get_str(rd, o, "id", in->id, sizeof(in->id), false) ||
        !get_str(rd, o, "vm", in->vm, sizeof(in->vm), true) ||
        !get_str(rd, o, "from", in->from, sizeof(in->from), true) ||
        !get_state(rd, o, in_states, "must be reserved, committed or aborted", &st))
        return false;
    in->state = (enum simstate_in_state)st;
    in->settled = true;
    in->since = -1.0;
    in->transfer_s = 0.0;
    in->scale = 1.0;
    return opt_bool(rd, o, "settled", &in->settled) &&
           opt_num(rd, o, "since", 0, 1e12, &in->since) &&
           opt_num(rd, o, "transfer_s", 0, 1e9, &in->transfer_s) &&
           opt_num(rd, o, "scale", 1e-12, 1e12, &in->scale);
}

static bool
read_mig(const struct rd *rd, json_t *o, struct simstate_mig *m)
{
    int st = 0;
    if (!get_str(rd, o, "id", m->id, sizeof(m->id), false) ||
        !get_str(rd, o, "vm", m->vm, sizeof(m->vm), true) ||
        !get_str(rd, o, "to_url", m->to_url, sizeof(m->to_url), false) ||
        !get_str(rd, o, "to_name", m->to_name, sizeof(m->to_name), false) ||
        !get_state(rd, o, mig_states, "must be running, done or failed", &st) ||
        !get_num(rd, o, "started", 0, 1e12, &m->started) ||
        !get_num(rd, o, "finished", 0, 1e12, &m->finished) ||
        !get_num(rd, o, "mem_mib", 0, 1e12, &m->mem_mib) ||
        !get_num(rd, o, "transfer_s", 0, 1e9, &m->transfer_s) ||
        !get_text(rd, o, "error", m->error, sizeof(m->error)) ||
        !get_text(rd, o, "reason", m->reason, sizeof(m->reason)))
        return false;
    m->state = (enum simstate_mig_state)st;
    m->commit_sent = true;
    m->settled = false;
    return opt_bool(rd, o, "commit_sent", &m->commit_sent) &&
           opt_bool(rd, o, "settled", &m->settled);
}

/* The list `key` of `root` into a new array of `size`-byte records, each read by `fn`. */
static int
read_list(json_t *root, const char *key, size_t max, size_t size, void **ret, size_t *ret_n,
          bool (*fn)(const struct rd *, json_t *, void *), struct perr *err)
{
    json_t *arr = json_object_get(root, key);
    if (!json_is_array(arr)) {
        perr_set(err, "%s: missing or not an array", key);
        return -EINVAL;
    }
    if (json_array_size(arr) > max) {
        perr_set(err, "%s: more than %zu records", key, max);
        return -EINVAL;
    }
    *ret = calloc(json_array_size(arr) + 1, size);
    if (*ret == NULL) {
        perr_set(err, "out of memory");
        return -ENOMEM;
    }
    struct rd rd = {err, key, 0};
    json_t *o;
    json_array_foreach(arr, rd.i, o)
    {
        if (!json_is_object(o))
            return bad(&rd, "", "not an object") ? 0 : -EINVAL;
        if (!fn(&rd, o, (char *)*ret + rd.i * size))
            return -EINVAL;
        (*ret_n)++;
    }
    return 0;
}

static bool
vm_fn(const struct rd *rd, json_t *o, void *rec)
{
    return read_vm(rd, o, rec);
}

static bool
in_fn(const struct rd *rd, json_t *o, void *rec)
{
    return read_in(rd, o, rec);
}

static bool
mig_fn(const struct rd *rd, json_t *o, void *rec)
{
    return read_mig(rd, o, rec);
}

int
simstate_decode(const char *text, size_t len, struct simstate *ret, struct perr *err)
{
    memset(ret, 0, sizeof(*ret));
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        perr_set(err, "%d:%d: %s", je.line, je.column, je.text);
        return -EINVAL;
    }
    int r = -EINVAL;
    json_t *ver = json_object_get(root, "version");
    const char *host = json_string_value(json_object_get(root, "host"));
    if (!json_is_integer(ver) || json_integer_value(ver) != SIMSTATE_VERSION)
        perr_set(err, "version: must be %d", SIMSTATE_VERSION);
    else if (host == NULL || !wire_name_valid(host) || strlen(host) >= sizeof(ret->host))
        perr_set(err, "host: missing, or not a valid name");
    else
        r = 0;
    if (r == 0) {
        memcpy(ret->host, host, strlen(host) + 1);
        r = read_list(root, "vms", SIMSTATE_MAX_VMS, sizeof(*ret->vms), (void **)&ret->vms,
                      &ret->n_vms, vm_fn, err);
    }
    if (r == 0)
        r = read_list(root, "incoming", SIMSTATE_MAX_RECORDS, sizeof(*ret->ins), (void **)&ret->ins,
                      &ret->n_ins, in_fn, err);
    if (r == 0)
        r = read_list(root, "migrations", SIMSTATE_MAX_RECORDS, sizeof(*ret->migs),
                      (void **)&ret->migs, &ret->n_migs, mig_fn, err);
    json_decref(root);
    return r;
}

/* ---- writing ------------------------------------------------------------------------------ */

/* Append `item` to `arr`; false (and `item` freed) when either is NULL or on OOM: a record
 * that cannot be written must fail the whole file, never drop out of it. */
static bool
append(json_t *arr, json_t *item)
{
    if (arr == NULL || item == NULL) {
        json_decref(item);
        return false;
    }
    return json_array_append_new(arr, item) == 0;
}

static json_t *
vm_json(const struct simstate_vm *v)
{
    json_t *o =
        json_pack("{s:s,s:o,s:f,s:I,s:b,s:f,s:o,s:s}", "name", v->name, "demand",
                  wire_kinds_json(v->demand), "mem_mib", v->mem_mib, "priority",
                  (json_int_t)v->priority, "pinned", v->pinned, "arrived", v->arrived, "moves",
                  wire_moves_json(v->moves, v->n_moves), "state", simstate_vm_state_name(v->state));
    if (o != NULL && v->trace[0] != '\0' &&
        json_object_update_new(o, json_pack("{s:s,s:f,s:I}", "trace", v->trace, "mips", v->mips,
                                            "cores", (json_int_t)v->cores)) < 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

static json_t *
in_json(const struct simstate_in *in)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b,s:f,s:f}", "id", in->id, "vm", in->vm, "from",
                          in->from, "state", simstate_in_state_name(in->state), "settled",
                          in->settled, "transfer_s", in->transfer_s, "scale", in->scale);
    /* Unknown (read from an older file): left out again, for the reader to take now. */
    if (o != NULL && in->since >= 0 && json_object_set_new(o, "since", json_real(in->since)) < 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

static json_t *
mig_json(const struct simstate_mig *m)
{
    /* Texts cut to fit their buffers may end inside a character: JSON takes only whole ones. */
    char error[sizeof(m->error)];
    char reason[sizeof(m->reason)];
    memcpy(error, m->error, sizeof(error));
    memcpy(reason, m->reason, sizeof(reason));
    error[sizeof(error) - 1] = '\0';
    reason[sizeof(reason) - 1] = '\0';
    utf8_trim_partial(error);
    utf8_trim_partial(reason);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:f,s:f,s:f,s:f,s:s,s:s,s:b,s:b}", "id", m->id, "vm",
                     m->vm, "to_url", m->to_url, "to_name", m->to_name, "state",
                     simstate_mig_state_name(m->state), "started", m->started, "finished",
                     m->finished, "mem_mib", m->mem_mib, "transfer_s", m->transfer_s, "error",
                     error, "reason", reason, "commit_sent", m->commit_sent, "settled", m->settled);
}

int
simstate_encode(const struct simstate *s, char **ret_text)
{
    json_t *vms = json_array();
    json_t *ins = json_array();
    json_t *migs = json_array();
    bool ok = vms != NULL && ins != NULL && migs != NULL;
    for (size_t i = 0; ok && i < s->n_vms; i++)
        ok = append(vms, vm_json(&s->vms[i]));
    for (size_t i = 0; ok && i < s->n_ins; i++)
        ok = append(ins, in_json(&s->ins[i]));
    for (size_t i = 0; ok && i < s->n_migs; i++)
        ok = append(migs, mig_json(&s->migs[i]));
    json_t *root = NULL;
    if (ok)
        root = json_pack("{s:i,s:s,s:o,s:o,s:o}", "version", SIMSTATE_VERSION, "host", s->host,
                         "vms", vms, "incoming", ins, "migrations", migs);
    else {
        json_decref(vms);
        json_decref(ins);
        json_decref(migs);
    }
    *ret_text = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    return *ret_text != NULL ? 0 : -ENOMEM;
}

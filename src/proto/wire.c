/* Wire message decoding with jansson (small messages; the agent sample, decoded every
 * interval from every agent, is streamed in wire_sample.c, and snapshots in snapshot.c). */
#include "proto/wire.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "proto/utf8.h"

json_t *
wire_kinds_json(const double *v)
{
    json_t *o = json_object();
    for (unsigned k = 0; k < KIND_COUNT && o != NULL; k++) {
        double r = round(v[k] * 1000.0) / 1000.0;
        if (json_object_set_new(o, kind_name((enum kind)k), json_real(r)) < 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

bool
wire_id_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > WIRE_MAX_ID)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        if (!ok)
            return false;
    }
    return true;
}

enum wire_name_fault
wire_name_fault(const char *name, size_t len, uint32_t *ret_cp)
{
    const unsigned char *s = (const unsigned char *)name;
    if (len == 0)
        return NAME_EMPTY;
    if (len > MODEL_MAX_NAME)
        return NAME_TOO_LONG;
    size_t i = 0;
    while (i < len && s[i] >= 0x20 && s[i] < 0x7f)
        i++;
    if (i == len)
        return NAME_OK; /* printable ASCII, the usual name: nothing more to check */
    if (memchr(s, '\0', len) != NULL)
        return NAME_CONTROL;
    if (!utf8_valid(s, len))
        return NAME_NOT_UTF8;
    uint32_t cp;
    if (utf8_hidden_at(s, len, &cp)) {
        *ret_cp = cp;
        return cp < 0x20 || cp == 0x7f ? NAME_CONTROL : NAME_HIDDEN;
    }
    return NAME_OK;
}

const char *
wire_name_problem(const char *name, size_t len, char *buf, size_t cap)
{
    uint32_t cp = 0;
    switch (wire_name_fault(name, len, &cp)) {
    case NAME_OK:
        return NULL;
    case NAME_EMPTY:
        return "must not be empty";
    case NAME_TOO_LONG:
        return "must be at most 255 bytes";
    case NAME_CONTROL:
        return "must not contain control characters";
    case NAME_NOT_UTF8:
        return "must be valid UTF-8";
    case NAME_HIDDEN:
        break;
    }
    (void)snprintf(buf, cap,
                   "must not contain U+%04X (control, bidirectional or invisible formatting "
                   "characters garble terminals and logs)",
                   (unsigned)cp);
    return buf;
}

bool
wire_name_valid(const char *name)
{
    char buf[160];
    return wire_name_problem(name, strlen(name), buf, sizeof(buf)) == NULL;
}

static int get_number(json_t *o, const char *key, const char *path, double lo, double hi,
                      bool required, double *ret, struct perr *err);

/* Parse `body` as a JSON object. NULL with err set on failure. */
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

/* Fills the zeroed record `out` from the object `j`; `arg`: the caller's options. */
typedef int (*object_fill_fn)(json_t *j, void *out, const void *arg, struct perr *err);

/* Room for each record a request body decodes into, on the stack. */
union body_record {
    struct wire_load load;
    uint64_t term;
    struct wire_order order;
    struct wire_incoming incoming;
    struct wire_lock lock;
};

/* Parse `body` as a JSON object and fill a zeroed record (one of union body_record, of `size`
 * bytes) from it with `fill`; *ret is written only when all of it is valid. */
static int
decode_object(const char *body, size_t len, object_fill_fn fill, const void *arg, void *ret,
              size_t size, struct perr *err)
{
    union body_record out;
    if (size > sizeof(out)) {
        perr_set(err, "body: no room for the record"); /* a wire.c bug, not the body's */
        return -EINVAL;
    }
    json_t *j = parse_object(body, len, err);
    if (j == NULL)
        return -EINVAL;
    memset(&out, 0, sizeof(out));
    int r = fill(j, &out, arg, err);
    json_decref(j);
    if (r == 0)
        memcpy(ret, &out, size);
    return r;
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

/* Migration id `key` ("id"), required or not (then "" when absent). */
static int
get_id(json_t *o, bool required, char *out, size_t cap, struct perr *err)
{
    int r = get_string(o, "id", "id", required, out, cap, err);
    if (r == 0 && out[0] != '\0' && !wire_id_valid(out)) {
        perr_set(err, "id: must be 1 to 64 of A-Z a-z 0-9 . _ -");
        r = -EINVAL;
    }
    return r;
}

/* Required name `key` (`path` in messages) of a `what` ("VM", "host"). */
static int
get_name(json_t *o, const char *key, const char *path, const char *what, char *out, size_t cap,
         struct perr *err)
{
    int r = get_string(o, key, path, true, out, cap, err);
    if (r == 0 && !wire_name_valid(out)) {
        perr_set(err, "%s: not a valid %s name", path, what);
        r = -EINVAL;
    }
    return r;
}

/* Optional integer `key` from lo to hi into *ret (left as it is when absent). */
static int
get_integer(json_t *o, const char *key, const char *path, int64_t lo, int64_t hi, int64_t *ret,
            struct perr *err)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        if (lo == INT64_MIN && hi == INT64_MAX)
            perr_set(err, "%s: must be an integer", path);
        else
            perr_set(err, "%s: must be a whole number from %lld to %lld", path, (long long)lo,
                     (long long)hi);
        return -EINVAL;
    }
    *ret = json_integer_value(v);
    return 0;
}

/* Optional boolean `key` into *ret (left as it is when absent). */
static int
get_bool(json_t *o, const char *key, const char *path, bool *ret, struct perr *err)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL)
        return 0;
    if (!json_is_boolean(v)) {
        perr_set(err, "%s: must be true or false", path);
        return -EINVAL;
    }
    *ret = json_is_true(v);
    return 0;
}

/* {"cpu": PCT, ...} with kinds only, each 0..100. */
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
fill_load(json_t *j, void *out, const void *arg, struct perr *err)
{
    struct wire_load *l = out;
    (void)arg;
    int r = decode_kinds(j, "body", &l->mask, l->pct, err);
    if (r == 0 && l->mask == 0) {
        perr_set(err, "body: give at least one kind, e.g. {\"cpu\": 50}");
        r = -EINVAL;
    }
    return r;
}

int
wire_load_decode(const char *body, size_t len, struct wire_load *ret, struct perr *err)
{
    return decode_object(body, len, fill_load, NULL, ret, sizeof(*ret), err);
}

/* The optional counter `key` of `j` (a term, a lock token): a whole number from 1 to
 * WIRE_MAX_TERM; 0 when absent. */
static int
get_counter(json_t *j, const char *key, uint64_t *ret, struct perr *err)
{
    json_t *t = json_object_get(j, key);
    *ret = 0;
    if (t == NULL)
        return 0;
    if (!json_is_integer(t) || json_integer_value(t) < 1 ||
        (uint64_t)json_integer_value(t) > WIRE_MAX_TERM) {
        perr_set(err, "%s: must be a whole number from 1 to %llu", key, WIRE_MAX_TERM);
        return -EINVAL;
    }
    *ret = (uint64_t)json_integer_value(t);
    return 0;
}

static int
get_term(json_t *j, uint64_t *ret, struct perr *err)
{
    return get_counter(j, "term", ret, err);
}

static int
fill_term(json_t *j, void *out, const void *arg, struct perr *err)
{
    (void)arg;
    return get_term(j, out, err);
}

int
wire_term_decode(const char *body, size_t len, uint64_t *ret, struct perr *err)
{
    if (len == 0) {
        *ret = 0;
        return 0;
    }
    return decode_object(body, len, fill_term, NULL, ret, sizeof(*ret), err);
}

static int
fill_order(json_t *j, void *out, const void *arg, struct perr *err)
{
    struct wire_order *o = out;
    (void)arg;
    int r = get_id(j, false, o->id, sizeof(o->id), err);
    if (r == 0)
        r = get_name(j, "vm", "vm", "VM", o->vm, sizeof(o->vm), err);
    if (r == 0)
        r = get_string(j, "to", "to", true, o->to, sizeof(o->to), err);
    if (r == 0)
        r = get_string(j, "to_name", "to_name", false, o->to_name, sizeof(o->to_name), err);
    if (r == 0 && o->to_name[0] != '\0' && !wire_name_valid(o->to_name)) {
        perr_set(err, "%s", "to_name: not a valid host name");
        r = -EINVAL;
    }
    if (r == 0)
        r = get_term(j, &o->term, err);
    return r;
}

int
wire_order_decode(const char *body, size_t len, struct wire_order *ret, struct perr *err)
{
    return decode_object(body, len, fill_order, NULL, ret, sizeof(*ret), err);
}

json_t *
wire_moves_json(const double *times, uint32_t n)
{
    json_t *a = json_array();
    for (uint32_t i = 0; a != NULL && i < n; i++) {
        if (json_array_append_new(a, json_real(times[i])) < 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

int
wire_moves_decode(json_t *v, const char *path, double *ret, uint32_t *ret_n, struct perr *err)
{
    if (!json_is_array(v)) {
        perr_set(err, "%s: must be an array", path);
        return -EINVAL;
    }
    size_t n = json_array_size(v);
    if (n > MODEL_MAX_VM_MOVES) {
        perr_set(err, "%s: at most %u moves", path, MODEL_MAX_VM_MOVES);
        return -EINVAL;
    }
    double t[MODEL_MAX_VM_MOVES];
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(v, i);
        double d = json_number_value(x);
        if (!json_is_number(x) || !isfinite(d) || d < 0 || d > 1e11) {
            perr_set(err, "%s[%zu]: must be a number from 0 to 1e+11", path, i);
            return -EINVAL;
        }
        if (i > 0 && d < t[i - 1]) {
            perr_set(err, "%s[%zu]: must not be before the move listed before it", path, i);
            return -EINVAL;
        }
        t[i] = d;
    }
    if (n > 0)
        memcpy(ret, t, n * sizeof(*t));
    *ret_n = (uint32_t)n;
    return 0;
}

static int
decode_vmdef(json_t *v, struct wire_vmdef *d, struct perr *err)
{
    if (!json_is_object(v)) {
        perr_set(err, "vm: must be an object");
        return -EINVAL;
    }
    int r = get_name(v, "name", "vm.name", "VM", d->name, sizeof(d->name), err);
    if (r < 0)
        return r;
    json_t *dem = json_object_get(v, "demand");
    if (dem == NULL) {
        perr_set(err, "vm.demand: missing (required)");
        return -EINVAL;
    }
    unsigned mask = 0;
    r = decode_kinds(dem, "vm.demand", &mask, d->demand, err);
    if (r < 0)
        return r;
    r = get_number(v, "mem_mib", "vm.mem_mib", 0, HUGE_VAL, false, &d->mem_mib, err);
    if (r == 0)
        r = get_integer(v, "priority", "vm.priority", -WIRE_PRIORITY_MAX, WIRE_PRIORITY_MAX,
                        &d->priority, err);
    if (r == 0)
        r = get_bool(v, "pinned", "vm.pinned", &d->pinned, err);
    if (r < 0)
        return r;
    json_t *mv = json_object_get(v, "moves");
    if (mv != NULL && wire_moves_decode(mv, "vm.moves", d->moves, &d->n_moves, err) < 0)
        return -EINVAL;
    json_t *tr = json_object_get(v, "trace");
    if (tr != NULL) {
        const char *f = json_string_value(tr);
        if (f == NULL || !wire_name_valid(f) || strchr(f, '/') != NULL) {
            perr_set(err, "vm.trace: must be a trace file's name (no '/')");
            return -EINVAL;
        }
        (void)snprintf(d->trace, sizeof(d->trace), "%s", f);
        json_t *mi = json_object_get(v, "mips");
        if (!json_is_number(mi) || !(json_number_value(mi) >= 0) ||
            !(json_number_value(mi) <= 1e9)) {
            perr_set(err, "vm.mips: a VM with a trace needs its size, a number of MIPS >= 0");
            return -EINVAL;
        }
        d->mips = json_number_value(mi);
        int64_t cores = 1;
        r = get_integer(v, "cores", "vm.cores", 1, 4096, &cores, err);
        if (r < 0)
            return r;
        d->cores = (uint32_t)cores;
    }
    return 0;
}

static int
fill_incoming(json_t *j, void *out, const void *arg, struct perr *err)
{
    struct wire_incoming *in = out;
    (void)arg;
    int r = get_id(j, true, in->id, sizeof(in->id), err);
    if (r == 0)
        r = get_name(j, "from", "from", "host", in->from, sizeof(in->from), err);
    if (r == 0)
        r = get_number(j, "transfer_s", "transfer_s", 0, 1e7, false, &in->transfer_s, err);
    if (r == 0)
        r = get_number(j, "capacity", "capacity", 1e-6, 1e6, false, &in->capacity, err);
    if (r == 0) {
        json_t *v = json_object_get(j, "vm");
        if (v == NULL) {
            perr_set(err, "vm: missing (required)");
            r = -EINVAL;
        } else {
            r = decode_vmdef(v, &in->vm, err);
        }
    }
    return r;
}

json_t *
wire_text_json(const char *s)
{
    json_t *j = json_string(s);
    if (j != NULL)
        return j;
    char *clean = utf8_sanitize(s);
    j = clean != NULL ? json_string(clean) : NULL;
    free(clean);
    return j;
}

int
wire_incoming_decode(const char *body, size_t len, struct wire_incoming *ret, struct perr *err)
{
    return decode_object(body, len, fill_incoming, NULL, ret, sizeof(*ret), err);
}

/* Parse a number in [lo, hi] from text of `len` bytes. */
static int
spec_number(const char *s, size_t len, double lo, double hi, double *ret)
{
    char buf[48];
    if (len == 0 || len >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end = NULL;
    double d = strtod(buf, &end);
    if (*end != '\0' || !isfinite(d) || d < lo || d > hi)
        return -EINVAL;
    *ret = d;
    return 0;
}

int
wire_vmspec_parse(const char *spec, struct wire_vmdef *ret, struct perr *err)
{
    struct wire_vmdef d;
    memset(&d, 0, sizeof(d));
    d.mem_mib = 1024.0;
    d.mips = -1.0;
    const char *colon = strchr(spec, ':');
    size_t nlen = colon != NULL ? (size_t)(colon - spec) : strlen(spec);
    if (nlen == 0 || nlen > MODEL_MAX_NAME) {
        perr_set(err, "--vm %s: expected NAME:cpu=PCT[,mem=MIB]...", spec);
        return -EINVAL;
    }
    memcpy(d.name, spec, nlen);
    d.name[nlen] = '\0';
    if (!wire_name_valid(d.name)) {
        perr_set(err, "--vm %s: not a valid VM name", spec);
        return -EINVAL;
    }
    const char *p = colon != NULL ? colon + 1 : "";
    bool has_cpu = false;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq != NULL ? (size_t)(eq - p) : len;
        const char *val = eq != NULL ? eq + 1 : NULL;
        size_t vlen = eq != NULL ? len - klen - 1 : 0;
        enum kind k;
        double num = 0.0;
        int r = 0;
        if (klen == 6 && memcmp(p, "pinned", 6) == 0 && val == NULL) {
            d.pinned = true;
        } else if (klen == 5 && memcmp(p, "trace", 5) == 0 && val != NULL) {
            if (vlen == 0 || vlen > MODEL_MAX_NAME || memchr(val, '/', vlen) != NULL)
                r = -EINVAL;
            else
                (void)snprintf(d.trace, sizeof(d.trace), "%.*s", (int)vlen, val);
        } else if (klen == 4 && memcmp(p, "mips", 4) == 0 && val != NULL) {
            r = spec_number(val, vlen, 0, 1e9, &num);
            d.mips = num;
        } else if (klen == 5 && memcmp(p, "cores", 5) == 0 && val != NULL) {
            r = spec_number(val, vlen, 1, 4096, &num);
            if (r == 0 && num != (double)(uint32_t)num)
                r = -EINVAL;
            d.cores = (uint32_t)num;
        } else if (val == NULL) {
            r = -EINVAL;
        } else if (kind_parse(p, klen, &k) == 0) {
            r = spec_number(val, vlen, 0.0, 100.0, &num);
            d.demand[k] = num;
            has_cpu = has_cpu || k == KIND_CPU;
        } else if (klen == 3 && memcmp(p, "mem", 3) == 0) {
            r = spec_number(val, vlen, 0.0, 1e9, &num);
            d.mem_mib = num;
        } else if (klen == 8 && memcmp(p, "priority", 8) == 0) {
            r = spec_number(val, vlen, -(double)WIRE_PRIORITY_MAX, (double)WIRE_PRIORITY_MAX, &num);
            if (r == 0 && num != (double)(int64_t)num)
                r = -EINVAL;
            d.priority = (int64_t)num;
        } else {
            r = -EINVAL;
        }
        if (r < 0) {
            perr_set(err,
                     "--vm %s: bad item '%.*s' (expected cpu|mem_bw|disk|net=0..100, mem=MIB, "
                     "priority=N, pinned, trace=FILE, mips=MIPS or cores=N)",
                     spec, (int)len, p);
            return -EINVAL;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    if (d.trace[0] != '\0') {
        if (!(d.mips >= 0)) {
            perr_set(err, "--vm %s: a VM with trace=FILE needs mips=MIPS (its size)", spec);
            return -EINVAL;
        }
        if (d.cores == 0)
            d.cores = 1;
    } else if (d.mips >= 0 || d.cores > 0) {
        perr_set(err, "--vm %s: mips= and cores= size a VM whose demand follows trace=FILE", spec);
        return -EINVAL;
    } else if (!has_cpu) {
        perr_set(err, "--vm %s: cpu=PCT is required (NAME:cpu=PCT[,mem=MIB]...)", spec);
        return -EINVAL;
    }
    *ret = d;
    return 0;
}

void
wire_sample_done(struct wire_sample *s)
{
    if (s == NULL)
        return;
    free(s->vms);
    s->vms = NULL;
    s->n_vms = 0;
    free(s->moves);
    s->moves = NULL;
    s->n_moves = 0;
    free(s->strs);
    s->strs = NULL;
    s->strs_len = s->strs_cap = 0;
}

static const char *
sample_str(const struct wire_sample *s, uint32_t at)
{
    return at > 0 && at < s->strs_len ? s->strs + at : "";
}

const char *
wire_vm_uuid(const struct wire_sample *s, const struct wire_sample_vm *v)
{
    return sample_str(s, v->uuid_at);
}

const char *
wire_vm_trace(const struct wire_sample *s, const struct wire_sample_vm *v)
{
    return sample_str(s, v->trace_at);
}

/* Append `len` bytes at `str` and a NUL to s->strs; *at: where they start (0 when len is 0).
 * -EINVAL for a NUL among them (the string would read back shorter, or as "not given"). */
static int
sample_str_set(struct wire_sample *s, uint32_t *at, const char *str, size_t len)
{
    *at = 0;
    if (len == 0)
        return 0;
    if (memchr(str, '\0', len) != NULL)
        return -EINVAL;
    size_t start = s->strs_len > 0 ? s->strs_len : 1u; /* offset 0 stands for "not given" */
    if (start >= UINT32_MAX || len >= UINT32_MAX - start)
        return -ENOMEM; /* offsets are uint32_t */
    char *n = grow_array(s->strs, &s->strs_cap, start + len + 1u, 1, 256);
    if (n == NULL)
        return -ENOMEM;
    s->strs = n;
    s->strs[0] = '\0';
    memcpy(s->strs + start, str, len);
    s->strs[start + len] = '\0';
    *at = (uint32_t)start;
    s->strs_len = start + len + 1u;
    return 0;
}

int
wire_vm_set_uuid(struct wire_sample *s, struct wire_sample_vm *v, const char *str, size_t len)
{
    return sample_str_set(s, &v->uuid_at, str, len);
}

int
wire_vm_set_trace(struct wire_sample *s, struct wire_sample_vm *v, const char *str, size_t len)
{
    return sample_str_set(s, &v->trace_at, str, len);
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
        if (isinf(hi))
            perr_set(err, "%s: must be a number >= %g", path, lo);
        else
            perr_set(err, "%s: must be a number from %g to %g", path, lo, hi);
        return -EINVAL;
    }
    *ret = d;
    return 0;
}

static int
fill_lock(json_t *j, void *out, const void *arg, struct perr *err)
{
    struct wire_lock *l = out;
    const bool *need_lease = arg;
    int r = get_name(j, "holder", "holder", "host", l->holder, sizeof(l->holder), err);
    if (r == 0 && *need_lease)
        r = get_number(j, "lease_s", "lease_s", 0.1, WIRE_MAX_LEASE_S, true, &l->lease_s, err);
    if (r == 0)
        r = get_counter(j, "token", &l->token, err);
    return r;
}

int
wire_lock_decode(const char *body, size_t len, bool need_lease, struct wire_lock *ret,
                 struct perr *err)
{
    return decode_object(body, len, fill_lock, &need_lease, ret, sizeof(*ret), err);
}

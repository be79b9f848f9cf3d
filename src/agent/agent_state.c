/* The simulated host's state on disk: what a real hypervisor keeps across a restart of its
 * agent. With --data, a simulated agent writes its VMs (with their demand and state), the
 * arrivals it reserved or committed and the migrations it ran to DATA/hv-sim.json whenever
 * one of them changes, before it answers the request that changed it. A new file is written
 * next to the old one, synced, and renamed over it, so a crash leaves the old state or the
 * new one, never half of either.
 *
 * At start, a file that exists replaces the --vm list (the VMs may have moved since), and
 * migrations that were running when the agent stopped are resolved with their destination
 * before anything else happens to their VM (agent_migration_resume(): the destination alone
 * knows whether it runs the VM). Reservations of arrivals stand again until their commit, an
 * abort, or their expiry. A file that cannot be read is an error that stops the agent: it
 * could not know which VMs it runs. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent_internal.h"
#include "common/clock.h"
#include "common/file.h"
#include "common/log.h"
#include "proto/utf8.h"

#define STATE_FILE "hv-sim.json"
#define STATE_VERSION 1
/* A host's state: 4,096 VMs and 2,000 records at about 300 bytes each fit easily. */
#define STATE_MAX_BYTES (16u * 1024u * 1024u)

static const char *const in_names[] = {"reserved", "committed", "aborted"};

static json_t *
vm_json(const struct simvm *v)
{
    json_t *o =
        json_pack("{s:s,s:o,s:f,s:I,s:b,s:f,s:o,s:s}", "name", v->name, "demand",
                  wire_kinds_json(v->demand), "mem_mib", v->mem_mib, "priority",
                  (json_int_t)v->priority, "pinned", v->pinned, "arrived", v->arrived, "moves",
                  wire_moves_json(v->moves, v->n_moves), "state", simvm_state_name(v->state));
    if (o != NULL && v->trace[0] != '\0' &&
        json_object_update_new(o, json_pack("{s:s,s:f,s:I}", "trace", v->trace, "mips", v->mips,
                                            "cores", (json_int_t)v->cores)) < 0) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* Append `item` to `arr`; false (and `item` freed) when either is NULL or on OOM: a record
 * that cannot be written must fail the whole save, never drop out of the file. */
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
migration_json(struct migration *m)
{
    /* Texts cut to fit their buffers may end inside a character: JSON takes only whole ones. */
    utf8_trim_partial(m->error);
    utf8_trim_partial(m->reason);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:f,s:f,s:f,s:f,s:s,s:s,s:b,s:b}", "id", m->id, "vm",
                     m->vm, "to_url", m->to_url, "to_name", m->to_name, "state",
                     mig_state_name(m->state), "started", m->started, "finished", m->finished,
                     "mem_mib", m->mem_mib, "transfer_s", m->transfer_s, "error", m->error,
                     "reason", m->reason, "commit_sent", m->commit_sent, "settled", m->settled);
}

static json_t *
state_json(const struct agent *a)
{
    json_t *vms = json_array();
    json_t *ins = json_array();
    json_t *migs = json_array();
    bool ok = true;
    for (size_t i = 0; ok && i < a->hv.n_vms; i++)
        ok = append(vms, vm_json(&a->hv.vms[i]));
    for (size_t i = 0; ok && i < a->n_ins; i++) {
        const struct incoming *in = a->ins[i];
        ok = append(ins, json_pack("{s:s,s:s,s:s,s:s,s:b,s:f,s:f,s:f}", "id", in->id, "vm", in->vm,
                                   "from", in->from, "state", in_names[in->state], "settled",
                                   in->settled, "since", in->since, "transfer_s", in->transfer_s,
                                   "scale", in->scale));
    }
    for (size_t i = 0; ok && i < a->n_migs; i++)
        ok = append(migs, migration_json(a->migs[i]));
    if (!ok || vms == NULL || ins == NULL || migs == NULL) {
        json_decref(vms);
        json_decref(ins);
        json_decref(migs);
        return NULL;
    }
    return json_pack("{s:i,s:s,s:o,s:o,s:o}", "version", STATE_VERSION, "host", a->opts->name, "vms",
                     vms, "incoming", ins, "migrations", migs);
}

static int
state_path(const struct agent *a, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s", a->opts->data, STATE_FILE);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Write `text` to `path` so that a crash leaves either the old file or the new one. */
static int
write_atomic(const char *path, const char *text)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text);
    size_t off = 0;
    int r = 0;
    while (off < len) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        off += (size_t)n;
    }
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        (void)unlink(tmp);
        return r;
    }
    /* The rename itself must last a power cut. */
    char dir[4200];
    (void)snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL)
        *slash = '\0';
    fd = open(slash != NULL ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    r = fsync(fd) < 0 ? -errno : 0;
    (void)close(fd);
    return r;
}

bool
agent_state_enabled(const struct agent *a)
{
    return a->opts->backend == AGENT_BACKEND_SIM && a->opts->data[0] != '\0';
}

int
agent_state_save(struct agent *a)
{
    if (!agent_state_enabled(a) || !a->state_loaded)
        return 0;
    json_t *j = state_json(a);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text == NULL) {
        log_warnx("host state not saved: out of memory, or a record that cannot be written");
        return -ENOMEM;
    }
    if (a->state_text != NULL && strcmp(a->state_text, text) == 0) {
        free(text);
        return 0; /* nothing changed */
    }
    char path[4200];
    int r = state_path(a, path, sizeof(path));
    if (r == 0)
        r = write_atomic(path, text);
    if (r < 0) {
        log_warnx("host state not saved file=%s error=\"%s\"", path, strerror(-r));
        free(text);
        return r;
    }
    free(a->state_text);
    a->state_text = text;
    return 0;
}

/* --- reading ----------------------------------------------------------------------------- */

struct reader {
    char what[300]; /* the first problem found */
};

/* Record the first problem: "LIST[I].KEY: WHAT" (KEY may be ""). Returns false. */
static bool
bad(struct reader *rd, const char *list, size_t i, const char *key, const char *what)
{
    if (rd->what[0] == '\0')
        (void)snprintf(rd->what, sizeof(rd->what), "%s[%zu]%s%s: %s", list, i,
                       key[0] != '\0' ? "." : "", key, what);
    return false;
}

static bool
get_str(struct reader *rd, json_t *o, const char *key, char *dst, size_t len, bool name,
        const char *list, size_t i)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (s == NULL || strlen(s) >= len || (name && !wire_name_valid(s)))
        return bad(rd, list, i, key, name ? "missing, or not a valid name" : "missing or too long");
    (void)snprintf(dst, len, "%s", s);
    return true;
}

static bool
get_num(struct reader *rd, json_t *o, const char *key, double lo, double hi, double *ret,
        const char *list, size_t i)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi))
        return bad(rd, list, i, key, "missing or out of range");
    *ret = json_number_value(v);
    return true;
}

/* The index of `text` in `names` (n of them), or -1. */
static int
name_index(const char *text, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(text, names[i]) == 0)
            return (int)i;
    }
    return -1;
}

static bool
load_vm(struct agent *a, struct reader *rd, json_t *o, size_t i)
{
    static const char *const vm_states[] = {"running", "migrating-out", "incoming"};
    struct simvm v;
    memset(&v, 0, sizeof(v));
    double prio = 0;
    char st[32];
    if (!get_str(rd, o, "name", v.name, sizeof(v.name), true, "vms", i) ||
        !get_num(rd, o, "mem_mib", 0, 1e12, &v.mem_mib, "vms", i) ||
        !get_num(rd, o, "priority", -1e15, 1e15, &prio, "vms", i) ||
        !get_num(rd, o, "arrived", -1e12, 1e12, &v.arrived, "vms", i) ||
        !get_str(rd, o, "state", st, sizeof(st), false, "vms", i))
        return false;
    json_t *d = json_object_get(o, "demand");
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        json_t *x = json_object_get(d, kind_name((enum kind)k));
        if (!json_is_number(x) || !(json_number_value(x) >= 0 && json_number_value(x) <= 100))
            return bad(rd, "vms", i, "demand", "four kinds, each from 0 to 100");
        v.demand[k] = json_number_value(x);
    }
    if (!json_is_boolean(json_object_get(o, "pinned")))
        return bad(rd, "vms", i, "pinned", "must be true or false");
    v.pinned = json_is_true(json_object_get(o, "pinned"));
    v.priority = (int64_t)prio;
    /* Absent in files written before the storm guard: no moves known. */
    json_t *mv = json_object_get(o, "moves");
    struct perr merr;
    if (mv != NULL && wire_moves_decode(mv, "moves", v.moves, &v.n_moves, &merr) < 0)
        return bad(rd, "vms", i, "", merr.msg);
    /* A VM that follows a trace: the file must be in this agent's trace. */
    v.trace_vm = -1;
    json_t *tr = json_object_get(o, "trace");
    if (tr != NULL) {
        double cores = 1;
        if (!json_is_string(tr) || strlen(json_string_value(tr)) >= sizeof(v.trace))
            return bad(rd, "vms", i, "trace", "must be a trace file's name");
        (void)snprintf(v.trace, sizeof(v.trace), "%s", json_string_value(tr));
        v.trace_vm = hv_trace_find(&a->trace, v.trace);
        if (v.trace_vm < 0)
            return bad(rd, "vms", i, "trace", "not a file of this agent's [sim] trace");
        if (!get_num(rd, o, "mips", 0, 1e9, &v.mips, "vms", i) ||
            !get_num(rd, o, "cores", 1, 4096, &cores, "vms", i))
            return false;
        v.cores = (uint32_t)cores;
    }
    int s = name_index(st, vm_states, 3);
    if (s < 0)
        return bad(rd, "vms", i, "state", "must be running, migrating-out or incoming");
    v.state = (enum simvm_state)s;
    int r = simhost_add(&a->hv, &v);
    if (r < 0)
        return bad(rd, "vms", i, "", r == -EEXIST ? "a VM named twice" : strerror(-r));
    return true;
}

static bool
load_incoming(struct agent *a, struct reader *rd, json_t *o, size_t i)
{
    if (a->n_ins >= AGENT_MAX_HISTORY)
        return bad(rd, "incoming", i, "", "too many records");
    struct incoming *in = calloc(1, sizeof(*in));
    char st[32];
    if (in == NULL)
        return bad(rd, "incoming", i, "", "out of memory");
    in->a = a;
    int s = -1;
    if (get_str(rd, o, "id", in->id, sizeof(in->id), false, "incoming", i) &&
        get_str(rd, o, "vm", in->vm, sizeof(in->vm), true, "incoming", i) &&
        get_str(rd, o, "from", in->from, sizeof(in->from), true, "incoming", i) &&
        get_str(rd, o, "state", st, sizeof(st), false, "incoming", i)) {
        s = name_index(st, in_names, 3);
        if (s < 0)
            (void)bad(rd, "incoming", i, "state", "must be reserved, committed or aborted");
    }
    if (s < 0) {
        free(in);
        return false;
    }
    in->state = (enum in_state)s;
    /* Absent (a file written before sources settled arrivals): forgettable, as it was then. */
    json_t *settled = json_object_get(o, "settled");
    if (settled != NULL && !json_is_boolean(settled)) {
        free(in);
        return bad(rd, "incoming", i, "settled", "must be true or false");
    }
    in->settled = settled == NULL || json_is_true(settled);
    /* When it was reserved; absent: now (the record is then kept longer). */
    in->since = clock_wall_s();
    if (json_object_get(o, "since") != NULL &&
        !get_num(rd, o, "since", 0, 1e12, &in->since, "incoming", i)) {
        free(in);
        return false;
    }
    /* The announced copy time; absent (an older file): unknown. */
    if (json_object_get(o, "transfer_s") != NULL &&
        !get_num(rd, o, "transfer_s", 0, 1e9, &in->transfer_s, "incoming", i)) {
        free(in);
        return false;
    }
    /* The source's capacity over ours; absent (an older file): the same size. */
    in->scale = 1.0;
    if (json_object_get(o, "scale") != NULL &&
        !get_num(rd, o, "scale", 1e-12, 1e12, &in->scale, "incoming", i)) {
        free(in);
        return false;
    }
    a->ins[a->n_ins++] = in;
    return true;
}

static bool
load_migration(struct agent *a, struct reader *rd, json_t *o, size_t i)
{
    static const char *const names[] = {"running", "done", "failed"};
    static const enum mig_state states[] = {MIG_RUNNING, MIG_DONE, MIG_FAILED};
    if (a->n_migs >= AGENT_MAX_HISTORY)
        return bad(rd, "migrations", i, "", "too many records");
    struct migration *m = calloc(1, sizeof(*m));
    char st[32];
    if (m == NULL)
        return bad(rd, "migrations", i, "", "out of memory");
    m->a = a;
    const char *err = json_string_value(json_object_get(o, "error"));
    const char *reason = json_string_value(json_object_get(o, "reason"));
    const char *L = "migrations";
    bool ok = get_str(rd, o, "id", m->id, sizeof(m->id), false, L, i) &&
              get_str(rd, o, "vm", m->vm, sizeof(m->vm), true, L, i) &&
              get_str(rd, o, "to_url", m->to_url, sizeof(m->to_url), false, L, i) &&
              get_str(rd, o, "to_name", m->to_name, sizeof(m->to_name), false, L, i) &&
              get_str(rd, o, "state", st, sizeof(st), false, L, i) &&
              get_num(rd, o, "started", 0, 1e12, &m->started, L, i) &&
              get_num(rd, o, "finished", 0, 1e12, &m->finished, L, i) &&
              get_num(rd, o, "mem_mib", 0, 1e12, &m->mem_mib, L, i) &&
              get_num(rd, o, "transfer_s", 0, 1e9, &m->transfer_s, L, i);
    if (ok && http_url_check(m->to_url) < 0)
        ok = bad(rd, L, i, "to_url", "not an http://HOST:PORT URL");
    int s = ok ? name_index(st, names, 3) : -1;
    if (ok && s < 0)
        ok = bad(rd, L, i, "state", "must be running, done or failed");
    if (!ok) {
        free(m);
        return false;
    }
    m->state = states[s];
    /* Started by an earlier run of the agent. */
    m->started_mono = clock_mono_of_wall(m->started, clock_wall_s(), clock_mono_s());
    m->took_s = m->finished > m->started ? m->finished - m->started : 0;
    (void)snprintf(m->error, sizeof(m->error), "%s", err != NULL ? err : "");
    (void)snprintf(m->reason, sizeof(m->reason), "%s", reason != NULL ? reason : "");
    /* Unknown: assume it went out, so that only the destination decides. */
    json_t *cs = json_object_get(o, "commit_sent");
    /* Absent: not told (a file written before this step; telling again does no harm). */
    json_t *se = json_object_get(o, "settled");
    if ((cs != NULL && !json_is_boolean(cs)) || (se != NULL && !json_is_boolean(se))) {
        free(m);
        return bad(rd, L, i, cs != NULL && !json_is_boolean(cs) ? "commit_sent" : "settled",
                   "must be true or false");
    }
    m->commit_sent = cs == NULL || json_is_true(cs);
    m->settled = se != NULL && json_is_true(se);
    a->migs[a->n_migs++] = m;
    return true;
}

static bool
load_list(struct agent *a, struct reader *rd, json_t *root, const char *key,
          bool (*fn)(struct agent *, struct reader *, json_t *, size_t))
{
    json_t *arr = json_object_get(root, key);
    if (!json_is_array(arr)) {
        (void)snprintf(rd->what, sizeof(rd->what), "%s: missing or not an array", key);
        return false;
    }
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o)
    {
        if (!json_is_object(o))
            return bad(rd, key, i, "", "not an object");
        if (!fn(a, rd, o, i))
            return false;
    }
    return true;
}

int
agent_state_load(struct agent *a, bool *ret_found)
{
    *ret_found = false;
    if (!agent_state_enabled(a))
        return 0;
    if (mkdir(a->opts->data, 0700) < 0 && errno != EEXIST) {
        log_errorx("cannot create the data directory %s: %s", a->opts->data, strerror(errno));
        return -errno;
    }
    char path[4200];
    if (state_path(a, path, sizeof(path)) < 0) {
        log_errorx("data directory path too long");
        return -ENAMETOOLONG;
    }
    char *text = NULL;
    size_t len = 0;
    int r = file_read_all(path, STATE_MAX_BYTES, &text, &len);
    if (r == -ENOENT) {
        a->state_loaded = true; /* first start: the --vm list, saved at the first sample */
        return 0;
    }
    if (r < 0) {
        log_errorx("cannot read the host state %s: %s", path, strerror(-r));
        return r;
    }
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    struct reader rd = {""};
    if (root == NULL) {
        log_errorx("%s:%d:%d: %s (the host state; fix or remove it to start from --vm)", path,
                   je.line, je.column, je.text);
        return -EINVAL;
    }
    json_t *ver = json_object_get(root, "version");
    const char *host = json_string_value(json_object_get(root, "host"));
    bool ok = false;
    if (!json_is_integer(ver) || json_integer_value(ver) != STATE_VERSION)
        (void)snprintf(rd.what, sizeof(rd.what), "version: must be %d", STATE_VERSION);
    else if (host == NULL || strcmp(host, a->opts->name) != 0)
        (void)snprintf(rd.what, sizeof(rd.what), "host: not \"%s\" (another host's state?)",
                       a->opts->name);
    else
        ok = true;
    ok = ok && load_list(a, &rd, root, "vms", load_vm) &&
         load_list(a, &rd, root, "incoming", load_incoming) &&
         load_list(a, &rd, root, "migrations", load_migration);
    json_decref(root);
    if (!ok) {
        log_errorx("%s: %s (the host state; fix or remove it to start from --vm)", path, rd.what);
        return -EINVAL;
    }
    *ret_found = true;
    a->state_loaded = true;
    log_info("host state restored file=%s vms=%zu arrivals=%zu migrations=%zu (the --vm list is "
             "not used)",
             path, a->hv.n_vms, a->n_ins, a->n_migs);
    return 0;
}

int
agent_state_resume(struct agent *a)
{
    for (size_t i = 0; i < a->n_ins; i++) {
        struct incoming *in = a->ins[i];
        in->expiry = evtimer_new(a->base, agent_incoming_expiry_cb, in);
        if (in->expiry == NULL)
            return -ENOMEM;
        if (in->state == IN_RESERVED) {
            /* A whole window again, as at the reservation: the copy may still be running. */
            struct timeval tv = {AGENT_INCOMING_EXPIRY_S + (time_t)in->transfer_s, 0};
            (void)event_add(in->expiry, &tv);
            log_info("arrival reserved again id=%s vm=\"%s\" from=\"%s\"", in->id, in->vm,
                     in->from);
        }
    }
    for (size_t i = 0; i < a->n_migs; i++) {
        struct migration *m = a->migs[i];
        if (agent_migration_resume(m) < 0)
            return -ENOMEM;
    }
    return 0;
}

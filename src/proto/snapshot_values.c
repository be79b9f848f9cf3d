/* The snapshot decoder's values (snapshot_int.h): each scalar checked against the slot the
 * pending key names (type, range, a valid and unique name) and stored in the model. The
 * structure around them (objects, arrays, keys, required fields) is snapshot.c's. Names are
 * checked for duplicates through a short queue, so the hash table's cache miss overlaps with
 * parsing the next ones. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "proto/snapshot_int.h"
#include "proto/wire.h"

int
snapshot_values_null(void *ctx)
{
    struct snapshot_decoder *d = ctx;
    enum slot s = current_slot(d);
    if (s == S_IGNORE)
        return consumed(d);
    return fail_at(d, -EINVAL, snapshot_slot_type_error(s));
}

int
snapshot_values_boolean(void *ctx, bool b)
{
    struct snapshot_decoder *d = ctx;
    enum slot s = current_slot(d);
    if (s == S_IGNORE)
        return consumed(d);
    if (s != S_V_PINNED)
        return fail_at(d, -EINVAL, snapshot_slot_type_error(s));
    d->cl.vms[d->cl.n_vms - 1].pinned = b;
    return consumed(d);
}

int
snapshot_values_number(void *ctx, const char *s, size_t len)
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
        return fail_at(d, -EINVAL, snapshot_slot_type_error(s_));
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
void
snapshot_values_flush(void *ctx)
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

int
snapshot_values_string(void *ctx, const unsigned char *s, size_t len)
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
        return fail_at(d, -EINVAL, snapshot_slot_type_error(sl));
    }
}

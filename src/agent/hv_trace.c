/* Trace-driven demand for the simulated hypervisor (see hv_trace.h). */
#include "agent/hv_trace.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
hv_trace_opts_init(struct hv_trace_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->format = TRACE_PLANETLAB;
    o->step_s = 1.0;
    o->host_mips = 1000.0;
    o->host_cores = 1;
}

int
hv_trace_load(struct hv_trace *t, const struct hv_trace_opts *o, char *err, size_t len)
{
    memset(t, 0, sizeof(*t));
    t->o = *o;
    trace_init(&t->tr);
    if (o->dir[0] == '\0')
        return 0;
    struct trace_error terr;
    int r = trace_read(o->dir, o->format, &t->tr, &terr);
    if (r < 0) {
        (void)snprintf(err, len, "%s", terr.msg);
        return r;
    }
    if (t->tr.n_samples < 2) {
        (void)snprintf(err, len, "%s: the trace has %zu samples; it needs at least 2", o->dir,
                       t->tr.n_samples);
        return -EINVAL;
    }
    t->loaded = true;
    return 0;
}

void
hv_trace_done(struct hv_trace *t)
{
    if (t == NULL)
        return;
    trace_done(&t->tr);
    t->loaded = false;
}

static int
name_cmp(const void *key, const void *elem)
{
    return strcmp(key, *(char *const *)elem);
}

long
hv_trace_find(const struct hv_trace *t, const char *file)
{
    if (!t->loaded)
        return -1;
    /* trace_read() sorts the names byte-wise, as strcmp() compares them. */
    char *const *f = bsearch(file, t->tr.names, t->tr.n_vms, sizeof(*t->tr.names), name_cmp);
    return f != NULL ? (long)(f - t->tr.names) : -1;
}

size_t
hv_trace_sample_at(const struct hv_trace *t, double now)
{
    double k = floor((now - t->o.start) / t->o.step_s + 0.5);
    if (!(k >= 1.0))
        return 1;
    if (k >= (double)t->tr.n_samples)
        return t->tr.n_samples;
    return (size_t)k;
}

/* `v` KB/s over what 100 % is, in percent (0..100); 0 when the host has no such capacity. */
static double
io_pct(double v, double cap)
{
    if (!(cap > 0))
        return 0;
    double p = v / cap * 100.0;
    return p > 100.0 ? 100.0 : p;
}

void
hv_trace_demand(const struct hv_trace *t, size_t vm, double mips, uint32_t cores, double now,
                double *ret_pct)
{
    for (unsigned k = 0; k < KIND_COUNT; k++)
        ret_pct[k] = 0;
    if (!t->loaded || vm >= t->tr.n_vms)
        return;
    const struct trace *tr = &t->tr;
    size_t k = hv_trace_sample_at(t, now);
    double at = (double)k * TRACE_STEP_S + HV_TRACE_OFFSET_S;
    /* The simulator's request: utilisation x MIPS, at most one host core per VM core. */
    double req = trace_value(tr, tr->cpu, vm, at) * mips;
    double pe = t->o.host_mips / (t->o.host_cores > 0 ? t->o.host_cores : 1);
    double cap = pe * (cores > 0 ? cores : 1);
    if (req > cap)
        req = cap;
    double cpu = t->o.host_mips > 0 ? req / t->o.host_mips * 100.0 : 0;
    ret_pct[KIND_CPU] = cpu > 100.0 ? 100.0 : cpu;
    if (tr->disk_kbs != NULL)
        ret_pct[KIND_DISK] = io_pct(trace_value(tr, tr->disk_kbs, vm, at), t->o.disk_kbs);
    if (tr->net_kbs != NULL)
        ret_pct[KIND_NET] = io_pct(trace_value(tr, tr->net_kbs, vm, at), t->o.net_kbs);
}

/* The simulator's metrics on a live run's observations (see livestat.h). */
#include "sim/livestat.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Below this much cpu (percent) a host draws no power: it runs nothing. */
#define IDLE_PCT 1e-9

int
livestat_init(struct livestat *s, size_t n_hosts, const struct power_host_type *const *types,
              size_t n_vms, double step_s)
{
    memset(s, 0, sizeof(*s));
    s->n_hosts = n_hosts;
    s->n_vms = n_vms;
    s->types = types;
    s->step_s = step_s;
    s->prev_util = calloc(n_hosts + 1, sizeof(*s->prev_util));
    s->was_active = calloc(n_hosts + 1, sizeof(*s->was_active));
    s->running = calloc(n_vms + 1, sizeof(*s->running));
    s->listed = calloc(n_vms + 1, sizeof(*s->listed));
    if (s->prev_util == NULL || s->was_active == NULL || s->running == NULL || s->listed == NULL) {
        livestat_done(s);
        return -ENOMEM;
    }
    return 0;
}

void
livestat_done(struct livestat *s)
{
    if (s == NULL)
        return;
    free(s->prev_util);
    free(s->was_active);
    free(s->running);
    free(s->listed);
    memset(s, 0, sizeof(*s));
}

static double
host_mips(const struct power_host_type *t)
{
    return t->pe_mips * t->pes;
}

void
livestat_start(struct livestat *s, const double *util, const bool *active)
{
    for (size_t h = 0; h < s->n_hosts; h++) {
        s->prev_util[h] = util[h];
        s->was_active[h] = active[h];
    }
    s->started = true;
}

void
livestat_step(struct livestat *s, const struct livestat_host *hosts)
{
    for (size_t h = 0; h < s->n_hosts; h++) {
        const struct livestat_host *o = &hosts[h];
        const struct power_host_type *t = s->types[h];
        double util = o->seen ? fmin(1.0, fmax(0.0, o->cpu_pct / 100.0)) : s->prev_util[h];
        if (!o->seen)
            s->missed_observations++;
        bool active = o->seen ? util > IDLE_PCT / 100.0 || o->busy : s->was_active[h];
        if (s->steps > 0 && s->was_active[h]) {
            /* The interval from the last step to this one: the simulator's trapezoid, from a
             * host that was active at its start. */
            s->energy_j +=
                (power_watts(t, s->prev_util[h]) + power_watts(t, util)) / 2.0 * s->step_s;
        }
        if ((s->steps > 0 || s->started) && s->was_active[h] && !active)
            s->shutdowns++;
        if (active) {
            s->active_s += s->step_s;
            if (o->seen && o->demand_pct > o->served_pct + 1e-6 && o->demand_pct > 100.0 - 1e-6)
                s->violation_s += s->step_s;
        }
        if (o->seen) {
            double mips = host_mips(t);
            s->requested_mips_s += o->demand_pct / 100.0 * mips * s->step_s;
            double short_pct = o->demand_pct - o->served_pct;
            if (short_pct > 0)
                s->unserved_mips_s += short_pct / 100.0 * mips * s->step_s;
            if (o->overloaded)
                s->overloaded_host_steps++;
        }
        s->prev_util[h] = util;
        s->was_active[h] = active;
    }
    s->steps++;
}

void
livestat_place_begin(struct livestat *s)
{
    memset(s->running, 0, s->n_vms * sizeof(*s->running));
    memset(s->listed, 0, s->n_vms * sizeof(*s->listed));
}

void
livestat_place_vm(struct livestat *s, uint32_t vm, bool running)
{
    if (vm >= s->n_vms)
        return;
    s->listed[vm]++;
    if (running)
        s->running[vm]++;
}

void
livestat_place_end(struct livestat *s)
{
    for (size_t v = 0; v < s->n_vms; v++) {
        if (s->running[v] > s->max_hosts_per_vm)
            s->max_hosts_per_vm = s->running[v];
    }
}

size_t
livestat_lost(const struct livestat *s)
{
    size_t n = 0;
    for (size_t v = 0; v < s->n_vms; v++)
        n += s->listed[v] == 0;
    return n;
}

void
livestat_totals(const struct livestat *s, const struct livestat_move *moves, size_t n,
                double wall_per_trace_s, struct dc_stats *ret)
{
    memset(ret, 0, sizeof(*ret));
    double degraded = 0;
    for (size_t i = 0; i < n; i++) {
        const struct livestat_move *m = &moves[i];
        if (m->finished > m->started && wall_per_trace_s > 0)
            degraded += 0.1 * m->demand_mips * (m->finished - m->started) / wall_per_trace_s;
    }
    ret->energy_kwh = s->energy_j / 3.6e6;
    ret->migrations = n;
    ret->slatah = s->active_s > 0 ? s->violation_s / s->active_s : 0;
    ret->pdm = s->requested_mips_s > 0 ? degraded / s->requested_mips_s : 0;
    ret->slav = ret->slatah * ret->pdm;
    ret->esv = ret->energy_kwh * ret->slav;
    ret->overall_sla_violation =
        s->requested_mips_s > 0 ? (s->unserved_mips_s + degraded) / s->requested_mips_s : 0;
    ret->host_shutdowns = s->shutdowns;
    ret->time_s = s->steps > 1 ? (double)(s->steps - 1) * s->step_s : 0;
}

static int
move_cmp(const void *a, const void *b)
{
    const struct livestat_move *x = *(const struct livestat_move *const *)a;
    const struct livestat_move *y = *(const struct livestat_move *const *)b;
    if (x->vm != y->vm)
        return x->vm < y->vm ? -1 : 1;
    if (x->started != y->started)
        return x->started < y->started ? -1 : 1;
    return x < y ? -1 : x > y;
}

int
livestat_returns(const struct livestat_move *moves, size_t n, double cooldown_wall_s, size_t *ret)
{
    *ret = 0;
    if (n == 0 || cooldown_wall_s <= 0)
        return 0;
    const struct livestat_move **o = malloc(n * sizeof(const struct livestat_move *));
    if (o == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        o[i] = &moves[i];
    qsort(o, n, sizeof(const struct livestat_move *), move_cmp);
    size_t back = 0;
    for (size_t i = 0; i < n; i++) {
        if (!o[i]->done)
            continue;
        /* An earlier done move of the same VM off the host this one goes to, ended less than
         * the cooldown before this one started. */
        for (size_t j = i; j-- > 0 && o[j]->vm == o[i]->vm;) {
            if (o[j]->done && o[j]->from == o[i]->to &&
                o[i]->started - o[j]->finished < cooldown_wall_s) {
                back++;
                break;
            }
        }
    }
    free(o);
    *ret = back;
    return 0;
}

size_t
livestat_failed(const struct livestat_move *moves, size_t n)
{
    size_t f = 0;
    for (size_t i = 0; i < n; i++)
        f += !moves[i].done;
    return f;
}

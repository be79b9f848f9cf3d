/* `vmloc replay`: the results (see replay_report.h). */
#define _POSIX_C_SOURCE 200809L
#include "cli/replay_report.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void
live_result(struct replay *rp)
{
    struct sim_run *l = &rp->live;
    l->policy = SIM_VMLOC;
    l->label = "live";
    l->persist_k = rp->policy.persist_k;
    l->persist_n = rp->policy.persist_n;
    l->cooldown_s = rp->policy.cooldown_s;
    l->res.n_hosts = rp->n_hosts;
    l->res.n_vms = rp->trace.n_vms;
    l->res.points = rp->points;
    l->res.n_points = rp->n_points;
    l->res.wall_s = rp->wall_s;
    livestat_totals(&rp->ls, rp->moves, rp->n_moves, rp->step_s / TRACE_STEP_S, &l->res.stats);
    l->overloaded_host_steps = (double)rp->ls.overloaded_host_steps;
    struct replay_invariants *inv = &rp->inv;
    inv->vm_on_two_hosts = rp->ls.max_hosts_per_vm;
    inv->lost_vms = livestat_lost(&rp->ls);
    inv->failed_migrations = livestat_failed(rp->moves, rp->n_moves);
    inv->missed_observations = rp->ls.missed_observations;
    if (livestat_returns(rp->moves, rp->n_moves, rp->policy.cooldown_s,
                         &inv->returns_within_cooldown) < 0)
        inv->returns_within_cooldown = SIZE_MAX; /* not known: the invariant is not shown */
}

static bool
invariants_hold(const struct replay_invariants *inv)
{
    return inv->vm_on_two_hosts <= 1 && inv->lost_vms == 0 && inv->returns_within_cooldown == 0;
}

static json_t *
invariants_json(const struct replay_invariants *inv)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:b}", "vm_on_two_hosts",
                     (json_int_t)inv->vm_on_two_hosts, "lost_vms", (json_int_t)inv->lost_vms,
                     "returns_within_cooldown", (json_int_t)inv->returns_within_cooldown,
                     "failed_migrations", (json_int_t)inv->failed_migrations, "missed_observations",
                     (json_int_t)inv->missed_observations, "hold", invariants_hold(inv));
}

static void
ratio(double a, double b, char *buf, size_t len)
{
    if (b > 0)
        (void)snprintf(buf, len, "%.2f", a / b);
    else
        (void)snprintf(buf, len, a > 0 ? "-" : "=");
}

static void
print_table(const struct replay *rp)
{
    const struct dc_stats *l = &rp->live.res.stats;
    const struct dc_stats *s = &rp->sim.res.stats;
    (void)printf("vmloc replay: %s (%s), %zu VMs on %zu hosts, %zu steps of %g s, %s mode\n\n",
                 rp->trace_dir, trace_format_name(rp->format), rp->trace.n_vms, rp->n_hosts,
                 rp->n_steps, rp->step_s, replay_mode_name(rp->mode));
    (void)printf("%-24s %12s %12s %9s\n", "", "live", "simulator", "live/sim");
    struct {
        const char *name;
        double a, b;
        int decimals;
    } rows[] = {
        {"energy kWh", l->energy_kwh, s->energy_kwh, 3},
        {"migrations", (double)l->migrations, (double)s->migrations, 0},
        {"SLATAH %", l->slatah * 100, s->slatah * 100, 4},
        {"PDM %", l->pdm * 100, s->pdm * 100, 5},
        {"overloaded host-steps", rp->live.overloaded_host_steps, rp->sim.overloaded_host_steps, 0},
        {"host shutdowns", (double)l->host_shutdowns, (double)s->host_shutdowns, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char r[32];
        ratio(rows[i].a, rows[i].b, r, sizeof(r));
        (void)printf("%-24s %12.*f %12.*f %9s\n", rows[i].name, rows[i].decimals, rows[i].a,
                     rows[i].decimals, rows[i].b, r);
    }
    const struct replay_invariants *inv = &rp->inv;
    (void)printf("\ninvariants: vm_on_two_hosts %u, lost_vms %zu, returns_within_cooldown %zu, "
                 "failed_migrations %zu: %s\n",
                 (unsigned)inv->vm_on_two_hosts, inv->lost_vms, inv->returns_within_cooldown,
                 inv->failed_migrations, invariants_hold(inv) ? "hold" : "VIOLATED");
    if (inv->missed_observations > 0)
        (void)printf("observations: %llu host-steps without a fresh sample (counted as the step "
                     "before)\n",
                     (unsigned long long)inv->missed_observations);
    (void)printf("wall time %.1f s (simulator %.3f s)\n", rp->live.res.wall_s, rp->sim.res.wall_s);
}

int
replay_output(struct replay *rp)
{
    live_result(rp);
    if (rp->json) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:f,s:o,s:o,s:o}", "trace", rp->trace_dir,
                              "format", trace_format_name(rp->format), "mode",
                              replay_mode_name(rp->mode), "hosts", (json_int_t)rp->n_hosts, "vms",
                              (json_int_t)rp->trace.n_vms, "steps", (json_int_t)rp->n_steps,
                              "step_s", rp->step_s, "live", sim_run_json(&rp->live), "sim",
                              sim_run_json(&rp->sim), "invariants", invariants_json(&rp->inv));
        char *s = o != NULL ? json_dumps(o, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) : NULL;
        json_decref(o);
        if (s == NULL) {
            cli_error("replay: out of memory");
            return CLI_EXIT_FAIL;
        }
        (void)printf("%s\n", s);
        free(s);
    } else {
        print_table(rp);
    }
    int ret = CLI_EXIT_OK;
    if (rp->report != NULL) {
        struct sim_run runs[2] = {rp->live, rp->sim};
        char title[4200];
        (void)snprintf(title, sizeof(title), "%s (replay, %s mode, %zu steps of %g s)",
                       rp->trace_dir, replay_mode_name(rp->mode), rp->n_steps, rp->step_s);
        int r = sim_report_write(rp->report, title, runs, 2);
        if (r < 0) {
            cli_error("replay: %s: %s", rp->report, strerror(-r));
            ret = CLI_EXIT_FAIL;
        }
    }
    /* The live run's series belongs to rp->points, freed once. */
    rp->live.res.points = NULL;
    rp->live.res.n_points = 0;
    if (!invariants_hold(&rp->inv)) {
        cli_error("replay: invariants violated: %s%s%s",
                  rp->inv.vm_on_two_hosts > 1 ? "a VM ran on two hosts at once; " : "",
                  rp->inv.lost_vms > 0 ? "VMs were lost; " : "",
                  rp->inv.returns_within_cooldown > 0 ? "VMs came back within the cooldown" : "");
        return CLI_EXIT_FAIL;
    }
    return ret;
}

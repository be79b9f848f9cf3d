/* Human-readable plan report. */
#include "cli/plan_text.h"

static const char *
dest_rule(const struct policy *pol)
{
    switch (pol->dest_select) {
    case DEST_SELECT_LEAST_USED:
        return "least used";
    case DEST_SELECT_WEIGHTED:
        return "weighted free capacity";
    case DEST_SELECT_FREE:
        break;
    }
    return "most free";
}

void
plan_text_print(FILE *f, const struct cluster *cl, const struct policy *pol, const struct plan *p)
{
    (void)fprintf(f, "snapshot: %zu hosts, %zu VMs\n", cl->n_hosts, cl->n_vms);
    (void)fprintf(f, "conflicts: %zu\n", p->n_conflicts);
    for (size_t i = 0; i < p->n_conflicts; i++) {
        const struct plan_conflict *c = &p->conflicts[i];
        const struct host *h = &cl->hosts[c->host];
        (void)fprintf(f, "  %s:", h->name);
        for (size_t r = 0; r < pol->n_resources; r++) {
            enum kind k = pol->resources[r];
            if (!(c->kinds & KIND_BIT(k)))
                continue;
            (void)fprintf(f, " %s %.4g%% >= %.4g%% (VMs >= %.4g%%);", kind_name(k), h->usage.pct[k],
                          c->host_threshold[k], c->vm_threshold[k]);
        }
        (void)fprintf(f, " heavy VMs:");
        for (uint32_t j = 0; j < c->vm_count; j++)
            (void)fprintf(f, " %s", cl->vms[p->conflict_vms[c->vm_off + j]].name);
        if (pol->contention == CONTENTION_CONFIRM) {
            char why[256];
            plan_confirm_describe(pol, c, why, sizeof(why));
            (void)fprintf(f, "; %s", why);
        }
        (void)fprintf(f, "\n");
    }
    if (p->n_unconfirmed > 0)
        (void)fprintf(f, "usage conflicts not confirmed (not acted on): %zu\n", p->n_unconfirmed);
    for (size_t i = 0; i < p->n_unconfirmed; i++) {
        char why[256];
        plan_confirm_describe(pol, &p->unconfirmed[i], why, sizeof(why));
        (void)fprintf(f, "  %s: %s\n", cl->hosts[p->unconfirmed[i].host].name, why);
    }
    (void)fprintf(f, "migrations: %zu\n", p->n_moves);
    for (size_t i = 0; i < p->n_moves; i++) {
        const struct plan_move *m = &p->moves[i];
        enum kind k = pol->dest_select_resource;
        (void)fprintf(f, "  %s: %s -> %s  (%sVM uses %.4g%% %s of %s; %s: %s had %.4g%% used)\n",
                      cl->vms[m->vm].name, cl->hosts[m->from].name, cl->hosts[m->to].name,
                      m->why == PLAN_MOVE_DRAIN ? "drain; " : "", m->vm_usage[KIND_CPU], "cpu",
                      cl->hosts[m->from].name, dest_rule(pol), cl->hosts[m->to].name,
                      m->dest_usage[k]);
    }
    (void)fprintf(f, "unresolved: %zu\n", p->n_unresolved);
    for (size_t i = 0; i < p->n_unresolved; i++) {
        const struct plan_unresolved *u = &p->unresolved[i];
        if (u->vm != UINT32_MAX && u->rule_id > 0)
            (void)fprintf(f, "  %s: %s (for %s; rule \"%s\" keeps it off %s)\n",
                          cl->hosts[u->host].name, plan_reason_name(u->reason), cl->vms[u->vm].name,
                          pol->rules[u->rule_id - 1].name, cl->hosts[u->rule_host].name);
        else if (u->reason == PLAN_REASON_STORM_GUARD) {
            char held[400];
            plan_storm_describe(pol, cl, u->vm, u->until, held, sizeof(held));
            (void)fprintf(f, "  %s: %s (%s)\n", cl->hosts[u->host].name,
                          plan_reason_name(u->reason), held);
        } else if (u->vm != UINT32_MAX)
            (void)fprintf(f, "  %s: %s (for %s)\n", cl->hosts[u->host].name,
                          plan_reason_name(u->reason), cl->vms[u->vm].name);
        else
            (void)fprintf(f, "  %s: %s\n", cl->hosts[u->host].name, plan_reason_name(u->reason));
    }
    if (p->drains == NULL)
        return;
    (void)fprintf(f, "drains: %zu\n", p->n_drains);
    for (size_t i = 0; i < p->n_drains; i++) {
        const struct plan_drain *d = &p->drains[i];
        (void)fprintf(f, "  %s: %u VMs, %u moving", cl->hosts[d->host].name, (unsigned)d->vms_left,
                      (unsigned)d->moving);
        if (d->block != 0)
            (void)fprintf(f, "; blocked: %s%s%s", plan_block_name(d->block),
                          d->vm != UINT32_MAX ? " " : "",
                          d->vm != UINT32_MAX ? cl->vms[d->vm].name : "");
        (void)fprintf(f, "\n");
    }
}

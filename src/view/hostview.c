/* A collector's record of one host (hostview.h). */
#include "view/hostview.h"

#include <stdio.h>
#include <string.h>

void
hview_init(struct hview *h, const char *name, const char *url)
{
    memset(h, 0, sizeof(*h));
    (void)snprintf(h->name, sizeof(h->name), "%s", name);
    (void)snprintf(h->url, sizeof(h->url), "%s", url);
    h->up = true;
}

void
hview_done(struct hview *h)
{
    wire_sample_done(&h->sample);
    uhist_free(h->hist);
    h->hist = NULL;
    h->has_sample = false;
}

void
hview_take(struct hview *h, struct wire_sample *s, double now)
{
    wire_sample_done(&h->sample);
    h->sample = *s;
    memset(s, 0, sizeof(*s));
    h->has_sample = true;
    (void)snprintf(h->name, sizeof(h->name), "%s", h->sample.name);
    h->last_seen = now;
    hview_push_usage(h, h->sample.time, h->sample.usage, &h->sample.pressure);
}

void
hview_push_usage(struct hview *h, double time, const double *pct, const struct pressure *psi)
{
    if (h->hist == NULL)
        h->hist = uhist_new(HVIEW_HIST_GAP_S);
    if (h->hist != NULL)
        uhist_push(h->hist, time, pct, psi);
}

void
hview_thresholds(const struct policy *pol, const char *name, double capacity, double *ret)
{
    struct host model;
    memset(&model, 0, sizeof(model));
    model.name = name;
    model.capacity = capacity;
    struct host_params hp;
    policy_host_params(pol, &model, &hp);
    memcpy(ret, hp.host_threshold, sizeof(hp.host_threshold));
}

json_t *
hview_host_json(const struct wire_sample *s, const char *name, const char *url, const char *state,
                double last_seen, bool in_conflict, const struct policy *pol, const char *reason)
{
    double thr[KIND_COUNT];
    hview_thresholds(pol, name, s != NULL ? s->capacity : 1.0, thr);
    return wire_host_json(s, name, url, state, last_seen, in_conflict, thr, reason);
}

json_t *
hview_json(const struct hview *h, const struct policy *pol, const char *state, const char *reason)
{
    return hview_host_json(h->has_sample ? &h->sample : NULL, h->name[0] ? h->name : h->url, h->url,
                           state, h->last_seen, h->in_conflict, pol, reason);
}

json_t *
hview_history_json(const struct uhist *hist, const char *name, double capacity,
                   const struct policy *pol, double since)
{
    double thr[KIND_COUNT];
    hview_thresholds(pol, name, capacity, thr);
    return uhist_json(hist, name, thr, since);
}

/* One line per kind: `name{host="H"[,vm="V"],kind="K"} ratio`, names escaped. */
static void
usage_lines(struct mtext *t, const char *name, const char *host, const char *vm, const double *pct)
{
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        mtext_printf(t, "%s{host=\"", name);
        mtext_escaped(t, host);
        if (vm != NULL) {
            mtext_printf(t, "\",vm=\"");
            mtext_escaped(t, vm);
        }
        mtext_printf(t, "\",kind=\"%s\"} %.6g\n", kind_name((enum kind)k), pct[k] / 100.0);
    }
}

/* vmloc_vm_cpu_wait_ratio and vmloc_host_pressure_ratio: only what the hosts measured. */
static void
contention_metrics(struct mtext *t, const struct wire_sample *const *samples, size_t n)
{
    mtext_family(t, "vmloc_vm_cpu_wait_ratio", "gauge",
                 "Share of wall time a VM's vCPUs were runnable but not running, where measured");
    for (size_t i = 0; i < n; i++) {
        const struct wire_sample *s = samples[i];
        for (size_t j = 0; j < s->n_vms; j++) {
            if (s->vms[j].incoming || !s->vms[j].has_cpu_wait)
                continue;
            mtext_printf(t, "vmloc_vm_cpu_wait_ratio{host=\"");
            mtext_escaped(t, s->name);
            mtext_printf(t, "\",vm=\"");
            mtext_escaped(t, s->vms[j].name);
            mtext_printf(t, "\"} %.6g\n", s->vms[j].cpu_wait / 100.0);
        }
    }
    mtext_family(
        t, "vmloc_host_pressure_ratio", "gauge",
        "A host's pressure stall information (PSI, 10 s average), where the kernel has it");
    for (size_t i = 0; i < n; i++) {
        const struct pressure *p = &samples[i]->pressure;
        for (unsigned r = 0; r < PRESSURE_RES_COUNT; r++) {
            for (unsigned l = 0; l < PRESSURE_LINE_COUNT; l++) {
                if (!(p->present & PRESSURE_BIT(r, l)))
                    continue;
                mtext_printf(t, "vmloc_host_pressure_ratio{host=\"");
                mtext_escaped(t, samples[i]->name);
                mtext_printf(t, "\",resource=\"%s\",kind=\"%s\"} %.6g\n",
                             pressure_res_name((enum pressure_res)r),
                             pressure_line_name((enum pressure_line)l), p->pct[r][l] / 100.0);
            }
        }
    }
}

void
hview_usage_metrics(struct mtext *t, const struct wire_sample *const *samples, size_t n)
{
    mtext_family(t, "vmloc_host_usage_ratio", "gauge",
                 "A host's usage per kind in its latest sample (1 = the host's capacity)");
    for (size_t i = 0; i < n; i++)
        usage_lines(t, "vmloc_host_usage_ratio", samples[i]->name, NULL, samples[i]->usage);
    mtext_family(t, "vmloc_vm_usage_ratio", "gauge",
                 "A VM's usage per kind in its host's latest sample (1 = the host's capacity)");
    for (size_t i = 0; i < n; i++) {
        const struct wire_sample *s = samples[i];
        for (size_t j = 0; j < s->n_vms; j++) {
            if (!s->vms[j].incoming) /* not yet this host's (the source still lists it) */
                usage_lines(t, "vmloc_vm_usage_ratio", s->name, s->vms[j].name, s->vms[j].usage);
        }
    }
    contention_metrics(t, samples, n);
}

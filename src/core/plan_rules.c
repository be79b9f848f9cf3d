/* Placement rules and excluded hosts in a plan's working state (plan_work.h): their VMs and
 * hosts found by name once per plan, and whether a move keeps a rule (policy.md, placement rules).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/plan_work.h"

/* Name lookups for the rules: (name, index) pairs sorted by name. */
struct named {
    const char *name;
    uint32_t idx;
};

static int
named_cmp(const void *a, const void *b)
{
    return strcmp(((const struct named *)a)->name, ((const struct named *)b)->name);
}

/* The index of `name` in `tab` (n entries, sorted), or -1. */
static int64_t
named_find(const struct named *tab, size_t n, const char *name)
{
    struct named key = {name, 0};
    const struct named *f = n > 0 ? bsearch(&key, tab, n, sizeof(*tab), named_cmp) : NULL;
    return f != NULL ? (int64_t)f->idx : -1;
}

/* Each rule's VMs and hosts in this cluster, found by name in the sorted tables `vt` and
 * `ht`; fill[v] counts the rules of VM v. */
static void
rules_resolve(struct work *w, const struct named *vt, const struct named *ht, uint32_t *fill)
{
    const struct cluster *cl = w->cl;
    const struct policy *pol = w->pol;
    size_t nr = pol->n_rules;
    size_t nv = 0;
    size_t nh = 0;
    for (size_t i = 0; i < nr; i++) {
        const struct placement_rule *pr = &pol->rules[i];
        w->rule_vm_off[i] = (uint32_t)nv;
        w->rule_host_off[i] = (uint32_t)nh;
        for (size_t j = 0; j < pr->n_vms; j++) {
            int64_t v = named_find(vt, cl->n_vms, pr->vms[j]);
            if (v >= 0) {
                w->rule_vms[nv++] = (uint32_t)v;
                fill[v]++;
            }
        }
        for (size_t j = 0; j < pr->n_hosts; j++) {
            int64_t h = named_find(ht, cl->n_hosts, pr->hosts[j]);
            if (h >= 0)
                w->rule_hosts[nh++] = (uint32_t)h;
        }
    }
    w->rule_vm_off[nr] = (uint32_t)nv;
    w->rule_host_off[nr] = (uint32_t)nh;
}

/* Each VM's rules, from the counts in `fill`: counts to offsets, then filled in rule order. */
static void
vm_rules_index(struct work *w, uint32_t *fill)
{
    const struct cluster *cl = w->cl;
    uint32_t acc = 0;
    for (size_t v = 0; v < cl->n_vms; v++) {
        w->vm_rule_off[v] = acc;
        acc += fill[v];
        fill[v] = 0;
    }
    w->vm_rule_off[cl->n_vms] = acc;
    for (size_t i = 0; i < w->pol->n_rules; i++) {
        for (uint32_t j = w->rule_vm_off[i]; j < w->rule_vm_off[i + 1]; j++) {
            uint32_t v = w->rule_vms[j];
            w->vm_rules[w->vm_rule_off[v] + fill[v]++] = (uint32_t)i;
        }
    }
}

/* Map the policy's rules and excluded hosts onto this cluster's indices. Names the cluster
 * does not have are left out. 0 or -ENOMEM. */
int
plan_work_prepare_rules(struct work *w)
{
    const struct cluster *cl = w->cl;
    const struct policy *pol = w->pol;
    if (pol->n_rules == 0 && pol->n_exclude_hosts == 0)
        return 0;
    struct named *vt = malloc((cl->n_vms + 1) * sizeof(*vt));
    struct named *ht = malloc((cl->n_hosts + 1) * sizeof(*ht));
    uint32_t *fill = calloc(cl->n_vms + 1, sizeof(*fill));
    int r = -ENOMEM;
    if (vt == NULL || ht == NULL || fill == NULL)
        goto out;
    for (size_t i = 0; i < cl->n_vms; i++)
        vt[i] = (struct named){cl->vms[i].name, (uint32_t)i};
    for (size_t i = 0; i < cl->n_hosts; i++)
        ht[i] = (struct named){cl->hosts[i].name, (uint32_t)i};
    qsort(vt, cl->n_vms, sizeof(*vt), named_cmp);
    qsort(ht, cl->n_hosts, sizeof(*ht), named_cmp);
    w->excluded = calloc(cl->n_hosts + 1, sizeof(*w->excluded));
    if (w->excluded == NULL)
        goto out;
    for (size_t i = 0; i < pol->n_exclude_hosts; i++) {
        int64_t h = named_find(ht, cl->n_hosts, pol->exclude_hosts[i]);
        if (h >= 0)
            w->excluded[h] = true;
    }
    size_t nr = pol->n_rules;
    size_t total_vms = 0;
    size_t total_hosts = 0;
    for (size_t i = 0; i < nr; i++) {
        total_vms += pol->rules[i].n_vms;
        total_hosts += pol->rules[i].n_hosts;
    }
    w->rule_vm_off = calloc(nr + 1, sizeof(*w->rule_vm_off));
    w->rule_vms = malloc((total_vms + 1) * sizeof(*w->rule_vms));
    w->rule_host_off = calloc(nr + 1, sizeof(*w->rule_host_off));
    w->rule_hosts = malloc((total_hosts + 1) * sizeof(*w->rule_hosts));
    w->vm_rule_off = calloc(cl->n_vms + 1, sizeof(*w->vm_rule_off));
    w->vm_rules = malloc((total_vms + 1) * sizeof(*w->vm_rules));
    if (!w->rule_vm_off || !w->rule_vms || !w->rule_host_off || !w->rule_hosts || !w->vm_rule_off ||
        !w->vm_rules)
        goto out;
    rules_resolve(w, vt, ht, fill);
    vm_rules_index(w, fill);
    r = 0;
out:
    free(vt);
    free(ht);
    free(fill);
    return r;
}

/* Where VM `v` is in the working copy. */
static uint32_t
loc(const struct work *w, uint32_t v)
{
    return w->vm_loc[v] >= 0 ? w->moved[w->vm_loc[v]].host : w->cl->vms[v].host;
}

/* Would VM `v` on host `d` keep rule `r`? */
bool
plan_work_rule_kept(const struct work *w, uint32_t r, uint32_t v, size_t d)
{
    const struct placement_rule *pr = &w->pol->rules[r];
    switch (pr->kind) {
    case RULE_APART:
    case RULE_TOGETHER:
        for (uint32_t j = w->rule_vm_off[r]; j < w->rule_vm_off[r + 1]; j++) {
            uint32_t u = w->rule_vms[j];
            if (u == v)
                continue;
            bool same = loc(w, u) == d;
            if (pr->kind == RULE_APART ? same : !same)
                return false;
        }
        return true;
    case RULE_ON:
    case RULE_NOT_ON: {
        bool in = false;
        for (uint32_t j = w->rule_host_off[r]; j < w->rule_host_off[r + 1] && !in; j++)
            in = w->rule_hosts[j] == d;
        return pr->kind == RULE_ON ? in : !in;
    }
    }
    return true;
}

bool
plan_work_has_rules(const struct work *w, uint32_t v)
{
    return w->vm_rule_off != NULL && w->vm_rule_off[v + 1] > w->vm_rule_off[v];
}

/* Is VM `v` (on `src`) held by a "must together" rule: a mate of it still on `src`, so any
 * move breaks the rule? */
bool
plan_work_held_together(const struct work *w, uint32_t v, size_t src)
{
    if (!plan_work_has_rules(w, v))
        return false;
    for (uint32_t k = w->vm_rule_off[v]; k < w->vm_rule_off[v + 1]; k++) {
        uint32_t r = w->vm_rules[k];
        if (w->pol->rules[r].kind != RULE_TOGETHER || !w->pol->rules[r].must)
            continue;
        for (uint32_t j = w->rule_vm_off[r]; j < w->rule_vm_off[r + 1]; j++) {
            uint32_t u = w->rule_vms[j];
            if (u != v && loc(w, u) == src)
                return true;
        }
    }
    return false;
}

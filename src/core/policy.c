/* Policy defaults, per-host overrides and their resolution. */
#include "core/policy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"

void
policy_init(struct policy *pol)
{
    memset(pol, 0, sizeof(*pol));
    pol->resources[0] = KIND_CPU;
    pol->n_resources = 1;
    pol->combine = COMBINE_ANY;
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        pol->host_threshold[k] = 80.0;
        pol->vm_threshold_value[k] = 20.0;
    }
    pol->vm_threshold = VM_THRESHOLD_FIXED;
    pol->vm_threshold_k = 0.0;
    pol->min_vms = 2;
    pol->contention = CONTENTION_OFF;
    pol->contention_wait_pct = 5.0;
    pol->contention_pressure_pct = 10.0;
    pol->vm_select = VM_SELECT_USAGE;
    pol->vm_select_resource = KIND_CPU;
    pol->dest_select = DEST_SELECT_FREE;
    pol->dest_select_resource = KIND_CPU;
    pol->prefer_busy_hosts = false;
    pol->dest_headroom = true;
    pol->persist_k = 1;
    pol->persist_n = 1;
    pol->cooldown_s = 300.0;
    pol->max_moves_per_vm = 4;
    pol->storm_window_s = 3600.0;
    pol->consolidate_below = 0.0;
    pol->consolidate_target = 60.0;
    pol->weights[KIND_CPU] = 1.0;
    pol->weight_priority = 0.0;
}

void
policy_done(struct policy *pol)
{
    if (pol == NULL)
        return;
    for (size_t i = 0; i < pol->n_overrides; i++)
        free(pol->overrides[i].name);
    free(pol->overrides);
    for (size_t i = 0; i < pol->n_rules; i++) {
        struct placement_rule *r = &pol->rules[i];
        free(r->name);
        for (size_t j = 0; j < r->n_vms; j++)
            free(r->vms[j]);
        free(r->vms);
        for (size_t j = 0; j < r->n_hosts; j++)
            free(r->hosts[j]);
        free(r->hosts);
    }
    free(pol->rules);
    for (size_t i = 0; i < pol->n_exclude_hosts; i++)
        free(pol->exclude_hosts[i]);
    free(pol->exclude_hosts);
    policy_init(pol);
}

unsigned
policy_resource_mask(const struct policy *pol)
{
    unsigned m = 0;
    for (size_t i = 0; i < pol->n_resources; i++)
        m |= KIND_BIT(pol->resources[i]);
    return m;
}

const char *
rule_kind_name(enum rule_kind k)
{
    switch (k) {
    case RULE_TOGETHER:
        return "together";
    case RULE_APART:
        return "apart";
    case RULE_ON:
        return "on";
    case RULE_NOT_ON:
        return "not-on";
    }
    return "?";
}

static char *
copy_name(const char *name, size_t len)
{
    char *c = malloc(len + 1);
    if (c == NULL)
        return NULL;
    if (len > 0)
        memcpy(c, name, len);
    c[len] = '\0';
    return c;
}

int
policy_names_add(char ***list, size_t *n, const char *name, size_t len)
{
    if (len > MODEL_MAX_NAME)
        return -E2BIG;
    char **l = realloc(*list, (*n + 1) * sizeof(*l));
    if (l == NULL)
        return -ENOMEM;
    *list = l;
    l[*n] = copy_name(name, len);
    if (l[*n] == NULL)
        return -ENOMEM;
    (*n)++;
    return 0;
}

int
policy_rule_get(struct policy *pol, const char *name, size_t len, struct placement_rule **ret_r)
{
    if (len > MODEL_MAX_NAME)
        return -E2BIG;
    for (size_t i = 0; i < pol->n_rules; i++) {
        const char *n = pol->rules[i].name;
        if (strlen(n) == len && memcmp(n, name, len) == 0) {
            *ret_r = &pol->rules[i];
            return 0;
        }
    }
    struct placement_rule *p =
        grow_array(pol->rules, &pol->cap_rules, pol->n_rules + 1, sizeof(*p), 4);
    if (p == NULL)
        return -ENOMEM;
    pol->rules = p;
    char *copy = copy_name(name, len);
    if (copy == NULL)
        return -ENOMEM;
    struct placement_rule *r = &pol->rules[pol->n_rules++];
    memset(r, 0, sizeof(*r));
    r->name = copy;
    r->must = true;
    *ret_r = r;
    return 0;
}

int
policy_override_get(struct policy *pol, const char *name, size_t len, struct host_override **ret_o)
{
    if (len > MODEL_MAX_NAME)
        return -E2BIG;
    for (size_t i = 0; i < pol->n_overrides; i++) {
        const char *n = pol->overrides[i].name;
        if (strlen(n) == len && memcmp(n, name, len) == 0) {
            *ret_o = &pol->overrides[i];
            return 0;
        }
    }
    struct host_override *p =
        grow_array(pol->overrides, &pol->cap_overrides, pol->n_overrides + 1, sizeof(*p), 8);
    if (p == NULL)
        return -ENOMEM;
    pol->overrides = p;
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return -ENOMEM;
    if (len > 0)
        memcpy(copy, name, len);
    copy[len] = '\0';
    struct host_override *o = &pol->overrides[pol->n_overrides++];
    memset(o, 0, sizeof(*o));
    o->name = copy;
    o->capacity = 1.0;
    *ret_o = o;
    return 0;
}

static int
override_cmp(const void *a, const void *b)
{
    const struct host_override *x = a;
    const struct host_override *y = b;
    return strcmp(x->name, y->name);
}

void
policy_finish(struct policy *pol)
{
    if (pol->n_overrides > 1)
        qsort(pol->overrides, pol->n_overrides, sizeof(*pol->overrides), override_cmp);
}

const struct host_override *
policy_override_find(const struct policy *pol, const char *name)
{
    size_t lo = 0;
    size_t hi = pol->n_overrides;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, pol->overrides[mid].name);
        if (c == 0)
            return &pol->overrides[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

void
policy_host_params(const struct policy *pol, const struct host *h, struct host_params *ret)
{
    const struct host_override *o = NULL;
    if (pol->n_overrides > 0)
        o = policy_override_find(pol, h->name);
    ret->capacity = h->capacity;
    ret->mem_reserve_mib = pol->mem_reserve_mib;
    for (unsigned k = 0; k < KIND_COUNT; k++)
        ret->host_threshold[k] = pol->host_threshold[k];
    if (o == NULL)
        return;
    if (o->has_capacity)
        ret->capacity = o->capacity;
    if (o->has_mem_reserve)
        ret->mem_reserve_mib = o->mem_reserve_mib;
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if (o->has_threshold & KIND_BIT(k))
            ret->host_threshold[k] = o->host_threshold[k];
        else if (o->has_threshold_all)
            ret->host_threshold[k] = o->host_threshold_all;
    }
}

uint32_t
policy_persist_push(uint32_t seen, bool conflict)
{
    return (seen << 1) | (conflict ? 1u : 0u);
}

bool
policy_persist_holds(const struct policy *pol, uint32_t seen)
{
    uint32_t n = pol->persist_n;
    if (n == 0 || n > POLICY_MAX_PERSIST_N)
        n = 1;
    uint32_t w = seen & ((1u << n) - 1u);
    uint32_t c = 0;
    while (w != 0) {
        w &= w - 1u;
        c++;
    }
    return c >= (pol->persist_k > 0 ? pol->persist_k : 1u);
}

bool
policy_cooling_until(const struct policy *pol, double arrived, double now, double *ret_until)
{
    /* An arrival more than a minute in the future comes from a clock that is wrong: unknown,
     * rather than a VM held for as long as that clock is ahead. */
    if (!(pol->cooldown_s > 0 && arrived >= 0 && arrived <= now + 60.0 &&
          now - arrived < pol->cooldown_s))
        return false;
    if (ret_until != NULL)
        *ret_until = arrived + pol->cooldown_s;
    return true;
}

bool
policy_vm_cooling(const struct policy *pol, const struct cluster *cl, size_t vi)
{
    return cl->has_time && policy_cooling_until(pol, cl->vms[vi].arrived, cl->time, NULL);
}

/* The moves that count at `now`, oldest first: moves[*ret_lo .. *ret_hi). Moves dated more
 * than a minute after `now` come from a wrong clock and do not count. */
static void
storm_range(const struct policy *pol, const double *t, size_t n, double now, size_t *ret_lo,
            size_t *ret_hi)
{
    size_t lo = 0;
    size_t hi = n;
    while (hi > lo && t[hi - 1] > now + 60.0)
        hi--;
    while (lo < hi && !(now - t[lo] < pol->storm_window_s))
        lo++;
    *ret_lo = lo;
    *ret_hi = hi;
}

uint32_t
policy_storm_count(const struct policy *pol, const double *moves, size_t n, double now)
{
    size_t lo;
    size_t hi;
    storm_range(pol, moves, n, now, &lo, &hi);
    return (uint32_t)(hi - lo);
}

bool
policy_storm_until(const struct policy *pol, const double *moves, size_t n, uint32_t extra,
                   double now, double *ret_until)
{
    if (pol->max_moves_per_vm == 0)
        return false;
    size_t lo;
    size_t hi;
    storm_range(pol, moves, n, now, &lo, &hi);
    size_t count = hi - lo + extra;
    if (count < pol->max_moves_per_vm)
        return false;
    if (ret_until != NULL) {
        /* It may move again once only max - 1 of these are left in the window: when the
         * move count - max + 1 from the oldest leaves it (the `extra` ones are at `now`). */
        size_t j = lo + (count - pol->max_moves_per_vm);
        double oldest = j < hi ? moves[j] : now;
        *ret_until = oldest + pol->storm_window_s;
    }
    return true;
}

bool
policy_vm_storm_guarded(const struct policy *pol, const struct cluster *cl, size_t vi,
                        uint32_t extra, double *ret_until)
{
    if (!cl->has_time)
        return false;
    const struct vm *v = &cl->vms[vi];
    return policy_storm_until(pol, cluster_vm_moves(cl, v), v->moves_count, extra, cl->time,
                              ret_until);
}

bool
policy_vm_has_rules(const struct policy *pol, const char *name)
{
    for (size_t i = 0; i < pol->n_rules; i++) {
        for (size_t j = 0; j < pol->rules[i].n_vms; j++) {
            if (strcmp(pol->rules[i].vms[j], name) == 0)
                return true;
        }
    }
    return false;
}

const char *
automation_name(enum automation a)
{
    switch (a) {
    case AUTOMATION_AUTOMATIC:
        return "automatic";
    case AUTOMATION_MANUAL:
        return "manual";
    case AUTOMATION_DRY_RUN:
        return "dry-run";
    }
    return "?";
}

bool
policy_host_excluded(const struct policy *pol, const char *name)
{
    for (size_t i = 0; i < pol->n_exclude_hosts; i++) {
        if (strcmp(pol->exclude_hosts[i], name) == 0)
            return true;
    }
    return false;
}

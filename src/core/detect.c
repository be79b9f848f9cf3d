/* Conflict detection on one host (policy.md §3).
 *
 * For each checked kind r: the host part holds when U_r >= its host threshold; a VM is high
 * in r when its usage of r >= T_r, where T_r is the fixed value or U_r / N - k. With `any`,
 * a kind triggers when the host part holds and at least min_vms VMs are high in it; with
 * `all`, the host part must hold in every kind and at least min_vms VMs must be high in
 * every kind. Two passes over the host's VMs: count, then collect. With contention =
 * confirm, the conflict found so stands only when at least min_vms of the VMs collected
 * wait at least contention_wait_pct, or the host's cpu pressure (`some`) is at least
 * contention_pressure_pct; an unknown wait or pressure confirms nothing. */
#include "core/detect.h"

#include <string.h>

/* Is VM `v` high in every kind of `mask` under thresholds `t`? */
static bool
high_in_all(const struct vm *v, unsigned mask, const double *t)
{
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if ((mask & KIND_BIT(k)) && !(usage_get(&v->usage, (enum kind)k) >= t[k]))
            return false;
    }
    return true;
}

/* Is VM `v` high in at least one kind of `mask`? */
static bool
high_in_any(const struct vm *v, unsigned mask, const double *t)
{
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if ((mask & KIND_BIT(k)) && usage_get(&v->usage, (enum kind)k) >= t[k])
            return true;
    }
    return false;
}

/* The thresholds of `ret` for host `h` with `n` VMs; returns the checked kinds in which the
 * host is at or over its own threshold. */
static unsigned
host_thresholds(const struct policy *pol, const struct host_params *hp, const struct host *h,
                uint32_t n, unsigned checked, struct detection *ret)
{
    unsigned host_part = 0;
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        double u = usage_get(&h->usage, (enum kind)k);
        ret->host_threshold[k] = hp->host_threshold[k];
        if (pol->vm_threshold == VM_THRESHOLD_SHARE)
            ret->vm_threshold[k] = n > 0 ? u / (double)n - pol->vm_threshold_k : 0.0;
        else
            ret->vm_threshold[k] = pol->vm_threshold_value[k];
        if ((checked & KIND_BIT(k)) && u >= hp->host_threshold[k])
            host_part |= KIND_BIT(k);
    }
    return host_part;
}

/* How many of the `n` VMs are high in each checked kind, into ret->high. */
static void
count_high(const struct vm *vms, uint32_t n, unsigned checked, struct detection *ret)
{
    for (uint32_t j = 0; j < n; j++) {
        for (unsigned k = 0; k < KIND_COUNT; k++) {
            if ((checked & KIND_BIT(k)) &&
                usage_get(&vms[j].usage, (enum kind)k) >= ret->vm_threshold[k])
                ret->high[k]++;
        }
    }
}

/* The kinds that make a conflict (policy.md §3, `combine`), 0 when there is none: with
 * "all", the host over its threshold in every checked kind and min_vms VMs high in all of
 * them; with "any", each kind in which the host is over and min_vms VMs are high. */
static unsigned
triggered(const struct policy *pol, const struct vm *vms, uint32_t n, unsigned checked,
          unsigned host_part, const struct detection *ret)
{
    if (pol->combine == COMBINE_ALL) {
        if (host_part != checked)
            return 0;
        uint32_t count = 0;
        for (uint32_t j = 0; j < n; j++) {
            if (high_in_all(&vms[j], checked, ret->vm_threshold))
                count++;
        }
        return count < pol->min_vms ? 0 : checked;
    }
    unsigned trig = 0;
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if ((host_part & KIND_BIT(k)) && ret->high[k] >= pol->min_vms)
            trig |= KIND_BIT(k);
    }
    return trig;
}

/* Under contention = confirm: do the heavy VMs `heavy` (`n`) or the host's pressure confirm
 * the usage conflict? Sets ret->confirmed_by and ret->waiting. */
static void
confirm(const struct cluster *cl, const struct policy *pol, const struct host *h,
        const uint32_t *heavy, size_t n, struct detection *ret)
{
    for (size_t i = 0; i < n; i++) {
        const struct vm *v = &cl->vms[heavy[i]];
        if (v->has_cpu_wait && v->cpu_wait_pct >= pol->contention_wait_pct)
            ret->waiting++;
    }
    if (ret->waiting >= pol->min_vms)
        ret->confirmed_by |= DETECT_BY_WAIT;
    if (pressure_has(&h->pressure, PRESSURE_CPU, PRESSURE_SOME) &&
        h->pressure.pct[PRESSURE_CPU][PRESSURE_SOME] >= pol->contention_pressure_pct)
        ret->confirmed_by |= DETECT_BY_PRESSURE;
}

/* Seven parameters, the contract of detect.h that 19 callers use.
 * NOLINTBEGIN(readability-function-size) */
void
detect_host(const struct cluster *cl, const struct policy *pol, const struct host_params *hp,
            size_t hi, struct detection *ret, uint32_t *ret_vms, size_t *ret_n_vms)
{
    const struct host *h = &cl->hosts[hi];
    const struct vm *vms = h->vm_count > 0 ? &cl->vms[h->vm_first] : NULL;
    uint32_t n = h->vm_count;
    unsigned checked = policy_resource_mask(pol);

    memset(ret, 0, sizeof(*ret));
    *ret_n_vms = 0;
    unsigned host_part = host_thresholds(pol, hp, h, n, checked, ret);
    if (h->state != HOST_UP || n < pol->min_vms || checked == 0)
        return;
    count_high(vms, n, checked, ret);
    unsigned trig = triggered(pol, vms, n, checked, host_part, ret);
    if (trig == 0)
        return;
    size_t out = 0;
    for (uint32_t j = 0; j < n; j++) {
        bool pick = pol->combine == COMBINE_ALL ? high_in_all(&vms[j], trig, ret->vm_threshold)
                                                : high_in_any(&vms[j], trig, ret->vm_threshold);
        if (pick)
            ret_vms[out++] = h->vm_first + j;
    }
    ret->kinds = (uint8_t)trig;
    if (pol->contention == CONTENTION_CONFIRM) {
        confirm(cl, pol, h, ret_vms, out, ret);
        ret->unconfirmed = ret->confirmed_by == 0;
    }
    ret->conflict = !ret->unconfirmed;
    *ret_n_vms = out;
}
/* NOLINTEND(readability-function-size) */

/* The simulated hypervisor's allocation model (see simhost.h). */
#include "agent/simhost.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpuwait.h"
#include "core/grow.h"

const char *
simvm_state_name(enum simvm_state s)
{
    switch (s) {
    case SIMVM_MIGRATING_OUT:
        return "migrating-out";
    case SIMVM_INCOMING:
        return "incoming";
    case SIMVM_RUNNING:
        break;
    }
    return "running";
}

int
simhost_init(struct simhost *hv, const char *name)
{
    memset(hv, 0, sizeof(*hv));
    size_t n = strlen(name);
    if (n == 0 || n > MODEL_MAX_NAME)
        return -E2BIG;
    memcpy(hv->host_name, name, n + 1);
    hv->capacity = 1.0;
    hv->mem_mib = 65536.0;
    hv->overhead[KIND_CPU] = 2.0;
    return 0;
}

void
simhost_done(struct simhost *hv)
{
    if (hv == NULL)
        return;
    free(hv->vms);
    hv->vms = NULL;
    hv->n_vms = 0;
    hv->cap_vms = 0;
}

long
simhost_find(const struct simhost *hv, const char *name)
{
    for (size_t i = 0; i < hv->n_vms; i++) {
        if (strcmp(hv->vms[i].name, name) == 0)
            return (long)i;
    }
    return -1;
}

double
simhost_mem_used(const struct simhost *hv)
{
    double m = 0.0;
    for (size_t i = 0; i < hv->n_vms; i++)
        m += hv->vms[i].mem_mib;
    return m;
}

static bool
demand_ok(const double *d)
{
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if (!(d[k] >= 0.0 && d[k] <= 100.0))
            return false;
    }
    return true;
}

int
simhost_add(struct simhost *hv, const struct simvm *vm)
{
    if (simhost_find(hv, vm->name) >= 0)
        return -EEXIST;
    if (!demand_ok(vm->demand) || !(vm->mem_mib >= 0.0))
        return -EINVAL;
    if (simhost_mem_used(hv) + vm->mem_mib > hv->mem_mib)
        return -ENOSPC;
    struct simvm *p = grow_array(hv->vms, &hv->cap_vms, hv->n_vms + 1, sizeof(*p), 8);
    if (p == NULL)
        return -ENOMEM;
    hv->vms = p;
    hv->vms[hv->n_vms++] = *vm;
    return 0;
}

int
simhost_remove(struct simhost *hv, const char *name)
{
    long i = simhost_find(hv, name);
    if (i < 0)
        return -ENOENT;
    memmove(&hv->vms[i], &hv->vms[i + 1], (hv->n_vms - (size_t)i - 1) * sizeof(*hv->vms));
    hv->n_vms--;
    return 0;
}

int
simhost_set_demand(struct simhost *hv, const char *name, unsigned mask, const double *pct)
{
    long i = simhost_find(hv, name);
    if (i < 0)
        return -ENOENT;
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if ((mask & KIND_BIT(k)) && !(pct[k] >= 0.0 && pct[k] <= 100.0))
            return -EINVAL;
    }
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        if (mask & KIND_BIT(k))
            hv->vms[i].demand[k] = pct[k];
    }
    return 0;
}

int
simhost_set_state(struct simhost *hv, const char *name, enum simvm_state s)
{
    long i = simhost_find(hv, name);
    if (i < 0)
        return -ENOENT;
    hv->vms[i].state = s;
    return 0;
}

void
simhost_allocate(const struct simhost *hv, double (*ret_usage)[KIND_COUNT], double *ret_host)
{
    for (unsigned k = 0; k < KIND_COUNT; k++) {
        double avail = 100.0 - hv->overhead[k];
        if (avail < 0.0)
            avail = 0.0;
        double want = 0.0;
        for (size_t i = 0; i < hv->n_vms; i++) {
            const struct simvm *v = &hv->vms[i];
            want +=
                v->state == SIMVM_INCOMING ? v->demand[k] * SIMHOST_INCOMING_SHARE : v->demand[k];
        }
        double scale = want > avail && want > 0.0 ? avail / want : 1.0;
        double total = hv->overhead[k];
        for (size_t i = 0; i < hv->n_vms; i++) {
            const struct simvm *v = &hv->vms[i];
            double got = v->demand[k] * scale;
            if (v->state == SIMVM_INCOMING) {
                total += got * SIMHOST_INCOMING_SHARE;
                got = 0.0;
            } else {
                total += got;
                if (v->state == SIMVM_MIGRATING_OUT)
                    got *= SIMHOST_MIGRATION_SLOWDOWN;
            }
            ret_usage[i][k] = got;
        }
        ret_host[k] = total > 100.0 ? 100.0 : total;
    }
}

/* What the host's VMs ask of its CPU, arrivals with their reservation (as simhost_allocate()
 * counts them). */
static double
cpu_want(const struct simhost *hv)
{
    double want = 0.0;
    for (size_t i = 0; i < hv->n_vms; i++) {
        const struct simvm *v = &hv->vms[i];
        want += v->state == SIMVM_INCOMING ? v->demand[KIND_CPU] * SIMHOST_INCOMING_SHARE
                                           : v->demand[KIND_CPU];
    }
    return want;
}

bool
simhost_cpu_stalled(const struct simhost *hv)
{
    return cpuwait_unmet_pct(cpu_want(hv), 100.0 - hv->overhead[KIND_CPU]) > 0.0;
}

void
simhost_cpu_wait(const struct simhost *hv, double *ret_wait)
{
    /* As simhost_allocate() shares the CPU: each VM gets the same fraction of its demand. */
    double unmet = cpuwait_unmet_pct(cpu_want(hv), 100.0 - hv->overhead[KIND_CPU]);
    for (size_t i = 0; i < hv->n_vms; i++) {
        const struct simvm *v = &hv->vms[i];
        if (v->state == SIMVM_INCOMING)
            ret_wait[i] = -1.0;
        else
            ret_wait[i] = v->demand[KIND_CPU] > 0.0 ? unmet : 0.0;
    }
}

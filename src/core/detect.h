/* Resource conflict detection on one host (the patent's conflict detection unit): the host
 * is near its limit in a kind and at least `min_vms` of its VMs are heavy in that kind at
 * once. Reads the model and the policy; writes only the caller's result. The manager, the
 * per-host detector of edge and peer agents, the simulator and `plan` all call this. */
#ifndef VMLOC_CORE_DETECT_H
#define VMLOC_CORE_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/model.h"
#include "core/policy.h"

/* What confirmed a usage conflict under [detect] contention = confirm (a mask). */
#define DETECT_BY_WAIT 0x1u     /* min_vms heavy VMs wait at least contention_wait_pct */
#define DETECT_BY_PRESSURE 0x2u /* the host's cpu pressure (some) >= contention_pressure_pct */

struct detection {
    bool conflict;
    /* contention = confirm only: the usage rule found a conflict that neither signal confirmed
     * (then `conflict` is false; `kinds` and the VMs written are the usage conflict's). */
    bool unconfirmed;
    uint8_t confirmed_by; /* DETECT_BY_* that confirmed `conflict`; 0 with contention off */
    uint32_t waiting;     /* contention = confirm: heavy VMs waiting >= contention_wait_pct */
    uint8_t kinds;        /* KIND_BIT mask of the kinds that triggered */
    double host_threshold[KIND_COUNT]; /* thresholds in force for this host, per kind */
    double vm_threshold[KIND_COUNT];
    uint32_t high[KIND_COUNT]; /* how many VMs were high, per checked kind */
};

/* Check host `hi` of `cl` under `pol`, with its resolved parameters `hp`. Fills *ret and, when
 * ret->conflict or ret->unconfirmed, writes the indices (into cl->vms) of the conflicting VMs,
 * in model order, to `ret_vms` (room for at least the host's vm_count entries) and their
 * number to *ret_n_vms (0 otherwise). A host that is not up, or runs fewer than min_vms VMs, is
 * never in conflict. With pol->contention == CONTENTION_CONFIRM a usage conflict is a
 * conflict only when confirmed (ret->confirmed_by says by what); else ret->unconfirmed. Borrows
 * everything; cannot fail. */
void detect_host(const struct cluster *cl, const struct policy *pol, const struct host_params *hp,
                 size_t hi, struct detection *ret, uint32_t *ret_vms, size_t *ret_n_vms);

#endif

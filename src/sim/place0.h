/* Placement at time 0, the reference's way, in about log(hosts) per VM instead of a scan of
 * every host. At time 0 no host has been processed yet, so the power-aware best fit
 * compares P(type, (allocated + VM) / capacity) - P(type, 0) and prefers, within a host type,
 * the least allocated suitable host (lowest index on ties); suitability depends only on the
 * host's type, allocated MIPS, memory used and VM count. Hosts with equal such state are
 * interchangeable except for their index, so they are kept in groups, each a min-heap of
 * host indices, and a VM looks at the head of each group: the result is exactly the one a
 * full scan gives. First fit (lowest suitable index) uses the same groups. No I/O. */
#ifndef VMLOC_SIM_PLACE0_H
#define VMLOC_SIM_PLACE0_H

#include <stdbool.h>
#include <stdint.h>

#include "core/compiler.h"
#include "sim/dc.h"

/* Place every VM of `d` in index order with its size0 MIPS (and memory and a VM count
 * limit when d->place_ram and d->place_max_vms say so): power-aware best fit, or first fit
 * when `first_fit`. 0; -ENOSPC: VM *ret_vm fits nowhere; -ENOMEM. */
MUST_CHECK int place0_all(struct dc *d, bool first_fit, uint32_t *ret_vm);

#endif

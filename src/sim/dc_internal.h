/* What dc.c (hosts, their schedulers, processing, metrics) lends dc_moves.c (placement,
 * migrations, saving and restoring, the run's statistics). Internal to src/sim/. */
#ifndef VMLOC_SIM_DC_INTERNAL_H
#define VMLOC_SIM_DC_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/dc.h"

/* Add VM `v` to host `h`'s list (`mig_in`: it is migrating in). 0 or -ENOMEM. */
int dc_slot_push(struct dc *d, struct dc_host *h, uint32_t v, bool mig_in);

/* Take VM `v`'s slot off `h` (the one it migrates into when `mig_in`, else the one it runs
 * in); its contents go to *ret when not NULL. */
void dc_slot_remove(struct dc_host *h, uint32_t v, bool mig_in, struct dc_slot *ret);

/* What allocating VM `v` on `h` does to the scheduler's list of VMs migrating out. */
int dc_mark_out(struct dc *d, struct dc_host *h, uint32_t v);

/* Share the host's MIPS among its list (see the top of dc.c). */
void dc_allocate(struct dc *d, struct dc_host *h);

/* Bring host `hi`'s VMs and metrics to time `t`. 0 or -ENOMEM. */
int dc_host_update(struct dc *d, uint32_t hi, double t);

#endif

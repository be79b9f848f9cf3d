/* The literature's reference consolidation policies (Beloglazov & Buyya 2012), so vmloc's
 * own method can be compared with them on the same traces: overload detection by a static
 * threshold (THR), interquartile range (IQR), median absolute deviation (MAD), local
 * regression (LR) or robust local regression (LRR); VM selection by minimum migration time
 * (MMT), maximum correlation (MC), minimum utilisation (MU) or random selection (RS);
 * placement by power-aware best fit decreasing (PABFD); then emptying underloaded hosts.
 * `none` only places VMs at time 0. Works on a struct dc; no I/O. */
#ifndef VMLOC_SIM_REFPOL_H
#define VMLOC_SIM_REFPOL_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "sim/dc.h"
#include "sim/refstat.h"

enum refpol_detector {
    REFPOL_NONE = 0,
    REFPOL_THR = 1,
    REFPOL_IQR = 2,
    REFPOL_MAD = 3,
    REFPOL_LR = 4,
    REFPOL_LRR = 5,
};

/* Which VM leaves an overloaded host next (docs/sim.md states each). */
enum refpol_selection {
    REFPOL_MMT = 0, /* the least memory */
    REFPOL_MC = 1,  /* the most correlated with the others (MMT where that cannot be computed) */
    REFPOL_MU = 2,  /* the lowest utilisation now */
    REFPOL_RS = 3,  /* one at random (seeded) */
};

/* One migration the policy wants. */
struct refpol_move {
    uint32_t vm;
    uint32_t dest;
};

struct refpol {
    enum refpol_detector detector;
    enum refpol_selection selection;
    double param;           /* threshold (THR) or safety parameter (IQR, MAD, LR, LRR) */
    struct refstat_rng rng; /* RS's draws */
    /* Scratch, owned. */
    struct refpol_move *moves;
    size_t n_moves;
    size_t cap_moves;
    struct dc_saved *saved;
    size_t n_saved;
    size_t cap_saved;
    uint32_t *list;
    size_t cap_list;
    uint32_t *mark; /* per host: generation stamps of the exclusion sets */
    uint32_t *mark2;
    uint32_t gen;
    size_t n_hosts;
};

/* Prepare `p` for `detector` with parameter `param` and `selection`; `seed` starts RS's
 * generator (the same seed gives the same run). Never fails. */
void refpol_init(struct refpol *p, enum refpol_detector detector, enum refpol_selection selection,
                 double param, uint64_t seed);

/* Free what `p` owns. Accepts NULL. */
void refpol_done(struct refpol *p);

/* The detector's default parameter (0.8, 1.5, 2.5, 1.2, 1.2; 0 for none). */
double refpol_default_param(enum refpol_detector det);

/* Place every VM of `d` at time 0: power-aware best fit in VM order, with full MIPS and
 * memory and bandwidth (at most 10 VMs a host), for every policy. 0; -ENOSPC: a VM
 * fits nowhere (its index in *ret_vm); -ENOMEM. */
MUST_CHECK int refpol_place_initial(struct dc *d, struct refpol *p, uint32_t *ret_vm);

/* One decision step at the current time: find overloaded hosts, pick VMs, place them, then
 * try to empty underloaded hosts. Starts the chosen migrations on `d`. 0; -ENOMEM. */
MUST_CHECK int refpol_step(struct dc *d, struct refpol *p);

/* Whether `h` counts as overloaded for the policy now (for the charts). */
bool refpol_overloaded(struct dc *d, struct refpol *p, uint32_t h);

#endif

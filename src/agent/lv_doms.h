/* What the libvirt backend knows of each running domain, by UUID, from when it first saw it:
 * when it arrived (for the cooldown) and its recent moves (for the storm guard), which live
 * in the domain's own libvirt metadata (lv.h) so that they survive the agent's restarts and go
 * with the domain when it migrates. */
#ifndef VMLOC_AGENT_LV_DOMS_H
#define VMLOC_AGENT_LV_DOMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/lv.h"

struct lv_dom {
    char uuid[40];
    double since;        /* wall clock, or -1: running before the agent's first sample */
    bool present;        /* in the latest sample */
    enum lv_watch watch; /* how it came, as far as known (lv_arrival_step()) */
    /* Its moves (oldest first), read from its metadata once and kept in step with it. */
    double moves[MODEL_MAX_VM_MOVES];
    uint32_t n_moves;
    bool moves_read;    /* read (or found absent or bad); false: read again at the next sample */
    bool moves_unsaved; /* a move added here is not in its metadata yet: written again */
    double unread_move; /* an arrival seen while its history could not be read (0: none) */
    bool warned;        /* a failure to read or write them was logged */
};

struct lv_doms {
    struct lv_dom *v;
    size_t n;
    bool known; /* the first sample was taken */
};

/* After each sample of `lv` at wall time `now`: note the domains that appeared (migrated in,
 * or started) and forget those gone. Those running at the first sample have no known arrival.
 * A new domain's moves are read from its metadata; a domain that arrived by migration
 * (lv_arrival_step()) gets the time as a move, and its metadata is written back. */
void lv_doms_note(struct lv_doms *d, struct lv_conn *lv, double now);

/* What is known of the domain with `uuid`, or NULL. */
const struct lv_dom *lv_doms_find(const struct lv_doms *d, const char *uuid);

/* Forget every domain. */
void lv_doms_done(struct lv_doms *d);

#endif

/* An index of items by their name: open addressing with linear probing over a power-of-two
 * number of slots, FNV-1a of the name, and backward-shift deletion (no tombstones, so a
 * lookup stops at the first empty slot however many items came and went). The items are the
 * caller's; the index holds pointers and reads each item's name through `name_of`. Names are
 * unique; the caller keeps the index at most half full. */
#ifndef VMLOC_COMMON_NAMEIDX_H
#define VMLOC_COMMON_NAMEIDX_H

#include <stddef.h>

#include "core/compiler.h"

struct nameidx {
    void **slot;
    size_t mask; /* the number of slots less one */
    const char *(*name_of)(const void *item);
};

/* An empty index of `slots` slots (a power of two). 0, or -ENOMEM / -EINVAL. */
MUST_CHECK int nameidx_init(struct nameidx *x, size_t slots,
                            const char *(*name_of)(const void *item));
void nameidx_free(struct nameidx *x);

/* Add `item`, whose name is not in the index yet. */
void nameidx_put(struct nameidx *x, void *item);
/* The item named `name`, or NULL. */
void *nameidx_find(const struct nameidx *x, const char *name);
/* Take `item` out (nothing when it is not in). */
void nameidx_remove(struct nameidx *x, const void *item);

#endif

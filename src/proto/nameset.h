/* A set of names for finding duplicates among millions of names in linear time. It stores
 * only a 32-bit hash and an index per name (8 bytes a slot, so the table stays in cache far
 * longer than one holding pointers); the names themselves are read through `name_of`, e.g.
 * from a cluster's hosts, whose storage may move between calls. Open addressing with linear
 * probing, FNV-1a hashes. */
#ifndef VMLOC_PROTO_NAMESET_H
#define VMLOC_PROTO_NAMESET_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

/* The name stored under `index`; must stay the same for the set's life. */
typedef const char *(*nameset_name_fn)(const void *ctx, uint32_t index);

struct nameslot {
    uint32_t hash;
    uint32_t index_plus1; /* 0: empty */
};

struct nameset {
    struct nameslot *slots;
    size_t cap; /* a power of two, or 0 */
    size_t n;
    nameset_name_fn name_of;
    const void *ctx;
};

/* Prepare an empty set whose names are read with `name_of(ctx, index)`. Never fails. */
void nameset_init(struct nameset *s, nameset_name_fn name_of, const void *ctx);

/* Free the table. Accepts NULL. */
void nameset_done(struct nameset *s);

/* Make room for `n` names without growing (a hint; the set still grows past it).
 * 0 or -ENOMEM (the set is unchanged). */
MUST_CHECK int nameset_reserve(struct nameset *s, size_t n);

/* The hash nameset_add() uses for `name`. */
uint32_t nameset_hash(const char *name);

/* Ask the CPU to fetch the slot `hash` will probe first (a hint; the caller inserts a few
 * names later, so the cache miss overlaps with other work). */
void nameset_prefetch(const struct nameset *s, uint32_t hash);

/* nameset_add() with the hash already computed by nameset_hash(). */
MUST_CHECK int nameset_add_hashed(struct nameset *s, const char *name, uint32_t hash,
                                  uint32_t index, uint32_t *ret_index);

/* Insert `index` (whose name is `name`) unless a name equal to `name` is present.
 * 0: inserted. 1: already present, *ret_index set to the index stored with it (nothing
 * inserted). -ENOMEM. -E2BIG: index too large. */
MUST_CHECK int nameset_add(struct nameset *s, const char *name, uint32_t index,
                           uint32_t *ret_index);

#endif

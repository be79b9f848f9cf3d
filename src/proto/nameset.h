/* A set of names (borrowed pointers to NUL-terminated strings that outlive the set), each
 * with a small payload, for finding duplicates among millions of names in linear time.
 * Open addressing with linear probing, FNV-1a hashes. */
#ifndef VMLOC_PROTO_NAMESET_H
#define VMLOC_PROTO_NAMESET_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

struct nameslot {
    const char *name;
    uint64_t hash;
    uint32_t value;
};

struct nameset {
    struct nameslot *slots;
    size_t cap; /* a power of two, or 0 */
    size_t n;
};

/* Prepare an empty set. Never fails. */
void nameset_init(struct nameset *s);

/* Free the table (not the names). Accepts NULL. */
void nameset_done(struct nameset *s);

/* Insert `name` with `value` unless present. 0: inserted. 1: already present, *ret_value
 * set to the value stored with it (nothing inserted). -ENOMEM. */
MUST_CHECK int nameset_add(struct nameset *s, const char *name, uint32_t value,
                           uint32_t *ret_value);

#endif

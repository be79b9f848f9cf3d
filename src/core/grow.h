/* Growing arrays: room for more elements, doubling, overflow-checked. The tree's arrays grow
 * through it (and a decoded sample's string pool, proto/wire.c), except those whose room is a
 * uint32_t (sim/dc.c, proto/jstrict.c), hash tables (proto/nameset.c, store/store_samples.c)
 * and other byte buffers. Inline, so that any library of the tree may use it without linking
 * another. */
#ifndef VMLOC_CORE_GROW_H
#define VMLOC_CORE_GROW_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/compiler.h"

/* Array `arr` (room for *cap elements of `size` bytes) with room for at least `need` (>= 1:
 * NULL is what an array never made has room for 0 in): `arr` itself when it has it, else
 * reallocated to twice its room, or to `first` when it had none, or to `need` when that is more,
 * and *cap set to the new room. NULL when out of memory or when the size does not fit a size_t:
 * `arr` and *cap are then as they were, and `arr` still the caller's. */
MUST_CHECK static inline void *
grow_array(void *arr, size_t *cap, size_t need, size_t size, size_t first)
{
    if (need <= *cap)
        return arr;
    size_t n = *cap == 0 ? first : (*cap > SIZE_MAX / 2 ? SIZE_MAX : *cap * 2);
    if (n < need)
        n = need;
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    void *p = realloc(arr, n * size);
    if (p == NULL)
        return NULL;
    *cap = n;
    return p;
}

#endif

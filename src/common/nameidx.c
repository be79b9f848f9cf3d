/* The index of items by name (nameidx.h). */
#include "common/nameidx.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/fnv.h"

int
nameidx_init(struct nameidx *x, size_t slots, const char *(*name_of)(const void *item))
{
    memset(x, 0, sizeof(*x));
    if (slots < 2 || (slots & (slots - 1)) != 0 || name_of == NULL)
        return -EINVAL;
    x->slot = calloc(slots, sizeof(*x->slot));
    if (x->slot == NULL)
        return -ENOMEM;
    x->mask = slots - 1;
    x->name_of = name_of;
    return 0;
}

void
nameidx_free(struct nameidx *x)
{
    free(x->slot);
    x->slot = NULL;
}

void
nameidx_put(struct nameidx *x, void *item)
{
    size_t i = fnv1a(x->name_of(item)) & x->mask;
    while (x->slot[i] != NULL)
        i = (i + 1) & x->mask;
    x->slot[i] = item;
}

void *
nameidx_find(const struct nameidx *x, const char *name)
{
    if (x->slot == NULL)
        return NULL;
    for (size_t i = fnv1a(name) & x->mask; x->slot[i] != NULL; i = (i + 1) & x->mask) {
        if (strcmp(x->name_of(x->slot[i]), name) == 0)
            return x->slot[i];
    }
    return NULL;
}

void
nameidx_remove(struct nameidx *x, const void *item)
{
    if (x->slot == NULL)
        return;
    size_t i = fnv1a(x->name_of(item)) & x->mask;
    while (x->slot[i] != item) {
        if (x->slot[i] == NULL)
            return; /* not in */
        i = (i + 1) & x->mask;
    }
    /* The run after the emptied slot: an entry whose home is cyclically within (i, j] is
     * still reached from its home before i; any other moves back into i. */
    for (size_t j = (i + 1) & x->mask; x->slot[j] != NULL; j = (j + 1) & x->mask) {
        size_t home = fnv1a(x->name_of(x->slot[j])) & x->mask;
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays)
            continue;
        x->slot[i] = x->slot[j];
        i = j;
    }
    x->slot[i] = NULL;
}

/* Open-addressing name set (see nameset.h). */
#include "proto/nameset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/fnv.h"

void
nameset_init(struct nameset *s, nameset_name_fn name_of, const void *ctx)
{
    memset(s, 0, sizeof(*s));
    s->name_of = name_of;
    s->ctx = ctx;
}

void
nameset_done(struct nameset *s)
{
    if (s == NULL)
        return;
    free(s->slots);
    s->slots = NULL;
    s->cap = 0;
    s->n = 0;
}

uint32_t
nameset_hash(const char *p)
{
    return fnv1a(p);
}

static int
rehash(struct nameset *s, size_t ncap)
{
    struct nameslot *ns = calloc(ncap, sizeof(*ns));
    if (ns == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        if (s->slots[i].index_plus1 == 0)
            continue;
        size_t j = s->slots[i].hash & (ncap - 1);
        while (ns[j].index_plus1 != 0)
            j = (j + 1) & (ncap - 1);
        ns[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = ns;
    s->cap = ncap;
    return 0;
}

static int
grow(struct nameset *s)
{
    return rehash(s, s->cap == 0 ? 64 : s->cap * 2);
}

int
nameset_reserve(struct nameset *s, size_t n)
{
    size_t cap = s->cap == 0 ? 64 : s->cap;
    while (cap < 2 * n + 2)
        cap *= 2;
    return cap > s->cap ? rehash(s, cap) : 0;
}

void
nameset_prefetch(const struct nameset *s, uint32_t hash)
{
#if defined(__GNUC__) || defined(__clang__)
    if (s->cap > 0)
        __builtin_prefetch(&s->slots[hash & (s->cap - 1)], 1, 1);
#else
    (void)s;
    (void)hash;
#endif
}

int
nameset_add(struct nameset *s, const char *name, uint32_t index, uint32_t *ret_index)
{
    return nameset_add_hashed(s, name, nameset_hash(name), index, ret_index);
}

int
nameset_add_hashed(struct nameset *s, const char *name, uint32_t h, uint32_t index,
                   uint32_t *ret_index)
{
    if (index == UINT32_MAX)
        return -E2BIG;
    if ((s->n + 1) * 2 > s->cap) {
        int r = grow(s);
        if (r < 0)
            return r;
    }
    size_t i = h & (s->cap - 1);
    while (s->slots[i].index_plus1 != 0) {
        const struct nameslot *e = &s->slots[i];
        if (e->hash == h && strcmp(s->name_of(s->ctx, e->index_plus1 - 1), name) == 0) {
            *ret_index = e->index_plus1 - 1;
            return 1;
        }
        i = (i + 1) & (s->cap - 1);
    }
    s->slots[i].hash = h;
    s->slots[i].index_plus1 = index + 1;
    s->n++;
    return 0;
}

/* Open-addressing string set (see nameset.h). */
#include "proto/nameset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void
nameset_init(struct nameset *s)
{
    memset(s, 0, sizeof(*s));
}

void
nameset_done(struct nameset *s)
{
    if (s == NULL)
        return;
    free(s->slots);
    nameset_init(s);
}

static uint64_t
fnv1a(const char *p)
{
    uint64_t h = 1469598103934665603ull;
    for (; *p != '\0'; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ull;
    }
    return h;
}

static void
place(struct nameslot *slots, size_t cap, const struct nameslot *e)
{
    size_t i = (size_t)e->hash & (cap - 1);
    while (slots[i].name != NULL)
        i = (i + 1) & (cap - 1);
    slots[i] = *e;
}

static int
grow(struct nameset *s)
{
    size_t ncap = s->cap == 0 ? 64 : s->cap * 2;
    struct nameslot *ns = calloc(ncap, sizeof(*ns));
    if (ns == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < s->cap; i++) {
        if (s->slots[i].name != NULL)
            place(ns, ncap, &s->slots[i]);
    }
    free(s->slots);
    s->slots = ns;
    s->cap = ncap;
    return 0;
}

int
nameset_add(struct nameset *s, const char *name, uint32_t value, uint32_t *ret_value)
{
    if ((s->n + 1) * 2 > s->cap) {
        int r = grow(s);
        if (r < 0)
            return r;
    }
    uint64_t h = fnv1a(name);
    size_t i = (size_t)h & (s->cap - 1);
    while (s->slots[i].name != NULL) {
        if (s->slots[i].hash == h && strcmp(s->slots[i].name, name) == 0) {
            *ret_value = s->slots[i].value;
            return 1;
        }
        i = (i + 1) & (s->cap - 1);
    }
    s->slots[i].name = name;
    s->slots[i].hash = h;
    s->slots[i].value = value;
    s->n++;
    return 0;
}

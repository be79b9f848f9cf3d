/* Once per key and window (see once.h). A short array: a few VMs at a time are held. */
#include "common/once.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
once_done(struct once *o)
{
    free(o->e);
    o->e = NULL;
    o->n = 0;
}

bool
once_first(struct once *o, const char *key, double until, double now)
{
    size_t k = 0;
    for (size_t i = 0; i < o->n; i++) {
        if (o->e[i].until >= now)
            o->e[k++] = o->e[i];
    }
    o->n = k;
    for (size_t i = 0; i < o->n; i++) {
        if (strcmp(o->e[i].key, key) != 0)
            continue;
        double d = o->e[i].until - until;
        if (d <= 1.0 && d >= -1.0)
            return false;
        o->e[i].until = until;
        return true;
    }
    if (o->n == ONCE_MAX) {
        size_t first = 0;
        for (size_t i = 1; i < o->n; i++) {
            if (o->e[i].until < o->e[first].until)
                first = i;
        }
        o->e[first] = o->e[--o->n];
    }
    struct once_entry *n = realloc(o->e, (o->n + 1) * sizeof(*n));
    if (n == NULL)
        return true;
    o->e = n;
    (void)snprintf(o->e[o->n].key, sizeof(o->e[o->n].key), "%s", key);
    o->e[o->n].until = until;
    o->n++;
    return true;
}

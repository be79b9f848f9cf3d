#include "common/backoff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
backoff_done(struct backoff *b)
{
    free(b->e);
    b->e = NULL;
    b->n = 0;
}

static struct backoff_entry *
find(const struct backoff *b, const char *vm)
{
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->e[i].vm, vm) == 0)
            return &b->e[i];
    }
    return NULL;
}

void
backoff_failed(struct backoff *b, const char *vm, double now)
{
    struct backoff_entry *x = find(b, vm);
    if (x == NULL) {
        if (b->n == BACKOFF_MAX) {
            /* Forget the entry that ends first. */
            size_t old = 0;
            for (size_t i = 1; i < b->n; i++) {
                if (b->e[i].until < b->e[old].until)
                    old = i;
            }
            b->e[old] = b->e[--b->n];
        }
        struct backoff_entry *n = realloc(b->e, (b->n + 1) * sizeof(*n));
        if (n == NULL)
            return; /* no back-off for it: tried again sooner, never lost */
        b->e = n;
        x = &b->e[b->n++];
        (void)snprintf(x->vm, sizeof(x->vm), "%s", vm);
        x->delay = BACKOFF_FIRST_S;
    } else {
        x->delay = x->delay * 2 < BACKOFF_LAST_S ? x->delay * 2 : BACKOFF_LAST_S;
    }
    x->until = now + x->delay;
}

void
backoff_cleared(struct backoff *b, const char *vm)
{
    struct backoff_entry *x = find(b, vm);
    if (x != NULL)
        *x = b->e[--b->n];
}

double
backoff_left(const struct backoff *b, const char *vm, double now)
{
    const struct backoff_entry *x = find(b, vm);
    return x != NULL && x->until > now ? x->until - now : 0.0;
}

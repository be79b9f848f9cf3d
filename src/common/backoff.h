/* Back-off after failed migrations: a VM whose migration failed is not tried again for a
 * while, 10 s after the first failure, doubling with each failure in a row up to 10 minutes;
 * a migration that succeeds clears it. Keyed by VM name; time is passed in (monotonic or wall
 * seconds, as long as the caller is consistent). At most BACKOFF_MAX VMs are tracked; past
 * that the oldest entry is forgotten (that VM may be tried again sooner, never lost). */
#ifndef VMLOC_COMMON_BACKOFF_H
#define VMLOC_COMMON_BACKOFF_H

#include <stdbool.h>
#include <stddef.h>

#define BACKOFF_MAX 4096
#define BACKOFF_FIRST_S 10.0
#define BACKOFF_LAST_S 600.0

struct backoff_entry {
    char vm[256];
    double until; /* no new attempt before this time */
    double delay; /* the current delay */
};

struct backoff {
    struct backoff_entry *e;
    size_t n;
};

/* Free. The struct may be zeroed to start. */
void backoff_done(struct backoff *b);

/* A migration of `vm` failed at `now`. */
void backoff_failed(struct backoff *b, const char *vm, double now);

/* A migration of `vm` succeeded: its back-off ends. */
void backoff_cleared(struct backoff *b, const char *vm);

/* Seconds `vm` must still wait at `now` (0: none). */
double backoff_left(const struct backoff *b, const char *vm, double now);

#endif

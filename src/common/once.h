/* Once per key and window: remembers, per key (a VM's name), the window a condition was last
 * reported for, so a condition that lasts is logged and counted once ("storm guard holds
 * vm=a") and again only when a new window starts. A window is named by the time it ends.
 * Time is passed in. At most ONCE_MAX keys are kept: the window that ends first is forgotten
 * first (that key may then be reported again, never lost). */
#ifndef VMLOC_COMMON_ONCE_H
#define VMLOC_COMMON_ONCE_H

#include <stdbool.h>
#include <stddef.h>

#define ONCE_MAX 4096

struct once_entry {
    char key[256];
    double until; /* the end of the window it was reported for */
};

struct once {
    struct once_entry *e;
    size_t n;
};

/* Free. The struct may be zeroed to start. */
void once_done(struct once *o);

/* Is this the first report of `key` for the window that ends at `until`? true (and
 * remembered) when `key` has no entry or its entry is for another window (ends more than a
 * second apart). Entries of windows that ended before `now` are forgotten first. On OOM it
 * answers true and remembers nothing: a line logged twice, never one lost. */
bool once_first(struct once *o, const char *key, double until, double now);

#endif

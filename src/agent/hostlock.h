/* The lock of this host in peer mode: the right to migrate into or out of it now. Its lease
 * runs on the host's monotonic clock (microseconds, clock_now_us()) from the last take or
 * renewal; when it runs out the lock is free again. Pure state: the time comes in. */
#ifndef VMLOC_AGENT_HOSTLOCK_H
#define VMLOC_AGENT_HOSTLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/model.h"

struct hostlock {
    bool held;
    char holder[MODEL_MAX_NAME + 1];
    uint64_t expires_us; /* monotonic clock */
};

/* Free the lock if its lease ran out by `now`. true when it did just now: *ret_holder (room
 * for MODEL_MAX_NAME + 1) then names the holder whose lease ran out. */
bool hostlock_expire(struct hostlock *l, uint64_t now, char *ret_holder);

/* Take (or renew) the lock for `holder` for `lease_s` from `now`. 0; -EBUSY with *ret_holder
 * the current holder and *ret_left_s its lease left. */
int hostlock_take(struct hostlock *l, uint64_t now, const char *holder, double lease_s,
                  const char **ret_holder, double *ret_left_s);

/* Release the lock of `holder`. 0; 1 when it was not held; -EPERM when another holds it
 * (nothing changes). */
int hostlock_release(struct hostlock *l, const char *holder);

/* The holder at `now` with its lease left (`ret_left_s` may be NULL), or NULL when free. */
const char *hostlock_holder(const struct hostlock *l, uint64_t now, double *ret_left_s);

#endif

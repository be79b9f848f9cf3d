/* The lock of this host in peer mode: the right to migrate into or out of it now. Its lease
 * runs on the host's monotonic clock (microseconds, clock_now_us()) from the last take or
 * renewal; when it runs out the lock is free again. Pure state: the time comes in.
 *
 * Tokens. A holder may number its requests: each new take carries a larger token than its
 * last, its renewals and its release the token of the take they belong to (0: none, the
 * holder does not number them). A request that arrives late (a release sent for an earlier
 * take, a renewal that was under way when the holder released) then cannot end or take back
 * a later grant of the same holder: while it holds the lock, a take or renewal with a smaller
 * token than its grant's is stale (-ESTALE); once it released the lock, one with the released
 * grant's token or a smaller one is, until that grant's lease would have ended (and for at
 * least the release's `keep_s`); a release with
 * a smaller token than the grant's releases nothing, one with a larger token (a later take of
 * the holder's, whose release overtook it: the holder moved on) releases it. A release that
 * finds the lock free (it overtook its take) is remembered the same way, so that the late take
 * is stale. A lease that ran out makes no request stale (a late renewal then takes the free
 * lock, as a new take would). The lock remembers one holder: another holder's take or release
 * replaces what it knew. */
#ifndef VMLOC_AGENT_HOSTLOCK_H
#define VMLOC_AGENT_HOSTLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/model.h"

struct hostlock {
    bool held;
    char holder[MODEL_MAX_NAME + 1]; /* also the last holder once free */
    uint64_t token;                  /* of the holder's last take; 0 none */
    bool released;                   /* free because the holder released that take */
                                     /* (or a release of it came first) */
    uint64_t expires_us;             /* monotonic clock; kept after a release */
};

/* Free the lock if its lease ran out by `now`. true when it did just now: *ret_holder (room
 * for MODEL_MAX_NAME + 1) then names the holder whose lease ran out. */
bool hostlock_expire(struct hostlock *l, uint64_t now, char *ret_holder);

/* Take (or renew) the lock for `holder`, with its request's `token`, for `lease_s` from
 * `now`. 0; -EBUSY with *ret_holder the current holder and *ret_left_s its lease left;
 * -ESTALE (nothing changes) when `token` is stale for this holder (above). */
int hostlock_take(struct hostlock *l, uint64_t now, const char *holder, uint64_t token,
                  double lease_s, const char **ret_holder, double *ret_left_s);

/* Release the lock of `holder` taken with `token`, at `now`. 0; 1 when it was not held, or
 * held under a later take of the same holder (nothing changes); -EPERM when another holds it.
 * A release with a token makes that token (and earlier ones) stale for `keep_s` at least: one
 * that finds the lock free, and one that frees it (then until the released lease's end, if
 * later). */
int hostlock_release(struct hostlock *l, const char *holder, uint64_t token, uint64_t now,
                     double keep_s);

/* The holder at `now` with its lease left (`ret_left_s` may be NULL), or NULL when free. */
const char *hostlock_holder(const struct hostlock *l, uint64_t now, double *ret_left_s);

#endif

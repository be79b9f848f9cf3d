/* The host's lock (hostlock.h). */
#include "agent/hostlock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool
live(const struct hostlock *l, uint64_t now)
{
    return l->held && l->expires_us > now;
}

bool
hostlock_expire(struct hostlock *l, uint64_t now, char *ret_holder)
{
    if (!l->held || live(l, now))
        return false;
    l->held = false;
    (void)snprintf(ret_holder, MODEL_MAX_NAME + 1, "%s", l->holder);
    return true;
}

/* Is a request of `holder` with `token` older than what the lock last had from it? */
static bool
stale(const struct hostlock *l, uint64_t now, const char *holder, uint64_t token)
{
    if (token == 0 || l->token == 0 || strcmp(l->holder, holder) != 0)
        return false;
    if (live(l, now))
        return token < l->token;
    /* Released: until the released take's lease would have ended, a request of that take or
     * of an earlier one is late. After that the lock forgets it (a holder whose clock went
     * back across a restart is refused for one lease at most). */
    return l->released && now < l->expires_us && token <= l->token;
}

int
hostlock_take(struct hostlock *l, uint64_t now, const char *holder, uint64_t token, double lease_s,
              const char **ret_holder, double *ret_left_s)
{
    bool is_live = live(l, now);
    if (is_live && strcmp(l->holder, holder) != 0) {
        *ret_holder = l->holder;
        *ret_left_s = (double)(l->expires_us - now) / 1e6;
        return -EBUSY;
    }
    if (stale(l, now, holder, token)) {
        *ret_holder = is_live ? l->holder : NULL;
        *ret_left_s = is_live ? (double)(l->expires_us - now) / 1e6 : 0;
        return -ESTALE;
    }
    l->held = true;
    l->released = false;
    (void)snprintf(l->holder, sizeof(l->holder), "%s", holder);
    l->token = token;
    l->expires_us = now + (uint64_t)(lease_s * 1e6);
    return 0;
}

int
hostlock_release(struct hostlock *l, const char *holder, uint64_t token, uint64_t now,
                 double keep_s)
{
    if (!l->held) {
        /* A release that overtook its take: the take, when it comes, is stale. */
        if (token != 0 && !stale(l, now, holder, token)) {
            (void)snprintf(l->holder, sizeof(l->holder), "%s", holder);
            l->token = token;
            l->released = true;
            l->expires_us = now + (uint64_t)(keep_s * 1e6);
        }
        return 1;
    }
    if (strcmp(l->holder, holder) != 0)
        return -EPERM;
    if (token != 0 && l->token != 0 && token < l->token)
        return 1; /* sent for an earlier take: this one stays */
    /* Its take, or (a larger token) a later one whose release overtook it: the holder moved
     * on from the take that holds the lock, which nobody will renew. Late requests of it stay
     * stale for keep_s at least, however little was left of the lease it released. */
    l->held = false;
    l->released = true;
    l->token = token != 0 ? token : l->token;
    uint64_t keep = now + (uint64_t)(keep_s * 1e6);
    if (l->expires_us < keep)
        l->expires_us = keep;
    return 0;
}

const char *
hostlock_holder(const struct hostlock *l, uint64_t now, double *ret_left_s)
{
    if (!live(l, now))
        return NULL;
    if (ret_left_s != NULL)
        *ret_left_s = (double)(l->expires_us - now) / 1e6;
    return l->holder;
}

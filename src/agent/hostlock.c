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

int
hostlock_take(struct hostlock *l, uint64_t now, const char *holder, double lease_s,
              const char **ret_holder, double *ret_left_s)
{
    if (live(l, now) && strcmp(l->holder, holder) != 0) {
        *ret_holder = l->holder;
        *ret_left_s = (double)(l->expires_us - now) / 1e6;
        return -EBUSY;
    }
    l->held = true;
    (void)snprintf(l->holder, sizeof(l->holder), "%s", holder);
    l->expires_us = now + (uint64_t)(lease_s * 1e6);
    return 0;
}

int
hostlock_release(struct hostlock *l, const char *holder)
{
    if (!l->held)
        return 1;
    if (strcmp(l->holder, holder) != 0)
        return -EPERM;
    l->held = false;
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

/* The manager's options: their defaults, and what follows from them (manager.h). */
#include <stdio.h>
#include <string.h>

#include "manager/manager.h"

void
manager_opts_init(struct manager_opts *o)
{
    memset(o, 0, sizeof(*o));
    (void)snprintf(o->listen, sizeof(o->listen), "%s", MANAGER_DEFAULT_LISTEN);
    o->interval_s = MANAGER_DEFAULT_INTERVAL_S;
    o->collect_offset_s = -1.0;
    o->retention_s = MANAGER_DEFAULT_RETENTION_S;
    o->rollup_retention_s = MANAGER_DEFAULT_ROLLUP_RETENTION_S;
    o->event_retention_s = MANAGER_DEFAULT_EVENT_RETENTION_S;
    o->forget_after_s = MANAGER_DEFAULT_FORGET_AFTER_S;
    o->store_every_s = MANAGER_DEFAULT_STORE_EVERY_S;
    o->decode_threads = MANAGER_DEFAULT_DECODE_THREADS;
    policy_init(&o->policy);
    o->log_level = LOG_LEVEL_INFO;
    http_limits_init(&o->sec.limits);
    o->ha_lease_s = MANAGER_DEFAULT_HA_LEASE_S;
    (void)snprintf(o->ha_prefix, sizeof(o->ha_prefix), "%s", MANAGER_DEFAULT_HA_PREFIX);
}

double
manager_collect_offset(const struct manager_opts *o)
{
    if (o->collect_offset_s >= 0)
        return o->collect_offset_s;
    double d = o->interval_s / 5.0;
    return d < 0.5 ? d : 0.5;
}

/* Peer mode: the lock of this host, as the peers ask for it and as this agent takes it for its
 * own decisions (peer.h). A holder whose lease ran out loses the arrivals it announced. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/peer_internal.h"
#include "agent/sim_arrival.h"
#include "common/clock.h"
#include "common/log.h"

/* Free a lock whose lease ran out, with the arrivals its holder announced. */
static void
lock_expire(struct peer_mode *pm, uint64_t now)
{
    char holder[MODEL_MAX_NAME + 1];
    if (!hostlock_expire(&pm->lock, now, holder) || strcmp(holder, pm->o.name) == 0)
        return;
    /* The holder stopped renewing: it died or cannot reach us. An arrival it announced will
     * not be committed by a live source that cannot renew either (the commit would be
     * refused and its VM stays with it), so the room it reserved is given back now. */
    log_warnx("lock lease ran out host=\"%s\" holder=\"%s\"; dropping its arrivals", pm->o.name,
              holder);
    if (pm->env.arrivals != NULL)
        sim_arrival_drop_from(pm->env.arrivals, holder);
}

void
peer_tick(struct peer_mode *pm)
{
    lock_expire(pm, clock_now_us());
    peer_list_tick(pm);
}

int
peer_lock_own(struct peer_mode *pm, const char *holder, uint64_t token, double lease_s,
              const char **ret_holder, double *ret_left_s)
{
    uint64_t now = clock_now_us();
    lock_expire(pm, now);
    bool held = pm->lock.held;
    int r = hostlock_take(&pm->lock, now, holder, token, lease_s, ret_holder, ret_left_s);
    if (r == 0 && !held)
        log_debug("lock taken host=\"%s\" holder=\"%s\" lease=%gs", pm->o.name, holder, lease_s);
    return r;
}

int
peer_lock_drop(struct peer_mode *pm, const char *holder, uint64_t token)
{
    uint64_t now = clock_now_us();
    lock_expire(pm, now);
    int r = hostlock_release(&pm->lock, holder, token, now, pm->o.lock_lease_s);
    if (r == 0)
        log_debug("lock released host=\"%s\" holder=\"%s\"", pm->o.name, holder);
    return r;
}

const char *
peer_lock_holder(struct peer_mode *pm, double *ret_left_s)
{
    uint64_t now = clock_now_us();
    lock_expire(pm, now);
    return hostlock_holder(&pm->lock, now, ret_left_s);
}

int
peer_lock_request(struct peer_mode *pm, const char *holder, uint64_t token, double lease_s,
                  const char **ret_holder, double *ret_left_s)
{
    int r = peer_lock_own(pm, holder, token, lease_s, ret_holder, ret_left_s);
    if (r == -ESTALE) {
        pm->locks_denied++;
        log_info("lock request refused as stale host=\"%s\" asked_by=\"%s\" token=%llu: the "
                 "holder has taken or released this lock with a later request",
                 pm->o.name, holder, (unsigned long long)token);
    } else if (r < 0) {
        pm->locks_denied++;
        log_info("lock refused host=\"%s\" asked_by=\"%s\" holder=\"%s\"", pm->o.name, holder,
                 *ret_holder);
    } else {
        pm->locks_served++;
    }
    return r;
}

int
peer_lock_release(struct peer_mode *pm, const char *holder, uint64_t token, const char **ret_holder)
{
    int r = peer_lock_drop(pm, holder, token);
    *ret_holder = pm->lock.holder;
    return r;
}

bool
peer_takes_from(struct peer_mode *pm, const char *from)
{
    const char *holder = peer_lock_holder(pm, NULL);
    return holder != NULL && strcmp(holder, from) == 0;
}

/* A restart keeps this host's reservations (its state file) but not its lock, which lives in
 * memory: another peer could then take the lock and move a VM in while the reserved VM's copy
 * runs, and both would commit. The lock is held again for the source of the newest reserved
 * arrival (one only: the lock's holder is the one source a peer takes VMs from), with a fresh
 * lease: a source that lives renews it; one that died lets it run out and loses its arrival
 * with it, as before the restart. */
void
peer_lock_restore(struct peer_mode *pm)
{
    const char *from = NULL;
    const char *id =
        pm->env.arrivals != NULL ? sim_arrival_reserved(pm->env.arrivals, pm->o.name, &from) : NULL;
    if (id == NULL)
        return;
    const char *holder = NULL;
    double left = 0;
    /* Token 0: the source's next renewal, whatever its token, renews it. */
    if (peer_lock_own(pm, from, 0, pm->o.lock_lease_s, &holder, &left) == 0)
        log_info("lock held again after a restart host=\"%s\" holder=\"%s\" lease=%gs: its "
                 "arrival id=%s is reserved",
                 pm->o.name, from, pm->o.lock_lease_s, id);
}

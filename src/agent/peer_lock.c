/* Peer mode: the lock of this host, as the peers ask for it and as this agent takes it for its
 * own decisions (peer.h), and the peers' locks as this agent asks for them and gives them
 * back (peer_internal.h). A holder whose lease ran out loses the arrivals it announced. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ---- the peers' locks, as this agent asks for them ---------------------------------------- */

/* Ask peer `p` for its lock (or to renew it), or to release it, for the take numbered
 * `token` (hostlock.h; 0: none, an older peer's echo lacked it). */
int
peer_send_lock(struct peer_mode *pm, struct peer *p, bool release, uint64_t token,
               http_done_fn done)
{
    const char *path = release ? "/v1/lock/release" : "/v1/lock";
    json_t *j = release
                    ? json_pack("{s:s}", "holder", pm->o.name)
                    : json_pack("{s:s,s:f}", "holder", pm->o.name, "lease_s", pm->o.lock_lease_s);
    if (j != NULL && token != 0 &&
        json_object_set_new(j, "token", json_integer((json_int_t)token)) < 0) {
        json_decref(j);
        j = NULL;
    }
    char *body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    int r = body != NULL ? peer_send(pm, p, "POST", path, body, done) : -ENOMEM;
    free(body);
    return r;
}

static void
release_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct peer *p = arg;
    peer_answered(p);
    (void)body;
    (void)len;
    if (status != 200)
        log_warnx("lock release not confirmed url=%s status=%d error=\"%s\"; its lease will end it",
                  p->v.url, status, status == 0 ? err : "");
}

/* Give back peer `p`'s lock taken with `token` (best effort: its lease ends it otherwise). */
static void
release_token(struct peer_mode *pm, struct peer *p, uint64_t token)
{
    if (peer_send_lock(pm, p, true, token, release_done) < 0)
        log_warnx("lock release not sent url=%s; its lease will end it", p->v.url);
}

/* Give back our latest take of peer `p`'s lock. The token keeps the release from ending a
 * later take of ours should it arrive late. */
void
peer_release(struct peer_mode *pm, struct peer *p)
{
    release_token(pm, p, p->lock_token);
}

/* Give back the grant answered in `body`, that came after we moved on: the one its token
 * names, not a later one. */
void
peer_release_answered(struct peer_mode *pm, struct peer *p, const char *body, size_t len)
{
    json_t *j = body != NULL ? json_loadb(body, len, 0, NULL) : NULL;
    json_int_t t = json_integer_value(json_object_get(j, "token"));
    json_decref(j);
    release_token(pm, p, t > 0 ? (uint64_t)t : 0);
}

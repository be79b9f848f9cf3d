/* The domains the libvirt backend has seen (lv_doms.h). */
#define _POSIX_C_SOURCE 200809L
#include "agent/lv_doms.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

const struct lv_dom *
lv_doms_find(const struct lv_doms *d, const char *uuid)
{
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(d->v[i].uuid, uuid) == 0)
            return &d->v[i];
    }
    return NULL;
}

/* Add an arrival by migration at `t` to the moves of `r`, whose history was read. */
static void
add_move(struct lv_dom *r, double t)
{
    vm_moves_push(r->moves, &r->n_moves, t);
    r->moves_unsaved = true;
}

/* Read the moves of domain `name` from its metadata into `r`, once. A bad history counts as
 * none (logged once; the next move written here replaces it); a failed read is tried again at
 * the next sample, and an arrival seen meanwhile is added once it succeeds. */
static void
load_moves(struct lv_conn *lv, struct lv_dom *r, const char *name)
{
    char why[256] = "";
    double t[MODEL_MAX_VM_MOVES];
    uint32_t n = 0;
    int rc = lv_moves_read(lv, r->uuid, t, &n, why, sizeof(why));
    if (rc < 0 && rc != -EINVAL) {
        if (!r->warned)
            log_warnx("cannot read the move history of vm=\"%s\" uuid=%s error=\"%s\"; trying "
                      "again at the next sample",
                      name, r->uuid, why);
        r->warned = true;
        return;
    }
    if (rc < 0) {
        log_warnx("bad move history in the metadata of vm=\"%s\" uuid=%s error=\"%s\"; no moves "
                  "known, ignoring",
                  name, r->uuid, why);
        n = 0;
    }
    if (n > 0)
        memcpy(r->moves, t, n * sizeof(*t));
    r->n_moves = n;
    r->moves_read = true;
    r->warned = false;
    if (r->unread_move > 0) {
        add_move(r, r->unread_move);
        r->unread_move = 0;
    }
}

/* Write the moves of domain `name` to its metadata; on failure they are written again at the
 * next sample (the samples carry them meanwhile). */
static void
save_moves(struct lv_conn *lv, struct lv_dom *r, const char *name)
{
    char why[256] = "";
    int rc = lv_moves_write(lv, r->uuid, r->moves, r->n_moves, why, sizeof(why));
    if (rc < 0) {
        if (!r->warned)
            log_warnx("cannot write the move history of vm=\"%s\" uuid=%s error=\"%s\"; trying "
                      "again at the next sample",
                      name, r->uuid, why);
        r->warned = true;
        return;
    }
    if (r->warned)
        log_info("move history written vm=\"%s\" uuid=%s moves=%u", name, r->uuid, r->n_moves);
    else
        log_debug("move history written vm=\"%s\" uuid=%s moves=%u", name, r->uuid, r->n_moves);
    r->moves_unsaved = false;
    r->warned = false;
}

/* The record of domain `v`, added when it is new (*ret_first then true); NULL on OOM. */
static struct lv_dom *
dom_get(struct lv_doms *d, const struct lv_vm *v, double now, bool *ret_first)
{
    size_t i = 0;
    while (i < d->n && strcmp(d->v[i].uuid, v->uuid) != 0)
        i++;
    *ret_first = i == d->n;
    if (i < d->n)
        return &d->v[i];
    struct lv_dom *n = realloc(d->v, (d->n + 1) * sizeof(*n));
    if (n == NULL)
        return NULL;
    d->v = n;
    memset(&n[i], 0, sizeof(n[i]));
    (void)snprintf(n[i].uuid, sizeof(n[i].uuid), "%s", v->uuid);
    n[i].since = d->known ? now : -1.0;
    d->n++;
    return &n[i];
}

/* (lv_doms.h) After a sample: note the domains that appeared (migrated in, or started) and forget
 * those gone. Those running at the agent's first sample have no known arrival. A new domain's moves
 * are read from its metadata; a domain that arrived by migration (lv_arrival_step():
 * libvirt's state and reason, see lv_record_arrival()) gets the time as a move, and
 * its metadata is written back, so the history goes on with it and outlives this agent. */
void
lv_doms_note(struct lv_doms *d, struct lv_conn *lv, double now)
{
    bool initial = !d->known;
    for (size_t i = 0; i < d->n; i++)
        d->v[i].present = false;
    for (size_t j = 0; j < lv->n_vms; j++) {
        const struct lv_vm *v = &lv->vms[j];
        bool first;
        struct lv_dom *r = dom_get(d, v, now, &first);
        if (r == NULL)
            continue; /* no cooldown or moves for it: it may move sooner, never lost */
        r->present = true;
        if (!r->moves_read)
            load_moves(lv, r, v->name);
        bool arrived = lv_arrival_step(v->arrival, first, initial, &r->watch);
        if (first && r->watch == LV_WATCH_INCOMING)
            log_debug("domain appeared paused for an incoming migration vm=\"%s\" uuid=%s", v->name,
                      r->uuid);
        if (arrived) {
            r->since = now; /* its cooldown starts when it runs here, as a move counts */
            if (r->moves_read) {
                add_move(r, now);
                log_info("domain arrived by migration vm=\"%s\" uuid=%s moves=%u", v->name, r->uuid,
                         r->n_moves);
            } else {
                r->unread_move = now;
                log_info("domain arrived by migration vm=\"%s\" uuid=%s moves=unknown (added "
                         "once its history is read)",
                         v->name, r->uuid);
            }
        }
        if (r->moves_unsaved)
            save_moves(lv, r, v->name);
    }
    size_t k = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (d->v[i].present)
            d->v[k++] = d->v[i];
    }
    d->n = k;
    d->known = true;
}

void
lv_doms_done(struct lv_doms *d)
{
    free(d->v);
    memset(d, 0, sizeof(*d));
}

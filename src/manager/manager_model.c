/* The model a manager's decision works on, from the hosts' latest samples: the hosts that may
 * not take part in a move, and the VMs that may not move (a recent failure, a name on two
 * hosts). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/nameidx.h"
#include "manager/manager_internal.h"

/* The names the running migrations hold, each in an index: their hosts (sources and
 * destinations) and their VMs. Marking a model of 10,000 hosts and 250,000 VMs then looks
 * each name up once, where a walk of the migrations (manager_recs.c's busy()) for each of them
 * would go over every migration. */
struct busy_names {
    struct nameidx hosts;
    struct nameidx vms;
};

static const char *
str_name(const void *item)
{
    return item;
}

static void
put_once(struct nameidx *x, char *name)
{
    if (nameidx_find(x, name) == NULL)
        nameidx_put(x, name);
}

static int
busy_names_init(struct manager *m, struct busy_names *b)
{
    size_t slots = 16;
    while (slots < 4 * m->n_active) /* at most 2 names a migration: half full at most */
        slots *= 2;
    int r = nameidx_init(&b->hosts, slots, str_name);
    if (r < 0)
        return r;
    r = nameidx_init(&b->vms, slots, str_name);
    if (r < 0) {
        nameidx_free(&b->hosts);
        return r;
    }
    for (size_t i = 0; i < m->n_active; i++) {
        struct mmig *g = m->active[i];
        put_once(&b->hosts, g->rec.src);
        put_once(&b->hosts, g->rec.dst);
        put_once(&b->vms, g->rec.vm);
    }
    return 0;
}

static void
busy_names_free(struct busy_names *b)
{
    nameidx_free(&b->hosts);
    nameidx_free(&b->vms);
}

/* Build the model from the latest samples; `map[i]` is the mhost of cluster host i, `moving[i]`
 * whether its sample shows a VM arriving or leaving (read while the sample's VMs are in the
 * cache: a model of 10,000 hosts walks 250,000 of them). */
static int
build_cluster(struct manager *m, struct cluster *cl, struct mhost **map, bool *moving)
{
    for (size_t i = 0; i < m->n_hosts; i++) {
        struct mhost *h = m->hosts[i];
        if (!h->v.has_sample)
            continue;
        size_t hi;
        int r = wire_sample_to_cluster(&h->v.sample, h->v.up, cl, &hi);
        if (r < 0)
            return r;
        /* In maintenance: never a destination nor in conflict, and drained (plan_opts.drain);
         * a host that is down stays down (its VMs cannot be moved). */
        if (h->maintenance && h->v.up)
            cl->hosts[hi].state = HOST_MAINTENANCE;
        map[hi] = h;
        moving[hi] = wire_sample_moving(&h->v.sample);
    }
    return 0;
}

int
manager_model(struct manager *m, struct cluster *cl, struct mhost **map, bool *busy)
{
    int r = build_cluster(m, cl, map, busy);
    if (r < 0)
        return r;
    cl->time = clock_wall_s(); /* for the VMs' cooldown */
    cl->has_time = true;
    /* A VM whose migration just failed waits before it is tried again. */
    for (size_t i = 0; m->backoff.n > 0 && i < cl->n_vms; i++)
        cl->vms[i].held = backoff_left(&m->backoff, cl->vms[i].name, clock_mono_s()) > 0;
    struct busy_names b;
    r = busy_names_init(m, &b);
    if (r < 0)
        return r;
    /* A VM we ordered to move is listed by both ends until the move has settled. */
    for (size_t i = 0; m->n_active > 0 && i < cl->n_vms; i++)
        cl->vms[i].migrating |= nameidx_find(&b.vms, cl->vms[i].name) != NULL;
    /* A name on two hosts outside a migration: neither copy moves (reported by
     * manager_decide()). */
    r = cluster_mark_duplicates(cl, NULL);
    for (size_t i = 0; r == 0 && i < cl->n_hosts; i++) {
        /* Busy: a migration of ours runs into or out of it, or its sample shows a VM
         * arriving or leaving (one ordered by someone else, or before a restart). */
        busy[i] = busy[i] || (m->n_active > 0 && nameidx_find(&b.hosts, cl->hosts[i].name) != NULL);
    }
    busy_names_free(&b);
    return r;
}

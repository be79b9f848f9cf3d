/* The model of a peer decision (peer_internal.h): this host and its peers as their latest
 * samples show them, and which of them may give or take a VM now. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <string.h>

#include "agent/migrate.h"
#include "agent/migration.h"
#include "agent/peer_internal.h"
#include "common/clock.h"
#include "common/log.h"
#include "proto/wire.h"

/* Hold VM `name` of host `hi`: nobody moves it in this decision. */
static void
hold(struct cluster *cl, size_t hi, const char *name)
{
    for (uint32_t j = 0; j < cl->hosts[hi].vm_count; j++) {
        struct vm *v = &cl->vms[cl->hosts[hi].vm_first + j];
        if (strcmp(v->name, name) == 0)
            v->held = true;
    }
}

/* Is this host (`own`, host `hi` of `cl`) busy with a move, so no source now? A VM arriving,
 * or one leaving whose migration runs, makes it so. One whose commit went unanswered for
 * PEER_RESOLVE_HOLD_S, whose locks were given back (renew_cb()), does not: that VM stays here,
 * held and counted, until its destination says whether it runs it, and the host's other VMs
 * may move meanwhile (to its peers it is still busy: its sample lists the VM leaving). */
static bool
own_busy(const struct peer_mode *pm, const struct wire_sample *own, struct cluster *cl, size_t hi)
{
    size_t n = 0;
    struct migration *const *all = migrate_all(pm->env.migs, &n);
    double now = clock_mono_s();
    bool busy = false;
    for (size_t j = 0; j < own->n_vms; j++) {
        const struct wire_sample_vm *w = &own->vms[j];
        if (!w->incoming && !w->migrating_out)
            continue;
        const struct migration *m = NULL;
        for (size_t k = 0; k < n && m == NULL && !w->incoming; k++) {
            if (all[k]->state == MIG_RUNNING && strcmp(all[k]->vm, w->name) == 0)
                m = all[k];
        }
        bool settling = m != NULL && m != pm->acting && peer_unresolved_held(m, now);
        if (settling)
            hold(cl, hi, w->name);
        else
            busy = true;
    }
    return busy;
}

/* (peer_internal.h) */
int
peer_build_model(struct peer_mode *pm, const struct wire_sample *own, struct cluster *cl,
                 size_t *map, bool *no_dest, bool *no_source, bool *check)
{
    size_t hi;
    if (wire_sample_to_cluster(own, true, cl, &hi) < 0)
        return -ENOMEM;
    check[hi] = true;
    /* A VM whose migration just failed waits before it is tried again. */
    for (uint32_t j = 0; j < cl->hosts[hi].vm_count; j++) {
        struct vm *v = &cl->vms[cl->hosts[hi].vm_first + j];
        v->held = backoff_left(&pm->backoff, v->name, clock_mono_s()) > 0;
    }
    no_source[hi] = own_busy(pm, own, cl, hi);
    for (size_t i = 0; i < pm->n_peers; i++) {
        const struct peer *q = pm->peers[i];
        if (!q->fresh)
            continue;
        bool dup = false;
        for (size_t k = 0; k < cl->n_hosts && !dup; k++)
            dup = strcmp(cl->hosts[k].name, q->v.sample.name) == 0;
        if (dup) {
            log_warnx("peer skipped url=%s reason=\"host \\\"%s\\\" is listed twice\"", q->v.url,
                      q->v.sample.name);
            continue;
        }
        if (wire_sample_to_cluster(&q->v.sample, true, cl, &hi) < 0)
            return -ENOMEM;
        map[hi] = i + 1;
        no_dest[hi] = q->refused || wire_sample_moving(&q->v.sample);
    }
    cl->time = clock_wall_s(); /* for the VMs' cooldown */
    cl->has_time = true;
    /* A VM name on this host and a peer outside a migration: neither copy moves, reported once
     * while it lasts (the peers see it from their side when they decide). */
    if (cluster_mark_duplicates(cl, NULL) < 0)
        return -ENOMEM;
    if (dupvms_update(&pm->dups, cl,
                      "this host does not move its copy until it runs on one host "
                      "only") < 0)
        log_warnx("VMs on two hosts not reported in this decision: out of memory");
    return 0;
}

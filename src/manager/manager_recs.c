/* Recommendations: the moves a decision chose while the automation is manual (pending until
 * an operator applies one with `vmloc apply`) or dry-run (shown, never applied). A pending one
 * expires when its conflict is over; applying one checks through the core that it still holds
 * on the latest samples. With --etcd each one held is also in the leader's journal
 * (manager_journal.c), so that the manager that leads next can apply it under the same id. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "core/plan.h"
#include "manager/manager_internal.h"
#include "proto/utf8.h"

/* Does a migration of ours run into or out of host `name`, or of VM `vm` (may be NULL)? */
static bool
busy(const struct manager *m, const char *name, const char *vm)
{
    for (size_t i = 0; i < m->n_active; i++) {
        const struct mmig *g = m->active[i];
        if (strcmp(g->rec.src, name) == 0 || strcmp(g->rec.dst, name) == 0 ||
            (vm != NULL && strcmp(g->rec.vm, vm) == 0))
            return true;
    }
    return false;
}

static void
rec_save(struct manager *m, struct store_rec *r, const char *state)
{
    (void)snprintf(r->state, sizeof(r->state), "%s", state);
    r->updated = clock_wall_s();
    manager_store_pause(m);
    if (store_put_recommendation(m->store, r) < 0)
        log_warnx("recommendation not stored id=%s, ignoring", r->id);
    manager_store_resume(m);
    manager_journal_rec(m, r); /* in etcd while held, deleted once settled */
}

static void
rec_drop(struct manager *m, size_t i)
{
    free(m->recs[i]);
    m->recs[i] = m->recs[m->n_recs - 1];
    m->rec_seen[i] = m->rec_seen[m->n_recs - 1];
    m->n_recs--;
}

/* Record the move a decision chose as a recommendation (or keep the pending one for the same
 * move); a pending one for the same VM elsewhere is superseded. The recommendation's id. */
const char *
manager_recommend(struct manager *m, const char *vm, const char *src, const char *dst,
                  const char *reason, bool dry)
{
    for (size_t i = 0; i < m->n_recs; i++) {
        struct store_rec *r = m->recs[i];
        if (strcmp(r->vm, vm) != 0)
            continue;
        if (strcmp(r->src, src) == 0 && strcmp(r->dst, dst) == 0) {
            m->rec_seen[i] = true;
            return r->id;
        }
        log_info("recommendation superseded id=%s vm=\"%s\"", r->id, vm);
        rec_save(m, r, "superseded");
        rec_drop(m, i);
        break;
    }
    if (m->n_recs >= MANAGER_MAX_RECS)
        return "(too many pending recommendations)";
    struct store_rec *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return "(out of memory)";
    double now = clock_wall_s();
    (void)snprintf(r->id, sizeof(r->id), "r%llu-%llu", (unsigned long long)(now * 1000.0),
                   (unsigned long long)++m->next_id);
    r->time = now;
    (void)snprintf(r->vm, sizeof(r->vm), "%s", vm);
    (void)snprintf(r->src, sizeof(r->src), "%s", src);
    (void)snprintf(r->dst, sizeof(r->dst), "%s", dst);
    (void)snprintf(r->reason, sizeof(r->reason), "%s", reason);
    utf8_trim_partial(r->reason);
    rec_save(m, r, dry ? "dry-run" : "pending");
    m->recs[m->n_recs] = r;
    m->rec_seen[m->n_recs] = true;
    m->n_recs++;
    if (dry)
        log_info("dry-run: would move vm=\"%s\" from=\"%s\" to=\"%s\" reason=\"%s\"", vm, src, dst,
                 reason);
    else
        log_info("recommendation id=%s vm=\"%s\" from=\"%s\" to=\"%s\" reason=\"%s\" "
                 "(vmloc apply %s)",
                 r->id, vm, src, dst, reason, r->id);
    return r->id;
}

/* After a decision: a recommendation not chosen again whose source is no longer in conflict
 * (or no longer runs the VM) has expired. */
void
manager_recs_expire(struct manager *m)
{
    for (size_t i = 0; i < m->n_recs;) {
        struct store_rec *r = m->recs[i];
        const struct mhost *h = manager_host_find(m, r->src);
        bool on_src = false;
        for (size_t j = 0; h != NULL && h->v.has_sample && j < h->v.sample.n_vms; j++)
            on_src |= !h->v.sample.vms[j].incoming && strcmp(h->v.sample.vms[j].name, r->vm) == 0;
        /* A power-saving recommendation holds while its host stays light. */
        bool light = h != NULL && h->v.has_sample && m->opts.policy.consolidate_below > 0 &&
                     strncmp(r->reason, "power saving", 12) == 0 &&
                     h->v.sample.usage[KIND_CPU] < m->opts.policy.consolidate_below;
        if (!m->rec_seen[i] &&
            (h == NULL || !on_src || (!h->v.in_conflict && !h->maintenance && !light))) {
            log_info("recommendation expired id=%s vm=\"%s\"", r->id, r->vm);
            rec_save(m, r, "expired");
            rec_drop(m, i);
            continue;
        }
        m->rec_seen[i] = false;
        i++;
    }
}

/* Would the core still let `r` happen now: the VM movable, and its destination able to take
 * it (room, memory, every must rule) on the latest samples? 0, or 1 with `why` filled. */
static int
apply_verdict(struct manager *m, const struct store_rec *r, char *why, size_t len)
{
    struct cluster cl;
    cluster_init(&cl);
    struct mhost **map = calloc(m->n_hosts + 1, sizeof(struct mhost *));
    bool *busy = calloc(m->n_hosts + 1, sizeof(*busy));
    int ret = 1;
    (void)snprintf(why, len, "out of memory");
    if (map == NULL || busy == NULL || manager_model(m, &cl, map, busy) < 0)
        goto out;
    size_t vi = cl.n_vms;
    for (size_t i = 0; i < cl.n_vms && vi == cl.n_vms; i++) {
        if (strcmp(cl.vms[i].name, r->vm) == 0 &&
            strcmp(cl.hosts[cl.vms[i].host].name, r->src) == 0)
            vi = i;
    }
    if (vi == cl.n_vms) {
        (void)snprintf(why, len, "the VM is no longer running on its source");
        goto out;
    }
    struct plan_opts po = {.no_dest = busy, .no_source = busy};
    struct vm_explain e;
    if (plan_explain_vm(&cl, &m->opts.policy, &po, vi, &e) < 0)
        goto out;
    const struct policy *pol = &m->opts.policy;
    if (e.pinned) {
        (void)snprintf(why, len, "the VM is pinned");
    } else if (e.duplicate) {
        (void)snprintf(why, len, "a VM of the same name runs on another host too");
    } else if (e.held_rule_id > 0) {
        (void)snprintf(why, len, "rule \"%.100s\" keeps the VM with others on its host",
                       pol->rules[e.held_rule_id - 1].name);
    } else {
        (void)snprintf(why, len, "the destination is not among the hosts that can take it");
        for (size_t i = 0; i < e.n_dests; i++) {
            const struct dest_explain *d = &e.dests[i];
            if (strcmp(cl.hosts[d->host].name, r->dst) != 0)
                continue;
            if (d->verdict == DEST_OK)
                ret = 0;
            else if (d->verdict == DEST_RULE)
                (void)snprintf(why, len, "the destination would break rule \"%.100s\"",
                               pol->rules[d->rule_id - 1].name);
            else
                (void)snprintf(why, len, "the destination cannot take it now (%s)",
                               dest_verdict_name(d->verdict));
        }
    }
    vm_explain_done(&e);
out:
    free(map);
    free(busy);
    cluster_done(&cl);
    return ret;
}

/* The index of held recommendation `id`, or m->n_recs. */
static size_t
rec_index(const struct manager *m, const char *id)
{
    size_t i = 0;
    while (i < m->n_recs && strcmp(m->recs[i]->id, id) != 0)
        i++;
    return i;
}

int
manager_apply(struct manager *m, const char *id, char *ret_mig, size_t mig_len, char *msg,
              size_t len)
{
    size_t i = rec_index(m, id);
    if (i == m->n_recs) {
        (void)snprintf(msg, len,
                       "no pending recommendation \"%s\" (applied, superseded or expired: see "
                       "vmloc recommendations)",
                       id);
        return 404;
    }
    struct store_rec *r = m->recs[i];
    if (strcmp(r->state, "dry-run") == 0) {
        (void)snprintf(msg, len, "\"%s\" was decided in dry-run: nothing is applied", id);
        return 409;
    }
    const struct mhost *src = manager_host_find(m, r->src);
    const struct mhost *dst = manager_host_find(m, r->dst);
    bool on_src = false;
    for (size_t j = 0; src != NULL && src->v.has_sample && j < src->v.sample.n_vms; j++)
        on_src |= strcmp(src->v.sample.vms[j].name, r->vm) == 0 && !src->v.sample.vms[j].incoming &&
                  !src->v.sample.vms[j].migrating_out;
    const char *why = NULL;
    if (src == NULL || !src->v.up || !on_src)
        why = "the VM is no longer running on its source";
    else if (dst == NULL || !dst->v.up)
        why = "the destination is not up";
    else if (dst->maintenance)
        why = "the destination is in maintenance";
    else if (busy(m, r->src, r->vm) || busy(m, r->dst, NULL))
        why = "a migration into or out of the source or destination runs";
    else if (m->opts.policy.max_migrations > 0 && m->n_active >= m->opts.policy.max_migrations)
        why = "max_migrations are running";
    char verdict[300] = "";
    if (why == NULL && apply_verdict(m, r, verdict, sizeof(verdict)) != 0)
        why = verdict;
    if (why != NULL) {
        (void)snprintf(msg, len, "\"%s\" no longer holds: %s", id, why);
        return 409;
    }
    char reason[300];
    (void)snprintf(reason, sizeof(reason), "applied %.60s: %.200s", r->id, r->reason);
    utf8_trim_partial(reason);
    if (manager_order(m, r->vm, r->src, r->dst, reason, r->migration, sizeof(r->migration)) < 0) {
        (void)snprintf(msg, len, "the migration could not be ordered (see the manager's log)");
        return 503;
    }
    rec_save(m, r, "applied");
    (void)snprintf(ret_mig, mig_len, "%s", r->migration);
    rec_drop(m, i);
    return 0;
}

static void
load_rec(void *ctx, const struct store_rec *rec)
{
    struct manager *m = ctx;
    if (m->n_recs >= MANAGER_MAX_RECS)
        return;
    struct store_rec *r = malloc(sizeof(*r));
    if (r == NULL)
        return;
    *r = *rec;
    m->recs[m->n_recs] = r;
    m->rec_seen[m->n_recs] = true; /* it expires only after a decision that no longer makes it */
    m->n_recs++;
}

int
manager_recs_load(struct manager *m)
{
    return store_each_recommendation(m->store, true, 0, load_rec, m);
}

void
manager_recs_restore(struct manager *m, const struct store_rec *recs, size_t n)
{
    /* Held here but not in the journal: applied, superseded or expired under another leader
     * (or made before this manager ran with --etcd). */
    for (size_t i = 0; i < m->n_recs;) {
        struct store_rec *r = m->recs[i];
        size_t k = 0;
        while (k < n && strcmp(recs[k].id, r->id) != 0)
            k++;
        if (k < n) {
            i++;
            continue;
        }
        log_info("recommendation dropped id=%s vm=\"%s\": not in the journal in etcd (settled "
                 "under another leader)",
                 r->id, r->vm);
        rec_save(m, r, "expired");
        rec_drop(m, i);
    }
    manager_store_pause(m);
    for (size_t k = 0; k < n; k++) {
        if (rec_index(m, recs[k].id) < m->n_recs)
            continue; /* held already */
        if (m->n_recs >= MANAGER_MAX_RECS) {
            log_warnx("recommendations of the journal not adopted count=%zu: %d are held "
                      "already, ignoring",
                      n - k, MANAGER_MAX_RECS);
            break;
        }
        struct store_rec *r = malloc(sizeof(*r));
        if (r == NULL) {
            log_warnx("out of memory: recommendation id=%s of the journal not adopted, ignoring",
                      recs[k].id);
            continue;
        }
        *r = recs[k];
        if (store_put_recommendation(m->store, r) < 0)
            log_warnx("recommendation not stored id=%s, ignoring", r->id);
        m->recs[m->n_recs] = r;
        m->rec_seen[m->n_recs] =
            true; /* it expires only after a decision that no longer makes it */
        m->n_recs++;
        log_info("recommendation adopted from the journal id=%s vm=\"%s\" from=\"%s\" to=\"%s\" "
                 "state=%s",
                 r->id, r->vm, r->src, r->dst, r->state);
    }
    manager_store_resume(m);
}

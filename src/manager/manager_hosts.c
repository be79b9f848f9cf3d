/* The hosts the manager knows: one per agent that registered (or that the store remembers),
 * with its latest sample (view/hostview.h) and what the collection notes of it: the rounds it
 * missed, the age of its samples, its maintenance. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "common/nameidx.h"
#include "manager/manager_internal.h"

_Static_assert(MANAGER_HOST_INDEX >= 2 * MANAGER_MAX_AGENTS &&
                   (MANAGER_HOST_INDEX & (MANAGER_HOST_INDEX - 1)) == 0,
               "the host index: a power of two, at most half full");

static const char *
host_name_of(const void *item)
{
    const struct mhost *h = item;
    return h->v.name;
}

/* Every registration and many decisions look a host up by name: by a hash of it, since a
 * walk over the hosts took 5,000 comparisons a lookup at 10,000 hosts, with 2,000
 * registrations a second. */
struct mhost *
manager_host_find(struct manager *m, const char *name)
{
    return nameidx_find(&m->host_index, name);
}

bool
manager_host_clash(const struct mhost *h)
{
    return h->clash_url[0] != '\0' && clock_mono_s() - h->clash_last_mono < MANAGER_CLASH_HOLD_S;
}

/* Agent `url` asks for the name of `h`, held by another URL: taken over when the holder has
 * gone silent, else refused (-EEXIST) and recorded as a clash. */
static int
claim(struct manager *m, struct mhost *h, const char *url)
{
    if (h->misses >= MANAGER_DOWN_AFTER) {
        log_warnx("agent moved host=\"%s\" url=%s was=%s: the agent there stopped answering "
                  "(%d rounds missed)",
                  h->v.name, url, h->v.url, h->misses);
        (void)snprintf(h->v.url, sizeof(h->v.url), "%s", url);
        h->target_ok = false;
        h->clash_url[0] = '\0';
        h->clash_refused = 0;
        h->contact = clock_wall_s();
        /* The new holder must go silent itself before the name moves again. */
        h->misses = 0;
        return 0;
    }
    bool again = manager_host_clash(h) && strcmp(h->clash_url, url) == 0;
    if (!again)
        h->clash_refused = 0;
    /* Once per episode, and within the budget: a rival from ever new URLs is counted. */
    if (!again &&
        ratelog_allow(&m->clash_log, clock_mono_s(), MANAGER_LOG_BURST, "registration refused")) {
        log_errorx("registration refused host=\"%s\" url=%s: the name is held by the agent at "
                   "%s, which answers; give one of the two agents another name (a name is "
                   "taken over once its holder has missed %d rounds, or with 'vmloc forget')",
                   h->v.name, url, h->v.url, MANAGER_DOWN_AFTER);
    }
    (void)snprintf(h->clash_url, sizeof(h->clash_url), "%s", url);
    h->clash_last = clock_wall_s();
    h->clash_last_mono = clock_mono_s();
    h->clash_refused++;
    m->registrations_refused++;
    return -EEXIST;
}

int
manager_host_register(struct manager *m, const char *name, const char *url, struct mhost **ret_h)
{
    struct mhost *h = manager_host_find(m, name);
    if (h != NULL) {
        *ret_h = h;
        if (strcmp(h->v.url, url) != 0)
            return claim(m, h, url);
        h->contact = clock_wall_s();
        return 0;
    }
    if (m->n_hosts >= MANAGER_MAX_AGENTS)
        return -ENOSPC;
    if (m->host_index.slot == NULL &&
        nameidx_init(&m->host_index, MANAGER_HOST_INDEX, host_name_of) < 0)
        return -ENOMEM;
    if (m->n_hosts % 64 == 0) {
        struct mhost **n = realloc(m->hosts, (m->n_hosts + 64) * sizeof(struct mhost *));
        if (n == NULL)
            return -ENOMEM;
        m->hosts = n;
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL)
        return -ENOMEM;
    m->hosts[m->n_hosts++] = h;
    h->m = m;
    hview_init(&h->v, name, url);
    nameidx_put(&m->host_index, h);
    h->v.up = false; /* until its first sample */
    h->contact = clock_wall_s();
    if (ratelog_allow(&m->registered_log, clock_mono_s(), MANAGER_LOG_BURST, "agent registered"))
        log_info("agent registered host=\"%s\" url=%s", name, url);
    *ret_h = h;
    return 0;
}

void
manager_host_store_reg(struct manager *m, struct mhost *h)
{
    double refresh = MANAGER_REG_REFRESH_S;
    if (m->opts.forget_after_s > 0 && m->opts.forget_after_s / 10 < refresh)
        refresh = m->opts.forget_after_s / 10;
    double age = h->contact - h->reg_stored;
    /* A clock stepped back (age < 0) rewrites it too, so that it is never left in the future. */
    bool known = h->reg_stored > 0 && strcmp(h->reg_stored_url, h->v.url) == 0;
    if (known && age >= 0 && age < refresh)
        return;
    /* A new agent or address is committed at once; a refreshed time waits for the next commit. */
    if (!known)
        manager_store_pause(m);
    int stored = store_put_agent(m->store, h->v.name, h->v.url, h->contact);
    if (!known)
        manager_store_resume(m);
    if (stored < 0) {
        log_warnx("agent not stored host=\"%s\", ignoring", h->v.name);
        return;
    }
    h->reg_stored = h->contact;
    (void)snprintf(h->reg_stored_url, sizeof(h->reg_stored_url), "%s", h->v.url);
}

/* Samples that keep coming too old (taken before the last whole interval: the host's clock is
 * behind this one, or its sampling is slow) or dated ahead of this clock mean that the host
 * samples out of step with the rounds, and its conflicts may be seen up to an interval late.
 * Logged after a few in a row, at most every ten minutes per host. An agent that samples at
 * another pace than the rounds is not judged. */
static void
check_sample_age(struct manager *m, struct mhost *h, double age)
{
    h->sample_age = age;
    if (h->agent_interval > 0 && fabs(h->agent_interval - m->opts.interval_s) > 1e-6)
        return;
    double offset = manager_collect_offset(&m->opts);
    bool ahead = age < -MANAGER_AGE_AHEAD_S;
    bool late = age > offset + m->opts.interval_s / 2;
    h->odd_ages = ahead || late ? h->odd_ages + 1 : 0;
    if (h->odd_ages < MANAGER_ODD_AGES)
        return;
    double now = clock_mono_s();
    if (h->age_warned > 0 && now - h->age_warned < MANAGER_AGE_WARN_EVERY_S)
        return;
    h->age_warned = now;
    if (ahead)
        log_warnx("samples dated ahead host=\"%s\" by_s=%.3f: its clock is ahead of the "
                  "manager's; keep the hosts' clocks in step (NTP)",
                  h->v.name, -age);
    else
        log_warnx("late samples host=\"%s\" age_s=%.3f expected_s=%.3f: its clock is behind the "
                  "manager's or its sampling is slow (see vmloc_sample_duration_seconds on its "
                  "agent); its conflicts are seen up to an interval late",
                  h->v.name, age, offset);
}

void
manager_host_missed(struct manager *m, struct mhost *h, const char *why)
{
    h->misses++;
    (void)snprintf(h->miss_reason, sizeof(h->miss_reason), "%s", why);
    if (h->misses >= MANAGER_DOWN_AFTER && h->v.up) {
        h->v.up = false;
        log_warnx("host down host=\"%s\" url=%s reason=\"%s\"; its VMs stay where they are",
                  h->v.name, h->v.url, why);
    } else if (h->misses == 1 &&
               ratelog_allow(&m->no_sample_log, clock_mono_s(), MANAGER_LOG_BURST, "no sample")) {
        log_warnx("no sample host=\"%s\" reason=\"%s\"", h->v.name, why);
    }
}

static void store_sample(struct manager *m, struct mhost *h);

void
manager_host_sample(struct manager *m, struct mhost *h, struct wire_sample *s)
{
    hview_take(&h->v, s, clock_wall_s());
    h->contact = clock_wall_s();
    /* Anti-flapping (central mode): each new sample's own detection, for the persistence
     * filter. */
    if (!m->opts.edge && (m->opts.policy.persist_k != 1 || m->opts.policy.persist_n != 1) &&
        (h->persist_seq == 0 || h->v.sample.seq != h->persist_seq)) {
        /* Once per sample: a round faster than the agent samples brings the same one again. */
        h->persist_seq = h->v.sample.seq != 0 ? h->v.sample.seq : 1;
        int c = wire_sample_conflict(&h->v.sample, &m->opts.policy, NULL, NULL, NULL, NULL);
        h->conflict_seen = policy_persist_push(h->conflict_seen, c == 1);
    }
    if (!h->v.up && h->misses >= MANAGER_DOWN_AFTER)
        log_info("host up again host=\"%s\"", h->v.name);
    h->v.up = true;
    h->misses = 0;
    double age = h->v.last_seen - h->v.sample.time;
    log_debug("sample host=\"%s\" seq=%llu age_ms=%.0f", h->v.name,
              (unsigned long long)h->v.sample.seq, age * 1000.0);
    histo_observe(&m->age_h, age > 0 ? age : 0);
    check_sample_age(m, h, age);
    store_sample(m, h);
}

/* Every sample goes into its host's one-minute roll-up; one every store_every seconds is
 * kept raw, with its VMs (those still arriving are not the host's yet). */
static void
store_sample(struct manager *m, struct mhost *h)
{
    const struct wire_sample *s = &h->v.sample;
    double mono = clock_mono_s(); /* a clock set back must not stop the storing */
    bool raw = h->last_stored <= 0 || mono - h->last_stored >= m->opts.store_every_s;
    /* A sample dated ahead (its host's clock is) is stored at most a little ahead of this
     * clock: pruning goes by age in id order and would stop at a row from the future. */
    double t = fmin(s->time, clock_wall_s() + MANAGER_AGE_AHEAD_S);
    int r = store_add_sample(m->store, t, h->v.name, s->usage, s->usage_kinds, &s->pressure, raw);
    for (size_t j = 0; r == 0 && raw && j < s->n_vms; j++) {
        const struct wire_sample_vm *v = &s->vms[j];
        if (!v->incoming)
            r = store_add_vm(m->store, v->name, v->usage, v->usage_kinds,
                             v->has_cpu_wait ? &v->cpu_wait : NULL);
    }
    if (r < 0)
        log_warnx("sample not stored host=\"%s\": %s, ignoring", h->v.name, strerror(-r));
    else if (raw)
        h->last_stored = mono;
}

size_t
manager_host_vms(const struct mhost *h)
{
    size_t n = 0;
    for (size_t j = 0; h->v.has_sample && j < h->v.sample.n_vms; j++)
        n += !h->v.sample.vms[j].incoming;
    return n;
}

/* The answer to manager_sample_now(): kept unless a round brought a sample first. */
static void
first_sample_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct mhost *h = arg;
    (void)err;
    if (!manager_host_answered(h) || status != 200 || h->v.has_sample)
        return; /* the rounds report what is wrong */
    struct wire_sample s;
    struct perr perr;
    if (wire_sample_decode(body, len, &s, &perr) < 0)
        return;
    if (strcmp(s.name, h->v.name) != 0) {
        wire_sample_done(&s);
        return;
    }
    manager_host_sample(h->m, h, &s);
}

void
manager_sample_now(struct manager *m, struct mhost *h)
{
    if (manager_host_send(m, h, "GET", "/v1/sample", HTTP_TIMEOUT_S, first_sample_done) < 0)
        log_debug("first sample not asked for host=\"%s\"; the next round will", h->v.name);
}

/* ---- requests to a host, and forgetting it ---------------------------------------------- */

int
manager_host_send(struct manager *m, struct mhost *h, const char *method, const char *path,
                  double timeout_s, http_done_fn done)
{
    if (!h->target_ok) {
        if (http_target_parse(&h->target, h->v.url) < 0)
            return -EINVAL;
        h->target_ok = true;
    }
    int r = http_request_to(m->client, &h->target, method, path, NULL, timeout_s, done, h);
    if (r == 0)
        h->inflight++;
    return r;
}

void
manager_host_free(struct mhost *h)
{
    hview_done(&h->v);
    episode_done(&h->episode);
    free(h);
}

bool
manager_host_answered(struct mhost *h)
{
    h->inflight--;
    if (!h->forgotten)
        return true;
    if (h->inflight > 0)
        return false;
    struct manager *m = h->m;
    size_t k = 0;
    for (size_t i = 0; i < m->n_retired; i++) {
        if (m->retired[i] != h)
            m->retired[k++] = m->retired[i];
    }
    m->n_retired = k;
    manager_host_free(h);
    return false;
}

/* Does a migration the manager follows come from or go to host `name`? */
static bool
host_migrating(const struct manager *m, const char *name)
{
    for (size_t i = 0; i < m->n_active; i++) {
        const struct store_migration *g = &m->active[i]->rec;
        if (strcmp(g->src, name) == 0 || strcmp(g->dst, name) == 0)
            return true;
    }
    return false;
}

int
manager_host_forget(struct manager *m, struct mhost *h, const char *why,
                    const struct journal_answer *ans)
{
    if (host_migrating(m, h->v.name))
        return -EBUSY;
    if (h->inflight > 0) {
        struct mhost **n = realloc(m->retired, (m->n_retired + 1) * sizeof(struct mhost *));
        if (n == NULL)
            return -ENOMEM;
        m->retired = n;
    }
    manager_store_pause(m);
    int stored = store_forget_agent(m->store, h->v.name);
    manager_store_resume(m);
    if (stored < 0)
        return -EIO;
    int rc = 0;
    if (h->maintenance) {
        /* Forgotten: not drained next time (a failure is logged; the next leader would
         * list the host in maintenance until it is undrained). */
        rc = manager_journal_drain(m, h->v.name, false, 0, ans);
        if (rc < 0)
            rc = MANAGER_FORGOT_UNJOURNALED;
    }
    size_t i = 0;
    while (i < m->n_hosts && m->hosts[i] != h)
        i++;
    if (i < m->n_hosts) {
        memmove(&m->hosts[i], &m->hosts[i + 1], (m->n_hosts - i - 1) * sizeof(struct mhost *));
        m->n_hosts--;
        nameidx_remove(&m->host_index, h);
    }
    log_info("host forgotten host=\"%s\" url=%s reason=\"%s\"", h->v.name, h->v.url, why);
    if (h->inflight > 0) {
        h->forgotten = true; /* freed when its last request comes back */
        m->retired[m->n_retired++] = h;
    } else {
        manager_host_free(h);
    }
    return rc;
}

void
manager_forget_silent(struct manager *m)
{
    if (m->opts.forget_after_s <= 0)
        return;
    double now = clock_wall_s();
    size_t i = 0;
    while (i < m->n_hosts) {
        struct mhost *h = m->hosts[i];
        double silent = now - h->contact;
        if (h->v.up || !(silent > m->opts.forget_after_s)) {
            i++;
            continue;
        }
        char why[160];
        (void)snprintf(why, sizeof(why), "silent for %.0f s (forget_after %.0f s)", silent,
                       m->opts.forget_after_s);
        if (manager_host_forget(m, h, why, NULL) < 0)
            i++; /* a migration involves it, or the store failed: tried again next round */
    }
}

const char *
manager_host_state(const struct mhost *h)
{
    if (h->maintenance)
        return "maintenance";
    if (!h->v.has_sample)
        return h->misses > 0 ? "down" : "unknown";
    return h->v.up ? "up" : "down";
}

/* The commit of manager_store_pause(); at the failpoint store-pause-commit:drop it fails, as
 * after a full disk (the tests: only these commits, not the rounds'). */
static int
pause_commit(struct manager *m)
{
    if (failpoint_drop("store-pause-commit")) {
        store_rollback(m->store);
        return -EIO;
    }
    return store_commit(m->store);
}

void
manager_store_pause(struct manager *m)
{
    if (m->store_paused++ != 0 || !m->txn)
        return;
    bool ok = pause_commit(m) == 0;
    /* The held orders' records written since the last commit: committed, or gone with the
     * rollback (manager_orders_stored()). */
    for (size_t i = 0; i < m->n_active; i++) {
        struct mmig *g = m->active[i];
        if (g->store_wait && !g->store_done && !g->store_lost) {
            g->store_done = ok;
            g->store_lost = !ok;
        }
    }
    if (!ok)
        log_warnx("store commit before a write that must be committed failed (the rows since "
                  "the last commit may be lost), ignoring");
}

void
manager_store_resume(struct manager *m)
{
    if (--m->store_paused > 0 || !m->txn)
        return;
    m->txn = store_begin(m->store) == 0;
    if (!m->txn)
        log_warnx("store transaction not begun again (rows commit one by one until the next "
                  "commit), ignoring");
}

/* Host `h` into maintenance since `since`, or out of it (`on`): stored and set; `how` for
 * the log. 0 or -EIO (nothing changed). */
static int
maintenance_set(struct manager *m, struct mhost *h, bool on, double since, const char *how)
{
    manager_store_pause(m);
    int stored = store_set_maintenance(m->store, h->v.name, on, since);
    manager_store_resume(m);
    if (stored < 0)
        return -EIO;
    if (h->maintenance != on) {
        h->maintenance = on;
        h->maintenance_since = on ? since : 0;
        h->drain_block = 0;
        h->drain_block_vm[0] = '\0';
        log_info("%s host=\"%s\" vms=%zu%s", on ? "maintenance: draining" : "maintenance over",
                 h->v.name, manager_host_vms(h), how);
    }
    return 0;
}

int
manager_set_maintenance(struct manager *m, struct mhost *h, bool on)
{
    double now = on && h->maintenance ? h->maintenance_since : clock_wall_s();
    if (maintenance_set(m, h, on, now, "") < 0)
        return -EIO;
    event_active(m->decide_ev, 0, 0); /* decide soon, not at the next round */
    return 0;
}

/* Host `h` into maintenance since `since` or out of it, as the leader's journal says. */
static void
maintenance_restore(struct manager *m, struct mhost *h, bool on, double since)
{
    if (h->maintenance == on && (!on || h->maintenance_since == since))
        return;
    if (maintenance_set(m, h, on, since, " (the journal in etcd)") < 0)
        log_warnx("maintenance of host=\"%s\" from the journal not stored, ignoring", h->v.name);
}

/* Does a drain of `d` (n) name host `name`, its record readable or not? */
static bool
drain_names(const struct journal_drain *d, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(d[i].host, name) == 0)
            return true;
    }
    return false;
}

size_t
manager_drains_restore(struct manager *m, const struct journal_drain *d, size_t n)
{
    size_t set = 0;
    for (size_t i = 0; i < n; i++) {
        if (!d[i].readable)
            continue;
        struct mhost *h = manager_host_find(m, d[i].host);
        if (h == NULL) {
            log_warnx("journal: drained host=\"%s\" is not a known agent, ignoring", d[i].host);
            continue;
        }
        maintenance_restore(m, h, true, d[i].since);
        set++;
    }
    /* A host in maintenance here but not in etcd was taken out by another leader. */
    for (size_t i = 0; i < m->n_hosts; i++) {
        if (m->hosts[i]->maintenance && !drain_names(d, n, m->hosts[i]->v.name))
            maintenance_restore(m, m->hosts[i], false, 0);
    }
    return set;
}

/* Were the other hosts' samples taken before the notifying host's latest sampling instant?
 * Agents sample at the same instants: a sample older than half an interval before host
 * `h`'s is from an earlier instant, and a destination chosen on it may have changed since
 * (its own VMs' load rose at the same instant), so a move could land where it ends above its
 * threshold. */
static bool
others_stale(const struct manager *m, const struct mhost *h)
{
    double t = h->v.sample.time - m->opts.interval_s / 2.0;
    for (size_t i = 0; i < m->n_hosts; i++) {
        const struct mhost *o = m->hosts[i];
        if (o != h && o->v.up && o->v.has_sample && o->v.sample.time < t)
            return true;
    }
    return false;
}

void
manager_notified(struct manager *m, struct mhost *h)
{
    h->notified = true;
    h->stale_view = h->v.has_sample && others_stale(m, h);
    h->notified_at = clock_mono_s();
    m->notifications++;
    /* Decide once the loop has served the requests at hand: notifications that arrive
     * together share one decision. */
    event_active(m->decide_ev, 0, 0);
}

/* The manager's life: start the store and the HTTP server, learn agents from their
 * registrations (and from the store after a restart), collect every interval, decide.
 *
 * The collection loop: a timer fires every interval and, unless the previous round is still
 * waiting for answers, asks every known agent for its latest sample at once. Each answer is
 * validated, kept as the host's current state and written to the store (committed with the
 * round's decision: txn_commit()). When the last answer or time-out of the round arrives, the round
 * is complete: the manager decides on the samples as they are then, and follows the migrations in
 * flight. An agent that misses MANAGER_DOWN_AFTER rounds in a row is marked down: it is neither
 * checked nor used as a destination, and its VMs stay recorded where they were. */
#define _GNU_SOURCE /* sched_getaffinity(), CPU_COUNT() */
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/limits.h"
#include "common/log.h"
#include "manager/manager_internal.h"
#include "net/workq.h"
#include "proto/wire.h"

_Static_assert(LIMIT_ANSWERS_HELD >= WIRE_MAX_SAMPLE_BYTES + HTTP_MAX_HEADERS,
               "the largest sample fits the answers a manager holds at once");

/* The next round: at the collection offset after the next whole interval of the wall clock.
 * The agents sample on those whole intervals (agent.c), so each round finds samples taken a
 * moment before, whatever the phase the processes started in. */
static void
arm_round(struct manager *m)
{
    struct timeval tv = loop_tv(
        clock_align_delay(clock_wall_s(), m->opts.interval_s, manager_collect_offset(&m->opts)));
    (void)event_base_update_cache_time(m->base); /* counted from now, not the turn's start */
    if (event_add(m->round_ev, &tv) < 0)
        log_errorx("the next collection round cannot be scheduled: collection stops (restart "
                   "the manager)");
}

static void round_complete(struct manager *m);

/* What the round makes of a sample decoded (`rc`: wire_sample_decode()'s, with `s` and
 * `perr`) from host `h`'s answer; `s` is the host's then, or freed. */
static void
sample_decoded(struct manager *m, struct mhost *h, int rc, struct wire_sample *s,
               const struct perr *perr)
{
    if (rc < 0) {
        /* Logged by manager_host_missed() once until the host answers well again, not every
         * round. */
        char why[300];
        (void)snprintf(why, sizeof(why), "bad sample: %.250s", perr->msg);
        manager_host_missed(m, h, why);
    } else if (strcmp(s->name, h->v.name) != 0) {
        log_warnx("sample names another host host=\"%s\" sample=\"%s\", ignoring", h->v.name,
                  s->name);
        wire_sample_done(s);
        manager_host_missed(m, h, "wrong host");
    } else if (h->notified_mid_round &&
               (s->time < h->v.sample.time ||
                (s->time == h->v.sample.time && s->seq <= h->v.sample.seq))) {
        /* Read (or decoded) after a notification that brought a newer sample: keep that. By
         * time, as post_notify() compares (seq restarts with the agent, whose old process
         * may have answered just before it stopped); only for this round, so a clock stepped
         * back loses one answer, not more. */
        log_debug("older than the notification host=\"%s\" seq=%llu kept=%llu", h->v.name,
                  (unsigned long long)s->seq, (unsigned long long)h->v.sample.seq);
        wire_sample_done(s);
    } else {
        manager_host_sample(m, h, s);
    }
}

/* A sample decoded beside the loop (decode_threads): the answer, then what was made of it. */
struct sample_job {
    struct workq_job q; /* first: the queue hands back this */
    struct mhost *h;    /* held (its request counts as in flight) until the job is done */
    int rc;
    struct wire_sample s;
    struct perr perr;
    size_t len;
    char body[]; /* the answer, copied: the client's buffer is gone once sample_done returns */
};

static void
decode_work(struct workq_job *q)
{
    struct sample_job *j = (struct sample_job *)q;
    j->rc = wire_sample_decode(j->body, j->len, &j->s, &j->perr);
}

static void
decode_done(struct workq_job *q)
{
    struct sample_job *j = (struct sample_job *)q;
    struct mhost *h = j->h;
    struct manager *m = h->m;
    m->outstanding--;
    m->decode_bytes -= j->len;
    m->decoded_beside++;
    if (manager_host_answered(h)) {
        h->waiting = false;
        sample_decoded(m, h, j->rc, &j->s, &j->perr);
    } else if (j->rc == 0) {
        wire_sample_done(&j->s);
    }
    free(j);
    if (m->outstanding == 0)
        round_complete(m);
}

/* The manager stops with samples still being decoded: their hosts go with the manager. */
static void
decode_cancel(struct workq_job *q)
{
    struct sample_job *j = (struct sample_job *)q;
    if (j->rc == 0)
        wire_sample_done(&j->s);
    free(j);
}

/* Hand a sample to the decoding threads; false when there are none, while the manager knows
 * fewer hosts than decode_from (decode_threads = auto), when the samples waiting
 * for them already hold LIMIT_ANSWERS_HELD bytes (the loop decodes this one itself, and reads
 * no more meanwhile: a flood of large samples is held to the answers' budget again), for a
 * host being forgotten, or without memory for the job: the loop decodes it. */
static bool
decode_beside(struct manager *m, struct mhost *h, const char *body, size_t len)
{
    if (m->decoder == NULL || m->n_hosts < m->decode_from || h->forgotten ||
        m->decode_bytes + len > LIMIT_ANSWERS_HELD)
        return false;
    struct sample_job *j = malloc(sizeof(*j) + len + 1);
    if (j == NULL)
        return false;
    j->q.work = decode_work;
    j->q.done = decode_done;
    j->h = h;
    j->rc = -EINVAL; /* until decoded: nothing owned */
    j->len = len;
    if (len > 0)
        memcpy(j->body, body, len);
    j->body[len] = '\0';
    m->decode_bytes += len;
    workq_submit(m->decoder, &j->q);
    return true;
}

/* The CPUs this process may run on (its affinity: systemd's CPUAffinity=, a container's
 * cpuset), else those online. */
static long
usable_cpus(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        return CPU_COUNT(&set);
    return sysconf(_SC_NPROCESSORS_ONLN);
}

/* The threads of decode_threads; "auto": one on two CPUs or more, for large rounds only. */
static int
start_decoder(struct manager *m)
{
    int32_t n = m->opts.decode_threads;
    if (n == MANAGER_DECODE_AUTO) {
        long cpus = usable_cpus();
        n = cpus >= 2 ? 1 : 0;
        m->decode_from = MANAGER_DECODE_AUTO_FROM;
        if (n > 0)
            log_info("decode_threads=auto: one thread decodes the samples while %u hosts or "
                     "more are known (CPUs usable: %ld)",
                     MANAGER_DECODE_AUTO_FROM, cpus);
        else
            log_info("decode_threads=auto: the loop decodes the samples (CPUs usable: %ld)", cpus);
    }
    if (n <= 0)
        return 0;
    int r = workq_new(m->base, (unsigned)n, &m->decoder);
    if (r < 0)
        log_errorx("cannot start the threads that decode samples: %s", strerror(-r));
    return r;
}

static void
sample_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct mhost *h = arg;
    struct manager *m = h->m;
    if (status == 200 && decode_beside(m, h, body, len))
        return; /* decode_done() goes on */
    m->outstanding--;
    if (manager_host_answered(h)) {
        h->waiting = false;
        if (status != 200) {
            char why[300];
            if (status == 0) {
                (void)snprintf(why, sizeof(why), "%s", err);
            } else {
                /* The agent says why (a libvirt backend whose hypervisor is away, say). */
                json_t *j = json_loadb(body != NULL ? body : "", len, 0, NULL);
                const char *e = json_string_value(json_object_get(j, "error"));
                (void)snprintf(why, sizeof(why), "status %d%s%.200s", status, e ? ": " : "",
                               e ? e : "");
                json_decref(j);
            }
            manager_host_missed(m, h, why);
        } else {
            struct wire_sample s;
            struct perr perr;
            int rc = wire_sample_decode(body, len, &s, &perr);
            sample_decoded(m, h, rc, &s, &perr);
        }
    }
    if (m->outstanding == 0)
        round_complete(m);
}

/* The raw samples the store holds are written every MANAGER_RAW_WRITE_S (with store_every at
 * its 10 s, about one of every host), after a round's decisions, so that neither the round nor
 * a migration order waits for them. Written with each round's commit, they made a commit a
 * second that rewrote the table's and the index's last pages for a tenth of the hosts'
 * samples (bench/README.md, "Fewer pages a second"). Whether they were written now. */
static bool
write_raw(struct manager *m)
{
    double now = clock_mono_s();
    if (now - m->raw_written < MANAGER_RAW_WRITE_S)
        return false;
    m->raw_written = now;
    if (store_write_raw(m->store) < 0)
        log_warnx("raw samples not stored (lost: the roll-ups have them), ignoring");
    return true;
}

/* The manager writes in one transaction, committed and begun again at fixed points: after
 * each round's decision (before its orders go out; a follower's round, with no decision, at
 * its end), after a decision on notifications, after the pruning and the raw samples when
 * there are any, at each tick when rounds wait for notifications, and around the writes that
 * must be committed at once (manager_store_pause()).
 * So the rows of a second (the round's, a migration's changes of state, the conflicts, the
 * orders, the pruning) rewrite a table's last pages once, not once a row (bench/README.md, "A
 * second's writes in one commit"). A crash loses at most what came since the last commit:
 * never an order that went out, nor an operator's change that was answered; a migration's
 * state is asked of its agents again at a restart. Whether the rows since the last commit
 * were committed (false: lost). */
static bool
txn_commit(struct manager *m)
{
    bool ok = true;
    if (m->txn && store_commit(m->store) < 0) {
        log_warnx("store commit failed (the rows since the last commit are lost), ignoring");
        ok = false;
    }
    m->txn = store_begin(m->store) == 0;
    if (!m->txn)
        log_warnx("store transaction not begun (rows commit one by one), ignoring");
    return ok;
}

/* A decision (and the following of migrations in flight): the orders it makes are recorded
 * in the open transaction and go out once their records are committed, by the decision's
 * commit or by one before a write committed on its own during it (manager_store_pause()); an
 * order whose record a failed commit took fails, never sent. */
static void
decide(struct manager *m, bool follow)
{
    uint64_t ordered = m->ordered_total;
    m->hold_orders = m->txn;
    manager_decide(m);
    if (follow)
        manager_follow(m);
    m->hold_orders = false;
    bool stored = txn_commit(m);
    if (m->ordered_total != ordered)
        manager_orders_stored(m, stored);
}

static void
round_complete(struct manager *m)
{
    m->in_round = false;
    m->last_round_ms = (double)(clock_now_us() - m->round_started_us) / 1000.0;
    manager_forget_silent(m);
    uint64_t t0 = clock_now_us();
    /* A follower keeps its view warm (collected and stored) but neither decides nor orders.
     * The round's rows commit with the decision's. */
    if (manager_ha_leads(m))
        decide(m, true);
    else
        (void)txn_commit(m);
    m->last_decide_ms = (double)(clock_now_us() - t0) / 1000.0;
    /* Old rows go in small batches every round (a batch is bounded, so a large backlog
     * never stalls the loop; raw samples a table, a sixth of the retention, at a time), after
     * the decision; neither time above includes it. Committed at once with the raw samples,
     * when there are any, so that the next decision's commit does not carry them. */
    struct store_retention keep = {m->opts.retention_s, m->opts.rollup_retention_s,
                                   m->opts.event_retention_s};
    int pruned = store_prune(m->store, clock_wall_s(), &keep);
    if (pruned < 0)
        log_warnx("store pruning failed, ignoring");
    if (write_raw(m) || pruned > 0)
        (void)txn_commit(m);
    log_debug("round %llu took_ms=%.1f decide_ms=%.1f", (unsigned long long)m->rounds,
              m->last_round_ms, m->last_decide_ms);
    histo_observe(&m->round_h, m->last_round_ms / 1000.0);
    histo_observe(&m->decide_h, m->last_decide_ms / 1000.0);
}

static void
start_round(struct manager *m)
{
    m->rounds++;
    m->in_round = true;
    m->round_started_us = clock_now_us();
    /* Answers must come within the interval (at least 0.5 s, at most 5 s). */
    double timeout = m->opts.interval_s;
    if (timeout < 0.5)
        timeout = 0.5;
    if (timeout > 5.0)
        timeout = 5.0;
    m->outstanding = 1; /* held until every request is sent */
    for (size_t i = 0; i < m->n_hosts; i++) {
        struct mhost *h = m->hosts[i];
        if (manager_host_send(m, h, "GET", "/v1/sample", timeout, sample_done) < 0) {
            manager_host_missed(m, h, "request not sent");
            continue;
        }
        h->waiting = true;
        h->notified_mid_round = false;
        m->outstanding++;
    }
    m->outstanding--;
    if (m->outstanding == 0)
        round_complete(m);
}

static bool draining(const struct manager *m);

static void
round_cb(evutil_socket_t fd, short what, void *arg)
{
    struct manager *m = arg;
    (void)fd;
    (void)what;
    arm_round(m);
    if (m->in_round) {
        log_debug("collection round still running, skipping a tick");
        return;
    }
    if (m->opts.collect_on_notify && !draining(m)) {
        /* No collection until an agent notifies; migrations in flight are still followed. */
        (void)txn_commit(m);
        if (manager_ha_leads(m))
            manager_follow(m);
        if (write_raw(m))
            (void)txn_commit(m); /* not with a decision's orders */
        return;
    }
    start_round(m);
}

static void
notified_cb(evutil_socket_t fd, short what, void *arg)
{
    struct manager *m = arg;
    (void)fd;
    (void)what;
    if (m->in_round)
        return; /* the round's end decides, with the notified hosts checked */
    if (!manager_ha_leads(m))
        return; /* a follower does not decide */
    /* Decide at once on the samples at hand, unless the notifying hosts sampled at an
     * instant the others were not collected at yet: then collect first (a few milliseconds),
     * and the round's end decides. */
    bool stale = false;
    for (size_t i = 0; i < m->n_hosts && !stale; i++)
        stale = m->hosts[i]->notified && m->hosts[i]->stale_view;
    if (m->opts.collect_on_notify || stale) {
        start_round(m);
        return;
    }
    uint64_t t0 = clock_now_us();
    decide(m, false);
    m->last_decide_ms = (double)(clock_now_us() - t0) / 1000.0;
    log_debug("round %llu took_ms=%.1f decide_ms=%.1f", (unsigned long long)m->rounds,
              m->last_round_ms, m->last_decide_ms);
    histo_observe(&m->decide_h, m->last_decide_ms / 1000.0);
}

/* This manager has just taken the lead (manager_ha.c), with the journal read. */
static void
took_lead(struct manager *m)
{
    /* The migrations this manager holds unfinished (adopted from the journal just read,
     * recovered from its store at its start, or left when it last stopped leading) that the
     * view kept warm meanwhile shows finished end first, so that their hosts are free for
     * the decision below (asking their agents would take until the next round); the others
     * are journaled under the new term and followed by asking their agents, as after a
     * restart; then a decision on that view. */
    manager_settle_from_samples(m);
    manager_journal_all(m);
    manager_follow(m);
    event_active(m->decide_ev, 0, 0);
}

static void
load_agent(void *ctx, const char *name, const char *url, double registered)
{
    struct manager *m = ctx;
    if (!wire_name_valid(name) || http_url_check(url) < 0) {
        log_warnx("stored agent is invalid host=\"%s\", ignoring", name);
        return;
    }
    struct mhost *h = NULL;
    int rc = manager_host_register(m, name, url, &h);
    if (rc == -EEXIST)
        log_warnx("stored agent listed twice host=\"%s\" url=%s, ignoring", name, url);
    else if (rc < 0)
        log_warnx("too many agents, ignoring host=\"%s\"", name);
    else if (registered > 0) {
        h->contact = registered; /* silent since then, as far as this manager knows */
        h->reg_stored = registered;
        (void)snprintf(h->reg_stored_url, sizeof(h->reg_stored_url), "%s", url);
    }
}

static void
load_maintenance(void *ctx, const char *host, double since)
{
    struct manager *m = ctx;
    struct mhost *h = manager_host_find(m, host);
    if (h == NULL) {
        log_warnx("host in maintenance is not a known agent host=\"%s\", ignoring", host);
        return;
    }
    h->maintenance = true;
    h->maintenance_since = since;
    log_info("host in maintenance host=\"%s\" (from the store)", host);
}

static void
history_point(void *ctx, const struct store_row *r)
{
    struct manager *m = ctx;
    struct mhost *h = manager_host_find(m, r->host);
    if (h != NULL)
        hview_push_usage(&h->v, r->time, r->pct, &r->pressure);
}

/* The hosts' usage history (the page's chart) from the raw samples of the store, so that it
 * goes on where it was before a restart. */
static void
load_history(struct manager *m)
{
    if (store_each_sample(m->store, NULL, clock_wall_s() - m->opts.retention_s, false,
                          history_point, m, NULL) < 0)
        log_warnx("usage history not read from the store, ignoring");
}

/* A host in maintenance still runs VMs: decisions must go on even when collecting only on
 * notification. */
static bool
draining(const struct manager *m)
{
    for (size_t i = 0; i < m->n_hosts; i++) {
        if (m->hosts[i]->maintenance && manager_host_vms(m->hosts[i]) > 0)
            return true;
    }
    return false;
}

/* The one line a service manager shows (systemctl status): the hosts, the conflicts, the
 * migrations in flight. */
static void
manager_status(void *ctx, char *buf, size_t len)
{
    struct manager *m = ctx;
    size_t up = 0;
    size_t conflicts = 0;
    for (size_t i = 0; i < m->n_hosts; i++) {
        up += m->hosts[i]->v.up ? 1 : 0;
        conflicts += m->hosts[i]->v.in_conflict ? 1 : 0;
    }
    char role[64] = "";
    if (m->ha != NULL && manager_ha_leads(m))
        (void)snprintf(role, sizeof(role), "leader (term %llu), ",
                       (unsigned long long)manager_ha_term(m));
    else if (m->ha != NULL)
        (void)snprintf(role, sizeof(role), "follower, ");
    (void)snprintf(buf, len,
                   "%s%s mode: %zu host%s (%zu up), %zu in conflict, %zu migration%s in flight",
                   role, m->opts.edge ? "edge" : "central", m->n_hosts, m->n_hosts == 1 ? "" : "s",
                   up, conflicts, m->n_active, m->n_active == 1 ? "" : "s");
}

static void
manager_free(struct manager *m)
{
    manager_ha_stop(m);
    workq_free(m->decoder, decode_cancel);
    m->decoder = NULL;
    if (m->round_ev != NULL)
        event_free(m->round_ev);
    if (m->decide_ev != NULL)
        event_free(m->decide_ev);
    /* Requests in flight are cancelled here: their callbacks never run. */
    loop_done(&m->loop);
    manager_migrations_done(m);
    for (size_t i = 0; i < m->n_recs; i++)
        free(m->recs[i]);
    backoff_done(&m->backoff);
    once_done(&m->storm_once);
    dupvms_done(&m->dups);
    if (m->txn && store_commit(m->store) < 0)
        log_warnx("store commit at exit failed, ignoring");
    m->txn = false;
    if (m->store != NULL && store_sync(m->store) < 0)
        log_warnx("the minutes in progress were not stored at exit, ignoring");
    store_close(m->store);
    for (size_t i = 0; i < m->n_hosts; i++)
        manager_host_free(m->hosts[i]);
    for (size_t i = 0; i < m->n_retired; i++)
        manager_host_free(m->retired[i]);
    free(m->hosts);
    nameidx_free(&m->host_index);
    free(m->retired);
    free(m);
}

/* What the journal and the election report upward: manager.c is the one file above every
 * layer they call back. */
static const struct manager_journal_hooks journal_hooks = {
    .journaled = manager_journaled,
    .deposed = manager_ha_deposed,
    .adopt = manager_adopt,
    .listed = manager_mark_unlisted,
    .drains = manager_drains_restore,
    .recs = manager_recs_restore,
};
static const struct manager_ha_hooks ha_hooks = {
    .took_lead = took_lead,
    .journal = &journal_hooks,
};

int
manager_run(const struct manager_opts *o)
{
    struct manager *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        log_errorx("out of memory");
        return 1;
    }
    m->opts = *o;
    int ret = 1;
    static const double round_b[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
    static const double decide_b[] = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1};
    static const double mig_b[] = {0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600};
    histo_init(&m->round_h, round_b, sizeof(round_b) / sizeof(round_b[0]));
    histo_init(&m->decide_h, decide_b, sizeof(decide_b) / sizeof(decide_b[0]));
    static const double age_b[] = {0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30};
    histo_init(&m->age_h, age_b, sizeof(age_b) / sizeof(age_b[0]));
    histo_init(&m->mig_h, mig_b, sizeof(mig_b) / sizeof(mig_b[0]));
    char err[512];
    int r = store_open(o->data, &m->store, err, sizeof(err));
    if (r < 0) {
        log_errorx("cannot open the store: %s", err);
        goto out;
    }
    store_hold_raw(m->store, true);
    m->raw_written = clock_mono_s();
    int from = 0;
    if (store_upgraded(m->store, &from))
        log_info("store upgraded file=%s from=%d to=%d", store_path(m->store), from,
                 STORE_SCHEMA_VERSION);
    if (store_dropped_samples(m->store) > 0)
        log_info("store upgrade dropped the samples kept as JSON file=%s samples=%lld; "
                 "conflicts, migrations and recommendations are kept, and the usage history "
                 "starts again",
                 store_path(m->store), store_dropped_samples(m->store));
    /* Nothing an agent answers is larger than its sample; and all the agents answering at
     * once hold at most LIMIT_ANSWERS_HELD. */
    struct loop_conf lc = {WIRE_MAX_SAMPLE_BYTES, LIMIT_ANSWERS_HELD, &o->auth, &o->sec.limits,
                           o->tls};
    if (loop_setup(&m->loop, &lc) < 0)
        goto out;
    m->base = m->loop.base;
    m->client = m->loop.client;
    if (start_decoder(m) < 0)
        goto out;
    if (store_each_agent(m->store, load_agent, m) < 0)
        log_warnx("stored agents not read, ignoring");
    if (store_each_maintenance(m->store, load_maintenance, m) < 0)
        log_warnx("hosts in maintenance not read from the store, ignoring");
    load_history(m);
    if (manager_recs_load(m) < 0)
        log_warnx("pending recommendations not read from the store, ignoring");
    if (manager_recover(m) < 0)
        log_warnx("unfinished migrations not read from the store, ignoring");
    r = loop_listen(&m->loop, o->listen, manager_routes, manager_n_routes, m);
    if (r < 0) {
        log_errorx("cannot listen on %s: %s", o->listen, strerror(-r));
        goto out;
    }
    m->round_ev = event_new(m->base, -1, 0, round_cb, m);
    m->decide_ev = event_new(m->base, -1, 0, notified_cb, m);
    if (m->round_ev == NULL || m->decide_ev == NULL) {
        log_errorx("out of memory");
        goto out;
    }
    (void)txn_commit(m);
    arm_round(m);
    loop_set_status(&m->loop, manager_status, m);
    r = manager_ha_start(m, &ha_hooks);
    if (r < 0) {
        log_errorx("cannot start high availability: %s", strerror(-r));
        goto out;
    }
    log_info("manager started url=%s data=%s interval=%gs collect_offset=%gs agents=%zu policy=%s "
             "mode=%s%s",
             m->loop.url, o->data, o->interval_s, manager_collect_offset(o), m->n_hosts,
             o->policy_path[0] != '\0' ? o->policy_path : "(defaults)",
             o->edge ? "edge" : "central",
             o->edge ? (o->collect_on_notify ? " collect=notified" : " collect=interval") : "");
    loop_announce(&m->loop);
    if (loop_run(&m->loop) < 0) {
        log_errorx("event loop failed");
        goto out;
    }
    log_info("manager stopped");
    ret = 0;
out:
    manager_free(m);
    return ret;
}

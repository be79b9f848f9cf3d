/* The migrations the manager ordered, from the order to their end.
 *
 * A migration is written to the store as "planned" before the order is sent, so a manager
 * that crashes after deciding resends the same order (same id) when it starts again; agents
 * treat an order whose id they know as the same order, so nothing runs twice. Then the
 * manager asks the source agent about it every round until it is done or failed. When the
 * source forgot it (it restarted), the samples decide: a VM running on the destination and
 * not on the source has moved.
 *
 * A source that falls silent (its host down, or FOLLOW_SILENT_ROUNDS follow-ups in a row
 * without an answer) cannot say how its migration ended, and waiting for it would keep the
 * destination out of every decision. The destination can: the manager asks it about the
 * arrival (GET /v1/incoming/ID). Committed: the VM runs there, done. Aborted or expired:
 * failed, the VM stays recorded on the source. Still reserved while the source's samples
 * still come: its transfer may be running, so the source is asked again, up to
 * FOLLOW_GIVE_UP_S. Still reserved otherwise: the manager withdraws the reservation (POST
 * .../abort), as the source itself does when its commit got no answer; the destination
 * settles the race with a commit that may still come, so its answer decides (200: withdrawn,
 * failed; 409: committed first, or not taken: the destination is asked again). Unknown to the
 * destination: done when the samples show the VM running there; failed when they do not show it
 * arriving and the source can no longer act (its host is down, or it answered that it has no such
 * migration); otherwise held, since a live source that took an order whose answer was lost
 * may reserve there next. So a VM is never placed by a guess: only the destination's word or its
 * samples move it. When neither agent can tell, the source is asked again, and after
 * FOLLOW_GIVE_UP_S without an answer from it the migration fails as of unknown outcome. The time of
 * the last answer is stored, so a restart of the manager does not start that wait over. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/failpoint.h"
#include "common/log.h"
#include "manager/manager_internal.h"
#include "proto/utf8.h"

/* Orders that get no answer are resent this many rounds; then the destination is asked. */
#define ORDER_ATTEMPTS 5
/* Follow-ups in a row the source does not answer before the destination is asked. */
#define FOLLOW_SILENT_ROUNDS MANAGER_DOWN_AFTER
/* A migration that neither its source nor its destination settles fails after this long
 * without an answer from its source. */
#define FOLLOW_GIVE_UP_S 600.0
/* The last answer's time is stored again once it is this much newer than the stored one. */
#define ANSWER_SAVE_EVERY_S 10.0

const char *
mmig_state_name(enum mmig_state s)
{
    switch (s) {
    case MMIG_RUNNING:
        return "running";
    case MMIG_DONE:
        return "done";
    case MMIG_FAILED:
        return "failed";
    case MMIG_PLANNED:
        break;
    }
    return "planned";
}

static void
save(struct manager *m, struct mmig *g)
{
    (void)snprintf(g->rec.state, sizeof(g->rec.state), "%s", mmig_state_name(g->state));
    bool ended = g->state == MMIG_DONE || g->state == MMIG_FAILED;
    /* With --etcd an end deletes the journal's record: the end is committed first, so that a
     * crash in between never leaves the store with a migration the journal no longer lists
     * (a restart would take it for one that another leader settled). */
    bool now = ended && !g->unlisted && manager_journal_writing(m);
    if (now)
        manager_store_pause(m);
    int stored = store_put_migration(m->store, &g->rec);
    if (now)
        manager_store_resume(m);
    if (stored < 0)
        log_warnx("migration not stored id=%s, ignoring", g->rec.id);
    /* An end not stored keeps its journal record: a takeover follows it again. */
    if (!g->unlisted && !(now && stored < 0))
        (void)manager_journal_migration(m, &g->rec, ended);
}

/* The source answered about `g` (or the destination settled it): the give-up wait starts
 * again, and its start is stored now and then, so that a restart keeps it. */
static void
heard(struct manager *m, struct mmig *g)
{
    g->last_answer = clock_mono_s();
    g->silent = 0;
    g->asked_dst = false;
    double now = clock_wall_s();
    if (now - g->rec.answered >= ANSWER_SAVE_EVERY_S || now < g->rec.answered) {
        g->rec.answered = now;
        save(m, g);
    }
}

static void
remove_active(struct manager *m, struct mmig *g)
{
    for (size_t i = 0; i < m->n_active; i++) {
        if (m->active[i] == g) {
            memmove(&m->active[i], &m->active[i + 1],
                    (m->n_active - i - 1) * sizeof(struct mmig *));
            m->n_active--;
            break;
        }
    }
    free(g);
}

void
manager_migrations_done(struct manager *m)
{
    for (size_t i = 0; i < m->n_active; i++)
        free(m->active[i]);
    m->n_active = 0;
    manager_figures_free(m);
}

/* The migration's error: `error` (NULL: none), cut to fit, never inside a character (an
 * agent's message may quote a VM's name: a record that is not UTF-8 cannot be listed). */
static void
set_error(struct mmig *g, const char *error)
{
    (void)snprintf(g->rec.error, sizeof(g->rec.error), "%s", error != NULL ? error : "");
    utf8_trim_partial(g->rec.error);
}

/* An unlisted migration ended (manager_mark_unlisted()): recorded in our store, with no
 * report, count or journal write (the leader that settled it reported it). */
static void
finish_unlisted(struct manager *m, struct mmig *g, enum mmig_state st, const char *error)
{
    g->state = st;
    g->rec.finished = clock_wall_s();
    set_error(g, error);
    save(m, g);
    log_info("unlisted migration ended id=%s vm=\"%s\" from=\"%s\" to=\"%s\" recorded=%s: "
             "not in the journal, so not reported here (another leader settled it, or it "
             "began before this manager used the journal)",
             g->rec.id, g->rec.vm, g->rec.src, g->rec.dst, mmig_state_name(st));
    remove_active(m, g);
}

static void
finish(struct manager *m, struct mmig *g, enum mmig_state st, const char *error)
{
    if (g->unlisted) {
        finish_unlisted(m, g, st, error);
        return;
    }
    g->state = st;
    g->rec.finished = clock_wall_s();
    if (st == MMIG_DONE) {
        m->done_total++;
        backoff_cleared(&m->backoff, g->rec.vm);
    } else {
        m->failed_total++;
        backoff_failed(&m->backoff, g->rec.vm, clock_mono_s());
    }
    double took = clock_mono_s() - g->started_mono; /* whatever the wall clock did */
    histo_observe(&m->mig_h, took);
    set_error(g, error);
    save(m, g);
    if (st == MMIG_DONE && !g->source_done)
        manager_figures_ask(m, g);
    if (st == MMIG_DONE && g->rec.has_job)
        log_info("migration done id=%s vm=\"%s\" from=\"%s\" to=\"%s\" seconds=%.3f "
                 "downtime_ms=%.0f transferred_mib=%.1f total_ms=%.0f",
                 g->rec.id, g->rec.vm, g->rec.src, g->rec.dst, took, g->rec.downtime_ms,
                 g->rec.transferred_mib, g->rec.total_ms);
    else if (st == MMIG_DONE)
        log_info("migration done id=%s vm=\"%s\" from=\"%s\" to=\"%s\" seconds=%.3f", g->rec.id,
                 g->rec.vm, g->rec.src, g->rec.dst, took);
    else
        log_warnx("migration failed id=%s vm=\"%s\" from=\"%s\" to=\"%s\" error=\"%s\"", g->rec.id,
                  g->rec.vm, g->rec.src, g->rec.dst, g->rec.error);
    remove_active(m, g);
}

/* Where does VM `vm` run according to the latest samples? 1: on `dst` and not on `src`;
 * -1: still on `src` (running) and not on `dst`; 0: cannot tell. */
static int
where_is(struct manager *m, const char *vm, const char *src, const char *dst)
{
    bool on_src = false;
    bool on_dst = false;
    struct mhost *hs = manager_host_find(m, src);
    struct mhost *hd = manager_host_find(m, dst);
    for (size_t i = 0; hs != NULL && hs->v.has_sample && hs->v.up && i < hs->v.sample.n_vms; i++) {
        if (strcmp(hs->v.sample.vms[i].name, vm) == 0)
            on_src = true;
    }
    for (size_t i = 0; hd != NULL && hd->v.has_sample && hd->v.up && i < hd->v.sample.n_vms; i++) {
        if (strcmp(hd->v.sample.vms[i].name, vm) == 0 && !hd->v.sample.vms[i].incoming)
            on_dst = true;
    }
    if (on_dst && !on_src)
        return 1;
    if (on_src && !on_dst && hs->v.up)
        return -1;
    return 0;
}

/* Does the latest sample of host `name` list VM `vm`, arriving or running? */
static bool
listed_on(struct manager *m, const char *vm, const char *name)
{
    struct mhost *h = manager_host_find(m, name);
    for (size_t i = 0; h != NULL && h->v.has_sample && i < h->v.sample.n_vms; i++) {
        if (strcmp(h->v.sample.vms[i].name, vm) == 0)
            return true;
    }
    return false;
}

/* May the source of `g` still start it or be under way? While its host's samples come in
 * and it has not answered that it has no such migration (404), yes: it may have taken an
 * order whose answer was lost, or be slow to answer about it. */
static bool
source_may_act(struct manager *m, const struct mmig *g)
{
    struct mhost *h = manager_host_find(m, g->rec.src);
    return h != NULL && h->misses < MANAGER_DOWN_AFTER && !g->src_forgot;
}

/* The destination settled a migration whose source is silent: log why, and end it. */
static void
decided(struct manager *m, struct mmig *g, enum mmig_state st, const char *why)
{
    log_warnx("source silent: the destination decided id=%s vm=\"%s\" from=\"%s\" to=\"%s\" "
              "outcome=%s reason=\"%s\"",
              g->rec.id, g->rec.vm, g->rec.src, g->rec.dst, mmig_state_name(st), why);
    char error[256];
    (void)snprintf(error, sizeof(error), "source agent silent; %s", why);
    g->last_answer = clock_mono_s();
    finish(m, g, st, st == MMIG_FAILED ? error : NULL);
}

/* Ask the source again next round (the order again, for a planned one); one more silence and
 * the destination is asked again. */
static void
again_next_round(struct mmig *g)
{
    if (g->silent >= FOLLOW_SILENT_ROUNDS)
        g->silent = FOLLOW_SILENT_ROUNDS - 1;
    if (g->attempts >= ORDER_ATTEMPTS)
        g->attempts = ORDER_ATTEMPTS - 1;
}

/* Neither agent settled it this round (`why`): again next round, or give up after
 * FOLLOW_GIVE_UP_S. */
static void
undecided(struct manager *m, struct mmig *g, const char *why)
{
    log_debug("migration not settled id=%s: %s", g->rec.id, why);
    if (clock_mono_s() - g->last_answer > FOLLOW_GIVE_UP_S) {
        char error[256];
        (void)snprintf(error, sizeof(error),
                       "outcome unknown: the source has not answered for %.0f s and the "
                       "destination cannot tell (%s)",
                       FOLLOW_GIVE_UP_S, why);
        finish(m, g, MMIG_FAILED, error);
        return;
    }
    again_next_round(g);
}

/* The destination's answer to the withdrawal of its reservation. */
static void
abort_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct mmig *g = arg;
    struct manager *m = g->m;
    (void)body;
    (void)len;
    g->in_flight = false;
    if (status == 200) {
        decided(m, g, MMIG_FAILED,
                "its reservation was withdrawn before any commit; the VM stays recorded on the "
                "source");
        return;
    }
    if (status == 409) {
        /* Refused: its commit came first, or the withdrawal was not taken (a manager term the
         * agent holds for stale, say). The destination's record tells which, next round; no
         * time to give up (the VM may run there): the reservation expires otherwise. */
        log_debug("withdrawal refused id=%s (409); asking the destination again", g->rec.id);
        again_next_round(g);
        return;
    }
    if (status == 403 && !g->abort_refused) {
        /* tls_bind_names: only the source may withdraw; the reservation expires on its own. */
        g->abort_refused = true;
        log_warnx("reservation not withdrawn id=%s dst=\"%s\": the destination takes that only "
                  "from the source; waiting for it to expire",
                  g->rec.id, g->rec.dst);
    }
    char why[300];
    (void)snprintf(why, sizeof(why), "withdrawal of the reservation: %s",
                   status == 0     ? err
                   : status == 403 ? "refused (403)"
                                   : "not taken");
    undecided(m, g, why);
}

/* The arrival's state in the destination's answer to GET /v1/incoming/ID: "reserved",
 * "committed", "aborted", or NULL when the answer is not such an object. */
static const char *
arrival_state(const char *body, size_t len)
{
    static const char *const states[] = {"reserved", "committed", "aborted"};
    json_t *j = body != NULL ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    const char *st = json_string_value(json_object_get(j, "state"));
    const char *found = NULL;
    for (size_t i = 0; st != NULL && i < sizeof(states) / sizeof(states[0]); i++) {
        if (strcmp(st, states[i]) == 0)
            found = states[i];
    }
    json_decref(j);
    return found;
}

/* Send `method path` about `g` to its destination with `done`. */
static void
to_destination(struct manager *m, struct mmig *g, const char *method, const char *suffix,
               http_done_fn done)
{
    struct mhost *dst = manager_host_find(m, g->rec.dst);
    if (dst == NULL) {
        finish(m, g, MMIG_FAILED, "source agent silent and destination no longer known");
        return;
    }
    /* A withdrawal is an order too: only the leader sends one, with its term (fencing). */
    if (strcmp(method, "POST") == 0 && !manager_ha_leads(m)) {
        log_debug("reservation not withdrawn id=%s: this manager does not lead", g->rec.id);
        return;
    }
    char path[160];
    (void)snprintf(path, sizeof(path), "/v1/incoming/%s%s", g->rec.id, suffix);
    char body[64] = "{}";
    uint64_t term = manager_ha_term(m);
    if (term > 0)
        (void)snprintf(body, sizeof(body), "{\"term\":%llu}", (unsigned long long)term);
    int r = http_request(m->client, dst->v.url, method, path,
                         strcmp(method, "POST") == 0 && term > 0 ? body : NULL, HTTP_TIMEOUT_S,
                         done, g);
    if (r < 0) {
        undecided(m, g, strerror(-r));
        return;
    }
    g->in_flight = true;
}

/* The destination's answer about the arrival of a migration whose source is silent. */
static void
dst_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct mmig *g = arg;
    struct manager *m = g->m;
    g->in_flight = false;
    const char *st = status == 200 ? arrival_state(body, len) : NULL;
    if (st != NULL && strcmp(st, "committed") == 0) {
        decided(m, g, MMIG_DONE, "the destination runs the VM: its arrival is committed");
    } else if (st != NULL && strcmp(st, "aborted") == 0) {
        decided(m, g, MMIG_FAILED,
                "the destination dropped its reservation (aborted or expired); the VM stays "
                "recorded on the source");
    } else if (st != NULL && source_may_act(m, g) &&
               clock_mono_s() - g->last_answer <= FOLLOW_GIVE_UP_S) {
        /* Reserved, and the source's samples still come: its transfer may be running and its
         * commit on the way (a source slow to answer about it, or answering errors).
         * Withdrawing now would abort a healthy migration; the source is asked again, and
         * once FOLLOW_GIVE_UP_S has passed without a word from it, the reservation is
         * withdrawn. */
        if (!g->kept_logged) {
            g->kept_logged = true;
            double left = FOLLOW_GIVE_UP_S - (clock_mono_s() - g->last_answer);
            log_warnx("reservation kept id=%s vm=\"%s\" from=\"%s\" to=\"%s\": the source "
                      "answers its samples, so its transfer may be running; asking the source "
                      "again, withdrawing the reservation in %.0f s without an answer",
                      g->rec.id, g->rec.vm, g->rec.src, g->rec.dst, left > 0 ? left : 0.0);
        }
        again_next_round(g);
    } else if (st != NULL) {
        /* Reserved, and the source is down, forgot it, or has not answered for
         * FOLLOW_GIVE_UP_S: withdraw it; the destination's answer settles any race with a
         * commit. */
        to_destination(m, g, "POST", "/abort", abort_done);
    } else if (status == 404 && where_is(m, g->rec.vm, g->rec.src, g->rec.dst) == 1) {
        decided(m, g, MMIG_DONE, "the destination does not know the arrival but runs the VM");
    } else if (status == 404 && !listed_on(m, g->rec.vm, g->rec.dst) && source_may_act(m, g)) {
        /* The destination has nothing yet, but a source that is alive and never said "no
         * such migration" may have the order and reserve there next: ending it now would
         * free both hosts for a decision while the VM may still move. */
        if (!g->held_logged) {
            g->held_logged = true;
            double left = FOLLOW_GIVE_UP_S - (clock_mono_s() - g->last_answer);
            log_warnx("migration held id=%s vm=\"%s\" from=\"%s\" to=\"%s\": the source "
                      "answers its samples but not about the migration, and the destination "
                      "has no record of it; asking the source again, failing it in %.0f s "
                      "without an answer",
                      g->rec.id, g->rec.vm, g->rec.src, g->rec.dst, left > 0 ? left : 0.0);
        }
        undecided(m, g, "the destination has no record of it, the source may still act");
    } else if (status == 404 && !listed_on(m, g->rec.vm, g->rec.dst)) {
        decided(m, g, MMIG_FAILED,
                "the destination never had the VM (no such arrival, and its samples do not "
                "list it); the VM stays recorded on the source");
    } else {
        char why[300];
        (void)snprintf(why, sizeof(why), "destination: %s",
                       status == 0     ? err
                       : status == 404 ? "no such arrival, but its samples list the VM"
                       : status == 200 ? "an answer without a known state"
                                       : "an error status");
        undecided(m, g, why);
    }
}

/* The source of `g` is silent (`why`): ask its destination. */
static void
ask_destination(struct manager *m, struct mmig *g, const char *why)
{
    if (!g->asked_dst) {
        g->asked_dst = true;
        log_warnx("source silent, asking the destination id=%s vm=\"%s\" from=\"%s\" to=\"%s\" "
                  "why=\"%s\"",
                  g->rec.id, g->rec.vm, g->rec.src, g->rec.dst, why);
    }
    to_destination(m, g, "GET", "", dst_done);
}

static void send_order(struct manager *m, struct mmig *g);

/* Is a 409 answer the agent saying it already has this order (same id)? Matched on the start
 * of its message, which no VM name can reach. */
static bool
order_known(const char *body)
{
    json_t *j = body != NULL ? json_loads(body, 0, NULL) : NULL;
    const char *e = json_string_value(json_object_get(j, "error"));
    bool known = e != NULL && strncmp(e, "a migration with id ", 20) == 0;
    json_decref(j);
    return known;
}

static void
order_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct mmig *g = arg;
    struct manager *m = g->m;
    (void)len;
    g->in_flight = false;
    if (status == 202 || (status == 409 && order_known(body))) {
        /* Accepted now, or accepted before a restart of ours: the same order. */
        failpoint("manager-order-taken"); /* the source runs it; still "planned" here */
        g->state = MMIG_RUNNING;
        g->rec.answered = 0; /* stored now, by heard() */
        heard(m, g);
        log_info("migration running id=%s vm=\"%s\" from=\"%s\" to=\"%s\"", g->rec.id, g->rec.vm,
                 g->rec.src, g->rec.dst);
        return;
    }
    if (status == 0) {
        /* The order may have been taken before the answer was lost: after the last attempt,
         * the destination is asked (manager_follow()). */
        ++g->attempts;
        log_warnx("order got no answer id=%s error=\"%s\", %s next round", g->rec.id, err,
                  g->attempts < ORDER_ATTEMPTS ? "resending" : "asking the destination");
        return;
    }
    if (status == 404 && where_is(m, g->rec.vm, g->rec.src, g->rec.dst) == 1) {
        finish(m, g, MMIG_DONE, NULL);
        return;
    }
    char msg[256];
    json_t *j = body != NULL ? json_loads(body, 0, NULL) : NULL;
    const char *e = json_string_value(json_object_get(j, "error"));
    (void)snprintf(msg, sizeof(msg), "source refused (%d): %s", status, e != NULL ? e : "?");
    json_decref(j);
    finish(m, g, MMIG_FAILED, msg);
}

static void
send_order(struct manager *m, struct mmig *g)
{
    struct mhost *src = manager_host_find(m, g->rec.src);
    struct mhost *dst = manager_host_find(m, g->rec.dst);
    if (src == NULL || dst == NULL) {
        finish(m, g, MMIG_FAILED, "source or destination no longer known");
        return;
    }
    failpoint("manager-before-order"); /* decided and stored as planned, not sent */
    if (!manager_ha_leads(m)) {
        log_warnx("order not sent id=%s: this manager no longer leads", g->rec.id);
        return;
    }
    json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "id", g->rec.id, "vm", g->rec.vm, "to", dst->v.url,
                          "to_name", dst->v.name);
    /* With --etcd every order carries the leader's term: an agent refuses one older than the
     * newest it has seen (fencing). */
    uint64_t term = manager_ha_term(m);
    if (j != NULL && term > 0)
        (void)json_object_set_new(j, "term", json_integer((json_int_t)term));
    char *body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    int r = body != NULL ? http_request(m->client, src->v.url, "POST", "/v1/migrations", body,
                                        HTTP_TIMEOUT_S, order_done, g)
                         : -ENOMEM;
    free(body);
    if (r < 0) {
        g->attempts++;
        log_warnx("order not sent id=%s error=\"%s\", retrying next round", g->rec.id,
                  strerror(-r));
        return;
    }
    if (!g->sent_logged)
        log_info("migration ordered id=%s vm=\"%s\" from=\"%s\" to=\"%s\" reason=\"%s\"", g->rec.id,
                 g->rec.vm, g->rec.src, g->rec.dst, g->rec.reason);
    g->sent_logged = true;
    g->in_flight = true;
}

static void
follow_done(void *arg, int status, const char *body, size_t len, const char *err)
{
    struct mmig *g = arg;
    struct manager *m = g->m;
    g->in_flight = false;
    json_t *j = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
    const char *st = json_string_value(json_object_get(j, "state"));
    /* What the agent says of its migration: "running", "done" or "failed". */
    enum mmig_state s = st != NULL ? mmig_state_parse(st) : MMIG_PLANNED;
    if (status == 0 || (status != 404 && s == MMIG_PLANNED)) {
        /* No answer, or none about the migration (an error, or a body without a known state):
         * as silence, so that the destination is asked and the give-up time runs. */
        g->silent++;
        if (status == 0)
            log_debug("source did not answer about id=%s (%u in a row): %s", g->rec.id, g->silent,
                      err);
        else
            log_debug("source answered %d about id=%s without its state (%u in a row)", status,
                      g->rec.id, g->silent);
        json_decref(j);
        return;
    }
    if (status == 200) {
        heard(m, g);
        const char *e = json_string_value(json_object_get(j, "error"));
        char error[256];
        (void)snprintf(error, sizeof(error), "%s", e != NULL ? e : "");
        if (s == MMIG_DONE) {
            manager_job_figures(&g->rec, j);
            g->source_done = true;
        }
        json_decref(j);
        if (s == MMIG_DONE || s == MMIG_FAILED) {
            finish(m, g, s, s == MMIG_FAILED ? error : NULL);
        } else if (g->unlisted && manager_journal_writing(m)) {
            /* It runs: not one another leader settled, but one the journal never had (or
             * an order of ours whose answer was lost). Ours again, journaled under this
             * term; while this manager does not lead, the next takeover asks again. */
            g->unlisted = false;
            g->state = MMIG_RUNNING;
            save(m, g);
            log_info("migration still running id=%s vm=\"%s\" from=\"%s\" to=\"%s\": not "
                     "in the journal, journaled again and followed",
                     g->rec.id, g->rec.vm, g->rec.src, g->rec.dst);
        } else if (g->state == MMIG_PLANNED) {
            g->state = MMIG_RUNNING; /* it took the order */
            save(m, g);
        }
        return;
    }
    if (status == 404) {
        /* The source forgot it (it restarted): the samples tell where the VM is, else the
         * destination does. A 404 is not news of the migration: the give-up time still runs
         * from the last real answer, so a migration neither end can settle does not hold its
         * hosts for ever. */
        g->silent = 0;
        g->asked_dst = false;
        g->src_forgot = true;
        int w = where_is(m, g->rec.vm, g->rec.src, g->rec.dst);
        if (w == -1 && g->unlisted && g->never_sent) {
            /* Its order never left this manager, and no other leader sent it: ours to
             * report, as one that never started. */
            g->unlisted = false;
            finish(m, g, MMIG_FAILED,
                   "never ordered: its journal write did not land before this manager lost "
                   "the lead");
        } else if (w == 1) {
            finish(m, g, MMIG_DONE, NULL);
        } else if (w == -1) {
            finish(m, g, MMIG_FAILED, "the source agent lost the migration; VM still there");
        } else {
            g->silent = FOLLOW_SILENT_ROUNDS; /* the destination is asked next round */
        }
    }
}

/* Migrations the latest samples show finished (the VM runs on the destination and no longer
 * on the source) end now, before the decision, so that their hosts are free for it: waiting
 * for the source's answer to the next follow-up would hold a conflict on either host one round
 * longer. A migration with a request in flight is left to its answer. */
void
manager_settle_from_samples(struct manager *m)
{
    struct mmig *list[MANAGER_MAX_ACTIVE];
    size_t n = m->n_active;
    memcpy(list, m->active, n * sizeof(struct mmig *));
    for (size_t i = 0; i < n; i++) {
        struct mmig *g = list[i];
        if (g->state == MMIG_RUNNING && !g->in_flight &&
            where_is(m, g->rec.vm, g->rec.src, g->rec.dst) == 1) {
            finish(m, g, MMIG_DONE, NULL);
        }
    }
}

void
manager_follow(struct manager *m)
{
    if (!manager_ha_leads(m))
        return; /* a follower neither orders nor settles */
    /* finish() removes entries, so walk a copy. */
    struct mmig *list[MANAGER_MAX_ACTIVE];
    size_t n = m->n_active;
    memcpy(list, m->active, n * sizeof(struct mmig *));
    for (size_t i = 0; i < n; i++) {
        struct mmig *g = list[i];
        if (g->in_flight || g->journal_wait || g->store_wait)
            continue;
        /* An unlisted planned one is not ordered again: its source is asked, as for one
         * running, whether it took the order (manager_mark_unlisted()). */
        if (g->state == MMIG_PLANNED && !g->unlisted) {
            if (g->attempts < ORDER_ATTEMPTS)
                send_order(m, g);
            else
                ask_destination(m, g, "the order got no answer");
            continue;
        }
        struct mhost *src = manager_host_find(m, g->rec.src);
        bool down = src == NULL || src->misses >= MANAGER_DOWN_AFTER;
        if (down || g->silent >= FOLLOW_SILENT_ROUNDS) {
            if (where_is(m, g->rec.vm, g->rec.src, g->rec.dst) == 1)
                finish(m, g, MMIG_DONE, NULL);
            else
                ask_destination(m, g, down ? "its host is down" : "no answer about the migration");
            continue;
        }
        char path[160];
        (void)snprintf(path, sizeof(path), "/v1/migrations/%s", g->rec.id);
        if (http_request(m->client, src->v.url, "GET", path, NULL, HTTP_TIMEOUT_S, follow_done,
                         g) == 0)
            g->in_flight = true;
    }
}

/* Order `g`, its record committed: once journaled with --etcd, else now. */
static int
order_go(struct manager *m, struct mmig *g)
{
    if (manager_journal_writing(m)) {
        /* The order goes out once the record is in etcd (manager_journaled()): a leader
         * that dies meanwhile leaves nothing running that the next one cannot find. */
        g->journal_wait = true;
        if (manager_journal_migration(m, &g->rec, false) < 0) {
            finish(m, g, MMIG_FAILED, "never ordered: its journal record could not be made");
            return -ENOMEM;
        }
    }
    if (!g->journal_wait)
        send_order(m, g);
    return 0;
}

int
manager_order(struct manager *m, const char *vm, const char *src, const char *dst,
              const char *reason, char *ret_id, size_t id_len)
{
    if (!manager_ha_leads(m)) {
        log_warnx("not ordering vm=\"%s\": this manager does not lead", vm);
        return -EPERM;
    }
    if (m->n_active >= MANAGER_MAX_ACTIVE) {
        log_warnx("too many migrations in flight, not ordering vm=\"%s\"", vm);
        return -EBUSY;
    }
    struct mmig *g = calloc(1, sizeof(*g));
    if (g == NULL) {
        log_warnx("out of memory, not ordering vm=\"%s\"", vm);
        return -ENOMEM;
    }
    g->m = m;
    double now = clock_wall_s();
    /* With --etcd the term is in the id: two managers never make the same one. */
    uint64_t term = manager_ha_term(m);
    char in_term[32] = "";
    if (term > 0)
        (void)snprintf(in_term, sizeof(in_term), "t%llu-", (unsigned long long)term);
    (void)snprintf(g->rec.id, sizeof(g->rec.id), "m%llu-%s%llu", (unsigned long long)(now * 1000.0),
                   in_term, (unsigned long long)++m->next_id);
    (void)snprintf(g->rec.vm, sizeof(g->rec.vm), "%s", vm);
    (void)snprintf(g->rec.src, sizeof(g->rec.src), "%s", src);
    (void)snprintf(g->rec.dst, sizeof(g->rec.dst), "%s", dst);
    (void)snprintf(g->rec.reason, sizeof(g->rec.reason), "%s", reason);
    utf8_trim_partial(g->rec.reason);
    g->rec.started = now;
    g->rec.finished = -1.0;
    g->rec.answered = 0;
    g->last_answer = clock_mono_s();
    g->started_mono = g->last_answer;
    g->state = MMIG_PLANNED;
    /* Committed before the order goes out (at once, or with its decision's others): a crash
     * after that resends it; one not stored is not sent (a restart would not follow it). */
    (void)snprintf(g->rec.state, sizeof(g->rec.state), "%s", mmig_state_name(g->state));
    bool hold = m->hold_orders && m->store_paused == 0;
    if (!hold)
        manager_store_pause(m);
    int stored = store_put_migration(m->store, &g->rec);
    if (!hold)
        manager_store_resume(m);
    if (stored < 0) {
        log_warnx("migration not ordered: the store cannot record it vm=\"%s\", ignoring", vm);
        free(g);
        return -EIO;
    }
    m->active[m->n_active++] = g;
    m->ordered_total++;
    if (ret_id != NULL)
        (void)snprintf(ret_id, id_len, "%s", g->rec.id); /* order_go() may end `g` */
    g->store_wait = hold;
    return hold ? 0 : order_go(m, g);
}

void
manager_orders_stored(struct manager *m, bool stored)
{
    /* The held orders, out of their wait before the pause below, whose commit (of nothing of
     * theirs) cannot take them; order_go() and finish() end only their own entry. */
    struct mmig *list[MANAGER_MAX_ACTIVE];
    bool kept[MANAGER_MAX_ACTIVE];
    size_t n = 0;
    for (size_t i = 0; i < m->n_active; i++) {
        struct mmig *g = m->active[i];
        if (!g->store_wait)
            continue;
        kept[n] = g->store_done || (stored && !g->store_lost);
        g->store_wait = false;
        g->store_done = false;
        g->store_lost = false;
        list[n++] = g;
    }
    manager_store_pause(m); /* a failure is committed at once */
    for (size_t i = 0; i < n; i++) {
        if (kept[i] && manager_ha_leads(m))
            (void)order_go(m, list[i]);
        else
            finish(m, list[i], MMIG_FAILED,
                   kept[i] ? "never ordered: this manager stopped leading before it went out"
                           : "never ordered: the store could not commit its record");
    }
    manager_store_resume(m);
}

void
manager_journaled(struct manager *m, const char *id)
{
    struct mmig *g = manager_mig_find(m, id);
    if (g == NULL || !g->journal_wait)
        return;
    g->journal_wait = false;
    send_order(m, g);
}

void
manager_journal_all(struct manager *m)
{
    struct mmig *list[MANAGER_MAX_ACTIVE];
    size_t n = m->n_active;
    memcpy(list, m->active, n * sizeof(struct mmig *));
    for (size_t i = 0; i < n; i++) {
        struct mmig *g = list[i];
        if (g->journal_wait)
            finish(m, g, MMIG_FAILED,
                   "never ordered: its journal write did not land before this manager lost "
                   "the lead");
        else if (!g->unlisted)
            (void)manager_journal_migration(m, &g->rec, false);
    }
}

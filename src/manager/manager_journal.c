/* The leader's journal in etcd (--etcd): the migrations it ordered and not yet seen end, and
 * the hosts in maintenance, so that the manager that leads next adopts them.
 *
 * Keys: PREFIX/migrations/ID holds a migration's record as JSON (id, vm, src, dst, state,
 * reason, started, answered, term), written when it is planned and at each change of state
 * and deleted when it ends; PREFIX/drains/HOST holds {"host", "since"} while the host is in
 * maintenance; PREFIX/recs/ID holds a recommendation (id, time, vm, src, dst, reason, state
 * pending or dry-run) from when a decision makes it until it is applied, superseded or
 * expired. No key has a lease: the journal outlives the leader that wrote it.
 *
 * Every write is a transaction whose comparison is the leader key's create_revision == the
 * writer's term, so a manager that no longer leads writes nothing; when the comparison fails
 * it steps down at once (its `deposed` hook). Writes go out one at a time, in the order
 * made, from a queue (a later write of a key still queued replaces the earlier one); a write
 * etcd did not answer is sent again at the next step of the election's timer. An order is
 * sent only once its migration's record is in etcd (its `journaled` hook), so no migration runs
 * that the next leader cannot find; a drain or undrain is answered only once its record is
 * (manager_journal_drain()), so no drain reported done is lost when the leader dies.
 *
 * On taking the lead, before the manager decides or orders, it reads the three prefixes: each
 * migration in the journal becomes one of its own (stored, followed as after a restart), the
 * drains in etcd are the hosts in maintenance, on or off, and the recommendations in etcd are
 * the ones it holds (so `vmloc apply ID` works on it under the id the old leader gave). */
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
#include "manager/manager_internal.h"
#include "net/etcd.h"
#include "net/http_server.h"
#include "net/loop.h"
#include "proto/wire.h"

/* A request answered once its write is in etcd (manager_journal_drain()). */
struct jwait {
    struct jwait *next;
    struct http_later *later;
    int code;
    char *json;       /* the answer */
    const char *late; /* the 503's text then (static), or NULL */
    double until;     /* monotonic: answered 503 then if etcd has not confirmed it */
};

/* One write: `value` to `key`, or a deletion (value NULL). */
struct jop {
    struct jop *next;
    char key[ETCD_MAX_KEY + 1];
    char *value;
    char mig_id[80];     /* the migration written, "" for a drain */
    struct jwait *waits; /* answered when it is written, or dropped */
};

struct manager_journal {
    struct manager *m;
    const struct manager_journal_hooks *hooks;
    struct etcd *etcd; /* borrowed from manager_ha.c */
    char leader_key[ETCD_MAX_KEY + 1];
    char mig_prefix[ETCD_MAX_KEY + 1];
    char drain_prefix[ETCD_MAX_KEY + 1];
    char rec_prefix[ETCD_MAX_KEY + 1];
    double timeout_s;
    uint64_t term; /* writes are made under this term; 0: this manager does not lead */
    struct jop *head, *tail;
    size_t n_queued;
    bool busy;   /* a write is in flight */
    bool orphan; /* it was dropped from the queue (manager_journal_end()) */
    /* Reading the journal on taking the lead. */
    bool reading;       /* a read is in flight */
    uint64_t load_term; /* the term it is read for; 0: abandoned (the lead was lost) */
    manager_journal_loaded_fn loaded;
    size_t adopted;
    size_t drains;
    size_t recs;
    struct event *wait_ev; /* answers 503 the requests etcd keeps waiting past their time */
};

int
manager_journal_new(struct manager *m, const struct manager_journal_hooks *hooks, struct etcd *e,
                    const char *prefix, const char *leader_key, double timeout_s,
                    struct manager_journal **ret)
{
    struct manager_journal *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return -ENOMEM;
    j->m = m;
    j->hooks = hooks;
    j->etcd = e;
    j->timeout_s = timeout_s;
    (void)snprintf(j->leader_key, sizeof(j->leader_key), "%s", leader_key);
    (void)snprintf(j->mig_prefix, sizeof(j->mig_prefix), "%s/migrations/", prefix);
    (void)snprintf(j->drain_prefix, sizeof(j->drain_prefix), "%s/drains/", prefix);
    (void)snprintf(j->rec_prefix, sizeof(j->rec_prefix), "%s/recs/", prefix);
    *ret = j;
    return 0;
}

/* Answer `w` with its answer, or with 503 and `why` (NULL: its answer), and free it. */
static void
wait_answer(struct jwait *w, const char *why)
{
    if (why == NULL)
        http_later_reply_json(w->later, w->code, w->json);
    else
        http_later_reply_error(w->later, 503, why);
    free(w->json);
    free(w);
}

/* Free `op`, answering the requests that wait for it: with their answer when `why` is NULL
 * (it is in etcd), else with 503 and `why`. */
static void
op_free(struct jop *op, const char *why)
{
    while (op->waits != NULL) {
        struct jwait *w = op->waits;
        op->waits = w->next;
        wait_answer(w, why);
    }
    free(op->value);
    free(op);
}

#define JOURNAL_LEAD_LOST                                                                          \
    "this manager stopped leading before etcd confirmed the change (it may or may not have "       \
    "been kept): ask the leader again"

static void
drop_queue(struct manager_journal *j)
{
    while (j->head != NULL) {
        struct jop *op = j->head;
        j->head = op->next;
        op_free(op, JOURNAL_LEAD_LOST);
    }
    j->tail = NULL;
    j->n_queued = 0;
}

void
manager_journal_free(struct manager_journal *j)
{
    if (j == NULL)
        return;
    drop_queue(j);
    if (j->wait_ev != NULL)
        event_free(j->wait_ev);
    free(j);
}

size_t
manager_journal_pending(const struct manager *m)
{
    return m->journal != NULL ? m->journal->n_queued : 0;
}

static void send_head(struct manager_journal *j);

static void
put_done(void *arg, const struct etcd_result *r)
{
    struct manager_journal *j = arg;
    struct manager *m = j->m;
    j->busy = false;
    if (j->orphan) {
        j->orphan = false; /* its queue was dropped; a newer one may wait */
        send_head(j);
        return;
    }
    if (j->term == 0)
        return; /* no longer leading: the queue was dropped */
    if (r->err < 0) {
        log_warnx("journal write not taken by etcd key=\"%s\": %s; sending it again", j->head->key,
                  r->why);
        return; /* the next step of the timer sends it again (manager_journal_kick()) */
    }
    struct jop *op = j->head;
    j->head = op->next;
    if (j->head == NULL)
        j->tail = NULL;
    j->n_queued--;
    if (!r->succeeded) {
        log_warnx("journal write refused key=\"%s\": the leader key is no longer of term %llu",
                  op->key, (unsigned long long)j->term);
        op_free(op, "another manager leads: the change was not kept in etcd; ask the leader");
        j->hooks->deposed(m, "a journal write found another manager's leader key");
        return;
    }
    char id[sizeof(op->mig_id)];
    (void)snprintf(id, sizeof(id), "%s", op->mig_id);
    bool put = op->value != NULL;
    op_free(op, NULL);
    if (id[0] != '\0' && !put)
        failpoint("manager-journal-ended"); /* etcd dropped an ended migration's record */
    if (id[0] != '\0' && put)
        j->hooks->journaled(m, id); /* may queue more */
    send_head(j);
}

static void
send_head(struct manager_journal *j)
{
    if (j->busy || j->head == NULL || j->term == 0)
        return;
    if (failpoint_drop("journal-write"))
        return; /* as if etcd had not answered: sent again at the next step */
    int r = etcd_put_if(j->etcd, j->head->key, j->head->value, j->leader_key, (int64_t)j->term,
                        j->timeout_s, put_done, j);
    if (r < 0) {
        log_warnx("journal write not sent key=\"%s\": %s, retrying", j->head->key, strerror(-r));
        return;
    }
    j->busy = true;
}

/* Answer 503 the requests that etcd has kept waiting past their time. */
static void
expire_waits(struct manager_journal *j)
{
    double now = clock_mono_s();
    for (struct jop *op = j->head; op != NULL; op = op->next) {
        for (struct jwait **p = &op->waits; *p != NULL;) {
            struct jwait *w = *p;
            if (now < w->until) {
                p = &w->next;
                continue;
            }
            *p = w->next;
            wait_answer(w, w->late != NULL
                               ? w->late
                               : "taken by this manager, but etcd has not confirmed it within "
                                 "the time allowed (it may still): see vmloc hosts, and ask "
                                 "again");
        }
    }
}

/* Wake at the first time a waiting request is due, if one waits. */
static void
arm_wait_timer(struct manager_journal *j)
{
    double first = INFINITY;
    for (const struct jop *op = j->head; op != NULL; op = op->next) {
        for (const struct jwait *w = op->waits; w != NULL; w = w->next)
            first = fmin(first, w->until);
    }
    if (j->wait_ev == NULL || !isfinite(first))
        return;
    struct timeval tv = loop_tv(fmax(first - clock_mono_s(), 0.01));
    (void)evtimer_add(j->wait_ev, &tv);
}

static void
wait_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct manager_journal *j = arg;
    (void)fd;
    (void)what;
    expire_waits(j);
    arm_wait_timer(j);
}

void
manager_journal_kick(struct manager *m)
{
    if (m->journal == NULL)
        return;
    expire_waits(m->journal);
    send_head(m->journal);
}

/* Queue `value` (taken; NULL: delete) for `key`, replacing a queued write of the same key
 * that is not yet in flight. The write that carries it, or NULL (not queued; logged). */
static struct jop *
enqueue(struct manager_journal *j, const char *key, char *value, const char *mig_id)
{
    if (strlen(key) > ETCD_MAX_KEY) {
        log_warnx("journal key too long key=\"%.80s...\" (limit %d bytes), not written, "
                  "ignoring",
                  key, ETCD_MAX_KEY);
        free(value);
        return NULL;
    }
    for (struct jop *op = j->head; op != NULL; op = op->next) {
        if ((op != j->head || !j->busy) && strcmp(op->key, key) == 0) {
            free(op->value);
            op->value = value;
            send_head(j);
            return op;
        }
    }
    struct jop *op = calloc(1, sizeof(*op));
    if (op == NULL) {
        free(value);
        log_warnx("out of memory: journal write dropped key=\"%s\", ignoring", key);
        return NULL;
    }
    (void)snprintf(op->key, sizeof(op->key), "%s", key);
    (void)snprintf(op->mig_id, sizeof(op->mig_id), "%s", mig_id);
    op->value = value;
    if (j->tail != NULL)
        j->tail->next = op;
    else
        j->head = op;
    j->tail = op;
    j->n_queued++;
    send_head(j);
    return op;
}

bool
manager_journal_writing(const struct manager *m)
{
    return m->journal != NULL && m->journal->term != 0;
}

int
manager_journal_migration(struct manager *m, const struct store_migration *rec, bool ended)
{
    struct manager_journal *j = m->journal;
    if (j == NULL || j->term == 0)
        return -EPERM;
    char key[ETCD_MAX_KEY + 1 + sizeof(rec->id)];
    (void)snprintf(key, sizeof(key), "%s%s", j->mig_prefix, rec->id);
    char *value = NULL;
    if (!ended) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:f,s:f,s:I}", "id", rec->id, "vm", rec->vm,
                              "src", rec->src, "dst", rec->dst, "state", rec->state, "reason",
                              rec->reason, "started", rec->started, "answered", rec->answered,
                              "term", (json_int_t)j->term);
        value = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (value == NULL || strlen(value) > ETCD_MAX_VALUE) {
            log_warnx("journal record not made id=%s (out of memory or too long), ignoring",
                      rec->id);
            free(value);
            return -ENOMEM;
        }
    }
    return enqueue(j, key, value, rec->id) != NULL ? 0 : -ENOMEM;
}

void
manager_journal_rec(struct manager *m, const struct store_rec *rec)
{
    struct manager_journal *j = m->journal;
    if (j == NULL || j->term == 0)
        return;
    char key[ETCD_MAX_KEY + 1 + sizeof(rec->id)];
    (void)snprintf(key, sizeof(key), "%s%s", j->rec_prefix, rec->id);
    char *value = NULL;
    if (strcmp(rec->state, "pending") == 0 || strcmp(rec->state, "dry-run") == 0) {
        json_t *o = json_pack("{s:s,s:f,s:s,s:s,s:s,s:s,s:s}", "id", rec->id, "time", rec->time,
                              "vm", rec->vm, "src", rec->src, "dst", rec->dst, "reason",
                              rec->reason, "state", rec->state);
        value = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (value == NULL || strlen(value) > ETCD_MAX_VALUE) {
            log_warnx("journal record not made recommendation=%s (out of memory or too long), "
                      "ignoring",
                      rec->id);
            free(value);
            return;
        }
    }
    (void)enqueue(j, key, value, "");
}

/* Make `op` of `j` answer `ans` once it is in etcd: 0, or -ENOMEM (nothing waits; logged). */
static int
wait_on(struct manager_journal *j, struct jop *op, const struct journal_answer *ans)
{
    struct jwait *w = calloc(1, sizeof(*w));
    char *copy = w != NULL ? strdup(ans->json) : NULL;
    struct http_later *later = copy != NULL ? http_req_later(ans->r) : NULL;
    if (later == NULL) {
        free(copy);
        free(w);
        log_warnx("out of memory: a request about key=\"%s\" answered before etcd confirms it, "
                  "ignoring",
                  op->key);
        return -ENOMEM;
    }
    w->later = later;
    w->code = ans->code;
    w->json = copy;
    w->late = ans->late;
    w->until = clock_mono_s() + MANAGER_JOURNAL_ANSWER_S;
    struct jwait **end = &op->waits;
    while (*end != NULL)
        end = &(*end)->next;
    *end = w;
    /* Its own timer: the election's steps may be far apart (a sixth of a long lease). Without
     * one (out of memory), those steps expire it. */
    if (j->wait_ev == NULL)
        j->wait_ev = evtimer_new(j->m->base, wait_timer_cb, j);
    arm_wait_timer(j);
    return 0;
}

int
manager_journal_drain(struct manager *m, const char *host, bool on, double since,
                      const struct journal_answer *ans)
{
    struct manager_journal *j = m->journal;
    if (j == NULL || j->term == 0)
        return 0;
    char key[ETCD_MAX_KEY + 1 + MODEL_MAX_NAME + 1];
    (void)snprintf(key, sizeof(key), "%s%s", j->drain_prefix, host);
    char *value = NULL;
    if (on) {
        json_t *o = json_pack("{s:s,s:f}", "host", host, "since", since);
        value = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        if (value == NULL) {
            log_warnx("out of memory: drain of host=\"%s\" not journaled, ignoring", host);
            return -ENOMEM;
        }
    }
    /* (A queued write not yet in flight takes a later change of its key in its place, and
     * the requests waiting on it with it.) */
    struct jop *op = enqueue(j, key, value, "");
    if (op == NULL)
        return -ENOMEM;
    if (ans == NULL)
        return 1;
    return wait_on(j, op, ans) < 0 ? -ENOMEM : 1;
}

void
manager_journal_end(struct manager *m)
{
    struct manager_journal *j = m->journal;
    if (j == NULL)
        return;
    if (j->n_queued > 0)
        log_warnx("journal writes dropped count=%zu: this manager no longer leads", j->n_queued);
    j->term = 0;
    j->load_term = 0;
    j->orphan = j->busy;
    drop_queue(j);
}

/* A number member `name` of `o` that is finite and at least 0 into *ret. */
static bool
get_time(json_t *o, const char *name, double *ret)
{
    json_t *v = json_object_get(o, name);
    double d = json_is_number(v) ? json_number_value(v) : -1.0;
    if (!isfinite(d) || d < 0)
        return false;
    *ret = d;
    return true;
}

/* A string member `name` of `o` that fits `cap` bytes into `out`. */
static bool
get_text(json_t *o, const char *name, char *out, size_t cap)
{
    const char *s = json_string_value(json_object_get(o, name));
    if (s == NULL || strlen(s) >= cap)
        return false;
    (void)snprintf(out, cap, "%s", s);
    return true;
}

/* The move of a journaled migration or recommendation, its members "vm", "src" and "dst",
 * into the buffers: NULL, or the first that is missing, too long, not a name the wire takes,
 * or (dst) the same host as src. */
static const char *
get_move(json_t *o, char *vm, size_t vm_cap, char *src, size_t src_cap, char *dst, size_t dst_cap)
{
    if (!get_text(o, "vm", vm, vm_cap) || !wire_name_valid(vm))
        return "vm";
    if (!get_text(o, "src", src, src_cap) || !wire_name_valid(src))
        return "src";
    if (!get_text(o, "dst", dst, dst_cap) || !wire_name_valid(dst) || strcmp(src, dst) == 0)
        return "dst";
    return NULL;
}

/* The record journaled at `kv` into `rec`: NULL, or the field that is wrong. */
static const char *
parse_migration(const struct manager_journal *j, const struct etcd_kv *kv,
                struct store_migration *rec)
{
    memset(rec, 0, sizeof(*rec));
    json_t *o = json_loads(kv->value, JSON_REJECT_DUPLICATES, NULL);
    const char *bad = json_is_object(o) ? NULL : "(not a JSON object)";
    if (bad == NULL && (!get_text(o, "id", rec->id, sizeof(rec->id)) || !wire_id_valid(rec->id) ||
                        strcmp(kv->key + strlen(j->mig_prefix), rec->id) != 0))
        bad = "id";
    if (bad == NULL)
        bad = get_move(o, rec->vm, sizeof(rec->vm), rec->src, sizeof(rec->src), rec->dst,
                       sizeof(rec->dst));
    if (bad == NULL && (!get_text(o, "state", rec->state, sizeof(rec->state)) ||
                        (strcmp(rec->state, "planned") != 0 && strcmp(rec->state, "running") != 0)))
        bad = "state";
    if (bad == NULL && !get_text(o, "reason", rec->reason, sizeof(rec->reason)))
        bad = "reason";
    if (bad == NULL && (!get_time(o, "started", &rec->started) || rec->started <= 0))
        bad = "started";
    if (bad == NULL && !get_time(o, "answered", &rec->answered))
        bad = "answered";
    json_decref(o);
    rec->finished = -1.0;
    return bad;
}

static void
load_failed(struct manager_journal *j, const struct etcd_result *r, const char *what)
{
    j->reading = false;
    if (j->load_term == 0)
        return; /* abandoned */
    char why[400];
    (void)snprintf(why, sizeof(why), "the journal's %s not read: %s", what, r->why);
    uint64_t term = j->load_term;
    j->load_term = 0;
    j->loaded(j->m, term, why);
}

/* An answer to one of the journal's reads: false when the reading stops here (it failed,
 * which is reported, or the lead was lost meanwhile). */
static bool
load_answered(struct manager_journal *j, const struct etcd_result *r, const char *what)
{
    if (r->err < 0) {
        load_failed(j, r, what);
        return false;
    }
    if (j->load_term == 0) {
        j->reading = false; /* abandoned: the lead was lost meanwhile */
        return false;
    }
    if (r->n_skipped > 0)
        log_warnx("journal: %zu of the %s keys skipped: a key over %d bytes, a value over %d, "
                  "or past the first %d keys",
                  r->n_skipped, what, ETCD_MAX_KEY, ETCD_MAX_VALUE, ETCD_MAX_KVS);
    return true;
}

/* The recommendation journaled at `kv` into `rec`: NULL, or the field that is wrong. */
static const char *
parse_rec(const struct manager_journal *j, const struct etcd_kv *kv, struct store_rec *rec)
{
    memset(rec, 0, sizeof(*rec));
    json_t *o = json_loads(kv->value, JSON_REJECT_DUPLICATES, NULL);
    const char *bad = json_is_object(o) ? NULL : "(not a JSON object)";
    if (bad == NULL && (!get_text(o, "id", rec->id, sizeof(rec->id)) || !wire_id_valid(rec->id) ||
                        strcmp(kv->key + strlen(j->rec_prefix), rec->id) != 0))
        bad = "id";
    if (bad == NULL && (!get_time(o, "time", &rec->time) || rec->time <= 0))
        bad = "time";
    if (bad == NULL)
        bad = get_move(o, rec->vm, sizeof(rec->vm), rec->src, sizeof(rec->src), rec->dst,
                       sizeof(rec->dst));
    if (bad == NULL && !get_text(o, "reason", rec->reason, sizeof(rec->reason)))
        bad = "reason";
    if (bad == NULL && (!get_text(o, "state", rec->state, sizeof(rec->state)) ||
                        (strcmp(rec->state, "pending") != 0 && strcmp(rec->state, "dry-run") != 0)))
        bad = "state";
    json_decref(o);
    rec->updated = rec->time;
    return bad;
}

static void
recs_read(void *arg, const struct etcd_result *r)
{
    struct manager_journal *j = arg;
    struct manager *m = j->m;
    if (!load_answered(j, r, "recommendations"))
        return;
    j->reading = false;
    size_t n = r->n_kvs < MANAGER_MAX_RECS ? r->n_kvs : MANAGER_MAX_RECS;
    struct store_rec *recs = n > 0 ? calloc(n, sizeof(*recs)) : NULL;
    if (n > 0 && recs == NULL) {
        struct etcd_result e = {.err = -ENOMEM};
        (void)snprintf(e.why, sizeof(e.why), "out of memory");
        load_failed(j, &e, "recommendations");
        return;
    }
    size_t got = 0;
    for (size_t i = 0; i < r->n_kvs; i++) {
        const char *bad = got < n ? parse_rec(j, &r->kvs[i], &recs[got]) : NULL;
        if (got >= n)
            log_warnx("journal: recommendation key=\"%s\" past the %d kept, ignoring",
                      r->kvs[i].key, MANAGER_MAX_RECS);
        else if (bad != NULL)
            log_warnx("journal: key=\"%s\" is not a recommendation record (field %s), ignoring",
                      r->kvs[i].key, bad);
        else
            got++;
    }
    j->hooks->recs(m, recs, got);
    free(recs);
    j->recs = got;
    uint64_t term = j->load_term;
    j->load_term = 0;
    j->term = term; /* writes go out from now on */
    log_info("journal read term=%llu migrations_adopted=%zu drains=%zu recommendations=%zu",
             (unsigned long long)term, j->adopted, j->drains, j->recs);
    j->loaded(m, term, NULL);
}

static void
drains_read(void *arg, const struct etcd_result *r)
{
    struct manager_journal *j = arg;
    struct manager *m = j->m;
    if (!load_answered(j, r, "drains"))
        return;
    j->reading = false;
    struct journal_drain *d = r->n_kvs > 0 ? calloc(r->n_kvs, sizeof(*d)) : NULL;
    if (r->n_kvs > 0 && d == NULL) {
        struct etcd_result e = {.err = -ENOMEM};
        (void)snprintf(e.why, sizeof(e.why), "out of memory");
        load_failed(j, &e, "drains");
        return;
    }
    size_t plen = strlen(j->drain_prefix);
    for (size_t i = 0; i < r->n_kvs; i++) {
        const struct etcd_kv *kv = &r->kvs[i];
        d[i].host = kv->key + plen;
        json_t *o = json_loads(kv->value, JSON_REJECT_DUPLICATES, NULL);
        const char *host = json_string_value(json_object_get(o, "host"));
        d[i].readable = host != NULL && strcmp(host, d[i].host) == 0 && wire_name_valid(host) &&
                        get_time(o, "since", &d[i].since);
        if (!d[i].readable)
            log_warnx("journal: drain key=\"%s\" is not a drain record (field host or since), "
                      "ignoring",
                      kv->key);
        json_decref(o);
    }
    j->drains = j->hooks->drains(m, d, r->n_kvs);
    free(d);
    int rc = etcd_get_prefix(j->etcd, j->rec_prefix, j->timeout_s, recs_read, j);
    if (rc < 0) {
        struct etcd_result e = {.err = rc};
        (void)snprintf(e.why, sizeof(e.why), "%s", strerror(-rc));
        load_failed(j, &e, "recommendations");
        return;
    }
    j->reading = true;
}

static int
id_order(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
migrations_read(void *arg, const struct etcd_result *r)
{
    struct manager_journal *j = arg;
    if (!load_answered(j, r, "migrations"))
        return;
    for (size_t i = 0; i < r->n_kvs; i++) {
        struct store_migration rec;
        const char *bad = parse_migration(j, &r->kvs[i], &rec);
        if (bad != NULL) {
            log_warnx("journal: key=\"%s\" is not a migration record (field %s), ignoring",
                      r->kvs[i].key, bad);
            continue;
        }
        if (j->hooks->adopt(j->m, &rec))
            j->adopted++;
    }
    /* Every key counts as listed, read or not: a record this manager cannot read may still
     * be a migration in flight. With keys skipped, nothing can be said to be unlisted. */
    const char **ids = r->n_kvs > 0 ? calloc(r->n_kvs, sizeof(*ids)) : NULL;
    if (r->n_kvs > 0 && ids == NULL)
        log_warnx("out of memory: the migrations the journal does not list are not looked "
                  "for at this takeover");
    if (r->n_skipped == 0 && (r->n_kvs == 0 || ids != NULL)) {
        size_t plen = strlen(j->mig_prefix);
        for (size_t i = 0; i < r->n_kvs; i++)
            ids[i] = r->kvs[i].key + plen;
        if (r->n_kvs > 1)
            qsort(ids, r->n_kvs, sizeof(*ids), id_order);
        j->hooks->listed(j->m, ids, r->n_kvs);
    }
    free(ids);
    int rc = etcd_get_prefix(j->etcd, j->drain_prefix, j->timeout_s, drains_read, j);
    if (rc < 0) {
        j->reading = false;
        struct etcd_result e = {.err = rc};
        (void)snprintf(e.why, sizeof(e.why), "%s", strerror(-rc));
        load_failed(j, &e, "drains");
    }
}

int
manager_journal_load(struct manager *m, uint64_t term, manager_journal_loaded_fn loaded)
{
    struct manager_journal *j = m->journal;
    if (j->reading) {
        /* A read for another term is under way: its answers are dropped when they come
         * (nothing of an older term may be restored), and the next step tries again. */
        if (j->load_term != term)
            j->load_term = 0;
        return -EBUSY;
    }
    manager_journal_end(m); /* nothing written under an older term goes out now */
    j->load_term = term;
    j->loaded = loaded;
    j->adopted = 0;
    j->drains = 0;
    j->recs = 0;
    int rc = etcd_get_prefix(j->etcd, j->mig_prefix, j->timeout_s, migrations_read, j);
    if (rc < 0)
        j->load_term = 0;
    else
        j->reading = true;
    return rc;
}

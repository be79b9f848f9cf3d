/* Active/standby managers on etcd (--etcd): who leads, for how long it may order, and what
 * the others answer meanwhile.
 *
 * Every manager holds a lease of ha_lease seconds on etcd and renews it every sixth of it
 * from this timer (a step: a keepalive, then a check of the leader key; HA_STEPS a lease). A
 * manager that is not the leader tries to create the key PREFIX/leader, attached to its lease, in a
 * transaction that succeeds only while the key is absent (create_revision 0); the one that
 * creates it leads, and its term is the key's creation revision, which etcd only ever raises.
 * The others read the key from the same transaction and follow: they learn the leader's URL
 * and term and try again at the next step, which is how they notice it is gone (polling every
 * lease/6, not a watch: the HTTP client reads whole answers, and a watch is a stream). A dead
 * leader is so replaced within the lease, etcd's check for expired leases (every 0.5 s) and
 * one step: 4 s with the defaults, inside the lease and one round (a step of a third of the
 * lease, as first written, left no margin: 4.81 s was measured once).
 *
 * The leader may order only until its lease may have run out on etcd's side: the lease runs
 * there from when etcd took the renewal, which is after we sent it, so counting from the send
 * is safe. It stops HA_GUARD (a tenth of the lease, at least 0.1 s) before that, against the
 * clocks' different rates and the time between the check and the order leaving. Past it, it
 * steps down at once, without asking etcd: a paused or cut-off leader wakes up unable to
 * order. The agents refuse orders with a term below the highest they have seen (fencing), so
 * an order already on the wire when a new leader was elected cannot land after the new
 * leader's first order. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "manager/manager_internal.h"
#include "net/etcd.h"

enum ha_role { HA_NONE, HA_FOLLOWER, HA_LEADER };

/* Steps (keepalive, then a check of the key or a campaign) a lease. */
#define HA_STEPS 6.0

/* Why no manager leads, or this one cannot take part: "ha_reason" in /v1/health and the
 * label of vmloc_ha_problem. */
enum ha_reason {
    HA_OK,
    HA_STARTING,       /* no answer from etcd yet */
    HA_NO_ANSWER,      /* no member answered in time: down, cut off, or without quorum */
    HA_NO_QUORUM,      /* a member answered that it has no leader */
    HA_LEASE_EXPIRED,  /* etcd no longer knows our lease */
    HA_ETCD_REFUSED,   /* another refusal, or an answer we cannot read */
    HA_BAD_LEADER_KEY, /* the key holds what no manager writes */
    HA_TAKING_LEAD,    /* the journal is being read before leading */
    HA_JOURNAL_UNREAD, /* it could not be read in time: the next step tries again */
    HA_N_REASONS
};

static const char *const reason_names[HA_N_REASONS] = {"",
                                                       "starting",
                                                       "etcd_no_answer",
                                                       "etcd_no_quorum",
                                                       "lease_expired",
                                                       "etcd_refused",
                                                       "bad_leader_key",
                                                       "taking_lead",
                                                       "journal_unread"};

struct manager_ha {
    struct manager *m;
    const struct manager_ha_hooks *hooks;
    struct etcd *etcd;
    struct event *tick_ev;
    char key[MANAGER_HA_PREFIX_MAX + 16];
    char value[ETCD_MAX_VALUE + 1]; /* {"id", "url"}: who leads, where */
    double ttl_s;
    enum ha_role role;
    int64_t lease;      /* 0: none */
    double valid_until; /* monotonic: the leader orders until then */
    uint64_t term;      /* the leader's (ours when leading), 0: none known */
    char leader_url[WIRE_MAX_URL + 1];
    char leader_id[MANAGER_HA_ID_MAX + 1];
    bool busy;           /* a step is in flight */
    bool loading;        /* the journal is read before taking the lead (manager_journal.c) */
    uint64_t load_term;  /* the term it is read for */
    double renewed_sent; /* monotonic: when the renewal a campaign follows was sent */
    bool stopping;
    char why[320];         /* why no manager leads, or this one cannot take part; "" when fine */
    enum ha_reason reason; /* the kind of `why` */
    uint64_t changes;      /* this manager took or lost the lead */
    double since;          /* monotonic: leading since */
    double led_s;          /* time as leader, terms that ended */
    struct histo renew_h;
};

/* The margin before the lease may have run out on etcd's side. */
static double
guard_s(const struct manager_ha *ha)
{
    double g = ha->ttl_s / 10.0;
    return g < 0.1 ? 0.1 : g;
}

/* How long each call may take: past a third of the lease an answer is of no use. */
static double
call_timeout(const struct manager_ha *ha)
{
    double t = ha->ttl_s / 3.0;
    return t < 0.3 ? 0.3 : t;
}

/* The problem now is `reason`, told by `why` ("" with HA_OK). Logged when its kind changes:
 * the text names the member asked, which changes from call to call while etcd is down. */
static void
set_why(struct manager_ha *ha, enum ha_reason reason, const char *why)
{
    bool etcd_trouble = ha->reason == HA_NO_ANSWER || ha->reason == HA_NO_QUORUM ||
                        ha->reason == HA_ETCD_REFUSED || ha->reason == HA_LEASE_EXPIRED;
    if (reason != ha->reason && reason != HA_OK && reason != HA_TAKING_LEAD)
        log_warnx("high availability: %s", why);
    else if (reason != ha->reason && etcd_trouble)
        log_info("high availability: etcd answers again");
    ha->reason = reason;
    (void)snprintf(ha->why, sizeof(ha->why), "%s", why);
}

/* etcd answered a call: no trouble, unless the journal is being read before leading (that
 * step goes on, and health says so until it ends). */
static void
etcd_answered(struct manager_ha *ha)
{
    if (ha->loading)
        set_why(ha, HA_TAKING_LEAD, "taking the lead: reading the journal");
    else
        set_why(ha, HA_OK, "");
}

/* Stop leading (`why` for the log); the role becomes `role`. */
static void
step_down(struct manager_ha *ha, enum ha_role role, const char *why)
{
    if (ha->role == HA_LEADER) {
        double now = clock_mono_s();
        ha->led_s += now - ha->since;
        ha->changes++;
        log_warnx("leadership lost term=%llu id=%s: %s; no more orders from this manager",
                  (unsigned long long)ha->term, ha->m->opts.ha_id, why);
        ha->leader_url[0] = '\0';
        ha->leader_id[0] = '\0';
    }
    manager_journal_end(ha->m);
    ha->loading = false;
    ha->role = role;
}

void
manager_ha_deposed(struct manager *m, const char *why)
{
    if (m->ha != NULL)
        step_down(m->ha, HA_NONE, why);
}

/* The journal was read for `term` (err NULL) or not: lead now, if the lease still allows. */
static void
journal_loaded(struct manager *m, uint64_t term, const char *err)
{
    struct manager_ha *ha = m->ha;
    if (!ha->loading || ha->load_term != term)
        return;
    ha->loading = false;
    if (err != NULL) {
        set_why(ha, HA_JOURNAL_UNREAD, err); /* the next step tries again */
        return;
    }
    if (clock_mono_s() >= ha->valid_until) {
        manager_journal_end(m);
        set_why(ha, HA_JOURNAL_UNREAD, "the lease ran out while the journal was read");
        return;
    }
    set_why(ha, HA_OK, "");
    ha->role = HA_LEADER;
    ha->term = term;
    ha->since = clock_mono_s();
    ha->changes++;
    (void)snprintf(ha->leader_url, sizeof(ha->leader_url), "%s", m->loop.url);
    (void)snprintf(ha->leader_id, sizeof(ha->leader_id), "%s", m->opts.ha_id);
    log_info("leadership taken term=%llu id=%s lease=%gs: deciding and ordering, with the "
             "migrations, drains and recommendations of the journal in etcd adopted",
             (unsigned long long)term, m->opts.ha_id, ha->ttl_s);
    ha->hooks->took_lead(m);
}

/* This manager holds the leader key of `term`: read the journal first (the migrations and
 * drains of the leaders before), then lead (journal_loaded()). */
static void
take_lead(struct manager_ha *ha, uint64_t term, double renewed_sent)
{
    struct manager *m = ha->m;
    ha->valid_until = renewed_sent + ha->ttl_s - guard_s(ha);
    if (ha->role == HA_LEADER && ha->term == term)
        return;
    if (ha->loading && ha->load_term == term)
        return; /* being read */
    if (ha->role == HA_LEADER)
        step_down(ha, HA_NONE, "the leader key was replaced");
    /* Not a follower meanwhile: the leader it knew is gone. */
    ha->role = HA_NONE;
    ha->leader_url[0] = '\0';
    ha->leader_id[0] = '\0';
    ha->loading = true;
    ha->load_term = term;
    etcd_answered(ha); /* a step, not a trouble: not logged */
    int rc = manager_journal_load(m, term, journal_loaded);
    if (rc < 0) {
        ha->loading = false;
        log_warnx("journal not read: %s, retrying", strerror(-rc));
    }
}

/* The key's holder, as read from etcd (`r`), is another manager, or ours from an earlier
 * attempt whose answer was lost. */
static void
holder_seen(struct manager_ha *ha, const struct etcd_result *r, double renewed_sent)
{
    if (r->kv_lease == ha->lease && ha->lease != 0) {
        take_lead(ha, (uint64_t)r->create_rev, renewed_sent);
        return;
    }
    json_t *j = json_loads(r->value, JSON_REJECT_DUPLICATES, NULL);
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *url = json_string_value(json_object_get(j, "url"));
    bool ok = id != NULL && url != NULL && strlen(id) <= MANAGER_HA_ID_MAX &&
              strlen(url) <= WIRE_MAX_URL && http_url_check(url) == 0;
    if (ha->role == HA_LEADER)
        step_down(ha, HA_FOLLOWER, "another manager holds the leader key");
    uint64_t term = (uint64_t)r->create_rev;
    if (ok && (term != ha->term || ha->role != HA_FOLLOWER || strcmp(ha->leader_url, url) != 0))
        log_info("following leader id=%s url=%s term=%llu", id, url, (unsigned long long)term);
    if (!ok) {
        set_why(ha, HA_BAD_LEADER_KEY,
                "the leader key holds a value no manager writes; waiting for it to go");
        ha->leader_url[0] = '\0';
        ha->leader_id[0] = '\0';
    } else {
        (void)snprintf(ha->leader_url, sizeof(ha->leader_url), "%s", url);
        (void)snprintf(ha->leader_id, sizeof(ha->leader_id), "%s", id);
        set_why(ha, HA_OK, "");
    }
    ha->role = HA_FOLLOWER;
    ha->term = term;
    json_decref(j);
}

/* An etcd call failed (`r`): the lease is gone, or etcd did not answer. */
static void
call_failed(struct manager_ha *ha, const struct etcd_result *r)
{
    ha->busy = false;
    char why[320];
    enum ha_reason reason = HA_ETCD_REFUSED;
    if (r->err == -ENOENT) {
        ha->lease = 0; /* a new one at the next step */
        reason = HA_LEASE_EXPIRED;
        (void)snprintf(why, sizeof(why), "the lease expired on etcd (%.200s)", r->why);
        step_down(ha, HA_NONE, "the lease expired on etcd");
    } else if (r->err == -EAGAIN) {
        reason = HA_NO_QUORUM;
        (void)snprintf(why, sizeof(why),
                       "etcd has no quorum (no leader): the lease cannot be renewed, nobody "
                       "orders until it is back (%.150s)",
                       r->why);
    } else if (r->err == -ETIMEDOUT || r->err == -ECONNREFUSED) {
        reason = HA_NO_ANSWER;
        (void)snprintf(why, sizeof(why),
                       "cannot renew the lease: no etcd member answered in time (down, cut off, "
                       "or without quorum); nobody orders until one does (%.150s)",
                       r->why);
    } else {
        (void)snprintf(why, sizeof(why), "etcd: %.250s", r->why);
    }
    set_why(ha, reason, why);
    /* A follower no longer knows whether the leader lives; a leader keeps its role until its
     * validity ends (manager_ha_leads()). */
    if (ha->role == HA_FOLLOWER)
        ha->role = HA_NONE;
}

/* An etcd call's answer `r`: false when the call failed (call_failed() has dealt with it). */
static bool
call_ok(struct manager_ha *ha, const struct etcd_result *r)
{
    if (r->err >= 0)
        return true;
    call_failed(ha, r);
    return false;
}

/* The last call of a step answered: the next step may start, and etcd is well. */
static bool
step_answered(struct manager_ha *ha, const struct etcd_result *r)
{
    if (!call_ok(ha, r))
        return false;
    ha->busy = false;
    etcd_answered(ha);
    return true;
}

static void
check_done(void *arg, const struct etcd_result *r)
{
    struct manager_ha *ha = arg;
    if (!step_answered(ha, r))
        return;
    if (ha->role == HA_LEADER && (!r->has_kv || (uint64_t)r->create_rev != ha->term))
        step_down(ha, HA_NONE, "the leader key is gone or was replaced");
}

static void
campaign_done(void *arg, const struct etcd_result *r)
{
    struct manager_ha *ha = arg;
    if (!step_answered(ha, r))
        return;
    if (r->succeeded)
        take_lead(ha, (uint64_t)r->revision, ha->renewed_sent);
    else if (r->has_kv)
        holder_seen(ha, r, ha->renewed_sent);
    else
        ha->role = HA_NONE; /* gone between the comparison and the read: next step */
}

/* After a renewal sent at `sent`: a leader checks it still holds the key, the others campaign. */
static void
after_renewal(struct manager_ha *ha, double sent)
{
    int rc;
    if (ha->stopping) {
        ha->busy = false;
        return;
    }
    if (ha->role == HA_LEADER) {
        ha->valid_until = sent + ha->ttl_s - guard_s(ha);
        rc = etcd_get(ha->etcd, ha->key, call_timeout(ha), check_done, ha);
    } else {
        ha->renewed_sent = sent;
        rc = etcd_create(ha->etcd, ha->key, ha->value, ha->lease, call_timeout(ha), campaign_done,
                         ha);
    }
    if (rc < 0) {
        ha->busy = false;
        log_warnx("etcd request not sent: %s, retrying", strerror(-rc));
    }
}

static void
renew_done(void *arg, const struct etcd_result *r)
{
    struct manager_ha *ha = arg;
    if (!call_ok(ha, r))
        return;
    if (r->ttl <= 0) {
        struct etcd_result gone = *r;
        gone.err = -ENOENT;
        (void)snprintf(gone.why, sizeof(gone.why), "keepalive: TTL 0");
        call_failed(ha, &gone);
        return;
    }
    histo_observe(&ha->renew_h, clock_mono_s() - r->sent_mono);
    after_renewal(ha, r->sent_mono);
}

static void
grant_done(void *arg, const struct etcd_result *r)
{
    struct manager_ha *ha = arg;
    if (!call_ok(ha, r))
        return;
    ha->lease = r->lease;
    if ((double)r->ttl < ha->ttl_s)
        log_warnx("etcd granted a lease of %llds, shorter than ha_lease %gs", (long long)r->ttl,
                  ha->ttl_s);
    log_debug("lease granted id=%lld ttl=%llds", (long long)r->lease, (long long)r->ttl);
    after_renewal(ha, r->sent_mono);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct manager_ha *ha = arg;
    (void)fd;
    (void)what;
    (void)manager_ha_leads(ha->m); /* steps down when the validity is over */
    manager_journal_kick(ha->m);   /* a write etcd did not answer goes again */
    if (ha->busy)
        return;
    ha->busy = true;
    int rc = ha->lease == 0
                 ? etcd_lease_grant(ha->etcd, (int64_t)ha->ttl_s, call_timeout(ha), grant_done, ha)
                 : etcd_lease_keepalive(ha->etcd, ha->lease, call_timeout(ha), renew_done, ha);
    if (rc < 0) {
        ha->busy = false;
        log_warnx("etcd request not sent: %s, retrying", strerror(-rc));
    }
}

int
manager_ha_start(struct manager *m, const struct manager_ha_hooks *hooks)
{
    const struct manager_opts *o = &m->opts;
    if (o->etcd[0] == '\0')
        return 0;
    struct manager_ha *ha = calloc(1, sizeof(*ha));
    if (ha == NULL)
        return -ENOMEM;
    ha->m = m;
    ha->hooks = hooks;
    ha->ttl_s = (double)o->ha_lease_s;
    (void)snprintf(ha->key, sizeof(ha->key), "%s/leader", o->ha_prefix);
    json_t *v = json_pack("{s:s,s:s}", "id", o->ha_id, "url", m->loop.url);
    char *text = v != NULL ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (text != NULL)
        (void)snprintf(ha->value, sizeof(ha->value), "%s", text);
    free(text);
    static const double renew_b[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
    histo_init(&ha->renew_h, renew_b, sizeof(renew_b) / sizeof(renew_b[0]));
    int r = etcd_new(m->base, o->etcd, &ha->etcd);
    if (r == 0)
        etcd_set_tls(ha->etcd, o->etcd_tls);
    if (r == 0)
        r = manager_journal_new(m, hooks->journal, ha->etcd, o->ha_prefix, ha->key,
                                call_timeout(ha), &m->journal);
    if (r == 0) {
        ha->tick_ev = event_new(m->base, -1, EV_PERSIST, tick_cb, ha);
        struct timeval tv = loop_tv(ha->ttl_s / HA_STEPS);
        if (ha->tick_ev == NULL || event_add(ha->tick_ev, &tv) < 0)
            r = -ENOMEM;
    }
    m->ha = ha;
    if (r < 0) {
        manager_ha_stop(m);
        return r;
    }
    ha->reason = HA_STARTING;
    (void)snprintf(ha->why, sizeof(ha->why), "no answer from etcd yet");
    log_info("high availability id=%s etcd=%s key=%s lease=%gs: campaigning", o->ha_id, o->etcd,
             ha->key, ha->ttl_s);
    tick_cb(-1, 0, ha); /* the first step now */
    return 0;
}

void
manager_ha_stop(struct manager *m)
{
    struct manager_ha *ha = m->ha;
    if (ha == NULL)
        return;
    ha->stopping = true;
    if (ha->tick_ev != NULL)
        event_free(ha->tick_ev);
    etcd_free(ha->etcd); /* before the loop's base goes */
    manager_journal_free(m->journal);
    m->journal = NULL;
    /* Give the lead away now rather than when the lease runs out. */
    if (ha->lease != 0) {
        int r = etcd_revoke_blocking(m->opts.etcd, m->opts.etcd_tls, ha->lease, 1.0);
        if (r < 0)
            log_warnx("lease not revoked (%s): the other managers wait for it to expire, "
                      "ignoring",
                      strerror(-r));
        else if (ha->role == HA_LEADER)
            log_info("leadership given up term=%llu", (unsigned long long)ha->term);
    }
    free(ha);
    m->ha = NULL;
}

bool
manager_ha_leads(struct manager *m)
{
    struct manager_ha *ha = m->ha;
    if (ha == NULL)
        return true;
    if (ha->role != HA_LEADER)
        return false;
    if (clock_mono_s() < ha->valid_until)
        return true;
    step_down(ha, HA_NONE,
              "the lease was not renewed in time (etcd unreachable, or this "
              "process was paused)");
    return false;
}

uint64_t
manager_ha_term(const struct manager *m)
{
    return m->ha != NULL && m->ha->role == HA_LEADER ? m->ha->term : 0;
}

bool
manager_ha_redirect(struct manager *m, struct http_req *r)
{
    if (manager_ha_leads(m))
        return false;
    struct manager_ha *ha = m->ha;
    if (ha->role != HA_FOLLOWER || ha->leader_url[0] == '\0') {
        http_reply_error(r, 503, "no manager leads now (%s): try again in a few seconds",
                         ha->why[0] != '\0' ? ha->why : "an election is under way");
        return true;
    }
    json_t *j = json_pack("{s:s,s:s,s:I}", "error",
                          "this manager is a follower: send changes to "
                          "the leader",
                          "leader", ha->leader_url, "term", (json_int_t)ha->term);
    char *body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    char loc[WIRE_MAX_URL + 1 + 2048];
    (void)snprintf(loc, sizeof(loc), "%s%s", ha->leader_url, http_req_target(r));
    if (body == NULL)
        http_reply_error(r, 503, "out of memory");
    else
        http_reply_redirect(r, 307, loc, body);
    free(body);
    return true;
}

static const char *
role_name(const struct manager_ha *ha)
{
    return ha->role == HA_LEADER ? "leader" : ha->role == HA_FOLLOWER ? "follower" : "none";
}

void
manager_ha_health(struct manager *m, json_t *o)
{
    struct manager_ha *ha = m->ha;
    if (ha == NULL || o == NULL)
        return;
    (void)manager_ha_leads(m);
    (void)json_object_set_new(o, "role", json_string(role_name(ha)));
    (void)json_object_set_new(o, "ha_id", json_string(m->opts.ha_id));
    (void)json_object_set_new(o, "term", json_integer((json_int_t)ha->term));
    (void)json_object_set_new(
        o, "leader", ha->leader_url[0] != '\0' ? json_string(ha->leader_url) : json_null());
    if (ha->leader_id[0] != '\0')
        (void)json_object_set_new(o, "leader_id", json_string(ha->leader_id));
    (void)json_object_set_new(o, "etcd", json_string(etcd_url(ha->etcd)));
    if (ha->reason != HA_OK) {
        (void)json_object_set_new(o, "ha_problem", json_string(ha->why));
        (void)json_object_set_new(o, "ha_reason", json_string(reason_names[ha->reason]));
    }
    (void)json_object_set_new(o, "journal_pending",
                              json_integer((json_int_t)manager_journal_pending(m)));
}

void
manager_ha_metrics(struct manager *m, struct mtext *t)
{
    struct manager_ha *ha = m->ha;
    if (ha == NULL)
        return;
    bool leads = manager_ha_leads(m);
    double led = ha->led_s + (leads ? clock_mono_s() - ha->since : 0.0);
    mtext_one(t, "vmloc_ha_leader", "gauge", "1 while this manager leads (may order), else 0",
              leads ? 1.0 : 0.0);
    mtext_one(t, "vmloc_ha_term", "gauge",
              "The term of the leader this manager knows (its own while it leads), 0: none",
              (double)ha->term);
    mtext_one(t, "vmloc_ha_leadership_changes_total", "counter",
              "Times this manager took or lost the lead", (double)ha->changes);
    mtext_one(t, "vmloc_ha_leader_seconds_total", "counter", "Time this manager has led", led);
    mtext_one(t, "vmloc_ha_journal_pending", "gauge",
              "Journal writes (migrations, drains) not yet taken by etcd",
              (double)manager_journal_pending(m));
    mtext_family(t, "vmloc_ha_problem", "gauge",
                 "1 for the reason this manager cannot lead or follow now (ha_reason in "
                 "/v1/health), 0 for the others");
    for (int k = HA_OK + 1; k < HA_N_REASONS; k++) {
        char label[64];
        (void)snprintf(label, sizeof(label), "reason=\"%s\"", reason_names[k]);
        mtext_sample(t, "vmloc_ha_problem", label, ha->reason == (enum ha_reason)k ? 1.0 : 0.0);
    }
    mtext_histo(t, "vmloc_ha_lease_renew_seconds", "From sending a lease renewal to etcd's answer",
                &ha->renew_h);
}

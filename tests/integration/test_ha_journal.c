/* The leader's journal in etcd: what a manager that takes over learns from it. (a) The leader
 * dies at each step of a slow migration (ordered: journaled, the order not sent; copying;
 * committing: the destination runs the VM and has not answered the commit): the follower
 * takes over, adopts the migration from the journal (its log says so), follows it to its end,
 * the VM ends on exactly one host and the new leader reports the migration once, under the id
 * it was journaled with. (b) A host drained through the leader stays drained after a kill -9
 * of it: the new leader shows it in maintenance and moves nothing onto it, and one undrained
 * under another leader is undrained on the old leader when it leads again (b3); (b') a drain whose
 * record never reaches etcd is not answered 202 but 503 in time, and the next leader has the
 * host as it was; (b'') one still waiting when the leader loses the lead is answered 503. (c)
 * In manual automation, a recommendation the leader made survives a kill -9 of it: `vmloc apply ID`
 * (given both managers) on the new leader orders its migration under the id the old leader gave.
 * Skipped (77) when etcd is not installed. (a') A migration another leader settled while this one
 * did not lead is not reported or journaled again when this one leads again; (a'') one the journal
 * never had and that still runs is journaled again and reported once, (a3) also when the manager's
 * store still says planned; (a4) one whose journal record is gone is done in the store. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etcdtest.h"
#include "net/http_client.h"
#include "testpool.h"

#define LEASE_S 3.0
/* The manager's wait for etcd's confirmation of a drain (MANAGER_JOURNAL_ANSWER_S). */
#define MANAGER_ANSWER_WAIT_S 5.0
/* Takeover: the lease, etcd's check for expired leases (0.5 s), the follower's poll (a sixth
 * of the lease), a round, and slack for a loaded machine. */
#define TAKEOVER_S (LEASE_S + 0.5 + LEASE_S / 6.0 + 0.2 + 4.0)

static const char *etcd_bin;

static int
setup(void **state)
{
    (void)pool_setup(state);
    etcdtest_start(etcd_bin, 1);
    return 0;
}

/* VM `vm` runs on agent `at` of `urls` (3 agents) and on no other. */
struct where {
    const char *const *urls;
    const char *vm;
    int at;
};

static bool
vm_at(void *arg)
{
    struct where *w = arg;
    return pool_vm_where(w->urls, 3, w->vm) == w->at;
}

/* Two managers, m1 leading and m2 following, in *ret_m1 and *ret_m2. */
static void
start_pair(struct daemon **ret_m1, struct daemon **ret_m2)
{
    struct daemon *m1 = etcdtest_manager("m1");
    struct cond lead1 = {m1->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead1, UP_S));
    struct daemon *m2 = etcdtest_manager("m2");
    struct cond follow2 = {m2->url, "follower", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &follow2, UP_S));
    *ret_m1 = m1;
    *ret_m2 = m2;
}

/* The migrations of VM `vm` the manager at `url` reports; the id of the last in `id`. */
static int
migrations_of(const char *url, const char *vm, char *id, size_t id_len)
{
    json_t *arr = get(url, "/v1/migrations");
    assert_non_null(arr);
    int n = 0;
    size_t i;
    json_t *g;
    json_array_foreach(arr, i, g)
    {
        if (strcmp(str(g, "vm"), vm) == 0) {
            n++;
            (void)snprintf(id, id_len, "%s", str(g, "id"));
        }
    }
    json_decref(arr);
    return n;
}

/* The step of a migration at which the leader dies. */
enum step {
    ORDERED,    /* decided and journaled, the order not sent (failpoint manager-before-order) */
    COPYING,    /* the source copies the VM (kill -9) */
    COMMITTING, /* the destination committed and has not answered (paused there) (kill -9) */
};

/* Either destination (h2 or h3) paused at its failpoint after the commit; which in *arg. */
static const struct daemon *paused_dest[2];
static bool
dest_paused(void *arg)
{
    const struct daemon **which = arg;
    for (int i = 0; i < 2; i++) {
        struct log_cond c = {paused_dest[i], "failpoint dest-after-commit reached: pausing"};
        if (log_has(&c)) {
            *which = paused_dest[i];
            return true;
        }
    }
    return false;
}

/* (a) kill -9 of the leader at step `step` of its migration: the follower takes over, adopts
 * the migration from the journal (its log says so), follows it to its end, the VM ends on
 * exactly one host and the new leader reports the migration once, under the id it was
 * journaled with. */
static void
adopt_at(enum step step)
{
    if (step == ORDERED)
        assert_int_equal(setenv("VMLOC_FAILPOINT", "manager-before-order", 1), 0);
    struct daemon *m1 = etcdtest_manager("m1");
    (void)unsetenv("VMLOC_FAILPOINT");
    struct cond lead1 = {m1->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead1, UP_S));
    struct daemon *m2 = etcdtest_manager("m2");
    struct cond follow2 = {m2->url, "follower", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &follow2, UP_S));
    /* a takes 12 s to move: long enough to kill the leader and take over meanwhile. */
    struct daemon *a1 =
        etcdtest_agent("h1", m1->url, m2->url, "1000", "a:cpu=30,mem=12000", "b:cpu=25");
    if (step == COMMITTING)
        assert_int_equal(setenv("VMLOC_FAILPOINT", "dest-after-commit:stop", 1), 0);
    struct daemon *a2 = etcdtest_agent("h2", m1->url, m2->url, "1000", "d:cpu=5", NULL);
    struct daemon *a3 = etcdtest_agent("h3", m1->url, m2->url, "1000", "c:cpu=5", NULL);
    (void)unsetenv("VMLOC_FAILPOINT");
    const char *urls[] = {a1->url, a2->url, a3->url};
    struct cond up1 = {m1->url, NULL, NULL, 3};
    struct cond up2 = {m2->url, NULL, NULL, 3};
    assert_true(wait_until(hosts_up, &up1, UP_S));
    assert_true(wait_until(hosts_up, &up2, UP_S));

    load(a1->url, "a", "cpu=60");
    char id1[100] = "";
    char none[100] = "";
    const struct daemon *dest = NULL;
    if (step == ORDERED) {
        /* It dies at its failpoint, the order journaled and not sent. */
        assert_true(wait_until(pool_exited, m1, ACT_S));
        json_t *migs = get(a1->url, "/v1/migrations");
        assert_non_null(migs);
        assert_int_equal(json_array_size(migs), 0);
        json_decref(migs);
    } else {
        struct cond running = {m1->url, "a", "running", 0};
        assert_true(wait_until(migration_is, &running, ACT_S));
        assert_int_equal(migrations_of(m1->url, "a", id1, sizeof(id1)), 1);
        assert_true(wait_until(etcdtest_journal_flushed, (void *)m1->url, ACT_S));
        if (step == COMMITTING) {
            /* The copy done, the destination runs a and has not answered the commit. */
            paused_dest[0] = a2;
            paused_dest[1] = a3;
            assert_true(wait_until(dest_paused, &dest, 12.0 + ACT_S));
        }
        /* The follower knows nothing of it from its own store (asked while it follows). */
        assert_int_equal(migrations_of(m2->url, "a", none, sizeof(none)), 0);
        daemon_kill(m1);
    }

    struct cond lead2 = {m2->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead2, TAKEOVER_S));
    char adopted[200];
    (void)snprintf(adopted, sizeof(adopted), "migration adopted from the journal id=%s", id1);
    struct log_cond said = {m2, adopted};
    assert_true(wait_until(log_has, &said, ACT_S));
    if (dest != NULL)
        assert_int_equal(kill(dest->pid, SIGCONT), 0);
    /* Followed to its end by the new leader, reported once, under the journaled id. */
    struct cond done = {m2->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &done, 12.0 + ACT_S));
    char id2[100] = "";
    assert_int_equal(migrations_of(m2->url, "a", id2, sizeof(id2)), 1);
    if (id1[0] != '\0')
        assert_string_equal(id2, id1);
    /* The id it adopted: for an order never sent, one only the journal had. */
    (void)snprintf(adopted, sizeof(adopted), "migration adopted from the journal id=%s vm=\"a\"",
                   id2);
    assert_true(log_has(&said));
    /* Every VM on exactly one host; a on the host it was ordered to. */
    int at = pool_vm_where(urls, 3, "a");
    assert_true(at == 1 || at == 2);
    const char *vms[] = {"b", "c", "d"};
    for (size_t i = 0; i < 3; i++)
        assert_true(pool_vm_where(urls, 3, vms[i]) >= 0);
    /* Nothing left in the journal once it ended. */
    assert_true(wait_until(etcdtest_journal_flushed, (void *)m2->url, ACT_S));
    pool_finish();
}

static void
test_adopt_ordered(void **state)
{
    (void)state;
    adopt_at(ORDERED);
}

static void
test_adopt_copying(void **state)
{
    (void)state;
    adopt_at(COPYING);
}

static void
test_adopt_committing(void **state)
{
    (void)state;
    adopt_at(COMMITTING);
}

/* (a') The leader dies while copying; the follower adopts the migration and reports it done.
 * The old leader, started again on its store, recovers the migration from it as unfinished
 * and follows; when it leads again (the other killed), the journal no longer lists it: it is
 * dropped as settled by the other leader, not reported done a second time, not journaled
 * again, and its own history records it as done (the VM is on the destination). */
static void
test_settled_elsewhere(void **state)
{
    (void)state;
    struct daemon *m1 = NULL;
    struct daemon *m2 = NULL;
    start_pair(&m1, &m2);
    const char *urls[3];
    etcdtest_three_agents(m1, m2, "1000", "a:cpu=30,mem=8000", urls);
    load(urls[0], "a", "cpu=60");
    struct cond running = {m1->url, "a", "running", 0};
    assert_true(wait_until(migration_is, &running, ACT_S));
    char id[100] = "";
    assert_int_equal(migrations_of(m1->url, "a", id, sizeof(id)), 1);
    assert_true(wait_until(etcdtest_journal_flushed, (void *)m1->url, ACT_S));
    daemon_kill(m1);

    struct cond lead2 = {m2->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead2, TAKEOVER_S));
    struct cond done2 = {m2->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &done2, 8.0 + ACT_S));
    assert_true(wait_until(etcdtest_journal_flushed, (void *)m2->url, ACT_S));
    int at = pool_vm_where(urls, 3, "a");
    assert_true(at == 1 || at == 2);

    /* m1 again, on its store: the migration comes back from it as unfinished. */
    m1 = etcdtest_manager("m1");
    char line[200];
    (void)snprintf(line, sizeof(line), "migration recovered id=%s vm=\"a\"", id);
    struct log_cond recovered = {m1, line};
    assert_true(wait_until(log_has, &recovered, UP_S));
    struct cond follow1 = {m1->url, "follower", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &follow1, UP_S));
    daemon_kill(m2);
    struct cond lead1 = {m1->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead1, TAKEOVER_S));
    (void)snprintf(line, sizeof(line), "unlisted migration ended id=%s vm=\"a\" from=\"h1\"", id);
    struct log_cond dropped = {m1, line};
    assert_true(wait_until(log_has, &dropped, ACT_S));
    struct cond done1 = {m1->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &done1, ACT_S));
    char id1[100] = "";
    assert_int_equal(migrations_of(m1->url, "a", id1, sizeof(id1)), 1);
    assert_string_equal(id1, id);
    (void)snprintf(line, sizeof(line), "migration done id=%s", id);
    struct log_cond reported = {m1, line};
    assert_false(log_has(&reported));
    /* Nothing of it journaled again, and no migration in flight on the new leader. */
    assert_int_equal(health_int(m1->url, "active_migrations"), 0);
    assert_true(wait_until(etcdtest_journal_flushed, (void *)m1->url, ACT_S));
    assert_int_equal(pool_vm_where(urls, 3, "a"), at);
    pool_finish();
}

/* (a4) The end of a migration is in the leader's store before its journal record goes: m1,
 * leading alone, follows a slow migration whose source is then killed; it settles it with the
 * destination (an answer outside a round's decision, after whose commit nothing of it would be
 * committed for a round) and dies at once when etcd has dropped its record (failpoint
 * manager-journal-ended). Started again on its store, it has the migration ended: it neither
 * recovers it as unfinished nor, the journal being without it, takes it for one that another
 * leader settled. */
static void
test_end_stored_first(void **state)
{
    (void)state;
    assert_int_equal(setenv("VMLOC_FAILPOINT", "manager-journal-ended", 1), 0);
    struct daemon *m1 = etcdtest_manager("m1");
    (void)unsetenv("VMLOC_FAILPOINT");
    struct cond lead1 = {m1->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead1, UP_S));
    /* a takes a minute to move (600 MiB at 10 MiB/s). */
    struct daemon *a1 = etcdtest_agent("h1", m1->url, NULL, "10", "a:cpu=30,mem=600", "b:cpu=25");
    (void)etcdtest_agent("h2", m1->url, NULL, "10", "c:cpu=5", NULL);
    struct cond up = {m1->url, NULL, NULL, 2};
    assert_true(wait_until(hosts_up, &up, UP_S));
    load(a1->url, "a", "cpu=60");
    struct cond running = {m1->url, "a", "running", 0};
    assert_true(wait_until(migration_is, &running, ACT_S));
    daemon_kill(a1);
    assert_true(wait_until(pool_exited, m1, 3 * ACT_S));
    struct log_cond at = {m1, "failpoint manager-journal-ended reached"};
    assert_true(log_has(&at));

    m1 = etcdtest_manager("m1");
    struct cond lead_again = {m1->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead_again, TAKEOVER_S));
    char id[100] = "";
    assert_int_equal(migrations_of(m1->url, "a", id, sizeof(id)), 1);
    struct log_cond recovered = {m1, "migration recovered id="};
    assert_false(log_has(&recovered));
    struct log_cond unlisted = {m1, "migration not in the journal id="};
    assert_false(log_has(&unlisted));
    assert_int_equal(health_int(m1->url, "active_migrations"), 0);
    pool_finish();
}

/* A manager without --etcd (id m0, on the store of m1) with three agents registered with it
 * alone (h1 with a:cpu=30,mem=8000 and b, h2 with d, h3 with c: a takes 8 s to move), all up;
 * `failpoint` (NULL: none) in its environment. Their URLs in `urls`. */
static struct daemon *
start_without_etcd(const char *failpoint, const char *urls[3])
{
    char data[700];
    (void)snprintf(data, sizeof(data), "%s-m1", pool_data_dir());
    const char *argv[] = {"manager", "--listen",   "127.0.0.1:0", "--data",
                          data,      "--interval", "0.2",         NULL};
    if (failpoint != NULL)
        assert_int_equal(setenv("VMLOC_FAILPOINT", failpoint, 1), 0);
    struct daemon *m0 = pool_start("m0", argv);
    (void)unsetenv("VMLOC_FAILPOINT");
    urls[0] = etcdtest_agent("h1", m0->url, NULL, "1000", "a:cpu=30,mem=8000", "b:cpu=25")->url;
    urls[1] = etcdtest_agent("h2", m0->url, NULL, "1000", "d:cpu=5", NULL)->url;
    urls[2] = etcdtest_agent("h3", m0->url, NULL, "1000", "c:cpu=5", NULL)->url;
    struct cond up0 = {m0->url, NULL, NULL, 3};
    assert_true(wait_until(hosts_up, &up0, UP_S));
    return m0;
}

/* m0's store under m1 with --etcd: migration `id` of VM a, which the source still runs, is
 * recovered, not in the journal, found running (journaled again), followed to its end and
 * reported once, under its id; it is never ordered again (an answered order would log it
 * running) nor ended unreported; a ends on one host of `urls`. */
static void
back_with_etcd(const char *id, const char *const urls[3])
{
    struct daemon *m1 = etcdtest_manager("m1");
    char line[200];
    (void)snprintf(line, sizeof(line), "migration recovered id=%s vm=\"a\" from=\"h1\"", id);
    struct log_cond recovered = {m1, line};
    assert_true(wait_until(log_has, &recovered, UP_S));
    struct cond lead1 = {m1->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead1, UP_S));
    (void)snprintf(line, sizeof(line), "migration still running id=%s", id);
    struct log_cond relisted = {m1, line};
    assert_true(wait_until(log_has, &relisted, ACT_S));
    struct cond done = {m1->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &done, 8.0 + ACT_S));
    (void)snprintf(line, sizeof(line), "migration done id=%s", id);
    struct log_cond reported = {m1, line};
    assert_true(log_has(&reported));
    (void)snprintf(line, sizeof(line), "migration running id=%s", id);
    struct log_cond reordered = {m1, line};
    assert_false(log_has(&reordered));
    (void)snprintf(line, sizeof(line), "unlisted migration ended id=%s", id);
    struct log_cond quiet = {m1, line};
    assert_false(log_has(&quiet));
    char id1[100] = "";
    assert_int_equal(migrations_of(m1->url, "a", id1, sizeof(id1)), 1);
    assert_string_equal(id1, id);
    assert_int_equal(migrations_of(urls[0], "a", id1, sizeof(id1)), 1);
    int at = pool_vm_where(urls, 3, "a");
    assert_true(at == 1 || at == 2);
    assert_true(wait_until(etcdtest_journal_flushed, (void *)m1->url, ACT_S));
}

/* (a'') A migration the journal never had: ordered by a manager without --etcd, which then
 * stops while the VM is copied and is started again on the same store with --etcd. Its
 * journal is empty, so the migration it recovers from its store is unlisted; its source
 * answers that it still runs, so it is journaled again, followed to its end and reported
 * once. */
static void
test_unlisted_running(void **state)
{
    (void)state;
    const char *urls[3];
    struct daemon *m0 = start_without_etcd(NULL, urls);
    load(urls[0], "a", "cpu=60");
    struct cond running = {m0->url, "a", "running", 0};
    assert_true(wait_until(migration_is, &running, ACT_S));
    char id[100] = "";
    assert_int_equal(migrations_of(m0->url, "a", id, sizeof(id)), 1);
    daemon_kill(m0);
    back_with_etcd(id, urls);
    pool_finish();
}

/* (a3) The same for an order the source took whose answer the manager never recorded: it
 * ends at its failpoint with the migration "planned" in its store while the source copies.
 * Started again with --etcd it must not settle it from the samples (the VM is still on its
 * source) nor order it again. */
static void
test_unlisted_planned_taken(void **state)
{
    (void)state;
    const char *urls[3];
    struct daemon *m0 = start_without_etcd("manager-order-taken", urls);
    load(urls[0], "a", "cpu=60");
    assert_true(wait_until(pool_exited, m0, ACT_S));
    struct log_cond at_failpoint = {m0, "failpoint manager-order-taken reached"};
    assert_true(log_has(&at_failpoint)); /* it stopped there, not elsewhere */
    /* The source runs the order the manager did not record as taken. */
    char id[100] = "";
    assert_int_equal(migrations_of(urls[0], "a", id, sizeof(id)), 1);
    back_with_etcd(id, urls);
    pool_finish();
}

/* The drain of (b'') asked for on its own thread, so that the test can go on meanwhile;
 * static, and joined by teardown_asked(), so that a failed test leaves no thread writing into
 * its frame. */
static struct asked {
    const char *url;
    double timeout_s;
    int rc;
    struct http_answer ans;
} asked;
static pthread_t asked_th;
static bool asked_started;

static void *
ask_drain(void *arg)
{
    struct asked *a = arg;
    struct http_creds creds = {test_token(), NULL};
    a->rc = http_fetch(a->url, "POST", "/v1/hosts/h3/drain", "{}", &creds, a->timeout_s, &a->ans);
    return NULL;
}

static int
teardown_asked(void **state)
{
    (void)unsetenv("VMLOC_FAILPOINT");
    if (asked_started)
        (void)pthread_join(asked_th, NULL);
    asked_started = false;
    free(asked.ans.body);
    memset(&asked, 0, sizeof(asked));
    return etcdtest_teardown(state);
}

/* m1 leading with its journal writes lost on the way (failpoint journal-write:drop: each is
 * sent again at the next step, and lost again). With `ret_m2`, m2 following and the three
 * agents (URLs in `urls`); without, h3 alone, registered with m1. */
static struct daemon *
start_losing_writes(struct daemon **ret_m2, const char *urls[3])
{
    assert_int_equal(setenv("VMLOC_FAILPOINT", "journal-write:drop", 1), 0);
    struct daemon *m1 = etcdtest_manager("m1");
    (void)unsetenv("VMLOC_FAILPOINT");
    struct cond lead1 = {m1->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead1, UP_S));
    if (ret_m2 == NULL) {
        assert_non_null(etcdtest_agent("h3", m1->url, NULL, "1000", "c:cpu=5", NULL));
        struct cond up1 = {m1->url, NULL, NULL, 1};
        assert_true(wait_until(hosts_up, &up1, UP_S));
        return m1;
    }
    struct daemon *m2 = etcdtest_manager("m2");
    struct cond follow2 = {m2->url, "follower", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &follow2, UP_S));
    etcdtest_three_agents(m1, m2, "1000", "a:cpu=30", urls);
    *ret_m2 = m2;
    return m1;
}

/* (b') A drain is answered only once its record is in etcd. With its write lost, the leader
 * takes the drain (h3 in maintenance, the write queued) and answers 503 when etcd has not
 * confirmed it in time, never 202; killed, it leaves the next leader with h3 as it was, as
 * the operator was told. */
static void
test_drain_waits_for_etcd(void **state)
{
    (void)state;
    struct daemon *m2 = NULL;
    const char *urls[3];
    struct daemon *m1 = start_losing_writes(&m2, urls);

    struct http_creds creds = {test_token(), NULL};
    struct http_answer ans = {0};
    int r = http_fetch(m1->url, "POST", "/v1/hosts/h3/drain", "{}", &creds, ACT_S, &ans);
    assert_int_equal(r, 0);
    if (ans.status != 503 || ans.body == NULL || strstr(ans.body, "etcd has not confirmed") == NULL)
        fail_msg("drain answered %d before its record was in etcd: %s", ans.status, ans.body);
    free(ans.body);
    struct cond drained1 = {m1->url, "h3", "maintenance", 0};
    assert_true(host_state_is(&drained1));
    assert_true(health_int(m1->url, "journal_pending") >= 1);

    daemon_kill(m1);
    struct cond lead2 = {m2->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead2, TAKEOVER_S));
    struct cond up2 = {m2->url, "h3", "up", 0};
    assert_true(host_state_is(&up2));
    pool_finish();
}

/* (b') The same for `vmloc forget` of a host in maintenance: its drain leaves the journal,
 * and the forget is answered once etcd has that (here never: 503), not before. */
static void
test_forget_waits_for_etcd(void **state)
{
    (void)state;
    struct daemon *m1 = start_losing_writes(NULL, NULL);
    struct http_creds creds = {test_token(), NULL};
    struct http_answer ans = {0};
    assert_int_equal(http_fetch(m1->url, "POST", "/v1/hosts/h3/drain", "{}", &creds, ACT_S, &ans),
                     0);
    assert_int_equal(ans.status, 503); /* its write lost too */
    free(ans.body);
    struct cond drained1 = {m1->url, "h3", "maintenance", 0};
    assert_true(host_state_is(&drained1));

    memset(&ans, 0, sizeof(ans));
    assert_int_equal(http_fetch(m1->url, "DELETE", "/v1/hosts/h3", NULL, &creds, ACT_S, &ans), 0);
    if (ans.status != 503 || ans.body == NULL ||
        strstr(ans.body, "etcd has not confirmed") == NULL ||
        strstr(ans.body, "forgotten on this manager") == NULL)
        fail_msg("forget answered %d before its drain left etcd: %s", ans.status, ans.body);
    free(ans.body);
    struct log_cond forgot = {m1, "host forgotten host=\"h3\""};
    assert_true(log_has(&forgot));
    pool_finish();
}

/* (b'') A drain still waiting for etcd when the leader loses the lead (etcd stopped: the
 * lease cannot be renewed) is answered 503 at once, not left hanging nor reported done. */
static void
test_drain_lead_lost(void **state)
{
    (void)state;
    struct daemon *m1 = start_losing_writes(NULL, NULL);
    asked.url = m1->url;
    asked.timeout_s = MANAGER_ANSWER_WAIT_S + 10.0;
    assert_int_equal(pthread_create(&asked_th, NULL, ask_drain, &asked), 0);
    asked_started = true;
    struct cond drained1 = {m1->url, "h3", "maintenance", 0};
    assert_true(wait_until(host_state_is, &drained1, ACT_S)); /* taken, waiting for etcd */
    assert_int_equal(kill(etcdtest_member_pid(0), SIGSTOP), 0);
    assert_int_equal(pthread_join(asked_th, NULL), 0);
    asked_started = false;
    assert_int_equal(kill(etcdtest_member_pid(0), SIGCONT), 0);
    assert_int_equal(asked.rc, 0);
    assert_int_equal(asked.ans.status, 503);
    assert_non_null(asked.ans.body);
    /* The lease runs out about 3 s after its last renewal, before the 5 s the answer may wait
     * for etcd; on a machine slow enough to reverse that, the answer is the same 503 for the
     * other reason. */
    bool lost = strstr(asked.ans.body, "stopped leading") != NULL;
    print_message("answer: %s\n", asked.ans.body);
    assert_true(lost || strstr(asked.ans.body, "etcd has not confirmed") != NULL);
    struct log_cond stepped = {m1, "leadership lost"};
    assert_true(wait_until(log_has, &stepped, TAKEOVER_S));
    pool_finish();
}

/* Two managers and three agents (as etcdtest_three_agents()); h3 (and host `also`, unless
 * NULL) drained through the leader m1, which is then killed; once m2 leads. The agents' URLs
 * in `urls`. */
static void
drain_then_kill(struct daemon **ret_m1, struct daemon **ret_m2, const char *also,
                const char *urls[3])
{
    start_pair(ret_m1, ret_m2);
    etcdtest_three_agents(*ret_m1, *ret_m2, "1000", "a:cpu=30", urls);
    const char *drain[] = {"--manager", (*ret_m1)->url, "drain", "h3", NULL};
    assert_int_equal(run_cli(drain, NULL), 0);
    if (also != NULL) {
        drain[3] = also;
        assert_int_equal(run_cli(drain, NULL), 0);
    }
    /* Answered once in etcd: the kill may come at once. */
    daemon_kill(*ret_m1);
    struct cond lead2 = {(*ret_m2)->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead2, TAKEOVER_S));
}

/* (b) A drain made through the leader survives a kill -9 of it. */
static void
test_drain_survives(void **state)
{
    (void)state;
    struct daemon *m1;
    struct daemon *m2;
    const char *urls[3];
    drain_then_kill(&m1, &m2, NULL, urls);
    struct cond drained2 = {m2->url, "h3", "maintenance", 0};
    assert_true(host_state_is(&drained2)); /* from the journal, before it leads */
    struct where c_on_h2 = {urls, "c", 1}; /* h2: the only other destination */
    assert_true(wait_until(vm_at, &c_on_h2, ACT_S));
    /* A conflict on h1: its VM goes to h2, never to the drained h3. */
    load(urls[0], "a", "cpu=60");
    struct cond moved = {m2->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &moved, ACT_S));
    struct where a_on_h2 = {urls, "a", 1};
    assert_true(wait_until(vm_at, &a_on_h2, ACT_S));
    json_t *vms3 = get(urls[2], "/v1/vms");
    assert_int_equal(json_array_size(vms3), 0);
    json_decref(vms3);
    assert_true(host_state_is(&drained2));
    pool_finish();
}

/* (b3) A host undrained under another leader leaves maintenance on a manager that kept it
 * drained in its store: m1 drains h3 and h2 and dies; m2 leads and undrains h3 while m1, back
 * on its store, follows with both still in maintenance; when m1 leads again, the journal (no
 * drain of h3 in it) takes h3 out of maintenance. h2's drain record, damaged meanwhile, is
 * logged and left out, and h2 stays in maintenance: its key still names it. */
static void
test_undrain_reaches_old_leader(void **state)
{
    (void)state;
    struct daemon *m1;
    struct daemon *m2;
    const char *urls[3];
    drain_then_kill(&m1, &m2, "h2", urls);

    m1 = etcdtest_manager("m1");
    struct cond follow1 = {m1->url, "follower", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &follow1, UP_S));
    struct cond kept1 = {m1->url, "h3", "maintenance", 0};
    assert_true(wait_until(host_state_is, &kept1, UP_S)); /* from its store */
    const char *undrain[] = {"--manager", m2->url, "undrain", "h3", NULL};
    assert_int_equal(run_cli(undrain, NULL), 0); /* answered once out of etcd */
    assert_true(host_state_is(&kept1));          /* a follower does not read the journal */
    struct cond kept2 = {m1->url, "h2", "maintenance", 0};
    assert_true(host_state_is(&kept2));
    etcdtest_put("/vmloc/drains/h2", "not json");
    struct cond up1 = {m1->url, "h1", "up", 0};
    assert_true(wait_until(host_state_is, &up1, UP_S)); /* m1 collects */

    daemon_kill(m2);
    struct cond lead1 = {m1->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead1, TAKEOVER_S));
    struct log_cond over = {m1, "maintenance over host=\"h3\""};
    assert_true(log_has(&over)); /* read before it leads */
    struct cond up3 = {m1->url, "h3", "up", 0};
    assert_true(wait_until(host_state_is, &up3, ACT_S));
    struct log_cond damaged = {m1, "journal: drain key=\"/vmloc/drains/h2\" is not a drain "
                                   "record (field host or since)"};
    assert_true(log_has(&damaged));
    assert_true(host_state_is(&kept2));
    pool_finish();
}

/* The id of the pending recommendation of VM c->a the manager at c->url holds, into rec_id. */
static char rec_id[96];

static bool
rec_pending(void *arg)
{
    const struct cond *c = arg;
    json_t *arr = get(c->url, "/v1/recommendations");
    bool ok = false;
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r)
    {
        if (strcmp(str(r, "state"), "pending") == 0 && strcmp(str(r, "vm"), c->a) == 0) {
            (void)snprintf(rec_id, sizeof(rec_id), "%s", str(r, "id"));
            ok = true;
        }
    }
    json_decref(arr);
    return ok;
}

/* (c) A pending recommendation survives a kill -9 of the leader that made it. */
static void
test_rec_survives(void **state)
{
    (void)state;
    const char *manual[] = {"--config", pool_write_policy("[relocate]\nautomation = manual\n"),
                            NULL};
    struct daemon *m1 = etcdtest_manager_with("m1", manual);
    struct cond lead1 = {m1->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead1, UP_S));
    struct daemon *m2 = etcdtest_manager_with("m2", manual);
    struct cond follow2 = {m2->url, "follower", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &follow2, UP_S));
    /* Two hosts: h2 is the only destination, so every decision makes the same move. */
    struct daemon *a1 = etcdtest_agent("h1", m1->url, m2->url, "1000", "a:cpu=30", "b:cpu=25");
    struct daemon *a2 = etcdtest_agent("h2", m1->url, m2->url, "1000", "c:cpu=5", NULL);
    const char *urls[] = {a1->url, a2->url};
    struct cond up1 = {m1->url, NULL, NULL, 2};
    struct cond up2 = {m2->url, NULL, NULL, 2};
    assert_true(wait_until(hosts_up, &up1, UP_S));
    assert_true(wait_until(hosts_up, &up2, UP_S));

    load(a1->url, "a", "cpu=60");
    struct cond pending1 = {m1->url, "a", NULL, 0};
    assert_true(wait_until(rec_pending, &pending1, ACT_S));
    char id[96];
    (void)snprintf(id, sizeof(id), "%s", rec_id);
    assert_true(wait_until(etcdtest_journal_flushed, (void *)m1->url, ACT_S));
    /* The follower knows nothing of it from its own store. */
    json_t *recs2 = get(m2->url, "/v1/recommendations");
    assert_int_equal(json_array_size(recs2), 0);
    json_decref(recs2);

    daemon_kill(m1);
    struct cond lead2 = {m2->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead2, TAKEOVER_S));
    char adopted[200];
    (void)snprintf(adopted, sizeof(adopted),
                   "recommendation adopted from the journal id=%s vm=\"a\"", id);
    struct log_cond said = {m2, adopted};
    assert_true(wait_until(log_has, &said, ACT_S));
    /* Through the CLI given both managers: the dead one is passed over, the new leader
     * applies it under the old leader's id. */
    char both[300];
    (void)snprintf(both, sizeof(both), "%s,%s", m1->url, m2->url);
    const char *apply[] = {"--manager", both, "apply", id, NULL};
    assert_int_equal(run_cli(apply, NULL), 0);
    struct cond done = {m2->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &done, ACT_S));
    assert_int_equal(pool_vm_where(urls, 2, "a"), 1);
    assert_int_equal(run_cli(apply, NULL), 2); /* applied: not pending any more */
    /* Settled: its record left the journal. */
    assert_true(wait_until(etcdtest_journal_flushed, (void *)m2->url, ACT_S));
    pool_finish();
}

/* (d) Records in the journal that are not what a manager writes (by hand, another version,
 * a damaged store) are left out, each logged with its key and the field that is wrong, and the
 * manager takes the lead all the same with nothing adopted from them. */
static void
test_bad_records(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        const char *value;
        const char *field;
    } bad[] = {
        {"/vmloc/migrations/m1", "not json", "(not a JSON object)"},
        {"/vmloc/migrations/m2", "{\"id\":\"other\",\"vm\":\"a\"}", "id"},
        {"/vmloc/migrations/m3", "{\"id\":\"m3\",\"vm\":\"\",\"src\":\"h1\",\"dst\":\"h2\"}", "vm"},
        {"/vmloc/migrations/m4", "{\"id\":\"m4\",\"vm\":\"a\",\"src\":\"h1\",\"dst\":\"h1\"}",
         "dst"},
        {"/vmloc/recs/r1", "{\"id\":\"r1\",\"time\":1,\"vm\":\"a\",\"src\":\"h1\"}", "dst"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        etcdtest_put(bad[i].key, bad[i].value);
    struct daemon *m1 = etcdtest_manager("m1");
    struct cond lead1 = {m1->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead1, UP_S));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char line[300];
        (void)snprintf(
            line, sizeof(line), "journal: key=\"%s\" is not a %s record (field %s)", bad[i].key,
            strstr(bad[i].key, "/recs/") != NULL ? "recommendation" : "migration", bad[i].field);
        struct log_cond said = {m1, line};
        if (!log_has(&said))
            printf("not logged: %s\n", line);
        assert_true(log_has(&said));
    }
    json_t *migs = get(m1->url, "/v1/migrations");
    assert_non_null(migs);
    assert_int_equal(json_array_size(migs), 0);
    json_decref(migs);
    json_t *recs = get(m1->url, "/v1/recommendations");
    assert_non_null(recs);
    assert_int_equal(json_array_size(recs), 0);
    json_decref(recs);
    pool_finish();
}

int
main(void)
{
    etcd_bin = etcdtest_require();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_adopt_ordered, setup, etcdtest_teardown),
        cmocka_unit_test_setup_teardown(test_adopt_copying, setup, etcdtest_teardown),
        cmocka_unit_test_setup_teardown(test_adopt_committing, setup, etcdtest_teardown),
        cmocka_unit_test_setup_teardown(test_settled_elsewhere, setup, etcdtest_teardown),
        cmocka_unit_test_setup_teardown(test_end_stored_first, setup, etcdtest_teardown),
        cmocka_unit_test_setup_teardown(test_unlisted_running, setup, etcdtest_teardown),
        cmocka_unit_test_setup_teardown(test_unlisted_planned_taken, setup, etcdtest_teardown),
        cmocka_unit_test_setup_teardown(test_drain_survives, setup, etcdtest_teardown),
        cmocka_unit_test_setup_teardown(test_undrain_reaches_old_leader, setup, etcdtest_teardown),
        cmocka_unit_test_setup_teardown(test_drain_waits_for_etcd, setup, teardown_asked),
        cmocka_unit_test_setup_teardown(test_drain_lead_lost, setup, teardown_asked),
        cmocka_unit_test_setup_teardown(test_forget_waits_for_etcd, setup, etcdtest_teardown),
        cmocka_unit_test_setup_teardown(test_rec_survives, setup, etcdtest_teardown),
        cmocka_unit_test_setup_teardown(test_bad_records, setup, etcdtest_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* A source that takes an order and then answers the manager's follow-ups about it with an
 * error (500), with a real manager and a real destination agent: the manager counts those
 * answers as silence, as it does no answer at all, and asks the destination after
 * FOLLOW_SILENT_ROUNDS of them. Before, such an answer left the migration open for good: it
 * ran neither into the destination's verdict nor into the give-up time, and held both hosts,
 * the migration limit and power saving. And when the source has reserved at the destination
 * and still samples, the manager keeps the reservation rather than abort a transfer that may
 * be running. The fake source is a thread of this test on its own port of 127.0.0.1. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "testpool.h"

/* The fake source, and what it has seen. */
static struct pool_fake fake;
static unsigned long long fake_seq; /* its samples' seq (its thread's alone) */
static atomic_int follow_asked;     /* GET /v1/migrations/ID answered 500 */
/* The order the fake source took: its id and VM, written before `order_seen` is set. */
static char order_id[80];
static char order_vm[80];
static atomic_bool order_seen;

static void
answer(int fd, int status, const char *body)
{
    char head[200];
    int hn = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: "
                      "%zu\r\nConnection: close\r\n\r\n",
                      status, strlen(body));
    (void)send(fd, head, (size_t)hn, MSG_NOSIGNAL);
    (void)send(fd, body, strlen(body), MSG_NOSIGNAL);
}

/* The string value after `key` in `req` (values here hold no quote), "" when absent. */
static void
field(const char *req, const char *key, char *out, size_t cap)
{
    const char *at = strstr(req, key);
    out[0] = '\0';
    if (at == NULL)
        return;
    at += strlen(key);
    size_t n = strcspn(at, "\"");
    (void)snprintf(out, cap, "%.*s", (int)(n < cap - 1 ? n : cap - 1), at);
}

/* One request of the manager's: a sample of h1 in conflict (a and b at 45 % each), the order
 * taken, every follow-up about it answered 500. */
static void
serve(int fd, void *arg)
{
    (void)arg;
    char req[16384];
    if (!pool_read_request(fd, req, sizeof(req), 2000))
        return;
    char body[2048];
    if (strncmp(req, "GET /v1/sample", 14) == 0) {
        struct timespec ts;
        (void)clock_gettime(CLOCK_REALTIME, &ts);
        (void)snprintf(body, sizeof(body),
                       "{\"version\": 1, \"seq\": %llu, \"time\": %.3f, \"url\": \"%s\", "
                       "\"host\": {\"name\": \"h1\", \"capacity\": 1.0, \"mem_mib\": 65536, "
                       "\"state\": \"up\", \"usage\": {\"cpu\": 95.0}, \"vms\": ["
                       "{\"name\": \"a\", \"usage\": {\"cpu\": 45.0}, \"mem_mib\": 512},"
                       "{\"name\": \"b\", \"usage\": {\"cpu\": 45.0}, \"mem_mib\": 512}]}}",
                       ++fake_seq, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, fake.url);
        answer(fd, 200, body);
    } else if (strncmp(req, "POST /v1/migrations", 19) == 0) {
        /* The order's id and VM, as the manager writes them: "id":"ID", "vm":"NAME". */
        char idv[80] = "";
        char vmv[80] = "";
        field(req, "\"id\":\"", idv, sizeof(idv));
        field(req, "\"vm\":\"", vmv, sizeof(vmv));
        if (!atomic_load(&order_seen)) {
            (void)snprintf(order_id, sizeof(order_id), "%s", idv);
            (void)snprintf(order_vm, sizeof(order_vm), "%s", vmv);
            atomic_store(&order_seen, true);
        }
        (void)snprintf(body, sizeof(body),
                       "{\"id\": \"%s\", \"vm\": \"%s\", \"state\": \"running\"}", idv, vmv);
        answer(fd, 202, body);
    } else if (strncmp(req, "GET /v1/migrations/", 19) == 0) {
        atomic_fetch_add(&follow_asked, 1);
        answer(fd, 500, "{\"error\": \"internal error\"}");
    } else {
        answer(fd, 404, "{\"error\": \"no such resource\"}");
    }
}

static int
teardown(void **state)
{
    pool_fake_stop(&fake);
    return pool_teardown(state);
}

/* A manager, a real destination agent h2, and the fake source h1 registered with it. */
static struct daemon *
start_pair(struct daemon **ret_h2)
{
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    const char *e2[] = {"--vm", "c:cpu=5", NULL};
    *ret_h2 = pool_start_agent("h2", m->url, e2);

    atomic_store(&follow_asked, 0);
    atomic_store(&order_seen, false);
    fake_seq = 0;
    pool_fake_start(&fake, serve, NULL);
    assert_int_equal(pool_register(m->url, "h1", fake.url), 200);
    return m;
}

static bool
order_taken(void *arg)
{
    (void)arg;
    return atomic_load(&order_seen);
}

/* The arrival `id`'s state on the agent at `url` ("" when it has none). */
static void
arrival_state(const char *url, const char *id, char *out, size_t cap)
{
    char path[160];
    (void)snprintf(path, sizeof(path), "/v1/incoming/%s", id);
    json_t *j = NULL;
    int st = daemon_http(url, "GET", path, NULL, &j);
    const char *s = st == 200 ? json_string_value(json_object_get(j, "state")) : NULL;
    (void)snprintf(out, cap, "%s", s != NULL ? s : "");
    json_decref(j);
}

static void
test_follow_error_is_silence(void **state)
{
    (void)state;
    struct daemon *h2 = NULL;
    struct daemon *m = start_pair(&h2);

    /* The conflict on h1 is ordered away, the order taken; then the follow-ups fail. */
    struct log_cond ordered = {m, "migration running id="};
    assert_true(wait_until(log_has, &ordered, ACT_S));
    struct log_cond asked_dst = {m, "source silent, asking the destination"};
    assert_true(wait_until(log_has, &asked_dst, ACT_S));
    assert_true(atomic_load(&follow_asked) >= 1);
    pool_finish();
}

/* The source reserved at the destination and keeps sampling, but answers every follow-up
 * 500: its transfer may be running, so the manager keeps the reservation (before, it
 * withdrew it after three silent rounds and aborted a healthy migration), and the source's
 * commit, when it comes, is what the manager records. */
static void
test_reservation_kept_while_source_samples(void **state)
{
    (void)state;
    struct daemon *h2 = NULL;
    struct daemon *m = start_pair(&h2);
    assert_true(wait_until(order_taken, NULL, ACT_S));

    /* What the source does next: reserve at the destination. */
    char body[400];
    (void)snprintf(body, sizeof(body),
                   "{\"id\": \"%s\", \"from\": \"h1\", \"transfer_s\": 30, \"capacity\": 1, "
                   "\"vm\": {\"name\": \"%s\", \"demand\": {\"cpu\": 45}, \"mem_mib\": 512}}",
                   order_id, order_vm);
    json_t *j = NULL;
    assert_int_equal(daemon_http(h2->url, "POST", "/v1/incoming", body, &j), 201);
    json_decref(j);

    char line[160];
    (void)snprintf(line, sizeof(line), "reservation kept id=%s", order_id);
    struct log_cond kept = {m, line};
    assert_true(wait_until(log_has, &kept, ACT_S));
    /* Rounds go on, the source still silent about it: the reservation stays. */
    struct cond later = {.url = m->url, .n = health_int(m->url, "rounds") + 8};
    assert_true(wait_until(rounds_reach, &later, ACT_S));
    char st[32];
    arrival_state(h2->url, order_id, st, sizeof(st));
    assert_string_equal(st, "reserved");

    /* The source commits: the destination runs the VM, and the manager records it done. */
    char path[160];
    (void)snprintf(path, sizeof(path), "/v1/incoming/%s/commit", order_id);
    assert_int_equal(daemon_http(h2->url, "POST", path, NULL, &j), 200);
    json_decref(j);
    (void)snprintf(line, sizeof(line), "the destination decided id=%s", order_id);
    struct log_cond decided = {m, line};
    assert_true(wait_until(log_has, &decided, ACT_S));
    struct log_cond done = {m, "outcome=done reason=\"the destination runs the VM"};
    assert_true(wait_until(log_has, &done, ACT_S));
    pool_finish();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_follow_error_is_silence, pool_setup, teardown),
        cmocka_unit_test_setup_teardown(test_reservation_kept_while_source_samples, pool_setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* A source that takes an order and then answers the manager's follow-ups about it with an
 * error (500), with a real manager and a real destination agent: the manager counts those
 * answers as silence, as it does no answer at all, and asks the destination after
 * FOLLOW_SILENT_ROUNDS of them. Before, such an answer left the migration open for good: it
 * ran neither into the destination's verdict nor into the give-up time, and held both hosts,
 * the migration limit and power saving. The fake source is a thread of this test on its own
 * port of 127.0.0.1. */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <pthread.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "testpool.h"

/* The fake source: its listening socket, its thread, and what it has seen. */
static int fake_fd = -1;
static pthread_t fake_th;
static bool fake_started;
static atomic_bool fake_stop;
static atomic_int follow_asked; /* GET /v1/migrations/ID answered 500 */

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

/* One request of the manager's: a sample of h1 in conflict (a and b at 45 % each), the order
 * taken, every follow-up about it answered 500. */
static void
serve(int fd, const char *url, unsigned long long *seq)
{
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
                       ++*seq, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, url);
        answer(fd, 200, body);
    } else if (strncmp(req, "POST /v1/migrations", 19) == 0) {
        /* The order's id, as the manager writes it: "id":"ID" (ids hold no quote). */
        const char *id = strstr(req, "\"id\":\"");
        char idv[80] = "";
        if (id != NULL) {
            id += 6;
            size_t n = strcspn(id, "\"");
            (void)snprintf(idv, sizeof(idv), "%.*s", (int)(n < 79 ? n : 79), id);
        }
        (void)snprintf(body, sizeof(body),
                       "{\"id\": \"%s\", \"vm\": \"a\", \"state\": \"running\"}", idv);
        answer(fd, 202, body);
    } else if (strncmp(req, "GET /v1/migrations/", 19) == 0) {
        atomic_fetch_add(&follow_asked, 1);
        answer(fd, 500, "{\"error\": \"internal error\"}");
    } else {
        answer(fd, 404, "{\"error\": \"no such resource\"}");
    }
}

static void *
fake_source(void *arg)
{
    const char *url = arg;
    unsigned long long seq = 0;
    while (!atomic_load(&fake_stop)) {
        struct pollfd p = {.fd = fake_fd, .events = POLLIN};
        if (poll(&p, 1, 100) != 1)
            continue;
        int fd = accept(fake_fd, NULL, NULL);
        if (fd < 0)
            continue;
        serve(fd, url, &seq);
        (void)close(fd);
    }
    return NULL;
}

static int
teardown(void **state)
{
    atomic_store(&fake_stop, true);
    if (fake_started)
        (void)pthread_join(fake_th, NULL);
    fake_started = false;
    if (fake_fd >= 0)
        (void)close(fake_fd);
    fake_fd = -1;
    return pool_teardown(state);
}

static void
test_follow_error_is_silence(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    const char *e2[] = {"--vm", "c:cpu=5", NULL};
    (void)pool_start_agent("h2", m->url, e2);

    static char url[64];
    fake_fd = pool_listen_loopback(url, sizeof(url));
    atomic_store(&fake_stop, false);
    atomic_store(&follow_asked, 0);
    assert_int_equal(pthread_create(&fake_th, NULL, fake_source, url), 0);
    fake_started = true;
    char body[160];
    (void)snprintf(body, sizeof(body), "{\"name\":\"h1\",\"url\":\"%s\"}", url);
    json_t *j = NULL;
    assert_int_equal(daemon_http(m->url, "POST", "/v1/agents", body, &j), 200);
    json_decref(j);

    /* The conflict on h1 is ordered away, the order taken; then the follow-ups fail. */
    struct log_cond ordered = {m, "migration running id="};
    assert_true(wait_until(log_has, &ordered, ACT_S));
    struct log_cond asked_dst = {m, "source silent, asking the destination"};
    assert_true(wait_until(log_has, &asked_dst, ACT_S));
    assert_true(atomic_load(&follow_asked) >= 1);
    pool_finish();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_follow_error_is_silence, pool_setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

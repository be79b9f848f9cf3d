/* Hosts that answer the manager's sample request with far more than a sample, with real
 * processes: twenty fake agents on 127.0.0.1 register and answer GET /v1/sample with 60 MiB
 * each (announced by a Content-Length, in one announced chunk, streamed in small chunks, or
 * streamed until the connection closes), every round. The manager refuses each answer past
 * the largest sample an agent can write, holds no more than its budget of answer bytes at
 * once, gives its memory back afterwards, logs each refusal once per host rather than every
 * round, and still collects a real agent alongside. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "testpool.h"

#define N_FAKES 20
/* What each fake sends per answer: 60 MiB, as a hostile host did. */
#define FAKE_BYTES (60ull * 1024u * 1024u)
/* The manager's memory must stay under this while it is flooded, and after. */
#define RSS_BOUND_KIB (64u * 1024u)

/* How a fake frames its endless answer. */
enum framing { BY_LENGTH, ONE_CHUNK, SMALL_CHUNKS, UNTIL_CLOSE, N_FRAMINGS };

static void
write_all(int fd, const void *p, size_t len)
{
    const char *s = p;
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

/* Read a request's head (a GET has no body); false when the peer closed first. */
static bool
read_head(int fd)
{
    char buf[8192];
    size_t len = 0;
    while (len + 1 < sizeof(buf)) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            return false;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n") != NULL)
            return true;
    }
    return false;
}

/* Answer one request with FAKE_BYTES of body framed as `how`, until done or the manager
 * closes the connection (a write fails). */
static void
flood(int fd, enum framing how)
{
    static char junk[65536];
    memset(junk, '[', sizeof(junk));
    char head[256];
    int n;
    if (how == BY_LENGTH)
        n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\n\r\n",
                     FAKE_BYTES);
    else if (how == UNTIL_CLOSE)
        n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    else
        n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    write_all(fd, head, (size_t)n);
    if (how == ONE_CHUNK) {
        n = snprintf(head, sizeof(head), "%llx\r\n", FAKE_BYTES);
        write_all(fd, head, (size_t)n);
    }
    for (unsigned long long sent = 0; sent < FAKE_BYTES; sent += sizeof(junk)) {
        if (how == SMALL_CHUNKS) {
            n = snprintf(head, sizeof(head), "%zx\r\n", sizeof(junk));
            if (write(fd, head, (size_t)n) != n)
                return;
        }
        if (write(fd, junk, sizeof(junk)) != (ssize_t)sizeof(junk))
            return;
        if (how == SMALL_CHUNKS && write(fd, "\r\n", 2) != 2)
            return;
    }
    if (how == ONE_CHUNK)
        write_all(fd, "\r\n0\r\n\r\n", 7);
    else if (how == SMALL_CHUNKS)
        write_all(fd, "0\r\n\r\n", 5);
}

/* A fake agent on its own port of 127.0.0.1, answering every request with a flood, one
 * connection at a time, until killed. Its URL in `url`. */
static pid_t
fake_start(enum framing how, char *url, size_t len)
{
    int lfd = pool_listen_loopback(url, len);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives the test */
        (void)signal(SIGPIPE, SIG_IGN);
        for (;;) {
            int fd = accept(lfd, NULL, NULL);
            if (fd < 0)
                continue;
            while (read_head(fd))
                flood(fd, how);
            (void)close(fd);
        }
    }
    (void)close(lfd);
    return pid;
}

/* The manager's VmHWM (peak) or VmRSS (now) in KiB, from /proc; 0 when unreadable. */
static unsigned long
mem_kib(pid_t pid, const char *field)
{
    char path[64];
    (void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char line[256];
    unsigned long kib = 0;
    size_t fl = strlen(field);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, field, fl) == 0 && line[fl] == ':')
            kib = strtoul(line + fl + 1, NULL, 10);
    }
    (void)fclose(f);
    return kib;
}

/* The "last_seen" of host `name` on the manager, -1 when it is not listed up. */
static double
last_seen(const char *url, const char *name)
{
    json_t *hosts = get(url, "/v1/hosts");
    json_t *h = named(hosts, name);
    double t = h != NULL && strcmp(str(h, "state"), "up") == 0
                   ? json_number_value(json_object_get(h, "last_seen"))
                   : -1.0;
    json_decref(hosts);
    return t;
}

struct fresh {
    const char *url;
    double after;
};

/* Host h1 has a sample collected after `after`. */
static bool
h1_fresh(void *arg)
{
    const struct fresh *f = arg;
    return last_seen(f->url, "h1") > f->after;
}

/* Sanitizers keep freed memory in quarantine and add shadow memory: the manager's RSS says
 * nothing about its buffers then. */
static bool
sanitized(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return true;
#else
    return false;
#endif
#else
    return false;
#endif
}

/* The fakes running, killed by the teardown whatever the test's outcome. */
static pid_t fakes[N_FAKES];

static void
fakes_stop(void)
{
    for (int i = 0; i < N_FAKES; i++) {
        if (fakes[i] > 0) {
            (void)kill(fakes[i], SIGKILL);
            (void)waitpid(fakes[i], NULL, 0);
        }
        fakes[i] = 0;
    }
}

static int
teardown(void **state)
{
    fakes_stop();
    return pool_teardown(state);
}

static void
test_flooding_hosts(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("manager", "127.0.0.1:0", NULL);
    const char *e1[] = {"--vm", "a:cpu=10", NULL};
    (void)pool_start_agent("h1", m->url, e1);
    struct cond one = {m->url, NULL, NULL, 1};
    assert_true(wait_until(hosts_up, &one, UP_S));
    unsigned long base_kib = mem_kib(m->pid, "VmRSS");

    for (int i = 0; i < N_FAKES; i++) {
        char url[64];
        fakes[i] = fake_start((enum framing)(i % N_FRAMINGS), url, sizeof(url));
        char name[16];
        (void)snprintf(name, sizeof(name), "bad%d", i + 1);
        assert_int_equal(pool_register(m->url, name, url), 200);
    }
    /* A few rounds under the flood; h1 is collected during it. */
    long long r0 = health_int(m->url, "rounds");
    assert_true(r0 >= 0);
    struct cond rounds = {m->url, NULL, NULL, r0 + 8};
    assert_true(wait_until(rounds_reach, &rounds, 40.0));
    struct fresh fr = {m->url, last_seen(m->url, "h1")};
    assert_true(fr.after > 0);
    assert_true(wait_until(h1_fresh, &fr, ACT_S));
    unsigned long peak_kib = mem_kib(m->pid, "VmHWM");
    print_message("manager RSS: %lu KiB before the flood, peak %lu KiB\n", base_kib, peak_kib);
    if (!sanitized())
        assert_true(peak_kib > 0 && peak_kib < RSS_BOUND_KIB);

    /* Every fake is refused with its reason, logged once (then once more if it goes down),
     * not once per round. */
    for (int i = 0; i < N_FAKES; i++) {
        char host[32];
        (void)snprintf(host, sizeof(host), "host=\"bad%d\"", i + 1);
        int lines = daemon_log_count(m, host, NULL) - daemon_log_count(m, host, "agent registered");
        print_message("bad%d: %d lines\n", i + 1, lines);
        assert_true(lines >= 1);
        assert_true(lines <= 2); /* "no sample ... reason=" and then "host down" */
    }
    assert_true(daemon_log_count(m, "no sample", "reason=\"answer too large: over") >= 1);

    fakes_stop();
    /* Rounds after the flood: what it took is given back. */
    struct cond after = {m->url, NULL, NULL, health_int(m->url, "rounds") + 5};
    assert_true(wait_until(rounds_reach, &after, ACT_S));
    unsigned long end_kib = mem_kib(m->pid, "VmRSS");
    print_message("manager RSS: %lu KiB after the flood\n", end_kib);
    if (!sanitized())
        assert_true(end_kib < base_kib + 8u * 1024u);
    assert_true(last_seen(m->url, "h1") > 0);
    pool_finish();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flooding_hosts, pool_setup, teardown),
    };
    return cmocka_run_group_tests_name("answers", tests, NULL, NULL);
}

/* The service manager's notification protocol (net/sdnotify.c): the socket's address from
 * NOTIFY_SOCKET (paths and abstract names), the watchdog's settings and whose they are, the
 * STATUS= line, and a real datagram to a socket of the test's own. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/sdnotify.h"

static void
test_address(void **state)
{
    (void)state;
    struct sockaddr_un a;
    socklen_t len = 0;
    assert_int_equal(sdnotify_address("/run/systemd/notify", &a, &len), 0);
    assert_int_equal(a.sun_family, AF_UNIX);
    assert_string_equal(a.sun_path, "/run/systemd/notify");
    /* A path counts its NUL. */
    assert_int_equal(len,
                     offsetof(struct sockaddr_un, sun_path) + strlen("/run/systemd/notify") + 1);
    /* An abstract name: a leading NUL for the '@', and exactly its bytes. */
    assert_int_equal(sdnotify_address("@vmloc/n", &a, &len), 0);
    assert_int_equal(a.sun_path[0], '\0');
    assert_memory_equal(a.sun_path + 1, "vmloc/n", 7);
    assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 8);

    static const char *const bad[] = {"", "relative/path", "@", "x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(sdnotify_address(bad[i], &a, &len), -EINVAL);
    assert_int_equal(sdnotify_address(NULL, &a, &len), -EINVAL);
    /* sun_path holds 108 bytes: a path of 107 and its NUL, or an abstract name of 108. */
    char name[200];
    memset(name, 'a', sizeof(name));
    name[0] = '/';
    name[107] = '\0';
    assert_int_equal(sdnotify_address(name, &a, &len), 0);
    name[107] = 'a';
    name[108] = '\0';
    assert_int_equal(sdnotify_address(name, &a, &len), -ENAMETOOLONG);
    name[0] = '@';
    assert_int_equal(sdnotify_address(name, &a, &len), 0);
    name[108] = 'a';
    name[109] = '\0';
    assert_int_equal(sdnotify_address(name, &a, &len), -ENAMETOOLONG);
}

static void
test_watchdog(void **state)
{
    (void)state;
    uint64_t us = 0;
    assert_int_equal(sdnotify_watchdog("30000000", NULL, 42, &us), 0);
    assert_int_equal(us, 30000000);
    assert_int_equal(sdnotify_watchdog("2000000", "42", 42, &us), 0);
    assert_int_equal(us, 2000000);
    /* Another process's watchdog (a parent's, inherited): not ours. */
    us = 7;
    assert_int_equal(sdnotify_watchdog("2000000", "41", 42, &us), -ENOENT);
    assert_int_equal(us, 7);
    assert_int_equal(sdnotify_watchdog(NULL, NULL, 42, &us), -ENOENT);
    assert_int_equal(sdnotify_watchdog(NULL, "42", 42, &us), -ENOENT);
    static const char *const bad[] = {"", "0", "-5", "5s", " 5", "1e6", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(sdnotify_watchdog(bad[i], NULL, 42, &us), -EINVAL);
        assert_int_equal(sdnotify_watchdog("1000", bad[i], 42, &us), -EINVAL);
    }
    assert_int_equal(us, 7);
}

static void
test_format_status(void **state)
{
    (void)state;
    char buf[SDNOTIFY_MAX_MSG];
    assert_int_equal(sdnotify_format_status(buf, sizeof(buf), "3 hosts (3 up)"),
                     strlen("STATUS=3 hosts (3 up)"));
    assert_string_equal(buf, "STATUS=3 hosts (3 up)");
    /* One line: no newline may start another assignment. */
    (void)sdnotify_format_status(buf, sizeof(buf), "a\nREADY=1\r\tb\x7f");
    assert_string_equal(buf, "STATUS=a READY=1  b ");
    assert_null(strchr(buf, '\n'));
    (void)sdnotify_format_status(buf, sizeof(buf), "");
    assert_string_equal(buf, "STATUS=");
    /* At most SDNOTIFY_MAX_STATUS bytes of text, cut before a UTF-8 sequence. */
    char big[SDNOTIFY_MAX_STATUS + 50];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(sdnotify_format_status(buf, sizeof(buf), big), 7 + SDNOTIFY_MAX_STATUS);
    memset(big, 'x', SDNOTIFY_MAX_STATUS - 1);
    memcpy(big + SDNOTIFY_MAX_STATUS - 1, "\xc3\xa9tat", 6); /* "é" across the limit */
    size_t n = sdnotify_format_status(buf, sizeof(buf), big);
    assert_int_equal(n, 7 + SDNOTIFY_MAX_STATUS - 1);
    assert_int_equal(buf[n - 1], 'x');
    /* A small buffer: cut there, still a string. */
    char small[12];
    assert_int_equal(sdnotify_format_status(small, sizeof(small), "abcdefgh"), 11);
    assert_string_equal(small, "STATUS=abcd");
    char tiny[4];
    (void)sdnotify_format_status(tiny, sizeof(tiny), "abc");
    assert_int_equal(strlen(tiny), 3);
}

/* Receive one datagram (waiting: the socket is blocking, and the message was sent first). */
static void
expect(int fd, const char *want)
{
    char got[1024];
    ssize_t n = recv(fd, got, sizeof(got) - 1, MSG_DONTWAIT);
    assert_true(n >= 0);
    got[n] = '\0';
    assert_string_equal(got, want);
}

static void
test_send(void **state)
{
    (void)state;
    int rx = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(rx >= 0);
    char name[64];
    (void)snprintf(name, sizeof(name), "@vmloc-test-sdnotify-%ld", (long)getpid());
    struct sockaddr_un a;
    socklen_t len;
    assert_int_equal(sdnotify_address(name, &a, &len), 0);
    assert_int_equal(bind(rx, (struct sockaddr *)&a, len), 0);

    char err[300] = "";
    struct sdnotify n;
    assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
    assert_int_equal(unsetenv("WATCHDOG_USEC"), 0);
    assert_int_equal(sdnotify_init(&n, err, sizeof(err)), 0);
    assert_int_equal(n.fd, -1); /* no service manager: nothing to do */
    assert_int_equal(sdnotify_send(&n, "READY=1"), 0);
    sdnotify_done(&n);

    assert_int_equal(setenv("NOTIFY_SOCKET", name, 1), 0);
    assert_int_equal(setenv("WATCHDOG_USEC", "4000000", 1), 0);
    char pid[32];
    (void)snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    assert_int_equal(setenv("WATCHDOG_PID", pid, 1), 0);
    assert_int_equal(sdnotify_init(&n, err, sizeof(err)), 0);
    assert_true(n.fd >= 0);
    assert_int_equal(n.watchdog_us, 4000000);
    assert_int_equal(sdnotify_send(&n, "READY=1"), 0);
    expect(rx, "READY=1");
    /* A status goes when it changed, not again. */
    assert_int_equal(sdnotify_status(&n, "1 host"), 0);
    assert_int_equal(sdnotify_status(&n, "1 host"), 0);
    assert_int_equal(sdnotify_status(&n, "2 hosts"), 0);
    expect(rx, "STATUS=1 host");
    expect(rx, "STATUS=2 hosts");
    char none[8];
    assert_true(recv(rx, none, sizeof(none), MSG_DONTWAIT) < 0);
    sdnotify_done(&n);
    sdnotify_done(&n); /* idempotent */

    /* Nobody listening any more: an error, never a stop. */
    assert_int_equal(close(rx), 0);
    assert_int_equal(sdnotify_init(&n, err, sizeof(err)), 0);
    assert_true(sdnotify_send(&n, "WATCHDOG=1") < 0);
    assert_true(n.failed);
    sdnotify_done(&n);

    /* A watchdog meant for another process; a bad variable, said. */
    assert_int_equal(setenv("WATCHDOG_PID", "1", 1), 0);
    assert_int_equal(sdnotify_init(&n, err, sizeof(err)), 0);
    assert_int_equal(n.watchdog_us, 0);
    sdnotify_done(&n);
    assert_int_equal(setenv("WATCHDOG_USEC", "soon", 1), 0);
    assert_int_equal(sdnotify_init(&n, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "WATCHDOG_USEC=soon"));
    assert_int_equal(n.fd, -1);
    sdnotify_done(&n);
    assert_int_equal(unsetenv("WATCHDOG_USEC"), 0);
    assert_int_equal(setenv("NOTIFY_SOCKET", "relative", 1), 0);
    assert_int_equal(sdnotify_init(&n, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "NOTIFY_SOCKET=relative"));
    sdnotify_done(&n);
    assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
    assert_int_equal(unsetenv("WATCHDOG_PID"), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_address),
        cmocka_unit_test(test_watchdog),
        cmocka_unit_test(test_format_status),
        cmocka_unit_test(test_send),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The HTTP client's limits against a server that misbehaves (a stand-in for a broken or
 * hostile peer): headers longer than HTTP_MAX_HEADERS and a body longer than HTTP_MAX_ANSWER
 * count as no answer, within the time-out, and the client stays usable; a normal answer is
 * read whole. The server is a forked process on 127.0.0.1. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/http.h"
#include "net/http_client.h"

enum mode { NORMAL, LONG_HEADER, HUGE_BODY };

/* Serve one connection per request with `mode`, forever (the parent kills it). */
static void
serve(int lfd, enum mode mode)
{
    (void)signal(SIGPIPE, SIG_IGN);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            continue;
        char req[4096];
        (void)read(fd, req, sizeof(req)); /* one small request */
        char head[256];
        if (mode == NORMAL) {
            const char *body = "{\"ok\": true}";
            int n = snprintf(head, sizeof(head),
                             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                             strlen(body), body);
            (void)write(fd, head, (size_t)n);
        } else if (mode == LONG_HEADER) {
            (void)write(fd, "HTTP/1.1 200 OK\r\nX-Long: ", 25);
            char chunk[1024];
            memset(chunk, 'a', sizeof(chunk));
            for (int i = 0; i < 40; i++) /* 40 KiB of one header */
                (void)write(fd, chunk, sizeof(chunk));
            (void)write(fd, "\r\nContent-Length: 2\r\n\r\n{}", 25);
        } else {
            unsigned long long len = (unsigned long long)HTTP_MAX_ANSWER + (1u << 20);
            int n = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\n\r\n",
                             len);
            (void)write(fd, head, (size_t)n);
            char chunk[65536];
            memset(chunk, ' ', sizeof(chunk));
            for (unsigned long long sent = 0; sent < len; sent += sizeof(chunk)) {
                if (write(fd, chunk, sizeof(chunk)) < 0)
                    break; /* the client gave up: what we want */
            }
        }
        (void)close(fd);
    }
}

static pid_t
start_server(enum mode mode, char *url, size_t len)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(lfd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 8), 0);
    socklen_t sl = sizeof(sa);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
    (void)snprintf(url, len, "http://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        serve(lfd, mode);
        _exit(0);
    }
    (void)close(lfd);
    return pid;
}

static void
stop_server(pid_t pid)
{
    (void)kill(pid, SIGKILL);
    (void)waitpid(pid, NULL, 0);
}

static int
fetch(const char *url, int *status, char **body)
{
    struct http_answer ans;
    int r = http_fetch(url, "GET", "/x", NULL, NULL, 20.0, &ans);
    *body = ans.body;
    *status = ans.status;
    return r;
}

static void
test_normal_answer(void **state)
{
    (void)state;
    char url[64];
    pid_t pid = start_server(NORMAL, url, sizeof(url));
    int status;
    char *body;
    assert_int_equal(fetch(url, &status, &body), 0);
    assert_int_equal(status, 200);
    assert_string_equal(body, "{\"ok\": true}");
    free(body);
    stop_server(pid);
}

static void
test_long_header_is_no_answer(void **state)
{
    (void)state;
    char url[64];
    pid_t pid = start_server(LONG_HEADER, url, sizeof(url));
    int status;
    char *body;
    int r = fetch(url, &status, &body);
    free(body);
    assert_true(r < 0 || status == 0);
    stop_server(pid);
}

static void
test_huge_body_is_no_answer(void **state)
{
    (void)state;
    char url[64];
    pid_t pid = start_server(HUGE_BODY, url, sizeof(url));
    int status;
    char *body;
    int r = fetch(url, &status, &body);
    free(body);
    assert_true(r < 0 || status == 0);
    stop_server(pid);
    /* The client still works afterwards. */
    pid = start_server(NORMAL, url, sizeof(url));
    assert_int_equal(fetch(url, &status, &body), 0);
    assert_int_equal(status, 200);
    free(body);
    stop_server(pid);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal_answer),
        cmocka_unit_test(test_long_header_is_no_answer),
        cmocka_unit_test(test_huge_body_is_no_answer),
    };
    return cmocka_run_group_tests_name("http_client", tests, NULL, NULL);
}

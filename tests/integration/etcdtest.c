/* A one-member etcd for daemon tests (etcdtest.h). */
#define _POSIX_C_SOURCE 200809L
#include "etcdtest.h"

#include <arpa/inet.h>
#include <fcntl.h>
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
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "testpool.h"

static pid_t etcd_pid;
static char etcd_url[64];
static char etcd_log[600];

const char *
etcdtest_find(void)
{
    static const char *const paths[] = {"/usr/bin/etcd", "/usr/local/bin/etcd"};
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    }
    return NULL;
}

const char *
etcdtest_url(void)
{
    return etcd_url;
}

static int
free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    (void)close(fd);
    return ntohs(a.sin_port);
}

/* Healthy, or the process has exited (the probe-then-bind race). */
static bool
up_or_gone(void *arg)
{
    bool *gone = arg;
    int status = 0;
    if (waitpid(etcd_pid, &status, WNOHANG) == etcd_pid) {
        etcd_pid = 0;
        *gone = true;
        return true;
    }
    json_t *j = NULL;
    int st = daemon_http_token(etcd_url, "GET", "/health", NULL, NULL, &j);
    bool ok = st == 200 && j != NULL && strcmp(str(j, "health"), "true") == 0;
    json_decref(j);
    return ok;
}

static bool
try_start(const char *bin, int attempt)
{
    char cu[64];
    char pu[64];
    char cluster[80];
    char dir[600];
    (void)snprintf(cu, sizeof(cu), "http://127.0.0.1:%d", free_port());
    (void)snprintf(pu, sizeof(pu), "http://127.0.0.1:%d", free_port());
    (void)snprintf(cluster, sizeof(cluster), "t=%s", pu);
    (void)snprintf(dir, sizeof(dir), "%s-etcd%d", pool_data_dir(), attempt);
    (void)snprintf(etcd_log, sizeof(etcd_log), "%s-etcd.log", pool_data_dir());
    (void)snprintf(etcd_url, sizeof(etcd_url), "%s", cu);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)setpgid(0, 0);
        int fd = open(etcd_log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            (void)dup2(fd, 1);
            (void)dup2(fd, 2);
        }
        execl(bin, "etcd", "--name", "t", "--data-dir", dir, "--listen-client-urls", cu,
              "--advertise-client-urls", cu, "--listen-peer-urls", pu,
              "--initial-advertise-peer-urls", pu, "--initial-cluster", cluster, (char *)NULL);
        _exit(127);
    }
    etcd_pid = pid;
    bool gone = false;
    if (!wait_until(up_or_gone, &gone, 30.0)) {
        printf("etcd did not become healthy; its log is %s\n", etcd_log);
        fail();
    }
    return !gone;
}

void
etcdtest_start(const char *bin)
{
    for (int attempt = 0; attempt < 5; attempt++)
        if (try_start(bin, attempt))
            return;
    printf("etcd exited at start five times; its last log is %s\n", etcd_log);
    fail();
}

void
etcdtest_stop(void)
{
    if (etcd_pid <= 0)
        return;
    (void)kill(-etcd_pid, SIGKILL);
    (void)kill(etcd_pid, SIGKILL);
    (void)waitpid(etcd_pid, NULL, 0);
    etcd_pid = 0;
}

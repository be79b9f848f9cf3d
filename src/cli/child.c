/* Children of a command (see child.h). */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include "cli/child.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/file.h" /* file_write_atomic() */

int
child_start(struct child *c, const char *self, char *const argv[], const char *log)
{
    int p[2];
    c->pid = 0;
    c->out = -1;
    c->url[0] = '\0';
    c->len = 0;
    c->line[0] = '\0';
    if (pipe(p) < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = -errno;
        (void)close(p[0]);
        (void)close(p[1]);
        return e;
    }
    if (pid == 0) {
        (void)setpgid(0, 0); /* Ctrl-C reaches the parent, which stops the children itself */
        /* ...and if the parent itself is killed, its daemons go too. */
        (void)prctl(PR_SET_PDEATHSIG, SIGTERM);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        (void)dup2(p[1], STDOUT_FILENO);
        if (fd >= 0)
            (void)dup2(fd, STDERR_FILENO);
        (void)close(p[0]);
        (void)close(p[1]);
        execv(self, argv);
        _exit(127);
    }
    (void)close(p[1]);
    (void)fcntl(p[0], F_SETFD, FD_CLOEXEC);
    c->pid = pid;
    c->out = p[0];
    return 0;
}

/* Read what child `c` printed; 1 when its first line is complete (c->url set), 0 when more
 * is to come, -EPROTO when it is not the listening line or the child closed its output. */
static int
read_line(struct child *c)
{
    ssize_t n = read(c->out, c->line + c->len, sizeof(c->line) - 1 - c->len);
    if (n <= 0)
        return -EPROTO;
    c->len += (size_t)n;
    c->line[c->len] = '\0';
    char *nl = strchr(c->line, '\n');
    if (nl == NULL)
        return c->len < sizeof(c->line) - 1 ? 0 : -EPROTO;
    *nl = '\0';
    (void)close(c->out);
    c->out = -1;
    if (strncmp(c->line, "listening on ", 13) != 0)
        return -EPROTO;
    (void)snprintf(c->url, sizeof(c->url), "%s", c->line + 13);
    return 1;
}

int
child_wait_ready(struct child *cs, size_t n, double deadline, size_t *ret_bad)
{
    struct pollfd *pf = calloc(n + 1, sizeof(*pf));
    size_t *who = calloc(n + 1, sizeof(*who));
    int r = 0;
    if (pf == NULL || who == NULL) {
        r = -ENOMEM;
        goto out;
    }
    for (;;) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (cs[i].out >= 0) {
                pf[k] = (struct pollfd){cs[i].out, POLLIN, 0};
                who[k++] = i;
            }
        }
        if (k == 0)
            break;
        double left = deadline - clock_wall_s();
        if (left <= 0) {
            *ret_bad = who[0];
            r = -ETIMEDOUT;
            break;
        }
        int ms = left > 1.0 ? 1000 : (int)(left * 1000.0) + 1;
        if (poll(pf, k, ms) <= 0)
            continue;
        for (size_t j = 0; j < k && r == 0; j++) {
            if (pf[j].revents == 0)
                continue;
            if (read_line(&cs[who[j]]) < 0) {
                *ret_bad = who[j];
                r = -EPROTO;
            }
        }
        if (r < 0)
            break;
    }
out:
    free(pf);
    free(who);
    return r;
}

int
child_stop(struct child *c, double grace_s)
{
    if (c->out >= 0) {
        (void)close(c->out);
        c->out = -1;
    }
    if (c->pid <= 0)
        return -1;
    (void)kill(c->pid, SIGTERM);
    double end = clock_mono_s() + grace_s;
    int st = 0;
    while (clock_mono_s() < end) {
        pid_t w = waitpid(c->pid, &st, WNOHANG);
        if (w == c->pid) {
            c->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        struct timespec ts = {0, 20L * 1000 * 1000};
        (void)nanosleep(&ts, NULL);
    }
    (void)kill(c->pid, SIGKILL);
    (void)waitpid(c->pid, NULL, 0);
    c->pid = 0;
    return -1;
}

int
child_share_peers(const struct child *cs, size_t n, const char *path)
{
    size_t cap = 64 + n * (sizeof(cs[0].url) + 1);
    char *text = malloc(cap);
    if (text == NULL)
        return -ENOMEM;
    size_t len = (size_t)snprintf(text, cap, "# the agents of this run, as they listen\n");
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s\n", cs[i].url);
    int r = file_write_atomic(path, text);
    free(text);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        if (cs[i].pid > 0)
            (void)kill(cs[i].pid, SIGHUP);
    }
    return 0;
}

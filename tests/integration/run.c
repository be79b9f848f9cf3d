#define _POSIX_C_SOURCE 200809L
/* Run a program with a deadline and capture its output (see run.h). One poll() loop reads
 * stdout and stderr, writes stdin, and watches a self-pipe written by the SIGCHLD handler,
 * so the loop wakes as soon as anything happens and never sleeps to wait. */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct sink {
    int fd; /* -1 once at end of file */
    char *buf;
    size_t len;
    size_t cap;
};

static int chld_pipe[2] = {-1, -1};

static void
on_sigchld(int sig)
{
    (void)sig;
    int saved = errno;
    if (chld_pipe[1] >= 0) {
        ssize_t n = write(chld_pipe[1], "c", 1);
        (void)n; /* a full pipe already wakes the loop */
    }
    errno = saved;
}

static int
set_flags(int fd, bool nonblock)
{
    int fl = fcntl(fd, F_GETFD);
    if (fl < 0 || fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0)
        return -errno;
    if (nonblock) {
        fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
            return -errno;
    }
    return 0;
}

static int
make_pipe(int p[2])
{
    if (pipe(p) < 0)
        return -errno;
    if (set_flags(p[0], false) < 0 || set_flags(p[1], false) < 0) {
        int r = -errno;
        (void)close(p[0]);
        (void)close(p[1]);
        p[0] = p[1] = -1;
        return r;
    }
    return 0;
}

static void
close_fd(int *fd)
{
    if (*fd >= 0) {
        (void)close(*fd);
        *fd = -1;
    }
}

static double
now_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read what is available. 0: fine (maybe EOF, then fd is -1). -E2BIG: over the cap.
 * -ENOMEM. */
static int
sink_read(struct sink *s)
{
    for (;;) {
        if (s->cap - s->len < 4096 + 1) {
            size_t ncap = s->cap == 0 ? 8192 : s->cap * 2;
            if (ncap > (size_t)RUN_MAX_OUTPUT + 8192)
                return -E2BIG;
            char *nb = realloc(s->buf, ncap);
            if (nb == NULL)
                return -ENOMEM;
            s->buf = nb;
            s->cap = ncap;
        }
        ssize_t n = read(s->fd, s->buf + s->len, s->cap - s->len - 1);
        if (n > 0) {
            s->len += (size_t)n;
            if (s->len > RUN_MAX_OUTPUT)
                return -E2BIG;
            continue;
        }
        if (n == 0) {
            close_fd(&s->fd);
            return 0;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        close_fd(&s->fd); /* unexpected: treat as end of file */
        return 0;
    }
}

static void
sink_finish(struct sink *s, char **ret_buf, size_t *ret_len)
{
    if (s->buf == NULL) {
        s->buf = malloc(1);
        if (s->buf == NULL)
            abort(); /* a test helper: out of memory ends the test run */
    }
    s->buf[s->len] = '\0';
    *ret_buf = s->buf;
    *ret_len = s->len;
    s->buf = NULL;
}

static void
child_exec(const char *const *argv, int in_fd, int out_fd, int err_fd, int status_fd)
{
    /* Only async-signal-safe calls between fork() and exec(). */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    (void)sigaction(SIGCHLD, &sa, NULL);
    (void)sigaction(SIGPIPE, &sa, NULL);
    if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
        goto fail;
    execv(argv[0], (char *const *)argv);
fail:;
    int e = errno;
    ssize_t n = write(status_fd, &e, sizeof(e));
    (void)n;
    _exit(127);
}

int
run_program(const char *const *argv, const void *in, size_t in_len, double timeout_s,
            struct run_result *ret)
{
    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    int status_pipe[2] = {-1, -1};
    int null_fd = -1;
    struct sink out = {.fd = -1}, err = {.fd = -1};
    struct sigaction sa, old_chld, old_pipe;
    bool handlers = false;
    pid_t pid = -1;
    int r;

    memset(ret, 0, sizeof(*ret));
    ret->exit_status = -1;

    if (chld_pipe[0] < 0) {
        r = make_pipe(chld_pipe);
        if (r < 0)
            goto out;
        if (set_flags(chld_pipe[0], true) < 0 || set_flags(chld_pipe[1], true) < 0) {
            r = -errno;
            goto out;
        }
    }
    r = make_pipe(out_pipe);
    if (r < 0)
        goto out;
    r = make_pipe(err_pipe);
    if (r < 0)
        goto out;
    r = make_pipe(status_pipe);
    if (r < 0)
        goto out;
    if (in != NULL) {
        r = make_pipe(in_pipe);
        if (r < 0)
            goto out;
    } else {
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0) {
            r = -errno;
            goto out;
        }
    }

    /* SIGCHLD wakes the poll loop; SIGPIPE must not kill us when the child stops reading. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigchld;
    sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGCHLD, &sa, &old_chld) < 0) {
        r = -errno;
        goto out;
    }
    sa.sa_handler = SIG_IGN;
    sa.sa_flags = 0;
    if (sigaction(SIGPIPE, &sa, &old_pipe) < 0) {
        r = -errno;
        (void)sigaction(SIGCHLD, &old_chld, NULL);
        goto out;
    }
    handlers = true;

    pid = fork();
    if (pid < 0) {
        r = -errno;
        goto out;
    }
    if (pid == 0)
        child_exec(argv, in != NULL ? in_pipe[0] : null_fd, out_pipe[1], err_pipe[1],
                   status_pipe[1]);

    close_fd(&in_pipe[0]);
    close_fd(&out_pipe[1]);
    close_fd(&err_pipe[1]);
    close_fd(&status_pipe[1]);
    close_fd(&null_fd);

    /* exec() closes the status pipe; an errno arrives only when it failed. */
    int exec_errno = 0;
    ssize_t n;
    do {
        n = read(status_pipe[0], &exec_errno, sizeof(exec_errno));
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof(exec_errno)) {
        (void)waitpid(pid, NULL, 0);
        pid = -1;
        r = -exec_errno;
        goto out;
    }

    out.fd = out_pipe[0];
    err.fd = err_pipe[0];
    out_pipe[0] = err_pipe[0] = -1;
    if (set_flags(out.fd, true) < 0 || set_flags(err.fd, true) < 0 ||
        (in_pipe[1] >= 0 && set_flags(in_pipe[1], true) < 0)) {
        r = -errno;
        goto out;
    }
    if (in != NULL && in_len == 0)
        close_fd(&in_pipe[1]);

    size_t in_off = 0;
    bool reaped = false;
    int wstatus = 0;
    double deadline = now_s() + timeout_s;
    for (;;) {
        if (!reaped) {
            pid_t w = waitpid(pid, &wstatus, WNOHANG);
            if (w == pid)
                reaped = true;
        }
        if (reaped && out.fd < 0 && err.fd < 0)
            break;

        double left = deadline - now_s();
        if (left <= 0) {
            if (!reaped) {
                (void)kill(pid, SIGKILL);
                ret->timed_out = true;
            }
            break;
        }
        struct pollfd pfd[4];
        int np = 0;
        pfd[np++] = (struct pollfd){.fd = chld_pipe[0], .events = POLLIN};
        int i_out = -1, i_err = -1, i_in = -1;
        if (out.fd >= 0) {
            i_out = np;
            pfd[np++] = (struct pollfd){.fd = out.fd, .events = POLLIN};
        }
        if (err.fd >= 0) {
            i_err = np;
            pfd[np++] = (struct pollfd){.fd = err.fd, .events = POLLIN};
        }
        if (in_pipe[1] >= 0) {
            i_in = np;
            pfd[np++] = (struct pollfd){.fd = in_pipe[1], .events = POLLOUT};
        }
        int ms = (int)(left * 1000.0) + 1;
        int pr = poll(pfd, (nfds_t)np, ms);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            goto out;
        }
        if (pfd[0].revents & POLLIN) {
            char drain[64];
            while (read(chld_pipe[0], drain, sizeof(drain)) > 0) {
            }
        }
        int sr = 0;
        if (i_out >= 0 && pfd[i_out].revents != 0)
            sr = sink_read(&out);
        if (sr == 0 && i_err >= 0 && pfd[i_err].revents != 0)
            sr = sink_read(&err);
        if (sr == -E2BIG) {
            ret->overflow = true;
            if (!reaped)
                (void)kill(pid, SIGKILL);
            break;
        }
        if (sr < 0) {
            r = sr;
            goto out;
        }
        if (i_in >= 0 && pfd[i_in].revents != 0) {
            if (pfd[i_in].revents & (POLLERR | POLLHUP)) {
                close_fd(&in_pipe[1]); /* the program stopped reading */
            } else {
                size_t chunk = in_len - in_off;
                if (chunk > 65536)
                    chunk = 65536;
                ssize_t w = write(in_pipe[1], (const char *)in + in_off, chunk);
                if (w > 0) {
                    in_off += (size_t)w;
                    if (in_off == in_len)
                        close_fd(&in_pipe[1]);
                } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                    close_fd(&in_pipe[1]); /* EPIPE: it exited or closed stdin */
                }
            }
        }
    }
    if (!reaped) {
        /* Killed above (SIGKILL cannot be caught), so this returns promptly. */
        while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
        }
    }
    pid = -1;
    if (WIFEXITED(wstatus))
        ret->exit_status = WEXITSTATUS(wstatus);
    else if (WIFSIGNALED(wstatus))
        ret->term_signal = WTERMSIG(wstatus);
    /* Whatever is still buffered in the pipes belongs to the output too. */
    if (out.fd >= 0)
        (void)sink_read(&out);
    if (err.fd >= 0)
        (void)sink_read(&err);
    sink_finish(&out, &ret->out, &ret->out_len);
    sink_finish(&err, &ret->err, &ret->err_len);
    r = 0;
out:
    if (pid > 0) {
        (void)kill(pid, SIGKILL);
        (void)waitpid(pid, NULL, 0);
    }
    if (handlers) {
        (void)sigaction(SIGCHLD, &old_chld, NULL);
        (void)sigaction(SIGPIPE, &old_pipe, NULL);
    }
    close_fd(&in_pipe[0]);
    close_fd(&in_pipe[1]);
    close_fd(&out_pipe[0]);
    close_fd(&out_pipe[1]);
    close_fd(&err_pipe[0]);
    close_fd(&err_pipe[1]);
    close_fd(&status_pipe[0]);
    close_fd(&status_pipe[1]);
    close_fd(&null_fd);
    close_fd(&out.fd);
    close_fd(&err.fd);
    free(out.buf);
    free(err.buf);
    if (r < 0) {
        free(ret->out);
        free(ret->err);
        memset(ret, 0, sizeof(*ret));
        ret->exit_status = -1;
    }
    return r;
}

void
run_result_done(struct run_result *r)
{
    if (r == NULL)
        return;
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof(*r));
    r->exit_status = -1;
}

const char *
run_describe(const struct run_result *r)
{
    static char buf[64];
    if (r->timed_out)
        snprintf(buf, sizeof(buf), "timed out (killed)");
    else if (r->overflow)
        snprintf(buf, sizeof(buf), "killed: more than %u bytes of output", RUN_MAX_OUTPUT);
    else if (r->term_signal != 0)
        snprintf(buf, sizeof(buf), "killed by signal %d", r->term_signal);
    else
        snprintf(buf, sizeof(buf), "exit %d", r->exit_status);
    return buf;
}

/* Daemon harness for integration tests (see daemon.h). */
#define _DEFAULT_SOURCE /* on_exit */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h"
#include "common/token.h"
#include "net/http.h"
#include "net/http_client.h"

static double
now_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *
daemon_bin(void)
{
    const char *b = getenv("VMLOC_BIN");
    return b != NULL ? b : "./vmloc";
}

/* Short enough that a daemon's log path (256 bytes) under it is never cut. */
static char tmp_dir[160];
static pid_t tmp_owner;

/* At the test program's exit: its directory goes when every test passed (the HA tests alone
 * leave over a gigabyte of etcd logs and data a run, which filled a CI disk) and stays, named,
 * for reading when one failed or VMLOC_KEEP_TEST_DIR is set. Only in the process that made it,
 * not in a forked child that exits. */
static void
tmpdir_at_exit(int status, void *arg)
{
    (void)arg;
    if (getpid() != tmp_owner || tmp_dir[0] == '\0')
        return;
    if (status != 0 || getenv("VMLOC_KEEP_TEST_DIR") != NULL) {
        fprintf(stderr, "test files kept in %s\n", tmp_dir);
        return;
    }
    int r = file_remove_tree(tmp_dir);
    if (r < 0)
        fprintf(stderr, "cannot remove %s: %s\n", tmp_dir, strerror(-r));
}

const char *
daemon_tmpdir(void)
{
    if (tmp_dir[0] == '\0') {
        const char *base = getenv("TMPDIR");
        int n = snprintf(tmp_dir, sizeof(tmp_dir), "%s/vmloc-test-XXXXXX",
                         base != NULL ? base : "/tmp");
        if (n < 0 || (size_t)n >= sizeof(tmp_dir)) {
            fprintf(stderr, "TMPDIR is too long (at most %zu bytes)\n", sizeof(tmp_dir) - 20);
            exit(1);
        }
        if (mkdtemp(tmp_dir) == NULL) {
            perror("mkdtemp");
            exit(1);
        }
        tmp_owner = getpid();
        (void)on_exit(tmpdir_at_exit, NULL);
    }
    return tmp_dir;
}

void
daemon_dump_log(const struct daemon *d)
{
    FILE *f = fopen(d->log_path, "r");
    if (f == NULL)
        return;
    char line[1024];
    printf("---- log of %s ----\n", d->log_path);
    while (fgets(line, sizeof(line), f) != NULL)
        fputs(line, stdout);
    printf("---- end ----\n");
    fclose(f);
}

int
daemon_log_count(const struct daemon *d, const char *a, const char *b)
{
    FILE *f = fopen(d->log_path, "r");
    if (f == NULL)
        return -1;
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        n += strstr(line, a) != NULL && (b == NULL || strstr(line, b) != NULL);
    (void)fclose(f);
    return n;
}

/* Fork and exec `args` (args[0] the program) with standard output on a pipe and standard
 * error in the log; in a new process group when `group`. */
static int
spawn(struct daemon *d, const char *name, char **args, bool group)
{
    memset(d, 0, sizeof(*d));
    (void)snprintf(d->log_path, sizeof(d->log_path), "%s/%s.log", daemon_tmpdir(), name);
    int p[2];
    if (pipe(p) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        (void)close(p[0]);
        (void)close(p[1]);
        return -1;
    }
    if (pid == 0) {
        /* A test that fails or crashes must not leave its daemons running (they would load
         * the machine for every later test): they die with it. */
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (group)
            (void)setpgid(0, 0);
        int log = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        (void)dup2(p[1], STDOUT_FILENO);
        if (log >= 0)
            (void)dup2(log, STDERR_FILENO);
        (void)close(p[0]);
        (void)close(p[1]);
        execv(args[0], args);
        _exit(127);
    }
    if (group)
        (void)setpgid(pid, pid); /* also here: no race with a signal sent right away */
    (void)close(p[1]);
    d->pid = pid;
    d->out_fd = p[0];
    d->group = group;
    return 0;
}

/* Read lines of d's output until one contains `ready` (copied to `line`). 0 or -1. */
static int
wait_line(struct daemon *d, const char *ready, double timeout_s, char *line, size_t size)
{
    char buf[4096];
    size_t len = 0;
    double deadline = now_s() + timeout_s;
    while (now_s() < deadline) {
        char *nl;
        while ((nl = memchr(buf, '\n', len)) != NULL) {
            *nl = '\0';
            bool hit = strstr(buf, ready) != NULL;
            if (hit)
                (void)snprintf(line, size, "%.1000s", buf);
            size_t used = (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, len - used);
            len -= used;
            if (hit)
                return 0;
        }
        if (len == sizeof(buf) - 1)
            len = 0; /* a line too long to be the one: drop it */
        struct pollfd pfd = {d->out_fd, POLLIN, 0};
        int ms = (int)((deadline - now_s()) * 1000) + 1;
        if (poll(&pfd, 1, ms) <= 0)
            continue;
        ssize_t n = read(d->out_fd, buf + len, sizeof(buf) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    (void)snprintf(line, size, "%.1000s", buf);
    return -1;
}

/* spawn() `prog` with `argv` (NULL-terminated, without the program). 0 or -1. */
static int
spawn_argv(struct daemon *d, const char *name, const char *prog, const char *const *argv,
           bool group)
{
    size_t n = 0;
    while (argv[n] != NULL)
        n++;
    char **args = calloc(n + 2, sizeof(*args));
    if (args == NULL)
        return -1;
    args[0] = (char *)prog;
    for (size_t i = 0; i < n; i++)
        args[i + 1] = (char *)argv[i];
    int r = spawn(d, name, args, group);
    free(args);
    return r < 0 ? -1 : 0;
}

int
daemon_spawn(struct daemon *d, const char *name, const char *prog, const char *const *argv,
             const char *ready, double timeout_s)
{
    if (spawn_argv(d, name, prog != NULL ? prog : daemon_bin(), argv, true) < 0)
        return -1;
    char line[1024];
    if (wait_line(d, ready, timeout_s, line, sizeof(line)) == 0) {
        (void)snprintf(d->ready_line, sizeof(d->ready_line), "%.250s", line);
        const char *u = strstr(line, "http"); /* http:// or https:// */
        size_t len = u != NULL ? strcspn(u, " ,;") : 0;
        while (len > 0 && u[len - 1] == '.')
            len--;
        (void)snprintf(d->url, sizeof(d->url), "%.*s", (int)len, u != NULL ? u : "");
        return 0;
    }
    printf("%s did not become ready (no line with '%s'; output: '%s')\n", name, ready, line);
    daemon_dump_log(d);
    daemon_kill(d);
    return -1;
}

int
daemon_start(struct daemon *d, const char *name, const char *const *argv, double timeout_s)
{
    if (spawn_argv(d, name, daemon_bin(), argv, false) < 0)
        return -1;
    char line[1024];
    const char *prefix = "listening on ";
    if (wait_line(d, prefix, timeout_s, line, sizeof(line)) == 0 &&
        strncmp(line, prefix, strlen(prefix)) == 0) {
        (void)snprintf(d->url, sizeof(d->url), "%.120s", line + strlen(prefix));
        return 0;
    }
    printf("daemon %s did not become ready (output: '%s')\n", name, line);
    daemon_dump_log(d);
    daemon_kill(d);
    return -1;
}

int
daemon_stop(struct daemon *d, double timeout_s)
{
    if (d->pid <= 0)
        return -1;
    (void)kill(d->group ? -d->pid : d->pid, SIGTERM);
    double deadline = now_s() + timeout_s;
    int status = 0;
    while (now_s() < deadline) {
        pid_t r = waitpid(d->pid, &status, WNOHANG);
        if (r == d->pid) {
            d->pid = 0;
            (void)close(d->out_fd);
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        struct pollfd none;
        (void)poll(&none, 0, 10);
    }
    daemon_kill(d);
    return -1;
}

void
daemon_kill(struct daemon *d)
{
    if (d->pid <= 0)
        return;
    (void)kill(d->group ? -d->pid : d->pid, SIGKILL);
    (void)waitpid(d->pid, NULL, 0);
    (void)close(d->out_fd);
    d->pid = 0;
}

static struct http_tls *test_tls;

void
test_set_tls(struct http_tls *tls)
{
    test_tls = tls;
}

const char *
test_token(void)
{
    static char token[TOKEN_MAX + 1];
    char err[600];
    if (token[0] == '\0') {
        if (token_load_default(token, err, sizeof(err)) < 0) {
            (void)fprintf(stderr, "test: no API token: %s\n", err);
            abort();
        }
    }
    return token;
}

int
daemon_http(const char *url, const char *method, const char *path, const char *body,
            json_t **ret_json)
{
    return daemon_http_token(url, method, path, body, test_token(), ret_json);
}

int
daemon_http_token(const char *url, const char *method, const char *path, const char *body,
                  const char *token, json_t **ret_json)
{
    struct http_answer ans;
    *ret_json = NULL;
    struct http_creds creds = {token, test_tls};
    if (http_fetch(url, method, path, body, &creds, 5.0, &ans) < 0)
        return 0;
    *ret_json = json_loads(ans.body, 0, NULL);
    free(ans.body);
    return ans.status;
}

bool
wait_until(bool (*pred)(void *arg), void *arg, double timeout_s)
{
    double deadline = now_s() + timeout_s;
    for (;;) {
        if (pred(arg))
            return true;
        if (now_s() > deadline)
            return false;
        struct pollfd none;
        (void)poll(&none, 0, 10);
    }
}

int
run_cli(const char *const *argv, char **ret_out)
{
    int p[2];
    if (ret_out != NULL)
        *ret_out = NULL;
    if (pipe(p) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        (void)dup2(p[1], STDOUT_FILENO);
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0)
            (void)dup2(devnull, STDERR_FILENO);
        (void)close(p[0]);
        (void)close(p[1]);
        size_t n = 0;
        while (argv[n] != NULL)
            n++;
        char **args = calloc(n + 2, sizeof(*args));
        args[0] = (char *)daemon_bin();
        for (size_t i = 0; i < n; i++)
            args[i + 1] = (char *)argv[i];
        execv(args[0], args);
        _exit(127);
    }
    (void)close(p[1]);
    size_t cap = 4096;
    size_t len = 0;
    char *out = malloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            out = realloc(out, cap);
        }
        ssize_t n = read(p[0], out + len, cap - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    out[len] = '\0';
    (void)close(p[0]);
    int status = 0;
    (void)waitpid(pid, &status, 0);
    if (ret_out != NULL)
        *ret_out = out;
    else
        free(out);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

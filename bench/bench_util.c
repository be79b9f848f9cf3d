/* Helpers shared by the daemon benchmarks (see bench_util.h). */
#define _POSIX_C_SOURCE 200809L
#include "bench_util.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/file.h" /* file_write_atomic() */
#include "common/token.h"
#include "net/http_client.h"

double
bench_rng_unit(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) * 0x1.0p-53;
}

double
bench_mono_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double
bench_wall_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
bench_pause_ms(int ms)
{
    struct pollfd none;
    (void)poll(&none, 0, ms);
}

const char *
bench_vmloc_path(const char *opt)
{
    const char *p = opt;
    if (p == NULL || p[0] == '\0')
        p = getenv("VMLOC_BIN");
    if (p == NULL || p[0] == '\0')
        p = "./build/vmloc";
    if (access(p, X_OK) < 0) {
        (void)fprintf(stderr,
                      "bench: %s: %s (give the vmloc binary with --vmloc PATH or $VMLOC_BIN)\n", p,
                      strerror(errno));
        return NULL;
    }
    return p;
}

char *
bench_mkdtemp(const char *prefix)
{
    const char *base = getenv("TMPDIR");
    size_t len = strlen(base != NULL ? base : "/tmp") + strlen(prefix) + 16;
    char *dir = malloc(len);
    if (dir == NULL)
        return NULL;
    (void)snprintf(dir, len, "%s/%s-XXXXXX", base != NULL ? base : "/tmp", prefix);
    if (mkdtemp(dir) == NULL) {
        (void)fprintf(stderr, "bench: mkdtemp %s: %s\n", dir, strerror(errno));
        free(dir);
        return NULL;
    }
    return dir;
}

void
bench_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d != NULL) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                size_t len = strlen(path) + strlen(e->d_name) + 2;
                char *child = malloc(len);
                if (child == NULL)
                    continue;
                (void)snprintf(child, len, "%s/%s", path, e->d_name);
                bench_rm_rf(child);
                free(child);
            }
            (void)closedir(d);
        }
        (void)rmdir(path);
    } else {
        (void)unlink(path);
    }
}

static void
daemon_reap(struct bench_daemon *d)
{
    if (d->out_fd >= 0)
        (void)close(d->out_fd);
    d->out_fd = -1;
    d->pid = 0;
}

int
bench_daemon_start(struct bench_daemon *d, const char *bin, const char *const *argv,
                   const char *log_path, double timeout_s)
{
    memset(d, 0, sizeof(*d));
    d->out_fd = -1;
    (void)snprintf(d->log_path, sizeof(d->log_path), "%s", log_path);
    size_t n = 0;
    while (argv[n] != NULL)
        n++;
    char **args = calloc(n + 2, sizeof(*args));
    if (args == NULL)
        return -1;
    args[0] = (char *)bin;
    for (size_t i = 0; i < n; i++)
        args[i + 1] = (char *)argv[i];
    int p[2];
    if (pipe(p) < 0) {
        free(args);
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        (void)close(p[0]);
        (void)close(p[1]);
        free(args);
        return -1;
    }
    if (pid == 0) {
        int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        (void)dup2(p[1], STDOUT_FILENO);
        if (log >= 0)
            (void)dup2(log, STDERR_FILENO);
        (void)close(p[0]);
        (void)close(p[1]);
        execv(bin, args);
        _exit(127);
    }
    free(args);
    (void)close(p[1]);
    d->pid = pid;
    d->out_fd = p[0];
    char buf[160];
    size_t len = 0;
    double deadline = bench_mono_s() + timeout_s;
    while (bench_mono_s() < deadline && len < sizeof(buf) - 1) {
        struct pollfd pfd = {d->out_fd, POLLIN, 0};
        int ms = (int)((deadline - bench_mono_s()) * 1000) + 1;
        if (poll(&pfd, 1, ms) <= 0)
            continue;
        ssize_t r = read(d->out_fd, buf + len, sizeof(buf) - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        char *nl = strchr(buf, '\n');
        if (nl == NULL)
            continue;
        *nl = '\0';
        const char *prefix = "listening on ";
        if (strncmp(buf, prefix, strlen(prefix)) != 0)
            break;
        (void)snprintf(d->url, sizeof(d->url), "%s", buf + strlen(prefix));
        return 0;
    }
    buf[len] = '\0';
    (void)fprintf(stderr, "bench: %s did not become ready (output: '%s'); log %s:\n", bin, buf,
                  log_path);
    bench_daemon_tail_log(d, 20);
    (void)kill(d->pid, SIGKILL);
    (void)waitpid(d->pid, NULL, 0);
    daemon_reap(d);
    return -1;
}

int
bench_daemon_stop(struct bench_daemon *d, double timeout_s)
{
    if (d->pid <= 0)
        return -1;
    (void)kill(d->pid, SIGTERM);
    double deadline = bench_mono_s() + timeout_s;
    int status = 0;
    while (bench_mono_s() < deadline) {
        pid_t r = waitpid(d->pid, &status, WNOHANG);
        if (r == d->pid) {
            daemon_reap(d);
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        bench_pause_ms(10);
    }
    (void)kill(d->pid, SIGKILL);
    (void)waitpid(d->pid, NULL, 0);
    daemon_reap(d);
    return -1;
}

void
bench_daemon_tail_log(const struct bench_daemon *d, int max_lines)
{
    FILE *f = fopen(d->log_path, "r");
    if (f == NULL)
        return;
    /* Two passes: count the lines, then print the last ones. */
    char line[1024];
    long total = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        total++;
    rewind(f);
    long i = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (i++ >= total - max_lines)
            (void)fputs(line, stderr);
    }
    (void)fclose(f);
}

const char *
bench_token(void)
{
    static char token[TOKEN_MAX + 1];
    char err[600];
    if (token[0] == '\0') {
        if (token_load_default(token, err, sizeof(err)) < 0) {
            (void)fprintf(stderr, "bench: no API token: %s\n", err);
            exit(1);
        }
    }
    return token;
}

int
bench_http(const char *url, const char *method, const char *path, const char *body,
           double timeout_s, json_t **ret_json)
{
    struct http_answer ans;
    if (ret_json != NULL)
        *ret_json = NULL;
    struct http_creds creds = {bench_token(), NULL};
    if (http_fetch(url, method, path, body, &creds, timeout_s, &ans) < 0)
        return 0;
    if (ret_json != NULL)
        *ret_json = json_loads(ans.body, 0, NULL);
    free(ans.body);
    return ans.status;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

double
bench_percentile(double *v, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    qsort(v, n, sizeof(*v), cmp_double);
    /* Nearest rank: the smallest value with at least p % of the values at or below it. */
    double rank = p / 100.0 * (double)n;
    size_t k = (size_t)rank;
    if ((double)k < rank)
        k++;
    if (k < 1)
        k = 1;
    if (k > n)
        k = n;
    return v[k - 1];
}

int
bench_parse_int(const char *s, int lo, int hi, int *ret)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || v < lo || v > hi)
        return -1;
    *ret = (int)v;
    return 0;
}

int
bench_share_peers(const char *path, const struct bench_daemon *const *ds, size_t n)
{
    size_t cap = 64 + n * (sizeof(ds[0]->url) + 1);
    char *text = malloc(cap);
    if (text == NULL) {
        (void)fprintf(stderr, "bench: out of memory\n");
        return -1;
    }
    size_t len = (size_t)snprintf(text, cap, "# the agents of this benchmark\n");
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s\n", ds[i]->url);
    int r = file_write_atomic(path, text);
    free(text);
    if (r < 0) {
        (void)fprintf(stderr, "bench: cannot write %s: %s\n", path, strerror(-r));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (ds[i]->pid > 0)
            (void)kill(ds[i]->pid, SIGHUP);
    }
    return 0;
}

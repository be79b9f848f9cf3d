/* The daemons under a service manager, with real processes and a notification socket of the
 * test's own in place of systemd's: READY=1 only once the API answers, STATUS= lines, WATCHDOG=1
 * again and again at half of WATCHDOG_USEC, RELOADING=1 and READY=1 around SIGHUP, STOPPING=1
 * on SIGTERM; a path socket and an abstract one (@name). The state directory a daemon without
 * --data takes ($STATE_DIRECTORY/manager, .../agent-NAME); the token from systemd's
 * credentials directory before the XDG path, and past a missing one; journald's log format
 * when JOURNAL_STREAM names standard error: "<N>" first and no time stamp. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"

static double
mono_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A service manager's end of the protocol: a datagram socket, and what came on it. */
struct listener {
    int fd;
    char name[108];  /* as NOTIFY_SOCKET says it */
    char seen[8192]; /* every message so far, for a failure's report */
};

/* Bind a datagram socket at `name`: a path, or "@..." for an abstract name. */
static void
listener_open(struct listener *l, const char *name)
{
    memset(l, 0, sizeof(*l));
    (void)snprintf(l->name, sizeof(l->name), "%s", name);
    l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(l->fd >= 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    size_t len = strlen(name);
    assert_true(len < sizeof(a.sun_path));
    memcpy(a.sun_path, name, len);
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    if (name[0] == '@')
        a.sun_path[0] = '\0';
    else
        alen++; /* a path's NUL */
    assert_int_equal(bind(l->fd, (struct sockaddr *)&a, alen), 0);
}

/* Does message `msg` hold the line `line` exactly, or (prefix) a line starting with it? */
static bool
has_line(const char *msg, const char *line, bool prefix)
{
    size_t n = strlen(line);
    for (const char *p = msg; p != NULL && *p != '\0';) {
        const char *end = strchr(p, '\n');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (prefix ? len >= n && strncmp(p, line, n) == 0 : len == n && strncmp(p, line, n) == 0)
            return true;
        p = end != NULL ? end + 1 : NULL;
    }
    return false;
}

/* Wait up to `timeout_s` for a message with the line `line` (or, `prefix`, a line starting with
 * it, and containing `also` when not NULL); the message into `got` when not NULL. */
static bool
listener_wait(struct listener *l, const char *line, bool prefix, const char *also, double timeout_s,
              char *got, size_t got_len)
{
    double deadline = mono_s() + timeout_s;
    while (mono_s() < deadline) {
        struct pollfd pfd = {l->fd, POLLIN, 0};
        int ms = (int)((deadline - mono_s()) * 1000) + 1;
        if (poll(&pfd, 1, ms) <= 0)
            continue;
        char msg[1024];
        ssize_t n = recv(l->fd, msg, sizeof(msg) - 1, 0);
        if (n <= 0)
            continue;
        msg[n] = '\0';
        size_t used = strlen(l->seen);
        if (used + (size_t)n + 3 < sizeof(l->seen))
            (void)snprintf(l->seen + used, sizeof(l->seen) - used, "[%s]", msg);
        if (has_line(msg, line, prefix) && (also == NULL || strstr(msg, also) != NULL)) {
            if (got != NULL)
                (void)snprintf(got, got_len, "%s", msg);
            return true;
        }
    }
    printf("no \"%s\"%s%s in %.0f s on %s; seen: %s\n", line, also ? " with " : "",
           also ? also : "", timeout_s, l->name, l->seen);
    return false;
}

/* Start vmloc with `argv` (without the binary; NULL-terminated) and the environment as it is
 * now, standard error into the log `name`.log; returns at once, its standard output unread
 * (d->out_fd) until the test reads it. */
static void
proc_start(struct daemon *d, const char *name, const char *const *argv)
{
    char *args[40] = {(char *)daemon_bin()};
    size_t n = 1;
    for (; argv[n - 1] != NULL && n < 39; n++)
        args[n] = (char *)argv[n - 1];
    args[n] = NULL;
    memset(d, 0, sizeof(*d));
    (void)snprintf(d->log_path, sizeof(d->log_path), "%s/%s.log", daemon_tmpdir(), name);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
        int log = open(d->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        (void)dup2(fds[1], STDOUT_FILENO);
        if (log >= 0)
            (void)dup2(log, STDERR_FILENO);
        (void)close(fds[0]);
        (void)close(fds[1]);
        execv(args[0], args);
        _exit(127);
    }
    (void)close(fds[1]);
    d->pid = pid;
    d->out_fd = fds[0];
}

/* The "listening on URL" line already written (no waiting: the daemon said READY=1 after it):
 * the URL into `url`. */
static bool
proc_url_now(struct daemon *d, char *url, size_t len)
{
    char buf[512];
    struct pollfd pfd = {d->out_fd, POLLIN, 0};
    if (poll(&pfd, 1, 0) != 1)
        return false;
    ssize_t n = read(d->out_fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    const char *u = strstr(buf, "listening on ");
    if (u == NULL)
        return false;
    u += strlen("listening on ");
    (void)snprintf(url, len, "%.*s", (int)strcspn(u, "\n"), u);
    return true;
}

/* The service manager's environment for the next daemon: the socket, a 2 s watchdog, a state
 * directory. */
static void
service_env(const struct listener *l, const char *state_dir)
{
    assert_int_equal(setenv("NOTIFY_SOCKET", l->name, 1), 0);
    assert_int_equal(setenv("WATCHDOG_USEC", "2000000", 1), 0);
    assert_int_equal(unsetenv("WATCHDOG_PID"), 0);
    assert_int_equal(setenv("STATE_DIRECTORY", state_dir, 1), 0);
}

static void
service_env_clear(void)
{
    assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
    assert_int_equal(unsetenv("WATCHDOG_USEC"), 0);
    assert_int_equal(unsetenv("STATE_DIRECTORY"), 0);
}

/* Write the run's token to `path` with `mode`, making its directory. */
static void
write_token(const char *path, mode_t mode)
{
    char dir[400];
    (void)snprintf(dir, sizeof(dir), "%s", path);
    *strrchr(dir, '/') = '\0';
    assert_true(mkdir(dir, 0700) == 0 || errno == EEXIST);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    char line[300];
    int n = snprintf(line, sizeof(line), "%s\n", test_token());
    assert_int_equal(write(fd, line, (size_t)n), n);
    assert_int_equal(close(fd), 0);
    assert_int_equal(chmod(path, mode), 0);
}

/* The token as a service finds it without --token-file or VMLOC_TOKEN_FILE: from the
 * credentials directory `creds` (NULL: none) before the XDG path under `xdg`. */
static void
token_env(const char *creds, const char *xdg)
{
    assert_int_equal(unsetenv("VMLOC_TOKEN_FILE"), 0);
    if (creds != NULL)
        assert_int_equal(setenv("CREDENTIALS_DIRECTORY", creds, 1), 0);
    assert_int_equal(setenv("XDG_CONFIG_HOME", xdg, 1), 0);
}

static void
token_env_restore(const char *run_token_file)
{
    assert_int_equal(setenv("VMLOC_TOKEN_FILE", run_token_file, 1), 0);
    assert_int_equal(unsetenv("CREDENTIALS_DIRECTORY"), 0);
    assert_int_equal(unsetenv("XDG_CONFIG_HOME"), 0);
}

/* READY=1, then at once: the URL printed and the API answering. */
static void
ready_and_answering(struct listener *l, struct daemon *p, const char *path, char *url, size_t len)
{
    bool ready = listener_wait(l, "READY=1", false, NULL, 15, NULL, 0);
    if (!ready)
        daemon_dump_log(p);
    assert_true(ready);
    assert_true(proc_url_now(p, url, len));
    json_t *j = NULL;
    assert_int_equal(daemon_http(url, "GET", path, NULL, &j), 200);
    json_decref(j);
}

/* WATCHDOG=1 three times: at 1 s each (half of 2 s), within 6 s. */
static void
watchdog_pings(struct listener *l)
{
    for (int i = 0; i < 3; i++)
        assert_true(listener_wait(l, "WATCHDOG=1", false, NULL, 3, NULL, 0));
}

static bool
is_file(const char *dir, const char *name)
{
    char path[600];
    struct stat st;
    (void)snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void
test_manager_and_agent_notify(void **state)
{
    (void)state;
    char sock[300];
    char mstate[300];
    char url[256];
    char agent_url[256];
    char msg[1024];
    (void)snprintf(sock, sizeof(sock), "%s/notify-manager", daemon_tmpdir());
    (void)snprintf(mstate, sizeof(mstate), "%s/state-manager", daemon_tmpdir());
    struct listener lm;
    listener_open(&lm, sock);
    service_env(&lm, mstate);
    /* The manager's token is a credential (LoadCredential=token:...), read-only; an XDG
     * path is there too, empty: the credential wins and nothing is created there. */
    char run_token_file[400];
    (void)snprintf(run_token_file, sizeof(run_token_file), "%s", getenv("VMLOC_TOKEN_FILE"));
    (void)test_token();
    char creds[300];
    char cred[400];
    char xdg[300];
    char xdg_token[400];
    (void)snprintf(creds, sizeof(creds), "%s/credentials", daemon_tmpdir());
    (void)snprintf(cred, sizeof(cred), "%s/token", creds);
    (void)snprintf(xdg, sizeof(xdg), "%s/xdg-manager", daemon_tmpdir());
    (void)snprintf(xdg_token, sizeof(xdg_token), "%s/vmloc/token", xdg);
    write_token(cred, 0400);
    token_env(creds, xdg);
    struct daemon m;
    const char *margv[] = {"manager", "--listen", "127.0.0.1:0", "--interval", "0.2", NULL};
    proc_start(&m, "svc-manager", margv);
    token_env_restore(run_token_file);
    service_env_clear();
    ready_and_answering(&lm, &m, "/v1/hosts", url, sizeof(url));
    assert_true(listener_wait(&lm, "STATUS=", true, "0 hosts", 5, NULL, 0));
    watchdog_pings(&lm);
    /* No --data: the store is in the state directory the service manager gave, under the
     * manager's own name. */
    char mdir[400];
    (void)snprintf(mdir, sizeof(mdir), "%s/manager", mstate);
    assert_true(is_file(mdir, "vmloc.db"));
    struct stat st;
    assert_int_equal(stat(xdg_token, &st), -1);

    /* An agent on an abstract socket, registering with the manager. */
    char abstract[100];
    (void)snprintf(abstract, sizeof(abstract), "@vmloc-test-%ld-agent", (long)getpid());
    struct listener la;
    listener_open(&la, abstract);
    service_env(&la, mstate);
    /* Its credentials directory is missing: the search goes on, to the XDG path. */
    (void)snprintf(creds, sizeof(creds), "%s/no-credentials", daemon_tmpdir());
    (void)snprintf(xdg, sizeof(xdg), "%s/xdg-agent", daemon_tmpdir());
    (void)snprintf(xdg_token, sizeof(xdg_token), "%s/vmloc/token", xdg);
    assert_true(mkdir(xdg, 0700) == 0 || errno == EEXIST);
    write_token(xdg_token, 0600);
    token_env(creds, xdg);
    struct daemon a;
    const char *aargv[] = {"agent", "--name", "h1",       "--listen",   "127.0.0.1:0", "--manager",
                           url,     "--vm",   "a:cpu=10", "--interval", "0.2",         NULL};
    proc_start(&a, "svc-agent", aargv);
    token_env_restore(run_token_file);
    service_env_clear();
    ready_and_answering(&la, &a, "/v1/sample", agent_url, sizeof(agent_url));
    assert_true(listener_wait(&la, "STATUS=", true, "flight, registered", 10, msg, sizeof(msg)));
    assert_true(
        has_line(msg, "STATUS=central mode: 1 VM, 0 migrations in flight, registered", false));
    assert_true(listener_wait(&lm, "STATUS=", true, "1 host (1 up)", 10, NULL, 0));
    watchdog_pings(&la);

    /* A reload: RELOADING=1, then READY=1 again. */
    assert_int_equal(kill(a.pid, SIGHUP), 0);
    assert_true(listener_wait(&la, "RELOADING=1", false, NULL, 5, msg, sizeof(msg)));
    assert_true(has_line(msg, "MONOTONIC_USEC=", true));
    assert_true(listener_wait(&la, "READY=1", false, NULL, 5, NULL, 0));

    assert_int_equal(daemon_stop(&a, 10), 0);
    assert_true(listener_wait(&la, "STOPPING=1", false, NULL, 5, NULL, 0));
    assert_int_equal(daemon_stop(&m, 10), 0);
    assert_true(listener_wait(&lm, "STOPPING=1", false, NULL, 5, NULL, 0));
    (void)close(la.fd);
    (void)close(lm.fd);
}

/* Peer mode too: READY=1, and its store in $STATE_DIRECTORY/agent-NAME without --data. */
static void
test_peer_agent_notify(void **state)
{
    (void)state;
    char sock[300];
    char pstate[300];
    char url[256];
    (void)snprintf(sock, sizeof(sock), "%s/notify-peer", daemon_tmpdir());
    (void)snprintf(pstate, sizeof(pstate), "%s/state-peer", daemon_tmpdir());
    struct listener l;
    listener_open(&l, sock);
    service_env(&l, pstate);
    struct daemon p;
    const char *argv[] = {"agent",    "--name", "p1",     "--listen",           "127.0.0.1:0",
                          "--mode",   "peer",   "--peer", "http://127.0.0.1:9", "--vm",
                          "a:cpu=10", NULL};
    proc_start(&p, "svc-peer", argv);
    service_env_clear();
    ready_and_answering(&l, &p, "/v1/sample", url, sizeof(url));
    assert_true(listener_wait(&l, "STATUS=", true, "peer mode: 1 VM,", 5, NULL, 0));
    char dir[400];
    (void)snprintf(dir, sizeof(dir), "%s/agent-p1", pstate);
    assert_true(is_file(dir, "vmloc.db"));
    assert_int_equal(daemon_stop(&p, 10), 0);
    assert_true(listener_wait(&l, "STOPPING=1", false, NULL, 5, NULL, 0));
    (void)close(l.fd);
}

/* Every line of the log at `path` in journald's form: "<N>LEVEL manager: ...", no time stamp;
 * at least one of each priority in `want` ("<6>", ...). */
static void
assert_journal_lines(const char *path, const char *const *want)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[2600];
    bool found[8] = {false};
    size_t lines = 0;
    static const char *const forms[] = {
        "<7>debug manager: ", "<6>info manager: ", "<4>warn manager: ", "<3>error manager: "};
    while (fgets(line, sizeof(line), f) != NULL) {
        lines++;
        bool ok = false;
        for (size_t i = 0; i < 4; i++)
            ok = ok || strncmp(line, forms[i], strlen(forms[i])) == 0;
        if (!ok)
            printf("not in journald's form: %s", line);
        assert_true(ok);
        assert_null(strstr(line, "Z info")); /* no stamp such as 2026-...Z */
        found[line[1] - '0'] = true;
    }
    (void)fclose(f);
    assert_true(lines > 0);
    for (size_t i = 0; want[i] != NULL; i++)
        assert_true(found[want[i][1] - '0']);
}

static void
test_journal_stream(void **state)
{
    (void)state;
    /* The harness appends standard error to NAME.log: made first, so its inode is known. */
    char path[300];
    (void)snprintf(path, sizeof(path), "%s/journal-manager.log", daemon_tmpdir());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    (void)close(fd);
    char env[64];
    (void)snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
                   (unsigned long long)st.st_ino);
    assert_int_equal(setenv("JOURNAL_STREAM", env, 1), 0);
    /* A bad watchdog setting: a warning, ignored. */
    assert_int_equal(setenv("WATCHDOG_USEC", "soon", 1), 0);
    char data[300];
    (void)snprintf(data, sizeof(data), "%s/journal-data", daemon_tmpdir());
    const char *argv[] = {"manager", "--listen",    "127.0.0.1:0", "--data",
                          data,      "--log-level", "debug",       NULL};
    struct daemon d;
    int r = daemon_start(&d, "journal-manager", argv, 15);
    assert_int_equal(unsetenv("WATCHDOG_USEC"), 0);
    assert_int_equal(r, 0);
    assert_int_equal(daemon_stop(&d, 10), 0);
    const char *want[] = {"<6>", "<4>", NULL};
    assert_journal_lines(path, want);

    /* JOURNAL_STREAM naming another file (inherited from a parent whose standard error went
     * to journald): lines as ever, with their time stamps. */
    /* (Another device: the next log file may well get the next inode number.) */
    (void)snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev + 12345,
                   (unsigned long long)st.st_ino);
    assert_int_equal(setenv("JOURNAL_STREAM", env, 1), 0);
    r = daemon_start(&d, "plain-manager", argv, 15);
    assert_int_equal(unsetenv("JOURNAL_STREAM"), 0);
    assert_int_equal(r, 0);
    assert_int_equal(daemon_stop(&d, 10), 0);
    FILE *f = fopen(d.log_path, "r");
    assert_non_null(f);
    char line[2600];
    assert_non_null(fgets(line, sizeof(line), f));
    (void)fclose(f);
    assert_true(line[0] == '2' && strstr(line, "Z ") != NULL); /* 2026-...T...Z info ... */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manager_and_agent_notify),
        cmocka_unit_test(test_peer_agent_notify),
        cmocka_unit_test(test_journal_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

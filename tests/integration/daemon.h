/* Test harness for real vmloc daemons: start one with its standard output on a pipe, wait
 * (with a deadline, never a blind sleep) for its "listening on http://ADDR:PORT" line, talk
 * to it over HTTP, stop it with SIGTERM or kill it. Standard error goes to a log file that
 * is printed when a test fails. */
#ifndef VMLOC_TESTS_DAEMON_H
#define VMLOC_TESTS_DAEMON_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

struct daemon {
    pid_t pid;
    int out_fd;
    bool group; /* it leads its own process group: signals go to the whole group */
    char url[128];
    char log_path[256];
    char ready_line[256]; /* daemon_spawn(): the line that said it was ready */
};

/* The vmloc binary under test ($VMLOC_BIN). */
const char *daemon_bin(void);

/* A fresh temporary directory (created once per process). */
const char *daemon_tmpdir(void);

/* Start `argv` (argv[0] is replaced by the binary; NULL-terminated) and wait up to
 * `timeout_s` for its listening line. 0 or -1 (then the log is printed). */
int daemon_start(struct daemon *d, const char *name, const char *const *argv, double timeout_s);

/* Start program `prog` (NULL: the vmloc binary) with the arguments `argv` (NULL-terminated,
 * without the program). It leads a new process
 * group (so what it starts is stopped with it) and is ready when a line of its standard
 * output contains `ready` (kept in d->ready_line); d->url is the first "http://..." of that
 * line ("" if none).
 * 0 or -1 (then the log is printed). */
int daemon_spawn(struct daemon *d, const char *name, const char *prog, const char *const *argv,
                 const char *ready, double timeout_s);

/* SIGTERM and wait up to `timeout_s` for the exit; returns the exit status, or -1 when it
 * had to be killed. */
int daemon_stop(struct daemon *d, double timeout_s);

/* SIGKILL and reap. */
void daemon_kill(struct daemon *d);

/* Print the daemon's log to standard output (for failures). */
void daemon_dump_log(const struct daemon *d);

/* Lines of `d`'s log that hold `a`, and `b` too unless it is NULL; -1 when the log cannot be
 * read. */
int daemon_log_count(const struct daemon *d, const char *a, const char *b);

/* The API token of the test run (from VMLOC_TOKEN_FILE, created when missing): every daemon the
 * tests start shares it. Aborts when there is none. */
const char *test_token(void);

/* TLS for daemon_http() and daemon_http_token() to https:// daemons (NULL: none). */
struct http_tls;
void test_set_tls(struct http_tls *tls);

/* daemon_http() with `token` (NULL: none) instead of the run's. */
int daemon_http_token(const char *url, const char *method, const char *path, const char *body,
                      const char *token, json_t **ret_json);

/* HTTP to a daemon: returns the status (0: no answer) and sets *ret_json to the parsed body
 * (NULL if not JSON); the caller decrefs it. */
int daemon_http(const char *url, const char *method, const char *path, const char *body,
                json_t **ret_json);

/* Poll `pred(arg)` every 10 ms until it holds or `timeout_s` passes. */
bool wait_until(bool (*pred)(void *arg), void *arg, double timeout_s);

/* Run the vmloc CLI with `argv` (NULL-terminated, without the binary) and capture its
 * standard output (caller frees *ret_out; may be NULL); returns the exit status. */
int run_cli(const char *const *argv, char **ret_out);

#endif

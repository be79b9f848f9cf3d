/* Helpers shared by the daemon benchmarks (bench_reaction, bench_scale): clocks, starting a
 * vmloc daemon and waiting (with a deadline) for its "listening on http://ADDR:PORT" line,
 * stopping it, blocking HTTP with a JSON answer, a scratch directory, integer options and
 * percentiles. */
#ifndef VMLOC_BENCH_BENCH_UTIL_H
#define VMLOC_BENCH_BENCH_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC and CLOCK_REALTIME, in seconds. */
/* xorshift64* with a caller-held state (fixed seeds make runs repeatable): uniform in
 * [0, 1). */
double bench_rng_unit(uint64_t *state);

double bench_mono_s(void);
double bench_wall_s(void);

/* Wait `ms` milliseconds: only between two checks of a condition that has a deadline. */
void bench_pause_ms(int ms);

/* The vmloc binary: `opt` if given, else $VMLOC_BIN, else ./build/vmloc. NULL (with a
 * message on stderr) when it is not executable. */
const char *bench_vmloc_path(const char *opt);

/* A fresh directory under $TMPDIR (or /tmp), e.g. "/tmp/vmloc-bench-XXXXXX"; NULL on error. */
char *bench_mkdtemp(const char *prefix);

/* Remove `path` and everything under it (best effort). */
void bench_rm_rf(const char *path);

struct bench_daemon {
    pid_t pid;
    int out_fd;
    char url[160];
    char log_path[512];
};

/* Start `bin` with `argv` (NULL-terminated, without the binary), standard error appended to
 * `log_path`, and wait up to `timeout_s` for its listening line. 0, or -1 with a message on
 * stderr (the daemon is killed). */
int bench_daemon_start(struct bench_daemon *d, const char *bin, const char *const *argv,
                       const char *log_path, double timeout_s);

/* Peer mode: write the URLs of the daemons `*ds` (`n`, all started) to the peers file `path`
 * (--peers-file), one per line, replacing it at once, and send each SIGHUP so that it reads
 * the file now. 0, or -1 with a message on stderr. */
int bench_share_peers(const char *path, const struct bench_daemon *const *ds, size_t n);

/* SIGTERM, wait up to `timeout_s`, SIGKILL if needed. Exit status, or -1 when killed.
 * Accepts a daemon that is not running. */
int bench_daemon_stop(struct bench_daemon *d, double timeout_s);

/* Print the last `max_lines` lines of the daemon's log to stderr (on failures). */
void bench_daemon_tail_log(const struct bench_daemon *d, int max_lines);

/* The API token the daemons of the benchmark share (the default token file, created when
 * missing; exits when there is none). */
const char *bench_token(void);

/* Blocking HTTP to a daemon: the status (0: no answer) and the parsed body in *ret_json
 * (NULL when not JSON; caller decrefs). `ret_json` may be NULL. */
int bench_http(const char *url, const char *method, const char *path, const char *body,
               double timeout_s, json_t **ret_json);

/* A decimal integer from `lo` to `hi`, the whole string: 0 with *ret, or -1. */
int bench_parse_int(const char *s, int lo, int hi, int *ret);

/* Sort `v` and return its nearest-rank percentile `p` (0..100); 0 when n == 0. */
double bench_percentile(double *v, size_t n, double p);

#endif

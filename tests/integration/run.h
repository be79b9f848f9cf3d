/* Run a program to completion for a test: arguments in, exit status, standard output and
 * standard error out, each captured whole into a malloc'd buffer. A hard timeout kills the
 * program (SIGKILL) when it runs too long; waiting is done with poll() against a deadline
 * and a SIGCHLD self-pipe, never by sleeping. Used only by the integration tests. */
#ifndef VMLOC_TESTS_RUN_H
#define VMLOC_TESTS_RUN_H

#include <stdbool.h>
#include <stddef.h>

/* Each of out and err is capped at this many bytes; a program writing more is killed. */
#define RUN_MAX_OUTPUT (64u * 1024u * 1024u)

struct run_result {
    int exit_status; /* 0..255 when the program exited, else -1 */
    int term_signal; /* the signal that ended it, else 0 */
    bool timed_out;  /* killed because the timeout expired */
    bool overflow;   /* killed because it wrote more than RUN_MAX_OUTPUT */
    char *out;       /* standard output, NUL-terminated (may hold NULs before) */
    size_t out_len;
    char *err; /* standard error, NUL-terminated */
    size_t err_len;
};

/* Run argv[0] (a path, not searched in PATH) with the NULL-terminated `argv` and the
 * caller's environment. Standard input is `in` (`in_len` bytes) through a pipe, or
 * /dev/null when `in` is NULL. The program is killed after `timeout_s` seconds.
 * 0: *ret filled (free it with run_result_done()), whatever the program did. Negative
 * errno: it could not be started (for instance -ENOENT when argv[0] does not exist); *ret
 * is then empty. Not thread-safe (it owns the SIGCHLD handler while it runs). */
int run_program(const char *const *argv, const void *in, size_t in_len, double timeout_s,
                struct run_result *ret);

/* Free the buffers of `r` and leave it empty. Accepts NULL. */
void run_result_done(struct run_result *r);

/* Convenience for messages: "exit 2", "signal 11", "timed out". Static storage. */
const char *run_describe(const struct run_result *r);

#endif

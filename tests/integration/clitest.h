/* Helpers for tests that run the `vmloc` binary on files they write: a fresh temporary
 * directory removed at the end, formatted strings, and the check that a bad input failed
 * the way spec/cli.md asks (exit 2, nothing on stdout, one "vmloc: " line on stderr). */
#ifndef VMLOC_TESTS_CLITEST_H
#define VMLOC_TESTS_CLITEST_H

#include <jansson.h>
#include <stddef.h>

#include "run.h"

/* The binary under test ($VMLOC_BIN), checked to be executable; NULL with a message on
 * stderr when it is not. */
const char *clitest_bin(void);

/* A malloc'd formatted string (aborts on failure). */
char *clitest_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Create the temporary directory ($TMPDIR or /tmp, "vmloc-<prefix>-XXXXXX"). 0 or -1. */
int clitest_setup_dir(const char *prefix);

/* The temporary directory's path. */
const char *clitest_dir(void);

/* Create `name` (a sub-directory of the temporary directory); returns its path (owned). */
const char *clitest_mkdir(const char *name);

/* Create the FIFO `name` under the temporary directory; returns its path (owned). */
const char *clitest_mkfifo(const char *name);

/* Write `len` bytes to `name` under the temporary directory (sub-directories must exist);
 * returns the path (owned). Fails the running test on error. */
const char *clitest_write(const char *name, const void *data, size_t len);

/* Remove every file and directory made above, then the temporary directory. */
void clitest_cleanup_dir(void);

/* Run argv (argv[0] the binary) with no input, failing the test if it cannot start. */
void clitest_run(const char *name, const char *const *argv, double timeout_s,
                 struct run_result *res);

/* Fail the running test with a formatted message, freeing the run's buffers first (the
 * failure longjmps out). */
#define FAIL_RUN(res, ...)                                                                         \
    do {                                                                                           \
        char fail_buf_[2048];                                                                      \
        snprintf(fail_buf_, sizeof(fail_buf_), __VA_ARGS__);                                       \
        run_result_done(res);                                                                      \
        fail_msg("%s", fail_buf_);                                                                 \
    } while (0)

/* Run argv (argv[0] the binary), which must exit with `want_exit`, and parse its standard
 * output as JSON; the test fails otherwise. The caller decrefs. */
json_t *clitest_run_json(const char *name, const char *const *argv, double timeout_s,
                         int want_exit);

/* The number `key` of `o`; the test fails when it is missing or not a number. */
double clitest_num(json_t *o, const char *key);

/* The run failed as a bad input must, and stderr contains each non-NULL `want`. Frees `res`
 * and fails the test otherwise. */
void clitest_check_failed(const char *name, struct run_result *res, const char *want1,
                          const char *want2);

#endif

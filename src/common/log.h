/* Logging for the daemons and the CLI: one event per line on standard error, message first,
 * then key=value pairs: "2026-11-27T03:55:08.123Z info move started vm=\"web-1\" dst=h2".
 * Under journald (JOURNAL_STREAM names standard error) a line starts with its priority instead
 * of a time stamp, "<4>warn ...", so that journalctl -p filters by level. core, proto and
 * common's other modules never log; binaries log once, where they act. */
#ifndef VMLOC_COMMON_LOG_H
#define VMLOC_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/compiler.h"

enum log_level {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO = 1,
    LOG_LEVEL_WARN = 2,
    LOG_LEVEL_ERROR = 3,
};

/* Set the lowest level written (default info) and the program tag written on each line; the
 * next line checks again whether standard error goes to journald. */
void log_init(const char *tag, enum log_level min);

/* Parse "debug", "info", "warn", "error". 0 or -EINVAL. */
MUST_CHECK int log_level_parse(const char *s, enum log_level *ret);

/* One line, as written. */
struct log_line {
    enum log_level level;
    bool journal;      /* journald's stream: "<N>" first, no time stamp */
    const char *stamp; /* the time stamp otherwise */
    const char *tag;
    const char *msg; /* one line, without its end */
    int err;         /* an errno whose text follows ": ", or 0 */
};

/* Format `l` into `buf` (`len` bytes), ending in a newline: "<N>LEVEL TAG: MSG[: ERROR]" for
 * journald, else "STAMP LEVEL TAG: MSG[: ERROR]"; a line too long is cut and still ends in a
 * newline. Returns the length written (0, and "" when there is room, when `len` < 2). */
size_t log_format(char *buf, size_t len, const struct log_line *l);

/* `src` as a log line's message into `dst` (`cap` bytes, NUL-terminated, cut where it does not
 * fit): line breaks and tabs become spaces, other control characters \xNN, so that text from
 * outside (a peer's error, a decoded path) can neither start a line of its own nor drive the
 * terminal. Returns the length written. */
size_t log_clean(char *dst, size_t cap, const char *src);

/* The syslog priority of `lvl`: 7 debug, 6 info, 4 warn, 3 error. */
int log_priority(enum log_level lvl);

/* Does `env`, JOURNAL_STREAM's value ("DEVICE:INODE", decimal), name the file whose stat has
 * `dev` and `ino`? False for NULL or anything malformed: a stream journald passed on to a
 * child whose standard error is elsewhere does not count. */
bool log_journal_stream_matches(const char *env, unsigned long long dev, unsigned long long ino);

/* Does standard error go to journald (JOURNAL_STREAM names it)? Checked once after
 * log_init(). For lines written outside this module (a command's error) that must carry a
 * priority there too. */
bool log_to_journal(void);

void log_debug(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_info(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_warnx(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_errorx(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* Like log_warnx/log_errorx, with ": strerror(errno)" appended. */
void log_warn(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_error(const char *fmt, ...) PRINTF_LIKE(1, 2);

#endif

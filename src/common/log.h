/* Logging for the daemons and the CLI: one event per line on standard error, message first,
 * then key=value pairs: "2026-11-27T03:55:08.123Z info move started vm=\"web-1\" dst=h2".
 * core, proto and common's other modules never log; binaries log once, where they act. */
#ifndef VMLOC_COMMON_LOG_H
#define VMLOC_COMMON_LOG_H

#include "core/compiler.h"

enum log_level {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO = 1,
    LOG_LEVEL_WARN = 2,
    LOG_LEVEL_ERROR = 3,
};

/* Set the lowest level written (default info) and the program tag written on each line. */
void log_init(const char *tag, enum log_level min);

/* Parse "debug", "info", "warn", "error". 0 or -EINVAL. */
MUST_CHECK int log_level_parse(const char *s, enum log_level *ret);

void log_debug(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_info(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_warnx(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_errorx(const char *fmt, ...) PRINTF_LIKE(1, 2);
/* Like log_warnx/log_errorx, with ": strerror(errno)" appended. */
void log_warn(const char *fmt, ...) PRINTF_LIKE(1, 2);
void log_error(const char *fmt, ...) PRINTF_LIKE(1, 2);

#endif

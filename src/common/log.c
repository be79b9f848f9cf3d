/* Line-oriented logging to standard error. */
#define _POSIX_C_SOURCE 200809L
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level min_level = LOG_LEVEL_INFO;
static const char *log_tag = "vmloc";

void
log_init(const char *tag, enum log_level min)
{
    log_tag = tag;
    min_level = min;
}

int
log_level_parse(const char *s, enum log_level *ret)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *ret = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

static void vlog(enum log_level lvl, const char *fmt, va_list ap, int err) PRINTF_LIKE(2, 0);

static void
vlog(enum log_level lvl, const char *fmt, va_list ap, int err)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    if (lvl < min_level)
        return;
    char msg[2048];
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    for (char *p = msg; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    struct timespec ts;
    struct tm tm;
    char stamp[32] = "";
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0 && gmtime_r(&ts.tv_sec, &tm) != NULL) {
        size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        (void)snprintf(stamp + n, sizeof(stamp) - n, ".%03ldZ", ts.tv_nsec / 1000000);
    }
    if (err != 0)
        (void)fprintf(stderr, "%s %s %s: %s: %s\n", stamp, names[lvl], log_tag, msg, strerror(err));
    else
        (void)fprintf(stderr, "%s %s %s: %s\n", stamp, names[lvl], log_tag, msg);
    (void)fflush(stderr);
}

#define DEFINE_LOG(fn, lvl, with_errno)                                                            \
    void fn(const char *fmt, ...)                                                                  \
    {                                                                                              \
        int saved = with_errno ? errno : 0;                                                        \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        vlog(lvl, fmt, ap, saved);                                                                 \
        va_end(ap);                                                                                \
    }

DEFINE_LOG(log_debug, LOG_LEVEL_DEBUG, 0)
DEFINE_LOG(log_info, LOG_LEVEL_INFO, 0)
DEFINE_LOG(log_warnx, LOG_LEVEL_WARN, 0)
DEFINE_LOG(log_errorx, LOG_LEVEL_ERROR, 0)
DEFINE_LOG(log_warn, LOG_LEVEL_WARN, 1)
DEFINE_LOG(log_error, LOG_LEVEL_ERROR, 1)

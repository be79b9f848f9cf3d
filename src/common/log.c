/* Line-oriented logging to standard error. Under journald (JOURNAL_STREAM names our standard
 * error) each line starts with its syslog priority, "<3>" to "<7>", which journald strips and
 * records, and carries no time stamp of its own: journald stamps every line itself. */
#define _POSIX_C_SOURCE 200809L
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_LEVEL_INFO;
static const char *log_tag = "vmloc";
static int journal = -1; /* -1: not checked yet; 0: a terminal or file; 1: journald */

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
log_init(const char *tag, enum log_level min)
{
    log_tag = tag;
    min_level = min;
    journal = -1;
}

int
log_level_parse(const char *s, enum log_level *ret)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *ret = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

/* One decimal number of `s` up to `stop`, all of it. */
static bool
parse_ull(const char *s, char stop, unsigned long long *ret)
{
    if (*s < '0' || *s > '9')
        return false;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != stop)
        return false;
    *ret = v;
    return true;
}

bool
log_journal_stream_matches(const char *env, unsigned long long dev, unsigned long long ino)
{
    if (env == NULL)
        return false;
    const char *colon = strchr(env, ':');
    unsigned long long d;
    unsigned long long i;
    return colon != NULL && parse_ull(env, ':', &d) && parse_ull(colon + 1, '\0', &i) && d == dev &&
           i == ino;
}

int
log_priority(enum log_level lvl)
{
    static const int prio[] = {7, 6, 4, 3}; /* LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR */
    return (unsigned)lvl < 4 ? prio[lvl] : 3;
}

size_t
log_format(char *buf, size_t len, const struct log_line *l)
{
    const char *lvl = (unsigned)l->level < 4 ? level_names[l->level] : "error";
    const char *sep = l->err != 0 ? ": " : "";
    const char *why = l->err != 0 ? strerror(l->err) : "";
    int n;
    if (l->journal)
        n = snprintf(buf, len, "<%d>%s %s: %s%s%s\n", log_priority(l->level), lvl, l->tag, l->msg,
                     sep, why);
    else
        n = snprintf(buf, len, "%s %s %s: %s%s%s\n", l->stamp, lvl, l->tag, l->msg, sep, why);
    if (n < 0 || len < 2) {
        if (len > 0)
            buf[0] = '\0';
        return 0;
    }
    if ((size_t)n >= len) {
        buf[len - 2] = '\n'; /* cut, but still one whole line */
        return len - 1;
    }
    return (size_t)n;
}

/* Is standard error the stream journald gave this process? */
static bool
stderr_is_journal(void)
{
    struct stat st;
    const char *env = getenv("JOURNAL_STREAM");
    return env != NULL && fstat(STDERR_FILENO, &st) == 0 &&
           log_journal_stream_matches(env, (unsigned long long)st.st_dev,
                                      (unsigned long long)st.st_ino);
}

bool
log_to_journal(void)
{
    if (journal < 0)
        journal = stderr_is_journal() ? 1 : 0;
    return journal == 1;
}

size_t
log_clean(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    if (cap == 0)
        return 0;
    for (const unsigned char *p = (const unsigned char *)src; *p != '\0'; p++) {
        bool ctl = *p < 0x20 || *p == 0x7f;
        bool space = *p == '\n' || *p == '\r' || *p == '\t';
        size_t need = ctl && !space ? 4 : 1;
        if (n + need >= cap)
            break;
        if (space)
            dst[n] = ' ';
        else if (ctl)
            (void)snprintf(dst + n, 5, "\\x%02x", *p);
        else
            dst[n] = (char)*p;
        n += need;
    }
    dst[n] = '\0';
    return n;
}

static void vlog(enum log_level lvl, const char *fmt, va_list ap, int err) PRINTF_LIKE(2, 0);

static void
vlog(enum log_level lvl, const char *fmt, va_list ap, int err)
{
    if (lvl < min_level)
        return;
    (void)log_to_journal();
    char raw[2048];
    (void)vsnprintf(raw, sizeof(raw), fmt, ap);
    char msg[2048];
    (void)log_clean(msg, sizeof(msg), raw);
    struct timespec ts;
    struct tm tm;
    char stamp[32] = "";
    if (journal == 0 && clock_gettime(CLOCK_REALTIME, &ts) == 0 &&
        gmtime_r(&ts.tv_sec, &tm) != NULL) {
        size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        (void)snprintf(stamp + n, sizeof(stamp) - n, ".%03ldZ", ts.tv_nsec / 1000000);
    }
    struct log_line l = {lvl, journal == 1, stamp, log_tag, msg, err};
    char line[2400];
    size_t n = log_format(line, sizeof(line), &l);
    (void)fwrite(line, 1, n, stderr);
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

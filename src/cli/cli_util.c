/* What every command uses: an error line on stderr, a number read from an argument, a
 * daemon's data directory. Nothing here calls back into main.c or the commands. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/log.h"
#include "common/statedir.h"

void
cli_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (char *p = msg; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    /* Under a unit (a daemon's bad config), at priority err: journalctl -p err shows it. */
    (void)fprintf(stderr, "%svmloc: %s\n", log_to_journal() ? "<3>" : "", msg);
}

int
cli_parse_num(const char *s, double lo, double hi, double *ret)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(d) || d < lo || d > hi)
        return -EINVAL;
    *ret = d;
    return 0;
}

int
cli_data_dir(const char *cmd, const char *role, char *data, size_t len)
{
    char err[600];
    bool given = data[0] != '\0';
    if (!given && statedir_default(role, (unsigned)geteuid(), data, len, err, sizeof(err)) < 0) {
        cli_error("%s: %s", cmd, err);
        return CLI_EXIT_USAGE;
    }
    if (statedir_prepare(data, !given, err, sizeof(err)) < 0) {
        cli_error("%s: data directory %s", cmd, err);
        return CLI_EXIT_FAIL;
    }
    if (!given)
        log_debug("data directory (default) dir=%s", data);
    return CLI_EXIT_OK;
}

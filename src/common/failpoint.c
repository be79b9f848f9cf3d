/* Crash points (see failpoint.h). */
#define _POSIX_C_SOURCE 200809L
#include "common/failpoint.h"

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

/* A ":stop" point pauses the process once, not at every pass. */
static bool stopped;

/* Does VMLOC_FAILPOINT name `name` followed by `mode` ("" for the crash, ":stop", ...)? */
static bool
named(const char *name, const char *mode)
{
    const char *list = getenv("VMLOC_FAILPOINT");
    if (list == NULL || list[0] == '\0')
        return false;
    size_t n = strlen(name);
    size_t m = strlen(mode);
    for (const char *p = list; *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == n + m && memcmp(p, name, n) == 0 && memcmp(p + n, mode, m) == 0)
            return true;
        if (end == NULL)
            break;
        p = end + 1;
    }
    return false;
}

void
failpoint(const char *name)
{
    if (getenv("VMLOC_FAILPOINT") == NULL)
        return;
    if (named(name, "")) {
        log_warnx("failpoint %s reached: stopping at once, as a crash would", name);
        _exit(FAILPOINT_EXIT);
    }
    if (!stopped && named(name, ":stop")) {
        /* Once: the process freezes here, as a paused VM or a stalled host would, and goes on
         * from here on SIGCONT. */
        stopped = true;
        log_warnx("failpoint %s reached: pausing (SIGSTOP) until SIGCONT", name);
        (void)raise(SIGSTOP);
        log_warnx("failpoint %s: resumed", name);
        return;
    }
    if (named(name, ":slow")) {
        /* Every pass: a call that takes long, as libvirt's can while QEMU finishes a
         * migration. */
        struct timespec ts = {FAILPOINT_SLOW_MS / 1000, (FAILPOINT_SLOW_MS % 1000) * 1000000L};
        (void)nanosleep(&ts, NULL);
    }
}

bool
failpoint_drop(const char *name)
{
    if (!named(name, ":drop"))
        return false;
    log_warnx("failpoint %s reached: dropping what passes there (a request unanswered, a "
              "write not sent, an answer not received)",
              name);
    return true;
}

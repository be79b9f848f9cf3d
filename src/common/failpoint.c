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

void
failpoint(const char *name)
{
    const char *list = getenv("VMLOC_FAILPOINT");
    if (list == NULL || list[0] == '\0')
        return;
    size_t n = strlen(name);
    for (const char *p = list; *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0) {
            log_warnx("failpoint %s reached: stopping at once, as a crash would", name);
            _exit(FAILPOINT_EXIT);
        }
        if (len == n + 5 && memcmp(p, name, n) == 0 && memcmp(p + n, ":stop", 5) == 0 && !stopped) {
            /* Once: the process freezes here, as a paused VM or a stalled host would, and
             * goes on from here on SIGCONT. */
            stopped = true;
            log_warnx("failpoint %s reached: pausing (SIGSTOP) until SIGCONT", name);
            (void)raise(SIGSTOP);
            log_warnx("failpoint %s: resumed", name);
            return;
        }
        if (len == n + 5 && memcmp(p, name, n) == 0 && memcmp(p + n, ":slow", 5) == 0) {
            /* Every pass: a call that takes long, as libvirt's can while QEMU finishes a
             * migration. */
            struct timespec ts = {FAILPOINT_SLOW_MS / 1000, (FAILPOINT_SLOW_MS % 1000) * 1000000L};
            (void)nanosleep(&ts, NULL);
            return;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
}

/* Fencing: the highest manager term this agent has seen, and the refusal of older orders.
 *
 * With active/standby managers (manager --etcd) every order a leader sends carries its term,
 * the creation revision of its leader key in etcd, which only grows. An agent takes an order
 * whose term is at least the highest it has seen and refuses an older one (409, logged and
 * counted), so a deposed leader that was paused or cut off cannot order once its successor
 * has. An order without a term (one manager, no etcd) is not fenced. The term is written to
 * DATA/manager-term (with --data) before the order that raised it is taken, so a restart does
 * not forget it. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent_internal.h"
#include "common/file.h"
#include "common/log.h"

#define FENCE_FILE "manager-term"

/* DATA/manager-term into `buf`; false without a data directory. */
static bool
fence_path(const struct agent *a, char *buf, size_t len)
{
    if (a->opts->data[0] == '\0')
        return false;
    int n = snprintf(buf, len, "%s/%s", a->opts->data, FENCE_FILE);
    return n > 0 && (size_t)n < len;
}

void
agent_fence_load(struct agent *a)
{
    char path[4200];
    if (!fence_path(a, path, sizeof(path)))
        return;
    char *text = NULL;
    size_t len = 0;
    int r = file_read_all(path, 64, &text, &len);
    if (r == -ENOENT)
        return;
    if (r < 0) {
        log_warnx("manager term not read file=%s: %s, ignoring", path, file_strerror(r));
        return;
    }
    char *end = NULL;
    errno = 0;
    unsigned long long t = strtoull(text, &end, 10);
    if (errno != 0 || end == text || (*end != '\n' && *end != '\0') || t > WIRE_MAX_TERM)
        log_warnx("manager term file=%s:1: not a term, ignoring", path);
    else
        a->fence_term = t;
    free(text);
    if (a->fence_term > 0)
        log_info("manager term=%llu (from %s): older orders are refused",
                 (unsigned long long)a->fence_term, path);
}

/* Keep `term` on disk. */
static void
fence_save(struct agent *a, uint64_t term)
{
    char path[4200];
    if (!fence_path(a, path, sizeof(path)))
        return;
    if (mkdir(a->opts->data, 0700) < 0 && errno != EEXIST) {
        log_warn("manager term not kept: cannot create %s, ignoring", a->opts->data);
        return;
    }
    char text[32];
    (void)snprintf(text, sizeof(text), "%llu\n", (unsigned long long)term);
    int r = file_write_atomic(path, text);
    if (r < 0)
        log_warnx("manager term not kept file=%s: %s (a restart forgets it), ignoring", path,
                  strerror(-r));
}

bool
agent_fence_admit(struct agent *a, uint64_t term, const char *what, char *why, size_t len)
{
    if (term == 0)
        return true; /* one manager, no terms */
    if (term < a->fence_term) {
        a->fence_refused_total++;
        (void)snprintf(why, len,
                       "stale manager term %llu: a manager with term %llu has ordered since "
                       "(this one no longer leads)",
                       (unsigned long long)term, (unsigned long long)a->fence_term);
        log_warnx("%s refused: %s", what, why);
        return false;
    }
    if (term > a->fence_term) {
        log_info("manager term=%llu (was %llu): orders of older terms are refused from now on",
                 (unsigned long long)term, (unsigned long long)a->fence_term);
        a->fence_term = term;
        fence_save(a, term);
    }
    return true;
}

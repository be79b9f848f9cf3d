/* A budget of log lines of one kind (ratelog.h). */
#include "common/ratelog.h"

#include "common/log.h"

bool
ratelog_allow(struct ratelog *r, double now, unsigned burst, const char *what)
{
    if (r->window_start <= 0 || now - r->window_start >= RATELOG_WINDOW_S ||
        now < r->window_start) {
        if (r->left_out > 0)
            log_warnx("%s: %llu more left out of the log in the last %.0f s (at most %u a "
                      "minute are logged)",
                      what, (unsigned long long)r->left_out, now - r->window_start, burst);
        r->window_start = now;
        r->used = 0;
        r->left_out = 0;
    }
    if (r->used < burst) {
        r->used++;
        return true;
    }
    r->left_out++;
    return false;
}

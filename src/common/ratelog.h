/* A budget of log lines of one kind ("agent registered", "no sample"): at most `burst` a
 * minute are written one by one; past that they are counted, and the first line allowed in a
 * later minute is preceded by one that says how many were left out. So a flood (10,000 rogue
 * registrations, a whole cluster restarting) costs a few lines a minute, and nothing is
 * hidden: the counters say how many. Time is passed in (a monotonic clock). */
#ifndef VMLOC_COMMON_RATELOG_H
#define VMLOC_COMMON_RATELOG_H

#include <stdbool.h>
#include <stdint.h>

#define RATELOG_WINDOW_S 60.0

struct ratelog {
    double window_start; /* 0: none yet */
    unsigned used;       /* lines written in this window */
    uint64_t left_out;   /* lines left out since the last summary */
};

/* May one more line of this kind be written at `now`? When lines were left out in an earlier
 * window and a new one starts, first logs (at warning level) "`what`: N more left out in the
 * last S s (at most BURST a minute are logged)". */
bool ratelog_allow(struct ratelog *r, double now, unsigned burst, const char *what);

#endif

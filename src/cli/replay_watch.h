/* `vmloc replay`: watching the live run (replay.c plays it). Requests to every agent at once
 * on one event loop, each step's observation of every agent's scheduled sample turned into the
 * simulator's figures (livestat.c), the migrations the system recorded, and the names the run
 * gives its hosts and VMs. */
#ifndef VMLOC_CLI_REPLAY_WATCH_H
#define VMLOC_CLI_REPLAY_WATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cli/replay.h"
#include "sim/livestat.h"

/* Requests to every agent (or to the manager) at once, on one event loop. */
struct replay_fetch_one {
    char *body; /* the answer when status 200 */
    int status;
    bool done;
};

struct replay_fetch {
    struct event_base *base;
    struct http_client *client; /* NULL after an allocation failure: requests then fail */
    struct replay_fetch_one *f;
    size_t n;
    const char *token;
};

/* Host h's name ("h007"), VM v's ("v0042"), and the index in such a name (`prefix` 'h' or
 * 'v', below `n`), or -1. */
void replay_host_name(size_t h, char *buf, size_t len);
void replay_vm_name(size_t v, char *buf, size_t len);
long replay_name_index(const char *name, char prefix, size_t n);

/* Prepare for `n` requests at once, with the API token (borrowed). 0 or -ENOMEM. */
MUST_CHECK int replay_fetcher_init(struct replay_fetch *fe, size_t n, const char *token);
void replay_fetcher_done(struct replay_fetch *fe);

/* GET `path` from each of `urls` (`n`) at once, each with the time left until wall time
 * `deadline` to answer; the answers in fe->f[i]. */
void replay_fetch_all(struct replay_fetch *fe, char (*urls)[128], size_t n, const char *path,
                      double deadline);

/* Sleep until wall time `wall`. */
void replay_sleep_until(double wall);

/* Read every agent's sample (the scheduled one when `scheduled`) and fill obs[host] (samples
 * older than wall time `oldest` are not this step's: not seen) and the placement of rp->ls;
 * *active counts the hosts seen with cpu. */
void replay_observe(struct replay *rp, struct replay_fetch *fe, bool scheduled, double oldest,
                    double deadline, struct livestat_host *obs, uint32_t *active);

/* Read the migrations the system recorded (the manager's list, or every peer's) into `seen`,
 * keyed by id. The number still running, or -EIO when a list could not be read. */
int replay_collect_moves(struct replay *rp, struct replay_fetch *fe, json_t *seen, double deadline);

/* rp->moves from `seen`: indices, times, and what each VM asked for when its move started.
 * 0 or -ENOMEM. */
MUST_CHECK int replay_moves_from(struct replay *rp, json_t *seen);

/* How many hosts the manager knows and has up. */
size_t replay_hosts_up(struct replay *rp, struct replay_fetch *fe, double deadline);

#endif

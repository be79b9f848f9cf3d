/* The daemons a command runs as its children (`vmloc demo`, `vmloc replay`): this same binary
 * started with a pipe on its standard output and its log in a file, ready once it prints its
 * "listening on URL" line, and stopped with SIGTERM (SIGKILL when it does not go). A child
 * leads its own process group (Ctrl-C reaches the parent, which stops the children itself)
 * and gets SIGTERM when the parent dies. */
#ifndef VMLOC_CLI_CHILD_H
#define VMLOC_CLI_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/compiler.h"

struct child {
    pid_t pid; /* 0: not running */
    int out;   /* read end of its standard output, -1 once read */
    char url[128];
    char name[64];
    char line[160]; /* what it printed so far, until its first line */
    size_t len;
};

/* Start `self` with `argv` (argv[0] included, NULL-terminated), standard error to the file
 * `log`. 0 or -errno (nothing started). */
MUST_CHECK int child_start(struct child *c, const char *self, char *const argv[], const char *log);

/* Wait until every child of `cs` (`n`) printed its listening line, at most until the wall time
 * `deadline`. 0; -ETIMEDOUT (*ret_bad names one that did not, its pid still running); -EPROTO
 * (*ret_bad printed something else first, or ended). */
MUST_CHECK int child_wait_ready(struct child *cs, size_t n, double deadline, size_t *ret_bad);

/* Peer mode: write the URLs of the children `cs` (`n`, all ready) to the peers file `path`
 * (--peers-file), one per line, replacing it at once, then send each child SIGHUP so that it
 * reads the file now rather than at its next interval. 0, or -errno / -ENOMEM (the file could
 * not be written; nothing was signalled). */
MUST_CHECK int child_share_peers(const struct child *cs, size_t n, const char *path);

/* SIGTERM, then up to `grace_s` for it to end, then SIGKILL. Returns its exit status (0..255),
 * or -1 when it was killed or was not running. */
int child_stop(struct child *c, double grace_s);

#endif

/* Crash points for the fault-injection tests: failpoint("dest-after-commit") ends the process
 * at once, as a crash or a SIGKILL would (no cleanup, no flush of anything not yet written),
 * when the environment variable VMLOC_FAILPOINT names that point (a comma-separated list may
 * name several). "NAME:stop" pauses the process there instead (SIGSTOP, once), to be woken with
 * SIGCONT: a paused leader in the tests of high availability. "NAME:slow" makes every pass
 * there take FAILPOINT_SLOW_MS more, as a slow hypervisor would; "NAME:drop" is asked with
 * failpoint_drop(). Without the variable every
 * call is a cheap no-op. The points are listed in docs/security.md. */
#ifndef VMLOC_COMMON_FAILPOINT_H
#define VMLOC_COMMON_FAILPOINT_H

#include <stdbool.h>

/* The exit status of a process stopped at a failpoint. */
#define FAILPOINT_EXIT 86

/* What a "NAME:slow" point adds to each pass, in milliseconds. */
#define FAILPOINT_SLOW_MS 1500

/* Stop here if VMLOC_FAILPOINT names `name`. */
void failpoint(const char *name);

/* True when VMLOC_FAILPOINT names "NAME:drop": the caller then drops what passes there, as if
 * it had been lost on the way: a request neither handled nor answered (the connection stays
 * open until the peer gives up), a write not sent (the manager's journal), or an answer not
 * received (libvirt's to a migration that succeeded). */
bool failpoint_drop(const char *name);

#endif

/* Where a daemon keeps its state when no --data is given: the directory the service manager
 * made for it ($STATE_DIRECTORY), else /var/lib/vmloc for root, else the user's XDG state
 * directory; each role in a subdirectory of its own there, since the manager and an agent of
 * one host share it. Never the current directory. Reads the environment; touches the file
 * system only in statedir_prepare(). */
#ifndef VMLOC_COMMON_STATEDIR_H
#define VMLOC_COMMON_STATEDIR_H

#include <stdbool.h>
#include <stddef.h>

#include "core/compiler.h"

/* The base for a daemon running as root when the service manager names none. */
#define STATEDIR_SYSTEM "/var/lib/vmloc"

/* The default state directory of role `sub` ("manager", "agent-h1"; a single path component)
 * for a process whose effective uid is `euid`: $STATE_DIRECTORY/sub (its first entry when it
 * lists several, separated by ':'), else, as root (euid 0), STATEDIR_SYSTEM/sub, else
 * $XDG_STATE_HOME/vmloc/sub (an absolute XDG_STATE_HOME), else $HOME/.local/state/vmloc/sub.
 * Relative paths in those variables are ignored, as the XDG specification says. Into `buf`
 * (`len` bytes). 0; -EINVAL when `sub` is not one component; -ENOENT when nothing applies (a
 * user without HOME), with `err` saying so; -ENAMETOOLONG. */
MUST_CHECK int statedir_default(const char *sub, unsigned euid, char *buf, size_t len, char *err,
                                size_t errlen);

/* Make `dir` usable as a state directory before the daemon opens it: with `create_parents`
 * (a default path), every missing directory above it is created, mode 0700; without (a path
 * the operator gave), a missing parent is an error that names it. `dir` itself is left to its
 * owner (the store or the backend creates it). 0, or a negative errno with `err` saying what
 * is wrong and naming the directory. */
MUST_CHECK int statedir_prepare(const char *dir, bool create_parents, char *err, size_t errlen);

#endif

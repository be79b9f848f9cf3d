/* The service manager's readiness protocol (systemd's sd_notify(3)), written here rather than
 * linked from libsystemd (docs/design.md says why): newline-separated "KEY=VALUE" lines in one
 * datagram to the unix socket $NOTIFY_SOCKET names (a path, or '@' for an abstract name).
 * READY=1, RELOADING=1, STOPPING=1, STATUS=... and the watchdog's WATCHDOG=1. Without
 * NOTIFY_SOCKET every call does nothing. A send that fails never stops the daemon: it is
 * logged once and the daemon goes on. Owns its socket. */
#ifndef VMLOC_NET_SDNOTIFY_H
#define VMLOC_NET_SDNOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "core/compiler.h"

/* A STATUS= text, in bytes; longer ones are cut at a character boundary. */
#define SDNOTIFY_MAX_STATUS 400
/* One datagram: a few lines besides the status. */
#define SDNOTIFY_MAX_MSG 640

struct sdnotify {
    int fd; /* -1: no service manager to tell */
    struct sockaddr_un addr;
    socklen_t addr_len;
    uint64_t watchdog_us;                 /* WATCHDOG_USEC for this process; 0: no watchdog */
    char status[SDNOTIFY_MAX_STATUS + 1]; /* the status last sent ("" none) */
    bool failed;                          /* a send failed (logged once) */
};

/* NOTIFY_SOCKET's value `name` as a socket address: "/path" as it is; "@name" as the abstract
 * name (a leading NUL instead of '@'). 0, or -EINVAL (empty, relative, or "@" alone),
 * -ENAMETOOLONG (longer than sun_path). */
MUST_CHECK int sdnotify_address(const char *name, struct sockaddr_un *ret, socklen_t *ret_len);

/* The watchdog interval in µs from WATCHDOG_USEC (`usec`) and WATCHDOG_PID (`pid`, NULL:
 * unset) for the process `self`: 0 with *ret_us set when the watchdog is meant for it (pid
 * unset or equal to `self`); -ENOENT when `usec` is NULL or `pid` names another process (a
 * parent's watchdog, inherited); -EINVAL when either is not a positive decimal number. */
MUST_CHECK int sdnotify_watchdog(const char *usec, const char *pid, long self, uint64_t *ret_us);

/* "STATUS=" and `status` into `buf` (`len` bytes, at most SDNOTIFY_MAX_STATUS of the text):
 * line ends and other control characters become spaces (a status is one line), and a cut
 * falls before a UTF-8 sequence, never inside one. Returns the length (without the NUL). */
size_t sdnotify_format_status(char *buf, size_t len, const char *status);

/* Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID and open the socket. 0 (n->fd is -1
 * when there is no NOTIFY_SOCKET), or a negative errno with `err` saying what is wrong; `n`
 * is then usable and does nothing. */
MUST_CHECK int sdnotify_init(struct sdnotify *n, char *err, size_t errlen);

/* Send `msg` ("READY=1", lines separated by '\n') without blocking. 0, or a negative errno
 * (logged the first time). */
int sdnotify_send(struct sdnotify *n, const char *msg);

/* Send STATUS=`status` when it differs from the one last sent. 0 or as sdnotify_send(). */
int sdnotify_status(struct sdnotify *n, const char *status);

/* Close the socket. Accepts a `n` whose init failed; idempotent. */
void sdnotify_done(struct sdnotify *n);

#endif

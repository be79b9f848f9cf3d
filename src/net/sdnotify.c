/* The service manager's notification socket (see sdnotify.h).
 *
 * The protocol is systemd's documented interface (sd_notify(3), "Notes"): a datagram per
 * message on an AF_UNIX socket, credentials checked by the receiver. Sends never block: a full
 * socket loses one message (a status repeats, the watchdog pings again), never the loop. */
#define _GNU_SOURCE /* MSG_NOSIGNAL, SOCK_CLOEXEC */
#include "net/sdnotify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"

int
sdnotify_address(const char *name, struct sockaddr_un *ret, socklen_t *ret_len)
{
    size_t len = name != NULL ? strlen(name) : 0;
    if (len == 0 || (name[0] != '/' && name[0] != '@') || (name[0] == '@' && len == 1))
        return -EINVAL;
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    /* A path needs its NUL in sun_path; an abstract name is exactly its bytes. */
    if (len > sizeof(a.sun_path) - (name[0] == '/' ? 1 : 0))
        return -ENAMETOOLONG;
    memcpy(a.sun_path, name, len);
    if (name[0] == '@')
        a.sun_path[0] = '\0';
    *ret = a;
    *ret_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/'));
    return 0;
}

/* A positive decimal number, the whole string. */
static int
positive(const char *s, unsigned long long *ret)
{
    if (s == NULL || *s < '0' || *s > '9')
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0)
        return -EINVAL;
    *ret = v;
    return 0;
}

int
sdnotify_watchdog(const char *usec, const char *pid, long self, uint64_t *ret_us)
{
    if (usec == NULL)
        return -ENOENT;
    unsigned long long us;
    unsigned long long p;
    if (positive(usec, &us) < 0)
        return -EINVAL;
    if (pid != NULL) {
        if (positive(pid, &p) < 0)
            return -EINVAL;
        if (self < 0 || p != (unsigned long long)self)
            return -ENOENT;
    }
    *ret_us = (uint64_t)us;
    return 0;
}

size_t
sdnotify_format_status(char *buf, size_t len, const char *status)
{
    int n = snprintf(buf, len, "STATUS=");
    if (n < 0 || (size_t)n >= len)
        return len > 0 ? strlen(buf) : 0;
    size_t at = (size_t)n;
    size_t room = len - at - 1;
    if (room > SDNOTIFY_MAX_STATUS)
        room = SDNOTIFY_MAX_STATUS;
    size_t src = strlen(status);
    size_t take = src < room ? src : room;
    /* Cut before a continuation byte: back up to the start of its sequence. */
    if (take < src) {
        while (take > 0 && ((unsigned char)status[take] & 0xC0) == 0x80)
            take--;
    }
    for (size_t i = 0; i < take; i++) {
        unsigned char c = (unsigned char)status[i];
        buf[at++] = (char)(c < 0x20 || c == 0x7f ? ' ' : c);
    }
    buf[at] = '\0';
    return at;
}

int
sdnotify_init(struct sdnotify *n, char *err, size_t errlen)
{
    memset(n, 0, sizeof(*n));
    n->fd = -1;
    const char *wd = getenv("WATCHDOG_USEC");
    uint64_t us = 0;
    int wd_r = sdnotify_watchdog(wd, getenv("WATCHDOG_PID"), (long)getpid(), &us);
    int r;
    if (wd_r == -EINVAL) {
        (void)snprintf(err, errlen,
                       "WATCHDOG_USEC=%.40s or WATCHDOG_PID: not a number of µs "
                       "or a process id",
                       wd);
        return wd_r;
    }
    const char *name = getenv("NOTIFY_SOCKET");
    if (name == NULL)
        return 0;
    struct sockaddr_un a;
    socklen_t alen;
    r = sdnotify_address(name, &a, &alen);
    if (r < 0) {
        (void)snprintf(err, errlen, "NOTIFY_SOCKET=%.200s: %s", name,
                       r == -ENAMETOOLONG ? "too long for a unix socket"
                                          : "must be an absolute path or an @abstract name");
        return r;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        r = -errno;
        (void)snprintf(err, errlen, "NOTIFY_SOCKET: no socket: %s", strerror(-r));
        return r;
    }
    n->fd = fd;
    n->addr = a;
    n->addr_len = alen;
    n->watchdog_us = wd_r == 0 ? us : 0;
    return 0;
}

int
sdnotify_send(struct sdnotify *n, const char *msg)
{
    if (n->fd < 0)
        return 0;
    size_t len = strlen(msg);
    ssize_t sent =
        sendto(n->fd, msg, len, MSG_NOSIGNAL, (const struct sockaddr *)&n->addr, n->addr_len);
    if (sent == (ssize_t)len)
        return 0;
    int r = sent < 0 ? -errno : -EIO;
    if (!n->failed)
        log_warnx("service manager notification not sent error=\"%s\" msg=\"%.40s\", ignoring "
                  "(logged once)",
                  strerror(-r), msg);
    n->failed = true;
    return r;
}

int
sdnotify_status(struct sdnotify *n, const char *status)
{
    if (n->fd < 0)
        return 0;
    char msg[SDNOTIFY_MAX_MSG];
    (void)sdnotify_format_status(msg, sizeof(msg), status);
    const char *text = msg + strlen("STATUS=");
    if (strcmp(text, n->status) == 0)
        return 0;
    int r = sdnotify_send(n, msg);
    if (r == 0)
        (void)snprintf(n->status, sizeof(n->status), "%.*s", SDNOTIFY_MAX_STATUS, text);
    return r;
}

void
sdnotify_done(struct sdnotify *n)
{
    if (n->fd >= 0)
        (void)close(n->fd);
    n->fd = -1;
}

/* The daemons' default state directory (see statedir.h). */
#define _POSIX_C_SOURCE 200809L
#include "common/statedir.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int
statedir_default(const char *sub, unsigned euid, char *buf, size_t len, char *err, size_t errlen)
{
    if (sub[0] == '\0' || strchr(sub, '/') != NULL || strcmp(sub, ".") == 0 ||
        strcmp(sub, "..") == 0) {
        (void)snprintf(err, errlen, "state directory: bad role name \"%s\"", sub);
        return -EINVAL;
    }
    const char *v = getenv("STATE_DIRECTORY");
    int n;
    if (v != NULL && v[0] == '/') {
        /* systemd lists one entry per StateDirectory= name; the first is ours. */
        size_t first = strcspn(v, ":");
        n = snprintf(buf, len, "%.*s/%s", (int)first, v, sub);
    } else if (euid == 0) {
        n = snprintf(buf, len, "%s/%s", STATEDIR_SYSTEM, sub);
    } else if ((v = getenv("XDG_STATE_HOME")) != NULL && v[0] == '/') {
        n = snprintf(buf, len, "%s/vmloc/%s", v, sub);
    } else if ((v = getenv("HOME")) != NULL && v[0] == '/') {
        n = snprintf(buf, len, "%s/.local/state/vmloc/%s", v, sub);
    } else {
        (void)snprintf(err, errlen,
                       "no state directory for the %s: give --data DIR (none of "
                       "STATE_DIRECTORY, XDG_STATE_HOME and HOME is set)",
                       sub);
        return -ENOENT;
    }
    if (n < 0 || (size_t)n >= len) {
        (void)snprintf(err, errlen, "state directory for the %s: path too long", sub);
        return -ENAMETOOLONG;
    }
    return 0;
}

int
statedir_prepare(const char *dir, bool create_parents, char *err, size_t errlen)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
        (void)snprintf(err, errlen, "%.200s...: path too long", dir);
        return -ENAMETOOLONG;
    }
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/')
        path[--end] = '\0';
    char *slash = strrchr(path, '/');
    if (slash == NULL || slash == path)
        return 0; /* relative to the current directory, or right under / */
    *slash = '\0';
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return 0;
        (void)snprintf(err, errlen, "%s: its parent %s is not a directory", dir, path);
        return -ENOTDIR;
    }
    int e = errno;
    if (e != ENOENT || !create_parents) {
        (void)snprintf(err, errlen, "%s: its parent directory %s: %s", dir, path,
                       e == ENOENT ? "does not exist (create it, or give another --data)"
                                   : strerror(e));
        return -e;
    }
    for (char *p = path + 1;; p++) {
        bool last = *p == '\0';
        if (!last && *p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST) {
            e = errno;
            (void)snprintf(err, errlen, "%s: cannot create its parent directory %s: %s", dir, path,
                           strerror(e));
            return -e;
        }
        if (last)
            break;
        *p = '/';
    }
    return 0;
}

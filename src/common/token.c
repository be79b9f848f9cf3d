/* The API token file (see token.h). */
#define _GNU_SOURCE
#include "common/token.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* Is there something at `path` (a file, or one we may not look at)? */
static bool
present(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR);
}

static int
put(size_t len, int n)
{
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int
token_search(const char *system, char *buf, size_t len, enum token_source *ret_source)
{
    const char *v = getenv("VMLOC_TOKEN_FILE");
    int r;
    if (v != NULL && v[0] != '\0') {
        *ret_source = TOKEN_SOURCE_ENV;
        return put(len, snprintf(buf, len, "%s", v));
    }
    v = getenv("CREDENTIALS_DIRECTORY");
    if (v != NULL && v[0] == '/') {
        r = put(len, snprintf(buf, len, "%s/token", v));
        if (r < 0)
            return r;
        if (present(buf)) {
            *ret_source = TOKEN_SOURCE_CREDENTIAL;
            return 0;
        }
    }
    if (system != NULL && system[0] != '\0' && present(system)) {
        *ret_source = TOKEN_SOURCE_SYSTEM;
        return put(len, snprintf(buf, len, "%s", system));
    }
    *ret_source = TOKEN_SOURCE_USER;
    if ((v = getenv("XDG_CONFIG_HOME")) != NULL && v[0] == '/')
        return put(len, snprintf(buf, len, "%s/vmloc/token", v));
    if ((v = getenv("HOME")) != NULL && v[0] != '\0')
        return put(len, snprintf(buf, len, "%s/.config/vmloc/token", v));
    return -ENOENT;
}

int
token_default_path(char *buf, size_t len)
{
    enum token_source src;
    return token_search(TOKEN_SYSTEM_PATH, buf, len, &src);
}

bool
token_source_creates(enum token_source s)
{
    return s == TOKEN_SOURCE_ENV || s == TOKEN_SOURCE_USER;
}

const char *
token_source_name(enum token_source s)
{
    static const char *const names[] = {"env", "credential", "system", "user"};
    return (unsigned)s < 4 ? names[s] : "?";
}

/* Is `path` a file of systemd's credentials directory ($CREDENTIALS_DIRECTORY/NAME)? */
static bool
in_credentials(const char *path)
{
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    size_t n = dir != NULL ? strlen(dir) : 0;
    while (n > 1 && dir[n - 1] == '/')
        n--;
    return n > 0 && dir[0] == '/' && strncmp(path, dir, n) == 0 && path[n] == '/' &&
           path[n + 1] != '\0' && strchr(path + n + 1, '/') == NULL;
}

static int
fail(char *err, size_t errlen, int code, const char *path, const char *what)
{
    (void)snprintf(err, errlen, "token file %s: %s", path, what);
    return code;
}

/* Create every missing directory above `path`, owner-only, as `mkdir -p` would. */
static int
make_parents(const char *path)
{
    char dir[4096];
    if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
        return -ENAMETOOLONG;
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* fsync the directory holding `path`, so that a name just linked or renamed there lasts.
 * Best effort: some file systems cannot sync a directory. */
static void
sync_dir(const char *path)
{
    char dir[4096];
    if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
        return;
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    else
        (void)snprintf(dir, sizeof(dir), ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    (void)fsync(fd);
    (void)close(fd);
}

/* Write a new token to a private temporary file and link it into place: link() fails when the
 * file exists, so a token another process created first is kept, never overwritten. 1: this
 * call made the file; 0: another process did first. */
static int
create_token(const char *path, char *err, size_t errlen)
{
    unsigned char raw[32];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return fail(err, errlen, -errno, path, "no random bytes for a new token");
        got += (size_t)n;
    }
    char text[2 * sizeof(raw) + 2];
    for (size_t i = 0; i < sizeof(raw); i++)
        (void)snprintf(text + 2 * i, 3, "%02x", raw[i]);
    text[2 * sizeof(raw)] = '\n';
    text[2 * sizeof(raw) + 1] = '\0';
    int r = make_parents(path);
    if (r < 0)
        return fail(err, errlen, r, path, "cannot create its directory");
    /* A name of its own (random, never removed beforehand): another host sharing the
     * directory over NFS cannot collide with it. */
    unsigned char salt[6] = {0};
    if (getrandom(salt, sizeof(salt), 0) != (ssize_t)sizeof(salt))
        return fail(err, errlen, -EIO, path, "no random bytes for a file name");
    char tmp[4200];
    if (snprintf(tmp, sizeof(tmp), "%s.new.%02x%02x%02x%02x%02x%02x", path, salt[0], salt[1],
                 salt[2], salt[3], salt[4], salt[5]) >= (int)sizeof(tmp))
        return fail(err, errlen, -ENAMETOOLONG, path, "path too long");
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return fail(err, errlen, -errno, path, "cannot create it");
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    if (n == (ssize_t)len)
        r = fsync(fd) == 0 ? 0 : -errno;
    else
        r = n < 0 ? -errno : -EIO; /* a short write */
    if (close(fd) < 0 && r == 0)
        r = -errno;
    bool linked = false;
    if (r == 0) {
        if (link(tmp, path) == 0)
            linked = true;
        else if (errno != EEXIST)
            r = -errno;
    }
    (void)unlink(tmp);
    if (r < 0)
        return fail(err, errlen, r, path, "cannot write it");
    if (linked)
        sync_dir(path); /* the new name survives a power cut */
    return linked ? 1 : 0;
}

static bool
token_char_ok(char c)
{
    return c > ' ' && c < 0x7f;
}

/* Check one line of the file (without its end) as a token and copy it to `out`. */
static int
take_token(const char *path, const char *line, size_t len, const char *which, char *out, char *err,
           size_t errlen)
{
    char what[200];
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (len < TOKEN_MIN || len > TOKEN_MAX) {
        (void)snprintf(what, sizeof(what), "the %s token must be %d to %d characters on its line",
                       which, TOKEN_MIN, TOKEN_MAX);
        return fail(err, errlen, -EINVAL, path, what);
    }
    for (size_t i = 0; i < len; i++) {
        if (!token_char_ok(line[i])) {
            (void)snprintf(what, sizeof(what),
                           "the %s token must be printable ASCII without spaces, on one line",
                           which);
            return fail(err, errlen, -EINVAL, path, what);
        }
    }
    if (out != NULL) {
        memcpy(out, line, len);
        out[len] = '\0';
    }
    return 0;
}

static int
read_token(const char *path, char *out, char *prev, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return -ENOENT;
        return fail(err, errlen, -e, path, e == ELOOP ? "is a symbolic link" : strerror(e));
    }
    struct stat st;
    char what[200];
    int r = 0;
    if (fstat(fd, &st) < 0) {
        r = fail(err, errlen, -errno, path, "cannot stat it");
    } else if (!S_ISREG(st.st_mode)) {
        r = fail(err, errlen, -EINVAL, path, "not a regular file");
    } else if (in_credentials(path)) {
        /* systemd's: mode 0400 and its directory 0500, either owned by this user or root's
         * with an ACL for it (group bits then show the ACL's mask). Nobody else may read. */
    } else if ((st.st_mode & 077) != 0) {
        (void)snprintf(what, sizeof(what),
                       "group or others may read or write it (mode %04o); run chmod 600 on it",
                       (unsigned)(st.st_mode & 07777));
        r = fail(err, errlen, -EPERM, path, what);
    } else if (st.st_uid != geteuid()) {
        (void)snprintf(what, sizeof(what), "owned by uid %u, not by this user (uid %u)",
                       (unsigned)st.st_uid, (unsigned)geteuid());
        r = fail(err, errlen, -EPERM, path, what);
    }
    /* Two lines at most: the token, and a previous one still accepted during a rotation. */
    char buf[2 * (TOKEN_MAX + 2) + 2];
    size_t len = 0;
    while (r == 0 && len < sizeof(buf) - 1) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            r = fail(err, errlen, -errno, path, "cannot read it");
        else if (n == 0)
            break;
        else
            len += (size_t)n;
    }
    (void)close(fd);
    if (r < 0) {
        explicit_bzero(buf, sizeof(buf));
        return r;
    }
    if (len == sizeof(buf) - 1)
        r = fail(err, errlen, -EINVAL, path,
                 "too long: the token on its line, and at most a previous one on the next");
    const char *nl = r == 0 ? memchr(buf, '\n', len) : NULL;
    size_t first = nl != NULL ? (size_t)(nl - buf) : len;
    if (r == 0)
        r = take_token(path, buf, first, "first", out, err, errlen);
    const char *second = nl != NULL ? nl + 1 : buf + len;
    size_t rest = (size_t)(buf + len - second);
    const char *nl2 = memchr(second, '\n', rest);
    size_t second_len = nl2 != NULL ? (size_t)(nl2 - second) : rest;
    if (second_len > 0 && second[second_len - 1] == '\r')
        second_len--; /* a blank second line, CRLF as LF */
    if (prev != NULL)
        prev[0] = '\0';
    if (r == 0 && nl2 != NULL && (size_t)(nl2 + 1 - buf) != len)
        r = fail(err, errlen, -EINVAL, path,
                 "more than two lines (the token, and at most a previous one still accepted)");
    if (r == 0 && second_len > 0)
        r = take_token(path, second, second_len, "second (previous)", prev, err, errlen);
    explicit_bzero(buf, sizeof(buf));
    if (r < 0 && out != NULL)
        explicit_bzero(out, TOKEN_MAX + 1);
    return r;
}

int
token_load(const char *path, bool create, char *out, char *prev, bool *ret_created, char *err,
           size_t errlen)
{
    *ret_created = false;
    if (path == NULL || path[0] == '\0')
        return fail(err, errlen, -EINVAL, "\"\"", "empty path");
    int r = read_token(path, out, prev, err, errlen);
    if (r != -ENOENT)
        return r;
    if (!create)
        return fail(err, errlen, r, path,
                    "missing (a daemon creates it at its first start; copy it from the host "
                    "that has it)");
    int made = create_token(path, err, errlen);
    if (made < 0)
        return made;
    r = read_token(path, out, prev, err, errlen);
    if (r == 0)
        *ret_created = made == 1;
    return r;
}

int
token_load_default(char *out, char *err, size_t errlen)
{
    char path[4096];
    bool created = false;
    enum token_source src;
    int r = token_search(TOKEN_SYSTEM_PATH, path, sizeof(path), &src);
    if (r < 0) {
        (void)snprintf(err, errlen, "no token file: set VMLOC_TOKEN_FILE or HOME");
        return r;
    }
    return token_load(path, token_source_creates(src), out, NULL, &created, err, errlen);
}

bool
token_equal(const char *token, const char *presented, size_t presented_len)
{
    size_t len = strlen(token);
    unsigned diff = (unsigned)(len ^ presented_len);
    for (size_t i = 0; i < len; i++) {
        unsigned char p = i < presented_len ? (unsigned char)presented[i] : 0;
        diff |= (unsigned)((unsigned char)token[i] ^ p);
    }
    return diff == 0;
}

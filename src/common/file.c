/* Whole-file and chunked reads with limits, and atomic replacement. */
#define _XOPEN_SOURCE 700
#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/limits.h"

/* Open `path` for reading; only a regular file ("-" is standard input, whatever it is). The
 * open does not block: a FIFO would wait for a writer before the check could refuse it. */
static int
open_input(const char *path, int *ret_fd)
{
    if (strcmp(path, "-") == 0) {
        *ret_fd = STDIN_FILENO;
        return 0;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -errno;
    struct stat st;
    int r = 0;
    if (fstat(fd, &st) < 0)
        r = -errno;
    else if (S_ISDIR(st.st_mode))
        r = -EISDIR;
    else if (!S_ISREG(st.st_mode))
        r = -ESPIPE;
    else if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
        r = -errno;
    if (r < 0) {
        (void)close(fd);
        return r;
    }
    *ret_fd = fd;
    return 0;
}

static void
close_input(const char *path, int fd)
{
    if (strcmp(path, "-") != 0)
        (void)close(fd);
}

int
file_stream(const char *path, size_t max, int (*fn)(void *ctx, const void *chunk, size_t len),
            void *ctx)
{
    int fd = -1;
    int r = open_input(path, &fd);
    if (r < 0)
        return r;
    char *buf = malloc(LIMIT_READ_CHUNK);
    if (buf == NULL) {
        r = -ENOMEM;
        goto out;
    }
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, LIMIT_READ_CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            r = -errno;
            goto out;
        }
        if (n == 0)
            break;
        total += (size_t)n;
        if (total > max) {
            r = -EFBIG;
            goto out;
        }
        r = fn(ctx, buf, (size_t)n);
        if (r != 0)
            goto out;
    }
    r = 0;
out:
    free(buf);
    close_input(path, fd);
    return r;
}

struct accum {
    char *buf;
    size_t len;
    size_t cap;
};

static int
accum_chunk(void *ctx, const void *chunk, size_t len)
{
    struct accum *a = ctx;
    if (a->cap - a->len < len + 1) {
        size_t ncap = a->cap == 0 ? 4096 : a->cap;
        while (ncap - a->len < len + 1)
            ncap *= 2;
        char *nb = realloc(a->buf, ncap);
        if (nb == NULL)
            return -ENOMEM;
        a->buf = nb;
        a->cap = ncap;
    }
    memcpy(a->buf + a->len, chunk, len);
    a->len += len;
    return 0;
}

int
file_read_all(const char *path, size_t max, char **ret_buf, size_t *ret_len)
{
    struct accum a = {NULL, 0, 0};
    int r = file_stream(path, max, accum_chunk, &a);
    if (r == 0 && a.buf == NULL)
        r = accum_chunk(&a, "", 0); /* an empty file is an empty string */
    if (r != 0) {
        free(a.buf);
        return r > 0 ? -EIO : r;
    }
    a.buf[a.len] = '\0';
    *ret_buf = a.buf;
    *ret_len = a.len;
    return 0;
}

/* nftw() gives no context pointer: the first error of the walk in progress. */
static int remove_err;

static int
remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int r = type == FTW_DP ? rmdir(path) : unlink(path);
    if (r < 0 && remove_err == 0)
        remove_err = -errno;
    return 0;
}

int
file_remove_tree(const char *dir)
{
    remove_err = 0;
    if (nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
        return -errno;
    return remove_err;
}

/* Write all `len` bytes of `p` to `fd`. 0 or -errno. */
static int
write_all(int fd, const char *p, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, p + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        off += (size_t)n;
    }
    return 0;
}

int
file_write_atomic(const char *path, const char *text)
{
    char tmp[PATH_MAX + 8];
    if (strlen(path) >= PATH_MAX)
        return -ENAMETOOLONG;
    (void)snprintf(tmp, sizeof(tmp), "%s.new", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int r = write_all(fd, text, strlen(text));
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (close(fd) < 0 && r == 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        (void)unlink(tmp);
        return r;
    }
    /* The rename itself must last a power cut. */
    char dir[PATH_MAX];
    (void)snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash != NULL)
        slash[slash == dir ? 1 : 0] = '\0'; /* "/x" is in "/" */
    fd = open(slash != NULL ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    r = fsync(fd) < 0 ? -errno : 0;
    (void)close(fd);
    return r;
}

const char *
file_strerror(int r)
{
    switch (-r) {
    case ESPIPE:
        return "not a regular file (a FIFO, socket or device); give a file, or '-' for standard "
               "input";
    case EISDIR:
        return "is a directory";
    case EFBIG:
        return "file too large";
    default:
        return strerror(-r);
    }
}

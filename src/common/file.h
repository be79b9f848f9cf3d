/* Reading whole files (or standard input, as "-") with a size limit, and replacing one
 * atomically. The only file I/O helpers of the tree; callers decide how to report errors. */
#ifndef VMLOC_COMMON_FILE_H
#define VMLOC_COMMON_FILE_H

#include <stddef.h>

#include "core/compiler.h"

/* Read all of `path` ("-": standard input) into a new NUL-terminated buffer (the caller
 * frees it). 0: *ret_buf, *ret_len set. -errno from open/read (e.g. -ENOENT, -EISDIR);
 * -ESPIPE: not a regular file (a FIFO, socket or device: refused without waiting on it);
 * -EFBIG: larger than `max` bytes; -ENOMEM. */
MUST_CHECK int file_read_all(const char *path, size_t max, char **ret_buf, size_t *ret_len);

/* Call `fn(ctx, chunk, len)` for successive chunks of `path` ("-": standard input) until
 * the end, or until `fn` returns non-zero (which is returned). -errno on read errors,
 * -EFBIG beyond `max` bytes. */
MUST_CHECK int file_stream(const char *path, size_t max,
                           int (*fn)(void *ctx, const void *chunk, size_t len), void *ctx);

/* What an error of file_read_all() or file_stream() means, for a message after the path. */
const char *file_strerror(int r);

/* Replace `path` with `text` so that a crash leaves either the old file or the new one: the
 * text goes to PATH.new, synced, renamed over `path`, and the folder synced. 0 or -errno. */
MUST_CHECK int file_write_atomic(const char *path, const char *text);

/* Remove `dir` and everything under it (not following symbolic links). 0, or -errno of the
 * first thing that could not be removed (the rest is still tried). */
MUST_CHECK int file_remove_tree(const char *dir);

#endif

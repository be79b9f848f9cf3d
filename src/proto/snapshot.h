/* Snapshot decoding (resource usage state data, JSON): bytes -> struct cluster, strictly
 * validated against the snapshot format (spec/snapshot.schema.md). Streaming: feed any
 * chunking of the bytes; memory is the model plus a small parser state, so a 100 MB
 * snapshot never exists twice in memory. Errors name the field by its path
 * ("hosts[3].vms[1].usage.cpu: must be between 0 and 100") or the line and column of a
 * JSON syntax error. No I/O: the caller reads the file. */
#ifndef VMLOC_PROTO_SNAPSHOT_H
#define VMLOC_PROTO_SNAPSHOT_H

#include <stddef.h>

#include "core/compiler.h"
#include "core/model.h"
#include "proto/perr.h"

/* Deepest nesting accepted anywhere (the format itself needs 5 levels). */
#define SNAPSHOT_MAX_DEPTH 32
/* The most moves one VM may list ("moves"; the model keeps the newest MODEL_MAX_VM_MOVES). */
#define SNAPSHOT_MAX_MOVES 64

struct snapshot_decoder;

/* A decoder for one snapshot; `source` (copied) names the input in error messages
 * ("<stdin>" when NULL). NULL only on OOM. */
struct snapshot_decoder *snapshot_decoder_new(const char *source);

/* Tell the decoder the input's total size, when known (a file's size), so it can size its
 * tables once instead of growing them. Optional; 0 or -ENOMEM (then it just grows). */
MUST_CHECK int snapshot_decoder_size_hint(struct snapshot_decoder *d, size_t total_bytes);

/* Free `d` and any partial cluster it holds. Accepts NULL. */
void snapshot_decoder_free(struct snapshot_decoder *d);

/* Feed the next `len` bytes. 0: consumed. -EINVAL: the input is invalid (err filled; the
 * decoder must then only be freed). -ENOMEM (err filled). -E2BIG: beyond a limit (err). */
MUST_CHECK int snapshot_decoder_feed(struct snapshot_decoder *d, const void *buf, size_t len,
                                     struct perr *err);

/* Signal the end of input and move the decoded cluster into the empty `*ret_cl`.
 * 0: *ret_cl filled (the caller owns it). -EINVAL: truncated, empty or invalid (err filled;
 * *ret_cl untouched). -ENOMEM. */
MUST_CHECK int snapshot_decoder_finish(struct snapshot_decoder *d, struct cluster *ret_cl,
                                       struct perr *err);

/* Decode a whole snapshot held in memory: new + feed + finish + free. Same returns. */
MUST_CHECK int snapshot_decode(const void *buf, size_t len, const char *source,
                               struct cluster *ret_cl, struct perr *err);

/* Encode `cl` as snapshot JSON (compact when `pretty` is 0) into a new NUL-terminated string,
 * which the caller frees. 0: *ret_s, *ret_len set. -ENOMEM. */
MUST_CHECK int snapshot_encode(const struct cluster *cl, int pretty, char **ret_s, size_t *ret_len);

#endif

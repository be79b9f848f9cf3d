/* Error messages of the decoders: one line that names the input (file name or "<stdin>")
 * and the field path or line that is wrong, e.g.
 * "snap.json: hosts[3].vms[1].usage.cpu: must be between 0 and 100". Owns nothing. */
#ifndef VMLOC_PROTO_PERR_H
#define VMLOC_PROTO_PERR_H

#include <stddef.h>

#include "core/compiler.h"

#define PERR_MAX 512

struct perr {
    char msg[PERR_MAX]; /* NUL-terminated, one line, no trailing newline */
};

/* Replace e->msg with the formatted text (truncated to fit; control characters replaced by
 * '?'). Accepts e == NULL (does nothing). */
void perr_set(struct perr *e, const char *fmt, ...) PRINTF_LIKE(2, 3);

#endif

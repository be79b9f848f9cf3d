/* The API token: a shared secret that every daemon and the management terminal of a cluster
 * read from a file only its owner may read (mode 0600). A daemon creates the file with a new
 * random token at its first start when it is missing; copy it to the other hosts. The token
 * itself is never logged. */
#ifndef VMLOC_COMMON_TOKEN_H
#define VMLOC_COMMON_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#include "core/compiler.h"

/* A token is 16 to TOKEN_MAX printable ASCII characters without spaces (a generated one is 64
 * hexadecimal digits, 256 random bits). */
#define TOKEN_MIN 16
#define TOKEN_MAX 256

/* The token file used when none is given: $VMLOC_TOKEN_FILE, else
 * $XDG_CONFIG_HOME/vmloc/token, else $HOME/.config/vmloc/token. 0, or -ENOENT when none of
 * these variables is set, -ENAMETOOLONG. */
MUST_CHECK int token_default_path(char *buf, size_t len);

/* Read the token of `path` into `out` (TOKEN_MAX + 1 bytes). The file holds the token on its
 * first line and, during a rotation, a previous token still accepted on its second: that one
 * goes to `prev` (TOKEN_MAX + 1 bytes, "" when there is none; NULL: not wanted). A daemon sends
 * the first and accepts both. With `create`, a missing file
 * (and a missing last directory, mode 0700) is created with a new token, atomically: when two
 * daemons start at once both end with the same token. *ret_created says whether this call
 * made it. The file must be a regular file that neither group nor others may read or write.
 * 0, or a negative errno with `err` (size `errlen`) saying what is wrong, naming the file. */
MUST_CHECK int token_load(const char *path, bool create, char *out, char *prev, bool *ret_created,
                          char *err, size_t errlen);

/* token_load() of token_default_path(), created when missing: for tests and benchmarks, which
 * share the run's token with the daemons they start. 0 or a negative errno with `err` set. */
MUST_CHECK int token_load_default(char *out, char *err, size_t errlen);

/* Compare a presented credential with the token in time that does not depend on where they
 * differ. */
bool token_equal(const char *token, const char *presented, size_t presented_len);

#endif

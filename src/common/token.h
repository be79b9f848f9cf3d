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

/* The file the package installs, read when neither a file nor a credential is given. */
#define TOKEN_SYSTEM_PATH "/etc/vmloc/token"

/* Where a token file named by nobody in particular was found (token_search()). */
enum token_source {
    TOKEN_SOURCE_ENV = 0,        /* $VMLOC_TOKEN_FILE */
    TOKEN_SOURCE_CREDENTIAL = 1, /* $CREDENTIALS_DIRECTORY/token: systemd's LoadCredential=token */
    TOKEN_SOURCE_SYSTEM = 2,     /* TOKEN_SYSTEM_PATH */
    TOKEN_SOURCE_USER = 3,       /* $XDG_CONFIG_HOME/vmloc/token or ~/.config/vmloc/token */
};

/* The token file used when none is given, the first of: $VMLOC_TOKEN_FILE (named, so used
 * whether or not it exists); $CREDENTIALS_DIRECTORY/token, when that variable is an absolute
 * path and the file exists; `system` (TOKEN_SYSTEM_PATH; tests pass their own), when it
 * exists; $XDG_CONFIG_HOME/vmloc/token (an absolute XDG_CONFIG_HOME), else
 * $HOME/.config/vmloc/token. "Exists" means anything but ENOENT or ENOTDIR: a file that is
 * there but unreadable is chosen, and token_load() says what is wrong with it. The path into
 * `buf` and where it came from into *ret_source. 0, -ENOENT when none applies (no HOME),
 * -ENAMETOOLONG. */
MUST_CHECK int token_search(const char *system, char *buf, size_t len,
                            enum token_source *ret_source);

/* token_search() of TOKEN_SYSTEM_PATH, without the source. */
MUST_CHECK int token_default_path(char *buf, size_t len);

/* May a daemon create a missing file found at `s`? Only at the paths a user chose or owns
 * ($VMLOC_TOKEN_FILE, the XDG path): never as a credential or at the system path. */
bool token_source_creates(enum token_source s);

/* "env", "credential", "system", "user": for the log. */
const char *token_source_name(enum token_source s);

/* Read the token of `path` into `out` (TOKEN_MAX + 1 bytes). The file holds the token on its
 * first line and, during a rotation, a previous token still accepted on its second: that one
 * goes to `prev` (TOKEN_MAX + 1 bytes, "" when there is none; NULL: not wanted). A daemon sends
 * the first and accepts both. With `create`, a missing file
 * (and a missing last directory, mode 0700) is created with a new token, atomically: when two
 * daemons start at once both end with the same token. *ret_created says whether this call
 * made it. The file must be a regular file that neither group nor others may read or write,
 * owned by this user, except in $CREDENTIALS_DIRECTORY: systemd controls access to that
 * directory (its files may be root's, readable through an ACL).
 * 0, or a negative errno with `err` (size `errlen`) saying what is wrong, naming the file. */
MUST_CHECK int token_load(const char *path, bool create, char *out, char *prev, bool *ret_created,
                          char *err, size_t errlen);

/* token_load() of token_default_path(), created when missing where the source allows: for tests and
 * benchmarks, which share the run's token with the daemons they start. 0 or a negative errno with
 * `err` set. */
MUST_CHECK int token_load_default(char *out, char *err, size_t errlen);

/* Compare a presented credential with the token in time that does not depend on where they
 * differ. */
bool token_equal(const char *token, const char *presented, size_t presented_len);

#endif

/* The peers file of peer mode (--peers-file, [agent] peers_file): the URLs of the other
 * agents, one per line, that an agent reads at start and again whenever the file changes.
 * It lets agents whose ports are only known once they run (--listen ADDR:0) find each other:
 * whoever starts them writes the file after reading their "listening on" lines. This module
 * parses the text (pure, unit-tested) and notices changes by stat(); it never logs, and what
 * to do with a bad file (keep the list in use) is its caller's choice. */
#ifndef VMLOC_AGENT_PEERFILE_H
#define VMLOC_AGENT_PEERFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "core/compiler.h"
#include "proto/perr.h"
#include "proto/wire.h" /* WIRE_MAX_URL */

/* The most URLs a file may list (agent.h's AGENT_MAX_PEERS). */
#define PEERFILE_MAX_PEERS 1024

/* A list of peer URLs, each NUL-terminated, without a trailing '/'. */
struct peerfile_list {
    char (*urls)[WIRE_MAX_URL + 1];
    size_t n;
};

/* Parse the peers file `text` (`len` bytes; need not be NUL-terminated) named `path` in
 * messages. Lines hold one URL (http://HOST:PORT or https://HOST:PORT) each, with blanks
 * around it; '#' starts a comment that runs to the end of the line; blank lines are skipped.
 * 0: *ret filled (maybe empty; free it with peerfile_list_done()). -EINVAL: `err` names the
 * file and line ("peers:3: ..."): not a URL, two words on a line, a URL given twice, more
 * than PEERFILE_MAX_PEERS, a NUL byte. -ENOMEM. *ret untouched on error. */
MUST_CHECK int peerfile_parse(const char *text, size_t len, const char *path,
                              struct peerfile_list *ret, struct perr *err);

/* Free the URLs of `l` (accepts an empty or zeroed list). */
void peerfile_list_done(struct peerfile_list *l);

/* A peers file watched for changes: its identity as stat() last saw it. */
struct peerfile {
    char path[4096];
    bool known; /* the fields below describe the file as last read */
    bool missing;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

/* Watch `path` (copied; truncated paths are the caller's to refuse). Nothing is read yet. */
void peerfile_init(struct peerfile *w, const char *path);

/* Read the file again if it changed (another inode, size or modification time) since the
 * last call, or always when `force` (SIGHUP). 1: it changed and parsed, *ret filled (the
 * caller frees it). 0: unchanged (or still missing). -ENOENT: it has just gone missing (or is
 * missing at the first call); -EINVAL: it changed and does not parse (`err` says where);
 * -errno or -EFBIG (over LIMIT_PEERS_FILE_BYTES) when it cannot be read, `err` filled. A file
 * that failed is not read again until it changes. */
MUST_CHECK int peerfile_check(struct peerfile *w, bool force, struct peerfile_list *ret,
                              struct perr *err);

#endif

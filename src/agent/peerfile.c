/* The peers file (peerfile.h): parsing its lines, and noticing that it changed. */
#define _POSIX_C_SOURCE 200809L
#include "agent/peerfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/file.h"   /* file_read_all() */
#include "common/limits.h" /* LIMIT_PEERS_FILE_BYTES */
#include "net/http.h"      /* http_url_check() */

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Line `line` (`len` bytes, without its '\n') into `l` (room for PEERFILE_MAX_PEERS URLs);
 * `lines[i]` is the line number of l->urls[i]. 0 or -EINVAL with `err` set. */
static int
parse_line(const char *line, size_t len, size_t lineno, const char *path, struct peerfile_list *l,
           size_t *lines, struct perr *err)
{
    const char *hash = memchr(line, '#', len);
    if (hash != NULL)
        len = (size_t)(hash - line);
    size_t a = 0;
    while (a < len && is_blank(line[a]))
        a++;
    while (len > a && is_blank(line[len - 1]))
        len--;
    if (a == len)
        return 0; /* blank or a comment */
    const char *word = line + a;
    size_t n = len - a;
    for (size_t i = 0; i < n; i++) {
        if (is_blank(word[i])) {
            perr_set(err, "%s:%zu: one URL per line (\"%.*s\")", path, lineno,
                     (int)(n > 100 ? 100 : n), word);
            return -EINVAL;
        }
    }
    if (n > 1 && word[n - 1] == '/')
        n--; /* http://h:1/ is http://h:1 */
    char url[WIRE_MAX_URL + 1];
    if (n >= sizeof(url)) {
        perr_set(err, "%s:%zu: URL longer than %d bytes", path, lineno, WIRE_MAX_URL);
        return -EINVAL;
    }
    memcpy(url, word, n);
    url[n] = '\0';
    if (http_url_check(url) < 0) {
        perr_set(err,
                 "%s:%zu: \"%.100s\" is not a peer URL (http://HOST:PORT or https://HOST:PORT)",
                 path, lineno, url);
        return -EINVAL;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->urls[i], url) == 0) {
            perr_set(err, "%s:%zu: %s given twice (first on line %zu)", path, lineno, url,
                     lines[i]);
            return -EINVAL;
        }
    }
    if (l->n == PEERFILE_MAX_PEERS) {
        perr_set(err, "%s:%zu: more than %d peers", path, lineno, PEERFILE_MAX_PEERS);
        return -EINVAL;
    }
    lines[l->n] = lineno;
    memcpy(l->urls[l->n++], url, n + 1);
    return 0;
}

int
peerfile_parse(const char *text, size_t len, const char *path, struct peerfile_list *ret,
               struct perr *err)
{
    if (memchr(text, '\0', len) != NULL) {
        perr_set(err, "%s: not a text file (it holds a NUL byte)", path);
        return -EINVAL;
    }
    /* Room for every URL the text can hold: at least 10 bytes ("http://h:1") and a newline
     * each, and never more than the limit. */
    size_t cap = len / 11 + 1;
    if (cap > PEERFILE_MAX_PEERS + 1)
        cap = PEERFILE_MAX_PEERS + 1;
    struct peerfile_list l = {calloc(cap, sizeof(*l.urls)), 0};
    size_t *lines = calloc(cap, sizeof(*lines));
    int r = 0;
    if (l.urls == NULL || lines == NULL) {
        r = -ENOMEM;
        goto out;
    }
    size_t lineno = 0;
    for (size_t at = 0; at < len && r == 0;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl != NULL ? (size_t)(nl - text) : len;
        lineno++;
        r = parse_line(text + at, end - at, lineno, path, &l, lines, err);
        at = end + 1;
    }
out:
    free(lines);
    if (r < 0) {
        peerfile_list_done(&l);
        return r;
    }
    *ret = l;
    return 0;
}

void
peerfile_list_done(struct peerfile_list *l)
{
    free(l->urls);
    l->urls = NULL;
    l->n = 0;
}

void
peerfile_init(struct peerfile *w, const char *path)
{
    memset(w, 0, sizeof(*w));
    (void)snprintf(w->path, sizeof(w->path), "%s", path);
}

int
peerfile_check(struct peerfile *w, bool force, struct peerfile_list *ret, struct perr *err)
{
    struct stat st;
    if (stat(w->path, &st) < 0) {
        int r = -errno;
        bool news = w->known || !w->missing || force;
        w->known = false;
        w->missing = true;
        if (!news)
            return 0;
        perr_set(err, "%s: %s", w->path, strerror(-r));
        return r == -ENOENT ? -ENOENT : r;
    }
    bool same = w->known && st.st_dev == w->dev && st.st_ino == w->ino && st.st_size == w->size &&
                st.st_mtim.tv_sec == w->mtime.tv_sec && st.st_mtim.tv_nsec == w->mtime.tv_nsec;
    if (same && !force)
        return 0;
    /* Whatever comes of it, this version of the file is not read again unless asked. */
    w->known = true;
    w->missing = false;
    w->dev = st.st_dev;
    w->ino = st.st_ino;
    w->size = st.st_size;
    w->mtime = st.st_mtim;
    char *text = NULL;
    size_t len = 0;
    int r = file_read_all(w->path, LIMIT_PEERS_FILE_BYTES, &text, &len);
    if (r < 0) {
        perr_set(err, "%s: %s", w->path,
                 r == -EFBIG ? "larger than the limit of 1 MiB" : strerror(-r));
        return r;
    }
    r = peerfile_parse(text, len, w->path, ret, err);
    free(text);
    return r < 0 ? r : 1;
}

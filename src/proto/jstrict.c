/* Strict JSON over yajl: the checks yajl leaves out, positions, and one error.
 *
 * yajl calls our callbacks; each checks what is about JSON itself and then hands the value
 * to the decoder's callback. A stack of levels mirrors the open objects and arrays; the keys
 * of the open objects live in one arena and one array of records, both used as stacks (an
 * object's keys are contiguous, since a nested object's keys are dropped when it closes), so
 * the repeated-key check costs a few comparisons for the usual handful of keys. An object
 * with many keys gets a hash index of its own, so a hostile one costs linear time.
 *
 * When the root object ends, the callback stops yajl: what follows is only checked to be
 * white space, here, because yajl lets an unfinished token after the value pass. \v, \f and
 * unpaired surrogate escapes are found by a scan of each chunk before yajl parses it; yajl
 * first parses the bytes before the offending one, so an earlier error still comes first,
 * whatever the chunking. */
#include "proto/jstrict.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "core/fnv.h"
#include "proto/utf8.h" /* utf8_valid(), utf8_escapes_scan() */

/* Keys an object holds before its keys get a hash index. */
#define INDEX_AT 16

struct jkey {
    uint32_t off; /* in the arena */
    uint32_t len;
    uint32_t head; /* its first 4 bytes (zero-padded): most keys differ there */
};

struct jlevel {
    bool is_map;
    bool last_known; /* its last key is a known one (in `known`), not a record */
    uint8_t known_len;
    char known[JSTRICT_KNOWN_MAX + 1];
    uint32_t known_bits; /* the bits of the known keys it had */
    uint32_t key_base;   /* its first key record */
    uint32_t arena_base; /* arena length when it began */
    uint32_t *index;     /* open addressing: key record + 1, 0 empty; NULL below INDEX_AT */
    uint32_t index_mask;
};

struct jstrict {
    yajl_handle yh;
    const struct jstrict_callbacks *cb;
    void *ctx;
    char *source;
    bool source_on_fields;
    unsigned max_depth;
    struct jlevel *levels;
    size_t depth;
    struct jkey *keys;
    uint32_t n_keys;
    uint32_t cap_keys;
    char *arena;
    uint32_t arena_len;
    uint32_t arena_cap;
    bool bad_key; /* the last key was not UTF-8: jstrict_key() says "(key)" */
    /* Position: the bytes fed before the current chunk, and the current chunk. */
    size_t offset_before;
    size_t lines_before;
    size_t col_before; /* bytes since the last newline, at the end of those chunks */
    const unsigned char *chunk;
    size_t end_at;           /* where the root object ended in the current chunk */
    bool in_parse;           /* inside yajl_parse(): yajl knows how far it read */
    bool any;                /* a byte other than white space was fed */
    struct utf8_escapes esc; /* unpaired surrogate escapes, across chunks */
    bool done;               /* the root object ended */
    bool failed;
    bool in_flush;
    int code;
    size_t err_offset;
    size_t err_line;
    size_t err_col;
    struct perr err;
};

/* --- position and errors ---------------------------------------------------------------- */

/* Offset, line and column of byte `at` of the current chunk. */
static void
position_at(const struct jstrict *js, size_t at, size_t *ret_offset, size_t *ret_line,
            size_t *ret_col)
{
    size_t line = js->lines_before + 1;
    size_t col = js->col_before + 1;
    const unsigned char *p = js->chunk;
    size_t i = 0;
    while (p != NULL && i < at) {
        const unsigned char *nl = memchr(p + i, '\n', at - i);
        if (nl == NULL) {
            col += at - i;
            break;
        }
        line++;
        col = 1;
        i = (size_t)(nl - p) + 1;
    }
    *ret_offset = js->offset_before + at;
    *ret_line = line;
    *ret_col = col;
}

/* How far into the current chunk the parse is. */
static size_t
current_at(const struct jstrict *js)
{
    return js->in_parse ? yajl_get_bytes_consumed(js->yh) : 0;
}

/* Give the decoder its chance to report a deferred error first. true: an error is recorded. */
static bool
before_error(struct jstrict *js)
{
    if (js->failed)
        return true;
    if (js->cb->flush != NULL && !js->in_flush) {
        js->in_flush = true;
        js->cb->flush(js->ctx);
        js->in_flush = false;
    }
    return js->failed;
}

static void
mark_failed(struct jstrict *js, int code, size_t at)
{
    position_at(js, at, &js->err_offset, &js->err_line, &js->err_col);
    js->code = code;
    js->failed = true;
}

static int
syntax_error_at(struct jstrict *js, size_t at, const char *what, int wlen)
{
    if (before_error(js))
        return 0;
    mark_failed(js, -EINVAL, at);
    perr_set(&js->err, "%s:%zu:%zu: invalid JSON: %.*s", js->source, js->err_line, js->err_col,
             wlen, what);
    return 0;
}

static int
oom(struct jstrict *js)
{
    return jstrict_failf(js, -ENOMEM, "out of memory");
}

/* Record `text` as the error, after the decoder's deferred checks. Returns 0. */
static int
record(struct jstrict *js, int code, const char *text)
{
    mark_failed(js, code, current_at(js));
    if (js->source_on_fields)
        perr_set(&js->err, "%s: %s", js->source, text);
    else
        perr_set(&js->err, "%s", text);
    return 0;
}

int
jstrict_failf(struct jstrict *js, int code, const char *fmt, ...)
{
    if (before_error(js))
        return 0;
    char text[PERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    return record(js, code, text);
}

int
jstrict_fail(struct jstrict *js, int code, const char *what)
{
    if (before_error(js))
        return 0;
    char path[256];
    char text[PERR_MAX];
    js->cb->path(js->ctx, path, sizeof(path));
    (void)snprintf(text, sizeof(text), "%s: %s", path, what);
    return record(js, code, text);
}

int
jstrict_fail_syntax(struct jstrict *js, const char *what)
{
    return syntax_error_at(js, current_at(js), what, (int)strlen(what));
}

void
jstrict_position(const struct jstrict *js, size_t *ret_offset, size_t *ret_line, size_t *ret_col)
{
    size_t o = js->err_offset;
    size_t l = js->err_line;
    size_t c = js->err_col;
    if (!js->failed)
        position_at(js, current_at(js), &o, &l, &c);
    if (ret_offset != NULL)
        *ret_offset = o;
    if (ret_line != NULL)
        *ret_line = l;
    if (ret_col != NULL)
        *ret_col = c;
}

const char *
jstrict_key(const struct jstrict *js, size_t *ret_len)
{
    if (js->bad_key) {
        *ret_len = 5;
        return "(key)";
    }
    /* The innermost object's last key: the record before the first one of the level opened
     * inside it (every level notes where the records stood when it opened). */
    size_t i = js->depth;
    while (i > 0 && !js->levels[i - 1].is_map)
        i--;
    if (i > 0 && js->levels[i - 1].last_known) {
        *ret_len = js->levels[i - 1].known_len;
        return js->levels[i - 1].known;
    }
    uint32_t end = i < js->depth ? js->levels[i].key_base : js->n_keys;
    if (i == 0 || end == js->levels[i - 1].key_base) {
        *ret_len = 0;
        return "";
    }
    const struct jkey *k = &js->keys[end - 1];
    const char *s = js->arena + k->off;
    size_t len = k->len < JSTRICT_KEY_SHOWN ? k->len : JSTRICT_KEY_SHOWN;
    while (len < k->len && len > 0 && ((unsigned char)s[len] & 0xc0) == 0x80)
        len--; /* cut at a character boundary */
    *ret_len = len;
    return s;
}

/* --- levels and keys ----------------------------------------------------------------------- */

/* May one more level open? 1: yes; else the error is recorded (0). */
static int
room(struct jstrict *js)
{
    if (js->depth < js->max_depth)
        return 1;
    char what[64];
    (void)snprintf(what, sizeof(what), "nested too deeply (more than %u levels)", js->max_depth);
    return jstrict_fail(js, -E2BIG, what);
}

static int
push(struct jstrict *js, bool is_map)
{
    struct jlevel *l = &js->levels[js->depth++];
    l->is_map = is_map;
    l->last_known = false;
    l->known_bits = 0;
    l->key_base = js->n_keys;
    l->arena_base = js->arena_len;
    l->index = NULL;
    l->index_mask = 0;
    return 1;
}

static void
pop(struct jstrict *js)
{
    struct jlevel *l = &js->levels[--js->depth];
    free(l->index);
    l->index = NULL;
    js->n_keys = l->key_base;
    js->arena_len = l->arena_base;
}

/* The key's first four bytes (fewer: zero-filled), for a quick comparison. Built in a
 * register: bytes stored one by one (a copy of a variable length) and read back as one
 * word cannot be forwarded to the load, which then waits (perf put half of the key
 * callback's samples on it). */
static uint32_t
key_head(const unsigned char *k, size_t len)
{
    uint32_t h = 0;
    if (len >= sizeof(h)) {
        memcpy(&h, k, sizeof(h));
        return h;
    }
    for (size_t i = 0; i < len; i++)
        h |= (uint32_t)k[i] << (8u * i);
    return h;
}

static bool
same_key(const struct jstrict *js, uint32_t rec, const unsigned char *k, size_t len, uint32_t head)
{
    const struct jkey *r = &js->keys[rec];
    return r->len == len && r->head == head &&
           (len <= sizeof(head) || memcmp(js->arena + r->off, k, len) == 0);
}

/* Put record `rec` into the level's index (which has room). */
static void
index_put(struct jstrict *js, struct jlevel *l, uint32_t rec)
{
    const struct jkey *r = &js->keys[rec];
    uint32_t i = fnv1a_n(js->arena + r->off, r->len) & l->index_mask;
    while (l->index[i] != 0)
        i = (i + 1) & l->index_mask;
    l->index[i] = rec + 1;
}

/* (Re)build the level's index with room for twice its keys. 0 or -ENOMEM. */
static int
index_build(struct jstrict *js, struct jlevel *l)
{
    uint32_t n = js->n_keys - l->key_base;
    uint32_t cap = 64;
    while (cap < 4 * n)
        cap *= 2;
    uint32_t *idx = calloc(cap, sizeof(*idx));
    if (idx == NULL)
        return -ENOMEM;
    free(l->index);
    l->index = idx;
    l->index_mask = cap - 1;
    for (uint32_t rec = l->key_base; rec < js->n_keys; rec++)
        index_put(js, l, rec);
    return 0;
}

/* Is key `k` (`head`: key_head()) already in the level? */
static bool
key_seen(const struct jstrict *js, const struct jlevel *l, const unsigned char *k, size_t len,
         uint32_t head)
{
    if (l->index == NULL) {
        for (uint32_t rec = l->key_base; rec < js->n_keys; rec++) {
            if (same_key(js, rec, k, len, head))
                return true;
        }
        return false;
    }
    uint32_t i = fnv1a_n((const char *)k, len) & l->index_mask;
    while (l->index[i] != 0) {
        if (same_key(js, l->index[i] - 1, k, len, head))
            return true;
        i = (i + 1) & l->index_mask;
    }
    return false;
}

/* Append key `k` to the arena and the records. 0 or -ENOMEM (also beyond 4 GiB of keys). */
static int
key_add(struct jstrict *js, const unsigned char *k, size_t len, uint32_t head)
{
    if (len > UINT32_MAX - js->arena_len)
        return -ENOMEM;
    if (js->arena_len + len > js->arena_cap) {
        size_t nc = js->arena_cap != 0 ? js->arena_cap : 1024;
        while (nc < js->arena_len + len)
            nc *= 2;
        if (nc > UINT32_MAX)
            nc = UINT32_MAX;
        char *na = realloc(js->arena, nc);
        if (na == NULL)
            return -ENOMEM;
        js->arena = na;
        js->arena_cap = (uint32_t)nc;
    }
    if (js->n_keys == js->cap_keys) {
        if (js->cap_keys > UINT32_MAX / 2)
            return -ENOMEM;
        uint32_t nc = js->cap_keys != 0 ? js->cap_keys * 2 : 64;
        struct jkey *nk = realloc(js->keys, nc * sizeof(*nk));
        if (nk == NULL)
            return -ENOMEM;
        js->keys = nk;
        js->cap_keys = nc;
    }
    if (len > 0)
        memcpy(js->arena + js->arena_len, k, len);
    js->keys[js->n_keys].off = js->arena_len;
    js->keys[js->n_keys].len = (uint32_t)len;
    js->keys[js->n_keys].head = head;
    js->n_keys++;
    js->arena_len += (uint32_t)len;
    return 0;
}

/* --- yajl's callbacks --------------------------------------------------------------------- */

/* Before any value: the root must be an object. 1: go on. */
static int
value_begin(struct jstrict *js, bool is_map)
{
    if (js->depth > 0)
        return 1;
    if (!is_map)
        return jstrict_fail(js, -EINVAL, "must be a JSON object");
    return 1;
}

static int
y_null(void *ctx)
{
    struct jstrict *js = ctx;
    if (!value_begin(js, false))
        return 0;
    return js->cb->on_null != NULL ? js->cb->on_null(js->ctx) : 1;
}

static int
y_boolean(void *ctx, int b)
{
    struct jstrict *js = ctx;
    if (!value_begin(js, false))
        return 0;
    return js->cb->on_bool != NULL ? js->cb->on_bool(js->ctx, b != 0) : 1;
}

static int
y_number(void *ctx, const char *s, size_t len)
{
    struct jstrict *js = ctx;
    if (!value_begin(js, false))
        return 0;
    return js->cb->on_number != NULL ? js->cb->on_number(js->ctx, s, len) : 1;
}

static int
y_string(void *ctx, const unsigned char *s, size_t len)
{
    struct jstrict *js = ctx;
    if (!value_begin(js, false))
        return 0;
    if (!utf8_valid(s, len))
        return jstrict_fail(js, -EINVAL, "invalid UTF-8");
    return js->cb->on_string != NULL ? js->cb->on_string(js->ctx, s, len) : 1;
}

static int
y_start_map(void *ctx)
{
    struct jstrict *js = ctx;
    if (!value_begin(js, true) || !room(js))
        return 0;
    if (js->cb->on_start_map != NULL && !js->cb->on_start_map(js->ctx))
        return 0;
    return push(js, true);
}

static int
y_map_key(void *ctx, const unsigned char *k, size_t len)
{
    struct jstrict *js = ctx;
    struct jlevel *l = &js->levels[js->depth - 1];
    int bit = js->cb->key_bit != NULL ? js->cb->key_bit(js->ctx, k, len) : -1;
    l->last_known = bit >= 0 && bit < 32 && len <= JSTRICT_KNOWN_MAX;
    if (l->last_known) {
        memcpy(l->known, k, len);
        l->known_len = (uint8_t)len;
        if (l->known_bits & (1u << bit))
            return jstrict_fail(js, -EINVAL, "given twice");
        l->known_bits |= 1u << bit;
        return js->cb->on_key != NULL ? js->cb->on_key(js->ctx, k, len) : 1;
    }
    if (!utf8_valid(k, len)) {
        js->bad_key = true;
        return jstrict_fail(js, -EINVAL, "invalid UTF-8 in a key");
    }
    uint32_t head = key_head(k, len);
    bool seen = key_seen(js, l, k, len, head);
    if (key_add(js, k, len, head) < 0)
        return oom(js);
    if (seen)
        return jstrict_fail(js, -EINVAL, "given twice");
    uint32_t n = js->n_keys - l->key_base;
    if (n == INDEX_AT || (l->index != NULL && 2 * n > l->index_mask)) {
        if (index_build(js, l) < 0)
            return oom(js);
    } else if (l->index != NULL) {
        index_put(js, l, js->n_keys - 1);
    }
    return js->cb->on_key != NULL ? js->cb->on_key(js->ctx, k, len) : 1;
}

static int
y_end_map(void *ctx)
{
    struct jstrict *js = ctx;
    if (js->cb->on_end_map != NULL && !js->cb->on_end_map(js->ctx))
        return 0;
    pop(js);
    if (js->depth > 0)
        return 1;
    /* The root object ended: stop yajl, the rest must be white space. */
    js->done = true;
    js->end_at = yajl_get_bytes_consumed(js->yh);
    return 0;
}

static int
y_start_array(void *ctx)
{
    struct jstrict *js = ctx;
    if (!value_begin(js, false) || !room(js))
        return 0;
    if (js->cb->on_start_array != NULL && !js->cb->on_start_array(js->ctx))
        return 0;
    return push(js, false);
}

static int
y_end_array(void *ctx)
{
    struct jstrict *js = ctx;
    if (js->cb->on_end_array != NULL && !js->cb->on_end_array(js->ctx))
        return 0;
    pop(js);
    return 1;
}

static const yajl_callbacks y_callbacks = {
    .yajl_null = y_null,
    .yajl_boolean = y_boolean,
    .yajl_number = y_number,
    .yajl_string = y_string,
    .yajl_start_map = y_start_map,
    .yajl_map_key = y_map_key,
    .yajl_end_map = y_end_map,
    .yajl_start_array = y_start_array,
    .yajl_end_array = y_end_array,
};

/* --- life and feeding ---------------------------------------------------------------------- */

struct jstrict *
jstrict_new(const struct jstrict_config *cfg, const struct jstrict_callbacks *cb, void *ctx)
{
    struct jstrict *js = calloc(1, sizeof(*js));
    if (js == NULL)
        return NULL;
    const char *src = cfg->source != NULL ? cfg->source : "<stdin>";
    size_t n = strlen(src);
    js->source = malloc(n + 1);
    js->max_depth = cfg->max_depth > 0 ? cfg->max_depth : 1;
    js->levels = calloc(js->max_depth, sizeof(*js->levels));
    /* Never NULL, so that an empty key's record points somewhere (arena + 0). */
    js->arena_cap = 256;
    js->arena = malloc(js->arena_cap);
    js->yh = yajl_alloc(&y_callbacks, NULL, js);
    if (js->source == NULL || js->levels == NULL || js->arena == NULL || js->yh == NULL) {
        jstrict_free(js);
        return NULL;
    }
    memcpy(js->source, src, n + 1);
    js->source_on_fields = cfg->source_on_fields;
    js->cb = cb;
    js->ctx = ctx;
    return js;
}

void
jstrict_free(struct jstrict *js)
{
    if (js == NULL)
        return;
    while (js->levels != NULL && js->depth > 0)
        pop(js);
    if (js->yh != NULL)
        yajl_free(js->yh);
    free(js->levels);
    free(js->keys);
    free(js->arena);
    free(js->source);
    free(js);
}

static int
result(const struct jstrict *js, struct perr *err)
{
    if (err != NULL)
        *err = js->err;
    return js->code;
}

/* yajl's description of its error, without "parse error: " and the final period. */
static int
yajl_failure(struct jstrict *js, const unsigned char *p, size_t len, size_t at)
{
    unsigned char *msg = yajl_get_error(js->yh, 0, p, len);
    const char *text = msg != NULL ? (const char *)msg : "invalid JSON";
    const char *colon = strchr(text, ':');
    const char *what = colon != NULL ? colon + 1 : text;
    while (*what == ' ')
        what++;
    size_t wl = strlen(what);
    while (wl > 0 && (what[wl - 1] == '\n' || what[wl - 1] == ' ' || what[wl - 1] == '.'))
        wl--;
    (void)syntax_error_at(js, at, what, (int)wl);
    if (msg != NULL)
        yajl_free_error(js->yh, msg);
    return js->code;
}

/* Parse `len` bytes of the current chunk (its start) with yajl. 0 or the error's code. */
static int
parse(struct jstrict *js, const unsigned char *p, size_t len)
{
    js->in_parse = true;
    yajl_status st = yajl_parse(js->yh, p, len);
    size_t at = yajl_get_bytes_consumed(js->yh);
    js->in_parse = false;
    if (st == yajl_status_ok || (st == yajl_status_client_canceled && js->done && !js->failed))
        return 0;
    if (js->failed)
        return js->code;
    if (st == yajl_status_client_canceled) {
        (void)syntax_error_at(js, at, "stopped by the decoder", 22);
        return js->code;
    }
    return yajl_failure(js, p, len, at < len ? at : len);
}

/* After the root object: only white space. */
static int
trailing(struct jstrict *js, const unsigned char *p, size_t from, size_t len)
{
    for (size_t i = from; i < len; i++) {
        unsigned char c = p[i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            (void)syntax_error_at(js, i, "data after the object", 21);
            return js->code;
        }
    }
    return 0;
}

/* Account for the chunk in the position of the next one. */
static void
advance(struct jstrict *js, const unsigned char *p, size_t len)
{
    const unsigned char *last = NULL;
    const unsigned char *q = p;
    const unsigned char *end = p + len;
    while (q < end) {
        const unsigned char *nl = memchr(q, '\n', (size_t)(end - q));
        if (nl == NULL)
            break;
        js->lines_before++;
        last = nl;
        q = nl + 1;
    }
    js->col_before = last != NULL ? (size_t)(end - last - 1) : js->col_before + len;
    js->offset_before += len;
}

/* Is anything but JSON white space in `p`? */
static bool
has_token(const unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
            return true;
    }
    return false;
}

int
jstrict_feed(struct jstrict *js, const void *buf, size_t len, struct perr *err)
{
    if (js->failed)
        return result(js, err);
    const unsigned char *p = buf;
    js->chunk = p;
    js->end_at = 0;
    if (!js->any)
        js->any = has_token(p, len);
    /* JSON's white space is space, tab, CR and LF; yajl also skips \v and \f. Raw control
     * characters are invalid anywhere else too, so either is an error. */
    size_t bad = len;
    const char *what = NULL;
    const unsigned char *vt = memchr(p, '\v', len);
    const unsigned char *ff = memchr(p, '\f', vt != NULL ? (size_t)(vt - p) : len);
    if (ff != NULL || vt != NULL) {
        bad = (size_t)((ff != NULL ? ff : vt) - p);
        what = "control character";
    }
    size_t esc_at = 0;
    if (!js->done && utf8_escapes_scan(&js->esc, p, bad, &esc_at)) {
        bad = esc_at;
        what = "unpaired surrogate escape";
    }
    int r = 0;
    if (!js->done)
        r = parse(js, p, bad);
    if (r == 0 && js->done)
        r = trailing(js, p, js->end_at, len);
    if (r == 0 && what != NULL) {
        (void)syntax_error_at(js, bad, what, (int)strlen(what));
        r = js->code;
    }
    if (r < 0)
        return result(js, err);
    advance(js, p, len);
    js->chunk = NULL;
    return 0;
}

int
jstrict_finish(struct jstrict *js, struct perr *err)
{
    if (js->failed)
        return result(js, err);
    js->chunk = NULL;
    yajl_status st = yajl_status_ok;
    if (!js->done) {
        js->in_parse = true;
        st = yajl_complete_parse(js->yh);
        js->in_parse = false;
    }
    if (js->done && !js->failed && js->cb->flush != NULL) {
        js->in_flush = true;
        js->cb->flush(js->ctx);
        js->in_flush = false;
    }
    if (js->failed || js->done)
        return js->failed ? result(js, err) : 0;
    if (!js->any) {
        if (!before_error(js)) {
            mark_failed(js, -EINVAL, 0);
            perr_set(&js->err, "%s: empty input, expected a JSON object", js->source);
        }
        return result(js, err);
    }
    if (st == yajl_status_error)
        (void)yajl_failure(js, NULL, 0, 0);
    else if (st == yajl_status_client_canceled)
        (void)syntax_error_at(js, 0, "stopped by the decoder", 22);
    else
        (void)syntax_error_at(js, 0, "premature EOF", 13);
    return result(js, err);
}

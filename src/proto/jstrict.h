/* Strict JSON decoding over yajl's streaming parser, shared by the streaming decoders (the
 * snapshot, the agent's sample). It owns the yajl handle and every check that is about JSON
 * rather than about a format: the root is one object and nothing but white space follows
 * it, nesting has a limit, no object repeats a key (at any depth, ignored values included),
 * strings and keys are strict UTF-8, no \v or \f (yajl takes them for white space), no
 * unpaired surrogate escape (yajl turns them into "?"). It tracks the byte offset, line and
 * column across chunks and records the first error once, with its position. The decoder
 * gives it callbacks for the values and a function naming the pending field's path; it
 * never sees a value that failed a check here. No I/O, no logs. */
#ifndef VMLOC_PROTO_JSTRICT_H
#define VMLOC_PROTO_JSTRICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "proto/perr.h"

struct jstrict;

/* What the layer calls, each with the decoder's `ctx`. The value callbacks return 1 to go on
 * or 0 to stop, after recording the reason with one of the jstrict_fail*() calls (a 0
 * without one is reported as "stopped by the decoder"). Strings and keys are valid UTF-8
 * and only valid while the callback runs. Any callback may be NULL (the value is then
 * accepted), except `path`. */
struct jstrict_callbacks {
    int (*on_null)(void *ctx);
    int (*on_bool)(void *ctx, bool b);
    int (*on_number)(void *ctx, const char *s, size_t len); /* the text as written */
    int (*on_string)(void *ctx, const unsigned char *s, size_t len);
    int (*on_start_map)(void *ctx);
    int (*on_key)(void *ctx, const unsigned char *k, size_t len); /* after the repeat check */
    /* Called for every key, just before the checks and on_key (may be NULL): the bit (0 to 31)
     * of a key the decoder knows in the innermost object, one bit per name there, or -1. A
     * known key must be one of the decoder's names, in ASCII, of at most JSTRICT_KNOWN_MAX
     * bytes (a longer one is taken as unknown): its repeat is found by its bit, and it is
     * neither checked for UTF-8 again nor recorded with the others, which spares the decoder's
     * hottest path (the keys of a sample's VMs) most of the work of a key. */
    int (*key_bit)(void *ctx, const unsigned char *k, size_t len);
    int (*on_end_map)(void *ctx);
    int (*on_start_array)(void *ctx);
    int (*on_end_array)(void *ctx);
    /* Write the path of the value about to be read ("hosts[3].vms[1].usage.cpu"; at the top,
     * before the root object, a name for the whole input) into `buf` (`cap` bytes, always
     * NUL-terminated), for the messages of jstrict_fail() and of the layer's own checks. The
     * pending key is jstrict_key(). */
    void (*path)(const void *ctx, char *buf, size_t cap);
    /* Run the decoder's deferred checks (a batch of names) now (may be NULL): called before
     * the first error is recorded, so an error recorded here comes first, and at the end of
     * a complete input, by jstrict_finish(). */
    void (*flush)(void *ctx);
};

struct jstrict_config {
    /* Names the input: "SOURCE:LINE:COL: invalid JSON: what" for syntax errors and
     * "SOURCE: empty input, expected a JSON object". Copied. NULL: "<stdin>". */
    const char *source;
    /* Start the decoder's messages (jstrict_fail(), jstrict_failf(), the path checks) with
     * "SOURCE: " too; else they start with the path. */
    bool source_on_fields;
    /* The most levels of objects and arrays open at once (the root object is one); deeper is
     * refused with -E2BIG. At least 1. */
    unsigned max_depth;
};

/* The longest name a decoder may give a bit (jstrict_callbacks.key_bit). */
#define JSTRICT_KNOWN_MAX 15

/* A layer calling `cb` with `ctx` (both borrowed for its life). NULL only on OOM. */
struct jstrict *jstrict_new(const struct jstrict_config *cfg, const struct jstrict_callbacks *cb,
                            void *ctx);

/* Free `js`. Accepts NULL. */
void jstrict_free(struct jstrict *js);

/* Feed the next `len` bytes (any chunking gives the same result and the same messages; a
 * syntax error's column may only differ when its token straddles two chunks). 0: consumed.
 * Else the recorded error's code (-EINVAL, -E2BIG, -ENOMEM or the decoder's) with `err`
 * filled; every later call returns it again. `err` may be NULL. */
MUST_CHECK int jstrict_feed(struct jstrict *js, const void *buf, size_t len, struct perr *err);

/* The end of input: the root object must have ended. 0, or the error as for jstrict_feed()
 * (empty input, truncated input). */
MUST_CHECK int jstrict_finish(struct jstrict *js, struct perr *err);

/* The pending key of the innermost open object (its first JSTRICT_KEY_SHOWN bytes at most,
 * cut at a character boundary, for messages): "" before its first key, "(key)" after a key
 * that is not valid UTF-8. Valid until the next callback. */
#define JSTRICT_KEY_SHOWN 64
const char *jstrict_key(const struct jstrict *js, size_t *ret_len);

/* Record an error about the pending value: "[SOURCE: ]PATH: what" with the decoder's path.
 * The first error recorded wins; later ones are dropped. Returns 0 (stop), for
 * `return jstrict_fail(...)` in a callback. */
int jstrict_fail(struct jstrict *js, int code, const char *what);

/* Record an error with a message the decoder formats whole ("[SOURCE: ]" is prepended when
 * configured), e.g. a path of its own choosing. Returns 0. */
int jstrict_failf(struct jstrict *js, int code, const char *fmt, ...) PRINTF_LIKE(3, 4);

/* Record a syntax-level error at the current position: "SOURCE:LINE:COL: invalid JSON:
 * what". Returns 0. */
int jstrict_fail_syntax(struct jstrict *js, const char *what);

/* Where the recorded error is, or the current position when none is: the byte offset from
 * the start of the input (0-based), line and column (1-based). Any pointer may be NULL. */
void jstrict_position(const struct jstrict *js, size_t *ret_offset, size_t *ret_line,
                      size_t *ret_col);

/* A JSON number as yajl hands it (valid JSON number text). */
struct jstrict_number {
    double v;    /* the value as the nearest double (infinite when beyond the range) */
    int64_t i;   /* the value when int_ok */
    bool is_int; /* written without a fraction or an exponent */
    bool int_ok; /* is_int and within int64 */
};

/* Read the number `s` (`len` bytes). Short decimals take an exact fast path (the result is
 * the correctly rounded double, as strtod gives). 0: *ret set; -ENOMEM (a very long text). */
MUST_CHECK int jstrict_number_parse(const char *s, size_t len, struct jstrict_number *ret);

#endif

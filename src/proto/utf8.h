/* Strict UTF-8 checks for names that cross the wire: shortest forms only, no surrogates,
 * nothing above U+10FFFF. */
#ifndef VMLOC_PROTO_UTF8_H
#define VMLOC_PROTO_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Is `s` (`len` bytes) strict UTF-8? */
bool utf8_valid(const unsigned char *s, size_t len);

/* A NUL-terminated copy of `s` in which every byte that does not start a valid sequence is
 * replaced by U+FFFD (the caller frees it). NULL only on OOM. */
char *utf8_sanitize(const char *s);

/* Cut a NUL-terminated string that a byte-bounded copy may have cut inside a UTF-8 sequence
 * back to the last whole character, in place. */
void utf8_trim_partial(char *s);

/* yajl turns an unpaired surrogate escape ("\ud800") into "?", so text that is not proper
 * Unicode would pass and two different names could collide. This scanner finds \uXXXX
 * escapes in raw JSON bytes, across chunk boundaries, and reports a high surrogate not
 * followed by a low one, or a low one alone. Jumps from backslash to backslash, so it costs
 * little. Start from zeroed state. */
struct utf8_escapes {
    int state;  /* outside, after a backslash, or in the 4 hex digits of \u */
    int digits; /* hex digits read so far */
    unsigned value;
    bool want_low; /* a high surrogate escape was just read */
};

/* Scan the next `len` bytes of a JSON text. true: an unpaired surrogate escape ends at byte
 * *ret_at of this chunk. A malformed escape is left for the JSON parser to report. */
bool utf8_escapes_scan(struct utf8_escapes *e, const unsigned char *p, size_t len, size_t *ret_at);

#endif

/* Strict UTF-8 checks for names that cross the wire: shortest forms only, no surrogates,
 * nothing above U+10FFFF. */
#ifndef VMLOC_PROTO_UTF8_H
#define VMLOC_PROTO_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Is `s` (`len` bytes) strict UTF-8? */
bool utf8_valid(const unsigned char *s, size_t len);

/* Does `s` (`len` bytes of UTF-8) hold a character a name must not: a control character (C0,
 * DEL, C1), a bidirectional control (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069),
 * or an invisible formatting character (U+00AD, U+200B-U+200D, U+2028, U+2029,
 * U+2060-U+2064, U+FEFF, ...)? Such names garble terminals and logs, or look like another
 * name. true with the first one's code point in *ret_cp. Bytes that are not UTF-8 are left
 * to utf8_valid(). */
bool utf8_hidden_at(const unsigned char *s, size_t len, uint32_t *ret_cp);

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

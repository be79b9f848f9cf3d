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

#endif

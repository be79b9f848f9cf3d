/* Strict UTF-8 (see utf8.h). */
#include "proto/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the valid sequence at s[0] (1..4), or 0 when it is not one; its code point into
 * *ret_cp. */
static size_t
seq_decode(const unsigned char *s, size_t len, uint32_t *ret_cp)
{
    unsigned char c = s[0];
    *ret_cp = c;
    if (c < 0x80)
        return 1;
    size_t n;
    uint32_t cp;
    uint32_t min;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 1;
        cp = c & 0x1fu;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 2;
        cp = c & 0x0fu;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 3;
        cp = c & 0x07u;
        min = 0x10000;
    } else {
        return 0;
    }
    if (len <= n)
        return 0;
    for (size_t j = 1; j <= n; j++) {
        if ((s[j] & 0xc0u) != 0x80u)
            return 0;
        cp = (cp << 6) | (s[j] & 0x3fu);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    *ret_cp = cp;
    return n + 1;
}

static size_t
seq_len(const unsigned char *s, size_t len)
{
    uint32_t cp;
    return seq_decode(s, len, &cp);
}

bool
utf8_valid(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] < 0x80) { /* ASCII, the usual case, needs no decoding */
            i++;
            continue;
        }
        size_t n = seq_len(s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

char *
utf8_sanitize(const char *s)
{
    size_t len = strlen(s);
    char *out = malloc(len * 3 + 1);
    if (out == NULL)
        return NULL;
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;
    size_t i = 0;
    while (i < len) {
        size_t n = seq_len(u + i, len - i);
        if (n == 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, u + i, n);
            o += n;
            i += n;
        }
    }
    out[o] = '\0';
    return out;
}

enum {
    ESC_NONE,      /* outside an escape */
    ESC_BACKSLASH, /* after a backslash */
    ESC_HEX,       /* reading the 4 hex digits of \u */
};

static int
hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool
found_at(size_t *ret_at, size_t at)
{
    *ret_at = at;
    return true;
}

bool
utf8_escapes_scan(struct utf8_escapes *e, const unsigned char *p, size_t len, size_t *ret_at)
{
    size_t i = 0;
    while (i < len) {
        if (e->state == ESC_NONE) {
            if (e->want_low) {
                /* A high surrogate escape: the next byte must start a low one. */
                if (p[i] != '\\')
                    return found_at(ret_at, i);
                i++;
                e->state = ESC_BACKSLASH;
                continue;
            }
            const unsigned char *b = memchr(p + i, '\\', len - i);
            if (b == NULL)
                return false;
            i = (size_t)(b - p) + 1;
            e->state = ESC_BACKSLASH;
            continue;
        }
        unsigned char c = p[i++];
        if (e->state == ESC_BACKSLASH) {
            if (c == 'u') {
                e->state = ESC_HEX;
                e->digits = 0;
                e->value = 0;
            } else if (e->want_low) {
                return found_at(ret_at, i - 1);
            } else {
                e->state = ESC_NONE;
            }
            continue;
        }
        int h = hex_value(c);
        if (h < 0) {
            /* A malformed escape: the parser reports it; step back so the byte is seen
             * again. */
            e->state = ESC_NONE;
            e->want_low = false;
            i--;
            continue;
        }
        e->value = (e->value << 4) | (unsigned)h;
        if (++e->digits < 4)
            continue;
        unsigned v = e->value;
        bool high = v >= 0xd800 && v <= 0xdbff;
        bool low = v >= 0xdc00 && v <= 0xdfff;
        if (e->want_low != low)
            return found_at(ret_at, i - 1);
        e->want_low = high;
        e->state = ESC_NONE;
    }
    return false;
}

void
utf8_trim_partial(char *s)
{
    size_t n = strlen(s);
    /* Walk back over at most 3 continuation bytes to the lead byte of the last character. */
    size_t i = n;
    size_t back = 0;
    while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xC0u) == 0x80u) {
        i--;
        back++;
    }
    if (i == 0)
        return;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t want = lead < 0x80u ? 1 : (lead & 0xE0u) == 0xC0u ? 2 : (lead & 0xF0u) == 0xE0u ? 3 : 4;
    if (lead >= 0x80u && back + 1 < want)
        s[i - 1] = '\0';
}

/* Characters that show nothing or change how the text around them is shown. */
static bool
hidden_cp(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || /* C0, DEL, C1 controls */
           cp == 0xad ||                              /* soft hyphen */
           cp == 0x61c ||                             /* Arabic letter mark */
           (cp >= 0x200b && cp <= 0x200f) ||          /* zero widths, LRM, RLM */
           (cp >= 0x2028 && cp <= 0x202e) ||          /* separators, bidi embeddings, overrides */
           (cp >= 0x2060 && cp <= 0x2064) ||          /* word joiner, invisible operators */
           (cp >= 0x2066 && cp <= 0x206f) ||          /* bidi isolates, deprecated formats */
           cp == 0xfeff ||                            /* zero-width no-break space */
           (cp >= 0xfff9 && cp <= 0xfffb);            /* interlinear annotations */
}

bool
utf8_hidden_at(const unsigned char *s, size_t len, uint32_t *ret_cp)
{
    size_t i = 0;
    while (i < len) {
        uint32_t cp = s[i];
        size_t n = s[i] < 0x80 ? 1 : seq_decode(s + i, len - i, &cp);
        if (n == 0)
            return false; /* not UTF-8: utf8_valid() says so */
        if (hidden_cp(cp)) {
            *ret_cp = cp;
            return true;
        }
        i += n;
    }
    return false;
}

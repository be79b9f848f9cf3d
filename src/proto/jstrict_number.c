/* JSON numbers as yajl hands them, read exactly (jstrict.h): the decoders' every figure. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/jstrict.h"

int
jstrict_number_parse(const char *s, size_t len, struct jstrict_number *ret)
{
    bool is_int = true;
    bool simple = true; /* digits, at most one '.', an optional leading '-' */
    uint64_t mant = 0;
    int digits = 0;
    int frac = -1;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            mant = mant * 10 + (uint64_t)(c - '0');
            digits++;
            if (frac >= 0)
                frac++;
        } else if (c == '.') {
            is_int = false;
            frac = 0;
        } else if (c == 'e' || c == 'E') {
            is_int = false;
            simple = false;
        } else if (!(c == '-' && i == 0)) {
            simple = false;
        }
    }
    bool neg = len > 0 && s[0] == '-';
    /* Most values are short decimals: with at most 15 digits the mantissa and the power of
     * ten are exact doubles and one division rounds correctly, as strtod would; an integer
     * of at most 18 digits is exact in an int64. */
    static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    if (simple && !is_int && frac > 0 && digits <= 15) {
        double v = (double)mant / pow10[frac];
        *ret = (struct jstrict_number){.v = neg ? -v : v};
        return 0;
    }
    if (simple && is_int && digits > 0 && digits <= 18) {
        int64_t i = neg ? -(int64_t)mant : (int64_t)mant;
        double v = (double)i;
        if (neg && mant == 0)
            v = -0.0; /* as strtod reads "-0" */
        *ret = (struct jstrict_number){.v = v, .i = i, .is_int = true, .int_ok = true};
        return 0;
    }
    char small[64];
    char *buf = len < sizeof(small) ? small : malloc(len + 1);
    if (buf == NULL)
        return -ENOMEM;
    memcpy(buf, s, len);
    buf[len] = '\0';
    struct jstrict_number n = {.is_int = is_int};
    char *end = NULL;
    n.v = strtod(buf, &end);
    if (is_int) {
        errno = 0;
        long long iv = strtoll(buf, &end, 10);
        n.int_ok = errno == 0 && end == buf + len;
        n.i = n.int_ok ? (int64_t)iv : 0;
    }
    if (buf != small)
        free(buf);
    *ret = n;
    return 0;
}

/* Typed settings: text -> field, field -> text, by type and range. See setting.h. */
#include "proto/setting.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
setting_parse_bool(const char *v, bool *ret)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcmp(v, yes[i]) == 0) {
            *ret = true;
            return 0;
        }
        if (strcmp(v, no[i]) == 0) {
            *ret = false;
            return 0;
        }
    }
    return -EINVAL;
}

/* A finite number, the whole text: 0, or -EINVAL (also for an overflow or an underflow). */
static int
parse_number(const char *v, double *ret)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(v, &end);
    if (*v == '\0' || end == v || *end != '\0' || errno != 0 || !isfinite(d))
        return -EINVAL;
    *ret = d;
    return 0;
}

static size_t
choice_count(const struct setting *s)
{
    size_t n = 0;
    while (s->choices[n] != NULL)
        n++;
    return n;
}

static int
choice_value(const struct setting *s, size_t i)
{
    return s->values != NULL ? s->values[i] : (int)i;
}

/* Number `d` for people: a whole number in all its digits (7776000, not "%g"'s 7.776e+06),
 * anything else as "%g". Both read back with setting_parse(). */
static void
number_text(double d, char *buf, size_t len)
{
    if (d > -1e15 && d < 1e15 && d == (double)(long long)d)
        (void)snprintf(buf, len, "%lld", (long long)d);
    else
        (void)snprintf(buf, len, "%g", d);
}

/* What a valid value of `s` is, when the table says nothing: from the type and range. */
static void
default_why(const struct setting *s, char *why, size_t len)
{
    size_t off = 0;
    char lo[32];
    char hi[32];
    switch (s->type) {
    case SETTING_STRING:
        (void)snprintf(why, len, "must be 1 to %zu bytes",
                       s->max_len != 0 ? s->max_len : s->size - 1);
        return;
    case SETTING_BOOL:
        (void)snprintf(why, len, "must be yes or no");
        return;
    case SETTING_DOUBLE:
        number_text(s->lo, lo, sizeof(lo));
        number_text(s->hi, hi, sizeof(hi));
        (void)snprintf(why, len, "must be a number from %s%s to %s", lo,
                       s->lo_open ? " (excluded)" : "", hi);
        return;
    case SETTING_INT:
        (void)snprintf(why, len, "must be a whole number from %.0f to %.0f", s->lo, s->hi);
        return;
    case SETTING_ENUM:
        off = (size_t)snprintf(why, len, "must be one of");
        for (size_t i = 0; s->choices[i] != NULL && off < len; i++)
            off += (size_t)snprintf(why + off, len - off, "%s %s", i ? "," : "", s->choices[i]);
        return;
    }
}

static int
refuse(const struct setting *s, int code, char *why, size_t len)
{
    if (s->why != NULL)
        (void)snprintf(why, len, "%s", s->why);
    else
        default_why(s, why, len);
    return code;
}

/* The fields a whole number or an enum's value goes into: int64_t, int32_t or uint32_t (an
 * enum is an int), or a bool. */
union int_field {
    int64_t i64;
    int32_t i32;
    uint32_t u32;
    bool b;
};

static void
store_int(void *field, size_t size, bool is_signed, long long n)
{
    union int_field f;
    if (size == sizeof(f.i64))
        f.i64 = (int64_t)n;
    else if (size == sizeof(f.b))
        f.b = n != 0;
    else if (is_signed)
        f.i32 = (int32_t)n;
    else
        f.u32 = (uint32_t)n;
    memcpy(field, &f, size);
}

static long long
load_int(const void *field, size_t size, bool is_signed)
{
    union int_field f;
    memcpy(&f, field, size);
    if (size == sizeof(f.i64))
        return f.i64;
    if (size == sizeof(f.b))
        return f.b;
    return is_signed ? f.i32 : (long long)f.u32;
}

static int
parse_string(const struct setting *s, char *field, const char *v, char *why, size_t len)
{
    size_t max = s->max_len != 0 ? s->max_len : s->size - 1;
    size_t n = strlen(v);
    if (n == 0 || n > max || (s->check != NULL && !s->check(v)))
        return refuse(s, -EINVAL, why, len);
    memcpy(field, v, n + 1);
    return 0;
}

static int
parse_num(const struct setting *s, char *field, const char *v, char *why, size_t len)
{
    double d;
    if (parse_number(v, &d) < 0)
        return refuse(s, -EINVAL, why, len);
    if (s->type == SETTING_INT && d != floor(d))
        return refuse(s, -EINVAL, why, len);
    if ((s->lo_open ? !(d > s->lo) : !(d >= s->lo)) || !(d <= s->hi))
        return refuse(s, -ERANGE, why, len);
    if (s->type == SETTING_INT)
        store_int(field, s->size, s->lo < 0, (long long)d);
    else
        memcpy(field, &d, sizeof(d));
    return 0;
}

int
setting_parse(const struct setting *s, void *target, const char *v, char *why, size_t why_len)
{
    char *field = (char *)target + s->offset;
    int r = 0;
    bool b;
    switch (s->type) {
    case SETTING_STRING:
        r = parse_string(s, field, v, why, why_len);
        break;
    case SETTING_BOOL:
        if (setting_parse_bool(v, &b) < 0)
            return refuse(s, -EINVAL, why, why_len);
        memcpy(field, &b, sizeof(b));
        break;
    case SETTING_DOUBLE:
    case SETTING_INT:
        r = parse_num(s, field, v, why, why_len);
        break;
    case SETTING_ENUM:
        r = refuse(s, -EINVAL, why, why_len);
        for (size_t i = 0; s->choices[i] != NULL; i++) {
            if (strcmp(v, s->choices[i]) == 0) {
                store_int(field, s->size, true, choice_value(s, i));
                r = 0;
                break;
            }
        }
        break;
    }
    if (r == 0 && s->flag != 0) {
        b = true;
        memcpy((char *)target + s->flag - 1, &b, sizeof(b));
    }
    return r;
}

const char *
setting_format(const struct setting *s, const void *target, bool exact, char *buf, size_t len)
{
    const char *field = (const char *)target + s->offset;
    double d;
    bool b;
    int e;
    switch (s->type) {
    case SETTING_STRING:
        (void)snprintf(buf, len, "%s", field);
        break;
    case SETTING_BOOL:
        memcpy(&b, field, sizeof(b));
        (void)snprintf(buf, len, "%s", b ? "yes" : "no");
        break;
    case SETTING_DOUBLE:
        memcpy(&d, field, sizeof(d));
        if (exact)
            (void)snprintf(buf, len, "%.17g", d);
        else
            number_text(d, buf, len);
        break;
    case SETTING_INT:
        (void)snprintf(buf, len, "%lld", load_int(field, s->size, s->lo < 0));
        break;
    case SETTING_ENUM:
        e = (int)load_int(field, s->size, true);
        (void)snprintf(buf, len, "?");
        for (size_t i = 0; i < choice_count(s); i++) {
            if (choice_value(s, i) == e) {
                (void)snprintf(buf, len, "%s", s->choices[i]);
                break;
            }
        }
        break;
    }
    return buf;
}

bool
setting_given(const struct setting *s, const void *target)
{
    bool b = true;
    if (s->flag != 0)
        memcpy(&b, (const char *)target + s->flag - 1, sizeof(b));
    return b;
}

/* A typed setting: how one configuration value is read from text, checked against its type and
 * range, stored into a field of the caller's struct (found by its offset), and written back as
 * text. The policy file's key table (policy_ini_keys.c) and the daemons' option tables
 * (cli/opt_table.c) are made of these, so every key of every file and every option is read by
 * the same code. Pure: no I/O, no allocation, no globals. */
#ifndef VMLOC_PROTO_SETTING_H
#define VMLOC_PROTO_SETTING_H

#include <stdbool.h>
#include <stddef.h>

#include "core/compiler.h"

enum setting_type {
    SETTING_STRING, /* 1 to max_len bytes into a char array; `check` may refuse the text */
    SETTING_BOOL,   /* yes/no, true/false, on/off, 1/0 into a bool */
    SETTING_DOUBLE, /* a finite number in [lo, hi] ((lo, hi] with lo_open) into a double */
    SETTING_INT,    /* a whole number in [lo, hi] into an int32_t, uint32_t or int64_t */
    SETTING_ENUM,   /* one of `choices` into an enum (int-sized) or a bool */
};

/* The offset and size of `member` in `type`: where a setting stores its value. */
#define SETTING_FIELD(type, member)                                                                \
    .offset = offsetof(type, member), .size = sizeof(((type *)NULL)->member)

/* A bool `member` of `type` that becomes true when the setting is applied ("was it given?"). */
#define SETTING_FLAG(type, member) .flag = offsetof(type, member) + 1

/* The usual settings, for tables: `.set = {SETTING_NUMBER(SETTING_FIELD(...), 0, 100, "...")}`;
 * more fields may follow (`, .lo_open = true`). */
#define SETTING_NUMBER(field, lo_, hi_, why_)                                                      \
    SETTING_DOUBLE, field, .lo = (lo_), .hi = (hi_), .why = (why_)
#define SETTING_WHOLE(field, lo_, hi_, why_)                                                       \
    SETTING_INT, field, .lo = (lo_), .hi = (hi_), .why = (why_)
#define SETTING_TEXT(field, check_, why_) SETTING_STRING, field, .check = (check_), .why = (why_)
#define SETTING_CHOICE(field, choices_, why_)                                                      \
    SETTING_ENUM, field, .choices = (choices_), .why = (why_)

/* Room for the text of setting_parse()'s `why`. */
#define SETTING_WHY_MAX 256

struct setting {
    enum setting_type type;
    size_t offset; /* of the field in the target struct (SETTING_FIELD) */
    size_t size;   /* of the field */
    size_t flag;   /* 1 + offset of a bool set when the value is stored; 0: none */
    double lo;     /* DOUBLE, INT: the range */
    double hi;
    bool lo_open;                 /* DOUBLE: lo itself is refused */
    size_t max_len;               /* STRING: longest value in bytes; 0: what the field holds */
    const char *const *choices;   /* ENUM: the names, NULL-terminated */
    const int *values;            /* ENUM: each name's value; NULL: its index */
    bool (*check)(const char *v); /* STRING: a further check of the text, or NULL */
    const char *why; /* what a valid value is, said when one is refused; NULL: made from the
                        type and range ("must be one of any, all") */
};

/* Parse `v` as `s` says and store it into the struct at `target` (and set its flag). 0 on
 * success. -ERANGE: a number outside the range; -EINVAL: anything else (not a number, not
 * a whole number, not one of the choices, an empty or too long text, refused by `check`). On
 * error `why` (`why_len` bytes, SETTING_WHY_MAX is enough) says what a valid value is, and
 * `target` is untouched. */
MUST_CHECK int setting_parse(const struct setting *s, void *target, const char *v, char *why,
                             size_t why_len);

/* The value of `s` in the struct at `target` as text that setting_parse() reads back, into
 * `buf` (`len` bytes, truncated to fit). `exact`: doubles with 17 digits, so that they read back
 * equal; else as "%g" (for people). Returns `buf`. */
const char *setting_format(const struct setting *s, const void *target, bool exact, char *buf,
                           size_t len);

/* Was `s` given: its flag in the struct at `target`, or true when it has none. */
bool setting_given(const struct setting *s, const void *target);

/* "yes", "true", "on", "1" (true) or "no", "false", "off", "0" (false) into *ret. 0 or
 * -EINVAL (*ret untouched). The one reading of a yes-or-no value. */
MUST_CHECK int setting_parse_bool(const char *v, bool *ret);

#endif

/* Unit tests of typed settings (proto/setting.h): every type with good values, values out of
 * range, values of the wrong type, what `why` says, the field and flag left alone on error,
 * and setting_format() reading back to the same field. Table-driven: each row is one test. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
/* cmocka.h needs the headers above included first. */
#include <cmocka.h>

#include "core/compiler.h"
#include "proto/setting.h"

enum color {
    COLOR_RED,
    COLOR_GREEN,
    COLOR_BLUE,
};

struct target {
    char name[8];
    bool on;
    double ratio;
    uint32_t count;
    int64_t prio;
    int32_t offset;
    enum color color;
    bool must;
    bool given;
};

#define T(member) SETTING_FIELD(struct target, member)

static const char *const colors[] = {"red", "green", "blue", NULL};
static const char *const strengths[] = {"must", "should", NULL};
static const int strength_values[] = {true, false};

static bool
no_x(const char *v)
{
    return strchr(v, 'x') == NULL;
}

static const struct setting s_name = {SETTING_STRING, T(name), .check = no_x};
static const struct setting s_short = {SETTING_STRING, T(name), .max_len = 3, .why = "short"};
static const struct setting s_on = {SETTING_BOOL, T(on)};
static const struct setting s_ratio = {SETTING_DOUBLE, T(ratio), SETTING_FLAG(struct target, given),
                                       .lo = 0, .hi = 100};
static const struct setting s_open = {SETTING_DOUBLE, T(ratio),        .lo = 0,
                                      .hi = 1,        .lo_open = true, .why = "above 0"};
static const struct setting s_count = {SETTING_INT, T(count), .lo = 0, .hi = 4294967295.0};
static const struct setting s_prio = {SETTING_INT, T(prio), .lo = -1e15, .hi = 1e15};
static const struct setting s_offset = {SETTING_INT, T(offset), .lo = -10, .hi = 10};
static const struct setting s_color = {SETTING_ENUM, T(color), .choices = colors};
static const struct setting s_must = {SETTING_ENUM, T(must), .choices = strengths,
                                      .values = strength_values};

struct parse_case {
    const char *name;
    const struct setting *s;
    const char *text;
    int want;          /* setting_parse()'s result */
    const char *value; /* ok: the field as setting_format() writes it */
    const char *why;   /* error: what `why` must say, all of it */
};

static const struct parse_case cases[] = {
    {"string", &s_name, "web-1", 0, "web-1", NULL},
    {"string, longest", &s_name, "1234567", 0, "1234567", NULL},
    {"string too long for the field", &s_name, "12345678", -EINVAL, NULL, "must be 1 to 7 bytes"},
    {"string empty", &s_name, "", -EINVAL, NULL, "must be 1 to 7 bytes"},
    {"string refused by its check", &s_name, "box", -EINVAL, NULL, "must be 1 to 7 bytes"},
    {"string over max_len", &s_short, "abcd", -EINVAL, NULL, "short"},
    {"string at max_len", &s_short, "abc", 0, "abc", NULL},
    {"bool yes", &s_on, "yes", 0, "yes", NULL},
    {"bool on", &s_on, "on", 0, "yes", NULL},
    {"bool 1", &s_on, "1", 0, "yes", NULL},
    {"bool true", &s_on, "true", 0, "yes", NULL},
    {"bool off", &s_on, "off", 0, "no", NULL},
    {"bool false", &s_on, "false", 0, "no", NULL},
    {"bool 0", &s_on, "0", 0, "no", NULL},
    {"bool maybe", &s_on, "maybe", -EINVAL, NULL, "must be yes or no"},
    {"bool case", &s_on, "Yes", -EINVAL, NULL, "must be yes or no"},
    {"double", &s_ratio, "12.5", 0, "12.5", NULL},
    {"double at lo", &s_ratio, "0", 0, "0", NULL},
    {"double at hi", &s_ratio, "100", 0, "100", NULL},
    {"double above hi", &s_ratio, "100.5", -ERANGE, NULL, "must be a number from 0 to 100"},
    {"double below lo", &s_ratio, "-1", -ERANGE, NULL, "must be a number from 0 to 100"},
    {"double word", &s_ratio, "abc", -EINVAL, NULL, "must be a number from 0 to 100"},
    {"double trailing", &s_ratio, "5x", -EINVAL, NULL, "must be a number from 0 to 100"},
    {"double empty", &s_ratio, "", -EINVAL, NULL, "must be a number from 0 to 100"},
    {"double nan", &s_ratio, "nan", -EINVAL, NULL, "must be a number from 0 to 100"},
    {"double inf", &s_ratio, "inf", -EINVAL, NULL, "must be a number from 0 to 100"},
    {"double overflow", &s_ratio, "1e999", -EINVAL, NULL, "must be a number from 0 to 100"},
    {"double underflow", &s_ratio, "1e-400", -EINVAL, NULL, "must be a number from 0 to 100"},
    {"double lo excluded", &s_open, "0", -ERANGE, NULL, "above 0"},
    {"double just above lo", &s_open, "1e-9", 0, "1.0000000000000001e-09", NULL},
    {"int", &s_count, "42", 0, "42", NULL},
    {"int 32 bits", &s_count, "4294967295", 0, "4294967295", NULL},
    {"int beyond 32 bits", &s_count, "4294967296", -ERANGE, NULL,
     "must be a whole number from 0 to 4294967295"},
    {"int fraction", &s_count, "2.5", -EINVAL, NULL, "must be a whole number from 0 to 4294967295"},
    {"int negative", &s_count, "-1", -ERANGE, NULL, "must be a whole number from 0 to 4294967295"},
    {"int exponent", &s_count, "1e3", 0, "1000", NULL},
    {"int64 negative", &s_prio, "-123456789012", 0, "-123456789012", NULL},
    {"int64 out of range", &s_prio, "2e15", -ERANGE, NULL,
     "must be a whole number from -1000000000000000 to 1000000000000000"},
    {"int32 negative", &s_offset, "-10", 0, "-10", NULL},
    {"enum", &s_color, "blue", 0, "blue", NULL},
    {"enum first", &s_color, "red", 0, "red", NULL},
    {"enum unknown", &s_color, "pink", -EINVAL, NULL, "must be one of red, green, blue"},
    {"enum case", &s_color, "Red", -EINVAL, NULL, "must be one of red, green, blue"},
    {"enum into a bool, with values", &s_must, "should", 0, "should", NULL},
    {"enum into a bool, true", &s_must, "must", 0, "must", NULL},
};

/* A target that no case writes: every byte 0x5a, so that any change shows. */
static void
fill(struct target *t)
{
    memset(t, 0x5a, sizeof(*t));
    t->given = false;
    t->must = true;
}

static void
test_parse(void **state)
{
    const struct parse_case *c = *state;
    struct target t;
    struct target before;
    char why[SETTING_WHY_MAX] = "";
    fill(&t);
    before = t;
    int r = setting_parse(c->s, &t, c->text, why, sizeof(why));
    if (r != c->want)
        fail_msg("%s: \"%s\" gave %d, expected %d (%s)", c->name, c->text, r, c->want, why);
    if (r < 0) {
        assert_string_equal(why, c->why);
        assert_memory_equal(&t, &before, sizeof(t)); /* untouched, flag too */
        return;
    }
    char out[128];
    assert_string_equal(setting_format(c->s, &t, true, out, sizeof(out)), c->value);
    assert_int_equal(t.given, c->s->flag != 0);
    /* What setting_format() writes reads back to the same field. */
    struct target again;
    fill(&again);
    assert_int_equal(setting_parse(c->s, &again, out, why, sizeof(why)), 0);
    assert_memory_equal((char *)&t + c->s->offset, (char *)&again + c->s->offset, c->s->size);
}

/* Only the field (and the flag) change: the bytes around stay. */
static void
test_only_the_field(void **state)
{
    (void)state;
    struct target t;
    fill(&t);
    struct target before = t;
    char why[SETTING_WHY_MAX];
    assert_int_equal(setting_parse(&s_offset, &t, "7", why, sizeof(why)), 0);
    assert_int_equal(t.offset, 7);
    t.offset = before.offset;
    assert_memory_equal(&t, &before, sizeof(t));
}

static void
test_given(void **state)
{
    (void)state;
    struct target t;
    fill(&t);
    char why[SETTING_WHY_MAX];
    assert_false(setting_given(&s_ratio, &t));
    assert_true(setting_given(&s_on, &t)); /* no flag: always given */
    assert_int_equal(setting_parse(&s_ratio, &t, "500", why, sizeof(why)), -ERANGE);
    assert_false(setting_given(&s_ratio, &t));
    assert_int_equal(setting_parse(&s_ratio, &t, "50", why, sizeof(why)), 0);
    assert_true(setting_given(&s_ratio, &t));
}

/* For people, doubles are short ("%g"); exact, they read back equal. */
static void
test_format(void **state)
{
    (void)state;
    struct target t;
    fill(&t);
    t.ratio = 0.1 + 0.2;
    char out[64];
    assert_string_equal(setting_format(&s_ratio, &t, false, out, sizeof(out)), "0.3");
    /* A whole number in all its digits, not "%g"'s exponent (a retention of 90 days). */
    t.ratio = 7776000;
    assert_string_equal(setting_format(&s_ratio, &t, false, out, sizeof(out)), "7776000");
    t.ratio = -1e9;
    assert_string_equal(setting_format(&s_ratio, &t, false, out, sizeof(out)), "-1000000000");
    t.ratio = 1.5e20;
    assert_string_equal(setting_format(&s_ratio, &t, false, out, sizeof(out)), "1.5e+20");
    t.ratio = 0.1 + 0.2;
    assert_string_equal(setting_format(&s_ratio, &t, true, out, sizeof(out)),
                        "0.30000000000000004");
    t.color = (enum color)7;
    assert_string_equal(setting_format(&s_color, &t, true, out, sizeof(out)), "?");
    /* A short buffer: truncated, still a string. */
    (void)snprintf(t.name, sizeof(t.name), "abcdef");
    assert_string_equal(setting_format(&s_name, &t, true, out, 4), "abc");
}

static void
test_parse_bool(void **state)
{
    (void)state;
    bool b = false;
    assert_int_equal(setting_parse_bool("on", &b), 0);
    assert_true(b);
    assert_int_equal(setting_parse_bool("no", &b), 0);
    assert_false(b);
    b = true;
    assert_int_equal(setting_parse_bool("", &b), -EINVAL);
    assert_true(b);
}

/* A short `why` buffer: truncated, never overrun. */
static void
test_short_why(void **state)
{
    (void)state;
    struct target t;
    fill(&t);
    char why[8];
    memset(why, 'z', sizeof(why));
    assert_int_equal(setting_parse(&s_color, &t, "pink", why, 6), -EINVAL);
    assert_string_equal(why, "must ");
    assert_int_equal(why[7], 'z');
}

int
main(void)
{
    struct CMUnitTest tests[ARRAY_SIZE(cases)];
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        tests[i] = (struct CMUnitTest){cases[i].name, test_parse, NULL, NULL, (void *)&cases[i]};
    }
    const struct CMUnitTest misc[] = {
        cmocka_unit_test(test_only_the_field), cmocka_unit_test(test_given),
        cmocka_unit_test(test_format),         cmocka_unit_test(test_parse_bool),
        cmocka_unit_test(test_short_why),
    };
    int failed = _cmocka_run_group_tests("setting parse", tests, ARRAY_SIZE(tests), NULL, NULL);
    failed += cmocka_run_group_tests_name("setting misc", misc, NULL, NULL);
    return failed != 0;
}

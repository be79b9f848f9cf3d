/* Unit tests of the strict JSON layer (proto/jstrict.h), through a small decoder that records
 * what it is handed: every check of the layer (root an object, data after it, \v and \f,
 * unpaired surrogate escapes, repeated keys at any depth and among many keys, UTF-8 in
 * strings and keys, nesting, empty and truncated input), the same verdict and message
 * whatever the chunking, line and column across chunks, one error recorded once, the
 * decoder's flush hook, the pending key, and numbers (the fast path against strtod).
 * Everything runs twice: without and with names the decoder knows (key_bit), which must not
 * change a verdict or a message. Table-driven; no I/O. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs the headers above included first. */
#include <cmocka.h>

#include "proto/jstrict.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* The decoder under the layer: it counts events, keeps the depth, and names a path as
 * "top" or "d<depth>.<key>"; a string "fail" makes it refuse the value, "stop" makes it
 * stop without a reason. */
struct rec {
    struct jstrict *js;
    int depth;
    int events;
    int flushes;
    bool fail_in_flush;
};

static void
rec_path(const void *ctx, char *buf, size_t cap)
{
    const struct rec *r = ctx;
    size_t kl;
    const char *k = jstrict_key(r->js, &kl);
    if (r->depth == 0)
        (void)snprintf(buf, cap, "top");
    else
        (void)snprintf(buf, cap, "d%d.%.*s", r->depth, (int)kl, k);
}

static int
rec_value(void *ctx)
{
    struct rec *r = ctx;
    r->events++;
    return 1;
}

static int
rec_bool(void *ctx, bool b)
{
    (void)b;
    return rec_value(ctx);
}

static int
rec_number(void *ctx, const char *s, size_t len)
{
    (void)s;
    (void)len;
    return rec_value(ctx);
}

static int
rec_string(void *ctx, const unsigned char *s, size_t len)
{
    struct rec *r = ctx;
    r->events++;
    if (len == 4 && memcmp(s, "fail", 4) == 0)
        return jstrict_fail(r->js, -EINVAL, "refused by the decoder");
    if (len == 4 && memcmp(s, "stop", 4) == 0)
        return 0;
    return 1;
}

static int
rec_open(void *ctx)
{
    struct rec *r = ctx;
    r->events++;
    r->depth++;
    return 1;
}

static int
rec_close(void *ctx)
{
    struct rec *r = ctx;
    r->events++;
    r->depth--;
    return 1;
}

static int
rec_key(void *ctx, const unsigned char *k, size_t len)
{
    (void)k;
    (void)len;
    return rec_value(ctx);
}

static void
rec_flush(void *ctx)
{
    struct rec *r = ctx;
    r->flushes++;
    if (r->fail_in_flush)
        (void)jstrict_failf(r->js, -EINVAL, "deferred: found in flush");
}

static const struct jstrict_callbacks rec_callbacks = {
    .on_null = rec_value,
    .on_bool = rec_bool,
    .on_number = rec_number,
    .on_string = rec_string,
    .on_start_map = rec_open,
    .on_key = rec_key,
    .on_end_map = rec_close,
    .on_start_array = rec_open,
    .on_end_array = rec_close,
    .path = rec_path,
    .flush = rec_flush,
};

/* The same decoder, which knows some names (jstrict_callbacks.key_bit): "a", "b", "k" and
 * "x" take bits 0 to 3, a name longer than JSTRICT_KNOWN_MAX bit 4 (so it is taken as
 * unknown), "z31" bit 31 and "z32" 32 (no bit: unknown). Every case must give the same
 * verdict and message either way. */
static int
rec_key_bit(void *ctx, const unsigned char *k, size_t len)
{
    (void)ctx;
    static const char *const names[] = {"a", "b", "k", "x", "a-name-too-long-to-know"};
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        if (strlen(names[i]) == len && memcmp(names[i], k, len) == 0)
            return (int)i;
    }
    /* The highest bit, and one past it (taken as unknown). */
    if (len == 3 && memcmp(k, "z31", 3) == 0)
        return 31;
    if (len == 3 && memcmp(k, "z32", 3) == 0)
        return 32;
    return -1;
}

static struct jstrict_callbacks known_callbacks;
static const struct jstrict_callbacks *callbacks = &rec_callbacks;

#define DEPTH 8

/* Decode `in` fed in chunks of `chunk` bytes (0: whole). Returns the code; err filled. */
static int
decode(const char *in, size_t len, size_t chunk, struct rec *r, struct perr *err)
{
    const struct jstrict_config cfg = {.source = "in", .max_depth = DEPTH};
    memset(r, 0, sizeof(*r));
    r->js = jstrict_new(&cfg, callbacks, r);
    assert_non_null(r->js);
    memset(err, 0, sizeof(*err));
    int ret = 0;
    size_t step = chunk != 0 ? chunk : len;
    for (size_t at = 0; ret == 0 && at < len; at += step)
        ret = jstrict_feed(r->js, in + at, len - at < step ? len - at : step, err);
    if (ret == 0)
        ret = jstrict_finish(r->js, err);
    return ret;
}

struct case_ {
    const char *name;
    const char *in;
    int code;         /* 0: accepted */
    const char *want; /* the whole message, when refused */
};

static const struct case_ cases[] = {
    {"an object", "{\"a\":[1,true,null,\"s\",{}],\"b\":{\"c\":-0.5}}", 0, NULL},
    {"white space around", " \r\n\t{}\n\t \r", 0, NULL},
    {"root an array", "[1]", -EINVAL, "top: must be a JSON object"},
    {"root a number", "5", -EINVAL, "top: must be a JSON object"},
    {"root a string", "\"x\"", -EINVAL, "top: must be a JSON object"},
    {"empty", "", -EINVAL, "in: empty input, expected a JSON object"},
    {"white space only", " \n ", -EINVAL, "in: empty input, expected a JSON object"},
    {"truncated", "{\"a\":\n[1,", -EINVAL, "in:2:4: invalid JSON: premature EOF"},
    {"data after", "{}\n x", -EINVAL, "in:2:2: invalid JSON: data after the object"},
    {"unfinished string after", "{} \"ab", -EINVAL, "in:1:4: invalid JSON: data after the object"},
    {"unfinished literal after", "{}tr", -EINVAL, "in:1:3: invalid JSON: data after the object"},
    {"two objects", "{}{}", -EINVAL, "in:1:3: invalid JSON: data after the object"},
    {"vertical tab", "{\"a\":\n\v1}", -EINVAL, "in:2:1: invalid JSON: control character"},
    {"form feed", "{\"a\":1}\f", -EINVAL, "in:1:8: invalid JSON: data after the object"},
    {"form feed inside", "{\f}", -EINVAL, "in:1:2: invalid JSON: control character"},
    {"error before a vertical tab", "{\"a\" 1\v}", -EINVAL, NULL},
    {"lone high surrogate", "{\"a\":\"x\\ud800y\"}", -EINVAL,
     "in:1:14: invalid JSON: unpaired surrogate escape"},
    {"lone low surrogate", "{\"a\":\"\\udc00\"}", -EINVAL,
     "in:1:12: invalid JSON: unpaired surrogate escape"},
    {"paired surrogates", "{\"a\":\"\\ud83d\\ude00\"}", 0, NULL},
    {"repeated key", "{\"a\":1,\"b\":2,\"a\":3}", -EINVAL, "d1.a: given twice"},
    {"repeated key nested", "{\"a\":{\"x\":1,\"y\":{\"x\":1},\"x\":2}}", -EINVAL,
     "d2.x: given twice"},
    {"repeated key in an array", "{\"a\":[{\"k\":1},{\"k\":1,\"k\":2}]}", -EINVAL,
     "d3.k: given twice"},
    {"same key in sibling objects", "{\"a\":{\"k\":1},\"b\":{\"k\":1},\"k\":[{\"k\":1}]}", 0, NULL},
    {"empty key twice", "{\"\":1,\"\":2}", -EINVAL, "d1.: given twice"},
    {"keys differing in length", "{\"ab\":1,\"a\":2,\"abc\":3}", 0, NULL},
    {"overlong UTF-8 string", "{\"a\":\"\xc0\xaf\"}", -EINVAL, "d1.a: invalid UTF-8"},
    {"encoded surrogate string", "{\"a\":[\"\xed\xa0\x80\"]}", -EINVAL, "d2.a: invalid UTF-8"},
    {"overlong UTF-8 key", "{\"a\":1,\"\xc0\xaf\":1}", -EINVAL, "d1.(key): invalid UTF-8 in a key"},
    {"nested to the limit", "{\"a\":[[[[[[[1]]]]]]]}", 0, NULL},
    {"nested too deeply", "{\"a\":[[[[[[[[1]]]]]]]]}", -E2BIG,
     "d8.a: nested too deeply (more than 8 levels)"},
    {"decoder refuses", "{\"a\":\"fail\"}", -EINVAL, "d1.a: refused by the decoder"},
    {"decoder stops", "{\"a\":\"stop\"}", -EINVAL, "in:1:12: invalid JSON: stopped by the decoder"},
    {"syntax error", "{\"a\":\n tru}", -EINVAL, NULL},
    {"comment", "{/* c */}", -EINVAL, NULL},
    {"repeated key escaped", "{\"a\":1,\"\\u0061\":2}", -EINVAL, "d1.a: given twice"},
    {"known and unknown keys", "{\"a\":1,\"z\":{\"x\":1,\"k\":[]},\"b\":{},\"z2\":2}", 0, NULL},
    {"unknown key repeated among known", "{\"z\":1,\"a\":1,\"b\":2,\"z\":3}", -EINVAL,
     "d1.z: given twice"},
    {"long name repeated", "{\"a-name-too-long-to-know\":1,\"a-name-too-long-to-know\":2}", -EINVAL,
     "d1.a-name-too-long-to-know: given twice"},
    {"highest bit repeated", "{\"z31\":1,\"a\":2,\"z31\":3}", -EINVAL, "d1.z31: given twice"},
    {"no bit repeated", "{\"z32\":1,\"a\":2,\"z32\":3}", -EINVAL, "d1.z32: given twice"},
    {"highest bit once", "{\"z31\":1,\"z32\":2,\"a\":3}", 0, NULL},
    {"key after a nested object", "{\"a\":{\"z\":1},\"b\":\"fail\"}", -EINVAL,
     "d1.b: refused by the decoder"},
    {"pending key after an inner object", "{\"x\":[{\"k\":1}, \"fail\"]}", -EINVAL,
     "d2.x: refused by the decoder"},
};

static void
test_case(void **state)
{
    const struct case_ *c = *state;
    size_t len = strlen(c->in);
    struct rec r;
    struct perr whole;
    int code = decode(c->in, len, 0, &r, &whole);
    jstrict_free(r.js);
    if (code != c->code)
        fail_msg("%s: code %d, want %d (%s)", c->name, code, c->code, whole.msg);
    if (c->want != NULL && strcmp(whole.msg, c->want) != 0)
        fail_msg("%s: \"%s\", want \"%s\"", c->name, whole.msg, c->want);
    if (code != 0 && (whole.msg[0] == '\0' || strchr(whole.msg, '\n') != NULL))
        fail_msg("%s: not one line: \"%s\"", c->name, whole.msg);
    /* Any chunking: the same code and message (these tokens are short, so even a syntax
     * error's column only moves when its token straddles chunks; compare its description). */
    for (size_t chunk = 1; chunk <= 7; chunk++) {
        struct perr err;
        int k = decode(c->in, len, chunk, &r, &err);
        jstrict_free(r.js);
        const char *a = strstr(whole.msg, "invalid JSON:");
        const char *b = strstr(err.msg, "invalid JSON:");
        bool same = a != NULL && b != NULL ? strcmp(a, b) == 0 : strcmp(whole.msg, err.msg) == 0;
        if (k != code || !same)
            fail_msg("%s: chunks of %zu give %d \"%s\", whole %d \"%s\"", c->name, chunk, k,
                     err.msg, code, whole.msg);
    }
}

/* Line, column and offset count across chunks (CR is no new line), and a syntax error's
 * position is yajl's (just past the offending byte) whatever the chunking, when its token
 * lies in one chunk. */
static void
test_position(void **state)
{
    (void)state;
    const char *in = "{\n\"a\": [1,\n  2,\r\n  x]}";
    size_t len = strlen(in);
    for (size_t chunk = 0; chunk <= 3; chunk++) {
        struct rec r;
        struct perr err;
        assert_int_equal(decode(in, len, chunk, &r, &err), -EINVAL);
        assert_string_equal(err.msg, "in:4:4: invalid JSON: invalid char in json text");
        size_t off;
        size_t line;
        size_t col;
        jstrict_position(r.js, &off, &line, &col);
        assert_int_equal(off, (size_t)(strchr(in, 'x') - in) + 1);
        assert_int_equal(line, 4);
        assert_int_equal(col, 4);
        jstrict_free(r.js);
    }
}

/* One error, recorded once: later feeds return it again and call nothing. */
static void
test_error_once(void **state)
{
    (void)state;
    struct rec r;
    struct perr err;
    assert_int_equal(decode("{\"a\":1,\"a\":2", 12, 0, &r, &err), -EINVAL);
    assert_string_equal(err.msg, "d1.a: given twice");
    int events = r.events;
    struct perr again;
    assert_int_equal(jstrict_feed(r.js, ",\"b\":\"fail\"}", 12, &again), -EINVAL);
    assert_string_equal(again.msg, err.msg);
    assert_int_equal(jstrict_finish(r.js, &again), -EINVAL);
    assert_string_equal(again.msg, err.msg);
    assert_int_equal(r.events, events);
    assert_int_equal(jstrict_fail(r.js, -ENOMEM, "later"), 0);
    assert_int_equal(jstrict_finish(r.js, &again), -EINVAL);
    assert_string_equal(again.msg, err.msg);
    jstrict_free(r.js);
}

/* The flush hook runs before the first error and at the end; its error comes first. */
static void
test_flush(void **state)
{
    (void)state;
    struct rec r;
    struct perr err;
    assert_int_equal(decode("{\"a\":1}", 7, 0, &r, &err), 0);
    assert_int_equal(r.flushes, 1);
    jstrict_free(r.js);
    assert_int_equal(decode("{\"a\":1,\"a\":2}", 13, 0, &r, &err), -EINVAL);
    assert_int_equal(r.flushes, 1);
    jstrict_free(r.js);

    const struct jstrict_config cfg = {.source = "in", .max_depth = DEPTH};
    memset(&r, 0, sizeof(r));
    r.fail_in_flush = true;
    r.js = jstrict_new(&cfg, callbacks, &r);
    assert_non_null(r.js);
    assert_int_equal(jstrict_feed(r.js, "{\"a\":1} x", 9, &err), -EINVAL);
    assert_string_equal(err.msg, "deferred: found in flush");
    jstrict_free(r.js);
}

/* "SOURCE: " before the decoder's messages when configured; NULL source is "<stdin>". */
static void
test_source_on_fields(void **state)
{
    (void)state;
    struct rec r;
    memset(&r, 0, sizeof(r));
    const struct jstrict_config cfg = {.source_on_fields = true, .max_depth = DEPTH};
    r.js = jstrict_new(&cfg, callbacks, &r);
    assert_non_null(r.js);
    struct perr err;
    assert_int_equal(jstrict_feed(r.js, "{\"k\":\"fail\"}", 12, &err), -EINVAL);
    assert_string_equal(err.msg, "<stdin>: d1.k: refused by the decoder");
    jstrict_free(r.js);
    memset(&r, 0, sizeof(r));
    r.js = jstrict_new(&cfg, callbacks, &r);
    assert_non_null(r.js);
    assert_int_equal(jstrict_feed(r.js, "{]", 2, &err), -EINVAL);
    if (strncmp(err.msg, "<stdin>:1:", 10) != 0 || strstr(err.msg, ": invalid JSON: ") == NULL)
        fail_msg("not a syntax error of <stdin>: %s", err.msg);
    jstrict_free(r.js);
}

/* Many keys in one object take the indexed check: all distinct is fine, and a repeat of
 * any of them is found, whichever position it repeats. */
static void
test_many_keys(void **state)
{
    (void)state;
    enum { N = 2000 };
    size_t cap = N * 40 + 64;
    char *in = malloc(cap);
    assert_non_null(in);
    const int repeats[] = {-1, 0, 15, 16, 17, 1000, N - 2};
    for (size_t t = 0; t < ARRAY_LEN(repeats); t++) {
        int n = snprintf(in, cap, "{\"o\":{");
        for (int i = 0; i < N; i++)
            n += snprintf(in + n, cap - (size_t)n, "%s\"key%d\":[{\"key%d\":0}]", i ? "," : "",
                          i == N - 1 && repeats[t] >= 0 ? repeats[t] : i, i);
        n += snprintf(in + n, cap - (size_t)n, "}}");
        struct rec r;
        struct perr err;
        int code = decode(in, (size_t)n, t % 2 ? 4096 : 0, &r, &err);
        jstrict_free(r.js);
        if (repeats[t] < 0) {
            assert_int_equal(code, 0);
        } else {
            char want[64];
            (void)snprintf(want, sizeof(want), "d2.key%d: given twice", repeats[t]);
            assert_int_equal(code, -EINVAL);
            assert_string_equal(err.msg, want);
        }
    }
    free(in);
}

/* The pending key: the innermost object's last key, cut at a character boundary. */
static void
test_key_shown(void **state)
{
    (void)state;
    char in[256];
    char key[100];
    /* 63 ASCII bytes, then a 2-byte character over the 64-byte cut. */
    memset(key, 'k', 63);
    memcpy(key + 63, "\xc3\xa9z", 4);
    int n = snprintf(in, sizeof(in), "{\"%s\":\"fail\"}", key);
    struct rec r;
    struct perr err;
    assert_int_equal(decode(in, (size_t)n, 0, &r, &err), -EINVAL);
    char want[128];
    (void)snprintf(want, sizeof(want), "d1.%.63s: refused by the decoder", key);
    assert_string_equal(err.msg, want);
    jstrict_free(r.js);
    /* After a nested object closes, the outer object's key is pending again. */
    const char *in2 = "{\"a\":{\"b\":1},\"c\":[{\"d\":1},\"fail\"]}";
    assert_int_equal(decode(in2, strlen(in2), 0, &r, &err), -EINVAL);
    assert_string_equal(err.msg, "d2.c: refused by the decoder");
    jstrict_free(r.js);
}

static void
check_number(const char *s, double v, bool is_int, bool int_ok, int64_t i)
{
    struct jstrict_number n;
    assert_int_equal(jstrict_number_parse(s, strlen(s), &n), 0);
    if (memcmp(&n.v, &v, sizeof(v)) != 0 && !(isnan(v) && isnan(n.v)))
        fail_msg("%s: %.17g, want %.17g", s, n.v, v);
    if (n.is_int != is_int || n.int_ok != int_ok || (int_ok && n.i != i))
        fail_msg("%s: is_int %d int_ok %d i %lld", s, n.is_int, n.int_ok, (long long)n.i);
}

static void
test_numbers(void **state)
{
    (void)state;
    check_number("0", 0.0, true, true, 0);
    check_number("-0", -0.0, true, true, 0);
    check_number("-0.0", -0.0, false, false, 0);
    check_number("42", 42.0, true, true, 42);
    check_number("-17", -17.0, true, true, -17);
    check_number("12.5", 12.5, false, false, 0);
    check_number("1e3", 1000.0, false, false, 0);
    check_number("1E-2", 0.01, false, false, 0);
    check_number("9223372036854775807", 9223372036854775807.0, true, true, INT64_MAX);
    check_number("-9223372036854775808", -9223372036854775808.0, true, true, INT64_MIN);
    check_number("9223372036854775808", 9223372036854775808.0, true, false, 0);
    check_number("1e400", HUGE_VAL, false, false, 0);
    check_number("-1e400", -HUGE_VAL, false, false, 0);
    check_number("0.1234567890123456789", 0.1234567890123456789, false, false, 0);
    /* A long text reads like a short one. */
    char big[200];
    memset(big, '0', sizeof(big));
    big[0] = '1';
    big[1] = '.';
    big[sizeof(big) - 1] = '\0';
    check_number(big, 1.0, false, false, 0);
    /* The fast path gives strtod's double for random short decimals. */
    uint64_t x = 88172645463325252ull;
    for (int t = 0; t < 200000; t++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        static const uint64_t p10[] = {1ull,
                                       10ull,
                                       100ull,
                                       1000ull,
                                       10000ull,
                                       100000ull,
                                       1000000ull,
                                       10000000ull,
                                       100000000ull,
                                       1000000000ull,
                                       10000000000ull,
                                       100000000000ull,
                                       1000000000000ull,
                                       10000000000000ull,
                                       100000000000000ull};
        int b = 1 + (int)(x % 14);                    /* fraction digits */
        int a = (int)((x >> 4) % (unsigned)(15 - b)); /* integer digits, at most 15 in all */
        char s[48];
        (void)snprintf(s, sizeof(s), "%s%llu.%0*llu", (x >> 9) & 1 ? "-" : "",
                       (unsigned long long)((x >> 12) % p10[a]), b,
                       (unsigned long long)((x >> 20) % p10[b]));
        struct jstrict_number num;
        assert_int_equal(jstrict_number_parse(s, strlen(s), &num), 0);
        double want = strtod(s, NULL);
        if (memcmp(&num.v, &want, sizeof(want)) != 0)
            fail_msg("%s: %.17g, strtod %.17g", s, num.v, want);
    }
}

static int
run_cases(const char *group)
{
    struct CMUnitTest tests[ARRAY_LEN(cases)];
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        tests[i] = (struct CMUnitTest){
            .name = cases[i].name, .test_func = test_case, .initial_state = (void *)&cases[i]};
    }
    return _cmocka_run_group_tests(group, tests, ARRAY_LEN(cases), NULL, NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_position),  cmocka_unit_test(test_error_once),
        cmocka_unit_test(test_flush),     cmocka_unit_test(test_source_on_fields),
        cmocka_unit_test(test_many_keys), cmocka_unit_test(test_key_shown),
        cmocka_unit_test(test_numbers),
    };
    int failed = run_cases("jstrict cases");
    failed += cmocka_run_group_tests_name("jstrict", tests, NULL, NULL);
    known_callbacks = rec_callbacks;
    known_callbacks.key_bit = rec_key_bit;
    callbacks = &known_callbacks;
    failed += run_cases("jstrict cases, with known keys");
    failed += cmocka_run_group_tests_name("jstrict, with known keys", tests, NULL, NULL);
    return failed != 0;
}

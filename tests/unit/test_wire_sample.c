/* The streaming sample decoder (proto/wire_sample.c):
 *  - a table of good and bad samples, each bad one refused with the field path named;
 *  - the same verdicts and the same decoded fields as the tree-based decoder it replaced
 *    (ref_sample.c) on thousands of generated samples, valid and broken in every way the
 *    generator knows: wrong types, missing fields, repeated keys, unknown keys with nested
 *    values, out-of-range numbers, unknown kinds, repeated VM names, NUL in strings, bad
 *    JSON. The only intended difference, nesting deeper than WIRE_MAX_DEPTH, is tested on
 *    its own. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/wire.h"
#include "ref_sample.h"

#define GOOD_VM "{\"name\":\"a\",\"usage\":{\"cpu\":20}}"
#define HOST_HEAD "\"host\":{\"name\":\"h1\",\"usage\":{\"cpu\":50}"

struct table_case {
    const char *name;
    const char *body;
    const char *want; /* NULL: accepted; else a piece of the error message */
};

static const struct table_case cases[] = {
    {"minimal", "{\"seq\":0,\"time\":1," HOST_HEAD "}}", NULL},
    {"full",
     "{\"seq\":7,\"time\":1700000000.5,\"url\":\"http://x:1\",\"host\":{\"name\":\"h1\","
     "\"capacity\":2,\"mem_mib\":4096,\"usage\":{\"cpu\":50,\"disk\":3},\"vms\":[{\"name\":"
     "\"a\",\"usage\":{\"cpu\":20},\"demand\":{\"cpu\":30},\"mem_mib\":512,\"priority\":-3,"
     "\"pinned\":true,\"state\":\"migrating-out\"}]}}",
     NULL},
    {"unknown keys skipped",
     "{\"x\":{\"a\":[1,{\"b\":null}]},\"seq\":0,\"time\":1," HOST_HEAD
     ",\"extra\":[[]],\"vms\":[{\"name\":\"a\",\"usage\":{},\"more\":{\"k\":1}}]}}",
     NULL},
    {"not an object", "[1]", "must be a JSON object"},
    {"scalar", "5", "must be a JSON object"},
    {"empty", "", "empty input"},
    {"trailing garbage", "{\"seq\":0,\"time\":1," HOST_HEAD "}} x", "invalid JSON"},
    {"unfinished string after", "{\"seq\":0,\"time\":1," HOST_HEAD "}}\"ab", "invalid JSON"},
    {"white space after", "{\"seq\":0,\"time\":1," HOST_HEAD "}} \r\n\t", NULL},
    {"vertical tab", "{\"seq\":0,\v\"time\":1," HOST_HEAD "}}", "invalid JSON"},
    {"seq missing", "{\"time\":1," HOST_HEAD "}}", "seq"},
    {"seq negative", "{\"seq\":-1,\"time\":1," HOST_HEAD "}}", "seq"},
    {"seq fractional", "{\"seq\":1.5,\"time\":1," HOST_HEAD "}}", "seq"},
    {"time missing", "{\"seq\":0," HOST_HEAD "}}", "time"},
    {"time too large", "{\"seq\":0,\"time\":1e12," HOST_HEAD "}}", "time"},
    {"host missing", "{\"seq\":0,\"time\":1}", "host"},
    {"host an array", "{\"seq\":0,\"time\":1,\"host\":[]}", "host"},
    {"host name missing", "{\"seq\":0,\"time\":1,\"host\":{\"usage\":{\"cpu\":1}}}", "host.name"},
    {"host name control", "{\"seq\":0,\"time\":1,\"host\":{\"name\":\"a\\u0001\",\"usage\":{}}}",
     "host.name"},
    {"host name NUL", "{\"seq\":0,\"time\":1,\"host\":{\"name\":\"a\\u0000b\",\"usage\":{}}}",
     "name"},
    {"usage missing", "{\"seq\":0,\"time\":1,\"host\":{\"name\":\"h\"}}", "host.usage"},
    {"usage kind unknown", "{\"seq\":0,\"time\":1,\"host\":{\"name\":\"h\",\"usage\":{\"gpu\":1}}}",
     "host.usage.gpu"},
    {"usage over 100", "{\"seq\":0,\"time\":1,\"host\":{\"name\":\"h\",\"usage\":{\"cpu\":101}}}",
     "host.usage.cpu"},
    {"usage a string", "{\"seq\":0,\"time\":1,\"host\":{\"name\":\"h\",\"usage\":{\"cpu\":\"1\"}}}",
     "host.usage.cpu"},
    {"capacity zero",
     "{\"seq\":0,\"time\":1,\"host\":{\"name\":\"h\",\"capacity\":0,\"usage\":{}}}",
     "host.capacity"},
    {"vms an object", "{\"seq\":0,\"time\":1," HOST_HEAD ",\"vms\":{}}}", "host.vms"},
    {"vm a number", "{\"seq\":0,\"time\":1," HOST_HEAD ",\"vms\":[1]}}", "host.vms[0]"},
    {"vm name missing", "{\"seq\":0,\"time\":1," HOST_HEAD ",\"vms\":[{\"usage\":{}}]}}",
     "host.vms[0].name"},
    {"vm usage missing", "{\"seq\":0,\"time\":1," HOST_HEAD ",\"vms\":[{\"name\":\"a\"}]}}",
     "host.vms[0].usage"},
    {"vm priority fractional",
     "{\"seq\":0,\"time\":1," HOST_HEAD ",\"vms\":[" GOOD_VM
     ",{\"name\":\"b\",\"usage\":{},\"priority\":1.5}]}}",
     "host.vms[1].priority"},
    {"vm pinned a number",
     "{\"seq\":0,\"time\":1," HOST_HEAD ",\"vms\":[{\"name\":\"a\",\"usage\":{},\"pinned\":1}]}}",
     "host.vms[0].pinned"},
    {"vm duplicate", "{\"seq\":0,\"time\":1," HOST_HEAD ",\"vms\":[" GOOD_VM "," GOOD_VM "]}}",
     "host.vms[1].name: duplicate"},
    {"repeated key at the root", "{\"seq\":0,\"seq\":1,\"time\":1," HOST_HEAD "}}",
     "seq: given twice"},
    {"repeated unknown key", "{\"z\":0,\"z\":1,\"seq\":0,\"time\":1," HOST_HEAD "}}",
     "z: given twice"},
    {"repeated key in a VM",
     "{\"seq\":0,\"time\":1," HOST_HEAD ",\"vms\":[{\"name\":\"a\",\"name\":\"b\",\"usage\":{}}]}}",
     "host.vms[0].name"},
    {"repeated key inside an ignored value",
     "{\"x\":[{\"a\":1,\"b\":{\"a\":1},\"a\":2}],\"seq\":0,\"time\":1," HOST_HEAD "}}",
     "a: given twice"},
    {"invalid UTF-8", "{\"seq\":0,\"time\":1,\"host\":{\"name\":\"\xff\",\"usage\":{}}}",
     "invalid JSON"},
    {"overlong UTF-8", "{\"seq\":0,\"time\":1,\"host\":{\"name\":\"\xc0\x80\",\"usage\":{}}}",
     "host.name: invalid UTF-8"},
    {"encoded surrogate",
     "{\"seq\":0,\"time\":1,\"host\":{\"name\":\"v\xed\xa0\x80\",\"usage\":{}}}",
     "host.name: invalid UTF-8"},
    {"beyond U+10FFFF",
     "{\"seq\":0,\"time\":1,\"host\":{\"name\":\"\xf4\x90\x80\x80\",\"usage\":{}}}",
     "host.name: invalid UTF-8"},
    {"lone high surrogate escape",
     "{\"seq\":0,\"time\":1,\"host\":{\"name\":\"a\\ud800\",\"usage\":{}}}", "surrogate"},
    {"lone low surrogate escape",
     "{\"seq\":0,\"time\":1,\"host\":{\"name\":\"a\\udc00\",\"usage\":{}}}", "surrogate"},
    {"paired surrogate escapes",
     "{\"seq\":0,\"time\":1,\"host\":{\"name\":\"a\\ud83d\\ude00\",\"usage\":{}}}", NULL},
    {"invalid UTF-8 in a key", "{\"\xff\":1,\"seq\":0,\"time\":1," HOST_HEAD "}}", "invalid JSON"},
    {"escaped key, then a bad value",
     "{\"seq\":0,\"time\":1,\"host\":{\"name\":\"h\",\"usage\":{\"c\\u0070u\":101.5}}}",
     "host.usage.cpu"},
    {"smallest int64 priority",
     "{\"seq\":0,\"time\":1," HOST_HEAD
     ",\"vms\":[{\"name\":\"a\",\"usage\":{},\"priority\":-9223372036854775808}]}}",
     NULL},
    {"integer beyond int64", "{\"seq\":9223372036854775808,\"time\":1," HOST_HEAD "}}",
     "out of range"},
    {"moves",
     "{\"seq\":0,\"time\":1," HOST_HEAD
     ",\"vms\":[{\"name\":\"a\",\"usage\":{},\"moves\":[1,1,2.5]}]}}",
     NULL},
    {"moves empty",
     "{\"seq\":0,\"time\":1," HOST_HEAD ",\"vms\":[{\"name\":\"a\",\"usage\":{},\"moves\":[]}]}}",
     NULL},
    {"moves an object",
     "{\"seq\":0,\"time\":1," HOST_HEAD ",\"vms\":[{\"name\":\"a\",\"usage\":{},\"moves\":{}}]}}",
     "host.vms[0].moves: must be an array"},
    {"a move a string",
     "{\"seq\":0,\"time\":1," HOST_HEAD
     ",\"vms\":[{\"name\":\"a\",\"usage\":{},\"moves\":[1,\"2\"]}]}}",
     "host.vms[0].moves[1]: must be a number"},
    {"a move an object",
     "{\"seq\":0,\"time\":1," HOST_HEAD ",\"vms\":[{\"name\":\"a\",\"usage\":{},\"moves\":[{}]}]}}",
     "host.vms[0].moves[0]: must be a number"},
    {"a move negative",
     "{\"seq\":0,\"time\":1," HOST_HEAD ",\"vms\":[{\"name\":\"a\",\"usage\":{},\"moves\":[-1]}]}}",
     "host.vms[0].moves[0]"},
    {"moves out of order",
     "{\"seq\":0,\"time\":1," HOST_HEAD
     ",\"vms\":[{\"name\":\"a\",\"usage\":{},\"moves\":[5,4]}]}}",
     "host.vms[0].moves[1]: must not be before"},
    {"17 moves",
     "{\"seq\":0,\"time\":1," HOST_HEAD ",\"vms\":[{\"name\":\"a\",\"usage\":{},\"moves\":"
     "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]}]}}",
     "host.vms[0].moves[16]: more moves"},
    {"unconfirmed",
     "{\"seq\":0,\"time\":1,\"unconfirmed\":{\"waiting\":1,\"cpu_pressure\":3.5}," HOST_HEAD "}}",
     NULL},
    {"unconfirmed without pressure, unknown key",
     "{\"seq\":0,\"time\":1,\"unconfirmed\":{\"waiting\":0,\"x\":[1]}," HOST_HEAD "}}", NULL},
    {"unconfirmed not an object", "{\"seq\":0,\"time\":1,\"unconfirmed\":true," HOST_HEAD "}}",
     "unconfirmed: must be an object"},
    {"unconfirmed an array", "{\"seq\":0,\"time\":1,\"unconfirmed\":[]," HOST_HEAD "}}",
     "unconfirmed: must be an object"},
    {"unconfirmed waiting missing",
     "{\"seq\":0,\"time\":1,\"unconfirmed\":{\"cpu_pressure\":1}," HOST_HEAD "}}",
     "unconfirmed.waiting: missing"},
    {"unconfirmed waiting negative",
     "{\"seq\":0,\"time\":1,\"unconfirmed\":{\"waiting\":-1}," HOST_HEAD "}}",
     "unconfirmed.waiting: must be an integer from 0 to 4096"},
    {"unconfirmed waiting fractional",
     "{\"seq\":0,\"time\":1,\"unconfirmed\":{\"waiting\":1.5}," HOST_HEAD "}}",
     "unconfirmed.waiting"},
    {"unconfirmed waiting too many",
     "{\"seq\":0,\"time\":1,\"unconfirmed\":{\"waiting\":4097}," HOST_HEAD "}}",
     "unconfirmed.waiting"},
    {"unconfirmed waiting a string",
     "{\"seq\":0,\"time\":1,\"unconfirmed\":{\"waiting\":\"1\"}," HOST_HEAD "}}",
     "unconfirmed.waiting"},
    {"unconfirmed pressure over 100",
     "{\"seq\":0,\"time\":1,\"unconfirmed\":{\"waiting\":0,\"cpu_pressure\":100.5}," HOST_HEAD "}}",
     "unconfirmed.cpu_pressure: must be between 0 and 100"},
    {"unconfirmed pressure null",
     "{\"seq\":0,\"time\":1,\"unconfirmed\":{\"waiting\":0,\"cpu_pressure\":null}," HOST_HEAD "}}",
     "unconfirmed.cpu_pressure: must be a number"},
    {"keys with the same hash",
     "{\"212c64d76dfb2e54\":1,\"03aa2af60fa2fc23\":2,\"seq\":0,\"time\":1," HOST_HEAD "}}", NULL},
};

static void
test_table(void **state)
{
    const struct table_case *c = *state;
    struct wire_sample s;
    struct perr err;
    memset(&err, 0, sizeof(err));
    int r = wire_sample_decode(c->body, strlen(c->body), &s, &err);
    if (c->want == NULL) {
        if (r != 0)
            fail_msg("%s: refused: %s", c->name, err.msg);
        wire_sample_done(&s);
        return;
    }
    if (r == 0) {
        wire_sample_done(&s);
        fail_msg("%s: accepted, want an error naming \"%s\"", c->name, c->want);
    }
    assert_int_equal(r, -EINVAL);
    if (strstr(err.msg, c->want) == NULL)
        fail_msg("%s: error \"%s\" does not name \"%s\"", c->name, err.msg, c->want);
}

static void
test_full_fields(void **state)
{
    (void)state;
    const char *body = cases[1].body;
    struct wire_sample s;
    struct perr err;
    assert_int_equal(wire_sample_decode(body, strlen(body), &s, &err), 0);
    assert_int_equal(s.seq, 7);
    assert_true(s.time == 1700000000.5);
    assert_string_equal(s.url, "http://x:1");
    assert_string_equal(s.name, "h1");
    assert_true(s.capacity == 2 && s.mem_mib == 4096);
    assert_true(s.usage[KIND_CPU] == 50 && s.usage[KIND_DISK] == 3);
    assert_int_equal(s.n_vms, 1);
    assert_string_equal(s.vms[0].name, "a");
    assert_true(s.vms[0].usage[KIND_CPU] == 20 && s.vms[0].demand[KIND_CPU] == 30);
    assert_true(s.vms[0].mem_mib == 512);
    assert_int_equal(s.vms[0].priority, -3);
    assert_true(s.vms[0].pinned && s.vms[0].migrating_out && !s.vms[0].incoming);
    assert_int_equal(s.vms[0].n_moves, 0);
    wire_sample_done(&s);
}

/* A VM's moves reach the model: the second VM's, after the first one's. */
static void
test_moves_to_cluster(void **state)
{
    (void)state;
    const char *body = "{\"seq\":0,\"time\":1," HOST_HEAD ",\"vms\":[{\"name\":\"a\",\"usage\":{},"
                       "\"moves\":[10,20]},{\"name\":\"b\",\"usage\":{},\"moves\":[30,40,50]},"
                       "{\"name\":\"c\",\"usage\":{}}]}}";
    struct wire_sample s;
    struct perr err;
    assert_int_equal(wire_sample_decode(body, strlen(body), &s, &err), 0);
    assert_int_equal(s.n_moves, 5);
    assert_int_equal(s.vms[1].moves_first, 2);
    assert_int_equal(s.vms[1].n_moves, 3);
    struct cluster cl;
    cluster_init(&cl);
    size_t hi;
    assert_int_equal(wire_sample_to_cluster(&s, true, &cl, &hi), 0);
    assert_int_equal(cl.vms[1].moves_count, 3);
    assert_true(cluster_vm_moves(&cl, &cl.vms[1])[0] == 30 &&
                cluster_vm_moves(&cl, &cl.vms[1])[2] == 50);
    assert_int_equal(cl.vms[0].moves_count, 2);
    assert_int_equal(cl.vms[2].moves_count, 0);
    cluster_done(&cl);
    wire_sample_done(&s);
}

static void
test_too_deep(void **state)
{
    (void)state;
    char body[512];
    int n = snprintf(body, sizeof(body), "{\"x\":");
    for (int i = 0; i < WIRE_MAX_DEPTH + 2; i++)
        n += snprintf(body + n, sizeof(body) - (size_t)n, "[");
    for (int i = 0; i < WIRE_MAX_DEPTH + 2; i++)
        n += snprintf(body + n, sizeof(body) - (size_t)n, "]");
    n += snprintf(body + n, sizeof(body) - (size_t)n, ",\"seq\":0,\"time\":1," HOST_HEAD "}}");
    struct wire_sample s;
    struct perr err;
    assert_int_equal(wire_sample_decode(body, (size_t)n, &s, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "nested"));
}

/* An unknown object with many keys is read (the repeated-key check indexes them), and one
 * key repeated among them is still found. */
static void
test_many_keys(void **state)
{
    (void)state;
    enum { N = 3000 };
    for (int repeat = 0; repeat < 2; repeat++) {
        size_t cap = N * 16 + 256;
        char *body = malloc(cap);
        assert_non_null(body);
        int n = snprintf(body, cap, "{\"x\":{");
        for (int i = 0; i < N; i++)
            n += snprintf(body + n, cap - (size_t)n, "%s\"k%d\":%d", i > 0 ? "," : "",
                          repeat && i == N - 1 ? 17 : i, i);
        n += snprintf(body + n, cap - (size_t)n, "},\"seq\":0,\"time\":1," HOST_HEAD "}}");
        struct wire_sample s;
        struct perr err;
        int r = wire_sample_decode(body, (size_t)n, &s, &err);
        free(body);
        if (!repeat) {
            assert_int_equal(r, 0);
            wire_sample_done(&s);
        } else {
            assert_int_equal(r, -EINVAL);
            assert_string_equal(err.msg, "k17: given twice");
        }
    }
}

/* ---- generated samples ---- */

static uint64_t rs = 88172645463325252ull;

static uint32_t
rnd(uint32_t n)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (uint32_t)(rs % n);
}

struct buf {
    char s[16384];
    size_t n;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(b->s + b->n, sizeof(b->s) - b->n, fmt, ap);
    va_end(ap);
    if (w > 0 && b->n + (size_t)w < sizeof(b->s))
        b->n += (size_t)w;
}

/* Occasionally a value of another type than expected. */
static void
put_odd(struct buf *b)
{
    static const char *const odd[] = {
        "null",  "true", "\"x\"", "[]",   "{}",     "1.5",        "-1",
        "1e300", "101",  "0",     "\"\"", "[1,{}]", "{\"a\":[]}", "12345678901234567890"};
    put(b, "%s", odd[rnd(sizeof(odd) / sizeof(odd[0]))]);
}

static void
put_number(struct buf *b, double lo, double hi)
{
    if (rnd(20) == 0) {
        put_odd(b);
        return;
    }
    double v = lo + (hi - lo) * (double)rnd(1000) / 999.0;
    if (rnd(3) == 0)
        put(b, "%d", (int)v);
    else
        put(b, "%.3f", v);
}

static void
put_kinds(struct buf *b)
{
    static const char *const kinds[] = {"cpu", "mem_bw", "disk", "net", "gpu"};
    if (rnd(25) == 0) {
        put_odd(b);
        return;
    }
    put(b, "{");
    int n = (int)rnd(4);
    for (int i = 0; i < n; i++) {
        const char *k = kinds[rnd(rnd(30) == 0 ? 5 : 4)];
        put(b, "%s\"%s\":", i > 0 ? "," : "", k);
        put_number(b, 0, rnd(30) == 0 ? 150 : 100);
    }
    put(b, "}");
}

static void
put_name(struct buf *b, int i)
{
    switch (rnd(30)) {
    case 0:
        put_odd(b);
        return;
    case 1:
        put(b, "\"v\\u0000%d\"", i);
        return;
    case 2:
        put(b, "\"v\\t%d\"", i);
        return;
    case 3:
        put(b, "\"v%d\"", i > 0 ? i - 1 : 0); /* a repeat */
        return;
    default:
        put(b, "\"v%d\"", i);
    }
}

static void
put_vm(struct buf *b, int i)
{
    if (rnd(40) == 0) {
        put_odd(b);
        return;
    }
    put(b, "{");
    bool first = true;
#define SEP()                                                                                      \
    do {                                                                                           \
        if (!first)                                                                                \
            put(b, ",");                                                                           \
        first = false;                                                                             \
    } while (0)
    if (rnd(30) != 0) {
        SEP();
        put(b, "\"name\":");
        put_name(b, i);
    }
    if (rnd(30) != 0) {
        SEP();
        put(b, "\"usage\":");
        put_kinds(b);
    }
    if (rnd(2) == 0) {
        SEP();
        put(b, "\"demand\":");
        put_kinds(b);
    }
    if (rnd(2) == 0) {
        SEP();
        put(b, "\"mem_mib\":");
        put_number(b, 0, 1e5);
    }
    if (rnd(3) == 0) {
        SEP();
        put(b, "\"priority\":");
        if (rnd(10) == 0)
            put_odd(b);
        else
            put(b, "%d", (int)rnd(20) - 10);
    }
    if (rnd(3) == 0) {
        SEP();
        put(b, "\"pinned\":%s", rnd(10) == 0 ? "1" : rnd(2) ? "true" : "false");
    }
    if (rnd(3) == 0) {
        static const char *const st[] = {"\"running\"", "\"incoming\"", "\"migrating-out\"", "7",
                                         "null"};
        SEP();
        put(b, "\"state\":%s", st[rnd(5)]);
    }
    if (rnd(10) == 0) {
        SEP();
        put(b, "\"note\":{\"deep\":[1,[2,{\"x\":null}]]}");
    }
    if (rnd(4) == 0) {
        SEP();
        put(b, "\"cpu_wait\":");
        put_number(b, 0, rnd(30) == 0 ? 150 : 100);
    }
    if (rnd(4) == 0) {
        /* Moves: mostly in order, sometimes too many, out of order or of another type. */
        SEP();
        put(b, "\"moves\":");
        if (rnd(20) == 0) {
            put_odd(b);
        } else {
            int n = rnd(8) == 0 ? 15 + (int)rnd(4) : (int)rnd(6);
            double t = 1e9;
            put(b, "[");
            for (int k = 0; k < n; k++) {
                t += rnd(10) == 0 ? -5.0 : (double)rnd(1000);
                if (rnd(30) == 0)
                    put(b, "%s\"%g\"", k > 0 ? "," : "", t);
                else
                    put(b, "%s%.17g", k > 0 ? "," : "", t);
            }
            put(b, "]");
        }
    }
    if (rnd(4) == 0) {
        /* Mostly a UUID; sometimes empty, one character too long, holding a NUL, or a number. */
        SEP();
        put(b, "\"uuid\":");
        switch (rnd(8)) {
        case 0:
            put(b, "\"\"");
            break;
        case 1:
            put(b, "\"0b6f3b1e-5c1d-4c53-9d7a-x%012d\"", i);
            break;
        case 2:
            put(b, "\"ab\\u0000c\"");
            break;
        case 3:
            put(b, "%d", i);
            break;
        default:
            put(b, "\"0b6f3b1e-5c1d-4c53-9d7a-%012d\"", i);
        }
    }
    if (rnd(4) == 0) {
        /* Mostly a trace file; sometimes empty, too long, escaped, or of another type. */
        SEP();
        put(b, "\"trace\":");
        switch (rnd(8)) {
        case 0:
            put(b, "\"\"");
            break;
        case 1:
            put(b, "\"%0300d\"", i);
            break;
        case 2:
            put(b, "\"day\\/vm\\u00e9%d\"", i);
            break;
        case 3:
            put(b, "[\"day/vm%d\"]", i);
            break;
        default:
            put(b, "\"20110303/vm-%d\"", i);
        }
    }
    if (rnd(60) == 0) {
        SEP();
        put(b, "\"usage\":{}"); /* a repeated key */
    }
#undef SEP
    put(b, "}");
}

/* A host's "pressure": known and unknown resources and lines, now and then of a wrong type
 * or out of range. */
static void
put_pressure(struct buf *b)
{
    static const char *const res[] = {"cpu", "memory", "io", "irq"};
    static const char *const lines[] = {"some", "full", "total"};
    if (rnd(25) == 0) {
        put_odd(b);
        return;
    }
    put(b, "{");
    int n = (int)rnd(4);
    for (int i = 0; i < n; i++) {
        put(b, "%s\"%s\":", i > 0 ? "," : "", res[rnd(4)]);
        if (rnd(20) == 0) {
            put_odd(b);
            continue;
        }
        put(b, "{");
        int m = (int)rnd(3);
        for (int j = 0; j < m; j++) {
            put(b, "%s\"%s\":", j > 0 ? "," : "", lines[rnd(3)]);
            put_number(b, 0, rnd(30) == 0 ? 150 : 100);
        }
        put(b, "}");
    }
    put(b, "}");
}

static void
gen_sample(struct buf *b)
{
    b->n = 0;
    put(b, "{");
    if (rnd(40) != 0) {
        put(b, "\"seq\":");
        if (rnd(20) == 0)
            put_odd(b);
        else
            put(b, "%u", rnd(100000));
        put(b, ",");
    }
    if (rnd(40) != 0) {
        put(b, "\"time\":");
        put_number(b, 0, 2e9);
        put(b, ",");
    }
    if (rnd(5) == 0)
        put(b, "\"url\":\"http://127.0.0.1:%u\",", rnd(65536));
    if (rnd(8) == 0)
        put(b, "\"agent\":{\"version\":[1,2,{\"x\":\"y\"}]},");
    if (rnd(60) == 0)
        put(b, "\"seq\":1,"); /* a repeated key, if seq came */
    put(b, "\"host\":");
    if (rnd(40) == 0) {
        put_odd(b);
    } else {
        put(b, "{\"name\":");
        if (rnd(30) == 0)
            put_odd(b);
        else
            put(b, "\"h%u\"", rnd(100));
        if (rnd(4) == 0) {
            put(b, ",\"capacity\":");
            put_number(b, 0, 10);
        }
        if (rnd(4) == 0) {
            put(b, ",\"mem_mib\":");
            put_number(b, 0, 1e6);
        }
        if (rnd(30) != 0) {
            put(b, ",\"usage\":");
            put_kinds(b);
        }
        if (rnd(4) == 0) {
            put(b, ",\"pressure\":");
            put_pressure(b);
        }
        if (rnd(5) != 0) {
            put(b, ",\"vms\":");
            if (rnd(30) == 0) {
                put_odd(b);
            } else {
                put(b, "[");
                int n = (int)rnd(12);
                for (int i = 0; i < n; i++) {
                    if (i > 0)
                        put(b, ",");
                    put_vm(b, i);
                }
                put(b, "]");
            }
        }
        put(b, "}");
    }
    put(b, "}");
    /* Now and then, break the JSON itself. */
    if (rnd(25) == 0 && b->n > 2)
        b->n -= 1 + rnd((uint32_t)(b->n / 2));
    else if (rnd(40) == 0 && b->n > 2)
        b->s[rnd((uint32_t)b->n)] = "{}[],:\"x"[rnd(8)];
}

static bool
same_sample(const struct wire_sample *a, const struct wire_sample *b)
{
    if (a->seq != b->seq || a->time != b->time || strcmp(a->url, b->url) != 0 ||
        strcmp(a->name, b->name) != 0 || a->capacity != b->capacity || a->mem_mib != b->mem_mib ||
        memcmp(a->usage, b->usage, sizeof(a->usage)) != 0 || a->n_vms != b->n_vms ||
        a->pressure.present != b->pressure.present ||
        memcmp(a->pressure.pct, b->pressure.pct, sizeof(a->pressure.pct)) != 0)
        return false;
    for (size_t i = 0; i < a->n_vms; i++) {
        const struct wire_sample_vm *x = &a->vms[i], *y = &b->vms[i];
        if (strcmp(x->name, y->name) != 0 || memcmp(x->usage, y->usage, sizeof(x->usage)) != 0 ||
            memcmp(x->demand, y->demand, sizeof(x->demand)) != 0 || x->mem_mib != y->mem_mib ||
            x->priority != y->priority || x->pinned != y->pinned || x->incoming != y->incoming ||
            x->migrating_out != y->migrating_out || x->n_moves != y->n_moves ||
            x->has_cpu_wait != y->has_cpu_wait || x->cpu_wait != y->cpu_wait ||
            strcmp(wire_vm_uuid(a, x), wire_vm_uuid(b, y)) != 0 ||
            strcmp(wire_vm_trace(a, x), wire_vm_trace(b, y)) != 0 ||
            (x->n_moves > 0 && memcmp(a->moves + x->moves_first, b->moves + y->moves_first,
                                      x->n_moves * sizeof(double)) != 0))
            return false;
    }
    return true;
}

static void
test_same_as_reference(void **state)
{
    (void)state;
    struct buf *b = malloc(sizeof(*b));
    assert_non_null(b);
    size_t accepted = 0, refused = 0;
    for (int i = 0; i < 20000; i++) {
        gen_sample(b);
        struct wire_sample x, y;
        struct perr ex, ey;
        int rx = wire_sample_decode(b->s, b->n, &x, &ex);
        int ry = ref_sample_decode(b->s, b->n, &y, &ey);
        if ((rx == 0) != (ry == 0))
            fail_msg("sample %d: streaming %s (%s), reference %s (%s): %.*s", i,
                     rx == 0 ? "accepts" : "refuses", rx == 0 ? "" : ex.msg,
                     ry == 0 ? "accepts" : "refuses", ry == 0 ? "" : ey.msg, (int)b->n, b->s);
        if (rx == 0) {
            if (!same_sample(&x, &y))
                fail_msg("sample %d: decoded differently: %.*s", i, (int)b->n, b->s);
            wire_sample_done(&x);
            wire_sample_done(&y);
            accepted++;
        } else {
            refused++;
        }
    }
    free(b);
    /* Both outcomes must be well represented, or the comparison proves little. */
    print_message("  %zu accepted, %zu refused by both\n", accepted, refused);
    assert_true(accepted > 2000);
    assert_true(refused > 2000);
}

/* wire_sample_encode(): what it writes, the decoder reads back field for field (usage and
 * demand to a thousandth of a percent; only the kinds given), on samples built at random. */
static void
test_encode_roundtrip(void **state)
{
    (void)state;
    for (int round = 0; round < 2000; round++) {
        struct wire_sample s;
        memset(&s, 0, sizeof(s));
        s.seq = rnd(1000000);
        s.time = 1.7e9 + (double)rnd(1000000) / 64.0;
        (void)snprintf(s.url, sizeof(s.url), "http://127.0.0.1:%u", 1000 + rnd(60000));
        (void)snprintf(s.name, sizeof(s.name), "host-%u", rnd(100));
        s.capacity = rnd(2) ? 1.0 : 0.125 * (double)(1 + rnd(64)) + 1e-9 * rnd(3);
        s.mem_mib = (double)rnd(100000);
        s.usage_kinds = (uint8_t)(KIND_BIT(KIND_CPU) | (rnd(16) & KIND_MASK_ALL));
        for (unsigned k = 0; k < KIND_COUNT; k++)
            s.usage[k] = (s.usage_kinds & KIND_BIT(k)) ? (double)rnd(100001) / 1000.0 : 0;
        s.pressure.present = (uint8_t)rnd(64);
        for (unsigned p = 0; p < PRESSURE_RES_COUNT * PRESSURE_LINE_COUNT; p++)
            if (s.pressure.present & (1u << p))
                s.pressure.pct[p / 2][p % 2] = (double)rnd(100001) / 1000.0;
        s.n_vms = rnd(12);
        char lit[12][2][64]; /* each VM's uuid and trace as set, to compare with as written */
        memset(lit, 0, sizeof(lit));
        s.vms = calloc(s.n_vms + 1, sizeof(*s.vms));
        s.moves = calloc(s.n_vms * MODEL_MAX_VM_MOVES + 1, sizeof(double));
        assert_true(s.vms != NULL && s.moves != NULL);
        for (size_t i = 0; i < s.n_vms; i++) {
            struct wire_sample_vm *v = &s.vms[i];
            (void)snprintf(v->name, sizeof(v->name), "vm %zu \"q\" \u00e9", i);
            v->usage_kinds = (uint8_t)(KIND_BIT(KIND_CPU) | (rnd(16) & KIND_MASK_ALL));
            v->demand_kinds = rnd(2) ? v->usage_kinds : KIND_MASK_ALL;
            for (unsigned k = 0; k < KIND_COUNT; k++) {
                v->usage[k] = (v->usage_kinds & KIND_BIT(k)) ? (double)rnd(100001) / 1000.0 : 0;
                v->demand[k] = (v->demand_kinds & KIND_BIT(k)) ? (double)rnd(100001) / 1000.0 : 0;
            }
            if (rnd(3) == 0) { /* demand as usage: left out of the JSON */
                v->demand_kinds = v->usage_kinds;
                memcpy(v->demand, v->usage, sizeof(v->demand));
            }
            v->mem_mib = (double)rnd(65536) / 4.0;
            v->priority = rnd(3) == 0 ? 0 : (int64_t)rnd(2000) - 1000;
            if (rnd(10) == 0)
                v->priority = rnd(2) ? INT64_MIN : INT64_MAX;
            v->pinned = rnd(4) == 0;
            v->incoming = rnd(5) == 0;
            v->migrating_out = !v->incoming && rnd(5) == 0;
            v->arrived = rnd(2) ? -1.0 : 1.6e9 + (double)rnd(1000000) / 8.0;
            v->measured = (int8_t)((int)rnd(3) - 1);
            if (rnd(2)) {
                int n = snprintf(lit[i][0], sizeof(lit[i][0]), "%08x-0000-4000-8000-%012u",
                                 rnd(65536), rnd(1000000));
                assert_int_equal(wire_vm_set_uuid(&s, v, lit[i][0], (size_t)n), 0);
            }
            if (rnd(3) == 0) {
                int n = snprintf(lit[i][1], sizeof(lit[i][1]), "trace-%u-%zu", rnd(100), i);
                assert_int_equal(wire_vm_set_trace(&s, v, lit[i][1], (size_t)n), 0);
            }
            v->has_cpu_wait = rnd(2) == 0;
            v->cpu_wait = v->has_cpu_wait ? (double)rnd(100001) / 1000.0 : 0;
            v->moves_first = (uint32_t)s.n_moves;
            v->n_moves = rnd(4) == 0 ? rnd(MODEL_MAX_VM_MOVES + 1) : 0;
            double t = 1.5e9;
            for (uint32_t m = 0; m < v->n_moves; m++) {
                t += (double)rnd(100000) / 16.0;
                s.moves[s.n_moves++] = t;
            }
        }
        char *json = NULL;
        assert_int_equal(wire_sample_encode(&s, &json), 0);
        struct wire_sample d;
        struct perr err;
        if (wire_sample_decode(json, strlen(json), &d, &err) != 0)
            fail_msg("round %d: the decoder refuses what was encoded: %s\n%s", round, err.msg,
                     json);
        assert_int_equal(d.seq, s.seq);
        assert_true(d.time == s.time && d.capacity == s.capacity && d.mem_mib == s.mem_mib);
        assert_string_equal(d.url, s.url);
        assert_string_equal(d.name, s.name);
        assert_int_equal(d.usage_kinds, s.usage_kinds);
        assert_memory_equal(d.usage, s.usage, sizeof(s.usage));
        assert_int_equal(d.pressure.present, s.pressure.present);
        assert_memory_equal(d.pressure.pct, s.pressure.pct, sizeof(s.pressure.pct));
        assert_int_equal(d.n_vms, s.n_vms);
        assert_int_equal(d.n_moves, s.n_moves);
        for (size_t i = 0; i < s.n_vms; i++) {
            const struct wire_sample_vm *x = &s.vms[i], *y = &d.vms[i];
            assert_string_equal(y->name, x->name);
            assert_int_equal(y->usage_kinds, x->usage_kinds);
            assert_int_equal(y->demand_kinds, x->demand_kinds);
            assert_memory_equal(y->usage, x->usage, sizeof(x->usage));
            assert_memory_equal(y->demand, x->demand, sizeof(x->demand));
            assert_true(y->mem_mib == x->mem_mib && y->arrived == x->arrived);
            assert_true(y->priority == x->priority);
            assert_true(y->pinned == x->pinned && y->incoming == x->incoming &&
                        y->migrating_out == x->migrating_out);
            assert_int_equal(y->measured, x->measured);
            assert_string_equal(wire_vm_uuid(&s, x), lit[i][0]);
            assert_string_equal(wire_vm_uuid(&d, y), lit[i][0]);
            assert_string_equal(wire_vm_trace(&s, x), lit[i][1]);
            assert_string_equal(wire_vm_trace(&d, y), lit[i][1]);
            assert_true(y->has_cpu_wait == x->has_cpu_wait && y->cpu_wait == x->cpu_wait);
            assert_int_equal(y->n_moves, x->n_moves);
            if (x->n_moves > 0)
                assert_memory_equal(d.moves + y->moves_first, s.moves + x->moves_first,
                                    x->n_moves * sizeof(double));
        }
        /* Usage is written to a thousandth: 12.3456 reads back as 12.346. */
        wire_sample_done(&d);
        free(json);
        wire_sample_done(&s);
    }
    struct wire_sample r;
    memset(&r, 0, sizeof(r));
    (void)snprintf(r.name, sizeof(r.name), "h");
    r.usage_kinds = KIND_BIT(KIND_CPU);
    r.usage[KIND_CPU] = 12.3456;
    r.usage[KIND_NET] = 7.0; /* not in usage_kinds: left out, reads back as 0 */
    char *json = NULL;
    assert_int_equal(wire_sample_encode(&r, &json), 0);
    assert_non_null(strstr(json, "\"usage\":{\"cpu\":12.346}"));
    free(json);
    /* Rounded as written, the sample equals what its JSON reads back as; a whole number is
     * still written as a real. */
    wire_sample_round(&r);
    assert_true(r.usage[KIND_CPU] == 12.346 && r.usage[KIND_NET] == 0.0);
    r.usage[KIND_CPU] = 30.0;
    assert_int_equal(wire_sample_encode(&r, &json), 0);
    assert_non_null(strstr(json, "\"usage\":{\"cpu\":30.0}"));
    free(json);
}

/* A VM's fields at their defaults (demand equal to usage as written, priority 0, not pinned,
 * running) are left out of its JSON and read back as those defaults; the others are written. */
static void
test_encode_defaults_left_out(void **state)
{
    (void)state;
    struct wire_sample s;
    memset(&s, 0, sizeof(s));
    (void)snprintf(s.name, sizeof(s.name), "h");
    (void)snprintf(s.url, sizeof(s.url), "http://127.0.0.1:7701");
    s.time = 1.7e9;
    s.capacity = 1;
    s.usage_kinds = KIND_BIT(KIND_CPU);
    s.usage[KIND_CPU] = 50;
    s.n_vms = 2;
    s.vms = calloc(2, sizeof(*s.vms));
    assert_non_null(s.vms);
    struct wire_sample_vm *a = &s.vms[0];
    struct wire_sample_vm *b = &s.vms[1];
    (void)snprintf(a->name, sizeof(a->name), "a");
    a->usage_kinds = a->demand_kinds = KIND_BIT(KIND_CPU) | KIND_BIT(KIND_DISK);
    a->usage[KIND_CPU] = 20.0001; /* written as 20.0, as is the demand */
    a->demand[KIND_CPU] = 19.9999;
    a->usage[KIND_DISK] = a->demand[KIND_DISK] = 3;
    a->mem_mib = 512;
    a->arrived = -1;
    a->measured = -1;
    (void)snprintf(b->name, sizeof(b->name), "b");
    b->usage_kinds = KIND_BIT(KIND_CPU);
    b->demand_kinds = KIND_BIT(KIND_CPU) | KIND_BIT(KIND_DISK); /* a kind more: written */
    b->usage[KIND_CPU] = b->demand[KIND_CPU] = 10;
    b->demand[KIND_DISK] = 0;
    b->priority = -2;
    b->pinned = true;
    b->migrating_out = true;
    b->arrived = -1;
    b->measured = -1;
    char *json = NULL;
    assert_int_equal(wire_sample_encode(&s, &json), 0);
    assert_non_null(strstr(json, "{\"name\":\"a\",\"usage\":{\"cpu\":20.0,\"disk\":3.0},"
                                 "\"mem_mib\":512.0}"));
    assert_non_null(strstr(json, "{\"name\":\"b\",\"usage\":{\"cpu\":10.0},\"demand\":{\"cpu\":"
                                 "10.0,\"disk\":0.0},\"mem_mib\":0.0,\"priority\":-2,\"pinned\":"
                                 "true,\"state\":\"migrating-out\"}"));
    struct wire_sample d;
    struct perr err;
    assert_int_equal(wire_sample_decode(json, strlen(json), &d, &err), 0);
    assert_int_equal(d.vms[0].demand_kinds, a->usage_kinds);
    assert_true(d.vms[0].demand[KIND_CPU] == 20.0 && d.vms[0].demand[KIND_DISK] == 3.0);
    assert_true(d.vms[0].priority == 0 && !d.vms[0].pinned && !d.vms[0].incoming &&
                !d.vms[0].migrating_out);
    assert_int_equal(d.vms[1].demand_kinds, b->demand_kinds);
    assert_true(d.vms[1].priority == -2 && d.vms[1].pinned && d.vms[1].migrating_out);
    wire_sample_done(&d);
    free(json);
    wire_sample_done(&s);
}

/* A notification of a conflict not confirmed: "unconfirmed" decodes to its figures, absent
 * leaves them unset (an old agent's notification), and the encoder writes what it reads. */
static void
test_unconfirmed(void **state)
{
    (void)state;
    const char *old = "{\"seq\":0,\"time\":1,\"url\":\"http://h1:1\"," HOST_HEAD "}}";
    struct wire_sample s;
    struct perr err;
    assert_int_equal(wire_sample_decode(old, strlen(old), &s, &err), 0);
    assert_false(s.unconfirmed);
    assert_true(s.unconfirmed_cpu_pressure < 0);
    s.unconfirmed = true;
    s.unconfirmed_waiting = 3;
    char *json = NULL;
    assert_int_equal(wire_sample_encode(&s, &json), 0);
    assert_non_null(strstr(json, "\"unconfirmed\":{\"waiting\":3}"));
    wire_sample_done(&s);
    if (wire_sample_decode(json, strlen(json), &s, &err) < 0)
        fail_msg("%s: %s", json, err.msg);
    free(json);
    assert_true(s.unconfirmed);
    assert_int_equal(s.unconfirmed_waiting, 3);
    assert_true(s.unconfirmed_cpu_pressure < 0); /* not measured stays so */
    s.unconfirmed_cpu_pressure = 12.25;
    assert_int_equal(wire_sample_encode(&s, &json), 0);
    wire_sample_done(&s);
    assert_int_equal(wire_sample_decode(json, strlen(json), &s, &err), 0);
    free(json);
    assert_true(s.unconfirmed);
    assert_true(s.unconfirmed_cpu_pressure == 12.25);
    assert_string_equal(s.name, "h1");
    wire_sample_done(&s);
}

/* The largest sample an agent can write: WIRE_MAX_SAMPLE_VMS VMs, every field present, every
 * name MODEL_MAX_NAME bytes of the characters the encoder escapes (" and \), the other
 * strings at their longest and all escaped as \u0001, every number at its longest. The
 * decoder takes it, and its JSON fits WIRE_MAX_SAMPLE_BYTES, the most a daemon reads of an
 * answer; the bound is tight (within 2 %), not padded. */
static void
fill_escaped(char *out, size_t n, char c)
{
    memset(out, c, n);
    out[n] = '\0';
}

/* A VM's uuid and trace in the sample's string pool: read back as set, "" when not given (and
 * then not written), and a NUL among the bytes refused. */
static void
test_vm_strings(void **state)
{
    (void)state;
    struct wire_sample s;
    memset(&s, 0, sizeof(s));
    s.n_vms = 3;
    s.vms = calloc(s.n_vms, sizeof(*s.vms));
    assert_non_null(s.vms);
    assert_string_equal(wire_vm_uuid(&s, &s.vms[0]), "");
    assert_int_equal(wire_vm_set_uuid(&s, &s.vms[0], "u-0", 3), 0);
    assert_int_equal(wire_vm_set_trace(&s, &s.vms[1], "day/vm1xyz", 7), 0);
    assert_int_equal(wire_vm_set_uuid(&s, &s.vms[1], "", 0), 0);
    assert_int_equal(wire_vm_set_uuid(&s, &s.vms[2], "a\0b", 3), -EINVAL);
    assert_int_equal(wire_vm_set_trace(&s, &s.vms[2], "\0", 1), -EINVAL);
    assert_string_equal(wire_vm_uuid(&s, &s.vms[0]), "u-0");
    assert_string_equal(wire_vm_trace(&s, &s.vms[0]), "");
    assert_string_equal(wire_vm_trace(&s, &s.vms[1]), "day/vm1");
    assert_string_equal(wire_vm_uuid(&s, &s.vms[1]), "");
    assert_string_equal(wire_vm_uuid(&s, &s.vms[2]), "");
    assert_string_equal(wire_vm_trace(&s, &s.vms[2]), "");
    for (size_t i = 0; i < s.n_vms; i++) {
        (void)snprintf(s.vms[i].name, sizeof(s.vms[i].name), "vm%zu", i);
        s.vms[i].usage_kinds = KIND_BIT(KIND_CPU);
        s.vms[i].demand_kinds = KIND_BIT(KIND_CPU);
        s.vms[i].measured = -1;
        s.vms[i].arrived = -1;
    }
    (void)snprintf(s.name, sizeof(s.name), "h");
    s.capacity = 1;
    s.usage_kinds = KIND_BIT(KIND_CPU);
    s.unconfirmed_cpu_pressure = -1;
    char *json = NULL;
    assert_int_equal(wire_sample_encode(&s, &json), 0);
    assert_non_null(strstr(json, "\"uuid\":\"u-0\""));
    assert_non_null(strstr(json, "\"trace\":\"day/vm1\""));
    const char *p = json;
    int n = 0;
    while ((p = strstr(p, "\"uuid\"")) != NULL) {
        n++;
        p++;
    }
    assert_int_equal(n, 1); /* VM 1's empty uuid and VM 2's refused ones are not written */
    free(json);
    wire_sample_done(&s);
    assert_null(s.strs);
    assert_int_equal(s.strs_len, 0);
}

/* VM `i`'s string of `n` characters in the largest sample: control characters (each escaped
 * as 6 bytes), the first three its index in base 31. */
static void
vm_string(char *out, size_t n, size_t i)
{
    fill_escaped(out, n, '\x01');
    for (size_t d = 0; d < 3; d++, i /= 31)
        out[d] = (char)(1 + i % 31);
}

static void
test_largest_sample_fits(void **state)
{
    (void)state;
    const double longest = 1.2345678901234567e-300; /* 23 characters as "%.17g" */
    struct wire_sample s;
    memset(&s, 0, sizeof(s));
    s.seq = (uint64_t)INT64_MAX;
    s.time = longest;
    fill_escaped(s.url, WIRE_MAX_URL, '\x01');
    fill_escaped(s.name, MODEL_MAX_NAME, '"');
    s.capacity = 1.2345678901234567e-07;
    s.mem_mib = longest;
    s.usage_kinds = KIND_MASK_ALL;
    for (unsigned k = 0; k < KIND_COUNT; k++)
        s.usage[k] = 99.999;
    for (unsigned r = 0; r < PRESSURE_RES_COUNT; r++) {
        pressure_set(&s.pressure, (enum pressure_res)r, PRESSURE_SOME, 99.999);
        pressure_set(&s.pressure, (enum pressure_res)r, PRESSURE_FULL, 99.999);
    }
    s.unconfirmed = true; /* as an agent notifies it */
    s.unconfirmed_waiting = WIRE_MAX_SAMPLE_VMS;
    s.unconfirmed_cpu_pressure = longest;
    s.n_vms = WIRE_MAX_SAMPLE_VMS;
    s.vms = calloc(s.n_vms, sizeof(*s.vms));
    s.moves = calloc(s.n_vms * MODEL_MAX_VM_MOVES, sizeof(double));
    assert_true(s.vms != NULL && s.moves != NULL);
    for (size_t i = 0; i < s.n_vms; i++) {
        struct wire_sample_vm *v = &s.vms[i];
        /* Distinct names: the VM's index in binary, as " and \. */
        fill_escaped(v->name, MODEL_MAX_NAME, '"');
        for (unsigned b = 0; b < 12; b++)
            v->name[b] = (i >> b) & 1u ? '\\' : '"';
        v->usage_kinds = KIND_MASK_ALL;
        v->demand_kinds = KIND_MASK_ALL;
        for (unsigned k = 0; k < KIND_COUNT; k++) {
            v->usage[k] = 99.999;
            v->demand[k] = 88.888;
        }
        v->mem_mib = longest;
        v->priority = INT64_MIN;
        v->migrating_out = true;
        v->measured = 0;
        v->arrived = longest;
        v->cpu_wait = 99.999;
        v->has_cpu_wait = true;
        char str[MODEL_MAX_NAME + 1];
        vm_string(str, MODEL_MAX_NAME, i);
        assert_int_equal(wire_vm_set_trace(&s, v, str, MODEL_MAX_NAME), 0);
        vm_string(str, WIRE_MAX_UUID, i);
        assert_int_equal(wire_vm_set_uuid(&s, v, str, WIRE_MAX_UUID), 0);
        v->moves_first = (uint32_t)(i * MODEL_MAX_VM_MOVES);
        v->n_moves = MODEL_MAX_VM_MOVES;
        for (uint32_t j = 0; j < MODEL_MAX_VM_MOVES; j++)
            s.moves[v->moves_first + j] = longest;
    }
    s.n_moves = s.n_vms * MODEL_MAX_VM_MOVES;
    char *json = NULL;
    assert_int_equal(wire_sample_encode(&s, &json), 0);
    size_t len = strlen(json);
    struct wire_sample back;
    struct perr err;
    int r = wire_sample_decode(json, len, &back, &err);
    if (r < 0)
        fail_msg("the largest sample is refused: %s", err.msg);
    assert_int_equal(back.n_vms, WIRE_MAX_SAMPLE_VMS);
    const size_t some[] = {0, 7, WIRE_MAX_SAMPLE_VMS - 1};
    for (size_t k = 0; k < sizeof(some) / sizeof(some[0]); k++) {
        char want[MODEL_MAX_NAME + 1];
        vm_string(want, MODEL_MAX_NAME, some[k]);
        assert_string_equal(wire_vm_trace(&back, &back.vms[some[k]]), want);
        vm_string(want, WIRE_MAX_UUID, some[k]);
        assert_string_equal(wire_vm_uuid(&back, &back.vms[some[k]]), want);
    }
    wire_sample_done(&back);
    print_message("largest sample: %zu bytes, limit %zu\n", len, (size_t)WIRE_MAX_SAMPLE_BYTES);
    assert_true(len <= WIRE_MAX_SAMPLE_BYTES);
    assert_true(len >= WIRE_MAX_SAMPLE_BYTES / 50u * 49u);
    free(json);
    wire_sample_done(&s);
}

int
main(void)
{
    struct CMUnitTest table[sizeof(cases) / sizeof(cases[0])];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        table[i] = (struct CMUnitTest){cases[i].name, test_table, NULL, NULL, (void *)&cases[i]};
    int failed = _cmocka_run_group_tests("wire sample table", table,
                                         sizeof(table) / sizeof(table[0]), NULL, NULL);
    const struct CMUnitTest others[] = {
        cmocka_unit_test(test_full_fields),
        cmocka_unit_test(test_too_deep),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_moves_to_cluster),
        cmocka_unit_test(test_encode_roundtrip),
        cmocka_unit_test(test_same_as_reference),
        cmocka_unit_test(test_encode_defaults_left_out),
        cmocka_unit_test(test_unconfirmed),
        cmocka_unit_test(test_vm_strings),
        cmocka_unit_test(test_largest_sample_fits),
    };
    failed += cmocka_run_group_tests_name("wire sample", others, NULL, NULL);
    return failed != 0 ? 1 : 0;
}

/* Unit tests of the pure parts of the trace readers (sim/trace.h): trace_parse_planetlab()
 * and trace_parse_bitbrains() on in-memory file contents (good files give the right values
 * and counts; every bad file is refused with the right 1-based line and a reason naming the
 * problem), and trace_value() on a hand-built trace in the documented time-major layout.
 * Table-driven: each table row becomes one cmocka test. No I/O. */
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

/* cmocka.h needs the headers above (cmocka 1.1). */
#include <cmocka.h>

#include "core/compiler.h"
#include "sim/trace.h"

/* Table rows give only the fields that matter to them; the rest are zero on purpose. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define WHY_SIZE 160
#define MAX_VALS 8
#define GUARD -7.0
#define EPS 1e-12

/* ---- trace_parse_planetlab() --------------------------------------------------------- */

struct pl_case {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen(in) */
    size_t max; /* room given to the parser; 0: MAX_VALS */
    int rc;     /* expected return */
    size_t n;   /* rc 0: values expected */
    double vals[MAX_VALS];
    size_t line;     /* rc < 0: expected *ret_line */
    const char *why; /* rc < 0: a substring of `why` */
};

static const struct pl_case pl_cases[] = {
    /* good */
    {"integers", "0\n50\n100\n", 0, 0, 0, 3, {0, 0.5, 1}},
    {"decimals", "12.5\n0.25\n99.75\n", 0, 0, 0, 3, {0.125, 0.0025, 0.9975}},
    {"CRLF line endings", "10\r\n20\r\n30\r\n", 0, 0, 0, 3, {0.1, 0.2, 0.3}},
    {"trailing blank lines", "10\n20\n\n\n", 0, 0, 0, 2, {0.1, 0.2}},
    {"trailing blanks, CRLF", "10\r\n20\r\n\r\n \t\r\n", 0, 0, 0, 2, {0.1, 0.2}},
    {"no final newline", "10\n20", 0, 0, 0, 2, {0.1, 0.2}},
    {"single value without newline", "42", 0, 0, 0, 1, {0.42}},
    {"blanks around the number", " 7 \n\t8\t\n", 0, 0, 0, 2, {0.07, 0.08}},
    {"exponent notation", "1e1\n2.5E1\n", 0, 0, 0, 2, {0.1, 0.25}},
    {"bounds 0 and 100", "100\n0\n100.0\n", 0, 0, 0, 3, {1, 0, 1}},
    {"exactly max values", "1\n2\n3\n", 0, 3, 0, 3, {0.01, 0.02, 0.03}},
    {"exactly max values, then blank lines", "1\n2\n3\n\n", 0, 3, 0, 3, {0.01, 0.02, 0.03}},
    /* bad */
    {"not a number", "10\nabc\n", 0, 0, -EINVAL, 0, {0}, 2, "\"abc\""},
    {"not a number: reason", "10\nabc\n", 0, 0, -EINVAL, 0, {0}, 2, "expected a CPU percentage"},
    {"number followed by letters", "12abc\n", 0, 0, -EINVAL, 0, {0}, 1, "\"12abc\""},
    {"two numbers on a line", "10\n20 30\n", 0, 0, -EINVAL, 0, {0}, 2, "\"20 30\""},
    {"decimal comma", "10\n1,5\n", 0, 0, -EINVAL, 0, {0}, 2, "\"1,5\""},
    {"hexadecimal", "0x10\n", 0, 0, -EINVAL, 0, {0}, 1, "\"0x10\""},
    {"nan", "10\nnan\n", 0, 0, -EINVAL, 0, {0}, 2, "\"nan\""},
    {"inf", "inf\n", 0, 0, -EINVAL, 0, {0}, 1, "\"inf\""},
    {"overflowing exponent", "10\n20\n1e999\n", 0, 0, -EINVAL, 0, {0}, 3, "\"1e999\""},
    {"lone sign", "-\n", 0, 0, -EINVAL, 0, {0}, 1, "expected a CPU percentage"},
    {"NUL byte in a line", "5\0\n", 3, 0, -EINVAL, 0, {0}, 1, "expected a CPU percentage"},
    {"CRLF, error on line 3", "1\r\n2\r\nx\r\n", 0, 0, -EINVAL, 0, {0}, 3, "\"x\""},
    {"above 100", "10\n100.5\n", 0, 0, -EINVAL, 0, {0}, 2, "outside 0..100"},
    {"above 100: value named", "101\n", 0, 0, -EINVAL, 0, {0}, 1, "101"},
    {"negative", "-1\n", 0, 0, -EINVAL, 0, {0}, 1, "outside 0..100"},
    {"negative decimal on line 4", "1\n2\n3\n-0.5\n", 0, 0, -EINVAL, 0, {0}, 4, "outside 0..100"},
    {"empty file", "", 0, 0, -EINVAL, 0, {0}, 1, "no samples"},
    {"only blank lines", "\n\n \n", 0, 0, -EINVAL, 0, {0}, 1, "no samples"},
    {"blank line in the middle", "10\n\n20\n", 0, 0, -EINVAL, 0, {0}, 2, "empty line"},
    {"blank line in the middle, CRLF", "10\r\n20\r\n\r\n30\r\n", 0, 0, -EINVAL, 0, {0}, 3, "empty"},
    {"blank-only line in the middle", "10\n \t\n20", 0, 0, -EINVAL, 0, {0}, 2, "empty line"},
    {"first line blank", "\n10\n", 0, 0, -EINVAL, 0, {0}, 1, "empty line"},
    {"more than max values", "1\n2\n3\n", 0, 2, -EINVAL, 0, {0}, 3, "more than 2 samples"},
    {"more than max values, max 1", "1\n2\n", 0, 1, -EINVAL, 0, {0}, 2, "more than 1 samples"},
};

static void
test_planetlab(void **state)
{
    const struct pl_case *tc = *state;
    size_t len = tc->len != 0 ? tc->len : strlen(tc->in);
    size_t max = tc->max != 0 ? tc->max : MAX_VALS;
    double out[MAX_VALS + 1];
    char why[WHY_SIZE];
    size_t n = 12345;
    size_t line = 12345;

    for (size_t i = 0; i < ARRAY_SIZE(out); i++) {
        out[i] = GUARD;
    }
    memset(why, 'x', sizeof(why));
    why[sizeof(why) - 1] = '\0';
    int rc = trace_parse_planetlab(tc->in, len, out, max, &n, &line, why);
    assert_int_equal(rc, tc->rc);
    /* Never writes past the room it was given. */
    assert_true(out[max] == GUARD);
    if (rc == 0) {
        assert_int_equal(n, tc->n);
        for (size_t i = 0; i < n; i++) {
            if (fabs(out[i] - tc->vals[i]) > EPS) {
                fail_msg("%s: value %zu expected %g, got %g", tc->name, i, tc->vals[i], out[i]);
            }
        }
        return;
    }
    assert_int_equal(line, tc->line);
    assert_non_null(memchr(why, '\0', sizeof(why)));
    if (strstr(why, tc->why) == NULL) {
        fail_msg("%s: why \"%s\" does not mention \"%s\"", tc->name, why, tc->why);
    }
}

/* ---- trace_parse_bitbrains() --------------------------------------------------------- */

#define BB_HEADER                                                                                  \
    "Timestamp [ms];\tCPU cores;\tCPU capacity provisioned [MHZ];\tCPU usage [MHZ];\tCPU "         \
    "usage [%];\tMemory capacity provisioned [KB];\tMemory usage [KB];\tDisk read "                \
    "throughput [KB/s];\tDisk write throughput [KB/s];\tNetwork received throughput "              \
    "[KB/s];\tNetwork transmitted throughput [KB/s]\n"

/* Rows in the real format; the values of ROW1..ROW3 are spelled out in test_bitbrains_values. */
#define ROW1                                                                                       \
    "1372629804;\t2;\t5851.9989;\t87.7799835;\t1.5;\t8218624.0;\t1034592.8;\t160.5;\t21.25;"       \
    "\t0.25;\t1.5\n"
#define ROW2 "1372630104;\t2;\t5851.9989;\t58.5;\t1;\t8218624;\t1000000;\t0;\t3;\t4;\t0\n"
#define ROW3 "1372630404;\t4;\t11703.9978;\t0;\t0;\t8218624;\t0;\t1e3;\t0;\t0;\t0\n"

/* One row with field `f` (1-based) replaced by text X; the others valid. */
#define T1 "1372629804"
#define ROW_F1(x) x ";\t2;\t100;\t50;\t50;\t1024;\t512;\t1;\t2;\t3;\t4\n"
#define ROW_F2(x) T1 ";\t" x ";\t100;\t50;\t50;\t1024;\t512;\t1;\t2;\t3;\t4\n"
#define ROW_F4(x) T1 ";\t2;\t100;\t" x ";\t50;\t1024;\t512;\t1;\t2;\t3;\t4\n"
#define ROW_F7(x) T1 ";\t2;\t100;\t50;\t50;\t1024;\t" x ";\t1;\t2;\t3;\t4\n"
#define ROW_F11(x) T1 ";\t2;\t100;\t50;\t50;\t1024;\t512;\t1;\t2;\t3;\t" x "\n"
#define ROW_AT(ts) ts ";\t2;\t100;\t50;\t50;\t1024;\t512;\t1;\t2;\t3;\t4\n"
#define ROW_CRLF(ts) ts ";\t2;\t100;\t50;\t50;\t1024;\t512;\t1;\t2;\t3;\t4\r\n"

struct bb_case {
    const char *name;
    const char *in;
    size_t max; /* 0: MAX_VALS */
    int rc;
    size_t n;        /* rc 0: rows expected */
    size_t line;     /* rc < 0 */
    const char *why; /* rc < 0: a substring of `why` */
};

static const struct bb_case bb_cases[] = {
    /* good; the rows' values are checked in test_bitbrains_values */
    {"header and three rows", BB_HEADER ROW1 ROW2 ROW3, 0, 0, 3},
    {"exactly max rows", BB_HEADER ROW1 ROW2 ROW3, 3, 0, 3},
    {"no final newline", BB_HEADER ROW1 "1372630104;\t2;\t1;\t1;\t1;\t1;\t1;\t1;\t1;\t1;\t1", 0, 0,
     2},
    {"blank lines between and after rows", BB_HEADER ROW1 "\n" ROW2 " \n\n", 0, 0, 2},
    {"CRLF line endings", "Timestamp [ms];\tCPU cores\r\n" ROW_CRLF("10") "\r\n" ROW_CRLF("20"), 0,
     0, 2},
    {"0 cores (a VM that is off, as in the real traces)", BB_HEADER ROW_F2("0"), 0, 0, 1},
    /* bad */
    {"empty file", "", 0, -EINVAL, 0, 1, "empty file"},
    {"missing header", ROW1 ROW2, 0, -EINVAL, 0, 1, "header"},
    {"header in lower case", "timestamp;\tcpu\n" ROW1, 0, -EINVAL, 0, 1, "header"},
    {"blank first line", "\n" BB_HEADER ROW1, 0, -EINVAL, 0, 1, "header"},
    {"header only", BB_HEADER, 0, -EINVAL, 0, 1, "no rows"},
    {"header only, no newline", "Timestamp [ms];\tCPU cores", 0, -EINVAL, 0, 1, "no rows"},
    {"header and blank lines", BB_HEADER "\n\n", 0, -EINVAL, 0, 3, "no rows"},
    {"too few fields", BB_HEADER ROW1 "1372630104;\t2;\t1;\t1;\t1;\t1;\t1;\t1;\t1;\t1\n", 0,
     -EINVAL, 0, 3, "10 fields, expected 11"},
    {"one field", BB_HEADER "1372630104\n", 0, -EINVAL, 0, 2, "1 fields, expected 11"},
    {"too many fields", BB_HEADER "1;\t2;\t1;\t1;\t1;\t1;\t1;\t1;\t1;\t1;\t1;\t1\n", 0, -EINVAL, 0,
     2, "more than 11 fields"},
    {"trailing separator", BB_HEADER "1;\t2;\t1;\t1;\t1;\t1;\t1;\t1;\t1;\t1;\t1;\t\n", 0, -EINVAL,
     0, 2, "more than 11 fields"},
    {"comma separators", BB_HEADER "1,\t2,\t1,\t1,\t1,\t1,\t1,\t1,\t1,\t1,\t1\n", 0, -EINVAL, 0, 2,
     "not a number"},
    {"timestamp not a number", BB_HEADER ROW_F1("abc"), 0, -EINVAL, 0, 2, "field 1 (Timestamp)"},
    {"cores not a number", BB_HEADER ROW_F2("two"), 0, -EINVAL, 0, 2, "field 2 (CPU cores)"},
    {"cpu usage not a number", BB_HEADER ROW1 ROW_AT("1372630104") ROW_F4("12abc"), 0, -EINVAL, 0,
     4, "field 4 (CPU usage [MHZ]): not a number"},
    {"memory usage empty", BB_HEADER ROW_F7(""), 0, -EINVAL, 0, 2, "field 7 (Memory usage)"},
    {"last field not a number", BB_HEADER ROW_F11("x"), 0, -EINVAL, 0, 2,
     "field 11 (Network transmitted)"},
    {"field is nan", BB_HEADER ROW_F4("nan"), 0, -EINVAL, 0, 2, "not a number"},
    {"negative cores", BB_HEADER ROW_F2("-2"), 0, -EINVAL, 0, 2, "field 2 (CPU cores) is negative"},
    {"negative memory usage", BB_HEADER ROW_AT("1") ROW_F7("-1"), 0, -EINVAL, 0, 3,
     "field 7 (Memory usage) is negative"},
    {"negative network", BB_HEADER ROW_F11("-0.5"), 0, -EINVAL, 0, 2,
     "field 11 (Network transmitted) is negative"},
    {"timestamp repeated", BB_HEADER ROW_AT("100") ROW_AT("200") ROW_AT("200"), 0, -EINVAL, 0, 4,
     "not after the previous row"},
    {"timestamp decreasing", BB_HEADER ROW_AT("100") ROW_AT("50"), 0, -EINVAL, 0, 3,
     "timestamp 50 is not after the previous row's 100"},
    {"line numbers count blank lines", BB_HEADER ROW_AT("100") "\n\n" ROW_AT("90"), 0, -EINVAL, 0,
     5, "not after"},
    {"more rows than max", BB_HEADER ROW1 ROW2 ROW3, 2, -E2BIG, 0, 4, "more than 2 rows"},
    {"more rows than max, max 1", BB_HEADER ROW1 ROW2, 1, -E2BIG, 0, 3, "more than 1 rows"},
};

static void
test_bitbrains(void **state)
{
    const struct bb_case *tc = *state;
    size_t max = tc->max != 0 ? tc->max : MAX_VALS;
    struct trace_bb_row rows[MAX_VALS + 1];
    struct trace_bb_row guard;
    char why[WHY_SIZE];
    size_t n = 12345;
    size_t line = 12345;

    memset(&guard, 0xa5, sizeof(guard));
    for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
        rows[i] = guard;
    }
    memset(why, 'x', sizeof(why));
    why[sizeof(why) - 1] = '\0';
    int rc = trace_parse_bitbrains(tc->in, strlen(tc->in), rows, max, &n, &line, why);
    assert_int_equal(rc, tc->rc);
    assert_memory_equal(&rows[max], &guard, sizeof(guard));
    if (rc == 0) {
        assert_int_equal(n, tc->n);
        for (size_t i = 1; i < n; i++) {
            assert_true(rows[i].ts > rows[i - 1].ts);
        }
        return;
    }
    assert_int_equal(line, tc->line);
    assert_non_null(memchr(why, '\0', sizeof(why)));
    if (strstr(why, tc->why) == NULL) {
        fail_msg("%s: why \"%s\" does not mention \"%s\"", tc->name, why, tc->why);
    }
}

/* Every field of the three good rows, with disk = read + write and net = rx + tx. */
static void
test_bitbrains_values(void **state)
{
    static const char in[] = BB_HEADER ROW1 ROW2 ROW3;
    static const struct trace_bb_row expect[] = {
        {1372629804, 2, 5851.9989, 87.7799835, 8218624, 1034592.8, 160.5 + 21.25, 0.25 + 1.5},
        {1372630104, 2, 5851.9989, 58.5, 8218624, 1000000, 3, 4},
        {1372630404, 4, 11703.9978, 0, 8218624, 0, 1000, 0},
    };
    struct trace_bb_row rows[MAX_VALS];
    char why[WHY_SIZE] = "";
    size_t n = 0;
    size_t line = 0;

    (void)state;
    assert_int_equal(trace_parse_bitbrains(in, strlen(in), rows, MAX_VALS, &n, &line, why), 0);
    assert_int_equal(n, ARRAY_SIZE(expect));
    for (size_t i = 0; i < n; i++) {
        const struct trace_bb_row *g = &rows[i];
        const struct trace_bb_row *e = &expect[i];

        assert_true(g->ts == e->ts);
        assert_true(g->cores == e->cores);
        assert_true(fabs(g->cap_mhz - e->cap_mhz) < 1e-9);
        assert_true(fabs(g->use_mhz - e->use_mhz) < 1e-9);
        assert_true(fabs(g->mem_cap_kb - e->mem_cap_kb) < 1e-9);
        assert_true(fabs(g->mem_use_kb - e->mem_use_kb) < 1e-9);
        assert_true(fabs(g->disk_kbs - e->disk_kbs) < 1e-9);
        assert_true(fabs(g->net_kbs - e->net_kbs) < 1e-9);
    }
}

/* The parser reads exactly `len` bytes: a prefix that ends inside a row is that shorter
 * row, and bytes past `len` are never looked at. */
static void
test_bitbrains_len_bounds(void **state)
{
    static const char in[] = BB_HEADER ROW_AT("100") ROW_F11("45") "garbage;\tgarbage\n";
    size_t good = strlen(BB_HEADER ROW_AT("100") ROW_F11("45"));
    struct trace_bb_row rows[MAX_VALS];
    char why[WHY_SIZE] = "";
    size_t n = 0;
    size_t line = 0;

    (void)state;
    assert_int_equal(trace_parse_bitbrains(in, good, rows, MAX_VALS, &n, &line, why), 0);
    assert_int_equal(n, 2);
    assert_true(rows[1].net_kbs == 3 + 45);
    /* Cut inside the last field of the second row ("45" becomes "4"). */
    n = 0;
    assert_int_equal(trace_parse_bitbrains(in, good - 2, rows, MAX_VALS, &n, &line, why), 0);
    assert_int_equal(n, 2);
    assert_true(rows[1].net_kbs == 3 + 4);
    /* Cut before the last separator: 10 fields. */
    assert_int_equal(trace_parse_bitbrains(in, good - 5, rows, MAX_VALS, &n, &line, why), -EINVAL);
    assert_int_equal(line, 3);
    assert_non_null(strstr(why, "10 fields"));
}

/* Same for PlanetLab: a number cut by `len` is the shorter number. */
static void
test_planetlab_len_bounds(void **state)
{
    static const char in[] = "10\n25\nxyz\n";
    double out[MAX_VALS];
    char why[WHY_SIZE] = "";
    size_t n = 0;
    size_t line = 0;

    (void)state;
    assert_int_equal(trace_parse_planetlab(in, 6, out, MAX_VALS, &n, &line, why), 0);
    assert_int_equal(n, 2);
    assert_int_equal(trace_parse_planetlab(in, 4, out, MAX_VALS, &n, &line, why), 0);
    assert_int_equal(n, 2);
    assert_true(fabs(out[1] - 0.02) < EPS);
    assert_int_equal(trace_parse_planetlab(in, sizeof(in) - 1, out, MAX_VALS, &n, &line, why),
                     -EINVAL);
    assert_int_equal(line, 3);
}

/* ---- trace_value() ------------------------------------------------------------------- */

/* n_vms = 2, n_samples = 3: four values per VM at t = 0, 300, 600, 900, stored sample by
 * sample (value k of VM v at [k * 2 + v]). The last value differs from the one before on
 * purpose, to see that the last interval interpolates towards value n_samples. */
static const double tv_cpu[] = {
    0.1, 0.9, /* t = 0 */
    0.2, 0.5, /* t = 300 */
    0.4, 0.3, /* t = 600 */
    0.8, 0.0, /* t = 900 */
};
static const double tv_other[] = {10, 1000, 20, 2000, 30, 3000, 40, 4000};

struct tv_case {
    const char *name;
    const double *series;
    size_t vm;
    double t;
    double expect;
};

static const struct tv_case tv_cases[] = {
    {"vm0 at 0", tv_cpu, 0, 0, 0.1},
    {"vm1 at 0", tv_cpu, 1, 0, 0.9},
    {"vm0 before 0 is clamped", tv_cpu, 0, -100, 0.1},
    {"vm1 far before 0 is clamped", tv_cpu, 1, -1e12, 0.9},
    {"vm0 half way in the first interval", tv_cpu, 0, 150, 0.15},
    {"vm1 half way in the first interval", tv_cpu, 1, 150, 0.7},
    {"vm0 on a sample", tv_cpu, 0, 300, 0.2},
    {"vm1 on a sample", tv_cpu, 1, 300, 0.5},
    {"vm0 a quarter into the second interval", tv_cpu, 0, 375, 0.25},
    {"vm1 three quarters into the second interval", tv_cpu, 1, 525, 0.35},
    {"vm0 on the last real sample", tv_cpu, 0, 600, 0.4},
    {"vm0 in the last interval", tv_cpu, 0, 750, 0.6},
    {"vm1 in the last interval", tv_cpu, 1, 750, 0.15},
    {"vm0 at the end", tv_cpu, 0, 900, 0.8},
    {"vm1 at the end", tv_cpu, 1, 900, 0.0},
    {"vm0 after the end is clamped", tv_cpu, 0, 901, 0.8},
    {"vm1 far after the end is clamped", tv_cpu, 1, 1e12, 0.0},
    {"another series, vm0", tv_other, 0, 450, 25},
    {"another series, vm1", tv_other, 1, 450, 2500},
    {"another series, vm1 clamped", tv_other, 1, 5000, 4000},
};

static void
test_value(void **state)
{
    const struct tv_case *tc = *state;
    struct trace tr;

    trace_init(&tr);
    tr.format = TRACE_PLANETLAB;
    tr.n_vms = 2;
    tr.n_samples = 3;
    double got = trace_value(&tr, tc->series, tc->vm, tc->t);
    if (fabs(got - tc->expect) > 1e-9) {
        fail_msg("%s: expected %g, got %g", tc->name, tc->expect, got);
    }
}

/* A single-sample trace (n_samples = 1, two values) with three VMs: the stride is n_vms. */
static void
test_value_three_vms(void **state)
{
    static const double s[] = {0.0, 0.3, 0.6, 1.0, 0.6, 0.0};
    struct trace tr;

    (void)state;
    trace_init(&tr);
    tr.n_vms = 3;
    tr.n_samples = 1;
    assert_true(fabs(trace_value(&tr, s, 0, 150) - 0.5) < 1e-12);
    assert_true(fabs(trace_value(&tr, s, 1, 150) - 0.45) < 1e-12);
    assert_true(fabs(trace_value(&tr, s, 2, 150) - 0.3) < 1e-12);
    assert_true(fabs(trace_value(&tr, s, 2, 300) - 0.0) < 1e-12);
    assert_true(fabs(trace_value(&tr, s, 2, 0) - 0.6) < 1e-12);
}

/* trace_init() gives an empty trace; trace_done() accepts NULL and an empty trace. */
static void
test_init_done(void **state)
{
    struct trace tr;

    (void)state;
    memset(&tr, 0xa5, sizeof(tr));
    trace_init(&tr);
    assert_int_equal(tr.n_vms, 0);
    assert_int_equal(tr.n_samples, 0);
    assert_null(tr.names);
    assert_null(tr.cpu);
    assert_null(tr.mem_mib);
    trace_done(&tr);
    trace_done(NULL);
    assert_int_equal(tr.n_vms, 0);
    assert_null(tr.cpu);
}

/* trace_subset(): the first VMs over the first samples, the last one repeated; sizes and the
 * other series follow. */
static void
test_subset(void **state)
{
    (void)state;
    struct trace tr;
    trace_init(&tr);
    tr.format = TRACE_BITBRAINS;
    tr.n_vms = 3;
    tr.n_samples = 4;
    tr.names = calloc(3, sizeof(char *));
    assert_non_null(tr.names);
    for (int i = 0; i < 3; i++) {
        char n[2] = {(char)('a' + i), '\0'};
        tr.names[i] = malloc(2);
        assert_non_null(tr.names[i]);
        memcpy(tr.names[i], n, 2);
    }
    tr.cpu = malloc(15 * sizeof(double));
    tr.disk_kbs = malloc(15 * sizeof(double));
    tr.cpu_mhz = malloc(3 * sizeof(double));
    assert_true(tr.cpu != NULL && tr.disk_kbs != NULL && tr.cpu_mhz != NULL);
    for (size_t k = 0; k < 15; k++) {
        tr.cpu[k] = (double)k; /* sample k / 3, VM k % 3 */
        tr.disk_kbs[k] = 100.0 + (double)k;
    }
    for (size_t v = 0; v < 3; v++)
        tr.cpu_mhz[v] = 1000.0 * (double)(v + 1);
    struct trace sub;
    trace_init(&sub);
    assert_int_equal(trace_subset(&tr, 2, 3, &sub), 0);
    assert_int_equal(sub.n_vms, 2);
    assert_int_equal(sub.n_samples, 3);
    assert_int_equal(sub.format, TRACE_BITBRAINS);
    assert_string_equal(sub.names[1], "b");
    for (size_t k = 0; k < 3; k++) {
        for (size_t v = 0; v < 2; v++) {
            assert_true(sub.cpu[k * 2 + v] == tr.cpu[k * 3 + v]);
            assert_true(sub.disk_kbs[k * 2 + v] == tr.disk_kbs[k * 3 + v]);
        }
    }
    /* The repeat: sample 3 is sample 2 again. */
    assert_true(sub.cpu[3 * 2 + 1] == tr.cpu[2 * 3 + 1]);
    assert_true(sub.cpu_mhz[1] == 2000.0);
    assert_null(sub.net_kbs);
    trace_done(&sub);
    /* More than there is: all of it; none: refused. */
    assert_int_equal(trace_subset(&tr, 10, 10, &sub), 0);
    assert_int_equal(sub.n_vms, 3);
    assert_int_equal(sub.n_samples, 4);
    assert_true(sub.cpu[4 * 3 + 2] == tr.cpu[3 * 3 + 2]);
    trace_done(&sub);
    assert_int_equal(trace_subset(&tr, 0, 3, &sub), -EINVAL);
    trace_done(&tr);
}

/* ---------------------------------------------------------------------------------------- */

static int
run_table(const char *group, const void *rows, size_t row_size, size_t n,
          const char *(*row_name)(const void *row), void (*fn)(void **state))
{
    struct CMUnitTest *t = calloc(n, sizeof(*t));

    assert_non_null(t);
    for (size_t i = 0; i < n; i++) {
        const void *row = (const char *)rows + i * row_size;

        t[i].name = row_name(row);
        t[i].test_func = fn;
        t[i].initial_state = (void *)(uintptr_t)row;
    }
    int failed = _cmocka_run_group_tests(group, t, n, NULL, NULL);
    free(t);
    return failed;
}

static const char *
pl_name(const void *row)
{
    return ((const struct pl_case *)row)->name;
}

static const char *
bb_name(const void *row)
{
    return ((const struct bb_case *)row)->name;
}

static const char *
tv_name(const void *row)
{
    return ((const struct tv_case *)row)->name;
}

int
main(void)
{
    int failed = 0;

    failed += run_table("trace planetlab", pl_cases, sizeof(pl_cases[0]), ARRAY_SIZE(pl_cases),
                        pl_name, test_planetlab);
    failed += run_table("trace bitbrains", bb_cases, sizeof(bb_cases[0]), ARRAY_SIZE(bb_cases),
                        bb_name, test_bitbrains);
    failed += run_table("trace value", tv_cases, sizeof(tv_cases[0]), ARRAY_SIZE(tv_cases), tv_name,
                        test_value);

    const struct CMUnitTest misc[] = {
        cmocka_unit_test(test_bitbrains_values),
        cmocka_unit_test(test_bitbrains_len_bounds),
        cmocka_unit_test(test_planetlab_len_bounds),
        cmocka_unit_test(test_value_three_vms),
        cmocka_unit_test(test_init_done),
        cmocka_unit_test(test_subset),
    };
    failed += cmocka_run_group_tests_name("trace misc", misc, NULL, NULL);
    return failed != 0 ? 1 : 0;
}

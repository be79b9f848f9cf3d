/* Unit tests of option tables (cli/opt_table.h) on a small command of their own: the command
 * line (long and short options, values in the same word, flags, setters, -c, -n, -h), every
 * error message, which names the option and the value; the config sections, whose errors
 * name the file, the line, the section and the key; sections per object; and --help, laid
 * out from the table. cli_error() is replaced to keep the messages. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
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

#include "cli/cli.h"
#include "cli/opt_table.h"
#include "core/policy.h"
#include "proto/policy_ini.h"

/* The last message cli_error() printed. */
static char last_error[1024];

void
cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
}

/* The command's options. */
struct sub {
    double x;
    uint32_t n;
};

struct obj {
    char name[16];
    double w;
};

struct topts {
    char name[16];
    double level;
    bool quiet;
    int mode;
    char items[3][8];
    size_t n_items;
    struct sub sub;
    struct obj objs[2];
    size_t n_objs;
};

static int
add_item(void *target, const char *v, char *why, size_t len)
{
    struct topts *o = target;
    if (o->n_items == 3 || strlen(v) >= sizeof(o->items[0])) {
        (void)snprintf(why, len, "%s", o->n_items == 3 ? "too many items" : "too long");
        return -EINVAL;
    }
    (void)snprintf(o->items[o->n_items++], sizeof(o->items[0]), "%s", v);
    return 0;
}

/* "A B": each as --item. */
static int
add_items(void *target, const char *v, char *why, size_t len)
{
    char item[8];
    for (size_t n = strcspn(v, " "); *v != '\0'; v += n + (v[n] == ' '), n = strcspn(v, " ")) {
        (void)snprintf(item, sizeof(item), "%.*s", (int)(n < 7 ? n : 7), v);
        if (add_item(target, item, why, len) < 0)
            return -EINVAL;
    }
    return 0;
}

static bool
obj_name_ok(const char *name)
{
    return strchr(name, ' ') == NULL;
}

/* Room for objects "a" and "b" only. */
static void *
obj_find(void *opts, const char *name, char *why, size_t len)
{
    struct topts *o = opts;
    size_t i = (size_t)(name[0] - 'a');
    if (name[1] != '\0' || i >= 2) {
        (void)snprintf(why, len, "too many objects");
        return NULL;
    }
    (void)snprintf(o->objs[i].name, sizeof(o->objs[i].name), "%s", name);
    o->n_objs = i + 1 > o->n_objs ? i + 1 : o->n_objs;
    return &o->objs[i];
}

static const char *const modes[] = {"slow", "fast", NULL};

#define TO(member) SETTING_FIELD(struct topts, member)

static const struct opt_def main_defs[] = {
    {.name = "config", .short_name = 'c', .action = OPT_CONFIG, .arg = "FILE", .help = "read FILE"},
    {.name = "name",
     .key = "name",
     .set = {SETTING_STRING, TO(name), .why = "must be a name"},
     .arg = "NAME",
     .help = "the name"},
    {.name = "level",
     .short_name = 'l',
     .key = "level",
     .set = {SETTING_DOUBLE, TO(level), .lo = 0, .hi = 10, .why = "must be 0 to 10"},
     .arg = "X",
     .help = "the level (default {}),\nfractions allowed"},
    {.name = "quiet",
     .short_name = 'q',
     .key = "quiet",
     .set = {SETTING_BOOL, TO(quiet)},
     .help = "say less"},
    {.name = "mode",
     .key = "mode",
     .set = {SETTING_ENUM, TO(mode), .choices = modes},
     .arg = "MODE",
     .help = "slow or fast (default {})"},
    {.name = "item", .setter = add_item, .arg = "ITEM", .help = "an item, repeatable"},
    {.key = "items", .setter = add_items, .repeat = true},
    {.name = "secret", .key = "secret", .set = {SETTING_BOOL, TO(quiet)}},
};

static const struct opt_def sub_defs[] = {
    {.name = "a-rather-long-option",
     .key = "x",
     .set = {SETTING_DOUBLE, SETTING_FIELD(struct sub, x), .lo = -1, .hi = 1},
     .arg = "SECONDS",
     .help = "x of sub (default {})"},
    {.key = "n", .set = {SETTING_INT, SETTING_FIELD(struct sub, n), .lo = 1, .hi = 5}},
};

static const struct opt_def obj_defs[] = {
    {.key = "w", .set = {SETTING_DOUBLE, SETTING_FIELD(struct obj, w), .lo = 0, .hi = 1}},
};

static const struct opt_table tables[] = {
    {"main", main_defs, ARRAY_SIZE(main_defs), 0, NULL, NULL},
    {"sub", sub_defs, ARRAY_SIZE(sub_defs), offsetof(struct topts, sub), NULL, NULL},
    {"obj", obj_defs, ARRAY_SIZE(obj_defs), 0, obj_name_ok, obj_find},
    {NULL, opt_tail, OPT_N_TAIL, 0, NULL, NULL},
};

static const struct opt_cmd cmd = {"test", tables, ARRAY_SIZE(tables), "usage: vmloc test\n\n",
                                   "\nthe end\n"};

static void
init(struct topts *o)
{
    memset(o, 0, sizeof(*o));
    o->level = 1.5;
    o->mode = 1;
    last_error[0] = '\0';
}

/* opt_parse_args() on "test" and the words of `args` (split at spaces). */
static int
run(struct topts *o, const char *args, bool *check)
{
    static char words[256];
    char *argv[32] = {"test"};
    int argc = 1;
    (void)snprintf(words, sizeof(words), "%s", args);
    for (char *save = NULL, *w = strtok_r(words, " ", &save); w != NULL && argc < 31;
         w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    return opt_parse_args(&cmd, argc, argv, o, check);
}

static void
test_args(void **state)
{
    (void)state;
    struct topts o;
    bool check = true;
    init(&o);
    const char *args = "--name web -l 2.5 -q --mode=slow --item a --item b -c ignored "
                       "--a-rather-long-option -0.5";
    assert_int_equal(run(&o, args, &check), 0);
    assert_false(check);
    assert_string_equal(o.name, "web");
    assert_true(o.level == 2.5);
    assert_true(o.quiet);
    assert_int_equal(o.mode, 0);
    assert_int_equal(o.n_items, 2);
    assert_string_equal(o.items[1], "b");
    assert_true(o.sub.x == -0.5);
    assert_string_equal(last_error, "");
    /* The last of a repeated option wins; -n asks for a check. */
    assert_int_equal(run(&o, "-l1 --level 3 -n", &check), 0);
    assert_true(o.level == 3);
    assert_true(check);
}

/* A bad command line (`args`) or config file (`text`), and all of the message it gets. */
struct err_case {
    const char *name;
    const char *args; /* after the command's name, split at spaces */
    const char *text;
    const char *message;
};

static const struct err_case err_cases[] = {
    {"bad value", "--level 11", NULL, "test: --level 11: must be 0 to 10"},
    {"bad value, short", "-l 11", NULL, "test: -l 11: must be 0 to 10"},
    {"bad value in the same word", "--level=x", NULL, "test: --level=x: must be 0 to 10"},
    {"bad value, short, same word", "-l-1", NULL, "test: -l-1: must be 0 to 10"},
    {"enum value", "--mode warp", NULL, "test: --mode warp: must be one of slow, fast"},
    {"setter's message", "--item a --item 123456789", NULL, "test: --item 123456789: too long"},
    {"unknown option", "--bogus", NULL, "test: unknown option '--bogus' (see vmloc test --help)"},
    {"unknown short option", "-z", NULL, "test: unknown option '-z' (see vmloc test --help)"},
    {"unknown short option in a group", "--level 1 -qz", NULL,
     "test: unknown option '-z' (see vmloc test --help)"},
    {"unknown short option first in a group", "--level 1 -zq", NULL,
     "test: unknown option '-z' (see vmloc test --help)"},
    {"missing value at the end of a group", "-ql", NULL,
     "test: option '-l' needs a value (see vmloc test --help)"},
    {"a key only, not an option", "--items a", NULL,
     "test: unknown option '--items' (see vmloc test --help)"},
    {"missing value", "--level", NULL,
     "test: option '--level' needs a value (see vmloc test --help)"},
    {"missing value, short", "-l", NULL, "test: option '-l' needs a value (see vmloc test --help)"},
    {"flag with a value", "--quiet=yes", NULL,
     "test: unknown option '--quiet=yes' (see vmloc test --help)"},
    {"unexpected argument", "-q extra", NULL,
     "test: unexpected argument 'extra' (see vmloc test --help)"},
    {"out of range", NULL, "[main]\nname = a\n\nlevel = 12\n",
     "t.ini:4: [main] level: must be 0 to 10"},
    {"unknown key", NULL, "[main]\nbogus = 1\n",
     "t.ini:2: [main] bogus: unknown key (name, level, quiet, mode, items, secret)"},
    {"an option only, not a key", NULL, "[main]\nitem = a\n",
     "t.ini:2: [main] item: unknown key (name, level, quiet, mode, items, secret)"},
    {"unknown key of another table's section", NULL, "[sub]\nname = a\n",
     "t.ini:2: [sub] name: unknown key (x, n)"},
    {"a whole number", NULL, "[sub]\nn = 2.5\n",
     "t.ini:2: [sub] n: must be a whole number from 1 to 5"},
    {"default message of a double", NULL, "[sub]\nx = 2\n",
     "t.ini:2: [sub] x: must be a number from -1 to 1"},
    {"given twice", NULL, "[main]\nlevel = 1\nlevel = 2\n", "t.ini:3: [main] level: given twice"},
    {"an object's key given twice", NULL, "[obj \"a\"]\nw = 1\n; again\nw = 1\n",
     "t.ini:4: [obj \"a\"] w: given twice"},
    {"a repeated list past its room", NULL, "[main]\nitems = a\nitems = b c\n\nitems = d\n",
     "t.ini:5: [main] items: too many items"},
    {"setter's message", NULL, "[main]\nitems = a b c d\n",
     "t.ini:2: [main] items: too many items"},
    {"an object's key", NULL, "[obj \"a\"]\nw = 2\n",
     "t.ini:2: [obj \"a\"] w: must be a number from 0 to 1"},
    {"too many objects", NULL, "[obj \"a\"]\nw = 1\n[obj \"b\"]\nw = 1\n[obj \"c\"]\nw = 1\n",
     "t.ini:6: [obj \"c\"] w: too many objects"},
    {"an object's name refused", NULL, "[obj \"a b\"]\nw = 1\n",
     "t.ini:1: [obj \"a b\"]: unknown section (see the config's documentation for the sections)"},
    {"an object without a name", NULL, "[obj]\nw = 1\n",
     "t.ini:1: [obj]: unknown section (see the config's documentation for the sections)"},
    {"the policy's errors still", NULL, "[main]\nlevel = 1\n[detect]\nmin_vms = 0\n",
     "t.ini:4: [detect] min_vms: must be an integer from 1 to 1000000"},
};

/* config_parse_string_ext() with the command's sections. 0 or the parser's error. */
static int
parse_config(struct topts *o, struct policy *pol, const char *text, struct perr *err)
{
    struct opt_ext x;
    opt_ext_init(&x, &cmd, o);
    policy_init(pol);
    return config_parse_string_ext(text, "t.ini", pol, &x.ext, err);
}

static void
test_error(void **state)
{
    const struct err_case *c = *state;
    struct topts o;
    struct policy pol;
    struct perr err;
    bool check = false;
    init(&o);
    if (c->text == NULL) {
        assert_int_equal(run(&o, c->args, &check), CLI_EXIT_USAGE);
        assert_string_equal(last_error, c->message);
        return;
    }
    assert_int_equal(parse_config(&o, &pol, c->text, &err), -EINVAL);
    assert_string_equal(err.msg, c->message);
    policy_done(&pol);
}

static void
test_config(void **state)
{
    (void)state;
    struct topts o;
    struct policy pol;
    struct perr err;
    init(&o);
    int r = parse_config(&o, &pol,
                         "[main]\nname = db\nlevel = 7\nquiet = on\nitems = x y\n"
                         "[detect]\nmin_vms = 3\n[sub]\nx = 1\nn = 4\n"
                         "[obj \"a\"]\nw = 0.25\n[obj \"b\"]\nw = 0.5\n",
                         &err);
    if (r != 0)
        fail_msg("rejected: %s", err.msg);
    assert_string_equal(o.name, "db");
    assert_true(o.level == 7);
    assert_true(o.quiet);
    assert_int_equal(o.n_items, 2);
    assert_int_equal(pol.min_vms, 3);
    assert_true(o.sub.x == 1);
    assert_int_equal(o.sub.n, 4);
    assert_int_equal(o.n_objs, 2);
    assert_string_equal(o.objs[1].name, "b");
    assert_true(o.objs[1].w == 0.5);
    policy_done(&pol);

    /* A key with .repeat: each line adds to the list, in order, among other keys. */
    init(&o);
    r = parse_config(&o, &pol, "[main]\nitems = x\nlevel = 1\n; more\nitems = y z\n", &err);
    if (r != 0)
        fail_msg("repeated items rejected: %s", err.msg);
    assert_int_equal(o.n_items, 3);
    assert_string_equal(o.items[0], "x");
    assert_string_equal(o.items[1], "y");
    assert_string_equal(o.items[2], "z");
    policy_done(&pol);
}

static void
test_config_path(void **state)
{
    (void)state;
    char *a[] = {"test", "-c", "one", "--config", "two", "--config=three", "-n", NULL};
    assert_string_equal(opt_config_path(&cmd, 7, a), "three");
    assert_string_equal(opt_config_path(&cmd, 3, a), "one");
    assert_string_equal(opt_config_path(&cmd, 5, a), "two");
    char *b[] = {"test", "-l", "1", "-c", NULL};
    assert_null(opt_config_path(&cmd, 4, b)); /* no value: getopt says so later */
    char *c[] = {"test", "--configure", "x", "-", NULL};
    assert_null(opt_config_path(&cmd, 4, c));
}

static void
test_usage(void **state)
{
    (void)state;
    struct topts o;
    init(&o);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    opt_usage(&cmd, &o, f);
    assert_int_equal(fclose(f), 0);
    assert_string_equal(text, "usage: vmloc test\n\n"
                              "  -c, --config FILE        read FILE\n"
                              "      --name NAME          the name\n"
                              "  -l, --level X            the level (default 1.5),\n"
                              "                           fractions allowed\n"
                              "  -q, --quiet              say less\n"
                              "      --mode MODE          slow or fast (default fast)\n"
                              "      --item ITEM          an item, repeatable\n"
                              "      --a-rather-long-option SECONDS  x of sub (default 0)\n"
                              "  -n, --check-config       check the settings, print "
                              "'configuration OK', exit\n"
                              "  -h, --help               show this help\n"
                              "\nthe end\n");
    free(text);
}

int
main(void)
{
    static struct CMUnitTest errors[ARRAY_SIZE(err_cases)];
    for (size_t i = 0; i < ARRAY_SIZE(err_cases); i++) {
        errors[i] =
            (struct CMUnitTest){err_cases[i].name, test_error, NULL, NULL, (void *)&err_cases[i]};
    }
    const struct CMUnitTest misc[] = {
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_config_path),
        cmocka_unit_test(test_usage),
    };
    int failed = cmocka_run_group_tests_name("opt_table", misc, NULL, NULL);
    failed += _cmocka_run_group_tests("opt_table errors", errors, ARRAY_SIZE(errors), NULL, NULL);
    return failed != 0;
}

/* Option tables (opt_table.h): one loop over a command's tables for each job: --help, the
 * getopt_long() table, the command line, the config file's sections. */
#define _POSIX_C_SOURCE 200809L
#include "cli/opt_table.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/file.h"   /* file_read_all() */
#include "common/limits.h" /* LIMIT_CONFIG_BYTES */
#include "core/model.h"    /* MODEL_MAX_NAME */
#include "proto/policy_ini.h"

/* Where --help starts an option's text: the column after "  -l, --listen ADDR:PORT   ". */
#define HELP_COLUMN 27
/* getopt_long() values of options without a short name: this plus the entry's number. */
#define LONG_ONLY 256

const struct opt_def opt_tail[OPT_N_TAIL] = {
    {.name = "check-config",
     .short_name = 'n',
     .action = OPT_CHECK,
     .help = "check the settings, print 'configuration OK', exit"},
    {.name = "help", .short_name = 'h', .action = OPT_HELP, .help = "show this help"},
};

static void *
table_base(const struct opt_table *t, void *opts)
{
    return (char *)opts + t->base;
}

/* Store `v` into the struct at `target` as `d` says. 0, or -EINVAL with `why`. */
static int
apply_def(const struct opt_def *d, void *target, const char *v, char *why, size_t len)
{
    int r = d->setter != NULL ? d->setter(target, v, why, len)
                              : setting_parse(&d->set, target, v, why, len);
    return r < 0 ? -EINVAL : 0;
}

/* --- --help ----------------------------------------------------------------------------- */

/* One line of help text (up to '\n' or the end), with "{}" replaced by `value`. */
static void
help_line(FILE *f, const char *line, size_t len, const char *value)
{
    const char *mark = NULL;
    for (size_t i = 0; i + 1 < len; i++) {
        if (line[i] == '{' && line[i + 1] == '}') {
            mark = line + i;
            break;
        }
    }
    if (mark == NULL) {
        (void)fprintf(f, "%.*s\n", (int)len, line);
        return;
    }
    (void)fprintf(f, "%.*s%s%.*s\n", (int)(mark - line), line, value,
                  (int)(len - (size_t)(mark - line) - 2), mark + 2);
}

static void
usage_def(FILE *f, const struct opt_def *d, const void *base)
{
    char head[96];
    char value[128] = "";
    int n = snprintf(head, sizeof(head), "  %c%c%c --%s%s%s", d->short_name ? '-' : ' ',
                     d->short_name ? d->short_name : ' ', d->short_name ? ',' : ' ', d->name,
                     d->arg != NULL ? " " : "", d->arg != NULL ? d->arg : "");
    int pad = n < HELP_COLUMN ? HELP_COLUMN - n : 2;
    (void)fprintf(f, "%s%*s", head, pad, "");
    if (d->action == OPT_SET && d->setter == NULL)
        (void)setting_format(&d->set, base, false, value, sizeof(value));
    const char *line = d->help;
    for (bool first = true;; first = false) {
        const char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        if (!first)
            (void)fprintf(f, "%*s", HELP_COLUMN, "");
        help_line(f, line, len, value);
        if (nl == NULL)
            break;
        line = nl + 1;
    }
}

void
opt_usage(const struct opt_cmd *cmd, const void *opts, FILE *f)
{
    (void)fputs(cmd->usage, f);
    for (size_t t = 0; t < cmd->n_tables; t++) {
        const struct opt_table *tab = &cmd->tables[t];
        for (size_t i = 0; i < tab->n_defs; i++) {
            if (tab->defs[i].name != NULL && tab->defs[i].help != NULL)
                usage_def(f, &tab->defs[i], (const char *)opts + tab->base);
        }
    }
    (void)fputs(cmd->epilog, f);
}

/* --- the command line ------------------------------------------------------------------- */

/* The getopt_long() value of the `n`-th entry of the command's tables. */
static int
def_val(const struct opt_def *d, size_t n)
{
    return d->short_name != 0 ? (unsigned char)d->short_name : LONG_ONLY + (int)n;
}

/* The entry whose getopt_long() value is `val`, and its table; NULL if none. */
static const struct opt_def *
def_of_val(const struct opt_cmd *cmd, int val, const struct opt_table **ret_table)
{
    size_t n = 0;
    for (size_t t = 0; t < cmd->n_tables; t++) {
        for (size_t i = 0; i < cmd->tables[t].n_defs; i++, n++) {
            const struct opt_def *d = &cmd->tables[t].defs[i];
            if (d->name != NULL && def_val(d, n) == val) {
                *ret_table = &cmd->tables[t];
                return d;
            }
        }
    }
    return NULL;
}

/* getopt_long()'s tables for `cmd`: *ret_long and *ret_short (caller frees both). 0 or
 * -ENOMEM. */
static int
getopt_tables(const struct opt_cmd *cmd, struct option **ret_long, char **ret_short)
{
    size_t total = 0;
    for (size_t t = 0; t < cmd->n_tables; t++)
        total += cmd->tables[t].n_defs;
    struct option *lo = calloc(total + 1, sizeof(*lo));
    char *s = malloc(3 * total + 2);
    if (lo == NULL || s == NULL) {
        free(lo);
        free(s);
        return -ENOMEM;
    }
    *ret_long = lo;
    *ret_short = s;
    *s++ = ':';
    size_t n = 0;
    for (size_t t = 0; t < cmd->n_tables; t++) {
        for (size_t i = 0; i < cmd->tables[t].n_defs; i++, n++) {
            const struct opt_def *d = &cmd->tables[t].defs[i];
            if (d->name == NULL)
                continue;
            int has_arg = d->arg != NULL ? required_argument : no_argument;
            *lo++ = (struct option){d->name, has_arg, NULL, def_val(d, n)};
            if (d->short_name != 0) {
                *s++ = d->short_name;
                if (has_arg == required_argument)
                    *s++ = ':';
            }
        }
    }
    *s = '\0';
    return 0;
}

/* The option just read and its value, as written: "--level 11", "--level=11", "-l11". */
static void
option_words(char **argv, char *buf, size_t len)
{
    const char *word = argv[optind - 1];
    if (optarg == word && optind >= 2)
        (void)snprintf(buf, len, "%s %s", argv[optind - 2], optarg);
    else
        (void)snprintf(buf, len, "%s", word);
}

int
cli_unknown_option(const char *cmd, char **argv, const char *shorts)
{
    char opt[4];
    const char *name = argv[optind - 1];
    if (optopt > ' ' && optopt < 127 && strchr(shorts, optopt) == NULL) {
        (void)snprintf(opt, sizeof(opt), "-%c", optopt);
        name = opt;
    }
    cli_error("%s: unknown option '%s' (see vmloc %s --help)", cmd, name, cmd);
    return CLI_EXIT_USAGE;
}

int
cli_missing_value(const char *cmd, char **argv)
{
    char opt[4];
    const char *name = argv[optind - 1];
    if (strncmp(name, "--", 2) != 0 && optopt > ' ' && optopt < 127) {
        (void)snprintf(opt, sizeof(opt), "-%c", optopt);
        name = opt;
    }
    cli_error("%s: option '%s' needs a value (see vmloc %s --help)", cmd, name, cmd);
    return CLI_EXIT_USAGE;
}

/* One option read by getopt_long() with short options `shorts`: 0 (go on), -1 (help printed)
 * or an exit status. */
static int
take_option(const struct opt_cmd *cmd, const char *shorts, int c, char **argv, void *opts,
            bool *check)
{
    const struct opt_table *tab = NULL;
    const struct opt_def *d = c == ':' || c == '?' ? NULL : def_of_val(cmd, c, &tab);
    if (c == ':')
        return cli_missing_value(cmd->name, argv);
    if (d == NULL)
        return cli_unknown_option(cmd->name, argv, shorts);
    char why[SETTING_WHY_MAX];
    char words[256];
    switch (d->action) {
    case OPT_CONFIG:
        return 0; /* read before */
    case OPT_CHECK:
        *check = true;
        return 0;
    case OPT_HELP:
        opt_usage(cmd, opts, stdout);
        return -1;
    case OPT_SET:
        break;
    }
    if (apply_def(d, table_base(tab, opts), d->arg != NULL ? optarg : "yes", why, sizeof(why)) <
        0) {
        option_words(argv, words, sizeof(words));
        cli_error("%s: %s: %s", cmd->name, words, why);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

int
opt_parse_args(const struct opt_cmd *cmd, int argc, char **argv, void *opts, bool *ret_check)
{
    struct option *longs = NULL;
    char *shorts = NULL;
    if (getopt_tables(cmd, &longs, &shorts) < 0) {
        cli_error("%s: out of memory", cmd->name);
        return CLI_EXIT_FAIL;
    }
    *ret_check = false;
    int r = 0;
    int c;
    opterr = 0;
    optind = 0; /* not 1: getopt forgets all of a previous parse (glibc, musl) */
    while (r == 0 && (c = getopt_long(argc, argv, shorts, longs, NULL)) != -1)
        r = take_option(cmd, shorts, c, argv, opts, ret_check);
    free(longs);
    free(shorts);
    if (r == 0 && optind < argc) {
        cli_error("%s: unexpected argument '%s' (see vmloc %s --help)", cmd->name, argv[optind],
                  cmd->name);
        r = CLI_EXIT_USAGE;
    }
    return r;
}

/* --- the config file -------------------------------------------------------------------- */

/* Is `s` (`len` bytes) the section of `t`: "SECTION", or for a table of objects
 * `SECTION "NAME"` with a valid NAME (copied to `name`, MODEL_MAX_NAME + 1 bytes)? */
static bool
section_is(const struct opt_table *t, const char *s, size_t len, char *name)
{
    if (t->section == NULL)
        return false;
    size_t wl = strlen(t->section);
    if (t->name_ok == NULL)
        return len == wl && memcmp(s, t->section, wl) == 0;
    if (len < wl + 4 || memcmp(s, t->section, wl) != 0 || s[wl] != ' ' || s[wl + 1] != '"' ||
        s[len - 1] != '"')
        return false;
    size_t n = len - wl - 3;
    if (n > MODEL_MAX_NAME || memchr(s + wl + 2, '"', n) != NULL)
        return false;
    memcpy(name, s + wl + 2, n);
    name[n] = '\0';
    return t->name_ok(name);
}

static bool
ext_owns(void *ctx, const char *section, size_t len)
{
    const struct opt_ext *x = ctx;
    char name[MODEL_MAX_NAME + 1];
    for (size_t t = 0; t < x->cmd->n_tables; t++) {
        if (section_is(&x->cmd->tables[t], section, len, name))
            return true;
    }
    return false;
}

/* "unknown key (A, B, ...)": the keys of `section`. */
static void
unknown_key(struct opt_ext *x, const char *section)
{
    char name[MODEL_MAX_NAME + 1];
    size_t off = (size_t)snprintf(x->why, sizeof(x->why), "unknown key");
    const char *sep = " (";
    for (size_t t = 0; t < x->cmd->n_tables; t++) {
        const struct opt_table *tab = &x->cmd->tables[t];
        if (!section_is(tab, section, strlen(section), name))
            continue;
        for (size_t i = 0; i < tab->n_defs && off < sizeof(x->why); i++) {
            if (tab->defs[i].key == NULL)
                continue;
            off +=
                (size_t)snprintf(x->why + off, sizeof(x->why) - off, "%s%s", sep, tab->defs[i].key);
            sep = ", ";
        }
    }
    if (off < sizeof(x->why) && sep[0] == ',')
        (void)snprintf(x->why + off, sizeof(x->why) - off, ")");
}

/* The entry of key `key` in `section`, or NULL; its table in *ret_tab and, for a named
 * section ("[host NAME]"), the name in `name` (MODEL_MAX_NAME + 1 bytes). */
static const struct opt_def *
def_of_key(const struct opt_ext *x, const char *section, const char *key,
           const struct opt_table **ret_tab, char *name)
{
    for (size_t t = 0; t < x->cmd->n_tables; t++) {
        const struct opt_table *tab = &x->cmd->tables[t];
        if (!section_is(tab, section, strlen(section), name))
            continue;
        for (size_t i = 0; i < tab->n_defs; i++) {
            if (tab->defs[i].key != NULL && strcmp(tab->defs[i].key, key) == 0) {
                *ret_tab = tab;
                return &tab->defs[i];
            }
        }
    }
    return NULL;
}

static int
ext_apply(void *ctx, const char *section, const char *key, const char *value, const char **why)
{
    struct opt_ext *x = ctx;
    char name[MODEL_MAX_NAME + 1];
    const struct opt_table *tab = NULL;
    *why = x->why;
    const struct opt_def *d = def_of_key(x, section, key, &tab, name);
    if (d == NULL) {
        unknown_key(x, section);
        return -EINVAL;
    }
    void *target = tab->name_ok == NULL ? table_base(tab, x->opts)
                                        : tab->object(x->opts, name, x->why, sizeof(x->why));
    if (target == NULL)
        return -EINVAL;
    return apply_def(d, target, value, x->why, sizeof(x->why));
}

static bool
ext_repeats(void *ctx, const char *section, const char *key)
{
    char name[MODEL_MAX_NAME + 1];
    const struct opt_table *tab = NULL;
    const struct opt_def *d = def_of_key(ctx, section, key, &tab, name);
    return d != NULL && d->repeat;
}

void
opt_ext_init(struct opt_ext *x, const struct opt_cmd *cmd, void *opts)
{
    x->ext = (struct config_ext){ext_owns, ext_apply, ext_repeats, x};
    x->cmd = cmd;
    x->opts = opts;
    x->why[0] = '\0';
}

int
opt_config_load(const struct opt_cmd *cmd, void *opts, const char *path, struct policy *pol,
                char **ret_text)
{
    if (path == NULL) {
        policy_finish(pol);
        return CLI_EXIT_OK;
    }
    char *text = NULL;
    size_t len = 0;
    int r = file_read_all(path, LIMIT_CONFIG_BYTES, &text, &len);
    if (r < 0) {
        cli_error("%s: %s", path, file_strerror(r));
        return r == -ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
    }
    struct perr err;
    struct opt_ext x;
    opt_ext_init(&x, cmd, opts);
    if (strlen(text) != len) {
        perr_set(&err, "%s: NUL byte in config", path);
        r = -EINVAL;
    } else {
        r = config_parse_string_ext(text, path, pol, cmd != NULL ? &x.ext : NULL, &err);
    }
    if (r < 0 || ret_text == NULL)
        free(text);
    else
        *ret_text = text;
    if (r < 0) {
        cli_error("%s", err.msg);
        return r == -ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

const char *
opt_config_path(const struct opt_cmd *cmd, int argc, char **argv)
{
    const struct opt_def *c = NULL;
    for (size_t t = 0; t < cmd->n_tables && c == NULL; t++) {
        for (size_t i = 0; i < cmd->tables[t].n_defs && c == NULL; i++) {
            if (cmd->tables[t].defs[i].action == OPT_CONFIG)
                c = &cmd->tables[t].defs[i];
        }
    }
    const char *path = NULL;
    size_t nl = c != NULL ? strlen(c->name) : 0;
    for (int i = 1; c != NULL && i < argc; i++) {
        const char *a = argv[i];
        bool is_short = c->short_name != 0 && a[0] == '-' && a[1] == c->short_name && a[2] == '\0';
        bool is_long = a[0] == '-' && a[1] == '-' && strncmp(a + 2, c->name, nl) == 0;
        if ((is_short || (is_long && a[nl + 2] == '\0')) && i + 1 < argc)
            path = argv[++i];
        else if (is_long && a[nl + 2] == '=')
            path = a + nl + 3;
    }
    return path;
}

int
opt_parse(const struct opt_cmd *cmd, int argc, char **argv, void *opts, struct policy *pol,
          bool *ret_check)
{
    int r = opt_config_load(cmd, opts, opt_config_path(cmd, argc, argv), pol, NULL);
    return r != CLI_EXIT_OK ? r : opt_parse_args(cmd, argc, argv, opts, ret_check);
}

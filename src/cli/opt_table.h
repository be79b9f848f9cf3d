/* Option tables: a command's options and config-file keys, declared once [tmux options-table.c].
 *
 * Each entry (struct opt_def) says which long and short option and which config key it is,
 * what its value is (a struct setting: type, range, field) and its lines of --help. A table
 * (struct opt_table) is the entries of one struct and one config section. From a command's
 * tables come the getopt_long() table, the --help text, the config sections handed to the
 * policy parser (struct config_ext), and every message about a bad value, which names the
 * option ("agent: --interval 0: must be ...") or the file, line, section and key
 * ("a.ini:4: [agent] interval: must be ..."). The few values a setting cannot say (--vm,
 * --peer) have a setter. */
#ifndef VMLOC_CLI_OPT_TABLE_H
#define VMLOC_CLI_OPT_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/compiler.h"
#include "proto/policy_ini.h" /* struct config_ext */
#include "proto/setting.h"

struct policy;

/* What an option does besides setting a value. */
enum opt_action {
    OPT_SET = 0, /* store its value (a flag, one without a value, stores "yes") */
    OPT_CONFIG,  /* -c FILE: the config file, read before the other options (opt_parse()) */
    OPT_CHECK,   /* -n: check the settings and exit (*ret_check) */
    OPT_HELP,    /* -h: print the help and exit */
};

struct opt_def {
    const char *name;   /* long option, without "--"; NULL: a config key only */
    char short_name;    /* or 0 */
    const char *key;    /* key in the table's config section; NULL: an option only */
    struct setting set; /* type, range and field (in the table's struct) */
    /* The few values a setting cannot say: store `v` into the table's struct at `target`.
     * 0, or -EINVAL with `why` (`len` bytes) saying what is wrong. NULL: `set` says it. */
    int (*setter)(void *target, const char *v, char *why, size_t len);
    enum opt_action action;
    /* The config key may be given on several lines, each one applied in turn (a list that
     * each line adds to: [agent] peers); otherwise a key given twice is an error. */
    bool repeat;
    const char *arg;  /* the value's name in --help ("SECONDS"); NULL: a flag, no value */
    const char *help; /* --help lines ('\n' between them); "{}" is the value in effect before
                         the command line (the default or the file's); NULL: not shown */
};

struct opt_table {
    const char *section; /* config section of the keys ("agent"), or NULL */
    const struct opt_def *defs;
    size_t n_defs;
    size_t base; /* offset of the table's struct in the command's options */
    /* A section per object, [SECTION "NAME"] ([vm "web-1"]), when not NULL: is NAME one,
     * and the object's struct (made on first use; NULL with `why` filled when it cannot be). */
    bool (*name_ok)(const char *name);
    void *(*object)(void *opts, const char *name, char *why, size_t len);
};

/* A command: its tables and the words of its --help around the options. */
struct opt_cmd {
    const char *name; /* "agent": messages start "agent: " */
    const struct opt_table *tables;
    size_t n_tables;
    const char *usage;  /* --help before the options, ending in "options:\n" */
    const char *epilog; /* --help after them */
};

/* The entries a daemon ends with, -n/--check-config and -h/--help: its last table is
 * {NULL, opt_tail, OPT_N_TAIL, 0, NULL, NULL}. */
#define OPT_N_TAIL 2
extern const struct opt_def opt_tail[OPT_N_TAIL];

/* Print the --help of `cmd` to `f`: usage, one line or more per option, epilog; "{}" in a help
 * text shows the field's value in `opts` (the command's options, before the command line). */
void opt_usage(const struct opt_cmd *cmd, const void *opts, FILE *f);

/* The config sections of a command, for config_parse_string_ext(): `ext` hands each key of a
 * section of the tables to its entry, and says "unknown key (A, B, ...)" for the others. */
struct opt_ext {
    struct config_ext ext;
    const struct opt_cmd *cmd;
    void *opts;
    char why[512];
};

/* Make `x` the config sections of `cmd`, whose keys go into `opts`; borrows both. */
void opt_ext_init(struct opt_ext *x, const struct opt_cmd *cmd, void *opts);

/* Read the config file `path` into `pol` (the policy's sections) and `opts` (the sections of
 * `cmd`'s tables; `cmd` may be NULL: the policy's only). `path` NULL: no file, `pol` gets
 * policy_finish(). On success *ret_text (when not NULL) is the file's text (caller frees).
 * CLI_EXIT_OK; CLI_EXIT_USAGE or CLI_EXIT_FAIL (out of memory) after printing why, with
 * `pol` to be freed by the caller. */
MUST_CHECK int opt_config_load(const struct opt_cmd *cmd, void *opts, const char *path,
                               struct policy *pol, char **ret_text);

/* Apply the command line `argv` (argv[0] the command's name) to `opts` with `cmd`'s tables.
 * 0: parsed, *ret_check true if -n was given; -1: --help printed; CLI_EXIT_USAGE after
 * printing why. Options given twice: the last wins, or each one counts (setters). */
MUST_CHECK int opt_parse_args(const struct opt_cmd *cmd, int argc, char **argv, void *opts,
                              bool *ret_check);

/* The value of the last config option (the entry with OPT_CONFIG: "-c FILE", "--config FILE",
 * "--config=FILE") in `argv`, or NULL: a command reads its file before the other options,
 * which then win over it. */
const char *opt_config_path(const struct opt_cmd *cmd, int argc, char **argv);

/* opt_config_load() of the -c/--config file in `argv`, then opt_parse_args(): options given
 * on the command line win over the file. Returns as opt_parse_args(). */
MUST_CHECK int opt_parse(const struct opt_cmd *cmd, int argc, char **argv, void *opts,
                         struct policy *pol, bool *ret_check);

#endif

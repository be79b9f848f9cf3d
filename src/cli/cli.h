/* The `vmloc` command: one entry per subcommand, dispatched from main.c. Exit statuses are
 * the same everywhere: 0 success, 1 failure at run time, 2 bad arguments or bad input. */
#ifndef VMLOC_CLI_CLI_H
#define VMLOC_CLI_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/compiler.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

struct cli_cmd {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the subcommand name */
    const char *summary;
};

/* --- reporting (cli_util.c) --- */

/* Print "vmloc: MESSAGE" on standard error as one line. */
void cli_error(const char *fmt, ...) PRINTF_LIKE(1, 2);

/* --- options (opt_table.c) --- */

/* Say that subcommand `cmd` does not know the option getopt_long() just refused (it returned
 * '?'): "-x" for an unknown short option (in a group such as "-xz", glibc leaves optind on the
 * group, so argv[optind - 1] would name the argument before it), else the argument itself
 * ("--bogus", or "--json=1" for an option that takes no value). `shorts`: the command's short
 * options, as given to getopt_long(). Returns CLI_EXIT_USAGE. */
int cli_unknown_option(const char *cmd, char **argv, const char *shorts);

/* Say that the option getopt_long() just found without its value (it returned ':') needs one:
 * "--config" as given, or "-c" (not the group "-qc" it ended). Returns CLI_EXIT_USAGE. */
int cli_missing_value(const char *cmd, char **argv);

/* Parse a finite number in [lo, hi] (the whole string). 0 or -EINVAL. */
MUST_CHECK int cli_parse_num(const char *s, double lo, double hi, double *ret);

/* A daemon's data directory `data` (`len` bytes; "": not given): when not given, the default
 * of role `role` ("manager", "agent-h1"; common/statedir.h) goes into it and its missing
 * parents are created (mode 0700); when given, a missing parent is an error naming it.
 * CLI_EXIT_OK, or CLI_EXIT_USAGE / CLI_EXIT_FAIL after saying why (as "`cmd`: ..."). */
MUST_CHECK int cli_data_dir(const char *cmd, const char *role, char *data, size_t len);

/* A string field of `o`, or "?" when it is missing or not a string (never NULL). */
const char *cli_jstr(json_t *o, const char *key);

/* The strings of JSON array `arr` joined with `sep` into `buf` (truncated to fit). */
void cli_join(json_t *arr, const char *sep, char *buf, size_t len);

/* The daemon the terminal commands talk to: --agent URL if given, else --manager URL, else
 * the default manager (VMLOC_MANAGER or http://127.0.0.1:7700); a list of managers is
 * resolved to one with cli_leader_find() (once). Never NULL. */
const char *cli_target_url(void);

/* The manager to talk to from `list`, URLs separated by commas (--manager or VMLOC_MANAGER),
 * into `buf` (`len` bytes): one URL as it is; of several, the one that leads, asked with GET
 * /v1/health (else a follower, else the first; cli_leader.c). An element that is not a URL
 * is put there as it is, for the caller's check to name it. */
void cli_leader_find(const char *list, char *buf, size_t len);

/* The global --agent URL, or NULL. */
const char *cli_global_agent(void);

/* --- the API token (cli_auth.c) --- */
struct http_auth;
struct http_answer;
struct http_tls;
struct http_security_conf;

/* The global --token-file FILE (NULL: the default of token_default_path()). */
void cli_set_token_file(const char *path);

/* `given` if not NULL or empty, else the global --token-file, else the first of
 * token_search(): $VMLOC_TOKEN_FILE, $CREDENTIALS_DIRECTORY/token, /etc/vmloc/token, the XDG
 * path. *ret_source names where it came from ("option" for a given file); *ret_create says
 * whether a daemon may create it when missing (a file named by an option or the environment,
 * or the XDG path; never a credential or /etc/vmloc/token). 0 or -ENOENT/-ENAMETOOLONG. */
MUST_CHECK int cli_token_path(const char *given, char *buf, size_t len, const char **ret_source,
                              bool *ret_create);

/* cli_daemon_auth() and cli_daemon_tls() on `c`: the token (created when missing) into
 * *auth, the TLS (NULL when not configured) into *ret_tls. CLI_EXIT_OK or CLI_EXIT_USAGE
 * after printing why. */
MUST_CHECK int cli_daemon_security(const struct http_security_conf *c, struct http_auth *auth,
                                   struct http_tls **ret_tls);

/* --check-config: the TLS files of `c` load (or none is given). The token file is not
 * created. CLI_EXIT_OK or CLI_EXIT_USAGE after printing why. */
MUST_CHECK int cli_check_tls(const struct http_security_conf *c);

/* A daemon's credentials: the token of `token_file` (NULL or "": the default file), created
 * when missing (logged, without the token), and `open_reads`. CLI_EXIT_OK, or
 * CLI_EXIT_USAGE after printing why (a bad path, mode or content). */
MUST_CHECK int cli_daemon_auth(const char *token_file, bool open_reads, struct http_auth *out);

/* A daemon's mutual TLS from its three files (all "" : none, *ret NULL). CLI_EXIT_OK, or
 * CLI_EXIT_USAGE after printing why (only some given, a file not usable, a readable key). */
MUST_CHECK int cli_daemon_tls(const char *cert, const char *key, const char *ca,
                              struct http_tls **ret);

/* The terminal's global --tls-cert (0), --tls-key (1), --tls-ca (2). */
void cli_set_tls_path(int which, const char *path);

/* The terminal's token (from --token-file or the default file; never created), or NULL with
 * *ret_why saying why there is none. Loaded once. */
const char *cli_token(const char **ret_why);

/* http_fetch() with the terminal's token; on a 401 without a token it also prints why there
 * was none. */
MUST_CHECK int cli_fetch(const char *url, const char *method, const char *path, const char *body,
                         double timeout_s, struct http_answer *ret);

#define CLI_DEFAULT_MANAGER "http://127.0.0.1:7700"

/* Subcommands. */
int cmd_plan(int argc, char **argv);
int cmd_agent(int argc, char **argv);
int cmd_load(int argc, char **argv);
int cmd_vms(int argc, char **argv);
int cmd_migrations(int argc, char **argv);
int cmd_manager(int argc, char **argv);
int cmd_hosts(int argc, char **argv);
int cmd_conflicts(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_drain(int argc, char **argv);
int cmd_recommendations(int argc, char **argv);
int cmd_apply(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_undrain(int argc, char **argv);
/* vmloc forget: drop a host that is gone from the manager (cmd_terminal.c). */
int cmd_forget(int argc, char **argv);
/* vmloc token: make or check the API token file (cmd_token.c). */
int cmd_token(int argc, char **argv);

#endif

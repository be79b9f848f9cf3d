/* What the daemons (agent, manager) share in their option tables: the security settings
 * (token, TLS), the check of a listen address and the log levels. */
#ifndef VMLOC_CLI_DAEMON_OPTS_H
#define VMLOC_CLI_DAEMON_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "cli/opt_table.h"

/* --token-file, --open-reads, --tls-cert, --tls-key, --tls-ca, --tls-bind-names,
 * --allowed-hosts, --max-connections, --max-connections-per-client, --request-timeout and their
 * config keys (token_file, ...), into a struct http_security_conf: a daemon lists them as one of
 * its tables, at the offset of its `sec`. */
#define DAEMON_OPTS_N_SECURITY 10
extern const struct opt_def daemon_opts_security[DAEMON_OPTS_N_SECURITY];

/* The tables a daemon's list ends with, for a daemon whose options are a `type` with the field
 * `sec` (struct http_security_conf) and whose main config section is `section`: the security
 * settings, then -n/--check-config and -h/--help. */
#define DAEMON_OPTS_TAIL(type, section)                                                            \
    {section, daemon_opts_security, DAEMON_OPTS_N_SECURITY, offsetof(type, sec), NULL, NULL},      \
    {                                                                                              \
        NULL, opt_tail, OPT_N_TAIL, 0, NULL, NULL                                                  \
    }

/* debug, info, warn, error: the values of enum log_level, NULL-terminated. */
extern const char *const daemon_opts_log_levels[];

/* Is `v` a listen address, ADDR:PORT (port 0: any free one)? */
bool daemon_opts_listen_ok(const char *v);

/* The entries of -l/--listen, -i/--interval and --log-level, `{DAEMON_OPTS_LISTEN(type)}`, for
 * a daemon whose options are a `type` with the fields `listen` (a char array), `interval_s` and
 * `log_level`; `period` says what the interval is the period of ("sampling"). */
#define DAEMON_OPTS_LISTEN(type)                                                                   \
    .name = "listen", .short_name = 'l', .key = "listen",                                          \
    .set = {SETTING_TEXT(SETTING_FIELD(type, listen), daemon_opts_listen_ok,                       \
                         "must be ADDR:PORT")},                                                    \
    .arg = "ADDR:PORT", .help = "where to serve the API (default {}; port 0\npicks one)"
#define DAEMON_OPTS_INTERVAL(type, period)                                                         \
    .name = "interval", .short_name = 'i', .key = "interval",                                      \
    .set = {SETTING_NUMBER(SETTING_FIELD(type, interval_s), 0.01, 3600,                            \
                           "must be 0.01 to 3600 seconds")},                                       \
    .arg = "SECONDS", .help = period " period, fractions allowed (default {})"
#define DAEMON_OPTS_LOG_LEVEL(type)                                                                \
    .name = "log-level", .key = "log_level",                                                       \
    .set = {SETTING_CHOICE(SETTING_FIELD(type, log_level), daemon_opts_log_levels,                 \
                           "must be debug, info, warn or error")},                                 \
    .arg = "LEVEL", .help = "debug, info (default), warn, error"

#endif

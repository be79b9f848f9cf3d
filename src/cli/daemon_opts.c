/* What the daemons share in their option tables (daemon_opts.h). */
#define _POSIX_C_SOURCE 200809L
#include "cli/daemon_opts.h"

#include <stdint.h>

#include "net/http.h"

const char *const daemon_opts_log_levels[] = {"debug", "info", "warn", "error", NULL};

bool
daemon_opts_listen_ok(const char *v)
{
    char addr[256];
    uint16_t port;
    return http_split_hostport(v, addr, sizeof(addr), &port) == 0;
}

static bool
host_names_ok(const char *v)
{
    char why[8];
    return http_host_names_check(v, why, sizeof(why)) == 0;
}

#define SEC(member) SETTING_FIELD(struct http_security_conf, member)
#define PATH(member) SETTING_TEXT(SEC(member), NULL, "must be a file path")
#define YES_NO(member) SETTING_BOOL, SEC(member), .why = "must be true or false"
#define LIM(member) SETTING_FIELD(struct http_security_conf, limits.member)

const struct opt_def daemon_opts_security[DAEMON_OPTS_N_SECURITY] = {
    {.name = "token-file",
     .key = "token_file",
     .set = {PATH(token_file)},
     .arg = "FILE",
     .help = "the cluster's API token, the same file on every\n"
             "daemon and terminal (created, mode 0600, when\n"
             "missing; default $VMLOC_TOKEN_FILE, else\n"
             "$CREDENTIALS_DIRECTORY/token or /etc/vmloc/token\n"
             "when there, else ~/.config/vmloc/token)"},
    {.name = "open-reads",
     .key = "open_reads",
     .set = {YES_NO(open_reads)},
     .help = "GET requests need no token (changes still do)"},
    {.name = "tls-cert",
     .key = "tls_cert",
     .set = {PATH(tls_cert)},
     .arg = "FILE",
     .help = "mutual TLS: this daemon's certificate (PEM), with"},
    {.name = "tls-key",
     .key = "tls_key",
     .set = {PATH(tls_key)},
     .arg = "FILE",
     .help = "its private key (mode 0600) and the cluster's CA;"},
    {.name = "tls-ca",
     .key = "tls_ca",
     .set = {PATH(tls_ca)},
     .arg = "FILE",
     .help = "it then serves https:// only, to clients holding\n"
             "a certificate of that CA, and talks to https://\n"
             "URLs (docs/security.md)"},
    {.name = "tls-bind-names",
     .key = "tls_bind_names",
     .set = {YES_NO(tls_bind_names)},
     .help = "with TLS: a daemon acting for a host (an agent\n"
             "registering or notifying, a peer locking this\n"
             "host, a source moving a VM here) must hold a\n"
             "certificate that names that host"},
    {.name = "allowed-hosts",
     .key = "allowed_hosts",
     .set = {SETTING_TEXT(SEC(allowed_hosts), host_names_ok,
                          "must be host names separated by commas")},
     .arg = "NAMES",
     .help = "with open_reads: more names (comma-separated)\n"
             "a browser may use for this daemon, besides its\n"
             "addresses, its host name and localhost"},
    {.name = "max-connections",
     .key = "max_connections",
     .set = {SETTING_WHOLE(LIM(max_connections), 1, 1000000,
                           "must be a whole number from 1 to "
                           "1000000")},
     .arg = "N",
     .help = "connections at once (default {}; lowered to\n"
             "fit the open-file limit); when full, the one that\n"
             "has waited longest for its request is closed"},
    {.name = "max-connections-per-client",
     .key = "max_connections_per_client",
     .set = {SETTING_WHOLE(LIM(max_connections_per_client), 1, 1000000,
                           "must be a whole number from 1 to 1000000")},
     .arg = "N",
     .help = "from one address at once\n"
             "(default {}); more are closed at once"},
    {.name = "request-timeout",
     .key = "request_timeout",
     .set = {SETTING_NUMBER(LIM(request_timeout_s), 0.5, 3600, "must be 0.5 to 3600 seconds")},
     .arg = "SECONDS",
     .help = "a client must send each\n"
             "whole request (head and body) within this time\n"
             "(default {}), else its connection is closed"},
};

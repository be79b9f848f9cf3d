/* `vmloc manager`: parse the options, read the policy, run the manager (src/manager/).
 *
 * Every setting is one entry of the option table below: its option, its [manager] key, its
 * type, range and field, its help. The config file is read first; options given on the
 * command line win. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/daemon_opts.h"
#include "cli/opt_table.h"
#include "common/log.h"
#include "manager/manager.h"
#include "net/etcd.h"
#include "net/http.h"
#include "net/tls.h"
#include "net/workq.h"

#define MGR(member) SETTING_FIELD(struct manager_opts, member)
/* The store's directory, with room left for the names of its files. */
#define DATA_MAX (sizeof(((struct manager_opts *)NULL)->data) - 17)

static const char *const mode_names[] = {"central", "edge", NULL};         /* into `edge` */
static const char *const collect_names[] = {"interval", "notified", NULL}; /* on_notify */
/* decode_threads: "auto" or a count of threads */
static const char *const decode_names[] = {"auto", "0",  "1",  "2",  "3",  "4",  "5",
                                           "6",    "7",  "8",  "9",  "10", "11", "12",
                                           "13",   "14", "15", "16", NULL};
static const int decode_values[] = {
    MANAGER_DECODE_AUTO, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
_Static_assert(sizeof(decode_values) / sizeof(decode_values[0]) == WORKQ_MAX_THREADS + 2,
               "decode_names: auto and 0 to WORKQ_MAX_THREADS");

/* An --ha-id: as a migration id, since it may end up in logs and keys. */
static bool
ha_id_valid(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > MANAGER_HA_ID_MAX)
        return false;
    for (const char *p = v; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool
ha_prefix_valid(const char *v)
{
    if (v[0] != '/' || strlen(v) > MANAGER_HA_PREFIX_MAX)
        return false;
    for (const char *p = v; *p != '\0'; p++) {
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return false;
    }
    return true;
}

/* [manager] and its options. */
static const struct opt_def manager_defs[] = {
    {.name = "config",
     .short_name = 'c',
     .action = OPT_CONFIG,
     .arg = "FILE",
     .help = "the policy and [manager] settings (INI; see\n"
             "docs/policy.md, docs/running.md); options win"},
    {DAEMON_OPTS_LISTEN(struct manager_opts)},
    {.name = "data",
     .short_name = 'd',
     .key = "data",
     .set = {SETTING_TEXT(MGR(data), NULL, "must be a directory path"), .max_len = DATA_MAX},
     .arg = "DIR",
     .help = "the store's directory (default: $STATE_DIRECTORY/\n"
             "manager, else /var/lib/vmloc/manager as root,\n"
             "else $XDG_STATE_HOME/vmloc/manager)"},
    {.name = "mode",
     .key = "mode",
     .set = {SETTING_CHOICE(MGR(edge), mode_names,
                            "must be central or edge (peer mode needs no manager)")},
     .arg = "MODE",
     .help = "central (default): detect on every collected sample;\n"
             "edge: agents detect (vmloc agent --mode edge) and\n"
             "notify; the manager decides for notified hosts"},
    {.name = "collect",
     .key = "collect",
     .set = {SETTING_CHOICE(MGR(collect_on_notify), collect_names, "must be interval or notified")},
     .arg = "WHEN",
     .help = "edge mode: interval (default), collect every\n"
             "interval as well; notified, collect only when an\n"
             "agent notifies (less traffic, slower reaction)"},
    {DAEMON_OPTS_INTERVAL(struct manager_opts, "collection")},
    {.name = "collect-offset",
     .key = "collect_offset",
     .set = {SETTING_NUMBER(MGR(collect_offset_s), 0, 3600,
                            "must be 0 to 3600 seconds, less than the interval")},
     .arg = "SECONDS",
     .help = "rounds start this long after each whole\n"
             "interval of the clock, when the agents (which\n"
             "sample on it) have their samples ready (default\n"
             "a fifth of the interval, at most 0.5)"},
    {.name = "retention",
     .key = "retention",
     .set = {SETTING_NUMBER(MGR(retention_s), 1, 1e9, "must be at least 1 second")},
     .arg = "SECONDS",
     .help = "how long raw samples are kept (default {}:\n"
             "10 minutes)"},
    {.name = "rollup-retention",
     .key = "rollup_retention",
     .set = {SETTING_NUMBER(MGR(rollup_retention_s), 60, 1e9, "must be at least 60 seconds")},
     .arg = "SECONDS",
     .help = "how long a host's one-minute roll-ups are kept\n"
             "(default {}: 7 days)"},
    {.name = "event-retention",
     .key = "event_retention",
     .set = {SETTING_NUMBER(MGR(event_retention_s), 1, 1e9, "must be at least 1 second")},
     .arg = "SECONDS",
     .help = "how long conflicts, finished migrations and\n"
             "settled recommendations are kept (default {}:\n"
             "90 days)"},
    {.name = "forget-after",
     .key = "forget_after",
     .set = {SETTING_NUMBER(MGR(forget_after_s), 0, 1e9,
                            "must be 0 (never) or a number of seconds")},
     .arg = "SECONDS",
     .help = "forget a host whose agent has been silent this\n"
             "long (default {}: 7 days; 0: never)"},
    {.name = "store-every",
     .key = "store_every",
     .set = {SETTING_NUMBER(MGR(store_every_s), 0, 86400,
                            "must be 0 to 86400 seconds (0: every sample)")},
     .arg = "SECONDS",
     .help = "store a host's sample at most this often\n"
             "(default {}; decisions use every sample)"},
    {.name = "decode-threads",
     .key = "decode_threads",
     .set = {SETTING_CHOICE(MGR(decode_threads), decode_names,
                            "must be auto or 0 to 16 whole threads"),
             .values = decode_values},
     .arg = "N|auto",
     .help = "threads that decode the collected samples beside\n"
             "the loop; 0: the loop decodes them (default {}:\n"
             "one thread on 2 CPUs or more, once 2000 hosts are\n"
             "known; it shortens their rounds)"},
    {.name = "etcd",
     .key = "etcd",
     .set = {SETTING_TEXT(MGR(etcd), etcd_urls_valid,
                          "must be etcd's client URLs, all http://HOST:PORT or all "
                          "https://HOST:PORT, separated by commas")},
     .arg = "URLS",
     .help = "active/standby managers: campaign for the lead on\n"
             "this etcd (http[s]://HOST:PORT[,...]); only the\n"
             "leader decides and orders (docs/running.md)"},
    {.name = "etcd-ca",
     .key = "etcd_ca",
     .set = {SETTING_TEXT(MGR(etcd_ca), NULL, "must be a file path")},
     .arg = "FILE",
     .help = "https:// etcd: the CA of its members' certificates\n"
             "(PEM; needed with https:// URLs)"},
    {.name = "etcd-cert",
     .key = "etcd_cert",
     .set = {SETTING_TEXT(MGR(etcd_cert), NULL, "must be a file path")},
     .arg = "FILE",
     .help = "https:// etcd that asks clients for certificates:\n"
             "the certificate to present (PEM); needs --etcd-key"},
    {.name = "etcd-key",
     .key = "etcd_key",
     .set = {SETTING_TEXT(MGR(etcd_key), NULL, "must be a file path")},
     .arg = "FILE",
     .help = "its private key (mode 0600)"},
    {.name = "ha-id",
     .key = "ha_id",
     .set = {SETTING_TEXT(MGR(ha_id), ha_id_valid,
                          "must be 1 to 64 of A-Z a-z 0-9 . _ - (unique among the managers)")},
     .arg = "NAME",
     .help = "this manager's name among those on one etcd\n"
             "(needed with --etcd)"},
    {.name = "ha-prefix",
     .key = "ha_prefix",
     .set = {SETTING_TEXT(MGR(ha_prefix), ha_prefix_valid,
                          "must start with / and hold no control character or space")},
     .arg = "PREFIX",
     .help = "the etcd key prefix of this cluster's managers\n"
             "(default {}; the leader key is PREFIX/leader)"},
    {.name = "ha-lease",
     .key = "ha_lease",
     .set = {SETTING_WHOLE(MGR(ha_lease_s), 1, 3600, "must be 1 to 3600 whole seconds")},
     .arg = "SECONDS",
     .help = "the leader's etcd lease (default {}): a dead leader\n"
             "is replaced within it, a sixth of it and 0.5 s"},
    {DAEMON_OPTS_LOG_LEVEL(struct manager_opts)},
};

static const struct opt_table manager_tables[] = {
    {"manager", manager_defs, ARRAY_SIZE(manager_defs), 0, NULL, NULL},
    DAEMON_OPTS_TAIL(struct manager_opts, "manager"),
};

static const struct opt_cmd manager_cmd = {
    "manager", manager_tables, ARRAY_SIZE(manager_tables),
    "usage: vmloc manager [options]\n\n"
    "Run the manager: collect a sample from every registered agent each\n"
    "interval, store them, detect resource conflicts and order the migrations\n"
    "that resolve them, and serve the management terminal's API.\n\n"
    "options:\n",
    "\nAgents register themselves (vmloc agent --manager URL). Once it accepts\n"
    "connections the manager prints 'listening on http://ADDR:PORT' on standard\n"
    "output. Logs go to standard error. SIGTERM or SIGINT stops it; SIGHUP reads the\n"
    "token file again (a rotation: docs/security.md).\n"};

/* The etcd TLS settings agree with the URLs. CLI_EXIT_OK, or CLI_EXIT_USAGE after saying
 * why. */
static int
check_etcd_tls(const struct manager_opts *o)
{
    bool tls = etcd_urls_tls(o->etcd);
    bool any = o->etcd_ca[0] != '\0' || o->etcd_cert[0] != '\0' || o->etcd_key[0] != '\0';
    if (tls && o->etcd_ca[0] == '\0') {
        cli_error("manager: https:// etcd URLs (--etcd) need etcd_ca (--etcd-ca FILE): the CA "
                  "that signed the members' certificates");
        return CLI_EXIT_USAGE;
    }
    if (!tls && any) {
        cli_error("manager: etcd_ca, etcd_cert and etcd_key (--etcd-ca, --etcd-cert, "
                  "--etcd-key) need https:// etcd URLs (--etcd)%s",
                  o->etcd[0] == '\0' ? ", and there are none" : ", not http://");
        return CLI_EXIT_USAGE;
    }
    if ((o->etcd_cert[0] == '\0') != (o->etcd_key[0] == '\0')) {
        cli_error("manager: etcd_cert (--etcd-cert) and etcd_key (--etcd-key) go together: %s "
                  "is missing",
                  o->etcd_cert[0] == '\0' ? "etcd_cert" : "etcd_key");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* What holds between settings. CLI_EXIT_OK, or CLI_EXIT_USAGE after saying why. */
static int
check_opts(const struct manager_opts *o)
{
    if (o->collect_offset_s >= o->interval_s) {
        cli_error("manager: collect_offset (--collect-offset) %g s: must be less than the "
                  "interval, %g s",
                  o->collect_offset_s, o->interval_s);
        return CLI_EXIT_USAGE;
    }
    if (o->collect_on_notify && !o->edge) {
        cli_error("manager: --collect notified needs --mode edge (in central mode the manager "
                  "detects, so it must collect every interval)");
        return CLI_EXIT_USAGE;
    }
    if (o->etcd[0] != '\0' && o->ha_id[0] == '\0') {
        cli_error("manager: --etcd needs --ha-id NAME (ha_id in [manager]): each manager on one "
                  "etcd has a name of its own");
        return CLI_EXIT_USAGE;
    }
    return check_etcd_tls(o);
}

/* The etcd TLS files into *ret (NULL without https:// URLs). CLI_EXIT_OK, or CLI_EXIT_USAGE
 * after saying which file is wrong and why. */
static int
load_etcd_tls(const struct manager_opts *o, struct http_tls **ret)
{
    *ret = NULL;
    if (!etcd_urls_tls(o->etcd))
        return CLI_EXIT_OK;
    bool cert = o->etcd_cert[0] != '\0';
    char err[600];
    if (http_tls_client_new(o->etcd_ca, cert ? o->etcd_cert : NULL, cert ? o->etcd_key : NULL, ret,
                            err, sizeof(err)) < 0) {
        cli_error("manager: etcd TLS (--etcd-ca, --etcd-cert, --etcd-key): %s", err);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* The options and the config file into `o`. 0: run; -1: done (help or check printed); else
 * an exit status. */
static int
parse_args(int argc, char **argv, struct manager_opts *o)
{
    /* The file's name is kept for the log and the API. */
    const char *path = opt_config_path(&manager_cmd, argc, argv);
    if (path != NULL && strlen(path) >= sizeof(o->policy_path)) {
        cli_error("manager: --config: path too long");
        return CLI_EXIT_USAGE;
    }
    if (path != NULL)
        (void)snprintf(o->policy_path, sizeof(o->policy_path), "%s", path);
    bool check = false;
    int r = opt_parse(&manager_cmd, argc, argv, o, &o->policy, &check);
    if (r == 0)
        r = check_opts(o);

    if (r == 0 && check) {
        r = cli_check_tls(&o->sec);
        struct http_tls *etcd_tls = NULL;
        if (r == CLI_EXIT_OK)
            r = load_etcd_tls(o, &etcd_tls);
        http_tls_free(etcd_tls);
        if (r == CLI_EXIT_OK)
            (void)printf("configuration OK\n");
        return r == CLI_EXIT_OK ? -1 : r;
    }
    return r;
}

int
cmd_manager(int argc, char **argv)
{
    /* A reload (SIGHUP) before the loop handles it must not end the daemon. */
    (void)signal(SIGHUP, SIG_IGN);
    struct manager_opts *o = malloc(sizeof(*o));
    if (o == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_FAIL;
    }
    manager_opts_init(o);
    int ret = parse_args(argc, argv, o);
    if (ret != 0) {
        ret = ret < 0 ? CLI_EXIT_OK : ret;
        goto out;
    }
    log_init("manager", o->log_level);
    ret = cli_data_dir("manager", MANAGER_DATA_ROLE, o->data, DATA_MAX + 1);
    if (ret == CLI_EXIT_OK)
        ret = cli_daemon_security(&o->sec, &o->auth, &o->tls);
    if (ret == CLI_EXIT_OK)
        ret = load_etcd_tls(o, &o->etcd_tls);
    if (ret == CLI_EXIT_OK && o->etcd_tls != NULL)
        log_info("etcd over TLS ca=%s client_cert=%s", o->etcd_ca,
                 o->etcd_cert[0] != '\0' ? o->etcd_cert : "none");
    if (ret != CLI_EXIT_OK)
        goto out;
    ret = manager_run(o) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    if (ret != CLI_EXIT_OK)
        cli_error("manager: could not start or run (the log above says why)");
out:
    http_tls_free(o->tls);
    http_tls_free(o->etcd_tls);
    policy_done(&o->policy);
    free(o);
    return ret;
}

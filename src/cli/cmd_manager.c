/* `vmloc manager`: parse the options, read the policy, run the manager (src/manager/). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/file.h"
#include "common/limits.h"
#include "common/log.h"
#include "manager/manager.h"
#include "net/http.h"
#include "proto/policy_ini.h"

static void
manager_usage(FILE *f)
{
    (void)fprintf(
        f,
        "usage: vmloc manager [options]\n\n"
        "Run the manager: collect a sample from every registered agent each\n"
        "interval, store them, detect resource conflicts and order the migrations\n"
        "that resolve them, and serve the management terminal's API.\n\n"
        "options:\n"
        "  -c, --config FILE        the policy and [manager] settings (INI; see\n"
        "                           docs/policy.md, docs/running.md); options win\n"
        "  -l, --listen ADDR:PORT   where to serve the API (default %s)\n"
        "  -d, --data DIR           the store's directory (default %s)\n"
        "      --mode MODE          central (default): detect on every collected sample;\n"
        "                           edge: agents detect (vmloc agent --mode edge) and\n"
        "                           notify; the manager decides for notified hosts\n"
        "      --collect WHEN       edge mode: interval (default), collect every\n"
        "                           interval as well; notified, collect only when an\n"
        "                           agent notifies (less traffic, slower reaction)\n"
        "  -i, --interval SECONDS   collection period, fractions allowed (default %g)\n"
        "      --collect-offset SECONDS  rounds start this long after each whole\n"
        "                           interval of the clock, when the agents (which\n"
        "                           sample on it) have their samples ready (default\n"
        "                           a fifth of the interval, at most 0.5)\n"
        "      --retention SECONDS  how long samples are kept (default %g)\n"
        "      --store-every SECONDS  store a host's sample at most this often\n"
        "                           (default %g; decisions use every sample)\n"
        "  -n, --check-config       check the config, print 'configuration OK', exit\n"
        "      --log-level LEVEL    debug, info (default), warn, error\n"
        "      --token-file FILE    the cluster's API token (created, mode 0600, when\n"
        "                           missing; default $VMLOC_TOKEN_FILE, else\n"
        "                           ~/.config/vmloc/token); every request needs it\n"
        "      --open-reads         GET requests need no token (changes still do)\n"
        "      --tls-cert FILE      mutual TLS: this manager's certificate (PEM), with\n"
        "      --tls-key FILE       its private key (mode 0600) and the cluster's CA;\n"
        "      --tls-ca FILE        it then serves https:// only, to clients holding a\n"
        "                           certificate of that CA (docs/security.md)\n"
        "      --tls-bind-names     with TLS: an agent must hold a certificate that\n"
        "                           names the host it registers or notifies for\n"
        "  -h, --help               show this help\n\n"
        "Agents register themselves (vmloc agent --manager URL). Once it accepts\n"
        "connections the manager prints 'listening on http://ADDR:PORT' on standard\n"
        "output. Logs go to standard error. SIGTERM or SIGINT stops it; SIGHUP reads the\n"
        "token file again (a rotation: docs/security.md).\n",
        MANAGER_DEFAULT_LISTEN, MANAGER_DEFAULT_DATA, MANAGER_DEFAULT_INTERVAL_S,
        MANAGER_DEFAULT_RETENTION_S, MANAGER_DEFAULT_STORE_EVERY_S);
}

/* Apply one [manager] setting (also used for the options). 0 or -EINVAL with *why. */
static int
manager_set(struct manager_opts *o, const char *key, const char *v, const char **why)
{
    char addr[256];
    uint16_t port;
    if (strcmp(key, "listen") == 0) {
        if (strlen(v) >= sizeof(o->listen) ||
            http_split_hostport(v, addr, sizeof(addr), &port) < 0) {
            *why = "must be ADDR:PORT";
            return -EINVAL;
        }
        (void)snprintf(o->listen, sizeof(o->listen), "%s", v);
    } else if (strcmp(key, "data") == 0) {
        if (strlen(v) == 0 || strlen(v) >= sizeof(o->data) - 16) {
            *why = "must be a directory path";
            return -EINVAL;
        }
        (void)snprintf(o->data, sizeof(o->data), "%s", v);
    } else if (strcmp(key, "mode") == 0) {
        if (strcmp(v, "central") == 0) {
            o->edge = false;
        } else if (strcmp(v, "edge") == 0) {
            o->edge = true;
        } else {
            *why = "must be central or edge (peer mode needs no manager)";
            return -EINVAL;
        }
    } else if (strcmp(key, "collect") == 0) {
        if (strcmp(v, "interval") == 0) {
            o->collect_on_notify = false;
        } else if (strcmp(v, "notified") == 0) {
            o->collect_on_notify = true;
        } else {
            *why = "must be interval or notified";
            return -EINVAL;
        }
    } else if (strcmp(key, "interval") == 0) {
        if (cli_parse_num(v, 0.01, 3600, &o->interval_s) < 0) {
            *why = "must be 0.01 to 3600 seconds";
            return -EINVAL;
        }
    } else if (strcmp(key, "collect_offset") == 0) {
        if (cli_parse_num(v, 0, 3600, &o->collect_offset_s) < 0) {
            *why = "must be 0 to 3600 seconds, less than the interval";
            return -EINVAL;
        }
    } else if (strcmp(key, "retention") == 0) {
        if (cli_parse_num(v, 1, 1e9, &o->retention_s) < 0) {
            *why = "must be at least 1 second";
            return -EINVAL;
        }
    } else if (strcmp(key, "store_every") == 0) {
        if (cli_parse_num(v, 0, 86400, &o->store_every_s) < 0) {
            *why = "must be 0 to 86400 seconds (0: every sample)";
            return -EINVAL;
        }
    } else if (strcmp(key, "log_level") == 0) {
        if (log_level_parse(v, &o->log_level) < 0) {
            *why = "must be debug, info, warn or error";
            return -EINVAL;
        }
    } else if (cli_security_set(&o->sec, key, v, why) != 1) {
        return *why != NULL ? -EINVAL : 0;
    } else {
        *why = "unknown key (listen, data, mode, collect, interval, collect_offset, retention, "
               "store_every, log_level, token_file, open_reads, tls_cert, tls_key, tls_ca, "
               "tls_bind_names)";
        return -EINVAL;
    }
    return 0;
}

static bool
manager_owns(void *ctx, const char *s, size_t len)
{
    (void)ctx;
    return len == 7 && memcmp(s, "manager", 7) == 0;
}

static int
manager_apply(void *ctx, const char *section, const char *key, const char *value, const char **why)
{
    (void)section;
    return manager_set(ctx, key, value, why);
}

static int
load_policy(struct manager_opts *o)
{
    if (o->policy_path[0] == '\0') {
        policy_finish(&o->policy);
        return 0;
    }
    char *text = NULL;
    size_t len = 0;
    int r = file_read_all(o->policy_path, LIMIT_CONFIG_BYTES, &text, &len);
    if (r < 0) {
        cli_error("%s: %s", o->policy_path, strerror(-r));
        return CLI_EXIT_USAGE;
    }
    struct perr err;
    struct config_ext ext = {manager_owns, manager_apply, o};
    r = strlen(text) == len ? config_parse_string_ext(text, o->policy_path, &o->policy, &ext, &err)
                            : -EINVAL;
    if (strlen(text) != len)
        perr_set(&err, "%s: NUL byte in config", o->policy_path);
    free(text);
    if (r < 0) {
        cli_error("%s", err.msg);
        return r == -ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
    }
    return 0;
}

enum {
    OPT_MODE = 256,
    OPT_COLLECT_OFFSET,
    OPT_RETENTION,
    OPT_STORE_EVERY,
    OPT_LOG_LEVEL,
    OPT_COLLECT,
    OPT_TOKEN_FILE,
    OPT_OPEN_READS,
    OPT_TLS_BIND_NAMES,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_CA,
};

int
cmd_manager(int argc, char **argv)
{
    /* A reload (SIGHUP) before the loop handles it must not end the daemon. */
    (void)signal(SIGHUP, SIG_IGN);
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"data", required_argument, NULL, 'd'},
        {"mode", required_argument, NULL, OPT_MODE},
        {"collect", required_argument, NULL, OPT_COLLECT},
        {"interval", required_argument, NULL, 'i'},
        {"collect-offset", required_argument, NULL, OPT_COLLECT_OFFSET},
        {"retention", required_argument, NULL, OPT_RETENTION},
        {"store-every", required_argument, NULL, OPT_STORE_EVERY},
        {"check-config", no_argument, NULL, 'n'},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
        {"open-reads", no_argument, NULL, OPT_OPEN_READS},
        {"tls-bind-names", no_argument, NULL, OPT_TLS_BIND_NAMES},
        {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
        {"tls-key", required_argument, NULL, OPT_TLS_KEY},
        {"tls-ca", required_argument, NULL, OPT_TLS_CA},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct manager_opts *o = malloc(sizeof(*o));
    if (o == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_FAIL;
    }
    manager_opts_init(o);
    bool check = false;
    int ret = CLI_EXIT_USAGE;
    int c;
    opterr = 0;
    optind = 1;
    /* The config file first, so that options given on the command line win. */
    const char *path = cli_config_path(argc, argv);
    if (path != NULL && strlen(path) >= sizeof(o->policy_path)) {
        cli_error("manager: --config: path too long");
        goto out;
    }
    if (path != NULL)
        (void)snprintf(o->policy_path, sizeof(o->policy_path), "%s", path);
    ret = load_policy(o);
    if (ret != 0)
        goto out;
    ret = CLI_EXIT_USAGE;
    while ((c = getopt_long(argc, argv, ":c:l:d:i:nh", opts, NULL)) != -1) {
        const char *what = NULL;
        const char *key = NULL;
        switch (c) {
        case 'c':
            break; /* read above */
        case 'l':
            key = "listen";
            break;
        case 'd':
            key = "data";
            break;
        case OPT_MODE:
            key = "mode";
            break;
        case OPT_COLLECT:
            key = "collect";
            break;
        case 'i':
            key = "interval";
            break;
        case OPT_COLLECT_OFFSET:
            key = "collect_offset";
            break;
        case OPT_RETENTION:
            key = "retention";
            break;
        case OPT_STORE_EVERY:
            key = "store_every";
            break;
        case OPT_LOG_LEVEL:
            key = "log_level";
            break;
        case OPT_TOKEN_FILE:
            key = "token_file";
            break;
        case OPT_TLS_BIND_NAMES:
            o->sec.tls_bind_names = true;
            break;
        case OPT_OPEN_READS:
            o->sec.open_reads = true;
            break;
        case OPT_TLS_CERT:
            key = "tls_cert";
            break;
        case OPT_TLS_KEY:
            key = "tls_key";
            break;
        case OPT_TLS_CA:
            key = "tls_ca";
            break;
        case 'n':
            check = true;
            break;
        case 'h':
            manager_usage(stdout);
            ret = CLI_EXIT_OK;
            goto out;
        case ':':
            cli_error("manager: option '%s' needs a value (see vmloc manager --help)",
                      argv[optind - 1]);
            goto out;
        default:
            cli_error("manager: unknown option '%s' (see vmloc manager --help)", argv[optind - 1]);
            goto out;
        }
        if (key != NULL && manager_set(o, key, optarg, &what) < 0) {
            cli_error("manager: %s %s: %s", argv[optind - 1 - (optarg == argv[optind - 1])], optarg,
                      what);
            goto out;
        }
    }
    if (optind < argc) {
        cli_error("manager: unexpected argument '%s' (see vmloc manager --help)", argv[optind]);
        goto out;
    }
    if (o->collect_offset_s >= o->interval_s) {
        cli_error("manager: collect_offset (--collect-offset) %g s: must be less than the "
                  "interval, %g s",
                  o->collect_offset_s, o->interval_s);
        goto out;
    }
    if (o->collect_on_notify && !o->edge) {
        cli_error("manager: --collect notified needs --mode edge (in central mode the manager "
                  "detects, so it must collect every interval)");
        goto out;
    }
    if (check) {
        ret = cli_check_tls(&o->sec);
        if (ret == CLI_EXIT_OK)
            (void)printf("configuration OK\n");
        goto out;
    }
    log_init("manager", o->log_level);
    ret = cli_daemon_security(&o->sec, &o->auth, &o->tls);
    if (ret != CLI_EXIT_OK)
        goto out;
    ret = manager_run(o) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
    if (ret != CLI_EXIT_OK)
        cli_error("manager: could not start or run (the log above says why)");
out:
    http_tls_free(o->tls);
    policy_done(&o->policy);
    free(o);
    return ret;
}

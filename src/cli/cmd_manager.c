/* `vmloc manager`: parse the options, read the policy, run the manager (src/manager/). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <math.h>
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
    (void)fprintf(f,
                  "usage: vmloc manager [options]\n\n"
                  "Run the manager: collect a sample from every registered agent each\n"
                  "interval, store them, detect resource conflicts and order the migrations\n"
                  "that resolve them, and serve the management terminal's API.\n\n"
                  "options:\n"
                  "  -c, --config FILE        the policy (INI, as for vmloc plan; see\n"
                  "                           docs/policy.md); default: every default\n"
                  "  -l, --listen ADDR:PORT   where to serve the API (default %s)\n"
                  "  -d, --data DIR           the store's directory (default %s)\n"
                  "      --mode MODE          central (default); edge is not available yet\n"
                  "  -i, --interval SECONDS   collection period, fractions allowed (default %g)\n"
                  "      --retention SECONDS  how long samples are kept (default %g)\n"
                  "  -n, --check-config       check the config, print 'configuration OK', exit\n"
                  "      --log-level LEVEL    debug, info (default), warn, error\n"
                  "  -h, --help               show this help\n\n"
                  "Agents register themselves (vmloc agent --manager URL). Once it accepts\n"
                  "connections the manager prints 'listening on http://ADDR:PORT' on standard\n"
                  "output. Logs go to standard error. SIGTERM or SIGINT stops it.\n",
                  MANAGER_DEFAULT_LISTEN, MANAGER_DEFAULT_DATA, MANAGER_DEFAULT_INTERVAL_S,
                  MANAGER_DEFAULT_RETENTION_S);
}

static int
parse_num(const char *s, double lo, double hi, double *ret)
{
    char *end = NULL;
    errno = 0;
    double d = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || errno != 0 || !isfinite(d) || d < lo || d > hi)
        return -EINVAL;
    *ret = d;
    return 0;
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
    r = strlen(text) == len ? config_parse_string(text, o->policy_path, &o->policy, &err) : -EINVAL;
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
    OPT_RETENTION,
    OPT_LOG_LEVEL,
};

int
cmd_manager(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"data", required_argument, NULL, 'd'},
        {"mode", required_argument, NULL, OPT_MODE},
        {"interval", required_argument, NULL, 'i'},
        {"retention", required_argument, NULL, OPT_RETENTION},
        {"check-config", no_argument, NULL, 'n'},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
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
    char addr[256];
    uint16_t port;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":c:l:d:i:nh", opts, NULL)) != -1) {
        const char *what = NULL;
        switch (c) {
        case 'c':
            if (strlen(optarg) >= sizeof(o->policy_path))
                what = "--config: path too long";
            else
                (void)snprintf(o->policy_path, sizeof(o->policy_path), "%s", optarg);
            break;
        case 'l':
            if (strlen(optarg) >= sizeof(o->listen) ||
                http_split_hostport(optarg, addr, sizeof(addr), &port) < 0)
                what = "--listen: must be ADDR:PORT";
            else
                (void)snprintf(o->listen, sizeof(o->listen), "%s", optarg);
            break;
        case 'd':
            if (strlen(optarg) == 0 || strlen(optarg) >= sizeof(o->data) - 16)
                what = "--data: must be a directory path";
            else
                (void)snprintf(o->data, sizeof(o->data), "%s", optarg);
            break;
        case OPT_MODE:
            if (strcmp(optarg, "central") != 0)
                what = "--mode: only central is available in this version";
            break;
        case 'i':
            if (parse_num(optarg, 0.01, 3600, &o->interval_s) < 0)
                what = "--interval: must be 0.01 to 3600 seconds";
            break;
        case OPT_RETENTION:
            if (parse_num(optarg, 1, 1e9, &o->retention_s) < 0)
                what = "--retention: must be at least 1 second";
            break;
        case 'n':
            check = true;
            break;
        case OPT_LOG_LEVEL:
            if (log_level_parse(optarg, &o->log_level) < 0)
                what = "--log-level: must be debug, info, warn or error";
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
        if (what != NULL) {
            cli_error("manager: %s", what);
            goto out;
        }
    }
    if (optind < argc) {
        cli_error("manager: unexpected argument '%s' (see vmloc manager --help)", argv[optind]);
        goto out;
    }
    ret = load_policy(o);
    if (ret != 0)
        goto out;
    if (check) {
        (void)printf("configuration OK\n");
        ret = CLI_EXIT_OK;
        goto out;
    }
    log_init("manager", o->log_level);
    ret = manager_run(o) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
out:
    policy_done(&o->policy);
    free(o);
    return ret;
}

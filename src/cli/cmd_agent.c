/* `vmloc agent`: parse the options and run an agent (src/agent/). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "cli/cli.h"
#include "common/log.h"
#include "net/http.h"

static void
agent_usage(FILE *f)
{
    (void)fprintf(
        f,
        "usage: vmloc agent --name NAME [options]\n\n"
        "Run the agent of one hypervisor host: sample the host and its VMs every interval,\n"
        "serve the samples over HTTP, execute the migrations the manager orders, and\n"
        "register with the manager.\n\n"
        "options:\n"
        "  -n, --name NAME          this host's name (required)\n"
        "  -l, --listen ADDR:PORT   where to serve the API (default %s; port 0 picks one)\n"
        "  -m, --manager URL        the manager to register with (http://HOST:PORT)\n"
        "      --mode MODE          central (default); edge and peer are not available yet\n"
        "  -b, --backend NAME       sim (default); libvirt is not available in this build\n"
        "      --vm SPEC            a simulated VM, repeatable:\n"
        "                           NAME:cpu=PCT[,mem_bw=PCT][,disk=PCT][,net=PCT]\n"
        "                           [,mem=MIB][,priority=N][,pinned]  (mem default 1024)\n"
        "  -i, --interval SECONDS   sampling period, fractions allowed (default %g)\n"
        "      --capacity X         the host's relative capacity (default 1)\n"
        "      --mem-mib MIB        the host's memory (default 65536)\n"
        "      --overhead-cpu PCT   the hypervisor's own CPU use (default 2)\n"
        "      --bandwidth MIBPS    simulated migration bandwidth, MiB/s (default %g)\n"
        "      --advertise URL      the URL others use to reach this agent\n"
        "      --log-level LEVEL    debug, info (default), warn, error\n"
        "  -h, --help               show this help\n\n"
        "Once it accepts connections it prints 'listening on http://ADDR:PORT' on standard\n"
        "output. Logs go to standard error. SIGTERM or SIGINT stops it.\n",
        AGENT_DEFAULT_LISTEN, AGENT_DEFAULT_INTERVAL_S, AGENT_DEFAULT_BANDWIDTH_MIB_S);
}

/* Parse a number in [lo, hi]; 0 or -EINVAL. */
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
copy_opt(char *dst, size_t cap, const char *v, const char *opt)
{
    size_t n = strlen(v);
    if (n == 0 || n >= cap) {
        cli_error("agent: %s: must be 1 to %zu characters", opt, cap - 1);
        return -EINVAL;
    }
    memcpy(dst, v, n + 1);
    return 0;
}

enum {
    OPT_MODE = 256,
    OPT_VM,
    OPT_CAPACITY,
    OPT_MEM,
    OPT_OVERHEAD,
    OPT_BANDWIDTH,
    OPT_ADVERTISE,
    OPT_LOG_LEVEL,
    OPT_PEER,
};

static int
parse_args(int argc, char **argv, struct agent_opts *o)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'},
        {"listen", required_argument, NULL, 'l'},
        {"manager", required_argument, NULL, 'm'},
        {"mode", required_argument, NULL, OPT_MODE},
        {"backend", required_argument, NULL, 'b'},
        {"vm", required_argument, NULL, OPT_VM},
        {"interval", required_argument, NULL, 'i'},
        {"capacity", required_argument, NULL, OPT_CAPACITY},
        {"mem-mib", required_argument, NULL, OPT_MEM},
        {"overhead-cpu", required_argument, NULL, OPT_OVERHEAD},
        {"bandwidth", required_argument, NULL, OPT_BANDWIDTH},
        {"advertise", required_argument, NULL, OPT_ADVERTISE},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"peer", required_argument, NULL, OPT_PEER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    double d;
    struct perr err;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":n:l:m:b:i:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (copy_opt(o->name, sizeof(o->name), optarg, "--name") < 0)
                return CLI_EXIT_USAGE;
            if (!wire_name_valid(o->name)) {
                cli_error("agent: --name: not a valid host name");
                return CLI_EXIT_USAGE;
            }
            break;
        case 'l':
            if (copy_opt(o->listen, sizeof(o->listen), optarg, "--listen") < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'm':
            if (copy_opt(o->manager, sizeof(o->manager), optarg, "--manager") < 0)
                return CLI_EXIT_USAGE;
            if (http_url_check(o->manager) < 0) {
                cli_error("agent: --manager %s: must be http://HOST:PORT", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_MODE:
            if (strcmp(optarg, "central") != 0) {
                cli_error("agent: --mode %s: only central is available in this version", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_PEER:
            cli_error("agent: --peer needs --mode peer, which is not available in this version");
            return CLI_EXIT_USAGE;
        case 'b':
            if (strcmp(optarg, "sim") != 0) {
                cli_error("agent: --backend %s: only sim is available in this version", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_VM:
            if (o->n_vms == AGENT_MAX_VMS) {
                cli_error("agent: at most %d VMs", AGENT_MAX_VMS);
                return CLI_EXIT_USAGE;
            }
            if (wire_vmspec_parse(optarg, &o->vms[o->n_vms], &err) < 0) {
                cli_error("agent: %s", err.msg);
                return CLI_EXIT_USAGE;
            }
            o->n_vms++;
            break;
        case 'i':
            if (parse_num(optarg, 0.01, 3600, &o->interval_s) < 0) {
                cli_error("agent: --interval %s: must be 0.01 to 3600 seconds", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_CAPACITY:
            if (parse_num(optarg, 1e-6, 1e6, &o->capacity) < 0) {
                cli_error("agent: --capacity %s: must be a number > 0", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_MEM:
            if (parse_num(optarg, 0, 1e12, &o->mem_mib) < 0) {
                cli_error("agent: --mem-mib %s: must be a number >= 0", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_OVERHEAD:
            if (parse_num(optarg, 0, 100, &d) < 0) {
                cli_error("agent: --overhead-cpu %s: must be 0 to 100", optarg);
                return CLI_EXIT_USAGE;
            }
            o->overhead[KIND_CPU] = d;
            break;
        case OPT_BANDWIDTH:
            if (parse_num(optarg, 1e-3, 1e9, &o->bandwidth_mib_s) < 0) {
                cli_error("agent: --bandwidth %s: must be a number > 0 (MiB/s)", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_ADVERTISE:
            if (copy_opt(o->advertise, sizeof(o->advertise), optarg, "--advertise") < 0)
                return CLI_EXIT_USAGE;
            if (http_url_check(o->advertise) < 0) {
                cli_error("agent: --advertise %s: must be http://HOST:PORT", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case OPT_LOG_LEVEL:
            if (log_level_parse(optarg, &o->log_level) < 0) {
                cli_error("agent: --log-level %s: must be debug, info, warn or error", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'h':
            agent_usage(stdout);
            return -1;
        case ':':
            cli_error("agent: option '%s' needs a value (see vmloc agent --help)",
                      argv[optind - 1]);
            return CLI_EXIT_USAGE;
        default:
            cli_error("agent: unknown option '%s' (see vmloc agent --help)", argv[optind - 1]);
            return CLI_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        cli_error("agent: unexpected argument '%s' (see vmloc agent --help)", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (o->name[0] == '\0') {
        cli_error("agent: --name NAME is required (see vmloc agent --help)");
        return CLI_EXIT_USAGE;
    }
    char addr[256];
    uint16_t port;
    if (http_split_hostport(o->listen, addr, sizeof(addr), &port) < 0) {
        cli_error("agent: --listen %s: must be ADDR:PORT", o->listen);
        return CLI_EXIT_USAGE;
    }
    double mem = 0;
    for (size_t i = 0; i < o->n_vms; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(o->vms[i].name, o->vms[j].name) == 0) {
                cli_error("agent: --vm %s given twice", o->vms[i].name);
                return CLI_EXIT_USAGE;
            }
        }
        mem += o->vms[i].mem_mib;
    }
    if (mem > o->mem_mib) {
        cli_error("agent: the VMs need %.0f MiB, more than --mem-mib %.0f", mem, o->mem_mib);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

int
cmd_agent(int argc, char **argv)
{
    struct agent_opts *o = malloc(sizeof(*o));
    if (o == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_FAIL;
    }
    agent_opts_init(o);
    int r = parse_args(argc, argv, o);
    if (r != 0) {
        free(o);
        return r < 0 ? CLI_EXIT_OK : r;
    }
    log_init("agent", o->log_level);
    r = agent_run(o);
    free(o);
    return r == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

/* `vmloc agent`: read the config file and the options, and run an agent (src/agent/).
 *
 * One setter, agent_set(), validates every setting whether it comes from the config file
 * ([agent], [sim], [vm "NAME"], docs/running.md) or from a command-line option; options are
 * applied after the file, so they win. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/hvstat.h"
#include "cli/cli.h"
#include "common/file.h"
#include "common/limits.h"
#include "common/log.h"
#include "net/http.h"
#include "proto/policy_ini.h"

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
        "  -c, --config FILE        read settings from FILE ([agent], [sim], [libvirt],\n"
        "                           [vm \"NAME\"], and the policy the edge and peer modes\n"
        "                           detect with; see docs/running.md, docs/libvirt.md,\n"
        "                           docs/policy.md); options given here win\n"
        "      --name NAME          this host's name (required, here or in the file)\n"
        "  -l, --listen ADDR:PORT   where to serve the API (default %s; port 0 picks one)\n"
        "  -m, --manager URL        the manager to register with (http://HOST:PORT)\n"
        "      --mode MODE          central (default): the manager detects and decides;\n"
        "                           edge: detect here, notify the manager, which decides;\n"
        "                           peer: no manager; detect, decide with the peers' samples,\n"
        "                           lock the destination and migrate\n"
        "      --peer URL           peer mode: another agent (http://HOST:PORT), repeatable\n"
        "      --lock-lease SECONDS peer mode: how long a destination lock lasts unless\n"
        "                           renewed (default %g)\n"
        "  -d, --data DIR           peer mode: the store's directory (default vmloc-agent-NAME)\n"
        "  -b, --backend NAME       sim (default): a simulated hypervisor; libvirt: the host's\n"
        "                           real domains and live migration ([libvirt] settings)\n"
        "      --libvirt-uri URI    the libvirt of this host (default qemu:///system)\n"
        "      --vm SPEC            a simulated VM, repeatable:\n"
        "                           NAME:cpu=PCT[,mem_bw=PCT][,disk=PCT][,net=PCT]\n"
        "                           [,mem=MIB][,priority=N][,pinned]  (mem default 1024);\n"
        "                           with the libvirt backend only priority and pinned count\n"
        "  -i, --interval SECONDS   sampling period, fractions allowed (default %g)\n"
        "      --capacity X         the host's relative capacity (default 1)\n"
        "      --mem-mib MIB        the host's memory (default 65536)\n"
        "      --overhead-cpu PCT   the hypervisor's own CPU use (default 2)\n"
        "      --bandwidth MIBPS    simulated migration bandwidth, MiB/s (default %g)\n"
        "      --advertise URL      the URL others use to reach this agent\n"
        "      --log-level LEVEL    debug, info (default), warn, error\n"
        "      --token-file FILE    the cluster's API token, the same file as the\n"
        "                           manager's and the peers' (created, mode 0600,\n"
        "                           when missing; default $VMLOC_TOKEN_FILE, else\n"
        "                           ~/.config/vmloc/token)\n"
        "      --open-reads         GET requests need no token (changes still do)\n"
        "      --tls-cert FILE      mutual TLS: this agent's certificate (PEM), with\n"
        "      --tls-key FILE       its private key (mode 0600) and the cluster's CA;\n"
        "      --tls-ca FILE        it then serves https:// only and talks to https://\n"
        "                           URLs (docs/security.md)\n"
        "      --tls-bind-names     with TLS: a peer locking this host, or a source\n"
        "                           moving a VM here, must hold a certificate that\n"
        "                           names the host it speaks for\n"
        "  -n, --check-config       check the settings, print 'configuration OK', exit\n"
        "  -h, --help               show this help\n\n"
        "Once it accepts connections it prints 'listening on http://ADDR:PORT' on standard\n"
        "output. Logs go to standard error. SIGTERM or SIGINT stops it; SIGHUP reads the\n"
        "token file again (a rotation: docs/security.md).\n",
        AGENT_DEFAULT_LISTEN, AGENT_DEFAULT_LOCK_LEASE_S, AGENT_DEFAULT_INTERVAL_S,
        AGENT_DEFAULT_BANDWIDTH_MIB_S);
}

static int
copy_str(char *dst, size_t cap, const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n >= cap)
        return -EINVAL;
    memcpy(dst, v, n + 1);
    return 0;
}

/* Apply one setting (`key` as in the config file's [agent] and [sim] sections).
 * 0, or -EINVAL with *why set. */
static int
agent_set(struct agent_opts *o, const char *key, const char *v, const char **why)
{
    double d;
    if (strcmp(key, "name") == 0) {
        if (copy_str(o->name, sizeof(o->name), v) < 0 || !wire_name_valid(o->name)) {
            *why = "must be a host name (1 to 255 characters)";
            return -EINVAL;
        }
    } else if (strcmp(key, "listen") == 0) {
        char addr[256];
        uint16_t port;
        if (copy_str(o->listen, sizeof(o->listen), v) < 0 ||
            http_split_hostport(v, addr, sizeof(addr), &port) < 0) {
            *why = "must be ADDR:PORT";
            return -EINVAL;
        }
    } else if (strcmp(key, "manager") == 0 || strcmp(key, "advertise") == 0) {
        char *dst = key[0] == 'm' ? o->manager : o->advertise;
        if (copy_str(dst, sizeof(o->manager), v) < 0 || http_url_check(v) < 0) {
            *why = "must be http://HOST:PORT";
            return -EINVAL;
        }
    } else if (strcmp(key, "mode") == 0) {
        if (agent_mode_parse(v, &o->mode) < 0) {
            *why = "must be central, edge or peer";
            return -EINVAL;
        }
    } else if (strcmp(key, "peer") == 0) {
        if (o->n_peers == AGENT_MAX_PEERS) {
            *why = "too many peers";
            return -EINVAL;
        }
        if (copy_str(o->peers[o->n_peers], sizeof(o->peers[0]), v) < 0 || http_url_check(v) < 0) {
            *why = "must be http://HOST:PORT";
            return -EINVAL;
        }
        for (size_t i = 0; i < o->n_peers; i++) {
            if (strcmp(o->peers[i], v) == 0) {
                *why = "given twice";
                return -EINVAL;
            }
        }
        o->n_peers++;
    } else if (strcmp(key, "peers") == 0) {
        /* "URL, URL ...": each one as a peer setting. */
        char buf[65536];
        if (strlen(v) >= sizeof(buf)) {
            *why = "too long";
            return -EINVAL;
        }
        (void)snprintf(buf, sizeof(buf), "%s", v);
        for (char *save = NULL, *t = strtok_r(buf, ", \t", &save); t != NULL;
             t = strtok_r(NULL, ", \t", &save)) {
            if (agent_set(o, "peer", t, why) < 0)
                return -EINVAL;
        }
    } else if (strcmp(key, "lock_lease") == 0) {
        if (cli_parse_num(v, 0.1, WIRE_MAX_LEASE_S, &o->lock_lease_s) < 0) {
            *why = "must be 0.1 to 3600 seconds";
            return -EINVAL;
        }
    } else if (strcmp(key, "data") == 0) {
        if (copy_str(o->data, sizeof(o->data), v) < 0) {
            *why = "must be a directory path";
            return -EINVAL;
        }
    } else if (strcmp(key, "backend") == 0) {
        if (strcmp(v, "sim") == 0) {
            o->backend = AGENT_BACKEND_SIM;
        } else if (strcmp(v, "libvirt") == 0) {
            o->backend = AGENT_BACKEND_LIBVIRT;
        } else {
            *why = "must be sim or libvirt";
            return -EINVAL;
        }
    } else if (strcmp(key, "interval") == 0) {
        if (cli_parse_num(v, 0.01, 3600, &o->interval_s) < 0) {
            *why = "must be 0.01 to 3600 seconds";
            return -EINVAL;
        }
    } else if (strcmp(key, "capacity") == 0) {
        if (cli_parse_num(v, 1e-6, 1e6, &o->capacity) < 0) {
            *why = "must be a number > 0";
            return -EINVAL;
        }
    } else if (strcmp(key, "mem_mib") == 0) {
        if (cli_parse_num(v, 0, 1e12, &o->mem_mib) < 0) {
            *why = "must be a number >= 0";
            return -EINVAL;
        }
    } else if (strcmp(key, "overhead_cpu") == 0) {
        if (cli_parse_num(v, 0, 100, &d) < 0) {
            *why = "must be 0 to 100";
            return -EINVAL;
        }
        o->overhead[KIND_CPU] = d;
    } else if (strcmp(key, "bandwidth") == 0) {
        if (cli_parse_num(v, 1e-3, 1e9, &o->bandwidth_mib_s) < 0) {
            *why = "must be a number > 0 (MiB/s)";
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
        *why = "unknown key";
        return -EINVAL;
    }
    return 0;
}

/* Apply one of [sim]'s trace settings. 1: not one of them; 0: applied; -EINVAL with *why. */
static int
trace_set(struct hv_trace_opts *t, const char *key, const char *v, const char **why)
{
    double d;
    if (strcmp(key, "trace") == 0) {
        if (copy_str(t->dir, sizeof(t->dir), v) < 0) {
            *why = "must be a folder of trace files";
            return -EINVAL;
        }
    } else if (strcmp(key, "trace_format") == 0) {
        if (strcmp(v, "planetlab") == 0) {
            t->format = TRACE_PLANETLAB;
        } else if (strcmp(v, "bitbrains") == 0) {
            t->format = TRACE_BITBRAINS;
        } else {
            *why = "must be planetlab or bitbrains";
            return -EINVAL;
        }
    } else if (strcmp(key, "trace_start") == 0) {
        if (cli_parse_num(v, 0, 1e11, &t->start) < 0) {
            *why = "must be a time in seconds since the epoch";
            return -EINVAL;
        }
    } else if (strcmp(key, "trace_step") == 0) {
        if (cli_parse_num(v, 0.01, 86400, &t->step_s) < 0) {
            *why = "must be 0.01 to 86400 seconds (wall time per trace sample)";
            return -EINVAL;
        }
    } else if (strcmp(key, "host_mips") == 0) {
        if (cli_parse_num(v, 1, 1e12, &t->host_mips) < 0) {
            *why = "must be a number of MIPS >= 1";
            return -EINVAL;
        }
    } else if (strcmp(key, "host_cores") == 0) {
        if (cli_parse_num(v, 1, 65536, &d) < 0 || d != floor(d)) {
            *why = "must be a whole number from 1 to 65536";
            return -EINVAL;
        }
        t->host_cores = (uint32_t)d;
    } else if (strcmp(key, "disk_kbs") == 0 || strcmp(key, "net_kbs") == 0) {
        if (cli_parse_num(v, 0, 1e15, key[0] == 'd' ? &t->disk_kbs : &t->net_kbs) < 0) {
            *why = "must be KB/s >= 0 (0: not measured)";
            return -EINVAL;
        }
    } else {
        return 1;
    }
    return 0;
}

/* Apply one [libvirt] setting. 0, or -EINVAL with *why set. */
static int
libvirt_set(struct hv_libvirt_opts *l, const char *key, const char *v, const char **why)
{
    struct cpuset cs;
    if (strcmp(key, "uri") == 0 || strcmp(key, "peer_uri") == 0) {
        char *dst = key[0] == 'u' ? l->uri : l->peer_uri;
        if (copy_str(dst, sizeof(l->uri), v) < 0 || strchr(v, ':') == NULL) {
            *why = "must be a libvirt URI such as qemu:///system or qemu+tls://host/system";
            return -EINVAL;
        }
    } else if (strcmp(key, "migration_address") == 0) {
        if (copy_str(l->migration_address, sizeof(l->migration_address), v) < 0 ||
            strpbrk(v, "/ \t[]") != NULL || (strchr(v, ':') != NULL && strchr(v, '.') != NULL)) {
            *why = "must be a host name or an IPv4 or IPv6 address, without a port";
            return -EINVAL;
        }
    } else if (strcmp(key, "cpus") == 0) {
        if (copy_str(l->cpus, sizeof(l->cpus), v) < 0 || cpuset_parse(v, &cs) < 0) {
            *why = "must be a CPU list such as 0-3,8";
            return -EINVAL;
        }
    } else if (strcmp(key, "mem_mib") == 0) {
        if (cli_parse_num(v, 1, 1e12, &l->mem_mib) < 0) {
            *why = "must be a number of MiB > 0";
            return -EINVAL;
        }
    } else if (strcmp(key, "disk_mib_s") == 0 || strcmp(key, "net_mib_s") == 0 ||
               strcmp(key, "mem_bw_mib_s") == 0) {
        double *dst = key[0] == 'd'   ? &l->disk_mib_s
                      : key[0] == 'n' ? &l->net_mib_s
                                      : &l->mem_bw_mib_s;
        if (cli_parse_num(v, 1e-3, 1e9, dst) < 0) {
            *why = "must be a bandwidth in MiB/s > 0";
            return -EINVAL;
        }
    } else if (strcmp(key, "migrate_flags") == 0) {
        if (hv_libvirt_flags_parse(v, &l->migrate_flags) < 0) {
            *why = "must be a list of unsafe, auto-converge, compressed";
            return -EINVAL;
        }
    } else if (strcmp(key, "migrate_bandwidth") == 0) {
        if (cli_parse_num(v, 0, 1e9, &l->migrate_bandwidth_mib_s) < 0 ||
            (l->migrate_bandwidth_mib_s > 0 && l->migrate_bandwidth_mib_s < 1)) {
            *why = "must be a whole number of MiB/s >= 1, or 0 (unlimited)";
            return -EINVAL;
        }
    } else if (strcmp(key, "migrate_timeout") == 0) {
        if (cli_parse_num(v, 1, 86400, &l->migrate_timeout_s) < 0) {
            *why = "must be 1 to 86400 seconds";
            return -EINVAL;
        }
    } else {
        *why = "unknown key (uri, peer_uri, migration_address, cpus, mem_mib, disk_mib_s, "
               "net_mib_s, mem_bw_mib_s, migrate_flags, migrate_bandwidth, migrate_timeout)";
        return -EINVAL;
    }
    return 0;
}

/* Which keys each of our sections has. */
static bool
key_in(const char *key, const char *const *keys)
{
    for (size_t i = 0; keys[i] != NULL; i++) {
        if (strcmp(key, keys[i]) == 0)
            return true;
    }
    return false;
}

static const char *const agent_keys[] = {
    "name",       "listen",    "manager", "advertise",  "mode",           "backend",
    "interval",   "log_level", "peers",   "lock_lease", "data",           "token_file",
    "open_reads", "tls_cert",  "tls_key", "tls_ca",     "tls_bind_names", NULL};
static const char *const sim_keys[] = {"capacity", "mem_mib", "overhead_cpu", "bandwidth", NULL};
static const char *const sim_key_list = "capacity, mem_mib, overhead_cpu, bandwidth, trace, "
                                        "trace_format, trace_start, trace_step, host_mips, "
                                        "host_cores, disk_kbs, net_kbs";

/* The VM named by section `vm "NAME"`, created on first use. NULL when there are too many. */
static struct wire_vmdef *
vm_section(struct agent_opts *o, const char *section)
{
    const char *q = strchr(section, '"');
    size_t n = strlen(q + 1) - 1; /* owns() checked the quotes */
    for (size_t i = 0; i < o->n_vms; i++) {
        if (strlen(o->vms[i].name) == n && memcmp(o->vms[i].name, q + 1, n) == 0)
            return &o->vms[i];
    }
    if (o->n_vms == AGENT_MAX_VMS)
        return NULL;
    struct wire_vmdef *d = &o->vms[o->n_vms++];
    memset(d, 0, sizeof(*d));
    memcpy(d->name, q + 1, n);
    d->name[n] = '\0';
    d->mem_mib = 1024.0;
    d->demand[KIND_CPU] = -1.0; /* cpu is required: checked at the end */
    d->mips = -1.0;             /* and mips for a VM that follows a trace */
    return d;
}

static bool
agent_owns(void *ctx, const char *s, size_t len)
{
    (void)ctx;
    if ((len == 5 && memcmp(s, "agent", 5) == 0) || (len == 3 && memcmp(s, "sim", 3) == 0) ||
        (len == 7 && memcmp(s, "libvirt", 7) == 0))
        return true;
    if (len < 6 || memcmp(s, "vm \"", 4) != 0 || s[len - 1] != '"')
        return false;
    size_t n = len - 5;
    char name[MODEL_MAX_NAME + 1];
    if (n == 0 || n > MODEL_MAX_NAME || memchr(s + 4, '"', n) != NULL)
        return false;
    memcpy(name, s + 4, n);
    name[n] = '\0';
    return wire_name_valid(name);
}

static int
agent_apply(void *ctx, const char *section, const char *key, const char *value, const char **why)
{
    struct agent_opts *o = ctx;
    if (strcmp(section, "libvirt") == 0)
        return libvirt_set(&o->libvirt, key, value, why);
    if (strcmp(section, "sim") == 0) {
        int t = trace_set(&o->trace, key, value, why);
        if (t <= 0)
            return t;
    }
    if (strcmp(section, "agent") == 0 || strcmp(section, "sim") == 0) {
        const char *const *keys = section[0] == 'a' ? agent_keys : sim_keys;
        if (!key_in(key, keys)) {
            *why = section[0] == 'a' ? "unknown key" : sim_key_list;
            return -EINVAL;
        }
        return agent_set(o, key, value, why);
    }
    struct wire_vmdef *d = vm_section(o, section);
    if (d == NULL) {
        *why = "too many VMs";
        return -EINVAL;
    }
    enum kind k;
    double num;
    if (kind_parse(key, strlen(key), &k) == 0) {
        if (cli_parse_num(value, 0, 100, &num) < 0) {
            *why = "must be 0 to 100 (percent of the host)";
            return -EINVAL;
        }
        d->demand[k] = num;
    } else if (strcmp(key, "mem_mib") == 0) {
        if (cli_parse_num(value, 0, 1e12, &d->mem_mib) < 0) {
            *why = "must be a number >= 0";
            return -EINVAL;
        }
    } else if (strcmp(key, "priority") == 0) {
        if (cli_parse_num(value, -1e15, 1e15, &num) < 0 || num != floor(num)) {
            *why = "must be an integer";
            return -EINVAL;
        }
        d->priority = (int64_t)num;
    } else if (strcmp(key, "pinned") == 0) {
        if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0) {
            d->pinned = true;
        } else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0) {
            d->pinned = false;
        } else {
            *why = "must be yes or no";
            return -EINVAL;
        }
    } else if (strcmp(key, "trace") == 0) {
        if (copy_str(d->trace, sizeof(d->trace), value) < 0 || strchr(value, '/') != NULL) {
            *why = "must be the name of a file of [sim] trace";
            return -EINVAL;
        }
    } else if (strcmp(key, "mips") == 0) {
        if (cli_parse_num(value, 0, 1e9, &d->mips) < 0) {
            *why = "must be the VM's size in MIPS (0: it never asks for cpu)";
            return -EINVAL;
        }
    } else if (strcmp(key, "cores") == 0) {
        if (cli_parse_num(value, 1, 4096, &num) < 0 || num != floor(num)) {
            *why = "must be a whole number from 1 to 4096";
            return -EINVAL;
        }
        d->cores = (uint32_t)num;
    } else {
        *why = "unknown key (cpu, mem_bw, disk, net, mem_mib, priority, pinned, trace, mips, "
               "cores)";
        return -EINVAL;
    }
    return 0;
}

/* Read the config file given with -c/--config, if any, before the other options. */
static int
load_config(int argc, char **argv, struct agent_opts *o)
{
    const char *path = cli_config_path(argc, argv);
    if (path == NULL) {
        policy_finish(&o->policy);
        return 0;
    }
    char *text = NULL;
    size_t len = 0;
    int r = file_read_all(path, LIMIT_CONFIG_BYTES, &text, &len);
    if (r < 0) {
        cli_error("%s: %s", path, strerror(-r));
        return CLI_EXIT_USAGE;
    }
    struct perr err;
    struct config_ext ext = {agent_owns, agent_apply, o};
    if (strlen(text) != len) {
        perr_set(&err, "%s: NUL byte in config", path);
        r = -EINVAL;
    } else {
        r = config_parse_string_ext(text, path, &o->policy, &ext, &err);
    }
    free(text);
    if (r < 0) {
        cli_error("%s", err.msg);
        return r == -ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
    }
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
    OPT_NAME,
    OPT_LEASE,
    OPT_LIBVIRT_URI,
    OPT_TOKEN_FILE,
    OPT_OPEN_READS,
    OPT_TLS_BIND_NAMES,
    OPT_TLS_CERT,
    OPT_TLS_KEY,
    OPT_TLS_CA,
};

static const struct option long_opts[] = {
    {"config", required_argument, NULL, 'c'},
    {"name", required_argument, NULL, OPT_NAME},
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
    {"lock-lease", required_argument, NULL, OPT_LEASE},
    {"libvirt-uri", required_argument, NULL, OPT_LIBVIRT_URI},
    {"data", required_argument, NULL, 'd'},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"open-reads", no_argument, NULL, OPT_OPEN_READS},
    {"tls-bind-names", no_argument, NULL, OPT_TLS_BIND_NAMES},
    {"tls-cert", required_argument, NULL, OPT_TLS_CERT},
    {"tls-key", required_argument, NULL, OPT_TLS_KEY},
    {"tls-ca", required_argument, NULL, OPT_TLS_CA},
    {"check-config", no_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The config-file key of an option, or NULL. */
static const char *
opt_key(int c)
{
    switch (c) {
    case OPT_NAME:
        return "name";
    case 'l':
        return "listen";
    case 'm':
        return "manager";
    case OPT_MODE:
        return "mode";
    case 'b':
        return "backend";
    case 'i':
        return "interval";
    case OPT_CAPACITY:
        return "capacity";
    case OPT_MEM:
        return "mem_mib";
    case OPT_OVERHEAD:
        return "overhead_cpu";
    case OPT_BANDWIDTH:
        return "bandwidth";
    case OPT_ADVERTISE:
        return "advertise";
    case OPT_LOG_LEVEL:
        return "log_level";
    case OPT_PEER:
        return "peer";
    case OPT_LEASE:
        return "lock_lease";
    case 'd':
        return "data";
    case OPT_TOKEN_FILE:
        return "token_file";
    case OPT_TLS_CERT:
        return "tls_cert";
    case OPT_TLS_KEY:
        return "tls_key";
    case OPT_TLS_CA:
        return "tls_ca";
    default:
        return NULL;
    }
}

/* 0: run; -1: done (help or check printed); else an exit status. */
static int
parse_args(int argc, char **argv, struct agent_opts *o)
{
    int r = load_config(argc, argv, o);
    if (r != 0)
        return r;
    bool check = false;
    int c;
    struct perr err;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":c:nl:m:b:i:d:h", long_opts, NULL)) != -1) {
        const char *key = opt_key(c);
        const char *why = NULL;
        if (key != NULL) {
            if (agent_set(o, key, optarg, &why) < 0) {
                cli_error("agent: %s %s: %s", argv[optind - 1 - (optarg == argv[optind - 1])],
                          optarg, why);
                return CLI_EXIT_USAGE;
            }
            continue;
        }
        switch (c) {
        case 'c':
            break; /* read above */
        case OPT_LIBVIRT_URI:
            if (libvirt_set(&o->libvirt, "uri", optarg, &why) < 0) {
                cli_error("agent: --libvirt-uri %s: %s", optarg, why);
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
        case OPT_TLS_BIND_NAMES:
            o->sec.tls_bind_names = true;
            break;
        case OPT_OPEN_READS:
            o->sec.open_reads = true;
            break;
        case 'n':
            check = true;
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
    for (size_t i = 0; o->backend == AGENT_BACKEND_SIM && i < o->n_vms; i++) {
        struct wire_vmdef *d = &o->vms[i];
        if (d->trace[0] != '\0') {
            const char *cfg = cli_config_path(argc, argv);
            if (!(d->mips >= 0)) {
                cli_error("agent: %s%s[vm \"%s\"] mips: missing (required for a VM that follows "
                          "a trace)",
                          cfg != NULL ? cfg : "", cfg != NULL ? ": " : "", d->name);
                return CLI_EXIT_USAGE;
            }
            if (o->trace.dir[0] == '\0') {
                cli_error("agent: VM %s follows trace file \"%s\", but [sim] trace (the folder) "
                          "is not set",
                          d->name, d->trace);
                return CLI_EXIT_USAGE;
            }
            if (d->cores == 0)
                d->cores = 1;
            if (d->demand[KIND_CPU] < 0)
                d->demand[KIND_CPU] = 0;
            continue;
        }
        if (o->vms[i].demand[KIND_CPU] < 0) {
            const char *cfg = cli_config_path(argc, argv);
            cli_error("agent: %s%s[vm \"%s\"] cpu: missing (required for a simulated VM; with "
                      "the libvirt backend a [vm] section gives priority and pinned only)",
                      cfg != NULL ? cfg : "", cfg != NULL ? ": " : "", o->vms[i].name);
            return CLI_EXIT_USAGE;
        }
    }
    if (o->n_peers > 0 && o->mode != AGENT_MODE_PEER) {
        cli_error("agent: peers are for --mode peer (this agent runs in %s mode)",
                  agent_mode_name(o->mode));
        return CLI_EXIT_USAGE;
    }
    if (o->mode == AGENT_MODE_PEER && o->manager[0] != '\0') {
        cli_error("agent: --mode peer works without a manager; drop --manager");
        return CLI_EXIT_USAGE;
    }
    if (o->mode == AGENT_MODE_EDGE && o->manager[0] == '\0') {
        cli_error("agent: --mode edge needs --manager URL (the manager it notifies)");
        return CLI_EXIT_USAGE;
    }
    if (o->mode == AGENT_MODE_PEER &&
        o->lock_lease_s < 2.0 * agent_peer_ask_timeout(o->interval_s)) {
        cli_error("agent: --lock-lease %g is too short: a lease must outlast a decision, at least "
                  "%g s at --interval %g (twice the time a peer is given to answer)",
                  o->lock_lease_s, 2.0 * agent_peer_ask_timeout(o->interval_s), o->interval_s);
        return CLI_EXIT_USAGE;
    }
    if (o->mode == AGENT_MODE_PEER && o->data[0] == '\0') {
        /* The host's name in a directory name: no path separators. */
        (void)snprintf(o->data, sizeof(o->data), "vmloc-agent-%.200s", o->name);
        for (char *p = o->data; *p != '\0'; p++) {
            if (*p == '/')
                *p = '_';
        }
    }
    double mem = 0;
    for (size_t i = 0; i < o->n_vms; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(o->vms[i].name, o->vms[j].name) == 0) {
                cli_error("agent: VM %s given twice", o->vms[i].name);
                return CLI_EXIT_USAGE;
            }
        }
        mem += o->vms[i].mem_mib;
    }
    if (o->backend == AGENT_BACKEND_SIM && mem > o->mem_mib) {
        cli_error("agent: the VMs need %.0f MiB, more than the host's %.0f MiB", mem, o->mem_mib);
        return CLI_EXIT_USAGE;
    }
    if (check) {
        r = cli_check_tls(&o->sec);
        if (r != CLI_EXIT_OK)
            return r;
        /* The trace's files are checked as `vmloc sim` checks them, and every VM's file is
         * there. */
        struct hv_trace tr;
        char terr[600];
        int tr_r =
            o->backend == AGENT_BACKEND_SIM ? hv_trace_load(&tr, &o->trace, terr, sizeof(terr)) : 0;
        for (size_t i = 0; tr_r == 0 && o->backend == AGENT_BACKEND_SIM && i < o->n_vms; i++) {
            if (o->vms[i].trace[0] != '\0' && hv_trace_find(&tr, o->vms[i].trace) < 0) {
                (void)snprintf(terr, sizeof(terr), "VM %.100s: no trace file \"%.200s\" in %.200s",
                               o->vms[i].name, o->vms[i].trace, o->trace.dir);
                tr_r = -ENOENT;
            }
        }
        if (o->backend == AGENT_BACKEND_SIM)
            hv_trace_done(&tr);
        if (tr_r < 0) {
            cli_error("agent: [sim] trace: %s", terr);
            return CLI_EXIT_USAGE;
        }
        (void)printf("configuration OK\n");
        return -1;
    }
    return 0;
}

int
cmd_agent(int argc, char **argv)
{
    /* A reload (SIGHUP) before the loop handles it must not end the daemon. */
    (void)signal(SIGHUP, SIG_IGN);
    struct agent_opts *o = malloc(sizeof(*o));
    if (o == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_FAIL;
    }
    agent_opts_init(o);
    int r = parse_args(argc, argv, o);
    if (r != 0) {
        policy_done(&o->policy);
        free(o);
        return r < 0 ? CLI_EXIT_OK : r;
    }
    log_init("agent", o->log_level);
    r = cli_daemon_security(&o->sec, &o->auth, &o->tls);
    if (r != CLI_EXIT_OK) {
        policy_done(&o->policy);
        free(o);
        return r;
    }
    r = agent_run(o);
    http_tls_free(o->tls);
    policy_done(&o->policy);
    free(o);
    if (r != 0)
        cli_error("agent: could not start or run (the log above says why)");
    return r == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

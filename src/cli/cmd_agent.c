/* `vmloc agent`: read the config file and the options, and run an agent (src/agent/).
 *
 * Every setting is one entry of the option tables below, whether it comes from the config file
 * ([agent], [sim], [libvirt], [vm "NAME"], docs/running.md) or from a command-line option: its
 * option, its key, its type, range and field, its help. The file is read first; options given
 * on the command line win. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/hvstat.h"
#include "agent/peerfile.h"
#include "cli/cli.h"
#include "cli/daemon_opts.h"
#include "cli/opt_table.h"
#include "common/log.h"
#include "net/http.h"
#include "net/tls.h"
#include "proto/policy_ini.h"
#include "proto/wire.h"

/* --- values a setting cannot say --------------------------------------------------------- */

static bool
name_ok(const char *v)
{
    return wire_name_valid(v);
}

static bool
url_ok(const char *v)
{
    return http_url_check(v) == 0;
}

static bool
libvirt_uri_ok(const char *v)
{
    return strchr(v, ':') != NULL;
}

static bool
cpus_ok(const char *v)
{
    struct cpuset cs;
    return cpuset_parse(v, &cs) == 0;
}

static bool
trace_file_ok(const char *v)
{
    return strchr(v, '/') == NULL;
}

/* Add URL `v` to `list` (`*n` of at most `max`), `what` naming it in "too many". */
static int
add_url(char (*list)[WIRE_MAX_URL + 1], size_t *n, size_t max, const char *what, const char *v,
        char *why, size_t len)
{
    const char *bad = NULL;
    if (*n == max) {
        (void)snprintf(why, len, "too many %s (at most %zu)", what, max);
        return -EINVAL;
    }
    if (strlen(v) == 0 || strlen(v) >= sizeof(list[0]) || http_url_check(v) < 0)
        bad = "must be http://HOST:PORT";
    for (size_t i = 0; bad == NULL && i < *n; i++) {
        if (strcmp(list[i], v) == 0)
            bad = "given twice";
    }
    if (bad != NULL) {
        (void)snprintf(why, len, "%s", bad);
        return -EINVAL;
    }
    memcpy(list[(*n)++], v, strlen(v) + 1);
    return 0;
}

/* "URL, URL ...": each one added with add_url(). */
static int
add_url_list(char (*list)[WIRE_MAX_URL + 1], size_t *n, size_t max, const char *what, const char *v,
             char *why, size_t len)
{
    char url[WIRE_MAX_URL + 1];
    const char *p = v;
    for (;;) {
        p += strspn(p, ", \t");
        size_t k = strcspn(p, ", \t");
        if (k == 0)
            return 0;
        if (k >= sizeof(url)) {
            (void)snprintf(why, len, "\"%.40s...\": must be http://HOST:PORT (at most %zu bytes)",
                           p, sizeof(url) - 1);
            return -EINVAL;
        }
        memcpy(url, p, k);
        url[k] = '\0';
        char bad[128];
        if (add_url(list, n, max, what, url, bad, sizeof(bad)) < 0) {
            (void)snprintf(why, len, "\"%.200s\": %s", url, bad);
            return -EINVAL;
        }
        p += k;
    }
}

static int
add_peer(void *target, const char *v, char *why, size_t len)
{
    struct agent_opts *o = target;
    return add_url(o->peers, &o->n_peers, AGENT_MAX_PEERS, "peers", v, why, len);
}

/* "URL, URL ...": each one as --peer. The key may be given on many lines, each adding its
 * URLs (opt_def.repeat), so a long list of peers need not sit on one line. */
static int
add_peers(void *target, const char *v, char *why, size_t len)
{
    struct agent_opts *o = target;
    return add_url_list(o->peers, &o->n_peers, AGENT_MAX_PEERS, "peers", v, why, len);
}

/* [agent] manager = URL[, URL...]: the managers to register with; each line adds to the
 * list (active/standby managers: name every one). */
static int
add_managers(void *target, const char *v, char *why, size_t len)
{
    struct agent_opts *o = target;
    return add_url_list(o->managers, &o->n_managers, AGENT_MAX_MANAGERS, "managers", v, why, len);
}

/* --manager URL[,URL...], repeatable: the command line's list replaces the file's (an option
 * given on the command line wins), and each --manager adds to it. */
static int
add_managers_arg(void *target, const char *v, char *why, size_t len)
{
    struct agent_opts *o = target;
    if (!o->managers_from_args) {
        o->n_managers = 0;
        o->managers_from_args = true;
    }
    return add_managers(target, v, why, len);
}

static int
add_vm(void *target, const char *v, char *why, size_t len)
{
    struct agent_opts *o = target;
    struct perr err;
    if (o->n_vms == AGENT_MAX_VMS) {
        (void)snprintf(why, len, "at most %d VMs", AGENT_MAX_VMS);
        return -EINVAL;
    }
    if (wire_vmspec_parse(v, &o->vms[o->n_vms], &err) < 0) {
        /* The message names the option and its value, as the caller's does: the rest. */
        size_t skip = strlen("--vm ") + strlen(v) + strlen(": ");
        bool named = strncmp(err.msg, "--vm ", 5) == 0 && strlen(err.msg) > skip;
        (void)snprintf(why, len, "%s", named ? err.msg + skip : err.msg);
        return -EINVAL;
    }
    o->n_vms++;
    return 0;
}

static int
set_migrate_flags(void *target, const char *v, char *why, size_t len)
{
    struct hv_libvirt_opts *l = target;
    if (hv_libvirt_flags_parse(v, &l->migrate_flags) < 0) {
        (void)snprintf(why, len, "must be a list of unsafe, auto-converge, compressed");
        return -EINVAL;
    }
    return 0;
}

static int
set_migrate_bandwidth(void *target, const char *v, char *why, size_t len)
{
    struct hv_libvirt_opts *l = target;
    double d;
    if (cli_parse_num(v, 0, 1e9, &d) < 0 || (d > 0 && d < 1)) {
        (void)snprintf(why, len, "must be a whole number of MiB/s >= 1, or 0 (unlimited)");
        return -EINVAL;
    }
    l->migrate_bandwidth_mib_s = d;
    return 0;
}

/* [libvirt] peer_uri: other agents open it, and refuse what hv_libvirt_peer_uri_check()
 * refuses; so is it here, where the operator can mend it, not on every source. */
static int
set_peer_uri(void *target, const char *v, char *why, size_t len)
{
    struct hv_libvirt_opts *l = target;
    char bad[160];
    if (strlen(v) >= sizeof(l->peer_uri) || hv_libvirt_peer_uri_check(v, bad, sizeof(bad)) < 0) {
        (void)snprintf(why, len, "must be a libvirt URI other hosts may open: %s",
                       strlen(v) >= sizeof(l->peer_uri) ? "too long" : bad);
        return -EINVAL;
    }
    (void)snprintf(l->peer_uri, sizeof(l->peer_uri), "%s", v);
    return 0;
}

static int
set_migration_address(void *target, const char *v, char *why, size_t len)
{
    struct hv_libvirt_opts *l = target;
    char bad[160];
    if (strlen(v) >= sizeof(l->migration_address) ||
        hv_libvirt_address_check(v, bad, sizeof(bad)) < 0) {
        (void)snprintf(why, len, "%s",
                       strlen(v) >= sizeof(l->migration_address) ? "too long" : bad);
        return -EINVAL;
    }
    (void)snprintf(l->migration_address, sizeof(l->migration_address), "%s", v);
    return 0;
}

/* --- the tables -------------------------------------------------------------------------- */

#define AG(member) SETTING_FIELD(struct agent_opts, member)
#define TR(member) SETTING_FIELD(struct hv_trace_opts, member)
#define LV(member) SETTING_FIELD(struct hv_libvirt_opts, member)
#define VM(member) SETTING_FIELD(struct wire_vmdef, member)
#define PCT_OF_HOST(k)                                                                             \
    SETTING_NUMBER(VM(demand[k]), 0, 100, "must be 0 to 100 (percent of the host)")
#define LIBVIRT_URI(member)                                                                        \
    SETTING_TEXT(LV(member), libvirt_uri_ok,                                                       \
                 "must be a libvirt URI such as qemu:///system or qemu+tls://host/system")
#define MIB_S(member) SETTING_NUMBER(LV(member), 1e-3, 1e9, "must be a bandwidth in MiB/s > 0")
#define KBS(member) SETTING_NUMBER(TR(member), 0, 1e15, "must be KB/s >= 0 (0: not measured)")

static const char *const mode_names[] = {"central", "edge", "peer", NULL};
static const char *const backend_names[] = {"sim", "libvirt", NULL};

/* [agent] and its options. */
static const struct opt_def agent_defs[] = {
    {.name = "config",
     .short_name = 'c',
     .action = OPT_CONFIG,
     .arg = "FILE",
     .help = "read settings from FILE ([agent], [sim], [libvirt],\n"
             "[vm \"NAME\"], and the policy the edge and peer modes\n"
             "detect with; see docs/running.md, docs/libvirt.md,\n"
             "docs/policy.md); options given here win"},
    {.name = "name",
     .key = "name",
     .set = {SETTING_TEXT(AG(name), name_ok, "must be a host name (1 to 255 characters)")},
     .arg = "NAME",
     .help = "this host's name (required, here or in the file)"},
    {DAEMON_OPTS_LISTEN(struct agent_opts)},
    {.name = "manager",
     .short_name = 'm',
     .setter = add_managers_arg,
     .arg = "URLS",
     .help = "the manager to register with (http://HOST:PORT);\n"
             "active/standby managers: every one, URL,URL... or\n"
             "--manager again (replaces the file's manager lines)"},
    {.key = "manager", .setter = add_managers, .repeat = true},
    {.name = "mode",
     .key = "mode",
     .set = {SETTING_CHOICE(AG(mode), mode_names, "must be central, edge or peer")},
     .arg = "MODE",
     .help = "central (default): the manager detects and decides;\n"
             "edge: detect here, notify the manager, which decides;\n"
             "peer: no manager; detect, decide with the peers' samples,\n"
             "lock the destination and migrate"},
    {.name = "peer",
     .setter = add_peer,
     .arg = "URL",
     .help = "peer mode: another agent (http://HOST:PORT), repeatable"},
    {.key = "peers", .setter = add_peers, .repeat = true},
    {.name = "peers-file",
     .key = "peers_file",
     .set = {SETTING_TEXT(AG(peers_file), NULL, "must be a file path")},
     .arg = "FILE",
     .help = "peer mode: more peers, one URL per line ('#' comments);\n"
             "read again when it changes (checked every interval)\n"
             "or on SIGHUP; may be missing at start. A bad file is\n"
             "logged and the peers in use stay"},
    {.name = "lock-lease",
     .key = "lock_lease",
     .set = {SETTING_NUMBER(AG(lock_lease_s), 0.1, WIRE_MAX_LEASE_S,
                            "must be 0.1 to 3600 seconds")},
     .arg = "SECONDS",
     .help = "peer mode: how long a destination lock lasts unless\n"
             "renewed (default {})"},
    {.name = "data",
     .short_name = 'd',
     .key = "data",
     .set = {SETTING_TEXT(AG(data), NULL, "must be a directory path")},
     .arg = "DIR",
     .help = "this agent's state, kept across restarts: in peer\n"
             "mode its store (vmloc.db); with the simulated\n"
             "backend the host's VMs and migrations\n"
             "(hv-sim.json); under managers on etcd the\n"
             "highest manager term it has seen (manager-term).\n"
             "Default: none, but in peer mode\n"
             "$STATE_DIRECTORY/agent-NAME, else\n"
             "/var/lib/vmloc/agent-NAME as root, else\n"
             "$XDG_STATE_HOME/vmloc/agent-NAME"},
    {DAEMON_OPTS_INTERVAL(struct agent_opts, "sampling")},
    {.name = "advertise",
     .key = "advertise",
     .set = {SETTING_TEXT(AG(advertise), url_ok, "must be http://HOST:PORT")},
     .arg = "URL",
     .help = "the URL others use to reach this agent"},
    {DAEMON_OPTS_LOG_LEVEL(struct agent_opts)},
    {.name = "backend",
     .short_name = 'b',
     .key = "backend",
     .set = {SETTING_CHOICE(AG(backend), backend_names, "must be sim or libvirt")},
     .arg = "NAME",
     .help = "sim (default): a simulated hypervisor; libvirt: the host's\n"
             "real domains and live migration ([libvirt] settings)"},
};

/* [libvirt]: the libvirt backend (docs/libvirt.md). */
static const struct opt_def libvirt_defs[] = {
    {.name = "libvirt-uri",
     .key = "uri",
     .set = {LIBVIRT_URI(uri)},
     .arg = "URI",
     .help = "the libvirt of this host (default {})"},
    {.key = "peer_uri", .setter = set_peer_uri},
    {.key = "migration_address", .setter = set_migration_address},
    {.key = "cpus", .set = {SETTING_TEXT(LV(cpus), cpus_ok, "must be a CPU list such as 0-3,8")}},
    {.key = "mem_mib",
     .set = {SETTING_NUMBER(LV(mem_mib), 1, 1e12, "must be a number of MiB > 0")}},
    {.key = "disk_mib_s", .set = {MIB_S(disk_mib_s)}},
    {.key = "net_mib_s", .set = {MIB_S(net_mib_s)}},
    {.key = "mem_bw_mib_s", .set = {MIB_S(mem_bw_mib_s)}},
    {.key = "migrate_flags", .setter = set_migrate_flags},
    {.key = "migrate_bandwidth", .setter = set_migrate_bandwidth},
    {.key = "migrate_timeout",
     .set = {SETTING_NUMBER(LV(migrate_timeout_s), 1, 86400, "must be 1 to 86400 seconds")}},
};

/* [sim]: the simulated host, and its VMs. */
static const struct opt_def sim_defs[] = {
    {.name = "vm",
     .setter = add_vm,
     .arg = "SPEC",
     .help = "a simulated VM, repeatable:\n"
             "NAME:cpu=PCT[,mem_bw=PCT][,disk=PCT][,net=PCT]\n"
             "[,mem=MIB][,priority=N][,pinned]  (mem default 1024);\n"
             "with the libvirt backend only priority and pinned count"},
    {.name = "capacity",
     .key = "capacity",
     .set = {SETTING_NUMBER(AG(capacity), 1e-6, 1e6, "must be a number > 0")},
     .arg = "X",
     .help = "the host's relative capacity (default {})"},
    {.name = "mem-mib",
     .key = "mem_mib",
     .set = {SETTING_NUMBER(AG(mem_mib), 0, 1e12, "must be a number >= 0")},
     .arg = "MIB",
     .help = "the host's memory (default {})"},
    {.name = "overhead-cpu",
     .key = "overhead_cpu",
     .set = {SETTING_NUMBER(AG(overhead[KIND_CPU]), 0, 100, "must be 0 to 100")},
     .arg = "PCT",
     .help = "the hypervisor's own CPU use (default {})"},
    {.name = "bandwidth",
     .key = "bandwidth",
     .set = {SETTING_NUMBER(AG(bandwidth_mib_s), 1e-3, 1e9, "must be a number > 0 (MiB/s)")},
     .arg = "MIBPS",
     .help = "simulated migration bandwidth, MiB/s (default {})"},
    {.name = "sim-pressure",
     .key = "pressure",
     .set = {SETTING_BOOL, AG(sim_pressure), .why = "must be yes or no"},
     .help = "report the host's cpu pressure (PSI some, avg10)\n"
             "modelled from over-subscription (default: none,\n"
             "as a host without PSI)"},
};

/* [sim]: VMs whose demand follows a trace (docs/running.md). */
static const struct opt_def trace_defs[] = {
    {.key = "trace", .set = {SETTING_TEXT(TR(dir), NULL, "must be a folder of trace files")}},
    {.key = "trace_format",
     .set = {SETTING_CHOICE(TR(format), trace_format_names, "must be planetlab or bitbrains")}},
    {.key = "trace_start",
     .set = {SETTING_NUMBER(TR(start), 0, 1e11, "must be a time in seconds since the epoch")}},
    {.key = "trace_step",
     .set = {SETTING_NUMBER(TR(step_s), 0.01, 86400,
                            "must be 0.01 to 86400 seconds (wall time per trace sample)")}},
    {.key = "host_mips",
     .set = {SETTING_NUMBER(TR(host_mips), 1, 1e12, "must be a number of MIPS >= 1")}},
    {.key = "host_cores",
     .set = {SETTING_WHOLE(TR(host_cores), 1, 65536, "must be a whole number from 1 to 65536")}},
    {.key = "disk_kbs", .set = {KBS(disk_kbs)}},
    {.key = "net_kbs", .set = {KBS(net_kbs)}},
};

/* [vm "NAME"]: one VM of the simulated host (or, with libvirt, a domain's priority). */
static const struct opt_def vm_defs[] = {
    {.key = "cpu", .set = {PCT_OF_HOST(KIND_CPU)}},
    {.key = "mem_bw", .set = {PCT_OF_HOST(KIND_MEM_BW)}},
    {.key = "disk", .set = {PCT_OF_HOST(KIND_DISK)}},
    {.key = "net", .set = {PCT_OF_HOST(KIND_NET)}},
    {.key = "mem_mib", .set = {SETTING_NUMBER(VM(mem_mib), 0, 1e12, "must be a number >= 0")}},
    {.key = "priority",
     .set = {SETTING_WHOLE(VM(priority), -(double)WIRE_PRIORITY_MAX, (double)WIRE_PRIORITY_MAX,
                           "must be an integer")}},
    {.key = "pinned", .set = {SETTING_BOOL, VM(pinned), .why = "must be yes or no"}},
    {.key = "trace",
     .set = {SETTING_TEXT(VM(trace), trace_file_ok, "must be the name of a file of [sim] trace")}},
    {.key = "mips",
     .set = {SETTING_NUMBER(VM(mips), 0, 1e9,
                            "must be the VM's size in MIPS (0: it never asks for cpu)")}},
    {.key = "cores",
     .set = {SETTING_WHOLE(VM(cores), 1, 4096, "must be a whole number from 1 to 4096")}},
};

/* The VM named `name`, made on first use (cpu and mips missing until given). */
static void *
vm_object(void *opts, const char *name, char *why, size_t len)
{
    struct agent_opts *o = opts;
    for (size_t i = 0; i < o->n_vms; i++) {
        if (strcmp(o->vms[i].name, name) == 0)
            return &o->vms[i];
    }
    if (o->n_vms == AGENT_MAX_VMS) {
        (void)snprintf(why, len, "too many VMs");
        return NULL;
    }
    struct wire_vmdef *d = &o->vms[o->n_vms++];
    memset(d, 0, sizeof(*d));
    (void)snprintf(d->name, sizeof(d->name), "%s", name);
    d->mem_mib = 1024.0;
    d->demand[KIND_CPU] = -1.0; /* cpu is required: checked at the end */
    d->mips = -1.0;             /* and mips for a VM that follows a trace */
    return d;
}

static const struct opt_table agent_tables[] = {
    {"agent", agent_defs, ARRAY_SIZE(agent_defs), 0, NULL, NULL},
    {"libvirt", libvirt_defs, ARRAY_SIZE(libvirt_defs), offsetof(struct agent_opts, libvirt), NULL,
     NULL},
    {"sim", sim_defs, ARRAY_SIZE(sim_defs), 0, NULL, NULL},
    {"sim", trace_defs, ARRAY_SIZE(trace_defs), offsetof(struct agent_opts, trace), NULL, NULL},
    {"vm", vm_defs, ARRAY_SIZE(vm_defs), 0, name_ok, vm_object},
    DAEMON_OPTS_TAIL(struct agent_opts, "agent"),
};

static const struct opt_cmd agent_cmd = {
    "agent", agent_tables, ARRAY_SIZE(agent_tables),
    "usage: vmloc agent --name NAME [options]\n\n"
    "Run the agent of one hypervisor host: sample the host and its VMs every interval,\n"
    "serve the samples over HTTP, execute the migrations the manager orders, and\n"
    "register with the manager.\n\n"
    "options:\n",
    "\nOnce it accepts connections it prints 'listening on http://ADDR:PORT' on standard\n"
    "output. Logs go to standard error. SIGTERM or SIGINT stops it; SIGHUP reads the\n"
    "token file (a rotation: docs/security.md) and the peers file again.\n"};

/* --- what holds between settings ---------------------------------------------------------- */

/* Every VM of the simulated host has what it needs: cpu, or a trace file with its size. `cfg`:
 * the config file (or NULL). CLI_EXIT_OK, or CLI_EXIT_USAGE after saying why. */
static int
check_vms(struct agent_opts *o, const char *cfg)
{
    const char *in = cfg != NULL ? cfg : "";
    const char *sep = cfg != NULL ? ": " : "";
    for (size_t i = 0; o->backend == AGENT_BACKEND_SIM && i < o->n_vms; i++) {
        struct wire_vmdef *d = &o->vms[i];
        if (d->trace[0] == '\0' && d->demand[KIND_CPU] < 0) {
            cli_error("agent: %s%s[vm \"%s\"] cpu: missing (required for a simulated VM; with "
                      "the libvirt backend a [vm] section gives priority and pinned only)",
                      in, sep, d->name);
            return CLI_EXIT_USAGE;
        }
        if (d->trace[0] == '\0')
            continue;
        if (!(d->mips >= 0)) {
            cli_error("agent: %s%s[vm \"%s\"] mips: missing (required for a VM that follows "
                      "a trace)",
                      in, sep, d->name);
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
    return CLI_EXIT_OK;
}

/* The mode and what it needs: peers, a manager, a lock lease. CLI_EXIT_OK, or
 * CLI_EXIT_USAGE after saying why. */
static int
check_mode(struct agent_opts *o)
{
    if ((o->n_peers > 0 || o->peers_file[0] != '\0') && o->mode != AGENT_MODE_PEER) {
        cli_error("agent: peers are for --mode peer (this agent runs in %s mode)",
                  agent_mode_name(o->mode));
        return CLI_EXIT_USAGE;
    }
    if (o->mode == AGENT_MODE_PEER && o->n_managers > 0) {
        cli_error("agent: --mode peer works without a manager; drop --manager");
        return CLI_EXIT_USAGE;
    }
    if (o->mode == AGENT_MODE_EDGE && o->n_managers == 0) {
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
    return CLI_EXIT_OK;
}

/* The data directory: the one given, or in peer mode the default for this host (the other
 * modes keep no state unless given one). CLI_EXIT_OK, or an exit status after saying why. */
static int
data_dir(struct agent_opts *o)
{
    if (o->mode != AGENT_MODE_PEER && o->data[0] == '\0')
        return CLI_EXIT_OK;
    /* The host's name in a directory name: no path separators. */
    char role[300];
    (void)snprintf(role, sizeof(role), "agent-%.200s", o->name);
    for (char *p = role; *p != '\0'; p++) {
        if (*p == '/')
            *p = '_';
    }
    return cli_data_dir("agent", role, o->data, sizeof(o->data));
}

/* The peers file, when there is one already, parses (at start a bad file is an error, as a
 * bad config file is; later the agent keeps its peers and logs it). CLI_EXIT_OK, or
 * CLI_EXIT_USAGE after saying why. */
static int
check_peers_file(const struct agent_opts *o)
{
    if (o->peers_file[0] == '\0')
        return CLI_EXIT_OK;
    struct peerfile w;
    struct peerfile_list l;
    struct perr err = {""};
    peerfile_init(&w, o->peers_file);
    int r = peerfile_check(&w, true, &l, &err);
    if (r == 1)
        peerfile_list_done(&l);
    if (r < 0 && r != -ENOENT) {
        cli_error("agent: --peers-file: %s", err.msg);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* --check-config: the TLS files load, and the trace's files are read as `vmloc sim` reads
 * them, with every VM's file there. CLI_EXIT_OK after printing "configuration OK", or
 * CLI_EXIT_USAGE after saying why. */
static int
check_config(const struct agent_opts *o)
{
    int r = cli_check_tls(&o->sec);
    if (r != CLI_EXIT_OK)
        return r;
    struct hv_trace tr;
    char terr[600];
    bool sim = o->backend == AGENT_BACKEND_SIM;
    int tr_r = sim ? hv_trace_load(&tr, &o->trace, terr, sizeof(terr)) : 0;
    for (size_t i = 0; tr_r == 0 && sim && i < o->n_vms; i++) {
        if (o->vms[i].trace[0] != '\0' && hv_trace_find(&tr, o->vms[i].trace) < 0) {
            (void)snprintf(terr, sizeof(terr), "VM %.100s: no trace file \"%.200s\" in %.200s",
                           o->vms[i].name, o->vms[i].trace, o->trace.dir);
            tr_r = -ENOENT;
        }
    }
    if (sim)
        hv_trace_done(&tr);
    if (tr_r < 0) {
        cli_error("agent: [sim] trace: %s", terr);
        return CLI_EXIT_USAGE;
    }
    (void)printf("configuration OK\n");
    return CLI_EXIT_OK;
}

/* The config file and the options into `o`. 0: run; -1: done (help or check printed); else
 * an exit status. */
static int
parse_args(int argc, char **argv, struct agent_opts *o)
{
    bool check = false;
    int r = opt_parse(&agent_cmd, argc, argv, o, &o->policy, &check);
    if (r != 0)
        return r;
    if (o->name[0] == '\0') {
        cli_error("agent: --name NAME is required (see vmloc agent --help)");
        return CLI_EXIT_USAGE;
    }
    if (o->backend == AGENT_BACKEND_LIBVIRT && !VMLOC_HAVE_LIBVIRT) {
        cli_error("agent: --backend libvirt: this vmloc was built without libvirt (meson "
                  "-Dlibvirt=disabled or libvirt-dev missing); backends built in: sim");
        return CLI_EXIT_USAGE;
    }
    r = check_vms(o, opt_config_path(&agent_cmd, argc, argv));
    if (r == CLI_EXIT_OK)
        r = check_mode(o);
    if (r == CLI_EXIT_OK)
        r = check_peers_file(o);
    if (r == CLI_EXIT_OK && check)
        r = check_config(o);
    return r == CLI_EXIT_OK && check ? -1 : r;
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
    r = data_dir(o);
    if (r == CLI_EXIT_OK)
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

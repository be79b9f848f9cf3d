/* `vmloc replay`: the running system on a real trace, next to the simulator.
 *
 * It takes the simulator's data centre for the first N hosts and the first M trace files
 * (host types and capacities, VM types, the placement at time 0) and runs it for real: a
 * manager (unless the mode is peer) and one `vmloc agent` per host, with the simulated
 * backend, whose VMs ask at each instant for their trace's value (hv_trace.c). Each trace step
 * lasts --step seconds of wall time, and the daemons sample and decide once a step, with the
 * policy given (or the defaults), exactly as deployed. Once a step, right after the agents
 * sampled, this command reads every agent's sample; at the end it reads the migrations the
 * system recorded. From those it computes the simulator's figures (livestat.c) and checks the
 * invariants a running system must keep; it runs the simulator on the same hosts, VMs, steps
 * and policy (its times scaled from wall time to trace time), and prints both side by side.
 *
 * Exit status: 0 when the invariants hold (no VM lost, none on two hosts, none back on a host
 * within the cooldown), 1 otherwise or when the run failed, 2 for bad arguments or input. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/peerfile.h" /* PEERFILE_MAX_PEERS */
#include "cli/child.h"
#include "cli/cli.h"
#include "cli/opt_table.h"
#include "cli/replay.h"
#include "cli/replay_report.h"
#include "cli/sim_report.h"
#include "common/clock.h"
#include "common/token.h"

static volatile sig_atomic_t replay_stop;

static void
on_signal(int sig)
{
    (void)sig;
    replay_stop = 1;
}

static void
replay_usage(FILE *f)
{
    (void)fprintf(
        f,
        "usage: vmloc replay --trace DIR [--format planetlab|bitbrains] [--hosts N] [--vms M]\n"
        "                    [--steps K] [--step SECONDS] [--mode central|edge|peer]\n"
        "                    [--config FILE] [--json] [--report FILE.html] [--data DIR]\n\n"
        "Run the real manager (or the peers) and one real agent per host on 127.0.0.1, their\n"
        "simulated VMs asking for what a trace's VMs used, one trace step every --step\n"
        "seconds; then report what the live system did next to what the simulator says for\n"
        "the same hosts, VMs, steps and policy, and check that no VM was lost, ran on two\n"
        "hosts at once or came back to a host within the cooldown.\n\n"
        "options:\n"
        "  -t, --trace DIR       the trace folder (one file per VM, as for vmloc sim)\n"
        "  -f, --format NAME     planetlab (default) or bitbrains\n"
        "  -H, --hosts N         the first N hosts of the simulator's data centre (default %d)\n"
        "  -v, --vms M           the first M trace files (default %d; fewer when the trace has)\n"
        "  -k, --steps K         trace steps to run (default: the whole trace)\n"
        "  -s, --step SECONDS    wall time per trace step (default %g; at least %g); the\n"
        "                        daemons sample and decide once a step\n"
        "  -m, --mode MODE       central (default), edge or peer\n"
        "  -c, --config FILE     the policy ([detect], [relocate], [host], [rule]); without it\n"
        "                        the defaults, as a new user runs them\n"
        "  -j, --json            print one JSON object: \"live\" and \"sim\" with the keys of\n"
        "                        vmloc sim --json, and \"invariants\"\n"
        "  -r, --report FILE     write an HTML page with both runs side by side\n"
        "  -d, --data DIR        keep the daemons' files and logs there (default: a\n"
        "                        temporary folder, removed at the end)\n"
        "  -q, --quiet           no progress on standard error\n"
        "  -h, --help            show this help\n\n"
        "Exit status: 0 the invariants hold, 1 they do not (the output says which) or the\n"
        "run failed, 2 bad arguments or input. See docs/sim.md.\n",
        REPLAY_DEFAULT_HOSTS, REPLAY_DEFAULT_VMS, REPLAY_DEFAULT_STEP_S, REPLAY_MIN_STEP_S);
}

static int
parse_whole(const char *opt, const char *v, double lo, double hi, size_t *ret)
{
    double d;
    if (cli_parse_num(v, lo, hi, &d) < 0 || d != floor(d)) {
        cli_error("replay: %s: must be a whole number from %.0f to %.0f, not '%s'", opt, lo, hi, v);
        return -EINVAL;
    }
    *ret = (size_t)d;
    return 0;
}

static int
parse_args(int argc, char **argv, struct replay *rp)
{
    static const struct option opts[] = {
        {"trace", required_argument, NULL, 't'}, {"format", required_argument, NULL, 'f'},
        {"hosts", required_argument, NULL, 'H'}, {"vms", required_argument, NULL, 'v'},
        {"steps", required_argument, NULL, 'k'}, {"step", required_argument, NULL, 's'},
        {"mode", required_argument, NULL, 'm'},  {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},        {"report", required_argument, NULL, 'r'},
        {"data", required_argument, NULL, 'd'},  {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":t:f:H:v:k:s:m:c:jr:d:qh", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            rp->trace_dir = optarg;
            break;
        case 'f':
            if (trace_format_parse(optarg, &rp->format) < 0) {
                cli_error("replay: --format: must be planetlab or bitbrains, not '%s'", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'H':
            if (parse_whole("--hosts", optarg, 1, REPLAY_MAX_HOSTS, &rp->n_hosts) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'v':
            if (parse_whole("--vms", optarg, 1, REPLAY_MAX_VMS, &rp->n_vms) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 'k':
            if (parse_whole("--steps", optarg, 1, TRACE_MAX_SAMPLES, &rp->n_steps) < 0)
                return CLI_EXIT_USAGE;
            break;
        case 's':
            if (cli_parse_num(optarg, REPLAY_MIN_STEP_S, 3600, &rp->step_s) < 0) {
                cli_error("replay: --step: must be seconds from %g to 3600, not '%s'",
                          REPLAY_MIN_STEP_S, optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'm':
            if (strcmp(optarg, "central") == 0) {
                rp->mode = REPLAY_CENTRAL;
            } else if (strcmp(optarg, "edge") == 0) {
                rp->mode = REPLAY_EDGE;
            } else if (strcmp(optarg, "peer") == 0) {
                rp->mode = REPLAY_PEER;
            } else {
                cli_error("replay: --mode: must be central, edge or peer, not '%s'", optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'c':
            rp->config = optarg;
            break;
        case 'j':
            rp->json = true;
            break;
        case 'r':
            rp->report = optarg;
            break;
        case 'd':
            if (strlen(optarg) >= sizeof(rp->data) - 64) {
                cli_error("replay: --data: path too long");
                return CLI_EXIT_USAGE;
            }
            (void)snprintf(rp->data, sizeof(rp->data), "%s", optarg);
            rp->keep = true;
            break;
        case 'q':
            rp->quiet = true;
            break;
        case 'h':
            replay_usage(stdout);
            return -1;
        case ':':
            return cli_missing_value("replay", argv);
        default:
            return cli_unknown_option("replay", argv, ":t:f:H:v:k:s:m:c:jr:d:qh");
        }
    }
    if (optind < argc) {
        cli_error("replay: unexpected argument '%s' (see vmloc replay --help)", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (rp->trace_dir == NULL) {
        cli_error("replay: --trace DIR is required (see vmloc replay --help)");
        return CLI_EXIT_USAGE;
    }
    /* Every agent reads the one peers file, which lists them all. */
    if (rp->mode == REPLAY_PEER && rp->n_hosts > PEERFILE_MAX_PEERS) {
        cli_error("replay: --hosts: at most %d in peer mode", PEERFILE_MAX_PEERS);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* The policy file: read, checked (only the policy's sections), kept as text for the daemons. */
static int
load_policy(struct replay *rp)
{
    policy_init(&rp->policy);
    int r = opt_config_load(NULL, NULL, rp->config, &rp->policy, &rp->policy_text);
    if (r != CLI_EXIT_OK)
        return r;
    if (rp->policy.automation != AUTOMATION_AUTOMATIC) {
        cli_error("%s: [relocate] automation = %s: a replay carries out every decision (there "
                  "is no operator to apply them); use automatic",
                  rp->config, automation_name(rp->policy.automation));
        return CLI_EXIT_USAGE;
    }
    return 0;
}

/* The trace, cut to the VMs and steps asked for, and the data centre at time 0. */
static int
load_trace(struct replay *rp)
{
    struct trace full;
    struct trace_error terr;
    trace_init(&full);
    int r = trace_read(rp->trace_dir, rp->format, &full, &terr);
    if (r < 0) {
        cli_error("%s", terr.msg);
        return r == -ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
    }
    if (full.n_samples < 2) {
        cli_error("%s: the trace has %zu samples; a replay needs at least 2", rp->trace_dir,
                  full.n_samples);
        trace_done(&full);
        return CLI_EXIT_USAGE;
    }
    if (rp->n_vms > full.n_vms)
        rp->n_vms = full.n_vms;
    /* Live step j shows trace sample j + 1 (the simulator's first decision is on sample 1). */
    size_t max_steps = full.n_samples - 1;
    if (rp->n_steps == 0 || rp->n_steps > max_steps)
        rp->n_steps = max_steps;
    r = trace_subset(&full, rp->n_vms, rp->n_steps + 1, &rp->trace);
    trace_done(&full);
    if (r < 0) {
        cli_error("replay: out of memory");
        return CLI_EXIT_FAIL;
    }
    return 0;
}

int
cmd_replay(int argc, char **argv)
{
    struct replay *rp = calloc(1, sizeof(*rp));
    if (rp == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_FAIL;
    }
    replay_init(rp);
    int ret = parse_args(argc, argv, rp);
    if (ret != 0) {
        ret = ret < 0 ? CLI_EXIT_OK : ret;
        goto out;
    }
    ret = load_policy(rp);
    if (ret == 0)
        ret = load_trace(rp);
    if (ret == 0)
        ret = replay_prepare(rp);
    if (ret != 0)
        goto out;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    (void)sigaction(SIGINT, &sa, NULL);
    (void)sigaction(SIGTERM, &sa, NULL);
    rp->stop = &replay_stop;
    ret = replay_live(rp);
    if (ret == 0)
        ret = replay_output(rp);
out:
    replay_done(rp);
    free(rp);
    return ret;
}

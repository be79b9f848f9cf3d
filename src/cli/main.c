/* `vmloc`: global options, then a subcommand from the table below. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "proto/wire.h"

#ifndef VMLOC_VERSION
#define VMLOC_VERSION "0.1.0"
#endif

static const struct cli_cmd commands[] = {
    {"demo", cmd_demo, "run a small simulated cluster and watch vmloc work"},
    {"sim", cmd_sim, "replay VM traces on a simulated data centre and compare policies"},
    {"replay", cmd_replay, "run the real daemons on a VM trace and compare with the simulator"},
    {"plan", cmd_plan, "decide on one snapshot: conflicts and the migrations that resolve them"},
    {"manager", cmd_manager, "run the manager (collection, store, decisions, API)"},
    {"agent", cmd_agent, "run the agent of one host (sampling, VM control)"},
    {"hosts", cmd_hosts, "list hosts with their state and usage"},
    {"conflicts", cmd_conflicts, "list the conflicts detected and what was done"},
    {"load", cmd_load, "set a simulated VM's demand on an agent"},
    {"drain", cmd_drain, "put a host into maintenance: move its VMs off, keep others out"},
    {"undrain", cmd_undrain, "end a host's maintenance"},
    {"forget", cmd_forget, "drop a host that is gone for good from the manager"},
    {"recommendations", cmd_recommendations, "list the moves decided in manual or dry-run mode"},
    {"apply", cmd_apply, "carry out a recommendation (automation = manual)"},
    {"explain", cmd_explain, "why a VM is where it is, and where it could go"},
    {"vms", cmd_vms, "list VMs with their usage (of an agent with --agent URL)"},
    {"migrations", cmd_migrations, "list migrations and their outcome"},
    {"token", cmd_token, "make or check the API token file (vmloc token --create FILE)"},
};

static const char *global_agent;
static const char *global_manager;

const char *
cli_global_agent(void)
{
    return global_agent;
}

const char *
cli_target_url(void)
{
    if (global_agent != NULL)
        return global_agent;
    static char url[WIRE_MAX_URL + 1];
    if (url[0] != '\0')
        return url;
    const char *list = global_manager;
    if (list == NULL) {
        const char *env = getenv("VMLOC_MANAGER");
        list = env != NULL && env[0] != '\0' ? env : CLI_DEFAULT_MANAGER;
    }
    cli_leader_find(list, url, sizeof(url));
    return url;
}

static void
usage(FILE *f)
{
    (void)fprintf(f, "usage: vmloc [--help] [--version] [--manager URL[,URL...] | --agent URL]\n"
                     "             [--token-file FILE] [--tls-cert FILE --tls-key FILE\n"
                     "             --tls-ca FILE] COMMAND [ARGS]\n\n"
                     "vmloc keeps virtual machines on the right servers: it detects resource\n"
                     "conflicts (two or more heavy VMs on a host near its limit) and moves one VM\n"
                     "to the host with the most free capacity.\n\ncommands:\n");
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        (void)fprintf(f, "  %-15s %s\n", commands[i].name, commands[i].summary);
    (void)fprintf(f, "\nThe daemons' API needs the cluster's token: commands read it from\n"
                     "--token-file FILE, else $VMLOC_TOKEN_FILE, else\n"
                     "$CREDENTIALS_DIRECTORY/token or /etc/vmloc/token when there, else\n"
                     "~/.config/vmloc/token (docs/security.md). For https:// daemons (mutual\n"
                     "TLS) give --tls-cert, --tls-key and --tls-ca, or VMLOC_TLS_CERT,\n"
                     "VMLOC_TLS_KEY and VMLOC_TLS_CA.\n"
                     "With active/standby managers (etcd) give --manager them all,\n"
                     "URL,URL...: the commands ask each which one leads.\n"
                     "\nRun 'vmloc COMMAND --help' for a command's options.\n"
                     "Exit status: 0 success, 1 failure at run time, 2 bad arguments or input.\n");
}

int
main(int argc, char **argv)
{
    /* A peer that closes its socket early must not kill us. */
    (void)signal(SIGPIPE, SIG_IGN);
    /* Global options come before the command. */
    int i = 1;
    static const char *const tls_opts[3] = {"--tls-cert", "--tls-key", "--tls-ca"};
    while (i < argc &&
           (strcmp(argv[i], "--manager") == 0 || strcmp(argv[i], "--agent") == 0 ||
            strcmp(argv[i], "--token-file") == 0 || strncmp(argv[i], "--tls-", 6) == 0)) {
        int tls = -1;
        for (int k = 0; k < 3; k++) {
            if (strcmp(argv[i], tls_opts[k]) == 0)
                tls = k;
        }
        bool url = strcmp(argv[i], "--manager") == 0 || strcmp(argv[i], "--agent") == 0;
        if (!url && tls < 0 && strcmp(argv[i], "--token-file") != 0) {
            cli_error("unknown option '%s' (see vmloc --help)", argv[i]);
            return CLI_EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            cli_error("option '%s' needs a %s", argv[i], url ? "URL" : "file");
            return CLI_EXIT_USAGE;
        }
        if (strcmp(argv[i], "--manager") == 0)
            global_manager = argv[i + 1];
        else if (strcmp(argv[i], "--agent") == 0)
            global_agent = argv[i + 1];
        else if (tls >= 0)
            cli_set_tls_path(tls, argv[i + 1]);
        else
            cli_set_token_file(argv[i + 1]);
        i += 2;
    }
    if (i >= argc) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    argc -= i - 1;
    argv += i - 1;
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        (void)printf("vmloc %s\nbackends: sim%s\n", VMLOC_VERSION,
                     VMLOC_HAVE_LIBVIRT ? ", libvirt" : "");
        return CLI_EXIT_OK;
    }
    for (size_t c = 0; c < ARRAY_SIZE(commands); c++) {
        if (strcmp(commands[c].name, cmd) == 0)
            return commands[c].run(argc - 1, argv + 1);
    }
    if (cmd[0] == '-')
        cli_error("unknown option '%s' (see vmloc --help)", cmd);
    else
        cli_error("unknown command '%s' (see vmloc --help)", cmd);
    return CLI_EXIT_USAGE;
}

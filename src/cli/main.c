/* `vmloc`: global options, then a subcommand from the table below. */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#ifndef VMLOC_VERSION
#define VMLOC_VERSION "0.1.0"
#endif

static const struct cli_cmd commands[] = {
    {"plan", cmd_plan, "decide on one snapshot: conflicts and the migrations that resolve them"},
};

void
cli_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (char *p = msg; *p != '\0'; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    (void)fprintf(stderr, "vmloc: %s\n", msg);
}

static void
usage(FILE *f)
{
    (void)fprintf(f, "usage: vmloc [--help] [--version] COMMAND [ARGS]\n\n"
                     "vmloc keeps virtual machines on the right servers: it detects resource\n"
                     "conflicts (two or more heavy VMs on a host near its limit) and moves one VM\n"
                     "to the host with the most free capacity.\n\ncommands:\n");
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        (void)fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    (void)fprintf(f, "\nRun 'vmloc COMMAND --help' for a command's options.\n"
                     "Exit status: 0 success, 1 failure at run time, 2 bad arguments or input.\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        (void)printf("vmloc %s\n", VMLOC_VERSION);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        if (strcmp(commands[i].name, cmd) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    if (cmd[0] == '-')
        cli_error("unknown option '%s' (see vmloc --help)", cmd);
    else
        cli_error("unknown command '%s' (see vmloc --help)", cmd);
    return CLI_EXIT_USAGE;
}

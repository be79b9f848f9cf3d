/* `vmloc token`: make the cluster's API token file, or check one, without starting a daemon.
 * The Debian package's postinst makes /etc/vmloc/token with it, so that the file has the
 * format and the mode the daemons expect (common/token.c writes and reads both). It never
 * prints the token. */
#define _DEFAULT_SOURCE /* explicit_bzero() */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "common/token.h"

static void
token_usage(FILE *f)
{
    (void)fprintf(f, "usage: vmloc token [--create] FILE\n\n"
                     "Check the API token file FILE: one token of 16 to 256 printable\n"
                     "characters, and during a rotation the previous one on a second line;\n"
                     "mode 0600, owned by the user who runs the command. With --create, a\n"
                     "missing FILE is made first with a new random token (64 hexadecimal\n"
                     "digits, mode 0600, written atomically); an existing one is checked and\n"
                     "kept. The token is never printed.\n\n"
                     "options:\n"
                     "  -c, --create  make FILE when it is missing\n"
                     "  -h, --help    show this help\n\n"
                     "Prints 'FILE: created' or 'FILE: OK'. Exit status: 0 success, 1 the file\n"
                     "could not be made, 2 bad arguments or a file that is not a usable token.\n");
}

int
cmd_token(int argc, char **argv)
{
    static const struct option opts[] = {
        {"create", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool create = false;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":ch", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            create = true;
            break;
        case 'h':
            token_usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_unknown_option("token", argv, ":ch");
        }
    }
    if (argc - optind != 1) {
        cli_error("token: %s (see vmloc token --help)",
                  optind < argc ? "one FILE only" : "FILE is required");
        return CLI_EXIT_USAGE;
    }
    const char *path = argv[optind];
    char token[TOKEN_MAX + 1];
    char err[512];
    bool created = false;
    int r = token_load(path, create, token, NULL, &created, err, sizeof(err));
    explicit_bzero(token, sizeof(token));
    if (r < 0) {
        cli_error("token: %s", err);
        /* A file that cannot be made is a failure at run time; a bad one is bad input. */
        struct stat st;
        if (create && r != -EINVAL && lstat(path, &st) < 0)
            return CLI_EXIT_FAIL;
        return r == -EINVAL || r == -EPERM || r == -ENOENT ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
    (void)printf("%s: %s\n", path, created ? "created" : "OK");
    return CLI_EXIT_OK;
}

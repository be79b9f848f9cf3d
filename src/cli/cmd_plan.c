/* `vmloc plan --snapshot FILE [--config FILE] [--json]`: run detection and relocation once,
 * on a snapshot file, and print the conflicts and the migrations that resolve them. The
 * same core code decides in every deployment and in the simulator. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/plan_text.h"
#include "common/file.h"
#include "common/limits.h"
#include "core/plan.h"
#include "proto/plan_json.h"
#include "proto/policy_ini.h"
#include "proto/snapshot.h"

static void
plan_usage(FILE *f)
{
    (void)fprintf(
        f, "usage: vmloc plan --snapshot FILE [--config FILE] [--drain] [--json]\n\n"
           "Detect resource conflicts in one snapshot of resource usage and choose at most one\n"
           "migration per conflicting host, exactly as the manager, the agents and the\n"
           "simulator would.\n\n"
           "options:\n"
           "  -s, --snapshot FILE  the snapshot (JSON; '-' reads standard input)\n"
           "  -c, --config FILE    the policy (INI: [detect], [relocate], [host \"NAME\"]);\n"
           "                       without it every setting has its default\n"
           "  -d, --drain          also evacuate the hosts whose state is \"maintenance\",\n"
           "                       as the manager does for 'vmloc drain HOST'\n"
           "  -j, --json           print one JSON object: conflicts, migrations, unresolved\n"
           "                       (and drains, with --drain)\n"
           "  -h, --help           show this help\n\n"
           "Exit status: 0 success (with or without conflicts), 2 bad arguments, snapshot\n"
           "or config (one line on standard error names the file and the field or line).\n"
           "See docs/policy.md for every setting.\n");
}

struct feed_ctx {
    struct snapshot_decoder *dec;
    struct perr err;
    int code;
};

static int
feed_chunk(void *ctx, const void *chunk, size_t len)
{
    struct feed_ctx *f = ctx;
    int r = snapshot_decoder_feed(f->dec, chunk, len, &f->err);
    if (r < 0) {
        f->code = r;
        return 1;
    }
    return 0;
}

/* Read and decode the snapshot at `path`. 0 or CLI_EXIT_* after printing the error. */
static int
load_snapshot(const char *path, struct cluster *ret_cl)
{
    const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    struct feed_ctx f;
    memset(&f, 0, sizeof(f));
    f.dec = snapshot_decoder_new(name);
    if (f.dec == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_FAIL;
    }
    int ret = 0;
    struct stat st;
    if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
        snapshot_decoder_size_hint(f.dec, (size_t)st.st_size) < 0) {
        /* Only a hint: without it the decoder grows its tables as it goes. */
    }
    int r = file_stream(path, LIMIT_SNAPSHOT_BYTES, feed_chunk, &f);
    if (r < 0) {
        cli_error("%s: %s", name, file_strerror(r));
        ret = r == -ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
    } else if (r > 0) {
        cli_error("%s", f.err.msg);
        ret = f.code == -ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
    } else {
        r = snapshot_decoder_finish(f.dec, ret_cl, &f.err);
        if (r < 0) {
            cli_error("%s", f.err.msg);
            ret = r == -ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
        }
    }
    snapshot_decoder_free(f.dec);
    return ret;
}

/* Read and parse the policy config at `path` into `pol` (initialised). 0 or CLI_EXIT_*. */
static int
load_config(const char *path, struct policy *pol)
{
    const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    char *text = NULL;
    size_t len = 0;
    int r = file_read_all(path, LIMIT_CONFIG_BYTES, &text, &len);
    if (r < 0) {
        cli_error("%s: %s", name, file_strerror(r));
        return r == -ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
    }
    int ret = 0;
    struct perr err;
    if (strlen(text) != len) {
        cli_error("%s: NUL byte in config", name);
        ret = CLI_EXIT_USAGE;
    } else {
        r = config_parse_string(text, name, pol, &err);
        if (r < 0) {
            cli_error("%s", err.msg);
            ret = r == -ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
        }
    }
    free(text);
    return ret;
}

int
cmd_plan(int argc, char **argv)
{
    static const struct option opts[] = {
        {"snapshot", required_argument, NULL, 's'}, {"config", required_argument, NULL, 'c'},
        {"json", no_argument, NULL, 'j'},           {"drain", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    bool drain = false;
    const char *snap_path = NULL;
    const char *conf_path = NULL;
    bool json = false;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":s:c:jdh", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            drain = true;
            break;
        case 's':
            snap_path = optarg;
            break;
        case 'c':
            conf_path = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            plan_usage(stdout);
            return CLI_EXIT_OK;
        case ':':
            return cli_missing_value("plan", argv);
        default:
            return cli_unknown_option("plan", argv, ":s:c:jdh");
        }
    }
    if (optind < argc) {
        cli_error("plan: unexpected argument '%s' (see vmloc plan --help)", argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (snap_path == NULL) {
        cli_error("plan: --snapshot FILE is required (see vmloc plan --help)");
        return CLI_EXIT_USAGE;
    }
    if (conf_path != NULL && strcmp(conf_path, "-") == 0 && strcmp(snap_path, "-") == 0) {
        cli_error("plan: --snapshot and --config cannot both read standard input");
        return CLI_EXIT_USAGE;
    }

    struct policy pol;
    struct cluster cl;
    struct plan p;
    policy_init(&pol);
    cluster_init(&cl);
    plan_init(&p);
    int ret = conf_path != NULL ? load_config(conf_path, &pol) : 0;
    if (ret == 0)
        ret = load_snapshot(snap_path, &cl);
    if (ret != 0)
        goto out;
    policy_finish(&pol);
    struct plan_opts popts = {.drain = drain};
    int r = plan_compute(&cl, &pol, &popts, &p);
    if (r < 0) {
        cli_error("plan: %s", strerror(-r));
        ret = CLI_EXIT_FAIL;
        goto out;
    }
    if (json) {
        char *s = NULL;
        r = plan_json_encode(&cl, &pol, &p, &s);
        if (r < 0) {
            cli_error("plan: out of memory");
            ret = CLI_EXIT_FAIL;
            goto out;
        }
        (void)fputs(s, stdout);
        (void)fputc('\n', stdout);
        free(s);
    } else {
        plan_text_print(stdout, &cl, &pol, &p);
    }
    if (fflush(stdout) != 0) {
        cli_error("plan: writing output: %s", strerror(errno));
        ret = CLI_EXIT_FAIL;
    }
out:
    plan_done(&p);
    cluster_done(&cl);
    policy_done(&pol);
    return ret;
}

/* The management terminal's commands that change a daemon: `vmloc load --agent URL VM
 * KIND=PCT...`, `vmloc drain|undrain HOST` and `vmloc forget HOST` (the listing commands are in
 * cmd_terminal.c). Each asks one daemon over HTTP and prints its answer, or JSON with --json. */
#define _POSIX_C_SOURCE 200809L
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/terminal.h"
#include "core/model.h" /* kind_parse() */
#include "proto/wire.h"

int
cmd_load(int argc, char **argv)
{
    static const struct option opts[] = {
        {"agent", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *agent = NULL;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+:a:h", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            agent = optarg;
            break;
        case 'h':
            (void)printf("usage: vmloc load --agent URL VM KIND=PCT...\n\n"
                         "Set the demand of a VM on an agent with the simulated backend, from\n"
                         "now on. KIND is cpu, mem_bw, disk or net; PCT is 0 to 100 (percent\n"
                         "of the host's capacity). Example: vmloc load --agent "
                         "http://127.0.0.1:7701 web-1 cpu=60\n");
            return CLI_EXIT_OK;
        case ':':
            return cli_missing_value("load", argv);
        default:
            return cli_unknown_option("load", argv, "+:a:h");
        }
    }
    if (agent == NULL)
        agent = cli_global_agent();
    if (agent == NULL) {
        cli_error("load: --agent URL is required (see vmloc load --help)");
        return CLI_EXIT_USAGE;
    }
    if (argc - optind < 2) {
        cli_error("load: expected VM KIND=PCT... (see vmloc load --help)");
        return CLI_EXIT_USAGE;
    }
    const char *vm = argv[optind++];
    if (!wire_name_valid(vm)) {
        cli_error("load: '%s' is not a VM name", vm);
        return CLI_EXIT_USAGE;
    }
    json_t *body = json_object();
    for (; optind < argc && body != NULL; optind++) {
        const char *item = argv[optind];
        const char *eq = strchr(item, '=');
        enum kind k;
        char *end = NULL;
        double d = eq != NULL ? strtod(eq + 1, &end) : NAN;
        if (eq == NULL || kind_parse(item, (size_t)(eq - item), &k) < 0 || eq[1] == '\0' ||
            *end != '\0' || !(d >= 0.0 && d <= 100.0)) {
            cli_error("load: '%s': expected KIND=PCT with KIND cpu, mem_bw, disk or net and PCT "
                      "0 to 100",
                      item);
            json_decref(body);
            return CLI_EXIT_USAGE;
        }
        (void)json_object_set_new(body, kind_name(k), json_real(d));
    }
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_FAIL;
    }
    char path[1024];
    terminal_name_path(path, sizeof(path), "/v1/vms/", vm, "/load");
    json_t *j = NULL;
    int r = terminal_ask(agent, "POST", path, text, &j);
    free(text);
    if (r == CLI_EXIT_OK) {
        (void)printf("load of %s set on %s\n", vm,
                     cli_jstr(j, "host") != NULL ? cli_jstr(j, "host") : agent);
        json_decref(j);
    }
    return r;
}

struct drain_args {
    const char *host;
    bool wait;
    bool json;
    double timeout_s;
};

static int
drain_usage(const char *what)
{
    if (strcmp(what, "drain") == 0)
        (void)printf(
            "usage: vmloc [--manager URL] drain HOST [--wait] [--timeout SECONDS] [--json]\n\n"
            "Put HOST into maintenance: the manager moves its VMs off (one at a time,\n"
            "or up to [relocate] max_per_host; pinned VMs stay and are reported), and\n"
            "nothing moves onto it until 'vmloc undrain HOST'. The state is kept across\n"
            "manager restarts. 'vmloc hosts' shows the progress.\n\n"
            "  --wait             wait until no VM is left (or the drain is blocked)\n"
            "  --timeout SECONDS  give up waiting after this long (default 600)\n"
            "  --json             print the manager's answer as JSON\n\n"
            "Exit status with --wait: 0 drained, 1 blocked or timed out.\n");
    else if (strcmp(what, "undrain") == 0)
        (void)printf("usage: vmloc [--manager URL] undrain HOST [--json]\n\n"
                     "End HOST's maintenance: it takes VMs again and its own conflicts count.\n");
    else
        (void)printf("usage: vmloc [--manager URL] forget HOST [--json]\n\n"
                     "Forget HOST: the manager drops it from its hosts and its store (its\n"
                     "history of conflicts and migrations stays). For a host that is gone for\n"
                     "good; an agent still running registers again at once. Refused while a\n"
                     "migration from or to HOST is under way. Hosts silent for [manager]\n"
                     "forget_after (default 7 days) are forgotten without it.\n");
    return CLI_EXIT_OK;
}

static int
drain_parse(int argc, char **argv, const char *what, struct drain_args *a)
{
    static const struct option opts[] = {
        {"wait", no_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool drain = strcmp(what, "drain") == 0;
    a->timeout_s = 600;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, drain ? ":wt:jh" : ":jh", opts, NULL)) != -1) {
        switch (c) {
        case 'w':
            a->wait = true;
            break;
        case 't':
            if (cli_parse_num(optarg, 1, 86400, &a->timeout_s) < 0) {
                cli_error("%s: --timeout: must be 1 to 86400 seconds, not '%s'", what, optarg);
                return CLI_EXIT_USAGE;
            }
            break;
        case 'j':
            a->json = true;
            break;
        case 'h':
            return drain_usage(what) == CLI_EXIT_OK ? -1 : CLI_EXIT_FAIL;
        case ':':
            return cli_missing_value(what, argv);
        default:
            return cli_unknown_option(what, argv, drain ? ":wt:jh" : ":jh");
        }
    }
    if (argc - optind != 1) {
        cli_error("%s: expected one HOST (see vmloc %s --help)", what, what);
        return CLI_EXIT_USAGE;
    }
    a->host = argv[optind];
    if (!wire_name_valid(a->host)) {
        cli_error("%s: '%s' is not a host name", what, a->host);
        return CLI_EXIT_USAGE;
    }
    if (cli_global_agent() != NULL) {
        cli_error("%s: the manager keeps the hosts; use --manager URL, not --agent", what);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

/* The host's entry in the manager's list, or NULL (new reference). */
static json_t *
host_entry(const char *url, const char *host)
{
    json_t *arr = NULL;
    if (terminal_ask(url, "GET", "/v1/hosts", NULL, &arr) != CLI_EXIT_OK)
        return NULL;
    size_t i;
    json_t *h;
    json_t *found = NULL;
    json_array_foreach(arr, i, h)
    {
        if (strcmp(cli_jstr(h, "name"), host) == 0) {
            found = h;
            json_incref(found);
        }
    }
    json_decref(arr);
    return found;
}

int
cmd_drain(int argc, char **argv)
{
    struct drain_args a = {0};
    int r = drain_parse(argc, argv, "drain", &a);
    if (r != CLI_EXIT_OK)
        return r < 0 ? CLI_EXIT_OK : r;
    const char *url = cli_target_url();
    char path[1024];
    terminal_name_path(path, sizeof(path), "/v1/hosts/", a.host, "/drain");
    json_t *j = NULL;
    r = terminal_ask(url, "POST", path, "{}", &j);
    if (r != CLI_EXIT_OK)
        return r;
    if (a.json && !a.wait) {
        r = terminal_print_json(j);
        json_decref(j);
        return r;
    }
    json_int_t left =
        json_integer_value(json_object_get(json_object_get(j, "maintenance"), "vms_left"));
    json_decref(j);
    if (!a.json)
        (void)printf("%s: in maintenance, %lld VM%s to move off\n", a.host, (long long)left,
                     left == 1 ? "" : "s");
    if (!a.wait)
        return CLI_EXIT_OK;
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    double deadline = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + a.timeout_s;
    json_int_t shown = left;
    for (;;) {
        json_t *h = host_entry(url, a.host);
        if (h == NULL)
            return CLI_EXIT_FAIL;
        json_t *mt = json_object_get(h, "maintenance");
        left = json_integer_value(json_object_get(mt, "vms_left"));
        const char *blocked = json_string_value(json_object_get(mt, "blocked"));
        bool stuck =
            blocked != NULL && strcmp(blocked, "busy") != 0 && strcmp(blocked, "limit") != 0;
        if (mt == NULL) {
            cli_error("drain: %s is no longer in maintenance (undrained?)", a.host);
            json_decref(h);
            return CLI_EXIT_FAIL;
        }
        if (left != shown && !a.json) {
            (void)printf("%s: %lld left\n", a.host, (long long)left);
            shown = left;
        }
        if (left == 0 || stuck) {
            if (a.json)
                r = terminal_print_json(h);
            else if (left == 0)
                (void)printf("%s: drained, ready for maintenance\n", a.host);
            else
                cli_error("drain: %s is blocked: %s %s (%lld VM%s left)", a.host, blocked,
                          cli_jstr(mt, "blocked_vm"), (long long)left, left == 1 ? "" : "s");
            json_decref(h);
            return left == 0 ? r : CLI_EXIT_FAIL;
        }
        json_decref(h);
        (void)clock_gettime(CLOCK_MONOTONIC, &ts);
        if ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9 > deadline) {
            cli_error("drain: %s still has %lld VM%s after %.0f s", a.host, (long long)left,
                      left == 1 ? "" : "s", a.timeout_s);
            return CLI_EXIT_FAIL;
        }
        struct timespec pause = {0, 250L * 1000 * 1000};
        (void)nanosleep(&pause, NULL);
    }
}

int
cmd_undrain(int argc, char **argv)
{
    struct drain_args a = {0};
    int r = drain_parse(argc, argv, "undrain", &a);
    if (r != CLI_EXIT_OK)
        return r < 0 ? CLI_EXIT_OK : r;
    char path[1024];
    terminal_name_path(path, sizeof(path), "/v1/hosts/", a.host, "/undrain");
    json_t *j = NULL;
    r = terminal_ask(cli_target_url(), "POST", path, "{}", &j);
    if (r != CLI_EXIT_OK)
        return r;
    if (a.json)
        r = terminal_print_json(j);
    else
        (void)printf("%s: maintenance over, state %s\n", a.host, cli_jstr(j, "state"));
    json_decref(j);
    return r;
}

int
cmd_forget(int argc, char **argv)
{
    struct drain_args a = {0};
    int r = drain_parse(argc, argv, "forget", &a);
    if (r != CLI_EXIT_OK)
        return r < 0 ? CLI_EXIT_OK : r;
    char path[1024];
    terminal_name_path(path, sizeof(path), "/v1/hosts/", a.host, "");
    json_t *j = NULL;
    r = terminal_ask(cli_target_url(), "DELETE", path, NULL, &j);
    if (r != CLI_EXIT_OK)
        return r;
    if (a.json)
        r = terminal_print_json(j);
    else if (json_is_true(json_object_get(j, "was_up")))
        (void)printf("%s: forgotten (its agent was answering: it registers again unless it is "
                     "stopped)\n",
                     a.host);
    else
        (void)printf("%s: forgotten\n", a.host);
    json_decref(j);
    return r;
}

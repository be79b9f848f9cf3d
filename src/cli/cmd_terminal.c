/* The management terminal: `vmloc [--agent URL | --manager URL] hosts|vms|conflicts|migrations
 * [--json]`, recommendations, apply and explain (load, drain and forget are in cmd_drain.c).
 * Each asks one daemon over HTTP and prints its answer as a table, or as JSON with --json. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
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
#include "core/model.h"
#include "proto/wire.h"

static double
kind_value(json_t *o, const char *key, const char *kind)
{
    json_t *v = json_object_get(json_object_get(o, key), kind);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static void
print_vms(json_t *arr)
{
    (void)printf("%-24s %-16s %7s %7s %7s %7s %7s %9s  %s\n", "VM", "HOST", "CPU%", "ASKED%",
                 "WAIT%", "DISK%", "NET%", "MEM MiB", "STATE");
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        const char *state = cli_jstr(v, "state");
        /* CPU wait where the host measures it (docs/libvirt.md), "-" where it does not. */
        json_t *w = json_object_get(v, "cpu_wait");
        char wait[32] = "-";
        if (json_is_number(w))
            (void)snprintf(wait, sizeof(wait), "%.1f", json_number_value(w));
        (void)printf(
            "%-24s %-16s %7.1f %7.1f %7s %7.1f %7.1f %9.0f  %s\n", cli_jstr(v, "name"),
            cli_jstr(v, "host"), kind_value(v, "usage", "cpu"), kind_value(v, "demand", "cpu"),
            wait, kind_value(v, "usage", "disk"), kind_value(v, "usage", "net"),
            json_number_value(json_object_get(v, "mem_mib")), state != NULL ? state : "running");
    }
}

static void
format_time(json_t *v, char *buf, size_t len)
{
    if (!json_is_number(v)) {
        (void)snprintf(buf, len, "-");
        return;
    }
    double t = json_number_value(v);
    time_t s = (time_t)t;
    struct tm tm;
    if (gmtime_r(&s, &tm) == NULL || strftime(buf, len, "%H:%M:%S", &tm) == 0)
        (void)snprintf(buf, len, "%.3f", t);
}

static void
print_migrations(json_t *arr)
{
    (void)printf("%-24s %-16s %-16s %-8s %-9s %8s  %s\n", "VM", "FROM", "TO", "STATE", "STARTED",
                 "SECONDS", "ERROR");
    size_t i;
    json_t *m;
    json_array_foreach(arr, i, m)
    {
        char started[32];
        format_time(json_object_get(m, "started"), started, sizeof(started));
        json_t *fin = json_object_get(m, "finished");
        double secs = json_is_number(fin) ? json_number_value(fin) -
                                                json_number_value(json_object_get(m, "started"))
                                          : NAN;
        const char *err = json_string_value(json_object_get(m, "error"));
        char dur[32];
        if (isnan(secs))
            (void)snprintf(dur, sizeof(dur), "-");
        else
            (void)snprintf(dur, sizeof(dur), "%.2f", secs);
        (void)printf("%-24s %-16s %-16s %-8s %-9s %8s  %s\n", cli_jstr(m, "vm"),
                     cli_jstr(m, "from"), cli_jstr(m, "to"), cli_jstr(m, "state"), started, dur,
                     err != NULL ? err : "");
    }
}

/* Shared by vms and migrations: `--json` and `--help` only. */
static int
list_cmd(int argc, char **argv, const char *what, const char *path, void (*print)(json_t *arr))
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false;
    int c;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            json = true;
            break;
        case 'h':
            (void)printf("usage: vmloc [--agent URL | --manager URL] %s [--json]\n\n"
                         "List the %s the daemon knows; --json prints a JSON array.\n",
                         what, what);
            return CLI_EXIT_OK;
        default:
            return cli_unknown_option(what, argv, "jh");
        }
    }
    if (optind < argc) {
        cli_error("%s: unexpected argument '%s'", what, argv[optind]);
        return CLI_EXIT_USAGE;
    }
    const char *url = cli_target_url();
    json_t *j = NULL;
    int r = terminal_ask(url, "GET", path, NULL, &j);
    if (r != CLI_EXIT_OK)
        return r;
    if (!json_is_array(j)) {
        cli_error("%s%s: answer is not a JSON array", url, path);
        json_decref(j);
        return CLI_EXIT_FAIL;
    }
    if (json)
        r = terminal_print_json(j);
    else
        print(j);
    json_decref(j);
    return r;
}

static void
print_hosts(json_t *arr)
{
    (void)printf("%-20s %-11s %7s %7s %7s %7s  %s\n", "HOST", "STATE", "CPU%", "MEMBW%", "DISK%",
                 "NET%", "VMS");
    size_t i;
    json_t *h;
    json_array_foreach(arr, i, h)
    {
        (void)printf("%-20s %-11s %7.1f %7.1f %7.1f %7.1f  ", cli_jstr(h, "name"),
                     cli_jstr(h, "state"), kind_value(h, "usage", "cpu"),
                     kind_value(h, "usage", "mem_bw"), kind_value(h, "usage", "disk"),
                     kind_value(h, "usage", "net"));
        char vms[1024];
        cli_join(json_object_get(h, "vms"), ",", vms, sizeof(vms));
        (void)fputs(vms, stdout);
        json_t *mt = json_object_get(h, "maintenance");
        if (json_object_get(h, "power") != NULL)
            (void)printf("%s(ready to power off)", vms[0] != '\0' ? " " : "");
        if (mt != NULL) {
            json_int_t left = json_integer_value(json_object_get(mt, "vms_left"));
            if (left == 0)
                (void)printf("%s(drained)", vms[0] != '\0' ? " " : "");
            else
                (void)printf(" (draining, %lld left%s%s%s%s)", (long long)left,
                             json_object_get(mt, "blocked") != NULL ? ", blocked: " : "",
                             json_object_get(mt, "blocked") != NULL ? cli_jstr(mt, "blocked") : "",
                             json_object_get(mt, "blocked_vm") != NULL ? " " : "",
                             json_object_get(mt, "blocked_vm") != NULL ? cli_jstr(mt, "blocked_vm")
                                                                       : "");
        }
        json_t *clash = json_object_get(h, "name_clash");
        if (clash != NULL)
            (void)printf(" (name refused to the agent at %s)", cli_jstr(clash, "url"));
        size_t k;
        json_t *d;
        json_array_foreach(json_object_get(h, "duplicate_vms"), k, d)
        {
            char on[1024];
            cli_join(json_object_get(d, "hosts"), ",", on, sizeof(on));
            (void)printf(" (VM %s also on: %s)", cli_jstr(d, "vm"), on);
        }
        (void)printf("\n");
    }
}

static void
print_conflicts(json_t *arr)
{
    (void)printf("%-9s %-20s %-14s %-30s %s\n", "TIME", "HOST", "RESOURCES", "VMS", "OUTCOME");
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c)
    {
        char t[32];
        format_time(json_object_get(c, "time"), t, sizeof(t));
        char res[64] = "";
        char vms[256] = "";
        cli_join(json_object_get(c, "resources"), ",", res, sizeof(res));
        cli_join(json_object_get(c, "vms"), ",", vms, sizeof(vms));
        const char *outcome = json_string_value(json_object_get(c, "outcome"));
        (void)printf("%-9s %-20s %-14s %-30s %s\n", t, cli_jstr(c, "host"), res, vms,
                     outcome != NULL ? outcome : "");
    }
}

int
cmd_hosts(int argc, char **argv)
{
    return list_cmd(argc, argv, "hosts", "/v1/hosts", print_hosts);
}

static void
print_recommendations(json_t *arr)
{
    (void)printf("%-24s %-9s %-20s %-14s %-14s %-10s %s\n", "ID", "TIME", "VM", "FROM", "TO",
                 "STATE", "REASON");
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r)
    {
        char t[32];
        format_time(json_object_get(r, "time"), t, sizeof(t));
        (void)printf("%-24s %-9s %-20s %-14s %-14s %-10s %s\n", cli_jstr(r, "id"), t,
                     cli_jstr(r, "vm"), cli_jstr(r, "from"), cli_jstr(r, "to"),
                     cli_jstr(r, "state"), cli_jstr(r, "reason"));
    }
}

int
cmd_recommendations(int argc, char **argv)
{
    return list_cmd(argc, argv, "recommendations", "/v1/recommendations", print_recommendations);
}

int
cmd_apply(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        (void)printf("usage: vmloc [--manager URL] apply ID\n\n"
                     "Carry out recommendation ID now (with [relocate] automation = manual the\n"
                     "manager records its decisions as recommendations: see\n"
                     "'vmloc recommendations'). Refused when it no longer holds (the VM left its\n"
                     "source, the destination is down or in maintenance, a migration runs).\n");
        return CLI_EXIT_OK;
    }
    if (argc != 2 || argv[1][0] == '-') {
        cli_error("apply: expected one recommendation ID (see vmloc apply --help)");
        return CLI_EXIT_USAGE;
    }
    if (!wire_id_valid(argv[1])) {
        cli_error("apply: '%s' is not a recommendation id", argv[1]);
        return CLI_EXIT_USAGE;
    }
    char path[200];
    (void)snprintf(path, sizeof(path), "/v1/recommendations/%s/apply", argv[1]);
    json_t *j = NULL;
    int r = terminal_ask(cli_target_url(), "POST", path, "{}", &j);
    if (r != CLI_EXIT_OK)
        return r;
    (void)printf("%s applied: migration %s ordered\n", argv[1], cli_jstr(j, "migration"));
    json_decref(j);
    return CLI_EXIT_OK;
}

int
cmd_conflicts(int argc, char **argv)
{
    return list_cmd(argc, argv, "conflicts", "/v1/conflicts", print_conflicts);
}

int
cmd_vms(int argc, char **argv)
{
    return list_cmd(argc, argv, "vms", "/v1/vms", print_vms);
}

int
cmd_migrations(int argc, char **argv)
{
    return list_cmd(argc, argv, "migrations", "/v1/migrations", print_migrations);
}

static void
explain_status(json_t *j, const char *vm)
{
    (void)printf("%s runs on %s (%s)", vm, cli_jstr(j, "host"), cli_jstr(j, "host_state"));
    if (json_is_true(json_object_get(j, "host_in_conflict")))
        (void)printf(", which is in conflict%s", json_is_true(json_object_get(j, "heavy"))
                                                     ? "; it is one of the heavy VMs"
                                                     : "");
    (void)printf("\n");
    /* [detect] contention = confirm: whether its host's usage conflict hurts, by which signal. */
    if (json_is_string(json_object_get(j, "contention")))
        (void)printf("contention: %s\n", cli_jstr(j, "contention"));
    if (json_is_number(json_object_get(j, "cpu_wait")))
        (void)printf("cpu wait: %.1f%% of the time its vCPUs were runnable but not running\n",
                     json_number_value(json_object_get(j, "cpu_wait")));
    /* The cooldown and the storm guard hold it from a conflict's move only; both may. */
    char until[32];
    if (json_is_true(json_object_get(j, "cooling"))) {
        format_time(json_object_get(j, "cooldown_until"), until, sizeof(until));
        (void)printf("cooldown: it arrived on %s less than the cooldown ago; a conflict does not "
                     "move it until %s UTC (%.0f s more)\n",
                     cli_jstr(j, "host"), until,
                     json_real_value(json_object_get(j, "cooldown_left_s")));
    }
    json_t *sp = json_object_get(j, "storm_guard_policy");
    if (json_is_true(json_object_get(j, "storm_guard"))) {
        format_time(json_object_get(j, "storm_guard_until"), until, sizeof(until));
        (void)printf("storm guard: it moved %lld times within %.0f s (max_moves_per_vm %lld); a "
                     "conflict does not move it until %s UTC (%.0f s more); a drain still does\n",
                     (long long)json_integer_value(json_object_get(j, "recent_moves")),
                     json_number_value(json_object_get(sp, "storm_window_s")),
                     (long long)json_integer_value(json_object_get(sp, "max_moves_per_vm")), until,
                     json_real_value(json_object_get(j, "storm_guard_left_s")));
    } else if (json_integer_value(json_object_get(j, "recent_moves")) > 0) {
        (void)printf("storm guard: %lld of at most %lld moves within %.0f s\n",
                     (long long)json_integer_value(json_object_get(j, "recent_moves")),
                     (long long)json_integer_value(json_object_get(sp, "max_moves_per_vm")),
                     json_number_value(json_object_get(sp, "storm_window_s")));
    }
    char on[1024];
    cli_join(json_object_get(j, "duplicate_on"), ", ", on, sizeof(on));
    if (json_is_true(json_object_get(j, "pinned")))
        (void)printf("it does not move: pinned\n");
    else if (on[0] != '\0')
        (void)printf("it does not move: a VM of this name runs on %s; keep one copy, or rename "
                     "one (shown here: the one on %s)\n",
                     on, cli_jstr(j, "host"));
    else if (json_object_get(j, "held_by_rule") != NULL)
        (void)printf("it does not move alone: rule \"%s\" keeps it with VMs on its host\n",
                     cli_jstr(j, "held_by_rule"));
    else if (json_object_get(j, "retry_in_s") != NULL)
        (void)printf("it is not tried again for %.0f s: its last migration failed\n",
                     json_real_value(json_object_get(j, "retry_in_s")));
    else if (json_is_true(json_object_get(j, "cooling")) ||
             json_is_true(json_object_get(j, "storm_guard")))
        (void)printf("a conflict does not move it now (see above); a drain may\n");
    else if (json_is_true(json_object_get(j, "host_busy")))
        (void)printf("it does not move now: a migration of its host runs\n");
    else
        (void)printf("it may move\n");
}

/* `vmloc explain`: its rules, every destination's verdict, and its migrations. */
static void
explain_lists(json_t *j)
{
    size_t i;
    json_t *x;
    json_t *rules = json_object_get(j, "rules");
    json_array_foreach(rules, i, x)
    {
        (void)printf("%s \"%s\" (%s, %s)", i == 0 ? "rules:" : ",", cli_jstr(x, "name"),
                     cli_jstr(x, "type"), cli_jstr(x, "strength"));
    }
    if (json_array_size(rules) > 0)
        (void)printf("\n");
    json_t *dests = json_object_get(j, "destinations");
    (void)printf("destinations (%lld of %zu possible, best first):\n",
                 (long long)json_integer_value(json_object_get(j, "possible")),
                 json_array_size(dests));
    json_array_foreach(dests, i, x)
    {
        const char *v = cli_jstr(x, "verdict");
        (void)printf("  %-20s %-12s", cli_jstr(x, "host"), v);
        if (strcmp(v, "ok") == 0)
            (void)printf(" score %.1f", json_real_value(json_object_get(x, "score")));
        else if (strcmp(v, "no-room") == 0)
            (void)printf(" %s: free %.1f, needs %.1f", cli_jstr(x, "kind"),
                         json_real_value(json_object_get(x, "free")),
                         json_real_value(json_object_get(x, "need")));
        else if (strcmp(v, "no-memory") == 0)
            (void)printf(" free %.0f MiB, needs %.0f MiB",
                         json_real_value(json_object_get(x, "free_mib")),
                         json_real_value(json_object_get(x, "need_mib")));
        else if (strcmp(v, "rule") == 0)
            (void)printf(" \"%s\"", cli_jstr(x, "rule"));
        if (json_object_get(x, "should_kept") != NULL)
            (void)printf(" (keeps %lld should rule%s)",
                         (long long)json_integer_value(json_object_get(x, "should_kept")),
                         json_integer_value(json_object_get(x, "should_kept")) == 1 ? "" : "s");
        (void)printf("\n");
    }
    json_t *migs = json_object_get(j, "migrations");
    if (json_array_size(migs) > 0)
        (void)printf("migrations:\n");
    json_array_foreach(migs, i, x)
    {
        char t[32];
        format_time(json_object_get(x, "started"), t, sizeof(t));
        (void)printf("  %s %s -> %s %s: %s\n", t, cli_jstr(x, "from"), cli_jstr(x, "to"),
                     cli_jstr(x, "state"), cli_jstr(x, "reason"));
    }
}

int
cmd_explain(int argc, char **argv)
{
    bool json = false;
    const char *vm = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            (void)printf("usage: vmloc [--manager URL] explain VM [--json]\n\n"
                         "Why VM is where it is, and what vmloc would do with it now: whether\n"
                         "its host is in conflict, whether it may move (pinned, cooling down,\n"
                         "held by a rule), and for every other host whether it could take it or\n"
                         "why not (down, maintenance, excluded, busy, no room in which kind, no\n"
                         "memory, which rule); then its migrations. See docs/policy.md.\n");
            return CLI_EXIT_OK;
        } else if (argv[i][0] == '-' || vm != NULL) {
            cli_error("explain: unexpected argument '%s' (see vmloc explain --help)", argv[i]);
            return CLI_EXIT_USAGE;
        } else {
            vm = argv[i];
        }
    }
    if (vm == NULL || !wire_name_valid(vm)) {
        cli_error("explain: expected one VM name (see vmloc explain --help)");
        return CLI_EXIT_USAGE;
    }
    char path[1024];
    terminal_name_path(path, sizeof(path), "/v1/vms/", vm, "/explain");
    json_t *j = NULL;
    int r = terminal_ask(cli_target_url(), "GET", path, NULL, &j);
    if (r != CLI_EXIT_OK)
        return r;
    if (json) {
        r = terminal_print_json(j);
        json_decref(j);
        return r;
    }
    explain_status(j, vm);
    explain_lists(j);
    json_decref(j);
    return CLI_EXIT_OK;
}

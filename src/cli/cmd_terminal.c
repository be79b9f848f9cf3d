/* The management terminal: `vmloc [--agent URL | --manager URL] hosts|vms|conflicts|migrations
 * [--json]`
 * and `vmloc load --agent URL VM KIND=PCT...`. Each asks one daemon over HTTP and prints
 * its answer as a table, or as JSON with --json. */
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
#include "core/model.h"
#include "net/http.h"
#include "net/http_client.h"
#include "proto/wire.h"

#define TERMINAL_TIMEOUT_S 10.0

/* GET or POST `path` on `url`; on success *ret_json holds the parsed answer.
 * Returns CLI_EXIT_* after printing any error. */
static int
ask(const char *url, const char *method, const char *path, const char *body, json_t **ret_json)
{
    if (http_url_check(url) < 0) {
        cli_error("%s: not a daemon URL (expected http://HOST:PORT)", url);
        return CLI_EXIT_USAGE;
    }
    struct http_answer ans;
    int r = cli_fetch(url, method, path, body, TERMINAL_TIMEOUT_S, &ans);
    if (r < 0) {
        cli_error("%s: %s", url, ans.err != NULL ? ans.err : strerror(-r));
        return CLI_EXIT_FAIL;
    }
    int status = ans.status;
    char *answer = ans.body;
    json_error_t je;
    json_t *j = json_loads(answer, 0, &je);
    if (status < 200 || status >= 300) {
        const char *msg = json_string_value(json_object_get(j, "error"));
        cli_error("%s%s: %d %s", url, path, status, msg != NULL ? msg : answer);
        json_decref(j);
        free(answer);
        return status >= 400 && status < 500 ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
    free(answer);
    if (j == NULL) {
        cli_error("%s%s: answer is not JSON: %s", url, path, je.text);
        return CLI_EXIT_FAIL;
    }
    *ret_json = j;
    return CLI_EXIT_OK;
}

/* PREFIX NAME SUFFIX into `path`, NAME escaped for a URL path segment. */
static void
name_path(char *path, size_t len, const char *prefix, const char *name, const char *suffix)
{
    size_t off = (size_t)snprintf(path, len, "%s", prefix);
    for (const unsigned char *p = (const unsigned char *)name; *p != '\0' && off + 4 < len; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.')
            path[off++] = (char)*p;
        else
            off += (size_t)snprintf(path + off, len - off, "%%%02X", *p);
    }
    if (off < len)
        (void)snprintf(path + off, len - off, "%s", suffix);
}

static int
print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_FAIL;
    }
    (void)puts(s);
    free(s);
    return CLI_EXIT_OK;
}

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
    int r = ask(url, "GET", path, NULL, &j);
    if (r != CLI_EXIT_OK)
        return r;
    if (!json_is_array(j)) {
        cli_error("%s%s: answer is not a JSON array", url, path);
        json_decref(j);
        return CLI_EXIT_FAIL;
    }
    if (json)
        r = print_json(j);
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
    int r = ask(cli_target_url(), "POST", path, "{}", &j);
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
    name_path(path, sizeof(path), "/v1/vms/", vm, "/load");
    json_t *j = NULL;
    int r = ask(agent, "POST", path, text, &j);
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
    if (ask(url, "GET", "/v1/hosts", NULL, &arr) != CLI_EXIT_OK)
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
    name_path(path, sizeof(path), "/v1/hosts/", a.host, "/drain");
    json_t *j = NULL;
    r = ask(url, "POST", path, "{}", &j);
    if (r != CLI_EXIT_OK)
        return r;
    if (a.json && !a.wait) {
        r = print_json(j);
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
                r = print_json(h);
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
        struct timespec pause = {0, 250 * 1000 * 1000};
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
    name_path(path, sizeof(path), "/v1/hosts/", a.host, "/undrain");
    json_t *j = NULL;
    r = ask(cli_target_url(), "POST", path, "{}", &j);
    if (r != CLI_EXIT_OK)
        return r;
    if (a.json)
        r = print_json(j);
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
    name_path(path, sizeof(path), "/v1/hosts/", a.host, "");
    json_t *j = NULL;
    r = ask(cli_target_url(), "DELETE", path, NULL, &j);
    if (r != CLI_EXIT_OK)
        return r;
    if (a.json)
        r = print_json(j);
    else if (json_is_true(json_object_get(j, "was_up")))
        (void)printf("%s: forgotten (its agent was answering: it registers again unless it is "
                     "stopped)\n",
                     a.host);
    else
        (void)printf("%s: forgotten\n", a.host);
    json_decref(j);
    return r;
}

/* `vmloc explain`: where the VM runs, what holds it, and whether it may move. */
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
    name_path(path, sizeof(path), "/v1/vms/", vm, "/explain");
    json_t *j = NULL;
    int r = ask(cli_target_url(), "GET", path, NULL, &j);
    if (r != CLI_EXIT_OK)
        return r;
    if (json) {
        r = print_json(j);
        json_decref(j);
        return r;
    }
    explain_status(j, vm);
    explain_lists(j);
    json_decref(j);
    return CLI_EXIT_OK;
}

/* The web page in a real browser: headless Chromium driven through ChromeDriver's WebDriver
 * API (plain HTTP and JSON), against `vmloc demo` in central and peer mode and against a
 * manager with 500 simulated hosts. Checks that the page loads without console errors, shows
 * every host, shows a migration caused by a load change without being reloaded, and measures
 * the first render. Skips (exit 77) when Chromium or ChromeDriver is not installed
 * (scripts/deps.sh installs them for `make test`). */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "daemon.h"
#include "net/http.h"
#include "net/http_client.h"

#define BIG_CLUSTER 500
#define FIRST_RENDER_LIMIT_MS 1000.0

static char chromium[256];
static char chromedriver[256];
static struct daemon driver;
static char wd_url[64];
static char session[128];

static double
now_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool
find_program(const char *env, const char *const *candidates, char *out, size_t len)
{
    const char *e = getenv(env);
    if (e != NULL && access(e, X_OK) == 0) {
        (void)snprintf(out, len, "%s", e);
        return true;
    }
    for (size_t i = 0; candidates[i] != NULL; i++) {
        if (access(candidates[i], X_OK) == 0) {
            (void)snprintf(out, len, "%s", candidates[i]);
            return true;
        }
    }
    return false;
}

/* One WebDriver command: returns its "value" (a new reference; JSON null as json_null()), or
 * NULL with the error printed. */
static json_t *
wd(const char *method, const char *path, json_t *body)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct http_answer ans;
    int r = http_fetch(wd_url, method, path, text, NULL, 60.0, &ans);
    free(text);
    if (r < 0) {
        printf("webdriver %s %s: no answer (%s)\n", method, path, ans.err != NULL ? ans.err : "?");
        return NULL;
    }
    int status = ans.status;
    char *answer = ans.body;
    json_t *j = json_loads(answer, 0, NULL);
    json_t *v = json_object_get(j, "value");
    if (status != 200 || v == NULL) {
        printf("webdriver %s %s: status %d: %.400s\n", method, path, status, answer);
        free(answer);
        json_decref(j);
        return NULL;
    }
    free(answer);
    json_incref(v);
    json_decref(j);
    return v;
}

/* Run `script` in the page and return its result (new reference) or NULL. */
static json_t *
js(const char *script)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/session/%s/execute/sync", session);
    return wd("POST", path, json_pack("{s:s,s:[]}", "script", script, "args"));
}

static bool
js_true(const char *script)
{
    json_t *v = js(script);
    bool t = json_is_true(v);
    json_decref(v);
    return t;
}

/* js_true() for wait_until(): `arg` is the script. */
static bool
js_pred(void *arg)
{
    return js_true(arg);
}

static void
navigate(const char *url)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/session/%s/url", session);
    json_t *v = wd("POST", path, json_pack("{s:s}", "url", url));
    assert_non_null(v);
    json_decref(v);
}

/* Open `url` with the run's API token in its fragment (#token=...), as an operator's link
 * would: the page keeps it in the tab and takes it out of the address. */
static void
navigate_auth(const char *url)
{
    char full[700];
    (void)snprintf(full, sizeof(full), "%s#token=%s", url, test_token());
    navigate(full);
}

/* Forget the browser's console messages so far. */
static void
forget_console(void)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/session/%s/se/log", session);
    json_decref(wd("POST", path, json_pack("{s:s}", "type", "browser")));
}

/* The browser's console messages since the last call; fails the test on any error. */
static void
assert_no_console_errors(void)
{
    char path[256];
    (void)snprintf(path, sizeof(path), "/session/%s/se/log", session);
    json_t *logs = wd("POST", path, json_pack("{s:s}", "type", "browser"));
    assert_non_null(logs);
    size_t i;
    json_t *e;
    int errors = 0;
    json_array_foreach(logs, i, e)
    {
        const char *level = json_string_value(json_object_get(e, "level"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        printf("console %s: %s\n", level ? level : "?", msg ? msg : "?");
        if (level != NULL && strcmp(level, "SEVERE") == 0)
            errors++;
    }
    json_decref(logs);
    assert_int_equal(errors, 0);
}

/* Leave the page before its server stops (a page left open would log the failing requests
 * of its next poll), and forget the console messages of that moment. */
static void
leave_page(void)
{
    navigate("about:blank");
    forget_console();
}

static bool
rendered(void *arg)
{
    (void)arg;
    return js_true("return document.body.dataset.rendered === '1';");
}

/* The host names the page shows, as one "a,b,c" string (caller frees). */
static char *
page_hosts(void)
{
    json_t *v = js("return Array.from(document.querySelectorAll('#hosts .host'))"
                   ".map(e => e.dataset.name).join(',');");
    char *s = strdup(json_string_value(v) != NULL ? json_string_value(v) : "");
    json_decref(v);
    return s;
}

/* The host names an API lists at `url`/v1/hosts, as "a,b,c" (caller frees). */
static char *
api_hosts(const char *url)
{
    json_t *j = NULL;
    assert_int_equal(daemon_http(url, "GET", "/v1/hosts", NULL, &j), 200);
    size_t cap = 16 + 300 * json_array_size(j);
    char *s = calloc(1, cap);
    assert_non_null(s);
    size_t i;
    json_t *h;
    size_t off = 0;
    json_array_foreach(j, i, h)
    {
        off += (size_t)snprintf(s + off, cap - off, "%s%s", i ? "," : "",
                                json_string_value(json_object_get(h, "name")));
    }
    json_decref(j);
    return s;
}

struct hosts_match {
    const char *url;
    size_t want; /* hosts expected, or 0 */
};

static bool
page_shows_api_hosts(void *arg)
{
    const struct hosts_match *m = arg;
    char *p = page_hosts();
    char *a = api_hosts(m->url);
    size_t n = a[0] != '\0' ? 1 : 0;
    for (const char *c = a; *c != '\0'; c++)
        n += *c == ',';
    bool ok = strcmp(p, a) == 0 && (m->want == 0 || n == m->want);
    free(p);
    free(a);
    return ok;
}

static int
setup_browser(void **state)
{
    (void)state;
    /* ChromeDriver binds a port the kernel chooses and says which: "ChromeDriver was started
     * successfully on port 43281." On a busy machine it has been seen to exit at once with
     * "bind() failed: Address already in use" in its log (it binds IPv4 and IPv6 separately);
     * a start that fails is tried again, with a new port each time, a few times. */
    const char *argv[] = {"--port=0", NULL};
    int started = -1;
    for (int attempt = 0; attempt < 5 && started < 0; attempt++)
        started =
            daemon_spawn(&driver, "chromedriver", chromedriver, argv, "started successfully", 30.0);
    if (started < 0)
        return -1;
    const char *on = strstr(driver.ready_line, "on port ");
    long port = on != NULL ? strtol(on + strlen("on port "), NULL, 10) : 0;
    if (port <= 0 || port > 65535) {
        printf("chromedriver did not say its port: '%s'\n", driver.ready_line);
        daemon_kill(&driver);
        return -1;
    }
    (void)snprintf(wd_url, sizeof(wd_url), "http://127.0.0.1:%ld", port);
    /* The browser's profile in the test's directory, which goes when the test passes. */
    char profile[300];
    (void)snprintf(profile, sizeof(profile), "--user-data-dir=%s/chromium", daemon_tmpdir());
    json_t *caps = json_pack("{s:{s:{s:s,s:{s:s,s:[s,s,s,s,s,s,s]},s:{s:s}}}}", "capabilities",
                             "alwaysMatch", "browserName", "chrome", "goog:chromeOptions", "binary",
                             chromium, "args", "--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--window-size=1400,1000", "--no-first-run",
                             profile, "goog:loggingPrefs", "browser", "ALL");
    json_t *v = wd("POST", "/session", caps);
    const char *sid = json_string_value(json_object_get(v, "sessionId"));
    if (sid == NULL) {
        json_decref(v);
        daemon_dump_log(&driver);
        return -1;
    }
    (void)snprintf(session, sizeof(session), "%s", sid);
    json_decref(v);
    return 0;
}

static int
teardown_browser(void **state)
{
    (void)state;
    if (session[0] != '\0') {
        char path[256];
        (void)snprintf(path, sizeof(path), "/session/%s", session);
        json_decref(wd("DELETE", path, NULL));
    }
    (void)daemon_stop(&driver, 10.0);
    return 0;
}

/* The demo of the test running, killed (with its daemons) by the teardown if it fails. */
static struct daemon demo_d;

static int
teardown_demo(void **state)
{
    (void)state;
    daemon_kill(&demo_d);
    return 0;
}

/* A demo in `mode`; its URL (the manager's, or the first agent's in peer mode) in d->url. */
static void
start_demo(struct daemon *d, const char *mode)
{
    const char *argv[] = {"demo", "--mode", mode, "--duration", "300", "--interval", "0.5", NULL};
    char name[64];
    (void)snprintf(name, sizeof(name), "demo-%s", mode);
    assert_int_equal(daemon_spawn(d, name, NULL, argv, "look around:", 60.0), 0);
    assert_true(strncmp(d->url, "http://", 7) == 0);
}

/* The agent URL of the host running VM `vm`, from the manager's lists. */
static void
host_of(const char *manager, const char *vm, char *host, size_t hlen, char *url, size_t ulen)
{
    json_t *vms = NULL;
    json_t *hosts = NULL;
    assert_int_equal(daemon_http(manager, "GET", "/v1/vms", NULL, &vms), 200);
    assert_int_equal(daemon_http(manager, "GET", "/v1/hosts", NULL, &hosts), 200);
    size_t i;
    json_t *o;
    host[0] = url[0] = '\0';
    json_array_foreach(vms, i, o)
    {
        if (strcmp(json_string_value(json_object_get(o, "name")), vm) == 0)
            (void)snprintf(host, hlen, "%s", json_string_value(json_object_get(o, "host")));
    }
    json_array_foreach(hosts, i, o)
    {
        if (strcmp(json_string_value(json_object_get(o, "name")), host) == 0)
            (void)snprintf(url, ulen, "%s", json_string_value(json_object_get(o, "url")));
    }
    json_decref(vms);
    json_decref(hosts);
    assert_true(host[0] != '\0' && url[0] != '\0');
}

struct mig_wait {
    const char *manager;
    const char *from;
    double after; /* wall clock */
    char id[96];
};

/* A migration off `from` ordered after `after`, in the manager's list. */
static bool
migration_ordered(void *arg)
{
    struct mig_wait *w = arg;
    json_t *j = NULL;
    if (daemon_http(w->manager, "GET", "/v1/migrations", NULL, &j) != 200) {
        json_decref(j);
        return false;
    }
    size_t i;
    json_t *m;
    json_array_foreach(j, i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "from")), w->from) == 0 &&
            json_real_value(json_object_get(m, "started")) >= w->after) {
            (void)snprintf(w->id, sizeof(w->id), "%s", json_string_value(json_object_get(m, "id")));
            json_decref(j);
            return true;
        }
    }
    json_decref(j);
    return false;
}

static bool
page_shows_migration(void *arg)
{
    const struct mig_wait *w = arg;
    char script[256];
    (void)snprintf(script, sizeof(script),
                   "return document.querySelector('#migrations tbody tr[data-id=\"%s\"]') "
                   "!== null;",
                   w->id);
    return js_true(script);
}

static double
wall_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool
page_shows_first_migration(void *arg)
{
    (void)arg;
    return js_true("return document.querySelector('#migrations tbody tr') !== null;");
}

static bool
maint_button_is(void *arg)
{
    char script[200];
    (void)snprintf(script, sizeof(script),
                   "const b = document.getElementById('maint'); "
                   "return !b.hidden && b.textContent === '%s';",
                   (const char *)arg);
    return js_true(script);
}

struct host_state_wait {
    const char *url;
    const char *host;
    const char *state;
};

static bool
api_host_state(void *arg)
{
    const struct host_state_wait *w = arg;
    json_t *j = NULL;
    bool ok = false;
    if (daemon_http(w->url, "GET", "/v1/hosts", NULL, &j) == 200) {
        size_t i;
        json_t *h;
        json_array_foreach(j, i, h)
        {
            if (strcmp(json_string_value(json_object_get(h, "name")), w->host) == 0)
                ok = strcmp(json_string_value(json_object_get(h, "state")), w->state) == 0;
        }
    }
    json_decref(j);
    return ok;
}

/* "HOST|PREFIX1|PREFIX2": the host's card badge starts with one of the prefixes. */
static bool
card_badge_starts(void *arg)
{
    char buf[128];
    (void)snprintf(buf, sizeof(buf), "%s", (const char *)arg);
    char *p1 = strchr(buf, '|');
    *p1++ = '\0';
    char *p2 = strchr(p1, '|');
    *p2++ = '\0';
    char script[300];
    (void)snprintf(script, sizeof(script),
                   "const b = document.querySelector('#hosts .host[data-name=\"%s\"] .badge'); "
                   "return b !== null && (b.textContent.startsWith('%s') || "
                   "b.textContent.startsWith('%s'));",
                   buf, p1, p2);
    return js_true(script);
}

/* Central mode: every host shown, no console errors, and a load change's migration appears
 * on the page while it stays loaded. */
static void
test_page_central_demo(void **state)
{
    (void)state;
    start_demo(&demo_d, "central");
    char page[160];
    (void)snprintf(page, sizeof(page), "%s/", demo_d.url);

    /* Without the token the page asks for it and shows no host; given the token, it renders
     * and keeps it for this tab only. */
    navigate(page);
    assert_true(wait_until(js_pred, "return !document.getElementById('login').hidden;", 20.0));
    assert_true(js_true("return document.querySelectorAll('#hosts .host').length === 0 && "
                        "document.body.dataset.rendered !== '1';"));
    char script[600];
    (void)snprintf(script, sizeof(script),
                   "document.getElementById('login-token').value = '%s'; "
                   "document.getElementById('login-use').click(); return true;",
                   test_token());
    assert_true(js_true(script));
    assert_true(wait_until(rendered, NULL, 20.0));
    assert_true(js_true("return document.getElementById('login').hidden && "
                        "window.sessionStorage.getItem('vmloc-token') !== null;"));
    forget_console(); /* the 401s before the token was given */
    leave_page();

    /* With the token in the address: rendered at once, and the token leaves the address. */
    double t0 = now_s();
    navigate_auth(page);
    assert_true(wait_until(rendered, NULL, 20.0));
    assert_true(js_true("return window.location.hash === '' && "
                        "document.getElementById('login').hidden;"));
    printf("page rendered %.0f ms after the navigation started\n", (now_s() - t0) * 1000.0);
    struct hosts_match hm = {demo_d.url, 5};
    assert_true(wait_until(page_shows_api_hosts, &hm, 10.0));
    assert_true(js_true("window.vmlocTestMark = 'still here'; return true;"));

    /* The load change: db-1 and api-1 (left alone by the demo's own script) get heavy. */
    char host[64];
    char agent[128];
    host_of(demo_d.url, "db-1", host, sizeof(host), agent, sizeof(agent));
    struct mig_wait w = {demo_d.url, host, wall_s() - 0.001, ""};
    json_t *j = NULL;
    assert_int_equal(daemon_http(agent, "POST", "/v1/vms/db-1/load", "{\"cpu\": 50}", &j), 200);
    json_decref(j);
    assert_int_equal(daemon_http(agent, "POST", "/v1/vms/api-1/load", "{\"cpu\": 40}", &j), 200);
    json_decref(j);
    assert_true(wait_until(migration_ordered, &w, 20.0));
    double seen = now_s();
    assert_true(wait_until(page_shows_migration, &w, 10.0));
    printf("migration %s off %s on the page %.0f ms after the manager listed it\n", w.id, host,
           (now_s() - seen) * 1000.0);
    assert_true(js_true("return window.vmlocTestMark === 'still here';")); /* no reload */
    assert_true(js_true("return document.querySelector('#migrations tbody tr') !== null && "
                        "document.querySelectorAll('#conflicts tbody tr').length > 0;"));

    /* Maintenance from the page: select h5, drain it, see it on the card, end it. */
    assert_true(js_true("window.confirm = () => true; "
                        "document.querySelector('#hosts .host[data-name=\"h5\"]').click(); "
                        "return true;"));
    assert_true(wait_until(maint_button_is, "Drain (maintenance)", 10.0));
    assert_true(js_true("document.getElementById('maint').click(); return true;"));
    struct host_state_wait hs = {demo_d.url, "h5", "maintenance"};
    assert_true(wait_until(api_host_state, &hs, 10.0));
    assert_true(wait_until(card_badge_starts, "h5|draining|maintenance", 10.0));
    assert_true(wait_until(maint_button_is, "End maintenance", 10.0));
    assert_true(js_true("document.getElementById('maint').click(); return true;"));
    hs.state = "up";
    assert_true(wait_until(api_host_state, &hs, 10.0));
    assert_true(js_true("return window.vmlocTestMark === 'still here';"));
    assert_no_console_errors();
    leave_page();
    assert_int_equal(daemon_stop(&demo_d, 30.0), 0);
}

/* Peer mode: an agent serves the page, with every peer's host. */
static void
test_page_peer_demo(void **state)
{
    (void)state;
    start_demo(&demo_d, "peer");
    char page[160];
    (void)snprintf(page, sizeof(page), "%s/", demo_d.url);
    navigate_auth(page);
    assert_true(wait_until(rendered, NULL, 20.0));
    struct hosts_match hm = {demo_d.url, 5};
    assert_true(wait_until(page_shows_api_hosts, &hm, 10.0));
    /* Every peer answered: all five are up on the page. */
    assert_true(js_true("return document.querySelectorAll('#hosts .host.up, #hosts "
                        ".host.conflict').length === 5;"));
    assert_no_console_errors();
    leave_page();
    assert_int_equal(daemon_stop(&demo_d, 30.0), 0);
}

struct big {
    struct daemon manager;
    struct daemon *agents;
    size_t n;
};

/* The 500-host cluster, stopped by the test's teardown even when an assertion failed. */
static struct big *big_cluster;

static int
teardown_big(void **state)
{
    (void)state;
    struct big *b = big_cluster;
    if (b == NULL)
        return 0;
    for (size_t i = 0; b->agents != NULL && i < b->n; i++)
        daemon_kill(&b->agents[i]);
    daemon_kill(&b->manager);
    free(b->agents);
    big_cluster = NULL;
    return 0;
}

static bool
all_up(void *arg)
{
    const struct big *b = arg;
    json_t *j = NULL;
    if (daemon_http(b->manager.url, "GET", "/v1/hosts", NULL, &j) != 200) {
        json_decref(j);
        return false;
    }
    size_t up = 0;
    size_t i;
    json_t *h;
    json_array_foreach(j, i, h)
    {
        up += strcmp(json_string_value(json_object_get(h, "state")), "up") == 0;
    }
    json_decref(j);
    return up == b->n;
}

/* 500 simulated hosts: the first render stays under a second. */
static void
test_page_500_hosts(void **state)
{
    (void)state;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    static struct big b;
    memset(&b, 0, sizeof(b));
    b.n = BIG_CLUSTER;
    b.agents = calloc(b.n, sizeof(*b.agents));
    assert_non_null(b.agents);
    big_cluster = &b;
    char data[300];
    (void)snprintf(data, sizeof(data), "%s/big-manager", daemon_tmpdir());
    const char *margv[] = {"manager", "--listen",   "127.0.0.1:0", "--data",
                           data,      "--interval", "1",           NULL};
    assert_int_equal(daemon_start(&b.manager, "big-manager", margv, 20.0), 0);
    double t0 = now_s();
    for (size_t i = 0; i < b.n; i++) {
        char name[32];
        char vm1[64];
        char vm2[64];
        (void)snprintf(name, sizeof(name), "host-%03zu", i + 1);
        (void)snprintf(vm1, sizeof(vm1), "vm-%03zu-a:cpu=%zu", i + 1, 10 + i % 30);
        (void)snprintf(vm2, sizeof(vm2), "vm-%03zu-b:cpu=%zu", i + 1, 5 + i % 20);
        const char *argv[] = {"agent",     "--name",      name,         "--listen", "127.0.0.1:0",
                              "--manager", b.manager.url, "--interval", "1",        "--vm",
                              vm1,         "--vm",        vm2,          NULL};
        char tag[48];
        (void)snprintf(tag, sizeof(tag), "big-%s", name);
        assert_int_equal(daemon_start(&b.agents[i], tag, argv, 20.0), 0);
    }
    printf("%zu agents started in %.1f s\n", b.n, now_s() - t0);
    assert_true(wait_until(all_up, &b, 60.0));
    char page[160];
    (void)snprintf(page, sizeof(page), "%s/", b.manager.url);
    navigate_auth(page);
    assert_true(wait_until(rendered, NULL, 30.0));
    json_t *v = js("return window.vmlocFirstRenderMs;");
    double first = json_number_value(v);
    json_decref(v);
    struct hosts_match hm = {b.manager.url, BIG_CLUSTER};
    assert_true(wait_until(page_shows_api_hosts, &hm, 10.0));
    /* Responsiveness: an update of all 500 cards, and a click on a host. */
    v = js("const t = performance.now(); document.querySelector('#hosts .host:last-child')"
           ".click(); return performance.now() - t;");
    double click = json_number_value(v);
    json_decref(v);
    v = js("return window.vmlocLastRenderMs;");
    double update = json_number_value(v);
    json_decref(v);
    printf("500 hosts: first render %.0f ms after the navigation started (limit %.0f ms), "
           "an update %.1f ms, a click %.1f ms\n",
           first, FIRST_RENDER_LIMIT_MS, update, click);
    assert_true(first > 0 && first < FIRST_RENDER_LIMIT_MS);
    assert_no_console_errors();
    leave_page();
    for (size_t i = 0; i < b.n; i++)
        daemon_kill(&b.agents[i]);
    assert_int_equal(daemon_stop(&b.manager, 20.0), 0);
}

/* A manual-mode cluster for the recommendation test, stopped by its teardown. */
static struct daemon manual_d[3];

static int
teardown_manual(void **state)
{
    (void)state;
    for (size_t i = 0; i < 3; i++)
        daemon_kill(&manual_d[i]);
    return 0;
}

static bool
rec_button_shown(void *arg)
{
    (void)arg;
    return js_true("const s = document.getElementById('recs-section'); "
                   "return !s.hidden && s.querySelector('tbody tr button') !== null;");
}

struct mig_of {
    const char *url;
    const char *vm;
};

static bool
manager_lists_migration(void *arg)
{
    const struct mig_of *w = arg;
    json_t *j = NULL;
    bool ok = false;
    if (daemon_http(w->url, "GET", "/v1/migrations", NULL, &j) == 200) {
        size_t i;
        json_t *m;
        json_array_foreach(j, i, m)
        {
            ok |= strcmp(json_string_value(json_object_get(m, "vm")), w->vm) == 0;
        }
    }
    json_decref(j);
    return ok;
}

/* automation = manual: the page lists the recommendation and its Apply button orders it. */
static void
test_page_manual_apply(void **state)
{
    (void)state;
    char pol[300];
    (void)snprintf(pol, sizeof(pol), "%s/manual.ini", daemon_tmpdir());
    FILE *f = fopen(pol, "w");
    assert_non_null(f);
    assert_true(fputs("[relocate]\nautomation = manual\n", f) >= 0);
    assert_int_equal(fclose(f), 0);
    char data[300];
    (void)snprintf(data, sizeof(data), "%s/manual-data", daemon_tmpdir());
    const char *margv[] = {"manager",    "--listen", "127.0.0.1:0", "--data", data,
                           "--interval", "0.3",      "--config",    pol,      NULL};
    assert_int_equal(daemon_start(&manual_d[0], "manual-manager", margv, 20.0), 0);
    const char *a1[] = {
        "agent",           "--name",     "h1",  "--listen", "127.0.0.1:0",     "--manager",
        manual_d[0].url,   "--interval", "0.3", "--vm",     "a:cpu=30,mem=64", "--vm",
        "b:cpu=20,mem=64", NULL};
    const char *a2[] = {
        "agent",         "--name",     "h2",  "--listen", "127.0.0.1:0",    "--manager",
        manual_d[0].url, "--interval", "0.3", "--vm",     "c:cpu=5,mem=64", NULL};
    assert_int_equal(daemon_start(&manual_d[1], "manual-h1", a1, 20.0), 0);
    assert_int_equal(daemon_start(&manual_d[2], "manual-h2", a2, 20.0), 0);
    char page[160];
    (void)snprintf(page, sizeof(page), "%s/", manual_d[0].url);
    navigate_auth(page);
    assert_true(wait_until(rendered, NULL, 20.0));
    json_t *j = NULL;
    assert_int_equal(daemon_http(manual_d[1].url, "POST", "/v1/vms/a/load", "{\"cpu\": 50}", &j),
                     200);
    json_decref(j);
    assert_int_equal(daemon_http(manual_d[1].url, "POST", "/v1/vms/b/load", "{\"cpu\": 40}", &j),
                     200);
    json_decref(j);
    assert_true(wait_until(rec_button_shown, NULL, 20.0));
    struct mig_of w = {manual_d[0].url, "a"};
    assert_false(manager_lists_migration(&w)); /* manual: nothing ordered yet */
    assert_true(js_true("document.querySelector('#recs tbody tr button').click(); return true;"));
    assert_true(wait_until(manager_lists_migration, &w, 20.0));
    assert_true(wait_until(page_shows_first_migration, NULL, 10.0));
    assert_no_console_errors();
    leave_page();
    for (size_t i = 3; i > 0; i--)
        assert_int_equal(daemon_stop(&manual_d[i - 1], 20.0), 0);
}

int
main(void)
{
    static const char *const chromes[] = {"/usr/bin/chromium", "/usr/bin/chromium-browser",
                                          "/usr/bin/google-chrome", NULL};
    static const char *const drivers[] = {"/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver",
                                          NULL};
    if (!find_program("VMLOC_CHROMIUM", chromes, chromium, sizeof(chromium)) ||
        !find_program("VMLOC_CHROMEDRIVER", drivers, chromedriver, sizeof(chromedriver))) {
        printf("skipped: the browser test needs Chromium and ChromeDriver (Debian packages "
               "chromium and chromium-driver; scripts/deps.sh installs them for make test)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_page_central_demo, teardown_demo),
        cmocka_unit_test_teardown(test_page_peer_demo, teardown_demo),
        cmocka_unit_test_teardown(test_page_manual_apply, teardown_manual),
        cmocka_unit_test_teardown(test_page_500_hosts, teardown_big),
    };
    return cmocka_run_group_tests(tests, setup_browser, teardown_browser);
}

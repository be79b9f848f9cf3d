/* Authentication with real processes: the token file is created at first start with mode 0600
 * and refused when others may read it; every change without the token, or with a wrong one,
 * gets 401 and changes nothing (on a manager, a central agent and a peer agent); reads need
 * the token unless open_reads is set; the page's own files are served without it; an agent
 * with another token cannot register; the token shows in no log and no --help; and a token is
 * rotated with SIGHUP while a manager collects from its agent. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "common/file.h"
#include "net/http.h"
#include "net/http_client.h"
#include "testpool.h"

#define WRONG_TOKEN "0123456789abcdef0123456789abcdef-not-the-token"

/* The status of `method path` with no token and with a wrong one: both must be 401. */
static void
assert_refused(const char *url, const char *method, const char *path, const char *body)
{
    json_t *j = NULL;
    int st = daemon_http_token(url, method, path, body, NULL, &j);
    if (st != 401)
        printf("%s %s%s without a token: %d\n", method, url, path, st);
    assert_int_equal(st, 401);
    assert_non_null(strstr(str(j, "error"), "token"));
    json_decref(j);
    st = daemon_http_token(url, method, path, body, WRONG_TOKEN, &j);
    if (st != 401)
        printf("%s %s%s with a wrong token: %d\n", method, url, path, st);
    assert_int_equal(st, 401);
    json_decref(j);
}

/* The cpu demand of VM `vm` on the agent at `url` (-1 when absent). */
static double
vm_cpu(const char *url, const char *vm)
{
    json_t *vms = get(url, "/v1/vms");
    json_t *v = named(vms, vm);
    json_t *d = json_object_get(json_object_get(v, "demand"), "cpu");
    double cpu = d != NULL ? json_number_value(d) : -1;
    json_decref(vms);
    return cpu;
}

/* `text` does not occur in the file at `path`. */
static void
assert_not_in_file(const char *path, const char *text)
{
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(file_read_all(path, 64u * 1024u * 1024u, &buf, &len), 0);
    if (strstr(buf, text) != NULL)
        printf("%s holds the token\n", path);
    assert_null(strstr(buf, text));
    free(buf);
}

static void
test_manager_and_central_agent(void **state)
{
    (void)state;
    struct daemon *m = pool_start_manager("m", "127.0.0.1:0", NULL);
    const char *const vms[] = {"--vm", "a:cpu=10", "--vm", "b:cpu=10", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, vms);
    (void)pool_start_agent("h2", m->url, NULL);
    struct cond up = {m->url, NULL, NULL, 2};
    assert_true(wait_until(hosts_up, &up, UP_S));

    /* The manager: reads and changes. */
    assert_refused(m->url, "GET", "/v1/hosts", NULL);
    assert_refused(m->url, "GET", "/v1/health", NULL);
    assert_refused(m->url, "GET", "/metrics", NULL);
    assert_refused(m->url, "POST", "/v1/hosts/h1/drain", "{}");
    assert_refused(m->url, "POST", "/v1/recommendations/1/apply", "{}");
    assert_refused(m->url, "POST", "/v1/agents",
                   "{\"name\": \"intruder\", \"url\": \"http://127.0.0.1:9\"}");
    assert_refused(m->url, "POST", "/v1/notify", "{}");
    json_t *hosts = get(m->url, "/v1/hosts");
    assert_int_equal(json_array_size(hosts), 2); /* no intruder */
    assert_string_equal(str(named(hosts, "h1"), "state"), "up");
    json_decref(hosts);

    /* The agent: a load change and a migration order change nothing. */
    assert_refused(h1->url, "GET", "/v1/sample", NULL);
    assert_refused(h1->url, "POST", "/v1/vms/a/load", "{\"cpu\": 90}");
    assert_refused(h1->url, "POST", "/v1/migrations",
                   "{\"vm\": \"a\", \"to\": \"http://127.0.0.1:9\"}");
    assert_refused(h1->url, "POST", "/v1/incoming",
                   "{\"id\": \"x1\", \"from\": \"h9\", \"vm\": {\"name\": \"z\", \"demand\": "
                   "{\"cpu\": 5}, \"mem_mib\": 64, \"priority\": 0, \"pinned\": false}}");
    assert_true(vm_cpu(h1->url, "a") > 9.9 && vm_cpu(h1->url, "a") < 10.1);
    json_t *migs = get(h1->url, "/v1/migrations");
    assert_int_equal(json_array_size(migs), 0);
    json_decref(migs);
    json_t *vmsj = get(h1->url, "/v1/vms");
    assert_int_equal(json_array_size(vmsj), 2); /* no reserved arrival */
    json_decref(vmsj);

    /* With the token the same calls work. */
    json_t *j = NULL;
    assert_int_equal(daemon_http(h1->url, "POST", "/v1/vms/a/load", "{\"cpu\": 12}", &j), 200);
    json_decref(j);
    assert_true(vm_cpu(h1->url, "a") > 11.9);

    /* The page's own files need no token; its data does. */
    char *text = NULL;
    struct http_answer ans;
    assert_int_equal(http_fetch(m->url, "GET", "/", NULL, NULL, 5.0, &ans), 0);
    assert_int_equal(ans.status, 200);
    free(ans.body);
    assert_int_equal(http_fetch(m->url, "GET", "/ui/app.js", NULL, NULL, 5.0, &ans), 0);
    assert_int_equal(ans.status, 200);
    free(ans.body);

    /* The terminal: with the run's token file it works; with a wrong one it is refused. */
    const char *argv[] = {"--manager", m->url, "hosts", "--json", NULL};
    assert_int_equal(run_cli(argv, &text), 0);
    free(text);
    char wrong[512];
    (void)snprintf(wrong, sizeof(wrong), "%s/%s-wrong-token", daemon_tmpdir(), pool_prefix());
    FILE *f = fopen(wrong, "w");
    assert_non_null(f);
    assert_true(fputs(WRONG_TOKEN "\n", f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(wrong, 0600), 0);
    const char *argv2[] = {"--token-file", wrong, "--manager", m->url, "drain", "h1", NULL};
    assert_int_equal(run_cli(argv2, NULL), 2);
    hosts = get(m->url, "/v1/hosts");
    assert_string_equal(str(named(hosts, "h1"), "state"), "up");
    json_decref(hosts);

    /* An agent with another token cannot register. */
    const char *other[] = {"--token-file", wrong, NULL};
    (void)pool_start_agent("h3", m->url, other);
    struct cond three = {m->url, NULL, NULL, 3};
    assert_false(wait_until(hosts_known, &three, 2.0));

    /* No secret in --help or in any log. */
    const char *help[] = {"manager", "--help", NULL};
    assert_int_equal(run_cli(help, &text), 0);
    assert_null(strstr(text, test_token()));
    free(text);
    pool_finish();
    assert_not_in_file(m->log_path, test_token());
    assert_not_in_file(h1->log_path, test_token());
}

/* open_reads: reads need no token, changes still do. */
static void
test_open_reads(void **state)
{
    (void)state;
    const char *const extra[] = {"--open-reads", NULL};
    struct daemon *m = pool_start_manager("m", "127.0.0.1:0", extra);
    (void)pool_start_agent("h1", m->url, NULL);
    struct cond up = {m->url, NULL, NULL, 1};
    assert_true(wait_until(hosts_up, &up, UP_S));
    json_t *j = NULL;
    assert_int_equal(daemon_http_token(m->url, "GET", "/v1/hosts", NULL, NULL, &j), 200);
    json_decref(j);
    assert_refused(m->url, "POST", "/v1/hosts/h1/drain", "{}");
    json_t *hosts = get(m->url, "/v1/hosts");
    assert_string_equal(str(named(hosts, "h1"), "state"), "up");
    json_decref(hosts);
    pool_finish();
}

/* Peer agents: a lock cannot be taken or released without the token. */
static void
test_peer_lock(void **state)
{
    (void)state;
    struct peers p;
    pool_peers_init(&p, 2);
    pool_peer_start(&p, 0, NULL);
    pool_peer_start(&p, 1, NULL);
    assert_refused(p.url[1], "POST", "/v1/lock", "{\"holder\": \"ghost\", \"lease_s\": 60}");
    json_t *lk = get(p.url[1], "/v1/lock");
    assert_non_null(lk);
    assert_true(json_is_null(json_object_get(lk, "holder")) ||
                strcmp(str(lk, "holder"), "ghost") != 0);
    json_decref(lk);
    json_t *j = NULL;
    assert_int_equal(
        daemon_http(p.url[1], "POST", "/v1/lock", "{\"holder\": \"ghost\", \"lease_s\": 60}", &j),
        200);
    json_decref(j);
    assert_refused(p.url[1], "POST", "/v1/lock/release", "{\"holder\": \"ghost\"}");
    lk = get(p.url[1], "/v1/lock");
    assert_string_equal(str(lk, "holder"), "ghost");
    json_decref(lk);
    pool_finish();
}

/* The token file: created with mode 0600 (and its directory 0700) at first start, kept as
 * it is after that, and refused when others may read it. */
static void
test_token_file(void **state)
{
    (void)state;
    char path[512];
    (void)snprintf(path, sizeof(path), "%s/%s-keys/sub/token", daemon_tmpdir(), pool_prefix());
    const char *const extra[] = {"--token-file", path, NULL};
    struct daemon *m = pool_start_manager("m", "127.0.0.1:0", extra);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    char dir[512];
    (void)snprintf(dir, sizeof(dir), "%s/%s-keys/sub", daemon_tmpdir(), pool_prefix());
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    char *tok = NULL;
    size_t len = 0;
    assert_int_equal(file_read_all(path, 4096, &tok, &len), 0);
    assert_int_equal(len, 65); /* 64 hexadecimal digits and a newline */
    tok[64] = '\0';
    json_t *j = NULL;
    assert_int_equal(daemon_http_token(m->url, "GET", "/v1/hosts", NULL, tok, &j), 200);
    json_decref(j);
    assert_int_equal(daemon_http_token(m->url, "GET", "/v1/hosts", NULL, test_token(), &j), 401);
    json_decref(j);
    pool_stop_clean(m);
    /* A restart keeps the same token. */
    m = pool_start_manager("m2", "127.0.0.1:0", extra);
    assert_int_equal(daemon_http_token(m->url, "GET", "/v1/hosts", NULL, tok, &j), 200);
    json_decref(j);
    pool_stop_clean(m);
    free(tok);
    /* Readable by others: the daemon does not start. */
    assert_int_equal(chmod(path, 0644), 0);
    const char *argv[] = {"manager", "--listen", "127.0.0.1:0", "--token-file", path, NULL};
    assert_int_equal(run_cli(argv, NULL), 2);
    /* `vmloc token`: a bad file is bad input (2), one that cannot be made a failure (1). */
    const char *check[] = {"token", path, NULL};
    assert_int_equal(run_cli(check, NULL), 2);
    const char *create[] = {"token", "--create", path, NULL};
    assert_int_equal(run_cli(create, NULL), 2);
    const char *empty[] = {"token", "--create", "", NULL};
    assert_int_equal(run_cli(empty, NULL), 2);
    const char *in_proc[] = {"token", "--create", "/proc/vmloc-test-token", NULL};
    assert_int_equal(run_cli(in_proc, NULL), 1);
    assert_int_equal(chmod(path, 0600), 0);
    char *out = NULL;
    assert_int_equal(run_cli(create, &out), 0);
    assert_non_null(strstr(out, ": OK"));
    free(out);
    pool_finish();
}

#define OLD_TOKEN "old-token-0123456789abcdef"
#define NEW_TOKEN "new-token-0123456789abcdef"

/* Write `text` to the token file `path` (mode 0600) and tell daemon `d` to read it again. */
static void
rotate(const char *path, const char *text, const struct daemon *d)
{
    char tmp[600];
    (void)snprintf(tmp, sizeof(tmp), "%s.new", path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    assert_int_equal(chmod(tmp, 0600), 0);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, path), 0);
    assert_int_equal(kill(d->pid, SIGHUP), 0);
}

struct token_cond {
    const char *url;
    const char *token;
    int status;
};

/* GET /v1/health with `token` gets `status`. */
static bool
token_gets(void *arg)
{
    struct token_cond *c = arg;
    json_t *j = NULL;
    int st = daemon_http_token(c->url, "GET", "/v1/health", NULL, c->token, &j);
    json_decref(j);
    return st == c->status;
}

struct fresh_cond {
    const char *m_url;
    double after;
};

/* The manager (asked with the new token) has a sample of h1 taken after `after`. */
static bool
h1_sampled_after(void *arg)
{
    struct fresh_cond *c = arg;
    json_t *hosts = NULL;
    if (daemon_http_token(c->m_url, "GET", "/v1/hosts", NULL, NEW_TOKEN, &hosts) != 200) {
        json_decref(hosts);
        return false;
    }
    json_t *h = named(hosts, "h1");
    bool ok = h != NULL && strcmp(str(h, "state"), "up") == 0 &&
              json_number_value(json_object_get(h, "last_seen")) > c->after;
    json_decref(hosts);
    return ok;
}

/* The log at `path` tells of two token reloads. */
static bool
reloaded_twice(void *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        n += strstr(line, "API token reloaded") != NULL;
    (void)fclose(f);
    return n >= 2;
}

static double
now_s(void)
{
    struct timespec ts;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A token rotation without a stop: the new token goes first in every file with the old one
 * after it, and SIGHUP (each daemon then sends the new one and accepts both); then the old
 * line goes, and SIGHUP again (the old one is refused). The manager collects from its agent
 * all along. A file that cannot be read at a SIGHUP leaves the tokens in use. */
static void
test_token_rotation(void **state)
{
    (void)state;
    char tm[512];
    char ta[512];
    (void)snprintf(tm, sizeof(tm), "%s/%s-token-m", daemon_tmpdir(), pool_prefix());
    (void)snprintf(ta, sizeof(ta), "%s/%s-token-a", daemon_tmpdir(), pool_prefix());
    const char *const mx[] = {"--token-file", tm, NULL};
    const char *ax[] = {"--token-file", ta, "--vm", "a:cpu=10", NULL};
    /* Both files hold the old token. */
    for (int i = 0; i < 2; i++) {
        const char *p = i == 0 ? tm : ta;
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        assert_int_equal(chmod(p, 0600), 0);
        assert_true(fputs(OLD_TOKEN "\n", f) >= 0);
        assert_int_equal(fclose(f), 0);
    }
    struct daemon *m = pool_start_manager("m", "127.0.0.1:0", mx);
    struct daemon *a = pool_start_agent("h1", m->url, ax);
    struct token_cond old_ok = {m->url, OLD_TOKEN, 200};
    assert_true(token_gets(&old_ok));

    /* Step 1: the new token accepted too (old first, new second), on both hosts. */
    const char *urls[] = {m->url, a->url};
    rotate(tm, OLD_TOKEN "\n" NEW_TOKEN "\n", m);
    rotate(ta, OLD_TOKEN "\n" NEW_TOKEN "\n", a);
    for (int i = 0; i < 2; i++) {
        struct token_cond new_ok = {urls[i], NEW_TOKEN, 200};
        assert_true(wait_until(token_gets, &new_ok, UP_S));
        struct token_cond still = {urls[i], OLD_TOKEN, 200};
        assert_true(token_gets(&still));
    }
    struct fresh_cond fresh = {m->url, now_s()};
    assert_true(wait_until(h1_sampled_after, &fresh, ACT_S));

    /* Step 2: the new token sent (new first, old second); the agent reloads first, and the
     * manager, which still sends the old token until its own reload, still gets through. */
    rotate(ta, NEW_TOKEN "\n" OLD_TOKEN "\n", a);
    assert_true(wait_until(reloaded_twice, (void *)a->log_path, UP_S));
    fresh.after = now_s();
    assert_true(wait_until(h1_sampled_after, &fresh, ACT_S));
    rotate(tm, NEW_TOKEN "\n" OLD_TOKEN "\n", m);
    fresh.after = now_s();
    assert_true(wait_until(h1_sampled_after, &fresh, ACT_S));

    /* Step 3: the old token goes. */
    rotate(tm, NEW_TOKEN "\n", m);
    rotate(ta, NEW_TOKEN "\n", a);
    for (int i = 0; i < 2; i++) {
        struct token_cond old_refused = {urls[i], OLD_TOKEN, 401};
        assert_true(wait_until(token_gets, &old_refused, UP_S));
        struct token_cond new_ok = {urls[i], NEW_TOKEN, 200};
        assert_true(token_gets(&new_ok));
    }
    fresh.after = now_s();
    assert_true(wait_until(h1_sampled_after, &fresh, ACT_S));

    /* A file that cannot be read: logged, and the tokens in use stay. */
    rotate(tm, "short\n", m);
    struct log_cond bad = {m, "API token not reloaded"};
    assert_true(wait_until(log_has, &bad, UP_S));
    struct token_cond new_ok = {m->url, NEW_TOKEN, 200};
    assert_true(token_gets(&new_ok));
    fresh.after = now_s();
    assert_true(wait_until(h1_sampled_after, &fresh, ACT_S));
    assert_not_in_file(m->log_path, OLD_TOKEN);
    assert_not_in_file(m->log_path, NEW_TOKEN);
    assert_not_in_file(a->log_path, NEW_TOKEN);
    pool_finish();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_manager_and_central_agent, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_open_reads, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_peer_lock, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_token_file, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_token_rotation, pool_setup, pool_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

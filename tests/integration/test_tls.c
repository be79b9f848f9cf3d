/* Mutual TLS with real processes and real certificates (made with the openssl command): a
 * manager and an agent holding certificates of one CA work together over https:// (the agent
 * registers, the manager samples it), and so do two peers; a client or an agent whose
 * certificate comes from another CA is refused; a server whose certificate names another host
 * is refused by its clients; plain HTTP to a TLS port gets no answer; a private key that others
 * may read stops the daemon at start. Skips (77) without the openssl
 * command. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "certtest.h"
#include "net/http.h"
#include "net/http_client.h"
#include "net/tls.h"
#include "testpool.h"

static char dir[512];

static int
group_setup(void **state)
{
    (void)state;
    if (!certtest_have_openssl()) {
        printf("skipped: the openssl command is not installed (apt-get install openssl)\n");
        exit(77);
    }
    (void)snprintf(dir, sizeof(dir), "%s/tls", daemon_tmpdir());
    if (mkdir(dir, 0700) < 0)
        return -1;
    certtest_make_ca(dir, "ca1");
    certtest_make_ca(dir, "ca2");
    certtest_make_cert(dir, "node", "ca1", "IP:127.0.0.1,DNS:localhost");
    certtest_make_cert(dir, "rogue", "ca2", "IP:127.0.0.1,DNS:localhost");
    certtest_make_cert(dir, "elsewhere", "ca1", "DNS:elsewhere.example,IP:192.0.2.7");
    certtest_make_cert(dir, "h1", "ca1", "IP:127.0.0.1,DNS:localhost,DNS:h1");
    certtest_make_cert(dir, "h2", "ca1", "IP:127.0.0.1,DNS:localhost,DNS:h2");
    return 0;
}

static struct http_tls *
load_tls(const char *cert, const char *ca)
{
    char c[600], k[600], a[600], err[600];
    (void)snprintf(c, sizeof(c), "%s/%s.pem", dir, cert);
    (void)snprintf(k, sizeof(k), "%s/%s.key", dir, cert);
    (void)snprintf(a, sizeof(a), "%s/%s.pem", dir, ca);
    struct http_tls *t = NULL;
    if (http_tls_new(c, k, a, &t, err, sizeof(err)) < 0)
        fail_msg("%s", err);
    return t;
}

static void
test_mutual_tls(void **state)
{
    (void)state;
    struct http_tls *node = load_tls("node", "ca1");
    struct http_tls *rogue = load_tls("rogue", "ca1"); /* its own CA is ca2: others refuse it */
    test_set_tls(node);
    char cert[600], key[600], ca[600];
    (void)snprintf(cert, sizeof(cert), "%s/node.pem", dir);
    (void)snprintf(key, sizeof(key), "%s/node.key", dir);
    (void)snprintf(ca, sizeof(ca), "%s/ca1.pem", dir);
    const char *tls[] = {"--tls-cert", cert, "--tls-key", key, "--tls-ca", ca, NULL};
    struct daemon *m = pool_start_manager("m", "127.0.0.1:0", tls);
    assert_int_equal(strncmp(m->url, "https://", 8), 0);
    struct daemon *h1 = pool_start_agent("h1", m->url, tls);
    assert_int_equal(strncmp(h1->url, "https://", 8), 0);
    /* Registration (agent -> manager) and sampling (manager -> agent), both over TLS. */
    struct cond up = {m->url, NULL, NULL, 1};
    assert_true(wait_until(hosts_up, &up, UP_S));

    /* A client with a certificate of another CA gets no answer at all. */
    struct http_creds bad = {test_token(), rogue};
    struct http_answer ans;
    assert_true(http_fetch(m->url, "GET", "/v1/hosts", NULL, &bad, 5.0, &ans) < 0);
    assert_true(http_fetch(h1->url, "POST", "/v1/vms/x/load", "{\"cpu\": 1}", &bad, 5.0, &ans) < 0);
    /* Neither does plain HTTP to the TLS port. */
    char plain[160];
    (void)snprintf(plain, sizeof(plain), "http://%s", m->url + 8);
    struct http_creds tok = {test_token(), NULL};
    int r = http_fetch(plain, "GET", "/v1/hosts", NULL, &tok, 5.0, &ans);
    assert_true(r < 0 || ans.status == 0 || ans.status >= 400);
    free(ans.body);
    /* A client with TLS never sends its token over plain HTTP. */
    struct http_creds good = {test_token(), node};
    assert_int_equal(http_fetch(plain, "GET", "/v1/hosts", NULL, &good, 5.0, &ans),
                     -EPROTONOSUPPORT);

    /* The terminal, with and without the cluster's certificate. */
    char *out = NULL;
    const char *cli_ok[] = {"--tls-cert", cert,   "--tls-key", key,      "--tls-ca", ca,
                            "--manager",  m->url, "hosts",     "--json", NULL};
    assert_int_equal(run_cli(cli_ok, &out), 0);
    assert_non_null(strstr(out, "\"h1\""));
    free(out);
    char rcert[600], rkey[600];
    (void)snprintf(rcert, sizeof(rcert), "%s/rogue.pem", dir);
    (void)snprintf(rkey, sizeof(rkey), "%s/rogue.key", dir);
    const char *cli_bad[] = {"--tls-cert", rcert,  "--tls-key", rkey, "--tls-ca", ca,
                             "--manager",  m->url, "drain",     "h1", NULL};
    assert_int_equal(run_cli(cli_bad, NULL), 1);

    /* An agent with a certificate of another CA cannot register. */
    char rca[600];
    (void)snprintf(rca, sizeof(rca), "%s/ca2.pem", dir);
    const char *rtls[] = {"--tls-cert", rcert, "--tls-key", rkey, "--tls-ca", rca, NULL};
    (void)pool_start_agent("h2", m->url, rtls);
    struct cond two = {m->url, NULL, NULL, 2};
    assert_false(wait_until(hosts_known, &two, 2.0));
    json_t *hosts = get(m->url, "/v1/hosts");
    assert_int_equal(json_array_size(hosts), 1);
    assert_string_equal(str(named(hosts, "h1"), "state"), "up");
    json_decref(hosts);
    pool_finish();
    test_set_tls(NULL);
    http_tls_free(node);
    http_tls_free(rogue);
}

/* Peer mode over TLS: each agent asks the other for its sample over https://, with its
 * certificate; both see each other up. */
static void
test_peers_tls(void **state)
{
    (void)state;
    struct http_tls *node = load_tls("node", "ca1");
    test_set_tls(node);
    char cert[600], key[600], ca[600];
    (void)snprintf(cert, sizeof(cert), "%s/node.pem", dir);
    (void)snprintf(key, sizeof(key), "%s/node.key", dir);
    (void)snprintf(ca, sizeof(ca), "%s/ca1.pem", dir);
    struct peers pp;
    pool_peers_init(&pp, 2);
    struct daemon *p[2];
    for (size_t i = 0; i < 2; i++) {
        const char *extra[] = {"--tls-cert", cert, "--tls-key", key, "--tls-ca", ca, NULL};
        pool_peer_start(&pp, i, extra);
        p[i] = pp.d[i];
        assert_true(strncmp(p[i]->url, "https://127.0.0.1:", 18) == 0);
    }
    struct cond both = {p[0]->url, NULL, NULL, 2};
    assert_true(wait_until(hosts_up, &both, UP_S));
    both.url = p[1]->url;
    assert_true(wait_until(hosts_up, &both, UP_S));
    pool_finish();
    test_set_tls(NULL);
    http_tls_free(node);
}

/* The log at `path` tells of a registration refused for the manager's certificate. */
static bool
refusal_logged(void *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, "registration failed") != NULL &&
                strstr(line, "certificate is refused") != NULL;
    (void)fclose(f);
    return found;
}

/* A client checks that the server's certificate names the host of the URL: a manager whose
 * certificate (of the cluster's CA) names another host is refused by agents and by the
 * terminal, which says why. */
static void
test_host_names(void **state)
{
    (void)state;
    struct http_tls *node = load_tls("node", "ca1");
    char cert[600], key[600], ca[600], ecert[600], ekey[600];
    (void)snprintf(cert, sizeof(cert), "%s/node.pem", dir);
    (void)snprintf(key, sizeof(key), "%s/node.key", dir);
    (void)snprintf(ca, sizeof(ca), "%s/ca1.pem", dir);
    (void)snprintf(ecert, sizeof(ecert), "%s/elsewhere.pem", dir);
    (void)snprintf(ekey, sizeof(ekey), "%s/elsewhere.key", dir);
    const char *etls[] = {"--tls-cert", ecert, "--tls-key", ekey, "--tls-ca", ca, NULL};
    struct daemon *m = pool_start_manager("m", "127.0.0.1:0", etls);
    /* Asked for 127.0.0.1, it shows a certificate for elsewhere.example and 192.0.2.7. */
    struct http_creds creds = {test_token(), node};
    struct http_answer ans;
    assert_true(http_fetch(m->url, "GET", "/v1/hosts", NULL, &creds, 5.0, &ans) < 0);
    assert_non_null(ans.err);
    if (strstr(ans.err, "hostname mismatch") == NULL && strstr(ans.err, "IP address") == NULL)
        printf("error: %s\n", ans.err);
    assert_non_null(strstr(ans.err, "certificate is refused"));
    /* The terminal fails (exit 1) on it too. */
    const char *cli[] = {"--tls-cert", cert,   "--tls-key", key,      "--tls-ca", ca,
                         "--manager",  m->url, "hosts",     "--json", NULL};
    assert_int_equal(run_cli(cli, NULL), 1);
    /* An agent does not register with it, and its log says why. */
    const char *tls[] = {"--tls-cert", cert, "--tls-key", key, "--tls-ca", ca, NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, tls);
    assert_true(wait_until(refusal_logged, (void *)h1->log_path, UP_S));
    /* The agent's certificate names 127.0.0.1 and localhost: both reach it. */
    test_set_tls(node);
    json_t *health = get(h1->url, "/v1/health");
    assert_non_null(health);
    json_decref(health);
    assert_int_equal(strncmp(h1->url, "https://127.0.0.1:", 18), 0);
    char byname[160];
    (void)snprintf(byname, sizeof(byname), "https://localhost:%s", h1->url + 18);
    /* (Where localhost resolves to ::1 first, the connection is refused before TLS: the
     * agent listens on 127.0.0.1 only. Never for its certificate.) */
    if (http_fetch(byname, "GET", "/v1/health", NULL, &creds, 5.0, &ans) == 0) {
        assert_int_equal(ans.status, 200);
        free(ans.body);
    } else {
        assert_non_null(ans.err);
        printf("note: %s: %s\n", byname, ans.err);
        assert_null(strstr(ans.err, "certificate"));
    }
    pool_finish();
    test_set_tls(NULL);
    http_tls_free(node);
}

/* A private key that group or others may read stops the daemon at start. */
static void
test_readable_key_refused(void **state)
{
    (void)state;
    char cert[600], key[600], ca[600];
    (void)snprintf(cert, sizeof(cert), "%s/node.pem", dir);
    (void)snprintf(key, sizeof(key), "%s/node.key", dir);
    (void)snprintf(ca, sizeof(ca), "%s/ca1.pem", dir);
    assert_int_equal(chmod(key, 0644), 0);
    const char *argv[] = {"manager",   "--listen", "127.0.0.1:0", "--tls-cert", cert,
                          "--tls-key", key,        "--tls-ca",    ca,           NULL};
    assert_int_equal(run_cli(argv, NULL), 2);
    /* Only some of the three files: refused too. */
    assert_int_equal(chmod(key, 0600), 0);
    const char *some[] = {"manager", "--listen", "127.0.0.1:0", "--tls-cert", cert, NULL};
    assert_int_equal(run_cli(some, NULL), 2);
}

/* With tls_bind_names a request that speaks for a host must hold a certificate naming it: an
 * agent registers under its certificate's name and not under another; a peer's lock is taken
 * and released only by a holder the client's certificate names. */
static void
test_bound_names(void **state)
{
    (void)state;
    struct http_tls *node = load_tls("node", "ca1");
    test_set_tls(node);
    char cert[600], key[600], ca[600], hcert[600], hkey[600];
    (void)snprintf(cert, sizeof(cert), "%s/node.pem", dir);
    (void)snprintf(key, sizeof(key), "%s/node.key", dir);
    (void)snprintf(ca, sizeof(ca), "%s/ca1.pem", dir);
    (void)snprintf(hcert, sizeof(hcert), "%s/h1.pem", dir);
    (void)snprintf(hkey, sizeof(hkey), "%s/h1.key", dir);
    const char *mtls[] = {"--tls-cert", cert, "--tls-key",        key,
                          "--tls-ca",   ca,   "--tls-bind-names", NULL};
    struct daemon *m = pool_start_manager("m", "127.0.0.1:0", mtls);
    char h2cert[600], h2key[600];
    (void)snprintf(h2cert, sizeof(h2cert), "%s/h2.pem", dir);
    (void)snprintf(h2key, sizeof(h2key), "%s/h2.key", dir);
    const char *h1x[] = {
        "--tls-cert", hcert,      "--tls-key", hkey,       "--tls-ca",         ca,
        "--vm",       "a:cpu=10", "--vm",      "b:cpu=10", "--tls-bind-names", NULL};
    const char *h2x[] = {"--tls-cert", h2cert,    "--tls-key",        h2key, "--tls-ca", ca,
                         "--vm",       "c:cpu=5", "--tls-bind-names", NULL};
    struct daemon *h1 = pool_start_agent("h1", m->url, h1x);
    pool_start_agent("h2", m->url, h2x);
    struct cond up = {m->url, NULL, NULL, 2};
    assert_true(wait_until(hosts_up, &up, UP_S));
    /* A migration from h1 to h2: h2 takes the arrival, its commit and its settling from h1,
     * whose certificate names it. */
    json_t *lj = NULL;
    assert_int_equal(daemon_http(h1->url, "POST", "/v1/vms/a/load", "{\"cpu\": 50}", &lj), 200);
    json_decref(lj);
    assert_int_equal(daemon_http(h1->url, "POST", "/v1/vms/b/load", "{\"cpu\": 45}", &lj), 200);
    json_decref(lj);
    struct cond done = {m->url, "a", "done", 0};
    assert_true(wait_until(migration_is, &done, ACT_S));
    /* h1's certificate does not name h3. */
    const char *h3x[] = {"--tls-cert", hcert, "--tls-key", hkey, "--tls-ca", ca, NULL};
    pool_start_agent("h3", m->url, h3x);
    struct log_cond refused = {m, "registration refused: the client's certificate does not name "
                                  "host \"h3\""};
    assert_true(wait_until(log_has, &refused, UP_S));
    json_t *hosts = get(m->url, "/v1/hosts");
    assert_int_equal(json_array_size(hosts), 2);
    json_decref(hosts);

    /* A peer's lock: this test's certificate names localhost, not h9. */
    char data[600];
    (void)snprintf(data, sizeof(data), "%s/%s-p1", daemon_tmpdir(), pool_prefix());
    const char *pargv[] = {"agent",       "--name",   "p1", "--mode",           "peer", "--listen",
                           "127.0.0.1:0", "--data",   data, "--tls-cert",       cert,   "--tls-key",
                           key,           "--tls-ca", ca,   "--tls-bind-names", NULL};
    struct daemon *p = pool_start("p1", pargv);
    json_t *j = NULL;
    assert_int_equal(
        daemon_http(p->url, "POST", "/v1/lock", "{\"holder\":\"h9\",\"lease_s\":5}", &j), 403);
    assert_non_null(strstr(str(j, "error"), "does not name host"));
    json_decref(j);
    assert_int_equal(
        daemon_http(p->url, "POST", "/v1/lock", "{\"holder\":\"localhost\",\"lease_s\":5}", &j),
        200);
    json_decref(j);
    assert_int_equal(daemon_http(p->url, "POST", "/v1/lock/release", "{\"holder\":\"h9\"}", &j),
                     403);
    json_decref(j);
    assert_int_equal(
        daemon_http(p->url, "POST", "/v1/lock/release", "{\"holder\":\"localhost\"}", &j), 200);
    json_decref(j);

    /* Without TLS the switch is refused at start. */
    const char *no_tls[] = {"manager", "--listen", "127.0.0.1:0", "--tls-bind-names", NULL};
    assert_int_equal(run_cli(no_tls, NULL), 2);
    pool_finish();
    test_set_tls(NULL);
    http_tls_free(node);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mutual_tls, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_peers_tls, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_host_names, pool_setup, pool_teardown),
        cmocka_unit_test_setup_teardown(test_bound_names, pool_setup, pool_teardown),
        cmocka_unit_test(test_readable_key_refused),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}

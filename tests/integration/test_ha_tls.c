/* Managers on an etcd that speaks TLS to its clients and asks each for a certificate of its
 * CA (etcd's --client-cert-auth), with certificates made by the openssl command: (a) a manager
 * given the CA and a client certificate (--etcd-ca, --etcd-cert, --etcd-key) leads over
 * https://; (b) one given another CA refuses etcd's certificate, says why in its log and in
 * /v1/health, and does not lead; (c) https:// etcd URLs without --etcd-ca are refused at
 * start with a message naming the option. Skipped (77) without etcd or openssl. */
#define _POSIX_C_SOURCE 200809L
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "certtest.h"
#include "clitest.h"
#include "etcdtest.h"
#include "testpool.h"

static const char *etcd_bin;
static char dir[512];
static char etcd_pem[600], etcd_key[600], ca_pem[600], mgr_pem[600], mgr_key[600], ca2_pem[600];
static struct etcdtest_tls tls;

static int
group_setup(void **state)
{
    (void)state;
    (void)snprintf(dir, sizeof(dir), "%s/etcd-tls", daemon_tmpdir());
    if (mkdir(dir, 0700) < 0)
        return -1;
    certtest_make_ca(dir, "ca");
    certtest_make_ca(dir, "ca2");
    certtest_make_cert(dir, "etcd", "ca", "IP:127.0.0.1,DNS:localhost");
    certtest_make_cert(dir, "mgr", "ca", "DNS:mgr");
    (void)snprintf(etcd_pem, sizeof(etcd_pem), "%s/etcd.pem", dir);
    (void)snprintf(etcd_key, sizeof(etcd_key), "%s/etcd.key", dir);
    (void)snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", dir);
    (void)snprintf(ca2_pem, sizeof(ca2_pem), "%s/ca2.pem", dir);
    (void)snprintf(mgr_pem, sizeof(mgr_pem), "%s/mgr.pem", dir);
    (void)snprintf(mgr_key, sizeof(mgr_key), "%s/mgr.key", dir);
    tls = (struct etcdtest_tls){etcd_pem, etcd_key, ca_pem, mgr_pem, mgr_key};
    return 0;
}

static int
setup(void **state)
{
    (void)pool_setup(state);
    etcdtest_start_tls(etcd_bin, 1, &tls);
    return 0;
}

/* (a) The CA and a client certificate: it leads, on the https:// member. */
static void
test_leads_over_tls(void **state)
{
    (void)state;
    assert_int_equal(strncmp(etcdtest_url(), "https://", 8), 0);
    const char *extra[] = {"--etcd-ca",  ca_pem,  "--etcd-cert", mgr_pem,
                           "--etcd-key", mgr_key, NULL};
    struct daemon *m1 = etcdtest_manager_with("m1", extra);
    struct cond lead = {m1->url, "leader", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &lead, UP_S));
    json_t *h = get(m1->url, "/v1/health");
    assert_string_equal(str(h, "etcd"), etcdtest_member_url(0));
    json_decref(h);
    /* A second one follows it: both speak to etcd over TLS. */
    struct daemon *m2 = etcdtest_manager_with("m2", extra);
    struct cond follow = {m2->url, "follower", NULL, 0};
    assert_true(wait_until(etcdtest_role_is, &follow, UP_S));
    pool_finish();
}

/* The manager at `url` (a const char *) says why it takes no part in /v1/health. */
static bool
has_problem(void *arg)
{
    json_t *h = get(arg, "/v1/health");
    bool ok = h != NULL && str(h, "ha_problem")[0] != '\0' &&
              strcmp(str(h, "ha_problem"), "no answer from etcd yet") != 0;
    json_decref(h);
    return ok;
}

/* (b) Another CA: etcd's certificate is refused, the manager says so and does not lead. */
static void
test_wrong_ca(void **state)
{
    (void)state;
    const char *extra[] = {"--etcd-ca",  ca2_pem, "--etcd-cert", mgr_pem,
                           "--etcd-key", mgr_key, NULL};
    struct daemon *m = etcdtest_manager_with("m1", extra);
    assert_true(wait_until(has_problem, (void *)m->url, UP_S));
    json_t *h = get(m->url, "/v1/health");
    printf("ha_problem: %s\n", str(h, "ha_problem"));
    assert_string_equal(str(h, "role"), "none");
    assert_string_equal(str(h, "ha_reason"), "etcd_no_answer");
    assert_non_null(strstr(str(h, "ha_problem"), "certificate"));
    json_decref(h);
    struct log_cond said = {m, "high availability: "};
    assert_true(wait_until(log_has, &said, ACT_S));
    struct log_cond led = {m, "leadership taken"};
    assert_false(log_has(&led));
    pool_finish();
}

/* (c) https:// without a CA: refused at start, naming the option. */
static void
test_https_needs_ca(void **state)
{
    (void)state;
    const char *argv[] = {clitest_bin(), "manager", "-n",       "--etcd",      etcdtest_url(),
                          "--ha-id",     "m1",      "--listen", "127.0.0.1:0", NULL};
    struct run_result res;
    clitest_run("manager", argv, 10.0, &res);
    clitest_check_failed("manager", &res, "--etcd-ca", "etcd_ca");
    pool_finish();
}

int
main(void)
{
    etcd_bin = etcdtest_require();
    if (!certtest_have_openssl()) {
        printf("SKIP: the openssl command is not installed (apt-get install openssl)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_leads_over_tls, setup, etcdtest_teardown),
        cmocka_unit_test_setup_teardown(test_wrong_ca, setup, etcdtest_teardown),
        cmocka_unit_test_setup_teardown(test_https_needs_ca, setup, etcdtest_teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}

/* The names a daemon answers reads without a token on (http_host_allowed()): addresses,
 * localhost and listed names, with or without a port; anything else, and malformed Host
 * headers, refused. The syntax of allowed_hosts (http_host_names_check()), and base URLs taken
 * apart for requests (http_target_parse()). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "net/http.h"

static void
test_addresses_and_localhost(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "127.0.0.1",    "127.0.0.1:8080", "10.1.2.3:1",   "[::1]:7070", "[::1]",
        "[fe80::1]:80", "localhost",      "LOCALHOST:80", "localhost.", "localhost.:9",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        print_message("%s\n", ok[i]);
        assert_true(http_host_allowed(ok[i], ""));
    }
}

static void
test_names(void **state)
{
    (void)state;
    const char *names = "mgr.example, node1 ,Other.Example.";
    assert_true(http_host_allowed("mgr.example", names));
    assert_true(http_host_allowed("MGR.example:7070", names));
    assert_true(http_host_allowed("mgr.example.:7070", names));
    assert_true(http_host_allowed("node1", names));
    assert_true(http_host_allowed("other.example", names));
    assert_false(http_host_allowed("mgr.example.evil", names));
    assert_false(http_host_allowed("evil.mgr.example", names));
    assert_false(http_host_allowed("mgr", names));
    assert_false(http_host_allowed("node", names));
    assert_false(http_host_allowed("rebind.evil.example:7070", names));
    assert_false(http_host_allowed("mgr.example", ""));
    assert_false(http_host_allowed("localhost.evil", names));
}

static void
test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",       ":80",       "127.0.0.1:",      "127.0.0.1:x",   "[::1",
        "[::1]x", "[evil]:80", "[127.0.0.1]:80x", "localhost:8:9", "127.0.0.1 :80",
        "1.2.3",  "256.1.1.1", "mgr.example:80a",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("'%s'\n", bad[i]);
        assert_false(http_host_allowed(bad[i], "mgr.example"));
    }
}

static void
test_names_check(void **state)
{
    (void)state;
    char why[400];
    assert_int_equal(http_host_names_check("", why, sizeof(why)), 0);
    assert_int_equal(http_host_names_check("a.example, b-2.example,c.", why, sizeof(why)), 0);
    assert_int_equal(http_host_names_check("a.example;b", why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "a.example;b"));
    assert_int_equal(http_host_names_check("ok, -bad", why, sizeof(why)), -EINVAL);
    assert_non_null(strstr(why, "-bad"));
    assert_int_equal(http_host_names_check("caf\xc3\xa9.example", why, sizeof(why)), -EINVAL);
    assert_int_equal(http_host_names_check("a:80", why, sizeof(why)), -EINVAL);
}

/* A base URL taken apart for requests (http_target_parse()): the kept-alive connection's key
 * tells the schemes apart, the host is found in it, and what a request cannot go to is refused. */
static void
test_target(void **state)
{
    (void)state;
    struct http_target t;
    assert_int_equal(http_target_parse(&t, "http://127.1.39.16:7070"), 0);
    assert_string_equal(t.key, "127.1.39.16:7070");
    assert_false(t.tls);
    assert_int_equal(t.port, 7070);
    assert_int_equal(t.host_at, 0);
    assert_int_equal(t.host_len, strlen("127.1.39.16"));
    assert_int_equal(http_target_parse(&t, "https://agent-7.example:443/"), 0);
    assert_string_equal(t.key, "s:agent-7.example:443");
    assert_true(t.tls);
    assert_int_equal(t.port, 443);
    assert_int_equal(t.host_len, strlen("agent-7.example"));
    assert_memory_equal(t.key + t.host_at, "agent-7.example", t.host_len);
    struct http_target u;
    assert_int_equal(http_target_parse(&u, "http://agent-7.example:443"), 0);
    assert_true(u.hash != t.hash); /* another key: "agent-7.example:443" */
    char longest[300];
    (void)snprintf(longest, sizeof(longest), "https://%0255d:65535", 0);
    assert_int_equal(http_target_parse(&t, longest), 0);
    assert_int_equal(t.host_len, 255);
    assert_int_equal(strlen(t.key), 2 + 255 + 6);
    static const char *const bad[] = {
        "ftp://h:1", "http://h",   "http://:80", "http://h:0", "http://h:65536",
        "h:80",      "http//h:80", "",           "https://:1", "http://h:-1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        print_message("%s\n", bad[i]);
        assert_int_equal(http_target_parse(&t, bad[i]), -EINVAL);
    }
    (void)snprintf(longest, sizeof(longest), "http://%0256d:80", 0);
    assert_int_equal(http_target_parse(&t, longest), -EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addresses_and_localhost),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_names_check),
        cmocka_unit_test(test_target),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

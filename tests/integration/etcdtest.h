/* An etcd cluster (Debian's etcd-server) of one or three members on loopback ports for a daemon
 * test, each member with its data in the test's temporary directory. When a member exits at
 * start (its ports are probed free, then bound by etcd, which another process can win), the
 * whole cluster is started again on new ports and new directories. */
#ifndef VMLOC_TESTS_ETCDTEST_H
#define VMLOC_TESTS_ETCDTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ETCDTEST_MAX_MEMBERS 3

/* The etcd binary; when it is not installed, says so and ends the test program with 77
 * (skipped). */
const char *etcdtest_require(void);

/* Start `n` members (1 to ETCDTEST_MAX_MEMBERS) of `bin` (from etcdtest_find()) with a fast
 * election (about a second after etcd loses its leader); fails the test when they do not all
 * become healthy. Call from a cmocka setup, after pool_setup(). */
void etcdtest_start(const char *bin, size_t n);

/* TLS for the members' clients (paths of PEM files): the members' certificate and key, the
 * CA they check clients with (etcd's --client-cert-auth) and the one their certificate comes
 * from, and a client certificate and key of that CA the helper's own probes present. */
struct etcdtest_tls {
    const char *cert;
    const char *key;
    const char *ca;
    const char *client_cert;
    const char *client_key;
};

/* etcdtest_start() with clients on https:// and `tls` (borrowed until etcdtest_teardown());
 * NULL: as etcdtest_start(). */
void etcdtest_start_tls(const char *bin, size_t n, const struct etcdtest_tls *tls);

/* The members' client URLs, comma-separated, as `vmloc manager --etcd` takes them. */
const char *etcdtest_url(void);

/* Member `i`'s client URL and process (to stop and wake it). */
const char *etcdtest_member_url(size_t i);
pid_t etcdtest_member_pid(size_t i);

/* The index of the member whose client URL is `url`; -1 when none. */
int etcdtest_member_of(const char *url);

/* Kill every member (a stopped one too) and reap it; nothing when none runs. */
void etcdtest_stop(void);

/* Write `value` at `key` in the running etcd, as etcdctl does (a test's own records). */
void etcdtest_put(const char *key, const char *value);

/* A loopback TCP port that was free a moment ago (for a URL nobody answers at). */
int etcdtest_free_port(void);

/* --- managers on it --- */

struct daemon;

/* A manager `id` with a store of its own, deciding every 0.2 s, campaigning on the test's
 * etcd (`--ha-id id`). */
struct daemon *etcdtest_manager(const char *id);
/* etcdtest_manager() with `extra` options (NULL-terminated, or NULL) after its own. */
struct daemon *etcdtest_manager_with(const char *id, const char *const *extra);

/* An agent `name` registering with the managers `m1` and `m2` (NULL: only `m1`), with VMs
 * `vm` and `vm2` (NULL: none), keeping its state (and the highest manager term) in a data
 * directory of its own; `bandwidth` (NULL: the default) is its simulated migration bandwidth
 * in MiB/s (a VM of mem=N MiB then takes N/bandwidth s to move). */
struct daemon *etcdtest_agent(const char *name, const char *m1, const char *m2,
                              const char *bandwidth, const char *vm, const char *vm2);

/* The three agents most tests of two managers use: h1 with `a_spec` and b:cpu=25, h2 with
 * d:cpu=5, h3 with c:cpu=5, each registered with both managers (`bandwidth` as above), once
 * both list the three hosts up (the follower's view is warm). Their URLs in `urls`. */
void etcdtest_three_agents(const struct daemon *m1, const struct daemon *m2, const char *bandwidth,
                           const char *a_spec, const char *urls[3]);

/* wait_until() condition: the manager at c->url (a struct cond *) has role c->a ("leader",
 * "follower", "none"); false when it does not answer. */
bool etcdtest_role_is(void *arg);

/* The manager at URL `arg` (a const char *) has no journal write left for etcd. */
bool etcdtest_journal_flushed(void *arg);

/* cmocka teardown: the test's daemons (pool_teardown()), then etcd (and its TLS mode ends). */
int etcdtest_teardown(void **state);

#endif

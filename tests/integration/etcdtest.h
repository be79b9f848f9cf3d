/* A one-member etcd (Debian's etcd-server) on loopback ports for a daemon test, with its data
 * in the test's temporary directory; started again on new ports when it exits at start (its
 * ports are probed free, then bound by etcd, which another process can win). */
#ifndef VMLOC_TESTS_ETCDTEST_H
#define VMLOC_TESTS_ETCDTEST_H

/* The etcd binary, or NULL when it is not installed (the test then skips, 77). */
const char *etcdtest_find(void);

/* Start etcd (`bin`, from etcdtest_find()); fails the test when it does not become healthy.
 * Its client URL into etcdtest_url(). Call from a cmocka setup, after pool_setup(). */
void etcdtest_start(const char *bin);

/* Its client URL ("http://127.0.0.1:PORT"). */
const char *etcdtest_url(void);

/* Kill it (and its process group) and reap it; nothing when it is not running. */
void etcdtest_stop(void);

#endif

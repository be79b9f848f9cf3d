/* The daemons of one integration test: started with deadlines, their logs printed when the
 * test fails, every one still running killed at the end; plus the small HTTP and CLI helpers
 * the daemon tests share. Use pool_setup and pool_teardown as the cmocka setup and teardown
 * of each test and call pool_finish() as its last step. */
#ifndef VMLOC_TESTS_TESTPOOL_H
#define VMLOC_TESTS_TESTPOOL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "daemon.h"

/* Deadlines, generous enough for a loaded machine and a sanitizer build. */
#define START_S 10.0
#define UP_S 10.0
#define ACT_S 15.0

#define POOL_MAX_DAEMONS 16

int pool_setup(void **state);
int pool_teardown(void **state);

/* "t3": names this test's logs and files. */
const char *pool_prefix(void);
/* This test's manager data directory (not created). */
const char *pool_data_dir(void);

/* Start a daemon named `name` (argv without the binary); fails the test if it does not
 * print its listening line in time. */
struct daemon *pool_start(const char *name, const char *const *argv);

/* pool_start() through program `prog` (an absolute path), which runs the vmloc binary as its
 * `argv` (without the program) says, e.g. /usr/bin/prlimit --nofile=256:256 VMLOC manager. */
struct daemon *pool_spawn(const char *name, const char *prog, const char *const *argv);

/* A manager on this test's data directory with --interval 0.2; `listen` "127.0.0.1:0"
 * unless a port is kept; `extra` options or NULL. */
struct daemon *pool_start_manager(const char *name, const char *listen, const char *const *extra);

/* An agent registering with `manager_url` (--interval 0.2) plus `extra` options or NULL. */
struct daemon *pool_start_agent(const char *name, const char *manager_url,
                                const char *const *extra);

/* SIGTERM; the daemon must exit 0 (under LeakSanitizer: no leak). */
void pool_stop_clean(struct daemon *d);

/* The end of a passing test: every daemon still running stops cleanly, the last first. */
void pool_finish(void);

/* GET `path`; the parsed answer when the status is 200, else NULL. */
json_t *get(const char *url, const char *path);

/* The integer `key` of the daemon's GET /v1/health, -1 when absent or no answer. */
long long health_int(const char *url, const char *key);

/* The object of array `arr` whose "name" is `name` (borrowed), or NULL. */
json_t *named(json_t *arr, const char *name);

/* The string member `key` of `o`, "" when absent. */
const char *str(json_t *o, const char *key);

/* `vmloc load --agent URL VM KIND=PCT`, which must exit 0. */
void load(const char *agent_url, const char *vm, const char *kind_pct);

/* `vmloc FLAG URL WHAT --json` (FLAG --manager or --agent), which must exit 0 and print a
 * JSON array. */
json_t *cli_list_at(const char *flag, const char *url, const char *what);
#define cli_list(url, what) cli_list_at("--manager", (url), (what))

/* What the conditions below wait for (with wait_until()); each uses the fields it names. */
struct cond {
    const char *url;
    const char *a;
    const char *b;
    long long n;
};

/* The manager at `url` knows exactly `n` hosts and every one is "up". */
bool hosts_up(void *arg);
/* The manager knows exactly `n` hosts, in any state. */
bool hosts_known(void *arg);
/* Host `a` is in state `b` on the manager. */
bool host_state_is(void *arg);
/* The daemon at `url` has a migration of VM `a` in state `b`. */
bool migration_is(void *arg);
/* The manager's collection rounds reached `n`. */
bool rounds_reach(void *arg);
/* The daemon at `url` lists a migration of VM `a`, in any state. */
bool migration_of(void *arg);

/* The agent's latest sample: its `seq`, -1 when there is none, and its time (0 then) in
 * *ret_time unless NULL. */
long long sample_seq(const char *agent_url, double *ret_time);

/* A TCP socket bound to a port of 127.0.0.1 the kernel chooses, the port in *ret_port. */
int pool_bind_loopback(int *ret_port);
/* A socket listening on a port of 127.0.0.1 the kernel chooses (for a test's own fake
 * server), its URL "http://127.0.0.1:PORT" in `url` (`len` bytes). */
int pool_listen_loopback(char *url, size_t len);
/* Read one request from connection `fd` (its head, and its body as long as Content-Length
 * says) into `req` (`cap` > 1 bytes, ended by a NUL), each read within `timeout_ms`. false when
 * the peer closed first, on a time-out, or when it does not fit; asserts nothing (a fake
 * server's own thread may call it). */
bool pool_read_request(int fd, char *req, size_t cap, int timeout_ms);
/* The test's fake server: accept the next connection on `lfd` and read one request from it
 * (its head, and its body as long as Content-Length says) into `req` (`cap` > 1 bytes, ended
 * by a NUL), each step within UP_S. Returns the connection; the caller answers on it. */
int pool_accept_request(int lfd, char *req, size_t cap);
/* Register host `name` at `agent_url` with the manager at `manager_url`, as an agent does
 * (POST /v1/agents): the status. */
int pool_register(const char *manager_url, const char *name, const char *agent_url);
/* Answer on connection `fd` with 200 and the JSON `body`, and close it. */
void pool_answer_close(int fd, const char *body);

/* A test's fake HTTP server in a thread of its own, on a port of 127.0.0.1 (its URL in
 * `url`): it accepts one connection at a time and hands it to `serve(fd, arg)`, which reads
 * and answers (or not) and must assert nothing; the connection is closed after. Start it with
 * the struct zeroed; pool_fake_stop() ends it (a no-op when it was not started), and
 * pool_fake_stopping() tells a serve() that waits to give up. */
struct pool_fake {
    char url[64];
    void (*serve)(int fd, void *arg);
    void *arg;
    int fd;
    pthread_t th;
    bool started;
    atomic_bool stop;
};
void pool_fake_start(struct pool_fake *f, void (*serve)(int fd, void *arg), void *arg);
void pool_fake_stop(struct pool_fake *f);
bool pool_fake_stopping(struct pool_fake *f);

/* Daemon `arg` (a struct daemon) has exited, at a failpoint say: reaped, its status printed,
 * its pid set to 0. */
bool pool_exited(void *arg);

/* What log_has() looks for: `text` in a line of daemon `d`'s log. */
struct log_cond {
    const struct daemon *d;
    const char *text;
};
bool log_has(void *arg);

/* Peer mode: a cluster of peers p1..pN on ports of 127.0.0.1 the kernel chooses, which learn
 * each other from a peers file (--peers-file) that lists every peer that has listened. */
#define MAX_PEERS 10
struct peers {
    size_t n;
    char name[MAX_PEERS][24];
    char listen[MAX_PEERS][32]; /* "127.0.0.1:0" until it first listened, then its port */
    char url[MAX_PEERS][128];   /* "" until it first listened */
    char data[MAX_PEERS][600];
    char file[600]; /* the peers file */
    struct daemon *d[MAX_PEERS];
};

/* Name the peers and their files; none is started. */
void pool_peers_init(struct peers *p, size_t n);

/* Start peer i (--mode peer, --interval 0.2, --peers-file) plus `extra` options
 * (NULL-terminated, or NULL): on port 0 the first time, on its port again after that. Its URL
 * comes from its listening line and goes into the peers file; returns once every running peer
 * lists all the others that have listened. */
void pool_peer_start(struct peers *p, size_t i, const char *const *extra);

/* Where VM `vm` runs among the agents at `urls` (`n`): the index of the one that lists it as
 * running, -1 when none does, -2 when more than one does. Agents that do not answer are not
 * counted. */
int pool_vm_where(const char *const *urls, size_t n, const char *vm);

/* The text of GET /metrics (caller frees); the status must be 200. */
char *metrics_text(const char *url);

/* The value of metric line `name ` (no labels) in the daemon's /metrics; -1 when absent. */
double metrics_value(const char *url, const char *name);

/* Write `text` to this test's policy file and return its path (valid until the next call). */
const char *pool_write_policy(const char *text);

#endif

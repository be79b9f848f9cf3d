/* The libvirt layer under the libvirt backend (hv_libvirt.c): a real hypervisor host (KVM/QEMU,
 * Xen, ... through libvirt).
 *
 * Acquisition: every sample reads the host's own counters (/proc/stat, for the CPUs the host
 * owns, and /proc/meminfo) and every active domain's counters with one
 * virConnectGetAllDomainStats() call: cpu.time, block and interface byte counters, balloon
 * memory. Usage is the counters' rate since the previous sample, per domain UUID, in percent
 * of the host: CPU time over the host's CPUs, disk and network bytes over the configured
 * bandwidths. A domain starting up or paused for an incoming migration has no usage and no
 * baseline (its counters are QEMU's start and the migration stream, not the guest); the first
 * reading once it runs, a new run of it (another domain id), or a counter that went backwards
 * starts a fresh baseline, and the domain reports no usage until the next sample. Memory transfer
 * comes from libvirt's perf events (perf.mbmt, where the platform has them and the domain enables
 * them); elsewhere it is absent, not invented.
 *
 * Connection: opened at start and again after any failure, with a back-off from 1 s to 60 s;
 * while it is down the state says so with libvirt's error, and sampling resumes by itself
 * when it is back. Lifecycle events (domains started, stopped, migrated by anyone) wake the
 * agent through a pipe so the next sample comes at once.
 *
 * Control: live migration with virDomainMigrateToURI3 (peer-to-peer, live, persistent on the
 * destination, undefined on the source, plus the configured flags) in a worker thread, and a
 * progress thread beside it that reads its progress (virDomainGetJobStats) and aborts it when
 * asked (virDomainAbortJob); the agent learns its end through the same wake-up pipe. The
 * sampling functions here are called by the backend's reader thread (lv_reader.h), never on
 * the agent's loop after lv_init(). The completed job's
 * statistics (downtime, data, time) come from libvirt's job-completed event for the domain:
 * the source's domain is gone once the migration returns, and its statistics with it.
 *
 * Move history: a domain's recent arrivals by migration (the storm guard's input) are kept in
 * the domain itself, as libvirt metadata in vmloc's namespace (LV_MOVES_URI), so they
 * survive the agent's restarts and go with the domain's XML when it migrates. This module
 * reads, checks and writes that element; the agent decides when a move happened. */
#ifndef VMLOC_AGENT_LV_H
#define VMLOC_AGENT_LV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/hvstat.h"
#include "core/compiler.h"
#include "core/model.h"

#define HV_LIBVIRT_DEFAULT_URI "qemu:///system"
#define HV_LIBVIRT_DEFAULT_DISK_MIB_S 500.0
#define HV_LIBVIRT_DEFAULT_NET_MIB_S 1250.0 /* 10 Gbit/s */
#define HV_LIBVIRT_DEFAULT_MEM_BW_MIB_S 10240.0
#define HV_LIBVIRT_DEFAULT_MIGRATE_TIMEOUT_S 300.0
#define LV_MAX_VMS 4096

/* Extra migration flags (the base is live, peer-to-peer, persistent, undefine source). */
#define HV_MIGRATE_UNSAFE 0x1        /* no shared storage check */
#define HV_MIGRATE_AUTO_CONVERGE 0x2 /* throttle a guest that dirties memory too fast */
#define HV_MIGRATE_COMPRESSED 0x4    /* compress the memory stream */

struct hv_libvirt_opts {
    char uri[512];                  /* this host's libvirt, as the agent opens it */
    char peer_uri[512];             /* this host's libvirt as other hosts reach it ("" = uri) */
    char migration_address[256];    /* where migration streams into this host go ("" = libvirt's) */
    char cpus[256];                 /* the CPUs this host owns, "0-3" ("" = all) */
    double mem_mib;                 /* the host's memory (0 = /proc/meminfo) */
    double disk_mib_s;              /* what 100 % disk means */
    double net_mib_s;               /* what 100 % network means */
    double mem_bw_mib_s;            /* what 100 % memory transfer means */
    unsigned migrate_flags;         /* HV_MIGRATE_* */
    double migrate_bandwidth_mib_s; /* 0 = unlimited */
    double migrate_timeout_s;
    double min_dt_s;         /* rates over less than this keep the last ones (0: always) */
    char proc_stat[256];     /* "/proc/stat" (tests give another file) */
    char proc_meminfo[256];  /* "/proc/meminfo" */
    char proc_pressure[256]; /* "/proc/pressure": the host's PSI files cpu, memory, io */
};

void hv_libvirt_opts_init(struct hv_libvirt_opts *o);

/* "unsafe,auto-converge,compressed" (any of them, comma-separated; "" none). 0 or -EINVAL. */
MUST_CHECK int hv_libvirt_flags_parse(const char *s, unsigned *ret);

/* May this agent, and its libvirtd, open `uri`, a destination's libvirt URI that another agent
 * gave (GET /v1/health's "peer_uri")? Only DRIVER[+TRANSPORT]://HOST... with no transport or tcp,
 * tls, ssh, libssh or libssh2, and only the parameters name, no_tty, no_verify, keyfile,
 * pkipath, sshauth, mode, proxy and tls_priority (any case): others make libvirt run a command
 * (the ext transport's `command`) or write or use files the peer would choose (`known_hosts`,
 * `socket`). No control character, no fragment. 0; -EINVAL with `why` (`len` bytes) saying
 * what. Needs nothing of libvirt. */
MUST_CHECK int hv_libvirt_peer_uri_check(const char *uri, char *why, size_t len);

/* Is `addr` an address the migration's data may go to ([libvirt] migration_address, or a
 * destination's from GET /v1/health): "" (libvirt's choice), a host name (RFC 1123 labels;
 * an IPv4 address is one) or an IPv6 address, with no port, brackets, scheme or path. 0;
 * -EINVAL with `why` (`len` bytes) saying what. */
MUST_CHECK int hv_libvirt_address_check(const char *addr, char *why, size_t len);

/* Where a domain stands as far as arriving by migration goes, from its state and reason
 * (virDomainState and its reason, the "state.*" domain stats). */
enum lv_arrival {
    LV_ARRIVAL_UNKNOWN = 0, /* the record gave no state */
    LV_ARRIVAL_NONE,        /* booted, restored, resumed ...: no migration in sight */
    LV_ARRIVAL_STARTING,    /* paused while libvirt starts its QEMU (PAUSED_STARTING_UP): booting
                             * or the first step of an incoming migration, not yet known which */
    LV_ARRIVAL_INCOMING,    /* paused while a migration runs (PAUSED_MIGRATION) */
    LV_ARRIVAL_MIGRATED,    /* running, resumed by a migration into this host */
};

struct lv_vm {
    char uuid[40];
    char name[MODEL_MAX_NAME + 1];
    double usage[KIND_COUNT]; /* percent of the host */
    bool measured;            /* false on a fresh baseline: no usage yet */
    double cpu_wait;          /* percent of wall time its vCPUs waited (vcpu.N.delay) */
    bool has_cpu_wait;        /* libvirt reported the delay and it has a rate */
    bool has_mem_bw;          /* the platform measured its memory transfer (perf.mbmt) */
    double mem_mib;
    bool migrating_out; /* a migration of ours runs for it */
    enum lv_arrival arrival;
};

struct lv_mig;

struct lv_conn {
    struct hv_libvirt_opts o;
    void *conn; /* virConnectPtr */
    bool connected;
    atomic_bool lost; /* set by libvirt's close callback */
    char error[256];  /* why it is not connected */
    double retry_at;  /* monotonic seconds */
    double backoff_s;
    int event_id; /* lifecycle callback id, -1 when none */
    struct cpuset cpus;
    bool host_base;
    double host_t; /* monotonic seconds of the host baseline */
    uint64_t host_busy;
    uint64_t host_total;
    unsigned ncpus;
    double host_cpu; /* percent */
    bool host_cpu_known;
    double host_mem_mib;
    double host_io[KIND_COUNT]; /* sum of the VMs' memory transfer, disk and net */
    struct pressure pressure;   /* the host's PSI at the last sample (absent lines stay so) */
    bool mem_bw_seen;           /* a VM had memory transfer figures in the last sample */
    struct rate_table rates;
    struct lv_vm *vms;
    size_t n_vms;
    size_t cap_vms;
    size_t names_skipped;    /* domains left out at the last sample, for their names */
    double left_out_mem_mib; /* ... and their memory */
    uint64_t left_out_set;   /* ... which they were (lv_conn.c) */
    int wake[2];             /* written by libvirt's threads; the agent watches wake[0] */
    void *cbctx;             /* what the lifecycle callback holds (freed by libvirt) */
};

/* Check the options, read the host's CPU set and memory, start libvirt's event thread (once
 * per process) and try the first connection (a failure is retried by the samples). The
 * caller has zeroed *hv or run this before (lv_done() then is safe).
 * 0, or -EINVAL / -EIO with `err` filled. */
MUST_CHECK int lv_init(struct lv_conn *hv, const struct hv_libvirt_opts *o, char *err, size_t len);

void lv_done(struct lv_conn *hv);

/* `hv` was copied to where it now lives (the reader thread's state): libvirt's close
 * callback, registered with the old address, is pointed at the new one. */
void lv_moved(struct lv_conn *hv);

/* Take a sample at monotonic time `now`: reconnect if due, then read the host and every
 * active domain. 0; -EIO when not connected (hv->error says why). */
MUST_CHECK int lv_sample(struct lv_conn *hv, double now);

/* What lv_drain() found in the wake-up pipe. */
#define LV_WOKE_READING 1u /* 'r': the reader thread has a new reading */
#define LV_WOKE_OTHER 2u   /* anything else: a domain event, a lost connection, a migration's end */

/* Drain the wake-up pipe's read end `fd` (call when it is readable): the LV_WOKE_* bits of
 * what came (0: nothing). */
unsigned lv_drain(int fd);

/* Seconds until the next connection attempt (0 when connected). */
double lv_retry_in(const struct lv_conn *hv, double now);

/* Start migrating VM `name` to the host whose libvirt is `dest_uri` (migration stream to
 * `dest_addr` when not ""), over the libvirt connection `conn` (a virConnectPtr: the caller's
 * reference, which the migration takes over in every case), with the flags of `o`; its end is
 * written to the pipe `wake_fd`. Every libvirt call, the domain's lookup too, runs in the
 * migration's threads: a domain that is not there or not running ends it with "no such running
 * domain". 0 with *ret; -EIO `conn` is NULL (not connected); -ENOMEM; -EAGAIN the thread could not
 * start. */
MUST_CHECK int lv_migrate_start(void *conn, const struct hv_libvirt_opts *o, int wake_fd,
                                const char *name, const char *dest_uri, const char *dest_addr,
                                struct lv_mig **ret);

/* Has it ended? 1 done, -1 failed (error in `err`), 0 running. A call to libvirt that
 * failed is not the end yet: the worker then looks, on connections of its own, for where the
 * VM is (the job may go on without the call, and succeed), and ends the migration by that. */
int lv_migrate_poll(struct lv_mig *m, char *err, size_t len);

/* Where the VM of a failed migration is. */
enum lv_failed_where {
    LV_FAILED_HERE = 0, /* here, as libvirt's protocol keeps it */
    LV_FAILED_LEFT,     /* gone from here all the same (not at the destination, or not known) */
    LV_FAILED_UNKNOWN,  /* this host's libvirt could not be asked */
    LV_FAILED_PAUSED,   /* here, but paused by the migration (libvirtd restarted as it ended),
                           and the destination does not have it: someone must resume it */
};

/* After poll() said -1: where the VM is. No call to libvirt. */
enum lv_failed_where lv_migrate_failed_where(struct lv_mig *m);

/* After poll() said 1: libvirt's error when its call failed but the VM was then found moved
 * (owned by `m`), or NULL when the call succeeded; *ret_paused_here: libvirt left a paused
 * copy of the VM here (libvirtd restarted as the migration ended), which someone must
 * destroy. No call to libvirt. */
const char *lv_migrate_settled(struct lv_mig *m, bool *ret_paused_here);

/* What libvirt reports of a completed migration out of this host: the time the guest was
 * paused (VIR_DOMAIN_JOB_DOWNTIME), the data sent (VIR_DOMAIN_JOB_DATA_PROCESSED) and the job's
 * whole time (VIR_DOMAIN_JOB_TIME_ELAPSED); each < 0 when libvirt did not report it. */
struct lv_job_stats {
    double downtime_ms;
    double data_mib;
    double total_ms;
};

/* Read the completed job's statistics from the typed parameters `params` (n of them,
 * virTypedParameterPtr) that virDomainGetJobStats(VIR_DOMAIN_JOB_STATS_COMPLETED) or the
 * VIR_DOMAIN_EVENT_ID_JOB_COMPLETED event give. 0 with *ret (figures libvirt left out < 0);
 * -EINVAL: not the stats of a migration out that succeeded (another operation, "success"
 * false, or none of the three figures), *ret untouched. */
MUST_CHECK int lv_job_stats_parse(const void *params, int n, struct lv_job_stats *ret);

/* Where the VM of a migration whose call to libvirt failed is, at one look. */
enum lv_where {
    LV_WHERE_HERE,    /* on this host (running or not), with no migration job: not moved */
    LV_WHERE_MOVING,  /* a migration out of this host still runs */
    LV_WHERE_MOVED,   /* here shut off by the migration (libvirt's mark of success); or
                         running at the destination, and here gone, or paused by the migration
                         with no job (libvirtd restarted as it ended) */
    LV_WHERE_NOWHERE, /* gone from here, and the destination does not run it */
    LV_WHERE_UNKNOWN, /* not known: a libvirt that cannot be asked */
};

/* What the looks so far decide. */
enum lv_settled {
    LV_SETTLED_NOT_YET, /* look again in a second */
    LV_SETTLED_DONE,    /* the migration succeeded */
    LV_SETTLED_FAILED,  /* it failed: the VM is here */
    LV_SETTLED_LEFT,    /* it failed, and the VM is neither here nor at the destination */
    LV_SETTLED_UNKNOWN, /* no look learnt anything for LV_SETTLE_REACH_S: failed, where unknown */
};

/* One look, as the worker of a migration whose call failed takes it, at VM `name` on this
 * host's libvirt `src_uri` (and, when it is gone from there or paused there by the migration
 * with no job, at the destination's `dest_uri`),
 * on connections of its own that it closes: where the VM is, with `why` (`len` bytes) saying
 * what could not be learnt when LV_WHERE_UNKNOWN ("" otherwise). Aborts nothing. Calls
 * libvirt: never on the agent's loop. */
enum lv_where lv_settle_look(const char *src_uri, const char *dest_uri, const char *name, char *why,
                             size_t len);

/* How long the looks may learn nothing before the migration ends failed, in seconds. */
#define LV_SETTLE_REACH_S 30
/* How long the VM must be found here, look after look, before the migration ends failed: a
 * job the failed call asked for may begin after the first look. A heuristic: a job that
 * libvirtd begins later still would run unwatched (the samples then show where the VM is). */
#define LV_SETTLE_HERE_S 1.0

/* The looks so far: {.here_since_s = -1} before the first. */
struct lv_settle {
    bool looked;
    double here_since_s; /* monotonic seconds: the first of the looks in a row that found
                            the VM here, -1 none */
    double give_up_s;    /* monotonic seconds: LV_SETTLED_UNKNOWN from then on */
};

/* One more look, `w` at monotonic time `now_s`: the VM found here by looks in a row that span
 * LV_SETTLE_HERE_S is failed; moved is done; gone and not at the destination is left; a
 * migration still running, or the VM found here for less time, is not yet; LV_WHERE_UNKNOWN
 * is not yet until LV_SETTLE_REACH_S have passed since the first look or the last one that
 * found the migration running (looks here between looks that learn nothing do not put the
 * limit off). No call to libvirt. */
enum lv_settled lv_settle_step(struct lv_settle *s, enum lv_where w, double now_s);

/* After poll() said 1: the completed job's statistics. true with *ret; false when libvirt
 * gave none (an old libvirt, or events unavailable and the domain already gone, or the
 * connection that carried them lost). */
bool lv_migrate_stats(struct lv_mig *m, struct lv_job_stats *ret);

/* Progress while it runs: bytes processed and total (0 when unknown), milliseconds elapsed,
 * as the migration's progress thread last read them (every second). No call to libvirt. */
void lv_migrate_progress(struct lv_mig *m, double *ret_processed_mib, double *ret_total_mib,
                         double *ret_elapsed_ms);

/* Ask libvirt to abort it (the worker then ends with an error): the progress thread asks
 * at once and again every second until it ends (after a failed call, the worker does, while
 * the job runs). No call to libvirt here. */
void lv_migrate_abort(struct lv_mig *m);

/* What one stats record holds: the cumulative counters (c[RATE_DELAY_NS] the sum of every
 * vcpu.N.delay, and *ret_delay_vcpus how many vCPUs reported one: 0 when libvirt does not),
 * the memory (KiB) and, when the platform reports it, the memory transfer in bytes/s
 * (*ret_mbmt < 0 when absent). The record is a virDomainStatsRecordPtr. */
void lv_record_counters(const void *rec, uint64_t *c, double *ret_mem_kib, double *ret_mbmt,
                        unsigned *ret_delay_vcpus);

/* Read the host's PSI from the folder `dir` (its files cpu, memory, io) into *ret; a file or
 * line that is not there (a kernel without PSI) stays absent. */
void lv_pressure_read(const char *dir, struct pressure *ret);

/* Turn one stats record (a virDomainStatsRecordPtr) of the domain `v` (uuid and name set by
 * the caller, the rest zeroed) read at monotonic time `now` into its usage, state and memory,
 * against the baseline hv->rates keeps for it (updated), and add its disk, network and memory
 * transfer to hv->host_io. `dom_id` is libvirt's id of the domain (virDomainGetID()), which
 * differs with every QEMU process. No call to libvirt. */
void lv_vm_read(struct lv_conn *hv, const void *rec, uint64_t dom_id, double now, struct lv_vm *v);

/* How the domain of one stats record (a virDomainStatsRecordPtr) stands: from its
 * "state.state" and "state.reason"; LV_ARRIVAL_UNKNOWN when it has neither. */
enum lv_arrival lv_record_arrival(const void *rec);

/* What the agent knows of how a domain came (struct lv_dom keeps it between samples). */
enum lv_watch {
    LV_WATCH_SETTLED = 0, /* decided: it arrives only through a new incoming migration pause */
    LV_WATCH_STARTING,    /* first seen starting up: the next state says booted or migrated */
    LV_WATCH_INCOMING,    /* seen paused for an incoming migration */
};

/* One more look at a domain, `a` being how it stands now: did it just arrive by migration?
 * `first`: the agent has not seen it before; `initial`: this is the agent's first sample (what
 * runs then arrived before the agent watched). `*w` (any value for a domain not seen before)
 * remembers a domain seen paused for an incoming migration, which arrives when it leaves that
 * state while still here (libvirt kills a destination's domain whose migration failed), even at
 * the agent's first sample; and a domain first seen starting up, which libvirt lists before its
 * QEMU runs, so the state after that says how it came. true exactly once per arrival. */
bool lv_arrival_step(enum lv_arrival a, bool first, bool initial, enum lv_watch *w);

/* The metadata element holding a domain's moves: namespace, prefix, and the longest element
 * read (anything longer is refused as bad). */
#define LV_MOVES_URI "https://vmloc.org/xmlns/libvirt/moves/1"
#define LV_MOVES_KEY "vmloc"
#define LV_MOVES_MAX_XML 4096

/* Parse the moves element `xml` as virDomainGetMetadata() gives it: `<moves>T1 T2 ...</moves>`
 * (or `<moves/>`), each T seconds since the epoch as digits with an optional fraction
 * ("1764140100.250"), from 0 to 1e11, none before the one listed before it, separated by
 * white space; attributes of <moves> are ignored, anything else is refused (signs, exponents,
 * "nan", comments, CDATA, child elements). Of a longer list the newest MODEL_MAX_VM_MOVES are
 * kept. 0 with ret[0 .. *ret_n) (oldest first); -EINVAL with `err` saying why (ret and *ret_n
 * untouched). */
MUST_CHECK int lv_moves_parse(const char *xml, double *ret, uint32_t *ret_n, char *err, size_t len);

/* The element lv_moves_parse() reads for `n` times (oldest first), in `buf`, each
 * with three decimals. 0; -EINVAL: more than MODEL_MAX_VM_MOVES, or a time the parser would
 * refuse; -E2BIG: `len` too small. On error buf is "" (when len > 0). */
MUST_CHECK int lv_moves_format(const double *times, uint32_t n, char *buf, size_t len);

/* Read the moves of the domain with `uuid` from its metadata (the live definition of a running
 * domain). 0 with ret and *ret_n (0 when it has none); -EINVAL: the metadata is there but
 * bad (`err` says why; no moves known); -ENOENT: no such domain; -EIO: not connected or
 * libvirt failed (`err` has libvirt's error). ret and *ret_n are set only on success. One
 * lookup and one metadata call: not for every sample. */
MUST_CHECK int lv_moves_read(struct lv_conn *hv, const char *uuid, double *ret, uint32_t *ret_n,
                             char *err, size_t len);

/* Write `n` moves (1..MODEL_MAX_VM_MOVES, oldest first) into the metadata of the domain with
 * `uuid`: its live definition, and its persistent one when it has one (so that a restart of
 * the domain and a later migration keep them). 0; -EINVAL bad arguments; -ENOENT no such
 * domain; -EIO (`err` has libvirt's error). */
MUST_CHECK int lv_moves_write(struct lv_conn *hv, const char *uuid, const double *times, uint32_t n,
                              char *err, size_t len);

/* Write one byte `what` to the wake-up pipe `fd` (from any thread; a full pipe already holds
 * a wake-up, so a failed write loses nothing). */
void lv_wake(int fd, char what);

/* Wait for the worker and free. Only after poll() said it ended, or at exit after abort:
 * then the wait is at most 10 s, after which the worker is left to finish on its own. */
void lv_migrate_free(struct lv_mig *m);

#endif

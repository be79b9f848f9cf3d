/* What a real hypervisor host's counters mean, without any I/O: the CPUs a host owns
 * ("0-3,8"), its busy share from /proc/stat text, its memory from /proc/meminfo text, and the
 * rates of per-domain counters (CPU time, disk and network bytes) between two samples. The
 * libvirt layer (lv_conn.c) reads the files and the counters and calls these; unit tests
 * feed them text and numbers. */
#ifndef VMLOC_AGENT_HVSTAT_H
#define VMLOC_AGENT_HVSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/model.h"

#define HVSTAT_MAX_CPUS 1024

/* A set of CPU numbers; `n` == 0 means every CPU of the machine. */
struct cpuset {
    bool on[HVSTAT_MAX_CPUS];
    unsigned n;
};

/* Parse "0-3,8,10-11" (no spaces; each number below HVSTAT_MAX_CPUS; ranges ascending; no
 * CPU twice). "" is every CPU. 0 or -EINVAL. */
MUST_CHECK int cpuset_parse(const char *s, struct cpuset *ret);

/* From /proc/stat text: the busy and total jiffies of the CPUs in `set` (busy = user + nice +
 * system + irq + softirq + steal; total adds idle and iowait), and how many of its CPUs were
 * found. With an empty set the machine's "cpu" line is used and *ret_ncpus counts the cpuN
 * lines. 0; -EINVAL when the text has no usable line or a CPU of the set is missing. */
MUST_CHECK int procstat_parse(const char *text, size_t len, const struct cpuset *set,
                              uint64_t *ret_busy, uint64_t *ret_total, unsigned *ret_ncpus);

/* MemTotal from /proc/meminfo text, in MiB. 0 or -EINVAL. */
MUST_CHECK int meminfo_total_mib(const char *text, size_t len, double *ret_mib);

/* Counters of one domain: cumulative, so a rate is a difference over time. */
enum {
    RATE_CPU_NS = 0,
    RATE_DISK_BYTES = 1,
    RATE_NET_BYTES = 2,
    RATE_DELAY_NS = 3, /* the sum of its vCPUs' run-queue delay (libvirt's vcpu.N.delay) */
    RATE_COUNTERS = 4
};

/* CPU wait in percent of wall time from the rate of the vCPUs' summed run-queue delay
 * (`delay_ns_s`, nanoseconds per second) over `n_vcpus` vCPUs: the share of the time each
 * vCPU, on average, was runnable but not running, 0..100. */
double hvstat_cpu_wait_pct(double delay_ns_s, unsigned n_vcpus);

/* Linux pressure stall information from the text of /proc/pressure/RESOURCE: the `avg10` of
 * its "some" and "full" lines, in percent, into `ret` for resource `res` (a line that is not
 * there stays absent: the cpu file of kernels before 5.13 has no "full"). 0 with at least
 * one line; -EINVAL when the text has no well-formed line. */
MUST_CHECK int psi_parse(const char *text, size_t len, enum pressure_res res, struct pressure *ret);

struct rate_entry {
    char key[64]; /* the domain's UUID */
    uint64_t gen; /* which run of it: libvirt's domain id, new with every QEMU process */
    double t;     /* seconds, monotonic */
    uint64_t c[RATE_COUNTERS];
    bool seen; /* since the last sweep */
    bool has_rates;
    double rates[RATE_COUNTERS]; /* the last rates computed */
};

struct rate_table {
    struct rate_entry *e;
    size_t n;
    size_t cap;
};

void rate_table_init(struct rate_table *t);
void rate_table_done(struct rate_table *t);

/* Feed domain `key`'s counters at time `now`, read from its run `gen` (libvirt's domain id,
 * which a new QEMU process of the same domain changes). 1: `ret_rates[i]` is counter i's
 * increase per second since the baseline; 0: a fresh baseline, no rate yet (first sight of
 * the key, another run than the baseline's, or a counter that went backwards because the
 * domain restarted or migrated); -ENOMEM; -EINVAL (key too long). Less than `min_dt` seconds
 * after the baseline (a sample taken early, on an event) the baseline stays and the last
 * rates are given again (0 when there are none): counters that tick in 10 ms steps make no
 * sense over a few milliseconds. */
MUST_CHECK int rate_update(struct rate_table *t, const char *key, uint64_t gen, double now,
                           double min_dt, const uint64_t *c, double *ret_rates);

/* Drop the baseline and the last rates of domain `key` (nothing when it has none): its
 * counters do not measure its guest now (libvirt starting its QEMU, or a domain paused
 * while an incoming migration fills its memory), so the first reading once the guest runs
 * must start afresh rather than be compared with them. */
void rate_forget(struct rate_table *t, const char *key);

/* Forget the keys not fed since the previous sweep (domains that are gone). */
void rate_sweep(struct rate_table *t);

#endif

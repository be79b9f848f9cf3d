/* VM workload traces for the simulator: PlanetLab (one file of CPU percentages per VM) and
 * Bitbrains GWA-T-12 (one `;`+TAB file per VM with CPU, memory, disk and network), both
 * turned into per-VM series on a common 300 s grid. A trace owns its names and series.
 * Readers validate every line and report the first problem by file and line; they never
 * print. */
#ifndef VMLOC_SIM_TRACE_H
#define VMLOC_SIM_TRACE_H

#include <stddef.h>

#include "core/compiler.h"

enum trace_format {
    TRACE_PLANETLAB = 0,
    TRACE_BITBRAINS = 1,
};

/* The formats' names in the order of the enum ("planetlab", "bitbrains"), then NULL. */
extern const char *const trace_format_names[];

/* Format `f`'s name. */
const char *trace_format_name(enum trace_format f);

/* The format named `s` into *ret: 0, or -EINVAL when no format has that name. */
MUST_CHECK int trace_format_parse(const char *s, enum trace_format *ret);

/* Seconds between two samples of a series. */
#define TRACE_STEP_S 300.0

/* Limits on what a reader accepts (documented in docs/sim.md). */
#define TRACE_MAX_VMS 2000000u
#define TRACE_MAX_SAMPLES 100000u
#define TRACE_MAX_FILE_BYTES ((size_t)64 * 1024u * 1024u)
/* Largest value a Bitbrains field may hold (MHz, KB, KB/s), and the most cores a VM may
 * have: far beyond any machine, small enough that sums over millions of VMs stay finite. */
#define TRACE_MAX_VALUE 1e12
#define TRACE_MAX_CORES 4096

/* Series have n_samples + 1 values per VM, at t = k * TRACE_STEP_S for k = 0 .. n_samples:
 * the last sample is repeated once so that linear interpolation is defined up to the end of
 * the last interval (the PlanetLab convention). They are stored sample by sample: value k of
 * VM v is s[k * n_vms + v], so one instant of every VM is contiguous (what a simulation step
 * reads). */
struct trace {
    enum trace_format format;
    size_t n_vms;
    size_t n_samples;
    char **names; /* file names, byte-sorted */
    double *cpu;  /* utilisation of the VM's CPU, fraction 0..1 */
    /* Bitbrains only (NULL for PlanetLab). */
    double *cpu_mhz;     /* per VM: provisioned MHz (cores x per-core MHz) */
    double *cores;       /* per VM: number of cores */
    double *mem_cap_mib; /* per VM: provisioned memory */
    double *mem_mib;     /* series: memory used */
    double *disk_kbs;    /* series: disk read + write, KB/s */
    double *net_kbs;     /* series: network received + transmitted, KB/s */
};

/* Where a read failed: `msg` names the file and line. */
struct trace_error {
    char msg[512];
};

/* Prepare an empty trace. Never fails. */
void trace_init(struct trace *t);

/* Free what `t` owns; leaves it as after trace_init(). Accepts NULL. */
void trace_done(struct trace *t);

/* Read every regular file of directory `dir` (hidden files and README* skipped) in byte
 * order as one VM each, in `format`. 0: *ret filled (it must be empty). -ENOENT/-ENOTDIR/
 * -errno: the folder could not be read; -EINVAL: a file is malformed (err says which and
 * where); -E2BIG: beyond a TRACE_MAX_* limit; -ENOMEM. On error *ret stays empty and `err`
 * describes the problem. */
MUST_CHECK int trace_read(const char *dir, enum trace_format format, struct trace *ret,
                          struct trace_error *err);

/* Parse one PlanetLab file's contents (`len` bytes) into `out` (room for `max` values).
 * 0: *ret_n values stored (each a fraction 0..1). -EINVAL: line `*ret_line` is bad, and
 * `why` (room for 160 bytes) says how. Exposed for tests and fuzzing. */
MUST_CHECK int trace_parse_planetlab(const char *buf, size_t len, double *out, size_t max,
                                     size_t *ret_n, size_t *ret_line, char *why);

/* One Bitbrains row, as read from a file. */
struct trace_bb_row {
    double ts; /* seconds since the epoch */
    double cores;
    double cap_mhz;
    double use_mhz;
    double mem_cap_kb;
    double mem_use_kb;
    double disk_kbs; /* read + write */
    double net_kbs;  /* received + transmitted */
};

/* Parse one Bitbrains file (header line, then rows) into `rows` (room for `max`).
 * 0: *ret_n rows stored, timestamps strictly increasing. -EINVAL: line `*ret_line` is bad,
 * `why` says how. -E2BIG: more than `max` rows. */
MUST_CHECK int trace_parse_bitbrains(const char *buf, size_t len, struct trace_bb_row *rows,
                                     size_t max, size_t *ret_n, size_t *ret_line, char *why);

/* The first `n_vms` VMs of `src` over its first `n_samples` samples (at most what `src` has),
 * as a trace of its own in the empty *ret: the same names, sizes and values, the last sample
 * repeated once after them as trace_read() does. 0; -EINVAL (none asked for); -ENOMEM (*ret
 * left empty). */
MUST_CHECK int trace_subset(const struct trace *src, size_t n_vms, size_t n_samples,
                            struct trace *ret);

/* Value of VM `vm` in series `s` at time `t_s` seconds, linearly interpolated; clamped to
 * the ends. */
double trace_value(const struct trace *tr, const double *s, size_t vm, double t_s);

#endif

/* Trace-driven demand for the simulated hypervisor: VMs whose demand follows a real trace
 * (PlanetLab or Bitbrains files, read and validated as `vmloc sim` reads them) instead of the
 * operator's `vmloc load`. The trace's samples are laid on the wall clock, one every `step_s`
 * seconds from `start`; a VM asks, at any instant, for the trace's value at the sample nearest
 * to it, as the simulator reads it then (HV_TRACE_OFFSET_S; samples before the first one ask
 * for sample 1, the first the simulator decides on; after the last, for the last). What a VM asks
 * for is expressed in percent of this host the way the simulator counts it: its utilisation times
 * its MIPS, at most one host core per VM core, over the host's MIPS; disk and network (Bitbrains)
 * over the host's KB/s. This is what `vmloc replay` runs real agents with. Pure state and
 * arithmetic after the load. */
#ifndef VMLOC_AGENT_HV_TRACE_H
#define VMLOC_AGENT_HV_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/model.h"
#include "sim/trace.h"

/* A VM asks for the trace's value this long after its sample's instant: the simulator decides
 * at t = 300 k + 0.1 s (its VMs start a tenth of a second after their placement), where the
 * value is interpolated towards the next sample, so a sample of exactly 0 asks for a little. */
#define HV_TRACE_OFFSET_S 0.1

struct hv_trace_opts {
    char dir[4096]; /* "" : no trace */
    enum trace_format format;
    double start;     /* wall time of the trace's sample 0, seconds since the epoch */
    double step_s;    /* wall seconds per trace sample */
    double host_mips; /* what 100 % cpu is, in MIPS */
    uint32_t host_cores;
    double disk_kbs; /* what 100 % disk is, KB/s (0: disk not measured) */
    double net_kbs;  /* what 100 % network is, KB/s (0: not measured) */
};

/* The defaults: no trace, PlanetLab, a 1 s step, a host of 1000 MIPS with one core. */
void hv_trace_opts_init(struct hv_trace_opts *o);

struct hv_trace {
    struct hv_trace_opts o;
    struct trace tr;
    bool loaded;
};

/* Read the trace folder of `o` (every file, checked as `vmloc sim` checks it). 0; -EINVAL etc.
 * with `err` naming the file and line (the trace_read() codes). *t needs no preparation; free
 * with hv_trace_done() (also after a failure). */
MUST_CHECK int hv_trace_load(struct hv_trace *t, const struct hv_trace_opts *o, char *err,
                             size_t len);

void hv_trace_done(struct hv_trace *t);

/* The index of trace file `file` in the loaded trace, or -1. */
long hv_trace_find(const struct hv_trace *t, const char *file);

/* The trace sample a VM asks for at wall time `now` (see the top of this file). */
size_t hv_trace_sample_at(const struct hv_trace *t, double now);

/* What VM `vm` (its file's index) of `mips` MIPS and `cores` cores asks for at wall time
 * `now`, in percent of this host per kind, into ret_pct (cpu, and disk and net for
 * Bitbrains; the kinds the trace does not have are 0). */
void hv_trace_demand(const struct hv_trace *t, size_t vm, double mips, uint32_t cores, double now,
                     double *ret_pct);

#endif

/* Host types of the simulator and their power models: measured watts at 0, 10, ..., 100 %
 * CPU utilisation (SPECpower), linear in between. Pure data and arithmetic. */
#ifndef VMLOC_SIM_POWER_H
#define VMLOC_SIM_POWER_H

#include <stdint.h>

struct power_host_type {
    const char *name;
    double pe_mips; /* MIPS of one core */
    uint32_t pes;   /* cores */
    double ram_mib;
    double bw_mbit;   /* network, Mbit/s */
    double disk_kbs;  /* disk throughput capacity, KB/s (0: not modelled) */
    double watts[11]; /* at 0 %, 10 %, ..., 100 % */
};

/* HP ProLiant ML110 G4 (Xeon 3040, 2 x 1860 MIPS) and G5 (Xeon 3075, 2 x 2660 MIPS), 4 GiB,
 * 1 Gbit/s: the hosts of the PlanetLab experiments. */
extern const struct power_host_type power_hp_g4;
extern const struct power_host_type power_hp_g5;

/* IBM System x3550 M3 (2 x Xeon X5675, 12 x 3067 MIPS), SPECpower_ssj2008 2011Q2; given
 * 64 GiB, 1 Gbit/s and 100 MB/s of disk: the hosts of the Bitbrains set-up. */
extern const struct power_host_type power_ibm_x3550;

/* Watts drawn at utilisation `u` (0..1; values beyond are clamped), interpolated between
 * the two surrounding measurements the way the reference model does it. */
double power_watts(const struct power_host_type *t, double u);

#endif

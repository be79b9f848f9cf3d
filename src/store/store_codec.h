/* The store's compact encodings of usage, kept in BLOB columns by store_samples.c: the VMs of
 * a raw sample, and one host's hour of one-minute roll-ups. Pure: numbers in, bytes out and
 * back, with every length checked on the way in; no SQLite, no I/O, no allocation.
 *
 * The columns. A sample's numbers are its kinds in enum kind order (cpu, mem_bw, disk, net),
 * for the host and for each VM; a roll-up minute keeps, per kind in that order, the minimum,
 * the mean and the maximum (12 columns), then the same of the host's cpu pressure (`some`).
 * Both encodings say how many columns they carry, so a
 * figure added later (appended after the last column) leaves older rows readable and lets an
 * older decoder skip what it does not know. */
#ifndef VMLOC_STORE_STORE_CODEC_H
#define VMLOC_STORE_STORE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/model.h"

/* Per host: one column per kind (the host's pressure is in columns of the samples table). */
#define STORE_COLS KIND_COUNT
/* Per VM: one column per kind, then its CPU wait (percent of wall time; appended after the
 * first rows were written, which have only the KIND_COUNT usage columns). */
#define STORE_COL_CPU_WAIT KIND_COUNT
#define STORE_VM_COLS (KIND_COUNT + 1)
/* A VM's column when its sample does not give that figure. */
#define STORE_ABSENT 0xffffu

/* A sample's VMs: a header of 2 bytes (format 1, columns per VM: KIND_COUNT or more), then
 * per VM its name's id in the names table (LEB128, at most STORE_VARINT_MAX bytes) and each
 * column as a little-endian uint16 in hundredths of a percent (STORE_ABSENT: not given). */
#define STORE_VMS_FORMAT 1u
#define STORE_VARINT_MAX 10u
#define STORE_VMS_HEADER 2u
#define STORE_VM_MAX_BYTES (STORE_VARINT_MAX + 2u * STORE_VM_COLS)

/* Hundredths of a percent, 0 .. 65534 (usage above 655.34 % is kept as that). */
uint16_t store_centi(double pct);

/* Write the header of a sample's VMs into `out` (STORE_VMS_HEADER bytes). */
void store_vms_header(uint8_t *out);

/* Append VM `id` with columns `cols` (percent; column c is read only when bit c of `given`
 * is set, and written as absent otherwise: bits 0..KIND_COUNT-1 are the KIND_BIT of the
 * usage, bit STORE_COL_CPU_WAIT its wait) at `out`, which has room for STORE_VM_MAX_BYTES.
 * Returns the bytes written. */
size_t store_vm_encode(uint8_t *out, uint64_t id, const double *cols, unsigned given);

/* Read the VM at `*pos` of the encoded VMs `p` (`len` bytes, header included; start with
 * *pos = 0): its id, its STORE_VM_COLS columns into `ret_cols` (percent, 0 when absent, as a
 * row written before the column existed) and *ret_given (bit c: column c given). 1 and *pos
 * moved on; 0 at the end; -EINVAL when the bytes are not such an encoding (a bad header, a
 * row cut short). Columns beyond STORE_VM_COLS, from a later vmloc, are skipped. */
MUST_CHECK int store_vm_decode(const uint8_t *p, size_t len, size_t *pos, uint64_t *ret_id,
                               double *ret_cols, unsigned *ret_given);

/* One-minute roll-ups: minimum, mean and maximum per kind (the STORE_RU_USAGE_COLS columns
 * the first rows had), then of the host's cpu pressure (`some`, the 10 s averages of the
 * minute's samples that carried it) from column STORE_RU_COL_PSI: STORE_RU_NONE in all three
 * when no sample of the minute had it, and in a row written before the columns existed. */
#define STORE_RU_STATS 3
#define STORE_RU_USAGE_COLS ((size_t)STORE_RU_STATS * KIND_COUNT)
#define STORE_RU_COL_PSI STORE_RU_USAGE_COLS
#define STORE_RU_COLS (STORE_RU_USAGE_COLS + STORE_RU_STATS)
/* Pressure is 0 .. 100 %, 0 .. 200 half percents: this value, which no pressure takes and
 * every decoder takes, is "not measured". */
#define STORE_RU_NONE 254u
#define STORE_RU_MINUTES 60
enum store_ru_stat {
    STORE_RU_MIN = 0,
    STORE_RU_MEAN = 1,
    STORE_RU_MAX = 2,
};

/* A host's hour of roll-ups. A value is kept in half percents (0 .. 254: 0 to 127 %); a
 * chart of a week needs no finer steps, and one byte per value keeps a week of a host in
 * some 60 KB. */
struct store_hour {
    uint64_t present;                           /* bit m: minute m of the hour has values */
    uint8_t q[STORE_RU_MINUTES][STORE_RU_COLS]; /* [minute][kind * 3 + stat] */
};

/* The half percents of `pct`, rounded and bounded to 0 .. 254; and back. */
uint8_t store_half(double pct);
double store_unhalf(uint8_t q);

/* The encoded hour: format 2, the number of columns, the 60-bit mask of the minutes present
 * (8 bytes, little endian), then, unless no minute is present, column after column: its mode
 * in 3 bits, the value of its first present minute in 8 bits, and the values of the other
 * present minutes in order, each from its difference d from the one before, zig-zagged
 * (0, -1, 1, -2 ... as z = 0, 1, 2, 3 ...):
 *   - modes 0 to 3, a Rice code of parameter k = mode: z >> k ones, a zero, then the k low
 *     bits of z; a quotient of 7 or more is 7 ones and the value itself in 8 bits;
 *   - mode 4, as format 1: z in 4 bits when under 15, else 15 and the value in 8 bits;
 *   - mode 5: nothing, every present minute has the first value.
 * Bits fill each byte from its highest; the last byte is padded with zeros. The encoder picks
 * each column's cheapest mode: usage that holds still costs 11 bits an hour, usage that
 * moves by a step or two about 2 bits a value, and no column costs more than in format 1 but
 * for its mode and first value (11 bits at most).
 * Format 1 (read, no longer written): no mode, no first value; each value, the first one
 * from 0, as mode 4's nibbles. */
#define STORE_HOUR_FORMAT 2u
#define STORE_HOUR_HEADER 10u
#define STORE_HOUR_MAX_BYTES                                                                       \
    (STORE_HOUR_HEADER + (STORE_RU_COLS * (11u + (STORE_RU_MINUTES - 1u) * 12u) + 7u) / 8u)

/* Encode `h` into `out` (room for STORE_HOUR_MAX_BYTES). Returns the bytes written. */
size_t store_hour_encode(const struct store_hour *h, uint8_t *out);

/* Decode an hour of `len` bytes at `p` into *ret (columns beyond STORE_RU_COLS, written by a
 * later vmloc, are skipped; those a row of an earlier one lacks read STORE_RU_NONE). 0, or
 * -EINVAL when the bytes are not such an encoding (*ret then undefined). */
MUST_CHECK int store_hour_decode(const uint8_t *p, size_t len, struct store_hour *ret);

#endif

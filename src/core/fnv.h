/* FNV-1a, the one string hash of vmloc's tables (VM and host names, connection keys, JSON
 * keys, migration ids). Pure: no state, no I/O. Not for anything an attacker could aim at a
 * table without a bound on its probes or its size. */
#ifndef VMLOC_CORE_FNV_H
#define VMLOC_CORE_FNV_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FNV32_BASIS 2166136261u
#define FNV32_PRIME 16777619u
#define FNV64_BASIS 14695981039346656037u
#define FNV64_PRIME 1099511628211u

/* FNV-1a, 32 bits, of the `len` bytes at `s`. */
static inline uint32_t
fnv1a_n(const char *s, size_t len)
{
    uint32_t h = FNV32_BASIS;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * FNV32_PRIME;
    return h;
}

/* FNV-1a, 32 bits, of the string `s`. */
static inline uint32_t
fnv1a(const char *s)
{
    return fnv1a_n(s, strlen(s));
}

/* FNV-1a, 64 bits, of the string `s`. */
static inline uint64_t
fnv1a_64(const char *s)
{
    uint64_t h = FNV64_BASIS;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * FNV64_PRIME;
    return h;
}

#endif

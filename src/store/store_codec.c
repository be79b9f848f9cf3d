/* The store's compact encodings (store_codec.h). */
#include "store/store_codec.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

uint16_t
store_centi(double pct)
{
    if (!(pct > 0))
        return 0;
    double c = round(pct * 100.0);
    return c >= 65534.0 ? (uint16_t)65534 : (uint16_t)c;
}

void
store_vms_header(uint8_t *out)
{
    out[0] = (uint8_t)STORE_VMS_FORMAT;
    out[1] = (uint8_t)STORE_VM_COLS;
}

size_t
store_vm_encode(uint8_t *out, uint64_t id, const double *cols, unsigned given)
{
    size_t n = 0;
    do {
        uint8_t b = (uint8_t)(id & 0x7fu);
        id >>= 7;
        out[n++] = (uint8_t)(b | (id != 0 ? 0x80u : 0u));
    } while (id != 0);
    for (unsigned c = 0; c < STORE_VM_COLS; c++) {
        uint16_t v = (given & (1u << c)) != 0 ? store_centi(cols[c]) : (uint16_t)STORE_ABSENT;
        out[n++] = (uint8_t)(v & 0xffu);
        out[n++] = (uint8_t)(v >> 8);
    }
    return n;
}

int
store_vm_decode(const uint8_t *p, size_t len, size_t *pos, uint64_t *ret_id, double *ret_cols,
                unsigned *ret_given)
{
    if (len < STORE_VMS_HEADER || p[0] != STORE_VMS_FORMAT || p[1] < KIND_COUNT)
        return -EINVAL;
    size_t cols = p[1];
    size_t i = *pos < STORE_VMS_HEADER ? STORE_VMS_HEADER : *pos;
    if (i == len)
        return 0;
    uint64_t id = 0;
    unsigned shift = 0;
    for (;;) {
        if (i >= len || shift >= 64)
            return -EINVAL;
        uint8_t b = p[i++];
        id |= (uint64_t)(b & 0x7fu) << shift;
        shift += 7;
        if ((b & 0x80u) == 0)
            break;
    }
    if (len - i < 2 * cols)
        return -EINVAL;
    unsigned given = 0;
    for (unsigned c = 0; c < STORE_VM_COLS; c++) {
        unsigned v =
            c < cols ? (unsigned)p[i + 2 * (size_t)c] | ((unsigned)p[i + 2 * (size_t)c + 1] << 8)
                     : STORE_ABSENT;
        ret_cols[c] = v == STORE_ABSENT ? 0 : (double)v / 100.0;
        if (v != STORE_ABSENT)
            given |= 1u << c;
    }
    *pos = i + 2 * cols;
    *ret_id = id;
    *ret_given = given;
    return 1;
}

uint8_t
store_half(double pct)
{
    if (!(pct > 0))
        return 0;
    double q = round(pct * 2.0);
    return q >= 254.0 ? (uint8_t)254 : (uint8_t)q;
}

double
store_unhalf(uint8_t q)
{
    return (double)q / 2.0;
}

/* A stream of 4-bit nibbles, high half of each byte first. */
struct nib {
    uint8_t *p;
    const uint8_t *in;
    size_t len; /* bytes of `in` */
    size_t n;   /* nibbles written or read */
};

static void
nib_put(struct nib *w, unsigned v)
{
    size_t i = w->n / 2;
    if (w->n % 2 == 0)
        w->p[i] = (uint8_t)(v << 4);
    else
        w->p[i] = (uint8_t)(w->p[i] | (v & 0x0fu));
    w->n++;
}

/* The next nibble, or -1 past the end. */
static int
nib_get(struct nib *r)
{
    size_t i = r->n / 2;
    if (i >= r->len)
        return -1;
    int v = r->n % 2 == 0 ? r->in[i] >> 4 : r->in[i] & 0x0f;
    r->n++;
    return v;
}

size_t
store_hour_encode(const struct store_hour *h, uint8_t *out)
{
    out[0] = (uint8_t)STORE_HOUR_FORMAT;
    out[1] = (uint8_t)STORE_RU_COLS;
    for (unsigned b = 0; b < 8; b++)
        out[2 + b] = (uint8_t)(h->present >> (8 * b));
    struct nib w = {.p = out + STORE_HOUR_HEADER};
    for (unsigned c = 0; c < STORE_RU_COLS; c++) {
        int prev = 0;
        for (unsigned m = 0; m < STORE_RU_MINUTES; m++) {
            if ((h->present & ((uint64_t)1 << m)) == 0)
                continue;
            int v = h->q[m][c];
            int d = v - prev;
            unsigned zz = d >= 0 ? 2u * (unsigned)d : 2u * (unsigned)(-d) - 1u;
            if (zz < 15) {
                nib_put(&w, zz);
            } else {
                nib_put(&w, 15);
                nib_put(&w, (unsigned)v >> 4);
                nib_put(&w, (unsigned)v & 0x0fu);
            }
            prev = v;
        }
    }
    return STORE_HOUR_HEADER + (w.n + 1) / 2;
}

/* One column of the present minutes of *h from `r`. 0 or -EINVAL. */
static int
hour_column(struct nib *r, struct store_hour *h, unsigned c, bool keep)
{
    int prev = 0;
    for (unsigned m = 0; m < STORE_RU_MINUTES; m++) {
        if ((h->present & ((uint64_t)1 << m)) == 0)
            continue;
        int z = nib_get(r);
        int v;
        if (z < 0)
            return -EINVAL;
        if (z == 15) {
            int hi = nib_get(r);
            int lo = nib_get(r);
            if (hi < 0 || lo < 0)
                return -EINVAL;
            v = hi << 4 | lo;
        } else {
            v = prev + (z % 2 == 0 ? z / 2 : -(z + 1) / 2);
        }
        if (v < 0 || v > 254)
            return -EINVAL;
        if (keep)
            h->q[m][c] = (uint8_t)v;
        prev = v;
    }
    return 0;
}

int
store_hour_decode(const uint8_t *p, size_t len, struct store_hour *ret)
{
    if (len < STORE_HOUR_HEADER || p[0] != STORE_HOUR_FORMAT || p[1] < STORE_RU_USAGE_COLS)
        return -EINVAL;
    memset(ret, 0, sizeof(*ret));
    for (unsigned m = 0; m < STORE_RU_MINUTES; m++) {
        for (unsigned c = p[1]; c < STORE_RU_COLS; c++)
            ret->q[m][c] = (uint8_t)STORE_RU_NONE; /* an older row: not measured */
    }
    for (unsigned b = 0; b < 8; b++)
        ret->present |= (uint64_t)p[2 + b] << (8 * b);
    if (ret->present >> STORE_RU_MINUTES != 0)
        return -EINVAL;
    struct nib r = {.in = p + STORE_HOUR_HEADER, .len = len - STORE_HOUR_HEADER};
    for (unsigned c = 0; c < p[1]; c++) {
        if (hour_column(&r, ret, c < STORE_RU_COLS ? c : 0, c < STORE_RU_COLS) < 0)
            return -EINVAL;
    }
    /* Nothing after the last column but the padding of its last byte. */
    return (r.n + 1) / 2 == r.len ? 0 : -EINVAL;
}

/* The store's compact encodings (store_codec.h). */
#include "store/store_codec.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

/* `pct` in steps of 1/`per` percent, rounded, from 0 to `most` steps (not a number: 0). */
static double
steps(double pct, double per, double most)
{
    if (!(pct > 0))
        return 0;
    double q = round(pct * per);
    return q >= most ? most : q;
}

uint16_t
store_centi(double pct)
{
    return (uint16_t)steps(pct, 100.0, 65534.0);
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
    return (uint8_t)steps(pct, 2.0, 254.0);
}

double
store_unhalf(uint8_t q)
{
    return (double)q / 2.0;
}

/* A stream of 4-bit nibbles, high half of each byte first (format 1). */
struct nib {
    const uint8_t *in;
    size_t len; /* bytes of `in` */
    size_t n;   /* nibbles written or read */
};

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

/* Format 2's column modes (store_codec.h): Rice codes of parameter 0 to 3, nibbles as in
 * format 1, or every value the first. HOUR_MODES counts those whose costs are compared
 * (all but HOUR_SAME, taken whenever it applies). */
#define HOUR_NIBBLE 4u
#define HOUR_SAME 5u
#define HOUR_MODES (HOUR_NIBBLE + 1u)
/* A quotient this large is written as this many ones and the value itself in 8 bits. */
#define HOUR_RICE_ESCAPE 7u

/* A stream of bits, most significant first within each byte (format 2). */
struct bits {
    uint8_t *p;
    const uint8_t *in;
    size_t len; /* bytes of `in` */
    size_t n;   /* bits written or read */
};

static void
bits_put(struct bits *w, unsigned v, unsigned count)
{
    for (unsigned i = count; i-- > 0;) {
        size_t byte = w->n / 8;
        unsigned shift = 7u - (unsigned)(w->n % 8);
        if (shift == 7)
            w->p[byte] = 0;
        if ((v >> i) & 1u)
            w->p[byte] = (uint8_t)(w->p[byte] | (1u << shift));
        w->n++;
    }
}

/* The next `count` bits as a number, or -1 past the end. */
static int
bits_get(struct bits *r, unsigned count)
{
    int v = 0;
    for (unsigned i = 0; i < count; i++) {
        size_t byte = r->n / 8;
        if (byte >= r->len)
            return -1;
        v = v << 1 | ((r->in[byte] >> (7u - (unsigned)(r->n % 8))) & 1);
        r->n++;
    }
    return v;
}

static unsigned
zigzag(int d)
{
    return d >= 0 ? 2u * (unsigned)d : 2u * (unsigned)(-d) - 1u;
}

static int
unzigzag(unsigned z)
{
    return z % 2 == 0 ? (int)(z / 2) : -(int)((z + 1) / 2);
}

/* The bits one value after the first costs in `mode`, as its zig-zag difference `z`. */
static unsigned
value_bits(unsigned mode, unsigned z)
{
    if (mode == HOUR_NIBBLE)
        return z < 15 ? 4 : 12;
    unsigned q = z >> mode;
    return q < HOUR_RICE_ESCAPE ? q + 1 + mode : HOUR_RICE_ESCAPE + 8;
}

static void
value_put(struct bits *w, unsigned mode, unsigned z, int v)
{
    if (mode == HOUR_NIBBLE) {
        if (z < 15) {
            bits_put(w, z, 4);
        } else {
            bits_put(w, 15, 4);
            bits_put(w, (unsigned)v, 8);
        }
        return;
    }
    unsigned q = z >> mode;
    if (q >= HOUR_RICE_ESCAPE) {
        bits_put(w, (1u << HOUR_RICE_ESCAPE) - 1u, HOUR_RICE_ESCAPE);
        bits_put(w, (unsigned)v, 8);
        return;
    }
    bits_put(w, ((1u << q) - 1u) << 1, q + 1); /* q ones, a zero */
    if (mode > 0)
        bits_put(w, z & ((1u << mode) - 1u), mode);
}

/* The values of column `c` of `h` in the minutes present, in order, into `v`. Their count. */
static unsigned
column_values(const struct store_hour *h, unsigned c, int *v)
{
    unsigned n = 0;
    for (unsigned m = 0; m < STORE_RU_MINUTES; m++) {
        if ((h->present >> m & 1u) != 0)
            v[n++] = h->q[m][c];
    }
    return n;
}

/* The cheapest mode for the `n` values `v` of a column. */
static unsigned
column_mode(const int *v, unsigned n)
{
    unsigned cost[HOUR_MODES] = {0};
    bool same = true;
    for (unsigned i = 1; i < n; i++) {
        unsigned z = zigzag(v[i] - v[i - 1]);
        same = same && z == 0;
        for (unsigned mode = 0; mode <= HOUR_NIBBLE; mode++)
            cost[mode] += value_bits(mode, z);
    }
    if (same)
        return HOUR_SAME;
    unsigned best = 0;
    for (unsigned mode = 1; mode <= HOUR_NIBBLE; mode++)
        best = cost[mode] < cost[best] ? mode : best;
    return best;
}

size_t
store_hour_encode(const struct store_hour *h, uint8_t *out)
{
    out[0] = (uint8_t)STORE_HOUR_FORMAT;
    out[1] = (uint8_t)STORE_RU_COLS;
    for (unsigned b = 0; b < 8; b++)
        out[2 + b] = (uint8_t)(h->present >> (8 * b));
    if (h->present == 0)
        return STORE_HOUR_HEADER;
    struct bits w = {.p = out + STORE_HOUR_HEADER};
    for (unsigned c = 0; c < STORE_RU_COLS; c++) {
        int v[STORE_RU_MINUTES];
        unsigned n = column_values(h, c, v);
        unsigned mode = column_mode(v, n);
        bits_put(&w, mode, 3);
        bits_put(&w, (unsigned)v[0], 8);
        for (unsigned i = 1; mode != HOUR_SAME && i < n; i++)
            value_put(&w, mode, zigzag(v[i] - v[i - 1]), v[i]);
    }
    return STORE_HOUR_HEADER + (w.n + 7) / 8;
}

/* One value after the first of a column in `mode` from `r`, `prev` the one before it. The
 * value (0 .. 254), or -1 when the bits are not such a value. */
static int
value_get(struct bits *r, unsigned mode, int prev)
{
    int v;
    if (mode == HOUR_NIBBLE) {
        int z = bits_get(r, 4);
        v = z < 0 ? -1 : z == 15 ? bits_get(r, 8) : prev + unzigzag((unsigned)z);
    } else {
        unsigned q = 0;
        int b = 0;
        while (q < HOUR_RICE_ESCAPE && (b = bits_get(r, 1)) == 1)
            q++;
        if (q < HOUR_RICE_ESCAPE && b < 0)
            return -1;
        if (q == HOUR_RICE_ESCAPE) {
            v = bits_get(r, 8);
        } else {
            int low = mode > 0 ? bits_get(r, mode) : 0;
            v = low < 0 ? -1 : prev + unzigzag(q << mode | (unsigned)low);
        }
    }
    return v >= 0 && v <= 254 ? v : -1;
}

/* One column of a format-2 hour from `r` into *h (`keep`: a column this vmloc knows). 0 or
 * -EINVAL. */
static int
hour2_column(struct bits *r, struct store_hour *h, unsigned c, bool keep)
{
    int mode = bits_get(r, 3);
    if (mode < 0 || mode > (int)HOUR_SAME)
        return -EINVAL;
    bool first = true;
    int prev = 0;
    for (unsigned m = 0; m < STORE_RU_MINUTES; m++) {
        if ((h->present & ((uint64_t)1 << m)) == 0)
            continue;
        int v = first               ? bits_get(r, 8)
                : mode == HOUR_SAME ? prev
                                    : value_get(r, (unsigned)mode, prev);
        if (v < 0 || v > 254)
            return -EINVAL;
        if (keep)
            h->q[m][c] = (uint8_t)v;
        first = false;
        prev = v;
    }
    return 0;
}

/* The columns of a format-2 hour, after its header. 0 or -EINVAL. */
static int
hour2_decode(const uint8_t *p, size_t len, unsigned cols, struct store_hour *ret)
{
    struct bits r = {.in = p, .len = len};
    if (ret->present == 0)
        return len == 0 ? 0 : -EINVAL;
    for (unsigned c = 0; c < cols; c++) {
        if (hour2_column(&r, ret, c < STORE_RU_COLS ? c : 0, c < STORE_RU_COLS) < 0)
            return -EINVAL;
    }
    /* Nothing after the last column but zero bits up to the end of its byte. */
    if ((r.n + 7) / 8 != len)
        return -EINVAL;
    return r.n % 8 == 0 || (p[len - 1] & ((1u << (8 - r.n % 8)) - 1u)) == 0 ? 0 : -EINVAL;
}

/* One column of a format-1 hour from `r`. 0 or -EINVAL. */
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
    if (len < STORE_HOUR_HEADER || (p[0] != STORE_HOUR_FORMAT && p[0] != 1) ||
        p[1] < STORE_RU_USAGE_COLS)
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
    if (p[0] == STORE_HOUR_FORMAT)
        return hour2_decode(p + STORE_HOUR_HEADER, len - STORE_HOUR_HEADER, p[1], ret);
    /* Format 1, written before format 2 (kept for the rows of then). */
    struct nib r = {.in = p + STORE_HOUR_HEADER, .len = len - STORE_HOUR_HEADER};
    for (unsigned c = 0; c < p[1]; c++) {
        if (hour_column(&r, ret, c < STORE_RU_COLS ? c : 0, c < STORE_RU_COLS) < 0)
            return -EINVAL;
    }
    /* Nothing after the last column but the padding of its last byte. */
    return (r.n + 1) / 2 == r.len ? 0 : -EINVAL;
}

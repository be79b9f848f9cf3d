/* Unit tests of the snapshot decoder and encoder (proto/snapshot.h) against
 * spec/snapshot.schema.md: valid snapshots with every optional field and every default,
 * ignored unknown keys, any chunking of the input giving the same result, every kind of bad
 * input rejected with the field's path in the message, and encode/decode round trips.
 * Table-driven: each table row becomes one cmocka test. No I/O. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka.h needs the headers above included first. */
#include <cmocka.h>

#include <jansson.h>

#include "core/model.h"
#include "proto/perr.h"
#include "proto/snapshot.h"

#define SRC "t.json"

/* ---------------------------------------------------------------------------------------- */
/* Helpers */

static uint64_t
rng_next(uint64_t *s)
{
    /* xorshift64*: deterministic chunk sizes without rand(). */
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static char *xstrdup_printf(const char *fmt, ...) PRINTF_LIKE(1, 2);

static char *
xstrdup_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    char *s = malloc((size_t)n + 1);
    assert_non_null(s);
    va_start(ap, fmt);
    (void)vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* A string of `n` copies of `unit` between `pre` and `post`. */
static char *
repeat(const char *pre, const char *unit, size_t n, const char *mid, const char *unit2, size_t n2,
       const char *post, size_t *ret_len)
{
    size_t lp = strlen(pre), lu = strlen(unit), lm = strlen(mid), lu2 = strlen(unit2);
    size_t lq = strlen(post);
    size_t len = lp + lu * n + lm + lu2 * n2 + lq;
    char *s = malloc(len + 1);
    assert_non_null(s);
    char *p = s;
    memcpy(p, pre, lp);
    p += lp;
    for (size_t i = 0; i < n; i++) {
        memcpy(p, unit, lu);
        p += lu;
    }
    memcpy(p, mid, lm);
    p += lm;
    for (size_t i = 0; i < n2; i++) {
        memcpy(p, unit2, lu2);
        p += lu2;
    }
    memcpy(p, post, lq);
    p += lq;
    *p = '\0';
    *ret_len = len;
    return s;
}

enum chunking {
    CHUNK_WHOLE,  /* snapshot_decode() */
    CHUNK_ONE,    /* one feed of everything */
    CHUNK_BYTES,  /* one byte per feed */
    CHUNK_RANDOM, /* random sizes 1..97 (seeded by arg), with empty feeds in between */
    CHUNK_SPLIT,  /* two feeds, split at byte arg */
    CHUNK_FIXED,  /* feeds of arg bytes */
};

static const char *
chunking_name(enum chunking c)
{
    switch (c) {
    case CHUNK_WHOLE:
        return "whole";
    case CHUNK_ONE:
        return "one-feed";
    case CHUNK_BYTES:
        return "byte-by-byte";
    case CHUNK_RANDOM:
        return "random";
    case CHUNK_SPLIT:
        return "split";
    case CHUNK_FIXED:
        return "fixed";
    }
    return "?";
}

/* Decode `buf` with the given chunking. Returns the first error (or 0); *cl filled on 0. */
static int
decode_with(const char *buf, size_t len, const char *source, enum chunking c, uint64_t arg,
            struct cluster *cl, struct perr *err)
{
    memset(err->msg, 0, sizeof(err->msg));
    if (c == CHUNK_WHOLE)
        return snapshot_decode(buf, len, source, cl, err);

    struct snapshot_decoder *d = snapshot_decoder_new(source);
    assert_non_null(d);
    int r = 0;
    size_t off = 0;
    uint64_t seed = arg * 2654435761u + 88172645463325252ULL;
    if (c == CHUNK_SPLIT) {
        /* The first part may be empty: an empty feed must be harmless. */
        size_t n = arg < len ? (size_t)arg : len;
        r = snapshot_decoder_feed(d, buf, n, err);
        if (r != 0)
            goto out;
        off = n;
    }
    while (off < len) {
        size_t n = len - off;
        if (c == CHUNK_BYTES) {
            n = 1;
        } else if (c == CHUNK_RANDOM) {
            uint64_t x = rng_next(&seed);
            if (x % 7 == 0) {
                r = snapshot_decoder_feed(d, buf + off, 0, err);
                if (r != 0)
                    goto out;
            }
            n = (size_t)(x % 97) + 1;
        } else if (c == CHUNK_FIXED) {
            n = (size_t)arg;
        }
        if (n > len - off)
            n = len - off;
        r = snapshot_decoder_feed(d, buf + off, n, err);
        if (r != 0)
            goto out;
        off += n;
    }
    r = snapshot_decoder_finish(d, cl, err);
out:
    snapshot_decoder_free(d);
    return r;
}

static bool
usage_equal(const struct usage *a, const struct usage *b)
{
    if (a->present != b->present)
        return false;
    for (int k = 0; k < KIND_COUNT; k++) {
        if (!(a->present & KIND_BIT(k)))
            continue;
        if (a->pct[k] != b->pct[k])
            return false;
    }
    return true;
}

static bool
pressure_equal(const struct pressure *a, const struct pressure *b)
{
    if (a->present != b->present)
        return false;
    for (int r = 0; r < PRESSURE_RES_COUNT; r++) {
        for (int l = 0; l < PRESSURE_LINE_COUNT; l++) {
            if (pressure_has(a, (enum pressure_res)r, (enum pressure_line)l) &&
                a->pct[r][l] != b->pct[r][l])
                return false;
        }
    }
    return true;
}

/* Compare two clusters field by field; on a difference write what differs to `why`. */
static bool
cluster_equal(const struct cluster *a, const struct cluster *b, char *why, size_t whylen)
{
    if (a->n_hosts != b->n_hosts || a->n_vms != b->n_vms) {
        snprintf(why, whylen, "counts differ: %zu/%zu hosts, %zu/%zu vms", a->n_hosts, b->n_hosts,
                 a->n_vms, b->n_vms);
        return false;
    }
    if (a->has_time != b->has_time || (a->has_time && a->time != b->time)) {
        snprintf(why, whylen, "time differs: %d %.17g / %d %.17g", a->has_time, a->time,
                 b->has_time, b->time);
        return false;
    }
    for (size_t i = 0; i < a->n_hosts; i++) {
        const struct host *x = &a->hosts[i], *y = &b->hosts[i];
        if (strcmp(x->name, y->name) != 0 || !usage_equal(&x->usage, &y->usage) ||
            x->capacity != y->capacity || x->has_mem != y->has_mem ||
            (x->has_mem && x->mem_mib != y->mem_mib) || x->vm_first != y->vm_first ||
            x->vm_count != y->vm_count || x->state != y->state ||
            !pressure_equal(&x->pressure, &y->pressure)) {
            snprintf(why, whylen, "host %zu differs (%s / %s)", i, x->name, y->name);
            return false;
        }
    }
    for (size_t i = 0; i < a->n_vms; i++) {
        const struct vm *x = &a->vms[i], *y = &b->vms[i];
        if (strcmp(x->name, y->name) != 0 || !usage_equal(&x->usage, &y->usage) ||
            x->has_mem != y->has_mem || (x->has_mem && x->mem_mib != y->mem_mib) ||
            x->priority != y->priority || x->host != y->host || x->pinned != y->pinned ||
            x->arrived != y->arrived || x->has_cpu_wait != y->has_cpu_wait ||
            (x->has_cpu_wait && x->cpu_wait_pct != y->cpu_wait_pct) ||
            x->moves_count != y->moves_count ||
            (x->moves_count > 0 && memcmp(cluster_vm_moves(a, x), cluster_vm_moves(b, y),
                                          x->moves_count * sizeof(double)) != 0)) {
            snprintf(why, whylen, "vm %zu differs (%s / %s)", i, x->name, y->name);
            return false;
        }
    }
    return true;
}

static void
assert_cluster_equal(const struct cluster *a, const struct cluster *b, const char *ctx)
{
    char why[256];
    if (!cluster_equal(a, b, why, sizeof(why)))
        fail_msg("%s: %s", ctx, why);
}

static bool
msg_is_one_clean_line(const char *m)
{
    if (m[0] == '\0')
        return false;
    for (const unsigned char *p = (const unsigned char *)m; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return false;
    }
    return true;
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static bool
utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        unsigned min, cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, min = 0x80, cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, min = 0x800, cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, min = 0x10000, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + len > n)
            return false;
        for (size_t j = 1; j < len; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

/* Does `msg` name the field `path`? Either "PATH:" appears, or, for a missing field
 * (`missing`), "PARENT:" followed later by the leaf key ("hosts[0]: name is required"). */
static bool
names_path(const char *msg, const char *path, bool missing)
{
    char want[512];
    snprintf(want, sizeof(want), "%s:", path);
    if (strstr(msg, want) != NULL)
        return true;
    if (!missing)
        return false;
    const char *dot = strrchr(path, '.');
    if (dot == NULL)
        return strstr(msg, path) != NULL;
    snprintf(want, sizeof(want), "%.*s:", (int)(dot - path), path);
    const char *p = strstr(msg, want);
    return p != NULL && strstr(p + strlen(want), dot + 1) != NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* Valid snapshots checked field by field */

static const char full_json[] =
    "{\n"
    "  \"time\": 1764140400.5,\n"
    "  \"hosts\": [\n"
    "    {\n"
    "      \"name\": \"h1\",\n"
    "      \"capacity\": 1.5,\n"
    "      \"mem_mib\": 65536,\n"
    "      \"state\": \"maintenance\",\n"
    "      \"usage\": {\"cpu\": 84.0, \"mem_bw\": 1.25, \"disk\": 12.5, \"net\": 100},\n"
    "      \"vms\": [\n"
    "        {\"name\": \"web-1\", \"usage\": {\"cpu\": 30.0, \"disk\": 4.0},\n"
    "         \"mem_mib\": 4096, \"priority\": 7, \"pinned\": true, \"arrived\": 1764140100,\n"
    "         \"moves\": [1764100000, 1764100000, 1764140100.25]},\n"
    "        {\"name\": \"web-2\", \"usage\": {\"cpu\": 0, \"net\": 0.001},\n"
    "         \"mem_mib\": 0, \"priority\": -3, \"pinned\": false}\n"
    "      ]\n"
    "    },\n"
    "    {\"name\": \"empty\", \"usage\": {\"cpu\": 0}, \"state\": \"down\", \"vms\": []},\n"
    "    {\"name\": \"h3\", \"usage\": {\"cpu\": 50}, \"state\": \"up\",\n"
    "     \"vms\": [{\"name\": \"db\", \"usage\": {\"cpu\": 25, \"mem_bw\": 99.5}}]}\n"
    "  ]\n"
    "}\n";

static void
check_full(const struct cluster *cl)
{
    assert_true(cl->has_time);
    assert_true(cl->time == 1764140400.5);
    assert_int_equal(cl->n_hosts, 3);
    assert_int_equal(cl->n_vms, 3);

    const struct host *h = &cl->hosts[0];
    assert_string_equal(h->name, "h1");
    assert_true(h->capacity == 1.5);
    assert_true(h->has_mem);
    assert_true(h->mem_mib == 65536);
    assert_int_equal(h->state, HOST_MAINTENANCE);
    assert_int_equal(h->usage.present, KIND_MASK_ALL);
    assert_true(usage_get(&h->usage, KIND_CPU) == 84.0);
    assert_true(usage_get(&h->usage, KIND_MEM_BW) == 1.25);
    assert_true(usage_get(&h->usage, KIND_DISK) == 12.5);
    assert_true(usage_get(&h->usage, KIND_NET) == 100);
    assert_int_equal(h->vm_first, 0);
    assert_int_equal(h->vm_count, 2);

    const struct vm *v = &cl->vms[0];
    assert_string_equal(v->name, "web-1");
    assert_int_equal(v->usage.present, KIND_BIT(KIND_CPU) | KIND_BIT(KIND_DISK));
    assert_true(usage_get(&v->usage, KIND_CPU) == 30.0);
    assert_true(usage_get(&v->usage, KIND_DISK) == 4.0);
    assert_true(usage_get(&v->usage, KIND_NET) == 0.0);
    assert_true(v->has_mem);
    assert_true(v->mem_mib == 4096);
    assert_int_equal(v->priority, 7);
    assert_true(v->pinned);
    assert_true(v->arrived == 1764140100);
    assert_int_equal(v->moves_count, 3);
    assert_true(cluster_vm_moves(cl, v)[0] == 1764100000);
    assert_true(cluster_vm_moves(cl, v)[2] == 1764140100.25);
    assert_int_equal(v->host, 0);

    v = &cl->vms[1];
    assert_string_equal(v->name, "web-2");
    assert_int_equal(v->usage.present, KIND_BIT(KIND_CPU) | KIND_BIT(KIND_NET));
    assert_true(usage_get(&v->usage, KIND_NET) == 0.001);
    assert_true(v->has_mem);
    assert_true(v->mem_mib == 0);
    assert_int_equal(v->priority, -3);
    assert_false(v->pinned);
    assert_true(v->arrived < 0); /* not given: unknown */
    assert_int_equal(v->moves_count, 0);
    assert_int_equal(v->host, 0);

    h = &cl->hosts[1];
    assert_string_equal(h->name, "empty");
    assert_true(h->capacity == 1.0);
    assert_false(h->has_mem);
    assert_int_equal(h->state, HOST_DOWN);
    assert_int_equal(h->usage.present, KIND_BIT(KIND_CPU));
    assert_int_equal(h->vm_count, 0);

    h = &cl->hosts[2];
    assert_string_equal(h->name, "h3");
    assert_int_equal(h->state, HOST_UP);
    assert_int_equal(h->vm_first, 2);
    assert_int_equal(h->vm_count, 1);
    v = &cl->vms[2];
    assert_string_equal(v->name, "db");
    assert_int_equal(v->host, 2);
    assert_true(usage_get(&v->usage, KIND_MEM_BW) == 99.5);
    assert_false(v->has_mem);
    assert_int_equal(v->priority, 0);
    assert_false(v->pinned);
}

static const char defaults_json[] = "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":10},"
                                    "\"vms\":[{\"name\":\"v\",\"usage\":{\"cpu\":5}}]},"
                                    "{\"name\":\"novms\",\"usage\":{\"cpu\":1}}]}";

static void
check_defaults(const struct cluster *cl)
{
    assert_false(cl->has_time);
    assert_int_equal(cl->n_hosts, 2);
    assert_int_equal(cl->n_vms, 1);
    const struct host *h = &cl->hosts[0];
    assert_true(h->capacity == 1.0);
    assert_int_equal(h->state, HOST_UP);
    assert_false(h->has_mem);
    assert_int_equal(h->usage.present, KIND_BIT(KIND_CPU));
    for (int k = 1; k < KIND_COUNT; k++)
        assert_true(h->usage.pct[k] == 0.0);
    const struct vm *v = &cl->vms[0];
    assert_int_equal(v->priority, 0);
    assert_false(v->pinned);
    assert_false(v->has_mem);
    assert_int_equal(v->usage.present, KIND_BIT(KIND_CPU));
    assert_int_equal(cl->hosts[1].vm_count, 0);
    assert_int_equal(cl->hosts[1].state, HOST_UP);
    /* The contention signals are absent when not given, never zero readings. */
    assert_false(v->has_cpu_wait);
    assert_int_equal(h->pressure.present, 0);
    assert_int_equal(cl->hosts[1].pressure.present, 0);
    assert_true(cl->hosts[1].capacity == 1.0);
}

/* The contention signals: a VM's cpu_wait and a host's pressure, both percent like the
 * agent's sample (docs/protocol.md); lines and resources not given stay absent, and a
 * resource or line this version does not know is ignored. */
static const char contention_json[] =
    "{\"hosts\":[{\"name\":\"h1\",\"usage\":{\"cpu\":90},"
    "\"pressure\":{\"cpu\":{\"some\":12.5,\"full\":0},\"io\":{\"full\":100},"
    "\"irq\":{\"full\":3},\"memory\":{\"total\":7}},"
    "\"vms\":[{\"name\":\"a\",\"usage\":{\"cpu\":40},\"cpu_wait\":0},"
    "{\"name\":\"b\",\"cpu_wait\":100,\"usage\":{\"cpu\":40}},"
    "{\"name\":\"c\",\"usage\":{\"cpu\":5}}]},"
    "{\"name\":\"h2\",\"usage\":{\"cpu\":5},\"pressure\":{}}]}";

static void
check_contention(const struct cluster *cl)
{
    assert_int_equal(cl->n_hosts, 2);
    assert_int_equal(cl->n_vms, 3);
    const struct pressure *p = &cl->hosts[0].pressure;
    assert_int_equal(p->present, PRESSURE_BIT(PRESSURE_CPU, PRESSURE_SOME) |
                                     PRESSURE_BIT(PRESSURE_CPU, PRESSURE_FULL) |
                                     PRESSURE_BIT(PRESSURE_IO, PRESSURE_FULL));
    assert_true(p->pct[PRESSURE_CPU][PRESSURE_SOME] == 12.5);
    assert_true(p->pct[PRESSURE_CPU][PRESSURE_FULL] == 0);
    assert_true(p->pct[PRESSURE_IO][PRESSURE_FULL] == 100);
    assert_false(pressure_has(p, PRESSURE_MEMORY, PRESSURE_SOME));
    assert_int_equal(cl->hosts[1].pressure.present, 0);
    assert_true(cl->vms[0].has_cpu_wait);
    assert_true(cl->vms[0].cpu_wait_pct == 0);
    assert_true(cl->vms[1].has_cpu_wait);
    assert_true(cl->vms[1].cpu_wait_pct == 100);
    assert_false(cl->vms[2].has_cpu_wait);
}

static void
check_empty_hosts(const struct cluster *cl)
{
    assert_int_equal(cl->n_hosts, 0);
    assert_int_equal(cl->n_vms, 0);
    assert_false(cl->has_time);
}

static void
check_empty_hosts_time(const struct cluster *cl)
{
    assert_int_equal(cl->n_hosts, 0);
    assert_true(cl->has_time);
    assert_true(cl->time == 12);
}

static void
check_bounds(const struct cluster *cl)
{
    assert_int_equal(cl->n_hosts, 1);
    const struct host *h = &cl->hosts[0];
    assert_true(h->capacity == 0.001);
    assert_true(h->has_mem);
    assert_true(h->mem_mib == 0);
    assert_true(usage_get(&h->usage, KIND_CPU) == 100);
    assert_true(usage_get(&h->usage, KIND_DISK) == 0);
    assert_int_equal(h->usage.present, KIND_BIT(KIND_CPU) | KIND_BIT(KIND_DISK));
    assert_int_equal(cl->n_vms, 2);
    assert_true(cl->vms[0].priority == INT64_MAX);
    assert_true(cl->vms[1].priority == INT64_MIN);
    assert_true(usage_get(&cl->vms[0].usage, KIND_CPU) == 0);
    assert_true(usage_get(&cl->vms[1].usage, KIND_CPU) == 100);
}

static void
check_same_name_host_vm(const struct cluster *cl)
{
    /* Host names and VM names are separate namespaces (schema: unique among hosts;
     * VMs unique across the snapshot). */
    assert_int_equal(cl->n_hosts, 2);
    assert_int_equal(cl->n_vms, 2);
    assert_string_equal(cl->hosts[0].name, "a");
    assert_string_equal(cl->vms[0].name, "b");
    assert_string_equal(cl->hosts[1].name, "b");
    assert_string_equal(cl->vms[1].name, "a");
}

static void
check_out_of_order(const struct cluster *cl)
{
    /* vms before name and usage; VM name last; time after hosts. */
    assert_true(cl->has_time);
    assert_true(cl->time == 5);
    assert_int_equal(cl->n_hosts, 2);
    assert_int_equal(cl->n_vms, 3);
    assert_string_equal(cl->hosts[0].name, "h1");
    assert_true(cl->hosts[0].capacity == 2);
    assert_int_equal(cl->hosts[0].vm_first, 0);
    assert_int_equal(cl->hosts[0].vm_count, 2);
    assert_string_equal(cl->vms[0].name, "v1");
    assert_string_equal(cl->vms[1].name, "v2");
    assert_true(cl->vms[1].pinned);
    assert_int_equal(cl->vms[1].priority, 4);
    assert_int_equal(cl->vms[0].host, 0);
    assert_int_equal(cl->vms[1].host, 0);
    assert_string_equal(cl->hosts[1].name, "h2");
    assert_int_equal(cl->hosts[1].vm_first, 2);
    assert_int_equal(cl->hosts[1].vm_count, 1);
    assert_string_equal(cl->vms[2].name, "v3");
    assert_int_equal(cl->vms[2].host, 1);
    assert_true(usage_get(&cl->hosts[1].usage, KIND_CPU) == 7);
}

static void
check_names_utf8(const struct cluster *cl)
{
    assert_int_equal(cl->n_hosts, 2);
    assert_string_equal(cl->hosts[0].name, "h\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    assert_string_equal(cl->hosts[1].name, "q\"b\\s/");
    assert_string_equal(cl->vms[0].name, "\xc3\xa9t\xc3\xa9");
}

static void
check_name_255(const struct cluster *cl)
{
    assert_int_equal(cl->n_hosts, 1);
    assert_int_equal(strlen(cl->hosts[0].name), 255);
    assert_int_equal(cl->n_vms, 1);
    assert_int_equal(strlen(cl->vms[0].name), 255);
}

static void
check_name_255_multibyte(const struct cluster *cl)
{
    assert_int_equal(cl->n_hosts, 1);
    assert_int_equal(strlen(cl->hosts[0].name), 255);
}

static void
check_ignored(const struct cluster *cl)
{
    assert_int_equal(cl->n_hosts, 1);
    assert_int_equal(cl->n_vms, 1);
    assert_string_equal(cl->hosts[0].name, "h");
    assert_true(cl->hosts[0].capacity == 1);
    assert_string_equal(cl->vms[0].name, "v");
    assert_false(cl->vms[0].pinned);
    assert_int_equal(cl->vms[0].priority, 0);
    assert_false(cl->has_time);
}

static char *
gen_name_255(size_t *ret_len)
{
    char name[256];
    memset(name, 'n', 255);
    name[255] = '\0';
    char vname[256];
    memset(vname, 'v', 255);
    vname[255] = '\0';
    char *s = xstrdup_printf("{\"hosts\":[{\"name\":\"%s\",\"usage\":{\"cpu\":1},"
                             "\"vms\":[{\"name\":\"%s\",\"usage\":{\"cpu\":1}}]}]}",
                             name, vname);
    *ret_len = strlen(s);
    return s;
}

static char *
gen_name_255_multibyte(size_t *ret_len)
{
    /* 127 two-byte characters and one ASCII byte: 255 bytes, 128 characters. */
    return repeat("{\"hosts\":[{\"name\":\"a", "\xc3\xa9", 127, "", "", 0,
                  "\",\"usage\":{\"cpu\":1}}]}", ret_len);
}

static char *
gen_deep_ignored_ok(size_t *ret_len)
{
    /* An unknown key nested a few levels deep: total depth well under the limit. */
    return repeat("{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1},\"x\":", "[", 8, "1", "]", 8,
                  ",\"vms\":[{\"name\":\"v\",\"usage\":{\"cpu\":1}}]}]}", ret_len);
}

struct valid_case {
    const char *name;
    const char *json;
    char *(*gen)(size_t *ret_len);
    void (*check)(const struct cluster *cl);
};

static struct valid_case valid_cases[] = {
    {"full example, every field", full_json, NULL, check_full},
    {"defaults: capacity 1, up, not pinned, priority 0", defaults_json, NULL, check_defaults},
    {"empty hosts", "{\"hosts\":[]}", NULL, check_empty_hosts},
    {"empty hosts, whitespace around", " \n\t{ \"hosts\" : [ ] } \r\n ", NULL, check_empty_hosts},
    {"empty hosts with time", "{\"hosts\":[],\"time\":12}", NULL, check_empty_hosts_time},
    {"boundary values accepted",
     "{\"hosts\":[{\"name\":\"h\",\"capacity\":0.001,\"mem_mib\":0,"
     "\"usage\":{\"cpu\":100,\"disk\":0},\"vms\":["
     "{\"name\":\"a\",\"usage\":{\"cpu\":0},\"priority\":9223372036854775807},"
     "{\"name\":\"b\",\"usage\":{\"cpu\":100.0},\"priority\":-9223372036854775808}]}]}",
     NULL, check_bounds},
    {"host and VM may share a name",
     "{\"hosts\":[{\"name\":\"a\",\"usage\":{\"cpu\":1},\"vms\":[{\"name\":\"b\","
     "\"usage\":{\"cpu\":1}}]},{\"name\":\"b\",\"usage\":{\"cpu\":1},\"vms\":[{\"name\":"
     "\"a\",\"usage\":{\"cpu\":1}}]}]}",
     NULL, check_same_name_host_vm},
    {"keys in any order",
     "{\"hosts\":[{\"vms\":[{\"usage\":{\"cpu\":1},\"name\":\"v1\"},"
     "{\"pinned\":true,\"usage\":{\"cpu\":2},\"priority\":4,\"name\":\"v2\"}],"
     "\"usage\":{\"cpu\":9},\"capacity\":2,\"name\":\"h1\"},"
     "{\"usage\":{\"cpu\":7},\"vms\":[{\"usage\":{\"cpu\":3},\"name\":\"v3\"}],"
     "\"name\":\"h2\"}],\"time\":5}",
     NULL, check_out_of_order},
    {"UTF-8 and escaped names",
     "{\"hosts\":[{\"name\":\"h\\u00e9\xe2\x82\xac\\ud83d\\ude00\",\"usage\":{\"cpu\":1},"
     "\"vms\":[{\"name\":\"\xc3\xa9t\\u00E9\",\"usage\":{\"cpu\":1}}]},"
     "{\"name\":\"q\\\"b\\\\s\\/\",\"usage\":{\"cpu\":1}}]}",
     NULL, check_names_utf8},
    {"names of exactly 255 bytes", NULL, gen_name_255, check_name_255},
    {"name of 255 bytes, multibyte", NULL, gen_name_255_multibyte, check_name_255_multibyte},
    {"unknown keys everywhere ignored, nested values too",
     "{\"version\":2,\"meta\":{\"hosts\":5,\"name\":[1,{\"usage\":{\"gpu\":1}}],\"x\":null},"
     "\"list\":[{\"hosts\":[]},[[]],\"s\",true,false,null,1.5e3],"
     "\"hosts\":[{\"name\":\"h\",\"rack\":\"r1\",\"tags\":[\"a\",{\"capacity\":-1}],"
     "\"extra\":{\"vms\":{\"name\":1},\"state\":\"weird\"},\"usage\":{\"cpu\":1},"
     "\"vms\":[{\"name\":\"v\",\"usage\":{\"cpu\":1},\"uuid\":\"x\",\"disks\":[{\"size\":1}],"
     "\"cfg\":{\"pinned\":\"yes\",\"priority\":1.5,\"usage\":{\"cpu\":500}}}]}],"
     "\"trailer\":{}}",
     NULL, check_ignored},
    {"unknown key nested 8 deep", NULL, gen_deep_ignored_ok, check_ignored},
    {"cpu_wait and pressure", contention_json, NULL, check_contention},
};

static const char *
valid_input(const struct valid_case *vc, size_t *ret_len, char **ret_owned)
{
    *ret_owned = NULL;
    if (vc->gen != NULL) {
        *ret_owned = vc->gen(ret_len);
        return *ret_owned;
    }
    *ret_len = strlen(vc->json);
    return vc->json;
}

static void
test_valid(void **state)
{
    const struct valid_case *vc = *state;
    size_t len;
    char *owned;
    const char *in = valid_input(vc, &len, &owned);
    struct cluster cl;
    struct perr err;
    cluster_init(&cl);
    int r = decode_with(in, len, SRC, CHUNK_WHOLE, 0, &cl, &err);
    if (r != 0)
        fail_msg("%s: rejected (%d): %s", vc->name, r, err.msg);
    vc->check(&cl);
    cluster_done(&cl);
    free(owned);
}

/* Every chunking gives the same cluster as one call. */
static void
test_valid_chunking(void **state)
{
    const struct valid_case *vc = *state;
    size_t len;
    char *owned;
    const char *in = valid_input(vc, &len, &owned);
    struct cluster ref;
    struct perr err;
    cluster_init(&ref);
    int r = decode_with(in, len, SRC, CHUNK_WHOLE, 0, &ref, &err);
    if (r != 0)
        fail_msg("%s: rejected (%d): %s", vc->name, r, err.msg);

    struct {
        enum chunking c;
        uint64_t arg;
    } runs[3 + 16];
    size_t n = 0;
    runs[n].c = CHUNK_ONE;
    runs[n++].arg = 0;
    runs[n].c = CHUNK_BYTES;
    runs[n++].arg = 0;
    for (uint64_t seed = 1; seed <= 16; seed++) {
        runs[n].c = CHUNK_RANDOM;
        runs[n++].arg = seed;
    }
    for (size_t i = 0; i < n; i++) {
        struct cluster cl;
        cluster_init(&cl);
        r = decode_with(in, len, SRC, runs[i].c, runs[i].arg, &cl, &err);
        if (r != 0)
            fail_msg("%s: %s %llu: rejected (%d): %s", vc->name, chunking_name(runs[i].c),
                     (unsigned long long)runs[i].arg, r, err.msg);
        char ctx[160];
        snprintf(ctx, sizeof(ctx), "%s (%s %llu)", vc->name, chunking_name(runs[i].c),
                 (unsigned long long)runs[i].arg);
        assert_cluster_equal(&ref, &cl, ctx);
        cluster_done(&cl);
    }
    /* Every split point into two feeds. */
    for (size_t at = 0; at <= len && len <= 4096; at++) {
        struct cluster cl;
        cluster_init(&cl);
        r = decode_with(in, len, SRC, CHUNK_SPLIT, at, &cl, &err);
        if (r != 0)
            fail_msg("%s: split at %zu: rejected (%d): %s", vc->name, at, r, err.msg);
        char ctx[160];
        snprintf(ctx, sizeof(ctx), "%s (split at %zu)", vc->name, at);
        assert_cluster_equal(&ref, &cl, ctx);
        cluster_done(&cl);
    }
    cluster_done(&ref);
    free(owned);
}

/* Pairs of inputs that must decode to equal clusters. */
struct equiv_case {
    const char *name;
    const char *a;
    const char *b;
};

static const char canon[] = "{\"hosts\":[{\"name\":\"h1\",\"usage\":{\"cpu\":84},"
                            "\"vms\":[{\"name\":\"a\",\"usage\":{\"cpu\":30}},"
                            "{\"name\":\"b\",\"usage\":{\"cpu\":20}}]},"
                            "{\"name\":\"h2\",\"usage\":{\"cpu\":10},\"vms\":[]}]}";

static struct equiv_case equiv_cases[] = {
    {"explicit defaults equal omitted ones",
     "{\"hosts\":[{\"name\":\"h1\",\"capacity\":1,\"state\":\"up\",\"usage\":{\"cpu\":84},"
     "\"vms\":[{\"name\":\"a\",\"usage\":{\"cpu\":30},\"priority\":0,\"pinned\":false},"
     "{\"name\":\"b\",\"usage\":{\"cpu\":20},\"pinned\":false}]},"
     "{\"name\":\"h2\",\"capacity\":1.0,\"usage\":{\"cpu\":10}}]}",
     canon},
    {"unknown top-level keys ignored",
     "{\"a\":1,\"b\":{\"hosts\":[1,2]},\"hosts\":[{\"name\":\"h1\",\"usage\":{\"cpu\":84},"
     "\"vms\":[{\"name\":\"a\",\"usage\":{\"cpu\":30}},"
     "{\"name\":\"b\",\"usage\":{\"cpu\":20}}]},"
     "{\"name\":\"h2\",\"usage\":{\"cpu\":10},\"vms\":[]}],\"c\":[{\"name\":\"zz\"}],"
     "\"d\":\"\",\"e\":null,\"f\":true}",
     canon},
    {"unknown host and VM keys ignored",
     "{\"hosts\":[{\"zone\":{\"a\":[{}]},\"name\":\"h1\",\"usage\":{\"cpu\":84},"
     "\"vms\":[{\"name\":\"a\",\"x\":[1,[2,[3]]],\"usage\":{\"cpu\":30}},"
     "{\"name\":\"b\",\"usage\":{\"cpu\":20},\"y\":{\"name\":\"a\"}}]},"
     "{\"name\":\"h2\",\"usage\":{\"cpu\":10},\"vms\":[],\"z\":-1e300}]}",
     canon},
    {"whitespace and line endings",
     "\r\n{\r\n\t\"hosts\" :\n[ { \"name\" : \"h1\" ,\"usage\":{ \"cpu\" : 84 } , \"vms\" : [\n"
     "{\"name\":\"a\",\"usage\":{\"cpu\":30}} ,\n\t{\"name\":\"b\",\"usage\":{\"cpu\":20}}]},"
     "\n{\"name\":\"h2\",\"usage\":{\"cpu\":10},\"vms\":[ ]}\n]\n}\n\n",
     canon},
    {"number spellings",
     "{\"hosts\":[{\"name\":\"h1\",\"usage\":{\"cpu\":84.0},"
     "\"vms\":[{\"name\":\"a\",\"usage\":{\"cpu\":3e1}},"
     "{\"name\":\"b\",\"usage\":{\"cpu\":2.0E+1}}]},"
     "{\"name\":\"h2\",\"usage\":{\"cpu\":1000e-2},\"vms\":[]}]}",
     canon},
    {"escaped names",
     "{\"hosts\":[{\"name\":\"\\u0068\\u0031\",\"usage\":{\"cpu\":84},"
     "\"vms\":[{\"name\":\"\\u0061\",\"usage\":{\"cpu\":30}},"
     "{\"name\":\"b\",\"usage\":{\"cpu\":20}}]},"
     "{\"name\":\"h\\u0032\",\"usage\":{\"cpu\":10},\"vms\":[]}]}",
     canon},
    {"escaped keys",
     "{\"\\u0068osts\":[{\"n\\u0061me\":\"h1\",\"usage\":{\"c\\u0070u\":84},"
     "\"vms\":[{\"name\":\"a\",\"usage\":{\"cpu\":30}},"
     "{\"name\":\"b\",\"usage\":{\"cpu\":20}}]},"
     "{\"name\":\"h2\",\"usage\":{\"cpu\":10},\"vms\":[]}]}",
     canon},
    {"vms omitted equals vms empty", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1}}]}",
     "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1},\"vms\":[]}]}"},
};

static void
test_equiv(void **state)
{
    const struct equiv_case *ec = *state;
    struct cluster a, b;
    struct perr err;
    cluster_init(&a);
    cluster_init(&b);
    int r = snapshot_decode(ec->a, strlen(ec->a), SRC, &a, &err);
    if (r != 0)
        fail_msg("%s: first rejected (%d): %s", ec->name, r, err.msg);
    r = snapshot_decode(ec->b, strlen(ec->b), SRC, &b, &err);
    if (r != 0)
        fail_msg("%s: second rejected (%d): %s", ec->name, r, err.msg);
    assert_cluster_equal(&a, &b, ec->name);
    /* And byte by byte. */
    cluster_done(&b);
    cluster_init(&b);
    r = decode_with(ec->a, strlen(ec->a), SRC, CHUNK_BYTES, 0, &b, &err);
    if (r != 0)
        fail_msg("%s: byte by byte rejected (%d): %s", ec->name, r, err.msg);
    assert_cluster_equal(&a, &b, ec->name);
    cluster_done(&a);
    cluster_done(&b);
}

/* ---------------------------------------------------------------------------------------- */
/* Bad input */

#define BAD_E2BIG_OK 1u /* -E2BIG accepted as well as -EINVAL (a limit) */
#define BAD_MISSING 2u  /* a missing field: "PARENT: ... LEAF" accepted too */

struct bad_case {
    const char *name;
    const char *json; /* NUL-terminated, unless len is set */
    size_t len;
    char *(*gen)(size_t *ret_len);
    const char *path; /* the field the message must name, or NULL (syntax errors) */
    unsigned flags;
};

static char *
gen_65_moves(size_t *ret_len)
{
    size_t cap = 2048;
    char *s = malloc(cap);
    assert_non_null(s);
    int n = snprintf(s, cap,
                     "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1},\"vms\":[{"
                     "\"name\":\"v\",\"usage\":{\"cpu\":1},\"moves\":[");
    for (int i = 0; i < 65; i++)
        n += snprintf(s + n, cap - (size_t)n, "%s%d", i > 0 ? "," : "", 1000 + i);
    n += snprintf(s + n, cap - (size_t)n, "]}]}]}");
    *ret_len = (size_t)n;
    return s;
}

static char *
gen_deep_top(size_t *ret_len)
{
    return repeat("", "[", 100000, "", "", 0, "", ret_len);
}

static char *
gen_deep_top_closed(size_t *ret_len)
{
    return repeat("", "[", 100000, "", "]", 100000, "", ret_len);
}

static char *
gen_deep_value(size_t *ret_len)
{
    return repeat("{\"hosts\":[],\"x\":", "[", 100000, "", "", 0, "", ret_len);
}

static char *
gen_deep_value_closed(size_t *ret_len)
{
    return repeat("{\"hosts\":[],\"x\":", "[", 100000, "", "]", 100000, "}", ret_len);
}

static char *
gen_deep_objects(size_t *ret_len)
{
    return repeat("{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1},\"x\":", "{\"a\":", 100000,
                  "1", "}", 100000, "}]}", ret_len);
}

static char *
gen_deep_40(size_t *ret_len)
{
    /* 40 levels inside an unknown key: beyond SNAPSHOT_MAX_DEPTH (32) in total. */
    return repeat("{\"hosts\":[],\"x\":", "[", 40, "", "]", 40, "}", ret_len);
}

static char *
gen_long_host_name(size_t *ret_len)
{
    return repeat("{\"hosts\":[{\"name\":\"", "x", 256, "", "", 0, "\",\"usage\":{\"cpu\":1}}]}",
                  ret_len);
}

static char *
gen_long_host_name_multibyte(size_t *ret_len)
{
    /* 128 two-byte characters: 256 bytes. */
    return repeat("{\"hosts\":[{\"name\":\"", "\xc3\xa9", 128, "", "", 0,
                  "\",\"usage\":{\"cpu\":1}}]}", ret_len);
}

static char *
gen_long_host_name_escaped(size_t *ret_len)
{
    /* 256 bytes once unescaped, 1536 as written. */
    return repeat("{\"hosts\":[{\"name\":\"", "\\u0078", 256, "", "", 0,
                  "\",\"usage\":{\"cpu\":1}}]}", ret_len);
}

static char *
gen_very_long_host_name(size_t *ret_len)
{
    return repeat("{\"hosts\":[{\"name\":\"", "x", 1000000, "", "", 0,
                  "\",\"usage\":{\"cpu\":1}}]}", ret_len);
}

static char *
gen_long_vm_name(size_t *ret_len)
{
    return repeat("{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1},\"vms\":[{\"name\":\"", "y",
                  256, "", "", 0, "\",\"usage\":{\"cpu\":1}}]}]}", ret_len);
}

/* A literal with its length, for inputs holding NUL bytes. */
#define LIT(s) s, sizeof(s) - 1

#define H0 "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1}"
#define V0 "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1},\"vms\":[{\"name\":\"v\""

static struct bad_case bad_cases[] = {
    /* Wrong types, every field. */
    {"time is a string", "{\"time\":\"now\",\"hosts\":[]}", 0, NULL, "time", 0},
    {"time is a boolean", "{\"hosts\":[],\"time\":true}", 0, NULL, "time", 0},
    {"time is null", "{\"time\":null,\"hosts\":[]}", 0, NULL, "time", 0},
    {"time is an object", "{\"time\":{},\"hosts\":[]}", 0, NULL, "time", 0},
    {"hosts is an object", "{\"hosts\":{}}", 0, NULL, "hosts", 0},
    {"hosts is a number", "{\"hosts\":3}", 0, NULL, "hosts", 0},
    {"hosts is a string", "{\"hosts\":\"h1\"}", 0, NULL, "hosts", 0},
    {"hosts is null", "{\"hosts\":null}", 0, NULL, "hosts", 0},
    {"host is a number", "{\"hosts\":[5]}", 0, NULL, "hosts[0]", 0},
    {"host is an array", "{\"hosts\":[[]]}", 0, NULL, "hosts[0]", 0},
    {"second host is a string", H0 "},\"h2\"]}", 0, NULL, "hosts[1]", 0},
    {"host name is a number", "{\"hosts\":[{\"name\":1,\"usage\":{\"cpu\":1}}]}", 0, NULL,
     "hosts[0].name", 0},
    /* Bidirectional and invisible formatting characters, raw or escaped, garble terminals. */
    {"host name with a right-to-left override",
     "{\"hosts\":[{\"name\":\"h\\u202e1\",\"usage\":{\"cpu\":1}}]}", 0, NULL, "hosts[0].name", 0},
    {"host name with a raw zero-width space",
     "{\"hosts\":[{\"name\":\"h\xe2\x80\x8b"
     "1\",\"usage\":{\"cpu\":1}}]}",
     0, NULL, "hosts[0].name", 0},
    {"vm name with a C1 control", H0 ",\"vms\":[{\"name\":\"v\\u0085\",\"usage\":{\"cpu\":1}}]}]}",
     0, NULL, "hosts[0].vms[0].name", 0},
    {"host name is null", "{\"hosts\":[{\"name\":null,\"usage\":{\"cpu\":1}}]}", 0, NULL,
     "hosts[0].name", 0},
    {"host name is an array", "{\"hosts\":[{\"name\":[\"h\"],\"usage\":{\"cpu\":1}}]}", 0, NULL,
     "hosts[0].name", 0},
    {"capacity is a string", H0 ",\"capacity\":\"2\"}]}", 0, NULL, "hosts[0].capacity", 0},
    {"capacity is a boolean", H0 ",\"capacity\":true}]}", 0, NULL, "hosts[0].capacity", 0},
    {"capacity is null", H0 ",\"capacity\":null}]}", 0, NULL, "hosts[0].capacity", 0},
    {"host mem_mib is a string", H0 ",\"mem_mib\":\"1G\"}]}", 0, NULL, "hosts[0].mem_mib", 0},
    {"host mem_mib is an array", H0 ",\"mem_mib\":[1]}]}", 0, NULL, "hosts[0].mem_mib", 0},
    {"state is a number", H0 ",\"state\":0}]}", 0, NULL, "hosts[0].state", 0},
    {"state is a boolean", H0 ",\"state\":true}]}", 0, NULL, "hosts[0].state", 0},
    {"state is null", H0 ",\"state\":null}]}", 0, NULL, "hosts[0].state", 0},
    {"host usage is an array", "{\"hosts\":[{\"name\":\"h\",\"usage\":[84]}]}", 0, NULL,
     "hosts[0].usage", 0},
    {"host usage is a number", "{\"hosts\":[{\"name\":\"h\",\"usage\":84}]}", 0, NULL,
     "hosts[0].usage", 0},
    {"host usage is null", "{\"hosts\":[{\"name\":\"h\",\"usage\":null}]}", 0, NULL,
     "hosts[0].usage", 0},
    {"host usage.cpu is a string", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":\"84\"}}]}", 0,
     NULL, "hosts[0].usage.cpu", 0},
    {"host usage.cpu is null", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":null}}]}", 0, NULL,
     "hosts[0].usage.cpu", 0},
    {"host usage.cpu is a boolean", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":false}}]}", 0,
     NULL, "hosts[0].usage.cpu", 0},
    {"host usage.cpu is an object", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":{}}}]}", 0,
     NULL, "hosts[0].usage.cpu", 0},
    {"host usage.cpu is an array", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":[1]}}]}", 0,
     NULL, "hosts[0].usage.cpu", 0},
    {"host usage.disk is a string",
     "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1,\"disk\":\"x\"}}]}", 0, NULL,
     "hosts[0].usage.disk", 0},
    {"host usage.mem_bw is null",
     "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"mem_bw\":null,\"cpu\":1}}]}", 0, NULL,
     "hosts[0].usage.mem_bw", 0},
    {"host usage.net is a boolean",
     "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1,\"net\":true}}]}", 0, NULL,
     "hosts[0].usage.net", 0},
    {"vms is an object", H0 ",\"vms\":{}}]}", 0, NULL, "hosts[0].vms", 0},
    {"vms is a string", H0 ",\"vms\":\"a\"}]}", 0, NULL, "hosts[0].vms", 0},
    {"vms is null", H0 ",\"vms\":null}]}", 0, NULL, "hosts[0].vms", 0},
    {"vm is a string", H0 ",\"vms\":[\"a\"]}]}", 0, NULL, "hosts[0].vms[0]", 0},
    {"vm is an array", H0 ",\"vms\":[[]]}]}", 0, NULL, "hosts[0].vms[0]", 0},
    {"vm name is a number", H0 ",\"vms\":[{\"name\":7,\"usage\":{\"cpu\":1}}]}]}", 0, NULL,
     "hosts[0].vms[0].name", 0},
    {"vm name is an object", H0 ",\"vms\":[{\"name\":{},\"usage\":{\"cpu\":1}}]}]}", 0, NULL,
     "hosts[0].vms[0].name", 0},
    {"vm usage is a string", V0 ",\"usage\":\"x\"}]}]}", 0, NULL, "hosts[0].vms[0].usage", 0},
    {"vm usage is an array", V0 ",\"usage\":[]}]}]}", 0, NULL, "hosts[0].vms[0].usage", 0},
    {"vm usage.cpu is a string", V0 ",\"usage\":{\"cpu\":\"1\"}}]}]}", 0, NULL,
     "hosts[0].vms[0].usage.cpu", 0},
    {"vm usage.disk is null", V0 ",\"usage\":{\"cpu\":1,\"disk\":null}}]}]}", 0, NULL,
     "hosts[0].vms[0].usage.disk", 0},
    {"vm mem_mib is a boolean", V0 ",\"usage\":{\"cpu\":1},\"mem_mib\":false}]}]}", 0, NULL,
     "hosts[0].vms[0].mem_mib", 0},
    {"vm mem_mib is a string", V0 ",\"usage\":{\"cpu\":1},\"mem_mib\":\"4096\"}]}]}", 0, NULL,
     "hosts[0].vms[0].mem_mib", 0},
    {"vm priority is a string", V0 ",\"usage\":{\"cpu\":1},\"priority\":\"1\"}]}]}", 0, NULL,
     "hosts[0].vms[0].priority", 0},
    {"vm priority is a boolean", V0 ",\"usage\":{\"cpu\":1},\"priority\":true}]}]}", 0, NULL,
     "hosts[0].vms[0].priority", 0},
    {"vm priority is null", V0 ",\"usage\":{\"cpu\":1},\"priority\":null}]}]}", 0, NULL,
     "hosts[0].vms[0].priority", 0},
    {"vm pinned is a string", V0 ",\"usage\":{\"cpu\":1},\"pinned\":\"true\"}]}]}", 0, NULL,
     "hosts[0].vms[0].pinned", 0},
    {"vm pinned is a number", V0 ",\"usage\":{\"cpu\":1},\"pinned\":1}]}]}", 0, NULL,
     "hosts[0].vms[0].pinned", 0},
    {"vm pinned is null", V0 ",\"usage\":{\"cpu\":1},\"pinned\":null}]}]}", 0, NULL,
     "hosts[0].vms[0].pinned", 0},
    {"second vm of second host, wrong type",
     H0 "},{\"name\":\"h2\",\"usage\":{\"cpu\":1},\"vms\":[{\"name\":\"a\",\"usage\":{\"cpu\":1}},"
        "{\"name\":\"b\",\"usage\":{\"cpu\":1},\"pinned\":0}]}]}",
     0, NULL, "hosts[1].vms[1].pinned", 0},

    /* Missing required fields. */
    {"hosts missing", "{}", 0, NULL, "hosts", BAD_MISSING},
    {"hosts missing, time present", "{\"time\":1}", 0, NULL, "hosts", BAD_MISSING},
    {"host name missing", "{\"hosts\":[{\"usage\":{\"cpu\":1}}]}", 0, NULL, "hosts[0].name",
     BAD_MISSING},
    {"second host name missing", H0 "},{\"usage\":{\"cpu\":1},\"vms\":[]}]}", 0, NULL,
     "hosts[1].name", BAD_MISSING},
    {"host usage missing", "{\"hosts\":[{\"name\":\"h\",\"vms\":[]}]}", 0, NULL, "hosts[0].usage",
     BAD_MISSING},
    {"host usage empty", "{\"hosts\":[{\"name\":\"h\",\"usage\":{}}]}", 0, NULL,
     "hosts[0].usage.cpu", BAD_MISSING},
    {"host usage without cpu", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"disk\":3,\"net\":1}}]}", 0,
     NULL, "hosts[0].usage.cpu", BAD_MISSING},
    {"vm name missing", H0 ",\"vms\":[{\"usage\":{\"cpu\":1}}]}]}", 0, NULL, "hosts[0].vms[0].name",
     BAD_MISSING},
    {"vm usage missing", V0 "}]}]}", 0, NULL, "hosts[0].vms[0].usage", BAD_MISSING},
    {"vm usage without cpu", V0 ",\"usage\":{\"mem_bw\":1}}]}]}", 0, NULL,
     "hosts[0].vms[0].usage.cpu", BAD_MISSING},
    {"third vm name missing",
     H0 ",\"vms\":[{\"name\":\"a\",\"usage\":{\"cpu\":1}},{\"name\":\"b\",\"usage\":{\"cpu\":1}},"
        "{\"usage\":{\"cpu\":1}}]}]}",
     0, NULL, "hosts[0].vms[2].name", BAD_MISSING},

    /* Out of range. */
    {"host cpu above 100", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":100.5}}]}", 0, NULL,
     "hosts[0].usage.cpu", 0},
    {"host cpu negative", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":-1}}]}", 0, NULL,
     "hosts[0].usage.cpu", 0},
    {"host cpu slightly negative", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":-0.0001}}]}", 0,
     NULL, "hosts[0].usage.cpu", 0},
    {"host cpu huge", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1e300}}]}", 0, NULL,
     "hosts[0].usage.cpu", 0},
    {"host net 101", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1,\"net\":101}}]}", 0, NULL,
     "hosts[0].usage.net", 0},
    {"host mem_bw negative", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1,\"mem_bw\":-5}}]}",
     0, NULL, "hosts[0].usage.mem_bw", 0},
    {"second vm cpu 120",
     H0 ",\"vms\":[{\"name\":\"a\",\"usage\":{\"cpu\":30}},{\"name\":\"b\",\"usage\":{\"cpu\":120}"
        "}]}]}",
     0, NULL, "hosts[0].vms[1].usage.cpu", 0},
    {"vm disk negative", V0 ",\"usage\":{\"cpu\":1,\"disk\":-1}}]}]}", 0, NULL,
     "hosts[0].vms[0].usage.disk", 0},
    {"capacity zero", H0 ",\"capacity\":0}]}", 0, NULL, "hosts[0].capacity", 0},
    {"capacity minus zero", H0 ",\"capacity\":-0.0}]}", 0, NULL, "hosts[0].capacity", 0},
    {"capacity negative", H0 ",\"capacity\":-1}]}", 0, NULL, "hosts[0].capacity", 0},
    {"host mem_mib negative", H0 ",\"mem_mib\":-1}]}", 0, NULL, "hosts[0].mem_mib", 0},
    {"vm mem_mib negative", V0 ",\"usage\":{\"cpu\":1},\"mem_mib\":-0.5}]}]}", 0, NULL,
     "hosts[0].vms[0].mem_mib", 0},

    /* Arrival: a time, not before the epoch, given once. */
    {"arrived negative", V0 ",\"usage\":{\"cpu\":1},\"arrived\":-1}]}]}", 0, NULL,
     "hosts[0].vms[0].arrived", 0},
    {"arrived a string", V0 ",\"usage\":{\"cpu\":1},\"arrived\":\"today\"}]}]}", 0, NULL,
     "hosts[0].vms[0].arrived", 0},
    {"arrived twice", V0 ",\"usage\":{\"cpu\":1},\"arrived\":1,\"arrived\":2}]}]}", 0, NULL,
     "hosts[0].vms[0].arrived", 0},

    /* Moves: an array of times, oldest first, at most 64. */
    {"moves a number", V0 ",\"usage\":{\"cpu\":1},\"moves\":5}]}]}", 0, NULL,
     "hosts[0].vms[0].moves", 0},
    {"moves an object", V0 ",\"usage\":{\"cpu\":1},\"moves\":{}}]}]}", 0, NULL,
     "hosts[0].vms[0].moves", 0},
    {"a move a string", V0 ",\"usage\":{\"cpu\":1},\"moves\":[1,\"x\"]}]}]}", 0, NULL,
     "hosts[0].vms[0].moves[1]", 0},
    {"a move an array", V0 ",\"usage\":{\"cpu\":1},\"moves\":[[1]]}]}]}", 0, NULL,
     "hosts[0].vms[0].moves[0]", 0},
    {"a move negative", V0 ",\"usage\":{\"cpu\":1},\"moves\":[-1]}]}]}", 0, NULL,
     "hosts[0].vms[0].moves[0]", 0},
    {"moves out of order", V0 ",\"usage\":{\"cpu\":1},\"moves\":[5,4]}]}]}", 0, NULL,
     "hosts[0].vms[0].moves", 0},
    {"moves twice", V0 ",\"usage\":{\"cpu\":1},\"moves\":[],\"moves\":[]}]}]}", 0, NULL,
     "hosts[0].vms[0].moves", 0},
    {"65 moves", NULL, 0, gen_65_moves, "hosts[0].vms[0].moves[64]", BAD_E2BIG_OK},

    /* Priority must be an integer. */
    {"priority 1.5", V0 ",\"usage\":{\"cpu\":1},\"priority\":1.5}]}]}", 0, NULL,
     "hosts[0].vms[0].priority", 0},
    {"priority -0.25", V0 ",\"usage\":{\"cpu\":1},\"priority\":-0.25}]}]}", 0, NULL,
     "hosts[0].vms[0].priority", 0},
    {"priority beyond int64", V0 ",\"usage\":{\"cpu\":1},\"priority\":99999999999999999999}]}]}", 0,
     NULL, NULL, BAD_E2BIG_OK},

    /* Duplicate names. */
    {"duplicate host names", H0 "},{\"name\":\"h\",\"usage\":{\"cpu\":1}}]}", 0, NULL,
     "hosts[1].name", 0},
    {"duplicate host names, not adjacent",
     H0 "},{\"name\":\"x\",\"usage\":{\"cpu\":1}},{\"name\":\"h\",\"usage\":{\"cpu\":1}}]}", 0,
     NULL, "hosts[2].name", 0},
    {"duplicate vm names across hosts",
     H0 ",\"vms\":[{\"name\":\"a\",\"usage\":{\"cpu\":30}}]},"
        "{\"name\":\"h2\",\"usage\":{\"cpu\":10},\"vms\":[{\"name\":\"a\",\"usage\":{\"cpu\":5}}"
        "]}]}",
     0, NULL, "hosts[1].vms[0].name", 0},
    {"duplicate vm names on one host",
     H0 ",\"vms\":[{\"name\":\"a\",\"usage\":{\"cpu\":3}},{\"name\":\"a\",\"usage\":{\"cpu\":5}}"
        "]}]}",
     0, NULL, "hosts[0].vms[1].name", 0},
    {"duplicate vm names, keys out of order",
     H0 ",\"vms\":[{\"name\":\"a\",\"usage\":{\"cpu\":30}}]},"
        "{\"vms\":[{\"usage\":{\"cpu\":5},\"name\":\"a\"}],\"usage\":{\"cpu\":10},\"name\":"
        "\"h2\"}]}",
     0, NULL, "hosts[1].vms[0].name", 0},
    {"duplicate vm names, spelled differently",
     H0 ",\"vms\":[{\"name\":\"ab\",\"usage\":{\"cpu\":3}},{\"name\":\"\\u0061b\",\"usage\":{"
        "\"cpu\":5}}]}]}",
     0, NULL, "hosts[0].vms[1].name", 0},

    /* Empty and long names. */
    {"empty host name", "{\"hosts\":[{\"name\":\"\",\"usage\":{\"cpu\":1}}]}", 0, NULL,
     "hosts[0].name", 0},
    {"empty vm name", H0 ",\"vms\":[{\"name\":\"\",\"usage\":{\"cpu\":1}}]}]}", 0, NULL,
     "hosts[0].vms[0].name", 0},
    {"host name of 256 bytes", NULL, 0, gen_long_host_name, "hosts[0].name", BAD_E2BIG_OK},
    {"host name of 256 bytes, multibyte", NULL, 0, gen_long_host_name_multibyte, "hosts[0].name",
     BAD_E2BIG_OK},
    {"host name of 256 bytes, escaped", NULL, 0, gen_long_host_name_escaped, "hosts[0].name",
     BAD_E2BIG_OK},
    {"host name of 1000000 bytes", NULL, 0, gen_very_long_host_name, "hosts[0].name", BAD_E2BIG_OK},
    {"vm name of 256 bytes", NULL, 0, gen_long_vm_name, "hosts[0].vms[0].name", BAD_E2BIG_OK},

    /* Unknown keys inside usage, unknown state. */
    {"unknown kind in host usage",
     "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":84,\"gpu\":3}}]}", 0, NULL,
     "hosts[0].usage.gpu", 0},
    {"unknown kind in vm usage", V0 ",\"usage\":{\"gpu\":3,\"cpu\":1}}]}]}", 0, NULL,
     "hosts[0].vms[0].usage.gpu", 0},
    {"kind names are case-sensitive", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"CPU\":84}}]}", 0,
     NULL, "hosts[0].usage.CPU", 0},
    {"unknown kind with an object value",
     "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1,\"x\":{\"a\":1}}}]}", 0, NULL,
     "hosts[0].usage.x", 0},
    {"unknown state", H0 ",\"state\":\"sleeping\"}]}", 0, NULL, "hosts[0].state", 0},
    {"empty state", H0 ",\"state\":\"\"}]}", 0, NULL, "hosts[0].state", 0},
    {"state in upper case", H0 ",\"state\":\"UP\"}]}", 0, NULL, "hosts[0].state", 0},

    /* Not an object at the top. */
    {"top level is an array", "[]", 0, NULL, NULL, 0},
    {"top level is a number", "5", 0, NULL, NULL, 0},
    {"top level is a string", "\"hosts\"", 0, NULL, NULL, 0},
    {"top level is null", "null", 0, NULL, NULL, 0},
    {"top level is true", "true", 0, NULL, NULL, 0},

    /* Truncated, empty, garbage. */
    {"truncated after a host member", "{\"hosts\": [{\"name\": \"h1\", \"usage\": {\"cpu\": 84},",
     0, NULL, NULL, 0},
    {"truncated before the last brace", "{\"hosts\":[]", 0, NULL, NULL, 0},
    {"truncated inside a string", "{\"hosts\":[{\"name\":\"h1", 0, NULL, NULL, 0},
    {"truncated inside a number", "{\"hosts\":[],\"time\":12", 0, NULL, NULL, 0},
    {"truncated inside an escape", "{\"hosts\":[{\"name\":\"h\\u00", 0, NULL, NULL, 0},
    {"just an opening brace", "{", 0, NULL, NULL, 0},
    {"empty input", "", 0, NULL, NULL, 0},
    {"only whitespace", "  \n\t\r\n ", 0, NULL, NULL, 0},
    {"binary garbage", LIT("\x00\x01\x02\xff\xfe\x7f\x80"), NULL, NULL, 0},
    {"ELF header",
     LIT("\x7f"
         "ELF\x02\x01\x01\x00\x00\x00"),
     NULL, NULL, 0},
    {"NUL byte inside the object", LIT("{\"hosts\":[]\0}"), NULL, NULL, 0},
    {"NUL byte inside a name", LIT("{\"hosts\":[{\"name\":\"h\0x\",\"usage\":{\"cpu\":1}}]}"), NULL,
     NULL, 0},
    {"two values without a comma", "{\"a\":1 2}", 0, NULL, NULL, 0},
    {"plain words", "hello world", 0, NULL, NULL, 0},
    {"trailing garbage", "{\"hosts\":[]} x", 0, NULL, NULL, 0},
    {"unfinished string after the object", "{\"hosts\":[]} \"ab", 0, NULL, NULL, 0},
    {"unfinished literal after the object", "{\"hosts\":[]}\ntru", 0, NULL, NULL, 0},
    {"trailing brace", "{\"hosts\":[]}}", 0, NULL, NULL, 0},
    {"two objects", "{\"hosts\":[]}{\"hosts\":[]}", 0, NULL, NULL, 0},
    {"trailing comma in array", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1}},]}", 0, NULL,
     NULL, 0},
    {"trailing comma in object", "{\"hosts\":[],}", 0, NULL, NULL, 0},
    {"single quotes", "{'hosts':[]}", 0, NULL, NULL, 0},
    {"comment", "{\"hosts\":[] /* c */}", 0, NULL, NULL, 0},
    {"unquoted key", "{hosts:[]}", 0, NULL, NULL, 0},

    /* Invalid UTF-8. */
    {"invalid UTF-8 byte in a name", "{\"hosts\":[{\"name\":\"h\xff\",\"usage\":{\"cpu\":1}}]}", 0,
     NULL, NULL, 0},
    {"bad continuation in a name", "{\"hosts\":[{\"name\":\"\xc3\x28\",\"usage\":{\"cpu\":1}}]}", 0,
     NULL, NULL, 0},
    {"overlong encoding in a name", "{\"hosts\":[{\"name\":\"\xc0\xaf\",\"usage\":{\"cpu\":1}}]}",
     0, NULL, NULL, 0},
    {"UTF-8 encoded surrogate in a name",
     "{\"hosts\":[{\"name\":\"\xed\xa0\x80\",\"usage\":{\"cpu\":1}}]}", 0, NULL, NULL, 0},
    {"code point above U+10FFFF in a name",
     "{\"hosts\":[{\"name\":\"\xf4\x90\x80\x80\",\"usage\":{\"cpu\":1}}]}", 0, NULL, NULL, 0},
    {"truncated sequence at the end of a name",
     "{\"hosts\":[{\"name\":\"h\xe2\x82\",\"usage\":{\"cpu\":1}}]}", 0, NULL, NULL, 0},
    {"invalid UTF-8 in an ignored value", "{\"hosts\":[],\"x\":\"\xfe\xfe\"}", 0, NULL, NULL, 0},
    {"invalid UTF-8 in a key", "{\"hosts\":[],\"\xff\":1}", 0, NULL, NULL, 0},

    /* Deep nesting: must fail cleanly. */
    {"100000 '[' at the top", NULL, 0, gen_deep_top, NULL, BAD_E2BIG_OK},
    {"100000 '[' closed, at the top", NULL, 0, gen_deep_top_closed, NULL, BAD_E2BIG_OK},
    {"100000 '[' in an ignored value", NULL, 0, gen_deep_value, NULL, BAD_E2BIG_OK},
    {"100000 '[' closed, in an ignored value", NULL, 0, gen_deep_value_closed, NULL, BAD_E2BIG_OK},
    {"100000 objects in a host's ignored value", NULL, 0, gen_deep_objects, NULL, BAD_E2BIG_OK},
    {"40 levels in an ignored value", NULL, 0, gen_deep_40, NULL, BAD_E2BIG_OK},

    /* Numbers that are not finite or not JSON. */
    {"time 1e999", "{\"time\":1e999,\"hosts\":[]}", 0, NULL, NULL, 0},
    {"time -1e999", "{\"time\":-1e999,\"hosts\":[]}", 0, NULL, NULL, 0},
    {"cpu 1e999", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1e999}}]}", 0, NULL, NULL, 0},
    {"capacity 1e999", H0 ",\"capacity\":1e999}]}", 0, NULL, NULL, 0},
    {"mem_mib 1e999", H0 ",\"mem_mib\":1e999}]}", 0, NULL, NULL, 0},
    {"NaN literal", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":NaN}}]}", 0, NULL, NULL, 0},
    {"Infinity literal", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":Infinity}}]}", 0, NULL,
     NULL, 0},
    {"leading zero", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":012}}]}", 0, NULL, NULL, 0},
    {"leading plus", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":+1}}]}", 0, NULL, NULL, 0},
    {"leading dot", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":.5}}]}", 0, NULL, NULL, 0},
    {"trailing dot", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1.}}]}", 0, NULL, NULL, 0},
    {"hex number", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":0x10}}]}", 0, NULL, NULL, 0},
    {"exponent without digits", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1e}}]}", 0, NULL,
     NULL, 0},

    /* The contention signals: percent, 0..100, like the sample's. */
    {"cpu_wait above 100", V0 ",\"usage\":{\"cpu\":1},\"cpu_wait\":100.5}]}]}", 0, NULL,
     "hosts[0].vms[0].cpu_wait", 0},
    {"cpu_wait negative", V0 ",\"usage\":{\"cpu\":1},\"cpu_wait\":-0.1}]}]}", 0, NULL,
     "hosts[0].vms[0].cpu_wait", 0},
    {"cpu_wait is a string", V0 ",\"usage\":{\"cpu\":1},\"cpu_wait\":\"5\"}]}]}", 0, NULL,
     "hosts[0].vms[0].cpu_wait", 0},
    {"cpu_wait is null", V0 ",\"cpu_wait\":null,\"usage\":{\"cpu\":1}}]}]}", 0, NULL,
     "hosts[0].vms[0].cpu_wait", 0},
    {"cpu_wait is an object", V0 ",\"cpu_wait\":{},\"usage\":{\"cpu\":1}}]}]}", 0, NULL,
     "hosts[0].vms[0].cpu_wait", 0},
    {"cpu_wait twice", V0 ",\"usage\":{\"cpu\":1},\"cpu_wait\":1,\"cpu_wait\":2}]}]}", 0, NULL,
     "hosts[0].vms[0].cpu_wait", 0},
    {"pressure is a number", H0 ",\"pressure\":10}]}", 0, NULL, "hosts[0].pressure", 0},
    {"pressure is an array", H0 ",\"pressure\":[]}]}", 0, NULL, "hosts[0].pressure", 0},
    {"pressure.cpu is a number", H0 ",\"pressure\":{\"cpu\":10}}]}", 0, NULL,
     "hosts[0].pressure.cpu", 0},
    {"pressure.memory is null", H0 ",\"pressure\":{\"memory\":null}}]}", 0, NULL,
     "hosts[0].pressure.memory", 0},
    {"pressure.cpu.some above 100", H0 ",\"pressure\":{\"cpu\":{\"some\":100.01}}}]}", 0, NULL,
     "hosts[0].pressure.cpu.some", 0},
    {"pressure.io.full negative", H0 ",\"pressure\":{\"io\":{\"some\":1,\"full\":-1}}}]}", 0, NULL,
     "hosts[0].pressure.io.full", 0},
    {"pressure.memory.some is a string", H0 ",\"pressure\":{\"memory\":{\"some\":\"1\"}}}]}", 0,
     NULL, "hosts[0].pressure.memory.some", 0},
    {"pressure.cpu.full is an object", H0 ",\"pressure\":{\"cpu\":{\"full\":{}}}}]}", 0, NULL,
     "hosts[0].pressure.cpu.full", 0},
    {"pressure twice", H0 ",\"pressure\":{},\"pressure\":{}}]}", 0, NULL, "hosts[0].pressure", 0},
    {"pressure.cpu twice", H0 ",\"pressure\":{\"cpu\":{},\"cpu\":{}}}]}", 0, NULL,
     "hosts[0].pressure.cpu", 0},
    {"pressure.cpu.some twice", H0 ",\"pressure\":{\"cpu\":{\"some\":1,\"some\":1}}}]}", 0, NULL,
     "hosts[0].pressure.cpu.some", 0},
    {"second host's pressure out of range",
     H0 "},{\"name\":\"g\",\"usage\":{\"cpu\":1},\"pressure\":{\"cpu\":{\"some\":1e3}}}]}", 0, NULL,
     "hosts[1].pressure.cpu.some", 0},

    /* Duplicate keys within one object. */
    {"hosts twice", "{\"hosts\":[],\"hosts\":[]}", 0, NULL, "hosts", 0},
    {"time twice", "{\"time\":1,\"hosts\":[],\"time\":2}", 0, NULL, "time", 0},
    {"host name twice", "{\"hosts\":[{\"name\":\"h\",\"name\":\"g\",\"usage\":{\"cpu\":1}}]}", 0,
     NULL, "hosts[0].name", 0},
    {"host usage twice", H0 ",\"usage\":{\"cpu\":2}}]}", 0, NULL, "hosts[0].usage", 0},
    {"usage cpu twice", "{\"hosts\":[{\"name\":\"h\",\"usage\":{\"cpu\":1,\"cpu\":2}}]}", 0, NULL,
     "hosts[0].usage.cpu", 0},
    {"host vms twice", H0 ",\"vms\":[],\"vms\":[]}]}", 0, NULL, "hosts[0].vms", 0},
    {"host capacity twice", H0 ",\"capacity\":1,\"capacity\":2}]}", 0, NULL, "hosts[0].capacity",
     0},
    {"vm pinned twice", V0 ",\"usage\":{\"cpu\":1},\"pinned\":true,\"pinned\":false}]}]}", 0, NULL,
     "hosts[0].vms[0].pinned", 0},
    {"vm usage disk twice", V0 ",\"usage\":{\"cpu\":1,\"disk\":1,\"disk\":1}}]}]}", 0, NULL,
     "hosts[0].vms[0].usage.disk", 0},
    /* Unknown keys too (they are ignored, but a repeat is no JSON a writer means). */
    {"unknown key twice at the top", "{\"x\":1,\"hosts\":[],\"x\":2}", 0, NULL, "x", 0},
    {"unknown key twice in a host", H0 ",\"x\":1,\"x\":[]}]}", 0, NULL, "hosts[0].x", 0},
    {"unknown key twice in a VM", V0 ",\"usage\":{\"cpu\":1},\"x\":null,\"x\":null}]}]}", 0, NULL,
     "hosts[0].vms[0].x", 0},
    {"key twice inside an ignored value", "{\"hosts\":[],\"x\":{\"a\":1,\"b\":{},\"a\":1}}", 0,
     NULL, "a", 0},
    {"key twice deep in an ignored array", "{\"hosts\":[],\"x\":[[{\"k\":1,\"k\":2}]]}", 0, NULL,
     "k", 0},
};

static const char *
bad_input(const struct bad_case *bc, size_t *ret_len, char **ret_owned)
{
    *ret_owned = NULL;
    if (bc->gen != NULL) {
        *ret_owned = bc->gen(ret_len);
        return *ret_owned;
    }
    *ret_len = bc->len != 0 ? bc->len : strlen(bc->json);
    return bc->json;
}

static void
check_bad_result(const struct bad_case *bc, const char *how, int r, const struct perr *err,
                 struct cluster *cl)
{
    bool code_ok = r == -EINVAL || ((bc->flags & BAD_E2BIG_OK) && r == -E2BIG);
    if (r == 0)
        cluster_done(cl); /* accepted: free it before failing */
    if (!code_ok)
        fail_msg("%s (%s): returned %d, want -EINVAL%s; msg: %s", bc->name, how, r,
                 (bc->flags & BAD_E2BIG_OK) ? " or -E2BIG" : "", r != 0 ? err->msg : "");
    if (!msg_is_one_clean_line(err->msg))
        fail_msg("%s (%s): message empty or not one clean line: \"%s\"", bc->name, how, err->msg);
    if (strncmp(err->msg, SRC ":", strlen(SRC) + 1) != 0)
        fail_msg("%s (%s): message does not start with \"" SRC ":\": %s", bc->name, how, err->msg);
    if (bc->path != NULL &&
        !names_path(err->msg + strlen(SRC) + 1, bc->path, (bc->flags & BAD_MISSING) != 0))
        fail_msg("%s (%s): message does not name %s: %s", bc->name, how, bc->path, err->msg);
    /* *ret_cl untouched on error. */
    if (cl->n_hosts != 0 || cl->n_vms != 0 || cl->hosts != NULL || cl->vms != NULL)
        fail_msg("%s (%s): cluster modified on error", bc->name, how);
}

static void
test_bad(void **state)
{
    const struct bad_case *bc = *state;
    size_t len;
    char *owned;
    const char *in = bad_input(bc, &len, &owned);
    struct cluster cl;
    struct perr err;

    cluster_init(&cl);
    int r = decode_with(in, len, SRC, CHUNK_WHOLE, 0, &cl, &err);
    check_bad_result(bc, "whole", r, &err, &cl);
    char ref[PERR_MAX];
    memcpy(ref, err.msg, sizeof(ref));
    int ref_r = r;

    /* The same error, whatever the chunking. A token split over many feeds may be
     * re-scanned on each one, so inputs with a megabyte-long token get coarser chunks. */
    bool huge = len > 200000;
    enum chunking modes[] = {CHUNK_ONE, huge ? CHUNK_FIXED : CHUNK_BYTES,
                             huge ? CHUNK_FIXED : CHUNK_RANDOM, CHUNK_RANDOM};
    uint64_t args[] = {0, 65536, 4093, 3};
    for (size_t i = 0; i < ARRAY_SIZE(modes); i++) {
        if (huge && modes[i] == CHUNK_RANDOM)
            continue;
        cluster_init(&cl);
        r = decode_with(in, len, SRC, modes[i], args[i], &cl, &err);
        check_bad_result(bc, chunking_name(modes[i]), r, &err, &cl);
        /* A syntax error's column is exact when the offending token lies within one fed
         * chunk; when it straddles two, yajl can only point just past it (documented in
         * snapshot.h). So for syntax errors only the description must agree. */
        const char *a = strstr(ref, "invalid JSON:");
        const char *b = strstr(err.msg, "invalid JSON:");
        bool same = a != NULL && b != NULL ? strcmp(a, b) == 0 : strcmp(ref, err.msg) == 0;
        if (r != ref_r || !same)
            fail_msg("%s: %s gives %d \"%s\", whole gives %d \"%s\"", bc->name,
                     chunking_name(modes[i]), r, err.msg, ref_r, ref);
    }
    free(owned);
}

/* Every proper prefix of a valid snapshot is a truncated file. */
static void
test_every_prefix_truncated(void **state)
{
    (void)state;
    const char *in = full_json;
    size_t len = strlen(in);
    while (len > 0 && (in[len - 1] == '\n' || in[len - 1] == ' '))
        len--;
    for (size_t n = 0; n < len; n++) {
        struct cluster cl;
        struct perr err;
        cluster_init(&cl);
        int r = snapshot_decode(in, n, SRC, &cl, &err);
        if (r != -EINVAL)
            fail_msg("prefix of %zu bytes: returned %d, want -EINVAL", n, r);
        if (!msg_is_one_clean_line(err.msg) || strncmp(err.msg, SRC ":", strlen(SRC) + 1) != 0)
            fail_msg("prefix of %zu bytes: bad message \"%s\"", n, err.msg);
        assert_int_equal(cl.n_hosts, 0);
    }
}

/* A syntax error names its line. */
static void
test_syntax_error_line(void **state)
{
    (void)state;
    const char in[] = "{\n  \"hosts\": [\n    x\n  ]\n}\n";
    struct cluster cl;
    struct perr err;
    cluster_init(&cl);
    int r = snapshot_decode(in, strlen(in), SRC, &cl, &err);
    assert_int_equal(r, -EINVAL);
    if (strstr(err.msg, "line 3") == NULL && strstr(err.msg, ":3:") == NULL)
        fail_msg("syntax error on line 3 not located: %s", err.msg);
    struct perr err2;
    r = decode_with(in, strlen(in), SRC, CHUNK_BYTES, 0, &cl, &err2);
    assert_int_equal(r, -EINVAL);
    assert_string_equal(err.msg, err2.msg);
}

static void
test_source_default(void **state)
{
    (void)state;
    struct cluster cl;
    struct perr err;
    cluster_init(&cl);
    int r = snapshot_decode("{\"hosts\":5}", 11, NULL, &cl, &err);
    assert_int_equal(r, -EINVAL);
    if (strncmp(err.msg, "<stdin>:", 8) != 0)
        fail_msg("NULL source not named <stdin>: %s", err.msg);
    assert_non_null(strstr(err.msg, "hosts"));
}

static void
test_decoder_free_null(void **state)
{
    (void)state;
    snapshot_decoder_free(NULL);
    struct snapshot_decoder *d = snapshot_decoder_new(SRC);
    assert_non_null(d);
    snapshot_decoder_free(d); /* nothing fed */
    d = snapshot_decoder_new(SRC);
    assert_non_null(d);
    struct perr err;
    assert_int_equal(snapshot_decoder_feed(d, "{\"hosts\":[{\"name\":\"h", 20, &err), 0);
    snapshot_decoder_free(d); /* partial cluster freed (checked by ASan) */
}

/* An escaped lone surrogate is well-formed JSON but no character. Rejecting it (naming the
 * field, or the line and column of the escape) and accepting it as valid UTF-8 (for instance
 * U+FFFD) are both fine; turning it into bytes that are not UTF-8, or merging different names into
 * one, is not. */
struct surrogate_case {
    const char *name;
    const char *json;
};

static struct surrogate_case surrogate_cases[] = {
    {"lone high surrogate", "{\"hosts\":[{\"name\":\"a\\ud800\",\"usage\":{\"cpu\":1}}]}"},
    {"lone low surrogate", "{\"hosts\":[{\"name\":\"x\\udc00\",\"usage\":{\"cpu\":1}}]}"},
    {"reversed pair", "{\"hosts\":[{\"name\":\"\\udc00\\ud800\",\"usage\":{\"cpu\":1}}]}"},
    {"high surrogate then a letter", "{\"hosts\":[{\"name\":\"\\ud800x\",\"usage\":{\"cpu\":1}}]}"},
};

static void
test_surrogate(void **state)
{
    const struct surrogate_case *sc = *state;
    struct cluster cl;
    struct perr err;
    cluster_init(&cl);
    int r = snapshot_decode(sc->json, strlen(sc->json), SRC, &cl, &err);
    if (r != 0) {
        if (r != -EINVAL || (!names_path(err.msg, "hosts[0].name", false) &&
                             strstr(err.msg, "surrogate escape") == NULL))
            fail_msg("%s: rejected (%d) without naming hosts[0].name: %s", sc->name, r, err.msg);
        return;
    }
    const char *n = cl.hosts[0].name;
    bool ok = utf8_valid((const unsigned char *)n, strlen(n));
    char hex[64] = "";
    for (size_t i = 0; n[i] != '\0' && i < 12; i++)
        snprintf(hex + 3 * i, sizeof(hex) - 3 * i, " %02x", (unsigned char)n[i]);
    cluster_done(&cl);
    if (!ok)
        fail_msg("%s: accepted as bytes that are not UTF-8:%s", sc->name, hex);
}

static void
test_surrogates_stay_distinct(void **state)
{
    (void)state;
    const char in[] = "{\"hosts\":[{\"name\":\"\\ud800\",\"usage\":{\"cpu\":1}},"
                      "{\"name\":\"\\udbff\",\"usage\":{\"cpu\":1}}]}";
    struct cluster cl;
    struct perr err;
    cluster_init(&cl);
    int r = snapshot_decode(in, strlen(in), SRC, &cl, &err);
    if (r == 0) {
        cluster_done(&cl);
        return;
    }
    /* Rejected: either at the field, or where the unpaired escape stands. */
    if (!names_path(err.msg, "hosts[0].name", false) && strstr(err.msg, "surrogate") == NULL)
        fail_msg("two different (lone surrogate) names: %s", err.msg);
}

/* ---------------------------------------------------------------------------------------- */
/* Encoding */

static void
roundtrip(const struct cluster *cl, const char *ctx)
{
    for (int pretty = 0; pretty <= 1; pretty++) {
        char *s = NULL;
        size_t len = 0;
        int r = snapshot_encode(cl, pretty, &s, &len);
        if (r != 0)
            fail_msg("%s: encode returned %d", ctx, r);
        assert_non_null(s);
        assert_int_equal(len, strlen(s));
        if (!pretty && memchr(s, '\n', len) != NULL)
            fail_msg("%s: compact encoding has a newline: %s", ctx, s);
        /* Valid JSON for any other reader too (jansson checks UTF-8 strictly). */
        json_error_t jerr;
        json_t *j = json_loadb(s, len, 0, &jerr);
        if (j == NULL)
            fail_msg("%s (pretty %d): encoded text is not valid JSON: %s\n%s", ctx, pretty,
                     jerr.text, s);
        if (!json_is_object(j) || !json_is_array(json_object_get(j, "hosts")))
            fail_msg("%s (pretty %d): encoded text has no hosts array\n%s", ctx, pretty, s);
        json_decref(j);
        struct cluster back;
        struct perr err;
        cluster_init(&back);
        r = snapshot_decode(s, len, SRC, &back, &err);
        if (r != 0)
            fail_msg("%s (pretty %d): encoded text rejected (%d): %s\n%s", ctx, pretty, r, err.msg,
                     s);
        char why[256];
        if (!cluster_equal(cl, &back, why, sizeof(why)))
            fail_msg("%s (pretty %d): round trip differs: %s\n%s", ctx, pretty, why, s);
        cluster_done(&back);
        free(s);
    }
}

static void
test_encode_roundtrip_valid(void **state)
{
    const struct valid_case *vc = *state;
    size_t len;
    char *owned;
    const char *in = valid_input(vc, &len, &owned);
    struct cluster cl;
    struct perr err;
    cluster_init(&cl);
    int r = snapshot_decode(in, len, SRC, &cl, &err);
    if (r != 0)
        fail_msg("%s: rejected (%d): %s", vc->name, r, err.msg);
    roundtrip(&cl, vc->name);
    cluster_done(&cl);
    free(owned);
}

static void
test_encode_roundtrip_built(void **state)
{
    (void)state;
    struct cluster cl;
    size_t i;
    cluster_init(&cl);
    cl.has_time = true;
    cl.time = 1764140400.123456789;

    const char *hn = "h \"quoted\" \\ back/slash \xc3\xa9";
    assert_int_equal(cluster_add_host(&cl, hn, strlen(hn), &i), 0);
    cl.hosts[i].capacity = 0.1;
    cl.hosts[i].has_mem = true;
    cl.hosts[i].mem_mib = 123456.75;
    cl.hosts[i].state = HOST_MAINTENANCE;
    usage_set(&cl.hosts[i].usage, KIND_CPU, 12.345678901234567);
    usage_set(&cl.hosts[i].usage, KIND_NET, 1e-7);
    assert_int_equal(cluster_add_vm(&cl, "v1", 2, &i), 0);
    usage_set(&cl.vms[i].usage, KIND_CPU, 0.1 + 0.2);
    usage_set(&cl.vms[i].usage, KIND_MEM_BW, 100);
    usage_set(&cl.vms[i].usage, KIND_DISK, 0);
    cl.vms[i].priority = INT64_MIN;
    cl.vms[i].pinned = true;
    cl.vms[i].has_mem = true;
    cl.vms[i].mem_mib = 0;
    cl.vms[i].has_cpu_wait = true;
    cl.vms[i].cpu_wait_pct = 1.0 / 3.0;
    pressure_set(&cl.hosts[0].pressure, PRESSURE_CPU, PRESSURE_FULL, 0.1 + 0.2);
    pressure_set(&cl.hosts[0].pressure, PRESSURE_MEMORY, PRESSURE_SOME, 100);
    pressure_set(&cl.hosts[0].pressure, PRESSURE_IO, PRESSURE_SOME, 0);
    pressure_set(&cl.hosts[0].pressure, PRESSURE_IO, PRESSURE_FULL, 5e-324);
    assert_int_equal(cluster_add_vm(&cl, "v2", 2, &i), 0);
    usage_set(&cl.vms[i].usage, KIND_CPU, 2.0 / 3.0);
    cl.vms[i].priority = INT64_MAX;

    assert_int_equal(cluster_add_host(&cl, "down", 4, &i), 0);
    cl.hosts[i].state = HOST_DOWN;
    cl.hosts[i].capacity = 1e6;
    usage_set(&cl.hosts[i].usage, KIND_CPU, 5e-324);

    assert_int_equal(cluster_add_host(&cl, "up", 2, &i), 0);
    usage_set(&cl.hosts[i].usage, KIND_CPU, 99.99999999999999);
    usage_set(&cl.hosts[i].usage, KIND_MEM_BW, 1);
    usage_set(&cl.hosts[i].usage, KIND_DISK, 2);
    usage_set(&cl.hosts[i].usage, KIND_NET, 3);
    assert_int_equal(cluster_add_vm(&cl, "up", 2, &i), 0); /* same name as its host */
    usage_set(&cl.vms[i].usage, KIND_CPU, 50);
    cl.vms[i].priority = -1;
    cl.vms[i].has_cpu_wait = true;
    cl.vms[i].cpu_wait_pct = 0;

    roundtrip(&cl, "built cluster");

    /* Also through jansson's eyes: an object with "hosts". */
    char *s = NULL;
    size_t len = 0;
    assert_int_equal(snapshot_encode(&cl, 0, &s, &len), 0);
    assert_true(len > 2 && s[0] == '{');
    cluster_done(&cl);
    free(s);
}

static void
test_encode_empty(void **state)
{
    (void)state;
    struct cluster cl;
    cluster_init(&cl);
    roundtrip(&cl, "empty cluster");
    cl.has_time = true;
    cl.time = 0;
    roundtrip(&cl, "empty cluster with time 0");
    cluster_done(&cl);
}

/* ---------------------------------------------------------------------------------------- */

static int
run_table(const char *group, void *rows, size_t row_size, size_t n,
          const char *(*row_name)(const void *row), void (*fn)(void **state))
{
    struct CMUnitTest *t = calloc(n, sizeof(*t));
    assert_non_null(t);
    for (size_t i = 0; i < n; i++) {
        void *row = (char *)rows + i * row_size;
        t[i].name = row_name(row);
        t[i].test_func = fn;
        t[i].initial_state = row;
    }
    int failed = _cmocka_run_group_tests(group, t, n, NULL, NULL);
    free(t);
    return failed;
}

static const char *
valid_name(const void *row)
{
    return ((const struct valid_case *)row)->name;
}

static const char *
equiv_name(const void *row)
{
    return ((const struct equiv_case *)row)->name;
}

static const char *
surrogate_name(const void *row)
{
    return ((const struct surrogate_case *)row)->name;
}

static const char *
bad_name(const void *row)
{
    return ((const struct bad_case *)row)->name;
}

int
main(void)
{
    int failed = 0;
    failed += run_table("snapshot valid", valid_cases, sizeof(valid_cases[0]),
                        ARRAY_SIZE(valid_cases), valid_name, test_valid);
    failed += run_table("snapshot chunking", valid_cases, sizeof(valid_cases[0]),
                        ARRAY_SIZE(valid_cases), valid_name, test_valid_chunking);
    failed += run_table("snapshot equivalent inputs", equiv_cases, sizeof(equiv_cases[0]),
                        ARRAY_SIZE(equiv_cases), equiv_name, test_equiv);
    failed += run_table("snapshot bad input", bad_cases, sizeof(bad_cases[0]),
                        ARRAY_SIZE(bad_cases), bad_name, test_bad);
    failed += run_table("snapshot lone surrogates", surrogate_cases, sizeof(surrogate_cases[0]),
                        ARRAY_SIZE(surrogate_cases), surrogate_name, test_surrogate);
    failed += run_table("snapshot encode round trip", valid_cases, sizeof(valid_cases[0]),
                        ARRAY_SIZE(valid_cases), valid_name, test_encode_roundtrip_valid);

    const struct CMUnitTest misc[] = {
        cmocka_unit_test(test_every_prefix_truncated),   cmocka_unit_test(test_syntax_error_line),
        cmocka_unit_test(test_source_default),           cmocka_unit_test(test_decoder_free_null),
        cmocka_unit_test(test_encode_roundtrip_built),   cmocka_unit_test(test_encode_empty),
        cmocka_unit_test(test_surrogates_stay_distinct),
    };
    failed += cmocka_run_group_tests_name("snapshot misc", misc, NULL, NULL);
    return failed != 0 ? 1 : 0;
}

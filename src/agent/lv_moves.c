/* A domain's recent moves in its libvirt metadata (lv.h): the element's text format, and
 * reading and writing it. */
#define _POSIX_C_SOURCE 200809L /* strnlen */
#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/lv.h"

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *
skip_space(const char *p)
{
    while (is_space(*p))
        p++;
    return p;
}

#define MOVES_MAX_TIME 1e11 /* as on the wire (wire_moves_decode) */

/* One time at `p`: 1 to 12 digits, optionally '.' and 1 to 9 digits, followed by white space
 * or '<'. 0 with *ret_t and *ret_end; -EINVAL. */
static int
parse_time(const char *p, double *ret_t, const char **ret_end)
{
    const char *q = p;
    size_t whole = 0;
    size_t frac = 0;
    while (*q >= '0' && *q <= '9') {
        q++;
        whole++;
    }
    if (*q == '.') {
        q++;
        while (*q >= '0' && *q <= '9') {
            q++;
            frac++;
        }
        if (frac == 0)
            return -EINVAL;
    }
    if (whole == 0 || whole > 12 || frac > 9 || (*q != '<' && !is_space(*q)))
        return -EINVAL;
    char tok[32];
    size_t n = (size_t)(q - p);
    memcpy(tok, p, n);
    tok[n] = '\0';
    double t = strtod(tok, NULL); /* digits and a point only: the C locale's syntax */
    if (!isfinite(t) || t < 0 || t > MOVES_MAX_TIME)
        return -EINVAL;
    *ret_t = t;
    *ret_end = q;
    return 0;
}

int
lv_moves_parse(const char *xml, double *ret, uint32_t *ret_n, char *err, size_t len)
{
    if (strnlen(xml, LV_MOVES_MAX_XML + 1) > LV_MOVES_MAX_XML) {
        (void)snprintf(err, len, "longer than %d bytes", LV_MOVES_MAX_XML);
        return -EINVAL;
    }
    const char *p = skip_space(xml);
    if (strncmp(p, "<moves", 6) != 0 || (p[6] != '>' && p[6] != '/' && !is_space(p[6]))) {
        (void)snprintf(err, len, "not a <moves> element");
        return -EINVAL;
    }
    p += 6;
    /* Its attributes, if any, are skipped (quoted values may hold '>'). */
    char quote = '\0';
    while (*p != '\0' && (quote != '\0' || *p != '>')) {
        if (quote != '\0' && *p == quote)
            quote = '\0';
        else if (quote == '\0' && (*p == '"' || *p == '\''))
            quote = *p;
        p++;
    }
    if (*p == '\0') {
        (void)snprintf(err, len, "unterminated <moves> tag");
        return -EINVAL;
    }
    bool empty = p[-1] == '/';
    p++;
    double t[MODEL_MAX_VM_MOVES];
    uint32_t n = 0;
    size_t count = 0;
    while (!empty) {
        p = skip_space(p);
        if (*p == '<')
            break;
        double v;
        if (*p == '\0') {
            (void)snprintf(err, len, "no </moves>");
            return -EINVAL;
        }
        if (parse_time(p, &v, &p) < 0) {
            (void)snprintf(err, len, "move %zu: not a time in seconds from 0 to 1e11", count + 1);
            return -EINVAL;
        }
        if (n > 0 && v < t[n - 1]) {
            (void)snprintf(err, len, "move %zu: before the one listed before it", count + 1);
            return -EINVAL;
        }
        vm_moves_push(t, &n, v); /* in order: only drops the oldest beyond the limit */
        count++;
    }
    if (!empty) {
        if (strncmp(p, "</moves", 7) != 0 || *skip_space(p + 7) != '>') {
            (void)snprintf(err, len, "markup inside <moves> (only times belong there)");
            return -EINVAL;
        }
        p = skip_space(p + 7) + 1;
    }
    if (*skip_space(p) != '\0') {
        (void)snprintf(err, len, "more after </moves>");
        return -EINVAL;
    }
    if (n > 0)
        memcpy(ret, t, n * sizeof(*t));
    *ret_n = n;
    return 0;
}

int
lv_moves_format(const double *times, uint32_t n, char *buf, size_t len)
{
    if (len > 0)
        buf[0] = '\0';
    if (n > MODEL_MAX_VM_MOVES)
        return -EINVAL;
    for (uint32_t i = 0; i < n; i++) {
        if (!isfinite(times[i]) || times[i] < 0 || times[i] > MOVES_MAX_TIME ||
            (i > 0 && times[i] < times[i - 1]))
            return -EINVAL;
    }
    size_t at = 0;
    int w = snprintf(buf, len, "<moves>");
    for (uint32_t i = 0; i < n && w >= 0 && (size_t)w < len - at; i++) {
        at += (size_t)w;
        w = snprintf(buf + at, len - at, i > 0 ? " %.3f" : "%.3f", times[i]);
    }
    if (w >= 0 && (size_t)w < len - at) {
        at += (size_t)w;
        w = snprintf(buf + at, len - at, "</moves>");
    }
    if (w < 0 || (size_t)w >= len - at) {
        if (len > 0)
            buf[0] = '\0';
        return -E2BIG;
    }
    return 0;
}

/* The domain with `uuid`, or NULL with *ret_r (-ENOENT, -EIO) and `err`. */
static virDomainPtr
lookup_uuid(struct lv_conn *hv, const char *uuid, int *ret_r, char *err, size_t len)
{
    if (!hv->connected || hv->conn == NULL) {
        (void)snprintf(err, len, "not connected to libvirt");
        *ret_r = -EIO;
        return NULL;
    }
    virDomainPtr dom = virDomainLookupByUUIDString(hv->conn, uuid);
    if (dom == NULL) {
        *ret_r = virGetLastErrorCode() == VIR_ERR_NO_DOMAIN ? -ENOENT : -EIO;
        (void)snprintf(err, len, "%s", virGetLastErrorMessage());
    }
    return dom;
}

int
lv_moves_read(struct lv_conn *hv, const char *uuid, double *ret, uint32_t *ret_n, char *err,
              size_t len)
{
    int r = 0;
    virDomainPtr dom = lookup_uuid(hv, uuid, &r, err, len);
    if (dom == NULL)
        return r;
    char *xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, LV_MOVES_URI,
                                     VIR_DOMAIN_AFFECT_CURRENT);
    if (xml != NULL) {
        r = lv_moves_parse(xml, ret, ret_n, err, len);
        free(xml);
    } else if (virGetLastErrorCode() == VIR_ERR_NO_DOMAIN_METADATA) {
        *ret_n = 0; /* never moved, or its history was cleared */
    } else {
        r = virGetLastErrorCode() == VIR_ERR_NO_DOMAIN ? -ENOENT : -EIO;
        (void)snprintf(err, len, "%s", virGetLastErrorMessage());
    }
    (void)virDomainFree(dom);
    return r;
}

int
lv_moves_write(struct lv_conn *hv, const char *uuid, const double *times, uint32_t n, char *err,
               size_t len)
{
    char xml[1024];
    if (n == 0 || lv_moves_format(times, n, xml, sizeof(xml)) < 0) {
        (void)snprintf(err, len, "no moves, or not in order");
        return -EINVAL;
    }
    int r = 0;
    virDomainPtr dom = lookup_uuid(hv, uuid, &r, err, len);
    if (dom == NULL)
        return r;
    /* Live for the domain as it runs (and as it migrates on: libvirt sends the live
     * definition), persistent for its next boot (and for the definition a migration with
     * VIR_MIGRATE_PERSIST_DEST leaves on the destination). */
    unsigned flags = 0;
    if (virDomainIsActive(dom) == 1)
        flags |= VIR_DOMAIN_AFFECT_LIVE;
    if (virDomainIsPersistent(dom) == 1)
        flags |= VIR_DOMAIN_AFFECT_CONFIG;
    if (flags == 0) {
        (void)snprintf(err, len, "the domain is neither running nor defined");
        r = -ENOENT;
    } else if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, xml, LV_MOVES_KEY,
                                    LV_MOVES_URI, flags) < 0) {
        r = virGetLastErrorCode() == VIR_ERR_NO_DOMAIN ? -ENOENT : -EIO;
        (void)snprintf(err, len, "%s", virGetLastErrorMessage());
    }
    (void)virDomainFree(dom);
    return r;
}

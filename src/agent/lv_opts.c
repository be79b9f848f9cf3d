/* The [libvirt] settings (lv.h): their defaults and the migration flags, which the agent's
 * config reads whether or not this vmloc was built with libvirt (meson -Dlibvirt), so a
 * config file means the same to every build. Needs nothing of libvirt itself. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/lv.h"

void
hv_libvirt_opts_init(struct hv_libvirt_opts *o)
{
    memset(o, 0, sizeof(*o));
    (void)snprintf(o->uri, sizeof(o->uri), "%s", HV_LIBVIRT_DEFAULT_URI);
    o->disk_mib_s = HV_LIBVIRT_DEFAULT_DISK_MIB_S;
    o->net_mib_s = HV_LIBVIRT_DEFAULT_NET_MIB_S;
    o->mem_bw_mib_s = HV_LIBVIRT_DEFAULT_MEM_BW_MIB_S;
    o->migrate_timeout_s = HV_LIBVIRT_DEFAULT_MIGRATE_TIMEOUT_S;
    (void)snprintf(o->proc_stat, sizeof(o->proc_stat), "/proc/stat");
    (void)snprintf(o->proc_meminfo, sizeof(o->proc_meminfo), "/proc/meminfo");
    (void)snprintf(o->proc_pressure, sizeof(o->proc_pressure), "/proc/pressure");
}

int
hv_libvirt_flags_parse(const char *s, unsigned *ret)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {
        {"unsafe", HV_MIGRATE_UNSAFE},
        {"auto-converge", HV_MIGRATE_AUTO_CONVERGE},
        {"compressed", HV_MIGRATE_COMPRESSED},
    };
    unsigned flags = 0;
    const char *p = s;
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        bool found = false;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            if (strlen(names[i].name) == n && memcmp(names[i].name, p, n) == 0) {
                flags |= names[i].bit;
                found = true;
            }
        }
        if (!found)
            return -EINVAL;
        p += n;
        if (*p == ',') {
            p++;
            if (*p == '\0')
                return -EINVAL;
        }
    }
    *ret = flags;
    return 0;
}

/* Is `s` (`n` bytes) one of `names`, in any case? */
static bool
one_of(const char *s, size_t n, const char *const *names, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (strlen(names[i]) == n && strncasecmp(s, names[i], n) == 0)
            return true;
    }
    return false;
}

static bool host_name_ok(const char *s);

/* Does the authority at `auth` (up to '/' or '?') name a host: [USER@]HOST[:PORT] with HOST a
 * host name or [IPv6], after the last '@', PORT digits? */
static bool
uri_host_ok(const char *auth)
{
    size_t auth_len = strcspn(auth, "/?");
    const char *host = auth;
    for (size_t i = 0; i < auth_len; i++) {
        if (auth[i] == '@')
            host = auth + i + 1;
    }
    const char *end = auth + auth_len;
    const char *port;
    char buf[256];
    size_t n;
    if (*host == '[') {
        const char *close = memchr(host, ']', (size_t)(end - host));
        n = close != NULL ? (size_t)(close - host - 1) : 0;
        port = close != NULL ? close + 1 : end;
        unsigned char bin[16];
        if (close == NULL || n == 0 || n >= sizeof(buf))
            return false;
        memcpy(buf, host + 1, n);
        buf[n] = '\0';
        if (inet_pton(AF_INET6, buf, bin) != 1)
            return false;
    } else {
        const char *colon = memchr(host, ':', (size_t)(end - host));
        port = colon != NULL ? colon : end;
        n = (size_t)(port - host);
        if (n == 0 || n >= sizeof(buf))
            return false;
        memcpy(buf, host, n);
        buf[n] = '\0';
        if (!host_name_ok(buf))
            return false;
    }
    if (port == end)
        return true;
    size_t digits = (size_t)(end - port - 1);
    return *port == ':' && digits > 0 && digits <= 5 && strspn(port + 1, "0123456789") >= digits &&
           strtol(port + 1, NULL, 10) <= 65535;
}

int
hv_libvirt_peer_uri_check(const char *uri, char *why, size_t len)
{
    /* What a destination's URI may say: the transports that connect to another host, and
     * the parameters that only choose how. */
    static const char *const transports[] = {"tcp", "tls", "ssh", "libssh", "libssh2"};
    static const char *const params[] = {"name",    "no_tty", "no_verify", "keyfile",     "pkipath",
                                         "sshauth", "mode",   "proxy",     "tls_priority"};
    for (const char *c = uri; *c != '\0'; c++) {
        if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '#') {
            (void)snprintf(why, len, "%s", "a space, a control character or a fragment ('#')");
            return -EINVAL;
        }
    }
    size_t scheme_len = strcspn(uri, ":");
    bool scheme_ok = isalpha((unsigned char)uri[0]) && strncmp(uri + scheme_len, "://", 3) == 0 &&
                     strspn(uri, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                 "+.-") == scheme_len;
    if (!scheme_ok) {
        (void)snprintf(why, len, "%s", "not a URI (DRIVER[+TRANSPORT]://...)");
        return -EINVAL;
    }
    if (!uri_host_ok(uri + scheme_len + 3)) {
        (void)snprintf(
            why, len, "%s",
            "it names no host, or not one (DRIVER[+TRANSPORT]://[USER@]HOST[:PORT]/...)");
        return -EINVAL;
    }
    const char *plus = memchr(uri, '+', scheme_len);
    if (plus != NULL) {
        size_t n = scheme_len - (size_t)(plus + 1 - uri);
        if (!one_of(plus + 1, n, transports, sizeof(transports) / sizeof(transports[0]))) {
            (void)snprintf(why, len, "the transport \"%.*s\" (tcp, tls, ssh, libssh, libssh2 only)",
                           (int)(n < 32 ? n : 32), plus + 1);
            return -EINVAL;
        }
    }
    const char *q = strchr(uri, '?');
    for (const char *p = q != NULL ? q + 1 : NULL; p != NULL && *p != '\0';) {
        size_t n = strcspn(p, "&;");
        size_t name_len = strcspn(p, "=&;");
        if (name_len > 0 && !one_of(p, name_len, params, sizeof(params) / sizeof(params[0]))) {
            (void)snprintf(why, len,
                           "the parameter \"%.*s\" (not one that only chooses how to connect)",
                           (int)(name_len < 32 ? name_len : 32), p);
            return -EINVAL;
        }
        p += n;
        if (*p != '\0')
            p++;
    }
    return 0;
}

/* Is `s` a host name: dot-separated labels of letters, digits, '-' (not first or last) and
 * '_' (which resolvers take, though RFC 1123 does not), each 1 to 63 bytes, at most 253 in
 * all, with or without a final dot (an IPv4 address is one too)? */
static bool
host_name_ok(const char *s)
{
    size_t total = strlen(s);
    if (total > 0 && s[total - 1] == '.')
        total--;
    if (total == 0 || total > 253)
        return false;
    for (const char *p = s; p < s + total;) {
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_");
        if (n == 0 || n > 63 || p[0] == '-' || p[n - 1] == '-')
            return false;
        p += n;
        if (*p == '.' && p + 1 < s + total)
            p++;
        else if (p != s + total)
            return false;
    }
    return true;
}

int
hv_libvirt_address_check(const char *addr, char *why, size_t len)
{
    if (addr[0] == '\0' || host_name_ok(addr))
        return 0;
    /* IPv6 without a zone: libvirt's URI would need the zone's '%' written as %25. */
    unsigned char bin[16];
    if (strlen(addr) < 64 && inet_pton(AF_INET6, addr, bin) == 1)
        return 0;
    (void)snprintf(why, len, "%s",
                   strchr(addr, ':') != NULL && strchr(addr, '.') != NULL
                       ? "a port or a URL, not a host name or an IPv4 or IPv6 address"
                       : "not a host name or an IPv4 or IPv6 address");
    return -EINVAL;
}

/* The [libvirt] settings (lv.h): their defaults and the migration flags, which the agent's
 * config reads whether or not this vmloc was built with libvirt (meson -Dlibvirt), so a
 * config file means the same to every build. Needs nothing of libvirt itself. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
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

/* Is the query parameter `p` (`n` bytes, up to its '&' or ';') one that runs a command? */
static bool
runs_command(const char *p, size_t n)
{
    static const char *const names[] = {"command", "netcat"};
    size_t name_len = strcspn(p, "=");
    if (name_len > n)
        name_len = n;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i]) == name_len && strncasecmp(p, names[i], name_len) == 0)
            return true;
    }
    return false;
}

int
hv_libvirt_peer_uri_check(const char *uri, char *why, size_t len)
{
    const char *sep = strstr(uri, "://");
    if (sep == NULL) {
        (void)snprintf(why, len, "%s", "not a URI (no \"://\")");
        return -EINVAL;
    }
    for (const char *c = uri; *c != '\0'; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f) {
            (void)snprintf(why, len, "%s", "a control character");
            return -EINVAL;
        }
    }
    const char *plus = memchr(uri, '+', (size_t)(sep - uri));
    if (plus != NULL && (size_t)(sep - plus - 1) == 3 && strncasecmp(plus + 1, "ext", 3) == 0) {
        (void)snprintf(why, len, "%s", "the ext transport runs a command");
        return -EINVAL;
    }
    const char *q = strchr(sep, '?');
    for (const char *p = q != NULL ? q + 1 : NULL; p != NULL && *p != '\0';) {
        size_t n = strcspn(p, "&;");
        size_t name_len = strcspn(p, "=");
        if (memchr(p, '%', name_len < n ? name_len : n) != NULL) {
            (void)snprintf(why, len, "%s", "an escaped parameter name");
            return -EINVAL;
        }
        if (runs_command(p, n)) {
            (void)snprintf(why, len, "the %.*s parameter runs a command",
                           (int)(name_len < n ? name_len : n), p);
            return -EINVAL;
        }
        p += n;
        if (*p != '\0')
            p++;
    }
    return 0;
}

/* The [libvirt] settings (lv.h): their defaults and the migration flags, which the agent's
 * config reads whether or not this vmloc was built with libvirt (meson -Dlibvirt), so a
 * config file means the same to every build. Needs nothing of libvirt itself. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <string.h>

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

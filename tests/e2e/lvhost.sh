#!/bin/sh
# Start one libvirt "host" of the end-to-end test: a libvirtd in a private mount namespace
# (its own /etc/libvirt, /var/lib/libvirt, /run/libvirt, caches and logs, its own host UUID),
# sharing the network, listening on TCP 127.0.0.1:PORT without authentication (loopback only),
# with QEMU run as root, no cgroups (two "hosts" on one machine would share them) and
# migrations accepted on MIGPORT..MIGPORT+15, and every QEMU start held 2 s while the domain is
# listed as starting up. CPUSET is the CPU this host owns: a qemu hook
# pins every migrated-in guest to it, so each host's load is its own CPU's line of /proc/stat.
# usage: lvhost.sh DIR PORT MIGPORT CPUSET [restart]   (prints the daemon's pid file path)
# With "restart" the host's directory is kept and only the daemon is started again (its
# running guests are picked up again by libvirtd).
set -eu
dir=$1
port=$2
migport=$3
cpuset=$4
if [ "${5:-}" = restart ]; then
    start_only=1
else
    start_only=0
fi
start() {
    unshare -m --propagation private sh -c "
        mount --bind '$dir/etc' /etc/libvirt
        mount --bind '$dir/lib' /var/lib/libvirt
        mkdir -p /run/libvirt /var/cache/libvirt /var/log/libvirt
        mount --bind '$dir/run' /run/libvirt
        mount --bind '$dir/cache' /var/cache/libvirt
        mount --bind '$dir/log' /var/log/libvirt
        exec libvirtd --listen --pid-file '$dir/libvirtd.pid'" >>"$dir/stdout.log" 2>&1 &
    echo "$dir/libvirtd.pid"
}
if [ "$start_only" = 1 ]; then
    start
    exit 0
fi
rm -rf "$dir"
mkdir -p "$dir/run" "$dir/cache" "$dir/log" "$dir/sock" "$dir/lib"
# The machine's libvirt configuration, without anything that starts by itself: no autostart
# network (its dnsmasq and bridge would outlive the test) and no autostart VM (it would run a
# second time on the same disks). The state directory starts empty (no images copied).
cp -a /etc/libvirt "$dir/etc"
find "$dir/etc" -path '*/autostart/*' -exec rm -f {} +
uuid=$(cat /proc/sys/kernel/random/uuid)
cat >> "$dir/etc/libvirtd.conf" <<CONF
host_uuid = "$uuid"
listen_tls = 0
listen_tcp = 1
listen_addr = "127.0.0.1"
tcp_port = "$port"
auth_tcp = "none"
unix_sock_dir = "$dir/sock"
log_outputs = "3:file:$dir/log/libvirtd.log"
CONF
cat >> "$dir/etc/qemu.conf" <<CONF
user = "root"
group = "root"
security_driver = "none"
remember_owner = 0
cgroup_controllers = [ ]
stdio_handler = "file"
migration_port_min = $migport
migration_port_max = $((migport + 15))
CONF
mkdir -p "$dir/etc/hooks"
cat > "$dir/etc/hooks/qemu" <<HOOK
#!/bin/sh
# libvirt lists a domain, paused "starting up", while this runs for "prepare": two seconds
# there make sure an agent samples an incoming migration in that state, as it does on a busy
# host (it must not take it for a booted domain and miss the arrival).
if [ "\$2" = prepare ]; then sleep 2; fi
# An incoming migration's XML arrives on stdin and leaves on stdout: pin it to this host's CPU.
if [ "\$2" = migrate ]; then sed -E "s/(<vcpu[^>]*cpuset=)'[^']*'/\\\\1'$cpuset'/"; fi
exit 0
HOOK
chmod +x "$dir/etc/hooks/qemu"
start

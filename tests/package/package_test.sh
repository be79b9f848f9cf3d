#!/bin/sh
# The Debian package under a real systemd: boot a Debian 12 root (debootstrap, cached under
# the build directory) with systemd-nspawn --boot, install the package built from the tree
# (scripts/mkdeb.sh, twice: an earlier version first, to upgrade from), start the manager and
# two agents (simulated backend) with systemctl, and check what an operator relies on: the
# token made on install, units that stay off until enabled, READY (Type=notify units), the
# agents registered, a token rotation by `systemctl reload` without a refused request, the
# watchdog restarting a stopped daemon, errors at journald's err priority, the store across a
# restart and an upgrade, and a purge that leaves nothing behind.
# Skips (exit 77) only where the machine cannot boot a container or lacks the tools.
# usage: package_test.sh BUILDDIR
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
b=$(realpath -m "$1/package-test")
skip() {
    echo "package: SKIP: $*"
    exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root (systemd-nspawn, debootstrap)"
for t in systemd-nspawn nsenter debootstrap dpkg-buildpackage lintian; do
    command -v "$t" >/dev/null || skip "$t is missing (VMLOC_DEPS_DEB=1 sh scripts/deps.sh)"
done
mkdir -p "$b"
pass=0
failed=0
ok() {
    echo "ok: $*"
    pass=$((pass + 1))
}
bad() {
    echo "FAIL: $*"
    failed=$((failed + 1))
}
finish() {
    echo "package: $pass passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit $?
}

# 1. The package, twice: the tree's version, and an earlier one to upgrade from.
ver=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
# An earlier version of the same tree: 0.1.0~prev-1 sorts before 0.1.0-1.
prev="${ver%-*}~prev-${ver##*-}"

VMLOC_DEB_VERSION=$prev sh "$src/scripts/mkdeb.sh" "$b/deb-prev" >"$b/mkdeb-prev.log" 2>&1 ||
    { cat "$b/mkdeb-prev.log"; bad "package $prev does not build"; finish; }

sh "$src/scripts/mkdeb.sh" "$b/deb" >"$b/mkdeb.log" 2>&1 ||
    { cat "$b/mkdeb.log"; bad "package $ver does not build or lintian reports errors"; finish; }
ok "packages $prev and $ver built, lintian reports no errors"
arch=$(dpkg --print-architecture)
mkdir -p "$b/debs"
cp "$b/deb-prev/vmloc_${prev}_$arch.deb" "$b/debs/prev.deb"
cp "$b/deb/vmloc_${ver}_$arch.deb" "$b/debs/cur.deb"

# 2. The root: Debian 12 with systemd and the package's dependencies, made once.
# systemd and dbus: a system to boot (the package's dependencies do not name them).
include=$({
    echo systemd systemd-sysv dbus
    dpkg-deb -f "$b/debs/cur.deb" Depends | tr ',' '\n' | sed 's/(.*//'
} | tr ' ' '\n' | grep . | sort -u | paste -sd, -)
key=$(echo "$include" | md5sum | cut -c1-12)
root="$b/root-bookworm-$key"
# Roots made for other dependency lists are of no further use.
for old in "$b"/root-bookworm-*; do
    [ "$old" = "$root" ] || [ ! -d "$old" ] || rm -rf "$old"
done
if [ ! -x "$root/sbin/init" ]; then
    echo "package: debootstrap of Debian 12 into $root (once; about a minute)"
    rm -rf "$root" "$root.tmp"
    debootstrap --variant=minbase --include="$include" bookworm "$root.tmp" \
        "${VMLOC_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$b/debootstrap.log" 2>&1 ||
        skip "debootstrap failed (no network or mirror?): see $b/debootstrap.log"
    mv "$root.tmp" "$root"
fi
run="$b/run"
rm -rf "$run"
cp -a "$root" "$run"
mkdir -p "$run/debs"
cp "$b/debs/prev.deb" "$b/debs/cur.deb" "$run/debs/"

# 3. Boot it. The container has its own network (loopback only): the daemons' ports are its own.
systemd-nspawn --register=no --keep-unit --private-network -q -D "$run" --boot \
    >"$b/console.log" 2>&1 &
nspawn=$!
cleanup() {
    kill "$nspawn" 2>/dev/null
    sleep 0.5
    kill -9 "$nspawn" 2>/dev/null
    wait "$nspawn" 2>/dev/null
    # The booted copy (over 300 MB) goes when every check passed; kept to read otherwise.
    [ "$failed" -ne 0 ] || rm -rf "$run"
}
trap cleanup EXIT
pid=""
deadline=$(($(date +%s) + 30))
while [ -z "$pid" ] && [ "$(date +%s)" -lt "$deadline" ]; do
    kill -0 "$nspawn" 2>/dev/null || break
    pid=$(pgrep -P "$nspawn" -x systemd | head -1)
    [ -n "$pid" ] || sleep 0.2
done
[ -n "$pid" ] || { cat "$b/console.log"; skip "systemd-nspawn --boot cannot boot a container here"; }
c() { nsenter -t "$pid" -a -- "$@"; }
# PID 1 listens on its bus a moment after it starts: until then systemctl cannot connect.
state=""
deadline=$(($(date +%s) + 60))
while [ "$(date +%s)" -lt "$deadline" ]; do
    state=$(c timeout 60 systemctl is-system-running --wait 2>&1)
    case $state in
    *"Failed to connect"*) sleep 0.2 ;;
    *) break ;;
    esac
done
case $state in
running | degraded) ok "systemd is PID 1 in the container ($state)" ;;
*) skip "the container's systemd did not come up: $state" ;;
esac

# 4. Install the earlier version.
c dpkg -i /debs/prev.deb >"$b/install.log" 2>&1 || { cat "$b/install.log"; bad "dpkg -i"; finish; }
c getent passwd vmloc >/dev/null && ok "user vmloc made" || bad "no user vmloc"
t=$(c stat -c '%a %U' /etc/vmloc/token 2>&1)
[ "$t" = "600 vmloc" ] && ok "token made: /etc/vmloc/token 600 vmloc" || bad "token: $t"
tok0=$(c sha256sum /etc/vmloc/token | cut -c1-64)
for u in vmloc-manager vmloc-agent; do
    s=$(c systemctl is-enabled $u 2>&1)
    a=$(c systemctl is-active $u 2>&1)
    [ "$s" = disabled ] && [ "$a" = inactive ] && ok "$u installed, not enabled or started" ||
        bad "$u after install: $s, $a"
done

# 5. Configure as an operator would: the manager, and two agents on this one host with the
# simulated backend (a second agent unit is a copy of the packaged one with its own config).
c sh -c 'cat > /etc/vmloc/manager.ini' <<'INI'
[manager]
interval = 0.5
INI
for n in 1 2; do
    c sh -c "cat > /etc/vmloc/agent$n.ini" <<INI
[agent]
name = h$n
listen = 127.0.0.1:770$n
manager = http://127.0.0.1:7700
backend = sim
interval = 0.5
INI
done
c sh -c 'cp /etc/vmloc/agent1.ini /etc/vmloc/agent.ini'
c sh -c 'sed "s|/etc/vmloc/agent.ini|/etc/vmloc/agent2.ini|" \
    /lib/systemd/system/vmloc-agent.service > /etc/systemd/system/vmloc-agent2.service'
# No libvirt here (simulated backend): the agents run without its group.
for u in vmloc-agent vmloc-agent2; do
    c mkdir -p /etc/systemd/system/$u.service.d
    c sh -c "printf '[Service]\nGroup=vmloc\nSupplementaryGroups=\n' \
        > /etc/systemd/system/$u.service.d/test.conf"
done
native=0
grep -q '^Type=notify' "$run/lib/systemd/system/vmloc-manager.service" && native=1
c systemctl daemon-reload
units="vmloc-manager vmloc-agent vmloc-agent2"
# shellcheck disable=SC2086
c systemctl enable --now $units >"$b/enable.log" 2>&1 || { cat "$b/enable.log"; }
for u in $units; do
    a=$(c systemctl is-active $u)
    if [ "$a" = active ]; then
        ok "$u active"
    else
        bad "$u: $a"
        c journalctl -u $u --no-pager | tail -15
    fi
done
if [ "$native" = 1 ]; then
    for u in $units; do
        st=$(c systemctl show -p StatusText --value $u)
        [ -n "$st" ] && ok "$u READY, status: $st" || bad "$u: Type=notify but no STATUS="
    done
else
    echo "package: note: Type=simple units; READY, watchdog and priorities are not checked"
fi

vm() { # vmloc as the vmloc user, with the packaged token
    c runuser -u vmloc -- vmloc --token-file /etc/vmloc/token "$@"
}
wait_hosts() { # N: until the manager lists N hosts up (deadline 20 s)
    d=$(($(date +%s) + 20))
    while [ "$(date +%s)" -lt "$d" ]; do
        n=$(vm hosts 2>/dev/null | grep -cE '^h[0-9]+ +up ')
        [ "$n" -ge "$1" ] && return 0
        sleep 0.3
    done
    return 1
}
wait_hosts 2 && ok "both agents registered (vmloc hosts with /etc/vmloc/token)" ||
    bad "agents not registered: $(vm hosts 2>&1)"

# 6. Token rotation: the new token first, the old one second, reload, then the new alone.
c sh -c 'vmloc token --create /tmp/new >/dev/null && cp /etc/vmloc/token /tmp/old'
c sh -c 'chown vmloc /tmp/old /tmp/new'
c sh -c 'head -1 /tmp/new > /tmp/both && head -1 /etc/vmloc/token >> /tmp/both &&
    install -m 600 -o vmloc -g vmloc /tmp/both /etc/vmloc/token'
c systemctl reload $units
refused=0
for i in 1 2 3 4 5; do
    c runuser -u vmloc -- vmloc --token-file /tmp/old hosts >/dev/null 2>&1 || refused=$((refused + 1))
    c runuser -u vmloc -- vmloc --token-file /tmp/new hosts >/dev/null 2>&1 || refused=$((refused + 1))
done
c sh -c 'install -m 600 -o vmloc -g vmloc /tmp/new /etc/vmloc/token'
c systemctl reload $units
for i in 1 2 3; do
    vm hosts >/dev/null 2>&1 || refused=$((refused + 1))
done
[ "$refused" -eq 0 ] && ok "reload rotated the token, no request refused" ||
    bad "$refused request(s) refused during the rotation"
c runuser -u vmloc -- vmloc --token-file /tmp/old hosts >/dev/null 2>&1 &&
    bad "the old token still works after the rotation ended" || ok "old token refused after it"
wait_hosts 2 || bad "agents lost after the rotation: $(vm hosts 2>&1)"
tok0=$(c sha256sum /etc/vmloc/token | cut -c1-64)

if [ "$native" = 1 ]; then
    # 7. The watchdog: a stopped daemon is restarted.
    p0=$(c systemctl show -p MainPID --value vmloc-agent2)
    c kill -STOP "$p0"
    d=$(($(date +%s) + 60))
    p1=$p0
    while [ "$(date +%s)" -lt "$d" ]; do
        p1=$(c systemctl show -p MainPID --value vmloc-agent2)
        [ "$p1" != "$p0" ] && [ "$p1" != 0 ] && [ "$(c systemctl is-active vmloc-agent2)" = active ] &&
            break
        sleep 0.5
    done
    [ "$p1" != "$p0" ] && ok "SIGSTOPped agent restarted by the watchdog" ||
        bad "SIGSTOPped agent not restarted"
    # 8. A provoked error at priority err: an agent whose config is wrong does not start.
    c sh -c 'echo "interval = -1" >> /etc/vmloc/agent2.ini'
    c systemctl restart vmloc-agent2 2>/dev/null
    c sh -c 'sed -i "/interval = -1/d" /etc/vmloc/agent2.ini'
    if c journalctl -u vmloc-agent2 -p err --no-pager -q | grep -q "interval"; then
        ok "the config error shows in journalctl -p err"
    else
        bad "journalctl -p err does not show the agent's error"
        c journalctl -u vmloc-agent2 --no-pager -q -o verbose | grep -E "PRIORITY|MESSAGE" | tail -6
    fi
    c systemctl restart vmloc-agent2
fi

# 9. The store across a restart: a drain is kept by the manager's store.
vm drain h2 >/dev/null 2>&1 || bad "vmloc drain h2: $(vm drain h2 2>&1)"
c systemctl restart vmloc-manager
drained() {
    d=$(($(date +%s) + 20))
    while [ "$(date +%s)" -lt "$d" ]; do
        vm hosts 2>/dev/null | grep -E "^h2 " | grep -q maintenance && return 0
        sleep 0.3
    done
    return 1
}
drained && ok "systemctl restart kept the store (h2 still in maintenance)" ||
    bad "h2's drain lost across a restart: $(vm hosts 2>&1)"

# 10. Upgrade: the store and the token stay, the running units restart on the new version.
c dpkg -i /debs/cur.deb >"$b/upgrade.log" 2>&1 || { cat "$b/upgrade.log"; bad "upgrade"; }
v=$(c dpkg-query -W -f '${Version}' vmloc)
[ "$v" = "$ver" ] && ok "upgraded from $prev to $ver" || bad "version after the upgrade: $v"
[ "$(c sha256sum /etc/vmloc/token | cut -c1-64)" = "$tok0" ] && ok "upgrade kept the token" ||
    bad "upgrade changed the token"
drained && ok "upgrade kept the store" || bad "store lost in the upgrade: $(vm hosts 2>&1)"
for u in $units; do
    [ "$(c systemctl is-active $u)" = active ] || bad "$u not active after the upgrade"
done

# 11. Purge: nothing of vmloc is left (the vmloc user stays, as Debian does).
# shellcheck disable=SC2086
c systemctl disable --now $units >/dev/null 2>&1
c sh -c 'rm -rf /etc/systemd/system/vmloc-* /etc/vmloc/agent1.ini /etc/vmloc/agent2.ini \
    /tmp/old /tmp/new /tmp/both'
c systemctl daemon-reload
c dpkg --purge vmloc >"$b/purge.log" 2>&1 || { cat "$b/purge.log"; bad "dpkg --purge"; }
left=$(c find / -xdev \( -path /proc -o -path /sys -o -path /debs \) -prune -o -name '*vmloc*' \
    -print 2>/dev/null)
[ -z "$left" ] && ok "purge left no file named vmloc" || bad "purge left: $left"
c getent passwd vmloc >/dev/null && ok "the vmloc user stays after the purge (Debian policy)"
finish

#!/bin/sh
# The example configs that the package puts in /etc/vmloc hold only keys the daemons know,
# with values they accept: each file is checked as shipped (every line commented out) and
# with its commented settings turned on (`vmloc manager|agent -n`, `vmloc plan -c`).
# usage: configs_check.sh VMLOC DIST_ETC_DIR SNAPSHOT
set -eu
vmloc=$1
etc=$2
snap=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
tok="--token-file $tmp/token"
# The TLS and etcd TLS lines name files that are not here: they stay off.
# A build without libvirt refuses `backend = libvirt`: the agent's example is then checked
# without that line.
nolv=""
"$vmloc" --version | grep -q libvirt || nolv="-e /^#backend/d"
on() { # FILE, sed expressions dropping lines -> the file with its settings on
    f=$1
    shift
    sed -E "$@" -e '/^#tls_/d' -e '/^#etcd_/d' -e 's/^#([a-z_]+ *=|\[)/\1/' "$etc/$f"
}
fail=0
check() { # what, command...
    what=$1
    shift
    if out=$("$@" 2>&1); then
        echo "ok: $what"
    else
        echo "FAIL: $what: $out"
        fail=1
    fi
}
check "manager.ini as shipped" "$vmloc" manager -n -c "$etc/manager.ini" $tok
check "agent.ini as shipped (with --name)" "$vmloc" agent -n -c "$etc/agent.ini" --name h1 $tok
on manager.ini >"$tmp/manager.ini"
check "manager.ini, settings on" "$vmloc" manager -n -c "$tmp/manager.ini" $tok --data "$tmp/d"
on agent.ini $nolv -e '/^#peers/d' >"$tmp/agent.ini"
check "agent.ini, settings on" "$vmloc" agent -n -c "$tmp/agent.ini" $tok --data "$tmp/d"
on agent.ini $nolv -e '/^#manager *=/d' >"$tmp/agent-peer.ini"
check "agent.ini, settings on, peer mode" "$vmloc" agent -n -c "$tmp/agent-peer.ini" --mode peer \
    $tok --data "$tmp/d"
on policy.ini >"$tmp/policy.ini"
check "policy.ini, settings on" "$vmloc" plan -c "$tmp/policy.ini" -s "$snap"
if [ -e "$tmp/d" ]; then
    echo "FAIL: -n wrote $tmp/d"
    fail=1
fi
exit $fail

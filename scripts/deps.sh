#!/bin/sh
# Install the Debian packages vmloc needs to build and test, skipping those already there.
# Run as root (or with sudo available). Safe to run again: it does nothing when all is
# installed. VMLOC_DEPS_OPTIONAL=0 skips the optional ones (clang for fuzzing, clang-format, clang-tidy);
# VMLOC_DEPS_E2E=1 adds QEMU, libvirt, promtool and Chromium for the tests; VMLOC_DEPS_DEB=1 (make deb;
# make test sets VMLOC_DEPS_E2E, which includes them) the Debian packaging tools.
#
# The required packages must install; the others are installed on a best-effort basis: a test
# that needs one that could not be had skips with a message (exit 77) instead of failing.
set -eu

required="gcc make meson ninja-build pkg-config python3 libyajl-dev libjansson-dev
libcmocka-dev libevent-dev libssl-dev
libsqlite3-dev libvirt-dev"
# libvirt-dev is for the agent's libvirt backend (meson -Dlibvirt=auto builds it when found);
# a build with -Dlibvirt=disabled needs everything above but it.
optional="clang libclang-rt-14-dev clang-format clang-tidy"
# What only the tests use (VMLOC_DEPS_E2E=1; make test sets it): QEMU and libvirt for the
# end-to-end test, Prometheus' promtool for the /metrics format check (Debian's prometheus
# package, which also installs the Prometheus server; where systemd runs, it starts it), and
# Chromium with ChromeDriver (and a font) for the web page's browser test, the openssl
# command that makes the TLS test's certificates, and libfaketime, which steps the daemons'
# clocks in the clock-jump test, and etcd (server and etcdctl) for the active/standby managers'
# test (test_ha; where systemd runs, the package starts a local etcd on 2379, which the test
# does not use).
# The Debian package (make deb) and its test: debhelper, dpkg-dev and lintian build and check it;
# debootstrap makes the Debian 12 root that systemd-nspawn (package systemd-container) boots.
deb="debhelper dpkg-dev lintian fakeroot debootstrap systemd-container"
e2e="libvirt-daemon-system libvirt-clients qemu-system-x86 busybox-static cpio curl prometheus
chromium chromium-driver fonts-liberation openssl libfaketime etcd-server etcd-client $deb"

is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"
}
missing_of() {
    m=""
    for p in $1; do
        is_installed "$p" || m="$m $p"
    done
    echo "$m"
}
need=$(missing_of "$required")
extra=""
if [ "${VMLOC_DEPS_OPTIONAL:-1}" != 0 ]; then
    extra="$extra $(missing_of "$optional")"
fi
if [ "${VMLOC_DEPS_DEB:-0}" = 1 ]; then
    extra="$extra $(missing_of "$deb")"
fi
if [ "${VMLOC_DEPS_E2E:-0}" = 1 ]; then
    extra="$extra $(missing_of "$e2e")"
fi
extra=$(echo $extra)
if [ -z "$(echo $need)" ] && [ -z "$extra" ]; then
    echo "deps: all packages present"
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "deps: missing packages: $(echo $need $extra); run this script as root" >&2
    [ -z "$(echo $need)" ] && exit 0
    exit 1
fi
apt() {
    # sudo may reset the environment: the front end is passed explicitly.
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get "$@"
}
if ! apt update -qq; then
    [ -z "$(echo $need)" ] || exit 1
    echo "deps: apt-get update failed; trying with the package lists at hand" >&2
fi
if [ -n "$(echo $need)" ]; then
    echo "deps: installing: $(echo $need)"
    # shellcheck disable=SC2086
    apt install -y -qq --no-install-recommends $need >/dev/null
fi
if [ -n "$extra" ]; then
    echo "deps: installing (for fuzzing, formatting and the end-to-end tests): $extra"
    # One at a time: a package that cannot be had does not keep the others out.
    for p in $extra; do
        if ! apt install -y -qq --no-install-recommends "$p" >/dev/null; then
            echo "deps: $p could not be installed; the tests that need it will skip" >&2
        fi
    done
fi
echo "deps: done"

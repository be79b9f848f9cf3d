#!/bin/sh
# Install the Debian packages vmloc needs to build and test, skipping those already there.
# Run as root (or with sudo available). Safe to run again: it does nothing when all is
# installed. VMLOC_DEPS_OPTIONAL=0 skips the optional ones (clang for fuzzing, clang-format);
# VMLOC_DEPS_E2E=1 adds QEMU, libvirt and promtool for the tests.
set -eu

required="gcc make meson ninja-build pkg-config python3 libyajl-dev libjansson-dev
libinih-dev libcmocka-dev libevent-dev
libsqlite3-dev libvirt-dev"
optional="clang libclang-rt-14-dev clang-format"
# What only the tests use (VMLOC_DEPS_E2E=1; make test sets it): QEMU and libvirt for the
# end-to-end test, Prometheus' promtool for the /metrics format check.
e2e="libvirt-daemon-system libvirt-clients qemu-system-x86 busybox-static cpio curl prometheus"

missing=""
is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"
}
pkgs="$required"
if [ "${VMLOC_DEPS_OPTIONAL:-1}" != 0 ]; then
    pkgs="$pkgs $optional"
fi
if [ "${VMLOC_DEPS_E2E:-0}" = 1 ]; then
    pkgs="$pkgs $e2e"
fi
for p in $pkgs; do
    is_installed "$p" || missing="$missing $p"
done
if [ -z "$missing" ]; then
    echo "deps: all packages present"
    exit 0
fi
echo "deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "deps: missing packages:$missing; run this script as root" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"

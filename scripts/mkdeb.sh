#!/bin/sh
# Build vmloc's Debian package from the tree (debhelper with meson, debian/) and check it with
# lintian. The tree is copied (without build directories or .git) to OUTDIR/src, so a build
# never writes into the tree; the .deb lands in OUTDIR.
# usage: mkdeb.sh [OUTDIR]   (default build-deb; VMLOC_DEB_VERSION=V builds the tree as
#                              version V, as the package test does to have an earlier one to upgrade from)
# Exit 0 with the path of the .deb as the last line of output; 1 on failure, lintian errors
# included.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
out=$(realpath -m "${1:-build-deb}")
for tool in dpkg-buildpackage dh lintian; do
    command -v "$tool" >/dev/null || {
        echo "mkdeb: $tool is missing (scripts/deps.sh installs it)" >&2
        exit 1
    }
done
# One version: debian/changelog's upstream part is meson.build's project version.
mver=$(sed -n "s/^  version : '\([^']*\)',/\1/p" meson.build)
dver=$(dpkg-parsechangelog -l debian/changelog -S Version)
if [ "${dver%-*}" != "$mver" ]; then
    echo "mkdeb: debian/changelog says $dver, meson.build $mver: make them agree" >&2
    exit 1
fi
rm -rf "$out/src"
mkdir -p "$out/src"
tar -C "$root" --exclude='./build*' --exclude=./.git --exclude='./obj-*' -cf - . |
    tar -C "$out/src" -xf -
if [ -n "${VMLOC_DEB_VERSION:-}" ]; then
    # The same tree under another version: the first changelog entry's version replaced.
    sed -i "1s/^vmloc ([^)]*)/vmloc ($VMLOC_DEB_VERSION)/" "$out/src/debian/changelog"
    dver=$VMLOC_DEB_VERSION
fi
arch=$(dpkg --print-architecture)
deb="$out/vmloc_${dver}_${arch}.deb"
rm -f "$deb"
echo "mkdeb: building vmloc $dver in $out/src (log: $out/build.log)"
if ! (cd "$out/src" && DEB_BUILD_OPTIONS="nocheck parallel=${VMLOC_DEB_JOBS:-2}" \
    dpkg-buildpackage -b -uc -us) >"$out/build.log" 2>&1; then
    tail -40 "$out/build.log" >&2
    echo "mkdeb: dpkg-buildpackage failed (log: $out/build.log)" >&2
    exit 1
fi
echo "mkdeb: lintian $deb"
lintian --fail-on error "$deb" || {
    echo "mkdeb: lintian reports errors" >&2
    exit 1
}
echo "$deb"

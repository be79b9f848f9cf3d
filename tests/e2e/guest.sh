#!/bin/sh
# Build the end-to-end test's guest: Debian's kernel and a busybox initramfs whose init prints
# "VMLOC-GUEST-UP" and then "tick N" on the serial console every second, and burns CPU with
# as many busy loops as the kernel command line's vmloc.burn=N asks, starting
# vmloc.burn_after=S seconds after boot (it prints "VMLOC-BURN" then). Nothing but Debian
# packages (busybox-static, cpio, the linux-image package fetched with apt-get download).
# usage: guest.sh OUTDIR   -> OUTDIR/vmlinuz, OUTDIR/initrd.img
set -eu
out=$1
mkdir -p "$out"
cd "$out"
if [ -s vmlinuz ] && [ -s initrd.img ]; then
    exit 0
fi
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$pkg" ]; then
    echo "guest: no linux-image package known to apt" >&2
    exit 1
fi
ver=${pkg#linux-image-}
rm -rf kpkg
mkdir kpkg
(cd kpkg && timeout 120 apt-get download "$pkg" >/dev/null 2>&1) || {
    echo "guest: apt-get download $pkg failed" >&2
    exit 1
}
dpkg-deb --fsys-tarfile kpkg/*.deb | tar -x -C kpkg "./boot/vmlinuz-$ver"
cp "kpkg/boot/vmlinuz-$ver" vmlinuz
rm -rf kpkg root
mkdir -p root/bin root/proc root/sys root/dev
cp /bin/busybox root/bin/busybox
cat > root/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
n=0
after=0
for w in $(cat /proc/cmdline); do
    case $w in
    vmloc.burn=*) n=${w#vmloc.burn=} ;;
    vmloc.burn_after=*) after=${w#vmloc.burn_after=} ;;
    esac
done
(
    sleep "$after"
    echo "VMLOC-BURN $n"
    i=0
    while [ "$i" -lt "$n" ]; do
        (while :; do :; done) &
        i=$((i + 1))
    done
) &
echo "VMLOC-GUEST-UP burn=$n after=$after"
t=0
while :; do
    t=$((t + 1))
    echo "tick $t"
    sleep 1
done
INIT
chmod +x root/init
(cd root && find . | cpio -o -H newc 2>/dev/null | gzip -1) > initrd.img
rm -rf root

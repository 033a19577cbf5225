#!/usr/bin/env bash
# Build the arm64 stand-in's initramfs: busybox-static (arm64), the NIC and
# disk modules of the arm64 kernel, and initramfs-arm64/init (the busybox
# stand-in). xz-compressed (CRC32, which the kernel's decoder takes), as
# Talos's initramfs-arm64.xz is.
#
# usage: build-initramfs-arm64.sh ARM64_DIR OUT.cpio.xz
#   ARM64_DIR is what fetch-arm64.sh prints (vmlinuz, busybox, modules/).
set -euo pipefail

adir="$1" out="$2"
here="$(cd "$(dirname "$0")" && pwd)"
[[ -x "$adir/busybox" && -d "$adir/modules" ]] || { echo "build-initramfs-arm64: no busybox/modules in $adir" >&2; exit 1; }

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib/modules,etc,proc,sys,dev,tmp,run}
cp "$adir/busybox" "$root/bin/busybox"
# The arm64 binary cannot run here to list its applets: the host's busybox
# (same Debian version, same build configuration) names them.
for applet in $(/bin/busybox --list-full); do
  [[ -e "$root/$applet" ]] || ln -s /bin/busybox "$root/$applet"
done
cp "$adir"/modules/*.ko "$root/lib/modules/"
install -m 0755 "$here/initramfs-arm64/init" "$root/init"
install -m 0755 "$here/initramfs/udhcpc.script" "$root/etc/udhcpc.script"
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3

mkdir -p "$(dirname "$out")"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) | xz -q -T1 --check=crc32 -6 >"$out.tmp"
mv -f "$out.tmp" "$out"
echo "build-initramfs-arm64: $out ($(du -h "$out" | cut -f1))" >&2

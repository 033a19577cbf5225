#!/usr/bin/env bash
# Build the stand-in installer's initramfs: busybox, the NIC (and virtio disk)
# modules, the project's metalpxe_standin_installer with every shared library
# ldd names (and the dynamic loader), and an /init that loads the modules,
# takes an address with udhcpc and runs the stand-in.
#
# usage: build-initramfs.sh INSTALLER_BINARY KERNEL_DIR OUT.cpio.zst
#   KERNEL_DIR is what fetch-kernel.sh prints (vmlinuz + modules/).
set -euo pipefail

installer="$1" kdir="$2" out="$3"
here="$(cd "$(dirname "$0")" && pwd)"
[[ -x "$installer" ]] || { echo "build-initramfs: no installer binary at $installer" >&2; exit 1; }
[[ -d "$kdir/modules" ]] || { echo "build-initramfs: no modules in $kdir" >&2; exit 1; }

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib/modules,etc,proc,sys,dev,tmp,run,var/run}

# busybox-static: one binary, an applet link for each command.
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list-full); do
  [[ -e "$root/$applet" ]] || ln -s /bin/busybox "$root/$applet"
done

cp "$kdir"/modules/*.ko "$root/lib/modules/"

# The stand-in and its shared libraries at the paths the loader looks them up by.
install -m 0755 "$installer" "$root/usr/bin/metalpxe-standin"
strip --strip-unneeded "$root/usr/bin/metalpxe-standin"
ldd "$installer" | awk '/=> \// {print $3} /^\s*\/.*ld-linux/ {print $1}' | sort -u | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
  strip --strip-unneeded "$root$lib" 2>/dev/null || true
done
# /lib64 -> the loader path the binary names (Debian: /lib64/ld-linux-x86-64.so.2).
if [[ ! -e "$root/lib64/ld-linux-x86-64.so.2" ]]; then
  mkdir -p "$root/lib64"
  cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
fi

install -m 0755 "$here/initramfs/init" "$root/init"
install -m 0755 "$here/initramfs/udhcpc.script" "$root/etc/udhcpc.script"
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3

mkdir -p "$(dirname "$out")"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) | zstd -q -T2 -12 -f -o "$out"
echo "build-initramfs: $out ($(du -h "$out" | cut -f1))" >&2

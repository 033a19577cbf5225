#!/usr/bin/env bash
# Prepare the boot assets every e2e run serves: the cached Debian kernel and
# the stand-in installer's initramfs, built from BUILD_DIR's
# metalpxe_standin_installer. Rebuilt only when the installer binary or the
# initramfs sources are newer. Prints the assets directory.
#
# usage: assets.sh BUILD_DIR
set -euo pipefail
build="$1"
here="$(cd "$(dirname "$0")" && pwd)"
installer="$build/tests/e2e/installer/metalpxe_standin_installer"
[[ -x "$installer" ]] || { echo "assets: build the metalpxe_standin_installer target in $build first" >&2; exit 1; }
out="$build/tests/e2e/assets"
mkdir -p "$out"
kdir="$("$here/fetch-kernel.sh")"
cp -u "$kdir/vmlinuz" "$out/vmlinuz"
if [[ ! -f "$out/initramfs" || "$installer" -nt "$out/initramfs" || "$here/initramfs/init" -nt "$out/initramfs" \
      || "$here/initramfs/udhcpc.script" -nt "$out/initramfs" || "$here/build-initramfs.sh" -nt "$out/initramfs" ]]; then
  "$here/build-initramfs.sh" "$installer" "$kdir" "$out/initramfs.new"
  mv "$out/initramfs.new" "$out/initramfs"
fi
echo "$out"

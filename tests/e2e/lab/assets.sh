#!/usr/bin/env bash
# Prepare the boot assets every e2e run serves: the cached Debian kernel and
# the stand-in installer's initramfs, built from BUILD_DIR's
# metalpxe_standin_installer. The initramfs is kept in the lab cache under
# the sha256 of its inputs (the installer binary, the initramfs sources, the
# kernel), so scenarios running side by side and later runs share one build.
# Prints the assets directory.
#
# usage: assets.sh BUILD_DIR
set -euo pipefail
build="$1"
here="$(cd "$(dirname "$0")" && pwd)"
installer="$build/tests/e2e/installer/metalpxe_standin_installer"
[[ -x "$installer" ]] || { echo "assets: build the metalpxe_standin_installer target in $build first" >&2; exit 1; }
cache="${METALPXE_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/metalpxe-lab}"
kdir="$("$here/fetch-kernel.sh")"
key="$(cat "$installer" "$here/initramfs/init" "$here/initramfs/udhcpc.script" "$here/build-initramfs.sh" \
         "$kdir/vmlinuz" "$kdir"/modules/* | sha256sum | cut -c1-16)"
built="$cache/initramfs/$key"
mkdir -p "$cache/initramfs"
exec 9>"$cache/initramfs/.lock"
flock 9
if [[ ! -f "$built/initramfs" ]]; then
  mkdir -p "$built"
  "$here/build-initramfs.sh" "$installer" "$kdir" "$built/initramfs.new"
  mv "$built/initramfs.new" "$built/initramfs"
  # Keep the last few builds only.
  ls -1dt "$cache"/initramfs/*/ 2>/dev/null | tail -n +6 | xargs -r rm -rf
fi
out="$build/tests/e2e/assets"
mkdir -p "$out"
# Copied under a temporary name and renamed: a scenario already serving the
# previous files keeps reading them.
cp "$kdir/vmlinuz" "$out/.vmlinuz.$$" && mv -f "$out/.vmlinuz.$$" "$out/vmlinuz"
cmp -s "$built/initramfs" "$out/initramfs" 2>/dev/null ||
  { cp "$built/initramfs" "$out/.initramfs.$$" && mv -f "$out/.initramfs.$$" "$out/initramfs"; }
echo "$out"

#!/usr/bin/env bash
# What the arm64-install scenario serves, prepared in the lab cache and
# reused across runs (each step is a no-op once done):
#   - a tftpRoot holding the arm64 iPXE: deploy/ipxe-arm64.sh into
#     $cache/ipxe-arm64 (ipxe-arm64.efi from Debian 13's ipxe package; a
#     few seconds: deploy/test.sh runs this script in the background beside
#     the release tests so the scenario finds it done);
#   - the arm64 Debian kernel and busybox (fetch-arm64.sh);
#   - the busybox stand-in's initramfs (build-initramfs-arm64.sh), cached
#     under the sha256 of its inputs.
# Prints three lines: tftp_root=DIR, kernel=FILE, initramfs=FILE.
#
# usage: arm64-assets.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${METALPXE_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/metalpxe-lab}"
mkdir -p "$cache/initramfs-arm64"

# The arm64 iPXE: fetched again only when Debian 13's package changed.
tftp="$cache/ipxe-arm64"
"$here/../../../deploy/ipxe-arm64.sh" "$tftp" >/dev/null
echo "arm64-assets: iPXE for arm64: $(sed -n 's/^source: //p' "$tftp/arm64/SOURCE" 2>/dev/null)" >&2

adir="$("$here/fetch-arm64.sh")"
key="$(cat "$adir/busybox" "$adir/vmlinuz" "$adir"/modules/* "$here/initramfs-arm64/init" \
         "$here/initramfs/udhcpc.script" "$here/build-initramfs-arm64.sh" | sha256sum | cut -c1-16)"
built="$cache/initramfs-arm64/$key.cpio.xz"
exec 9>"$cache/initramfs-arm64/.lock"
flock 9
if [[ ! -f "$built" ]]; then
  "$here/build-initramfs-arm64.sh" "$adir" "$built.new"
  mv -f "$built.new" "$built"
  ls -1t "$cache"/initramfs-arm64/*.cpio.xz 2>/dev/null | tail -n +4 | xargs -r rm -f
fi
echo "tftp_root=$tftp"
echo "kernel=$adir/vmlinuz"
echo "initramfs=$built"

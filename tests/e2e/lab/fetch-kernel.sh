#!/usr/bin/env bash
# Fetch the Debian kernel the stand-in installer boots, once, into the lab cache.
#
# The cache (METALPXE_LAB_CACHE, default ${XDG_CACHE_HOME:-$HOME/.cache}/metalpxe-lab)
# is reused across runs: the .deb is downloaded only when the version that
# linux-image-amd64 names is not there yet. Prints the directory holding
# vmlinuz and the NIC modules (kernel/<version>/) on stdout.
set -euo pipefail

cache="${METALPXE_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/metalpxe-lab}"
mkdir -p "$cache/debs"

# The exact package linux-image-amd64 depends on (e.g. linux-image-6.1.0-56-amd64).
# Reuse a cached one when apt knows nothing (no `apt-get update` yet, no network).
pkg="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
if [[ -z "$pkg" ]]; then
  pkg="$(ls "$cache/kernel" 2>/dev/null | sort -V | tail -n1 || true)"
  [[ -n "$pkg" ]] || { echo "fetch-kernel: apt-cache names no linux-image-*-amd64 (run apt-get update)" >&2; exit 1; }
fi
out="$cache/kernel/$pkg"

# Scenarios run side by side: one of them extracts, the others wait for it.
exec 9>"$cache/.kernel.lock"
flock 9
if [[ ! -f "$out/.done" ]]; then
  deb="$(ls "$cache/debs/${pkg}_"*.deb 2>/dev/null | head -n1 || true)"
  if [[ -z "$deb" ]]; then
    echo "fetch-kernel: downloading $pkg" >&2
    (cd "$cache/debs" && timeout 300 apt-get download "$pkg" >&2)
    deb="$(ls "$cache/debs/${pkg}_"*.deb | head -n1)"
  fi
  tmp="$(mktemp -d "$cache/extract.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  dpkg-deb -x "$deb" "$tmp"
  rm -rf "$out"; mkdir -p "$out/modules"
  cp "$tmp"/boot/vmlinuz-* "$out/vmlinuz"
  # Only the NIC drivers (LAB-NOTES.md): e1000, and virtio-net with its chain;
  # virtio_blk for the disk the marker goes to.
  for m in e1000 virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev \
           virtio_pci failover net_failover virtio_net virtio_blk; do
    f="$(find "$tmp/lib/modules" -name "$m.ko*" | head -n1)"
    [[ -n "$f" ]] || { echo "fetch-kernel: module $m not in $pkg" >&2; exit 1; }
    cp "$f" "$out/modules/"
  done
  # Debian 12 ships modules uncompressed; busybox insmod wants plain .ko.
  for f in "$out"/modules/*.ko.xz; do [[ -e "$f" ]] && xz -d "$f"; done
  for f in "$out"/modules/*.ko.zst; do [[ -e "$f" ]] && zstd -q -d --rm "$f"; done
  touch "$out/.done"
fi
echo "$out"

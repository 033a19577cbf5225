#!/usr/bin/env bash
# Fetch what the arm64 stand-in boots, once, into the lab cache: the Debian
# kernel linux-image-arm64 names (vmlinuz: an EFI-stub Image iPXE starts as
# an EFI application) with the NIC and disk modules, and busybox-static's
# arm64 binary. Like fetch-kernel.sh, for another architecture: apt runs with
# a private configuration (APT::Architecture=arm64, the system's own sources
# and keyrings, its lists in the cache), so the system's dpkg and apt setup
# are not touched (no `dpkg --add-architecture`).
#
# The cache (METALPXE_LAB_CACHE, default ${XDG_CACHE_HOME:-$HOME/.cache}/metalpxe-lab)
# is reused across runs; the arm64 package lists are fetched when missing
# or a week old. Prints the directory holding vmlinuz, busybox and modules/.
set -euo pipefail

cache="${METALPXE_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/metalpxe-lab}"
apt_dir="$cache/apt-arm64"
mkdir -p "$cache/debs" "$apt_dir/parts" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"

exec 9>"$cache/.arm64.lock"
flock 9

for f in /etc/apt/sources.list.d/*.sources; do
  [[ -f "$f" ]] && sed -E 's/^Types:.*/Types: deb/' "$f" >"$apt_dir/parts/$(basename "$f")"
done
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
  [[ -f "$f" ]] && grep -E '^deb\s' "$f" >"$apt_dir/parts/$(basename "$f" .list)-deb.list" || true
done
apt_opts=(-o "Dir::Etc::sourcelist=/dev/null" -o "Dir::Etc::sourceparts=$apt_dir/parts"
          -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o "Dir::State::status=/dev/null"
          -o "APT::Architecture=arm64" -o "APT::Architectures::=arm64" -o "Debug::NoLocking=1"
          -o "APT::Sandbox::User=$(id -un)")
if [[ -z "$(find "$apt_dir/lists" -maxdepth 1 -name '*_Packages*' -mtime -7 -print -quit)" ]]; then
  echo "fetch-arm64: apt-get update (arm64 lists, private)" >&2
  timeout 300 apt-get "${apt_opts[@]}" -q update >&2
fi

pkg="$(apt-cache "${apt_opts[@]}" depends linux-image-arm64 2>/dev/null |
       awk '/Depends: linux-image-[0-9]/ {print $2; exit}')"
[[ -n "$pkg" ]] || { echo "fetch-arm64: apt names no linux-image-*-arm64" >&2; exit 1; }
bb_version="$(apt-cache "${apt_opts[@]}" policy busybox-static | awk '/Candidate:/ {print $2}')"
out="$cache/arm64/$pkg+busybox-${bb_version//:/%3a}"

if [[ ! -f "$out/.done" ]]; then
  debs=()
  for p in "$pkg" busybox-static; do
    deb="$(ls "$cache/debs/${p}_"*_arm64.deb 2>/dev/null | sort -V | tail -n1 || true)"
    if [[ -z "$deb" || ("$p" == busybox-static && "$deb" != *"_${bb_version//:/%3a}_arm64.deb") ]]; then
      echo "fetch-arm64: downloading $p (arm64)" >&2
      (cd "$cache/debs" && timeout 300 apt-get "${apt_opts[@]}" -q download "$p" >&2)
      deb="$(ls "$cache/debs/${p}_"*_arm64.deb | sort -V | tail -n1)"
    fi
    debs+=("$deb")
  done
  tmp="$(mktemp -d "$cache/extract-arm64.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  for deb in "${debs[@]}"; do dpkg-deb -x "$deb" "$tmp"; done
  rm -rf "$out"; mkdir -p "$out/modules"
  cp "$tmp"/boot/vmlinuz-* "$out/vmlinuz"
  cp "$tmp/bin/busybox" "$out/busybox"
  # virtio and virtio_ring are built in on arm64 (CONFIG_VIRTIO=y); the PCI
  # transport, the NIC and the disk are modules.
  for m in virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci failover net_failover virtio_net virtio_blk; do
    f="$(find "$tmp/lib/modules" -name "$m.ko*" | head -n1)"
    [[ -n "$f" ]] || { echo "fetch-arm64: module $m not in $pkg" >&2; exit 1; }
    cp "$f" "$out/modules/"
  done
  for f in "$out"/modules/*.ko.xz; do [[ -e "$f" ]] && xz -d "$f"; done
  for f in "$out"/modules/*.ko.zst; do [[ -e "$f" ]] && zstd -q -d --rm "$f"; done
  touch "$out/.done"
fi
echo "$out"

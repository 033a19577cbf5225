#!/usr/bin/env bash
# Makes a clean Debian 12 root directory, as a fresh machine has it, for the
# package test and the newcomer check (nothing of this development machine
# leaks in but its apt sources):
#   deploy/debian-root.sh DIR [PACKAGE...]
# mmdebstrap (--variant=apt: the essential packages and apt), from the apt
# sources this machine uses (/etc/apt/sources.list.d/debian.sources, or
# /etc/apt/sources.list), with PACKAGEs added. The first run keeps a tarball
# in build-package/roots/ and the downloaded .debs in build-package/apt-cache/;
# later runs unpack the tarball (seconds instead of minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$1"; shift
extra=("$@")
command -v mmdebstrap >/dev/null || { echo "debian-root: mmdebstrap is missing (apt-get install mmdebstrap)" >&2; exit 77; }
sources=/etc/apt/sources.list.d/debian.sources
[ -f "$sources" ] || sources=/etc/apt/sources.list
cache="$PWD/build-package/apt-cache"
key="$(printf '%s\n' bookworm "${extra[@]}" | cat - "$sources" | sha256sum | cut -c1-12)"
tarball="$PWD/build-package/roots/bookworm-$key.tar"
mkdir -p "$cache" "$(dirname "$tarball")"
if [ ! -s "$tarball" ]; then
  include=()
  [ "${#extra[@]}" -gt 0 ] && include=(--include="$(IFS=,; echo "${extra[*]}")")
  # Lists stay (apt-get install works in the root without an update first).
  mmdebstrap --variant=apt --format=tar --skip=essential/unlink,cleanup/apt/lists "${include[@]}" \
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
    --setup-hook="sync-in $cache /var/cache/apt/archives/" \
    --customize-hook="sync-out /var/cache/apt/archives $cache" \
    --customize-hook='rm -f "$1"/var/cache/apt/archives/*.deb' \
    bookworm "$tarball.tmp" "$sources"
  mv "$tarball.tmp" "$tarball"
fi
mkdir -p "$dir"
tar -C "$dir" -xf "$tarball"
# The host's apt sources and resolver inside, as a fresh install would have.
cp /etc/resolv.conf "$dir/etc/resolv.conf" 2>/dev/null || true
echo "debian-root: $dir from $(basename "$tarball")"

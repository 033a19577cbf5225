#!/usr/bin/env bash
# iPXE for arm64 UEFI machines (docs/arm64.md): Debian 12's `ipxe` package
# has no arm64 build, Debian 13's has one (/usr/lib/ipxe/ipxe-arm64.efi,
# built by Debian from its iPXE source). This takes that file from Debian
# 13's `ipxe` package (arch all: no foreign architecture, nothing installed)
# and makes OUT_DIR a complete tftpRoot with it.
#
# usage: ipxe-arm64.sh [--force] [OUT_DIR]
#   OUT_DIR (default /usr/local/lib/metalpxe/tftp) becomes a complete
#   tftpRoot: arm64/ipxe.efi (with arm64/SOURCE saying from which package),
#   plus copies of Debian's x86 loaders (snponly.efi, undionly.kpxe) from
#   /usr/lib/ipxe. Point metalpxed at it: `server.tftpRoot: OUT_DIR`.
#   Copies, not symlinks: metalpxed opens files beneath tftpRoot only
#   (openat2 RESOLVE_BENEATH), so a link out of it is refused. Run it again
#   after upgrading the `ipxe` package: the x86 copies are refreshed; the
#   arm64 file is fetched again only when Debian 13's package changed or
#   with --force.
#
# Why not build it: Debian 12's iPXE snapshot (2019) cannot link ipxe.efi for
# arm64 and needs patched make flags for gcc 12, and its source tarballs are
# not on every mirror (this project's is missing them); Debian 13's binary is
# Debian's own build of a 2025 iPXE with every driver (virtio-net included).
#
# Trust: apt downloads the package through a private configuration (a
# trixie entry for the system's own mirror, lists in a temporary
# directory; the system's apt setup is not touched) and verifies it against
# the Release file signed with the keys in /usr/share/keyrings/
# debian-archive-keyring.gpg, as for any package. Nothing is embedded: no
# script, certificates or keys. Needs: apt, dpkg-deb, od (deploy/install-deps.sh).
set -euo pipefail

force=0
if [[ "${1:-}" == --force ]]; then force=1; shift; fi
out="${1:-/usr/local/lib/metalpxe/tftp}"
suite="${IPXE_ARM64_SUITE:-trixie}"

mkdir -p "$out/arm64"
exec 9>"$out/.ipxe-arm64.lock"
flock 9

# Debian's x86 loaders beside the arm64 one, so OUT_DIR is the whole tftpRoot.
for f in snponly.efi undionly.kpxe; do
  if [[ -f "/usr/lib/ipxe/$f" ]] && ! cmp -s "/usr/lib/ipxe/$f" "$out/$f"; then
    cp "/usr/lib/ipxe/$f" "$out/.$f.new" && mv -f "$out/.$f.new" "$out/$f"
  fi
done

work="$(mktemp -d "${TMPDIR:-/tmp}/ipxe-arm64.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# The system's first Debian mirror (deb822 or one-line), for the suite.
mirror="$(sed -nE 's/^URIs:[[:space:]]*(\S+).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)"
[[ -n "$mirror" ]] || mirror="$(sed -nE 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?(\S+)[[:space:]].*/\2/p' \
                                  /etc/apt/sources.list 2>/dev/null | grep -v security | head -n1)"
mirror="${mirror:-http://deb.debian.org/debian}"
mkdir -p "$work/parts" "$work/lists/partial" "$work/cache/archives/partial"
cat >"$work/parts/ipxe.sources" <<SRC
Types: deb
URIs: $mirror
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt_opts=(-o "Dir::Etc::sourcelist=/dev/null" -o "Dir::Etc::sourceparts=$work/parts"
          -o "Dir::Etc::preferencesparts=/dev/null" -o "Dir::State::Lists=$work/lists"
          -o "Dir::Cache=$work/cache" -o "Dir::State::status=/dev/null" -o "Debug::NoLocking=1"
          -o "APT::Sandbox::User=$(id -un)")
echo "ipxe-arm64: apt-get update ($suite, private lists)" >&2
timeout 600 apt-get "${apt_opts[@]}" -q update >"$work/apt-update.log" 2>&1 ||
  { cat "$work/apt-update.log" >&2; exit 1; }
version="$(apt-cache "${apt_opts[@]}" policy ipxe | awk '/Candidate:/ {print $2}')"
[[ -n "$version" && "$version" != "(none)" ]] || { echo "ipxe-arm64: $suite has no ipxe package" >&2; exit 1; }
source_text="Debian $suite package ipxe $version, /usr/lib/ipxe/ipxe-arm64.efi"
if ((force == 0)) && [[ -f "$out/arm64/ipxe.efi" ]] && grep -qxF "source: $source_text" "$out/arm64/SOURCE" 2>/dev/null; then
  echo "ipxe-arm64: $out/arm64/ipxe.efi is already from $source_text" >&2
  echo "$out"
  exit 0
fi
echo "ipxe-arm64: apt-get download ipxe=$version ($suite)" >&2
(cd "$work" && timeout 600 apt-get "${apt_opts[@]}" -q download "ipxe=$version" >"$work/apt-download.log" 2>&1) ||
  { cat "$work/apt-download.log" >&2; exit 1; }
dpkg-deb -x "$work"/ipxe_*.deb "$work/root"
built="$work/root/usr/lib/ipxe/ipxe-arm64.efi"
[[ -f "$built" ]] || { echo "ipxe-arm64: ipxe $version ($suite) has no ipxe-arm64.efi" >&2; exit 1; }

# Never install a binary the arm64 machine cannot run: a PE32+ image for
# machine 0xaa64 (ARM64), subsystem 10 (EFI application).
pe_u16() { od -An -tu2 -j "$2" -N2 "$1" | tr -d ' '; }
pe_u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
pe="$(pe_u32 "$built" 60)"
if [[ "$(head -c2 "$built")" != MZ || "$(pe_u16 "$built" $((pe + 4)))" != $((0xaa64)) ||
      "$(pe_u16 "$built" $((pe + 24)))" != $((0x20b)) || "$(pe_u16 "$built" $((pe + 24 + 68)))" != 10 ]]; then
  echo "ipxe-arm64: $built is not an arm64 EFI application" >&2
  exit 1
fi

cp "$built" "$out/arm64/.ipxe.efi.new"
mv -f "$out/arm64/.ipxe.efi.new" "$out/arm64/ipxe.efi"
{
  echo "source: $source_text"
  echo "sha256: $(sha256sum "$out/arm64/ipxe.efi" | cut -d' ' -f1)"
  echo "fetched: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$out/arm64/SOURCE.new"
mv -f "$out/arm64/SOURCE.new" "$out/arm64/SOURCE"
rm -f "$out/arm64/snponly.efi" "$out/arm64/BUILD-INFO"  # an earlier cross-built one
echo "ipxe-arm64: $out/arm64/ipxe.efi ($(stat -c %s "$out/arm64/ipxe.efi") bytes) from $source_text" >&2
echo "$out"

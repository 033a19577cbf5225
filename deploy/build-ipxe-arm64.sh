#!/usr/bin/env bash
# Build iPXE for arm64 UEFI machines (docs/arm64.md): bin-arm64-efi/snponly.efi
# from Debian 12's `ipxe` source package (the snapshot its x86 binaries in
# /usr/lib/ipxe come from), cross-compiled with Debian's gcc-aarch64-linux-gnu.
#
# usage: build-ipxe-arm64.sh [--force] [OUT_DIR]
#   OUT_DIR (default /usr/local/lib/metalpxe/tftp) becomes a complete
#   tftpRoot: arm64/snponly.efi (built here, with arm64/BUILD-INFO saying from
#   what), plus copies of Debian's x86 loaders (snponly.efi, undionly.kpxe)
#   from /usr/lib/ipxe. Point metalpxed at it: `server.tftpRoot: OUT_DIR`.
#   Copies, not symlinks: metalpxed opens files beneath tftpRoot only
#   (openat2 RESOLVE_BENEATH), so a link out of it is refused. Run it again
#   after upgrading the `ipxe` package: the x86 copies are refreshed and the
#   arm64 build is redone only if the source version changed.
#   --force rebuilds even when OUT_DIR's arm64 build is of the same source.
#
# Source: `apt-get source ipxe=<installed ipxe version>` through a private
# apt configuration (deb-src entries derived from the system's own sources,
# its lists in a temporary directory: the system's apt setup is not touched).
# IPXE_SOURCE=DIR builds an already unpacked iPXE tree instead (a mirror that
# lacks the source package, an offline machine); BUILD-INFO then says so.
#
# Nothing is embedded: no script (the binary does DHCP and chains to the
# file it is given: metalpxed's chain script), no certificates, no keys.
# Needs: gcc-aarch64-linux-gnu, gcc and libc6-dev (iPXE's host tool
# util/elf2efi64), make, dpkg-dev (dpkg-source), xz-utils
# (deploy/install-deps.sh). Concurrent runs on one OUT_DIR take turns.
set -euo pipefail

force=0
if [[ "${1:-}" == --force ]]; then force=1; shift; fi
out="${1:-/usr/local/lib/metalpxe/tftp}"
cross=aarch64-linux-gnu-
command -v "${cross}gcc" >/dev/null ||
  { echo "build-ipxe-arm64: no ${cross}gcc (apt-get install gcc-aarch64-linux-gnu)" >&2; exit 1; }
# iPXE's build compiles its own tool util/elf2efi64 (ELF to PE) with the
# build machine's compiler.
command -v gcc >/dev/null && [[ -f /usr/include/stdio.h ]] ||
  { echo "build-ipxe-arm64: no native gcc with C headers (apt-get install gcc libc6-dev)" >&2; exit 1; }

mkdir -p "$out/arm64"
exec 9>"$out/.build-ipxe-arm64.lock"
flock 9

# Debian's x86 loaders beside the arm64 one, so OUT_DIR is the whole tftpRoot.
for f in snponly.efi undionly.kpxe; do
  if [[ -f "/usr/lib/ipxe/$f" ]] && ! cmp -s "/usr/lib/ipxe/$f" "$out/$f"; then
    cp "/usr/lib/ipxe/$f" "$out/.$f.new" && mv -f "$out/.$f.new" "$out/$f"
  fi
done

# The source version: the installed x86 binaries', so both come from one snapshot.
version="$(dpkg-query -W -f='${Version}' ipxe 2>/dev/null || true)"
if [[ -n "${IPXE_SOURCE:-}" ]]; then
  source_text="iPXE tree $IPXE_SOURCE (IPXE_SOURCE; not Debian's source package)"
  if [[ -d "$IPXE_SOURCE/.git" ]] && command -v git >/dev/null; then
    source_text+=" at $(git -C "$IPXE_SOURCE" rev-parse HEAD)"
  fi
else
  source_text="Debian source package ipxe ${version:-(newest)}"
fi
info="$out/arm64/BUILD-INFO"
if ((force == 0)) && [[ -f "$out/arm64/snponly.efi" && -f "$info" ]] &&
   grep -qxF "source: $source_text" "$info"; then
  echo "build-ipxe-arm64: $out/arm64/snponly.efi is already built from $source_text" >&2
  echo "$out"
  exit 0
fi

t0=$SECONDS
work="$(mktemp -d "${TMPDIR:-/tmp}/build-ipxe-arm64.XXXXXX")"
trap 'rm -rf "$work"' EXIT

if [[ -n "${IPXE_SOURCE:-}" ]]; then
  [[ -f "$IPXE_SOURCE/src/Makefile" ]] || { echo "build-ipxe-arm64: $IPXE_SOURCE has no src/Makefile" >&2; exit 1; }
  cp -a "$IPXE_SOURCE" "$work/ipxe"
  tree="$work/ipxe"
else
  # deb-src twins of the system's deb entries (deb822 .sources and one-line
  # .list files alike), with the same mirrors and keyrings.
  mkdir -p "$work/apt/parts" "$work/apt/lists/partial" "$work/apt/cache/archives/partial"
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] && sed -E 's/^Types:.*/Types: deb-src/' "$f" >"$work/apt/parts/$(basename "$f")"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f "$f" ]] && sed -nE 's/^deb(\s)/deb-src\1/p' "$f" >"$work/apt/parts/$(basename "$f" .list)-src.list"
  done
  apt_opts=(-o "Dir::Etc::sourcelist=/dev/null" -o "Dir::Etc::sourceparts=$work/apt/parts"
            -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache"
            -o "Dir::State::status=/var/lib/dpkg/status" -o "Debug::NoLocking=1")
  # Downloads as the calling user (root included), into the private directories.
  apt_opts+=(-o "APT::Sandbox::User=$(id -un)")
  echo "build-ipxe-arm64: apt-get update (deb-src, private lists)" >&2
  timeout 600 apt-get "${apt_opts[@]}" -q update >"$work/apt-update.log" 2>&1 ||
    { cat "$work/apt-update.log" >&2; exit 1; }
  mkdir -p "$work/src"
  echo "build-ipxe-arm64: apt-get source ipxe${version:+=$version}" >&2
  if ! (cd "$work/src" && timeout 600 apt-get "${apt_opts[@]}" -q source "ipxe${version:+=$version}" \
          >"$work/apt-source.log" 2>&1); then
    cat "$work/apt-source.log" >&2
    echo "build-ipxe-arm64: apt-get source ipxe failed; IPXE_SOURCE=DIR builds an unpacked iPXE tree instead" >&2
    exit 1
  fi
  tree="$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name 'ipxe-*' | head -n1)"
  [[ -n "$tree" && -f "$tree/src/Makefile" ]] || { echo "build-ipxe-arm64: no iPXE tree unpacked" >&2; exit 1; }
  version="$(sed -n 's/^Version: //p' "$work"/src/ipxe_*.dsc | head -n1)"
  source_text="Debian source package ipxe $version"
fi

# NO_WERROR=1: the 2019 snapshot predates gcc 12's warnings
#   (-Waddress-of-packed-member in include/ipxe/uri.h among them).
# HOST_CFLAGS=-O2: the snapshot adds the target's -mabi=lp64 to the flags of
#   the build host's own tools (util/elf2efi64, util/zbin), which x86 gcc
#   refuses; upstream stopped that in 2019 (a4f8c6e31, "[build] Do not apply
#   WORKAROUND_CFLAGS for host compiler").
# Only snponly.efi: it drives the NIC through the firmware's own network
#   stack (SNP), as the x86 one does; in this snapshot ipxe.efi (every
#   driver) does not link for arm64 (ISA port I/O drivers: outl, insw).
make_args=(-C "$tree/src" -j "$(nproc)" CROSS="$cross" NO_WERROR=1 HOST_CFLAGS=-O2 bin-arm64-efi/snponly.efi)
echo "build-ipxe-arm64: make ${make_args[*]:2}" >&2
if ! make "${make_args[@]}" >"$work/make.log" 2>&1; then
  grep -E 'error|Error' "$work/make.log" | tail -n 20 >&2
  echo "build-ipxe-arm64: make failed" >&2
  exit 1
fi
built="$tree/src/bin-arm64-efi/snponly.efi"

# Never install a binary the arm64 machine cannot run: a PE32+ image for
# machine 0xaa64 (ARM64), subsystem 10 (EFI application).
pe_u16() { od -An -tu2 -j "$2" -N2 "$1" | tr -d ' '; }
pe_u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
pe="$(pe_u32 "$built" 60)"
if [[ "$(head -c2 "$built")" != MZ || "$(pe_u16 "$built" $((pe + 4)))" != $((0xaa64)) ||
      "$(pe_u16 "$built" $((pe + 24)))" != $((0x20b)) || "$(pe_u16 "$built" $((pe + 24 + 68)))" != 10 ]]; then
  echo "build-ipxe-arm64: $built is not an arm64 EFI application" >&2
  exit 1
fi

cp "$built" "$out/arm64/.snponly.efi.new"
mv -f "$out/arm64/.snponly.efi.new" "$out/arm64/snponly.efi"
secs=$((SECONDS - t0))
{
  echo "source: $source_text"
  echo "compiler: $("${cross}gcc" --version | head -n1)"
  echo "make: ${make_args[*]:4}"
  echo "sha256: $(sha256sum "$out/arm64/snponly.efi" | cut -d' ' -f1)"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) in ${secs} s on $(nproc) cores"
} >"$info.new"
mv -f "$info.new" "$info"
echo "build-ipxe-arm64: $out/arm64/snponly.efi ($(stat -c %s "$out/arm64/snponly.efi") bytes) from $source_text in ${secs} s" >&2
echo "$out"

#!/usr/bin/env bash
# Builds the Debian package from this checkout:
#   deploy/package.sh        -> dist/metalpxe_<version>_amd64.deb
# with Debian's own tools and flags (dpkg-buildpackage, debhelper's cmake
# build, dpkg-buildflags' hardening), then checks it with lintian, which must
# report no errors. The source tree is copied (tracked and new files, as git
# sees them) to build-package/, so the checkout stays clean.
# Needs the build dependencies of debian/control (deploy/install-deps.sh
# installs them) plus dpkg-dev, debhelper, fakeroot and lintian.
set -euo pipefail
cd "$(dirname "$0")/.."
version="$(sed -n 's/^project(metalpxe VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
changelog="$(dpkg-parsechangelog -S Version)"
if [ "$version" != "$changelog" ]; then
  echo "package: CMakeLists.txt says $version, debian/changelog $changelog: add a changelog entry (dch -v $version)" >&2
  exit 1
fi
arch="$(dpkg --print-architecture)"
# No stale .deb while this one builds (deploy/image/build.sh may be waiting
# for it, deploy/test.sh).
rm -f "dist/metalpxe_${version}_${arch}.deb"
work=build-package
src="$work/metalpxe-$version"
# Only the copied source and the previous outputs: roots/ and apt-cache/ (the
# package test's clean roots, deploy/debian-root.sh) are kept.
rm -rf "$work"/metalpxe-* "$work"/metalpxe_* "$work"/metalpxe-dbgsym_*
mkdir -p "$src" dist
git ls-files -z --cached --others --exclude-standard |
  tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null | tar -C "$src" -xf -
# A compiler cache where there is one: a rebuild after a small change takes
# a minute instead of the whole build (CMake reads these variables).
if command -v ccache >/dev/null 2>&1; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_C_COMPILER_LAUNCHER=ccache
fi
( cd "$src" && DEB_BUILD_OPTIONS="parallel=$(nproc) nocheck" dpkg-buildpackage -b -us -uc )
deb="metalpxe_${version}_${arch}.deb"
mv "$work/$deb" dist/
lintian --fail-on error --suppress-tags-from-file /dev/null "dist/$deb" | tee "$work/lintian.txt"
echo "package: dist/$deb ($(du -h "dist/$deb" | cut -f1)), lintian: $(grep -c '^E:' "$work/lintian.txt" || true) errors," \
     "$(grep -c '^W:' "$work/lintian.txt" || true) warnings"

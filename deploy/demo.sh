#!/usr/bin/env bash
# The README's main job on a fresh Debian 12 machine: install dependencies,
# build metalpxe, and run the QEMU lab demo — metalpxed on a bridge in a
# network namespace, a UEFI control plane and a BIOS worker that PXE-boot
# through it, install themselves with their own Talos config (a stand-in
# installer plays Talos) and come back to boot from disk. No real network is
# touched; everything is cleaned up on exit. Needs root (network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || exec sudo -E "$0" "$@"

deploy/install-deps.sh
deploy/build.sh release metalpxed metalpxectl metalpxe_standin_installer
exec tests/e2e/demo.sh build

#!/usr/bin/env bash
# Installs every build, test and lab dependency of metalpxe on Debian 12.
# Idempotent: packages already present are left alone; safe to run on every build.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake ninja-build pkg-config git
  libboost-dev libboost-system-dev
  libmicrohttpd-dev libyaml-cpp-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libssl-dev libfreeipmi-dev libsqlite3-dev libcurl4-openssl-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev
  libssh-dev libarchive-dev libsystemd-dev
  help2man
  clang libclang-rt-14-dev
  python3 python3-yaml python3-jsonschema
  # The Debian package (deploy/package.sh) and its test in a clean root.
  dpkg-dev debhelper fakeroot lintian mmdebstrap
  # The unit: its exposure (systemd-analyze) and a boot of it (systemd-nspawn).
  systemd systemd-container
  # The appliance image (deploy/image/build.sh): partitions made as files
  # (squashfs root, FAT via mtools, ext4 -d), GPT by sgdisk, GRUB for BIOS
  # and UEFI from the host's modules, qcow2 by qemu-img.
  squashfs-tools dosfstools mtools e2fsprogs gdisk grub-pc-bin grub-efi-amd64-bin qemu-utils
)
PEER_PKGS=(
  iproute2 iputils-ping procps psmisc util-linux curl
  kea-admin kea-dhcp4-server dnsmasq-base udhcpc isc-dhcp-client busybox-static radvd
  atftp tftp-hpa
  ipmitool freeipmi-tools openipmi
  openssh-server redfishtool
  nginx-light wrk
  ipxe qemu-system-x86 ovmf ipxe-qemu cpio
  fdisk  # sfdisk: the e2e lab's boot disks (tests/e2e/lab/bootdisk.sh); not in util-linux since Debian 11
  qemu-system-arm qemu-efi-aarch64  # e2e arm64-no-loader, arm64-install: arm64 machine with AAVMF
  # The Secure Boot chain metalpxed serves (shimx64.efi, grubx64.efi) when
  # tftpRoot has no copy; the e2e secureboot-shim boots it under OVMF's
  # Secure Boot build with Microsoft's keys (ovmf's OVMF_*_4M.ms.fd).
  shim-signed grub-efi-amd64-signed
  # The e2e secureboot-uki: a UKI of the stand-in (systemd's EFI stub),
  # signed with OVMF's snakeoil key (sbsign) for OVMF_VARS_4M.snakeoil.fd.
  systemd-boot-efi sbsigntool
  # The e2e lab's initramfs (zstd, xz, strip) and its store queries (sqlite3):
  # a clean Debian 12 lacks them (deploy/fresh-debian-check.sh).
  zstd xz-utils binutils sqlite3
  etcd-server etcd-client openssl
  prometheus  # promtool: /metrics is checked by Prometheus's own parser
  chromium                      # the status page test drives a real headless browser
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${BUILD_PKGS[@]}" "${PEER_PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#BUILD_PKGS[@]}+${#PEER_PKGS[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Daemons from peer packages (kea, nginx, tftpd) must not start on the host:
# tests start them inside their own namespaces.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: done"

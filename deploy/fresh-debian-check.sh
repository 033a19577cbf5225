#!/usr/bin/env bash
# The README's newcomer path on a clean Debian 12, not on this development
# machine (where packages installed by hand hide a missing dependency):
#   deploy/fresh-debian-check.sh [--build]
# 1. a clean root from mmdebstrap (deploy/debian-root.sh) with this checkout
#    copied into /src/metalpxe;
# 2. deploy/install-deps.sh there, as a newcomer runs it first;
# 3. every command the build, the tests and the e2e lab call must then exist;
# 4. with --build, deploy/build.sh release there too (an hour on 2 cores).
# Debian packages already downloaded on this machine are offered to apt
# through an overlay (nothing is written to this machine's cache).
set -euo pipefail
cd "$(dirname "$0")/.."
build=""
[ "${1:-}" = "--build" ] && build=1
root="$(mktemp -d /tmp/mpx-fresh.XXXXXX)"
upper="$(mktemp -d /tmp/mpx-fresh-cache.XXXXXX)"
cleanup() {
  for m in var/cache/apt/archives dev/pts dev proc sys; do umount -l "$root/$m" 2>/dev/null || true; done
  rm -rf "$root" "$upper"
}
trap cleanup EXIT

deploy/debian-root.sh "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mkdir -p "$upper/up" "$upper/work"
mount -t overlay overlay -o "lowerdir=/var/cache/apt/archives,upperdir=$upper/up,workdir=$upper/work" \
  "$root/var/cache/apt/archives" 2>/dev/null || echo "fresh-debian-check: no package cache overlay; downloading everything"
mkdir -p "$root/src/metalpxe"
git ls-files -z --cached --others --exclude-standard |
  tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null | tar -C "$root/src/metalpxe" -xf -
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb "$@"; }

echo "--- deploy/install-deps.sh in a clean Debian 12 root"
t0=$SECONDS
in_root bash -c 'cd /src/metalpxe && deploy/install-deps.sh' > "$upper/install-deps.log" 2>&1 ||
  { tail -30 "$upper/install-deps.log"; echo "FAIL: install-deps.sh"; exit 1; }
tail -1 "$upper/install-deps.log"
echo "install-deps: $((SECONDS - t0)) s"
# A second run finds everything: the list is complete and the check idempotent.
in_root bash -c 'cd /src/metalpxe && deploy/install-deps.sh' | grep -q "all .* packages present" ||
  { echo "FAIL: a second install-deps.sh run still installs something"; exit 1; }

echo "--- commands the README's two commands run"
# Build (deploy/build.sh), tests and peers (deploy/test.sh, tests/), the e2e
# lab (tests/e2e/lab/*.sh), the appliance image (deploy/image/build.sh) and
# its scenarios, the arm64 iPXE (deploy/ipxe-arm64.sh), the
# package (deploy/package.sh).
commands=(cmake ninja c++ clang++ pkg-config protoc grpc_cpp_plugin git ccache:optional python3 help2man
          ip ss ping setpriv setsid flock timeout mknod truncate sha256sum od cmp xargs awk sed
          curl openssl ssh-keygen sqlite3 zstd xz cpio strip ldd dpkg-deb apt-get
          busybox udhcpc dhclient dnsmasq perfdhcp kea-dhcp4 atftp tftp
          ipmitool ipmi-power ipmi_sim sshd redfishtool nginx wrk
          qemu-system-x86_64 qemu-system-aarch64 etcd etcdctl
          apt-cache  # deploy/ipxe-arm64.sh, lab/fetch-arm64.sh
          dpkg-buildpackage dh fakeroot lintian mmdebstrap systemd-analyze systemd-nspawn nsenter
          mksquashfs mkfs.vfat mcopy mlabel mtype mkfs.ext4 sgdisk partx grub-mkimage qemu-img)
missing=()
for c in "${commands[@]}"; do
  name="${c%%:*}"
  [ "$name" != "$c" ] && continue  # optional
  in_root sh -c "command -v $name" >/dev/null || missing+=("$name")
done
for f in /usr/lib/ipxe/snponly.efi /usr/lib/ipxe/undionly.kpxe /usr/share/OVMF/OVMF_CODE.fd /usr/share/AAVMF/AAVMF_CODE.fd; do
  in_root test -e "$f" || missing+=("$f")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "FAIL: missing after install-deps.sh: ${missing[*]}"
  exit 1
fi
echo "all ${#commands[@]} commands present"

if [ -n "$build" ]; then
  echo "--- deploy/build.sh release in the clean root"
  in_root bash -c 'cd /src/metalpxe && deploy/build.sh release' || { echo "FAIL: build"; exit 1; }
fi
echo "PASS: fresh Debian 12 newcomer path"

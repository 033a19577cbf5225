#!/usr/bin/env bash
# Builds the bootable metalpxe appliance image (docs/appliance-image.md):
#   deploy/image/build.sh [DEB]
#     -> dist/metalpxe-appliance.raw   (write it to a USB stick or a disk)
#     -> dist/metalpxe-appliance.qcow2 (compressed, for VMs)
# DEB defaults to the package deploy/package.sh builds,
# dist/metalpxe_<version>_amd64.deb.
#
# From Debian 12 packages only (mmdebstrap, from this machine's apt sources)
# plus that .deb. No loop devices and no mounts: every partition is made as a
# file (mksquashfs, mkfs.vfat + mcopy, mkfs.ext4 -d), then copied into a GPT
# disk laid out by sgdisk; GRUB is installed from the host's GRUB modules
# (grub-mkimage for both firmwares, boot.img patched for BIOS).
#
#   1 bios-boot        1 MiB   GRUB's BIOS core image (SeaBIOS / legacy BIOS)
#   2 esp             96 MiB   FAT32: EFI/BOOT/BOOTX64.EFI (GRUB), grub.cfg,
#                              the kernel and the initramfs
#   3 metalpxe-config 64 MiB   FAT16 labelled METALPXE: metalpxe.yaml,
#                              machines.yaml, talos/ (editable from any laptop),
#                              mounted at /etc/metalpxe
#   4 metalpxe-root            squashfs (read-only by construction): Debian 12
#                              minimal + systemd + metalpxe
#   5 metalpxe-state 1 GiB     ext4, mounted at /var/lib/metalpxe
# Needs root (mmdebstrap --mode=root, chroot for the kernel's initramfs) and
# mmdebstrap, squashfs-tools, dosfstools, mtools, e2fsprogs, gdisk,
# grub-pc-bin, grub-efi-amd64-bin, qemu-utils (deploy/install-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
here=deploy/image
[ "$(id -u)" -eq 0 ] || { echo "image: run as root (mmdebstrap --mode=root, chroot)" >&2; exit 1; }
version="$(sed -n 's/^project(metalpxe VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)"
deb="$(realpath -m "${1:-dist/metalpxe_${version}_amd64.deb}")"
# METALPXE_IMAGE_DEB_WAIT=SECONDS: the .deb may not exist yet (deploy/test.sh
# starts this build beside deploy/package.sh): the Debian root is made first
# and the .deb is waited for, up to SECONDS, only where it is installed.
deb_wait="${METALPXE_IMAGE_DEB_WAIT:-0}"
[ -f "$deb" ] || [ "$deb_wait" -gt 0 ] ||
  { echo "image: $deb is missing (deploy/package.sh builds it)" >&2; exit 1; }
for tool in mmdebstrap mksquashfs mkfs.vfat mcopy mkfs.ext4 sgdisk grub-mkimage qemu-img; do
  command -v "$tool" >/dev/null || { echo "image: $tool is missing (deploy/install-deps.sh)" >&2; exit 1; }
done
[ -f /usr/lib/grub/i386-pc/boot.img ] || { echo "image: grub-pc-bin is missing" >&2; exit 1; }
[ -d /usr/lib/grub/x86_64-efi ] || { echo "image: grub-efi-amd64-bin is missing" >&2; exit 1; }

t0=$SECONDS
work="$PWD/build-image"
root="$work/root"
cache="$work/apt-cache"
out=dist/metalpxe-appliance
# METALPXE_IMAGE_REUSE_ROOT=1 (while working on the steps after it): keep
# the root filesystem of the previous run instead of making it again.
reuse_root="${METALPXE_IMAGE_REUSE_ROOT:-0}"
[ "$reuse_root" = 1 ] && [ -f "$root/etc/fstab" ] || reuse_root=0
# Never delete through a mount a failed run might have left in the root
# (its /dev, /sys or /proc are the host's).
if findmnt -rno TARGET | grep -q "^$root/"; then
  echo "image: something is still mounted under $root (findmnt): unmount it first" >&2
  exit 1
fi
[ "$reuse_root" = 1 ] || rm -rf "$root"
rm -rf "$work"/*.part "$work"/esp "$work"/state "$work"/disk.raw
mkdir -p "$work" "$cache" dist

# Fixed identifiers: the kernel finds its root by PARTUUID, GRUB its ESP by
# the FAT volume id. Fixed, not random, so two builds of one tree lay out the
# same disk (the contents still differ: timestamps).
root_partuuid=6d70782d-726f-4f74-8000-000000000004
esp_volid=4D50A001
esp_fsuuid=4D50-A001

sources=/etc/apt/sources.list.d/debian.sources
[ -f "$sources" ] || sources=/etc/apt/sources.list

# --- 1. the root filesystem -------------------------------------------------
# --variant=apt (Essential packages + apt) plus what a booting system needs;
# no recommends, no docs/man pages/locales (only the copyright files and
# metalpxe's own docs and examples). update-initramfs is diverted to true
# while packages install (the kernel's postinst and then initramfs-tools'
# trigger would each build the initramfs: minutes each on 2 loaded cores)
# and run once at the end. apt in the chroot resolves names with the host's
# resolv.conf (systemd-resolved's postinst made it a link into /run, empty
# there); customize.sh puts the link back.
packages=(systemd systemd-sysv systemd-resolved udev dbus kmod
          linux-image-amd64 initramfs-tools zstd
          iproute2 dosfstools e2fsprogs)
if [ "$reuse_root" = 1 ]; then
  echo "image: reusing the root filesystem in $root (METALPXE_IMAGE_REUSE_ROOT=1)"
else
echo "image: mmdebstrap (bookworm, ${#packages[@]} packages + $(basename "$deb"))"
mmdebstrap --mode=root --variant=apt --format=directory \
  --aptopt='APT::Install-Recommends "false"' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-include=/usr/share/doc/metalpxe/*' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --include="$(IFS=,; echo "${packages[*]}")" \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
  --setup-hook="sync-in $cache /var/cache/apt/archives/" \
  --setup-hook='mkdir -p "$1"/etc/initramfs-tools/conf.d "$1"/etc/initramfs-tools/hooks' \
  --setup-hook="upload $here/initramfs.conf /etc/initramfs-tools/conf.d/metalpxe-appliance.conf" \
  --setup-hook="upload $here/rootfs/etc/initramfs-tools/hooks/metalpxe-appliance /etc/initramfs-tools/hooks/metalpxe-appliance" \
  --setup-hook='chmod 0755 "$1"/etc/initramfs-tools/hooks/metalpxe-appliance' \
  --essential-hook='chroot "$1" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs' \
  --essential-hook='ln -s /bin/true "$1"/usr/sbin/update-initramfs' \
  --customize-hook="sync-out /var/cache/apt/archives $cache" \
  --customize-hook='rm "$1"/usr/sbin/update-initramfs' \
  --customize-hook='chroot "$1" dpkg-divert --quiet --local --rename --remove /usr/sbin/update-initramfs' \
  --customize-hook='chroot "$1" update-initramfs -c -k all' \
  --customize-hook="$here/wait-for-file.sh '$deb' $deb_wait" \
  --customize-hook="upload $deb /tmp/metalpxe.deb" \
  --customize-hook='rm -f "$1"/etc/resolv.conf && cp /etc/resolv.conf "$1"/etc/resolv.conf' \
  --customize-hook='chroot "$1" apt-get install -y -q --no-install-recommends /tmp/metalpxe.deb' \
  --customize-hook='rm -f "$1"/tmp/metalpxe.deb "$1"/var/cache/apt/archives/*.deb' \
  --customize-hook="$here/customize.sh \"\$1\"" \
  bookworm "$root" "$sources" > "$work/mmdebstrap.log" 2>&1 ||
  { tail -n 40 "$work/mmdebstrap.log" >&2; echo "image: mmdebstrap failed ($work/mmdebstrap.log)" >&2; exit 1; }
echo "image: root filesystem done ($((SECONDS - t0)) s, $(du -sh "$root" | cut -f1))"
fi

# The kernel and initramfs go to the ESP (GRUB reads FAT on both firmwares);
# the squashfs leaves them out (/boot is only where update-initramfs wrote).
kernel="$(ls "$root"/boot/vmlinuz-* | sort -V | tail -n1)"
initrd="$root/boot/initrd.img-${kernel##*/vmlinuz-}"
[ -f "$initrd" ] || { echo "image: no initramfs for $kernel" >&2; exit 1; }
mkdir -p "$work/esp/EFI/BOOT" "$work/esp/grub"
cp "$kernel" "$work/esp/vmlinuz"
cp "$initrd" "$work/esp/initrd.img"

# --- 2. the partitions as files ---------------------------------------------
mksquashfs "$root" "$work/root.part" -comp zstd -noappend -quiet -no-progress \
  -wildcards -e 'proc/*' 'sys/*' 'dev/*' 'run/*' 'tmp/*' 'boot/vmlinuz*' 'boot/initrd.img*' 'vmlinuz*' 'initrd.img*' > /dev/null
echo "image: root squashfs $(du -h "$work/root.part" | cut -f1) ($((SECONDS - t0)) s)"

# GRUB: one configuration for both firmwares, on the ESP; the core images
# carry only "find the ESP by its volume id and read grub/grub.cfg".
sed -e "s/@ROOT_PARTUUID@/$root_partuuid/" "$here/grub.cfg" > "$work/esp/grub/grub.cfg"
cat > "$work/early.cfg" <<EOF
search --no-floppy --fs-uuid --set=root $esp_fsuuid
set prefix=(\$root)/grub
configfile (\$root)/grub/grub.cfg
EOF
grub_modules=(part_gpt fat search search_fs_uuid configfile normal linux echo test
              serial terminal terminfo sleep)
grub-mkimage -O x86_64-efi -o "$work/esp/EFI/BOOT/BOOTX64.EFI" -p /grub -c "$work/early.cfg" \
  "${grub_modules[@]}" efi_gop efi_uga all_video
grub-mkimage -O i386-pc -o "$work/core.img" -p /grub -c "$work/early.cfg" \
  "${grub_modules[@]}" biosdisk

# FAT images: made on files, filled with mtools (no mount).
make_fat() {  # make_fat FILE MIB FATBITS LABEL VOLID
  rm -f "$1"
  truncate -s "$2M" "$1"
  mkfs.vfat -F "$3" -n "$4" -i "$5" "$1" > /dev/null
}
esp_mib=96
make_fat "$work/esp.part" $esp_mib 32 ESP "$esp_volid"
mcopy -s -i "$work/esp.part" "$work/esp/EFI" "$work/esp/grub" "$work/esp/vmlinuz" "$work/esp/initrd.img" ::/
config_mib=64
make_fat "$work/config.part" $config_mib 16 METALPXE 4D50A003
mcopy -i "$work/config.part" "$here/config-README.txt" ::/README.txt

# The state filesystem: empty, owned by the metalpxe user (the unit's
# StateDirectory would fix the owner anyway).
state_mib=1024
uid="$(chroot "$root" id -u metalpxe)"; gid="$(chroot "$root" id -g metalpxe)"
mkdir -p "$work/state"
chmod 0750 "$work/state"
rm -f "$work/state.part"
mkfs.ext4 -q -L metalpxe-state -m 0 -E root_owner="$uid:$gid" -d "$work/state" "$work/state.part" "${state_mib}M"

# --- 3. the disk ------------------------------------------------------------
mib() { echo $(( ($(stat -c %s "$1") + 1048575) / 1048576 )); }
root_mib=$(( $(mib "$work/root.part") + 1 ))
total_mib=$(( 1 + 1 + esp_mib + config_mib + root_mib + state_mib + 1 ))
disk="$work/disk.raw"
truncate -s "${total_mib}M" "$disk"
# BIOS boot at 1 MiB, then the rest in order; all 1 MiB aligned.
sgdisk --clear \
  -n 1:1M:+1M -t 1:EF02 -c 1:bios-boot \
  -n 2:0:+${esp_mib}M -t 2:EF00 -c 2:esp \
  -n 3:0:+${config_mib}M -t 3:0700 -c 3:metalpxe-config \
  -n 4:0:+${root_mib}M -t 4:8304 -c 4:metalpxe-root -u 4:$root_partuuid \
  -n 5:0:+${state_mib}M -t 5:8300 -c 5:metalpxe-state \
  "$disk" > /dev/null
place() {  # place PARTNUM FILE: copy FILE to the partition's first sector
  local start
  start="$(sgdisk -i "$1" "$disk" | sed -n 's/^First sector: \([0-9]*\).*/\1/p')"
  dd if="$2" of="$disk" bs=512 seek="$start" conv=notrunc,sparse status=none
}
place 2 "$work/esp.part"
place 3 "$work/config.part"
place 4 "$work/root.part"
place 5 "$work/state.part"

# BIOS: what grub-bios-setup does, on a file. core.img goes to the BIOS boot
# partition; the MBR's first 440 bytes become GRUB's boot.img (the partition
# table and disk signature after them stay), told where core.img starts
# (boot.img offset 0x5c, GRUB_BOOT_MACHINE_KERNEL_SECTOR); core.img's first
# sector (diskboot.img) gets the blocklist of the rest: start sector at
# 0x1f4, sector count at 0x1fc (GRUB_BOOT_I386_PC_KERNEL_SEG follows).
core_start="$(sgdisk -i 1 "$disk" | sed -n 's/^First sector: \([0-9]*\).*/\1/p')"
core_sectors=$(( ($(stat -c %s "$work/core.img") + 511) / 512 ))
[ "$core_sectors" -le 2048 ] || { echo "image: GRUB core.img does not fit the BIOS boot partition" >&2; exit 1; }
le() {  # le VALUE BYTES: little-endian bytes as printf escapes
  local v="$1" n="$2" s=""
  for _ in $(seq "$n"); do s+="$(printf '\\x%02x' $((v & 255)))"; v=$((v >> 8)); done
  printf '%s' "$s"
}
cp "$work/core.img" "$work/core.patched"
printf "$(le $((core_start + 1)) 8)" | dd of="$work/core.patched" bs=1 seek=$((0x1f4)) conv=notrunc status=none
printf "$(le $((core_sectors - 1)) 2)" | dd of="$work/core.patched" bs=1 seek=$((0x1fc)) conv=notrunc status=none
dd if="$work/core.patched" of="$disk" bs=512 seek="$core_start" conv=notrunc status=none
dd if=/usr/lib/grub/i386-pc/boot.img of="$disk" bs=440 count=1 conv=notrunc status=none
printf "$(le "$core_start" 8)" | dd of="$disk" bs=1 seek=$((0x5c)) conv=notrunc status=none
sgdisk -v "$disk" | grep -q 'No problems found' || { sgdisk -v "$disk" >&2; exit 1; }

cp --sparse=always "$disk" "$out.raw.tmp" && mv "$out.raw.tmp" "$out.raw"
qemu-img convert -c -f raw -O qcow2 "$out.raw" "$out.qcow2.tmp" && mv "$out.qcow2.tmp" "$out.qcow2"
rm -f "$disk"
echo "image: $out.raw ($(du -h --apparent-size "$out.raw" | cut -f1) disk, $(du -h "$out.raw" | cut -f1) allocated)," \
     "$out.qcow2 ($(du -h "$out.qcow2" | cut -f1)), root $(du -h "$work/root.part" | cut -f1)," \
     "built in $((SECONDS - t0)) s"

#!/usr/bin/env bash
# The disk of a lab machine that must boot again once installed (the cluster
# scenario): what Talos's installer leaves besides the system, its
# bootloader. The stand-in cannot write a bootloader from inside its
# initramfs, so the lab lays it out before the first power-on and the
# stand-in's install fills in the rest (tests/e2e/installer/disk_marker.h):
#   0        protective MBR: the stand-in's marker goes into its 440-byte boot
#            code area, the partition table after it stays
#   512      GPT header and entries
#   64 KiB   the stand-in apid's state record (bootstrap, version)
#   1 MiB    the installed machine config (at most 1 MiB)
#   4 MiB    EFI system partition (FAT): systemd-boot as the removable-media
#            loader (\EFI\BOOT\BOOTX64.EFI) with one entry, timeout 0: the
#            lab's kernel and initramfs with `standin.boot=disk`
# UEFI machines only: OVMF finds the ESP after iPXE `exit`s (metalpxed's
# boot-from-disk answer). SeaBIOS would need MBR boot code where the marker is.
#
# The image is kept in the lab cache under the sha256 of its inputs; prints
# its path. VMs start from a sparse copy (vm_start with VM_BOOT_DISK set).
#
# usage: bootdisk.sh ASSETS_DIR   (the directory assets.sh printed)
set -euo pipefail
assets="$1"
cache="${METALPXE_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/metalpxe-lab}"
loader=/usr/lib/systemd/boot/efi/systemd-bootx64.efi
[[ -f "$loader" ]] || { echo "bootdisk: no $loader (package systemd-boot-efi)" >&2; exit 1; }
for tool in mkfs.vfat mmd mcopy sfdisk; do
  command -v "$tool" >/dev/null || { echo "bootdisk: $tool missing (dosfstools, mtools, fdisk)" >&2; exit 1; }
done
options="console=ttyS0 printk.devkmsg=on standin.boot=disk"
key="$(cat "$assets/vmlinuz" "$assets/initramfs" "$loader" "$0" | sha256sum | cut -c1-16)"
mkdir -p "$cache/bootdisk"
out="$cache/bootdisk/$key.img"
exec 9>"$cache/bootdisk/.lock"
flock 9
if [[ ! -f "$out" ]]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  esp_mib=80
  mkfs.vfat -C -n STANDIN "$work/esp.img" $((esp_mib * 1024)) >/dev/null
  mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT ::/loader ::/loader/entries
  printf 'default standin.conf\ntimeout 0\n' >"$work/loader.conf"
  printf 'title metalpxe stand-in (installed)\nlinux /vmlinuz\ninitrd /initramfs\noptions %s\n' "$options" \
    >"$work/standin.conf"
  mcopy -i "$work/esp.img" "$loader" ::/EFI/BOOT/BOOTX64.EFI
  mcopy -i "$work/esp.img" "$work/loader.conf" ::/loader/loader.conf
  mcopy -i "$work/esp.img" "$work/standin.conf" ::/loader/entries/standin.conf
  mcopy -i "$work/esp.img" "$assets/vmlinuz" ::/vmlinuz
  mcopy -i "$work/esp.img" "$assets/initramfs" ::/initramfs
  truncate -s 96M "$work/disk.img"
  printf 'label: gpt\nstart=4MiB, size=%dMiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI"\n' "$esp_mib" |
    sfdisk --quiet "$work/disk.img"
  dd if="$work/esp.img" of="$work/disk.img" bs=1M seek=4 conv=notrunc,sparse status=none
  mv "$work/disk.img" "$out"
  # Keep the last few images only.
  ls -1t "$cache"/bootdisk/*.img 2>/dev/null | tail -n +4 | xargs -r rm -f
fi
echo "$out"

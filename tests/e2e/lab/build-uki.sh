#!/usr/bin/env bash
# A signed UKI of the stand-in, as Talos's Image Factory builds its
# metal-amd64-secureboot-uki.efi (docs/secureboot.md): systemd's EFI stub
# with .osrel, .cmdline (fixed: the UKI ignores any command line it is
# given under Secure Boot), .linux (Debian's signed kernel) and .initrd (the
# stand-in's initramfs) at page-aligned addresses after the stub's sections,
# as ukify lays them out, signed with sbsign and OVMF's snakeoil test key
# (OVMF_VARS_4M.snakeoil.fd has it in PK, KEK and db).
#
# usage: build-uki.sh KERNEL INITRAMFS CMDLINE OUT.efi
set -euo pipefail
kernel="$1" initramfs="$2" cmdline="$3" out="$4"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
printf '%s' "$cmdline" >"$work/cmdline"
printf 'ID=standin\n' >"$work/osrel"
stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
# The end of the stub's last section (VMA + size), from objdump's table.
end=$(objdump -h "$stub" | python3 -c '
import sys
m = 0
for l in sys.stdin:
    f = l.split()
    if len(f) == 7 and f[0].isdigit(): m = max(m, int(f[3], 16) + int(f[2], 16))
print(m)')
page() { echo $(( ($1 + 0xfff) / 0x1000 * 0x1000 )); }
osrel=$(page "$end"); cmd=$((osrel + 0x1000)); linux=$((cmd + 0x1000))
initrd=$(page $((linux + $(stat -c%s "$kernel"))))
objcopy --add-section .osrel="$work/osrel" --change-section-vma .osrel="$(printf 0x%x $osrel)" \
  --add-section .cmdline="$work/cmdline" --change-section-vma .cmdline="$(printf 0x%x $cmd)" \
  --add-section .linux="$kernel" --change-section-vma .linux="$(printf 0x%x $linux)" \
  --add-section .initrd="$initramfs" --change-section-vma .initrd="$(printf 0x%x $initrd)" "$stub" "$work/uki.efi"
# The test key's passphrase is "snakeoil" (ovmf's README.Debian); sbsign
# wants it without one: a copy in the temporary directory only.
openssl rsa -in /usr/share/ovmf/PkKek-1-snakeoil.key -passin pass:snakeoil -out "$work/snakeoil.key" 2>/dev/null
sbsign --key "$work/snakeoil.key" --cert /usr/share/ovmf/PkKek-1-snakeoil.pem --output "$out" "$work/uki.efi" 2>/dev/null
sbverify --cert /usr/share/ovmf/PkKek-1-snakeoil.pem "$out" >/dev/null 2>&1  # signed as OVMF will check

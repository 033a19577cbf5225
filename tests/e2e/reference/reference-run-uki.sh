#!/usr/bin/env bash
# Reference for Talos's own Secure Boot path (issue #19, not built in
# metalpxed yet: docs/secureboot.md): a UKI of the stand-in (Debian's signed
# kernel, the stand-in's initramfs, a fixed command line with the config URL
# in it, as a Talos schematic's extraKernelArgs would carry), signed with
# OVMF's snakeoil test key (sbsign), booted by OVMF's Secure Boot build with
# OVMF_VARS_4M.snakeoil.fd (that key in PK, KEK, db) over UEFI HTTP boot,
# with dnsmasq answering HTTPClient + the URL and busybox httpd serving it.
# Run by hand, like reference-run.sh (not in ctest).
#
# usage: reference-run-uki.sh [BUILD_DIR]   (metalpxe_standin_installer built)
# Exit 0 when the stand-in fetched its config under Secure Boot.
set -euo pipefail
build="$(cd "${1:-$(dirname "$0")/../../../build}" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lab/lab.sh"
lab_init mpxuki
lab_up
lab_add_tap tap0
ip="$LAB_SERVER_IP"
assets="$("$LAB_HERE/assets.sh" "$build")"
www="$LAB_DIR/www"; mkdir -p "$www/config"
mac="52:54:00:12:34:56"
cat >"$www/config/${mac//:/-}" <<YAML
# metalpxe-fixture: reference-controlplane
version: v1alpha1
machine:
  type: controlplane
  install:
    disk: /dev/vda
  network:
    hostname: ref-cp
YAML
cd "$LAB_DIR"
printf '%s' "console=ttyS0 printk.devkmsg=on talos.platform=metal talos.config=http://$ip:8080/config/${mac//:/-} talos.events.sink=$ip:50101 talos.logging.kernel=tcp://$ip:50102 standin.expect=ref-cp/controlplane" > cmdline
printf 'ID=standin\n' > osrel
stub=/usr/lib/systemd/boot/efi/linuxx64.efi.stub
end=$(objdump -h $stub | python3 -c "
import sys
m=0
for l in sys.stdin:
    f=l.split()
    if len(f)==7 and f[0].isdigit(): m=max(m,int(f[3],16)+int(f[2],16))
print(m)")
osrel=$(( (end + 0xfff) / 0x1000 * 0x1000 )); cmd=$((osrel+0x1000)); linux=$((cmd+0x1000))
initrd=$(( (linux + $(stat -c%s "$assets/vmlinuz") + 0xfff)/0x1000*0x1000 ))
# A UKI as systemd's ukify lays it out: the EFI stub, then .osrel,
# .cmdline, .linux and .initrd at page-aligned addresses after its sections.
objcopy --add-section .osrel=osrel --change-section-vma .osrel=$(printf 0x%x $osrel) \
  --add-section .cmdline=cmdline --change-section-vma .cmdline=$(printf 0x%x $cmd) \
  --add-section .linux="$assets/vmlinuz" --change-section-vma .linux=$(printf 0x%x $linux) \
  --add-section .initrd="$assets/initramfs" --change-section-vma .initrd=$(printf 0x%x $initrd) $stub uki.efi
# The test key's passphrase is "snakeoil" (ovmf's README.Debian); sbsign
# wants it without one. A test key, in the lab directory only.
openssl rsa -in /usr/share/ovmf/PkKek-1-snakeoil.key -passin pass:snakeoil -out snakeoil.key 2>/dev/null
sbsign --key snakeoil.key --cert /usr/share/ovmf/PkKek-1-snakeoil.pem --output "$www/uki.efi" uki.efi 2>/dev/null
rm -f snakeoil.key uki.efi
sbverify --cert /usr/share/ovmf/PkKek-1-snakeoil.pem "$www/uki.efi" >/dev/null 2>&1  # set -e: signed as OVMF will check
cat >"$LAB_DIR/dnsmasq.conf" <<CONF
port=0
interface=br0
bind-interfaces
dhcp-range=${LAB_SUBNET_PREFIX}.100,${LAB_SUBNET_PREFIX}.200,255.255.255.0,1h
dhcp-leasefile=$LAB_DIR/dnsmasq.leases
dhcp-match=set:efihttp,option:client-arch,16
dhcp-boot=tag:efihttp,http://$ip:8080/uki.efi
dhcp-option-force=tag:efihttp,60,HTTPClient
log-dhcp
log-facility=-
CONF
lab_spawn dnsmasq "$LAB_NS" dnsmasq --keep-in-foreground --conf-file="$LAB_DIR/dnsmasq.conf" --pid-file="$LAB_DIR/dnsmasq.pid"
lab_spawn httpd "$LAB_NS" busybox httpd -f -vv -p "$ip:8080" -h "$www"
lab_spawn kmsg "$LAB_NS" busybox nc -l -p 50102
sleep 0.5
truncate -s 64M disk.img
cp /usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd vars.fd
start=$SECONDS
lab_spawn vm "$LAB_NS" timeout --foreground 200 qemu-system-x86_64 -m 768 -smp 1 -accel tcg -nographic -nodefaults -serial "file:$LAB_DIR/serial.log" -monitor none \
  -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
  -drive file=disk.img,format=raw,if=none,id=d0 -device virtio-blk-pci,drive=d0,bootindex=2 \
  -machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on \
  -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.snakeoil.fd \
  -drive if=pflash,format=raw,unit=1,file=vars.fd \
  -device virtio-net-pci,netdev=n0,mac=$mac,romfile=,bootindex=1 \
  -fw_cfg name=opt/org.tianocore/IPv4PXESupport,string=n -fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=n \
  -fw_cfg name=opt/org.tianocore/IPv6Support,string=n
vm=$LAB_LAST_PID
ok=1
lab_wait_log "$LAB_DIR/serial.log" "STANDIN: config fetched" 180 "$vm" || ok=0
fetched=$((SECONDS - start))
lab_stop "$vm"
grep -a "HTTP Boot\|EFI stub\|locked down\|secureboot:\|Access Denied\|STANDIN: config" "$LAB_DIR/serial.log" | head -20
grep -aq "secureboot: Secure boot enabled" "$LAB_DIR/serial.log" || ok=0
if [[ $ok = 1 ]]; then
  echo "reference uki: power-on to config fetched ${fetched}s, Secure Boot on"
else
  echo "reference uki: FAILED (see $LAB_DIR)"; tail -n 40 "$LAB_DIR/serial.log"; exit 1
fi

#!/usr/bin/env bash
# Prove the lab without metalpxed: the network boot of one VM through a
# REFERENCE stack (dnsmasq as DHCP + TFTP, busybox httpd serving a static
# boot.ipxe, the kernel, the stand-in's initramfs and a static config), and
# print how long the boot took to the stand-in's "config fetched".
#
# usage: reference-run.sh uefi|uefi-http|bios [BUILD_DIR]
#   uefi-http: OVMF's HTTP boot (run-vm.sh uefi-http); dnsmasq answers arch 16
#   with option 60 HTTPClient and the URL of snponly.efi on busybox httpd.
#   needs the metalpxe_standin_installer target built in BUILD_DIR
#   (default: the repo's build/); kernel cached as fetch-kernel.sh does.
# Exit 0 when the stand-in installed (marker on its disk).
set -euo pipefail
fw="${1:-uefi}"
build="$(cd "${2:-$(dirname "$0")/../../../build}" && pwd)"  # absolute: httpd's symlinks point into it
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lab/lab.sh"

lab_init mpxref
lab_up
lab_add_tap tap0
ip="$LAB_SERVER_IP"

assets="$("$LAB_HERE/assets.sh" "$build")"
www="$LAB_DIR/www"
mkdir -p "$www/config"
ln -s "$assets/vmlinuz" "$www/vmlinuz"
ln -s "$assets/initramfs" "$www/initramfs"
ln -s /usr/lib/ipxe/snponly.efi "$www/snponly.efi"
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
# The Talos kernel arguments metalpxe renders (docs/design.md "Boot flows"), static here.
cat >"$www/boot.ipxe" <<IPXE
#!ipxe
echo reference boot.ipxe for \${mac}
kernel http://$ip:8080/vmlinuz initrd=initramfs console=ttyS0 printk.devkmsg=on talos.platform=metal talos.config=http://$ip:8080/config/\${mac:hexhyp} talos.events.sink=$ip:50101 talos.logging.kernel=tcp://$ip:50102 standin.expect=ref-cp/controlplane
initrd --name initramfs http://$ip:8080/initramfs
boot
IPXE

cat >"$LAB_DIR/dnsmasq.conf" <<CONF
port=0
interface=br0
bind-interfaces
dhcp-range=${LAB_SUBNET_PREFIX}.100,${LAB_SUBNET_PREFIX}.200,255.255.255.0,1h
dhcp-leasefile=$LAB_DIR/dnsmasq.leases
enable-tftp
tftp-root=/usr/lib/ipxe
dhcp-match=set:ipxe,175
dhcp-userclass=set:ipxe,iPXE
dhcp-match=set:efi64,option:client-arch,7
dhcp-match=set:efihttp,option:client-arch,16
dhcp-boot=tag:ipxe,http://$ip:8080/boot.ipxe
dhcp-boot=tag:!ipxe,tag:efi64,snponly.efi
dhcp-boot=tag:!ipxe,tag:efihttp,http://$ip:8080/snponly.efi
dhcp-option-force=tag:!ipxe,tag:efihttp,60,HTTPClient
dhcp-boot=tag:!ipxe,tag:!efi64,tag:!efihttp,undionly.kpxe
log-dhcp
log-facility=-
CONF
lab_spawn dnsmasq "$LAB_NS" dnsmasq --keep-in-foreground --conf-file="$LAB_DIR/dnsmasq.conf" --pid-file="$LAB_DIR/dnsmasq.pid"
lab_spawn httpd "$LAB_NS" busybox httpd -f -vv -p "$ip:8080" -h "$www"
# Kernel-log receiver (one connection): the JSON lines the stand-in streams land in kmsg.log.
lab_spawn kmsg "$LAB_NS" busybox nc -l -p 50102
sleep 0.5

truncate -s 64M "$LAB_DIR/disk.img"
start=$SECONDS
lab_spawn vm "$LAB_NS" "$LAB_HERE/run-vm.sh" "$fw" "$mac" tap0 "$LAB_DIR/disk.img" "$LAB_DIR/serial.log" 240
vm=$LAB_LAST_PID
serial="$LAB_DIR/serial.log"
ok=1
lab_wait_log "$serial" "STANDIN: config fetched" 200 "$vm" || ok=0
fetched=$((SECONDS - start))
lab_wait_log "$serial" "STANDIN: (rebooting|giving up)" 60 "$vm" || ok=0
done_at=$((SECONDS - start))
lab_stop "$vm"

echo "---- serial (STANDIN lines) ----"
grep -a "STANDIN" "$serial" || true
echo "---- kernel log lines received: $(wc -l <"$LAB_DIR/kmsg.log") ----"
head -n 2 "$LAB_DIR/kmsg.log" || true
grep -a "standin: installed" "$LAB_DIR/kmsg.log" || true
marker="$(head -c 512 "$LAB_DIR/disk.img" | tr -d '\0')"
echo "---- disk: ${marker:-<blank>}"
if [[ $ok = 1 && "$marker" == METALPXE-STANDIN-INSTALLED* ]]; then
  echo "reference $fw: power-on to config fetched ${fetched}s, to install done ${done_at}s"
else
  echo "reference $fw: FAILED (see $LAB_DIR)"; tail -n 40 "$serial"; exit 1
fi

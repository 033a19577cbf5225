#!/usr/bin/env bash
# Run one QEMU PXE client of the lab (TCG: KVM guests hang on these machines).
#
# usage: run-vm.sh uefi|uefi-sb|uefi-sb-http|uefi-ipv6|uefi-http6|uefi-http|arm64-http|bios|appliance-uefi|appliance-bios MAC TAP DISK.img SERIAL.log SECONDS [WORKDIR]
#   uefi: q35 + OVMF, virtio-net WITHOUT option ROM (romfile=): EDK2's own
#         PXE does DHCP + TFTP (snponly.efi), then iPXE, then HTTP.
#   uefi-sb: the uefi machine with Secure Boot enforced (Microsoft's keys).
#   uefi-sb-http: Secure Boot enforced with OVMF's snakeoil test key in PK,
#         KEK and db (OVMF_*_4M.snakeoil.fd), set to UEFI HTTP boot as
#         uefi-http: a UKI signed with that key starts, nothing else does.
#   uefi-http: the same machine set to UEFI HTTP boot: OVMF's PXE is switched
#         off through fw_cfg (opt/org.tianocore/IPv4PXESupport and
#         IPv6PXESupport, read by OVMF's PxeBcPcdLib; IPv6Support off too), so
#         the NIC's only boot option is "UEFI HTTPv4", which DHCPs as
#         HTTPClient (arch 16) and fetches the loader from the URL it is given.
#   arm64-http: qemu-system-aarch64 -machine virt + AAVMF (qemu-efi-aarch64)
#         with the same switches: AAVMF's HTTP boot DHCPs as HTTPClient,
#         arch 19 (it ignores IPv6Support and tries HTTPv6 after HTTPv4).
#   bios: pc + SeaBIOS, e1000 with its iPXE ROM: iPXE's first DHCP says iPXE.
#   appliance-uefi, appliance-bios: the appliance image (deploy/image/) as
#         the disk, which is the first and only boot device (the NIC,
#         virtio-net, has no boot ROM); q35 + OVMF or pc + SeaBIOS.
# Must run inside the lab namespace (the tap lives there). The disk is a raw
# image attached as virtio-blk (the stand-in writes its marker to /dev/vda);
# the NIC is the first boot device, so every boot goes through the network
# and the appliance decides "install" or "boot from disk". The VM reboots in
# place (no -no-reboot); it ends on poweroff or after SECONDS.
# RUN_VM_MEMORY: guest memory in MiB (768 unless set; the stand-in boots in 384).
# RUN_VM_APPEND=1 appends to SERIAL.log instead of starting it afresh: a VM the
# lab's simulated BMC powers off and on again keeps one log across power-ons.
set -euo pipefail

fw="$1" mac="$2" tap="$3" disk="$4" log="$5" secs="$6" work="${7:-$(dirname "$disk")}"

disk_index=2
case "$fw" in appliance-*) disk_index=1 ;; esac
common=(-m "${RUN_VM_MEMORY:-768}" -smp 1 -accel tcg -nographic -nodefaults -serial stdio -monitor none
        -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no"
        -drive "file=$disk,format=raw,if=none,id=d0,cache=writethrough"
        -device "virtio-blk-pci,drive=d0,bootindex=$disk_index")
qemu="qemu-system-x86_64"
# q35 with Debian 12's OVMF (4 MiB build), its variable store copied per MAC
# so each machine keeps its own boot options; the callers add NIC and switches.
ovmf_q35() {
  vars="$work/OVMF_VARS.$mac.fd"
  [[ -f "$vars" ]] || cp /usr/share/OVMF/OVMF_VARS_4M.fd "$vars"
  args=(-machine q35
        -drive "if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"
        -drive "if=pflash,format=raw,file=$vars")
}
nic_first=(-device "virtio-net-pci,netdev=n0,mac=$mac,romfile=,bootindex=1")
# OVMF's network boot switches (fw_cfg, read by OVMF's PxeBcPcdLib/NetworkPkg).
no_pxe4=(-fw_cfg "name=opt/org.tianocore/IPv4PXESupport,string=n")
no_pxe6=(-fw_cfg "name=opt/org.tianocore/IPv6PXESupport,string=n")
# The lab is IPv4 only: without this OVMF tries PXE and HTTP boot over IPv6
# too (DHCPv6 timeouts: ~100 s under TCG) whenever iPXE hands back to it
# (boot from disk: `exit 1`).
no_ipv6=(-fw_cfg "name=opt/org.tianocore/IPv6Support,string=no")
case "$fw" in
  uefi)
    ovmf_q35
    args+=("${no_ipv6[@]}" "${nic_first[@]}")
    ;;
  uefi-sb)
    # Secure Boot enforced with Microsoft's keys, as a bought machine ships:
    # Debian's secboot build (it needs SMM, and its variable store behind
    # SMM's secure flash) and a copy of the template with PK, KEK and db set
    # and Secure Boot on. Only Microsoft-signed binaries start (shim).
    vars="$work/OVMF_VARS.ms.$mac.fd"
    [[ -f "$vars" ]] || cp /usr/share/OVMF/OVMF_VARS_4M.ms.fd "$vars"
    args=(-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on
          -drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.ms.fd"
          -drive "if=pflash,format=raw,unit=1,file=$vars"
          "${no_ipv6[@]}" "${nic_first[@]}")
    ;;
  uefi-sb-http)
    vars="$work/OVMF_VARS.snakeoil.$mac.fd"
    [[ -f "$vars" ]] || cp /usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd "$vars"
    args=(-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on
          -drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.snakeoil.fd"
          -drive "if=pflash,format=raw,unit=1,file=$vars"
          "${nic_first[@]}" "${no_pxe4[@]}" "${no_pxe6[@]}" "${no_ipv6[@]}")
    ;;
  uefi-ipv6)
    # IPv4 PXE off: the NIC's first boot option is PXEv6.
    ovmf_q35
    args+=("${nic_first[@]}" "${no_pxe4[@]}")
    ;;
  uefi-http6)
    # PXE off on both families: the NIC's boot options are HTTPv4 (gives up
    # without DHCPv4) and then HTTPv6.
    ovmf_q35
    args+=("${nic_first[@]}" "${no_pxe4[@]}" "${no_pxe6[@]}")
    ;;
  uefi-http)
    ovmf_q35
    args+=("${nic_first[@]}" "${no_pxe4[@]}" "${no_pxe6[@]}" "${no_ipv6[@]}")
    ;;
  arm64-http)
    qemu="qemu-system-aarch64"
    vars="$work/AAVMF_VARS.$mac.fd"
    [[ -f "$vars" ]] || cp /usr/share/AAVMF/AAVMF_VARS.fd "$vars"
    args=(-machine virt -cpu cortex-a57
          -drive "if=pflash,format=raw,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd"
          -drive "if=pflash,format=raw,file=$vars"
          "${nic_first[@]}" "${no_pxe4[@]}" "${no_pxe6[@]}" "${no_ipv6[@]}")
    ;;
  bios)
    args=(-machine pc -device "e1000,netdev=n0,mac=$mac,bootindex=1")
    ;;
  appliance-uefi)
    ovmf_q35
    args+=(-device "virtio-net-pci,netdev=n0,mac=$mac,romfile=")
    ;;
  appliance-bios)
    args=(-machine pc -device "virtio-net-pci,netdev=n0,mac=$mac,romfile=")
    ;;
  *) echo "run-vm: firmware must be uefi, uefi-sb, uefi-sb-http, uefi-ipv6, uefi-http6, uefi-http, arm64-http, bios, appliance-uefi or appliance-bios" >&2; exit 2 ;;
esac

# -nodefaults drops the VGA; SeaBIOS and iPXE then write to the serial port.
# --foreground: timeout stays in its parent's process group, so the lab's
# cleanup (which signals whole groups) reaches QEMU wherever it was started.
if [[ -n "${RUN_VM_APPEND:-}" ]]; then exec >>"$log"; else exec >"$log"; fi
exec timeout --foreground --kill-after=5 "$secs" "$qemu" "${common[@]}" "${args[@]}" </dev/null 2>&1

#!/usr/bin/env bash
# The README's main job, on this machine: a network-namespace lab with
# metalpxed on the bridge and two bare-metal machines (QEMU): a UEFI control
# plane and a BIOS worker. Both PXE-boot, install themselves with their own
# Talos config (the stand-in installer plays Talos), reboot and come back to
# boot from disk. Prints progress as it happens and a summary table; cleans
# everything up on exit (Ctrl-C included).
#
# usage: tests/e2e/demo.sh [BUILD_DIR]     (root; default BUILD_DIR: build/)
#   needs targets metalpxed and metalpxe_standin_installer built.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-$here/../../build}" && pwd)"
source "$here/lab/lab.sh"
source "$here/lab/metalpxed-lab.sh"

lab_init mpx-demo
setsid bash -c "sleep ${DEMO_TIMEOUT:-600}; echo 'demo: timed out' >&2; kill -TERM $$" &
LAB_PIDS+=("$!")

say() { printf '%s  %-6s %s\n' "$(date -u +%H:%M:%S)" "$1" "$2"; }

say lab "network namespace $LAB_NS, bridge br0 $LAB_SERVER_IP/24 (cache: $LAB_CACHE)"
mpx_setup "$build" full discover || exit 1
mpx_start || exit 1
say lab "metalpxed running: DHCP + TFTP on br0, HTTP :8080, event sink :50101, kernel logs :50102"

vm_start cp-1 uefi 52:54:00:e2:e0:01 540
vm_start wk-1 bios 52:54:00:e2:e0:02 540
say cp-1 "powered on: UEFI (OVMF), virtio-net without option ROM, MAC 52:54:00:e2:e0:01"
say wk-1 "powered on: BIOS (SeaBIOS), e1000 with iPXE ROM, MAC 52:54:00:e2:e0:02"

# Progress milestones per VM: regex on the serial console -> what it means.
milestones=(
  "Station IP address is|firmware DHCP: got an address, downloading iPXE over TFTP"
  "iPXE initialising devices|iPXE started"
  "net0: [0-9.]+/|iPXE DHCP done"
  "metalpxe: installing Talos on|metalpxe chose: install"
  "STANDIN-INIT: kernel up|installer kernel booted"
  "STANDIN-INIT: lease|installer DHCP done"
  "STANDIN: config hostname=|config fetched"
  "STANDIN: events published|install events sent to metalpxed"
  "STANDIN: rebooting|installed, rebooting"
  "is installed, booting from its disk|metalpxe chose: boot from disk"
)
declare -A shown done_at
all_done() { [[ -n "${done_at[cp-1]:-}" && -n "${done_at[wk-1]:-}" ]]; }
deadline=$((SECONDS + 540))
while ! all_done && ((SECONDS < deadline)); do
  for vm in cp-1 wk-1; do
    [[ -n "${done_at[$vm]:-}" ]] && continue
    for i in "${!milestones[@]}"; do
      [[ -n "${shown[$vm,$i]:-}" ]] && continue
      re="${milestones[$i]%%|*}" what="${milestones[$i]#*|}"
      line="$(tr -d '\r' <"${VM_SERIAL[$vm]}" | grep -aE -m1 -- "$re")" || continue
      shown[$vm,$i]=1
      detail=""
      case "$re" in
        *Station*|*net0*|*lease*) detail=" ($(grep -oE '[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+' <<<"$line" | head -n1))" ;;
        *"config hostname"*) detail=" (${line#*STANDIN: config })" ;;
        *"events published"*) detail=" (${line#*STANDIN: events published })" ;;
      esac
      say "$vm" "$what$detail"
      if [[ "$re" == *"booting from its disk"* ]]; then
        done_at[$vm]=$((SECONDS - VM_START[$vm]))
        vm_stop "$vm"
      fi
    done
    if ! vm_running "$vm" && [[ -z "${done_at[$vm]:-}" ]]; then
      say "$vm" "VM stopped before finishing"
      done_at[$vm]=-1
    fi
  done
  sleep 1
done

echo
printf '%-8s %-5s %-18s %-13s %-12s %-10s %-26s %s\n' MACHINE FW MAC ROLE ADDRESS STATE DISK TIME
ok=1
for vm in cp-1 wk-1; do
  mac="${VM_MAC[$vm]}"
  role="$([[ $vm == cp-1 ]] && echo controlplane || echo worker)"
  state="$(mpx_machine_state "$mac")"
  addr="$(vm_addresses "$vm" | tail -n1)"
  disk="$(vm_disk_marker "$vm")"
  if [[ "$disk" =~ ^METALPXE-STANDIN-INSTALLED\ hostname=([^ ]+)\ role=([^ ]+) ]]; then
    disk="marker ${BASH_REMATCH[1]}/${BASH_REMATCH[2]}"
  else
    disk="blank"
    ok=0
  fi
  [[ "$state" == installed ]] || ok=0
  t="${done_at[$vm]:-?}"
  [[ "$t" == -1 || "$t" == "?" ]] && { t="-"; ok=0; } || t="${t}s"
  printf '%-8s %-5s %-18s %-13s %-12s %-10s %-26s %s\n' "$vm" "${VM_FW[$vm]}" "$mac" "$role" "${addr:--}" \
    "${state:-?}" "$disk" "$t"
done
echo
if ((ok)); then
  echo "demo: both machines installed with their own configs and now boot from disk."
else
  echo "demo: not everything went through; logs in $LAB_DIR"
  LAB_KEEP=1
  e2e_dump
fi
((ok))

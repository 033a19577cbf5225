#!/usr/bin/env bash
# ipmi_sim's chassis_control program for one lab VM: it makes OpenIPMI's
# simulator the BMC of a real (virtual) machine. ipmi_sim runs
#   bmc-chassis.sh DIR get power boot | set power 0|1 | set reset 1 |
#                      set shutdown 1 | set boot none|pxe|default|...
# (LAB-NOTES.md). DIR holds vm.env (what run-vm.sh needs to start the VM),
# qemu.pid while the VM is powered, boot (the next-boot device the BMC was
# told) and set.log (every set, in order, for the test to read back).
#
# "Power on" starts QEMU through run-vm.sh, appending to the VM's serial log
# after a "BMC: power on" line; "power off" ends it, as pulling the plug
# would; "reset" is off then on. QEMU stays in ipmi_sim's process group (no
# setsid), so the lab's cleanup of that group also ends the VM.
set -u
dir="$1"
shift
# shellcheck source=/dev/null
source "$dir/vm.env"  # FW MAC TAP DISK SERIAL SECS WORK RUN_VM
pidfile="$dir/qemu.pid"

powered() { [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

power_off() {
  powered || { rm -f "$pidfile"; return 0; }
  local pid
  pid="$(cat "$pidfile")"
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  rm -f "$pidfile"
  echo "BMC: power off" >>"$SERIAL"
}

power_on() {
  powered && return 0
  echo "BMC: power on (next boot: $(cat "$dir/boot" 2>/dev/null || echo default))" >>"$SERIAL"
  # The lab VM's NIC is its first boot device, so every power-on boots from
  # the network, as a machine whose BMC was told "next boot PXE" does; what
  # the BMC was told is in set.log for the test to check.
  RUN_VM_APPEND=1 "$RUN_VM" "$FW" "$MAC" "$TAP" "$DISK" "$SERIAL" "$SECS" "$WORK" </dev/null >/dev/null 2>&1 &
  echo $! >"$pidfile"
}

case "${1:-}" in
  get)
    shift
    for what in "$@"; do
      case "$what" in
        power) if powered; then echo "power:1"; else echo "power:0"; fi ;;
        boot) echo "boot:$(cat "$dir/boot" 2>/dev/null || echo default)" ;;
      esac
    done
    ;;
  set)
    echo "$2 $3" >>"$dir/set.log"
    case "$2" in
      power) if [[ "$3" == 1 ]]; then power_on; else power_off; fi ;;
      reset) power_off; power_on ;;
      shutdown) power_off ;;
      boot) echo "$3" >"$dir/boot" ;;
    esac
    ;;
esac
exit 0

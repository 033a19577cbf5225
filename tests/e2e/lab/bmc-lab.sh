# shellcheck shell=bash
# Lab VMs behind a simulated IPMI BMC: OpenIPMI's ipmi_sim, in the
# appliance's namespace on 127.0.0.1, whose chassis control starts and stops
# the VM's QEMU (bmc-chassis.sh). metalpxed drives it over IPMI 2.0 lanplus as
# it would a real BMC. Source after lab.sh and metalpxed-lab.sh.
#
#   bmc_vm_setup wk-1 bios 52:54:00:e2:e0:02 9623   # VM defined, powered off
#   mpx_add_ipmi_bmc wk-1                           # its bmc: in the inventory
#   bmc_ipmitool wk-1 chassis power status          # a second IPMI client

declare -A BMC_DIR BMC_PORT

# bmc_vm_setup NAME uefi|bios MAC PORT [SECONDS]: a blank disk, a tap, and a
# BMC for them; the VM stays off until someone powers it on.
bmc_vm_setup() {
  local name="$1" fw="$2" mac="$3" port="$4" secs="${5:-600}"
  local dir="$LAB_DIR/bmc-$name" tap="t-$name"
  mkdir -p "$dir/state"
  lab_add_tap "$tap"
  VM_DISK[$name]="$LAB_DIR/$name.disk.img"
  VM_SERIAL[$name]="$LAB_DIR/$name.serial.log"
  VM_FW[$name]="$fw"
  VM_MAC[$name]="$mac"
  truncate -s 64M "${VM_DISK[$name]}"
  : >"${VM_SERIAL[$name]}"
  {
    printf 'FW=%q MAC=%q TAP=%q DISK=%q\n' "$fw" "$mac" "$tap" "${VM_DISK[$name]}"
    printf 'SERIAL=%q SECS=%q WORK=%q RUN_VM=%q\n' "${VM_SERIAL[$name]}" "$secs" "$LAB_DIR" "$LAB_HERE/run-vm.sh"
  } >"$dir/vm.env"
  echo default >"$dir/boot"
  : >"$dir/set.log"
  # A fresh password per run (16 characters: IPMI allows 20 at most), in a 0600 file: metalpxed reads it through
  # passwordFile, ipmitool through -f; it is never on a command line.
  head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/password"
  chmod 600 "$dir/password"
  cat >"$dir/lan.conf" <<CONF
name "bmc-$name"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 $port
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "$LAB_HERE/bmc-chassis.sh $dir"
  user 2 true "admin" "$(cat "$dir/password")" admin 10 none md2 md5 straight
CONF
  chmod 600 "$dir/lan.conf"
  cat >"$dir/sim.emu" <<EMU
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
mc_enable 0x20
EMU
  BMC_DIR[$name]="$dir"
  BMC_PORT[$name]="$port"
  LAB_PIDFILES+=("$dir/qemu.pid")
  lab_spawn "bmc-$name" "$LAB_NS" ipmi_sim -c "$dir/lan.conf" -f "$dir/sim.emu" -n -s "$dir/state"
  # The VM's waits end early if its BMC (and with it the VM) is gone.
  VM_PID[$name]=$LAB_LAST_PID
  VM_START[$name]=$SECONDS
  local i
  for i in $(seq 1 30); do
    bmc_ipmitool "$name" chassis power status >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "e2e: ipmi_sim for $name did not answer on 127.0.0.1:$port; its log:" >&2
  tail -n 20 "$LAB_DIR/bmc-$name.log" >&2
  return 1
}

# bmc_ipmitool NAME ARGS...: ipmitool (lanplus, cipher suite 3) against NAME's BMC.
bmc_ipmitool() {
  local name="$1"
  shift
  timeout 30 ip netns exec "$LAB_NS" ipmitool -I lanplus -H 127.0.0.1 -p "${BMC_PORT[$name]}" -U admin \
    -f "${BMC_DIR[$name]}/password" -C 3 "$@"
}

bmc_power_is() {  # bmc_power_is NAME on|off, as ipmitool reads it
  bmc_ipmitool "$1" chassis power status 2>/dev/null | grep -q "Chassis Power is $2"
}

# What the BMC was told, one "what value" line per set, in order.
bmc_set_log() { cat "${BMC_DIR[$1]}/set.log"; }
bmc_power_ons() { tr -d '\r' <"${VM_SERIAL[$1]}" | grep -ac '^BMC: power on'; }
bmc_powered_on_at_least() { (($(bmc_power_ons "$1") >= $2)); }  # NAME N

# mpx_add_ipmi_bmc NAME: give inventory machine NAME its lab BMC (ipmi_sim
# needs FreeIPMI's open-session privilege workaround, 0x10: LAB-NOTES.md).
mpx_add_ipmi_bmc() {
  local name="$1"
  awk -v name="$name" -v port="${BMC_PORT[$name]}" -v pw="${BMC_DIR[$name]}/password" '
    { print }
    /^  - name: / { current = $3 }
    current == name && /^    role: / {
      print "    bmc:"
      print "      type: ipmi"
      print "      address: 127.0.0.1:" port
      print "      username: admin"
      print "      passwordFile: " pw
      print "      cipherSuite: 3"
      print "      workaroundFlags: 16"
      current = ""
    }' "$MPX_INVENTORY" >"$MPX_INVENTORY.new" && mv "$MPX_INVENTORY.new" "$MPX_INVENTORY"
  grep -q "127.0.0.1:${BMC_PORT[$name]}" "$MPX_INVENTORY"
}

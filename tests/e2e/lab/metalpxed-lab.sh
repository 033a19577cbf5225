# shellcheck shell=bash
# metalpxed in the e2e lab, and the VMs that boot through it. Source after
# lab.sh. Results of checks go through e2e_check, which prints PASS/FAIL
# lines and counts them (E2E_PASSED, E2E_FAILED).
#
#   mpx_setup BUILD_DIR full|proxy discover|ignore|auto-install
#   mpx_start; vm_start cp-1 uefi 52:54:00:e2:e0:01; vm_wait cp-1 REGEX SECS

E2E_ROOT="$(cd "$LAB_HERE/.." && pwd)"
E2E_PASSED=0
E2E_FAILED=0
declare -A VM_PID VM_SERIAL VM_DISK VM_FW VM_MAC VM_START

e2e_check() {  # e2e_check "what" command args...
  local what="$1"
  shift
  if "$@"; then
    E2E_PASSED=$((E2E_PASSED + 1))
    echo "  PASS  $what"
  else
    E2E_FAILED=$((E2E_FAILED + 1))
    echo "  FAIL  $what"
  fi
}

# mpx_setup BUILD_DIR DHCP_MODE UNKNOWN_POLICY: the lab, assets, config, inventory.
# MPX_INVENTORY_FIXTURE names another inventory under fixtures/ (its
# 10.66.0.x addresses follow LAB_SUBNET_PREFIX); MPX_CLUSTERS is a `clusters:`
# section for the config; MPX_PROFILES more profiles (entries of `profiles:`,
# indented two spaces); MPX_TFTP_ROOT another tftpRoot (default Debian's
# /usr/lib/ipxe).
mpx_setup() {
  local build="$1" mode="$2" policy="$3"
  METALPXED="${METALPXED:-$build/daemon/metalpxed}"
  METALPXECTL="${METALPXECTL:-$build/cli/metalpxectl}"
  [[ -x "$METALPXED" ]] || { echo "e2e: no metalpxed at $METALPXED (build target metalpxed)" >&2; return 1; }
  MPX_ASSETS="$("$LAB_HERE/assets.sh" "$build")"
  lab_up
  MPX_STATE="$LAB_DIR/state"
  MPX_CONFIG="$LAB_DIR/metalpxe.yaml"
  MPX_INVENTORY="$LAB_DIR/machines.yaml"
  sed "s/10\.66\.0\./${LAB_SUBNET_PREFIX}./g" "$E2E_ROOT/fixtures/${MPX_INVENTORY_FIXTURE:-machines.yaml}" \
    >"$MPX_INVENTORY"
  local subnets=""
  if [[ "$mode" == full ]]; then
    subnets="  subnets:
    - subnet: ${LAB_SUBNET_PREFIX}.0/24
      pool: ${LAB_SUBNET_PREFIX}.100-${LAB_SUBNET_PREFIX}.200
      router: $LAB_SERVER_IP
      dns: [$LAB_SERVER_IP]
      leaseTime: 1h"
  fi
  local line
  while IFS= read -r line; do
    if [[ "$line" == "@DHCP_SUBNETS@" ]]; then
      [[ -n "$subnets" ]] && printf '%s\n' "$subnets"
      continue
    fi
    if [[ "$line" == "@PROFILES@" ]]; then
      [[ -n "${MPX_PROFILES:-}" ]] && printf '%s\n' "$MPX_PROFILES"
      continue
    fi
    if [[ "$line" == "@CLUSTERS@" ]]; then
      [[ -n "${MPX_CLUSTERS:-}" ]] && printf '%s\n' "$MPX_CLUSTERS"
      continue
    fi
    line="${line//@SERVER_IP@/$LAB_SERVER_IP}"
    line="${line//@STATE_DIR@/$MPX_STATE}"
    line="${line//@DHCP_MODE@/$mode}"
    line="${line//@UNKNOWN_MACHINES@/$policy}"
    line="${line//@ASSETS@/$MPX_ASSETS}"
    line="${line//@TFTP_ROOT@/${MPX_TFTP_ROOT:-/usr/lib/ipxe}}"
    line="${line//@FIXTURES@/$E2E_ROOT/fixtures}"
    line="${line//@INVENTORY@/$MPX_INVENTORY}"
    printf '%s\n' "$line"
  done <"$E2E_ROOT/fixtures/metalpxe.yaml.in" >"$MPX_CONFIG"
  # A lab host to look at metalpxed from the network side, as a machine would.
  lab_add_host probe "${LAB_SUBNET_PREFIX}.250/24"
  MPX_PROBE="$LAB_LAST_HOST"
}

# mpx_start: metalpxed --config, up when its HTTP port answers.
mpx_start() {
  if ! "$METALPXED" --check-config "$MPX_CONFIG" >"$LAB_DIR/check-config.log" 2>&1; then
    echo "e2e: metalpxed --check-config rejected the lab config:" >&2
    cat "$LAB_DIR/check-config.log" >&2
    return 1
  fi
  lab_spawn metalpxed "$LAB_NS" "$METALPXED" --config "$MPX_CONFIG"
  MPX_PID=$LAB_LAST_PID
  local i
  for i in $(seq 1 100); do
    if mpx_http -o /dev/null "/boot.ipxe" 2>/dev/null; then return 0; fi
    kill -0 "$MPX_PID" 2>/dev/null || break
    sleep 0.2
  done
  echo "e2e: metalpxed did not answer HTTP on $LAB_SERVER_IP:8080; its log:" >&2
  tail -n 30 "$LAB_DIR/metalpxed.log" >&2
  return 1
}

# mpx_ctl ARGS...: metalpxectl as the operator runs it, with the admin client
# config metalpxed wrote on its first start (mutual TLS to the API).
mpx_ctl() {
  local config="$MPX_STATE/pki/admin.metalpxeconfig" i
  # The API starts after the boot path: its client config appears then.
  for i in $(seq 1 50); do
    [[ -f "$config" ]] && break
    sleep 0.2
  done
  timeout 150 ip netns exec "$LAB_NS" "$METALPXECTL" --config "$config" "$@" >>"$LAB_DIR/metalpxectl.log" 2>&1
}

# mpx_http [curl args] PATH: GET from the probe host (a machine on the bridge).
mpx_http() {
  local path="${*: -1}"
  ip netns exec "$MPX_PROBE" curl -fsS --max-time 10 "${@:1:$#-1}" "http://$LAB_SERVER_IP:8080$path"
}

# What metalpxed serves a MAC's iPXE right now (asked from the probe host).
mpx_script_for() { mpx_http "/ipxe?mac=${1//:/-}"; }
mpx_serves_disk() { mpx_script_for "$1" | grep -qE '^(exit|sanboot)'; }
mpx_serves_no_kernel() {
  local script
  script="$(mpx_script_for "$1")" || return 1
  ! grep -q '^kernel' <<<"$script"
}

# mpx_sql QUERY: read metalpxed's store (WAL: safe while it runs).
mpx_sql() { sqlite3 -readonly -cmd ".timeout 2000" "$MPX_STATE/metalpxe.db" "$1" 2>/dev/null; }

# The store's machine state for a MAC ("" when it has none).
mpx_machine_state() {
  mpx_sql "SELECT state FROM machines WHERE replace(lower(mac),'-',':') = lower('$1');"
}

# mpx_wait_state MAC STATE SECONDS
mpx_wait_state() {
  local deadline=$((SECONDS + $3))
  while ((SECONDS < deadline)); do
    [[ "$(mpx_machine_state "$1")" == "$2" ]] && return 0
    sleep 1
  done
  return 1
}

mpx_events_for() {  # number of events the store holds for a machine (by MAC or name)
  mpx_sql "SELECT count(*) FROM events WHERE replace(lower(machine),'-',':') = lower('$1') OR machine = '$2';"
}

# mpx_restart: metalpxed ended (SIGKILL: no goodbye) and started again on the
# same config and stateDir; its log goes on in metalpxed.log.
mpx_restart() {
  kill -KILL -- "-$MPX_PID" 2>/dev/null
  local i
  for i in $(seq 1 50); do
    kill -0 -- "-$MPX_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$LAB_DIR/metalpxed.log" >>"$LAB_DIR/metalpxed.before-restart.log"
  mpx_start
}

# vm_start NAME uefi|uefi-sb|uefi-http|arm64-http|bios MAC [SECONDS]: a fresh blank disk, a tap, QEMU.
# With VM_BOOT_DISK set (bootdisk.sh's image), the disk starts as a copy of
# it: the installed machine then boots from it (UEFI). RUN_VM_MEMORY (MiB)
# goes on to run-vm.sh.
vm_start() {
  local name="$1" fw="$2" mac="$3" secs="${4:-600}"
  local tap="t-$name"
  lab_add_tap "$tap"
  VM_DISK[$name]="$LAB_DIR/$name.disk.img"
  VM_SERIAL[$name]="$LAB_DIR/$name.serial.log"
  VM_FW[$name]="$fw"
  VM_MAC[$name]="$mac"
  rm -f "${VM_DISK[$name]}"
  if [[ -n "${VM_BOOT_DISK:-}" ]]; then
    cp --sparse=always "$VM_BOOT_DISK" "${VM_DISK[$name]}"
  else
    truncate -s 64M "${VM_DISK[$name]}"
  fi
  : >"${VM_SERIAL[$name]}"
  lab_spawn "vm-$name" "$LAB_NS" "$LAB_HERE/run-vm.sh" "$fw" "$mac" "$tap" "${VM_DISK[$name]}" \
    "${VM_SERIAL[$name]}" "$secs" "$LAB_DIR"
  VM_PID[$name]=$LAB_LAST_PID
  VM_START[$name]=$SECONDS
}

vm_stop() { lab_stop "${VM_PID[$1]}"; }
vm_running() { kill -0 "${VM_PID[$1]}" 2>/dev/null; }

# vm_wait NAME REGEX SECONDS: the VM printed a line matching REGEX.
vm_wait() { lab_wait_log "${VM_SERIAL[$1]}" "$2" "$3" "${VM_PID[$1]}"; }

# vm_wait_after NAME ANCHOR REGEX SECONDS: REGEX printed after the last ANCHOR line.
vm_wait_after() {
  local name="$1" anchor="$2" re="$3" secs="$4"
  local deadline=$((SECONDS + secs))
  while ((SECONDS < deadline)); do
    tr -d '\r' <"${VM_SERIAL[$name]}" | awk -v a="$anchor" -v r="$re" \
      '$0 ~ a {seen=1; hit=0} seen && $0 ~ r {hit=1} END {exit !(seen && hit)}' && return 0
    vm_running "$name" || return 1
    sleep 1
  done
  return 1
}

# grep reads to the end (no -q): under pipefail, a grep that quits at its
# first match leaves tr writing into a closed pipe (SIGPIPE, exit 141), and a
# line that is there counted as missing once the serial log outgrew the pipe.
vm_printed() { tr -d '\r' <"${VM_SERIAL[$1]}" | grep -aE -- "$2" >/dev/null; }
vm_not_printed() { ! vm_printed "$@"; }

# The marker the stand-in wrote to the first sector of the VM's disk.
vm_disk_marker() { head -c 512 "${VM_DISK[$1]}" | tr -d '\0' | head -n1; }
vm_disk_has() { [[ "$(vm_disk_marker "$1")" == "$2" ]]; }

# The addresses the three DHCP clients of one boot got, from the serial log:
# EDK2 ("Station IP address is X"), iPXE ("net0: X/"), udhcpc ("lease X").
vm_addresses() {
  tr -d '\r' <"${VM_SERIAL[$1]}" | grep -aoE 'Station IP address is [0-9.]+|net0: [0-9.]+/|STANDIN-INIT: lease [0-9.]+' |
    grep -oE '[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+' | sort -u
}
vm_one_address() { [[ "$(vm_addresses "$1" | wc -l)" == 1 ]]; }

# On failure, what a person needs to see.
e2e_dump() {
  local name
  echo "---- metalpxed log (tail) ----"
  tail -n 60 "$LAB_DIR/metalpxed.log" 2>/dev/null
  for name in "${!VM_SERIAL[@]}"; do
    echo "---- $name serial (tail) ----"
    tr -d '\r' <"${VM_SERIAL[$name]}" | grep -av '^\s*$' | tail -n 40
  done
  echo "---- store ----"
  mpx_sql "SELECT mac, name, state, reason, last_ip FROM machines;"
  mpx_sql "SELECT machine, kind, message FROM events ORDER BY id DESC LIMIT 20;"
}

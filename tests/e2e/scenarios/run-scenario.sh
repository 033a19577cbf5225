#!/usr/bin/env bash
# One end-to-end scenario of metalpxed against QEMU PXE clients in a fresh
# network-namespace lab (tests/e2e/README.md). Asserts on what metalpxed
# recorded (its store, what it serves) and on what the VMs printed.
#
# usage: run-scenario.sh NAME BUILD_DIR
#   NAME: uefi-install | bios-worker | two-machines | proxy | discover-accept | foreign-token |
#         ipmi-reinstall | uefi-http | arm64-no-loader | arm64-install | cluster | secureboot-shim |
#         secureboot-uki | ipv6-pxe | ipv6-http | appliance-image | appliance-first-boot
# Exit 0 when every check passed. Bounded: every wait has its own limit and
# the whole run is capped by E2E_SCENARIO_TIMEOUT (default 420 s).
set -uo pipefail
scenario="$1"
build="$(cd "$2" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/../lab/lab.sh"
source "$here/../lab/metalpxed-lab.sh"
source "$here/../lab/bmc-lab.sh"

CP_MAC=52:54:00:e2:e0:01
WK_MAC=52:54:00:e2:e0:02
ND_MAC=52:54:00:e2:e0:99
CP_MARK="METALPXE-STANDIN-INSTALLED hostname=cp-1 role=controlplane fixture=controlplane-base"
WK_MARK="METALPXE-STANDIN-INSTALLED hostname=wk-1 role=worker fixture=worker-base"
ND_MARK="METALPXE-STANDIN-INSTALLED hostname=nd-1 role=worker fixture=worker-base"

# The checks one install makes, for VM NAME expecting HOST/ROLE/FIXTURE.
check_install() {
  local name="$1" host="$2" role="$3" fixture="$4" mark="$5" limit="${6:-240}"
  e2e_check "$name: iPXE got the install script for $host ($role)" \
    vm_wait "$name" "metalpxe: installing Talos on $host \\($role\\)" "$limit"
  e2e_check "$name: stand-in fetched its config" vm_wait "$name" "STANDIN: config fetched" 120
  # Waits, not one look: the next lines may still be on their way to the log.
  e2e_check "$name: config says hostname=$host role=$role fixture=$fixture" \
    vm_wait "$name" "STANDIN: config hostname=$host role=$role fixture=$fixture" 30
  e2e_check "$name: stand-in found the config is its own" vm_wait "$name" "STANDIN: config is mine" 30
  e2e_check "$name: install done, rebooting" vm_wait "$name" "STANDIN: rebooting" 90
  # Talos's order: the config is loaded (initialize sequence) before anything
  # reports INSTALLING, and the install sequence ends with the reboot error.
  e2e_check "$name: config loaded before INSTALLING was reported" \
    bash -c "tr -d '\r' <'${VM_SERIAL[$name]}' | awk '/STANDIN: config fetched/ && !f {f=NR} /MachineStatusEvent INSTALLING/ && !i {i=NR} END {exit !(f && i && f < i)}'"
  e2e_check "$name: the install sequence ended with unix.Reboot(1234567)" \
    vm_printed "$name" "STANDIN: install sequence ended: unix\\.Reboot\\(1234567\\)"
  e2e_check "$name: every install event reached the sink" \
    vm_printed "$name" "STANDIN: events published [1-9][0-9]* ok, 0 failed"
  e2e_check "$name: kernel log lines were streamed" vm_printed "$name" "STANDIN: kernel log lines sent [1-9]"
  e2e_check "$name: disk marker is there" vm_disk_has "$name" "$mark"
  e2e_check "$name: metalpxed recorded ${VM_MAC[$name]} as installed" \
    mpx_wait_state "${VM_MAC[$name]}" installed 30
  e2e_check "$name: metalpxed stored install events" test "$(mpx_events_for "${VM_MAC[$name]}" "$host")" -gt 0
}

# After the stand-in's reboot, iPXE is told to boot from disk.
check_boot_from_disk() {
  local name="$1" host="$2"
  e2e_check "$name: next boot gets boot-from-disk" \
    vm_wait_after "$name" "STANDIN: rebooting" "metalpxe: $host is installed, booting from its disk" 180
  # iPXE must really leave for the disk: the firmware moves on past the
  # network boot option (SeaBIOS: "Booting from Hard Disk"; OVMF, told
  # `exit 1`: its next Boot#### entries, UEFI HTTPv4, where metalpxed
  # answers boot-from-disk once more, then the disk, "UEFI Misc Device",
  # which for the lab's blank, ESP-less disk fails to load), instead of iPXE
  # looping back into metalpxe's chain script. The limit covers the HTTP
  # boot detour.
  e2e_check "$name: firmware moved on to the disk after iPXE" \
    vm_wait_after "$name" "is installed, booting from its disk" \
    'Booting from Hard Disk|BdsDxe: (loading|starting|failed to load) Boot[0-9A-F]+ "(UEFI (Misc|QEMU|Non)|UiApp)' 120
  e2e_check "$name: iPXE did not retry metalpxe after boot-from-disk" \
    bash -c "tr -d '\r' <'${VM_SERIAL[$name]}' | awk '/is installed, booting from its disk/ {s=1} s && /retrying in [0-9]+ seconds/ {bad=1} END {exit bad}'"
  e2e_check "$name: no second install" \
    test "$(tr -d '\r' <"${VM_SERIAL[$name]}" | grep -ac 'STANDIN: start')" = 1
  e2e_check "$name: metalpxe serves boot-from-disk for it now" mpx_serves_disk "${VM_MAC[$name]}"
}

scenario_uefi_install() {
  mpx_setup "$build" full discover && mpx_start || return 1
  vm_start cp-1 uefi "$CP_MAC"
  check_install cp-1 cp-1 controlplane controlplane-base "$CP_MARK"
  check_boot_from_disk cp-1 cp-1
  e2e_check "cp-1: firmware, iPXE and installer kept one address" vm_one_address cp-1
}

scenario_bios_worker() {
  mpx_setup "$build" full discover && mpx_start || return 1
  vm_start wk-1 bios "$WK_MAC"
  check_install wk-1 wk-1 worker worker-base "$WK_MARK"
  e2e_check "wk-1: did not get the control plane's config" vm_not_printed wk-1 "fixture=controlplane-base"
  check_boot_from_disk wk-1 wk-1
  e2e_check "wk-1: iPXE and installer kept one address" vm_one_address wk-1
}

scenario_two_machines() {
  mpx_setup "$build" full discover && mpx_start || return 1
  vm_start cp-1 uefi "$CP_MAC"
  vm_start wk-1 bios "$WK_MAC"
  check_install wk-1 wk-1 worker worker-base "$WK_MARK" 300
  check_install cp-1 cp-1 controlplane controlplane-base "$CP_MARK" 300
  e2e_check "cp-1 and wk-1 got different addresses" \
    test "$(vm_addresses cp-1 | tail -n1)" != "$(vm_addresses wk-1 | tail -n1)"
}

scenario_proxy() {
  mpx_setup "$build" proxy discover || return 1
  # The network's own DHCP server: addresses only, no PXE options at all.
  local router
  lab_add_host router "${LAB_SUBNET_PREFIX}.2/24"
  router="$LAB_LAST_HOST"
  cat >"$LAB_DIR/dnsmasq.conf" <<CONF
port=0
interface=eth0
bind-interfaces
dhcp-range=${LAB_SUBNET_PREFIX}.20,${LAB_SUBNET_PREFIX}.60,255.255.255.0,1h
dhcp-leasefile=$LAB_DIR/dnsmasq.leases
log-dhcp
log-facility=-
CONF
  lab_spawn dnsmasq "$router" dnsmasq --keep-in-foreground --conf-file="$LAB_DIR/dnsmasq.conf" \
    --pid-file="$LAB_DIR/dnsmasq.pid"
  mpx_start || return 1
  vm_start cp-1 uefi "$CP_MAC"
  check_install cp-1 cp-1 controlplane controlplane-base "$CP_MARK"
  e2e_check "cp-1: its address came from the network's dnsmasq" \
    grep -qi "$CP_MAC" "$LAB_DIR/dnsmasq.leases"
  e2e_check "cp-1: the installer's lease is in dnsmasq's range" \
    vm_printed cp-1 "STANDIN-INIT: lease ${LAB_SUBNET_PREFIX//./\\.}\\.([2-5][0-9]|60) from ${LAB_SUBNET_PREFIX//./\\.}\\.2 "
  e2e_check "metalpxed leased no address in proxy mode" test "$(mpx_sql 'SELECT count(*) FROM leases;')" = 0
}

scenario_discover_accept() {
  mpx_setup "$build" full discover && mpx_start || return 1
  vm_start nd-1 bios "$ND_MAC"
  e2e_check "nd-1: held in the discover loop" \
    vm_wait nd-1 "metalpxe: this machine \\(${ND_MAC//:/.}\\) is not in the inventory" 180
  e2e_check "nd-1: metalpxed recorded it as discovered" mpx_wait_state "$ND_MAC" discovered 20
  e2e_check "nd-1: what it is served has no kernel" mpx_serves_no_kernel "$ND_MAC"
  e2e_check "nd-1: no installer booted while unknown" vm_not_printed nd-1 "STANDIN"
  local pid_before="${VM_PID[nd-1]}"
  # Accept it through the inventory: the file changes, metalpxed reloads.
  cat "$E2E_ROOT/fixtures/accept-nd-1.yaml" >>"$MPX_INVENTORY"
  check_install nd-1 nd-1 worker worker-base "$ND_MARK" 120
  # One firmware start before the installer ran: the discover loop turned
  # into the install inside the same boot.
  e2e_check "nd-1: installed without a power cycle (same VM, one firmware start)" \
    test "${VM_PID[nd-1]}" = "$pid_before" -a \
    "$(tr -d '\r' <"${VM_SERIAL[nd-1]}" | awk '/STANDIN: start/ {exit} /SeaBIOS \(version/ {n++} END {print n+0}')" = 1
}

# Tokens are bound to their machine: a namespace host holding cp-1's MAC and
# one holding wk-1's take leases like the machines would, each reads its
# iPXE script, and each tries the other's config URL.
scenario_foreign_token() {
  mpx_setup "$build" full discover && mpx_start || return 1
  local cp wk
  lab_add_host cp "" "$CP_MAC"
  cp="$LAB_LAST_HOST"
  lab_add_host wk "" "$WK_MAC"
  wk="$LAB_LAST_HOST"
  local h
  for h in "$cp" "$wk"; do
    timeout 30 ip netns exec "$h" udhcpc -i eth0 -s "$LAB_HERE/initramfs/udhcpc.script" -q -n -t 5 -T 2 \
      >>"$LAB_DIR/udhcpc.log" 2>&1
  done
  e2e_check "cp host got a lease" test -n "$(ip -n "$cp" -4 -o addr show dev eth0)"
  e2e_check "wk host got a lease" test -n "$(ip -n "$wk" -4 -o addr show dev eth0)"
  local cp_url wk_url
  cp_url="$(ip netns exec "$cp" curl -fsS --max-time 10 "http://$LAB_SERVER_IP:8080/ipxe?mac=${CP_MAC//:/-}" |
    grep -oE 'talos\.config=[^ ]+' | head -n1 | cut -d= -f2-)"
  wk_url="$(ip netns exec "$wk" curl -fsS --max-time 10 "http://$LAB_SERVER_IP:8080/ipxe?mac=${WK_MAC//:/-}" |
    grep -oE 'talos\.config=[^ ]+' | head -n1 | cut -d= -f2-)"
  e2e_check "cp's install script carries a config URL" test -n "$cp_url"
  e2e_check "wk's install script carries a config URL" test -n "$wk_url"
  code() { ip netns exec "$1" curl -s -o "$LAB_DIR/body" -w '%{http_code}' --max-time 10 "$2"; }
  e2e_check "wk fetching cp's config is refused (403)" test "$(code "$wk" "$cp_url")" = 403
  e2e_check "the refusal carries no config" bash -c "! grep -q 'type: controlplane' '$LAB_DIR/body'"
  e2e_check "cp fetching wk's config is refused (403)" test "$(code "$cp" "$wk_url")" = 403
  e2e_check "a made-up token is refused (403)" \
    test "$(code "$cp" "http://$LAB_SERVER_IP:8080/config/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")" = 403
  e2e_check "cp fetching its own config works" test "$(code "$cp" "$cp_url")" = 200
  e2e_check "... and it is the control plane's" grep -q "hostname: cp-1" "$LAB_DIR/body"
  e2e_check "wk fetching its own config works" test "$(code "$wk" "$wk_url")" = 200
  e2e_check "... and it is the worker's" grep -q "type: worker" "$LAB_DIR/body"
}

# Remote reinstall through a BMC: wk-1 sits behind an ipmi_sim whose chassis
# control starts and stops its QEMU. The operator powers it on and reinstalls
# it with metalpxectl only; metalpxed sets next boot PXE and power-cycles it
# over IPMI, and the machine installs again.
scenario_ipmi_reinstall() {
  mpx_setup "$build" full discover || return 1
  bmc_vm_setup wk-1 bios "$WK_MAC" 9623 || return 1
  mpx_add_ipmi_bmc wk-1 || return 1
  mpx_start || return 1
  e2e_check "wk-1 is off before anyone powers it" bmc_power_is wk-1 off
  e2e_check "metalpxectl power on wk-1 (through its BMC)" mpx_ctl power on wk-1
  e2e_check "ipmitool reads wk-1's BMC: power is on" bmc_power_is wk-1 on
  check_install wk-1 wk-1 worker worker-base "$WK_MARK"
  e2e_check "wk-1: next boot gets boot-from-disk" \
    vm_wait_after wk-1 "STANDIN: rebooting" "metalpxe: wk-1 is installed, booting from its disk" 180
  # DHCP option 93 and iPXE's query both say legacy BIOS on i386 (iPXE's build arch).
  e2e_check "wk-1: metalpxed saw it boot legacy BIOS" \
    grep -qx 'bios-i386' <<<"$(mpx_sql "SELECT arch FROM machines WHERE name = 'wk-1';")"

  # The reinstall. Everything the BMC is told from here on is the reinstall's.
  local sets_before
  sets_before="$(bmc_set_log wk-1 | wc -l)"
  e2e_check "metalpxectl reinstall wk-1 is accepted" mpx_ctl reinstall wk-1
  e2e_check "wk-1 is reinstall-requested" mpx_wait_state "$WK_MAC" reinstall-requested 10
  e2e_check "the BMC was powered once more by metalpxed (QEMU restarted)" \
    lab_wait_for 60 bmc_powered_on_at_least wk-1 2
  local sets
  sets="$(bmc_set_log wk-1 | tail -n +"$((sets_before + 1))" | tr '\n' ';')"
  echo "        BMC sets for the reinstall: $sets"
  # ipmi_sim turns a chassis "power cycle" into power 0 ... power 1.
  e2e_check "the BMC was told: next boot PXE, then a power cycle" \
    grep -qE '^boot pxe;((power 0;)+power 1;|reset 1;)$' <<<"$sets"
  e2e_check "metalpxed cycled a machine that was on (not just 'power on')" \
    grep -qE "ipmi 127\\.0\\.0\\.1:[0-9]+: power cycle$" "$LAB_DIR/metalpxed.log"
  e2e_check "metalpxed asked for a legacy network boot (the machine's firmware)" \
    grep -q "next boot from network (legacy)" "$LAB_DIR/metalpxed.log"
  e2e_check "wk-1: the installer booted again after the power cycle" \
    vm_wait_after wk-1 "^BMC: power on" "metalpxe: installing Talos on wk-1 .worker." 240
  e2e_check "wk-1: the second install finished" vm_wait_after wk-1 "^BMC: power on" "STANDIN: rebooting" 150
  e2e_check "wk-1: installed twice in all" \
    test "$(tr -d '\r' <"${VM_SERIAL[wk-1]}" | grep -ac 'STANDIN: rebooting')" = 2
  e2e_check "wk-1: every install event of the second install reached the sink" \
    vm_wait_after wk-1 "^BMC: power on" "STANDIN: events published [1-9][0-9]* ok, 0 failed" 10
  e2e_check "wk-1: disk marker is there" vm_disk_has wk-1 "$WK_MARK"
  e2e_check "metalpxed recorded wk-1 as installed again" mpx_wait_state "$WK_MAC" installed 30
  e2e_check "metalpxed recorded the reinstall's power action" \
    test "$(mpx_sql "SELECT count(*) FROM events WHERE kind = 'power' AND message LIKE 'reinstall attempt 1 of %ipmi%';")" = 1
  e2e_check "wk-1: after the reinstall it boots from its disk" \
    vm_wait_after wk-1 "STANDIN: rebooting" "metalpxe: wk-1 is installed, booting from its disk" 180
  e2e_check "ipmitool: wk-1 is powered on at the end" bmc_power_is wk-1 on
  e2e_check "the BMC password is not in metalpxed's log" \
    bash -c "! grep -qF -- \"\$(cat '${BMC_DIR[wk-1]}/password')\" '$LAB_DIR/metalpxed.log'"
}

# UEFI HTTP boot with real firmware: OVMF with its PXE switched off
# (run-vm.sh uefi-http) DHCPs as HTTPClient (arch 16), is answered with
# HTTPClient and a full URL, downloads the loader from metalpxed over HTTP,
# and goes on to its per-MAC script and its own config. No TFTP at all.
mpx_timeline() {  # mpx_timeline MAC SOURCE: that machine's timeline lines from SOURCE, "summary|details", in order
  mpx_sql "SELECT summary || '|' || details FROM timeline WHERE replace(lower(mac),'-',':') = lower('$1')
           AND source = '$2' ORDER BY seq;"
}
scenario_uefi_http() {
  mpx_setup "$build" full discover && mpx_start || return 1
  local powered_on_ms fetched_ms
  powered_on_ms="$(date +%s%3N)"
  vm_start cp-1 uefi-http "$CP_MAC"
  e2e_check "cp-1: OVMF started HTTP boot (its PXE is off)" vm_wait cp-1 "Start HTTP Boot over IPv4" 120
  check_install cp-1 cp-1 controlplane controlplane-base "$CP_MARK"
  # The figure reference-run.sh uefi-http gives for dnsmasq + busybox httpd.
  fetched_ms="$(mpx_sql "SELECT min(time_ms) FROM timeline WHERE replace(lower(mac),'-',':') = lower('$CP_MAC')
                         AND summary LIKE 'HTTP GET /config: granted%';")"
  [[ -n "$fetched_ms" ]] && echo "        cp-1: power-on to config fetched $(((fetched_ms - powered_on_ms) / 1000)) s"
  e2e_check "cp-1: the firmware never started PXE" vm_not_printed cp-1 "Start PXE over IPv"
  local url="http://$LAB_SERVER_IP:8080/assets/snponly.efi"
  e2e_check "metalpxed saw the firmware as an HTTP boot client (HTTPClient, arch 16)" \
    grep -qE "client=firmware arch=uefi-x86_64-http vendor_class=HTTPClient:Arch:00016" <<<"$(mpx_timeline "$CP_MAC" dhcp)"
  # The firmware only goes on when the answer carries option 60 HTTPClient
  # (UEFI 2.x, 24.7.3): its fetch below proves that part.
  e2e_check "metalpxed offered and acked the loader's full URL to the firmware" \
    test "$(mpx_timeline "$CP_MAC" dhcp | grep -cE "^DHCP (DISCOVER|REQUEST) from firmware \(uefi-x86_64-http\) -> (OFFER|ACK) [0-9.]+, boot file ${url//./\\.} ")" -ge 2
  e2e_check "cp-1 fetched the loader from metalpxed over HTTP (200, complete)" \
    grep -qE "^HTTP GET /assets/snponly\.efi, .*\|path=/assets/snponly\.efi status=200 bytes=[1-9]" \
    <<<"$(mpx_timeline "$CP_MAC" http)"
  e2e_check "the loader's fetch came before iPXE asked for its script" \
    awk '/^HTTP GET \/assets\/snponly\.efi/ && !l {l=NR} /^HTTP GET \/ipxe/ && !s {s=NR} END {exit !(l && s && l < s)}' \
    <<<"$(mpx_timeline "$CP_MAC" http)"
  e2e_check "nothing went over TFTP for cp-1" test -z "$(mpx_timeline "$CP_MAC" tftp)"
}

# The IPv6-only lab of both IPv6 scenarios: no DHCPv4, radvd as the router
# (M/O flags for fd66::/64), metalpxed with server.address6 and DHCPv6 full.
ipv6_lab_start() {
  mpx_setup "$build" off discover || return 1
  lab_ipv6_managed_router
  sed -i 's|^  address: .*|&\n  address6: fd66::1|' "$MPX_CONFIG"
  sed -i 's|^boot:|dhcp6:\n  mode: full\n  subnets:\n    - subnet: fd66::/64\n      pool: fd66::100-fd66::1ff\n      leaseTime: 1h\n\nboot:|' "$MPX_CONFIG"
  mpx_start
}
# nd-1's iPXE (HOW it was loaded) gets the chain script from DHCPv6 and its
# per-MAC script over IPv6 (held in the discover loop); then nd-1 stops.
ipv6_ipxe_reaches_its_script() {
  e2e_check "nd-1: iPXE ($1) was told the chain script by DHCPv6" \
    vm_wait nd-1 "Filename: http://\\[fd66::1\\]:8080/boot\\.ipxe" 120
  e2e_check "nd-1: the per-MAC script came over IPv6 (held in the discover loop)" \
    vm_wait nd-1 "metalpxe: this machine \\(${ND_MAC//:/.}\\) is not in the inventory" 60
  vm_stop nd-1
}

# IPv6 only: OVMF's PXEv6 (its IPv4 PXE off) on a bridge with no IPv4 DHCP,
# radvd as the router (M/O flags). metalpxed's DHCPv6 hands out an address
# and tftp://[fd66::1]/snponly.efi, TFTP over IPv6 serves it, iPXE asks
# DHCPv6 again and chains to http://[fd66::1]:8080/boot.ipxe, and the
# per-MAC script (discover) comes over HTTP on IPv6.
scenario_ipv6_pxe() {
  ipv6_lab_start || return 1
  vm_start nd-1 uefi-ipv6 "$ND_MAC" 240
  e2e_check "nd-1: OVMF started PXE over IPv6 (its IPv4 PXE off)" vm_wait nd-1 "Start PXE over IPv6" 120
  ipv6_ipxe_reaches_its_script "loaded over TFTP on IPv6"
  e2e_check "nd-1: metalpxed recorded it as discovered" mpx_wait_state "$ND_MAC" discovered 20
  e2e_check "metalpxed answered the firmware's DHCPv6 with the TFTP URL on its IPv6 literal" \
    grep -qF "tftp://[fd66::1]/snponly.efi" <<<"$(mpx_timeline "$ND_MAC" dhcp)"
  e2e_check "metalpxed answered iPXE's DHCPv6 with the chain script's IPv6 URL" \
    grep -qF "http://[fd66::1]:8080/boot.ipxe" <<<"$(mpx_timeline "$ND_MAC" dhcp)"
  e2e_check "nd-1 never started an IPv4 boot" vm_not_printed nd-1 "Start PXE over IPv4|Start HTTP Boot over IPv4"
}

# IPv6 only with UEFI HTTP boot: OVMF's HTTPv6 asks DHCPv6 as
# HTTPClient (arch 16) and gets http://[fd66::1]:8080/assets/snponly.efi
# with the HTTPClient vendor class, downloads it over HTTP on IPv6, and iPXE
# goes on to the per-MAC script as in ipv6-pxe.
scenario_ipv6_http() {
  ipv6_lab_start || return 1
  vm_start nd-1 uefi-http6 "$ND_MAC" 300
  e2e_check "nd-1: OVMF started HTTP boot over IPv6" vm_wait nd-1 "Start HTTP Boot over IPv6" 200
  ipv6_ipxe_reaches_its_script "loaded over HTTP on IPv6"
  e2e_check "metalpxed saw the firmware as an HTTP boot client over DHCPv6 (HTTPClient, arch 16)" \
    grep -qE "vendor_class=HTTPClient:Arch:00016" <<<"$(mpx_timeline "$ND_MAC" dhcp)"
  e2e_check "metalpxed answered it with the loader's URL on its IPv6 literal" \
    grep -qF "http://[fd66::1]:8080/assets/snponly.efi" <<<"$(mpx_timeline "$ND_MAC" dhcp)"
  e2e_check "nd-1 never started PXE" vm_not_printed nd-1 "Start PXE over IPv"
}

# An arm64 machine with real firmware (AAVMF, UEFI HTTP boot, arch 19) on an
# appliance that has no arm64 loader (Debian's ipxe has none): it is offered
# no boot file at all, never the x86 snponly.efi, and the reason is in its
# timeline; the firmware reports it could not load anything.
scenario_arm64_no_loader() {
  mpx_setup "$build" full discover && mpx_start || return 1
  vm_start arm-1 arm64-http "$CP_MAC" 240
  e2e_check "arm-1: AAVMF started HTTP boot over IPv4" vm_wait arm-1 "Start HTTP Boot over IPv4" 150
  e2e_check "arm-1: the firmware found nothing to load" \
    vm_wait arm-1 'failed to load Boot[0-9A-F]+ "UEFI HTTPv4' 120
  vm_stop arm-1
  e2e_check "metalpxed saw an arm64 HTTP boot client (HTTPClient, arch 19)" \
    grep -qE "client=firmware arch=uefi-arm64-http vendor_class=HTTPClient:Arch:00019" <<<"$(mpx_timeline "$CP_MAC" dhcp)"
  e2e_check "its answers named no boot file, with the reason" \
    grep -qF "why=no arm64/ipxe.efi in tftpRoot for uefi arm64 (HTTP boot)" <<<"$(mpx_timeline "$CP_MAC" dhcp)"
  e2e_check "no answer to it named a boot file" \
    bash -c "! grep -q 'boot_file=' <<<\"\$1\"" _ "$(mpx_timeline "$CP_MAC" dhcp)"
  e2e_check "nothing was fetched for it over HTTP or TFTP" \
    test -z "$(mpx_timeline "$CP_MAC" http)$(mpx_timeline "$CP_MAC" tftp)"
  e2e_check "arm-1 never started an x86 binary" vm_not_printed arm-1 "iPXE|snponly"
}

# An arm64 machine that installs: the arm64-no-loader machine again (AAVMF,
# UEFI HTTP boot, arch 19), now against a tftpRoot holding the arm64 iPXE
# (deploy/ipxe-arm64.sh) and a profile with `arch: arm64`, whose
# kernel-arm64 and initramfs-arm64.xz metalpxed downloads from an Image
# Factory stand-in (busybox httpd on a lab host, Image Factory's paths). The
# firmware fetches iPXE over HTTP, iPXE chains to arm-1's script, the arm64
# Debian kernel boots the busybox stand-in, which fetches its own config with
# its token and writes the install marker. Ends at the install.
ARM_MAC=52:54:00:e2:e0:21
ARM_SCHEMATIC=376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba
ARM_TALOS=v1.9.5
# busybox httpd -vv: "[::ffff:10.66.0.1]:PORT: url:/PATH" then "...: response:200".
factory_served() {
  local f
  for f in "$@"; do
    awk -v ip="[::ffff:$LAB_SERVER_IP]:" -v re="url:/image/$ARM_SCHEMATIC/$ARM_TALOS/$f\$" '
      index($0, ip) == 1 && $0 ~ re {split($0, a, ": "); want = a[1]}
      want != "" && index($0, want ": response:200") == 1 {ok = 1}
      END {exit !ok}' "$LAB_DIR/factory.log" || return 1
  done
}
scenario_arm64_install() {
  local factory_ip="${LAB_SUBNET_PREFIX}.3" kernel_sha initramfs_sha
  local fdir="$LAB_DIR/factory/image/$ARM_SCHEMATIC/$ARM_TALOS"
  mkdir -p "$fdir"
  cp "$ARM64_KERNEL" "$fdir/kernel-arm64"
  cp "$ARM64_INITRAMFS" "$fdir/initramfs-arm64.xz"
  kernel_sha="$(sha256sum <"$fdir/kernel-arm64" | cut -d' ' -f1)"
  initramfs_sha="$(sha256sum <"$fdir/initramfs-arm64.xz" | cut -d' ' -f1)"
  MPX_TFTP_ROOT="$ARM64_TFTP_ROOT"
  MPX_PROFILES="  arm64:
    talosVersion: $ARM_TALOS
    schematic: $ARM_SCHEMATIC
    imageFactory: http://$factory_ip:8081
    arch: arm64
    kernelSha256: $kernel_sha
    initramfsSha256: $initramfs_sha
    kernelArgs: [console=ttyAMA0]
    configs:
      controlplane: $E2E_ROOT/fixtures/talos/controlplane.yaml
      worker: $E2E_ROOT/fixtures/talos/worker.yaml"
  MPX_INVENTORY_FIXTURE=arm64-machines.yaml mpx_setup "$build" full discover || return 1
  lab_add_host factory "$factory_ip/24"
  lab_spawn factory "$LAB_LAST_HOST" busybox httpd -f -vv -p 8081 -h "$LAB_DIR/factory"
  # Up when it answers at all (its root is a 404: the asset paths stay
  # untouched until metalpxed asks).
  lab_wait_for 10 ip netns exec "$MPX_PROBE" curl -sS -o /dev/null --max-time 2 "http://$factory_ip:8081/" || return 1
  mpx_start || return 1
  e2e_check "metalpxed downloaded kernel-arm64 and initramfs-arm64.xz from the Image Factory (its paths)" \
    lab_wait_for 30 factory_served "kernel-arm64" "initramfs-arm64[.]xz"

  local powered_on_ms fetched_ms
  powered_on_ms="$(date +%s%3N)"
  vm_start arm-1 arm64-http "$ARM_MAC" 280
  e2e_check "arm-1: AAVMF started HTTP boot over IPv4" vm_wait arm-1 "Start HTTP Boot over IPv4" 150
  e2e_check "arm-1: the arm64 iPXE runs" vm_wait arm-1 "iPXE initialising devices|iPXE 1\\." 90
  e2e_check "arm-1: iPXE got the install script for arm-1 (worker)" \
    vm_wait arm-1 "metalpxe: installing Talos on arm-1 \\(worker\\)" 120
  e2e_check "arm-1: the arm64 Debian kernel booted the stand-in" \
    vm_wait arm-1 "STANDIN: start \\(arm64 busybox stand-in, machine aarch64" 180
  e2e_check "arm-1: stand-in fetched its config" vm_wait arm-1 "STANDIN: config fetched" 60
  fetched_ms="$(mpx_sql "SELECT min(time_ms) FROM timeline WHERE replace(lower(mac),'-',':') = lower('$ARM_MAC')
                         AND summary LIKE 'HTTP GET /config: granted%';")"
  [[ -n "$fetched_ms" ]] && echo "        arm-1: power-on to config fetched $(((fetched_ms - powered_on_ms) / 1000)) s"
  e2e_check "arm-1: config says hostname=arm-1 role=worker fixture=worker-base" \
    vm_wait arm-1 "STANDIN: config hostname=arm-1 role=worker fixture=worker-base" 20
  e2e_check "arm-1: stand-in found the config is its own" vm_wait arm-1 "STANDIN: config is mine" 20
  e2e_check "arm-1: disk marker is there" \
    lab_wait_for 30 vm_disk_has arm-1 "METALPXE-STANDIN-INSTALLED hostname=arm-1 role=worker fixture=worker-base"
  vm_stop arm-1

  local url="http://$LAB_SERVER_IP:8080/assets/arm64/ipxe.efi"
  e2e_check "metalpxed saw an arm64 HTTP boot client (HTTPClient, arch 19)" \
    grep -qE "client=firmware arch=uefi-arm64-http vendor_class=HTTPClient:Arch:00019" <<<"$(mpx_timeline "$ARM_MAC" dhcp)"
  e2e_check "metalpxed offered and acked the arm64 iPXE's URL to the firmware" \
    test "$(mpx_timeline "$ARM_MAC" dhcp | grep -cE "^DHCP (DISCOVER|REQUEST) from firmware \(uefi-arm64-http\) -> (OFFER|ACK) [0-9.]+, boot file ${url//./\\.} ")" -ge 2
  e2e_check "no answer to arm-1 named the x86 loader" \
    bash -c "! grep -qE 'boot file [^ ]*/assets/snponly\\.efi|boot file snponly\\.efi' <<<\"\$1\"" _ "$(mpx_timeline "$ARM_MAC" dhcp)"
  e2e_check "arm-1 fetched the arm64 iPXE over HTTP (200, complete)" \
    grep -qE "^HTTP GET /assets/arm64/ipxe\.efi, .*\|path=/assets/arm64/ipxe\.efi status=200 bytes=[1-9]" \
    <<<"$(mpx_timeline "$ARM_MAC" http)"
  e2e_check "the arm64 iPXE (\${buildarch} arm64) was given the arm64 profile's install script" \
    grep -qE "^HTTP GET /ipxe \(uefi-arm64\): install as worker\|.* kernel=http://${LAB_SERVER_IP//./\\.}:8080/assets/profiles/arm64/vmlinuz " \
    <<<"$(mpx_timeline "$ARM_MAC" http)"
  e2e_check "in order: loader, script, kernel, initramfs, config" \
    awk '/^HTTP GET \/assets\/arm64\/ipxe\.efi/ && !l {l=NR} /^HTTP GET \/ipxe/ && !s {s=NR}
         /^HTTP GET kernel / && !k {k=NR} /^HTTP GET initramfs / && !i {i=NR} /^HTTP GET \/config: granted/ && !c {c=NR}
         END {exit !(l && s && k && i && c && l < s && s < k && k < i && i < c)}' <<<"$(mpx_timeline "$ARM_MAC" http)"
  e2e_check "nothing went over TFTP for arm-1" test -z "$(mpx_timeline "$ARM_MAC" tftp)"
  # The kernel prints its command line (token included), as Talos's does; the
  # stand-in prints no URL.
  e2e_check "the config URL is in no serial line but the kernel's command line" \
    bash -c "! grep -a '/config/' '${VM_SERIAL[arm-1]}' | grep -av 'Kernel command line:' | grep -q ."
}

# Secure Boot enforced (OVMF's secboot build with Microsoft's keys, run-vm.sh
# uefi-sb): cp-1 is marked secureBoot, so the boot-file table gives its
# firmware shimx64.efi (Microsoft-signed), shim loads grubx64.efi (Debian's
# signed GRUB netboot image) from metalpxed's TFTP, GRUB reads grub/grub.cfg
# and its own grub.cfg-01-<mac> (rendered by metalpxed: the /ipxe decision,
# kernel arguments and token), and boots Debian's signed kernel with the
# stand-in's initramfs, all over TFTP; the stand-in fetches its own config.
# The kernel's "secureboot: Secure boot enabled" line, streamed like Talos's
# kernel log, is the proof that Secure Boot was on; metalpxed keeps it.
sb_kernel_locked_down() {
  vm_printed "$1" "EFI stub: UEFI Secure Boot is enabled" && vm_printed "$1" "Kernel is locked down from EFI Secure Boot"
}
scenario_secureboot_shim() {
  MPX_INVENTORY_FIXTURE=secureboot-machines.yaml
  mpx_setup "$build" full discover && mpx_start || return 1
  local powered_on_ms fetched_ms mac_file="grub/grub.cfg-01-${CP_MAC//:/-}"
  powered_on_ms="$(date +%s%3N)"
  vm_start cp-1 uefi-sb "$CP_MAC" 400
  check_install cp-1 cp-1 controlplane controlplane-base "$CP_MARK" 300
  vm_stop cp-1
  fetched_ms="$(mpx_sql "SELECT min(time_ms) FROM timeline WHERE replace(lower(mac),'-',':') = lower('$CP_MAC')
                         AND summary LIKE 'HTTP GET /config: granted%';")"
  [[ -n "$fetched_ms" ]] && echo "        cp-1: power-on to config fetched $(((fetched_ms - powered_on_ms) / 1000)) s"
  local dhcp tftp
  dhcp="$(mpx_timeline "$CP_MAC" dhcp)"
  tftp="$(mpx_timeline "$CP_MAC" tftp)"
  e2e_check "metalpxed offered the firmware shimx64.efi (secureBoot), never snponly.efi" \
    bash -c 'grep -qE "^DHCP DISCOVER from firmware \(uefi-x86_64\) -> OFFER [0-9.]+, boot file shimx64\.efi .*why=uefi x86_64 under Secure Boot" <<<"$1" && ! grep -q snponly <<<"$1"' _ "$dhcp"
  # The chain, in order: shim, GRUB (shim's second stage), GRUB's config
  # and the machine's own, then the signed kernel and the initramfs.
  e2e_check "the chain over TFTP: shim, GRUB, grub.cfg, $mac_file, kernel, initramfs" \
    awk -v m="$mac_file" '
      /^TFTP \/?shimx64\.efi sent/ && !a {a=NR}
      /^TFTP \/?grubx64\.efi sent/ && a && !b {b=NR}
      /^TFTP \/?grub\/grub\.cfg sent/ && b && !c {c=NR}
      index($0, "TFTP " m " (uefi-x86_64): install as controlplane") == 1 && c && !d {d=NR}
      /^TFTP \/?profiles\/default\/vmlinuz sent/ && d && !e {e=NR}
      /^TFTP \/?profiles\/default\/initramfs\.xz sent/ && e && !f {f=NR}
      END {exit !f}' <<<"$tftp"
  e2e_check "nothing asked for iPXE's script (/ipxe) for cp-1" \
    bash -c '! grep -q "^HTTP GET /ipxe" <<<"$1"' _ "$(mpx_timeline "$CP_MAC" http)"
  e2e_check "cp-1's kernel reported Secure Boot on (kernel log, timeline)" \
    grep -qx "Secure Boot: on|" <<<"$(mpx_timeline "$CP_MAC" kmsg)"
  e2e_check "cp-1's history says Secure Boot: on" \
    test "$(mpx_sql "SELECT count(*) FROM events WHERE machine = 'cp-1' AND kind = 'secure-boot' AND message = 'Secure Boot: on';")" = 1
  mpx_ctl get cp-1 -o json
  e2e_check "cp-1's record (metalpxectl get) says secure boot on" \
    grep -qE '"secure_?[bB]oot": *"on"' "$LAB_DIR/metalpxectl.log"
  e2e_check "the kernel ran under Secure Boot (EFI stub), locked down" sb_kernel_locked_down cp-1
  e2e_check "nothing in the chain was refused (firmware -> shim -> GRUB -> kernel)" \
    vm_not_printed cp-1 "Access Denied|Security Violation|bad shim signature|iPXE"
  # The GRUB config carried the token: not in metalpxed's log or timeline.
  e2e_check "no config URL in metalpxed's log or timeline" \
    bash -c '! grep -q "talos.config=\|/config/[A-Za-z0-9_-]\{16\}" "$1" <(printf "%s\n" "$2")' _ "$LAB_DIR/metalpxed.log" "$tftp"

  # wk-1: Secure Boot on too, but not marked secureBoot: it is offered the
  # unsigned iPXE, its firmware refuses it and moves on to its next boot
  # option (UEFI HTTP boot, which DHCPs again). metalpxed's timeline says
  # so instead of showing a silent loop.
  vm_start wk-1 uefi-sb "$WK_MAC" 150
  e2e_check "wk-1: its firmware refused the unsigned iPXE" \
    vm_wait wk-1 'failed to load Boot[0-9A-F]+ "UEFI PXEv4.*Access Denied' 120
  local deadline=$((SECONDS + 60)) refused=""
  while ((SECONDS < deadline)); do
    refused="$(mpx_timeline "$WK_MAC" dhcp | grep -m1 '^refused boot: loader snponly\.efi not started')" && break
    sleep 1
  done
  vm_stop wk-1
  echo "        wk-1: $refused"
  e2e_check "wk-1's timeline: a refused boot, with what to do" \
    grep -q "Secure Boot may be on: mark the machine secureBoot" <<<"$refused"
  e2e_check "wk-1's record has it too" \
    test "$(mpx_sql "SELECT count(*) FROM events WHERE machine = 'wk-1' AND kind = 'boot' AND message LIKE 'refused boot: loader snponly.efi not started%';")" -ge 1
  e2e_check "wk-1 never ran iPXE (nothing asked /ipxe)" \
    bash -c '! grep -q "^HTTP GET /ipxe" <<<"$1"' _ "$(mpx_timeline "$WK_MAC" http)"
}

# Talos's own Secure Boot path (secureBoot: uki): cp-1's firmware enforces
# Secure Boot with OVMF's snakeoil key and UEFI HTTP boots; metalpxed
# answers with the profile's UKI (the stand-in's kernel, initramfs and a
# command line without talos.config, signed with that key: lab/build-uki.sh),
# the firmware verifies and starts it, the stand-in waits in maintenance
# mode, and the UKI's fetch made cp-1 an apply target: metalpxed applies its
# config over TLS and the stand-in installs.
scenario_secureboot_uki() {
  local assets uki="$LAB_DIR/uki.efi"
  assets="$("$LAB_HERE/assets.sh" "$build")" || return 1
  "$LAB_HERE/build-uki.sh" "$assets/vmlinuz" "$assets/initramfs" \
    "console=ttyS0 printk.devkmsg=on talos.platform=metal talos.events.sink=$LAB_SERVER_IP:50101 talos.logging.kernel=tcp://$LAB_SERVER_IP:50102 standin.expect=cp-1/controlplane" \
    "$uki" || return 1
  MPX_INVENTORY_FIXTURE=secureboot-uki-machines.yaml
  MPX_PROFILES="  uki:
    kernel: $assets/vmlinuz
    initramfs: $assets/initramfs
    uki: $uki
    secureBoot: uki
    configs:
      controlplane: $E2E_ROOT/fixtures/talos/controlplane.yaml
      worker: $E2E_ROOT/fixtures/talos/worker.yaml"
  mpx_setup "$build" full discover && mpx_start || return 1
  local powered_on_ms applied_ms url="http://$LAB_SERVER_IP:8080/assets/profiles/uki/secureboot-uki.efi"
  powered_on_ms="$(date +%s%3N)"
  vm_start cp-1 uefi-sb-http "$CP_MAC" 200
  e2e_check "cp-1: OVMF started HTTP boot" vm_wait cp-1 "Start HTTP Boot over IPv4" 60
  e2e_check "cp-1: the firmware verified and started the UKI under Secure Boot" \
    vm_wait cp-1 "EFI stub: UEFI Secure Boot is enabled" 90
  e2e_check "cp-1: booted without talos.config (the UKI's own command line)" vm_wait cp-1 "STANDIN: no talos\\.config" 60
  e2e_check "cp-1: waited in maintenance mode" vm_wait cp-1 "STANDIN: maintenance mode: waiting for ApplyConfiguration" 60
  e2e_check "cp-1: metalpxed applied its config over TLS" vm_wait cp-1 "STANDIN: config applied \\(" 60
  applied_ms="$(date +%s%3N)"
  echo "        cp-1: power-on to config applied $(((applied_ms - powered_on_ms) / 1000)) s"
  e2e_check "cp-1: the applied config is its own" vm_wait cp-1 "STANDIN: config hostname=cp-1 role=controlplane fixture=controlplane-base" 30
  e2e_check "cp-1: install done, rebooting" vm_wait cp-1 "STANDIN: rebooting" 60
  vm_stop cp-1
  e2e_check "cp-1: disk marker is there" vm_disk_has cp-1 "$CP_MARK"
  e2e_check "metalpxed recorded cp-1 as installed" mpx_wait_state "$CP_MAC" installed 30
  e2e_check "the kernel ran under Secure Boot, locked down" sb_kernel_locked_down cp-1
  e2e_check "nothing was refused, no iPXE" vm_not_printed cp-1 "Access Denied|Security Violation|iPXE"
  e2e_check "metalpxed offered the firmware the profile's UKI URL (HTTPClient)" \
    grep -qE "^DHCP (DISCOVER|REQUEST) from firmware \(uefi-x86_64-http\) -> (OFFER|ACK) [0-9.]+, boot file ${url//./\\.} .*why=uefi x86_64 \(HTTP boot\) under Secure Boot \(UKI\)" \
    <<<"$(mpx_timeline "$CP_MAC" dhcp)"
  local http
  http="$(mpx_timeline "$CP_MAC" http)"
  e2e_check "timeline: the UKI fetched (200), then 'UKI fetched', then the config applied" \
    awk '/^HTTP GET UKI \/assets\/profiles\/uki\/secureboot-uki\.efi, / && !a {a=NR}
         /^UKI fetched over HTTP \(profile uki, role controlplane\): config by apply to / && a && !b {b=NR}
         END {exit !b}' <<<"$http"
  e2e_check "cp-1's history: UKI fetched, config applied, installed (in order)" \
    awk '/^UKI fetched over HTTP/ && !a {a=NR} /config applied over TLS/ && a && !b {b=NR} /-> installed/ && b && !c {c=NR}
         END {exit !c}' <<<"$(mpx_sql "SELECT message FROM events WHERE machine = 'cp-1' ORDER BY id;")"
  e2e_check "nothing asked /ipxe for cp-1" bash -c '! grep -q "^HTTP GET /ipxe" <<<"$1"' _ "$http"
}

# --- cluster: two control planes and a worker to a bootstrapped cluster ------
C1_MAC=52:54:00:e2:e0:11
C2_MAC=52:54:00:e2:e0:12
CW_MAC=52:54:00:e2:e0:13

# Lines of all the cluster's VMs matching REGEX (their serial logs together).
cluster_count() {
  local n=0 name
  for name in cp-1 cp-2 wk-1; do
    n=$((n + $(tr -d '\r' <"${VM_SERIAL[$name]}" | grep -acE -- "$1")))
  done
  echo "$n"
}
cluster_bootstrapped() { [[ "$(mpx_sql "SELECT bootstrap FROM clusters WHERE name = 'e2e';")" == bootstrapped ]]; }
# metalpxectl's standard output of one command, in FILE.
cluster_ctl_to() {
  local file="$1"
  shift
  local config="$MPX_STATE/pki/admin.metalpxeconfig"
  timeout 150 ip netns exec "$LAB_NS" "$METALPXECTL" --config "$config" "$@" >"$file" 2>>"$LAB_DIR/metalpxectl.log"
}
# The stand-in apid state record (64 KiB into the VM's disk): bootstrapped=0|1.
cluster_disk_bootstrapped() {
  dd if="${VM_DISK[$1]}" bs=512 skip=128 count=1 status=none | tr -d '\0' | grep -ax 'bootstrapped=1' >/dev/null
}
# Only NODE's disk says bootstrapped.
cluster_only_bootstrapped() {
  local n
  cluster_disk_bootstrapped "$1" || return 1
  for n in cp-1 cp-2 wk-1; do
    [[ "$n" == "$1" ]] || ! cluster_disk_bootstrapped "$n" || return 1
  done
}
# Installed by ApplyConfiguration in maintenance mode (configDelivery apply).
cluster_check_apply_install() {
  local name="$1" host="$2" role="$3" mark="$4"
  e2e_check "$name: iPXE got the install script for $host ($role)" \
    vm_wait "$name" "metalpxe: installing Talos on $host \\($role\\)" 300
  e2e_check "$name: booted without talos.config (configDelivery apply)" vm_wait "$name" "STANDIN: no talos\\.config" 120
  e2e_check "$name: waited in maintenance mode" \
    vm_wait "$name" "STANDIN: maintenance mode: waiting for ApplyConfiguration" 60
  e2e_check "$name: metalpxed applied its config over TLS" vm_wait "$name" "STANDIN: config applied \\(" 90
  e2e_check "$name: the applied config is its own ($host/$role)" vm_wait "$name" "STANDIN: config is mine" 30
  e2e_check "$name: install done, rebooting" vm_wait "$name" "STANDIN: rebooting" 90
  e2e_check "$name: disk marker is there" vm_disk_has "$name" "$mark"
  e2e_check "$name: metalpxed logged the apply to its address" \
    grep -qE "$host: config applied over TLS at ${LAB_SUBNET_PREFIX//./\\.}\\.[0-9]+ " "$LAB_DIR/metalpxed.log"
}
# The installed machine's second life: boot-from-disk, systemd-boot, the
# stand-in's apid with mutual TLS, metalpxed sees it running.
cluster_check_running() {
  local name="$1" host="$2"
  e2e_check "$name: next boot gets boot-from-disk" \
    vm_wait_after "$name" "STANDIN: rebooting" "metalpxe: $host is installed, booting from its disk" 180
  e2e_check "$name: booted its disk's system: the stand-in runs apid" \
    vm_wait_after "$name" "is installed, booting from its disk" "STANDIN: booted from disk: running" 240
  e2e_check "$name: metalpxed recorded it as running" mpx_wait_state "${VM_MAC[$name]}" running 60
  echo "        $name: power-on to running (as metalpxed saw it) within $((SECONDS - VM_START[$name])) s"
}

scenario_cluster() {
  local cdir="$LAB_DIR/cluster-e2e" endpoint="https://${LAB_SUBNET_PREFIX}.110:6443"
  # The cluster's PKI and base configs, made now as `talosctl gen config`
  # makes them (nothing secret-looking is committed).
  FIXTURE_LABELS=1 "$E2E_ROOT/../support/talos-gen-config.sh" "$cdir" e2e "$endpoint" /dev/vda || return 1
  MPX_CLUSTERS="clusters:
  e2e:
    endpoint: $endpoint
    talosconfig: $cdir/talosconfig
    configs:
      controlplane: $cdir/controlplane.yaml
      worker: $cdir/worker.yaml
    bootstrap: auto"
  MPX_INVENTORY_FIXTURE=cluster-machines.yaml mpx_setup "$build" full discover || return 1
  VM_BOOT_DISK="$("$LAB_HERE/bootdisk.sh" "$MPX_ASSETS")" || return 1
  # Every machine network-boots three times (install, boot-from-disk over
  # PXE, then over HTTP): an IPv6 router spares iPXE's wait for one each time.
  lab_ipv6_router
  export RUN_VM_MEMORY=384
  mpx_start || return 1
  vm_start cp-1 uefi "$C1_MAC"
  vm_start cp-2 uefi "$C2_MAC"
  vm_start wk-1 uefi "$CW_MAC"
  unset VM_BOOT_DISK

  # cp-1: config by URL; cp-2 and wk-1: by apply.
  check_install cp-1 cp-1 controlplane controlplane-base \
    "METALPXE-STANDIN-INSTALLED hostname=cp-1 role=controlplane fixture=controlplane-base" 300
  cluster_check_apply_install cp-2 cp-2 controlplane \
    "METALPXE-STANDIN-INSTALLED hostname=cp-2 role=controlplane fixture=controlplane-base"
  cluster_check_apply_install wk-1 wk-1 worker "METALPXE-STANDIN-INSTALLED hostname=wk-1 role=worker fixture=worker-base"
  e2e_check "no config URL reached the apply machines (their kernel command lines)" \
    bash -c "! grep -aq 'talos\\.config=' '${VM_SERIAL[cp-2]}' '${VM_SERIAL[wk-1]}'"
  cluster_check_running cp-1 cp-1
  cluster_check_running cp-2 cp-2
  e2e_check "wk-1: got its apid certificate from trustd on cp-1" \
    vm_wait_after wk-1 "is installed, booting from its disk" "STANDIN-APID: asking trustd at ${LAB_SUBNET_PREFIX//./\\.}\\.110:50001" 60
  cluster_check_running wk-1 wk-1

  # Bootstrap: once, on a control plane, recorded.
  e2e_check "metalpxed recorded the cluster as bootstrapped" \
    lab_wait_for 90 cluster_bootstrapped
  local node
  node="$(mpx_sql "SELECT node FROM clusters WHERE name = 'e2e';")"
  echo "        bootstrapped on: ${node:-?} ($(mpx_sql "SELECT attempts FROM clusters WHERE name = 'e2e';") call(s))"
  e2e_check "Bootstrap went to a control plane" grep -qxE 'cp-[12]' <<<"$node"
  e2e_check "the stand-ins answered Bootstrap OK exactly once, all nodes together" \
    test "$(cluster_count 'STANDIN-APID: Bootstrap call [0-9]+: OK')" = 1
  e2e_check "... on the node metalpxed recorded ($node)" \
    vm_printed "${node:-cp-1}" 'STANDIN-APID: Bootstrap call [0-9]+: OK'
  e2e_check "no stand-in was asked after it had bootstrapped (no AlreadyExists)" \
    test "$(cluster_count 'STANDIN-APID: Bootstrap call [0-9]+: AlreadyExists')" = 0
  e2e_check "$node's disk records etcd bootstrapped; the other nodes' do not" cluster_only_bootstrapped "$node"

  # The kubeconfig: exactly the one the stand-in served.
  local served_before served sums
  served_before="$(cluster_count 'STANDIN-APID: served the kubeconfig')"
  e2e_check "metalpxectl kubeconfig e2e PATH" mpx_ctl kubeconfig e2e "$LAB_DIR/kubeconfig"
  e2e_check "a stand-in served one kubeconfig for it" \
    lab_wait_for 10 test "$(cluster_count 'STANDIN-APID: served the kubeconfig')" = $((served_before + 1))
  served="$(for n in cp-1 cp-2 wk-1; do tr -d '\r' <"${VM_SERIAL[$n]}"; done |
    grep -aoE 'served the kubeconfig .*kubeconfig sha256 [0-9a-f]{64}' | tail -n1 | grep -oE '[0-9a-f]{64}$')"
  sums="$(sha256sum <"$LAB_DIR/kubeconfig" 2>/dev/null | cut -d' ' -f1)"
  e2e_check "the file is byte for byte what the stand-in served (sha256 ${served:0:12}…)" \
    test -n "$served" -a "$served" = "$sums"
  e2e_check "it is mode 0600" test "$(stat -c %a "$LAB_DIR/kubeconfig" 2>/dev/null)" = 600
  e2e_check "it points at the cluster endpoint with the cluster's Kubernetes CA" \
    bash -c "grep -qx '      server: $endpoint' '$LAB_DIR/kubeconfig' &&
      grep -q \"certificate-authority-data: \$(awk '/^cluster:/ {c=1} c && /^  ca:/ {f=1} f && /crt:/ {print \$2; exit}' '$cdir/controlplane.yaml')\" '$LAB_DIR/kubeconfig'"
  e2e_check "its client key is in no log of metalpxed's" \
    bash -c "k=\$(awk '/client-key-data:/ {print \$2}' '$LAB_DIR/kubeconfig'); [[ -n \$k ]] &&
      ! grep -qF -- \"\$k\" '$LAB_DIR/metalpxed.log' '$LAB_DIR/metalpxectl.log'"

  # cluster status: three running nodes, bootstrapped.
  e2e_check "metalpxectl cluster status e2e" cluster_ctl_to "$LAB_DIR/status.txt" cluster status e2e
  e2e_check "... shows 3 running nodes" grep -qE '^Nodes: +3 running$' "$LAB_DIR/status.txt"
  e2e_check "... shows bootstrapped (auto) on $node" grep -qE "^Bootstrap: +bootstrapped \\(auto\\) on $node" "$LAB_DIR/status.txt"
  sed 's/^/        /' "$LAB_DIR/status.txt"

  # A restart of metalpxed (SIGKILL, same stateDir) bootstraps nothing again.
  local calls_before
  calls_before="$(cluster_count 'STANDIN-APID: Bootstrap call')"
  e2e_check "metalpxed killed and started again on the same stateDir" mpx_restart
  # The cluster driver looks at once on start, then every 10 s: two rounds.
  sleep 12
  e2e_check "after the restart: no Bootstrap call reached any node" \
    test "$(cluster_count 'STANDIN-APID: Bootstrap call')" = "$calls_before"
  e2e_check "after the restart: metalpxed did not call Bootstrap" \
    bash -c "! grep -q 'calling Bootstrap' '$LAB_DIR/metalpxed.log'"
  e2e_check "after the restart: metalpxectl cluster status e2e" cluster_ctl_to "$LAB_DIR/status2.txt" cluster status e2e
  e2e_check "... still 3 running nodes, bootstrapped" \
    bash -c "grep -qE '^Nodes: +3 running$' '$LAB_DIR/status2.txt' && grep -qE '^Bootstrap: +bootstrapped' '$LAB_DIR/status2.txt'"
  e2e_check "after the restart: metalpxectl kubeconfig still works" mpx_ctl kubeconfig e2e "$LAB_DIR/kubeconfig2"
  e2e_check "... and again gets what the stand-in served" \
    lab_wait_for 10 bash -c "[[ \"\$(sha256sum <'$LAB_DIR/kubeconfig2' | cut -d' ' -f1)\" == \"\$(cat '${VM_SERIAL[cp-1]}' '${VM_SERIAL[cp-2]}' |
      tr -d '\r' | grep -aoE 'kubeconfig sha256 [0-9a-f]{64}' | tail -n1 | cut -d' ' -f3)\" ]]"

  # An upgrade across the three nodes, one at a time.
  cluster_upgrade_checks
}

# The upgrade step of the cluster scenario: `metalpxectl upgrade`'s progress
# lines as docs/operations.md documents them (`plan:`, `upgrading`,
# `upgraded`, `done:`) and each stand-in's own record of the Upgrade call.
cluster_upgrade_checks() {
  # Upgrade across the three nodes: `metalpxectl upgrade` calls Upgrade on
  # one node at a time (the worker, then the control planes), each ends on
  # the new version (its stand-in "reboots" and answers it).
  local to=v1.9.6 schematic=376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba
  e2e_check "metalpxectl upgrade e2e --to $to" \
    cluster_ctl_to "$LAB_DIR/upgrade.txt" upgrade e2e --to "$to" --schematic "$schematic"
  sed 's/^/        /' "$LAB_DIR/upgrade.txt"
  e2e_check "... the worker first, then the control planes" grep -qE '^plan: wk-1, cp-1, cp-2$' "$LAB_DIR/upgrade.txt"
  e2e_check "... one node at a time (each upgraded before the next is called)" \
    awk '/^upgrading / {if (busy) bad=1; busy=1} /^upgraded / {busy=0} END {exit bad || busy}' "$LAB_DIR/upgrade.txt"
  e2e_check "... done: cluster e2e runs $to" grep -qx "done: cluster e2e runs $to" "$LAB_DIR/upgrade.txt"
  local n
  for n in wk-1 cp-1 cp-2; do
    e2e_check "$n: its stand-in accepted exactly one Upgrade, to $to" \
      test "$(tr -d '\r' <"${VM_SERIAL[$n]}" | grep -acE "STANDIN-APID: upgrade to [^ ]+:$to accepted")" = 1
    e2e_check "$n: came back answering $to" vm_wait "$n" "STANDIN-APID: running $to as " 30
    e2e_check "$n: its disk records version=$to" \
      bash -c "dd if='${VM_DISK[$n]}' bs=512 skip=128 count=1 status=none | tr -d '\0' | grep -qx 'version=$to'"
  done
}

# The arm64 scenario's iPXE, kernel and initramfs are prepared before its
# budget starts: a cold cache builds iPXE (minutes of CPU; deploy/test.sh does
# it in the background earlier, so the scenario finds it done). Its time is
# printed apart.
if [[ "$scenario" == arm64-install ]]; then
  prep_t0=$SECONDS
  while IFS='=' read -r key value; do
    case "$key" in
      tftp_root) ARM64_TFTP_ROOT="$value" ;;
      kernel) ARM64_KERNEL="$value" ;;
      initramfs) ARM64_INITRAMFS="$value" ;;
    esac
  done < <("$here/../lab/arm64-assets.sh")
  if [[ -z "${ARM64_TFTP_ROOT:-}" || -z "${ARM64_KERNEL:-}" || -z "${ARM64_INITRAMFS:-}" ]]; then
    echo "e2e: arm64 assets could not be prepared (tests/e2e/lab/arm64-assets.sh)" >&2
    exit 1
  fi
  echo "e2e: arm64 assets ready in $((SECONDS - prep_t0)) s (iPXE, kernel, initramfs; cached after the first run)"
fi

# The appliance image (deploy/image/build.sh, dist/metalpxe-appliance.raw) as
# a VM on the lab bridge: a copy of the image, its METALPXE partition filled
# with mtools before power-on (or left empty: the first boot), its address
# from the network's dnsmasq (a reservation by MAC), metalpxed inside it.
AP_MAC=52:54:00:e2:e0:a1
AP_IP_SUFFIX=10
appliance_setup() {  # appliance_setup: lab, router, probe, the image copy; sets AP_*
  local image="${METALPXE_APPLIANCE_IMAGE:-$E2E_ROOT/../../dist/metalpxe-appliance.raw}"
  if [[ ! -f "$image" ]]; then
    echo "e2e: no appliance image at $image (deploy/image/build.sh builds it)" >&2
    return 1
  fi
  METALPXECTL="${METALPXECTL:-$build/cli/metalpxectl}"
  [[ -x "$METALPXECTL" ]] || { echo "e2e: no metalpxectl at $METALPXECTL" >&2; return 1; }
  lab_up
  AP_IP="${LAB_SUBNET_PREFIX}.$AP_IP_SUFFIX"
  local router
  lab_add_host router "${LAB_SUBNET_PREFIX}.2/24"
  router="$LAB_LAST_HOST"
  # The home router: addresses only (no PXE options), the appliance's by
  # reservation so the test knows where to look.
  cat >"$LAB_DIR/dnsmasq.conf" <<CONF
port=0
interface=eth0
bind-interfaces
dhcp-range=${LAB_SUBNET_PREFIX}.20,${LAB_SUBNET_PREFIX}.60,255.255.255.0,1h
dhcp-host=$AP_MAC,$AP_IP
dhcp-leasefile=$LAB_DIR/dnsmasq.leases
log-dhcp
log-facility=-
CONF
  lab_spawn dnsmasq "$router" dnsmasq --keep-in-foreground --conf-file="$LAB_DIR/dnsmasq.conf" \
    --pid-file="$LAB_DIR/dnsmasq.pid"
  lab_add_host probe "${LAB_SUBNET_PREFIX}.250/24"
  MPX_PROBE="$LAB_LAST_HOST"
  AP_DISK="$LAB_DIR/appliance.raw"
  cp --sparse=always "$image" "$AP_DISK"
  # The METALPXE partition, as mtools addresses it: IMAGE@@BYTE-OFFSET.
  AP_FAT="$AP_DISK@@$(( $(partx -g -o START -n 3 "$AP_DISK") * 512 ))"
  [[ "$(mlabel -s -i "$AP_FAT" :: 2>/dev/null)" == *METALPXE* ]] ||
    { echo "e2e: partition 3 of the image is not labelled METALPXE" >&2; return 1; }
}

# The appliance VM: power on, wait until metalpxed answers HTTP from the
# probe host (a machine on the bridge); AP_SERVING_S = power-on to serving.
appliance_boot() {  # appliance_boot FIRMWARE SECONDS
  local fw="$1" secs="$2"
  lab_add_tap t-appl
  VM_SERIAL[appliance]="$LAB_DIR/appliance.serial.log"
  VM_DISK[appliance]="$AP_DISK"
  VM_MAC[appliance]="$AP_MAC"
  : >"${VM_SERIAL[appliance]}"
  RUN_VM_MEMORY=1024 lab_spawn vm-appliance "$LAB_NS" "$LAB_HERE/run-vm.sh" "$fw" "$AP_MAC" t-appl "$AP_DISK" \
    "${VM_SERIAL[appliance]}" "$((${E2E_SCENARIO_TIMEOUT:-420} + 60))" "$LAB_DIR"
  VM_PID[appliance]=$LAB_LAST_PID
  local t0=$SECONDS
  e2e_check "appliance ($fw): metalpxed answers HTTP on $AP_IP:8080 (boot.ipxe)" \
    lab_wait_for "$secs" ap_http -o /dev/null /boot.ipxe
  AP_SERVING_S=$((SECONDS - t0))
  echo "  appliance ($fw): power-on to serving HTTP: $AP_SERVING_S s"
  echo "appliance-boot $fw: power-on to serving $AP_SERVING_S s" >>"$LAB_DIR/appliance-times"
}
ap_http() {
  local path="${*: -1}"
  ip netns exec "$MPX_PROBE" curl -fsS --max-time 5 "${@:1:$#-1}" "http://$AP_IP:8080$path" 2>/dev/null
}
# metalpxectl on the probe host with the client config the appliance wrote
# to its METALPXE partition (read with mtools, as from a laptop).
ap_ctl() {
  ip netns exec "$MPX_PROBE" timeout 60 "$METALPXECTL" --config "$LAB_DIR/admin.metalpxeconfig" "$@" \
    >"$LAB_DIR/metalpxectl.out" 2>&1
  local rc=$?
  cat "$LAB_DIR/metalpxectl.out" >>"$LAB_DIR/metalpxectl.log"
  return $rc
}
ap_fetch_credentials() {
  rm -f "$LAB_DIR/admin.metalpxeconfig"
  mcopy -n -i "$AP_FAT" ::/admin.metalpxeconfig "$LAB_DIR/admin.metalpxeconfig" 2>/dev/null &&
    grep -q "$AP_IP:50100" "$LAB_DIR/admin.metalpxeconfig"
}
ap_check_serving() {  # console summary, credentials on the FAT, metalpxectl health
  e2e_check "appliance: console says where it serves" \
    vm_wait appliance "metalpxe appliance: metalpxed is serving on .* at $AP_IP" 60
  e2e_check "appliance: metalpxectl's client config is on the METALPXE partition (names $AP_IP:50100)" \
    lab_wait_for 30 ap_fetch_credentials
  e2e_check "appliance: metalpxectl health from another host with it" ap_healthy
}
ap_healthy() { ap_ctl health && grep -q '^yes' "$LAB_DIR/metalpxectl.out"; }
ap_installed() { ap_ctl get "$1" && grep -qw installed "$LAB_DIR/metalpxectl.out"; }

scenario_appliance_image() {
  appliance_setup || return 1
  # The lab's config, on the FAT partition: proxy DHCP next to the router,
  # the stand-in installer as the profile (paths relative to the config).
  local cfg="$LAB_DIR/fat"
  mkdir -p "$cfg/talos" "$cfg/assets"
  MPX_ASSETS="$("$LAB_HERE/assets.sh" "$build")" || return 1
  cp "$MPX_ASSETS/vmlinuz" "$MPX_ASSETS/initramfs" "$cfg/assets/"
  cp "$E2E_ROOT/fixtures/talos/controlplane.yaml" "$E2E_ROOT/fixtures/talos/worker.yaml" "$cfg/talos/"
  sed "s/10\.66\.0\./${LAB_SUBNET_PREFIX}./g" "$E2E_ROOT/fixtures/machines.yaml" >"$cfg/machines.yaml"
  cat >"$cfg/metalpxe.yaml" <<CONF
# e2e appliance-image: written to the METALPXE partition before power-on.
server:
  address: $AP_IP
  stateDir: /var/lib/metalpxe
  httpPort: 8080
  tftpPort: 69
  tftpRoot: /usr/lib/ipxe
  apiListen: 0.0.0.0:50100
  eventSinkPort: 50101
  kmsgLogPort: 50102
dhcp:
  mode: proxy
boot:
  unknownMachines: discover
  defaultRole: worker
  defaultProfile: default
  bootFromDisk: exit
profiles:
  default:
    kernel: assets/vmlinuz
    initramfs: assets/initramfs
    kernelArgs: [console=ttyS0, printk.devkmsg=on]
    configs:
      controlplane: talos/controlplane.yaml
      worker: talos/worker.yaml
inventory: machines.yaml
CONF
  mcopy -s -i "$AP_FAT" "$cfg"/* ::/ || return 1
  # BIOS for the appliance (GRUB's i386-pc core in the bios-boot partition);
  # the PXE client is UEFI: one run covers both firmwares.
  appliance_boot appliance-bios 300
  e2e_check "appliance: used the config from its METALPXE partition" \
    vm_printed appliance "metalpxe-appliance: config from the METALPXE partition"
  ap_check_serving
  e2e_check "appliance: its address came from the network's dnsmasq" grep -qi "$AP_MAC" "$LAB_DIR/dnsmasq.leases"
  # A second machine PXE-boots through the appliance (proxyDHCP: its address
  # from dnsmasq) into the stand-in installer, which fetches its own config.
  vm_start cp-1 uefi "$CP_MAC"
  e2e_check "cp-1: iPXE got the install script for cp-1 (controlplane)" \
    vm_wait cp-1 "metalpxe: installing Talos on cp-1 \\(controlplane\\)" 300
  e2e_check "cp-1: stand-in fetched its config" vm_wait cp-1 "STANDIN: config fetched" 120
  e2e_check "cp-1: config says hostname=cp-1 role=controlplane fixture=controlplane-base" \
    vm_wait cp-1 "STANDIN: config hostname=cp-1 role=controlplane fixture=controlplane-base" 30
  e2e_check "cp-1: stand-in found the config is its own" vm_wait cp-1 "STANDIN: config is mine" 30
  e2e_check "cp-1: install done, rebooting" vm_wait cp-1 "STANDIN: rebooting" 90
  e2e_check "cp-1: disk marker is there" vm_disk_has cp-1 "$CP_MARK"
  e2e_check "cp-1: the installer's lease came from dnsmasq" \
    vm_printed cp-1 "STANDIN-INIT: lease ${LAB_SUBNET_PREFIX//./\\.}\\.([2-5][0-9]|60) from ${LAB_SUBNET_PREFIX//./\\.}\\.2 "
  e2e_check "appliance: metalpxectl get cp-1 says installed" \
    lab_wait_for 60 ap_installed cp-1
}

# The first boot with an empty METALPXE partition, on UEFI: the appliance
# writes its own config for the interface and address DHCP gave it.
scenario_appliance_first_boot() {
  appliance_setup || return 1
  appliance_boot appliance-uefi 300
  e2e_check "appliance: first boot wrote a config for its DHCP address" \
    vm_printed appliance "metalpxe-appliance: first boot: no metalpxe.yaml on the METALPXE partition; writing one for [a-z0-9]+ \\($AP_IP\\)"
  ap_check_serving
  e2e_check "appliance: metalpxe.yaml on the partition has its address, proxy DHCP, unknown machines discovered" \
    bash -c "mtype -i '$AP_FAT' ::/metalpxe.yaml > '$LAB_DIR/written.yaml' && grep -q '^  address: $AP_IP\$' '$LAB_DIR/written.yaml' &&
             grep -q '^  mode: proxy' '$LAB_DIR/written.yaml' && grep -q '^  unknownMachines: discover' '$LAB_DIR/written.yaml'"
}

lab_init "mpx-$scenario"
# Bounded no matter what: the whole scenario ends within its budget.
setsid bash -c "sleep ${E2E_SCENARIO_TIMEOUT:-420}; echo 'e2e: scenario $scenario timed out' >&2; kill -TERM $$" &
watchdog=$!
LAB_PIDS+=("$watchdog")

echo "=== e2e scenario: $scenario"
start=$SECONDS
case "$scenario" in
  uefi-install) scenario_uefi_install ;;
  bios-worker) scenario_bios_worker ;;
  two-machines) scenario_two_machines ;;
  proxy) scenario_proxy ;;
  discover-accept) scenario_discover_accept ;;
  foreign-token) scenario_foreign_token ;;
  ipmi-reinstall) scenario_ipmi_reinstall ;;
  uefi-http) scenario_uefi_http ;;
  secureboot-shim) scenario_secureboot_shim ;;
  secureboot-uki) scenario_secureboot_uki ;;
  arm64-no-loader) scenario_arm64_no_loader ;;
  ipv6-pxe) scenario_ipv6_pxe ;;
  ipv6-http) scenario_ipv6_http ;;
  arm64-install) scenario_arm64_install ;;
  cluster) scenario_cluster ;;
  appliance-image) scenario_appliance_image ;;
  appliance-first-boot) scenario_appliance_first_boot ;;
  *) echo "unknown scenario $scenario" >&2; exit 2 ;;
esac
setup_rc=$?
[[ $setup_rc != 0 ]] && E2E_FAILED=$((E2E_FAILED + 1)) && echo "  FAIL  setup (lab or metalpxed did not start)"
lab_stop "$watchdog"
# Each scenario reports against its budget (ctest's E2E_SCENARIO_TIMEOUT);
# deploy/test.sh collects these lines into its summary.
times_line="$scenario $((SECONDS - start)) s of ${E2E_SCENARIO_TIMEOUT:-420} s budget ($( ((E2E_FAILED == 0)) && echo passed || echo FAILED))"
echo "e2e time: $times_line"
mkdir -p "$build/e2e-times" && echo "$times_line" > "$build/e2e-times/$scenario"
if ((E2E_FAILED > 0)); then
  e2e_dump
fi
echo "$E2E_PASSED passed, $E2E_FAILED failed"
((E2E_FAILED == 0))

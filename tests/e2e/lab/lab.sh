# shellcheck shell=bash
# The e2e network-namespace lab (LAB-NOTES.md): one namespace holding a bridge
# (br0, 10.66.0.1/24: the appliance's address) with a tap per VM, and extra
# namespace "hosts" plugged into the bridge through veth pairs. Source this
# file; lab_init arms a trap that kills every process started through
# lab_spawn and deletes the namespaces and taps on any exit.
#
#   source lab.sh; lab_init; lab_up; lab_add_tap tap0; lab_spawn name cmd...

LAB_SUBNET_PREFIX="${LAB_SUBNET_PREFIX:-10.66.0}"
LAB_SERVER_IP="${LAB_SUBNET_PREFIX}.1"
LAB_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LAB_CACHE="${METALPXE_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/metalpxe-lab}"

lab_log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# lab_init [NAME]: unique namespace names per run, a work dir, the cleanup trap.
lab_init() {
  LAB_NS="${1:-mpxlab}-$$"
  LAB_HOSTS=()
  LAB_PIDS=()
  LAB_PIDFILES=()  # processes started by others (a BMC's VM): pid files to end too
  LAB_DIR="$(mktemp -d "${TMPDIR:-/tmp}/metalpxe-lab.XXXXXX")"
  trap lab_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

lab_cleanup() {
  local rc=$?
  set +e
  local pid
  for pid in "${LAB_PIDS[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null
  done
  # Give servers a moment to flush state, then make sure.
  for _ in $(seq 1 20); do
    local alive=0
    for pid in "${LAB_PIDS[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [[ $alive = 0 ]] && break
    sleep 0.1
  done
  for pid in "${LAB_PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
  local f
  for f in "${LAB_PIDFILES[@]}"; do
    [[ -f "$f" ]] && kill -KILL "$(cat "$f")" 2>/dev/null
  done
  local h
  for h in "${LAB_HOSTS[@]}"; do ip netns del "$h" 2>/dev/null; done
  [[ -n "${LAB_NS:-}" ]] && ip netns del "$LAB_NS" 2>/dev/null
  if [[ -n "${LAB_KEEP:-}" || $rc != 0 ]]; then
    lab_log "lab files kept in $LAB_DIR"
  else
    rm -rf "$LAB_DIR"
  fi
  return $rc
}

# The appliance side: namespace, bridge with the server address.
lab_up() {
  ip netns add "$LAB_NS"
  ip -n "$LAB_NS" link set lo up
  ip -n "$LAB_NS" link add br0 type bridge
  # No STP/forward delay: a VM's first DHCP must not be eaten by a learning port.
  ip -n "$LAB_NS" link set br0 type bridge forward_delay 0 stp_state 0
  ip -n "$LAB_NS" addr add "$LAB_SERVER_IP/24" dev br0
  ip -n "$LAB_NS" link set br0 up
}

lab_add_tap() {
  local tap="$1"
  ip netns exec "$LAB_NS" ip tuntap add dev "$tap" mode tap
  ip -n "$LAB_NS" link set "$tap" master br0
  ip -n "$LAB_NS" link set "$tap" up
}

# lab_add_host NAME [IP/PREFIX] [MAC]: another machine on the bridge (its own
# namespace, interface eth0); without an address it can run a DHCP client.
# Sets LAB_LAST_HOST to the namespace name (not echoed: a $(...) subshell
# would lose the bookkeeping the cleanup needs).
lab_add_host() {
  local name="$LAB_NS-$1" addr="${2:-}" mac="${3:-}"
  local idx=${#LAB_HOSTS[@]}
  ip netns add "$name"
  LAB_HOSTS+=("$name")
  ip -n "$name" link set lo up
  ip link add "vh$idx-$$" netns "$LAB_NS" type veth peer name eth0 netns "$name"
  ip -n "$LAB_NS" link set "vh$idx-$$" master br0
  ip -n "$LAB_NS" link set "vh$idx-$$" up
  [[ -n "$mac" ]] && ip -n "$name" link set eth0 address "$mac"
  [[ -n "$addr" ]] && ip -n "$name" addr add "$addr" dev eth0
  ip -n "$name" link set eth0 up
  LAB_LAST_HOST="$name"
}

# lab_spawn NAME NETNS CMD...: start CMD in its own process group inside NETNS,
# output to $LAB_DIR/NAME.log; remembered for cleanup. Sets LAB_LAST_PID.
lab_spawn() {
  local name="$1" ns="$2"
  shift 2
  setsid ip netns exec "$ns" "$@" >"$LAB_DIR/$name.log" 2>&1 </dev/null &
  LAB_LAST_PID=$!
  LAB_PIDS+=("$LAB_LAST_PID")
}

# lab_stop PID: end one spawned process group (SIGTERM, then SIGKILL after 5 s).
lab_stop() {
  local pid="$1"
  kill -TERM -- "-$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    kill -0 -- "-$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null
  return 0
}

# lab_wait_log FILE REGEX SECONDS [PID]: wait until FILE has a line matching
# REGEX (grep -E); fails on timeout, or early when PID is given and has exited.
lab_wait_log() {
  local file="$1" re="$2" secs="$3" pid="${4:-}"
  local deadline=$((SECONDS + secs))
  while ((SECONDS < deadline)); do
    grep -qaE -- "$re" "$file" 2>/dev/null && return 0
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      grep -qaE -- "$re" "$file" 2>/dev/null && return 0
      return 1
    fi
    sleep 0.5
  done
  return 1
}

# lab_wait_for SECONDS CMD...: until CMD succeeds (checked every 0.5 s).
lab_wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  while ((SECONDS < deadline)); do
    "$@" && return 0
    sleep 0.5
  done
  "$@"
}

# lab_ipv6_managed_router: an IPv6-only network's router on br0 (radvd):
# router advertisements of fd66::/64 with the M and O flags (addresses and
# options from DHCPv6, which metalpxe answers), no SLAAC. Call after lab_up.
lab_ipv6_managed_router() {
  ip -n "$LAB_NS" addr add fd66::1/64 dev br0 nodad
  ip netns exec "$LAB_NS" sysctl -qw net.ipv6.conf.all.forwarding=1  # radvd advertises only as a router
  cat >"$LAB_DIR/radvd.conf" <<CONF
interface br0 {
  AdvSendAdvert on; MinRtrAdvInterval 3; MaxRtrAdvInterval 4;
  AdvManagedFlag on; AdvOtherConfigFlag on;
  prefix fd66::/64 { AdvOnLink on; AdvAutonomous off; };
};
CONF
  lab_spawn radvd "$LAB_NS" radvd --nodaemon --logmethod stderr --config "$LAB_DIR/radvd.conf" \
    --pidfile "$LAB_DIR/radvd.pid"
}

# lab_ipv6_router: the network's IPv6 router on br0 (dnsmasq: router
# advertisements of a ULA prefix only; no DHCP of either family, no DNS).
# iPXE's `ifconf` waits for IPv6 autoconfiguration as well as DHCP: without
# a router it prints a dot a second for ~18 s before it gives up, on every
# network boot. Call after lab_up.
lab_ipv6_router() {
  ip -n "$LAB_NS" addr add fd66::1/64 dev br0 nodad
  cat >"$LAB_DIR/ipv6-router.conf" <<CONF
port=0
interface=br0
bind-interfaces
enable-ra
dhcp-range=fd66::,ra-only,64,1h
log-facility=-
CONF
  lab_spawn ipv6-router "$LAB_NS" dnsmasq --keep-in-foreground --conf-file="$LAB_DIR/ipv6-router.conf" \
    --pid-file="$LAB_DIR/ipv6-router.pid"
}

#!/bin/bash
# DHCP benchmark: perfdhcp (as a relay, from its own namespace) against
# metalpxed itself in full mode, configured as a user would (a subnet with a
# pool, router and DNS, the SQLite store in stateDir: every ACK is durable
# before it leaves, ping-check on), and against Kea 2.2 (kea-dhcp4, memfile
# with persist, no fsync) in the same run, same namespaces, stepping the rate
# up, the servers taking turns at each step. Prints, for each, the highest
# rate sustained with under 0.1 % drops (median of REPS runs per step) and
# the ratio; then resident memory and restart time with LEASES leases.
# SERVERS may add "dhcpmodule" (metalpxe-dhcp-testserver: the DHCP module
# alone on the same store), shown beside metalpxed, never instead of it.
#
#   bench/dhcp/run.sh [BUILD_DIR]     (env: RATES, REPS, SECONDS_PER_RUN, LEASES, SERVERS)
set -euo pipefail

BUILD=${1:-$(cd "$(dirname "$0")/../.." && pwd)/build}
SERVER_BIN=$BUILD/dhcp/metalpxe-dhcp-testserver
METALPXED=${METALPXED:-$BUILD/daemon/metalpxed}
SERVERS=${SERVERS:-"metalpxed kea"}
RATES=${RATES:-"500 1000 2000 3000 4000 5000 6000 7000 8000 10000 12000 16000"}
REPS=${REPS:-3}
SECS=${SECONDS_PER_RUN:-5}
LEASES=${LEASES:-100000}
[ -x "$METALPXED" ] || { echo "build metalpxed first ($METALPXED)"; exit 1; }
[ -x "$SERVER_BIN" ] || { echo "build metalpxe-dhcp-testserver first ($SERVER_BIN): it preloads leases"; exit 1; }
for t in perfdhcp kea-dhcp4 ip; do command -v $t >/dev/null || { echo "missing $t"; exit 1; }; done

SRV=mpxbench-srv-$$; CLI=mpxbench-cli-$$
WORK=$(mktemp -d /tmp/metalpxe-dhcp-bench-XXXXXX)
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill -9 "$SERVER_PID" 2>/dev/null || true
  for ns in $SRV $CLI; do
    ip netns pids $ns 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del $ns 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add $SRV; ip netns add $CLI
ip -n $SRV link set lo up; ip -n $CLI link set lo up
ip -n $SRV link add veth-s type veth peer name veth-c netns $CLI
ip -n $SRV addr add 10.0.0.1/8 dev veth-s; ip -n $CLI addr add 10.0.0.2/8 dev veth-c
ip -n $SRV link set veth-s up; ip -n $CLI link set veth-c up
mkdir -p /run/kea

SUBNET=10.0.0.0/8; POOL_FIRST=10.1.0.0; POOL_LAST=10.254.255.254

start_metalpxe() {  # $1 = state dir
  ip netns exec $SRV "$SERVER_BIN" --state-dir "$1" --address 10.0.0.1 --subnet $SUBNET \
    --pool $POOL_FIRST-$POOL_LAST --router 10.0.0.1 --dns 10.0.0.1 --lease-time 3600 \
    >"$WORK/srv.out" 2>"$WORK/srv.err" &
  SERVER_PID=$!
  for _ in $(seq 1 500); do grep -q READY "$WORK/srv.out" 2>/dev/null && return 0; sleep 0.01; done
  echo "metalpxe did not start"; cat "$WORK/srv.err"; exit 1
}

# metalpxed as a user would run it: full mode on veth-s, one profile, an
# empty inventory (perfdhcp's clients are unknown machines, policy discover).
metalpxed_config() {  # $1 = state dir
  mkdir -p "$WORK/assets" "$WORK/talos"
  [ -f "$WORK/assets/vmlinuz" ] || { head -c 4096 /dev/urandom >"$WORK/assets/vmlinuz"; cp "$WORK/assets/vmlinuz" "$WORK/assets/initramfs.xz"; }
  printf 'version: v1alpha1\nmachine:\n  type: worker\ncluster:\n  clusterName: bench\n' >"$WORK/talos/worker.yaml"
  cp "$WORK/talos/worker.yaml" "$WORK/talos/controlplane.yaml"
  cat >"$WORK/metalpxe.yaml" <<YAML
server:
  interface: veth-s
  address: 10.0.0.1
  stateDir: $1
  httpPort: 8080
  tftpPort: 69
  tftpRoot: /usr/lib/ipxe
  apiListen: 10.0.0.1:50100
  eventSinkPort: 50101
  kmsgLogPort: 50102
dhcp:
  mode: full
  subnets:
    - subnet: $SUBNET
      pool: $POOL_FIRST-$POOL_LAST
      router: 10.0.0.1
      dns: [10.0.0.1]
      leaseTime: 1h
boot:
  unknownMachines: discover
profiles:
  default:
    kernel: $WORK/assets/vmlinuz
    initramfs: $WORK/assets/initramfs.xz
    configs:
      controlplane: $WORK/talos/controlplane.yaml
      worker: $WORK/talos/worker.yaml
machines: []
YAML
}

start_metalpxed() {  # $1 = state dir
  metalpxed_config "$1"
  ip netns exec $SRV "$METALPXED" --config "$WORK/metalpxe.yaml" >"$WORK/srv.out" 2>"$WORK/srv.err" &
  SERVER_PID=$!
  for _ in $(seq 1 3000); do
    grep -q "dhcp: full mode" "$WORK/srv.out" "$WORK/srv.err" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.01
  done
  echo "metalpxed did not start"; cat "$WORK/srv.out" "$WORK/srv.err"; exit 1
}

start_server() {  # $1 = metalpxed|dhcpmodule|kea, $2 = state dir
  case $1 in
    metalpxed) start_metalpxed "$2" ;;
    dhcpmodule) start_metalpxe "$2" ;;
    kea) start_kea "$2/leases4.csv" ;;
  esac
}

kea_config() {  # $1 = lease file
  cat >"$WORK/kea.json" <<JSON
{ "Dhcp4": {
    "interfaces-config": { "interfaces": ["veth-s"], "dhcp-socket-type": "udp" },
    "lease-database": { "type": "memfile", "persist": true, "name": "$1", "lfc-interval": 0 },
    "valid-lifetime": 3600,
    "subnet4": [ { "id": 1, "subnet": "$SUBNET", "pools": [ { "pool": "$POOL_FIRST - $POOL_LAST" } ],
                   "option-data": [ { "name": "routers", "data": "10.0.0.1" },
                                    { "name": "domain-name-servers", "data": "10.0.0.1" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "severity": "WARN", "output_options": [ { "output": "stderr" } ] } ]
} }
JSON
}

start_kea() {  # $1 = lease file
  kea_config "$1"
  ip netns exec $SRV kea-dhcp4 -c "$WORK/kea.json" >"$WORK/kea.out" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 1000); do
    ip netns exec $SRV ss -lun 2>/dev/null | grep -q '10.0.0.1:67\b\|0.0.0.0:67\b\|\*:67\b' && return 0
    sleep 0.01
  done
  echo "kea did not start"; cat "$WORK/kea.out"; exit 1
}

stop_server() { kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }

cpu_ticks() { awk '{print $14 + $15}' /proc/"$1"/stat 2>/dev/null || echo 0; }  # utime+stime of a server
HZ=$(getconf CLK_TCK)

# One perfdhcp run at rate $1: prints "achieved_rate max_drop_percent
# server_cpu_us_per_DORA". The CPU cost per exchange does not depend on how
# busy the rest of the machine is, so it is the steadier figure on a shared box.
perf_run() {
  local out before after
  before=$(cpu_ticks "$SERVER_PID")
  out=$(ip netns exec $CLI perfdhcp -4 -r "$1" -R 10000000 -p "$SECS" -W 2000000 -l 10.0.0.2 10.0.0.1 2>&1 || true)
  after=$(cpu_ticks "$SERVER_PID")
  local rate drops acks
  # ACKs received per second of sending (perfdhcp's own Rate: counts the exit wait too).
  acks=$(echo "$out" | awk '/REQUEST-ACK/ {ra = 1} ra && /received packets:/ {print $3; exit}')
  rate=$(awk -v a="${acks:-0}" -v s="$SECS" 'BEGIN {printf "%.0f", a / s}')
  drops=$(echo "$out" | awk '/drops ratio:/ {gsub("%",""); if ($3+0 > m) m = $3+0} END {print m+0}')
  echo "${rate:-0} ${drops:-100} $(awk -v d=$((after - before)) -v hz="$HZ" -v a="${acks:-0}" 'BEGIN {printf "%.0f", (a > 0 ? d / hz * 1e6 / a : 0)}')"
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Steps the rate up; at each step the servers take turns (metalpxe, kea,
# metalpxe, ...) so a change in machine load hits both alike. A server stops
# after two steps in a row at >= 0.1 % drops. Prints "server rate achieved drops".
sweep() {
  declare -A fails=()
  for who in $SERVERS; do fails[$who]=0; done
  for rate in $RATES; do
    declare -A achieved=() drops=() cpu=()
    local active=0
    for rep in $(seq 1 "$REPS"); do
      for who in $SERVERS; do
        [ "${fails[$who]}" -ge 2 ] && continue
        active=1
        local dir=$WORK/$who-$rate-$rep; mkdir -p "$dir"
        start_server "$who" "$dir"
        read -r a d c < <(perf_run "$rate")
        stop_server
        achieved[$who]+="$a "; drops[$who]+="$d "; cpu[$who]+="$c "
        rm -rf "$dir"
      done
    done
    [ $active = 0 ] && break
    for who in $SERVERS; do
      [ -z "${achieved[$who]:-}" ] && continue
      local ma md mc
      ma=$(printf '%s\n' ${achieved[$who]} | median)
      md=$(printf '%s\n' ${drops[$who]} | median)
      mc=$(printf '%s\n' ${cpu[$who]} | median)
      echo "$who $rate $ma $md $mc"
      if awk "BEGIN {exit !($md >= 0.1)}"; then fails[$who]=$((fails[$who] + 1)); else fails[$who]=0; fi
    done
  done
  return 0
}

echo "# perfdhcp DORA sweep: ${SECS}s per run, median of $REPS runs; drops = worse of DO and RA"
echo "# server offered_rate achieved_DORA/s drops% server_CPU_us_per_DORA"
RESULTS=$WORK/results
sweep | tee "$RESULTS"

best() { awk -v w="$1" '$1 == w && $4 < 0.1 && $3 > b {b = $3} END {printf "%.0f\n", b + 0}' "$RESULTS"; }
OURS=$(best metalpxed); KEA=$(best kea)
echo
echo "highest DORA/s with < 0.1 % drops: metalpxed $OURS (every ACK fsync'd, group commit), kea $KEA (memfile, no fsync)"
[[ " $SERVERS " == *" dhcpmodule "* ]] && echo "  beside: the DHCP module alone (metalpxe-dhcp-testserver) $(best dhcpmodule)"
awk -v a="$OURS" -v b="$KEA" 'BEGIN {if (b > 0) printf "ratio metalpxed/kea: %.2f\n", a / b}'
# Server CPU per DORA: median over every step both completed with < 0.1 % drops.
cpu_med() { awk -v w="$1" '$1 == w && $4 < 0.1 {print $5}' "$RESULTS" | median; }
CO=$(cpu_med metalpxed); CK=$(cpu_med kea)
echo "server CPU per DORA (median over clean steps): metalpxed ${CO:-?} us, kea ${CK:-?} us"

# Memory and restart time with $LEASES leases.
echo
echo "# $LEASES leases: resident memory after start, and restart time (start to serving)"
rss_kib() { awk '/VmRSS/ {print $2}' /proc/"$1"/status; }
DIR=$WORK/mem-metalpxe; mkdir -p "$DIR"
ip netns exec $SRV "$SERVER_BIN" --state-dir "$DIR" --address 10.0.0.1 --subnet $SUBNET \
  --pool $POOL_FIRST-$POOL_LAST --preload "$LEASES" >/dev/null
start_metalpxed "$DIR"; stop_server  # the first start makes the appliance's PKI; time a restart
T0=$(date +%s.%N); start_metalpxed "$DIR"; T1=$(date +%s.%N)
echo "metalpxed: restart $(awk -v a="$T0" -v b="$T1" 'BEGIN {printf "%.3f", b - a}') s, RSS $(( $(rss_kib "$SERVER_PID") / 1024 )) MiB"
stop_server
# Kea's memfile with the same leases (CSV, as Kea writes it).
KDIR=$WORK/mem-kea; mkdir -p "$KDIR"
NOW=$(date +%s)
awk -v n="$LEASES" -v now="$NOW" 'BEGIN {
  print "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context"
  for (i = 0; i < n; i++) {
    ip = 0x0a010000 + i
    printf "%d.%d.%d.%d,02:50:%02x:%02x:%02x:%02x,,86400,%d,1,0,0,host-%d,0,\n",
      int(ip / 16777216) % 256, int(ip / 65536) % 256, int(ip / 256) % 256, ip % 256,
      int(i / 16777216) % 256, int(i / 65536) % 256, int(i / 256) % 256, i % 256, now + 86400, i
  } }' >"$KDIR/leases4.csv"
T0=$(date +%s.%N); start_kea "$KDIR/leases4.csv"; T1=$(date +%s.%N)
echo "kea:      restart $(awk -v a="$T0" -v b="$T1" 'BEGIN {printf "%.3f", b - a}') s, RSS $(( $(rss_kib "$SERVER_PID") / 1024 )) MiB"
stop_server

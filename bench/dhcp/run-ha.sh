#!/bin/bash
# DORA/s with two metalpxed appliances on a 3-member etcd (issue #20) next to
# one metalpxed on its SQLite store and Kea 2.2 (kea-dhcp4, memfile with
# persist, raw sockets: perfdhcp's relayed packets are broadcast), in the same run, on the same segment: a bridge with the etcd
# members (Debian's etcd-server, data under SCRATCH, a real disk), the
# appliances in their own namespaces, perfdhcp in another broadcasting as a
# relay (-l eth0), so with two appliances only the subnet's leader answers
# and every ACK waits for its lease's etcd transaction (compare-and-swap,
# committed on a majority of members, group-committed). The configurations
# take turns at each rate step; prints, for each, the highest rate sustained
# with under 0.1 % drops (median of REPS runs) and the ratios.
#
#   bench/dhcp/run-ha.sh [BUILD_DIR]   (env: RATES, REPS, SECONDS_PER_RUN, SCRATCH)
set -euo pipefail

BUILD=${1:-$(cd "$(dirname "$0")/../.." && pwd)/build}
METALPXED=${METALPXED:-$BUILD/daemon/metalpxed}
RATES=${RATES:-"250 500 1000 1500 2000 3000 4000"}
REPS=${REPS:-3}
SECS=${SECONDS_PER_RUN:-5}
SCRATCH=${SCRATCH:-/var/tmp}
[ -x "$METALPXED" ] || { echo "build metalpxed first ($METALPXED)"; exit 1; }
for t in perfdhcp kea-dhcp4 etcd ip curl; do command -v $t >/dev/null || { echo "missing $t"; exit 1; }; done

TAG=mpxha$$
BR=$TAG-br; A=$TAG-a; B=$TAG-b; CLI=$TAG-c
WORK=$(mktemp -d "$SCRATCH/metalpxe-ha-bench-XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for ns in $A $B $CLI $BR; do
    ip netns pids $ns 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del $ns 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# The segment: a bridge in $BR (10.0.0.1, where etcd listens), one port per namespace.
ip netns add $BR; ip -n $BR link set lo up
ip -n $BR link add br0 type bridge; ip -n $BR addr add 10.0.0.1/8 dev br0; ip -n $BR link set br0 up
port() {  # $1 = namespace, $2 = bridge-side name, $3 = address/prefix
  ip netns add $1; ip -n $1 link set lo up
  ip -n $BR link add $2 type veth peer name eth0 netns $1
  ip -n $BR link set $2 master br0 up
  ip -n $1 addr add $3 dev eth0; ip -n $1 link set eth0 up
}
port $A pa 10.0.0.2/8; port $B pb 10.0.0.3/8; port $CLI pc 10.0.0.9/8
mkdir -p /run/kea

# Three etcd members on the bridge address, data on a real disk.
CLUSTER=""
for i in 0 1 2; do CLUSTER+="${CLUSTER:+,}m$i=http://127.0.0.1:$((22001 + i * 10))"; done
for i in 0 1 2; do
  ip netns exec $BR etcd --name m$i --data-dir "$WORK/etcd-m$i" \
    --listen-client-urls http://10.0.0.1:$((22000 + i * 10)) --advertise-client-urls http://10.0.0.1:$((22000 + i * 10)) \
    --listen-peer-urls http://127.0.0.1:$((22001 + i * 10)) --initial-advertise-peer-urls http://127.0.0.1:$((22001 + i * 10)) \
    --initial-cluster "$CLUSTER" --initial-cluster-token $TAG --initial-cluster-state new \
    --logger zap --log-level error >"$WORK/etcd-m$i.log" 2>&1 &
  PIDS+=($!); disown $!
done
ENDPOINTS="http://10.0.0.1:22000, http://10.0.0.1:22010, http://10.0.0.1:22020"

mkdir -p "$WORK/assets"
head -c 4096 /dev/urandom >"$WORK/assets/vmlinuz"; cp "$WORK/assets/vmlinuz" "$WORK/assets/initramfs.xz"
printf 'version: v1alpha1\nmachine:\n  type: worker\ncluster:\n  clusterName: bench\n' >"$WORK/talos.yaml"

config() {  # $1 = address, $2 = state dir, $3 = store section
  cat <<YAML
server:
  interface: eth0
  address: $1
  stateDir: $2
  tftpRoot: /usr/lib/ipxe
$3
dhcp:
  mode: full
  subnets:
    - subnet: 10.0.0.0/8
      pool: 10.1.0.0-10.254.255.254
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
      controlplane: $WORK/talos.yaml
      worker: $WORK/talos.yaml
machines: []
YAML
}

SERVER_PIDS=()
wait_metric() {  # $1 = address, $2 = regex on /metrics
  for _ in $(seq 1 1500); do
    ip netns exec $CLI curl -s --max-time 1 "http://$1:8080/metrics" 2>/dev/null | grep -Eq "$2" && return 0
    sleep 0.02
  done
  echo "no '$2' from $1"; tail -20 "$WORK"/*.err; exit 1
}

start() {  # $1 = etcd|sqlite|kea, $2 = run dir
  mkdir -p "$2"
  case $1 in
    etcd)
      local prefix="/bench-$(basename "$2")/"
      for n in a b; do
        local ns=$A addr=10.0.0.2; [ $n = b ] && ns=$B addr=10.0.0.3
        config $addr "$2/$n" "store:
  type: etcd
  endpoints: [$ENDPOINTS]
  prefix: $prefix" >"$2/$n.yaml"
        ip netns exec $ns "$METALPXED" --config "$2/$n.yaml" >"$2/$n.out" 2>"$2/$n.err" &
        SERVER_PIDS+=($!)
      done
      # One of the two leads the subnet and has read the leases.
      for _ in $(seq 1 1500); do
        for addr in 10.0.0.2 10.0.0.3; do
          ip netns exec $CLI curl -s --max-time 1 "http://$addr:8080/metrics" 2>/dev/null |
            grep -q '^metalpxe_dhcp_subnet_leader{subnet="10.0.0.0/8"} 1' && return 0
        done
        sleep 0.02
      done
      echo "no leader"; tail -20 "$2"/*.err; exit 1 ;;
    sqlite)
      config 10.0.0.2 "$2/a" "" >"$2/a.yaml"
      ip netns exec $A "$METALPXED" --config "$2/a.yaml" >"$2/a.out" 2>"$2/a.err" &
      SERVER_PIDS+=($!)
      wait_metric 10.0.0.2 '^metalpxe_dhcp_store_writable 1' ;;
    kea)
      cat >"$2/kea.json" <<JSON
{ "Dhcp4": {
    "interfaces-config": { "interfaces": ["eth0"], "dhcp-socket-type": "raw" },
    "lease-database": { "type": "memfile", "persist": true, "name": "$2/leases4.csv", "lfc-interval": 0 },
    "valid-lifetime": 3600,
    "subnet4": [ { "id": 1, "subnet": "10.0.0.0/8", "pools": [ { "pool": "10.1.0.0 - 10.254.255.254" } ],
                   "option-data": [ { "name": "routers", "data": "10.0.0.1" },
                                    { "name": "domain-name-servers", "data": "10.0.0.1" } ] } ],
    "loggers": [ { "name": "kea-dhcp4", "severity": "WARN", "output_options": [ { "output": "stderr" } ] } ]
} }
JSON
      ip netns exec $A kea-dhcp4 -c "$2/kea.json" >"$2/kea.err" 2>&1 &
      SERVER_PIDS+=($!)
      for _ in $(seq 1 1000); do
        ip netns exec $A ss -lun 2>/dev/null | grep -q ':67\b' && return 0
        sleep 0.01
      done
      echo "kea did not start"; cat "$2/kea.err"; exit 1 ;;
  esac
}
stop() {
  for p in "${SERVER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  SERVER_PIDS=()
}

# One perfdhcp run at rate $1: "achieved_DORA/s drops%".
perf_run() {
  local out acks
  out=$(ip netns exec $CLI perfdhcp -4 -r "$1" -R 10000000 -p "$SECS" -W 2000000 -l eth0 2>&1 || true)
  acks=$(echo "$out" | awk '/REQUEST-ACK/ {ra = 1} ra && /received packets:/ {print $3; exit}')
  echo "$(awk -v a="${acks:-0}" -v s="$SECS" 'BEGIN {printf "%.0f", a / s}') \
$(echo "$out" | awk '/drops ratio:/ {gsub("%",""); if ($3+0 > m) m = $3+0} END {print m+0}')"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# etcd must take a write before the first appliance starts.
for _ in $(seq 1 300); do
  ETCDCTL_API=3 ip netns exec $BR etcdctl --endpoints=http://10.0.0.1:22000 put /bench-ready 1 >/dev/null 2>&1 && break
  sleep 0.1
done

CONFIGS="etcd sqlite kea"
RESULTS=$WORK/results
echo "# perfdhcp DORA/s, ${SECS}s per run, median of $REPS; etcd = 2 metalpxed on a 3-member etcd (the leader answers)"
echo "# config offered_rate achieved_DORA/s drops%"
declare -A fails=()
for c in $CONFIGS; do fails[$c]=0; done
for rate in $RATES; do
  declare -A got=() drop=()
  for rep in $(seq 1 "$REPS"); do
    for c in $CONFIGS; do
      [ "${fails[$c]}" -ge 2 ] && continue
      start $c "$WORK/$c-$rate-$rep"
      read -r a d < <(perf_run "$rate")
      stop
      got[$c]+="$a "; drop[$c]+="$d "
    done
  done
  for c in $CONFIGS; do
    [ -z "${got[$c]:-}" ] && continue
    ma=$(printf '%s\n' ${got[$c]} | median); md=$(printf '%s\n' ${drop[$c]} | median)
    echo "$c $rate $ma $md" | tee -a "$RESULTS"
    if awk "BEGIN {exit !($md >= 0.1)}"; then fails[$c]=$((fails[$c] + 1)); else fails[$c]=0; fi
  done
  unset got drop
done
best() { awk -v w="$1" '$1 == w && $4 < 0.1 && $3 > b {b = $3} END {printf "%.0f\n", b + 0}' "$RESULTS"; }
E=$(best etcd); S=$(best sqlite); K=$(best kea)
echo
echo "highest DORA/s with < 0.1 % drops: 2 appliances on 3-member etcd $E, one appliance on SQLite $S, kea $K"
awk -v e="$E" -v s="$S" -v k="$K" 'BEGIN {
  if (s > 0) printf "ratio etcd/sqlite: %.2f\n", e / s
  if (k > 0) printf "ratio etcd/kea: %.2f\n", e / k }'

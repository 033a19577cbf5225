#!/usr/bin/env bash
# Boot storm: N machines network-boot at once (bootstorm, one epoll process
# simulating UEFI PXE firmware then iPXE: DHCP, TFTP of snponly.efi, DHCP
# again, /boot.ipxe, /ipxe?mac=..., kernel and initramfs in HTTP Range
# requests, /config/<token>) against
#   - metalpxed as a user runs it: full DHCP mode on the lab link, SQLite
#     store, ping-check on, boot.unknownMachines auto-install (so every MAC
#     installs), one profile with a dummy kernel and initramfs;
#   - the peer stack: dnsmasq (DHCP + TFTP, same pool, dhcp-boot of the same
#     snponly.efi, then the same chain URL for iPXE's user class; tftp-max
#     and dhcp-lease-max raised so it refuses nothing; no-ping, its fastest
#     setting) and nginx (2 workers, sendfile) serving metalpxed's scripts as
#     static files (/ipxe one script for every MAC, /config/static one file).
# Servers in one namespace, the storm in another, a veth between them. Both
# stacks take turns within each repetition, fresh state each time.
# Prints per stage p50/p99 (ms; medians over the repetitions), failures
# (summed), total time (median) and the ratio metalpxed / peer.
#
#   bench/bootstorm/run.sh [-r REPS] [N...]      (default: -r 1, N = 200 1000)
# Env: BUILD (build tree, default build/), STORM (the bootstorm binary, default
#      from BUILD; e.g. the ASan build's), KERNEL_MB (10), INITRD_MB (50),
#      RANGE_CHUNK (bytes per Range request, 4194304; 0 = one GET per file),
#      DEADLINE (seconds per storm, 600), KEEP (1: keep the work dir).
set -euo pipefail

REPS=1
if [[ ${1:-} == -r ]]; then REPS=$2; shift 2; fi
COUNTS=("$@")
[[ ${#COUNTS[@]} -gt 0 ]] || COUNTS=(200 1000)
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BUILD=${BUILD:-$REPO/build}
METALPXED=$BUILD/daemon/metalpxed
STORM=${STORM:-$BUILD/bench/bootstorm/bootstorm}
KERNEL_MB=${KERNEL_MB:-10}
INITRD_MB=${INITRD_MB:-50}
RANGE_CHUNK=${RANGE_CHUNK:-4194304}
DEADLINE=${DEADLINE:-600}
IPXE_BIN=/usr/lib/ipxe/snponly.efi
for f in "$METALPXED" "$STORM"; do [[ -x $f ]] || { echo "build it first: $f" >&2; exit 1; }; done
for t in dnsmasq nginx ip curl; do command -v $t >/dev/null || { echo "missing $t" >&2; exit 1; }; done
[[ -f $IPXE_BIN ]] || { echo "missing $IPXE_BIN (Debian package ipxe)" >&2; exit 1; }

SRV=mpxstorm-srv-$$ CLI=mpxstorm-cli-$$
WORK=$(mktemp -d /var/tmp/mpx-bootstorm-XXXXXX)
SERVER_PIDS=()
stop_servers() {
  for p in "${SERVER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${SERVER_PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  SERVER_PIDS=()
}
cleanup() {
  stop_servers
  for ns in $SRV $CLI; do
    ip netns pids $ns 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del $ns 2>/dev/null || true
  done
  [[ ${KEEP:-0} == 1 ]] && echo "work dir kept: $WORK" >&2 || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# --- lab: server and clients on one /16, the pool from 10.66.1.0 ------------
ip netns add $SRV
ip netns add $CLI
ip -n $SRV link set lo up
ip -n $CLI link set lo up
ip -n $SRV link add veth-s type veth peer name veth-c netns $CLI
ip -n $SRV addr add 10.66.0.1/16 dev veth-s
ip -n $CLI addr add 10.66.0.2/16 dev veth-c
ip -n $SRV link set veth-s up
ip -n $CLI link set veth-c up
# 1,000 machines are 1,000 neighbours of the server: room for them.
for ns in $SRV $CLI; do
  ip netns exec $ns sysctl -qw net.ipv4.neigh.default.gc_thresh1=4096 net.ipv4.neigh.default.gc_thresh2=8192 \
    net.ipv4.neigh.default.gc_thresh3=16384 2>/dev/null || true
  ip netns exec $ns sysctl -qw net.core.somaxconn=4096 2>/dev/null || true
done
SUBNET=10.66.0.0/16 POOL_FIRST=10.66.1.0 POOL_LAST=10.66.40.255

# --- files: the same for both stacks -----------------------------------------
mkdir -p "$WORK/tftp" "$WORK/assets" "$WORK/talos" "$WORK/www/config" "$WORK/www/assets/profiles/default" "$WORK/scripts"
cp "$IPXE_BIN" "$WORK/tftp/snponly.efi"
head -c $((KERNEL_MB << 20)) /dev/urandom >"$WORK/assets/vmlinuz"
head -c $((INITRD_MB << 20)) /dev/urandom >"$WORK/assets/initramfs.xz"
printf 'version: v1alpha1\nmachine:\n  type: worker\n  token: bench\ncluster:\n  clusterName: bench\n' >"$WORK/talos/worker.yaml"
cp "$WORK/talos/worker.yaml" "$WORK/talos/controlplane.yaml"
cp "$WORK/talos/worker.yaml" "$WORK/www/config/static"
ln "$WORK/assets/vmlinuz" "$WORK/www/assets/profiles/default/vmlinuz"
ln "$WORK/assets/initramfs.xz" "$WORK/www/assets/profiles/default/initramfs.xz"
chmod -R a+rX "$WORK"

wait_listen() {  # PROTO PORT PID
  for _ in $(seq 1 600); do
    ip netns exec $SRV ss -ln"$1" 2>/dev/null | grep -q ":$2\b" && return 0
    kill -0 "$3" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

start_metalpxed() {
  local state=$WORK/state-$1
  rm -rf "$state"
  cat >"$WORK/metalpxe.yaml" <<YAML
server:
  interface: veth-s
  address: 10.66.0.1
  stateDir: $state
  httpPort: 8080
  tftpPort: 69
  tftpRoot: $WORK/tftp
  apiListen: 10.66.0.1:50100
  eventSinkPort: 50101
  kmsgLogPort: 50102
dhcp:
  mode: full
  subnets:
    - subnet: $SUBNET
      pool: $POOL_FIRST-$POOL_LAST
      router: 10.66.0.1
      dns: [10.66.0.1]
      leaseTime: 1h
boot:
  unknownMachines: auto-install
  defaultRole: worker
  defaultProfile: default
profiles:
  default:
    kernel: $WORK/assets/vmlinuz
    initramfs: $WORK/assets/initramfs.xz
    configs:
      controlplane: $WORK/talos/controlplane.yaml
      worker: $WORK/talos/worker.yaml
machines: []
YAML
  ip netns exec $SRV "$METALPXED" --config "$WORK/metalpxe.yaml" >"$WORK/metalpxed.out" 2>"$WORK/metalpxed.err" &
  SERVER_PIDS+=($!)
  for _ in $(seq 1 1200); do
    grep -q "dhcp: full mode" "$WORK/metalpxed.out" "$WORK/metalpxed.err" 2>/dev/null && break
    kill -0 $! 2>/dev/null || break
    sleep 0.05
  done
  wait_listen t 8080 $! && wait_listen u 69 $! || { echo "metalpxed did not start" >&2; tail -20 "$WORK/metalpxed.err" >&2; exit 1; }
}

start_peer() {
  cat >"$WORK/dnsmasq.conf" <<CONF
port=0
interface=veth-s
bind-interfaces
dhcp-authoritative
dhcp-range=$POOL_FIRST,$POOL_LAST,255.255.0.0,1h
dhcp-option=option:router,10.66.0.1
dhcp-option=option:dns-server,10.66.0.1
dhcp-leasefile=$WORK/dnsmasq-$1.leases
dhcp-lease-max=100000
no-ping
quiet-dhcp
dhcp-userclass=set:ipxe,iPXE
dhcp-boot=tag:!ipxe,snponly.efi,,10.66.0.1
dhcp-boot=tag:ipxe,http://10.66.0.1:8080/boot.ipxe
enable-tftp
tftp-root=$WORK/tftp
tftp-max=10000
user=root
CONF
  ip netns exec $SRV dnsmasq --keep-in-foreground --conf-file="$WORK/dnsmasq.conf" --log-facility="$WORK/dnsmasq.log" &
  SERVER_PIDS+=($!)
  wait_listen u 69 $! || { echo "dnsmasq did not start" >&2; cat "$WORK/dnsmasq.log" >&2; exit 1; }
  cat >"$WORK/nginx.conf" <<CONF
user root;
worker_processes 2;
worker_rlimit_nofile 20000;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err warn;
daemon off;
events { worker_connections 8192; }
http {
  access_log off;
  sendfile on;
  default_type text/plain;
  server {
    listen 10.66.0.1:8080;
    root $WORK/www;
  }
}
CONF
  ip netns exec $SRV nginx -c "$WORK/nginx.conf" -e "$WORK/nginx.err" &
  SERVER_PIDS+=($!)
  wait_listen t 8080 $! || { echo "nginx did not start" >&2; cat "$WORK/nginx.err" >&2; exit 1; }
}

# The static scripts nginx serves: metalpxed's own, as the storm saw them,
# with the machine's one-time config URL replaced by the one static file.
make_static_scripts() {
  [[ -s $WORK/scripts/boot.ipxe && -s $WORK/scripts/ipxe ]] || { echo "no scripts from metalpxed to serve statically" >&2; exit 1; }
  cp "$WORK/scripts/boot.ipxe" "$WORK/www/boot.ipxe"
  sed -E 's#talos\.config=[^ ]*#talos.config=http://10.66.0.1:8080/config/static#' "$WORK/scripts/ipxe" >"$WORK/www/ipxe"
  chmod a+r "$WORK/www/boot.ipxe" "$WORK/www/ipxe"
}

reset_lab() {
  ip -n $CLI addr flush dev veth-c
  ip -n $CLI addr add 10.66.0.2/16 dev veth-c
  ip -n $SRV neigh flush all
  ip -n $CLI neigh flush all
}

# storm STACK N REP -> $WORK/out-STACK-N-REP
storm() {
  local out=$WORK/out-$1-$2-$3 rc=0
  ip netns exec $CLI "$STORM" --interface veth-c --count "$2" --deadline "$DEADLINE" --range-chunk "$RANGE_CHUNK" \
    --dump-scripts "$WORK/scripts" >"$out" 2>"$out.err" || rc=$?
  [[ $rc -le 1 ]] || { echo "bootstorm failed to run ($rc)" >&2; cat "$out.err" >&2; exit 1; }
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

STAGES=(dhcp-pxe tftp dhcp-ipxe script kernel initramfs config boot)
summary() {  # N
  local n=$1 s stack
  echo
  echo "Boot storm, N=$n, $REPS repetition(s), kernel ${KERNEL_MB} MiB + initramfs ${INITRD_MB} MiB, Range chunk $RANGE_CHUNK"
  echo "(ms; p50/p99 are medians over the repetitions, failures summed; load average: $(cut -d' ' -f1-3 /proc/loadavg))"
  printf '%-10s | %10s %10s %6s | %10s %10s %6s\n' stage "mpx p50" "mpx p99" fail "peer p50" "peer p99" fail
  for s in "${STAGES[@]}"; do
    local row=()
    for stack in metalpxed peer; do
      local files=("$WORK"/out-$stack-$n-*)
      row+=("$(cat "${files[@]}" | awk -v s="$s" '$1 == "stage" && $2 == s {print $4}' | median)")
      row+=("$(cat "${files[@]}" | awk -v s="$s" '$1 == "stage" && $2 == s {print $5}' | median)")
      row+=("$(cat "${files[@]}" | awk -v s="$s" '$1 == "stage" && $2 == s {f += $6} END {print f + 0}')")
    done
    printf '%-10s | %10s %10s %6s | %10s %10s %6s\n' "$s" "${row[@]}"
  done
  local tm tp fm fp
  tm=$(cat "$WORK"/out-metalpxed-$n-* | awk '$1 == "total" {print $2}' | median)
  tp=$(cat "$WORK"/out-peer-$n-* | awk '$1 == "total" {print $2}' | median)
  fm=$(cat "$WORK"/out-metalpxed-$n-* | awk '$1 == "total" {f += $4} END {print f + 0}')
  fp=$(cat "$WORK"/out-peer-$n-* | awk '$1 == "total" {f += $4} END {print f + 0}')
  printf '%-10s | %21s s %6s | %21s s %6s\n' total "$tm" "$fm" "$tp" "$fp"
  awk -v a="$tm" -v b="$tp" 'BEGIN {if (b > 0) printf "ratio metalpxed/peer total time: %.2fx\n", a / b}'
  for stack in metalpxed peer; do
    cat "$WORK"/out-$stack-$n-* | awk -v st=$stack '$1 == "failure" {c[substr($0, index($0, $3))] += $2}
      END {for (r in c) printf "  %s failures: %d x %s\n", st, c[r], r}'
  done
}

for n in "${COUNTS[@]}"; do
  for r in $(seq 1 "$REPS"); do
    reset_lab
    start_metalpxed "$n-$r"
    storm metalpxed "$n" "$r"
    # How often TFTP requests waited for a slot or were dropped (the firmware retried).
    ip netns exec $SRV curl -s --max-time 10 http://10.66.0.1:8080/metrics |
      grep -E '^metalpxe_tftp_(requests_waited|requests_dropped|transfers)_total' | tr '\n' ' ' >"$WORK/tftp-$n-$r" || true
    stop_servers
    echo "# N=$n rep $r metalpxed: $(awk '$1 == "total"' "$WORK/out-metalpxed-$n-$r") (load $(cut -d' ' -f1 /proc/loadavg)); $(cat "$WORK/tftp-$n-$r")" >&2
    make_static_scripts
    reset_lab
    start_peer "$n-$r"
    storm peer "$n" "$r"
    stop_servers
    echo "# N=$n rep $r peer:      $(awk '$1 == "total"' "$WORK/out-peer-$n-$r") (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  done
  summary "$n"
done

#!/usr/bin/env bash
# bench/http: metalpxed itself, configured as a user would (proxyDHCP beside
# the network's router, a profile with a local kernel + initramfs, one
# inventory machine waiting to install), against nginx (sendfile on, 2
# workers) in the same run, both on 127.0.0.1 inside a network namespace
# this script creates and always deletes.
#
#   1. the profile's 64 MiB initramfs, wrk -t2 -c16: MiB/s and server
#      CPU-seconds per GiB (nginx serves the same file)
#   2. GET /ipxe?mac=… for the inventory machine, wrk -t2 -c64: requests/s.
#      metalpxed decides and renders the machine's install script (kernel
#      args, config token) per request; nginx serves a 200-byte static file.
#
# Runs are interleaved (ours, nginx, ours, nginx, ...) and medians printed
# with the ratio ours/nginx. Goals: asset >= 0.9x nginx; /ipxe >= 0.5x
# nginx's static file.
#
# usage: sudo bench/http/run.sh [RUNS=5] [SECONDS=10]
#   env: METALPXED=path/to/metalpxed (default: build/daemon/metalpxed)
set -euo pipefail

RUNS=${1:-5}
SECS=${2:-10}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
METALPXED=${METALPXED:-$REPO/build/daemon/metalpxed}
[[ -x "$METALPXED" ]] || { echo "build metalpxed first (deploy/build.sh), or set METALPXED=" >&2; exit 2; }
for tool in nginx wrk ip curl; do command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 2; }; done

NS="mpx-bench-http-$$"
T=$(mktemp -d /tmp/mpx-bench-http.XXXXXX)
OURS_PORT=8080
NGINX_PORT=8082
OURS_PID=""
NGINX_PID=""
MAC=52-54-00-12-34-56

cleanup() {
  [[ -n "$OURS_PID" ]] && kill "$OURS_PID" 2>/dev/null || true
  [[ -n "$NGINX_PID" ]] && kill "$NGINX_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT INT TERM

ip netns add "$NS"
ip -n "$NS" link set lo up
in_ns() { ip netns exec "$NS" "$@"; }

mkdir -p "$T/assets" "$T/nginx-tmp" "$T/state" "$T/talos" "$T/www"
head -c $((12 << 20)) /dev/urandom > "$T/assets/vmlinuz"
head -c $((64 << 20)) /dev/urandom > "$T/assets/initramfs.xz"
ASSET_BYTES=$((64 << 20))
printf 'version: v1alpha1\nmachine:\n  type: controlplane\n  install:\n    disk: /dev/sda\ncluster:\n  clusterName: bench\n' \
  > "$T/talos/controlplane.yaml"
cp "$T/talos/controlplane.yaml" "$T/talos/worker.yaml"
cat > "$T/metalpxe.yaml" <<YAML
server:
  interface: lo
  address: 127.0.0.1
  stateDir: $T/state
  httpPort: $OURS_PORT
  tftpPort: 69
  tftpRoot: /usr/lib/ipxe
  apiListen: 127.0.0.1:50100
  eventSinkPort: 50101
  kmsgLogPort: 50102
dhcp:
  mode: proxy
boot:
  unknownMachines: discover
profiles:
  default:
    kernel: $T/assets/vmlinuz
    initramfs: $T/assets/initramfs.xz
    kernelArgs: [console=ttyS0]
    configs:
      controlplane: $T/talos/controlplane.yaml
      worker: $T/talos/worker.yaml
# The inventory inline (CONFIG.md: a file, or an inline machines list).
machines:
  - name: cp-1
    macs: ["52:54:00:12:34:56"]
    role: controlplane
    installDisk: /dev/sda
YAML
"$METALPXED" --check-config "$T/metalpxe.yaml"

# nginx's side: the same initramfs, and a static 200-byte script.
ln "$T/assets/initramfs.xz" "$T/www/initramfs.xz"
head -c 200 /dev/urandom | base64 -w 0 | head -c 200 > "$T/www/ipxe"
cat > "$T/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
user root;
pid $T/nginx.pid;
error_log $T/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
  client_body_temp_path $T/nginx-tmp/body;
  proxy_temp_path $T/nginx-tmp/proxy;
  fastcgi_temp_path $T/nginx-tmp/fastcgi;
  uwsgi_temp_path $T/nginx-tmp/uwsgi;
  scgi_temp_path $T/nginx-tmp/scgi;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location /assets/profiles/default/ { alias $T/www/; }
    location = /ipxe { default_type text/plain; alias $T/www/ipxe; }
  }
}
NGINX

in_ns "$METALPXED" --config "$T/metalpxe.yaml" > "$T/ours.log" 2>&1 &
OURS_PID=$!
in_ns nginx -p "$T" -c "$T/nginx.conf" > "$T/nginx.out" 2>&1 &
NGINX_PID=$!

wait_up() {  # $1 port, $2 path
  for _ in $(seq 300); do
    in_ns curl -fsS -o /dev/null "http://127.0.0.1:$1$2" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server on port $1 did not serve $2" >&2; cat "$T"/*.log "$T/nginx.out" >&2; exit 1
}
wait_up $OURS_PORT /assets/profiles/default/initramfs.xz
wait_up $NGINX_PORT /ipxe
in_ns curl -fsS "http://127.0.0.1:$OURS_PORT/ipxe?mac=$MAC" | grep -q '^kernel .*talos.config=http://127.0.0.1:8080/config/' ||
  { echo "metalpxed did not answer /ipxe with the install script" >&2; exit 1; }
OURS_REAL=$(ip netns pids "$NS" | while read -r p; do [[ "$(cat /proc/$p/comm)" == metalpxed ]] && echo "$p" || true; done)
server_pids() {  # $1: ours|nginx
  if [[ $1 == ours ]]; then echo "$OURS_REAL"; else
    for p in $(ip netns pids "$NS"); do [[ "$(cat /proc/$p/comm 2>/dev/null)" == nginx ]] && echo "$p" || true; done
  fi
}
cpu_ticks() {  # utime+stime of the server's processes, in clock ticks
  local total=0
  for p in $(server_pids "$1"); do
    read -r -a f < "/proc/$p/stat"
    total=$((total + f[13] + f[14]))
  done
  echo $total
}
HZ=$(getconf CLK_TCK)

# Output of wrk -> "requests_per_s bytes_read" (bytes of partly read 64 MiB
# responses count too). wrk prints sizes in binary units (KB = 1024 B).
wrk_parse() {
  awk 'function bytes(s,   v, u) { v = s + 0; u = s; sub(/^[0-9.]+/, "", u)
         return v * (u == "KB" ? 1024 : u == "MB" ? 1048576 : u == "GB" ? 1073741824 : u == "TB" ? 1099511627776 : 1) }
       /requests in/ { b = bytes($5) } /Requests\/sec/ { r = $2 } /Non-2xx/ { bad = $4 } END { printf "%s %.0f %d\n", r, b, bad }'
}

declare -a A_OURS A_NGINX C_OURS C_NGINX S_OURS S_NGINX
port_of() { [[ $1 == ours ]] && echo $OURS_PORT || echo $NGINX_PORT; }

run_asset() {  # $1: ours|nginx -> "MiB/s cpu_s_per_GiB"
  local port before after out rps bytes t0 t1
  port=$(port_of "$1")
  before=$(cpu_ticks "$1")
  t0=$(date +%s.%N)
  out=$(in_ns wrk -t2 -c16 -d"${SECS}s" "http://127.0.0.1:$port/assets/profiles/default/initramfs.xz")
  t1=$(date +%s.%N)
  after=$(cpu_ticks "$1")
  echo "$out" >> "$T/wrk-asset-$1.log"
  read -r rps bytes _ < <(echo "$out" | wrk_parse)
  awk -v bytes="$bytes" -v t="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" -v d=$((after - before)) -v hz="$HZ" \
    'BEGIN { gib = bytes / 1073741824; printf "%.0f %.3f\n", bytes / 1048576 / t, (gib > 0 ? d / hz / gib : 0) }'
}
run_script() {  # $1: ours|nginx -> requests/s
  local port out rps bad
  port=$(port_of "$1")
  out=$(in_ns wrk -t2 -c64 -d"${SECS}s" "http://127.0.0.1:$port/ipxe?mac=$MAC")
  read -r rps _ bad < <(echo "$out" | wrk_parse)
  [[ "$bad" -eq 0 ]] || { echo "$1: $bad non-2xx answers to /ipxe" >&2; exit 1; }
  printf "%.0f\n" "$rps"
}

# Check both serve the same bytes before measuring anything.
in_ns curl -fsS -o "$T/o.bin" "http://127.0.0.1:$OURS_PORT/assets/profiles/default/initramfs.xz"
in_ns curl -fsS -o "$T/n.bin" "http://127.0.0.1:$NGINX_PORT/assets/profiles/default/initramfs.xz"
cmp -s "$T/o.bin" "$T/assets/initramfs.xz" && cmp -s "$T/n.bin" "$T/assets/initramfs.xz" ||
  { echo "asset bytes differ" >&2; exit 1; }
rm -f "$T/o.bin" "$T/n.bin"
DB_BEFORE=$(stat -c %s "$T/state/metalpxe.db" 2>/dev/null || echo 0)

echo "metalpxed vs nginx $(nginx -v 2>&1 | sed 's/.*\///'), $(nproc) CPUs, ${RUNS} runs x ${SECS}s each, loopback in netns"
for i in $(seq "$RUNS"); do
  read -r a c < <(run_asset ours);  A_OURS+=("$a");  C_OURS+=("$c")
  read -r a c < <(run_asset nginx); A_NGINX+=("$a"); C_NGINX+=("$c")
  S_OURS+=("$(run_script ours)")
  S_NGINX+=("$(run_script nginx)")
  echo "  run $i: asset MiB/s ours ${A_OURS[-1]} nginx ${A_NGINX[-1]} | CPU s/GiB ours ${C_OURS[-1]} nginx ${C_NGINX[-1]} | /ipxe req/s ours ${S_OURS[-1]} nginx-static ${S_NGINX[-1]}"
done
sync
DB_AFTER=$(stat -c %s "$T/state/metalpxe.db" 2>/dev/null || echo 0)
WAL=$(stat -c %s "$T/state/metalpxe.db-wal" 2>/dev/null || echo 0)

median() { printf "%s\n" "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

MA_O=$(median "${A_OURS[@]}");  MA_N=$(median "${A_NGINX[@]}")
MC_O=$(median "${C_OURS[@]}");  MC_N=$(median "${C_NGINX[@]}")
MS_O=$(median "${S_OURS[@]}");  MS_N=$(median "${S_NGINX[@]}")
echo
printf "%-52s %12s %12s %8s\n" "medians" "metalpxed" "nginx" "ratio"
printf "%-52s %12s %12s %8s\n" "64 MiB initramfs, wrk -t2 -c16 (MiB/s)" "$MA_O" "$MA_N" "$(ratio "$MA_O" "$MA_N")"
printf "%-52s %12s %12s %8s\n" "  server CPU-seconds per GiB (lower better)" "$MC_O" "$MC_N" "$(ratio "$MC_O" "$MC_N")"
printf "%-52s %12s %12s %8s\n" "/ipxe install script vs static 200 B, -c64 (req/s)" "$MS_O" "$MS_N" "$(ratio "$MS_O" "$MS_N")"
echo "store during the run: metalpxe.db $DB_BEFORE -> $DB_AFTER bytes, WAL $WAL bytes"
echo
awk -v r="$(ratio "$MA_O" "$MA_N")" -v s="$(ratio "$MS_O" "$MS_N")" 'BEGIN {
  printf "goal asset >= 0.9x nginx: %s; goal /ipxe >= 0.5x nginx static: %s\n", (r >= 0.9 ? "met" : "MISSED"), (s >= 0.5 ? "met" : "MISSED") }'

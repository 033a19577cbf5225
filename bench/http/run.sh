#!/usr/bin/env bash
# bench/http: metalpxe's HTTP server (http/tools/metalpxe-http-serve) against
# nginx (sendfile on, 2 workers) in the same run, both on 127.0.0.1 inside a
# network namespace this script creates and always deletes.
#
#   1. a 64 MiB boot asset, wrk -t2 -c16: MiB/s and server CPU-seconds per GiB
#   2. a ~300-byte iPXE script, wrk -t2 -c64: requests/s (ours renders it per
#      request in a handler; nginx answers `return 200 "..."` from memory)
#
# Runs are interleaved (ours, nginx, ours, nginx, ...) and medians printed with
# the ratio ours/nginx. Targets: asset >= 0.9x nginx; scripts >= 20,000/s.
#
# usage: sudo bench/http/run.sh [RUNS=5] [SECONDS=10]
#   env: SERVE=path/to/metalpxe-http-serve (default: build-http/ or build/)
set -euo pipefail

RUNS=${1:-5}
SECS=${2:-10}
REPO=$(cd "$(dirname "$0")/../.." && pwd)
SERVE=${SERVE:-}
if [[ -z "$SERVE" ]]; then
  for d in build-http build; do
    if [[ -x "$REPO/$d/http/metalpxe-http-serve" ]]; then SERVE="$REPO/$d/http/metalpxe-http-serve"; break; fi
  done
fi
[[ -x "$SERVE" ]] || { echo "build the metalpxe-http-serve target first (or set SERVE=)" >&2; exit 2; }
for tool in nginx wrk ip; do command -v $tool >/dev/null || { echo "missing $tool" >&2; exit 2; }; done

NS="mpx-bench-http-$$"
T=$(mktemp -d /tmp/mpx-bench-http.XXXXXX)
OURS_PORT=8081
NGINX_PORT=8082
OURS_PID=""
NGINX_PID=""

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

mkdir -p "$T/assets" "$T/nginx-tmp"
head -c $((64 << 20)) /dev/urandom > "$T/assets/big.bin"
ASSET_BYTES=$((64 << 20))

SCRIPT='#!ipxe
# metalpxe: machine 52-54-00-12-34-56
kernel http://10.66.0.1:8080/assets/vmlinuz-amd64 initrd=initramfs-amd64.xz talos.platform=metal console=tty0 console=ttyS0 talos.config=http://10.66.0.1:8080/config/0123456789abcdef
initrd http://10.66.0.1:8080/assets/initramfs-amd64.xz
boot
'
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
    location /assets/ { alias $T/assets/; }
    location = /ipxe { default_type text/plain; return 200 "$SCRIPT"; }
  }
}
NGINX

in_ns "$SERVE" --root "$T/assets" --bind 127.0.0.1 --port $OURS_PORT --threads 2 --log warn > "$T/ours.log" 2>&1 &
OURS_PID=$!
in_ns nginx -p "$T" -c "$T/nginx.conf" > "$T/nginx.out" 2>&1 &
NGINX_PID=$!

wait_up() {
  for _ in $(seq 100); do
    in_ns curl -fsS -o /dev/null "http://127.0.0.1:$1/ipxe?mac=52-54-00-12-34-56" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "server on port $1 did not come up" >&2; cat "$T"/*.log "$T/nginx.out" >&2; exit 1
}
wait_up $OURS_PORT
wait_up $NGINX_PORT
# `ip netns exec` forks: find the real server processes inside the namespace.
OURS_REAL=$(ip netns pids "$NS" | while read -r p; do [[ "$(cat /proc/$p/comm)" == metalpxe-http-s* ]] && echo "$p" || true; done)
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
# responses count too: at -c16 only a few responses finish per second).
# wrk prints sizes in binary units (KB = 1024 B).
wrk_parse() {
  awk 'function bytes(s,   v, u) { v = s + 0; u = s; sub(/^[0-9.]+/, "", u)
         return v * (u == "KB" ? 1024 : u == "MB" ? 1048576 : u == "GB" ? 1073741824 : u == "TB" ? 1099511627776 : 1) }
       /requests in/ { b = bytes($5) } /Requests\/sec/ { r = $2 } END { printf "%s %.0f\n", r, b }'
}

declare -a A_OURS A_NGINX C_OURS C_NGINX S_OURS S_NGINX
port_of() { [[ $1 == ours ]] && echo $OURS_PORT || echo $NGINX_PORT; }

run_asset() {  # $1: ours|nginx -> "MiB/s cpu_s_per_GiB"
  local port before after out rps bytes t0 t1
  port=$(port_of "$1")
  before=$(cpu_ticks "$1")
  t0=$(date +%s.%N)
  out=$(in_ns wrk -t2 -c16 -d"${SECS}s" "http://127.0.0.1:$port/assets/big.bin")
  t1=$(date +%s.%N)
  after=$(cpu_ticks "$1")
  echo "$out" >> "$T/wrk-asset-$1.log"
  [[ -n "${DEBUG:-}" ]] && echo "$out" >&2
  read -r rps bytes < <(echo "$out" | wrk_parse)
  awk -v bytes="$bytes" -v t="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" -v d=$((after - before)) -v hz="$HZ" \
    'BEGIN { gib = bytes / 1073741824; printf "%.0f %.3f\n", bytes / 1048576 / t, (gib > 0 ? d / hz / gib : 0) }'
}
run_script() {  # $1: ours|nginx -> requests/s
  local port out rps
  port=$(port_of "$1")
  out=$(in_ns wrk -t2 -c64 -d"${SECS}s" "http://127.0.0.1:$port/ipxe?mac=52-54-00-12-34-56")
  read -r rps _ < <(echo "$out" | wrk_parse)
  printf "%.0f\n" "$rps"
}

# Check both serve the same bytes before measuring anything.
in_ns curl -fsS -o "$T/o.bin" "http://127.0.0.1:$OURS_PORT/assets/big.bin"
in_ns curl -fsS -o "$T/n.bin" "http://127.0.0.1:$NGINX_PORT/assets/big.bin"
cmp -s "$T/o.bin" "$T/assets/big.bin" && cmp -s "$T/n.bin" "$T/assets/big.bin" || { echo "asset bytes differ" >&2; exit 1; }
rm -f "$T/o.bin" "$T/n.bin"

echo "metalpxe HTTP vs nginx $(nginx -v 2>&1 | sed 's/.*\///'), $(nproc) CPUs, ${RUNS} runs x ${SECS}s each, loopback in netns"
for i in $(seq "$RUNS"); do
  read -r a c < <(run_asset ours);  A_OURS+=("$a");  C_OURS+=("$c")
  read -r a c < <(run_asset nginx); A_NGINX+=("$a"); C_NGINX+=("$c")
  S_OURS+=("$(run_script ours)")
  S_NGINX+=("$(run_script nginx)")
  echo "  run $i: asset MiB/s ours ${A_OURS[-1]} nginx ${A_NGINX[-1]} | CPU s/GiB ours ${C_OURS[-1]} nginx ${C_NGINX[-1]} | scripts/s ours ${S_OURS[-1]} nginx ${S_NGINX[-1]}"
done

median() { printf "%s\n" "$@" | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

MA_O=$(median "${A_OURS[@]}");  MA_N=$(median "${A_NGINX[@]}")
MC_O=$(median "${C_OURS[@]}");  MC_N=$(median "${C_NGINX[@]}")
MS_O=$(median "${S_OURS[@]}");  MS_N=$(median "${S_NGINX[@]}")
echo
printf "%-44s %12s %12s %8s\n" "medians" "metalpxe" "nginx" "ratio"
printf "%-44s %12s %12s %8s\n" "64 MiB asset, wrk -t2 -c16 (MiB/s)" "$MA_O" "$MA_N" "$(ratio "$MA_O" "$MA_N")"
printf "%-44s %12s %12s %8s\n" "  server CPU-seconds per GiB (lower better)" "$MC_O" "$MC_N" "$(ratio "$MC_O" "$MC_N")"
printf "%-44s %12s %12s %8s\n" "300-byte script, wrk -t2 -c64 (req/s)" "$MS_O" "$MS_N" "$(ratio "$MS_O" "$MS_N")"
echo
awk -v r="$(ratio "$MA_O" "$MA_N")" -v s="$MS_O" 'BEGIN {
  printf "target asset >= 0.9x nginx: %s; target scripts >= 20000/s: %s\n", (r >= 0.9 ? "met" : "MISSED"), (s >= 20000 ? "met" : "MISSED") }'

#!/usr/bin/env bash
# TFTP benchmark: metalpxe's TFTP server (metalpxe-tftpd) against tftpd-hpa
# (in.tftpd) and atftpd, same client (atftp), same run, same CPU placement.
#   1. one 64 MiB file, blksize 1468, windowsize 16 (tftpd-hpa ignores the
#      window and runs lock-step; that is its real behaviour, not a handicap
#      we add), plus the same file lock-step for all three;
#   2. 50 concurrent downloads of a 1 MiB file (blksize 1468, windowsize 16).
# Servers run in a network namespace made here, on its loopback only.
# LAB-NOTES: TFTP speed depends on CPU placement more than on the server, so
# the server is pinned to one vCPU and the client to the other, for everyone.
#
# Usage: bench/tftp/run.sh [RUNS]   (default 5; prints medians and ratios)
# Env: METALPXE_TFTPD (default build-tftp/pxe/tftp/metalpxe-tftpd),
#      CACHE (where tftpd-hpa/atftpd get unpacked; default /var/tmp/mpx-bench-tftp),
#      SERVER_CPU (0), CLIENT_CPU (1).
set -euo pipefail

RUNS=${1:-5}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
TFTPD=${METALPXE_TFTPD:-$REPO/build-tftp/pxe/tftp/metalpxe-tftpd}
CACHE=${CACHE:-/var/tmp/mpx-bench-tftp}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
NS=mpxbench-tftp-$$
WORK=$(mktemp -d /var/tmp/mpx-bench-tftp-run.XXXXXX)
PIDS=()

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  ip netns pids "$NS" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# --- peers: tftpd-hpa and atftpd conflict as packages; unpack both here -------
if [[ ! -x $CACHE/root/usr/sbin/in.tftpd || ! -x $CACHE/root/usr/sbin/atftpd ]]; then
  mkdir -p "$CACHE"
  (cd "$CACHE" && apt-get download tftpd-hpa atftpd >/dev/null 2>&1 &&
    for d in tftpd-hpa_*.deb atftpd_*.deb; do dpkg-deb -x "$d" root; done)
fi
HPA=$CACHE/root/usr/sbin/in.tftpd
ATFTPD=$CACHE/root/usr/sbin/atftpd
if [[ ! -x $TFTPD ]]; then
  cmake --build "$REPO/build-tftp" --target metalpxe-tftpd -j2 >/dev/null
fi
command -v atftp >/dev/null || { echo "atftp client missing" >&2; exit 1; }

# --- files and namespace ---------------------------------------------------
ROOT=$WORK/root
OUT=$WORK/out
mkdir -p "$ROOT" "$OUT"
chmod 755 "$WORK" "$ROOT"  # the peers drop to nobody
head -c $((64 * 1024 * 1024)) /dev/urandom >"$ROOT/big.bin"
head -c $((1024 * 1024)) /dev/urandom >"$ROOT/m1.bin"
chmod 644 "$ROOT"/*

ip netns add "$NS"
ip -n "$NS" link set lo up
# in.tftpd exits (66) in a namespace whose only address is 127.0.0.1 (LAB-NOTES).
ip -n "$NS" addr add 10.77.0.1/32 dev lo

inns() { ip netns exec "$NS" "$@"; }
# Servers start with exec all the way down (ip netns exec, taskset), so $! is the server.
PORT_MPX=6901 PORT_HPA=6902 PORT_ATFTPD=6903
ip netns exec "$NS" taskset -c "$SERVER_CPU" "$TFTPD" --root "$ROOT" --address 127.0.0.1 --port $PORT_MPX \
  --log-level warn >"$WORK/mpx.log" 2>&1 &
PIDS+=($!)
ip netns exec "$NS" taskset -c "$SERVER_CPU" "$HPA" -L -u nobody -s "$ROOT" -a 127.0.0.1:$PORT_HPA >"$WORK/hpa.log" 2>&1 &
PIDS+=($!)
ip netns exec "$NS" taskset -c "$SERVER_CPU" "$ATFTPD" --daemon --no-fork --user nobody.nogroup --port $PORT_ATFTPD \
  --bind-address 127.0.0.1 --maxthread 128 --logfile "$WORK/atftpd.log" "$ROOT" >/dev/null 2>&1 &
PIDS+=($!)
sleep 1

now() { date +%s.%N; }
# get PORT FILE OUTFILE [atftp options...]
get() {
  local port=$1 file=$2 out=$3
  shift 3
  inns taskset -c "$CLIENT_CPU" atftp "$@" -g -r "$file" -l "$out" 127.0.0.1 "$port" >/dev/null 2>&1
}
WINDOWED=(--option "blksize 1468" --option "windowsize 16" --option "tsize 0")
LOCKSTEP=(--option "blksize 1468" --option "tsize 0")

# Correctness first: every server must deliver the exact file.
for port in $PORT_MPX $PORT_HPA $PORT_ATFTPD; do
  rm -f "$OUT/check"
  get $port big.bin "$OUT/check" "${WINDOWED[@]}"
  cmp -s "$OUT/check" "$ROOT/big.bin" || { echo "server on port $port delivered a different file" >&2; exit 1; }
done

# single PORT OPTS... -> MiB/s of one 64 MiB download
single() {
  local port=$1
  shift
  local t0 t1
  t0=$(now)
  get "$port" big.bin "$OUT/big.$port" "$@"
  t1=$(now)
  rm -f "$OUT/big.$port"
  echo "64 / ($t1 - $t0)" | bc -l
}

# busy% of one CPU between two /proc/stat samples ("user nice system idle iowait irq softirq steal").
cpu_sample() { awk -v c="cpu$1" '$1 == c {t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $5 + $6}' /proc/stat; }
busy_pct() { awk -v a="$1" -v b="$2" 'BEGIN {split(a, x, " "); split(b, y, " "); dt = y[1] - x[1];
  printf "%.0f", (dt > 0 ? 100 * (1 - (y[2] - x[2]) / dt) : 0)}'; }

# concurrent PORT -> aggregate MiB/s of 50 parallel 1 MiB downloads (all must succeed).
# The 50 clients are started first and held at a shared flock, so the clock
# measures the transfers, not the cost of spawning 50 `ip netns exec` chains on
# the client CPU (which is the same for every server and hid their difference).
concurrent() {
  local port=$1 i t0 t1 fail=0 lock="$WORK/start.lock" gate
  local pids=()
  exec {gate}>"$lock"
  flock -x "$gate"
  for i in $(seq 1 50); do
    inns taskset -c "$CLIENT_CPU" flock -s "$lock" \
      atftp "${WINDOWED[@]}" -g -r m1.bin -l "$OUT/m1.$port.$i" 127.0.0.1 "$port" >/dev/null 2>&1 &
    pids+=($!)
  done
  # Every client is waiting on the lock once 50 flock processes block on it (bounded: 10 s).
  for i in $(seq 1 100); do
    [[ $(pgrep -c -f "^flock -s $lock") -ge 50 ]] && break
    sleep 0.1
  done
  sleep 0.2
  local s0 k0
  s0=$(cpu_sample "$SERVER_CPU") k0=$(cpu_sample "$CLIENT_CPU")
  t0=$(now)
  flock -u "$gate"
  exec {gate}>&-
  for p in "${pids[@]}"; do wait "$p" || fail=1; done
  t1=$(now)
  echo "$(busy_pct "$s0" "$(cpu_sample "$SERVER_CPU")") $(busy_pct "$k0" "$(cpu_sample "$CLIENT_CPU")")" >"$WORK/busy"
  for i in $(seq 1 50); do cmp -s "$OUT/m1.$port.$i" "$ROOT/m1.bin" || fail=1; done
  rm -f "$OUT"/m1.$port.*
  if [[ $fail -ne 0 ]]; then echo "nan"; return; fi
  echo "50 / ($t1 - $t0)" | bc -l
}

# swarm PORT -> aggregate MiB/s of the same 50 downloads from one epoll
# process (tftp-swarm): 50 atftp processes fill the client CPU first.
SWARM=${TFTP_SWARM:-$(dirname "$TFTPD")/tftp-swarm}
swarm() {
  local secs
  secs=$(inns taskset -c "$CLIENT_CPU" "$SWARM" 127.0.0.1 "$1" m1.bin 50 1468 16 $((1024 * 1024))) || { echo nan; return; }
  echo "50 / $secs" | bc -l
}

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) {print "nan"} else if (NR%2) {print a[(NR+1)/2]} else {print (a[NR/2]+a[NR/2+1])/2}}'; }

# Server CPU: user+system of the process, its threads and reaped children
# (in.tftpd forks per transfer), in clock ticks.
cpu_ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)

# Servers take turns within each run, so load that comes and goes on the
# machine lands on all of them alike.
declare -A R W L C S CPU SB CB
SERVERS=(mpx:$PORT_MPX:0 hpa:$PORT_HPA:1 atftpd:$PORT_ATFTPD:2)
for r in $(seq 1 "$RUNS"); do
  for entry in "${SERVERS[@]}"; do
    IFS=: read -r srv port idx <<<"$entry"
    c0=$(cpu_ticks "${PIDS[$idx]}")
    W[$srv]+="$(single "$port" "${WINDOWED[@]}") "
    L[$srv]+="$(single "$port" "${LOCKSTEP[@]}") "
    C[$srv]+="$(concurrent "$port") "
    read -r sb cb <"$WORK/busy"
    S[$srv]+="$(swarm "$port") "
    SB[$srv]+="$sb " CB[$srv]+="$cb "
    c1=$(cpu_ticks "${PIDS[$idx]}")
    CPU[$srv]=$(( ${CPU[$srv]:-0} + c1 - c0 ))
  done
done
for entry in "${SERVERS[@]}"; do
  srv=${entry%%:*}
  R[$srv.win]=$(tr ' ' '\n' <<<"${W[$srv]}" | grep . | median)
  R[$srv.lock]=$(tr ' ' '\n' <<<"${L[$srv]}" | grep . | median)
  R[$srv.conc]=$(tr ' ' '\n' <<<"${C[$srv]}" | grep . | median)
  R[$srv.swarm]=$(tr ' ' '\n' <<<"${S[$srv]}" | grep . | median)
  R[$srv.sbusy]=$(tr ' ' '\n' <<<"${SB[$srv]}" | grep . | median)
  R[$srv.cbusy]=$(tr ' ' '\n' <<<"${CB[$srv]}" | grep . | median)
  # GiB moved per server: RUNS x (64 + 64 + 50 + 50) MiB
  R[$srv.cpu]=$(echo "${CPU[$srv]} / $TCK / ($RUNS * 228 / 1024)" | bc -l)
  echo "# $srv runs: windowed ${W[$srv]}| lock-step ${L[$srv]}| 50x1MiB ${C[$srv]}| swarm ${S[$srv]}" | sed 's/\([0-9]*\.[0-9][0-9]\)[0-9]*/\1/g'
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
echo
echo "TFTP, atftp client, server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU, medians of $RUNS runs (MiB/s)"
printf '%-34s %10s %10s %10s %12s %12s\n' "test" "metalpxe" "tftpd-hpa" "atftpd" "vs tftpd-hpa" "vs atftpd"
for row in "win:64 MiB, blksize 1468, window 16" "lock:64 MiB, blksize 1468, lock-step" "conc:50 x 1 MiB concurrent, window 16" "swarm:50 x 1 MiB, one-process client"; do
  k=${row%%:*} label=${row#*:}
  printf '%-34s %10.1f %10.1f %10.1f %12s %12s\n' "$label" "${R[mpx.$k]}" "${R[hpa.$k]}" "${R[atftpd.$k]}" \
    "$(ratio "${R[mpx.$k]}" "${R[hpa.$k]}")" "$(ratio "${R[mpx.$k]}" "${R[atftpd.$k]}")"
done
# in.tftpd's per-transfer children are never waited for by a parent we can
# read, so their CPU is invisible here: no figure rather than a wrong one.
printf '%-34s %10.2f %10s %10.2f\n' "server CPU seconds per GiB" "${R[mpx.cpu]}" "n/a" "${R[atftpd.cpu]}"
# Which side limits the 50-client test: the busier CPU is the bottleneck.
printf '%-34s %10s %10s %10s\n' "50 x 1 MiB: server CPU busy %" "${R[mpx.sbusy]}" "${R[hpa.sbusy]}" "${R[atftpd.sbusy]}"
printf '%-34s %10s %10s %10s\n' "50 x 1 MiB: client CPU busy %" "${R[mpx.cbusy]}" "${R[hpa.cbusy]}" "${R[atftpd.cbusy]}"
echo "(load average during the run: $(cut -d' ' -f1-3 /proc/loadavg))"

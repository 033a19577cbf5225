#!/usr/bin/env bash
# The Debian package on a clean Debian 12 (not this development machine):
#   tests/package/deb_install_test.sh DEB
# 1. a root made by mmdebstrap from this machine's apt sources
#    (deploy/debian-root.sh); `apt-get install ./metalpxe_*.deb` there pulls
#    the runtime libraries and ipxe, creates the metalpxe user and stateDir;
# 2. metalpxed starts there as the unit starts it (its ExecStart, as user
#    metalpxe with only the unit's two capabilities), in a network namespace
#    this test creates (nothing leaves it), with the packaged config as is;
#    it sends READY=1 to a NOTIFY_SOCKET and `metalpxectl health` answers;
# 3. SIGTERM stops it cleanly; `apt-get remove` keeps /var/lib/metalpxe and
#    the config, `apt-get purge` deletes both.
# Exit 77 (ctest: skipped) only when mmdebstrap is missing.
set -euo pipefail
deb="$(realpath -m "$1")"
fail() { echo "FAIL: $*"; exit 1; }
src="$(cd "$(dirname "$0")/../.." && pwd)"
command -v mmdebstrap >/dev/null || { echo "SKIP: mmdebstrap is missing (deploy/install-deps.sh installs it)"; exit 77; }
if [ ! -f "$deb" ]; then
  echo "--- $deb is missing: deploy/package.sh"
  "$src/deploy/package.sh" || fail "deploy/package.sh"
fi

root="$(mktemp -d /tmp/mpx-deb-root.XXXXXX)"
ns="mpx-deb-$$"
daemon_pid=""
nspawn_pid=""
cgroups=()
cleanup() {
  [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null
  if [ -n "$nspawn_pid" ]; then kill -9 "$nspawn_pid" 2>/dev/null; wait "$nspawn_pid" 2>/dev/null; fi
  for m in dev/pts dev proc sys; do umount -l "$root/$m" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  ip netns del "$ns-c" 2>/dev/null || true
  for c in "${cgroups[@]}"; do find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true; done
  rm -rf "$root" "$root.nspawn.log"
}
trap cleanup EXIT
step() { echo "--- $*"; }
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
in_ns_root() { ip netns exec "$ns" chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

step "clean Debian 12 root"
"$src/deploy/debian-root.sh" "$root"
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
# Services do not start inside the root by themselves (no systemd runs there).
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"; chmod +x "$root/usr/sbin/policy-rc.d"
in_root test ! -e /usr/sbin/metalpxed || fail "the clean root already has metalpxed"

step "apt-get install ./$(basename "$deb")"
cp "$deb" "$root/tmp/"
in_root apt-get install -y -q --no-install-recommends "/tmp/$(basename "$deb")" > "$root/tmp/apt-install.log" 2>&1 ||
  { cat "$root/tmp/apt-install.log"; fail "apt-get install"; }
tail -3 "$root/tmp/apt-install.log"
in_root getent passwd metalpxe || fail "no metalpxe user"
[ "$(in_root stat -c %U /var/lib/metalpxe)" = metalpxe ] || fail "/var/lib/metalpxe is not the metalpxe user's"
in_root dpkg-query -W -f='${Conffiles}\n' metalpxe | grep -q ' /etc/metalpxe/metalpxe.yaml ' ||
  fail "/etc/metalpxe/metalpxe.yaml is not a conffile"
in_root test -f /usr/lib/ipxe/undionly.kpxe || fail "ipxe (the iPXE binaries) was not pulled in"
in_root /usr/sbin/metalpxed --check-config /etc/metalpxe/metalpxe.yaml || fail "the packaged config does not pass --check-config"
unit="$(in_root sh -c 'ls /lib/systemd/system/metalpxed.service /usr/lib/systemd/system/metalpxed.service 2>/dev/null | head -1')"
[ -n "$unit" ] || fail "no metalpxed.service installed"
in_root test -e /etc/systemd/system/multi-user.target.wants/metalpxed.service || fail "metalpxed.service is not enabled"

step "start metalpxed as its unit does, in namespace $ns"
ip netns add "$ns"
ip -n "$ns" link set lo up
exec_start="$(sed -n 's/^ExecStart=//p' "$root$unit")"
caps="$(sed -n 's/^AmbientCapabilities=//p' "$root$unit" | tr 'A-Z ' 'a-z,' | sed 's/cap_/+/g')"
[ "$caps" = "+net_bind_service,+net_raw" ] || fail "unexpected capabilities: $caps"
notify="$root/run/metalpxe-notify"
python3 - "$notify" > "$root/tmp/notify.log" 2>&1 <<'PY' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)  # as systemd's: the service's user sends to it
s.settimeout(60)
try:
    while True:
        msg = s.recv(4096).decode()
        print(msg.replace("\n", " "), flush=True)
        if "STOPPING=1" in msg:
            break
except socket.timeout:
    pass
PY
listener=$!
for _ in $(seq 50); do [ -S "$notify" ] && break; sleep 0.1; done
ip netns exec "$ns" chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin NOTIFY_SOCKET=/run/metalpxe-notify \
  setpriv --reuid=metalpxe --regid=metalpxe --init-groups --inh-caps="$caps" --ambient-caps="$caps" \
  --bounding-set=-all,"$caps" $exec_start > "$root/tmp/metalpxed.log" 2>&1 &
daemon_pid=$!
ok=""
for _ in $(seq 300); do
  grep -q "READY=1" "$root/tmp/notify.log" && { ok=1; break; }
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$ok" ] || { cat "$root/tmp/metalpxed.log"; fail "no READY=1 from metalpxed"; }
grep "READY=1" "$root/tmp/notify.log" | head -1
[ "$(ps -o uid= -p "$daemon_pid" | tr -d ' ')" = "$(in_root id -u metalpxe)" ] || fail "metalpxed does not run as metalpxe"
# Its effective capabilities are the unit's two: bind below 1024 (bit 10) and raw (bit 13).
[ "$(awk '/^CapEff/ {print $2}' "/proc/$daemon_pid/status")" = "0000000000002400" ] ||
  fail "metalpxed's capabilities: $(grep ^Cap "/proc/$daemon_pid/status")"

step "metalpxectl health"
in_ns_root metalpxectl --config /var/lib/metalpxe/pki/admin.metalpxeconfig health > "$root/tmp/health.txt" 2>&1 ||
  { cat "$root/tmp/health.txt" "$root/tmp/metalpxed.log"; fail "metalpxectl health"; }
cat "$root/tmp/health.txt"
grep -q "^yes" "$root/tmp/health.txt" || fail "health does not say serving"

step "SIGTERM"
kill -TERM "$daemon_pid"
rc=0; wait "$daemon_pid" || rc=$?
daemon_pid=""
[ "$rc" -eq 0 ] || { cat "$root/tmp/metalpxed.log"; fail "metalpxed exited $rc on SIGTERM"; }
wait "$listener" || true
grep -q "STOPPING=1" "$root/tmp/notify.log" || fail "no STOPPING=1"
ls "$root/var/lib/metalpxe"

# The real unit under a real systemd: the root booted with systemd-nspawn in
# the test's namespace, a client namespace beside it on a veth pair. The
# hardening (system call filter, capabilities, ProtectSystem...) must leave
# metalpxed serving: HTTP and TFTP transfers from the client, DHCP bound.
if command -v systemd-nspawn >/dev/null; then
  step "boot the root with systemd-nspawn: metalpxed.service as installed"
  for m in dev/pts dev proc sys; do umount -l "$root/$m" 2>/dev/null || true; done
  rm -f "$root/usr/sbin/policy-rc.d" "$notify"
  ip netns add "$ns-c"
  ip link add veth-pkg-s netns "$ns" type veth peer name veth-pkg-c netns "$ns-c"
  ip -n "$ns" addr add 10.71.0.1/24 dev veth-pkg-s
  ip -n "$ns-c" addr add 10.71.0.2/24 dev veth-pkg-c
  ip -n "$ns" link set veth-pkg-s up
  ip -n "$ns-c" link set veth-pkg-c up
  ip -n "$ns-c" link set lo up
  # Its own cgroup (no systemd runs this machine to give it a scope): the
  # container's systemd owns the cgroup it starts in, and would kill
  # everything else in it, this test included.
  for h in systemd unified; do
    [ -d "/sys/fs/cgroup/$h" ] || continue
    mkdir -p "/sys/fs/cgroup/$h/$ns"
    cgroups+=("/sys/fs/cgroup/$h/$ns")
  done
  setsid sh -c 'n="$1"; shift; for c in "$@"; do echo $$ > "$c/cgroup.procs"; done
      exec systemd-nspawn -q -D "$0" -b --register=no --keep-unit --network-namespace-path="/run/netns/$n" \
        --console=read-only' \
    "$root" "$ns" "${cgroups[@]}" > "$root.nspawn.log" 2>&1 &
  nspawn_pid=$!
  leader=""
  # The container's PID 1: nspawn's child once it runs systemd.
  for _ in $(seq 150); do
    leader="$(pgrep -P "$nspawn_pid" | head -1 || true)"
    [ -n "$leader" ] && [ "$(cat "/proc/$leader/comm" 2>/dev/null)" = systemd ] && break
    leader=""
    sleep 0.2
  done
  [ -n "$leader" ] || { cat "$root.nspawn.log"; fail "systemd-nspawn did not start"; }
  in_box() { nsenter -t "$leader" -a /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
  state=""
  for _ in $(seq 120); do
    state="$(in_box systemctl is-active metalpxed 2>/dev/null || true)"
    [ "$state" = active ] || [ "$state" = failed ] && break
    sleep 0.5
  done
  if [ "$state" != active ]; then
    in_box systemctl status --no-pager metalpxed || true
    in_box journalctl -b --no-pager -u metalpxed | tail -30 || true
    fail "metalpxed.service is $state under systemd"
  fi
  in_box systemctl show -p Type -p NotifyAccess -p StatusText -p User metalpxed
  in_box systemctl show -p StatusText --value metalpxed | grep -q "dhcp proxy" || fail "no STATUS= summary"
  step "the unit serves a client: HTTP and TFTP from $ns-c"
  ip netns exec "$ns-c" curl -sS --max-time 10 -o /dev/null -w '%{http_code}\n' http://10.71.0.1:8080/boot.ipxe |
    grep -q 200 || fail "HTTP /boot.ipxe from the client namespace"
  (cd "$root/tmp" && ip netns exec "$ns-c" timeout 20 tftp 10.71.0.1 -m binary -c get undionly.kpxe tftp-undionly.kpxe) ||
    fail "TFTP get undionly.kpxe"
  cmp "$root/tmp/tftp-undionly.kpxe" "$root/usr/lib/ipxe/undionly.kpxe" || fail "TFTP transferred a different file"
  listening="$(ip netns exec "$ns" ss -Hlnu)"
  grep -q ':67 ' <<<"$listening" && grep -q ':4011 ' <<<"$listening" || fail "proxy DHCP not bound: $listening"
  in_box metalpxectl --config /var/lib/metalpxe/pki/admin.metalpxeconfig health || fail "metalpxectl health under systemd"
  step "watchdog keep-alives, reload, exposure"
  w1="$(in_box systemctl show -p WatchdogTimestampMonotonic --value metalpxed)"
  sleep 16   # WatchdogSec=30s: a keep-alive every 15 s
  w2="$(in_box systemctl show -p WatchdogTimestampMonotonic --value metalpxed)"
  [ "$w2" != "$w1" ] && [ "$w2" != 0 ] || fail "no watchdog keep-alive in 16 s ($w1, $w2)"
  in_box systemctl reload metalpxed ||
    { in_box journalctl -b --no-pager -u metalpxed | tail -20; fail "systemctl reload"; }
  sleep 1
  in_box journalctl -b --no-pager -u metalpxed | grep -q "reload (SIGHUP)" || fail "reload did not reach metalpxed"
  [ "$(in_box systemctl is-active metalpxed)" = active ] || fail "not active after reload"
  in_box systemd-analyze security --no-pager metalpxed.service | tail -1
  step "systemctl stop: clean exit"
  in_box systemctl stop metalpxed
  in_box systemctl show -p Result -p ExecMainStatus metalpxed | tee "$root/tmp/stop.txt"
  grep -q "Result=success" "$root/tmp/stop.txt" && grep -q "ExecMainStatus=0" "$root/tmp/stop.txt" ||
    fail "metalpxed did not stop cleanly"
  kill -s RTMIN+4 "$leader" 2>/dev/null || true   # systemd as PID 1: power off
  for _ in $(seq 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.2; done
  kill -9 "$nspawn_pid" 2>/dev/null || true
  wait "$nspawn_pid" 2>/dev/null || true
  nspawn_pid=""
  mount -t proc proc "$root/proc"
  mount --rbind /sys "$root/sys"
  mount --rbind /dev "$root/dev"
else
  echo "--- systemd-nspawn missing (systemd-container): the unit under systemd is not checked"
fi

step "apt-get remove keeps state and config"
in_root apt-get remove -y -q metalpxe > /dev/null
in_root test ! -e /usr/sbin/metalpxed || fail "remove left metalpxed"
in_root test -f /var/lib/metalpxe/pki/admin.metalpxeconfig || fail "remove deleted the state"
in_root test -f /etc/metalpxe/metalpxe.yaml || fail "remove deleted the config"

step "apt-get purge deletes them"
in_root apt-get purge -y -q metalpxe > /dev/null
in_root test ! -e /var/lib/metalpxe || fail "purge left /var/lib/metalpxe"
in_root test ! -e /etc/metalpxe/metalpxe.yaml || fail "purge left the config"
echo "PASS: install, start (READY), health, stop, remove, purge"

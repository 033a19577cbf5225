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
cleanup() {
  [ -n "$daemon_pid" ] && kill -9 "$daemon_pid" 2>/dev/null
  for m in dev/pts dev proc sys; do umount -l "$root/$m" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$root"
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
[ "$(stat -c %U "$root/var/lib/metalpxe")" = metalpxe ] || fail "/var/lib/metalpxe is not the metalpxe user's"
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
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
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

#!/usr/bin/env bash
# mmdebstrap customize hook of deploy/image/build.sh: turns the installed
# Debian root ($1, metalpxe's .deb already in) into the appliance's
# read-only root. Runs on the host, as root, before mmdebstrap's cleanup.
set -euo pipefail
root="$1"
here="$(cd "$(dirname "$0")" && pwd)"
gid="$(chroot "$root" id -g metalpxe)"

# The files of deploy/image/rootfs/ (units, scripts, network config).
cp -a --no-preserve=ownership "$here/rootfs/." "$root/"

# /etc/metalpxe becomes the METALPXE partition's mount point: the packaged
# config stays as the template the first boot adapts.
mkdir -p "$root/usr/share/metalpxe-appliance/defaults"
cp -a "$root/etc/metalpxe/." "$root/usr/share/metalpxe-appliance/defaults/"
find "$root/etc/metalpxe" -mindepth 1 -delete

# Mounts. The root is squashfs (read-only by construction); /var is a tmpfs
# (journal, caches, systemd's own state: gone at reboot, nothing drifts);
# metalpxed's state is the ext4 partition; its config the FAT partition,
# files 0640 root:metalpxe, directories 0750 (FAT has no modes: these are
# the mount's), `quiet` so that chmod/chown on it are no-ops, not errors.
cat > "$root/etc/fstab" <<FSTAB
# metalpxe appliance (docs/appliance-image.md). / is squashfs (kernel: root=PARTUUID=...).
tmpfs                      /var               tmpfs  mode=0755,size=25%,nosuid,nodev            0 0
tmpfs                      /tmp               tmpfs  mode=1777,size=25%,nosuid,nodev            0 0
PARTLABEL=metalpxe-state   /var/lib/metalpxe  ext4   noatime,nosuid,nodev                       0 2
PARTLABEL=metalpxe-config  /etc/metalpxe      vfat   uid=0,gid=$gid,fmask=0137,dmask=0027,quiet,flush,utf8,nosuid,nodev,noexec 0 2
PARTLABEL=esp              /boot/efi          vfat   ro,noauto,umask=0077                       0 0
FSTAB
mkdir -p "$root/boot/efi"

echo metalpxe > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tmetalpxe\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
# Empty: systemd makes a machine id per boot (read-only /etc) and does not
# treat the boot as a "first boot" (no presets, no systemd-firstboot).
: > "$root/etc/machine-id"
ln -sf ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"

chroot "$root" systemctl enable systemd-networkd.service systemd-resolved.service \
  metalpxe-appliance-setup.service metalpxe-appliance-console.service metalpxed.service
# Nothing that writes to the root or waits for a person: apt's timers and
# e2scrub have nothing to do on a read-only root; systemd-firstboot would
# ask for a locale and a root password on the console.
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
  e2scrub_reap.service systemd-firstboot.service fstrim.timer 2>/dev/null || true

# Kernel modules no appliance uses (graphics, sound, media, wireless,
# Bluetooth, InfiniBand, staging, industrial I/O): about half of them. The
# initramfs was built before this, from the full set.
for kver in "$root"/lib/modules/*; do
  rm -rf "$kver"/kernel/drivers/{gpu,media,staging,infiniband,net/wireless,bluetooth,iio,isdn} \
         "$kver"/kernel/sound "$kver"/kernel/net/{wireless,mac80211,bluetooth}
  chroot "$root" depmod -a "${kver##*/}"
done
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/var/cache/debconf/*-old \
       "$root"/var/log/* "$root"/usr/share/doc/metalpxe/examples/broken

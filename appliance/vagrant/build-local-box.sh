#!/usr/bin/env bash
# Builds a libvirt Vagrant box of Debian 12 (bookworm) from Debian packages only, for machines
# that cannot download debian/bookworm64 or run VirtualBox, and adds it as outpost/debian12-local.
#   sudo appliance/vagrant/build-local-box.sh [OUT_DIR=.vagrant-box]
# Needs root, debootstrap, e2fsprogs (mke2fs -d), qemu-utils and vagrant; no loop or nbd devices:
# the root filesystem is an unpartitioned ext4 image made from a directory, booted with libvirt
# direct kernel boot (the kernel and initrd are left in OUT_DIR, where the Vagrantfile finds
# them when OUTPOST_VAGRANT_BOX=outpost/debian12-local). See appliance/vagrant/README.md.
# Env: DEBIAN_MIRROR (default: the first deb.debian.org-style URI in /etc/apt/sources.list*),
# BOX_NAME (outpost/debian12-local), DISK_SIZE (20G), VAGRANT_KEY (the insecure public key that
# ships in the vagrant Debian package).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/.vagrant-box}
box_name=${BOX_NAME:-outpost/debian12-local}
disk_size=${DISK_SIZE:-20G}
[ "$(id -u)" = 0 ] || { echo "must run as root (debootstrap, chroot)" >&2; exit 1; }
for c in debootstrap mke2fs qemu-img vagrant; do
  command -v "$c" >/dev/null || { echo "missing $c (apt-get install debootstrap e2fsprogs qemu-utils vagrant)" >&2; exit 1; }
done
if [ -z "${DEBIAN_MIRROR:-}" ]; then
  DEBIAN_MIRROR=$(grep -hoE '^(URIs:|deb) +[^ ]*https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null \
    | grep -oE 'https?://[^ ]+' | head -1 || true)
  DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
fi
security_mirror=${DEBIAN_MIRROR%/debian}/debian-security
key=${VAGRANT_KEY:-$(ls /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub /opt/vagrant/embedded/gems/gems/vagrant-*/keys/vagrant.pub 2>/dev/null | head -1 || true)}
[ -f "$key" ] || { echo "vagrant insecure public key not found (set VAGRANT_KEY)" >&2; exit 1; }

mkdir -p "$out"; out=$(cd "$out" && pwd)
root=$out/rootfs
rm -rf "$root" "$out/box"
mkdir -p "$root" "$out/box"
echo "== debootstrap bookworm from $DEBIAN_MIRROR into $root" >&2
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,systemd-resolved,udev,dbus,linux-image-amd64,initramfs-tools,openssh-server,sudo,rsync,ca-certificates,iproute2,iputils-ping,curl,less,procps,kmod,apt-transport-https \
  bookworm "$root" "$DEBIAN_MIRROR" >&2

echo "== configuring the guest" >&2
echo debian12 > "$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tdebian12\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
echo '/dev/vda / ext4 errors=remount-ro 0 1' > "$root/etc/fstab"
cat > "$root/etc/apt/sources.list" <<EOF
deb $DEBIAN_MIRROR bookworm main
deb $DEBIAN_MIRROR bookworm-updates main
deb $security_mirror bookworm-security main
EOF
# DHCP on every NIC (vagrant writes 50-vagrant-<nic>.network for static private networks,
# which sorts first and wins for that NIC).
cat > "$root/etc/systemd/network/99-dhcp-all.network" <<'EOF'
[Match]
Name=en* eth*
[Network]
DHCP=yes
EOF
ln -sf /run/systemd/resolve/resolv.conf "$root/etc/resolv.conf"
# The insecure Vagrant key; vagrant replaces it with a per-machine key on first `vagrant up`.
chroot "$root" useradd --create-home --shell /bin/bash --groups sudo vagrant
echo 'vagrant:vagrant' | chroot "$root" chpasswd
install -d -m 0700 -o 1000 -g 1000 "$root/home/vagrant/.ssh"
install -m 0600 -o 1000 -g 1000 "$key" "$root/home/vagrant/.ssh/authorized_keys"
echo 'vagrant ALL=(ALL) NOPASSWD:ALL' > "$root/etc/sudoers.d/vagrant"; chmod 0440 "$root/etc/sudoers.d/vagrant"
echo 'UseDNS no' > "$root/etc/ssh/sshd_config.d/vagrant.conf"
# Per-VM identity: a fresh machine-id (hence DHCP client id) and SSH host keys on first boot.
: > "$root/etc/machine-id"; rm -f "$root/var/lib/dbus/machine-id"
rm -f "$root"/etc/ssh/ssh_host_*
cat > "$root/etc/systemd/system/ssh-hostkeys.service" <<'EOF'
[Unit]
Description=Generate missing SSH host keys
Before=ssh.service
[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
[Install]
WantedBy=multi-user.target
EOF
chroot "$root" systemctl enable systemd-networkd.service systemd-resolved.service ssh.service ssh-hostkeys.service serial-getty@ttyS0.service >&2
chroot "$root" apt-get clean
rm -rf "$root"/var/lib/apt/lists/* "$root"/tmp/* "$root"/var/log/*.log

echo "== kernel, initrd, disk image" >&2
cp -L "$root/vmlinuz" "$out/box/vmlinuz"; cp -L "$root/initrd.img" "$out/box/initrd.img"
chmod 0644 "$out/box/vmlinuz" "$out/box/initrd.img"
rm -f "$out/root.ext4"
mke2fs -q -t ext4 -L root -d "$root" "$out/root.ext4" "$disk_size" >&2
qemu-img convert -O qcow2 "$out/root.ext4" "$out/box/box.img"
rm -f "$out/root.ext4"
virtual_size=$(( $(qemu-img info --output=json "$out/box/box.img" | sed -n 's/.*"virtual-size": *\([0-9]*\).*/\1/p') / 1024 / 1024 / 1024 ))
printf '{"provider":"libvirt","format":"qcow2","virtual_size":%s}\n' "$virtual_size" > "$out/box/metadata.json"
cat > "$out/box/Vagrantfile" <<'EOF'
# Debian 12 built by outpost appliance/vagrant/build-local-box.sh: an unpartitioned ext4 disk
# (/dev/vda) booted with libvirt direct kernel boot; the project Vagrantfile sets kernel, initrd
# and cmd_line (the kernel and initrd are beside the box image in the build directory).
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |libvirt|
    libvirt.driver = "kvm"
    libvirt.disk_bus = "virtio"
  end
end
EOF
tar -C "$out/box" -cf "$out/debian12-local.box" metadata.json Vagrantfile box.img
cp "$out/box/vmlinuz" "$out/box/initrd.img" "$out/"
vagrant box add --force --name "$box_name" "$out/debian12-local.box" >&2
rm -rf "$root" "$out/box"
echo "$out/debian12-local.box"

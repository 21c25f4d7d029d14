#!/usr/bin/env bash
# Installs Outpost as a systemd service on Debian 12 by building and installing its Debian
# package (appliance/build-deb.sh). Used by the Vagrantfile and by CI on the CI machine.
#   appliance/provision.sh [SOURCE_DIR=.] [INTERFACE]
# Without INTERFACE the package's own configuration stays: capture on the interfaces of the
# default route (capture.interfaces: [auto]). INTERFACE pins the capture to that one (a SPAN
# port, or the Vagrant VM's second interface).
set -euo pipefail
src=$(cd "${1:-.}" && pwd)
iface=${2:-}
export DEBIAN_FRONTEND=noninteractive
# The package needs Node.js >= 20 (`Depends: nodejs (>= 20)`); Debian 12 ships 18, so a stock
# Debian 12 (e.g. the debian/bookworm64 box) gets Node 20 from NodeSource's apt repository, set up
# the way NodeSource documents it (signed-by keyring, "nodistro" suite). Hosts that already have
# Node >= 20 (CI, or a .deb installed first: OUTPOST_VAGRANT_NODEJS_DEB) skip this.
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if ! command -v node >/dev/null || [ "$(node_major)" -lt 20 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends ca-certificates curl gnupg
  install -d -m 0755 /etc/apt/keyrings
  curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg
  echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_20.x nodistro main" > /etc/apt/sources.list.d/nodesource.list
  apt-get update -qq
  apt-get install -y -qq nodejs
  if [ "$(node_major)" -lt 20 ]; then echo "provision.sh: Node.js >= 20 is required (found $(node -v 2>/dev/null || echo none))" >&2; exit 1; fi
fi
apt-get install -y -qq --no-install-recommends libpcap-dev libpcap0.8 tcpreplay iproute2 python3 make g++ dpkg-dev adduser
# Build in a copy so the (possibly shared, e.g. /vagrant) source tree is not written to.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tar -C "$src" --exclude=./node_modules --exclude=./dist --exclude=./data --exclude=./bench-cache --exclude=./test-output --exclude=./dist-deb -cf - . | tar -C "$work" -xf -
(cd "$work" && npm install --no-audit --no-fund)
deb=$("$work/appliance/build-deb.sh" "$work/out" | tail -1)
apt-get install -y -qq "$deb"
if [ -n "$iface" ]; then
  cat > /etc/outpost/outpost.yaml <<YAML
dataDir: /var/lib/outpost
capture:
  interfaces: [$iface]
api:
  firstRunAccess: true
YAML
  chown outpost:outpost /etc/outpost/outpost.yaml; chmod 0640 /etc/outpost/outpost.yaml
  if [ -d /run/systemd/system ]; then systemctl restart outpost.service; fi
fi
if [ -d /run/systemd/system ]; then
  systemctl --no-pager status outpost.service | head -5
  # The first start printed the console's login URL once, into the journal (api.firstRunAccess).
  # Not repeated here: provisioning output is kept in places (CI logs) an admin secret must not be.
  echo "Console login URL: journalctl -u outpost | grep -A2 'Open the console' (on 127.0.0.1:8470; from outside, e.g. vagrant ssh -- -L 8470:127.0.0.1:8470)"
fi

#!/usr/bin/env bash
# Installs Outpost from a checkout as a systemd service on Debian 12 (used by the Vagrantfile).
#   appliance/provision.sh [SOURCE_DIR=.] [INTERFACE]
set -euo pipefail
src=$(cd "${1:-.}" && pwd)
iface=${2:-}
export DEBIAN_FRONTEND=noninteractive
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  apt-get update -qq
  apt-get install -y -qq nodejs npm
fi
apt-get install -y -qq --no-install-recommends libpcap-dev tcpreplay iproute2 python3 make g++
id outpost >/dev/null 2>&1 || useradd --system --home /var/lib/outpost --shell /usr/sbin/nologin outpost
install -d -o outpost -g outpost -m 0750 /var/lib/outpost
install -d -m 0755 /etc/outpost /opt/outpost
cp -a "$src"/package.json "$src"/package-lock.json "$src"/tsconfig.json "$src"/tsconfig.build.json "$src"/src "$src"/config "$src"/README.md /opt/outpost/
(cd /opt/outpost && npm ci --no-audit --no-fund && npm run build --silent)
if [ ! -f /etc/outpost/outpost.yaml ]; then
  {
    echo "dataDir: /var/lib/outpost"
    if [ -n "$iface" ]; then printf 'capture:\n  interfaces: [%s]\n' "$iface"; fi
  } > /etc/outpost/outpost.yaml
fi
chown root:outpost /etc/outpost/outpost.yaml; chmod 0640 /etc/outpost/outpost.yaml
install -m 0644 "$src"/appliance/outpost.service /etc/systemd/system/outpost.service
systemctl daemon-reload
systemctl enable --now outpost.service
systemctl --no-pager status outpost.service | head -5

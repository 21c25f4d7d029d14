#!/usr/bin/env bash
# One-command set-up on a fresh Debian 12 + Node 20 machine (run as root, or with sudo):
#   scripts/bootstrap.sh run    install what is missing, build, run the gateway on its embedded defaults
#   scripts/bootstrap.sh test   install what is missing, build, run the whole test suite
# System packages are installed only when one is missing, so a prepared machine starts at once.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}; shift || true

# What the gateway and its tests need from Debian: libpcap headers to build the `pcap` binding,
# tcpreplay/tcpdump/iproute2 for the live-capture tests (network namespaces + veth), openssl for
# TLS fixtures, `time` for peak-RSS figures in benchmarks, rsyslog and nats-server as the real
# receivers of the forwarding tests, chromium for the discovery page's browser test.
packages=(libpcap-dev tcpreplay tcpdump iproute2 openssl time python3 make g++ rsyslog rsyslog-gnutls nats-server chromium dnsmasq-base udhcpc curl util-linux unbound squid nftables libnetfilter-queue-dev iperf3 iptables krb5-kdc krb5-admin-server krb5-user samba smbclient freeradius-utils bind9-host)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then echo "missing Debian packages: ${missing[*]} (run as root or install them)" >&2; exit 1; fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# `npm install` rather than `npm ci`: the registry this runs against lacks some optional
# platform packages named in lock files (msgpackr-extract's darwin builds), which `npm ci`
# treats as an out-of-sync lock; `npm install` follows the lock and skips what it cannot use.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then npm install --no-audit --no-fund; fi
npm run build --silent

case "$mode" in
  run) exec node dist/cli.js run "$@" ;;
  test) exec npm test ;;
  *) echo "usage: scripts/bootstrap.sh run|test" >&2; exit 2 ;;
esac

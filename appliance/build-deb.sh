#!/usr/bin/env bash
# Builds the Outpost Debian package with dpkg-deb from this checkout.
#   appliance/build-deb.sh [OUTPUT_DIR=dist-deb]        → prints the path of the .deb
# The package installs the app under /opt/outpost (compiled dist/ and production node_modules,
# native addons included, so it is built per architecture), the systemd unit, a default
# /etc/outpost/outpost.yaml (a conffile: capture on the default-route interfaces, first-run
# login URL in the journal), creates the `outpost` system user in postinst, and
# enables and starts the service when systemd is running.
# Env: OUTPOST_DEB_COMPRESSION (gzip, default; xz for smaller releases), OUTPOST_SKIP_BUILD=1
# (reuse an existing dist/).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/dist-deb}
mkdir -p "$out"; out=$(cd "$out" && pwd)
version=$(node -p "require('$src/package.json').version")
arch=$(dpkg --print-architecture)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# mktemp makes the directory 0700, and it becomes the package's "./" entry: make it what / is.
chmod 0755 "$stage"

if [ "${OUTPOST_SKIP_BUILD:-0}" != 1 ] || [ ! -f "$src/dist/cli.js" ]; then
  (cd "$src" && npm run build --silent >&2)
fi

app=$stage/opt/outpost
install -d "$app" "$stage/lib/systemd/system" "$stage/etc/outpost" "$stage/DEBIAN"
cp -a "$src/dist" "$src/package.json" "$src/package-lock.json" "$src/README.md" "$app/"
install -d "$app/config" "$app/appliance"
cp -a "$src/config/outpost.example.yaml" "$app/config/"
[ -d "$src/config/catalog" ] && cp -a "$src/config/catalog" "$app/config/"
cp -a "$src/appliance/outpost.service" "$app/appliance/"
# Production dependencies only: copy what is installed (native addons already built for this
# machine) and prune the dev dependencies offline from the lockfile. -L: a node_modules that is
# a link (a checkout that shares another one's) is copied, never pruned in place.
cp -aL "$src/node_modules" "$app/node_modules"
(cd "$app" && npm prune --omit=dev --no-audit --no-fund --ignore-scripts --loglevel=error >&2)
find "$app/dist" -name '*.map' -delete

install -m 0644 "$src/appliance/outpost.service" "$stage/lib/systemd/system/outpost.service"
cat > "$stage/etc/outpost/outpost.yaml" <<'YAML'
# Outpost configuration. Every setting: /opt/outpost/config/outpost.example.yaml.
# Reload after editing: systemctl reload outpost (SIGHUP); some settings need a restart.
dataDir: /var/lib/outpost
capture:
  # auto: the interfaces of the default route (IPv4 and IPv6), or every up one but loopback when
  # there is none. Name them instead for a SPAN port, e.g. [eth1]; [] captures nothing.
  interfaces: [auto]
api:
  # The first start prints a login URL for the console once, into the journal:
  #   journalctl -u outpost | grep -A2 'Open the console'
  firstRunAccess: true
YAML

installed_kb=$(du -sk "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: outpost
Version: $version
Section: net
Priority: optional
Architecture: $arch
Maintainer: Outpost maintainers <outpost@localhost>
Depends: nodejs (>= 20), libpcap0.8, adduser
Installed-Size: $installed_kb
Description: Outpost network sensor for cloud-app discovery
 Captures traffic with libpcap on a SPAN port or inline, tracks bidirectional flows and emits
 OCSF Network Activity events, with a local admin API, Prometheus metrics and scheduled jobs.
CONTROL
echo /etc/outpost/outpost.yaml > "$stage/DEBIAN/conffiles"

cat > "$stage/DEBIAN/postinst" <<'SH'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  if ! getent passwd outpost >/dev/null; then
    adduser --system --group --home /var/lib/outpost --no-create-home --shell /usr/sbin/nologin --quiet outpost
  fi
  install -d -o outpost -g outpost -m 0750 /var/lib/outpost
  # The config holds token hashes and is rewritten by the admin API: outpost's alone.
  chown outpost:outpost /etc/outpost /etc/outpost/outpost.yaml
  chmod 0750 /etc/outpost
  chmod 0640 /etc/outpost/outpost.yaml
  if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    systemctl enable outpost.service >/dev/null
    systemctl restart outpost.service
  fi
fi
exit 0
SH
cat > "$stage/DEBIAN/prerm" <<'SH'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl stop outpost.service >/dev/null 2>&1 || true
  if [ "$1" = remove ]; then systemctl disable outpost.service >/dev/null 2>&1 || true; fi
fi
exit 0
SH
cat > "$stage/DEBIAN/postrm" <<'SH'
#!/bin/sh
set -e
if [ "$1" = purge ]; then
  rm -rf /var/lib/outpost /etc/outpost
  if getent passwd outpost >/dev/null; then deluser --system --quiet outpost >/dev/null 2>&1 || userdel outpost || true; fi
  if getent group outpost >/dev/null; then delgroup --system --quiet outpost >/dev/null 2>&1 || groupdel outpost 2>/dev/null || true; fi
fi
if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
exit 0
SH
chmod 0755 "$stage/DEBIAN/postinst" "$stage/DEBIAN/prerm" "$stage/DEBIAN/postrm"

deb="$out/outpost_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Z"${OUTPOST_DEB_COMPRESSION:-gzip}" --build "$stage" "$deb" >&2
echo "$deb"

#!/usr/bin/env bash
# Packs this machine's installed `nodejs` (>= 20, e.g. NodeSource's) as a .deb the VM can install
# before provision.sh, for networks where the VM reaches Debian's mirror but not NodeSource:
# Debian 12's own nodejs is 18, and the outpost package Depends: nodejs (>= 20).
#   sudo appliance/vagrant/repack-host-nodejs.sh [OUT_DIR=.vagrant-box/nodejs]   → prints the .deb
# dpkg-repack alone is not enough when npm was upgraded in place (`npm i -g npm`): the files no
# longer match dpkg's list, so the bundled npm is copied whole from /usr/lib/node_modules/npm.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/.vagrant-box/nodejs}
command -v dpkg-repack >/dev/null || { echo "missing dpkg-repack (apt-get install dpkg-repack)" >&2; exit 1; }
major=$(dpkg-query -W -f='${Version}' nodejs | cut -d. -f1)
[ "${major:-0}" -ge 20 ] || { echo "installed nodejs package is not >= 20" >&2; exit 1; }
mkdir -p "$out"; out=$(cd "$out" && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && dpkg-repack --generate nodejs >&2)
stage=$(ls -d "$tmp"/dpkg-repack.* | head -1)
rm -rf "$stage/usr/lib/node_modules/npm" "$stage/DEBIAN/md5sums"
cp -a /usr/lib/node_modules/npm "$stage/usr/lib/node_modules/npm"
deb=$out/nodejs_$(dpkg-query -W -f='${Version}' nodejs | sed 's/^[0-9]*://')_$(dpkg --print-architecture).deb
dpkg-deb --root-owner-group -Zgzip --build "$stage" "$deb" >&2
echo "$deb"

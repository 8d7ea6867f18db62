#!/usr/bin/env bash
# Stages what deploy/docker/Dockerfile installs into dist/docker/ (the build reads nothing else
# from the repository but deploy/docker/hapg.yaml):
#   bash deploy/docker/stage.sh [HAPG_DEB]
#   - hapg_<version>_all.deb: HAPG_DEB, or dist/hapg_<version>_all.deb (npm run package:deb)
#   - nodejs_<version>_<arch>.deb, Node >= 20: $NODEJS_DEB if set; else one in apt's cache
#     (/var/cache/apt/archives, e.g. after `apt-get install --download-only nodejs` from NodeSource);
#     else the one test:deb:systemd repacked (/var/tmp/hapg-nspawn); else this machine's installed
#     nodejs package, repacked with dpkg-repack (about 4 minutes, cached in /var/tmp/hapg-nspawn).
#     It is staged without npm (below).
set -euo pipefail
cd "$(dirname "$0")/../.."
log() { printf '[stage] %s\n' "$*"; }
fail() { printf '[stage] FAIL: %s\n' "$*" >&2; exit 1; }

version=$(node packages/agent/dist/main.js --version 2>/dev/null | awk '{ print $2 }' || true)
hapg_deb=${1:-dist/hapg_${version}_all.deb}
[ -f "$hapg_deb" ] || fail "no $hapg_deb: run npm run package:deb first"

node_ok() { # a nodejs .deb of version >= 20
  [ -f "$1" ] && [ "$(dpkg-deb -f "$1" Package)" = nodejs ] &&
    dpkg --compare-versions "$(dpkg-deb -f "$1" Version)" ge 20
}
node_deb=${NODEJS_DEB:-}
if [ -n "$node_deb" ]; then
  node_ok "$node_deb" || fail "NODEJS_DEB=$node_deb is not a nodejs (>= 20) package"
else
  for candidate in /var/cache/apt/archives/nodejs_*.deb /var/tmp/hapg-nspawn/nodejs_*.deb; do
    if node_ok "$candidate"; then node_deb=$candidate; break; fi
  done
fi
if [ -z "$node_deb" ]; then
  installed=$(dpkg-query -W -f='${Version}' nodejs 2>/dev/null || true)
  dpkg --compare-versions "${installed:-0}" ge 20 || fail "no nodejs (>= 20) .deb found and none installed to repack"
  command -v dpkg-repack >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpkg-repack >/dev/null
  log "repacking the installed nodejs $installed (about 4 minutes)"
  mkdir -p /var/tmp/hapg-nspawn
  (cd /var/tmp/hapg-nspawn && dpkg-repack nodejs >/dev/null 2>&1)
  node_deb=$(find /var/tmp/hapg-nspawn -maxdepth 1 -name 'nodejs_*.deb' | head -1)
  node_ok "$node_deb" || fail "dpkg-repack nodejs gave no usable package"
fi

rm -rf dist/docker
mkdir -p dist/docker
cp "$hapg_deb" dist/docker/

# Node for the image: the package without npm, corepack and the C headers (the image runs no npm;
# about 75 MB), and so without npm's dependency on python3 (node-gyp; about 45 MB more). Same
# package name and version: `nodejs (>= 20)` is still met; `+image` marks the file.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dpkg-deb -R "$node_deb" "$work/pkg"
(cd "$work/pkg" && rm -rf usr/lib/node_modules/npm usr/lib/node_modules/corepack usr/include \
  usr/bin/npm usr/bin/npx usr/bin/corepack usr/share/doc/nodejs usr/share/man/man1/npm* usr/share/man/man5 usr/share/man/man7)
find "$work/pkg" -depth -type d -empty -not -path '*/DEBIAN' -delete
sed -i -E -e '/^Depends:/ s/, *python3[^,]*//; /^Depends:/ s/python3[^,]*, *//' \
  -e '/^Provides:/ s/, *npm//' -e '/^Installed-Size:/ d' "$work/pkg/DEBIAN/control"
echo "Installed-Size: $(du -sk --exclude=DEBIAN "$work/pkg" | cut -f1)" >>"$work/pkg/DEBIAN/control"
(cd "$work/pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | xargs -0 md5sum >DEBIAN/md5sums)
node_version=$(dpkg-deb -f "$node_deb" Version)
node_arch=$(dpkg-deb -f "$node_deb" Architecture)
dpkg-deb --root-owner-group -Zgzip -z6 --build "$work/pkg" "dist/docker/nodejs_${node_version}+image_${node_arch}.deb" >/dev/null
log "dist/docker: $(basename "$hapg_deb"), nodejs_${node_version}+image_${node_arch}.deb (from $node_deb)"

#!/usr/bin/env bash
# Builds the Debian package and an npm tarball from this checkout's build:
#   npm run package:deb [-- --out DIR] [--no-build]
#   -> DIR/hapg_<version>_all.deb   (dpkg-deb; install with `apt-get install ./DIR/hapg_<version>_all.deb`)
#   -> DIR/hapg-<version>.tgz       (every dependency bundled; `npm install -g ./DIR/hapg-<version>.tgz`)
# DIR defaults to dist/ (gitignored). The JavaScript is this working tree's build (`tsc -b`),
# with the production dependencies of @hapg/agent and @hapg/cli installed from package-lock.json
# by `npm ci --omit=dev` in a temporary directory: no dev dependencies, no tests, no testkit.
# Layout and reasons: docs/deploy.md.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

out=dist
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "usage: $0 [--out DIR] [--no-build]" >&2; exit 2 ;;
  esac
done
log() { printf '[package] %s\n' "$*"; }

if [ "$build" = 1 ]; then
  log "build (tsc -b)"
  npx tsc -b
fi
# The version is what the binary reports, so `hapg --version` and the package always agree.
version=$(node packages/agent/dist/main.js --version | awk '{ print $2 }')
[ -n "$version" ] || { log "cannot read the version from packages/agent/dist/main.js"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# --- production dependencies, exactly as locked -----------------------------------------
# npm ci needs the root manifest, the lock file and every workspace's manifest (the lock lists
# them all); --workspace limits the install to what the agent and hactl need.
app=$work/app
mkdir -p "$app"
cp package.json package-lock.json "$app/"
for manifest in packages/*/package.json; do
  mkdir -p "$app/$(dirname "$manifest")"
  cp "$manifest" "$app/$manifest"
done
log "npm ci --omit=dev (agent, cli)"
(cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error \
  --workspace=@hapg/agent --workspace=@hapg/cli)

root=$work/root
lib=$root/usr/lib/hapg
mkdir -p "$lib"
mv "$app/node_modules" "$lib/node_modules"
rm -rf "$lib/node_modules/.bin" "$lib/node_modules/.package-lock.json"
# The test suites some dependencies publish (fastify, pino, ...; about 9 MiB) are never loaded:
# only a package's own top-level test/, tests/, __tests__/ and benchmarks/ directories go.
find "$lib/node_modules" -depth -type d \
  -regex '.*/node_modules/\(@[^/]*/\)?[^/@][^/]*/\(test\|tests\|__tests__\|benchmarks\)' \
  -exec rm -rf {} +
# Type declarations are never loaded either (about 12 MiB, 10 of them date-fns's), nor date-fns's
# functional variant fp/ (7 MiB; pino-roll, which names the log files, uses its plain functions).
find "$lib/node_modules" -type f \( -name '*.d.ts' -o -name '*.d.cts' -o -name '*.d.mts' \) -delete
rm -rf "$lib/node_modules/date-fns/fp"
# The workspaces are symlinks into packages/: replace each by its manifest and its built
# JavaScript (no sources, type declarations, source maps or build info).
workspaces=(core platform dcs postgres agent cli)
for ws in "${workspaces[@]}"; do
  dest=$lib/node_modules/@hapg/$ws
  rm -f "$dest"
  mkdir -p "$dest"
  cp "packages/$ws/package.json" "$dest/"
  (cd "packages/$ws" && find dist -name '*.js' -print0 | tar --null -T - -cf -) | tar -C "$dest" -xf -
done
extra=$(find "$lib/node_modules/@hapg" -mindepth 1 -maxdepth 1 -printf '%f\n' | grep -vxF -f <(printf '%s\n' "${workspaces[@]}") || true)
[ -z "$extra" ] || { log "unexpected workspaces in the bundle: $extra"; exit 1; }
if find "$lib" -name '*.node' | grep -q .; then
  log "a native module is bundled: the package cannot be Architecture: all"; exit 1
fi

# The bundle is itself an npm package (for the tarball): bins point into the workspaces.
node -e '
  const [lib, version] = process.argv.slice(1);
  const pkg = {
    name: "hapg",
    version,
    description: "High-availability manager for PostgreSQL, Patroni-compatible (agent, fence, hactl)",
    license: "UNLICENSED",
    type: "module",
    engines: { node: ">=20" },
    bin: {
      hapg: "node_modules/@hapg/agent/dist/main.js",
      "hapg-fence": "node_modules/@hapg/agent/dist/fence/main.js",
      hactl: "node_modules/@hapg/cli/dist/main.js",
    },
    dependencies: { "@hapg/agent": version, "@hapg/cli": version },
    bundleDependencies: ["@hapg/agent", "@hapg/cli"],
  };
  require("fs").writeFileSync(`${lib}/package.json`, `${JSON.stringify(pkg, null, 2)}\n`);
' "$lib" "$version"

# --- the Debian file tree ------------------------------------------------------------------
mkdir -p "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/hapg" "$root/usr/share/doc/hapg" "$root/DEBIAN"
ln -s ../lib/hapg/node_modules/@hapg/agent/dist/main.js "$root/usr/bin/hapg"
ln -s ../lib/hapg/node_modules/@hapg/agent/dist/fence/main.js "$root/usr/bin/hapg-fence"
ln -s ../lib/hapg/node_modules/@hapg/cli/dist/main.js "$root/usr/bin/hactl"
cp deploy/systemd/hapg@.service "$root/lib/systemd/system/"
cp deploy/debian/example.yaml "$root/etc/hapg/example.yaml"
cp README.md docs/*.md "$root/usr/share/doc/hapg/"
cp deploy/debian/postinst deploy/debian/prerm deploy/debian/postrm deploy/debian/conffiles "$root/DEBIAN/"

chmod -R u=rwX,go=rX "$root"
chmod 0755 "$root/DEBIAN/postinst" "$root/DEBIAN/prerm" "$root/DEBIAN/postrm" \
  "$lib/node_modules/@hapg/agent/dist/main.js" "$lib/node_modules/@hapg/agent/dist/fence/main.js" \
  "$lib/node_modules/@hapg/cli/dist/main.js"
installed_kb=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@INSTALLED_SIZE@/$installed_kb/" deploy/debian/control.in >"$root/DEBIAN/control"

# Reproducible: every file dated at the last commit.
epoch=$(git -C "$repo" log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH=$epoch
find "$root" -exec touch -h -d "@$epoch" {} +

mkdir -p "$out"
deb=$out/hapg_${version}_all.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
log "$deb: $(du -k "$deb" | cut -f1) KiB, installed $installed_kb KiB"

# --- the npm tarball ------------------------------------------------------------------------
tgz=$(cd "$lib" && npm pack --silent --pack-destination "$work" 2>/dev/null | tail -1)
mv "$work/$tgz" "$out/hapg-$version.tgz"
log "$out/hapg-$version.tgz: $(du -k "$out/hapg-$version.tgz" | cut -f1) KiB"

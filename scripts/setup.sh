#!/usr/bin/env bash
# Installs what hapg needs on a Debian machine, then the npm packages and the build.
# Idempotent and quick when everything is already there. Run as root (or with sudo available).
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1

log() { printf '[setup] %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; exit 1
  fi
}

# --- system packages (Debian) ---------------------------------------------
missing=()
command -v etcd >/dev/null || missing+=(etcd-server)
command -v etcdctl >/dev/null || missing+=(etcd-client) # e2e/rest-and-input.it.test.ts writes a key as an operator would
command -v haproxy >/dev/null || missing+=(haproxy)
command -v ip >/dev/null || missing+=(iproute2)
command -v flock >/dev/null || missing+=(util-linux)
# namespaced test hosts drop packets with nftables; the chaos run steps clocks with libfaketime
command -v nft >/dev/null || missing+=(nftables)
[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 ] || missing+=(faketime)
command -v promtool >/dev/null || missing+=(prometheus) # promtool checks configs/prometheus/alerts.yml
command -v patronictl >/dev/null || missing+=(patroni) # e2e/patronictl.it.test.ts drives a hapg cluster with Patroni's own patronictl
[ -x /usr/bin/chromium ] || missing+=(chromium) # e2e/ui.it.test.ts drives the dashboard headless (playwright-core, no browser download)
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  # Do not let the Debian package create and start its own "main" cluster.
  as_root mkdir -p /etc/postgresql-common
  echo 'create_main_cluster = false' | as_root tee /etc/postgresql-common/createcluster.conf >/dev/null
  missing+=(postgresql-15 postgresql-client-15)
fi
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's etcd-server and postgresql packages may start system services; hapg never uses them.
if command -v systemctl >/dev/null && systemctl is-active --quiet etcd 2>/dev/null; then
  log "note: a system etcd service is running; hapg's tests and demo use their own etcd on free ports"
fi
id postgres >/dev/null 2>&1 || as_root useradd --system --home-dir /var/lib/postgresql --create-home postgres

# --- node -------------------------------------------------------------------
node_major=$(node -p 'process.versions.node.split(".").map(Number).join(" ")' | awk '{ print ($1 > 20 || ($1 == 20 && $2 >= 19)) ? "ok" : "old" }')
if [ "$node_major" != ok ]; then log "Node >= 20.19 is required (found $(node --version))"; exit 1; fi

stamp=node_modules/.hapg-lock-hash
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "npm ci"
  # The lock file lists every platform's optional packages (biome, turbo, esbuild binaries), so
  # `npm ci` succeeds on a fresh machine as in any Dockerfile or CI system (stack-notes #18).
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi

log "build"
npx turbo run build --output-logs=errors-only >/dev/null
# The agent runs as the postgres user in the demo and tests: it must be able to read the build.
chmod -R a+rX packages/*/dist node_modules 2>/dev/null || true
log "ready"

#!/usr/bin/env bash
# The side-by-side benchmark, by hand: bash e2e/bench/bench.sh [--vs patroni] [--runs 3]
# Installs what it needs (patroni, wrk), then runs e2e/bench/bench.ts under the cluster-test lock
# and writes its table to e2e/bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh
need=()
command -v wrk >/dev/null || need+=(wrk)
if [[ " $* " == *" patroni "* ]] && ! command -v patroni >/dev/null; then need+=(patroni python3-etcd); fi
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
exec flock /tmp/hapg-it.lock npx tsx --conditions=source e2e/bench/bench.ts --out e2e/bench/RESULTS.md "$@"

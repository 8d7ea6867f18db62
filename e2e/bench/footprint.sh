#!/usr/bin/env bash
# An agent's memory and its answer time under 50 health-check connections (by hand):
#   bash e2e/bench/footprint.sh [--minutes 1]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
exec flock /tmp/hapg-it.lock npx tsx --conditions=source e2e/bench/footprint.ts "$@"

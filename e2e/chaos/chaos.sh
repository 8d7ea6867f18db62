#!/usr/bin/env bash
# The chaos run, by hand: bash e2e/chaos/chaos.sh --faults 200 --seed 7 [--sync off|on|quorum] [--ttl 6]
#   [--strict] [--fast] (fast_failover on; without it the run takes the lease path) [--kinds a,b]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh
exec flock /tmp/hapg-it.lock npx tsx --conditions=source e2e/chaos/chaos.ts --out e2e/chaos/RESULTS.md "$@"

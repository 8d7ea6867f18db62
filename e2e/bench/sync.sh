#!/usr/bin/env bash
# Synchronous-mode benchmark, by hand: bash e2e/bench/sync.sh [--seconds 20] [--runs 5]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh
exec flock /tmp/hapg-it.lock npx tsx --conditions=source e2e/bench/sync.ts "$@"

#!/usr/bin/env bash
# Synchronous-mode chaos, by hand: bash e2e/chaos/sync-chaos.sh [--runs 50] [--mode on|quorum]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh
exec flock /tmp/hapg-it.lock npx tsx --conditions=source e2e/chaos/sync-chaos.ts "$@"

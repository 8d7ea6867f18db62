#!/usr/bin/env bash
# How many clusters one etcd serves (by hand): bash e2e/bench/fleet.sh [--clusters 50,100,200] [--seconds 60]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh
exec flock /tmp/hapg-it.lock npx tsx --conditions=source e2e/bench/fleet.ts "$@"

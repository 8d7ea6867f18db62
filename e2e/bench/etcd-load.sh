#!/usr/bin/env bash
# What an idle cluster costs etcd, per method (by hand): bash e2e/bench/etcd-load.sh [--seconds 60]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/setup.sh
exec flock /tmp/hapg-it.lock npx tsx --conditions=source e2e/bench/etcd-load.ts "$@"

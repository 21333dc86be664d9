#!/usr/bin/env bash
# The data-sync benchmark. Builds the fixture's benchmark in release, starts the local servers,
# then measures sustained creates/s through the fixture's RPC (MySQL transaction + outbox row)
# and projection lag from commit to applied in PostgreSQL, Neo4j and Redis at a fixed rate.
# A short unrecorded pass warms the servers first (Neo4j's JIT: a cold JVM shows lag spikes of
# most of a second), then ROUNDS (default 3) measured passes follow. Prints the numbers and
# writes them to tests/bench/SYNC-RESULTS.md.
#
#   [ROUNDS=3] tests/bench/sync.sh [SECONDS=10] [CONCURRENCY=32] [RATE=1000]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../../dev/lib.sh
source "$repo/dev/lib.sh"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$TALENTMESH_CACHE/target}"
seconds=${1:-10}
concurrency=${2:-32}
rate=${3:-1000}

bash "$repo/dev/servers.sh" up
(cd "$repo" && cargo build --release --locked -p talentmesh-syncfixture --bin sync-bench)

rounds=${ROUNDS:-3}
bench="$CARGO_TARGET_DIR/release/sync-bench"
log "sync bench: warm-up pass (not recorded)"
RUST_LOG=warn "$bench" 5 "$concurrency" "$rate" >/dev/null
results=""
for ((i = 1; i <= rounds; i++)); do
  sleep 5 # let the previous pass's clean-up finish
  out="$(RUST_LOG=warn "$bench" "$seconds" "$concurrency" "$rate")"
  echo "$out"
  results+=$'\n'"### Pass $i"$'\n'"${out#\#\# Sync benchmark}"$'\n'
done
{
  echo "# Data-sync benchmark results"
  echo
  echo "Command: \`ROUNDS=$rounds tests/bench/sync.sh $seconds $concurrency $rate\` on $(nproc) cores, $(date -u +%Y-%m-%d),"
  echo "after one unrecorded warm-up pass. Targets: at least 3,000 creates/s; projection lag p99 at most"
  echo "200 ms at 1,000 writes/s."
  echo "$results"
} >"$here/SYNC-RESULTS.md"

#!/usr/bin/env bash
# The data-sync benchmark. Builds the fixture's benchmark in release, starts the local servers,
# then measures sustained creates/s through the fixture's RPC (MySQL transaction + outbox row)
# and projection lag from commit to applied in PostgreSQL, Neo4j and Redis at a fixed rate.
# Prints the numbers and writes them to tests/bench/SYNC-RESULTS.md.
#
#   tests/bench/sync.sh [SECONDS=10] [CONCURRENCY=32] [RATE=1000]
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

out="$(RUST_LOG=warn "$CARGO_TARGET_DIR/release/sync-bench" "$seconds" "$concurrency" "$rate")"
echo "$out"
{
  echo "# Data-sync benchmark results"
  echo
  echo "Command: \`tests/bench/sync.sh $seconds $concurrency $rate\` on $(nproc) cores, $(date -u +%Y-%m-%d)."
  echo
  echo "$out"
} >"$here/SYNC-RESULTS.md"

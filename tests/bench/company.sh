#!/usr/bin/env bash
# The company benchmark. Builds it in release, starts the local servers, then measures
# CheckPermission over gRPC with a warm decision cache (closed loop, open loop at fixed rates,
# and one caller warm versus cache miss) and SearchNearbyCompanies over an index of COMPANIES
# companies. Prints the numbers and writes them to tests/bench/COMPANY-RESULTS.md.
#
#   tests/bench/company.sh [SECONDS=10] [CONCURRENCY=16] [COMPANIES=100000]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../../dev/lib.sh
source "$repo/dev/lib.sh"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$TALENTMESH_CACHE/target}"
seconds=${1:-10}
concurrency=${2:-16}
companies=${3:-100000}

bash "$repo/dev/servers.sh" up
(cd "$repo" && cargo build --release --locked -p talentmesh-bench --bin company-bench)
out="$(RUST_LOG=warn "$CARGO_TARGET_DIR/release/company-bench" "$seconds" "$concurrency" "$companies")"
echo "$out"
{
  echo "# Company benchmark results"
  echo
  echo "Command: \`tests/bench/company.sh $seconds $concurrency $companies\` on $(nproc) cores, $(date -u +%Y-%m-%d)."
  echo "Targets (issue 4): CheckPermission p99 at most 1 ms with a warm cache; the cost of a cache"
  echo "miss; SearchNearbyCompanies p99 over 100,000 companies."
  echo
  echo "${out#\#\# Company benchmark}"
} >"$here/COMPANY-RESULTS.md"
log "wrote $here/COMPANY-RESULTS.md"

#!/usr/bin/env bash
# The job and resume benchmark (issue 5). Builds it in release, starts the local servers, then,
# through the gateway: a cached GET of a published job against the bare gateway hop (rounds
# interleaved), job search over JOBS published jobs, and resume saves with analysis. Prints the
# numbers and writes them to tests/bench/JOB-RESULTS.md.
#
#   tests/bench/job.sh [SECONDS=10] [CONCURRENCY=32] [JOBS=100000] [ROUNDS=5]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../../dev/lib.sh
source "$repo/dev/lib.sh"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$TALENTMESH_CACHE/target}"
seconds=${1:-10}
concurrency=${2:-32}
jobs=${3:-100000}
rounds=${4:-5}

bash "$repo/dev/servers.sh" up
(cd "$repo" && cargo build --release --locked -p talentmesh-bench --bin job-bench)
out="$(RUST_LOG=warn TALENTMESH_LOG_FORMAT=json "$CARGO_TARGET_DIR/release/job-bench" "$seconds" "$concurrency" "$jobs" "$rounds")"
echo "$out"
{
  echo "# Job and resume benchmark results"
  echo
  echo "Command: \`tests/bench/job.sh $seconds $concurrency $jobs $rounds\` on $(nproc) cores, $(date -u +%Y-%m-%d)."
  echo "Targets (issue 5): a cached GET of a published job at least 0.8x the bare gateway hop's"
  echo "throughput, measured in the same run; job search p99 over 100,000 jobs; resume saves per second."
  echo
  # The numbers without their heading (the file has its own) and the blank lines after it.
  sed '0,/^## Job and resume benchmark/d' <<<"$out" | sed '/./,$!d'
} >"$here/JOB-RESULTS.md"
log "wrote $here/JOB-RESULTS.md"

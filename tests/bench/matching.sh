#!/usr/bin/env bash
# The vector index benchmark (issue 14). Builds it in release and runs it in process (no
# servers): JOBS job vectors from the builtin embedder, bulk build, top-20 searches at several
# ef_search values (unfiltered, a city filter a third of the jobs pass, one company's jobs),
# recall@20 against the exact scan, ingest, memory. Prints the numbers and writes them to
# tests/bench/MATCHING-RESULTS.md.
#
#   tests/bench/matching.sh [JOBS=100000] [QUERIES=1000] [EF_LIST=64,96,128,160,192] [CHOSEN_EF=160]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../../dev/lib.sh
source "$repo/dev/lib.sh"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$TALENTMESH_CACHE/target}"
jobs=${1:-100000}
queries=${2:-1000}
efs=${3:-64,96,128,160,192}
chosen=${4:-160}

(cd "$repo" && cargo build --release --locked -p talentmesh-bench --bin matching-bench)
out="$("$CARGO_TARGET_DIR/release/matching-bench" "$jobs" "$queries" "$efs" "$chosen")"
echo "$out"
{
  echo "# Vector index benchmark results"
  echo
  echo "Command: \`tests/bench/matching.sh $jobs $queries $efs $chosen\` on $(nproc) cores, $(date -u +%Y-%m-%d)."
  echo "Targets (issue 14): top-20 jobs for a resume over 100,000 jobs with p99 ≤ 5 ms and"
  echo "recall@20 ≥ 0.98 against exact search; build time at start and ingest rate."
  echo
  sed '0,/^## Vector index benchmark/d' <<<"$out" | sed '/./,$!d'
} >"$here/MATCHING-RESULTS.md"
log "wrote $here/MATCHING-RESULTS.md"

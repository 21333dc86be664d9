#!/usr/bin/env bash
# The matching benchmarks (issue 14), built in release.
#
# Index (default): the vector index in process, no servers: JOBS job vectors from the builtin
# embedder, bulk build, top-20 searches at several ef_search values (unfiltered, a city filter a
# third of the jobs pass, one company's jobs) and filter widening exponents, recall@20 against
# the exact scan, ingest, memory.
#
#   tests/bench/matching.sh [JOBS=100000] [QUERIES=1000] [EF_LIST=64,96,128,160,192] [CHOSEN_EF=160] \
#                           [WIDENING_LIST=1,0.5,0.35,0.25] [CHOSEN_WIDENING=0.35]
#
# Service: the real matching service in process on the local servers (dev/servers.sh up):
# ingest through the pipeline, bulk seeding, start-up rebuild, RecommendJobs over gRPC.
#
#   tests/bench/matching.sh service [JOBS=100000] [PIPELINE=5000] [RESUMES=200] [QUERIES=1000]
#
# Each prints its numbers; paste them into tests/bench/MATCHING-RESULTS.md with the command,
# the date and how busy the machine was (both results share that file, so neither overwrites it).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../../dev/lib.sh
source "$repo/dev/lib.sh"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$TALENTMESH_CACHE/target}"

if [[ "${1:-}" == service ]]; then
  shift
  (cd "$repo" && cargo build --release --locked -p talentmesh-bench --bin matching-service-bench)
  log "on $(nproc) cores, $(date -u +%Y-%m-%d), load $(cut -d' ' -f1-3 /proc/loadavg)"
  exec "$CARGO_TARGET_DIR/release/matching-service-bench" "${1:-100000}" "${2:-5000}" "${3:-200}" "${4:-1000}"
fi

(cd "$repo" && cargo build --release --locked -p talentmesh-bench --bin matching-bench)
log "on $(nproc) cores, $(date -u +%Y-%m-%d), load $(cut -d' ' -f1-3 /proc/loadavg)"
exec "$CARGO_TARGET_DIR/release/matching-bench" "${1:-100000}" "${2:-1000}" "${3:-64,96,128,160,192}" \
  "${4:-160}" "${5:-1,0.5,0.35,0.25}" "${6:-0.35}"

#!/usr/bin/env bash
# The wire benchmark. Builds release binaries, starts the local servers, then measures the same
# small RPC (identity's ListPublicKeys) called
#   (a) directly over gRPC,
#   (b) through a minimal hand-written axum handler (talentmesh-bench handwritten),
#   (c) through the gateway,
# at a fixed concurrency, and each service's start-up time to SERVING and idle resident memory.
# Prints a table and writes it to tests/bench/RESULTS.md.
#
#   tests/bench/run.sh [CONCURRENCY=32] [SECONDS=10]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=../../dev/lib.sh
source "$repo/dev/lib.sh"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$TALENTMESH_CACHE/target}"
concurrency=${1:-32}
seconds=${2:-10}
bin="$CARGO_TARGET_DIR/release"
work="$(mktemp -d)"
service="identity-bench-$$"

bash "$repo/dev/servers.sh" up
(cd "$repo" && cargo build --release --locked -p talentmesh-identity -p talentmesh-company -p talentmesh-job \
  -p talentmesh-resume -p talentmesh-sync -p talentmesh-gateway -p talentmesh-bench)

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Consul runs with ACLs: the benchmark's processes register with the management token the dev
# scripts keep (a benchmark registers names of its own, which no service token may).
consul_token="$(cat "$TALENTMESH_DATA/consul/management.token" 2>/dev/null || true)"
# The stores require credentials: the benchmark's databases and prefixes are its own, so its
# processes use the admin accounts the dev scripts keep (none when the stores have no passwords).
stores=()
if pw=$(stored_password mariadb root); then
  stores+=(TALENTMESH_MYSQL_URL="mysql://root:$pw@127.0.0.1:$TALENTMESH_MARIADB_PORT")
fi
if pw=$(stored_password postgres postgres); then
  stores+=(TALENTMESH_POSTGRES_URL="postgres://postgres:$pw@127.0.0.1:$TALENTMESH_POSTGRES_PORT/postgres")
fi
if pw=$(stored_password redis admin); then
  stores+=(TALENTMESH_REDIS_URL="redis://admin:$pw@127.0.0.1:$TALENTMESH_REDIS_PORT")
fi
# Identity seals its signing keys with a key-encryption key; the benchmark makes its own.
common=("${stores[@]}" TALENTMESH_CONSUL_TOKEN="$consul_token" TALENTMESH_LOG_FORMAT=json RUST_LOG=warn TALENTMESH_MYSQL_DATABASE=talentmesh_bench
  TALENTMESH_REDIS_PREFIX=bench: TALENTMESH_SERVICE_NAME="$service"
  TALENTMESH_IDENTITY_KEY_ENCRYPTION_KEY="$(head -c 32 /dev/urandom | base64)")

# Start-up time and idle memory, each measured on a fresh process of its own, with databases,
# Redis prefixes and Consul names of the benchmark's own. Only sync registers in Consul (it
# needs Consul to find the services it administers); the probe stops it with SIGTERM, so it
# deregisters.
declare -A started=()
for svc in identity company job resume sync; do
  consul=(TALENTMESH_CONSUL_ADDR=)
  [[ $svc == sync ]] && consul=()
  started[$svc]=$(env "${common[@]}" "${consul[@]}" TALENTMESH_MYSQL_DATABASE="talentmesh_bench_$svc" \
    TALENTMESH_REDIS_PREFIX="bench:$svc:" TALENTMESH_SERVICE_NAME="$svc-bench-$$" \
    TALENTMESH_GRPC_ADDR=127.0.0.1:50161 TALENTMESH_METRICS_ADDR=127.0.0.1:51161 \
    "$bin/talentmesh-bench" startup "$bin/talentmesh-$svc" grpc 127.0.0.1:50161)
done

env "${common[@]}" TALENTMESH_GRPC_ADDR=127.0.0.1:50151 TALENTMESH_METRICS_ADDR=127.0.0.1:51151 \
  "$bin/talentmesh-identity" >"$work/identity.log" 2>&1 &
identity_pid=$!
pids+=($identity_pid)
wait_until "bench identity" "$work/identity.log" 60 \
  bash -c "curl -fsS -H 'X-Consul-Token: $consul_token' 'http://127.0.0.1:18500/v1/health/service/$service?passing=true' | grep -q ServiceID"

gateway_env=(RUST_LOG=warn TALENTMESH_GATEWAY_SERVICE_NAMES="identity=$service")
gateway_start=$(env "${gateway_env[@]}" TALENTMESH_GATEWAY_HTTP_ADDR=127.0.0.1:18190 TALENTMESH_METRICS_ADDR=127.0.0.1:19190 \
  "$bin/talentmesh-bench" startup "$bin/talentmesh-gateway" http http://127.0.0.1:18190/readyz)

env "${gateway_env[@]}" TALENTMESH_GATEWAY_HTTP_ADDR=127.0.0.1:18180 TALENTMESH_METRICS_ADDR=127.0.0.1:19180 "$bin/talentmesh-gateway" >"$work/gateway.log" 2>&1 &
gateway_pid=$!
pids+=($gateway_pid)
"$bin/talentmesh-bench" handwritten 127.0.0.1:18181 "$service" >"$work/handwritten.log" 2>&1 &
handwritten_pid=$!
pids+=($handwritten_pid)
wait_until "bench gateway" "$work/gateway.log" 60 curl -fsS http://127.0.0.1:18180/v1/publicKeys -o /dev/null
wait_until "bench handwritten handler" "$work/handwritten.log" 60 curl -fsS http://127.0.0.1:18181/v1/publicKeys -o /dev/null

# CPU time (user + system) a process has used, in clock ticks.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# with_cpu PROXY_PID LOAD-COMMAND...: the load line, plus the CPU each request cost identity and
# the HTTP front (the gateway or the hand-written handler; none for direct gRPC), in µs.
with_cpu() {
  local proxy=$1 i0 p0=0 p1=0 out
  shift
  i0=$(ticks "$identity_pid")
  [[ -n $proxy ]] && p0=$(ticks "$proxy")
  out=$("$@")
  local i1
  i1=$(ticks "$identity_pid")
  [[ -n $proxy ]] && p1=$(ticks "$proxy")
  awk -v out="$out" -v di=$((i1 - i0)) -v dp=$((p1 - p0)) -v hz="$(getconf CLK_TCK)" 'BEGIN {
    n = out; sub(/.*requests=/, "", n); n += 0
    if (n == 0) n = 1
    printf "%s identity_us=%.1f proxy_us=%.1f\n", out, di * 1e6 / hz / n, dp * 1e6 / hz / n
  }'
}

# The paths take turns, round after round, so drift in the machine's speed (it is shared and
# virtual) hits all three alike; the table reports each path's median round.
rounds=${ROUNDS:-3}
declare -A runs=()
for ((r = 1; r <= rounds; r++)); do
  log "round $r/$rounds: (a) direct gRPC, (b) hand-written handler, (c) gateway; concurrency $concurrency, ${seconds}s each"
  runs[a$r]=$(with_cpu "" "$bin/talentmesh-bench" grpc 127.0.0.1:50151 "$concurrency" "$seconds")
  runs[b$r]=$(with_cpu "$handwritten_pid" "$bin/talentmesh-bench" http http://127.0.0.1:18181/v1/publicKeys "$concurrency" "$seconds")
  runs[c$r]=$(with_cpu "$gateway_pid" "$bin/talentmesh-bench" http http://127.0.0.1:18180/v1/publicKeys "$concurrency" "$seconds")
done

field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" <<<"$1"; }
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { if (y > 0) printf "%.3f", x / y; else print "n/a" }'; }
# The run of path $1 with the median throughput.
median_run() {
  local p=$1 r
  for ((r = 1; r <= rounds; r++)); do printf '%s %s\n' "$(field "${runs[$p$r]}" rps)" "$r"; done |
    sort -n | awk -v m=$(((rounds + 1) / 2)) 'NR == m { print $2 }'
}
a=${runs[a$(median_run a)]} b=${runs[b$(median_run b)]} c=${runs[c$(median_run c)]}
ra=$(field "$a" rps) rb=$(field "$b" rps) rc=$(field "$c" rps)
# The median of the per-round ratios too: each round's (b) and (c) ran back to back, so their
# ratio cancels most of the machine's drift between rounds.
round_ratio=$(for ((r = 1; r <= rounds; r++)); do ratio "$(field "${runs[c$r]}" rps)" "$(field "${runs[b$r]}" rps)"; echo; done |
  sort -n | awk -v m=$(((rounds + 1) / 2)) 'NR == m')
each_round=""
for ((r = 1; r <= rounds; r++)); do
  each_round+="| $r | $(field "${runs[a$r]}" rps) | $(field "${runs[b$r]}" rps) | $(field "${runs[c$r]}" rps) | $(ratio "$(field "${runs[c$r]}" rps)" "$(field "${runs[b$r]}" rps)") |"$'\n'
done

report=$(cat <<MD
# Benchmark results

Command: \`tests/bench/run.sh $concurrency $seconds\` (ROUNDS=$rounds) (release build, $(nproc) cores, load generator,
services and stores on the same machine). RPC: identity ListPublicKeys; REST: GET /v1/publicKeys.

Median of $rounds interleaved rounds of ${seconds}s each:

| path | throughput (req/s) | p50 (µs) | p99 (µs) | errors | CPU/request: HTTP front (µs) | CPU/request: identity (µs) |
|---|---|---|---|---|---|---|
| (a) direct gRPC | $ra | $(field "$a" p50_us) | $(field "$a" p99_us) | $(field "$a" errors) | – | $(field "$a" identity_us) |
| (b) hand-written axum handler | $rb | $(field "$b" p50_us) | $(field "$b" p99_us) | $(field "$b" errors) | $(field "$b" proxy_us) | $(field "$b" identity_us) |
| (c) gateway | $rc | $(field "$c" p50_us) | $(field "$c" p99_us) | $(field "$c" errors) | $(field "$c" proxy_us) | $(field "$c" identity_us) |

Ratios of the medians: (c)/(b) = $(ratio "$rc" "$rb") (target ≥ 0.95), (c)/(a) = $(ratio "$rc" "$ra").
Median of the per-round (c)/(b) ratios: $round_ratio.

CPU/request: the process's user + system CPU time over the run (\`/proc/PID/stat\`) divided by
the requests served. With every process on the same two cores, throughput follows total CPU
per request.

Serving models: the gateway runs its default \`TALENTMESH_GATEWAY_WORKERS\` ($(nproc)) single-threaded
workers, each handed whole connections and holding its own upstream connections; the hand-written
handler runs on \`axum::serve\` in tokio's default multi-threaded runtime. Both call identity
through the mesh's Consul-discovered channel.

| round | (a) req/s | (b) req/s | (c) req/s | (c)/(b) |
|---|---|---|---|---|
$each_round

| process | start to SERVING (ms, target ≤ 1000) | idle RSS (MB, target ≤ 50) |
|---|---|---|
$(for svc in identity company job resume sync; do
  printf '| %s | %s | %s |\n' "$svc" "$(field "${started[$svc]}" serving_ms)" "$(field "${started[$svc]}" rss_mb)"
done)
| gateway | $(field "$gateway_start" serving_ms) | $(field "$gateway_start" rss_mb) |

Measured $(date -u +%Y-%m-%d).
MD
)
echo "$report"
echo "$report" >"$here/RESULTS.md"

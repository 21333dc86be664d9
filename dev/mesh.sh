#!/usr/bin/env bash
# The talentmesh services as local processes, on top of the servers from servers.sh.
#
#   dev/mesh.sh up      build (release) and start identity, company, job, resume, sync and the
#                       gateway, wait until they serve
#   dev/mesh.sh down    SIGTERM them (they deregister from Consul and drain) and wait for exit
#   dev/mesh.sh status  one line per process
#
# Logs and pid files live in $TALENTMESH_DATA/mesh. The bootstrap admin's password is generated
# once and kept (mode 0600) in $TALENTMESH_DATA/mesh/admin-password; it is never printed.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO="$(cd "$TALENTMESH_DEV_DIR/.." && pwd)"
MESH_DIR="$TALENTMESH_DATA/mesh"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$TALENTMESH_CACHE/target}"
RELEASE_DIR="$CARGO_TARGET_DIR/release"
GATEWAY_ADDR="${TALENTMESH_GATEWAY_HTTP_ADDR:-127.0.0.1:18080}"
ADMIN_EMAIL="${TALENTMESH_IDENTITY_ADMIN_EMAIL:-admin@talentmesh.local}"

# name binary
# Started in this order (company and sync verify tokens with identity's keys), stopped in reverse.
PROCESSES=("identity talentmesh-identity" "company talentmesh-company" "job talentmesh-job"
  "resume talentmesh-resume" "sync talentmesh-sync" "gateway talentmesh-gateway")

build() {
  log "building the services (release; the first build takes a while)"
  (cd "$REPO" && cargo build --release --locked -p talentmesh-identity -p talentmesh-company \
    -p talentmesh-job -p talentmesh-resume -p talentmesh-sync -p talentmesh-gateway) ||
    die "cargo build failed"
}

admin_password() {
  local file="$MESH_DIR/admin-password"
  if [[ ! -s $file ]]; then
    # Random text plus a digit, so the password policy is met.
    (umask 077 && printf '%s9' "$(head -c 18 /dev/urandom | base64 | tr -d '/+=')" >"$file")
  fi
  cat "$file"
}

start_one() {
  local name=$1 bin=$2 pidfile="$MESH_DIR/$1.pid" logfile="$MESH_DIR/$1.log"
  if pid_alive "$pidfile"; then
    log "$name: already running (pid $(head -n1 "$pidfile"))"
    return 0
  fi
  log "$name: starting (log $logfile)"
  case $name in
  identity)
    TALENTMESH_IDENTITY_ADMIN_EMAIL="$ADMIN_EMAIL" \
      TALENTMESH_IDENTITY_ADMIN_PASSWORD="$(admin_password)" \
      setsid "$RELEASE_DIR/$bin" >>"$logfile" 2>&1 </dev/null &
    ;;
  company | job | resume | sync)
    setsid "$RELEASE_DIR/$bin" >>"$logfile" 2>&1 </dev/null &
    ;;
  gateway)
    TALENTMESH_GATEWAY_HTTP_ADDR="$GATEWAY_ADDR" \
      setsid "$RELEASE_DIR/$bin" >>"$logfile" 2>&1 </dev/null &
    ;;
  esac
  echo $! >"$pidfile"
}

# passing NAME: the service has an instance passing its health check in Consul.
passing() {
  curl -fsS "http://127.0.0.1:18500/v1/health/service/$1?passing=true" 2>/dev/null | grep -q '"ServiceID"'
}

gateway_ready() { curl -fsS "http://$GATEWAY_ADDR/readyz" >/dev/null 2>&1; }

up() {
  mkdir -p "$MESH_DIR"
  build
  start_one identity talentmesh-identity
  wait_until "identity (passing in consul)" "$MESH_DIR/identity.log" 60 passing identity
  start_one company talentmesh-company
  wait_until "company (passing in consul)" "$MESH_DIR/company.log" 90 passing company
  start_one job talentmesh-job
  wait_until "job (passing in consul)" "$MESH_DIR/job.log" 90 passing job
  start_one resume talentmesh-resume
  wait_until "resume (passing in consul)" "$MESH_DIR/resume.log" 90 passing resume
  start_one sync talentmesh-sync
  wait_until "sync (passing in consul)" "$MESH_DIR/sync.log" 60 passing sync
  start_one gateway talentmesh-gateway
  wait_until "gateway (/readyz)" "$MESH_DIR/gateway.log" 60 gateway_ready
  cat <<MSG

talentmesh is up.
  REST gateway   http://$GATEWAY_ADDR   (OpenAPI: http://$GATEWAY_ADDR/openapi.json)
  identity gRPC  127.0.0.1:50051        (reflection on; metrics http://127.0.0.1:51051/metrics)
  company gRPC   127.0.0.1:50052        (REST under /v1/companies, /v1/permissions; metrics http://127.0.0.1:51052/metrics)
  job gRPC       127.0.0.1:50053        (REST under /v1/companies/*/jobs, /v1/jobs:search; metrics http://127.0.0.1:51053/metrics)
  resume gRPC    127.0.0.1:50054        (REST under /v1/resumes; metrics http://127.0.0.1:51054/metrics)
  sync gRPC      127.0.0.1:50058        (admin only; REST under /v1/sync; metrics http://127.0.0.1:51058/metrics)
  Consul UI/API  http://127.0.0.1:18500
  admin account  $ADMIN_EMAIL, password in $MESH_DIR/admin-password
  logs           $MESH_DIR/*.log
MSG
}

down() {
  local entry name pid i
  # Reverse order: the gateway stops taking traffic before the services behind it go.
  for ((i = ${#PROCESSES[@]} - 1; i >= 0; i--)); do
    entry=${PROCESSES[i]}
    name=${entry%% *}
    local pidfile="$MESH_DIR/$name.pid"
    if pid_alive "$pidfile"; then
      pid=$(head -n1 "$pidfile")
      log "$name: stopping (pid $pid)"
      kill -TERM "$pid"
      wait_until "$name (stopping pid $pid)" "$MESH_DIR/$name.log" 30 bash -c "! kill -0 $pid"
    fi
    rm -f "$pidfile"
  done
}

status() {
  local entry name
  for entry in "${PROCESSES[@]}"; do
    name=${entry%% *}
    if pid_alive "$MESH_DIR/$name.pid"; then
      printf '%-9s up    pid %s\n' "$name" "$(head -n1 "$MESH_DIR/$name.pid")"
    else
      printf '%-9s down\n' "$name"
    fi
  done
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
*) die "usage: dev/mesh.sh up|down|status" ;;
esac

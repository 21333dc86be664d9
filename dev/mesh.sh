#!/usr/bin/env bash
# The talentmesh services as local processes, on top of the servers from servers.sh.
#
#   dev/mesh.sh up      build (release) and start every process services.tsv lists, in its
#                       order, waiting until each serves
#   dev/mesh.sh down    SIGTERM them (they deregister from Consul and drain) and wait for exit
#   dev/mesh.sh status  one line per process
#
# Logs and pid files live in $TALENTMESH_DATA/mesh. The bootstrap admin's password is generated
# once and kept (mode 0600) in $TALENTMESH_DATA/mesh/admin-password; it is never printed.
# Consul runs with ACLs (dev/servers.sh): each process gets its own token, read from
# $TALENTMESH_DATA/consul/tokens/<name>.token, as TALENTMESH_CONSUL_TOKEN; it may register only
# its own name. TALENTMESH_CONSUL_ADDR (default http://127.0.0.1:18500) points at another agent.
# Every process talks Connect-native mutual TLS with certificates from Consul's CA, under the
# intentions dev/servers.sh creates (TALENTMESH_MESH_TLS=connect, the default for a service in a
# mesh); exporting TALENTMESH_MESH_TLS=off before `up` runs the mesh in plaintext for debugging.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO="$(cd "$TALENTMESH_DEV_DIR/.." && pwd)"
MESH_DIR="$TALENTMESH_DATA/mesh"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$TALENTMESH_CACHE/target}"
RELEASE_DIR="$CARGO_TARGET_DIR/release"
GATEWAY_ADDR="${TALENTMESH_GATEWAY_HTTP_ADDR:-127.0.0.1:18080}"
ADMIN_EMAIL="${TALENTMESH_IDENTITY_ADMIN_EMAIL:-admin@talentmesh.local}"
CONSUL_ADDR="${TALENTMESH_CONSUL_ADDR:-http://127.0.0.1:18500}"
CONSUL_TOKENS="$TALENTMESH_DATA/consul/tokens"
export TALENTMESH_CONSUL_ADDR="$CONSUL_ADDR"

# The processes, from the one list (services.tsv at the repository root): "name binary kind port
# metrics", in start order (identity first: the others verify tokens with its keys).
PROCESSES=()
while IFS=$'\t' read -r name binary kind port metrics _; do
  [[ -z $name || $name == \#* ]] && continue
  PROCESSES+=("$name $binary $kind $port $metrics")
done <"$REPO/services.tsv"
((${#PROCESSES[@]} > 0)) || die "services.tsv lists no service"

build() {
  local entry packages=()
  for entry in "${PROCESSES[@]}"; do
    read -r _ binary _ <<<"$entry"
    packages+=(-p "$binary")
  done
  log "building the services (release; the first build takes a while)"
  (cd "$REPO" && cargo build --release --locked "${packages[@]}") || die "cargo build failed"
}

admin_password() {
  local file="$MESH_DIR/admin-password"
  if [[ ! -s $file ]]; then
    # Random text plus a digit, so the password policy is met.
    (umask 077 && printf '%s9' "$(head -c 18 /dev/urandom | base64 | tr -d '/+=')" >"$file")
  fi
  cat "$file"
}

# The key identity seals its signing keys with at rest: 32 random bytes, base64, made once and
# kept beside the mesh's other secrets (a deployment gives it from its secret store instead).
key_encryption_key() {
  local file="$MESH_DIR/identity-key-encryption-key"
  if [[ ! -s $file ]]; then
    (umask 077 && head -c 32 /dev/urandom | base64 >"$file")
  fi
  cat "$file"
}

# consul_token NAME: the Consul ACL token of service NAME (dev/servers.sh makes it).
consul_token() {
  local file="$CONSUL_TOKENS/$1.token"
  [[ -r $file ]] || die "$1: no Consul token in $file (run dev/servers.sh up consul)"
  cat "$file"
}

# store_credentials NAME: VAR=value lines giving service NAME its own user on each store
# (passwords made by dev/servers.sh, see store_password_file in lib.sh): TALENTMESH_MYSQL_URL,
# TALENTMESH_POSTGRES_URL, TALENTMESH_REDIS_URL, TALENTMESH_NEO4J_URI/_USER/_PASSWORD. A store
# with no password for it (servers from before credentials) keeps the service's defaults.
store_credentials() {
  local name=$1 pw
  if pw=$(stored_password mariadb "$name"); then
    printf 'TALENTMESH_MYSQL_URL=mysql://%s:%s@127.0.0.1:%s\n' "$name" "$pw" "$TALENTMESH_MARIADB_PORT"
  fi
  if pw=$(stored_password postgres "$name"); then
    printf 'TALENTMESH_POSTGRES_URL=postgres://%s:%s@127.0.0.1:%s/postgres\n' \
      "$name" "$pw" "$TALENTMESH_POSTGRES_PORT"
  fi
  if pw=$(stored_password redis "$name"); then
    printf 'TALENTMESH_REDIS_URL=redis://%s:%s@127.0.0.1:%s\n' "$name" "$pw" "$TALENTMESH_REDIS_PORT"
  fi
  if pw=$(stored_password neo4j "$name"); then
    printf 'TALENTMESH_NEO4J_URI=127.0.0.1:%s\nTALENTMESH_NEO4J_USER=%s\nTALENTMESH_NEO4J_PASSWORD=%s\n' \
      "$TALENTMESH_NEO4J_PORT" "$name" "$pw"
  fi
}

# stop_one NAME: SIGTERM its process (it deregisters and drains) and wait until it is gone.
stop_one() {
  local name=$1 pidfile="$MESH_DIR/$1.pid" pid
  if pid_alive "$pidfile"; then
    pid=$(head -n1 "$pidfile")
    log "$name: stopping (pid $pid)"
    kill -TERM "$pid"
    wait_until "$name (stopping pid $pid)" "$MESH_DIR/$name.log" 30 bash -c "! kill -0 $pid"
  fi
  rm -f "$pidfile"
}

start_one() {
  local name=$1 bin=$2 pidfile="$MESH_DIR/$1.pid" logfile="$MESH_DIR/$1.log"
  if pid_alive "$pidfile"; then
    # A binary built after the process started (its pid file) is new code: run it, or the
    # mesh would mix old services with a new gateway.
    if [[ $RELEASE_DIR/$bin -nt $pidfile ]]; then
      log "$name: rebuilt since it started; restarting"
      stop_one "$name"
    else
      log "$name: already running (pid $(head -n1 "$pidfile"))"
      return 0
    fi
  fi
  log "$name: starting (log $logfile)"
  # Exported for the child only: this function runs in the script's shell, and each service is
  # started with the token of its own name.
  local TALENTMESH_CONSUL_TOKEN
  TALENTMESH_CONSUL_TOKEN="$(consul_token "$name")"
  export TALENTMESH_CONSUL_TOKEN
  # The service's own store credentials, exported for the child only as well (local -x); they
  # go to the process's environment, never onto a command line or into the log.
  local credential
  while IFS= read -r credential; do
    local -x "$credential"
  done < <(store_credentials "$name")
  case $name in
  identity)
    TALENTMESH_IDENTITY_ADMIN_EMAIL="$ADMIN_EMAIL" \
      TALENTMESH_IDENTITY_ADMIN_PASSWORD="$(admin_password)" \
      TALENTMESH_IDENTITY_KEY_ENCRYPTION_KEY="$(key_encryption_key)" \
      TALENTMESH_IDENTITY_TRUSTED_PROXIES="${TALENTMESH_IDENTITY_TRUSTED_PROXIES:-127.0.0.1/32,::1/128}" \
      setsid "$RELEASE_DIR/$bin" >>"$logfile" 2>&1 </dev/null 4>&- &
    ;;
  gateway)
    TALENTMESH_GATEWAY_HTTP_ADDR="$GATEWAY_ADDR" \
      setsid "$RELEASE_DIR/$bin" >>"$logfile" 2>&1 </dev/null 4>&- &
    ;;
  *)
    setsid "$RELEASE_DIR/$bin" >>"$logfile" 2>&1 </dev/null 4>&- &
    ;;
  esac
  echo $! >"$pidfile"
}

# passing NAME: the service has an instance passing its health check in Consul (asked with that
# service's token, sent in a header read from a pipe so it never shows in ps).
passing() {
  curl -fsS -H @<(printf 'X-Consul-Token: %s\n' "$(consul_token "$1")") \
    "$CONSUL_ADDR/v1/health/service/$1?passing=true" 2>/dev/null | grep -q '"ServiceID"'
}

gateway_ready() { curl -fsS "http://$GATEWAY_ADDR/readyz" >/dev/null 2>&1; }

# running_and NAME CHECK...: CHECK passes. A process that exited while starting stops the wait
# at once, with the end of its log (backtrace frames left out, so its error line shows).
running_and() {
  local name=$1
  shift
  if ! pid_alive "$MESH_DIR/$name.pid"; then
    # fd 4 is up()'s stderr: wait_until sends the check's own output to /dev/null.
    {
      log "ERROR: $name exited while starting; its log: $MESH_DIR/$name.log"
      grep -Ev '^ +[0-9]+: |^ +at ' "$MESH_DIR/$name.log" | tail -n 20
    } >&4 2>&4
    exit 1
  fi
  "$@"
}

# The mesh's fixed ports (50051.., 51051..) lie in Linux's ephemeral range (32768-60999), so on a
# busy machine an outgoing connection may hold one just as a service wants to bind it. Reserving
# them keeps the kernel from handing them out; it needs root and a writable /proc/sys (skipped,
# with a note, otherwise; TALENTMESH_RESERVE_PORTS=0 skips it).
reserve_ports() {
  local file=/proc/sys/net/ipv4/ip_local_reserved_ports entry port metrics wanted=() current
  [[ ${TALENTMESH_RESERVE_PORTS:-1} != 0 ]] || return 0
  for entry in "${PROCESSES[@]}"; do
    read -r _ _ _ port metrics <<<"$entry"
    wanted+=("$port" "$metrics")
  done
  current=$(cat "$file" 2>/dev/null) || return 0
  local list
  list=$(printf '%s\n' "$current" "${wanted[@]}" | tr ',' '\n' | sed '/^$/d' | sort -u | paste -sd, -)
  [[ $list == "$current" ]] && return 0
  if ! { printf '%s\n' "$list" >"$file"; } 2>/dev/null; then
    log "mesh: could not reserve the mesh's ports in $file (not root?); a busy machine may take one first"
  fi
}

up() {
  local entry name binary kind port metrics
  mkdir -p "$MESH_DIR"
  reserve_ports
  build
  exec 4>&2
  for entry in "${PROCESSES[@]}"; do
    read -r name binary kind port metrics <<<"$entry"
    start_one "$name" "$binary"
    if [[ $kind == http ]]; then
      wait_until "$name (/readyz)" "$MESH_DIR/$name.log" 60 running_and "$name" gateway_ready
    else
      wait_until "$name (passing in consul)" "$MESH_DIR/$name.log" 90 \
        running_and "$name" passing "$name"
    fi
  done
  printf '\ntalentmesh is up.\n'
  for entry in "${PROCESSES[@]}"; do
    read -r name binary kind port metrics <<<"$entry"
    if [[ $kind == http ]]; then
      printf '  %-14s http://%s   (OpenAPI: http://%s/openapi.json; metrics http://127.0.0.1:%s/metrics)\n' \
        "REST $name" "$GATEWAY_ADDR" "$GATEWAY_ADDR" "$metrics"
    else
      printf '  %-14s 127.0.0.1:%s   (reflection on; metrics http://127.0.0.1:%s/metrics)\n' \
        "$name gRPC" "$port" "$metrics"
    fi
  done
  cat <<MSG
  Consul UI/API  $CONSUL_ADDR (ACLs on: management token in $TALENTMESH_DATA/consul/management.token)
  admin account  $ADMIN_EMAIL, password in $MESH_DIR/admin-password
  logs           $MESH_DIR/*.log
MSG
}

down() {
  local entry i
  # Reverse order: the gateway stops taking traffic before the services behind it go.
  for ((i = ${#PROCESSES[@]} - 1; i >= 0; i--)); do
    entry=${PROCESSES[i]}
    stop_one "${entry%% *}"
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

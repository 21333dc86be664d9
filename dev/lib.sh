# shellcheck shell=bash
# Shared helpers for the talentmesh dev scripts. Source it; do not run it.
#
#   TALENTMESH_CACHE  downloads and builds that live outside the repo
#                     (Consul build module, Neo4j jars/classes, tools in $TALENTMESH_CACHE/bin)
#   TALENTMESH_DATA   one folder per local server (mariadb, postgres, redis, neo4j, consul),
#                     each holding that server's data and its log
set -euo pipefail

TALENTMESH_CACHE="${TALENTMESH_CACHE:-/var/cache/talentmesh}"
TALENTMESH_DATA="${TALENTMESH_DATA:-/var/lib/talentmesh}"
TALENTMESH_BIN="$TALENTMESH_CACHE/bin"
export TALENTMESH_CACHE TALENTMESH_DATA TALENTMESH_BIN

# Folder holding these scripts (dev/ of the repo).
# shellcheck disable=SC2034  # used by the scripts that source this file
TALENTMESH_DEV_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# log MSG...  -- timestamped message on stderr (stdout stays free for data).
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# die MSG...  -- log an error and exit non-zero.
die() { log "ERROR: $*"; exit 1; }

# wait_until NAME LOGFILE TIMEOUT_SECONDS COMMAND...
# Polls COMMAND (output discarded) once a second until it succeeds. On timeout names the
# server that failed, the path of its log and the log's last 30 lines, then exits 1.
wait_until() {
  local name=$1 logfile=$2 timeout=$3
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      log "ERROR: $name did not become ready within ${timeout}s"
      log "$name log: $logfile"
      if [[ -r $logfile ]]; then
        log "last 30 lines of $logfile:"
        tail -n 30 "$logfile" >&2
      else
        log "(log file $logfile does not exist)"
      fi
      exit 1
    fi
    sleep 1
  done
}

# ensure_apt_packages PKG...
# Installs the packages that are not installed yet. Runs `apt-get update` at most once per
# shell, and only when something has to be installed. Waits for a concurrent apt/dpkg lock.
_TALENTMESH_APT_UPDATED=${_TALENTMESH_APT_UPDATED:-}
ensure_apt_packages() {
  local pkg missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  ((EUID == 0)) || die "need root to install: ${missing[*]}"
  local apt=(apt-get -q -o DPkg::Lock::Timeout=600)
  if [[ -z $_TALENTMESH_APT_UPDATED ]]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" update >&2
    _TALENTMESH_APT_UPDATED=1
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >&2
}

# have CMD... -- true when every command is on PATH.
have() {
  local c
  for c in "$@"; do command -v "$c" >/dev/null || return 1; done
}

# pid_alive PIDFILE -- true when PIDFILE names a running process.
pid_alive() {
  local pid
  [[ -s $1 ]] || return 1
  pid=$(head -n1 "$1" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}

# port_open PORT -- true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# Ports of the stores. Overridable, so a second set of servers can run beside the shared ones
# (with TALENTMESH_DATA pointing elsewhere), e.g. to try a change to servers.sh.
TALENTMESH_MARIADB_PORT="${TALENTMESH_MARIADB_PORT:-13306}"
TALENTMESH_POSTGRES_PORT="${TALENTMESH_POSTGRES_PORT:-15432}"
TALENTMESH_REDIS_PORT="${TALENTMESH_REDIS_PORT:-16379}"
TALENTMESH_NEO4J_PORT="${TALENTMESH_NEO4J_PORT:-17687}"
export TALENTMESH_MARIADB_PORT TALENTMESH_POSTGRES_PORT TALENTMESH_REDIS_PORT TALENTMESH_NEO4J_PORT

# store_password_file SERVER USER -- where servers.sh keeps USER's password on SERVER (mariadb,
# postgres, redis, neo4j): $TALENTMESH_DATA/<server>/passwords/<user>, mode 0600.
store_password_file() { printf '%s/%s/passwords/%s' "$TALENTMESH_DATA" "$1" "$2"; }

# stored_password SERVER USER -- prints the password when servers.sh made one; fails otherwise.
stored_password() {
  local file
  file=$(store_password_file "$1" "$2")
  [[ -s $file ]] && cat "$file"
}

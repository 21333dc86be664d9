#!/usr/bin/env bash
# Container images of the services, from the one Dockerfile at the repository root, built with
# buildah (no Docker engine needed) and named localhost/talentmesh/<name>:dev. See docs/images.md.
#
#   dev/image.sh tools                   install buildah and debootstrap (apt) and grpc-health-probe
#                                        (go install, pinned) into $TALENTMESH_CACHE/bin when missing
#   dev/image.sh base                    make the runtime base image locally when it is missing (below)
#   dev/image.sh build NAME [--prebuilt BINARY | --source]
#                                        build localhost/talentmesh/NAME:dev, NAME from services.tsv:
#                                        from BINARY (built on the host; target `prebuilt`); without
#                                        an option from a host release build (cargo build --release
#                                        -p talentmesh-NAME, then the same); with --source through the
#                                        Dockerfile's own builder stage (needs the rust:1-bookworm image)
#   dev/image.sh check                   the image test: builds identity's image from a host debug
#                                        build, checks it links nothing the image lacks (ldd), starts
#                                        its entrypoint under chroot in the mounted image as the
#                                        image's user against the local servers (its own MariaDB
#                                        database and Redis prefix, dropped after; no Consul), and
#                                        passes when grpc.health.v1 answers SERVING, the process runs
#                                        as uid 65532 and it stops cleanly on SIGTERM. Cleans up
#                                        (service, mount, container, database, keys) on any exit.
#
# The base: the Dockerfile runs on docker.io/library/debian:bookworm-slim. Where that cannot be
# pulled, `base` builds Debian 12 with `debootstrap --variant=minbase` from Debian's packages,
# trims it the way the slim image is trimmed, keeps the tarball in $TALENTMESH_CACHE/image and
# stores it under that public name, so the Dockerfile stays the same everywhere. With
# TALENTMESH_IMAGE_PULL_BASE=1 the real image is pulled instead.
#
# Builds use `buildah bud --isolation chroot` (what works inside this sandbox; `podman run` does
# not) with layer caching, so the apt step of the runtime stage is done once per machine.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO="$(cd "$TALENTMESH_DEV_DIR/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$TALENTMESH_CACHE/target}"
IMAGE_CACHE="$TALENTMESH_CACHE/image"
BASE_IMAGE=docker.io/library/debian:bookworm-slim
BASE_SUITE=bookworm
BASE_TARBALL="$IMAGE_CACHE/debian-$BASE_SUITE-minbase.tar.gz"
DEBIAN_MIRROR="${TALENTMESH_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
GRPC_HEALTH_PROBE_VERSION=v0.4.62
# The user the Dockerfile makes and every image runs as (the Helm chart's runAsUser).
IMAGE_UID=65532

# --- cleanup: steps registered as they become needed, run in reverse on any exit.
CLEANUP=()
on_exit() {
  local rc=$? i
  for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do
    eval "${CLEANUP[i]}" || log "cleanup step failed: ${CLEANUP[i]}"
  done
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# services_field NAME COLUMN: a column of NAME's services.tsv line (1 name, 2 binary, 4 port,
# 5 metrics port); fails when NAME is not listed.
services_field() {
  awk -F'\t' -v n="$1" -v c="$2" '$1 == n && $1 !~ /^#/ { print $c; found = 1 } END { exit !found }' \
    "$REPO/services.tsv"
}

known_service() {
  services_field "$1" 1 >/dev/null ||
    die "$1: not a service of services.tsv ($(awk -F'\t' '$1 !~ /^#/ && NF { print $1 }' "$REPO/services.tsv" | paste -sd' '))"
}

# --- tools

install_tools() {
  ensure_apt_packages buildah debootstrap binutils
  local bin="$TALENTMESH_BIN/grpc-health-probe" have_version=""
  if [[ -x $bin ]]; then
    # The module version recorded in the binary (`-version` prints nothing useful for go install).
    have_version=$(go version -m "$bin" 2>/dev/null | awk '$1 == "mod" { print $3 }') || true
  fi
  if [[ $have_version != "$GRPC_HEALTH_PROBE_VERSION" ]]; then
    have go || die "grpc-health-probe: the Go toolchain is needed to build it"
    log "grpc-health-probe: go install github.com/grpc-ecosystem/grpc-health-probe@$GRPC_HEALTH_PROBE_VERSION"
    mkdir -p "$TALENTMESH_BIN"
    GOBIN="$TALENTMESH_BIN" go install \
      "github.com/grpc-ecosystem/grpc-health-probe@$GRPC_HEALTH_PROBE_VERSION" >&2 ||
      die "grpc-health-probe: go install failed"
  fi
}

# --- base image

image_exists() { buildah inspect --type image "$1" >/dev/null 2>&1; }

# slim ROOTFS: what the official slim image leaves out (docs, man pages, locales, apt lists and
# caches) removed, and dpkg told to keep leaving them out; apt sources as the official image has.
slim() {
  local root=$1
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  # No translations in `apt-get update` (the slim image's setting).
  printf 'Acquire::Languages "none";\n' >"$root/etc/apt/apt.conf.d/docker-no-languages"
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: $BASE_SUITE $BASE_SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${DEBIAN_MIRROR%/debian}/debian-security
Suites: $BASE_SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$root"/usr/share/{info,man,groff,lintian,linda,locale}/* \
    "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/var/log/* "$root"/tmp/* \
    "$root/etc/resolv.conf" "$root/etc/hostname"
  : >"$root/etc/machine-id"
}

# make_base_tarball: debootstrap into a temporary folder, slim it, keep the tarball.
make_base_tarball() {
  local rootfs
  mkdir -p "$IMAGE_CACHE"
  rootfs=$(mktemp -d "$IMAGE_CACHE/rootfs.XXXXXX")
  CLEANUP+=("rm -rf '$rootfs'")
  log "base: debootstrap --variant=minbase $BASE_SUITE from $DEBIAN_MIRROR (about a minute)"
  debootstrap --variant=minbase "$BASE_SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$IMAGE_CACHE/debootstrap.log" 2>&1 ||
    die "base: debootstrap failed (log: $IMAGE_CACHE/debootstrap.log)"
  slim "$rootfs"
  tar --numeric-owner --xattrs -C "$rootfs" -czf "$BASE_TARBALL.tmp" . ||
    die "base: could not write $BASE_TARBALL"
  mv "$BASE_TARBALL.tmp" "$BASE_TARBALL"
  rm -rf "$rootfs"
}

# ensure_base: the runtime base image under its public name, made once.
ensure_base() {
  image_exists "$BASE_IMAGE" && return 0
  if [[ ${TALENTMESH_IMAGE_PULL_BASE:-0} == 1 ]]; then
    log "base: pulling $BASE_IMAGE"
    buildah pull "$BASE_IMAGE" >&2 || die "base: could not pull $BASE_IMAGE"
    return 0
  fi
  [[ -s $BASE_TARBALL ]] || make_base_tarball
  log "base: importing $BASE_TARBALL as $BASE_IMAGE"
  local ctr mnt
  ctr=$(buildah from scratch)
  CLEANUP+=("buildah rm '$ctr' >/dev/null 2>&1 || true")
  mnt=$(buildah mount "$ctr")
  tar --numeric-owner --xattrs -C "$mnt" -xzf "$BASE_TARBALL" || die "base: could not unpack $BASE_TARBALL"
  buildah umount "$ctr" >/dev/null
  buildah config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd '["bash"]' \
    --label io.talentmesh.base="debootstrap --variant=minbase $BASE_SUITE (dev/image.sh)" \
    "$ctr"
  buildah commit --quiet --rm "$ctr" "$BASE_IMAGE" >/dev/null || die "base: commit failed"
}

# --- build

# stage BINARY NAME: a build context folder holding only talentmesh-NAME (a copy of BINARY with
# its debug sections compressed, as the Dockerfile's builder stage does); prints its path.
stage() {
  local binary=$1 name=$2 dir="$IMAGE_CACHE/context/$2"
  [[ -f $binary && -x $binary ]] || die "$binary: not an executable file"
  rm -rf "$dir"
  mkdir -p "$dir"
  objcopy --compress-debug-sections=zlib "$binary" "$dir/talentmesh-$name" 2>/dev/null ||
    cp "$binary" "$dir/talentmesh-$name"
  printf '%s\n' "$dir"
}

revision() { git -C "$REPO" rev-parse HEAD 2>/dev/null || echo unknown; }

# build NAME [--prebuilt BINARY | --source]: builds localhost/talentmesh/NAME:dev.
build() {
  local name=${1:-} mode=host binary="" tag
  [[ -n $name ]] || die "usage: dev/image.sh build NAME [--prebuilt BINARY | --source]"
  shift
  known_service "$name"
  case "$#:${1:-}" in
  2:--prebuilt)
    mode=prebuilt
    binary=$2
    ;;
  1:--source) mode=source ;;
  0:) ;;
  *) die "usage: dev/image.sh build NAME [--prebuilt BINARY | --source]" ;;
  esac
  install_tools
  ensure_base
  tag="localhost/talentmesh/$name:dev"
  # The image this build replaces, removed after it unless something still uses it, so repeated
  # builds do not fill the disk with untagged images (the layer cache is kept).
  local previous
  previous=$(buildah inspect --type image --format '{{.FromImageID}}' "$tag" 2>/dev/null) || previous=""
  local args=(bud --isolation chroot --layers -f "$REPO/Dockerfile"
    --build-arg "SERVICE=$name" --build-arg "REVISION=$(revision)" -t "$tag")
  if [[ $mode == source ]]; then
    log "$name: building $tag from source (builder stage on the Rust image)"
    buildah "${args[@]}" --target image "$REPO" >&2 || die "$name: image build failed"
  else
    if [[ $mode == host ]]; then
      log "$name: cargo build --release -p talentmesh-$name"
      (cd "$REPO" && cargo build --release --locked -p "talentmesh-$name" --bin "talentmesh-$name") ||
        die "$name: cargo build failed"
      binary="$CARGO_TARGET_DIR/release/talentmesh-$name"
    fi
    local context
    context=$(stage "$binary" "$name")
    log "$name: building $tag from $binary"
    # --pull-never: the base is local (ensure_base), nothing is fetched.
    buildah "${args[@]}" --pull-never --target prebuilt "$context" >&2 || die "$name: image build failed"
    rm -rf "$context"
  fi
  local id
  id=$(buildah inspect --type image --format '{{.FromImageID}}' "$tag")
  if [[ -n $previous && $previous != "$id" ]]; then
    buildah rmi "$previous" >/dev/null 2>&1 || true
  fi
  log "$name: built $tag (${id:0:12})"
}

# --- check

# free_port: a TCP port nothing listens on now (the kernel's pick, released at once).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# image_config IMAGE GO-TEMPLATE: one field of the image's OCI config.
image_config() { buildah inspect --type image --format "$2" "$1"; }

# The service the check starts: identity needs only MariaDB and Redis (no Postgres, Neo4j or
# upstream services) and starts without Consul, so one process shows the image works.
CHECK_SERVICE=identity

check() {
  local name=$CHECK_SERVICE started=$SECONDS
  install_tools
  ensure_base

  log "check: cargo build -p talentmesh-$name (debug)"
  (cd "$REPO" && cargo build --locked -p "talentmesh-$name" --bin "talentmesh-$name") ||
    die "check: cargo build failed"
  build "$name" --prebuilt "$CARGO_TARGET_DIR/debug/talentmesh-$name"
  local image="localhost/talentmesh/$name:dev"

  # The image's own user and entrypoint, as a container runtime would read them.
  local user entrypoint env_lines
  user=$(image_config "$image" '{{.OCIv1.Config.User}}')
  [[ $user == "$IMAGE_UID:$IMAGE_UID" ]] || die "check: image user is '$user', want $IMAGE_UID:$IMAGE_UID"
  entrypoint=$(image_config "$image" '{{range .OCIv1.Config.Entrypoint}}{{.}} {{end}}')
  entrypoint=${entrypoint% }
  [[ -n ${entrypoint// /} ]] || die "check: image has no entrypoint"
  env_lines=$(image_config "$image" '{{range .OCIv1.Config.Env}}{{println .}}{{end}}')

  local ctr mnt
  ctr=$(buildah from --pull-never "$image")
  CLEANUP+=("buildah rm '$ctr' >/dev/null 2>&1 || true")
  mnt=$(buildah mount "$ctr")
  CLEANUP+=("buildah umount '$ctr' >/dev/null 2>&1 || true")
  # The service runs from a read-only view of the image with a tmpfs on /tmp, as under the Helm
  # chart's readOnlyRootFilesystem and its /tmp emptyDir.
  local root
  root=$(mktemp -d "$IMAGE_CACHE/root.XXXXXX")
  CLEANUP+=("rmdir '$root'")
  mount --bind "$mnt" "$root"
  CLEANUP+=("umount '$root'")
  mount -o remount,ro,bind "$root"
  mount -t tmpfs -o size=64m,mode=1777 tmpfs "$root/tmp"
  CLEANUP+=("umount '$root/tmp'")

  # Everything the binary links must be in the image.
  local links
  links=$(chroot "$root" /usr/bin/ldd "/usr/local/bin/talentmesh-$name" 2>&1) ||
    die "check: ldd failed in the image: $links"
  if grep -q 'not found' <<<"$links"; then
    die "check: the image lacks libraries the binary links: $(grep 'not found' <<<"$links" | tr -s ' \t\n' ' ')"
  fi
  log "check: links $(awk '$1 !~ /vdso/ { printf "%s ", $1 }' <<<"$links")- all in the image"

  # The stores: its own MariaDB database and Redis key prefix as the admins, dropped after.
  local suffix mysql_pw redis_pw
  suffix="imgcheck_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  mysql_pw=$(stored_password mariadb root) || mysql_pw=""
  redis_pw=$(stored_password redis admin) || redis_pw=""
  local mysql_url="mysql://root@127.0.0.1:$TALENTMESH_MARIADB_PORT"
  [[ -z $mysql_pw ]] || mysql_url="mysql://root:$mysql_pw@127.0.0.1:$TALENTMESH_MARIADB_PORT"
  local redis_url="redis://127.0.0.1:$TALENTMESH_REDIS_PORT"
  [[ -z $redis_pw ]] || redis_url="redis://admin:$redis_pw@127.0.0.1:$TALENTMESH_REDIS_PORT"
  CLEANUP+=("drop_stores '$suffix'")

  local grpc_port metrics_port logfile="$IMAGE_CACHE/check-$name.log" pid
  grpc_port=$(free_port)
  metrics_port=$(free_port)
  mkdir -p "$IMAGE_CACHE"
  # The image's environment, then the service's: stores, ports, no Consul (registration off).
  local vars=()
  while IFS= read -r line; do [[ -n $line ]] && vars+=("$line"); done <<<"$env_lines"
  vars+=(
    "TALENTMESH_GRPC_ADDR=127.0.0.1:$grpc_port"
    "TALENTMESH_METRICS_ADDR=127.0.0.1:$metrics_port"
    "TALENTMESH_CONSUL_ADDR="
    "TALENTMESH_MYSQL_URL=$mysql_url"
    "TALENTMESH_MYSQL_DATABASE=talentmesh_$suffix"
    "TALENTMESH_REDIS_URL=$redis_url"
    "TALENTMESH_REDIS_PREFIX=$suffix:"
    "TALENTMESH_IDENTITY_KEY_ENCRYPTION_KEY=$(head -c 32 /dev/urandom | base64)"
  )
  log "check: starting '$entrypoint' under chroot (read-only root, tmpfs /tmp) as $user (gRPC 127.0.0.1:$grpc_port, log $logfile)"
  # In a subshell that keeps none of this shell's environment and exports exactly the image's and
  # the service's variables (with `export`, a builtin: the passwords never reach an argv), then
  # execs setsid, which execs chroot, which execs the entrypoint: $! is the service itself.
  (
    # shellcheck disable=SC2046  # one name per word
    unset $(compgen -e) 2>/dev/null || true
    for line in "${vars[@]}"; do export "${line?}"; done
    # shellcheck disable=SC2086  # the entrypoint is split into its words on purpose
    exec /usr/bin/setsid /usr/sbin/chroot --userspec="$user" "$root" $entrypoint
  ) >"$logfile" 2>&1 </dev/null &
  pid=$!
  CLEANUP+=("stop_service $pid")

  local probe="$TALENTMESH_BIN/grpc-health-probe" deadline=$((SECONDS + 90)) answer=""
  until answer=$("$probe" -addr="127.0.0.1:$grpc_port" -connect-timeout=1s -rpc-timeout=2s 2>&1) &&
    [[ $answer == "status: SERVING" ]]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$logfile" >&2
      die "check: $name exited before serving (log $logfile)"
    fi
    ((SECONDS < deadline)) || { tail -n 30 "$logfile" >&2; die "check: $name not SERVING within 90s: $answer"; }
    sleep 0.5
  done
  log "check: grpc.health.v1 on 127.0.0.1:$grpc_port says: $answer"

  # The serving process is the image's binary, run as the image's user.
  local exe uids gids
  exe=$(readlink "/proc/$pid/exe")
  [[ $exe == "$root/usr/local/bin/talentmesh-$name" ]] || die "check: pid $pid runs $exe, not the image's binary"
  uids=$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "/proc/$pid/status")
  gids=$(awk '$1 == "Gid:" { print $2, $3, $4, $5 }' "/proc/$pid/status")
  [[ $uids == "$IMAGE_UID $IMAGE_UID $IMAGE_UID $IMAGE_UID" ]] || die "check: process uids are '$uids', want $IMAGE_UID"
  [[ $gids == "$IMAGE_UID $IMAGE_UID $IMAGE_UID $IMAGE_UID" ]] || die "check: process gids are '$gids', want $IMAGE_UID"
  log "check: pid $pid runs the image's talentmesh-$name with uid and gid $IMAGE_UID"

  curl -fsS -o /dev/null "http://127.0.0.1:$metrics_port/metrics" ||
    die "check: no /metrics on 127.0.0.1:$metrics_port"

  # A clean stop on SIGTERM, as a container runtime sends it.
  kill -TERM "$pid"
  deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    ((SECONDS < deadline)) || die "check: $name still running 30s after SIGTERM"
    sleep 0.2
  done
  wait "$pid" || die "check: $name exited with status $? after SIGTERM (log $logfile)"
  log "check: passed in $((SECONDS - started))s ($image)"
}

# stop_service PID: SIGTERM, then SIGKILL after 10 s, if still running.
stop_service() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# drop_stores SUFFIX: removes the check's MariaDB database and Redis keys.
drop_stores() {
  local suffix=$1 pw
  pw=$(stored_password mariadb root) || pw=""
  MYSQL_PWD=$pw mariadb --no-defaults -h 127.0.0.1 -P "$TALENTMESH_MARIADB_PORT" -u root \
    -e "DROP DATABASE IF EXISTS talentmesh_$suffix" ||
    log "could not drop MariaDB database talentmesh_$suffix"
  pw=$(stored_password redis admin) || pw=""
  local rcli=(redis-cli --no-auth-warning -h 127.0.0.1 -p "$TALENTMESH_REDIS_PORT")
  [[ -z $pw ]] || rcli+=(--user admin)
  REDISCLI_AUTH=$pw "${rcli[@]}" --scan --pattern "$suffix:*" |
    while IFS= read -r key; do REDISCLI_AUTH=$pw "${rcli[@]}" unlink "$key" >/dev/null; done ||
    log "could not remove Redis keys $suffix:*"
}

case "${1:-}" in
tools) install_tools ;;
base)
  install_tools
  ensure_base
  ;;
build)
  shift
  build "$@"
  ;;
check) check ;;
*) die "usage: dev/image.sh tools | base | build NAME [--prebuilt BINARY | --source] | check" ;;
esac

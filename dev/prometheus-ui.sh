#!/usr/bin/env bash
# Prometheus with its web UI, for the local mesh. dev/prometheus.sh builds Prometheus from its Go
# module, which carries no UI assets (they are an npm build), so its / only says the UI is not
# built. This script does what Prometheus' own release build does (`make build`: assets,
# assets-compress, then the Go build with the tags netgo,builtinassets) on a copy of the same
# module version:
#
#   dev/prometheus-ui.sh build   build when missing; prints the binary's path
#                                ($TALENTMESH_CACHE/bin/prometheus-ui-<version>)
#   dev/prometheus-ui.sh path    prints that path when it is built for the pinned version,
#                                fails (silently) otherwise; dev/prometheus.sh uses it
#   dev/prometheus-ui.sh check   build, start it on a free loopback port against a config that
#                                scrapes itself, and load /query in headless Chromium: the page
#                                must render the result of `up`; leaves query.png (screenshot)
#                                in $TALENTMESH_CACHE/prometheus-ui-check
#
# The build, step by step (the module's Makefile, web/ui/build_ui.sh, scripts/compress_assets.sh):
#   1. The module source (from the Go module cache, read-only) is copied to a work folder.
#   2. web/ui is a pnpm workspace (mantine-ui, module/codemirror-promql, module/lezer-promql)
#      with a pnpm lockfile. pnpm, pinned, is installed there from the npm registry.
#   3. `pnpm install` with the lockfile, changed as little as needed (see LOCKFILE FIX below),
#      then `pnpm run build:mantine-ui` (the Makefile's BUILD_UI=mantine): the two modules, then
#      the UI into web/ui/static/mantine-ui. The old UI (react-app, --enable-feature=old-ui,
#      its own lockfile) is not built.
#   4. scripts/compress_assets.sh gzips the assets and writes web/ui/embed.go (//go:embed).
#   5. go build -tags netgo,builtinassets plus dev/prometheus.sh's discovery tags, with the
#      version ldflags of the module's .promu.yml.
# The work folder, pnpm and its store are removed after a build: what stays is the binary
# (about 75 MB) and its stamp. The Go build cache is Go's own (GOCACHE).
#
# Needs Go, Node.js >= 20.19 (Vite 8) with npm, and the npm registry and Go module proxy.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The Prometheus module version: the same as dev/prometheus.sh's PROMETHEUS_VERSION. Tags
# v0.<major><minor>.<patch> are Prometheus <major>.<minor>.<patch>: v0.316.0 is 3.16.0.
PROMETHEUS_MODULE=github.com/prometheus/prometheus
PROMETHEUS_UI_VERSION=v0.316.0
# Service discovery as in dev/prometheus.sh (only Consul), plus the release build's tags.
PROMETHEUS_UI_TAGS=netgo,builtinassets,remove_all_sd,enable_consul_sd
# pnpm, from the npm registry. The lockfile is lockfileVersion 9 with pnpm 11+ settings in
# pnpm-workspace.yaml (allowBuilds, minimumReleaseAgeStrict); the module's CI takes any pnpm <13.
PNPM_VERSION=12.4.2

# LOCKFILE FIX. The lockfile of v0.316.0 pins @mantine/code-highlight 9.7.2, which the npm
# registry reachable here does not serve (its newest is 9.6.2; the other @mantine packages have
# 9.7.2). pnpm then stops before installing anything:
#   ERR_PNPM_MINIMUM_RELEASE_AGE_VIOLATION ... @mantine/code-highlight@9.7.2 could not be checked
#   against minimumReleaseAge (version not present in registry manifest)
# The fix, in the copied pnpm-workspace.yaml: an override to 9.6.2, and 9.7.2 added to
# minimumReleaseAgeExclude (the policy check reads the old lockfile before the override
# applies). pnpm re-resolves with the lockfile as the preference; the build then checks that
# the set of packages in the new lockfile differs from the original by exactly that one entry.
# code-highlight 9.6.2 names @mantine/core and hooks 9.6.2 as peers and gets 9.7.2 (a peer
# warning; it only highlights the config page).
LOCK_MISSING='@mantine/code-highlight@9.7.2'
LOCK_OVERRIDE_NAME='@mantine/code-highlight'
LOCK_OVERRIDE_VERSION=9.6.2

# 3.16.0 from v0.316.0.
prometheus_release() {
  local v=${PROMETHEUS_UI_VERSION#v0.} mm patch
  mm=${v%%.*}
  patch=${v#*.}
  printf '%s.%s.%s' "${mm:0:1}" "$((10#${mm:1}))" "$patch"
}

RELEASE=$(prometheus_release)
BIN="$TALENTMESH_BIN/prometheus-ui-$RELEASE"
STAMP="$PROMETHEUS_UI_VERSION $PROMETHEUS_UI_TAGS pnpm@$PNPM_VERSION $LOCK_OVERRIDE_NAME@$LOCK_OVERRIDE_VERSION"
WORK="$TALENTMESH_CACHE/prometheus-ui"

built() { [[ -x $BIN && -f $BIN.version && $(<"$BIN.version") == "$STAMP" ]]; }

# Node.js must be at least 20.19 (Vite 8's engines: ^20.19.0 || >=22.12.0).
check_node() {
  have node npm || die "prometheus-ui: Node.js and npm are needed to build the web UI"
  local v major minor
  v=$(node --version)
  v=${v#v}
  major=${v%%.*}
  minor=${v#*.}
  minor=${minor%%.*}
  if ! ((major == 20 && minor >= 19 || major == 22 && minor >= 12 || major >= 23)); then
    die "prometheus-ui: Node.js $v is too old for Vite 8 (needs ^20.19 or >=22.12)"
  fi
}

# The package keys (name@version) of a pnpm lockfile's `packages:` section, sorted.
lock_packages() {
  awk '/^packages:/ { p = 1; next } /^[^ ]/ { p = 0 } p && /^  [^ ]/ { print }' "$1" | sort
}

# pnpm-workspace.yaml with the LOCKFILE FIX applied (in place).
apply_lockfile_fix() {
  local ui=$1
  grep -qF "'$LOCK_MISSING':" "$ui/pnpm-lock.yaml" ||
    die "prometheus-ui: the lockfile no longer pins $LOCK_MISSING: revisit the LOCKFILE FIX in $0"
  if ! grep -q '^minimumReleaseAgeExclude:' "$ui/pnpm-workspace.yaml" ||
    grep -q '^overrides:' "$ui/pnpm-workspace.yaml"; then
    die "prometheus-ui: pnpm-workspace.yaml changed shape: revisit the LOCKFILE FIX in $0"
  fi
  sed -i "/^minimumReleaseAgeExclude:/a\\  - '$LOCK_MISSING'" "$ui/pnpm-workspace.yaml"
  printf "overrides:\n  '%s': %s\n" "$LOCK_OVERRIDE_NAME" "$LOCK_OVERRIDE_VERSION" \
    >>"$ui/pnpm-workspace.yaml"
}

build_binary() {
  check_node
  have go || die "prometheus-ui: the Go toolchain is needed to build Prometheus"
  have gzip jq || ensure_apt_packages gzip jq

  local src mod_dir mod_time
  log "prometheus-ui: building Prometheus $RELEASE with its web UI (first time: about 4 minutes)"
  rm -rf "$WORK/build"
  mkdir -p "$WORK/build" "$TALENTMESH_BIN"
  src="$WORK/build/prometheus"

  # 1. The module source, downloaded to the module cache when missing.
  local info
  info=$(cd "$WORK" && go mod download -json "$PROMETHEUS_MODULE@$PROMETHEUS_UI_VERSION") ||
    die "prometheus-ui: go mod download $PROMETHEUS_MODULE@$PROMETHEUS_UI_VERSION failed"
  mod_dir=$(jq -r .Dir <<<"$info")
  # The tag's time (release builds stamp their build date).
  mod_time=$(jq -r '.Time // empty' "$(jq -r .Info <<<"$info")" 2>/dev/null || true)
  [[ -d $mod_dir ]] || die "prometheus-ui: no module source at $mod_dir"
  cp -r "$mod_dir" "$src"
  chmod -R u+w "$src"

  # 2. pnpm, pinned, with its cache, store and state in the work folder.
  log "prometheus-ui: npm install pnpm@$PNPM_VERSION"
  npm install --prefix "$WORK/build/pnpm" --no-save --no-audit --no-fund --loglevel=error \
    "pnpm@$PNPM_VERSION" >&2 || die "prometheus-ui: npm install pnpm@$PNPM_VERSION failed"
  local pnpm_path="$WORK/build/pnpm/node_modules/.bin"
  [[ $("$pnpm_path/pnpm" --version) == "$PNPM_VERSION" ]] ||
    die "prometheus-ui: pnpm $PNPM_VERSION did not install"
  export PATH="$pnpm_path:$PATH"
  export pnpm_config_store_dir="$WORK/build/pnpm-store"
  export pnpm_config_cache_dir="$WORK/build/pnpm-cache"
  export pnpm_config_state_dir="$WORK/build/pnpm-state"
  export pnpm_config_update_notifier=false

  # 3. Dependencies (the LOCKFILE FIX) and the UI build.
  local ui="$src/web/ui"
  cp "$ui/pnpm-lock.yaml" "$WORK/build/pnpm-lock.orig.yaml"
  apply_lockfile_fix "$ui"
  log "prometheus-ui: pnpm install (lockfile + override $LOCK_OVERRIDE_NAME@$LOCK_OVERRIDE_VERSION; log $WORK/build/pnpm-install.log)"
  (cd "$ui" && CI=true nice -n 10 pnpm install --no-frozen-lockfile) >"$WORK/build/pnpm-install.log" 2>&1 || {
    tail -n 30 "$WORK/build/pnpm-install.log" >&2
    die "prometheus-ui: pnpm install failed (log $WORK/build/pnpm-install.log)"
  }
  local changed expected
  changed=$(diff <(lock_packages "$WORK/build/pnpm-lock.orig.yaml") <(lock_packages "$ui/pnpm-lock.yaml") |
    sed -n 's/^\([<>]\) *\(.*\):$/\1 \2/p' | tr -d "'" | paste -sd' ') || true
  expected="< $LOCK_MISSING > $LOCK_OVERRIDE_NAME@$LOCK_OVERRIDE_VERSION"
  [[ $changed == "$expected" ]] ||
    die "prometheus-ui: pnpm changed more of the lockfile than the override: '$changed' (expected '$expected')"
  log "prometheus-ui: pnpm run build:mantine-ui (log $WORK/build/ui-build.log)"
  (cd "$ui" && CI="" nice -n 10 pnpm run build:mantine-ui) >"$WORK/build/ui-build.log" 2>&1 || {
    tail -n 30 "$WORK/build/ui-build.log" >&2
    die "prometheus-ui: the UI build failed (log $WORK/build/ui-build.log)"
  }
  [[ -s $ui/static/mantine-ui/index.html ]] || die "prometheus-ui: the UI build left no static/mantine-ui/index.html"

  # 4. Compressed assets and web/ui/embed.go, as the release build makes them.
  (cd "$src" && bash scripts/compress_assets.sh) >&2 || die "prometheus-ui: compress_assets.sh failed"

  # 5. The binary. GOWORK=off: the module's go.work names folders a module copy does not have.
  local v=github.com/prometheus/common/version date
  date=$(date -u -d "$mod_time" +%Y%m%d-%H:%M:%S 2>/dev/null || echo unknown)
  log "prometheus-ui: go build -tags $PROMETHEUS_UI_TAGS ./cmd/prometheus (first time: several minutes)"
  (cd "$src" && GOWORK=off nice -n 10 go build -trimpath -buildvcs=false -tags "$PROMETHEUS_UI_TAGS" \
    -ldflags "-X $v.Version=$RELEASE -X $v.Revision=$PROMETHEUS_UI_VERSION -X $v.Branch=module -X $v.BuildUser=talentmesh -X $v.BuildDate=$date" \
    -o "$BIN.tmp" ./cmd/prometheus) >&2 || die "prometheus-ui: go build failed"
  mv "$BIN.tmp" "$BIN"
  echo "$STAMP" >"$BIN.version"
  rm -rf "$WORK/build"
  log "prometheus-ui: built $BIN"
}

cmd_build() {
  mkdir -p "$WORK"
  (
    # One build at a time; a second caller waits, then finds the binary.
    flock 9
    built || build_binary
  ) 9>"$WORK/.lock"
  built || die "prometheus-ui: no binary at $BIN"
  printf '%s\n' "$BIN"
}

cmd_path() {
  built || exit 1
  printf '%s\n' "$BIN"
}

# ---------------------------------------------------------------- check
CHECK_DIR="$TALENTMESH_CACHE/prometheus-ui-check"
CHECK_PID=

check_cleanup() {
  if [[ -n $CHECK_PID ]] && kill -0 "$CHECK_PID" 2>/dev/null; then
    kill -TERM "$CHECK_PID"
    wait "$CHECK_PID" 2>/dev/null || true
  fi
  rm -rf "$CHECK_DIR/data" "$CHECK_DIR/chromium" "$CHECK_DIR/profile"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# chromium_run ARGS... URL -- headless Chromium with its profile, config and cache in the check
# folder (removed afterwards), not in $HOME.
chromium_run() {
  XDG_CONFIG_HOME="$CHECK_DIR/chromium/config" XDG_CACHE_HOME="$CHECK_DIR/chromium/cache" \
    timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --user-data-dir="$CHECK_DIR/profile" --virtual-time-budget=5000 "$@" 2>>"$CHECK_DIR/chromium.log"
}

# The rendered /query page shows the series of `up` for Prometheus' own target.
query_page_ok() {
  chromium_run --dump-dom "$1" >"$CHECK_DIR/query.html" || return 1
  sed -e 's/<[^>]*>//g' "$CHECK_DIR/query.html" | grep -qF "up{instance=\"127.0.0.1:$2\", job=\"self\"}"
}

cmd_check() {
  local bin port url deadline
  bin=$(cmd_build)
  have chromium || ensure_apt_packages chromium
  have curl python3 || ensure_apt_packages curl python3
  rm -rf "$CHECK_DIR"
  mkdir -p "$CHECK_DIR"
  trap check_cleanup EXIT
  port=$(free_port)
  cat >"$CHECK_DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: self
    static_configs:
      - targets: ['127.0.0.1:$port']
EOF
  "$bin" --config.file="$CHECK_DIR/prometheus.yml" --storage.tsdb.path="$CHECK_DIR/data" \
    --web.listen-address="127.0.0.1:$port" >"$CHECK_DIR/prometheus.log" 2>&1 </dev/null &
  CHECK_PID=$!
  log "prometheus-ui: check: started $bin on 127.0.0.1:$port (log $CHECK_DIR/prometheus.log)"
  # Ready and with a sample of `up` (the first scrape comes a few seconds after start).
  wait_until "prometheus-ui (check)" "$CHECK_DIR/prometheus.log" 60 \
    bash -c "curl -fsS --max-time 2 'http://127.0.0.1:$port/api/v1/query?query=up' | grep -q '\"value\"'"
  curl -fsS --max-time 5 "http://127.0.0.1:$port/query" | grep -q '<div id="root">' ||
    die "prometheus-ui: /query does not serve the UI's index.html"
  url="http://127.0.0.1:$port/query?g0.expr=up&g0.tab=table"
  deadline=$((SECONDS + 60))
  until query_page_ok "$url" "$port"; do
    if ((SECONDS >= deadline)); then
      log "rendered DOM: $CHECK_DIR/query.html, Chromium log: $CHECK_DIR/chromium.log"
      die "prometheus-ui: /query did not render the result of 'up' in Chromium"
    fi
    sleep 1
  done
  chromium_run --window-size=1280,800 --screenshot="$CHECK_DIR/query.png" "$url" >/dev/null ||
    die "prometheus-ui: Chromium could not take a screenshot (log $CHECK_DIR/chromium.log)"
  log "prometheus-ui: /query renders the UI with the result of 'up' (screenshot $CHECK_DIR/query.png)"
}

main() {
  case ${1:-} in
    build) cmd_build ;;
    path) cmd_path ;;
    check) cmd_check ;;
    *) die "usage: $0 build|path|check" ;;
  esac
}

main "$@"

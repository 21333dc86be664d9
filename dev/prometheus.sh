#!/usr/bin/env bash
# Prometheus for the local mesh: discovers every instance through Consul, scrapes each one's
# metrics port and evaluates the mesh's recording and alerting rules (the same files the Helm
# chart ships, helm/talentmesh/files/prometheus/*.rules.yml).
#
#   dev/prometheus.sh install        Prometheus and promtool (built from their Go module) when missing
#   dev/prometheus.sh up             install, make the Consul token, start (or refresh) Prometheus
#   dev/prometheus.sh down           stop it and wait for it to exit (data stays)
#   dev/prometheus.sh status         one line: up/down, address, data folder
#   dev/prometheus.sh check          promtool: check config, check rules, test rules; the
#                                    dashboards are valid JSON with a ${datasource} variable
#   dev/prometheus.sh check-targets  after ./dev/up: every service of services.tsv has at least
#                                    one target and every target of it is up (waits up to
#                                    TALENTMESH_PROMETHEUS_WAIT seconds, default 60)
#
# Prometheus listens on 127.0.0.1:19090 (TALENTMESH_PROMETHEUS_PORT) with its data, generated
# config and log in $TALENTMESH_DATA/prometheus (TALENTMESH_PROMETHEUS_DIR moves it, e.g. a test's
# own folder).
#
# Discovery: consul_sd_configs against the local agent (TALENTMESH_CONSUL_ADDR, default
# http://127.0.0.1:18500) for the services named in TALENTMESH_PROMETHEUS_SERVICES (default:
# every process of services.tsv, the gateway included; tests name their own registrations),
# every instance of them, healthy or not, so an instance that stops answering shows as
# `up == 0`. Consul is the only source of targets: a process that has not registered (yet) is
# no target, and check-targets names it. The target is the instance's service address and the
# port in its service meta `metrics_port`; its labels are service (Consul service name),
# instance (`<address>:<metrics port>`, the Prometheus convention: it stays the same when the
# process restarts on its port, as a pod's IP:port does in Kubernetes, so changes() and rate()
# follow one instance across restarts), consul_service_id (the registration's id, new at every
# start: rules aggregate it away where a series must outlive a restart) and version (service
# meta). Every target has job="talentmesh", which the rules select on.
# Consul runs with ACLs: Prometheus reads it with a token of its own whose policy may only read
# services and nodes, made with the management token (like dev/servers.sh makes the service
# tokens) and kept in $TALENTMESH_DATA/consul/tokens/prometheus.{token,accessor} (0600).
#
# TALENTMESH_PROMETHEUS_SCRAPE_INTERVAL (default 15s) sets the scrape and rule interval.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO="$(cd "$TALENTMESH_DEV_DIR/.." && pwd)"
PROM_PORT="${TALENTMESH_PROMETHEUS_PORT:-19090}"
PROM_DIR="${TALENTMESH_PROMETHEUS_DIR:-$TALENTMESH_DATA/prometheus}"
PROM_CONFIG="$PROM_DIR/prometheus.yml"
PROM_LOG="$PROM_DIR/prometheus.log"
PROM_PID="$PROM_DIR/prometheus.pid"
PROM_INTERVAL="${TALENTMESH_PROMETHEUS_SCRAPE_INTERVAL:-15s}"
RULES_DIR="$REPO/helm/talentmesh/files/prometheus"
DASHBOARDS_DIR="$REPO/helm/talentmesh/files/dashboards"
CONSUL_ADDR="${TALENTMESH_CONSUL_ADDR:-http://127.0.0.1:$((${TALENTMESH_CONSUL_PORT_BASE:-18000} + 500))}"
CONSUL_DIR="$TALENTMESH_DATA/consul"
CONSUL_MGMT_TOKEN="$CONSUL_DIR/management.token"
TOKEN_FILE="$CONSUL_DIR/tokens/prometheus.token"
ACCESSOR_FILE="$CONSUL_DIR/tokens/prometheus.accessor"
POLICY_NAME="talentmesh-prometheus"

# ---------------------------------------------------------------- install
# Prometheus and promtool built from their Go module into $TALENTMESH_CACHE/bin. Debian's
# `prometheus` package (2.42 in bookworm) cannot be used: Debian builds it with Consul service
# discovery disabled ("Disable Consul SD until its Debian package is back in shape", its
# changelog), and its config parser then refuses `consul_sd_configs`. The module's tags are
# v0.<minor>.<patch> for Prometheus 3.<minor>.<patch>: v0.316.0 is Prometheus 3.16.0 (Apache
# 2.0). Built with only the Consul discoverer (tags remove_all_sd,enable_consul_sd; file, HTTP
# and static targets are always in), which keeps the build small. A module build has no web UI
# assets (they are a separate npm build): dev/prometheus-ui.sh builds the same version with
# them, and `up` runs that binary when it is there (see prometheus_bin).
PROMETHEUS_VERSION=v0.316.0
PROMETHEUS_TAGS=remove_all_sd,enable_consul_sd
PROMETHEUS="$TALENTMESH_BIN/prometheus"
PROMTOOL="$TALENTMESH_BIN/promtool"

# The binary `up` starts: Prometheus with its web UI when dev/prometheus-ui.sh has built it for
# this module version (same discovery tags, UI assets embedded), else the module build above.
prometheus_bin() {
  local ui
  if ui=$(bash "$TALENTMESH_DEV_DIR/prometheus-ui.sh" path 2>/dev/null) &&
    [[ $(<"$ui.version") == "$PROMETHEUS_VERSION "* ]]; then
    printf '%s\n' "$ui"
  else
    printf '%s\n' "$PROMETHEUS"
  fi
}

install() {
  local stamp="$PROMETHEUS_VERSION $PROMETHEUS_TAGS"
  if [[ -x $PROMETHEUS && -x $PROMTOOL && -f $PROMETHEUS.version &&
    $(<"$PROMETHEUS.version") == "$stamp" ]]; then
    return 0
  fi
  have go || die "prometheus: the Go toolchain is needed to build Prometheus"
  log "prometheus: go install github.com/prometheus/prometheus/cmd/{prometheus,promtool}@$PROMETHEUS_VERSION (first time: several minutes)"
  mkdir -p "$TALENTMESH_BIN"
  GOBIN="$TALENTMESH_BIN" nice -n 10 go install -tags "$PROMETHEUS_TAGS" \
    "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_VERSION" \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION" >&2 ||
    die "prometheus: go install failed"
  echo "$stamp" >"$PROMETHEUS.version"
}

# ---------------------------------------------------------------- consul token
# consul_api TOKEN METHOD PATH [JSON] -- one call to the agent's HTTP API; prints the body and
# fails on a non-2xx answer. The token goes in a header read from a pipe, never onto a command
# line (ps would show it).
consul_api() {
  local token=$1 method=$2 path=$3 body=${4:-}
  local args=(-sS --fail-with-body --max-time 10 -X "$method")
  [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
  curl "${args[@]}" -H @<(printf 'X-Consul-Token: %s\n' "$token") "$CONSUL_ADDR$path"
}

# A secret made once and kept (mode 0600) in FILE; prints it.
secret_file() {
  local file=$1
  if [[ ! -s $file ]]; then
    (umask 077 && cat /proc/sys/kernel/random/uuid >"$file.tmp" && mv "$file.tmp" "$file")
  fi
  chmod 600 "$file"
  cat "$file"
}

# The policy (read services and nodes, nothing else) and the token holding it, created or
# updated with the management token. The -dev agent keeps ACLs in memory, so after a Consul
# restart they are made again with the same ids. Serialised with flock: a test and `up` may
# run at once.
ensure_token() {
  [[ -r $CONSUL_MGMT_TOKEN ]] ||
    die "prometheus: no Consul management token in $CONSUL_MGMT_TOKEN (run dev/servers.sh up consul)"
  mkdir -p "${TOKEN_FILE%/*}"
  (
    flock 9
    local mgmt secret accessor rules policy id
    mgmt=$(<"$CONSUL_MGMT_TOKEN")
    secret=$(secret_file "$TOKEN_FILE")
    accessor=$(secret_file "$ACCESSOR_FILE")
    rules='service_prefix \"\" { policy = \"read\" }\nnode_prefix \"\" { policy = \"read\" }'
    policy=$(printf '{"Name":"%s","Description":"talentmesh prometheus: service discovery, read only","Rules":"%s"}' \
      "$POLICY_NAME" "$rules")
    if id=$(consul_api "$mgmt" GET "/v1/acl/policy/name/$POLICY_NAME" 2>/dev/null | jq -er .ID 2>/dev/null); then
      consul_api "$mgmt" PUT "/v1/acl/policy/$id" "$policy" >/dev/null
    else
      consul_api "$mgmt" PUT /v1/acl/policy "$policy" >/dev/null
    fi
    local body
    body=$(printf '{"AccessorID":"%s","SecretID":"%s","Description":"talentmesh prometheus (service discovery)","Policies":[{"Name":"%s"}]}' \
      "$accessor" "$secret" "$POLICY_NAME")
    if consul_api "$mgmt" GET "/v1/acl/token/$accessor" >/dev/null 2>&1; then
      consul_api "$mgmt" PUT "/v1/acl/token/$accessor" "$body" >/dev/null
    else
      consul_api "$mgmt" PUT /v1/acl/token "$body" >/dev/null
    fi
  ) 9>"$TOKEN_FILE.lock" || die "prometheus: could not create its Consul ACL token at $CONSUL_ADDR"
}

# The agent's datacenter, asked with the management token (Prometheus' own token may not read
# the agent, and Consul SD would ask it when the datacenter is not given).
consul_datacenter() {
  consul_api "$(<"$CONSUL_MGMT_TOKEN")" GET /v1/agent/self | jq -er .Config.Datacenter
}

# ---------------------------------------------------------------- config
# The services to discover in Consul, one a line: TALENTMESH_PROMETHEUS_SERVICES (spaces or
# commas) or every process of services.tsv (each registers in Consul under its name, the
# gateway as `gateway`, with service meta metrics_port, version and revision).
services() {
  if [[ -n ${TALENTMESH_PROMETHEUS_SERVICES:-} ]]; then
    tr ',' ' ' <<<"$TALENTMESH_PROMETHEUS_SERVICES" | xargs -n1
    return
  fi
  local name _rest
  while IFS=$'\t' read -r name _rest; do
    [[ -z $name || $name == \#* ]] && continue
    printf '%s\n' "$name"
  done <"$REPO/services.tsv"
}

# write_config DIR DATACENTER TOKEN_FILE -- DIR/prometheus.yml and DIR/expected.rules.yml.
# expected.rules.yml is the deployment's part of the rules: how many instances each service
# should have (talentmesh:service_instances:expected, one per service here; the chart derives it
# from its replicas).
write_config() {
  local dir=$1 dc=$2 token_file=$3 server name
  # An empty `services:` list would make Consul SD discover every service of the agent.
  [[ -n $(services) ]] || die "prometheus: no service to discover"
  server=${CONSUL_ADDR#*://}
  server=${server%%/*}
  {
    printf 'groups:\n  - name: talentmesh-expected-instances\n    rules:\n'
    for name in $(services); do
      printf '      - record: talentmesh:service_instances:expected\n'
      printf '        expr: vector(1)\n        labels:\n          service: %s\n' "$name"
    done
  } >"$dir/expected.rules.yml"
  cat >"$dir/prometheus.yml.tmp" <<EOF
# Generated by dev/prometheus.sh; rewritten at every \`up\`.
global:
  scrape_interval: $PROM_INTERVAL
  evaluation_interval: $PROM_INTERVAL
rule_files:
  - $RULES_DIR/*.rules.yml
  - $dir/expected.rules.yml
scrape_configs:
  - job_name: talentmesh
    consul_sd_configs:
      - server: $server
        datacenter: $dc
        authorization:
          credentials_file: $token_file
        services: [$(services | paste -sd, | sed 's/,/, /g')]
    relabel_configs:
      # Only registrations that say where their metrics are.
      - source_labels: [__meta_consul_service_metadata_metrics_port]
        regex: ''
        action: drop
      # The service address, or the node's when the registration has none.
      - source_labels: [__meta_consul_address]
        target_label: __tmp_host
      - source_labels: [__meta_consul_service_address]
        regex: '(.+)'
        target_label: __tmp_host
      - source_labels: [__tmp_host, __meta_consul_service_metadata_metrics_port]
        regex: '(.+);([0-9]+)'
        replacement: '\$1:\$2'
        target_label: __address__
      # instance = the scrape address (<address>:<metrics port>), stable across restarts;
      # said outright rather than left to Prometheus' default.
      - source_labels: [__address__]
        target_label: instance
      - source_labels: [__meta_consul_service]
        target_label: service
      - source_labels: [__meta_consul_service_id]
        target_label: consul_service_id
      - source_labels: [__meta_consul_service_metadata_version]
        target_label: version
    metric_relabel_configs:
      # The target's service and version win; the same labels some series carry themselves
      # (talentmesh_build_info) would otherwise stay beside them as exported_*.
      - regex: 'exported_(service|version)'
        action: labeldrop
EOF
  mv "$dir/prometheus.yml.tmp" "$dir/prometheus.yml"
}

# ---------------------------------------------------------------- commands
ready() { curl -fsS --max-time 2 "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null 2>&1; }

cmd_up() {
  install
  have jq curl || ensure_apt_packages jq curl
  ensure_token
  mkdir -p "$PROM_DIR/data"
  write_config "$PROM_DIR" "$(consul_datacenter)" "$TOKEN_FILE"
  "$PROMTOOL" check config --syntax-only "$PROM_CONFIG" >/dev/null ||
    die "prometheus: generated config $PROM_CONFIG is invalid"
  local bin
  bin=$(prometheus_bin)
  if pid_alive "$PROM_PID"; then
    if [[ $(cat "$PROM_DIR/binary" 2>/dev/null) == "$bin" ]]; then
      # Running: pick up the config and rules just written.
      kill -HUP "$(head -n1 "$PROM_PID")"
      log "prometheus: already running, config reloaded (http://127.0.0.1:$PROM_PORT)"
      return 0
    fi
    # Another build is running (the one without the UI, before the UI was built): restart.
    cmd_down
  fi
  ! port_open "$PROM_PORT" || die "prometheus: 127.0.0.1:$PROM_PORT is taken by another process"
  log "prometheus: starting $bin (log $PROM_LOG)"
  printf '%s\n' "$bin" >"$PROM_DIR/binary"
  setsid "$bin" --config.file="$PROM_CONFIG" --storage.tsdb.path="$PROM_DIR/data" \
    --storage.tsdb.retention.time=7d --web.listen-address="127.0.0.1:$PROM_PORT" \
    >>"$PROM_LOG" 2>&1 </dev/null &
  # setsid does not fork here (a background job of a non-interactive shell is no process-group
  # leader), so $! is Prometheus itself.
  echo "$!" >"$PROM_PID"
  wait_until prometheus "$PROM_LOG" 60 ready
  log "prometheus: ready on http://127.0.0.1:$PROM_PORT"
}

cmd_down() {
  if ! pid_alive "$PROM_PID"; then
    log "prometheus: not running"
    return 0
  fi
  local pid
  pid=$(head -n1 "$PROM_PID")
  log "prometheus: stopping (pid $pid)"
  kill -TERM "$pid"
  wait_until "prometheus (stopping pid $pid)" "$PROM_LOG" 60 bash -c "! kill -0 $pid"
  rm -f "$PROM_PID"
  log "prometheus: stopped"
}

cmd_status() {
  local state=down
  ready && state=up
  printf '%-9s %-5s 127.0.0.1:%-6s %s\n' prometheus "$state" "$PROM_PORT" "$PROM_DIR"
}

# Every alert of the rule files is named in an alert_rule_test that expects it to fire (a
# non-empty exp_alerts) and in one that expects silence (exp_alerts: []).
check_alert_coverage() {
  local alert counts firing quiet bad=0
  while read -r alert; do
    counts=$(awk -v a="$alert" '$0 ~ "alertname: *" a "$" {
        getline; if ($0 ~ /exp_alerts: *\[\]/) q++; else f++ }
      END { printf "%d %d", f, q }' "$RULES_DIR"/tests/*.yml)
    read -r firing quiet <<<"$counts"
    if ((firing == 0 || quiet == 0)); then
      log "ERROR: alert $alert: $firing test(s) where it fires, $quiet where it stays quiet (need both)"
      bad=1
    fi
  done < <(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\).*/\1/p' "$RULES_DIR"/*.rules.yml)
  ((bad == 0))
}

cmd_check() {
  install
  have jq python3 || ensure_apt_packages jq python3
  local tmp rc=0 f
  tmp=$(mktemp -d)
  CHECK_TMP=$tmp
  trap 'rm -rf "$CHECK_TMP"' EXIT
  printf 'not-a-real-token\n' >"$tmp/token"
  write_config "$tmp" dc1 "$tmp/token"
  log "promtool check config"
  "$PROMTOOL" check config "$tmp/prometheus.yml" >&2 || rc=1
  log "promtool check rules"
  "$PROMTOOL" check rules "$RULES_DIR"/*.rules.yml >&2 || rc=1
  log "promtool test rules"
  "$PROMTOOL" test rules "$RULES_DIR"/tests/*.yml >&2 || rc=1
  log "every alert has a promtool test where it fires and one where it stays quiet"
  check_alert_coverage || rc=1
  log "dashboards: valid JSON with a \${datasource} variable"
  for f in "$DASHBOARDS_DIR"/*.json; do
    if ! python3 -m json.tool "$f" >/dev/null; then
      log "ERROR: $f is not valid JSON"
      rc=1
    elif ! jq -e '[.templating.list[] | select(.name == "datasource" and .type == "datasource")] | length == 1' "$f" >/dev/null; then
      log "ERROR: $f has no \${datasource} variable"
      rc=1
    elif jq -e '[.. | objects | select(has("datasource")) | .datasource | select(type == "object") | .uid | select(. != "${datasource}")] | length > 0' "$f" >/dev/null; then
      log "ERROR: $f has a panel or query whose datasource is not \${datasource}"
      rc=1
    fi
  done
  ((rc == 0)) || die "prometheus: check failed"
  log "prometheus: config, rules, rule tests and dashboards OK"
}

# Every service to discover has a target, and every one of its targets is up: polled until
# TALENTMESH_PROMETHEUS_WAIT seconds pass, then the targets that are not are printed.
targets_ok() {
  local targets name bad=0
  targets=$(curl -fsS --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/targets?state=active") || return 1
  for name in $(services); do
    jq -e --arg s "$name" '[.data.activeTargets[] | select(.labels.service == $s)] |
      length > 0 and all(.health == "up")' <<<"$targets" >/dev/null || bad=1
  done
  ((bad == 0))
}

cmd_check_targets() {
  have jq curl || ensure_apt_packages jq curl
  ready || die "prometheus: not running on 127.0.0.1:$PROM_PORT (dev/prometheus.sh up)"
  local deadline=$((SECONDS + ${TALENTMESH_PROMETHEUS_WAIT:-60}))
  until targets_ok; do
    if ((SECONDS >= deadline)); then
      local targets name
      targets=$(curl -fsS --max-time 5 "http://127.0.0.1:$PROM_PORT/api/v1/targets?state=active")
      for name in $(services); do
        jq -r --arg s "$name" '[.data.activeTargets[] | select(.labels.service == $s)] |
          if length == 0 then "\($s): no target (not registered in Consul?)"
          else .[] | "\($s) \(.labels.instance) \(.scrapeUrl): \(.health) \(.lastError)" end' \
          <<<"$targets" >&2
      done
      die "prometheus: not every service is an up target"
    fi
    sleep 1
  done
  log "prometheus: every service is an up target ($(services | paste -sd' '))"
}

main() {
  case ${1:-} in
    install) install ;;
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    check) cmd_check ;;
    check-targets) cmd_check_targets ;;
    *) die "usage: $0 install|up|down|status|check|check-targets" ;;
  esac
}

main "$@"

#!/usr/bin/env bash
# The Helm chart's checks (helm/talentmesh), and the tools they need.
#
#   dev/chart.sh install  install helm and kubernetes-validate when missing or at another version;
#                         print the bin dir (export PATH="$(dev/chart.sh install):$PATH")
#   dev/chart.sh check    helm lint; helm template with the default values and with
#                         values-production.yaml (monitoring on); every rendered manifest checked
#                         against the Kubernetes $KUBE_VERSION schemas; every service of
#                         services.tsv present in values.yaml with the same ports; the notes
#                         (notesPreview); values that must fail the render (REFUSED, and each
#                         process of services.tsv given the other kind); the helm test probe
#                         image at dev/image.sh's grpc-health-probe version
#
#   helm                 built from its Go module with the machine's Go (go install ...@HELM_VERSION,
#                        with the release's version and Kubernetes version stamped in) into
#                        $TALENTMESH_CACHE/bin
#   kubernetes-validate  from PyPI (pinned) in a venv under $TALENTMESH_CACHE; it ships the
#                        Kubernetes JSON schemas, so nothing is fetched while checking
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HELM_VERSION=v3.22.0
# The Kubernetes minor version client-go of that helm release was built against (its Makefile
# stamps it the same way); helm's default for .Capabilities.KubeVersion without a cluster.
HELM_KUBE_MINOR=37
# kubernetes-validate and what it imports, pinned so every machine checks with the same code.
VALIDATE_PACKAGES=(kubernetes-validate==1.31.0 attrs==26.1.0 importlib_resources==7.1.0
  jsonschema==4.26.0 jsonschema-specifications==2025.9.1 packaging==26.4 PyYAML==6.0.4
  referencing==0.37.0 rpds-py==2026.9.1 typing_extensions==4.16.0)
# The Kubernetes version the rendered manifests are checked against.
KUBE_VERSION=1.31.0

REPO="$(cd "$TALENTMESH_DEV_DIR/.." && pwd)"
CHART="$REPO/helm/talentmesh"
VENV="$TALENTMESH_CACHE/chart-venv"
HELM="$TALENTMESH_BIN/helm"
# helm's own cache, config and data stay under the cache, not in $HOME.
export HELM_CACHE_HOME="$TALENTMESH_CACHE/helm/cache"
export HELM_CONFIG_HOME="$TALENTMESH_CACHE/helm/config"
export HELM_DATA_HOME="$TALENTMESH_CACHE/helm/data"

install_helm() {
  if [[ -x $HELM && $("$HELM" version --template '{{.Version}}' 2>/dev/null) == "$HELM_VERSION" ]]; then
    return 0
  fi
  have go || die "helm: the Go toolchain is needed to build helm"
  log "helm: go install helm.sh/helm/v3/cmd/helm@$HELM_VERSION (first time: a few minutes)"
  mkdir -p "$TALENTMESH_BIN"
  local pkg=helm.sh/helm/v3
  GOBIN="$TALENTMESH_BIN" CGO_ENABLED=0 nice -n 10 go install -trimpath -ldflags "-w -s \
    -X $pkg/internal/version.version=$HELM_VERSION \
    -X $pkg/pkg/lint/rules.k8sVersionMajor=1 -X $pkg/pkg/lint/rules.k8sVersionMinor=$HELM_KUBE_MINOR \
    -X $pkg/pkg/chartutil.k8sVersionMajor=1 -X $pkg/pkg/chartutil.k8sVersionMinor=$HELM_KUBE_MINOR" \
    "$pkg/cmd/helm@$HELM_VERSION" >&2 || die "helm: go install failed"
}

install_validate() {
  # The venv's stamp lists the pins it was made with.
  local stamp="$VENV/talentmesh-pins"
  if [[ -x $VENV/bin/python && -s $stamp && $(<"$stamp") == "${VALIDATE_PACKAGES[*]}" ]]; then
    return 0
  fi
  have python3 || die "kubernetes-validate: python3 is needed"
  python3 -c 'import venv, ensurepip' 2>/dev/null || ensure_apt_packages python3-venv
  log "kubernetes-validate: pip install ${VALIDATE_PACKAGES[0]} (venv $VENV)"
  rm -rf "$VENV"
  python3 -m venv "$VENV" >&2 || die "kubernetes-validate: python3 -m venv failed"
  "$VENV/bin/pip" install --quiet "${VALIDATE_PACKAGES[@]}" >&2 ||
    die "kubernetes-validate: pip install failed"
  printf '%s' "${VALIDATE_PACKAGES[*]}" >"$stamp"
}

install() {
  install_helm
  install_validate
}

# step NAME COMMAND...: runs one check; a failure is logged and remembered, and the next
# checks still run, so one run names every problem.
FAILED=()
step() {
  local name=$1
  shift
  log "$name"
  "$@" >&2 || {
    log "FAILED: $name"
    FAILED+=("$name")
  }
}

# render FILE [ARGS...]: the chart rendered as release talentmesh for Kubernetes $KUBE_VERSION.
render() {
  local out=$1
  shift
  "$HELM" template talentmesh "$CHART" --namespace talentmesh --kube-version "$KUBE_VERSION" \
    "$@" >"$out"
}

# Values the chart must refuse, each "--set ARGS<tab>what the error must say": settings the
# Kubernetes API would reject or with which the mesh cannot work, caught at render time.
REFUSED=(
  "services.identity.autoscaling.minReplicas=10	services.identity.autoscaling: minReplicas 10 is above maxReplicas 5"
  "serviceDefaults.autoscaling.maxReplicas=1	minReplicas 2 is above maxReplicas 1"
  "services.identity.enabled=false	services.identity is disabled, but company, job, matching, resume call it"
  "services.company.enabled=false	services.company is disabled, but job, matching, resume call it"
  "services.company.kind=rest	at '/services/company/kind': value must be one of 'grpc', 'http'"
)

# refused SET WANT: rendering with --set SET fails, with an error that says WANT.
refused() {
  local err
  if err=$(render /dev/null --set "$1" 2>&1); then
    echo "--set $1: rendered, but must be refused" >&2
    return 1
  fi
  grep -qF -- "$2" <<<"$err" || {
    echo "--set $1: refused, but not saying \"$2\": $err" >&2
    return 1
  }
}

# refusals: every case of REFUSED, and each process of services.tsv given the kind it does not
# serve (the chart's list of kinds follows services.tsv).
refusals() {
  local cases=("${REFUSED[@]}") name kind other failed=0
  while IFS=$'\t' read -r name _ kind _; do
    other=$([[ $kind == http ]] && echo grpc || echo http)
    cases+=("services.$name.kind=$other	services.$name.kind: \"$other\", but talentmesh-$name serves $kind")
  done < <(grep -v '^#' "$REPO/services.tsv" | grep .)
  local case
  for case in "${cases[@]}"; do
    refused "${case%%$'\t'*}" "${case#*$'\t'}" || failed=1
  done
  ((failed)) || echo "all ${#cases[@]} values refused, each with its message"
  return "$failed"
}

# notes FILE [ARGS...]: NOTES.txt renders (notesPreview), naming the release.
notes() {
  local out=$1
  shift
  render "$out" --set notesPreview=true --show-only templates/notes-preview.yaml "$@" &&
    grep -q "is installed as release talentmesh" "$out"
}

# probe_version: the helm test's grpc-health-probe image is the version dev/image.sh installs.
probe_version() {
  local pinned chart
  pinned=$(sed -n 's/^GRPC_HEALTH_PROBE_VERSION=//p' "$TALENTMESH_DEV_DIR/image.sh")
  chart=$(render /dev/stdout --show-only templates/tests/test-health.yaml |
    sed -n 's|.*image: "[^"]*grpc-health-probe:\([^"]*\)".*|\1|p' | sort -u)
  [[ -n $pinned && $chart == "$pinned" ]] ||
    { echo "helm test probe image tag '$chart', dev/image.sh pins '$pinned'" >&2; return 1; }
}

check() {
  install
  local work
  work=$(mktemp -d)
  # shellcheck disable=SC2064  # expand now: work is a local path
  trap "rm -rf '$work'" EXIT
  local validate=("$VENV/bin/python" "$REPO/helm/check-manifests.py" --services "$REPO/services.tsv")
  step "values.yaml against services.tsv" "${validate[@]}" --values "$CHART/values.yaml"
  step "helm lint" "$HELM" lint --strict "$CHART"
  step "helm lint (values-production.yaml)" "$HELM" lint --strict "$CHART" \
    -f "$CHART/values-production.yaml"
  step "helm template (default values)" render "$work/default.yaml"
  step "helm template (values-production.yaml)" render "$work/production.yaml" \
    -f "$CHART/values-production.yaml"
  step "the manifests against the Kubernetes $KUBE_VERSION schemas" "${validate[@]}" \
    --kube-version "$KUBE_VERSION" "$work/default.yaml" "$work/production.yaml"
  step "NOTES.txt (values-production.yaml, notesPreview)" notes "$work/notes.txt" \
    -f "$CHART/values-production.yaml"
  step "values the chart must refuse" refusals
  step "helm test probe image at dev/image.sh's grpc-health-probe version" probe_version
  ((${#FAILED[@]} == 0)) || die "chart check failed: $(printf '%s; ' "${FAILED[@]}")"
  log "chart OK"
}

case "${1:-}" in
install)
  install
  echo "$TALENTMESH_BIN"
  ;;
check) check ;;
*) die "usage: dev/chart.sh install|check" ;;
esac

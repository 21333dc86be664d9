#!/usr/bin/env bash
# Installs schemathesis (PyPI, the property-based OpenAPI tester) into a venv of its own under
# $TALENTMESH_CACHE, idempotently and with every package pinned, then
#   - without arguments prints the path of its `schemathesis` command, e.g.
#       "$(dev/schemathesis.sh)" run http://127.0.0.1:18080/openapi.json
#   - with arguments runs it with them:
#       dev/schemathesis.sh run --checks all http://127.0.0.1:18080/openapi.json
#
# The end-to-end test tests/e2e/tests/openapi_conformance.rs runs it against a whole mesh.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SCHEMATHESIS_VERSION=4.32.5
SCHEMATHESIS_VENV="$TALENTMESH_CACHE/schemathesis-venv"
SCHEMATHESIS_LOG="$TALENTMESH_CACHE/schemathesis-install.log"

# Every package of the venv, so a later release of a dependency cannot change a CI run.
# (pip freeze of a venv with schemathesis==$SCHEMATHESIS_VERSION, Python 3.11.)
constraints() {
  cat <<EOF
anyio==4.16.0
certifi==2026.10.19.post1
charset-normalizer==3.5.3
click==8.5.1
graphql-core==3.3.2
harfile==0.6.0
hypothesis==6.170.17
hypothesis-graphql==0.13.5
idna==3.20
iniconfig==2.3.1
jsonschema_rs==0.60.3
markdown-it-py==4.3.0
MarkupSafe==3.0.4
mdurl==0.1.2
packaging==26.4
pluggy==1.7.0
Pygments==2.21.0
pyrate-limiter==4.5.1
pytest==9.2.0
PyYAML==6.0.4
requests==2.34.2
rich==15.0.0
schemathesis==$SCHEMATHESIS_VERSION
sortedcontainers==2.4.0
typing_extensions==4.16.0
urllib3==2.8.0
Werkzeug==3.1.9
EOF
}

# The schemathesis version installed in the venv, empty when there is none (or a broken one).
installed_version() {
  "$SCHEMATHESIS_VENV/bin/python" -c \
    'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null || true
}

install_schemathesis() {
  [[ -x $SCHEMATHESIS_VENV/bin/schemathesis && $(installed_version) == "$SCHEMATHESIS_VERSION" ]] &&
    return 0
  # Any python3 with venv and ensurepip; Debian's needs python3-venv for them.
  local python=python3
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    ensure_apt_packages python3 python3-venv
    python=/usr/bin/python3
  fi
  log "schemathesis: installing schemathesis==$SCHEMATHESIS_VERSION into $SCHEMATHESIS_VENV"
  rm -rf "${SCHEMATHESIS_VENV:?}"
  mkdir -p "$TALENTMESH_CACHE"
  local pins
  pins=$(mktemp)
  constraints >"$pins"
  if ! { "$python" -m venv "$SCHEMATHESIS_VENV" &&
    "$SCHEMATHESIS_VENV/bin/pip" install -q --disable-pip-version-check -c "$pins" \
      "schemathesis==$SCHEMATHESIS_VERSION"; } >"$SCHEMATHESIS_LOG" 2>&1; then
    rm -f "$pins"
    tail -n 30 "$SCHEMATHESIS_LOG" >&2
    die "schemathesis: install failed, see $SCHEMATHESIS_LOG"
  fi
  rm -f "$pins"
}

install_schemathesis
if (($#)); then
  exec "$SCHEMATHESIS_VENV/bin/schemathesis" "$@"
fi
echo "$SCHEMATHESIS_VENV/bin/schemathesis"

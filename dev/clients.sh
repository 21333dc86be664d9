#!/usr/bin/env bash
# Generates the Python and Go client stubs from the contracts in proto/ (buf.gen.yaml) and builds
# the example clients of tests/clients, installing what it needs when missing or at another
# version (pinned below):
#   buf                             dev/tools.sh
#   protoc-gen-go, protoc-gen-go-grpc  go install into $TALENTMESH_CACHE/bin
#   Python venv $TALENTMESH_CACHE/clients-venv  grpcio-tools and tests/clients/python/requirements.txt
# Before generating, it checks that proto/google (our trimmed copies of Google's API protos,
# which are not generated) agrees with the real files of googleapis-common-protos.
#
# Writes (git-ignored) tests/clients/gen/:
#   go/       module github.com/talentmesh/talentmesh/gen/go (tests/clients/go replaces it here)
#   python/   packages talentmesh.<service>.v1 (*_pb2, *_pb2_grpc, *.pyi)
#   bin/go-client, bin/python-client   the example clients, ready to run (see --help)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2
GRPCIO_TOOLS_VERSION=1.84.0

repo="$(cd "$TALENTMESH_DEV_DIR/.." && pwd)"
clients="$repo/tests/clients"
gen="$clients/gen"
venv="$TALENTMESH_CACHE/clients-venv"

# go_tool BIN MODULE_PATH VERSION VERSION_LINE -- go install MODULE_PATH@VERSION into
# $TALENTMESH_BIN unless BIN there already prints VERSION_LINE for --version.
go_tool() {
  local bin="$TALENTMESH_BIN/$1" pkg=$2 version=$3 line=$4
  [[ -x $bin && $("$bin" --version 2>/dev/null) == "$line" ]] && return 0
  have go || die "$1: the Go toolchain is needed"
  log "$1: go install $pkg@$version"
  mkdir -p "$TALENTMESH_BIN"
  GOBIN="$TALENTMESH_BIN" go install "$pkg@$version" >&2 || die "$1: go install failed"
}

# The venv, (re)made when the pinned versions change: a stamp file holds what was installed.
python_venv() {
  local want stamp="$venv/.talentmesh-requirements"
  want="grpcio-tools==$GRPCIO_TOOLS_VERSION"$'\n'"$(cat "$clients/python/requirements.txt")"
  [[ -x $venv/bin/python && -f $stamp && $(cat "$stamp") == "$want" ]] && return 0
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    ensure_apt_packages python3 python3-venv
  fi
  log "clients venv: pip install grpcio-tools==$GRPCIO_TOOLS_VERSION -r tests/clients/python/requirements.txt"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "grpcio-tools==$GRPCIO_TOOLS_VERSION" -r "$clients/python/requirements.txt" >&2 ||
    die "clients venv: pip install failed"
  printf '%s' "$want" >"$stamp"
}

bash "$TALENTMESH_DEV_DIR/tools.sh" >/dev/null
go_tool protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go \
  "$PROTOC_GEN_GO_VERSION" "protoc-gen-go $PROTOC_GEN_GO_VERSION"
go_tool protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc \
  "$PROTOC_GEN_GO_GRPC_VERSION" "protoc-gen-go-grpc ${PROTOC_GEN_GO_GRPC_VERSION#v}"
python_venv

cd "$repo"
# One generation at a time (a test and a developer may start one together).
mkdir -p "$gen"
exec 9>"$gen/.lock"
flock 9

"$venv/bin/python" "$clients/python/check_google_protos.py" proto >&2

log "buf generate (buf.gen.yaml) -> tests/clients/gen"
# buf.gen.yaml names the plugins by name: the venv's python3 (grpcio-tools) and our Go plugins
# come first on PATH.
PATH="$venv/bin:$TALENTMESH_BIN:$PATH" "$TALENTMESH_BIN/buf" generate

# The generated Go packages form one module, which tests/clients/go's go.mod replaces with this
# folder; its requirements are pinned there.
printf 'module github.com/talentmesh/talentmesh/gen/go\n\ngo 1.24\n' >"$gen/go/go.mod"

log "go build tests/clients/go -> tests/clients/gen/bin/go-client"
mkdir -p "$gen/bin"
(cd "$clients/go" && go build -buildvcs=false -o "$gen/bin/go-client" .)

cat >"$gen/bin/python-client" <<SH
#!/bin/sh
# Runs tests/clients/python/client.py with the clients' venv and the generated stubs.
PYTHONPATH="$gen/python:$clients/python\${PYTHONPATH:+:\$PYTHONPATH}" exec "$venv/bin/python" "$clients/python/client.py" "\$@"
SH
chmod +x "$gen/bin/python-client"
# The Python client's own tests (bad certificate files end in one line, not a traceback).
(cd "$clients/python" && PYTHONPATH="$gen/python" "$venv/bin/python" -m unittest -q test_client.py) >&2
log "clients ready: tests/clients/gen/bin/go-client, tests/clients/gen/bin/python-client"

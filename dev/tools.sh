#!/usr/bin/env bash
# Installs the developer tools into $TALENTMESH_CACHE/bin (default /var/cache/talentmesh/bin)
# when missing or at another version, then prints that bin dir, e.g.:
#   export PATH="$(dev/tools.sh):$PATH"
#
#   buf  built from its Go module with the machine's Go (go install ...@BUF_VERSION)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUF_VERSION=v1.75.0

install_buf() {
  local bin="$TALENTMESH_BIN/buf"
  # `buf --version` prints the version without the leading "v".
  if [[ -x $bin && $("$bin" --version 2>/dev/null) == "${BUF_VERSION#v}" ]]; then
    return 0
  fi
  have go || die "buf: the Go toolchain is needed to build buf"
  log "buf: go install github.com/bufbuild/buf/cmd/buf@$BUF_VERSION"
  mkdir -p "$TALENTMESH_BIN"
  GOBIN="$TALENTMESH_BIN" go install "github.com/bufbuild/buf/cmd/buf@$BUF_VERSION" >&2 ||
    die "buf: go install failed"
}

install_buf
echo "$TALENTMESH_BIN"

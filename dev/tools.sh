#!/usr/bin/env bash
# Installs the developer tools into $TALENTMESH_CACHE/bin (default /var/cache/talentmesh/bin)
# when missing or at another version, then prints that bin dir, e.g.:
#   export PATH="$(dev/tools.sh):$PATH"
#
#   buf         built from its Go module with the machine's Go (go install ...@BUF_VERSION)
#   cargo-deny  built from crates.io with the machine's cargo
#               (cargo install --locked --version CARGO_DENY_VERSION)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BUF_VERSION=v1.75.0
CARGO_DENY_VERSION=0.20.2

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

install_cargo_deny() {
  local bin="$TALENTMESH_BIN/cargo-deny"
  # `cargo-deny --version` prints "cargo-deny 0.20.2".
  if [[ -x $bin && $("$bin" --version 2>/dev/null) == "cargo-deny $CARGO_DENY_VERSION" ]]; then
    return 0
  fi
  have cargo || die "cargo-deny: cargo is needed to build cargo-deny"
  log "cargo-deny: cargo install --locked cargo-deny $CARGO_DENY_VERSION (first time: several minutes)"
  # Built in cargo's own temporary target dir (removed afterwards), not the workspace's: its
  # release build shares nothing with ours. --root puts the binary in $TALENTMESH_CACHE/bin.
  env -u CARGO_TARGET_DIR -u CARGO_INCREMENTAL nice -n 10 cargo install --locked --quiet \
    --version "$CARGO_DENY_VERSION" --root "$TALENTMESH_CACHE" cargo-deny >&2 ||
    die "cargo-deny: cargo install failed"
}

install_buf
install_cargo_deny
echo "$TALENTMESH_BIN"

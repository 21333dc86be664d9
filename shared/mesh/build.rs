//! Embeds the commit the mesh is built from as `TALENTMESH_REVISION` (read by
//! `src/build_info.rs`): the build's own `TALENTMESH_REVISION` when set (an image built from a
//! context without `.git`: the Dockerfile's `--build-arg REVISION`), else `git rev-parse HEAD`,
//! else `unknown` (no git, not a checkout).
//!
//! Cargo reruns this only when the commit can have changed: `HEAD` (a checkout), the branch ref
//! it points to (a commit) and `packed-refs`, or the variable. Printing these also stops cargo's
//! default of rerunning on any change in the package.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=TALENTMESH_REVISION");
    let given = std::env::var("TALENTMESH_REVISION")
        .ok()
        .map(|r| r.trim().to_string())
        // `unknown` is what a build that knows nothing passes (the Dockerfile's default): git
        // may still know.
        .filter(|r| !r.is_empty() && r != "unknown");
    let revision = given
        .or_else(git_revision)
        .unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=TALENTMESH_REVISION={revision}");
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default())
}

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(manifest_dir())
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (output.status.success() && !text.is_empty()).then_some(text)
}

/// Reruns the build script when the file git keeps at `git_path` changes (`--git-path` finds it
/// in worktrees too).
fn watch(git_path: &str) {
    if let Some(path) = git(&["rev-parse", "--git-path", git_path]) {
        let path = Path::new(&path);
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            manifest_dir().join(path)
        };
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

fn git_revision() -> Option<String> {
    let revision = git(&["rev-parse", "HEAD"])?;
    watch("HEAD");
    watch("packed-refs");
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watch(&branch);
    }
    Some(revision)
}

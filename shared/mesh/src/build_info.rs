//! What a binary was built from, for `talentmesh_build_info` and the Consul service meta
//! (`version`, `revision`).

/// The crate version (`CARGO_PKG_VERSION`). Every talentmesh crate takes the workspace's
/// version, so this is the service's version too.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit the build came from (40 hex digits), `TALENTMESH_REVISION` when the build set
/// it, or `unknown` when built outside a git checkout without it (see `build.rs`). Never empty.
pub const REVISION: &str = env!("TALENTMESH_REVISION");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_revision_is_the_checkout_commit_when_built_from_one() {
        assert!(!REVISION.is_empty());
        assert!(!VERSION.is_empty());
        let head = std::process::Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        let given = std::env::var("TALENTMESH_REVISION")
            .ok()
            .filter(|r| !r.trim().is_empty() && r.trim() != "unknown");
        match (given, head) {
            // The build passed the revision (cargo sees the same environment as this test).
            (Some(given), _) => assert_eq!(REVISION, given.trim()),
            // A checkout: the build script followed HEAD here.
            (None, Some(head)) => assert_eq!(REVISION, head),
            (None, None) => assert_eq!(REVISION, "unknown"),
        }
    }
}

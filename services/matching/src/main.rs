//! The matching binary: configuration, telemetry, then the service until SIGTERM.

use talentmesh_matching::{run, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    talentmesh_kit::main(Config::load, |c| &c.mesh, run).await
}

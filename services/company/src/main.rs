//! The company binary: configuration, telemetry, then the service until SIGTERM.

use talentmesh_company::{run, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    talentmesh_kit::main(Config::load, |c| &c.mesh, run).await
}

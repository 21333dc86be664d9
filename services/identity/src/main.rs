//! The identity binary: configuration, telemetry, then the service until SIGTERM.

use talentmesh_identity::{run, Config};
use talentmesh_kit::Launch;
use talentmesh_mesh::config::Env;
use talentmesh_mesh::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load(Env::from_process())?;
    let _telemetry = telemetry::init(&config.mesh)?;
    let launch = Launch::bind(&config.mesh).await?;
    run(config, launch).await
}

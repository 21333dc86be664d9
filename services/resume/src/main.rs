//! The resume binary: configuration, telemetry, then the service until SIGTERM.

use talentmesh_mesh::config::Env;
use talentmesh_mesh::server::{shutdown_signal, Listeners};
use talentmesh_mesh::telemetry;
use talentmesh_resume::{run, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load(Env::from_process())?;
    let _telemetry = telemetry::init(&config.mesh)?;
    let listeners = Listeners::bind(&config.mesh).await?;
    run(config, listeners, shutdown_signal()).await
}

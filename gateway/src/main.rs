//! The gateway binary: config from the environment, upstreams from Consul (or a fixed list in
//! `TALENTMESH_GATEWAY_UPSTREAMS`), routes refreshed as services change, serve until SIGTERM.

use talentmesh_gateway::consul::{spawn_refresh, DiscoveryUpstreams};
use talentmesh_gateway::{serve, Gateway, GatewayConfig, StaticUpstreams, Upstreams};
use talentmesh_mesh::config::{Env, MeshConfig};
use talentmesh_mesh::consul::ConsulClient;
use talentmesh_mesh::server::shutdown_signal;
use talentmesh_mesh::{telemetry, Discovery};
use tonic::transport::Endpoint;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // The mesh's telemetry: JSON logs, and spans that carry W3C trace context on to the services
    // (exported over OTLP when TALENTMESH_OTLP_ENDPOINT is set).
    // One loader for the mesh settings (telemetry, Consul, metrics port) and the gateway's own,
    // so every problem in the environment is reported at once.
    let mut env = Env::from_process();
    let mesh = MeshConfig::load(&mut env, "gateway", 18080);
    let config = GatewayConfig::load(&mut env);
    env.finish()?;
    let _telemetry = telemetry::init(&mesh)?;
    let listener = tokio::net::TcpListener::bind(config.http_addr).await?;
    if config.upstreams.is_empty() {
        let discovery = Discovery::new(ConsulClient::new(&mesh.consul_addr)?, config.deadline);
        let mut upstreams = DiscoveryUpstreams::new(discovery);
        for (service, consul_name) in &config.service_names {
            upstreams = upstreams.rename(service, consul_name);
        }
        let gateway = Gateway::new(config, upstreams)?;
        spawn_refresh(gateway.clone());
        run(listener, gateway, &mesh).await
    } else {
        let mut upstreams = StaticUpstreams::new();
        for (name, uri) in &config.upstreams {
            // Lazy: the gateway starts even when a service is not up yet.
            upstreams.insert(
                name.clone(),
                Endpoint::from_shared(uri.clone())?.connect_lazy(),
            );
        }
        run(listener, Gateway::new(config, upstreams)?, &mesh).await
    }
}

async fn run<U: Upstreams>(
    listener: tokio::net::TcpListener,
    gateway: Gateway<U>,
    mesh: &MeshConfig,
) -> anyhow::Result<()> {
    // Prometheus on a port of its own (TALENTMESH_METRICS_ADDR), not on the public REST port.
    let metrics_listener = tokio::net::TcpListener::bind(mesh.metrics_addr).await?;
    let (stop_metrics, stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics = tokio::spawn(talentmesh_mesh::metrics::serve_metrics(
        metrics_listener,
        gateway.metrics(),
        async move {
            let _ = stopped.await;
        },
    ));
    tracing::info!(
        metrics = %mesh.metrics_addr,
        addr = %listener.local_addr()?,
        routes = gateway.routes().routes().len(),
        "talentmesh gateway listening"
    );
    serve(listener, gateway, shutdown_signal()).await?;
    let _ = stop_metrics.send(());
    let _ = metrics.await;
    tracing::info!("stopped");
    Ok(())
}

//! The gateway binary: config from the environment, upstreams from Consul (or a fixed list in
//! `TALENTMESH_GATEWAY_UPSTREAMS`), routes refreshed as services change, registered in Consul
//! like every service, serve until SIGTERM; then NOT_SERVING, deregister, drain.
//!
//! Threads: the main thread accepts connections, serves metrics, follows Consul and exports
//! telemetry; `TALENTMESH_GATEWAY_WORKERS` worker threads serve the requests (see `workers`).

use talentmesh_gateway::consul::{register, spawn_refresh, DiscoveryUpstreams};
use talentmesh_gateway::{serve_workers, Gateway, GatewayConfig, StaticUpstreams, Upstreams};
use talentmesh_mesh::config::{Env, MeshConfig};
use talentmesh_mesh::server::shutdown_signal;
use talentmesh_mesh::{telemetry, Discovery};
use tonic::transport::Endpoint;
use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

fn main() -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(start())
}

async fn start() -> anyhow::Result<()> {
    // The mesh's telemetry: JSON logs, and spans that carry W3C trace context on to the services
    // (exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set; see `telemetry::OtelConfig`).
    // One loader for the mesh settings (telemetry, Consul, metrics port) and the gateway's own,
    // so every problem in the environment is reported at once.
    let mut env = Env::from_process();
    let mesh = MeshConfig::load(&mut env, "gateway", 18080);
    let config = GatewayConfig::load(&mut env);
    env.finish()?;
    let _telemetry = telemetry::init(&mesh)?;
    let listener = tokio::net::TcpListener::bind(config.http_addr).await?;
    if config.upstreams.is_empty() {
        let mut upstreams = DiscoveryUpstreams::per_worker(config.workers, || {
            // With TALENTMESH_MESH_TLS=connect the gateway calls every service over mutual
            // TLS with its own leaf, so a user's token only reaches a verified service.
            anyhow::Ok(Discovery::for_mesh(&mesh, config.deadline)?)
        })?;
        for (service, consul_name) in &config.service_names {
            upstreams = upstreams.rename(service, consul_name);
        }
        let gateway = Gateway::new(config, upstreams)?;
        spawn_refresh(gateway.clone());
        run(listener, gateway, &mesh).await
    } else {
        let mut upstreams = StaticUpstreams::new();
        for (name, uri) in &config.upstreams {
            // Lazy: the gateway starts even when a service is not up yet. These channels are
            // shared by the workers (fixed upstreams are for local runs, not for speed).
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
    // Prometheus on a port of its own (TALENTMESH_METRICS_ADDR), not on the public REST port,
    // with grpc.health.v1 in plaintext beside it: SERVING until SIGTERM, read by Consul's check
    // and by Kubernetes' gRPC probes, as on every service's metrics port.
    let metrics_listener = tokio::net::TcpListener::bind(mesh.metrics_addr).await?;
    let metrics_addr = metrics_listener.local_addr()?;
    let metrics_port = metrics_addr.port();
    let health = HealthReporter::new();
    let (stop_metrics, stopped) = tokio::sync::oneshot::channel::<()>();
    let metrics = tokio::spawn(talentmesh_mesh::metrics::serve_metrics_with_health(
        metrics_listener,
        gateway.metrics(),
        Some(health.clone()),
        async move {
            let _ = stopped.await;
        },
    ));
    // In Consul under `gateway` (without TALENTMESH_CONSUL_ADDR, not at all).
    let presence = register(mesh, listener.local_addr()?.port(), metrics_port)?;
    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!("shutting down: not serving, deregistering, draining");
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        // Out of Consul before the listener closes, so nothing sends traffic to a gateway that
        // no longer takes it.
        if let Some(presence) = presence {
            presence.leave().await;
        }
    };
    let workers = gateway.config().workers;
    tracing::info!(
        metrics = %metrics_addr,
        addr = %listener.local_addr()?,
        routes = gateway.routes().routes().len(),
        workers,
        "talentmesh gateway listening"
    );
    serve_workers(listener, gateway, workers, shutdown).await?;
    let _ = stop_metrics.send(());
    let _ = metrics.await;
    tracing::info!("stopped");
    Ok(())
}

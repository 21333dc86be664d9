//! The sync control plane: one admin API (`SyncService`) over the data-sync state of every
//! service in the mesh. It owns no data. Each service built on the shared data-sync framework
//! serves `SyncAdminService` on every instance and registers in Consul with the `sync-admin`
//! tag; this service finds those instances in Consul, asks them concurrently, and merges what
//! they say (status, lag, dead letters, drift, store health), or forwards a command (start a
//! check or repair, replay or discard dead letters) to one of them. Platform admins only.
//!
//! Module map: `names` (resource names, Consul renames), `fleet` (finding and calling
//! instances), `merge` (the rules that turn many answers into one), `grpc` (the adapter),
//! `error`, `config`.

pub mod config;
pub mod error;
pub mod fleet;
pub mod grpc;
pub mod merge;
pub mod names;

use std::future::Future;
use std::sync::Arc;

use talentmesh_mesh::auth::{AuthPolicy, JwksCache, Verifier};
use talentmesh_mesh::consul::ConsulClient;
use talentmesh_mesh::metrics::Metrics;
use talentmesh_mesh::server::{self, Listeners, ServeOptions};
use talentmesh_mesh::Discovery;
use talentmesh_proto::sync::v1::sync_service_server::SyncServiceServer;

pub use config::Config;

/// Serves the control plane until `shutdown` completes.
pub async fn run(
    config: Config,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let consul = ConsulClient::new(&config.mesh.consul_addr)?;
    // Tokens are verified with identity's published keys, found through Consul like any peer
    // (under its renamed Consul name when identity runs under another one).
    let discovery = Discovery::new(consul.clone(), config.mesh.default_deadline);
    let identity = discovery.channel(config.renames.consul_name("identity"));
    let verifier = Arc::new(Verifier::new(
        Arc::new(JwksCache::from_identity(identity)),
        &config.mesh.jwt_issuer,
        &config.mesh.jwt_audience,
    ));
    serve(config, verifier, listeners, shutdown).await
}

/// [`run`] with the token verifier given: tests verify with a key of their own instead of
/// identity's.
pub async fn serve(
    config: Config,
    verifier: Arc<Verifier>,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let consul = ConsulClient::new(&config.mesh.consul_addr)?;
    let fleet = fleet::Fleet::new(consul, config.renames.clone(), config.call_deadline);
    let routes = tonic::service::Routes::new(SyncServiceServer::new(grpc::SyncGrpc {
        fleet: fleet.clone(),
    }));
    let options = ServeOptions {
        services: vec!["talentmesh.sync.v1.SyncService"],
        verifier: Some(verifier),
        // Every RPC needs a token: there is nothing here for anyone but admins.
        policy: AuthPolicy::default(),
        // No stores of its own; without Consul it can answer nothing, so that is its readiness.
        readiness: Some(Arc::new(move || {
            let fleet = fleet.clone();
            Box::pin(async move { fleet.consul_reachable().await })
        })),
        metrics: Metrics::new(config::SERVICE),
        tags: vec!["talentmesh".to_string()],
    };
    server::serve(config.mesh, listeners, routes, options, shutdown).await
}

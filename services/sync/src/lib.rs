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

use std::sync::Arc;

use talentmesh_kit::{Launch, ServiceKit};
use talentmesh_mesh::connect::{ConnectIdentity, MeshTls};
use talentmesh_mesh::consul::ConsulClient;
use talentmesh_proto::sync::v1::sync_service_server::SyncServiceServer;

pub use config::Config;

/// Serves the control plane until the launch's shutdown completes. Tokens are verified with
/// identity's published keys, found through Consul like any peer (under identity's renamed
/// Consul name when it runs under another one), unless the launch gives a verifier.
pub async fn run(config: Config, launch: Launch) -> anyhow::Result<()> {
    let mut kit = ServiceKit::new(config::SERVICE, &config.mesh, launch);
    kit.consul_name("identity", config.renames.consul_name("identity"));
    let consul = ConsulClient::for_mesh(&config.mesh)?;
    let connect = (config.mesh.mesh_tls == MeshTls::Connect)
        .then(|| ConnectIdentity::start(consul.clone(), &config.mesh.service_name));
    let fleet = fleet::Fleet::new(
        consul,
        config.renames.clone(),
        config.call_deadline,
        config.mesh.grpc_max_message,
        connect,
    );
    // No stores of its own; without Consul it can answer nothing, so that is its readiness.
    let probe = fleet.clone();
    kit.readiness(Arc::new(move || {
        let fleet = probe.clone();
        Box::pin(async move { fleet.consul_reachable().await })
    }));
    // Every RPC needs a token: there is nothing here for anyone but admins.
    kit.serve(SyncServiceServer::new(grpc::SyncGrpc { fleet }));
    kit.run().await
}

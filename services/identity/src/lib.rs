//! Identity owns accounts (MySQL), sessions and login throttles (Redis) and the Ed25519 key ring
//! that signs the platform's access tokens. Every other service verifies tokens with the public
//! keys this service publishes.
//!
//! Module map: `domain` (email, password, role), `service` (the logic), `grpc` (the adapter),
//! `store` (MySQL users), `keys` (the key ring), `sessions` (refresh tokens), `throttle`
//! (failed-login windows), `config`.

pub mod config;
pub mod domain;
pub mod grpc;
pub mod keys;
pub mod service;
pub mod sessions;
pub mod store;
pub mod throttle;

use std::future::Future;
use std::sync::Arc;

use talentmesh_mesh::auth::{AuthPolicy, Verifier};
use talentmesh_mesh::metrics::Metrics;
use talentmesh_mesh::server::{self, Listeners, ServeOptions};
use talentmesh_proto::identity::v1::identity_service_server::IdentityServiceServer;
use talentmesh_storage::sync::SyncSetup;
use talentmesh_storage::{Migrations, Stores};

pub use config::Config;

static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");

/// Connects the stores, applies migrations and serves until `shutdown` completes.
pub async fn run(
    config: Config,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let stores = Stores::connect(
        &config.storage,
        Migrations {
            mysql: Some(&MYSQL_MIGRATIONS),
            postgres: None,
        },
    )
    .await?;
    let mysql = stores.mysql()?.clone();
    let redis = stores.redis()?.clone();
    let metrics = Metrics::new(config::SERVICE);
    // Identity has no projections of its own yet: the framework relays its events (other
    // services react to UserRegistered) and serves the admin contract.
    let sync = SyncSetup::new(config::SERVICE, &config.mesh.instance_id, stores.clone())
        .checks(None, false)
        .start(&metrics)
        .await?;

    let keys = keys::KeyRing::open(mysql.clone(), config.key_rotation, config.access_ttl).await?;
    keys.spawn_maintenance();
    let identity = Arc::new(
        service::Identity::new(
            store::UserStore::new(mysql),
            keys.clone(),
            sessions::Sessions::new(redis.clone(), config.refresh_ttl),
            throttle::Throttle::new(redis, config.throttle),
            service::Settings {
                issuer: config.mesh.jwt_issuer.clone(),
                audience: config.mesh.jwt_audience.clone(),
                access_ttl: config.access_ttl,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?,
    );
    if let Some(email) = &config.admin_email {
        identity
            .ensure_admin(email, config.admin_password.expose())
            .await
            .map_err(|e| anyhow::anyhow!("bootstrap admin: {e}"))?;
    }

    // Identity verifies tokens with its own key ring: no call to itself.
    let verifier = Arc::new(Verifier::new(
        keys.clone(),
        &config.mesh.jwt_issuer,
        &config.mesh.jwt_audience,
    ));
    let routes =
        tonic::service::Routes::new(IdentityServiceServer::new(grpc::IdentityGrpc { identity }))
            .add_service(sync.admin_service());
    let readiness_stores = stores.clone();
    let options = ServeOptions {
        services: vec![
            "talentmesh.identity.v1.IdentityService",
            "talentmesh.sync.v1.SyncAdminService",
        ],
        verifier: Some(verifier),
        policy: AuthPolicy::new(grpc::PUBLIC_METHODS),
        readiness: Some(Arc::new(move || {
            let stores = readiness_stores.clone();
            Box::pin(async move { stores.health().await.ready() })
        })),
        metrics,
        tags: vec!["talentmesh".to_string(), "sync-admin".to_string()],
    };
    let served = server::serve(config.mesh, listeners, routes, options, shutdown).await;
    sync.shutdown().await;
    served
}

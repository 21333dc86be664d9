//! Identity owns accounts (MySQL), sessions and login throttles (Redis) and the Ed25519 key ring
//! that signs the platform's access tokens. Every other service verifies tokens with the public
//! keys this service publishes.
//!
//! Module map (read a call from proto to SQL in this order):
//! - `grpc`: the adapter: proto to domain, call `service`, domain to proto; `PUBLIC_METHODS`.
//! - `service`: the logic: registration, login with throttling, token issue and refresh,
//!   logout, reading accounts; `service::keys` is the key ring (rotation, signing, JWKS);
//!   `service::hashing` bounds how many argon2 runs happen at once.
//! - `domain`: email (NFKC, look-alikes refused), password and role, parsed once; the `User`
//!   aggregate.
//! - `store`: all queries: `users` (MySQL accounts + outbox), `keys` (MySQL `signing_keys`,
//!   private halves sealed by `key_cipher`), `sessions` (refresh tokens in Redis), `throttle`
//!   (failed-login windows per account and address in Redis), `revocations` (sessions ended
//!   before their access tokens expired, the feed verifiers poll). Rate limits on registration and
//!   login per client address and account come from `talentmesh-ratelimit` (GCRA in Redis).
//! - `events`: the `UserRegistered` event identity emits (it consumes none).
//! - `error`: the crate `Error`, and its mapping to `ApiError` and `tonic::Status`.
//! - `config`: typed settings from the environment.

pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod service;
pub mod store;

use std::sync::Arc;

use talentmesh_kit::{Launch, ServiceKit};
use talentmesh_mesh::auth::{RevocationPage, RevokedSession, RevokedSessions, Verifier};
use talentmesh_proto::identity::v1::identity_service_server::IdentityServiceServer;
use talentmesh_storage::Migrations;

pub use config::Config;

static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");

/// Connects the stores, applies migrations, opens the key ring (creating the first key) and
/// bootstraps the admin, then serves until the launch's shutdown completes.
pub async fn run(config: Config, launch: Launch) -> anyhow::Result<()> {
    let mut kit = ServiceKit::new(config::SERVICE, &config.mesh, launch);
    let stores = kit
        .stores(&config.storage, Migrations::mysql(&MYSQL_MIGRATIONS))
        .await?;
    let mysql = stores.mysql()?.clone();
    let redis = stores.redis()?.clone();
    // No projections of its own: the framework relays its events (other services react to
    // UserRegistered) and serves the admin contract.
    kit.start_sync(kit.sync()?.checks(None, false)).await?;

    let hashing = service::hashing::HashGate::new(config.hashing);
    hashing.register_metrics(&mut kit.metrics().registry());
    let limiter =
        talentmesh_ratelimit::Limiter::new(redis.clone()).with_limits(&service::limit_names::ALL);
    limiter.register_metrics(&mut kit.metrics().registry());
    let keys = service::keys::KeyRing::open(
        store::KeyStore::new(mysql.clone(), config.key_cipher.clone()),
        config.key_rotation,
        config.access_ttl,
    )
    .await?;
    keys.spawn_maintenance();
    let revocations = store::Revocations::new(redis.clone());
    let identity = service::Identity::new(
        store::UserStore::new(mysql),
        keys.clone(),
        store::Sessions::new(
            redis.clone(),
            config.refresh_ttl,
            config.refresh_retry_window,
        ),
        revocations.clone(),
        store::Throttle::new(redis, config.throttle),
        service::Settings {
            issuer: config.mesh.jwt_issuer.clone(),
            audience: config.mesh.jwt_audience.clone(),
            access_ttl: config.access_ttl,
        },
        hashing,
    )
    .await?
    .with_rate_limits(limiter, config.rate_limits);
    if let Some(email) = &config.admin_email {
        identity
            .ensure_admin(
                email,
                config.admin_password.expose(),
                config.admin_promote_existing,
            )
            .await
            .map_err(|e| anyhow::anyhow!("bootstrap admin: {e}"))?;
    }

    // Identity verifies tokens with its own key ring and its own revoked-session feed: no call
    // to itself.
    let revoked = RevokedSessions::new();
    revoked.spawn_polling(
        own_revocations(revocations),
        talentmesh_mesh::auth::REVOCATION_POLL,
    );
    revoked.register_metrics(&mut kit.metrics().registry());
    kit.verify_with(Arc::new(
        Verifier::new(keys, &config.mesh.jwt_issuer, &config.mesh.jwt_audience)
            .with_revocations(revoked),
    ));
    kit.public_methods(grpc::PUBLIC_METHODS);
    kit.serve(IdentityServiceServer::new(grpc::IdentityGrpc {
        identity: Arc::new(identity),
        trusted_proxies: config.trusted_proxies.clone().into(),
    }));
    kit.run().await
}

/// The revoked-session feed read straight from identity's own store, for its own verifier.
fn own_revocations(store: store::Revocations) -> talentmesh_mesh::auth::FetchRevocations {
    Arc::new(move |cursor: String| {
        let store = store.clone();
        Box::pin(async move {
            let from = cursor.parse::<u64>().unwrap_or(0);
            let page = store
                .list(from, service::REVOKED_PAGE_MAX)
                .await
                .map_err(talentmesh_mesh::ApiError::from)?;
            Ok(RevocationPage {
                sessions: page
                    .sessions
                    .into_iter()
                    .map(|s| RevokedSession {
                        session_id: s.session_id,
                        expires_at: s.expires_at,
                    })
                    .collect(),
                next_cursor: page.next_cursor.to_string(),
            })
        })
    })
}

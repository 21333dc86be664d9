//! The company service: company profiles and enterprise verification (MySQL), company-scoped
//! permissions for the whole platform (MySQL truth, Redis decision cache), offices with a Redis
//! geo index for nearby search, a PostgreSQL search index, and the company network in Neo4j.
//! The three derived stores are projections of one entity, the company's state, fed through
//! the outbox and repaired by the shared consistency checker.
//!
//! Module map: `domain` (pure rules: USCC, coordinates, roles), `state` (the company aggregate,
//! its event and its checker source), `core` (shared handles, the access rule, names),
//! `companies`, `members`, `offices`, `relations` (the RPCs' logic), `authz` (decisions and
//! their cache), `audit`, `search` / `geo_index` / `network` (the projections and their
//! queries), `grpc` (the adapters), `config`.

// Handlers return the wire error (`ApiError`) directly: it is built once per failed RPC, so
// boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

pub mod audit;
pub mod authz;
pub mod companies;
pub mod config;
pub mod core;
pub mod domain;
pub mod geo_index;
pub mod grpc;
pub mod members;
pub mod network;
pub mod offices;
pub mod relations;
pub mod search;
pub mod state;

use std::future::Future;
use std::sync::Arc;

use talentmesh_mesh::auth::{AuthPolicy, JwksCache, Verifier};
use talentmesh_mesh::consul::ConsulClient;
use talentmesh_mesh::metrics::Metrics;
use talentmesh_mesh::server::{self, Listeners, ServeOptions};
use talentmesh_mesh::Discovery;
use talentmesh_proto::company::v1::company_service_server::CompanyServiceServer;
use talentmesh_proto::company::v1::membership_service_server::MembershipServiceServer;
use talentmesh_storage::outbox::Outbox;
use talentmesh_storage::sync::SyncSetup;
use talentmesh_storage::{Migrations, Stores};

pub use config::Config;

static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");

/// Connects the stores and serves until `shutdown`, verifying tokens with identity's keys.
pub async fn run(
    config: Config,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let consul = ConsulClient::new(&config.mesh.consul_addr)?;
    let discovery = Discovery::new(consul, config.mesh.default_deadline);
    let verifier = Arc::new(Verifier::new(
        Arc::new(JwksCache::from_identity(discovery.channel("identity"))),
        &config.mesh.jwt_issuer,
        &config.mesh.jwt_audience,
    ));
    serve(config, verifier, listeners, shutdown).await
}

/// [`run`] with the token verifier given (tests sign tokens with a key of their own).
pub async fn serve(
    config: Config,
    verifier: Arc<Verifier>,
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
    let pg = stores.postgres()?.clone();
    let redis = stores.redis()?.clone();
    let graph = stores.neo4j()?.clone();
    let metrics = Metrics::new(config::SERVICE);

    let geo = Arc::new(geo_index::GeoIndex::new(redis.clone()));
    let sync = SyncSetup::new(config::SERVICE, &config.mesh.instance_id, stores.clone())
        .checks(config.check_every, true)
        .source(Arc::new(state::CompanySource::new(mysql.clone())))
        .projection(
            Arc::new(search::projection(pg.clone())?),
            state::change_of(),
        )
        .projection(
            Arc::new(network::projection(&stores.neo4j_namespace, graph.clone())?),
            state::change_of(),
        )
        .projection(geo.clone(), state::change_of())
        .start(&metrics)
        .await?;

    let audit = audit::AuditLog::spawn(mysql.clone());
    let core = Arc::new(core::Core {
        authz: authz::Authz::new(mysql.clone(), redis, config.decision_ttl, audit.clone()),
        audit,
        outbox: Outbox::new(config::SERVICE),
        pool: mysql,
        pg,
        geo: geo_index::GeoIndex::new(stores.redis()?.clone()),
        network: network::Network::new(graph, &stores.neo4j_namespace),
        invitation_ttl: config.invitation_ttl,
    });

    let routes = tonic::service::Routes::new(CompanyServiceServer::new(grpc::CompanyGrpc {
        core: core.clone(),
    }))
    .add_service(MembershipServiceServer::new(grpc::MembershipGrpc { core }))
    .add_service(sync.admin_service());
    let readiness_stores = stores.clone();
    let options = ServeOptions {
        services: vec![
            "talentmesh.company.v1.CompanyService",
            "talentmesh.company.v1.MembershipService",
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

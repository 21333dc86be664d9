//! The company service: company profiles and enterprise verification (MySQL), company-scoped
//! permissions for the whole platform (MySQL truth, Redis decision cache), offices with a Redis
//! geo index for nearby search, a PostgreSQL search index, and the company network in Neo4j.
//! The three derived stores are projections of one entity, the company's state, fed through
//! the outbox (`CompanyChanged`) and repaired by the shared consistency checker.
//!
//! Module map:
//! - `config`: the typed configuration.
//! - `domain`: the aggregates' types (company and verification, members and invitations,
//!   offices, relations) and pure rules (USCC, coordinates, roles and permissions, names).
//! - `service`: the logic, one service per aggregate (`Companies`, `Members`, `Offices`,
//!   `Relations`), the shared access rule (`Access`) and permission decisions (`Authz`).
//! - `store`: every query: MySQL tables, the Redis decision cache, the audit log, the
//!   projections (`search`, `geo_index`, `network`) and the checker's `source`.
//! - `events`: the `CompanyChanged` event, `change_of()` and the state projections read.
//! - `error`: the crate `Error` and its mapping to the wire error.
//! - `grpc`: the adapters of `CompanyService` and `MembershipService` (`convert`: proto ↔
//!   domain).

pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod service;
pub mod store;

use std::sync::Arc;

use talentmesh_kit::{Launch, ServiceKit};
use talentmesh_proto::company::v1::company_service_server::CompanyServiceServer;
use talentmesh_proto::company::v1::membership_service_server::MembershipServiceServer;
use talentmesh_storage::Migrations;

pub use config::Config;
pub use error::{Error, Result};

static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");

/// Connects the stores, starts the three projections of the company's state and the checker,
/// and serves companies and memberships until the launch's shutdown completes.
pub async fn run(config: Config, launch: Launch) -> anyhow::Result<()> {
    let mut kit = ServiceKit::new(config::SERVICE, &config.mesh, launch);
    let stores = kit
        .stores(&config.storage, Migrations::mysql(&MYSQL_MIGRATIONS))
        .await?;
    let (mysql, pg, redis, graph) = (
        stores.mysql()?.clone(),
        stores.postgres()?.clone(),
        stores.redis()?.clone(),
        stores.neo4j()?.clone(),
    );
    let geo = Arc::new(store::GeoIndex::new(redis.clone()));
    let sync = kit
        .sync()?
        .checks(config.check_every, true)
        .source(Arc::new(store::source::source(mysql.clone())?))
        .projection(
            Arc::new(store::search::projection(pg.clone())?),
            events::change_of(),
        )
        .projection(
            Arc::new(store::network::projection(
                &stores.neo4j_namespace,
                graph.clone(),
            )?),
            events::change_of(),
        )
        .projection(geo.clone(), events::change_of());
    kit.start_sync(sync).await?;

    let invite_limiter = talentmesh_ratelimit::Limiter::new(redis.clone())
        .with_limits(&[service::members::INVITE_PER_INVITER]);
    invite_limiter.register_metrics(&mut kit.metrics().registry());
    let audit = store::AuditLog::spawn(mysql.clone(), kit.metrics());
    let companies = store::CompanyStore::new(mysql.clone(), config::SERVICE);
    let members = store::MemberStore::new(mysql.clone());
    let access = service::Access::new(service::Authz::new(
        members.clone(),
        store::DecisionCache::new(redis.clone(), config.decision_ttl),
        audit.clone(),
    ));
    // AIP-155 request ids of every create method, in the service's Redis.
    let idempotency = talentmesh_storage::idempotency::Idempotency::new(redis.clone());
    kit.public_methods(grpc::PUBLIC_METHODS);
    kit.serve(CompanyServiceServer::new(grpc::CompanyGrpc {
        companies: Arc::new(service::Companies::new(
            companies.clone(),
            members.clone(),
            store::SearchIndex::new(pg),
            access.clone(),
        )),
        offices: Arc::new(service::Offices::new(
            companies.clone(),
            store::OfficeStore::new(mysql.clone()),
            geo,
            access.clone(),
        )),
        relations: Arc::new(service::Relations::new(
            companies.clone(),
            store::RelationStore::new(mysql),
            store::NetworkGraph::new(graph, &stores.neo4j_namespace),
            access.clone(),
        )),
        idempotency: idempotency.clone(),
    }));
    kit.serve(MembershipServiceServer::new(grpc::MembershipGrpc {
        members: Arc::new(
            service::Members::new(companies, members, audit, access, config.invitation_ttl)
                .with_invite_limit(invite_limiter, config.invite_rate),
        ),
        idempotency,
    }));
    kit.run().await
}

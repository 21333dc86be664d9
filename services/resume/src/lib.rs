//! The resume service: a candidate's structured resumes in MySQL, every save an immutable new
//! version carrying its analysis (completeness, skills with synonyms merged, years per skill,
//! seniority), projected as JSONB into PostgreSQL for search and matching, as skills into Neo4j
//! and as a read cache into Redis; companies read what the owner opened to them (membership
//! asked of the company service through `shared/authz`; applications open resumes through the
//! job service's events), never the contact details before screening; export moves every
//! resume with its history, import brings resumes back all or nothing, each saved once (its
//! newest version) within the owner's import budget.
//!
//! Module map (from the wire down):
//! - `grpc`: the adapter; `grpc::convert` maps the wire `Resume` to and from the domain (also
//!   the stored and event form), `grpc::portable` reads and writes the export document.
//! - `service`: the logic (`Resumes`), over domain types, returning `error::Result`.
//! - `domain`: the aggregate (`resume`), the content limits (`limits`), the analysis
//!   (`analysis`, `skills`), ids.
//! - `store`: every query: rows and versions (`store`), application access (`store::access`),
//!   the checker's source (`store::source`), the projections (`store::analysis` PostgreSQL,
//!   `store::graph` Neo4j, `store::cache` Redis).
//! - `events`: `ResumeChanged` (drafts, `change_of`) and the reaction to the job service's
//!   `ApplicationChanged`.
//! - `error`: the crate `Error` and its one mapping to the wire.
//! - `config`: the environment.

pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod service;
pub mod store;

use std::sync::Arc;

use talentmesh_authz::PermissionClient;
use talentmesh_kit::{Launch, ServiceKit};
use talentmesh_proto::resume::v1::resume_service_server::ResumeServiceServer;
use talentmesh_storage::outbox::Outbox;
use talentmesh_storage::Migrations;

pub use config::Config;

static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");

/// Connects the stores, starts the projections, the checker and the reaction to the job
/// service's events, and serves resumes until the launch's shutdown completes. Calls the
/// company service about memberships. Every RPC needs a token: resumes are personal.
pub async fn run(config: Config, launch: Launch) -> anyhow::Result<()> {
    let mut kit = ServiceKit::new(config::SERVICE, &config.mesh, launch);
    let stores = kit
        .stores(&config.storage, Migrations::mysql(&MYSQL_MIGRATIONS))
        .await?;
    let (mysql, redis) = (stores.mysql()?.clone(), stores.redis()?.clone());
    let sync = kit
        .sync()?
        .checks(config.check_every, true)
        .source(Arc::new(store::source::source(mysql.clone())?))
        .projection(
            Arc::new(store::analysis::projection(stores.postgres()?.clone())?),
            events::change_of(),
        )
        .projection(
            Arc::new(store::graph::projection(
                &stores.neo4j_namespace,
                &config.shared_graph_namespace,
                stores.neo4j()?.clone(),
            )?),
            events::change_of(),
        )
        .projection(
            Arc::new(store::cache::projection(redis.clone())),
            events::change_of(),
        )
        .reaction(
            "resume_application_access",
            &config.job_events,
            Arc::new(events::ApplicationAccess::new(mysql.clone())),
        );
    kit.start_sync(sync).await?;

    let resumes = Arc::new(service::Resumes::new(
        store::ResumeStore::new(
            mysql,
            Outbox::new(config::SERVICE),
            store::cache::projection(redis.clone()),
        ),
        PermissionClient::new(kit.upstream("company")?, config.permission_cache),
        config.import_budget,
    ));
    kit.serve(ResumeServiceServer::new(grpc::ResumeGrpc {
        resumes,
        max_message: config.mesh.grpc_max_message,
        idempotency: talentmesh_storage::idempotency::Idempotency::new(redis),
    }));
    kit.run().await
}

//! The job service: jobs in MySQL, written by company members who hold `job.write` (asked of
//! the company service through `shared/authz`), published to a public search index in
//! PostgreSQL (Chinese and English), to the job graph in Neo4j and to a read cache in Redis —
//! projections of the job's state through the outbox, checked by the shared consistency
//! checker. Applications to jobs live here too, so "apply only to a published job" and "one
//! open application per candidate and job" hold in the same MySQL transaction as the write;
//! they are projected into the candidate graph.
//!
//! Module map (proto → SQL and event):
//! - `grpc` — the adapter: `grpc::jobs` (JobService), `grpc::applications`
//!   (ApplicationService), `grpc::wire` (proto ⇄ domain, shared with events and the cache).
//! - `service` — the logic: `service::jobs`, `service::applications`, `service::peers` (the
//!   company and resume services).
//! - `domain` — pure types and rules: `job`, `salary`, `city`, `state`, `search`,
//!   `application`, `names`.
//! - `store` — every query: `store::jobs`, `store::applications` (MySQL), `store::search`
//!   (PostgreSQL index and queries), `store::graph` (Neo4j), `store::cache` (Redis),
//!   `store::hot` (in-memory layer before the cache).
//! - `events` — `JobChanged` and `ApplicationChanged`: drafts for the outbox and the readers
//!   the projections apply.
//! - `error` — the crate's `Error` and its one mapping to the wire.
//! - `config` — the environment.

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
use talentmesh_proto::job::v1::application_service_server::ApplicationServiceServer;
use talentmesh_proto::job::v1::job_service_server::JobServiceServer;
use talentmesh_storage::outbox::Outbox;
use talentmesh_storage::Migrations;

pub use config::Config;
pub use error::{Error, Result};

static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");

/// Serves jobs and applications until the launch's shutdown completes. Calls the company
/// service (permissions, offices) and the resume service (resumes applied with).
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
    let (own_graph, company_graph) = (&stores.neo4j_namespace, &config.company_graph_namespace);
    let sync = kit
        .sync()?
        .checks(config.check_every, true)
        .source(Arc::new(store::jobs::source(mysql.clone())?))
        .projection(
            Arc::new(store::search::search(pg.clone())?),
            events::jobs_change_of(),
        )
        .projection(
            Arc::new(store::graph::jobs_graph(
                own_graph,
                company_graph,
                graph.clone(),
            )?),
            events::jobs_change_of(),
        )
        .projection(
            Arc::new(store::cache::cache(redis.clone())),
            events::jobs_change_of(),
        )
        .source(Arc::new(store::applications::source(mysql.clone())?))
        .projection(
            Arc::new(store::graph::applications_graph(
                own_graph,
                company_graph,
                graph,
            )?),
            events::applications_change_of(),
        );
    kit.start_sync(sync).await?;

    let company = kit.upstream("company")?;
    let outbox = Outbox::new(config::SERVICE);
    let jobs = Arc::new(service::Jobs {
        store: store::JobStore::new(mysql.clone(), outbox.clone()),
        applications: store::ApplicationStore::new(mysql, outbox),
        index: store::SearchIndex::new(pg),
        cache: store::JobCache::new(redis.clone()),
        hot: store::HotJobs::new(config.hot_cache, 10_000),
        authz: PermissionClient::new(company.clone(), config.permission_cache),
        companies: service::Companies::new(company),
        resumes: service::Resumes::new(kit.upstream("resume")?),
    });
    kit.public_methods(grpc::PUBLIC_METHODS);
    let idempotency = talentmesh_storage::idempotency::Idempotency::new(redis);
    kit.serve(JobServiceServer::new(grpc::JobGrpc {
        jobs: jobs.clone(),
        idempotency: idempotency.clone(),
    }));
    kit.serve(ApplicationServiceServer::new(grpc::ApplicationGrpc {
        jobs,
        idempotency,
    }));
    kit.run().await
}

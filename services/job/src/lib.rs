//! The job service: jobs in MySQL, written by company members who hold `job.write` (asked of
//! the company service through `shared/authz`), published to a public search index in
//! PostgreSQL (Chinese and English) and to the job graph in Neo4j, both projections of the
//! job's state through the outbox and checked by the shared consistency checker.
//!
//! Module map: `domain` (validation, state moves, search tokens), `store` (rows, events, the
//! checker's source), `projections` (search index and graph, and the search query), `service`
//! (the logic), `grpc` (the adapter), `config`.

// Handlers return the wire error (`ApiError`) directly; it is built once per failed RPC.
#![allow(clippy::result_large_err)]

pub mod applications;
pub mod config;
pub mod domain;
pub mod grpc;
pub mod hot;
pub mod projections;
pub mod service;
pub mod store;

use std::future::Future;
use std::sync::Arc;

use talentmesh_authz::PermissionClient;
use talentmesh_mesh::auth::{AuthPolicy, JwksCache, Verifier};
use talentmesh_mesh::consul::ConsulClient;
use talentmesh_mesh::metrics::Metrics;
use talentmesh_mesh::server::{self, Listeners, ServeOptions};
use talentmesh_mesh::{Discovery, MeshChannel};
use talentmesh_proto::company::v1::company_service_client::CompanyServiceClient;
use talentmesh_proto::job::v1::application_service_server::ApplicationServiceServer;
use talentmesh_proto::job::v1::job_service_server::JobServiceServer;
use talentmesh_proto::resume::v1::resume_service_client::ResumeServiceClient;
use talentmesh_storage::outbox::Outbox;
use talentmesh_storage::sync::SyncSetup;
use talentmesh_storage::{Migrations, Stores};

pub use config::Config;

static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");

/// Serves until `shutdown`, finding identity (token keys) and company through Consul.
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
    let upstreams = Upstreams {
        company: discovery.channel("company"),
        resume: discovery.channel("resume"),
    };
    serve(config, verifier, upstreams, listeners, shutdown).await
}

/// The services the job service calls.
pub struct Upstreams {
    /// Permissions and offices.
    pub company: MeshChannel,
    /// Resumes applied with.
    pub resume: MeshChannel,
}

/// [`run`] with the token verifier and the upstream channels given (tests).
pub async fn serve(
    config: Config,
    verifier: Arc<Verifier>,
    upstreams: Upstreams,
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
    let metrics = Metrics::new(config::SERVICE);
    let sync = SyncSetup::new(config::SERVICE, &config.mesh.instance_id, stores.clone())
        .checks(config.check_every, true)
        .source(Arc::new(store::JobSource::new(mysql.clone())))
        .projection(
            Arc::new(projections::search(pg.clone())?),
            store::change_of(),
        )
        .projection(
            Arc::new(projections::graph(
                &stores.neo4j_namespace,
                &config.company_graph_namespace,
                stores.neo4j()?.clone(),
            )?),
            store::change_of(),
        )
        .projection(
            Arc::new(projections::cache(stores.redis()?.clone())),
            store::change_of(),
        )
        .source(Arc::new(applications::sync::ApplicationSource::new(
            mysql.clone(),
        )))
        .projection(
            Arc::new(applications::sync::graph(
                &stores.neo4j_namespace,
                &config.company_graph_namespace,
                stores.neo4j()?.clone(),
            )?),
            applications::sync::change_of(),
        )
        .start(&metrics)
        .await?;
    let jobs = Arc::new(service::Jobs {
        pool: mysql,
        pg,
        outbox: Outbox::new(config::SERVICE),
        authz: PermissionClient::new(upstreams.company.clone(), config.permission_cache),
        companies: CompanyServiceClient::new(upstreams.company),
        resumes: ResumeServiceClient::new(upstreams.resume),
        cache: projections::cache(stores.redis()?.clone()),
        hot: hot::HotJobs::new(config.hot_cache, 10_000),
    });
    let routes =
        tonic::service::Routes::new(JobServiceServer::new(grpc::JobGrpc { jobs: jobs.clone() }))
            .add_service(ApplicationServiceServer::new(grpc::ApplicationGrpc {
                jobs,
            }))
            .add_service(sync.admin_service());
    let readiness_stores = stores.clone();
    let options = ServeOptions {
        services: vec![
            "talentmesh.job.v1.JobService",
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

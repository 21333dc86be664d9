//! The resume service: a candidate's structured resumes in MySQL, every save an immutable new
//! version carrying its analysis (completeness, skills with synonyms merged, years per skill,
//! seniority), projected as JSONB into PostgreSQL for search and matching and as skills into Neo4j; companies read what
//! the owner opened to them (asked of the company service through `shared/authz`), never the
//! contact details; export and import move everything at once, all or nothing.
//!
//! Module map: `domain` (the analysis and the skill vocabulary, pure), `access` (what
//! applications open to companies, from the job service's events), `content` (limits and
//! the proto ↔ analysis mapping), `store` (rows, versions, events, the checker's source),
//! `portable` (the export document), `service` (the logic), `grpc`, `config`.

// Handlers return the wire error (`ApiError`) directly; it is built once per failed RPC.
#![allow(clippy::result_large_err)]

pub mod access;
pub mod cache;
pub mod config;
pub mod content;
pub mod domain;
pub mod graph;
pub mod grpc;
pub mod portable;
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
use talentmesh_proto::resume::v1::resume_service_server::ResumeServiceServer;
use talentmesh_storage::outbox::Outbox;
use talentmesh_storage::projection::{Change, PgDocuments};
use talentmesh_storage::sync::SyncSetup;
use talentmesh_storage::{Migrations, Stores};

pub use config::Config;

static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");

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
    let company = discovery.channel("company");
    serve(config, verifier, company, listeners, shutdown).await
}

/// The analysis of each resume's newest version as JSONB (what matching and search read).
fn analysis_projection(pool: sqlx::PgPool) -> talentmesh_storage::Result<PgDocuments> {
    Ok(PgDocuments::new(
        "resumes_analysis",
        store::ENTITY,
        "resume_analysis",
        pool,
        Arc::new(|c: &Change| {
            let r: talentmesh_proto::resume::v1::Resume =
                prost::Message::decode(c.state.as_slice())
                    .map_err(|e| format!("undecodable resume: {e}"))?;
            let a = r.analysis.unwrap_or_default();
            Ok(serde_json::json!({
                "owner": r.owner,
                "title": r.title,
                "visibility": r.visibility,
                "city_code": r.location.map(|l| l.city_code).unwrap_or_default(),
                "completeness": a.completeness,
                "missing": a.missing,
                "total_years": a.total_years,
                "seniority": a.seniority,
                "skills": a.skills.iter().map(|s| serde_json::json!({
                    "name": s.name, "declared": s.declared, "level": s.level, "years": s.years,
                })).collect::<Vec<_>>(),
            }))
        }),
    )?
    .with_ddl(
        "CREATE INDEX IF NOT EXISTS resume_analysis_skills ON resume_analysis \
         USING gin ((doc->'skills') jsonb_path_ops) WHERE NOT deleted",
    ))
}

pub async fn serve(
    config: Config,
    verifier: Arc<Verifier>,
    company: MeshChannel,
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
    let metrics = Metrics::new(config::SERVICE);
    let sync = SyncSetup::new(config::SERVICE, &config.mesh.instance_id, stores.clone())
        .checks(config.check_every, true)
        .source(Arc::new(store::ResumeSource::new(mysql.clone())))
        .projection(
            Arc::new(analysis_projection(stores.postgres()?.clone())?),
            store::change_of(),
        )
        .projection(
            Arc::new(graph::projection(
                &stores.neo4j_namespace,
                &config.shared_graph_namespace,
                stores.neo4j()?.clone(),
            )?),
            store::change_of(),
        )
        .projection(
            Arc::new(cache::projection(stores.redis()?.clone())),
            store::change_of(),
        )
        .reaction(
            "resume_application_access",
            &config.job_events,
            Arc::new(access::ApplicationAccess::new(mysql.clone())),
        )
        .start(&metrics)
        .await?;
    let resumes = Arc::new(service::Resumes {
        pool: mysql,
        outbox: Outbox::new(config::SERVICE),
        authz: PermissionClient::new(company, config.permission_cache),
        cache: cache::projection(stores.redis()?.clone()),
    });
    let routes =
        tonic::service::Routes::new(ResumeServiceServer::new(grpc::ResumeGrpc { resumes }))
            .add_service(sync.admin_service());
    let readiness_stores = stores.clone();
    let options = ServeOptions {
        services: vec![
            "talentmesh.resume.v1.ResumeService",
            "talentmesh.sync.v1.SyncAdminService",
        ],
        verifier: Some(verifier),
        // Every RPC needs a token: resumes are personal.
        policy: AuthPolicy::default(),
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

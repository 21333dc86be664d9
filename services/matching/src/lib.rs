//! The matching service, the platform's AI: jobs for a resume, candidates for a job, companies
//! for a candidate, similar jobs, and the explanation and analysis of one match. Every score is
//! a sum of named components (semantic similarity of the two texts' embeddings, required and
//! preferred skills with synonyms and related skills, experience, education, salary fit,
//! distance, recruit type), each with its value and weight; missing data is unknown, never
//! agreement; a name, gender or age in a resume never changes a score.
//!
//! Data: the job, resume and company services' events become documents in MySQL (reactions),
//! whose own events feed the embeddings projection in PostgreSQL (texts embedded by the model
//! server, or the built-in embedder), checked against MySQL like every projection; each
//! instance keeps an in-memory vector index from PostgreSQL. Applications are kept as feedback
//! the weights are tuned on; related skills are learned from co-occurrence into Neo4j.
//!
//! Module map (from the wire down):
//! - `grpc`: the adapter; `grpc::convert` maps domain results to the wire.
//! - `service`: the logic (`Matching`): access, candidates from the index, scoring.
//! - `domain`: profiles, texts, the score and its components, analysis, fairness, tuning.
//! - `store`: MySQL documents, the PostgreSQL embeddings, the in-memory index, Neo4j skills.
//! - `events`: the reactions to the other services' events and matching's own event.
//! - `error`: the crate `Error` and its one mapping to the wire.
//! - `config`: the environment.

pub mod config;
pub mod domain;
pub mod error;
pub mod events;
pub mod grpc;
pub mod service;
pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use talentmesh_authz::PermissionClient;
use talentmesh_embed::{
    AnyEmbedder, BuiltinEmbedder, CenteredEmbedder, Embedder, HttpConfig, HttpEmbedder,
    LanguageMeans, DEFAULT_MODEL,
};
use talentmesh_kit::{Launch, ServiceKit};
use talentmesh_proto::matching::v1::matching_service_server::MatchingServiceServer;
use talentmesh_storage::outbox::Outbox;
use talentmesh_storage::Migrations;

pub use config::Config;
pub use error::{Error, Result};

static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");

/// The embedder the configuration asks for: the model server (centered on the language means
/// that ship for its model, unless turned off), or the built-in one.
pub fn embedder(config: &Config) -> anyhow::Result<AnyEmbedder> {
    let Some(url) = &config.embeddings_url else {
        return Ok(AnyEmbedder::Builtin(BuiltinEmbedder::new()));
    };
    let model = HttpEmbedder::new(HttpConfig {
        base_url: url.clone(),
        model: config.embeddings_model.clone(),
        ..HttpConfig::default()
    })?;
    if !config.center_languages {
        return Ok(AnyEmbedder::Http(model));
    }
    if config.embeddings_model != DEFAULT_MODEL {
        anyhow::bail!(
            "language means ship for {DEFAULT_MODEL} only; set \
             TALENTMESH_MATCHING_CENTER_LANGUAGES=false for {}",
            config.embeddings_model
        );
    }
    Ok(AnyEmbedder::Centered(CenteredEmbedder::new(
        model,
        LanguageMeans::multilingual_e5_small(),
    )?))
}

/// Serves matching until the launch's shutdown completes. Reads the job, resume and company
/// services' events; calls the company service about permissions.
pub async fn run(config: Config, launch: Launch) -> anyhow::Result<()> {
    let mut kit = ServiceKit::new(config::SERVICE, &config.mesh, launch);
    let stores = kit
        .stores(&config.storage, Migrations::mysql(&MYSQL_MIGRATIONS))
        .await?;
    let (mysql, pg, graph) = (
        stores.mysql()?.clone(),
        stores.postgres()?.clone(),
        stores.neo4j()?.clone(),
    );
    let embedder = embedder(&config)?;
    let docs = store::Documents::new(mysql.clone(), Outbox::new(config::SERVICE));
    let embeddings = store::Embeddings::new(pg, embedder.clone());
    let sync = kit
        .sync()?
        .checks(config.check_every, true)
        .source(Arc::new(store::documents::source(mysql.clone())?))
        .projection(Arc::new(embeddings.clone()), events::change_of())
        .reaction(
            "matching_jobs",
            &config.job_events,
            Arc::new(events::JobEvents::new(docs.clone())),
        )
        .reaction(
            "matching_resumes",
            &config.resume_events,
            Arc::new(events::ResumeEvents::new(docs.clone())),
        )
        .reaction(
            "matching_companies",
            &config.company_events,
            Arc::new(events::CompanyEvents::new(docs.clone())),
        );
    kit.start_sync(sync).await?;

    // The index is whole before the first request: rebuilt from PostgreSQL, then kept fresh.
    let index = Arc::new(store::Index::new(embeddings, embedder.dimensions())?);
    let started = std::time::Instant::now();
    let loaded = index.refresh().await?;
    tracing::info!(
        documents = loaded,
        took_ms = started.elapsed().as_millis() as u64,
        "vector index rebuilt"
    );
    index.spawn_refresh(config.index_refresh);

    let matching = Arc::new(service::Matching {
        docs: docs.clone(),
        index,
        embedder,
        authz: PermissionClient::new(kit.upstream("company")?, config.permission_cache),
        related: Arc::new(RwLock::new(Arc::new(domain::RelatedSkills::default()))),
        weights: Arc::new(RwLock::new(service::WeightsInUse::default())),
        calibration: service::Calibration {
            floor: config.semantic_floor,
            ceiling: config.semantic_ceiling,
        },
        queries: Mutex::new(HashMap::new()),
    });
    matching.load_weights().await?;
    spawn_related_skills(
        matching.clone(),
        graph,
        config.shared_graph_namespace.clone(),
        config.related_skills_every,
    );
    kit.serve(MatchingServiceServer::new(grpc::MatchingGrpc { matching }));
    kit.run().await
}

/// Learns related skills now and every `every`: from co-occurrence in the stored documents,
/// written to Neo4j, then read back into the service (so instances agree on what is stored).
fn spawn_related_skills(
    matching: Arc<service::Matching>,
    graph: neo4rs::Graph,
    ns: String,
    every: Duration,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let learned = async {
                let documents = store::skills::document_skills(matching.docs.pool()).await?;
                let pairs = store::skills::learn(&documents);
                store::skills::store(&graph, &ns, &pairs).await?;
                let stored = store::skills::load(&graph, &ns).await?;
                Ok::<_, Error>(store::skills::related(&stored))
            }
            .await;
            match learned {
                Ok(related) => {
                    *matching.related.write().unwrap_or_else(|p| p.into_inner()) =
                        Arc::new(related);
                }
                Err(e) => tracing::warn!(error = %e, "related skills not learned; retrying later"),
            }
        }
    });
}

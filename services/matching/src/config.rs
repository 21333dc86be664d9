//! The matching service's configuration.

use std::time::Duration;

use talentmesh_mesh::config::{ConfigError, Env, MeshConfig};
use talentmesh_storage::config::namespace;
use talentmesh_storage::{Needs, StorageConfig};

/// The service's name in the mesh, its stores and its events.
pub const SERVICE: &str = "matching";
/// The gRPC port unless `TALENTMESH_GRPC_ADDR` says otherwise.
pub const DEFAULT_PORT: u16 = 50057;

/// Everything the service reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub mesh: MeshConfig,
    pub storage: StorageConfig,
    /// The OpenAI-compatible embeddings server (`TALENTMESH_MATCHING_EMBEDDINGS_URL`, e.g.
    /// `http://127.0.0.1:18090`); `None` (the variable set to `builtin`) uses the built-in
    /// embedder, which needs no server.
    pub embeddings_url: Option<String>,
    /// Whether the model's vectors are centered on each language's mean
    /// (`TALENTMESH_MATCHING_CENTER_LANGUAGES`, default true; only for multilingual-e5-small,
    /// whose means ship with `talentmesh-embed`): without it a Chinese resume is nearer any
    /// Chinese job than its English translation.
    pub center_languages: bool,
    /// The model name sent to the embeddings server.
    pub embeddings_model: String,
    /// The semantic component's cosine band (`TALENTMESH_MATCHING_SEMANTIC_FLOOR`,
    /// `…_CEILING`): by default the centered model's (0.0, 0.45), the raw model's (0.80, 0.95) or the
    /// built-in embedder's (0.05, 0.5).
    pub semantic_floor: f32,
    pub semantic_ceiling: f32,
    /// How long an in-process permission answer is reused.
    pub permission_cache: Duration,
    /// How often the consistency checker runs (`None`: only when asked).
    pub check_every: Option<Duration>,
    /// How often the in-memory index reads new embeddings from PostgreSQL.
    pub index_refresh: Duration,
    /// How often related skills are learned again from co-occurrence.
    pub related_skills_every: Duration,
    /// The other services' event streams (full Redis keys).
    pub job_events: String,
    pub resume_events: String,
    pub company_events: String,
    /// The Neo4j namespace of the shared skill nodes (the company graph's, as the resume
    /// service's `HAS_SKILL` edges use).
    pub shared_graph_namespace: String,
}

impl Config {
    /// Reads the configuration; every problem is reported at once.
    pub fn load(mut env: Env) -> Result<Config, ConfigError> {
        let mesh = MeshConfig::load(&mut env, SERVICE, DEFAULT_PORT);
        let storage = StorageConfig::load(
            &mut env,
            SERVICE,
            Needs {
                mysql: true,
                postgres: true,
                neo4j: true,
                redis: true,
            },
        );
        let url = env.string(
            "TALENTMESH_MATCHING_EMBEDDINGS_URL",
            "http://127.0.0.1:18090",
        );
        let check_every = env.duration(
            "TALENTMESH_MATCHING_CHECK_EVERY",
            Duration::from_secs(15 * 60),
        );
        let builtin = url == "builtin";
        let center_languages = env.parse("TALENTMESH_MATCHING_CENTER_LANGUAGES", true);
        // Measured on the evaluation set (tests/eval): E5 puts a resume and its job at 0.92 on
        // average and a job of another role at 0.83; centered on the language means, at 0.40
        // and 0.0 (0.33 for a resume and its job in the other language); the built-in
        // embedder at 0.42 and 0.05.
        let (floor, ceiling) = match (builtin, center_languages) {
            (true, _) => (0.05, 0.5),
            (false, true) => (0.0, 0.45),
            (false, false) => (0.80, 0.95),
        };
        let semantic_floor = env.parse("TALENTMESH_MATCHING_SEMANTIC_FLOOR", floor);
        let semantic_ceiling = env.parse("TALENTMESH_MATCHING_SEMANTIC_CEILING", ceiling);
        if semantic_ceiling.partial_cmp(&semantic_floor) != Some(std::cmp::Ordering::Greater) {
            env.problem("TALENTMESH_MATCHING_SEMANTIC_CEILING must be above the floor");
        }
        let config = Config {
            mesh,
            storage,
            semantic_floor,
            semantic_ceiling,
            center_languages,
            embeddings_url: (!builtin).then_some(url),
            embeddings_model: env.string(
                "TALENTMESH_MATCHING_EMBEDDINGS_MODEL",
                "multilingual-e5-small",
            ),
            permission_cache: env.duration(
                "TALENTMESH_MATCHING_PERMISSION_CACHE",
                Duration::from_secs(1),
            ),
            check_every: (!check_every.is_zero()).then_some(check_every),
            index_refresh: env.duration(
                "TALENTMESH_MATCHING_INDEX_REFRESH",
                Duration::from_millis(100),
            ),
            related_skills_every: env.duration(
                "TALENTMESH_MATCHING_RELATED_SKILLS_EVERY",
                Duration::from_secs(600),
            ),
            job_events: env.string("TALENTMESH_MATCHING_JOB_EVENTS_STREAM", "job:events"),
            resume_events: env.string("TALENTMESH_MATCHING_RESUME_EVENTS_STREAM", "resume:events"),
            company_events: env.string(
                "TALENTMESH_MATCHING_COMPANY_EVENTS_STREAM",
                "company:events",
            ),
            shared_graph_namespace: namespace(
                &mut env,
                "TALENTMESH_MATCHING_SHARED_GRAPH_NAMESPACE",
                "company",
            ),
        };
        env.finish()?;
        Ok(config)
    }
}

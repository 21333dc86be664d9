//! The resume service's configuration.

use std::time::Duration;

use talentmesh_mesh::config::{ConfigError, Env, MeshConfig};
use talentmesh_storage::config::namespace;
use talentmesh_storage::{Needs, StorageConfig};

use crate::domain::limits::ImportBudget;

/// The service's name in the mesh, its stores and its events.
pub const SERVICE: &str = "resume";
/// The gRPC port unless `TALENTMESH_GRPC_ADDR` says otherwise.
pub const DEFAULT_PORT: u16 = 50054;

/// Everything the service reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub mesh: MeshConfig,
    pub storage: StorageConfig,
    /// How long an in-process permission answer is reused (company members reading resumes).
    pub permission_cache: Duration,
    /// How often the consistency checker runs (`None`: only when asked).
    pub check_every: Option<Duration>,
    /// The job service's event stream (full Redis key): applications open resumes to companies.
    pub job_events: String,
    /// The Neo4j namespace shared with the company and job graphs (candidates and skills).
    pub shared_graph_namespace: String,
    /// How many resumes an owner may have created in a rolling window before imports are
    /// refused (`TALENTMESH_RESUME_IMPORT_BUDGET`, 500 resumes;
    /// `TALENTMESH_RESUME_IMPORT_WINDOW`, 86400s).
    pub import_budget: ImportBudget,
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
        let check_every = env.duration(
            "TALENTMESH_RESUME_CHECK_EVERY",
            Duration::from_secs(15 * 60),
        );
        let import_budget = ImportBudget {
            resumes: env.parse("TALENTMESH_RESUME_IMPORT_BUDGET", 500),
            window: env.duration(
                "TALENTMESH_RESUME_IMPORT_WINDOW",
                Duration::from_secs(24 * 3600),
            ),
        };
        if import_budget.resumes < 1 || import_budget.window.is_zero() {
            env.problem("TALENTMESH_RESUME_IMPORT_BUDGET and _WINDOW must be positive");
        }
        let config = Config {
            mesh,
            storage,
            permission_cache: env
                .duration("TALENTMESH_RESUME_PERMISSION_CACHE", Duration::from_secs(1)),
            check_every: (!check_every.is_zero()).then_some(check_every),
            job_events: env.string("TALENTMESH_RESUME_JOB_EVENTS_STREAM", "job:events"),
            shared_graph_namespace: namespace(
                &mut env,
                "TALENTMESH_RESUME_SHARED_GRAPH_NAMESPACE",
                "company",
            ),
            import_budget,
        };
        env.finish()?;
        Ok(config)
    }
}

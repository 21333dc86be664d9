//! The job service's configuration: the mesh and store settings, and where the company
//! service's graph lives.

use std::time::Duration;

use talentmesh_mesh::config::{ConfigError, Env, MeshConfig};
use talentmesh_storage::config::namespace;
use talentmesh_storage::{Needs, StorageConfig};

/// The service's name in the mesh, its stores and its events.
pub const SERVICE: &str = "job";
/// The gRPC port when `TALENTMESH_GRPC_ADDR` does not say.
pub const DEFAULT_PORT: u16 = 50053;

/// Everything the job service reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server, discovery and token settings.
    pub mesh: MeshConfig,
    /// MySQL, PostgreSQL, Neo4j and Redis.
    pub storage: StorageConfig,
    /// The company service's Neo4j namespace: jobs are linked to its `Company` nodes.
    pub company_graph_namespace: String,
    /// How long an in-process permission answer is reused for reads (writes always ask).
    pub permission_cache: Duration,
    /// How often the consistency checker runs (`None`: only when asked).
    pub check_every: Option<Duration>,
    /// How long this instance keeps a published job it served in memory (0 turns it off).
    pub hot_cache: Duration,
}

impl Config {
    /// Reads the configuration; every problem of it at once in the error.
    pub fn load(mut env: Env) -> Result<Config, ConfigError> {
        let mesh = MeshConfig::load(&mut env, SERVICE, DEFAULT_PORT);
        let storage = StorageConfig::load(&mut env, SERVICE, Needs::ALL);
        let check_every = env.duration("TALENTMESH_JOB_CHECK_EVERY", Duration::from_secs(15 * 60));
        let config = Config {
            mesh,
            storage,
            company_graph_namespace: namespace(
                &mut env,
                "TALENTMESH_JOB_COMPANY_GRAPH_NAMESPACE",
                "company",
            ),
            permission_cache: env
                .duration("TALENTMESH_JOB_PERMISSION_CACHE", Duration::from_secs(1)),
            check_every: (!check_every.is_zero()).then_some(check_every),
            hot_cache: env.duration("TALENTMESH_JOB_HOT_CACHE", Duration::from_secs(1)),
        };
        env.finish()?;
        Ok(config)
    }
}

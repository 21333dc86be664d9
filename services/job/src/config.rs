//! The job service's configuration: the mesh and store settings, and where the company
//! service's graph lives.

use std::time::Duration;

use talentmesh_mesh::config::{ConfigError, Env, MeshConfig};
use talentmesh_storage::{Needs, StorageConfig};

pub const SERVICE: &str = "job";
pub const DEFAULT_PORT: u16 = 50053;

#[derive(Debug, Clone)]
pub struct Config {
    pub mesh: MeshConfig,
    pub storage: StorageConfig,
    /// The company service's Neo4j namespace: jobs are linked to its `Company` nodes.
    pub company_graph_namespace: String,
    /// How long an in-process permission answer is reused for reads (writes always ask).
    pub permission_cache: Duration,
    pub check_every: Option<Duration>,
    /// How long this instance keeps a published job it served in memory (0 turns it off).
    pub hot_cache: Duration,
}

impl Config {
    pub fn load(mut env: Env) -> Result<Config, ConfigError> {
        let mesh = MeshConfig::load(&mut env, SERVICE, DEFAULT_PORT);
        let storage = StorageConfig::load(&mut env, SERVICE, Needs::ALL);
        let check_every = env.duration("TALENTMESH_JOB_CHECK_EVERY", Duration::from_secs(15 * 60));
        let config = Config {
            mesh,
            storage,
            company_graph_namespace: env
                .string("TALENTMESH_JOB_COMPANY_GRAPH_NAMESPACE", "company"),
            permission_cache: env
                .duration("TALENTMESH_JOB_PERMISSION_CACHE", Duration::from_secs(1)),
            check_every: (!check_every.is_zero()).then_some(check_every),
            hot_cache: env.duration("TALENTMESH_JOB_HOT_CACHE", Duration::from_secs(1)),
        };
        env.finish()?;
        Ok(config)
    }
}

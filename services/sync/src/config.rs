//! The sync service's configuration: the mesh settings, the deadline of each call to an instance,
//! and the names under which services are registered in Consul when they differ from the names
//! operators use (tests and canaries register under names of their own, like the gateway's
//! `TALENTMESH_GATEWAY_SERVICE_NAMES`).

use std::time::Duration;

use talentmesh_mesh::config::{ConfigError, Env, MeshConfig};

use crate::names::Renames;

pub const SERVICE: &str = "sync";
pub const DEFAULT_PORT: u16 = 50058;

#[derive(Debug, Clone)]
pub struct Config {
    pub mesh: MeshConfig,
    /// `TALENTMESH_SYNC_CALL_DEADLINE`, default 3 s: how long one instance may take to answer, so
    /// one hung instance delays an overview by at most this much.
    pub call_deadline: Duration,
    /// `TALENTMESH_SYNC_SERVICE_NAMES`, `service=consul-name,...`.
    pub renames: Renames,
}

impl Config {
    pub fn load(mut env: Env) -> Result<Config, ConfigError> {
        let mesh = MeshConfig::load(&mut env, SERVICE, DEFAULT_PORT);
        let call_deadline = env.duration("TALENTMESH_SYNC_CALL_DEADLINE", Duration::from_secs(3));
        if call_deadline.is_zero() {
            env.problem("TALENTMESH_SYNC_CALL_DEADLINE: must be positive");
        }
        // Every answer this service gives comes from instances it finds in Consul.
        if mesh.consul_addr.is_empty() {
            env.problem("TALENTMESH_CONSUL_ADDR: the sync service needs Consul");
        }
        let raw = env.string("TALENTMESH_SYNC_SERVICE_NAMES", "");
        let renames = match Renames::parse(&raw) {
            Ok(renames) => renames,
            Err(entry) => {
                env.problem(format!(
                    "TALENTMESH_SYNC_SERVICE_NAMES: expected service=consul-name entries, got `{entry}`"
                ));
                Renames::default()
            }
        };
        env.finish()?;
        Ok(Config {
            mesh,
            call_deadline,
            renames,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fit_the_local_mesh() {
        let config = Config::load(Env::from_map(Vec::<(String, String)>::new())).unwrap();
        assert_eq!(config.mesh.grpc_addr.port(), 50058);
        assert_eq!(config.mesh.service_name, "sync");
        assert_eq!(config.call_deadline, Duration::from_secs(3));
        assert_eq!(config.renames.consul_name("identity"), "identity");
    }

    #[test]
    fn every_problem_is_reported() {
        let err = Config::load(Env::from_map([
            ("TALENTMESH_SYNC_CALL_DEADLINE", "0s"),
            ("TALENTMESH_CONSUL_ADDR", ""),
            ("TALENTMESH_SYNC_SERVICE_NAMES", "identity"),
        ]))
        .unwrap_err();
        assert_eq!(err.problems.len(), 3, "{:?}", err.problems);
    }
}

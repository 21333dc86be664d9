//! The company service's configuration: the mesh and store settings plus the permission cache
//! and the invitation rate limit.
//!
//! - `TALENTMESH_COMPANY_RATE_INVITE_PER_INVITER` (20/h): invitations one user may create, over
//!   all companies, shared by every instance through Redis (GCRA, `talentmesh-ratelimit`);
//!   written `N/UNIT` (`20/h`, `5/min`, `20/90s`). Over it: RESOURCE_EXHAUSTED with `RetryInfo`
//!   and reason `RATE_LIMITED`; while Redis is down invitations are refused with UNAVAILABLE.

use std::time::Duration;

use talentmesh_mesh::config::{ConfigError, Env, MeshConfig};
use talentmesh_ratelimit::Rate;
use talentmesh_storage::{Needs, StorageConfig};

/// The service's name in the mesh (Consul, metrics, outbox, key prefixes).
pub const SERVICE: &str = "company";
/// The gRPC port when none is configured.
pub const DEFAULT_PORT: u16 = 50052;

/// Everything the service reads from its environment at start.
#[derive(Debug, Clone)]
pub struct Config {
    pub mesh: MeshConfig,
    pub storage: StorageConfig,
    /// How long a cached permission decision lives in Redis. A membership change makes older
    /// decisions unreachable at once (their key holds the old permission version); this only
    /// bounds the memory they take.
    pub decision_ttl: Duration,
    /// Invitations expire after this.
    pub invitation_ttl: Duration,
    /// Invitations per inviter.
    pub invite_rate: Rate,
    /// How often the consistency checker compares the projections with MySQL (0: never).
    pub check_every: Option<Duration>,
}

impl Config {
    /// Reads the configuration, reporting every problem at once.
    pub fn load(mut env: Env) -> Result<Config, ConfigError> {
        let mesh = MeshConfig::load(&mut env, SERVICE, DEFAULT_PORT);
        let storage = StorageConfig::load(&mut env, SERVICE, Needs::ALL);
        let check_every = env.duration(
            "TALENTMESH_COMPANY_CHECK_EVERY",
            Duration::from_secs(15 * 60),
        );
        let config = Config {
            mesh,
            storage,
            decision_ttl: env.duration("TALENTMESH_COMPANY_DECISION_TTL", Duration::from_secs(600)),
            invitation_ttl: env.duration(
                "TALENTMESH_COMPANY_INVITATION_TTL",
                Duration::from_secs(7 * 24 * 3600),
            ),
            invite_rate: env.parse(
                "TALENTMESH_COMPANY_RATE_INVITE_PER_INVITER",
                Rate::per_hour(20),
            ),
            check_every: (!check_every.is_zero()).then_some(check_every),
        };
        if config.decision_ttl < Duration::from_secs(1) {
            env.problem("TALENTMESH_COMPANY_DECISION_TTL: must be at least 1s");
        }
        env.finish()?;
        Ok(config)
    }
}

//! Identity's configuration: the mesh and store settings plus token lifetimes, throttling and the
//! bootstrap admin.

use std::time::Duration;

use talentmesh_mesh::config::{ConfigError, Env, MeshConfig, Secret};
use talentmesh_storage::{Needs, StorageConfig};

use crate::store::throttle::Limits;

pub const SERVICE: &str = "identity";
pub const DEFAULT_PORT: u16 = 50051;
/// The longest refresh retry window: a retry is a client's answer to a lost response, seconds
/// later; a longer window only lengthens the time a stolen token is honoured.
pub const MAX_REFRESH_RETRY_WINDOW: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Config {
    pub mesh: MeshConfig,
    pub storage: StorageConfig,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// How long after a refresh the same refresh token gets the same answer again (a client
    /// retrying a lost response); later it is reuse and revokes the session. Zero: never.
    pub refresh_retry_window: Duration,
    pub key_rotation: Duration,
    pub throttle: Limits,
    /// When both are set, an admin account with this email exists after start.
    pub admin_email: Option<String>,
    pub admin_password: Secret,
}

impl Config {
    pub fn load(mut env: Env) -> Result<Config, ConfigError> {
        let mesh = MeshConfig::load(&mut env, SERVICE, DEFAULT_PORT);
        let storage = StorageConfig::load(
            &mut env,
            SERVICE,
            Needs {
                mysql: true,
                postgres: false,
                neo4j: false,
                redis: true,
            },
        );
        let config = Config {
            mesh,
            storage,
            access_ttl: env.duration(
                "TALENTMESH_IDENTITY_ACCESS_TTL",
                Duration::from_secs(15 * 60),
            ),
            refresh_ttl: env.duration(
                "TALENTMESH_IDENTITY_REFRESH_TTL",
                Duration::from_secs(30 * 24 * 3600),
            ),
            refresh_retry_window: env.duration(
                "TALENTMESH_IDENTITY_REFRESH_RETRY_WINDOW",
                Duration::from_secs(5),
            ),
            key_rotation: env.duration(
                "TALENTMESH_IDENTITY_KEY_ROTATION",
                Duration::from_secs(24 * 3600),
            ),
            throttle: Limits {
                window: env.duration(
                    "TALENTMESH_IDENTITY_THROTTLE_WINDOW",
                    Duration::from_secs(900),
                ),
                per_account: env.parse("TALENTMESH_IDENTITY_THROTTLE_PER_ACCOUNT", 5),
                per_address: env.parse("TALENTMESH_IDENTITY_THROTTLE_PER_ADDRESS", 50),
            },
            admin_email: env.optional("TALENTMESH_IDENTITY_ADMIN_EMAIL"),
            admin_password: env.secret("TALENTMESH_IDENTITY_ADMIN_PASSWORD", ""),
        };
        if config.access_ttl < Duration::from_secs(1) {
            env.problem("TALENTMESH_IDENTITY_ACCESS_TTL: must be at least 1s");
        }
        if config.refresh_retry_window > MAX_REFRESH_RETRY_WINDOW
            || config.refresh_retry_window >= config.refresh_ttl
        {
            env.problem(
                "TALENTMESH_IDENTITY_REFRESH_RETRY_WINDOW: at most 60s, and shorter than the refresh TTL",
            );
        }
        if config.throttle.per_account == 0 || config.throttle.per_address == 0 {
            env.problem("TALENTMESH_IDENTITY_THROTTLE_PER_*: must be at least 1");
        }
        if config.admin_email.is_some() && config.admin_password.is_empty() {
            env.problem(
                "TALENTMESH_IDENTITY_ADMIN_PASSWORD: required with TALENTMESH_IDENTITY_ADMIN_EMAIL",
            );
        }
        env.finish()?;
        Ok(config)
    }
}

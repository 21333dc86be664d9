//! Identity's configuration: the mesh and store settings plus token lifetimes, throttling, the
//! client address behind trusted proxies, the bound on password hashing, the key that encrypts
//! signing keys at rest, and the bootstrap admin.
//!
//! Variables of identity's own (besides the mesh's and the stores'):
//! - `TALENTMESH_IDENTITY_THROTTLE_PER_ACCOUNT` (5): failed logins to one account from one client
//!   address within `TALENTMESH_IDENTITY_THROTTLE_WINDOW` (900s) before that pair must wait;
//!   `TALENTMESH_IDENTITY_THROTTLE_PER_ADDRESS` (50): failed logins from one address.
//! - Rate limits, shared by every identity instance through Redis (GCRA, `talentmesh-ratelimit`),
//!   written `N/UNIT` (`10/h`, `30/min`, `5/s`, `20/90s`); a call over one gets
//!   RESOURCE_EXHAUSTED with `RetryInfo` and reason `RATE_LIMITED`:
//!   `TALENTMESH_IDENTITY_RATE_REGISTER_PER_ADDRESS` (10/h) registrations per client address;
//!   `TALENTMESH_IDENTITY_RATE_REGISTER_PER_ACCOUNT` (5/h) registration attempts per email;
//!   `TALENTMESH_IDENTITY_RATE_LOGIN_PER_ADDRESS` (30/min) logins per client address;
//!   `TALENTMESH_IDENTITY_RATE_LOGIN_PER_ACCOUNT` (10/min) logins to one email from one client
//!   address (per pair, not per email alone, so nobody can keep an owner out by spending the
//!   email's budget from elsewhere). If Redis is down, logins pass (logged and counted) and
//!   registrations are refused with UNAVAILABLE.
//! - `TALENTMESH_IDENTITY_TRUSTED_PROXIES` (empty): comma-separated networks (`10.0.0.0/8`, or a
//!   single address) whose connections may name the client's address in the
//!   `x-talentmesh-client-ip` metadata entry (the gateway sets it). From any other peer the entry
//!   is ignored and the peer's own address counts.
//! - `TALENTMESH_IDENTITY_HASH_MEMORY_BUDGET_MIB` (256): memory argon2 may hold at once; the
//!   number of concurrent password hashes is this over 19 MiB (13 by default), unless
//!   `TALENTMESH_IDENTITY_HASH_CONCURRENCY` names it. `TALENTMESH_IDENTITY_HASH_QUEUE_DEADLINE`
//!   (2s): the longest a login or registration waits for its turn before RESOURCE_EXHAUSTED.
//! - `TALENTMESH_IDENTITY_KEY_ENCRYPTION_KEY` (required): standard base64 of 32 random bytes
//!   (`head -c 32 /dev/urandom | base64`), the AES-256-GCM key that encrypts the signing keys in
//!   MySQL; `TALENTMESH_IDENTITY_KEY_ENCRYPTION_KEY_PREVIOUS` (empty): comma-separated earlier keys,
//!   still read while rows sealed under them are re-sealed under the current one.
//! - `TALENTMESH_IDENTITY_ADMIN_EMAIL`, `TALENTMESH_IDENTITY_ADMIN_PASSWORD`: the bootstrap admin,
//!   created if no account has that email; `TALENTMESH_IDENTITY_ADMIN_PROMOTE_EXISTING` (false):
//!   when true, an existing account with that email is made admin (keeping its own password).

use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use talentmesh_mesh::config::{ConfigError, Env, MeshConfig, Secret};
use talentmesh_ratelimit::Rate;
use talentmesh_storage::{Needs, StorageConfig};

use crate::service::hashing::HashLimits;
use crate::service::RateLimits;
use crate::store::key_cipher::KeyCipher;
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
    /// Calls per client address and per account for registration and login.
    pub rate_limits: RateLimits,
    /// Peers whose `x-talentmesh-client-ip` names the client address (the gateway's networks).
    pub trusted_proxies: Vec<IpNet>,
    /// How many password hashes run at once and how long a caller waits for a turn.
    pub hashing: HashLimits,
    /// Seals the signing keys in MySQL (current key, and earlier ones still read).
    pub key_cipher: KeyCipher,
    /// When both are set, an admin account with this email exists after start.
    pub admin_email: Option<String>,
    pub admin_password: Secret,
    /// Whether an existing non-admin account with `admin_email` is made admin (false: left
    /// alone, with a warning).
    pub admin_promote_existing: bool,
}

/// Parses `TALENTMESH_IDENTITY_TRUSTED_PROXIES`: networks or single addresses, comma-separated.
fn trusted_proxies(env: &mut Env) -> Vec<IpNet> {
    let raw = env
        .optional("TALENTMESH_IDENTITY_TRUSTED_PROXIES")
        .unwrap_or_default();
    let mut nets = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        match item.parse::<IpNet>() {
            Ok(net) => nets.push(net),
            Err(_) => match item.parse::<IpAddr>() {
                Ok(ip) => nets.push(IpNet::from(ip)),
                Err(_) => env.problem(format!(
                    "TALENTMESH_IDENTITY_TRUSTED_PROXIES: `{item}` is not a network like 10.0.0.0/8 or an address"
                )),
            },
        }
    }
    nets
}

/// Reads the key-encryption keys; a problem (the service does not start) when the current one
/// is missing or malformed.
fn key_cipher(env: &mut Env) -> KeyCipher {
    let current = env.secret(KEY_ENCRYPTION_KEY, "");
    let previous = env.secret(&format!("{KEY_ENCRYPTION_KEY}_PREVIOUS"), "");
    let previous: Vec<&str> = previous
        .expose()
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .collect();
    if current.is_empty() {
        env.problem(format!(
            "{KEY_ENCRYPTION_KEY}: required (base64 of 32 random bytes, e.g. `head -c 32 /dev/urandom | base64`); it encrypts the signing keys at rest"
        ));
        return KeyCipher::unusable();
    }
    match KeyCipher::from_base64(current.expose(), &previous) {
        Ok(cipher) => cipher,
        Err(why) => {
            env.problem(format!("{KEY_ENCRYPTION_KEY}: {why}"));
            KeyCipher::unusable()
        }
    }
}

/// The variable holding the key that encrypts signing keys at rest: standard base64 of 32 bytes.
pub const KEY_ENCRYPTION_KEY: &str = "TALENTMESH_IDENTITY_KEY_ENCRYPTION_KEY";

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
                per_account_address: env.parse("TALENTMESH_IDENTITY_THROTTLE_PER_ACCOUNT", 5),
                per_address: env.parse("TALENTMESH_IDENTITY_THROTTLE_PER_ADDRESS", 50),
            },
            rate_limits: RateLimits {
                register_per_address: env.parse(
                    "TALENTMESH_IDENTITY_RATE_REGISTER_PER_ADDRESS",
                    Rate::per_hour(10),
                ),
                register_per_account: env.parse(
                    "TALENTMESH_IDENTITY_RATE_REGISTER_PER_ACCOUNT",
                    Rate::per_hour(5),
                ),
                login_per_address: env.parse(
                    "TALENTMESH_IDENTITY_RATE_LOGIN_PER_ADDRESS",
                    Rate::per_minute(30),
                ),
                login_per_account: env.parse(
                    "TALENTMESH_IDENTITY_RATE_LOGIN_PER_ACCOUNT",
                    Rate::per_minute(10),
                ),
            },
            trusted_proxies: trusted_proxies(&mut env),
            hashing: HashLimits {
                concurrency: match env.parse("TALENTMESH_IDENTITY_HASH_CONCURRENCY", 0usize) {
                    0 => HashLimits::concurrency_for_budget(
                        env.parse("TALENTMESH_IDENTITY_HASH_MEMORY_BUDGET_MIB", 256u64),
                    ),
                    n => n,
                },
                queue_deadline: env.duration(
                    "TALENTMESH_IDENTITY_HASH_QUEUE_DEADLINE",
                    Duration::from_secs(2),
                ),
            },
            key_cipher: key_cipher(&mut env),
            admin_email: env.optional("TALENTMESH_IDENTITY_ADMIN_EMAIL"),
            admin_password: env.secret("TALENTMESH_IDENTITY_ADMIN_PASSWORD", ""),
            admin_promote_existing: env.parse("TALENTMESH_IDENTITY_ADMIN_PROMOTE_EXISTING", false),
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
        if config.throttle.per_account_address == 0 || config.throttle.per_address == 0 {
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

//! The Redis cache of permission decisions. Per company it holds the current permission
//! version (`permver:<company>`) and decisions keyed by it (`perm:<company>:<version>:<user>`
//! → role or `-`), so a warm check is one Lua call that reads both; a membership change makes
//! every older decision unreachable at once because the next check reads the new version and
//! misses. How the write side keeps the version key honest is in `service::authz`.

use std::str::FromStr;
use std::time::Duration;

use talentmesh_storage::{Error, RedisPool, Result};

use crate::domain::{Membership, Role};

/// How long the version key lives without being read from MySQL again.
const VERSION_TTL: Duration = Duration::from_secs(60);

/// KEYS[1] version key; ARGV[1] decision key prefix (`…perm:<company>:`), ARGV[2] user.
/// Returns false (no version cached), {version} (no decision cached) or {version, role}.
const LOOKUP: &str = r"
local v = redis.call('GET', KEYS[1])
if not v then return false end
local r = redis.call('GET', ARGV[1] .. v .. ':' .. ARGV[2])
if r then return {v, r} end
return {v}
";

/// KEYS[1] version key; ARGV[1] version, ARGV[2] ttl ms. Only ever raises the version.
const RAISE: &str = r"
local v = redis.call('GET', KEYS[1])
if v and tonumber(v) >= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
";

fn redis_err(e: impl std::fmt::Display) -> Error {
    Error::Redis(e.to_string())
}

/// Decisions cached in Redis.
#[derive(Clone)]
pub struct DecisionCache {
    redis: RedisPool,
    /// How long a decision lives (the version key makes it unreachable sooner).
    decision_ttl: Duration,
    lookup: redis::Script,
    raise: redis::Script,
}

impl DecisionCache {
    /// The cache in `redis` (keys under its prefix); decisions live `decision_ttl`.
    pub fn new(redis: RedisPool, decision_ttl: Duration) -> DecisionCache {
        DecisionCache {
            redis,
            decision_ttl,
            lookup: redis::Script::new(LOOKUP),
            raise: redis::Script::new(RAISE),
        }
    }

    fn version_key(&self, company: &str) -> String {
        self.redis.key(&format!("permver:{company}"))
    }

    fn decision_prefix(&self, company: &str) -> String {
        self.redis.key(&format!("perm:{company}:"))
    }

    /// The cached membership of `user` at the company's cached version; `None` when either is
    /// not cached.
    pub async fn get(&self, user: &str, company: &str) -> Result<Option<Membership>> {
        let mut conn = self.redis.get().await?;
        let found: Option<Vec<String>> = self
            .lookup
            .key(self.version_key(company))
            .arg(self.decision_prefix(company))
            .arg(user)
            .invoke_async(&mut conn)
            .await
            .map_err(redis_err)?;
        let Some(found) = found else {
            return Ok(None);
        };
        match found.as_slice() {
            [version, role] => {
                let version = version
                    .parse()
                    .map_err(|_| redis_err("bad cached version"))?;
                let role = if role == "-" {
                    None
                } else {
                    Some(Role::from_str(role).map_err(redis_err)?)
                };
                Ok(Some(Membership {
                    exists: true,
                    role,
                    version,
                }))
            }
            _ => Ok(None),
        }
    }

    /// Caches `m` (read from MySQL) and raises the company's cached version to its version.
    pub async fn put(&self, user: &str, company: &str, m: &Membership) -> Result<()> {
        let mut conn = self.redis.get().await?;
        let key = format!("{}{}:{user}", self.decision_prefix(company), m.version);
        let role = m.role.map_or("-", Role::as_str);
        let ttl_ms = u64::try_from(self.decision_ttl.as_millis()).unwrap_or(u64::MAX);
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(&key)
            .arg(role)
            .arg("PX")
            .arg(ttl_ms)
            .ignore();
        pipe.query_async::<()>(&mut conn).await.map_err(redis_err)?;
        self.raise_version(&mut conn, company, m.version).await
    }

    /// Sets the company's cached version to `version` unless a higher one is cached.
    pub async fn publish_version(&self, company: &str, version: i64) -> Result<()> {
        let mut conn = self.redis.get().await?;
        self.raise_version(&mut conn, company, version).await
    }

    async fn raise_version<C: redis::aio::ConnectionLike + Send>(
        &self,
        conn: &mut C,
        company: &str,
        version: i64,
    ) -> Result<()> {
        let ttl_ms = u64::try_from(VERSION_TTL.as_millis()).unwrap_or(60_000);
        self.raise
            .key(self.version_key(company))
            .arg(version)
            .arg(ttl_ms)
            .invoke_async::<i64>(conn)
            .await
            .map(|_| ())
            .map_err(redis_err)
    }

    /// Deletes the company's cached version (every cached decision becomes unreachable).
    pub async fn forget_version(&self, company: &str) -> Result<()> {
        let mut conn = self.redis.get().await?;
        redis::cmd("DEL")
            .arg(self.version_key(company))
            .query_async::<i64>(&mut conn)
            .await
            .map_err(redis_err)?;
        Ok(())
    }
}

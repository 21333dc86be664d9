//! Permission decisions: "may user U do P to company C's data?"
//!
//! MySQL holds the truth (`company_members`) and a per-company `permission_version` that every
//! membership change bumps. Redis holds the current version per company and decisions keyed by
//! it (`perm:<company>:<version>:<user>` → role or `-`), so a warm check is one Lua call that
//! reads both. A change makes every older decision unreachable at once, because the next check
//! reads the new version and misses.
//!
//! The write side keeps the version key honest: it deletes the key before committing (if Redis
//! cannot be told, the change is refused and nothing is written), and sets the new version after
//! the commit with "set if greater", so a reader that raced the change and cached the old
//! version is overwritten. If Redis fails after the commit, a background task keeps deleting
//! the key until it can; meanwhile the key's short lifetime bounds how long the old version can
//! be seen. When Redis is down, checks go to MySQL directly: slower, never wrong.

use std::str::FromStr;
use std::time::Duration;

use sqlx::MySqlPool;
use talentmesh_mesh::ApiError;
use talentmesh_storage::RedisPool;

use crate::audit::AuditLog;
use crate::domain::permissions::{Permission, Role};
use crate::state::db;

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

/// A decision about one user and one company.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    /// The company exists and is not deleted.
    pub exists: bool,
    pub role: Option<Role>,
    pub version: i64,
}

impl Membership {
    pub fn allows(&self, permission: Permission) -> bool {
        self.exists && self.role.is_some_and(|r| r.grants(permission))
    }
}

#[derive(Clone)]
pub struct Authz {
    pool: MySqlPool,
    redis: RedisPool,
    decision_ttl: Duration,
    lookup: redis::Script,
    raise: redis::Script,
    audit: AuditLog,
}

impl Authz {
    pub fn new(
        pool: MySqlPool,
        redis: RedisPool,
        decision_ttl: Duration,
        audit: AuditLog,
    ) -> Authz {
        Authz {
            pool,
            redis,
            decision_ttl,
            lookup: redis::Script::new(LOOKUP),
            raise: redis::Script::new(RAISE),
            audit,
        }
    }

    fn version_key(&self, company: &str) -> String {
        self.redis.key(&format!("permver:{company}"))
    }

    fn decision_prefix(&self, company: &str) -> String {
        self.redis.key(&format!("perm:{company}:"))
    }

    /// The user's membership in the company: from Redis when cached at the current version,
    /// else from MySQL (then cached).
    pub async fn membership(&self, user: &str, company: &str) -> Result<Membership, ApiError> {
        match self.cached(user, company).await {
            Ok(Some(m)) => return Ok(m),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "permission cache unavailable; reading MySQL"),
        }
        let m = self.read_mysql(user, company).await?;
        if m.exists {
            if let Err(e) = self.remember(user, company, &m).await {
                tracing::debug!(error = %e, "could not cache a permission decision");
            }
        }
        Ok(m)
    }

    /// A decision for `permission`; a denial for an existing company is audited.
    pub async fn check(
        &self,
        user: &str,
        company: &str,
        permission: Permission,
    ) -> Result<Membership, ApiError> {
        let m = self.membership(user, company).await?;
        if m.exists && !m.allows(permission) {
            self.audit.denied(company, user, permission.as_str());
        }
        Ok(m)
    }

    async fn cached(&self, user: &str, company: &str) -> Result<Option<Membership>, String> {
        let mut conn = self.redis.get().await.map_err(|e| e.to_string())?;
        let found: Option<Vec<String>> = self
            .lookup
            .key(self.version_key(company))
            .arg(self.decision_prefix(company))
            .arg(user)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        let Some(found) = found else {
            return Ok(None);
        };
        match found.as_slice() {
            [version, role] => {
                let version = version
                    .parse()
                    .map_err(|_| "bad cached version".to_string())?;
                let role = if role == "-" {
                    None
                } else {
                    Some(Role::from_str(role).map_err(|e| e.to_string())?)
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

    async fn read_mysql(&self, user: &str, company: &str) -> Result<Membership, ApiError> {
        let row: Option<(i64, bool, Option<String>)> = sqlx::query_as(
            "SELECT c.permission_version, c.deleted, m.role FROM companies c \
             LEFT JOIN company_members m ON m.company_id = c.id AND m.user_id = ? \
             WHERE c.id = ?",
        )
        .bind(user)
        .bind(company)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(match row {
            None | Some((_, true, _)) => Membership {
                exists: false,
                role: None,
                version: 0,
            },
            Some((version, false, role)) => Membership {
                exists: true,
                role: role.and_then(|r| Role::from_str(&r).ok()),
                version,
            },
        })
    }

    async fn remember(&self, user: &str, company: &str, m: &Membership) -> Result<(), String> {
        let mut conn = self.redis.get().await.map_err(|e| e.to_string())?;
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
        pipe.query_async::<()>(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        self.raise_version(&mut conn, company, m.version).await
    }

    async fn raise_version<C: redis::aio::ConnectionLike + Send>(
        &self,
        conn: &mut C,
        company: &str,
        version: i64,
    ) -> Result<(), String> {
        let ttl_ms = u64::try_from(VERSION_TTL.as_millis()).unwrap_or(60_000);
        self.raise
            .key(self.version_key(company))
            .arg(version)
            .arg(ttl_ms)
            .invoke_async::<i64>(conn)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// Before a membership change commits: forget the cached version, or refuse the change.
    pub async fn before_change(&self, company: &str) -> Result<(), ApiError> {
        let mut conn = self.redis.get().await.map_err(|e| {
            tracing::warn!(error = %e, "permission cache unreachable; refusing a membership change");
            ApiError::unavailable("permission cache unavailable; retry shortly")
        })?;
        redis::cmd("DEL")
            .arg(self.version_key(company))
            .query_async::<i64>(&mut conn)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "permission cache refused; refusing a membership change");
                ApiError::unavailable("permission cache unavailable; retry shortly")
            })?;
        Ok(())
    }

    /// After a membership change committed at `version`: publish the new version; if that
    /// fails, keep deleting the key in the background until Redis answers.
    pub async fn after_change(&self, company: &str, version: i64) {
        let published = match self.redis.get().await {
            Ok(mut conn) => self.raise_version(&mut conn, company, version).await,
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = published {
            tracing::warn!(error = %e, company, "could not publish a permission version; retrying");
            let this = self.clone();
            let company = company.to_string();
            tokio::spawn(async move {
                let mut wait = Duration::from_millis(100);
                loop {
                    tokio::time::sleep(wait).await;
                    if let Ok(mut conn) = this.redis.get().await {
                        let done = redis::cmd("DEL")
                            .arg(this.version_key(&company))
                            .query_async::<i64>(&mut conn)
                            .await;
                        if done.is_ok() {
                            return;
                        }
                    }
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            });
        }
    }
}

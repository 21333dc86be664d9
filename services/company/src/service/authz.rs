//! Permission decisions: "may user U do P to company C's data?"
//!
//! MySQL holds the truth (`company_members`) and a per-company `permission_version` that every
//! membership change bumps; Redis caches decisions keyed by that version (`store::decisions`).
//! The write side keeps the cached version honest: it deletes it before committing (if Redis
//! cannot be told, the change is refused and nothing is written), and publishes the new
//! version after the commit with "set if greater", so a reader that raced the change and
//! cached the old version is overwritten. If Redis fails after the commit, a background task
//! keeps deleting the key until it can; meanwhile the key's short lifetime bounds how long the
//! old version can be seen. When Redis is down, checks go to MySQL directly: slower, never
//! wrong.

use std::time::Duration;

use talentmesh_mesh::retry::Backoff;

use crate::domain::{Membership, Permission};
use crate::error::{Error, Result};
use crate::store::{AuditLog, DecisionCache, MemberStore};

/// Decisions, their cache, and the audit of denials.
#[derive(Clone)]
pub struct Authz {
    members: MemberStore,
    cache: DecisionCache,
    audit: AuditLog,
}

impl Authz {
    /// Decisions read from `members` through `cache`; denials audited in `audit`.
    pub fn new(members: MemberStore, cache: DecisionCache, audit: AuditLog) -> Authz {
        Authz {
            members,
            cache,
            audit,
        }
    }

    /// The user's membership in the company: from Redis when cached at the current version,
    /// else from MySQL (then cached).
    pub async fn membership(&self, user: &str, company: &str) -> Result<Membership> {
        match self.cache.get(user, company).await {
            Ok(Some(m)) => return Ok(m),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "permission cache unavailable; reading MySQL"),
        }
        let m = self.members.membership(user, company).await?;
        if m.exists {
            if let Err(e) = self.cache.put(user, company, &m).await {
                tracing::debug!(error = %e, "could not cache a permission decision");
            }
        }
        Ok(m)
    }

    /// A decision for `permission`. A member's denial is the company's business and goes to
    /// its audit log (waiting for room in the writer's queue: see [`AuditLog::denied`]). A
    /// non-member's denial is not: anyone may ask about any company, and writing those into
    /// the company's log would let an outsider fill it (100 rows a batch). They are counted
    /// and logged, throttled, as a security signal of the platform's instead
    /// ([`AuditLog::outsider_denied`]).
    pub async fn check(
        &self,
        user: &str,
        company: &str,
        permission: Permission,
    ) -> Result<Membership> {
        let m = self.membership(user, company).await?;
        if m.exists && m.role.is_some() && !m.allows(permission) {
            self.audit.denied(company, user, permission.as_str()).await;
        } else if m.role.is_none() {
            // Existing or not: the two look alike here as well.
            self.audit
                .outsider_denied(company, user, permission.as_str());
        }
        Ok(m)
    }

    /// Before a membership change commits: forget the cached version, or refuse the change.
    ///
    /// # Errors
    /// [`Error::CacheUnavailable`] when Redis cannot be told.
    pub async fn before_change(&self, company: &str) -> Result<()> {
        self.cache.forget_version(company).await.map_err(|e| {
            tracing::warn!(error = %e, "permission cache unreachable; refusing a membership change");
            Error::CacheUnavailable
        })
    }

    /// After a membership change committed at `version`: publish the new version; if that
    /// fails, keep deleting the key in the background until Redis answers.
    pub async fn after_change(&self, company: &str, version: i64) {
        if let Err(e) = self.cache.publish_version(company, version).await {
            tracing::warn!(error = %e, company, "could not publish a permission version; retrying");
            let cache = self.cache.clone();
            let company = company.to_string();
            tokio::spawn(async move {
                let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
                loop {
                    backoff.pause().await;
                    if cache.forget_version(&company).await.is_ok() {
                        return;
                    }
                }
            });
        }
    }
}

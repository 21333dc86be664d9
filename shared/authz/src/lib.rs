//! Company-scoped authorization for every service: "may this user do this to this company's
//! data?", asked of the company service's `MembershipService.CheckPermission`.
//!
//! The company service answers from its Redis decision cache, so a call costs one mesh hop.
//! Services that check on every request can also keep answers in process for a short time
//! ([`Freshness::Cached`]). Such an answer is never used once any answer about the same company
//! has shown a newer permission version (a membership change), and never after `ttl`: a
//! change made elsewhere reaches this process within `ttl` at the latest, and at once for any
//! decision this process asks about afterwards. Decisions that guard a write should use
//! [`Freshness::Exact`], which always asks.
//!
//! Failures come back as a typed [`UpstreamError`] (the company service's own code, reason and
//! field violations); a caller turns it into its answer with `ApiError::from`, the one mapping.
//!
//! ```ignore
//! let authz = PermissionClient::new(discovery.channel("company"), Duration::from_secs(1));
//! if !authz.allowed(&bearer, user, company, "job.write", Freshness::Exact).await? { … }
//! ```

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use talentmesh_mesh::{ErrorCode, MeshChannel, UpstreamError};
use talentmesh_proto::company::v1 as pb;
use talentmesh_proto::company::v1::membership_service_client::MembershipServiceClient;
use tonic::metadata::MetadataValue;

/// The peer's name in [`UpstreamError::service`].
const COMPANY: &str = "company";

/// Whether an in-process answer may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// An answer at most `ttl` old, at the newest permission version seen for the company.
    Cached,
    /// Always ask the company service.
    Exact,
}

/// What the company service decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub role: pb::MemberRole,
    pub permission_version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    user: String,
    company: String,
    permission: String,
}

struct Entry {
    decision: Decision,
    at: Instant,
}

#[derive(Default)]
struct Cache {
    entries: HashMap<Key, Entry>,
    /// The newest permission version seen per company.
    newest: HashMap<String, i64>,
}

pub struct PermissionClient {
    client: MembershipServiceClient<MeshChannel>,
    ttl: Duration,
    max_entries: usize,
    cache: Mutex<Cache>,
}

impl PermissionClient {
    /// `channel` reaches the company service; answers are kept in process for `ttl`.
    pub fn new(channel: MeshChannel, ttl: Duration) -> PermissionClient {
        PermissionClient {
            client: channel.client(MembershipServiceClient::new),
            ttl,
            max_entries: 100_000,
            cache: Mutex::new(Cache::default()),
        }
    }

    /// The decision for `user` (an id) doing `permission` (e.g. "job.write") in `company` (an
    /// id), asked with the end user's bearer token (the company service lets callers ask about
    /// themselves).
    pub async fn check(
        &self,
        bearer: &str,
        user: &str,
        company: &str,
        permission: &str,
        freshness: Freshness,
    ) -> Result<Decision, UpstreamError> {
        let key = Key {
            user: user.to_string(),
            company: company.to_string(),
            permission: permission.to_string(),
        };
        if freshness == Freshness::Cached {
            if let Some(d) = self.cached(&key) {
                return Ok(d);
            }
        }
        let mut request = tonic::Request::new(pb::CheckPermissionRequest {
            check: Some(pb::PermissionCheck {
                subject: format!("users/{user}"),
                company: format!("companies/{company}"),
                permission: permission.to_string(),
            }),
        });
        let value = MetadataValue::try_from(format!("Bearer {bearer}")).map_err(|_| {
            UpstreamError::local(
                COMPANY,
                ErrorCode::Unauthenticated,
                "the bearer token is not a valid header",
            )
        })?;
        request.metadata_mut().insert("authorization", value);
        let d = self
            .client
            .clone()
            .check_permission(request)
            .await
            .map_err(|status| UpstreamError::from_status(COMPANY, &status))?
            .into_inner()
            .decision
            .unwrap_or_default();
        let decision = Decision {
            allowed: d.allowed,
            role: pb::MemberRole::try_from(d.role).unwrap_or(pb::MemberRole::Unspecified),
            permission_version: d.permission_version,
        };
        self.remember(key, decision);
        Ok(decision)
    }

    /// Whether the decision allows.
    pub async fn allowed(
        &self,
        bearer: &str,
        user: &str,
        company: &str,
        permission: &str,
        freshness: Freshness,
    ) -> Result<bool, UpstreamError> {
        Ok(self
            .check(bearer, user, company, permission, freshness)
            .await?
            .allowed)
    }

    fn cached(&self, key: &Key) -> Option<Decision> {
        let cache = self.cache.lock().ok()?;
        let entry = cache.entries.get(key)?;
        let newest = cache.newest.get(&key.company).copied().unwrap_or(0);
        (entry.at.elapsed() < self.ttl && entry.decision.permission_version >= newest)
            .then_some(entry.decision)
    }

    fn remember(&self, key: Key, decision: Decision) {
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        let newest = cache.newest.entry(key.company.clone()).or_insert(0);
        *newest = (*newest).max(decision.permission_version);
        if cache.entries.len() >= self.max_entries {
            // Full: drop what has expired; if that frees nothing, start over (a burst of
            // distinct keys is rare, and a miss only costs one call).
            let ttl = self.ttl;
            cache.entries.retain(|_, e| e.at.elapsed() < ttl);
            if cache.entries.len() >= self.max_entries {
                cache.entries.clear();
            }
        }
        cache.entries.insert(
            key,
            Entry {
                decision,
                at: Instant::now(),
            },
        );
    }
}

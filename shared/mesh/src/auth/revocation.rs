//! [`RevokedSessions`]: the sessions whose tokens are refused, kept current by polling
//! identity's revocation feed (see the module docs of [`crate::auth`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::error::ApiError;

/// One session identity lists as revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedSession {
    /// The `sid` of the session's access tokens.
    pub session_id: String,
    /// Unix seconds when the session's last access token expires; the entry is dropped after.
    pub expires_at: i64,
}

/// One answer of the revocation feed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationPage {
    /// Revocations recorded after the cursor asked with, oldest first.
    pub sessions: Vec<RevokedSession>,
    /// The cursor to ask with next (the one asked with when nothing is new).
    pub next_cursor: String,
}

/// Fetches the revocations recorded after a cursor ("" for all unexpired ones).
pub type FetchRevocations =
    Arc<dyn Fn(String) -> BoxFuture<'static, Result<RevocationPage, ApiError>> + Send + Sync>;

/// How often [`JwksCache::from_identity`] polls identity for revoked sessions: a logged-out
/// session's tokens are refused about this long after the logout, at most.
pub const REVOCATION_POLL: Duration = Duration::from_secs(1);
/// Pages read in one poll round at most (each up to the server's page size), so a huge backlog
/// is caught up over several rounds instead of one unbounded loop.
const REVOCATION_PAGES_PER_POLL: usize = 20;

/// The sessions whose tokens are refused, by id, with the Unix second their last token expires.
/// Shared between the [`Verifier`] (reads on every request) and the task that polls identity
/// (writes once a second at most), hence the synchronous `RwLock`: no lock is held across an
/// await.
pub struct RevokedSessions {
    entries: std::sync::RwLock<HashMap<String, i64>>,
    /// Poll rounds that failed (identity unreachable or erroring); the set was kept as it was.
    poll_failures: Counter,
    /// Entries held now.
    size: Gauge,
}

impl Default for RevokedSessions {
    fn default() -> Self {
        RevokedSessions {
            entries: std::sync::RwLock::new(HashMap::new()),
            poll_failures: Counter::default(),
            size: Gauge::default(),
        }
    }
}

impl std::fmt::Debug for RevokedSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevokedSessions")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl RevokedSessions {
    /// An empty set.
    pub fn new() -> Arc<RevokedSessions> {
        Arc::new(RevokedSessions::default())
    }

    /// Whether `session_id` is revoked at Unix second `now` (an entry past its expiry no longer
    /// counts, even before it is pruned).
    pub fn is_revoked(&self, session_id: &str, now: i64) -> bool {
        self.entries
            .read()
            .map(|e| e.get(session_id).is_some_and(|&until| now <= until))
            // A poisoned lock only means a writer panicked mid-insert; the map is still a map.
            .unwrap_or_else(|p| {
                p.into_inner()
                    .get(session_id)
                    .is_some_and(|&until| now <= until)
            })
    }

    /// Adds `sessions` (a repeated id keeps the later expiry) and drops entries expired at Unix
    /// second `now`.
    pub fn apply(&self, sessions: impl IntoIterator<Item = RevokedSession>, now: i64) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for s in sessions {
            if s.expires_at >= now {
                let until = entries.entry(s.session_id).or_insert(s.expires_at);
                *until = (*until).max(s.expires_at);
            }
        }
        entries.retain(|_, &mut until| until >= now);
        self.size
            .set(i64::try_from(entries.len()).unwrap_or(i64::MAX));
    }

    /// Entries held (expired ones not yet pruned included).
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .map(|e| e.len())
            .unwrap_or_else(|p| p.into_inner().len())
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Poll rounds that failed so far.
    pub fn poll_failures(&self) -> u64 {
        self.poll_failures.get()
    }

    /// Registers `auth_revoked_sessions` (gauge) and `auth_revocation_poll_failures_total`
    /// (counter) in `registry`.
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register(
            "auth_revoked_sessions",
            "Revoked sessions whose tokens this verifier refuses",
            self.size.clone(),
        );
        registry.register(
            "auth_revocation_poll_failures",
            "Polls of identity for revoked sessions that failed (the last known set was kept)",
            self.poll_failures.clone(),
        );
    }

    /// One poll round: reads pages from `cursor` until one comes back empty (at most
    /// [`REVOCATION_PAGES_PER_POLL`]), applying each, and advances `cursor`. Expired entries are
    /// pruned even when the fetch fails.
    ///
    /// # Errors
    /// The first failed fetch; what was read before it is kept, and so is the cursor reached.
    pub async fn poll(
        &self,
        fetch: &FetchRevocations,
        cursor: &mut String,
    ) -> Result<(), ApiError> {
        for _ in 0..REVOCATION_PAGES_PER_POLL {
            let page = match fetch(cursor.clone()).await {
                Ok(page) => page,
                Err(e) => {
                    self.apply([], chrono::Utc::now().timestamp());
                    return Err(e);
                }
            };
            let done = page.sessions.is_empty() || page.next_cursor == *cursor;
            self.apply(page.sessions, chrono::Utc::now().timestamp());
            *cursor = page.next_cursor;
            if done {
                break;
            }
        }
        Ok(())
    }

    /// Polls `fetch` every `every` in a background task until the set is dropped. A failed
    /// round keeps the set as it is, counts the failure and logs once per outage (warning when
    /// it starts, info when identity answers again). `None` outside a tokio runtime (nothing is
    /// polled then).
    pub fn spawn_polling(
        self: &Arc<Self>,
        fetch: FetchRevocations,
        every: Duration,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let weak = Arc::downgrade(self);
        Some(runtime.spawn(async move {
            let mut cursor = String::new();
            let mut failing = false;
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                // The verifier that used the set is gone: stop polling.
                let Some(set) = weak.upgrade() else { break };
                match set.poll(&fetch, &mut cursor).await {
                    Ok(()) if failing => {
                        failing = false;
                        tracing::info!("revoked sessions are current again");
                    }
                    Ok(()) => {}
                    Err(e) => {
                        set.poll_failures.inc();
                        if !failing {
                            failing = true;
                            tracing::warn!(
                                error = %e.message,
                                "polling revoked sessions failed; using the last known set"
                            );
                        }
                    }
                }
            }
        }))
    }
}

/// The revocation feed read from identity's ListRevokedSessions through `client`.
pub(super) fn revocations_from(
    client: talentmesh_proto::identity::v1::identity_service_client::IdentityServiceClient<
        crate::discovery::MeshChannel,
    >,
) -> FetchRevocations {
    use talentmesh_proto::identity::v1::ListRevokedSessionsRequest;
    Arc::new(move |cursor: String| {
        let mut client = client.clone();
        Box::pin(async move {
            let page = client
                .list_revoked_sessions(ListRevokedSessionsRequest {
                    page_size: 0,
                    page_token: cursor,
                })
                .await
                .map_err(|s| {
                    ApiError::unavailable(format!("fetching revoked sessions: {}", s.message()))
                })?
                .into_inner();
            Ok(RevocationPage {
                sessions: page
                    .revoked_sessions
                    .into_iter()
                    .map(|s| RevokedSession {
                        session_id: s.session_id,
                        expires_at: s.expire_time.map_or(0, |t| t.seconds),
                    })
                    .collect(),
                next_cursor: page.next_page_token,
            })
        })
    })
}

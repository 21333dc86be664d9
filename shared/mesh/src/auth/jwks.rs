//! [`JwksCache`]: identity's public keys, fetched over the mesh and cached; an unknown key id
//! triggers a (rate-limited) refresh so a rotated key is picked up at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use jsonwebtoken::DecodingKey;
use tokio::sync::{Mutex, RwLock};

use super::revocation::revocations_from;
use super::{KeyLookup, KeySource, RevokedSessions, REVOCATION_POLL};
use crate::error::ApiError;

/// A public key as published in a JWKS (RFC 8037 OKP / Ed25519).
#[derive(Debug, Clone)]
pub struct PublicJwk {
    pub kid: String,
    /// Base64url of the 32-byte public key.
    pub x: String,
}

type FetchKeys =
    Arc<dyn Fn() -> BoxFuture<'static, Result<Vec<PublicJwk>, ApiError>> + Send + Sync>;

/// How many times one refresh asks identity for its keys before it reports them unavailable
/// (over about 3 s; see [`JwksCache::key`]).
pub(super) const FETCH_TRIES: usize = 5;
/// The pause before the second try; it doubles before each next one (200, 400, 800, 1600 ms).
const FIRST_PAUSE: Duration = Duration::from_millis(200);
/// After a refresh that reached identity, the next waits at least this long, so tokens with
/// forged key ids cannot flood identity.
const MIN_REFRESH: Duration = Duration::from_secs(2);

/// Keys fetched from identity and cached.
///
/// An unknown `kid` triggers a refresh (so a rotated key is picked up at once), at most one
/// per [`MIN_REFRESH`] after one that reached identity; callers that arrive while a refresh is
/// running share its outcome instead of starting their own. When identity cannot be reached,
/// the lookup is UNAVAILABLE (retryable), not "unknown key": a token is only called unknown
/// after identity has answered without its key, so a client is never told to log in again
/// because of an outage or a process still starting.
pub struct JwksCache {
    fetch: FetchKeys,
    keys: RwLock<HashMap<String, Arc<DecodingKey>>>,
    refresh: Mutex<RefreshState>,
    /// Refreshes finished so far, read without the lock: a caller that saw another number
    /// before the lock was free takes that refresh's outcome instead of fetching again.
    done: AtomicU64,
    /// Revoked sessions kept current from the same identity ([`JwksCache::from_identity`]).
    revoked: Option<Arc<RevokedSessions>>,
}

/// What the last refresh did, guarded by the refresh lock.
#[derive(Default)]
struct RefreshState {
    /// When a refresh last reached identity.
    reached: Option<Instant>,
    /// The last refresh's failure, if it failed.
    failure: Option<ApiError>,
}

impl JwksCache {
    /// A cache over `fetch`, empty until the first unknown key id asks for a refresh.
    pub fn new(fetch: FetchKeys) -> Self {
        JwksCache {
            fetch,
            keys: RwLock::new(HashMap::new()),
            refresh: Mutex::new(RefreshState::default()),
            done: AtomicU64::new(0),
            revoked: None,
        }
    }

    /// Also reports `revoked` to the verifiers built on this cache.
    pub fn with_revocations(mut self, revoked: Arc<RevokedSessions>) -> Self {
        self.revoked = Some(revoked);
        self
    }

    /// Refreshes the keys unless a refresh finished since the caller saw `seen` finished ones
    /// (then its outcome is the caller's) or one reached identity less than [`MIN_REFRESH`] ago.
    ///
    /// # Errors
    /// UNAVAILABLE when every try failed (the keys held are kept).
    async fn refresh(&self, seen: u64) -> Result<(), ApiError> {
        let mut state = self.refresh.lock().await;
        if self.done.load(Ordering::Acquire) != seen {
            return state.failure.clone().map_or(Ok(()), Err);
        }
        if state.reached.is_some_and(|t| t.elapsed() < MIN_REFRESH) {
            return Ok(());
        }
        let fetched = self.fetch_with_tries().await;
        // Counted while the lock is still held, so whoever sees the new number also sees
        // this outcome.
        self.done.fetch_add(1, Ordering::AcqRel);
        match fetched {
            Ok(jwks) => {
                let mut keys = HashMap::new();
                for jwk in jwks {
                    match DecodingKey::from_ed_components(&jwk.x) {
                        Ok(k) => {
                            keys.insert(jwk.kid, Arc::new(k));
                        }
                        Err(e) => tracing::warn!(kid = %jwk.kid, error = %e, "skipping bad key"),
                    }
                }
                *self.keys.write().await = keys;
                state.reached = Some(Instant::now());
                state.failure = None;
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "fetching public keys failed");
                let e = ApiError::unavailable(format!(
                    "the identity service's public keys cannot be fetched now; retry ({})",
                    e.message
                ));
                state.failure = Some(e.clone());
                Err(e)
            }
        }
    }

    /// Up to [`FETCH_TRIES`] fetches, [`FIRST_PAUSE`] apart and doubling.
    async fn fetch_with_tries(&self) -> Result<Vec<PublicJwk>, ApiError> {
        // Each try goes to the next identity instance (the channel balances round robin), so
        // one instance that cannot be reached, or one that is not identity at all and fails
        // the TLS check, does not leave the keys unknown. The pauses cover a process that has
        // just started: its own Connect client certificate, or its first list of identity
        // instances, may still be on the way from the agent.
        let mut fetched = (self.fetch)().await;
        let mut pause = FIRST_PAUSE;
        for _ in 1..FETCH_TRIES {
            if fetched.is_ok() {
                break;
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
            fetched = (self.fetch)().await;
        }
        fetched
    }
}

impl KeySource for JwksCache {
    fn key(&self, kid: &str) -> KeyLookup<'_> {
        let kid = kid.to_string();
        Box::pin(async move {
            if let Some(k) = self.keys.read().await.get(&kid) {
                return Ok(Some(k.clone()));
            }
            let seen = self.done.load(Ordering::Acquire);
            self.refresh(seen).await?;
            Ok(self.keys.read().await.get(&kid).cloned())
        })
    }

    fn revocations(&self) -> Option<Arc<RevokedSessions>> {
        self.revoked.clone()
    }
}

impl JwksCache {
    /// A cache that fetches the keys from identity's ListPublicKeys over `channel` — what every
    /// service but identity verifies tokens with — and keeps the revoked sessions current from
    /// identity's ListRevokedSessions over the same channel, polled every [`REVOCATION_POLL`]
    /// (when called inside a tokio runtime; the task ends once the cache is dropped).
    pub fn from_identity(channel: crate::discovery::MeshChannel) -> JwksCache {
        use talentmesh_proto::identity::v1::identity_service_client::IdentityServiceClient;
        use talentmesh_proto::identity::v1::ListPublicKeysRequest;
        let client = channel.client(IdentityServiceClient::new);
        let revoked = RevokedSessions::new();
        revoked.spawn_polling(revocations_from(client.clone()), REVOCATION_POLL);
        let cache = JwksCache::new(Arc::new(move || {
            let mut client = client.clone();
            Box::pin(async move {
                let keys = client
                    .list_public_keys(ListPublicKeysRequest {})
                    .await
                    .map_err(|s| {
                        ApiError::unavailable(format!("fetching public keys: {}", s.message()))
                    })?
                    .into_inner()
                    .keys;
                Ok(keys
                    .into_iter()
                    .filter(|k| k.kty == "OKP" && k.crv == "Ed25519")
                    .map(|k| PublicJwk { kid: k.kid, x: k.x })
                    .collect())
            })
        }));
        cache.with_revocations(revoked)
    }
}

//! Bearer-token authentication for every service. A tower layer in front of the gRPC routes
//! verifies the access token (EdDSA JWT only; `kid` picks the key; `exp`, `nbf`, `iss`, `aud`,
//! `sub` required) and puts the [`Caller`] into the request extensions, where handlers read it with
//! [`caller`]. RPCs listed as public pass without a token. Keys come from a [`KeySource`]: the
//! identity service's own key ring inside identity, the cached JWKS from identity everywhere else.
//!
//! Access tokens live minutes; a session ended before then (logout, refresh-token reuse) must not
//! keep working until they expire. Tokens carry their session id (`sid`, the claim OpenID Connect
//! names so), and the verifier refuses a token whose session is in its [`RevokedSessions`]: an
//! in-memory set a background task keeps current by polling identity's `ListRevokedSessions`
//! (a cursor-based change feed) every second, dropping entries once the session's last token has
//! expired. This is the usual pairing of short-lived JWTs with a pushed or pulled revocation list;
//! it keeps verification local (no call per request), and a token is refused within about one
//! poll interval of the logout. When identity cannot be reached the last known set keeps being
//! used (logged, and counted in `auth_revocation_poll_failures_total`): failing every request
//! because the list cannot be refreshed would turn an identity outage into a mesh outage.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, RwLock};
use tonic::body::Body;

use crate::error::ApiError;

/// Who is calling, as proven by a verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user id (`sub`), without the `users/` prefix.
    pub user_id: String,
    pub email: String,
    /// Role names as in the token, e.g. "candidate", "employer", "admin".
    pub roles: Vec<String>,
    /// The token's `jti`.
    pub token_id: String,
}

impl Caller {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    pub fn is_admin(&self) -> bool {
        self.has_role("admin")
    }
}

/// The claims talentmesh access tokens carry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// [`Claims`] with the session id: what identity signs and the verifier reads. A token without
/// `sid` (issued before sessions were named) verifies as before until it expires; it just cannot
/// be revoked.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SessionClaims {
    #[serde(flatten)]
    pub claims: Claims,
    /// The session (one login, all its refreshes) the token belongs to; opaque.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// Where verification keys come from.
pub trait KeySource: Send + Sync + 'static {
    /// The key with id `kid`, if it is known (after a refresh if needed).
    fn key(&self, kid: &str) -> BoxFuture<'_, Option<Arc<DecodingKey>>>;

    /// The revoked sessions the same source keeps current, if it keeps any; the [`Verifier`]
    /// built on this source refuses their tokens. [`JwksCache::from_identity`] keeps one.
    fn revocations(&self) -> Option<Arc<RevokedSessions>> {
        None
    }
}

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

/// Verifies access tokens against a key source and the expected issuer and audience.
pub struct Verifier {
    keys: Arc<dyn KeySource>,
    validation: Validation,
    /// Tokens that verified recently: a service sees the same token on every request of a
    /// session, and the signature check is most of what verifying costs.
    recent: std::sync::Mutex<HashMap<String, Recent>>,
    /// Sessions whose tokens are refused even though they verify; `None` checks nothing.
    revoked: Option<Arc<RevokedSessions>>,
}

struct Recent {
    caller: Caller,
    /// The token's `sid`, checked against the revoked sessions on every use.
    session: Option<String>,
    /// Unix seconds after which the entry is not used: the token's `exp`, or a minute after it
    /// was verified if that is sooner (so a key withdrawn from the key set stops working soon).
    until: i64,
}

/// Verified tokens remembered, at most (the map is cleared when full).
const RECENT_TOKENS: usize = 10_000;
/// How long a verification is reused, at most.
const RECENT_FOR_SECS: i64 = 60;

impl Verifier {
    /// A verifier of tokens signed by `keys`' keys for `issuer` and `audience`; it refuses the
    /// sessions `keys` reports revoked ([`KeySource::revocations`]), if it reports any.
    pub fn new(keys: Arc<dyn KeySource>, issuer: &str, audience: &str) -> Self {
        // EdDSA only: a token whose header names any other algorithm ("none", HS256 signed with
        // the public key, ...) is refused before any key is touched.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.algorithms = vec![Algorithm::EdDSA];
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 5;
        Verifier {
            revoked: keys.revocations(),
            keys,
            validation,
            recent: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Refuses the sessions in `revoked` from now on (identity, which keeps the list itself,
    /// passes its own).
    pub fn with_revocations(mut self, revoked: Arc<RevokedSessions>) -> Self {
        self.revoked = Some(revoked);
        self
    }

    /// The caller `token` proves.
    ///
    /// # Errors
    /// UNAUTHENTICATED: malformed, wrong algorithm, unknown key, bad signature, expired, wrong
    /// issuer or audience, a required claim missing, or (reason `SESSION_REVOKED`) its session
    /// was revoked.
    pub async fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let now = chrono::Utc::now().timestamp();
        let cached = self.recent.lock().ok().and_then(|recent| {
            recent
                .get(token)
                .filter(|r| now < r.until)
                .map(|r| (r.caller.clone(), r.session.clone()))
        });
        if let Some((caller, session)) = cached {
            if self.session_revoked(session.as_deref(), now) {
                return Err(session_revoked());
            }
            return Ok(caller);
        }
        let (caller, exp, session) = self.verify_signed(token).await?;
        if self.session_revoked(session.as_deref(), now) {
            return Err(session_revoked());
        }
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() >= RECENT_TOKENS {
                recent.retain(|_, r| now < r.until);
                if recent.len() >= RECENT_TOKENS {
                    recent.clear();
                }
            }
            recent.insert(
                token.to_string(),
                Recent {
                    caller: caller.clone(),
                    session,
                    until: exp.min(now + RECENT_FOR_SECS),
                },
            );
        }
        Ok(caller)
    }

    /// Whether `session` is revoked at Unix second `now` (never for a token without `sid`, or
    /// for a verifier without a revocation set).
    fn session_revoked(&self, session: Option<&str>, now: i64) -> bool {
        match (session, &self.revoked) {
            (Some(sid), Some(revoked)) => revoked.is_revoked(sid, now),
            _ => false,
        }
    }

    /// The full check: header, key, signature and claims. Returns the caller, `exp` and `sid`.
    async fn verify_signed(&self, token: &str) -> Result<(Caller, i64, Option<String>), ApiError> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| ApiError::unauthenticated("malformed access token"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(ApiError::unauthenticated(
                "access token algorithm must be EdDSA",
            ));
        }
        let kid = header
            .kid
            .ok_or_else(|| ApiError::unauthenticated("access token has no key id"))?;
        let key =
            self.keys.key(&kid).await.ok_or_else(|| {
                ApiError::unauthenticated("access token signed by an unknown key")
            })?;
        let data =
            jsonwebtoken::decode::<SessionClaims>(token, &key, &self.validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                let why = match e.kind() {
                    ErrorKind::ExpiredSignature => "access token expired",
                    ErrorKind::ImmatureSignature => "access token not yet valid",
                    ErrorKind::InvalidAudience => "access token has the wrong audience",
                    ErrorKind::InvalidIssuer => "access token has the wrong issuer",
                    ErrorKind::MissingRequiredClaim(_) => "access token lacks a required claim",
                    ErrorKind::InvalidSignature => "access token signature does not verify",
                    _ => "invalid access token",
                };
                ApiError::unauthenticated(why)
            })?;
        let SessionClaims { claims, sid } = data.claims;
        if claims.sub.is_empty() {
            return Err(ApiError::unauthenticated(
                "access token has an empty subject",
            ));
        }
        Ok((
            Caller {
                user_id: claims.sub,
                email: claims.email,
                roles: claims.roles,
                token_id: claims.jti,
            },
            claims.exp,
            sid.filter(|s| !s.is_empty()),
        ))
    }
}

/// UNAUTHENTICATED, reason `SESSION_REVOKED`: the token verifies but its session has ended.
fn session_revoked() -> ApiError {
    ApiError::unauthenticated("the access token's session has ended").with_reason("SESSION_REVOKED")
}

/// A public key as published in a JWKS (RFC 8037 OKP / Ed25519).
#[derive(Debug, Clone)]
pub struct PublicJwk {
    pub kid: String,
    /// Base64url of the 32-byte public key.
    pub x: String,
}

type FetchKeys =
    Arc<dyn Fn() -> BoxFuture<'static, Result<Vec<PublicJwk>, ApiError>> + Send + Sync>;

/// How many times one refresh asks identity for its keys before giving up until the next
/// (over about 1.4 s; see [`JwksCache::refresh`]).
const FETCH_TRIES: usize = 4;

/// Keys fetched from identity and cached. An unknown `kid` triggers a refetch (so a rotated key
/// is picked up at once), at most once per `min_refresh` so forged kids cannot flood identity.
pub struct JwksCache {
    fetch: FetchKeys,
    keys: RwLock<HashMap<String, Arc<DecodingKey>>>,
    last_fetch: Mutex<Option<Instant>>,
    min_refresh: Duration,
    /// Revoked sessions kept current from the same identity ([`JwksCache::from_identity`]).
    revoked: Option<Arc<RevokedSessions>>,
}

impl JwksCache {
    pub fn new(fetch: FetchKeys) -> Self {
        JwksCache {
            fetch,
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
            min_refresh: Duration::from_secs(2),
            revoked: None,
        }
    }

    /// Also reports `revoked` to the verifiers built on this cache.
    pub fn with_revocations(mut self, revoked: Arc<RevokedSessions>) -> Self {
        self.revoked = Some(revoked);
        self
    }

    async fn refresh(&self) {
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|t| t.elapsed() < self.min_refresh) {
            return;
        }
        *last = Some(Instant::now());
        // Each try goes to the next identity instance (the channel balances round robin), so
        // one instance that cannot be reached, or one that is not identity at all and fails
        // the TLS check, does not leave the keys unknown until the next refresh. The pauses
        // between tries (200 ms, doubling) cover a process that has just started: its own
        // Connect client certificate, or its first list of identity instances, may still be
        // on the way from the agent.
        let mut fetched = (self.fetch)().await;
        let mut pause = Duration::from_millis(200);
        for _ in 1..FETCH_TRIES {
            if fetched.is_ok() {
                break;
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
            fetched = (self.fetch)().await;
        }
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
            }
            Err(e) => tracing::warn!(error = %e, "fetching public keys failed"),
        }
    }
}

impl KeySource for JwksCache {
    fn key(&self, kid: &str) -> BoxFuture<'_, Option<Arc<DecodingKey>>> {
        let kid = kid.to_string();
        Box::pin(async move {
            if let Some(k) = self.keys.read().await.get(&kid) {
                return Some(k.clone());
            }
            self.refresh().await;
            self.keys.read().await.get(&kid).cloned()
        })
    }

    fn revocations(&self) -> Option<Arc<RevokedSessions>> {
        self.revoked.clone()
    }
}

/// Which RPCs need a token. Health and reflection are always public.
#[derive(Debug, Clone, Default)]
pub struct AuthPolicy {
    public: HashSet<String>,
}

impl AuthPolicy {
    /// `public` holds full method paths, e.g. `/talentmesh.identity.v1.IdentityService/Login`.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(public: I) -> Self {
        AuthPolicy {
            public: public.into_iter().map(Into::into).collect(),
        }
    }

    pub fn is_public(&self, path: &str) -> bool {
        path.starts_with("/grpc.health.v1.")
            || path.starts_with("/grpc.reflection.")
            || self.public.contains(path)
    }
}

/// The tower layer; see the module docs.
#[derive(Clone)]
pub struct AuthLayer {
    verifier: Arc<Verifier>,
    policy: Arc<AuthPolicy>,
}

impl AuthLayer {
    pub fn new(verifier: Arc<Verifier>, policy: AuthPolicy) -> Self {
        AuthLayer {
            verifier,
            policy: Arc::new(policy),
        }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            verifier: self.verifier.clone(),
            policy: self.policy.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    verifier: Arc<Verifier>,
    policy: Arc<AuthPolicy>,
}

fn bearer(req: &http::Request<Body>) -> Option<&str> {
    let value = req
        .headers()
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

impl<S> tower::Service<http::Request<Body>> for AuthService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        // Take the service that was driven to readiness and leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        let public = self.policy.is_public(req.uri().path());
        Box::pin(async move {
            match bearer(&req).map(str::to_string) {
                Some(token) => match verifier.verify(&token).await {
                    Ok(caller) => {
                        req.extensions_mut().insert(caller);
                    }
                    // A public RPC ignores a bad token rather than failing a login page.
                    Err(_) if public => {}
                    Err(e) => return Ok(tonic::Status::from(e).into_http()),
                },
                None if public => {}
                None => {
                    let e = ApiError::unauthenticated("missing bearer access token");
                    return Ok(tonic::Status::from(e).into_http());
                }
            }
            inner.call(req).await
        })
    }
}

/// The bearer token a request came with ("" when none), for services that call another on
/// the caller's behalf.
pub fn bearer_token<T>(req: &tonic::Request<T>) -> String {
    req.metadata()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_string())
        .unwrap_or_default()
}

/// The verified caller of a request, or UNAUTHENTICATED.
pub fn caller<T>(req: &tonic::Request<T>) -> Result<&Caller, tonic::Status> {
    req.extensions()
        .get::<Caller>()
        .ok_or_else(|| ApiError::unauthenticated("missing bearer access token").into())
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

/// The revocation feed read from identity's ListRevokedSessions through `client`.
fn revocations_from(
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

/// Who is calling and with which token: the one context every service layer takes, built by
/// the gRPC adapter from the request ([`CallContext::of`]). The service layer sees no tonic
/// types; it asks the context for the caller (UNAUTHENTICATED when there is none) and forwards
/// the bearer token to peers that decide on the user's behalf (the company service's
/// permission checks).
#[derive(Debug, Clone, Default)]
pub struct CallContext {
    /// The verified caller; `None` on a public method called without a token.
    pub caller: Option<Caller>,
    /// The bearer token the request came with ("" when none).
    pub bearer: String,
}

impl CallContext {
    /// The verified caller (put there by the auth layer) and the bearer token of `req`.
    pub fn of<T>(req: &tonic::Request<T>) -> CallContext {
        CallContext {
            caller: req.extensions().get::<Caller>().cloned(),
            bearer: bearer_token(req),
        }
    }

    /// A context for `caller` with `bearer` (tests and internal calls).
    pub fn new(caller: Caller, bearer: impl Into<String>) -> CallContext {
        CallContext {
            caller: Some(caller),
            bearer: bearer.into(),
        }
    }

    /// The caller, or [`MissingCaller`] (UNAUTHENTICATED) for a request that came without a
    /// verified token.
    pub fn caller(&self) -> Result<&Caller, MissingCaller> {
        self.caller.as_ref().ok_or(MissingCaller)
    }

    /// The caller's user id, `None` when anonymous.
    pub fn user_id(&self) -> Option<&str> {
        self.caller.as_ref().map(|c| c.user_id.as_str())
    }

    /// Whether the caller is a platform admin (false when anonymous).
    pub fn is_admin(&self) -> bool {
        self.caller.as_ref().is_some_and(Caller::is_admin)
    }
}

/// A method that needs a caller was called without a verified token; UNAUTHENTICATED on the
/// wire. A crate error holds it as a variant (`Unauthenticated(#[from] MissingCaller)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("missing bearer access token")]
pub struct MissingCaller;

impl From<MissingCaller> for ApiError {
    fn from(e: MissingCaller) -> ApiError {
        ApiError::unauthenticated(e.to_string())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use base64::Engine;
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use jsonwebtoken::{EncodingKey, Header};

    use super::*;
    use crate::error::ErrorCode;

    const KID: &str = "revocation-test";
    const ISSUER: &str = "talentmesh-identity";
    const AUDIENCE: &str = "talentmesh";

    /// One Ed25519 key: signs the test tokens and is the verifier's only key.
    struct OneKey {
        der: Vec<u8>,
        decoding: Arc<DecodingKey>,
    }

    impl OneKey {
        fn new() -> Arc<OneKey> {
            let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
            let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(key.verifying_key().as_bytes());
            Arc::new(OneKey {
                der: key.to_pkcs8_der().unwrap().as_bytes().to_vec(),
                decoding: Arc::new(DecodingKey::from_ed_components(&x).unwrap()),
            })
        }

        /// A valid token of session `sid` (none: a token issued before sessions were named).
        fn token(&self, sid: Option<&str>) -> String {
            let now = chrono::Utc::now().timestamp();
            let claims = SessionClaims {
                claims: Claims {
                    sub: "user-1".into(),
                    iss: ISSUER.into(),
                    aud: AUDIENCE.into(),
                    exp: now + 900,
                    nbf: now,
                    iat: now,
                    jti: uuid::Uuid::new_v4().to_string(),
                    email: "a@example.com".into(),
                    roles: vec!["candidate".into()],
                },
                sid: sid.map(str::to_string),
            };
            let mut header = Header::new(Algorithm::EdDSA);
            header.kid = Some(KID.into());
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(&self.der)).unwrap()
        }
    }

    impl KeySource for OneKey {
        fn key(&self, kid: &str) -> BoxFuture<'_, Option<Arc<DecodingKey>>> {
            let key = (kid == KID).then(|| self.decoding.clone());
            Box::pin(async move { key })
        }
    }

    /// A key source that also reports a revocation set, as `JwksCache::from_identity` does.
    struct KeyWithRevocations(Arc<OneKey>, Arc<RevokedSessions>);

    impl KeySource for KeyWithRevocations {
        fn key(&self, kid: &str) -> BoxFuture<'_, Option<Arc<DecodingKey>>> {
            self.0.key(kid)
        }
        fn revocations(&self) -> Option<Arc<RevokedSessions>> {
            Some(self.1.clone())
        }
    }

    fn revoked(id: &str, expires_at: i64) -> RevokedSession {
        RevokedSession {
            session_id: id.into(),
            expires_at,
        }
    }

    fn assert_revoked(result: Result<Caller, ApiError>) {
        let err = result.expect_err("a revoked session's token must be refused");
        assert_eq!(err.code, ErrorCode::Unauthenticated, "{}", err.message);
        assert_eq!(err.reason, Some("SESSION_REVOKED"), "{}", err.message);
    }

    #[test]
    fn a_revoked_session_counts_until_its_expiry_then_is_dropped() {
        let set = RevokedSessions::new();
        set.apply([revoked("s1", 1_000), revoked("s2", 2_000)], 500);
        assert!(set.is_revoked("s1", 500));
        assert!(set.is_revoked("s1", 1_000), "still revoked at its expiry");
        assert!(!set.is_revoked("s1", 1_001), "not past its expiry");
        assert!(!set.is_revoked("s3", 500), "never revoked");
        assert_eq!(set.len(), 2);
        set.apply([], 1_500);
        assert_eq!(set.len(), 1, "the expired entry is pruned");
        assert!(set.is_revoked("s2", 1_500));
    }

    #[test]
    fn a_repeated_revocation_keeps_the_later_expiry_and_expired_ones_are_not_added() {
        let set = RevokedSessions::new();
        set.apply([revoked("s1", 2_000), revoked("s1", 1_000)], 500);
        assert!(set.is_revoked("s1", 1_500));
        set.apply([revoked("old", 400)], 500);
        assert!(!set.is_revoked("old", 400));
        assert_eq!(set.len(), 1);
    }

    #[tokio::test]
    async fn the_verifier_refuses_a_revoked_session_even_for_a_token_it_verified_before() {
        let key = OneKey::new();
        let set = RevokedSessions::new();
        let verifier = Verifier::new(
            Arc::new(KeyWithRevocations(key.clone(), set.clone())),
            ISSUER,
            AUDIENCE,
        );
        let ended = key.token(Some("ended"));
        let other = key.token(Some("other"));
        let legacy = key.token(None);
        // Verified (and remembered) before the logout.
        assert_eq!(verifier.verify(&ended).await.unwrap().user_id, "user-1");

        let now = chrono::Utc::now().timestamp();
        set.apply([revoked("ended", now + 900)], now);
        assert_revoked(verifier.verify(&ended).await);
        assert!(verifier.verify(&other).await.is_ok(), "another session");
        assert!(
            verifier.verify(&legacy).await.is_ok(),
            "a token without sid is accepted until it expires"
        );
        // A verifier without a revocation set checks nothing (e.g. a plain key source).
        let plain = Verifier::new(key.clone(), ISSUER, AUDIENCE);
        assert!(plain.verify(&ended).await.is_ok());
        assert_revoked(plain.with_revocations(set.clone()).verify(&ended).await);
    }

    /// A feed of three entries over pages of one, failing while `down` is set.
    fn feed(down: Arc<AtomicBool>) -> FetchRevocations {
        let far = chrono::Utc::now().timestamp() + 900;
        Arc::new(move |cursor: String| {
            let down = down.load(Ordering::SeqCst);
            Box::pin(async move {
                if down {
                    return Err(ApiError::unavailable("identity is down"));
                }
                let at = cursor.parse::<usize>().unwrap_or(0);
                let ids = ["a", "b", "c"];
                Ok(match ids.get(at) {
                    Some(id) => RevocationPage {
                        sessions: vec![revoked(id, far)],
                        next_cursor: (at + 1).to_string(),
                    },
                    None => RevocationPage {
                        sessions: vec![],
                        next_cursor: cursor,
                    },
                })
            })
        })
    }

    #[tokio::test]
    async fn one_poll_follows_the_cursor_over_every_page() {
        let set = RevokedSessions::new();
        let mut cursor = String::new();
        set.poll(&feed(Arc::default()), &mut cursor).await.unwrap();
        let now = chrono::Utc::now().timestamp();
        for id in ["a", "b", "c"] {
            assert!(set.is_revoked(id, now), "{id}");
        }
        assert_eq!(cursor, "3");
    }

    #[tokio::test]
    async fn an_unreachable_identity_keeps_the_last_known_set_and_counts_the_failure() {
        let down = Arc::new(AtomicBool::new(false));
        let fetch = feed(down.clone());
        let set = RevokedSessions::new();
        let mut cursor = String::new();
        set.poll(&fetch, &mut cursor).await.unwrap();
        down.store(true, Ordering::SeqCst);
        assert!(set.poll(&fetch, &mut cursor).await.is_err());
        assert!(set.is_revoked("a", chrono::Utc::now().timestamp()));
        assert_eq!(cursor, "3", "the cursor stays where it was");
    }

    #[tokio::test]
    async fn the_background_poll_fills_the_set_and_counts_failures() {
        let down = Arc::new(AtomicBool::new(true));
        let set = RevokedSessions::new();
        let task = set
            .spawn_polling(feed(down.clone()), Duration::from_millis(20))
            .expect("inside a runtime");
        let deadline = Instant::now() + Duration::from_secs(5);
        while set.poll_failures() == 0 && Instant::now() < deadline {
            // The pause of a bounded poll (the deadline above ends it).
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(set.poll_failures() > 0, "failures are counted");
        assert!(set.is_empty());
        down.store(false, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(5);
        while set.len() < 3 && Instant::now() < deadline {
            // The pause of a bounded poll (the deadline above ends it).
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(set.len(), 3, "caught up once identity answers");
        // The task ends once the set is dropped.
        drop(set);
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("the poll task ends with its set")
            .unwrap();
    }

    #[tokio::test]
    async fn a_refresh_that_fails_on_one_instance_asks_the_next() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        // The first instance asked cannot be reached; the next one answers.
        let cache = JwksCache::new(Arc::new(move || {
            let n = counted.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move {
                if n == 0 {
                    Err(ApiError::unavailable("not identity"))
                } else {
                    Ok(vec![PublicJwk {
                        kid: "k1".to_string(),
                        x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".to_string(),
                    }])
                }
            })
        }));
        assert!(cache.key("k1").await.is_some(), "the key of the second try");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}

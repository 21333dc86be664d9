//! Bearer-token authentication for every service. A tower layer in front of the gRPC routes
//! verifies the access token (EdDSA JWT only; `kid` picks the key; `exp`, `nbf`, `iss`, `aud`,
//! `sub` required) and puts the [`Caller`] into the request extensions, where handlers read it with
//! [`caller`]. RPCs listed as public pass without a token. Keys come from a [`KeySource`]: the
//! identity service's own key ring inside identity, the cached JWKS from identity everywhere else.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
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

/// Where verification keys come from.
pub trait KeySource: Send + Sync + 'static {
    /// The key with id `kid`, if it is known (after a refresh if needed).
    fn key(&self, kid: &str) -> BoxFuture<'_, Option<Arc<DecodingKey>>>;
}

/// Verifies access tokens against a key source and the expected issuer and audience.
pub struct Verifier {
    keys: Arc<dyn KeySource>,
    validation: Validation,
    /// Tokens that verified recently: a service sees the same token on every request of a
    /// session, and the signature check is most of what verifying costs.
    recent: std::sync::Mutex<HashMap<String, Recent>>,
}

struct Recent {
    caller: Caller,
    /// Unix seconds after which the entry is not used: the token's `exp`, or a minute after it
    /// was verified if that is sooner (so a key withdrawn from the key set stops working soon).
    until: i64,
}

/// Verified tokens remembered, at most (the map is cleared when full).
const RECENT_TOKENS: usize = 10_000;
/// How long a verification is reused, at most.
const RECENT_FOR_SECS: i64 = 60;

impl Verifier {
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
            keys,
            validation,
            recent: std::sync::Mutex::new(HashMap::new()),
        }
    }

    pub async fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let now = chrono::Utc::now().timestamp();
        if let Ok(recent) = self.recent.lock() {
            if let Some(r) = recent.get(token).filter(|r| now < r.until) {
                return Ok(r.caller.clone());
            }
        }
        let (caller, exp) = self.verify_signed(token).await?;
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
                    until: exp.min(now + RECENT_FOR_SECS),
                },
            );
        }
        Ok(caller)
    }

    /// The full check: header, key, signature and claims. Returns the caller and `exp`.
    async fn verify_signed(&self, token: &str) -> Result<(Caller, i64), ApiError> {
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
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation).map_err(|e| {
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
        let claims = data.claims;
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
        ))
    }
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

/// Keys fetched from identity and cached. An unknown `kid` triggers a refetch (so a rotated key
/// is picked up at once), at most once per `min_refresh` so forged kids cannot flood identity.
pub struct JwksCache {
    fetch: FetchKeys,
    keys: RwLock<HashMap<String, Arc<DecodingKey>>>,
    last_fetch: Mutex<Option<Instant>>,
    min_refresh: Duration,
}

impl JwksCache {
    pub fn new(fetch: FetchKeys) -> Self {
        JwksCache {
            fetch,
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
            min_refresh: Duration::from_secs(2),
        }
    }

    async fn refresh(&self) {
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|t| t.elapsed() < self.min_refresh) {
            return;
        }
        *last = Some(Instant::now());
        match (self.fetch)().await {
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
    /// service but identity verifies tokens with.
    pub fn from_identity(channel: crate::discovery::MeshChannel) -> JwksCache {
        use talentmesh_proto::identity::v1::identity_service_client::IdentityServiceClient;
        use talentmesh_proto::identity::v1::ListPublicKeysRequest;
        let client = channel.client(IdentityServiceClient::new);
        JwksCache::new(Arc::new(move || {
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
        }))
    }
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

//! [`Verifier`]: checks an access token's header, key, signature and claims, and its session
//! against the revoked set; remembers recent verifications.

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, Validation};

use super::{Caller, KeySource, RevokedSessions, SessionClaims};
use crate::error::ApiError;

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
    /// was revoked. UNAVAILABLE when the token's key is not cached and identity cannot be asked
    /// for it now ([`KeySource::key`]).
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
            self.keys.key(&kid).await?.ok_or_else(|| {
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

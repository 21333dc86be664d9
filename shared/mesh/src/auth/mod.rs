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

mod jwks;
mod layer;
mod revocation;
#[cfg(test)]
mod tests;
mod verifier;

pub use jwks::{JwksCache, PublicJwk};
pub use layer::{
    bearer_token, caller, AuthLayer, AuthPolicy, AuthService, CallContext, MissingCaller,
};
pub use revocation::{
    FetchRevocations, RevocationPage, RevokedSession, RevokedSessions, REVOCATION_POLL,
};
pub use verifier::Verifier;

use std::sync::Arc;

use futures::future::BoxFuture;
use jsonwebtoken::DecodingKey;
use serde::{Deserialize, Serialize};

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

/// What [`KeySource::key`] answers: the key, `None` for an unknown id, or UNAVAILABLE.
pub type KeyLookup<'a> = BoxFuture<'a, Result<Option<Arc<DecodingKey>>, ApiError>>;

/// Where verification keys come from.
pub trait KeySource: Send + Sync + 'static {
    /// The key with id `kid`: `Ok(None)` when the source knows its keys and `kid` is not one
    /// of them (after a refresh if needed).
    ///
    /// # Errors
    /// UNAVAILABLE when the keys cannot be had now (identity unreachable): the token may well
    /// be good, so the caller should retry rather than log in again.
    fn key(&self, kid: &str) -> KeyLookup<'_>;

    /// The revoked sessions the same source keeps current, if it keeps any; the [`Verifier`]
    /// built on this source refuses their tokens. [`JwksCache::from_identity`] keeps one.
    fn revocations(&self) -> Option<Arc<RevokedSessions>> {
        None
    }
}

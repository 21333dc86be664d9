//! The one error type of the identity crate and its mapping to the API error table. Every layer
//! (store, service, adapter) returns [`Result`]; `grpc.rs` turns an [`Error`] into a
//! `tonic::Status` through [`ApiError`], so a new variant cannot reach a client unmapped.

use std::time::Duration;

use talentmesh_mesh::{ApiError, ErrorCode, FieldViolation};

use crate::domain::Invalid;

/// Everything that can go wrong in identity. Client-facing variants carry what the answer needs;
/// infrastructure variants carry their cause, which is logged and never shown to the client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more request fields were refused (field path and description each).
    #[error("invalid request: {}", .0.iter().map(|i| format!("{} {}", i.field, i.description)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Invalid>),
    /// Registration with an email that already has an account.
    #[error("email already registered")]
    EmailTaken,
    /// Unknown email or wrong password (deliberately not told apart).
    #[error("wrong email or password")]
    BadCredentials,
    /// The account or the client address is locked out for the given time.
    #[error("too many failed logins")]
    Throttled(Duration),
    /// Password hashing is at its bound and no turn came within the queue deadline; retry
    /// after the given time.
    #[error("too many password checks at once")]
    Busy(Duration),
    /// A rate limit refused the call (RESOURCE_EXHAUSTED with `RetryInfo`, reason
    /// `RATE_LIMITED`), or its store was down for a call that does not pass without it.
    #[error("{0}")]
    RateLimited(#[from] talentmesh_ratelimit::Error),
    /// Unknown, expired or revoked refresh token.
    #[error("refresh token is not valid")]
    RefreshInvalid,
    /// A refresh token presented a second time; its whole session family is now revoked.
    #[error("refresh token was already used; the session is revoked")]
    RefreshReused,
    /// No such user, or one the caller may not see.
    #[error("user not found")]
    NotFound,
    /// No published key has this key id.
    #[error("no public key {0}")]
    KeyNotFound(String),
    /// A MySQL query failed.
    #[error("mysql: {0}")]
    Db(#[from] sqlx::Error),
    /// A shared storage failure (outbox, Redis pool, throttle counters).
    #[error("{0}")]
    Store(#[from] talentmesh_storage::Error),
    /// The refresh-token store (Redis) failed.
    #[error("redis: {0}")]
    Session(String),
    /// A stored signing key cannot be used.
    #[error("stored key {kid} is unusable: {why}")]
    BadKey { kid: String, why: String },
    /// The key ring has no signing key (not loaded yet, or every key expired).
    #[error("no signing key")]
    NoSigningKey,
    /// Anything else that is our fault (a failed blocking task, signing failure).
    #[error("{0}")]
    Internal(String),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl From<Invalid> for Error {
    fn from(i: Invalid) -> Self {
        Error::Invalid(vec![i])
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(list) => ApiError::invalid(
                list.into_iter()
                    .map(|i| FieldViolation::new(i.field, i.description))
                    .collect(),
            ),
            Error::EmailTaken => {
                ApiError::new(ErrorCode::AlreadyExists, "email already registered")
                    .with_reason("EMAIL_TAKEN")
            }
            Error::BadCredentials => {
                ApiError::unauthenticated("wrong email or password").with_reason("BAD_CREDENTIALS")
            }
            Error::Throttled(after) => ApiError::new(
                ErrorCode::ResourceExhausted,
                "too many failed logins; try again later",
            )
            .with_reason("LOGIN_THROTTLED")
            .with_retry_after(after),
            Error::Busy(after) => ApiError::new(
                ErrorCode::ResourceExhausted,
                "the service is busy checking passwords; try again shortly",
            )
            .with_reason("PASSWORD_HASHING_BUSY")
            .with_retry_after(after),
            Error::RateLimited(e) => e.into(),
            Error::RefreshInvalid => ApiError::unauthenticated("refresh token is not valid")
                .with_reason("REFRESH_TOKEN_INVALID"),
            Error::RefreshReused => {
                ApiError::unauthenticated("refresh token was already used; the session is revoked")
                    .with_reason("REFRESH_TOKEN_REUSED")
            }
            Error::NotFound => ApiError::not_found("user not found"),
            Error::KeyNotFound(kid) => ApiError::not_found(format!("no public key {kid}")),
            Error::Store(e) => e.into(),
            Error::Db(e) => talentmesh_storage::Error::MySql(e).into(),
            Error::Session(e) => {
                tracing::warn!(error = %e, "session store failed");
                ApiError::unavailable("session store unavailable; retry shortly")
            }
            e @ (Error::BadKey { .. } | Error::NoSigningKey | Error::Internal(_)) => {
                ApiError::internal(&e)
            }
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        ApiError::from(e).into()
    }
}

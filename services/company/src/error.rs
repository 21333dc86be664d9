//! The crate's one error type. The service layer returns it; the gRPC adapter turns it into the
//! wire error through the one exhaustive mapping below (a new variant does not compile until it
//! is mapped), keeping the codes, messages, `ErrorInfo` reasons and metadata clients rely on.

use talentmesh_mesh::{ApiError, ErrorCode, FieldViolation, UpstreamError};
use talentmesh_storage::idempotency::Refusal;

use crate::domain::{Invalid, Permission};

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Fields of the request were refused (all of them reported at once).
    #[error("invalid request: {}", .0.iter().map(|i| format!("{} {}", i.field, i.description)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<Invalid>),
    /// The method needs a verified caller and the request came without one.
    #[error("missing bearer access token")]
    Unauthenticated,
    /// `what` does not exist, or the caller may not know it does (e.g. "company", "member").
    #[error("{0} not found")]
    NotFound(String),
    /// The caller's role in the company does not grant the permission.
    #[error("needs {0} on this company")]
    MissingPermission(Permission),
    #[error("only employers create companies")]
    EmployersOnly,
    #[error("only platform admins review verifications")]
    AdminsOnly,
    /// A member acting on a role stronger than their own (the message says which).
    #[error("{0}")]
    RoleTooStrong(String),
    #[error("callers check their own permissions")]
    SubjectNotCaller,
    #[error("this credit code belongs to another verified company")]
    UsccTaken,
    /// The user already belongs to the company (the message says how it was found).
    #[error("{0}")]
    AlreadyMember(&'static str),
    #[error("this relation is already declared")]
    RelationExists,
    #[error("a verification is already pending")]
    VerificationPending,
    #[error("the company is already verified")]
    AlreadyVerified,
    #[error("no verification is pending")]
    VerificationNotPending,
    #[error("the invitation was already accepted")]
    InvitationUsed,
    #[error("the invitation has expired")]
    InvitationExpired,
    /// The change would leave the company without an owner (the message says which change).
    #[error("{0}")]
    LastOwner(&'static str),
    #[error("a company has at most 50 offices")]
    TooManyOffices,
    #[error("a company declares at most 200 relations")]
    TooManyRelations,
    /// Redis could not be told about a membership change, so the change was refused.
    #[error("permission cache unavailable; retry shortly")]
    CacheUnavailable,
    /// A rate limit refused the call, or its store was down.
    #[error("{0}")]
    RateLimited(#[from] talentmesh_ratelimit::Error),
    /// A create with the same AIP-155 `request_id` is still running; retry.
    #[error("{0}")]
    RequestInProgress(talentmesh_storage::idempotency::Refusal),
    /// A MySQL failure.
    #[error("mysql: {0}")]
    Db(#[from] sqlx::Error),
    /// A failure of another store (PostgreSQL, Neo4j, Redis) or the outbox, or a stale version.
    #[error("{0}")]
    Store(#[from] talentmesh_storage::Error),
    /// A call to another service failed (the company service calls none today; kept so every
    /// service maps peers' errors the same way).
    #[error("{0}")]
    Upstream(#[from] UpstreamError),
    /// A bug or corrupt data: logged with an id, never shown.
    #[error("{0}")]
    Internal(String),
}

/// The crate's result.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// One refused field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Error {
        Error::Invalid(vec![Invalid::new(field, description)])
    }

    /// "`what` not found".
    pub fn not_found(what: impl Into<String>) -> Error {
        Error::NotFound(what.into())
    }
}

impl From<Invalid> for Error {
    fn from(i: Invalid) -> Self {
        Error::Invalid(vec![i])
    }
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::InvalidRequestId => Error::invalid("request_id", r.to_string()),
            Refusal::InProgress => Error::RequestInProgress(r),
        }
    }
}

impl From<Vec<Invalid>> for Error {
    fn from(list: Vec<Invalid>) -> Self {
        Error::Invalid(list)
    }
}

fn denied(e: &Error, reason: &'static str) -> ApiError {
    ApiError::permission_denied(e.to_string()).with_reason(reason)
}

fn exists(e: &Error, reason: &'static str) -> ApiError {
    ApiError::new(ErrorCode::AlreadyExists, e.to_string()).with_reason(reason)
}

fn precondition(e: &Error, reason: &'static str) -> ApiError {
    ApiError::new(ErrorCode::FailedPrecondition, e.to_string()).with_reason(reason)
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(list) => ApiError::invalid(
                list.into_iter()
                    .map(|i| FieldViolation::new(i.field, i.description))
                    .collect(),
            ),
            Error::Unauthenticated => ApiError::unauthenticated(e.to_string()),
            Error::NotFound(_) => ApiError::not_found(e.to_string()),
            Error::MissingPermission(permission) => ApiError::permission_denied(e.to_string())
                .with_reason("MISSING_PERMISSION")
                .with_metadata("permission", permission.as_str()),
            Error::EmployersOnly => denied(&e, "EMPLOYERS_ONLY"),
            Error::AdminsOnly => denied(&e, "ADMINS_ONLY"),
            Error::RoleTooStrong(_) => denied(&e, "ROLE_TOO_STRONG"),
            Error::SubjectNotCaller => denied(&e, "SUBJECT_NOT_CALLER"),
            Error::UsccTaken => exists(&e, "USCC_ALREADY_VERIFIED"),
            Error::AlreadyMember(_) => exists(&e, "ALREADY_MEMBER"),
            Error::RelationExists => exists(&e, "RELATION_EXISTS"),
            Error::VerificationPending => precondition(&e, "VERIFICATION_PENDING"),
            Error::AlreadyVerified => precondition(&e, "ALREADY_VERIFIED"),
            Error::VerificationNotPending => precondition(&e, "VERIFICATION_NOT_PENDING"),
            Error::InvitationUsed => precondition(&e, "INVITATION_USED"),
            Error::InvitationExpired => precondition(&e, "INVITATION_EXPIRED"),
            Error::LastOwner(_) => precondition(&e, "LAST_OWNER"),
            Error::TooManyOffices => precondition(&e, "TOO_MANY_OFFICES"),
            Error::TooManyRelations => precondition(&e, "TOO_MANY_RELATIONS"),
            Error::CacheUnavailable => ApiError::unavailable(e.to_string()),
            Error::RateLimited(e) => e.into(),
            Error::RequestInProgress(_) => {
                ApiError::new(ErrorCode::Aborted, e.to_string()).with_reason("REQUEST_IN_PROGRESS")
            }
            Error::Db(e) => talentmesh_storage::Error::MySql(e).into(),
            Error::Store(e) => e.into(),
            Error::Upstream(e) => ApiError::from(e),
            Error::Internal(_) => ApiError::internal(&e),
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        ApiError::from(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_their_reasons_and_metadata() {
        let api = ApiError::from(Error::MissingPermission(Permission::JobWrite));
        assert_eq!(api.code, ErrorCode::PermissionDenied);
        assert_eq!(api.message, "needs job.write on this company");
        assert_eq!(
            api.metadata.get("permission").map(String::as_str),
            Some("job.write")
        );
        let api = ApiError::from(Error::not_found("company"));
        assert_eq!(api.message, "company not found");
        let api = ApiError::from(Error::LastOwner("the last owner cannot leave"));
        assert_eq!(api.code, ErrorCode::FailedPrecondition);
    }
}

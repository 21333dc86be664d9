//! The one error type of the resume crate and its mapping to the API error table. Every layer
//! (store, service, adapter) returns [`Result`]; `grpc` turns an [`Error`] into a
//! `tonic::Status` through [`ApiError`], exhaustively, so a new variant cannot reach a client
//! unmapped.

use talentmesh_mesh::{ApiError, ErrorCode, FieldViolation, UpstreamError};
use talentmesh_storage::idempotency::Refusal;

/// Everything that can go wrong in the resume service. Client-facing variants carry what the
/// answer needs; infrastructure variants carry their cause, which is logged (with an id) and
/// never shown to the client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more request fields were refused (field path and description each).
    #[error("invalid request: {}", .0.iter().map(|v| format!("{} {}", v.field, v.description)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldViolation>),
    /// The request came without a verified caller.
    #[error("missing bearer access token")]
    Unauthenticated,
    /// Only candidates (and admins) keep resumes.
    #[error("only candidates keep resumes")]
    CandidatesOnly,
    /// An import would take the owner past the resumes they may create in the import window
    /// (`domain::limits::ImportBudget`); retry after `retry_after`.
    #[error("import budget exhausted: at most {limit} resumes created per {window_secs} s")]
    ImportBudget {
        /// The budget's resumes.
        limit: i64,
        /// The budget's window, in seconds.
        window_secs: u64,
        /// When enough of the owner's resumes will have left the window.
        retry_after: std::time::Duration,
    },
    /// No such resume, or one the caller may not read (deliberately not told apart).
    #[error("resume not found")]
    NotFound,
    /// A call to another service failed (the company service's permission check); its code
    /// goes through the mesh's one mapping.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// A create with the same AIP-155 `request_id` is still running; retry.
    #[error("{0}")]
    RequestInProgress(Refusal),
    /// A MySQL query failed.
    #[error("mysql: {0}")]
    Db(#[from] sqlx::Error),
    /// A shared storage failure (outbox, a versioned update that lost a race, …).
    #[error("{0}")]
    Store(#[from] talentmesh_storage::Error),
    /// Stored data this service cannot read back (an undecodable version), or a document it
    /// cannot build: our bug, not the caller's.
    #[error("{0}")]
    Internal(String),
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// One refused field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Error {
        Error::Invalid(vec![FieldViolation::new(field, description)])
    }
}

impl From<FieldViolation> for Error {
    fn from(v: FieldViolation) -> Self {
        Error::Invalid(vec![v])
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

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(violations) => ApiError::invalid(violations),
            Error::Unauthenticated => ApiError::unauthenticated("missing bearer access token"),
            Error::CandidatesOnly => ApiError::permission_denied("only candidates keep resumes")
                .with_reason("CANDIDATES_ONLY"),
            Error::ImportBudget {
                limit,
                window_secs,
                retry_after,
            } => ApiError::new(
                ErrorCode::ResourceExhausted,
                format!(
                    "import budget exhausted: at most {limit} resumes created per {window_secs} s"
                ),
            )
            .with_reason("IMPORT_BUDGET_EXHAUSTED")
            .with_retry_after(retry_after),
            Error::NotFound => ApiError::not_found("resume not found"),
            Error::Upstream(e) => ApiError::from(e),
            Error::RequestInProgress(_) => {
                ApiError::new(ErrorCode::Aborted, e.to_string()).with_reason("REQUEST_IN_PROGRESS")
            }
            Error::Db(e) => talentmesh_storage::Error::MySql(e).into(),
            Error::Store(e) => e.into(),
            e @ Error::Internal(_) => ApiError::internal(&e),
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
    fn a_refusal_from_the_company_service_keeps_its_code() {
        let refused: tonic::Status = ApiError::permission_denied("callers check their own")
            .with_reason("SUBJECT_NOT_CALLER")
            .into();
        let api = ApiError::from(Error::from(UpstreamError::from_status("company", &refused)));
        assert_eq!(api.code, ErrorCode::PermissionDenied);
        let down = tonic::Status::unavailable("no instances");
        let api = ApiError::from(Error::from(UpstreamError::from_status("company", &down)));
        assert_eq!(api.code, ErrorCode::Unavailable);
    }

    #[test]
    fn codes_follow_the_error() {
        let code = |e: Error| ApiError::from(e).code;
        assert_eq!(
            code(Error::invalid("name", "bad")),
            ErrorCode::InvalidArgument
        );
        assert_eq!(code(Error::CandidatesOnly), ErrorCode::PermissionDenied);
        assert_eq!(code(Error::NotFound), ErrorCode::NotFound);
        assert_eq!(code(Error::Unauthenticated), ErrorCode::Unauthenticated);
        assert_eq!(code(Error::Internal("x".into())), ErrorCode::Internal);
        let spent = ApiError::from(Error::ImportBudget {
            limit: 3,
            window_secs: 60,
            retry_after: std::time::Duration::from_secs(7),
        });
        assert_eq!(spent.code, ErrorCode::ResourceExhausted);
        assert_eq!(spent.retry_after, Some(std::time::Duration::from_secs(7)));
    }
}

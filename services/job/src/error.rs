//! The job service's one error type, and the one place it becomes the wire's: every variant
//! is mapped below (no catch-all), so a new failure cannot reach a caller unmapped.

use talentmesh_mesh::{ApiError, ErrorCode, FieldViolation, UpstreamError};
use talentmesh_storage::idempotency::Refusal;

use crate::domain::{JobState, Stage};

/// Everything the job service's logic and stores can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Request fields that break a rule (paths and descriptions as the client sees them).
    #[error("invalid request: {}", describe(.0))]
    Invalid(Vec<FieldViolation>),
    #[error("missing bearer access token")]
    Unauthenticated,
    /// The caller lacks `job.write` in the job's company.
    #[error("needs job.write in this company")]
    JobWriteDenied,
    /// The caller lacks `application.update` in the application's company.
    #[error("needs application.update in this company")]
    ApplicationUpdateDenied,
    #[error("only candidates apply")]
    CandidatesOnly,
    /// No such job, or one the caller may not see.
    #[error("job not found")]
    JobNotFound,
    /// No such application, or one the caller may not see.
    #[error("application not found")]
    ApplicationNotFound,
    #[error("a {from:?} job cannot become {to:?}")]
    BadStateChange { from: JobState, to: JobState },
    #[error("the job is not open for applications")]
    JobNotOpen,
    #[error("you already have an open application to this job")]
    AlreadyApplied,
    #[error("an application cannot move from {from:?} to {to:?}")]
    BadStageMove { from: Stage, to: Stage },
    #[error("the application has ended")]
    ApplicationEnded,
    #[error("interviews are scheduled in the interview stage")]
    NotInInterview,
    /// A call to another service (company, resume) failed.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// A create with the same AIP-155 `request_id` is still running; retry.
    #[error("{0}")]
    RequestInProgress(Refusal),
    /// A MySQL query failed.
    #[error("mysql: {0}")]
    Db(#[from] sqlx::Error),
    /// A store, the outbox or a versioned update failed (a stale version included).
    #[error(transparent)]
    Store(#[from] talentmesh_storage::Error),
}

/// The job service's results.
pub type Result<T> = std::result::Result<T, Error>;

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{} {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// One field violation.
    pub fn invalid(field: &str, description: impl Into<String>) -> Error {
        Error::Invalid(vec![FieldViolation::new(field, description)])
    }

    /// A PostgreSQL failure (the search index).
    pub fn postgres(e: sqlx::Error) -> Error {
        Error::Store(talentmesh_storage::Error::Postgres(e))
    }
}

impl From<FieldViolation> for Error {
    fn from(v: FieldViolation) -> Error {
        Error::Invalid(vec![v])
    }
}

impl From<Refusal> for Error {
    fn from(r: Refusal) -> Error {
        match r {
            Refusal::InvalidRequestId => Error::invalid("request_id", r.to_string()),
            Refusal::InProgress => Error::RequestInProgress(r),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        match e {
            Error::Invalid(violations) => ApiError::invalid(violations),
            Error::Unauthenticated => ApiError::unauthenticated(e.to_string()),
            Error::JobWriteDenied => ApiError::permission_denied(e.to_string())
                .with_reason("MISSING_PERMISSION")
                .with_metadata("permission", "job.write"),
            Error::ApplicationUpdateDenied => {
                ApiError::permission_denied(e.to_string()).with_reason("MISSING_PERMISSION")
            }
            Error::CandidatesOnly => {
                ApiError::permission_denied(e.to_string()).with_reason("CANDIDATES_ONLY")
            }
            Error::JobNotFound | Error::ApplicationNotFound => ApiError::not_found(e.to_string()),
            Error::BadStateChange { .. } => {
                ApiError::new(ErrorCode::FailedPrecondition, e.to_string())
                    .with_reason("BAD_STATE_CHANGE")
            }
            Error::JobNotOpen => ApiError::new(ErrorCode::FailedPrecondition, e.to_string())
                .with_reason("JOB_NOT_OPEN"),
            Error::AlreadyApplied => ApiError::new(ErrorCode::AlreadyExists, e.to_string())
                .with_reason("ALREADY_APPLIED"),
            Error::BadStageMove { .. } => {
                ApiError::new(ErrorCode::FailedPrecondition, e.to_string())
                    .with_reason("BAD_STAGE_MOVE")
            }
            Error::ApplicationEnded => ApiError::new(ErrorCode::FailedPrecondition, e.to_string())
                .with_reason("APPLICATION_ENDED"),
            Error::NotInInterview => ApiError::new(ErrorCode::FailedPrecondition, e.to_string())
                .with_reason("NOT_IN_INTERVIEW"),
            Error::Upstream(e) => ApiError::from(e),
            Error::RequestInProgress(_) => {
                ApiError::new(ErrorCode::Aborted, e.to_string()).with_reason("REQUEST_IN_PROGRESS")
            }
            Error::Db(e) => talentmesh_storage::Error::MySql(e).into(),
            Error::Store(e) => e.into(),
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> tonic::Status {
        ApiError::from(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_keep_their_codes_reasons_and_messages() {
        let api = ApiError::from(Error::JobWriteDenied);
        assert_eq!(api.code, ErrorCode::PermissionDenied);
        assert_eq!(api.message, "needs job.write in this company");
        assert_eq!(
            api.metadata.get("permission").map(String::as_str),
            Some("job.write")
        );
        let api = ApiError::from(Error::BadStateChange {
            from: JobState::Draft,
            to: JobState::Closed,
        });
        assert_eq!(api.message, "a Draft job cannot become Closed");
        let api = ApiError::from(Error::BadStageMove {
            from: Stage::Applied,
            to: Stage::Hired,
        });
        assert_eq!(
            api.message,
            "an application cannot move from Applied to Hired"
        );
        assert_eq!(
            ApiError::from(Error::invalid("job", "is required")).violations,
            vec![FieldViolation::new("job", "is required")]
        );
    }
}

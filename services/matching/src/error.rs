//! The one error type of the matching crate and its mapping to the API error table.

use talentmesh_mesh::{ApiError, ErrorCode, FieldViolation, UpstreamError};

/// Everything that can go wrong in the matching service. Client-facing variants carry what the
/// answer needs; infrastructure variants carry their cause, logged with an id, never shown.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more request fields were refused (field path and description each).
    #[error("invalid request: {}", .0.iter().map(|v| format!("{} {}", v.field, v.description)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldViolation>),
    /// The request came without a verified caller.
    #[error("missing bearer access token")]
    Unauthenticated,
    /// The caller may not do this (e.g. ask for another candidate's matches).
    #[error("{0}")]
    PermissionDenied(&'static str),
    /// No such resume or job, or one the caller may not see (deliberately not told apart).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The job is not published (only published jobs are recommended or compared).
    #[error("the job is not published")]
    NotPublished,
    /// Too little feedback to tune the weights on.
    #[error("not enough feedback: {queries} jobs with graded outcomes, {needed} needed")]
    NotEnoughFeedback { queries: usize, needed: usize },
    /// A call to another service failed; its code goes through the mesh's one mapping.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The embeddings server failed or answered something unusable.
    #[error("embeddings: {0}")]
    Embedding(#[from] talentmesh_embed::EmbedError),
    /// A MySQL or PostgreSQL query failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A shared storage failure.
    #[error("{0}")]
    Store(#[from] talentmesh_storage::Error),
    /// Stored data this service cannot read back: our bug, not the caller's.
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

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Invalid(violations) => ApiError::invalid(violations),
            Error::Unauthenticated => ApiError::unauthenticated("missing bearer access token"),
            Error::PermissionDenied(why) => ApiError::permission_denied(why),
            Error::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            Error::NotPublished => {
                ApiError::new(ErrorCode::FailedPrecondition, "the job is not published")
                    .with_reason("JOB_NOT_PUBLISHED")
            }
            e @ Error::NotEnoughFeedback { queries, needed } => {
                let how = format!(
                    "tuning needs application outcomes on at least {needed} jobs; {queries} have them"
                );
                ApiError::new(ErrorCode::FailedPrecondition, e.to_string())
                    .with_reason("NOT_ENOUGH_FEEDBACK")
                    .with_precondition("FEEDBACK", "matching/weights", how)
            }
            Error::Upstream(e) => ApiError::from(e),
            e @ Error::Embedding(_) => {
                tracing::warn!(error = %e, "embeddings server failed");
                ApiError::unavailable("the embeddings server is unavailable")
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

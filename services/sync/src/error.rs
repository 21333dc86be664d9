//! The sync service's errors and how they reach the wire. An instance's own refusal (NOT_FOUND
//! for an unknown operation, INVALID_ARGUMENT for an unknown projection …) is relayed with its
//! code, message and `google.rpc` details, so a caller sees the same error it would have had
//! from the instance directly.

use std::time::Duration;

use talentmesh_mesh::consul::ConsulError;
use talentmesh_mesh::{ApiError, FieldViolation};
use tonic::Status;

use crate::names::ServiceName;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid request: {0:?}")]
    Invalid(Vec<FieldViolation>),
    #[error("the sync api is for platform admins")]
    NotAdmin,
    #[error("consul: {0}")]
    Consul(#[from] ConsulError),
    /// Consul does not know the service, or its instances do not serve the sync admin api.
    #[error("no service {0} with the sync framework is registered")]
    NoService(ServiceName),
    /// Consul knows the service, but none of its instances passes its health check right now.
    #[error("no instance of {0} is passing its health check")]
    NoInstance(ServiceName),
    /// What an instance answered, relayed as it came.
    #[error("instance answered {}: {}", .0.code(), .0.message())]
    Instance(Status),
    /// An instance answered something the contract rules out.
    #[error("broken answer from an instance: {0}")]
    BrokenAnswer(String),
}

/// How long a caller is told to wait (`google.rpc.RetryInfo`) when a registered service has no
/// passing instance: a few health-check intervals, about what a restart takes.
const NO_INSTANCE_RETRY: Duration = Duration::from_secs(5);

pub type Result<T> = std::result::Result<T, Error>;

impl From<Error> for Status {
    fn from(err: Error) -> Status {
        match err {
            Error::Invalid(violations) => ApiError::invalid(violations).into(),
            Error::NotAdmin => ApiError::permission_denied(err.to_string()).into(),
            Error::Consul(e) => {
                tracing::warn!(error = %e, "consul unreachable");
                ApiError::unavailable("service discovery is unavailable").into()
            }
            Error::NoService(_) => ApiError::not_found(err.to_string()).into(),
            Error::NoInstance(_) => {
                ApiError::unavailable(format!("{err}; it is registered, so try again shortly"))
                    .with_retry_after(NO_INSTANCE_RETRY)
                    .into()
            }
            // Rebuilt from code, message and details alone: the instance's response headers
            // must not leak into ours.
            Error::Instance(status) => Status::with_details(
                status.code(),
                status.message().to_string(),
                status.details().to_vec().into(),
            ),
            Error::BrokenAnswer(_) => ApiError::internal(&err).into(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use talentmesh_mesh::error::field_violations_of;

    use super::*;

    #[test]
    fn an_instance_error_keeps_its_code_and_details() {
        let from_instance: Status = ApiError::invalid(vec![FieldViolation::new(
            "projections",
            "unknown projection x",
        )])
        .into();
        let relayed: Status = Error::Instance(from_instance).into();
        assert_eq!(relayed.code(), tonic::Code::InvalidArgument);
        assert_eq!(
            field_violations_of(&relayed),
            vec![FieldViolation::new("projections", "unknown projection x")]
        );
    }

    #[test]
    fn codes_follow_the_error() {
        let code = |e: Error| Status::from(e).code();
        assert_eq!(code(Error::NotAdmin), tonic::Code::PermissionDenied);
        assert_eq!(
            code(Error::NoService(ServiceName::new("nope"))),
            tonic::Code::NotFound
        );
        assert_eq!(
            code(Error::NoInstance(ServiceName::new("job"))),
            tonic::Code::Unavailable
        );
        assert_eq!(code(Error::Invalid(vec![])), tonic::Code::InvalidArgument);
        assert_eq!(code(Error::BrokenAnswer("x".into())), tonic::Code::Internal);
    }
}

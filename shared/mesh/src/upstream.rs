//! Errors from calls to other services of the mesh, typed once. A service that calls a peer
//! (the company service's authorization API, resumes, jobs) turns the peer's `tonic::Status`
//! into an [`UpstreamError`] at the client, and turns that into its own [`ApiError`] through the
//! one exhaustive mapping below, so a peer's PERMISSION_DENIED stays PERMISSION_DENIED for the
//! caller instead of each service deciding ad hoc (and differently) what it means.
//!
//! The mapping keeps the peer's code where the caller can act on it (a missing resource, a
//! refused permission, a rejected field, a busy peer) and hides the peer's own failures
//! (INTERNAL, DATA_LOSS, UNKNOWN, UNIMPLEMENTED) behind an internal error with an id: they are
//! this mesh's bugs or version skew, not something the caller can fix.

use crate::error::{field_violations_of, ApiError, ErrorCode};

/// A failed call to `service`: its code, its message and the `ErrorInfo.reason` it gave.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{service} answered {}: {message}", code.as_str())]
pub struct UpstreamError {
    /// The peer's service name as the mesh knows it (`company`, `resume`).
    pub service: &'static str,
    /// The peer's status code, through the shared table.
    pub code: ErrorCode,
    /// The peer's message, for people.
    pub message: String,
    /// The peer's `google.rpc.ErrorInfo.reason`, when it sent one.
    pub reason: Option<String>,
    /// The peer's `google.rpc.BadRequest` field violations (field paths are the peer's).
    pub violations: Vec<crate::error::FieldViolation>,
}

impl UpstreamError {
    /// Classifies a status returned by a call to `service`.
    pub fn from_status(service: &'static str, status: &tonic::Status) -> UpstreamError {
        let rpc = crate::error::rpc_status_of(status);
        let reason = rpc
            .details
            .iter()
            .filter(|d| d.type_url.ends_with("/google.rpc.ErrorInfo"))
            .find_map(|d| {
                <talentmesh_proto::google::rpc::ErrorInfo as prost::Message>::decode(
                    d.value.as_slice(),
                )
                .ok()
            })
            .map(|info| info.reason)
            .filter(|r| !r.is_empty());
        UpstreamError {
            service,
            code: ErrorCode::from_grpc_code(status.code()),
            message: status.message().to_string(),
            reason,
            violations: field_violations_of(status),
        }
    }

    /// An error raised on this side before the call went out (e.g. a token that is not a valid
    /// header value).
    pub fn local(service: &'static str, code: ErrorCode, message: impl Into<String>) -> Self {
        UpstreamError {
            service,
            code,
            message: message.into(),
            reason: None,
            violations: Vec::new(),
        }
    }

    /// Whether the peer said the thing asked about does not exist.
    pub fn is_not_found(&self) -> bool {
        self.code == ErrorCode::NotFound
    }
}

impl From<UpstreamError> for ApiError {
    fn from(err: UpstreamError) -> ApiError {
        let passed_on = |code: ErrorCode| {
            let mut api = ApiError::new(code, format!("{}: {}", err.service, err.message))
                .with_metadata("upstream", err.service);
            api.violations = err.violations.clone();
            if let Some(reason) = &err.reason {
                api = api.with_metadata("upstream_reason", reason.clone());
            }
            api
        };
        match err.code {
            // What the caller can act on keeps its code.
            ErrorCode::InvalidArgument => passed_on(ErrorCode::InvalidArgument),
            ErrorCode::OutOfRange => passed_on(ErrorCode::OutOfRange),
            ErrorCode::FailedPrecondition => passed_on(ErrorCode::FailedPrecondition),
            ErrorCode::Unauthenticated => passed_on(ErrorCode::Unauthenticated),
            ErrorCode::PermissionDenied => passed_on(ErrorCode::PermissionDenied),
            ErrorCode::NotFound => passed_on(ErrorCode::NotFound),
            ErrorCode::AlreadyExists => passed_on(ErrorCode::AlreadyExists),
            ErrorCode::Aborted => passed_on(ErrorCode::Aborted),
            ErrorCode::ResourceExhausted => passed_on(ErrorCode::ResourceExhausted),
            // A peer that is down or slow: the caller may retry.
            ErrorCode::Unavailable => passed_on(ErrorCode::Unavailable),
            ErrorCode::DeadlineExceeded => passed_on(ErrorCode::DeadlineExceeded),
            ErrorCode::Cancelled => passed_on(ErrorCode::Cancelled),
            // The peer's own failures are ours to log, not the caller's to read.
            ErrorCode::Internal
            | ErrorCode::DataLoss
            | ErrorCode::Unknown
            | ErrorCode::Unimplemented => ApiError::internal(&err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FieldViolation;

    #[test]
    fn a_peers_refusal_keeps_its_code_and_reason() {
        let status: tonic::Status = ApiError::permission_denied("needs job.write")
            .with_reason("MISSING_PERMISSION")
            .into();
        let err = UpstreamError::from_status("company", &status);
        assert_eq!(err.code, ErrorCode::PermissionDenied);
        assert_eq!(err.reason.as_deref(), Some("MISSING_PERMISSION"));
        let api = ApiError::from(err);
        assert_eq!(api.code, ErrorCode::PermissionDenied);
        assert_eq!(api.message, "company: needs job.write");
        assert_eq!(
            api.metadata.get("upstream_reason").map(String::as_str),
            Some("MISSING_PERMISSION")
        );
    }

    #[test]
    fn field_violations_come_through() {
        let status: tonic::Status =
            ApiError::invalid(vec![FieldViolation::new("name", "bad name")]).into();
        let api = ApiError::from(UpstreamError::from_status("resume", &status));
        assert_eq!(api.code, ErrorCode::InvalidArgument);
        assert_eq!(
            api.violations,
            vec![FieldViolation::new("name", "bad name")]
        );
    }

    #[test]
    fn a_peers_own_failure_is_hidden_behind_an_id() {
        for code in [
            tonic::Code::Internal,
            tonic::Code::DataLoss,
            tonic::Code::Unknown,
            tonic::Code::Unimplemented,
        ] {
            let api = ApiError::from(UpstreamError::from_status(
                "company",
                &tonic::Status::new(code, "SELECT * FROM secrets failed"),
            ));
            assert_eq!(api.code, ErrorCode::Internal, "{code:?}");
            assert!(!api.message.contains("SELECT"), "{}", api.message);
        }
    }

    #[test]
    fn a_plain_status_without_details_is_classified_by_code() {
        let err =
            UpstreamError::from_status("company", &tonic::Status::unavailable("no instances"));
        assert_eq!(err.code, ErrorCode::Unavailable);
        assert_eq!(err.reason, None);
        assert_eq!(ApiError::from(err).code, ErrorCode::Unavailable);
    }
}

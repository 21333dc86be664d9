//! The one error-code table of talentmesh. Every error a service returns has an [`ErrorCode`];
//! the code decides the gRPC status code and the HTTP status the gateway answers with. The matches
//! below are exhaustive with no `_` arm, so a new code does not compile until both mappings exist.
//!
//! [`ApiError`] turns a code, a message and `google.rpc` details (field violations, retry info,
//! error info) into a `tonic::Status` whose `grpc-status-details-bin` carries a `google.rpc.Status`.

use std::collections::HashMap;
use std::time::Duration;

use http::StatusCode;
use prost::Message;
use talentmesh_proto::google::rpc;
use tonic::Code;

/// The domain for `google.rpc.ErrorInfo` of every talentmesh error.
pub const ERROR_DOMAIN: &str = "talentmesh.dev";

/// What went wrong, in the terms callers act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request is malformed or a field breaks a rule; details name the fields.
    InvalidArgument,
    /// No credentials, or credentials that do not verify.
    Unauthenticated,
    /// The caller is known but may not do this.
    PermissionDenied,
    /// The resource does not exist (or the caller may not know that it does).
    NotFound,
    /// A resource with the same unique key exists.
    AlreadyExists,
    /// The system is not in the state the operation needs.
    FailedPrecondition,
    /// A concurrent change won (stale version, transaction conflict); retry with fresh data.
    Aborted,
    /// A quota or rate limit is exhausted; details carry when to retry.
    ResourceExhausted,
    /// A store or another service is unreachable; safe to retry.
    Unavailable,
    /// The deadline passed before the operation finished.
    DeadlineExceeded,
    /// The caller cancelled.
    Cancelled,
    /// The operation is not offered by this server.
    Unimplemented,
    /// A value is outside its valid range (e.g. a page past the end).
    OutOfRange,
    /// A bug or an invariant broken; the caller gets a generic message and a request id.
    Internal,
    /// Unrecoverable loss or corruption of data.
    DataLoss,
    /// An error whose cause is not known (e.g. from a peer that sent none).
    Unknown,
}

impl ErrorCode {
    pub fn grpc_code(self) -> Code {
        match self {
            ErrorCode::InvalidArgument => Code::InvalidArgument,
            ErrorCode::Unauthenticated => Code::Unauthenticated,
            ErrorCode::PermissionDenied => Code::PermissionDenied,
            ErrorCode::NotFound => Code::NotFound,
            ErrorCode::AlreadyExists => Code::AlreadyExists,
            ErrorCode::FailedPrecondition => Code::FailedPrecondition,
            ErrorCode::Aborted => Code::Aborted,
            ErrorCode::ResourceExhausted => Code::ResourceExhausted,
            ErrorCode::Unavailable => Code::Unavailable,
            ErrorCode::DeadlineExceeded => Code::DeadlineExceeded,
            ErrorCode::Cancelled => Code::Cancelled,
            ErrorCode::Unimplemented => Code::Unimplemented,
            ErrorCode::OutOfRange => Code::OutOfRange,
            ErrorCode::Internal => Code::Internal,
            ErrorCode::DataLoss => Code::DataLoss,
            ErrorCode::Unknown => Code::Unknown,
        }
    }

    pub fn from_grpc_code(code: Code) -> ErrorCode {
        match code {
            // OK has no error code; a caller that asks treats it as a broken peer.
            Code::Ok => ErrorCode::Unknown,
            Code::Cancelled => ErrorCode::Cancelled,
            Code::Unknown => ErrorCode::Unknown,
            Code::InvalidArgument => ErrorCode::InvalidArgument,
            Code::DeadlineExceeded => ErrorCode::DeadlineExceeded,
            Code::NotFound => ErrorCode::NotFound,
            Code::AlreadyExists => ErrorCode::AlreadyExists,
            Code::PermissionDenied => ErrorCode::PermissionDenied,
            Code::ResourceExhausted => ErrorCode::ResourceExhausted,
            Code::FailedPrecondition => ErrorCode::FailedPrecondition,
            Code::Aborted => ErrorCode::Aborted,
            Code::OutOfRange => ErrorCode::OutOfRange,
            Code::Unimplemented => ErrorCode::Unimplemented,
            Code::Internal => ErrorCode::Internal,
            Code::Unavailable => ErrorCode::Unavailable,
            Code::DataLoss => ErrorCode::DataLoss,
            Code::Unauthenticated => ErrorCode::Unauthenticated,
        }
    }

    /// The HTTP status the gateway answers with (the mapping of google.rpc.Code).
    pub fn http_status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidArgument => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
            ErrorCode::PermissionDenied => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::AlreadyExists => StatusCode::CONFLICT,
            ErrorCode::FailedPrecondition => StatusCode::BAD_REQUEST,
            ErrorCode::Aborted => StatusCode::CONFLICT,
            ErrorCode::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
            // 499 "client closed request" is not in the http crate's constants.
            ErrorCode::Cancelled => StatusCode::from_u16(499).unwrap_or(StatusCode::BAD_REQUEST),
            ErrorCode::Unimplemented => StatusCode::NOT_IMPLEMENTED,
            ErrorCode::OutOfRange => StatusCode::BAD_REQUEST,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::DataLoss => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Upper-snake name used as `ErrorInfo.reason` when a service gives none of its own.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::PermissionDenied => "PERMISSION_DENIED",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::AlreadyExists => "ALREADY_EXISTS",
            ErrorCode::FailedPrecondition => "FAILED_PRECONDITION",
            ErrorCode::Aborted => "ABORTED",
            ErrorCode::ResourceExhausted => "RESOURCE_EXHAUSTED",
            ErrorCode::Unavailable => "UNAVAILABLE",
            ErrorCode::DeadlineExceeded => "DEADLINE_EXCEEDED",
            ErrorCode::Cancelled => "CANCELLED",
            ErrorCode::Unimplemented => "UNIMPLEMENTED",
            ErrorCode::OutOfRange => "OUT_OF_RANGE",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::DataLoss => "DATA_LOSS",
            ErrorCode::Unknown => "UNKNOWN",
        }
    }
}

/// HTTP status for a gRPC status code, through the table above.
pub fn http_status_for(code: Code) -> StatusCode {
    if code == Code::Ok {
        return StatusCode::OK;
    }
    ErrorCode::from_grpc_code(code).http_status()
}

/// One field that broke a rule, named by its path in the request (`user.email`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// One precondition a request failed (`google.rpc.PreconditionFailure.Violation`, AIP-193):
/// `kind` is an UPPER_SNAKE type of the service's own (`FEEDBACK`), `subject` what failed it
/// (a resource name), `description` how to satisfy it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreconditionViolation {
    pub kind: String,
    pub subject: String,
    pub description: String,
}

/// An error ready for the wire: a code, a message for people, and machine-readable details.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// `ErrorInfo.reason`, UPPER_SNAKE; defaults to the code's name.
    pub reason: Option<&'static str>,
    pub metadata: HashMap<String, String>,
    pub violations: Vec<FieldViolation>,
    /// Sent as one `google.rpc.PreconditionFailure` (with FAILED_PRECONDITION).
    pub preconditions: Vec<PreconditionViolation>,
    pub retry_after: Option<Duration>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            reason: None,
            metadata: HashMap::new(),
            violations: Vec::new(),
            preconditions: Vec::new(),
            retry_after: None,
        }
    }

    /// INVALID_ARGUMENT with one `BadRequest` field violation per broken rule.
    pub fn invalid(violations: Vec<FieldViolation>) -> Self {
        let message = match violations.as_slice() {
            [] => "invalid request".to_string(),
            [one] => format!("invalid {}: {}", one.field, one.description),
            [first, rest @ ..] => format!(
                "invalid {}: {} (and {} more)",
                first.field,
                first.description,
                rest.len()
            ),
        };
        ApiError {
            violations,
            ..ApiError::new(ErrorCode::InvalidArgument, message)
        }
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::Unauthenticated, message)
    }

    pub fn permission_denied(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::PermissionDenied, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::NotFound, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::Unavailable, message)
    }

    /// An internal failure: the cause is logged here with a fresh id, the caller sees only the id.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        let id = uuid::Uuid::new_v4().to_string();
        tracing::error!(error_id = %id, error = %cause, "internal error");
        let mut err = ApiError::new(ErrorCode::Internal, format!("internal error (id {id})"));
        err.metadata.insert("error_id".to_string(), id);
        err
    }

    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = Some(reason);
        self
    }

    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Adds a `PreconditionFailure` violation: what failed (`kind`, `subject`) and how to
    /// satisfy it (`description`).
    pub fn with_precondition(
        mut self,
        kind: impl Into<String>,
        subject: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        self.preconditions.push(PreconditionViolation {
            kind: kind.into(),
            subject: subject.into(),
            description: description.into(),
        });
        self
    }

    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// The `google.rpc.Status` this error is sent as.
    pub fn to_rpc_status(&self) -> rpc::Status {
        let mut details = vec![any(
            "google.rpc.ErrorInfo",
            &rpc::ErrorInfo {
                reason: self.reason.unwrap_or(self.code.as_str()).to_string(),
                domain: ERROR_DOMAIN.to_string(),
                metadata: self.metadata.clone(),
            },
        )];
        if !self.violations.is_empty() {
            details.push(any(
                "google.rpc.BadRequest",
                &rpc::BadRequest {
                    field_violations: self
                        .violations
                        .iter()
                        .map(|v| rpc::bad_request::FieldViolation {
                            field: v.field.clone(),
                            description: v.description.clone(),
                            reason: String::new(),
                        })
                        .collect(),
                },
            ));
        }
        if !self.preconditions.is_empty() {
            details.push(any(
                "google.rpc.PreconditionFailure",
                &rpc::PreconditionFailure {
                    violations: self
                        .preconditions
                        .iter()
                        .map(|v| rpc::precondition_failure::Violation {
                            r#type: v.kind.clone(),
                            subject: v.subject.clone(),
                            description: v.description.clone(),
                        })
                        .collect(),
                },
            ));
        }
        if let Some(after) = self.retry_after {
            details.push(any(
                "google.rpc.RetryInfo",
                &rpc::RetryInfo {
                    retry_delay: Some(prost_types_duration(after)),
                },
            ));
        }
        rpc::Status {
            code: self.code.grpc_code() as i32,
            message: self.message.clone(),
            details,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

/// The most bytes of `google.rpc` details a status carries. gRPC sends them in a response
/// header (`grpc-status-details-bin`, base64), and HTTP/2 peers refuse header lists over 16 KiB
/// by default: a request with thousands of broken fields must still get its INVALID_ARGUMENT,
/// not a protocol error. 8 KiB leaves room for the message and the other headers.
pub const MAX_DETAILS_BYTES: usize = 8 * 1024;
/// The most bytes of a status message (the `grpc-message` header) and of one violation's field
/// path or description.
pub const MAX_TEXT_BYTES: usize = 1024;

/// `text` cut to at most `max` bytes on a character boundary, marked with "…" when cut.
fn clipped(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

impl ApiError {
    /// This error made to fit the wire: the message and every violation's text clipped to
    /// [`MAX_TEXT_BYTES`], and only as many violations as fit in [`MAX_DETAILS_BYTES`], in
    /// order; how many were left out is in `ErrorInfo.metadata["violations_omitted"]`.
    fn fitted(mut self) -> ApiError {
        self.message = clipped(&self.message, MAX_TEXT_BYTES);
        for v in &mut self.violations {
            v.field = clipped(&v.field, MAX_TEXT_BYTES);
            v.description = clipped(&v.description, MAX_TEXT_BYTES);
        }
        if self.to_rpc_status().encoded_len() <= MAX_DETAILS_BYTES {
            return self;
        }
        let total = self.violations.len();
        // Room for the ErrorInfo and the other details, then the violations in order.
        let mut used = 512 + self.message.len();
        let mut kept = 0;
        for v in &self.violations {
            // A FieldViolation is its two strings plus a few bytes of tags and lengths.
            let size = v.field.len() + v.description.len() + 16;
            if used + size > MAX_DETAILS_BYTES {
                break;
            }
            used += size;
            kept += 1;
        }
        self.violations.truncate(kept);
        self.metadata
            .insert("violations_omitted".to_string(), (total - kept).to_string());
        self
    }
}

impl From<ApiError> for tonic::Status {
    fn from(err: ApiError) -> Self {
        let err = err.fitted();
        let details = err.to_rpc_status().encode_to_vec();
        tonic::Status::with_details(err.code.grpc_code(), err.message, details.into())
    }
}

/// Decodes the `google.rpc.Status` a peer sent, falling back to code and message alone.
pub fn rpc_status_of(status: &tonic::Status) -> rpc::Status {
    if !status.details().is_empty() {
        if let Ok(decoded) = rpc::Status::decode(status.details()) {
            return decoded;
        }
    }
    rpc::Status {
        code: status.code() as i32,
        message: status.message().to_string(),
        details: Vec::new(),
    }
}

/// Field violations carried by a status, for tests and clients.
pub fn field_violations_of(status: &tonic::Status) -> Vec<FieldViolation> {
    rpc_status_of(status)
        .details
        .iter()
        .filter(|d| d.type_url.ends_with("/google.rpc.BadRequest"))
        .filter_map(|d| rpc::BadRequest::decode(d.value.as_slice()).ok())
        .flat_map(|b| b.field_violations)
        .map(|v| FieldViolation::new(v.field, v.description))
        .collect()
}

fn any<M: Message>(name: &str, msg: &M) -> prost_types::Any {
    prost_types::Any {
        type_url: format!("type.googleapis.com/{name}"),
        value: msg.encode_to_vec(),
    }
}

fn prost_types_duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_preconditions_carry_a_precondition_failure() {
        let err = ApiError::new(ErrorCode::FailedPrecondition, "not enough feedback")
            .with_precondition(
                "FEEDBACK",
                "matching/weights",
                "needs 20 jobs with outcomes",
            );
        let status = err.to_rpc_status();
        let found: Vec<rpc::PreconditionFailure> = status
            .details
            .iter()
            .filter(|d| d.type_url.ends_with("/google.rpc.PreconditionFailure"))
            .filter_map(|d| rpc::PreconditionFailure::decode(d.value.as_slice()).ok())
            .collect();
        assert_eq!(found.len(), 1, "{:?}", status.details);
        let v = &found[0].violations;
        assert_eq!(v.len(), 1);
        assert_eq!(
            (v[0].r#type.as_str(), v[0].subject.as_str()),
            ("FEEDBACK", "matching/weights")
        );
        assert_eq!(v[0].description, "needs 20 jobs with outcomes");
        // Without one, no empty detail is sent.
        let plain = ApiError::new(ErrorCode::FailedPrecondition, "x").to_rpc_status();
        assert!(!plain
            .details
            .iter()
            .any(|d| d.type_url.ends_with("PreconditionFailure")));
    }

    #[test]
    fn every_grpc_code_round_trips_through_the_table() {
        for n in 1..=16 {
            let code = Code::from_i32(n);
            assert_eq!(
                ErrorCode::from_grpc_code(code).grpc_code(),
                code,
                "code {n}"
            );
        }
        assert_eq!(http_status_for(Code::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(
            http_status_for(Code::Unauthenticated),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            http_status_for(Code::ResourceExhausted),
            StatusCode::TOO_MANY_REQUESTS
        );
    }

    #[test]
    fn thousands_of_violations_fit_in_the_status_header() {
        let violations: Vec<FieldViolation> = (0..5_000)
            .map(|i| {
                FieldViolation::new(
                    format!("resume.experiences[{i}].company"),
                    "must not contain control characters",
                )
            })
            .collect();
        let status: tonic::Status = ApiError::invalid(violations).into();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(
            status.details().len() <= MAX_DETAILS_BYTES,
            "{}",
            status.details().len()
        );
        let kept = field_violations_of(&status);
        assert!(kept.len() > 50, "{}", kept.len());
        assert_eq!(kept[0].field, "resume.experiences[0].company");
        let info = rpc_status_of(&status)
            .details
            .iter()
            .find(|d| d.type_url.ends_with("/google.rpc.ErrorInfo"))
            .and_then(|d| rpc::ErrorInfo::decode(d.value.as_slice()).ok())
            .unwrap_or_default();
        assert_eq!(
            info.metadata.get("violations_omitted").map(String::as_str),
            Some((5_000 - kept.len()).to_string().as_str())
        );
        assert!(
            status.message().contains("and 4999 more"),
            "{}",
            status.message()
        );
    }

    #[test]
    fn long_texts_are_clipped_on_a_character_boundary() {
        let long = "工".repeat(2_000);
        let status: tonic::Status =
            ApiError::invalid(vec![FieldViolation::new("title", long.clone())]).into();
        assert!(status.message().len() <= MAX_TEXT_BYTES);
        let kept = field_violations_of(&status);
        assert!(kept[0].description.len() <= MAX_TEXT_BYTES);
        assert!(kept[0].description.ends_with('…'));
    }

    #[test]
    fn invalid_argument_carries_field_violations() {
        let status: tonic::Status = ApiError::invalid(vec![FieldViolation::new(
            "email",
            "must be an email address",
        )])
        .into();
        assert_eq!(status.code(), Code::InvalidArgument);
        let violations = field_violations_of(&status);
        assert_eq!(
            violations,
            vec![FieldViolation::new("email", "must be an email address")]
        );
    }
}

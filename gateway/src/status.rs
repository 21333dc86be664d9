//! Error responses. Every failure, the gateway's own or an upstream's, reaches the client as a
//! `google.rpc.Status` in JSON — `{"code":..,"message":..,"details":[{"@type":..}]}` — rendered by
//! prost-reflect through the descriptor pool, so each `Any` detail appears as its message's JSON
//! with an `@type` field. The HTTP status comes from the one error table in `talentmesh-mesh`;
//! only the gateway's transport-level rejections (405, 408, 413, 415) have no row there and set their
//! status explicitly while the body carries the nearest gRPC code.

use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use http::header::{ALLOW, CONNECTION, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Method, StatusCode};
use prost::Message as _;
use prost_reflect::{DynamicMessage, MessageDescriptor, SerializeOptions};
use serde_json::Value as Json;
use talentmesh_mesh::error::{http_status_for, rpc_status_of, ApiError, ErrorCode};
use talentmesh_proto::google::rpc;

pub(crate) const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
const CLOSE: HeaderValue = HeaderValue::from_static("close");
/// `Retry-After` of a 429 or 503 whose error carries no `google.rpc.RetryInfo`: the time a
/// restarted instance takes to pass its health check and be found again.
pub const DEFAULT_RETRY_AFTER_SECONDS: u64 = 1;

/// A request the gateway answers with an error.
#[derive(Debug)]
pub struct Rejection {
    pub status: StatusCode,
    pub body: rpc::Status,
    pub allow: Option<HeaderValue>,
    /// Answered before the request body was read to its end: the connection cannot carry
    /// another request, and `Connection: close` tells the client so before it tries.
    pub close: bool,
}

impl Rejection {
    pub fn api(error: &ApiError) -> Rejection {
        Rejection {
            status: error.code.http_status(),
            body: error.to_rpc_status(),
            allow: None,
            close: false,
        }
    }

    pub fn upstream(status: &tonic::Status) -> Rejection {
        Rejection {
            status: http_status_for(status.code()),
            body: rpc_status_of(status),
            allow: None,
            close: false,
        }
    }

    pub fn not_found(method: &Method, path: &str) -> Rejection {
        Rejection::api(&ApiError::not_found(format!(
            "no route for {method} {path}"
        )))
    }

    /// No route matches `method path` (or not its method) yet, while routes that may match are
    /// still loading (see [`crate::loading`]): 503 UNAVAILABLE, reason `ROUTES_LOADING`, with
    /// `google.rpc.RetryInfo` and so `Retry-After`, never a 404 a client would give up on.
    pub fn routes_loading(method: &Method, path: &str) -> Rejection {
        Rejection::api(
            &ApiError::unavailable(format!(
                "the routes for {method} {path} are still loading; retry shortly"
            ))
            .with_reason("ROUTES_LOADING")
            .with_retry_after(std::time::Duration::from_secs(DEFAULT_RETRY_AFTER_SECONDS)),
        )
    }

    pub fn method_not_allowed(method: &Method, path: &str, allowed: &[Method]) -> Rejection {
        let allow = allowed
            .iter()
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        // The route exists; the request used the wrong method for it: a bad request, with the
        // HTTP status (405) and `Allow` header saying which methods would do.
        let error = ApiError::new(
            ErrorCode::InvalidArgument,
            format!("method {method} is not allowed on {path}; allowed: {allow}"),
        )
        .with_reason("METHOD_NOT_ALLOWED");
        Rejection {
            status: StatusCode::METHOD_NOT_ALLOWED,
            body: error.to_rpc_status(),
            allow: HeaderValue::from_str(&allow).ok(),
            close: false,
        }
    }

    /// A request header over the size the gateway forwards (`name`, `limit` bytes): 431,
    /// never sent upstream.
    pub fn header_too_large(name: &str, limit: usize) -> Rejection {
        let error = ApiError::invalid(vec![talentmesh_mesh::FieldViolation::new(
            name,
            format!("header is longer than {limit} bytes"),
        )])
        .with_reason("HEADER_TOO_LARGE");
        Rejection {
            status: StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            body: error.to_rpc_status(),
            allow: None,
            close: false,
        }
    }

    pub fn too_large(limit: usize) -> Rejection {
        let error = ApiError::new(
            ErrorCode::ResourceExhausted,
            format!("request body is larger than {limit} bytes"),
        )
        .with_reason("PAYLOAD_TOO_LARGE");
        Rejection {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            body: error.to_rpc_status(),
            allow: None,
            close: true,
        }
    }

    /// A request whose gRPC message (`len` encoded bytes) is over the mesh's message size
    /// limit, though its body was within the body limit: 413, never sent upstream.
    pub fn message_too_large(len: usize, limit: usize) -> Rejection {
        let error = ApiError::new(
            ErrorCode::ResourceExhausted,
            format!(
                "request message of {len} bytes is larger than the limit of {limit} bytes \
                 (TALENTMESH_GRPC_MAX_MESSAGE)"
            ),
        )
        .with_reason("MESSAGE_TOO_LARGE");
        Rejection {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            body: error.to_rpc_status(),
            allow: None,
            close: false,
        }
    }

    /// The client paused longer than `pause` while sending the body: 408, and the connection
    /// closes (the rest of the body is not waited for).
    pub fn body_timeout(pause: std::time::Duration) -> Rejection {
        let error = ApiError::new(
            ErrorCode::DeadlineExceeded,
            format!("no part of the request body arrived for {pause:?}"),
        )
        .with_reason("REQUEST_BODY_TIMEOUT");
        Rejection {
            status: StatusCode::REQUEST_TIMEOUT,
            body: error.to_rpc_status(),
            allow: None,
            close: true,
        }
    }

    /// An `If-Match` that does not hold (RFC 9110 §13.1.1): 412, the write not made. The body
    /// carries ABORTED, the code services give a stale `expected_version`.
    pub fn precondition_failed(message: &str) -> Rejection {
        let error = ApiError::new(
            ErrorCode::Aborted,
            format!("If-Match precondition failed: {message}"),
        )
        .with_reason("PRECONDITION_FAILED");
        Rejection {
            status: StatusCode::PRECONDITION_FAILED,
            body: error.to_rpc_status(),
            allow: None,
            close: false,
        }
    }

    /// A malformed `If-Match` or `If-None-Match`: 400 naming the header.
    pub fn bad_condition(description: String) -> Rejection {
        let header = description
            .split_whitespace()
            .next()
            .unwrap_or("if-match")
            .to_string();
        Rejection::api(&ApiError::invalid(vec![
            talentmesh_mesh::FieldViolation::new(header, description),
        ]))
    }

    pub fn unsupported_media_type(content_type: &str) -> Rejection {
        let error = ApiError::new(
            ErrorCode::InvalidArgument,
            format!("content type {content_type:?} is not supported; send application/json"),
        )
        .with_reason("UNSUPPORTED_MEDIA_TYPE");
        Rejection {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            body: error.to_rpc_status(),
            allow: None,
            close: false,
        }
    }

    /// The same rejection, closing the connection when `unread` (the body was left unread).
    pub fn closing_if(mut self, unread: bool) -> Rejection {
        self.close |= unread;
        self
    }

    /// The HTTP response, with the status rendered through `status_desc` (`google.rpc.Status`).
    pub fn into_response(
        self,
        status_desc: &MessageDescriptor,
        options: &SerializeOptions,
    ) -> Response {
        let body = render(status_desc, &self.body, options);
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = self.status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, APPLICATION_JSON);
        if let Some(allow) = self.allow {
            response.headers_mut().insert(ALLOW, allow);
        }
        let retry = retry_after_seconds(&self.body).or_else(|| {
            // Overloaded or unavailable without a delay from the service: tell the client to
            // come back shortly rather than nothing (RFC 9110 §10.2.3), so clients that honour
            // Retry-After back off instead of retrying at once.
            matches!(
                self.status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            )
            .then_some(DEFAULT_RETRY_AFTER_SECONDS)
        });
        if let Some(seconds) = retry {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.close {
            // HTTP/2 servers drop this header; there a stream ends without touching others.
            response.headers_mut().insert(CONNECTION, CLOSE);
        }
        response
    }
}

/// The `Retry-After` of an error (RFC 9110 §10.2.3, whole seconds): the delay of its
/// `google.rpc.RetryInfo` detail rounded up, at least 1 — so a client waiting that long is
/// admitted. `None` without one or with a delay that is negative or absurd (over a day).
fn retry_after_seconds(status: &rpc::Status) -> Option<u64> {
    let info = status
        .details
        .iter()
        .filter(|d| d.type_url.ends_with("/google.rpc.RetryInfo"))
        .find_map(|d| rpc::RetryInfo::decode(d.value.as_slice()).ok())?;
    let delay = info.retry_delay?;
    if delay.seconds < 0 || delay.nanos < 0 || delay.seconds > 86_400 {
        return None;
    }
    let seconds = u64::try_from(delay.seconds).ok()? + u64::from(delay.nanos > 0);
    Some(seconds.max(1))
}

/// Renders `status` as JSON. Details whose type the pool does not know cannot become JSON
/// fields; they are kept as `{"@type": .., "value": <base64>}` rather than dropped.
pub fn render(
    status_desc: &MessageDescriptor,
    status: &rpc::Status,
    options: &SerializeOptions,
) -> Vec<u8> {
    let pool = status_desc.parent_pool();
    let (known, unknown): (Vec<_>, Vec<_>) = status.details.iter().cloned().partition(|d| {
        d.type_url
            .rsplit_once('/')
            .is_some_and(|(_, name)| pool.get_message_by_name(name).is_some())
    });
    let renderable = rpc::Status {
        code: status.code,
        message: status.message.clone(),
        details: known,
    };
    let decoded =
        DynamicMessage::decode(status_desc.clone(), renderable.encode_to_vec().as_slice()).ok();
    if unknown.is_empty() {
        // The usual case: straight to bytes, fields in proto order (code, message, details).
        if let Some(Ok(bytes)) = decoded.as_ref().map(|m| crate::json::encode(m, options)) {
            return bytes;
        }
    }
    let rendered = decoded.and_then(|msg| {
        msg.serialize_with_options(serde_json::value::Serializer, options)
            .ok()
    });
    let mut json = rendered.unwrap_or_else(
        || serde_json::json!({ "code": status.code, "message": status.message, "details": [] }),
    );
    if !unknown.is_empty() {
        if let Json::Object(object) = &mut json {
            let details = object
                .entry("details")
                .or_insert_with(|| Json::Array(Vec::new()));
            if let Json::Array(items) = details {
                for detail in unknown {
                    items.push(serde_json::json!({
                        "@type": detail.type_url,
                        "value": base64::engine::general_purpose::STANDARD.encode(&detail.value),
                    }));
                }
            }
        }
    }
    serde_json::to_vec(&json).unwrap_or_else(|_| b"{}".to_vec())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn retry_after_is_the_retry_delay_rounded_up_to_whole_seconds() {
        let limited = |after: Duration| {
            ApiError::new(ErrorCode::ResourceExhausted, "slow down")
                .with_retry_after(after)
                .to_rpc_status()
        };
        assert_eq!(
            retry_after_seconds(&limited(Duration::from_millis(1500))),
            Some(2)
        );
        assert_eq!(
            retry_after_seconds(&limited(Duration::from_secs(60))),
            Some(60)
        );
        // A client told 0 would retry at once and be refused again.
        assert_eq!(
            retry_after_seconds(&limited(Duration::from_millis(3))),
            Some(1)
        );
        assert_eq!(retry_after_seconds(&limited(Duration::ZERO)), Some(1));
        let plain = ApiError::new(ErrorCode::ResourceExhausted, "full").to_rpc_status();
        assert_eq!(retry_after_seconds(&plain), None);
    }
}

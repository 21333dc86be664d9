//! The spans of a gRPC call, named after the method with OpenTelemetry's `rpc.*` attributes:
//! the server span of an incoming call ([`server_span`], a child of the caller's context) and the
//! client span of an outgoing one ([`client_span`], whose context goes out with the call).
//! Their status is recorded by `status.rs` as the answer comes back.

use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::{current_request_id, extract, inject, RequestId, X_REQUEST_ID};

/// `/pkg.Service/Method` as (`pkg.Service`, `Method`).
fn split_method(path: &str) -> (&str, &str) {
    let name = path.strip_prefix('/').unwrap_or(path);
    name.split_once('/').unwrap_or((name, ""))
}

/// Whether `path` is a health check (Consul and Kubernetes probes every second): those get no
/// span, so traces show calls, not probes.
pub fn is_health_check(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
}

/// The server span of an incoming gRPC call: named after the method
/// (`talentmesh.job.v1.JobService/CreateJob`), kind server, with `rpc.system`, `rpc.service`,
/// `rpc.method`, `server.address`/`server.port` (the local socket), `network.peer.address`/
/// `network.peer.port` and `request_id`; a child of the caller's trace context. The request id
/// goes into the span's context ([`current_request_id`]). The status is recorded by
/// [`observe_response`](super::observe_response).
pub fn server_span<B>(req: &http::Request<B>) -> tracing::Span {
    let path = req.uri().path();
    let (service, method) = split_method(path);
    let span = tracing::info_span!(
        "rpc",
        otel.name = path.strip_prefix('/').unwrap_or(path),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
        rpc.grpc.status_code = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
        server.address = Empty,
        server.port = Empty,
        network.peer.address = Empty,
        network.peer.port = Empty,
        request_id = Empty,
    );
    let tcp = req
        .extensions()
        .get::<tonic::transport::server::TcpConnectInfo>()
        .cloned()
        .or_else(|| {
            req.extensions()
                .get::<crate::connect::ConnectInfo>()
                .map(|c| c.tcp.clone())
        });
    if let Some(tcp) = tcp {
        if let Some(local) = tcp.local_addr() {
            span.record("server.address", local.ip().to_string());
            span.record("server.port", local.port());
        }
        if let Some(peer) = tcp.remote_addr() {
            span.record("network.peer.address", peer.ip().to_string());
            span.record("network.peer.port", peer.port());
        }
    }
    let mut cx = extract(req.headers());
    if let Some(id) = req
        .headers()
        .get(X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
    {
        span.record("request_id", id);
        cx = Some(cx.unwrap_or_default().with_value(RequestId(id.to_string())));
    }
    if let Some(cx) = cx {
        let _ = span.set_parent(cx);
    }
    span
}

/// The client span of an outgoing gRPC call to mesh service `peer`, child of the trace context
/// the request already carries or else of the current span; its context replaces the request's
/// `traceparent`, and the current request id is added as `x-request-id` when the request has
/// none. The status is recorded by [`observe_response`](super::observe_response) or
/// [`record_failure`](super::record_failure).
pub fn client_span<B>(req: &mut http::Request<B>, peer: &str) -> tracing::Span {
    let path = req.uri().path();
    let (service, method) = split_method(path);
    let span = tracing::info_span!(
        "rpc.client",
        otel.name = path.strip_prefix('/').unwrap_or(path),
        otel.kind = "client",
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = method,
        server.address = peer,
        rpc.grpc.status_code = Empty,
        otel.status_code = Empty,
        otel.status_description = Empty,
    );
    if let Some(cx) = extract(req.headers()) {
        let _ = span.set_parent(cx);
    }
    inject(&span, req.headers_mut());
    if !req.headers().contains_key(X_REQUEST_ID) {
        if let Some(id) = current_request_id().and_then(|id| http::HeaderValue::from_str(&id).ok())
        {
            req.headers_mut().insert(X_REQUEST_ID, id);
        }
    }
    span
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::telemetry::observe_response;
    use crate::telemetry::test_support::{answer_with_trailers, attribute, named, traced};

    #[test]
    fn rpc_spans_are_named_after_the_method_and_carry_status_and_request_id() {
        let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let (onward, spans) = traced(|| {
            let incoming = http::Request::builder()
                .uri("/talentmesh.test.v1.TestService/Call")
                .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
                .header(X_REQUEST_ID, "req-7")
                .body(())
                .unwrap();
            let server = server_span(&incoming);
            let onward = server.in_scope(|| {
                let mut call = http::Request::builder()
                    .uri("/talentmesh.other.v1.OtherService/Get")
                    .body(())
                    .unwrap();
                let client = client_span(&mut call, "other");
                // A trailers-only answer: the status is in the headers.
                let refused = http::Response::builder()
                    .header("grpc-status", "5")
                    .body(tonic::body::Body::empty())
                    .unwrap();
                drop(observe_response(client, refused, false));
                let header = |k: &str| call.headers()[k].to_str().unwrap().to_string();
                (header("traceparent"), header(X_REQUEST_ID))
            });
            let answer = observe_response(server, answer_with_trailers("13", "boom"), true);
            futures::executor::block_on(http_body_util::BodyExt::collect(answer.into_body()))
                .unwrap();
            onward
        });
        let server = named(&spans, "talentmesh.test.v1.TestService/Call");
        assert_eq!(server.span_kind, opentelemetry::trace::SpanKind::Server);
        assert_eq!(server.span_context.trace_id().to_string(), trace_id);
        assert_eq!(server.parent_span_id.to_string(), "00f067aa0ba902b7");
        assert_eq!(server.status, opentelemetry::trace::Status::error("boom"));
        for (key, value) in [
            ("rpc.system", "grpc"),
            ("rpc.service", "talentmesh.test.v1.TestService"),
            ("rpc.method", "Call"),
            ("rpc.grpc.status_code", "13"),
            ("request_id", "req-7"),
        ] {
            assert_eq!(attribute(server, key).as_deref(), Some(value), "{key}");
        }
        let client = named(&spans, "talentmesh.other.v1.OtherService/Get");
        assert_eq!(client.span_kind, opentelemetry::trace::SpanKind::Client);
        assert_eq!(client.parent_span_id, server.span_context.span_id());
        // NOT_FOUND fails a client span (a server's is not its fault, see below).
        assert!(matches!(
            client.status,
            opentelemetry::trace::Status::Error { .. }
        ));
        assert_eq!(
            attribute(client, "server.address").as_deref(),
            Some("other")
        );
        assert_eq!(
            onward,
            (
                format!("00-{trace_id}-{}-01", client.span_context.span_id()),
                "req-7".to_string()
            )
        );
    }

    #[test]
    fn method_paths_split_into_service_and_method() {
        assert_eq!(
            split_method("/talentmesh.job.v1.JobService/CreateJob"),
            ("talentmesh.job.v1.JobService", "CreateJob")
        );
        assert_eq!(split_method("/odd"), ("odd", ""));
    }
}

//! The gRPC status of a call, recorded on its RPC span: from the headers of a trailers-only
//! answer, else from the trailers as the body ends ([`observe_response`]), or from the error of a
//! call that got no answer ([`record_failure`]). Failure follows OpenTelemetry's gRPC rules.

use http::HeaderMap;

/// Records gRPC status `code` (and its message) on an RPC span. Server spans are marked failed
/// only for codes that are the server's fault (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED,
/// INTERNAL, UNAVAILABLE, DATA_LOSS), client spans for every code but OK, as OpenTelemetry's
/// gRPC conventions say.
pub fn record_grpc_status(span: &tracing::Span, code: i32, message: Option<&str>, server: bool) {
    span.record("rpc.grpc.status_code", i64::from(code));
    let failed = if server {
        matches!(code, 2 | 4 | 12 | 13 | 14 | 15)
    } else {
        code != 0
    };
    if failed {
        span.record("otel.status_code", "error");
        if let Some(message) = message {
            span.record("otel.status_description", message);
        }
    }
}

/// Records a call that failed without a gRPC answer (or with a status as its error).
pub fn record_failure(span: &tracing::Span, error: &(dyn std::error::Error + 'static)) {
    match error.downcast_ref::<tonic::Status>() {
        Some(status) => {
            record_grpc_status(span, status.code() as i32, Some(status.message()), false)
        }
        None => {
            span.record("otel.status_code", "error");
            span.record("otel.status_description", error.to_string());
        }
    }
}

/// The status carried by gRPC headers or trailers, if they have one.
fn grpc_status(headers: &HeaderMap) -> Option<(i32, Option<&str>)> {
    let code = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let message = headers.get("grpc-message").and_then(|v| v.to_str().ok());
    Some((code, message))
}

/// Watches `response` for its gRPC status: at once when the headers carry it (a trailers-only
/// answer), else from the trailers as the body ends. `span` lives as long as the body does, so
/// the RPC's span ends when its answer has been sent (or dropped).
pub fn observe_response(
    span: tracing::Span,
    response: http::Response<tonic::body::Body>,
    server: bool,
) -> http::Response<tonic::body::Body> {
    let mut done = false;
    if let Some((code, message)) = grpc_status(response.headers()) {
        record_grpc_status(&span, code, message, server);
        done = true;
    }
    response.map(|inner| {
        tonic::body::Body::new(StatusBody {
            inner,
            span,
            server,
            done,
        })
    })
}

pin_project_lite::pin_project! {
    /// A response body that records the gRPC status of its trailers on the RPC's span.
    struct StatusBody {
        #[pin]
        inner: tonic::body::Body,
        span: tracing::Span,
        server: bool,
        done: bool,
    }
}

impl http_body::Body for StatusBody {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if !*this.done {
            if let std::task::Poll::Ready(Some(Ok(frame))) = &polled {
                if let Some((code, message)) = frame.trailers_ref().and_then(grpc_status) {
                    record_grpc_status(this.span, code, message, *this.server);
                    *this.done = true;
                }
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::telemetry::server_span;
    use crate::telemetry::test_support::{answer_with_trailers, attribute, named, traced};

    #[test]
    fn a_client_error_is_not_a_failed_server_span() {
        let ((), spans) = traced(|| {
            let incoming = http::Request::builder()
                .uri("/talentmesh.test.v1.TestService/Get")
                .body(())
                .unwrap();
            let answer = observe_response(
                server_span(&incoming),
                answer_with_trailers("5", "no such thing"),
                true,
            );
            futures::executor::block_on(http_body_util::BodyExt::collect(answer.into_body()))
                .unwrap();
        });
        let server = named(&spans, "talentmesh.test.v1.TestService/Get");
        assert_eq!(
            attribute(server, "rpc.grpc.status_code").as_deref(),
            Some("5")
        );
        assert_eq!(server.status, opentelemetry::trace::Status::Unset);
    }
}

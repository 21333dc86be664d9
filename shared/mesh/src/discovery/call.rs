//! One call through a [`MeshChannel`]: the caller's deadline (or the channel's default) sent as
//! `grpc-timeout` and enforced here, the message size limit both ways, another instance when one
//! refuses the connection (the request never reached it, so a retry is safe), UNAVAILABLE at
//! once when there is none, and the call's client span and `grpc_client_*` series.

use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use http_body_util::BodyExt;
use tonic::body::Body;
use tower::{Service, ServiceExt};

use super::channel::now_ms;
use super::{BoxError, MeshChannel};
use crate::telemetry;

/// How long an instance that refused a connection is skipped.
const EJECT_FOR: Duration = Duration::from_secs(5);

/// Did the call fail before the request could reach the server (so a retry elsewhere is safe)?
/// A refused connection, or with mesh TLS a failed handshake (the instance is not the service
/// it is listed as): no byte of the request, bearer token included, was sent.
fn never_reached_server(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable
            ) {
                return true;
            }
            if io
                .get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
            {
                return true;
            }
        }
        if e.is::<rustls::Error>() {
            return true;
        }
        let text = e.to_string();
        if text.contains("tcp connect error") || text.contains("Connection refused") {
            return true;
        }
        source = e.source();
    }
    false
}

/// Parses a `grpc-timeout` header value (`<digits><unit>`).
fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

impl Service<http::Request<Body>> for MeshChannel {
    type Response = http::Response<Body>;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Readiness is decided per call, when an endpoint is picked.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        match &self.metrics {
            // Outermost, so a call refused here (no instance, too large, past its deadline)
            // is counted with the code the caller sees.
            Some(metrics) => {
                let record = metrics.client_call(req.uri().path());
                Box::pin(crate::metrics::observe_client(record, self.call_inner(req)))
            }
            None => self.call_inner(req),
        }
    }
}

impl MeshChannel {
    fn call_inner(
        &self,
        mut req: http::Request<Body>,
    ) -> BoxFuture<'static, Result<http::Response<Body>, BoxError>> {
        let this = self.clone();
        // The call's client span; its context and the request id go out with the request.
        let span = telemetry::client_span(&mut req, &this.inner.service);
        let deadline = match req
            .headers()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout)
        {
            Some(d) => d,
            None => {
                let d = this.inner.default_deadline;
                if let Ok(v) = http::HeaderValue::from_str(&format!("{}m", d.as_millis())) {
                    req.headers_mut().insert("grpc-timeout", v);
                }
                d
            }
        };
        let call = Box::pin(async move {
            let service = this.inner.service.clone();
            let work = async move {
                // Unary request bodies are one small frame; holding them lets a call move to
                // another instance when the first refuses the connection.
                let (parts, body) = req.into_parts();
                let bytes = body.collect().await.map_err(BoxError::from)?.to_bytes();
                let limit = this.inner.max_message;
                // Refused here, named, rather than by the server after it was sent.
                if let Some(len) = crate::limits::oversized_frame(&bytes, limit) {
                    let what = format!("request to {}", this.inner.service);
                    return Err(Box::new(crate::limits::too_large(&what, len, limit)) as BoxError);
                }
                let mut tried = Vec::new();
                loop {
                    let Some((i, endpoint)) = this.pick(&tried) else {
                        if tried.is_empty() && this.wait_until_known().await {
                            continue;
                        }
                        return Err(unavailable(&this.inner.service, tried.len()));
                    };
                    tried.push(i);
                    let mut request = http::Request::builder()
                        .method(parts.method.clone())
                        .uri(parts.uri.clone())
                        .version(parts.version)
                        .body(Body::new(http_body_util::Full::new(bytes.clone())))
                        .map_err(BoxError::from)?;
                    *request.headers_mut() = parts.headers.clone();
                    let mut channel = endpoint.channel.clone();
                    let result = match channel.ready().await {
                        Ok(ready) => ready.call(request).await,
                        Err(e) => Err(e),
                    };
                    match result {
                        // An answer over the limit fails as its frame header arrives, with
                        // RESOURCE_EXHAUSTED, however large the client's own limit is.
                        Ok(resp) => {
                            let what = format!("response from {}", this.inner.service);
                            return Ok(resp.map(|body| {
                                Body::new(crate::limits::CheckedFrames::new(body, limit, what))
                            }));
                        }
                        // The endpoint's own grpc-timeout fired first; tonic calls that
                        // CANCELLED, but the caller's deadline is what passed.
                        Err(e) if timed_out(&e) => {
                            return Err(Box::new(tonic::Status::deadline_exceeded(format!(
                                "deadline of {deadline:?} exceeded calling {}",
                                this.inner.service
                            ))) as BoxError)
                        }
                        Err(e) if never_reached_server(&e) => {
                            endpoint
                                .ejected_until
                                .store(now_ms() + EJECT_FOR.as_millis() as u64, Ordering::Relaxed);
                            tracing::debug!(uri = %endpoint.uri, error = %e, "instance refused; trying another");
                            continue;
                        }
                        Err(e) => return Err(BoxError::from(e)),
                    }
                }
            };
            match tokio::time::timeout(deadline, work).await {
                Ok(result) => result,
                Err(_) => Err(Box::new(tonic::Status::deadline_exceeded(format!(
                    "deadline of {deadline:?} exceeded calling {service}"
                ))) as BoxError),
            }
        });
        Box::pin(async move {
            match tracing::Instrument::instrument(call, span.clone()).await {
                Ok(response) => Ok(telemetry::observe_response(span, response, false)),
                Err(e) => {
                    telemetry::record_failure(&span, e.as_ref());
                    Err(e)
                }
            }
        })
    }
}

/// Whether tonic's own grpc-timeout ended the call (somewhere in the error's source chain).
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(err) = current {
        if err.is::<tonic::TimeoutExpired>() {
            return true;
        }
        current = err.source();
    }
    false
}

/// UNAVAILABLE with the usual details (ErrorInfo naming the service, RetryInfo of a second),
/// so a caller sees why and when to retry like from any other error.
fn unavailable(service: &str, tried: usize) -> BoxError {
    let (reason, message) = if tried == 0 {
        (
            "NO_HEALTHY_INSTANCE",
            format!("no healthy instance of {service}"),
        )
    } else {
        (
            "NO_INSTANCE_REACHABLE",
            format!("no instance of {service} accepted the connection"),
        )
    };
    let error = crate::error::ApiError::unavailable(message)
        .with_reason(reason)
        .with_metadata("service", service)
        .with_retry_after(std::time::Duration::from_secs(1));
    Box::new(tonic::Status::from(error))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::discovery::channel::FIRST_ANSWER_WAIT;

    #[test]
    fn grpc_timeout_units() {
        assert_eq!(parse_grpc_timeout("250m"), Some(Duration::from_millis(250)));
        assert_eq!(parse_grpc_timeout("3S"), Some(Duration::from_secs(3)));
        assert_eq!(parse_grpc_timeout("x"), None);
    }

    /// One unary call through `channel` (always ready: readiness is decided per call): the
    /// code it failed with, if it failed, and how long it took.
    async fn call(channel: MeshChannel) -> (Option<tonic::Code>, Duration) {
        let mut client = tonic::client::Grpc::new(channel);
        let started = Instant::now();
        assert!(client.ready().await.is_ok());
        let result = client
            .unary::<(), (), _>(
                tonic::Request::new(()),
                http::uri::PathAndQuery::from_static("/x.Y/Z"),
                tonic_prost::ProstCodec::default(),
            )
            .await;
        (result.err().map(|e| e.code()), started.elapsed())
    }

    #[tokio::test]
    async fn no_instance_fails_fast_with_unavailable() {
        let channel = MeshChannel::fixed("nothing", &[], Duration::from_secs(30));
        let (code, took) = call(channel).await;
        assert_eq!(code, Some(tonic::Code::Unavailable));
        assert!(took < Duration::from_secs(1));
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn no_instance_says_which_service_and_when_to_retry() {
        use prost::Message;
        let error = unavailable("matching", 0);
        let status = error.downcast_ref::<tonic::Status>().unwrap();
        assert_eq!(status.code(), tonic::Code::Unavailable);
        let rpc = talentmesh_proto::google::rpc::Status::decode(status.details()).unwrap();
        let types: Vec<&str> = rpc.details.iter().map(|d| d.type_url.as_str()).collect();
        assert!(
            types.iter().any(|t| t.ends_with("google.rpc.ErrorInfo"))
                && types.iter().any(|t| t.ends_with("google.rpc.RetryInfo")),
            "{types:?}"
        );
        let info = rpc
            .details
            .iter()
            .find(|d| d.type_url.ends_with("ErrorInfo"))
            .map(|d| talentmesh_proto::google::rpc::ErrorInfo::decode(d.value.as_slice()).unwrap())
            .unwrap();
        assert_eq!(info.reason, "NO_HEALTHY_INSTANCE");
        assert_eq!(info.metadata["service"], "matching");
    }

    #[tokio::test]
    async fn a_call_made_before_the_first_answer_waits_for_it() {
        let channel = MeshChannel::empty(
            "later",
            Duration::from_secs(30),
            crate::limits::DEFAULT_MAX_MESSAGE,
        );
        let answering = channel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            // Consul's first answer: no instances.
            answering.set_endpoints(std::iter::empty());
        });
        let (code, waited) = call(channel).await;
        assert_eq!(code, Some(tonic::Code::Unavailable));
        assert!(
            waited >= Duration::from_millis(300) && waited < FIRST_ANSWER_WAIT,
            "{waited:?}"
        );
    }

    #[tokio::test]
    #[allow(clippy::unwrap_used)]
    async fn an_upstream_that_never_answers_is_cut_off_at_the_deadline() {
        // Accepts connections (the kernel does) but never speaks HTTP/2.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let uri = format!("http://{}", silent.local_addr().unwrap());
        let channel = MeshChannel::fixed("silent", &[uri], Duration::from_millis(300));
        let (code, took) = call(channel).await;
        assert_eq!(code, Some(tonic::Code::DeadlineExceeded));
        assert!(took < Duration::from_secs(2), "{took:?}");
        drop(silent);
    }
}

//! The one message size limit of the mesh, on both sides of every call. Servers (through
//! [`crate::server::serve`] and the generated servers the service kit limits), mesh channels
//! (and the generated clients built over them) and the gateway all read it from
//! `TALENTMESH_GRPC_MAX_MESSAGE` ([`crate::MeshConfig::grpc_max_message`]), so a message one
//! side may send is one the other side may read.
//!
//! A message over the limit is refused where it is first seen, with RESOURCE_EXHAUSTED naming
//! its size and the limit: a request before it is sent (mesh channel) or as its frame header
//! arrives (server), a response as its frame header arrives (mesh channel). Without this, tonic
//! fails deep inside decoding with OUT_OF_RANGE ("decoded message length too large"), which the
//! gateway can only report as a bad request.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Buf;
use futures::future::BoxFuture;
use http_body::{Body as HttpBody, Frame};
use tonic::body::Body;

/// The default limit, in encoded bytes: 32 MiB.
///
/// Why this size: it is twice the largest document the API gives out, so every answer and
/// every document sent back fits with room for its envelope. The largest are the resume
/// service's export document (at most 16 MiB of JSON: export pages are cut to that size, the
/// size import accepts) and a page of resumes or resume versions (pages are cut by their
/// encoded size to fit under this limit; one resume is at most 4 MiB encoded). Raise it with
/// those numbers, on every process at once (servers, gateway): a process with a smaller limit
/// refuses what the others send.
pub const DEFAULT_MAX_MESSAGE: usize = 32 * 1024 * 1024;

/// The smallest limit a deployment may set: tonic's own default, which the platform's small
/// messages (tokens, permission checks, reflection) were built against.
pub const MIN_MAX_MESSAGE: usize = 4 * 1024 * 1024;

/// The status for a message of `len` bytes over `limit`; `what` says which one ("request to
/// resume", "response from resume").
pub fn too_large(what: &str, len: u64, limit: usize) -> tonic::Status {
    tonic::Status::resource_exhausted(format!(
        "{what}: message of {len} bytes is larger than the limit of {limit} bytes \
         (TALENTMESH_GRPC_MAX_MESSAGE)"
    ))
}

/// The first gRPC frame in `bytes` (a whole unary body) longer than `limit`, by its declared
/// length.
pub fn oversized_frame(mut bytes: &[u8], limit: usize) -> Option<u64> {
    while bytes.len() >= 5 {
        let len = u64::from(u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]));
        if len > limit as u64 {
            return Some(len);
        }
        let skip = usize::try_from(len).unwrap_or(usize::MAX).saturating_add(5);
        bytes = bytes.get(skip..).unwrap_or(&[]);
    }
    None
}

/// Reads gRPC frame headers as a body streams by, and fails the body with RESOURCE_EXHAUSTED
/// at the first frame declared longer than the limit (before its payload is read). tonic
/// turns a body error that is a `Status` into that status, on a server's request and on a
/// client's response alike.
pub struct CheckedFrames {
    inner: Body,
    limit: usize,
    what: String,
    /// Bytes of the current frame header read so far.
    header: [u8; 5],
    have: usize,
    /// Payload bytes of the current frame still to pass.
    remaining: u64,
}

impl CheckedFrames {
    /// Checks the frames of `inner` against `limit`; `what` names the message in the error.
    pub fn new(inner: Body, limit: usize, what: impl Into<String>) -> CheckedFrames {
        CheckedFrames {
            inner,
            limit,
            what: what.into(),
            header: [0; 5],
            have: 0,
            remaining: 0,
        }
    }

    /// Scans `data`; the declared length of a frame over the limit, if one starts here.
    fn scan(&mut self, mut data: &[u8]) -> Option<u64> {
        while !data.is_empty() {
            if self.remaining > 0 {
                let n = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(data.len());
                self.remaining -= n as u64;
                data = &data[n..];
                continue;
            }
            let n = (5 - self.have).min(data.len());
            self.header[self.have..self.have + n].copy_from_slice(&data[..n]);
            self.have += n;
            data = &data[n..];
            if self.have == 5 {
                self.have = 0;
                let h = self.header;
                let len = u64::from(u32::from_be_bytes([h[1], h[2], h[3], h[4]]));
                if len > self.limit as u64 {
                    return Some(len);
                }
                self.remaining = len;
            }
        }
        None
    }
}

impl HttpBody for CheckedFrames {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    if let Some(len) = self.scan(data.chunk()) {
                        return Poll::Ready(Some(Err(too_large(&self.what, len, self.limit))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The server side: requests whose messages pass the limit are refused with
/// RESOURCE_EXHAUSTED as their frame header arrives; a response tonic could not encode under
/// the limit (OUT_OF_RANGE, "encoded message length too large") is reported as
/// RESOURCE_EXHAUSTED too, so callers see one code for one cause.
#[derive(Clone, Copy)]
pub struct MessageLimitLayer {
    limit: usize,
}

impl MessageLimitLayer {
    /// Refuses messages over `limit` encoded bytes.
    pub fn new(limit: usize) -> MessageLimitLayer {
        MessageLimitLayer { limit }
    }
}

impl<S> tower::Layer<S> for MessageLimitLayer {
    type Service = MessageLimitService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MessageLimitService {
            inner,
            limit: self.limit,
        }
    }
}

/// See [`MessageLimitLayer`].
#[derive(Clone)]
pub struct MessageLimitService<S> {
    inner: S,
    limit: usize,
}

impl<S> tower::Service<http::Request<Body>> for MessageLimitService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<http::Response<Body>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let limit = self.limit;
        let what = format!("request {}", req.uri().path());
        let req = req.map(|body| Body::new(CheckedFrames::new(body, limit, what)));
        let fut = self.inner.call(req);
        Box::pin(async move {
            let mut response = fut.await?;
            // A trailers-only answer carries the status in its headers.
            rewrite(response.headers_mut(), limit);
            Ok(response.map(|body| Body::new(EncodeLimitStatus { inner: body, limit })))
        })
    }
}

/// Rewrites tonic's "encoded message length too large" (OUT_OF_RANGE) in a response's
/// trailers to RESOURCE_EXHAUSTED with the limit's name.
struct EncodeLimitStatus {
    inner: Body,
    limit: usize,
}

/// Whether `headers` carry tonic's encode-limit failure.
fn is_encode_limit(headers: &http::HeaderMap) -> bool {
    headers.get("grpc-status").map(|v| v.as_bytes()) == Some(b"11")
        && headers
            .get("grpc-message")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|m| m.contains("encoded%20message%20length%20too%20large"))
}

fn rewrite(headers: &mut http::HeaderMap, limit: usize) {
    if !is_encode_limit(headers) {
        return;
    }
    headers.insert("grpc-status", http::HeaderValue::from_static("8"));
    // grpc-message is percent-encoded; this text needs only its spaces encoded.
    let message = format!(
        "response: message is larger than the limit of {limit} bytes (TALENTMESH_GRPC_MAX_MESSAGE)"
    );
    if let Ok(v) = http::HeaderValue::from_str(&message.replace(' ', "%20")) {
        headers.insert("grpc-message", v);
    }
}

impl HttpBody for EncodeLimitStatus {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let limit = self.limit;
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.into_trailers() {
                Ok(mut trailers) => {
                    rewrite(&mut trailers, limit);
                    Poll::Ready(Some(Ok(Frame::trailers(trailers))))
                }
                Err(frame) => Poll::Ready(Some(Ok(frame))),
            },
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn frame(len: u32) -> Vec<u8> {
        let mut out = vec![0];
        out.extend_from_slice(&len.to_be_bytes());
        out.extend(std::iter::repeat_n(7u8, len as usize));
        out
    }

    #[test]
    fn frames_over_the_limit_are_found_by_their_header() {
        let mut two = frame(3);
        two.extend(frame(10));
        assert_eq!(oversized_frame(&two, 10), None);
        assert_eq!(oversized_frame(&two, 9), Some(10));
        assert_eq!(oversized_frame(&frame(11)[..5], 10), Some(11));
    }

    #[tokio::test]
    async fn a_streamed_body_fails_with_resource_exhausted_at_the_header() {
        use http_body_util::BodyExt;
        let mut bytes = frame(4);
        bytes.extend_from_slice(&frame(20)[..7]);
        // Split across chunks, header included, as the network delivers it.
        let chunks: Vec<Result<Frame<bytes::Bytes>, tonic::Status>> = bytes
            .chunks(3)
            .map(|c| Ok(Frame::data(bytes::Bytes::copy_from_slice(c))))
            .collect();
        let body = Body::new(http_body_util::StreamBody::new(futures::stream::iter(
            chunks,
        )));
        let err = CheckedFrames::new(body, 16, "request /x.Y/Z")
            .collect()
            .await
            .err()
            .unwrap();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted);
        assert!(err.message().contains("20 bytes"), "{}", err.message());
        assert!(err.message().contains("TALENTMESH_GRPC_MAX_MESSAGE"));
    }

    #[test]
    fn tonics_encode_failure_becomes_resource_exhausted() {
        let mut h = http::HeaderMap::new();
        h.insert("grpc-status", http::HeaderValue::from_static("11"));
        h.insert(
            "grpc-message",
            http::HeaderValue::from_static("Error,%20encoded%20message%20length%20too%20large"),
        );
        rewrite(&mut h, 5);
        assert_eq!(h["grpc-status"], "8");
        let mut other = http::HeaderMap::new();
        other.insert("grpc-status", http::HeaderValue::from_static("11"));
        rewrite(&mut other, 5);
        assert_eq!(other["grpc-status"], "11");
    }
}

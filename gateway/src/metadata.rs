//! Which HTTP headers travel to the upstream as gRPC metadata, and which upstream metadata comes
//! back as HTTP headers. Forwarded: `authorization` (services verify tokens themselves), the
//! request id (generated here when the client sent none, and echoed in the response so a client
//! can quote it), W3C trace context, and `x-forwarded-for` extended with the client address.
//! Upstream response metadata comes back as `grpc-metadata-<key>` headers, leaving out what
//! describes the gRPC transport itself.

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, HeaderValue};
use tonic::metadata::MetadataMap;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// The client's request id when it is a sane token, else a fresh UUID.
pub fn request_id(headers: &HeaderMap) -> HeaderValue {
    if let Some(value) = headers.get(&X_REQUEST_ID) {
        let bytes = value.as_bytes();
        if !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(|b| b.is_ascii_graphic()) {
            return value.clone();
        }
    }
    // A v4 UUID from the thread-local generator: `Uuid::new_v4` asks the OS for entropy on
    // every call, which shows up on the hot path of requests that bring no id.
    let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    let mut buf = uuid::Uuid::encode_buffer();
    let text = id.hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("unknown"))
}

/// The metadata of the upstream call.
pub fn outgoing(
    headers: &HeaderMap,
    request_id: &HeaderValue,
    client_ip: Option<&HeaderValue>,
) -> MetadataMap {
    let mut out = HeaderMap::with_capacity(6);
    for name in [AUTHORIZATION, TRACEPARENT, TRACESTATE] {
        if let Some(value) = headers.get(&name) {
            out.insert(name, value.clone());
        }
    }
    // Unique per request: marked sensitive so HPACK sends it as a never-indexed literal instead
    // of churning every request through the connection's header table.
    let mut id = request_id.clone();
    id.set_sensitive(true);
    out.insert(X_REQUEST_ID, id);
    // The client's address is appended to any proxies the request came through already.
    let forwarded = headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok());
    let value = match (forwarded, client_ip) {
        (Some(prior), Some(ip)) => {
            HeaderValue::from_str(&format!("{prior}, {}", ip.to_str().unwrap_or_default())).ok()
        }
        (None, Some(ip)) => Some(ip.clone()),
        (Some(prior), None) => HeaderValue::from_str(prior).ok(),
        (None, None) => None,
    };
    if let Some(value) = value {
        out.insert(X_FORWARDED_FOR, value);
    }
    MetadataMap::from_headers(out)
}

/// Adds the upstream's response metadata to `headers` as `grpc-metadata-<key>`.
pub fn incoming(metadata: MetadataMap, headers: &mut HeaderMap) {
    for (name, value) in metadata.into_headers().iter() {
        let key = name.as_str();
        if key.starts_with("grpc-")
            || matches!(
                key,
                "content-type"
                    | "te"
                    | "date"
                    | "server"
                    | "content-length"
                    | "trailer"
                    | "transfer-encoding"
                    | "connection"
                    | "keep-alive"
            )
        {
            continue;
        }
        if let Ok(name) = HeaderName::from_bytes(format!("grpc-metadata-{key}").as_bytes()) {
            headers.append(name, value.clone());
        }
    }
}

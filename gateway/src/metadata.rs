//! Which HTTP headers travel to the upstream as gRPC metadata, and which upstream metadata comes
//! back as HTTP headers. Forwarded: `authorization` (services verify tokens themselves), the
//! request id (generated here when the client sent none, and echoed in the response so a client
//! can quote it), W3C trace context, `x-forwarded-for`, and the client's address in
//! [`X_CLIENT_IP`].
//!
//! The client address is the direct peer's, unless that peer is one of the configured trusted
//! proxies (`TALENTMESH_GATEWAY_TRUSTED_PROXIES`): then `x-forwarded-for` is walked from the
//! right past every trusted hop, and the first address that is not one is the client (the way
//! nginx's `real_ip_recursive` reads it). From an untrusted peer the caller's `x-forwarded-for`
//! is dropped and replaced by the peer's address, so no caller can choose the address that rate
//! limits and login throttles key on. Any `x-talentmesh-client-ip` header a caller sends is
//! never forwarded: the gateway sets its own.
//! Upstream response metadata comes back as `grpc-metadata-<key>` headers, leaving out what
//! describes the gRPC transport itself.

use std::net::{IpAddr, SocketAddr};

use http::header::AUTHORIZATION;
use http::{HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;
use tonic::metadata::MetadataMap;

use crate::workers::ClientAddr;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The gRPC metadata entry carrying the client's address to the services, which believe it
/// only from peers they trust (the gateway).
pub const X_CLIENT_IP: HeaderName = HeaderName::from_static("x-talentmesh-client-ip");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// The longest `authorization` header the gateway forwards (8 KiB: an access token is well under
/// 1 KiB). A longer one is refused here with 431 ([`oversized_header`]): forwarded, it would
/// exceed the upstream's header limits and take the connection other requests share with it.
pub const MAX_AUTHORIZATION_BYTES: usize = 8 * 1024;
/// The longest `tracestate` forwarded (W3C Trace Context: at most 32 members, 512 characters
/// recommended); a longer one is dropped, as the spec lets a receiver do.
const MAX_TRACESTATE_BYTES: usize = 512;

/// The header to refuse with 431 before any upstream call, with its limit: an `authorization`
/// over [`MAX_AUTHORIZATION_BYTES`].
pub fn oversized_header(headers: &HeaderMap) -> Option<(&'static str, usize)> {
    headers
        .get(&AUTHORIZATION)
        .is_some_and(|v| v.len() > MAX_AUTHORIZATION_BYTES)
        .then_some(("authorization", MAX_AUTHORIZATION_BYTES))
}

/// Whether `value` is a W3C `traceparent`: `00-<32 hex>-<16 hex>-<2 hex>` (55 bytes; other
/// versions are at least that long and start the same way, so only the prefix is read).
fn is_traceparent(value: &HeaderValue) -> bool {
    let b = value.as_bytes();
    let hex = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_hexdigit);
    (b.len() == 55 || (b.len() > 55 && b.len() <= 256 && b[55] == b'-'))
        && b[2] == b'-'
        && b[35] == b'-'
        && b[52] == b'-'
        && hex(0..2)
        && hex(3..35)
        && hex(36..52)
        && hex(53..55)
}

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

/// The metadata of the upstream call: `client` is the connection's peer, `trusted` the
/// networks of proxies whose `x-forwarded-for` is believed.
pub fn outgoing(
    headers: &HeaderMap,
    request_id: &HeaderValue,
    client: Option<&ClientAddr>,
    trusted: &[IpNet],
) -> MetadataMap {
    let mut out = HeaderMap::with_capacity(7);
    // Sizes are bounded before anything is forwarded: the authorization header by the caller
    // (`oversized_header`), trace context here — a malformed or oversized one is dropped, and
    // the services start a trace of their own, as W3C Trace Context says a receiver should.
    if let Some(value) = headers.get(&AUTHORIZATION) {
        if value.len() <= MAX_AUTHORIZATION_BYTES {
            out.insert(AUTHORIZATION, value.clone());
        }
    }
    if let Some(value) = headers.get(&TRACEPARENT).filter(|v| is_traceparent(v)) {
        out.insert(TRACEPARENT, value.clone());
        if let Some(state) = headers
            .get(&TRACESTATE)
            .filter(|v| v.len() <= MAX_TRACESTATE_BYTES)
        {
            out.insert(TRACESTATE, state.clone());
        }
    }
    // Unique per request: marked sensitive so HPACK sends it as a never-indexed literal instead
    // of churning every request through the connection's header table.
    let mut id = request_id.clone();
    id.set_sensitive(true);
    out.insert(X_REQUEST_ID, id);
    let Some(client) = client else {
        return MetadataMap::from_headers(out);
    };
    let peer = client.addr.ip();
    let prior = if is_trusted(peer, trusted) {
        headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok())
    } else {
        None
    };
    // The chain a trusted proxy reported, with the peer appended; or the peer alone.
    let forwarded = match (prior, client.ip.as_ref()) {
        (Some(prior), Some(ip)) => {
            HeaderValue::from_str(&format!("{prior}, {}", ip.to_str().unwrap_or_default())).ok()
        }
        (None, ip) => ip.cloned(),
        (Some(_), None) => None,
    };
    if let Some(value) = forwarded {
        out.insert(X_FORWARDED_FOR, value);
    }
    let address = match prior {
        Some(chain) => real_client(chain, peer, trusted),
        None => peer,
    };
    if let Ok(value) = HeaderValue::from_str(&address.to_string()) {
        out.insert(X_CLIENT_IP, value);
    }
    MetadataMap::from_headers(out)
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    trusted.iter().any(|net| net.contains(&ip))
}

/// The client behind trusted proxy `peer`: the rightmost address of `chain` (an
/// `x-forwarded-for` value) that is not a trusted proxy. When an entry cannot be read, the last
/// trusted hop reached is the best known client; a caller cannot pick an address that way.
fn real_client(chain: &str, peer: IpAddr, trusted: &[IpNet]) -> IpAddr {
    let mut client = peer;
    for entry in chain.rsplit(',').map(str::trim) {
        let parsed = entry
            .parse::<IpAddr>()
            .ok()
            .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()));
        match parsed {
            Some(ip) => {
                client = ip;
                if !is_trusted(ip, trusted) {
                    break;
                }
            }
            None => break,
        }
    }
    client
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn oversized_or_malformed_headers_are_never_forwarded() {
        let id = HeaderValue::from_static("rid");
        let mut headers = HeaderMap::new();
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        headers.insert(TRACEPARENT, HeaderValue::from_static(good));
        headers.insert(TRACESTATE, HeaderValue::from_static("congo=t61rcWkgMzE"));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        let out = outgoing(&headers, &id, None, &[]).into_headers();
        assert_eq!(out.get(&TRACEPARENT).unwrap(), good);
        assert!(out.get(&TRACESTATE).is_some());
        assert!(out.get(&AUTHORIZATION).is_some());
        assert_eq!(oversized_header(&headers), None);

        // A 60 KB traceparent or tracestate (which would take the shared upstream connection
        // past its header limit) is dropped, and so is a traceparent of the wrong shape.
        let huge = HeaderValue::from_str(&"a".repeat(60_000)).unwrap();
        for (name, value) in [
            (TRACEPARENT, huge.clone()),
            (
                TRACEPARENT,
                HeaderValue::from_static("00-xyz-00f067aa0ba902b7-01"),
            ),
        ] {
            let mut h = headers.clone();
            h.insert(name, value);
            let out = outgoing(&h, &id, None, &[]).into_headers();
            assert!(out.get(&TRACEPARENT).is_none() && out.get(&TRACESTATE).is_none());
        }
        let mut h = headers.clone();
        h.insert(TRACESTATE, huge.clone());
        let out = outgoing(&h, &id, None, &[]).into_headers();
        assert!(out.get(&TRACEPARENT).is_some() && out.get(&TRACESTATE).is_none());

        // An oversized authorization is refused before any call, and never forwarded.
        let mut h = headers.clone();
        h.insert(AUTHORIZATION, huge);
        assert_eq!(
            oversized_header(&h),
            Some(("authorization", MAX_AUTHORIZATION_BYTES))
        );
        assert!(outgoing(&h, &id, None, &[])
            .into_headers()
            .get(&AUTHORIZATION)
            .is_none());
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let trusted = nets(&["10.0.0.0/8"]);
        let peer: IpAddr = "10.0.0.1".parse().unwrap();
        let real = |chain| real_client(chain, peer, &trusted).to_string();
        assert_eq!(real("203.0.113.9"), "203.0.113.9");
        assert_eq!(real("1.1.1.1, 203.0.113.9, 10.2.3.4"), "203.0.113.9");
        // Every hop trusted: the leftmost one is all that is known.
        assert_eq!(real("10.9.9.9, 10.2.3.4"), "10.9.9.9");
        // An unreadable entry stops the walk at the last trusted hop.
        assert_eq!(real("203.0.113.9, junk, 10.2.3.4"), "10.2.3.4");
        assert_eq!(real("[2001:db8::1]:443"), "2001:db8::1");
    }
}

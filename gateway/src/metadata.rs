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

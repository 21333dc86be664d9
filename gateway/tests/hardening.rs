//! The gateway as a public endpoint (issue 15): headers that keep responses out of caches and
//! browsers' content sniffing, a client address no caller can choose, bounded slow and idle
//! connections, JSON bodies on the errors hyper answers itself, no fallback from an unknown
//! custom verb to a resource, and routes only to the services the gateway exposes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{app, app_with, Options};
use talentmesh_gateway::GatewayConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The rig's gateway settings (exposing `testing`), to change one at a time.
fn base() -> GatewayConfig {
    Options::default().config
}

fn with_config(config: GatewayConfig) -> Options {
    Options {
        config,
        ..Options::default()
    }
}

fn addr_of(base: &str) -> String {
    base.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection or `limit` passes; what was read, and
/// whether the server closed it (EOF or reset) within the limit.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    let mut buf = [0u8; 8192];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return (out, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// The status and JSON body of a raw HTTP/1.1 response.
fn parse_response(bytes: &[u8]) -> (u16, String, serde_json::Value) {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    let status = head[9..12].parse().unwrap();
    let json = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    (status, head.to_ascii_lowercase(), json)
}

// --- finding 1: headers -------------------------------------------------------------------------

#[tokio::test]
async fn every_response_says_nosniff() {
    let app = app().await;
    for (method, path) in [
        ("GET", "/v1/shelves/s1"),
        ("GET", "/v1/nope"),
        ("GET", "/healthz"),
        ("GET", "/openapi.json"),
        // axum's own 405 for the gateway's endpoints.
        ("POST", "/healthz"),
    ] {
        let reply = app.json(method, path, "{}").await;
        assert_eq!(
            reply.header("x-content-type-options"),
            Some("nosniff"),
            "{method} {path} ({})",
            reply.status
        );
    }
}

// --- finding 2: the client address --------------------------------------------------------------

#[tokio::test]
async fn an_untrusted_peer_cannot_choose_the_client_address() {
    let app = app().await;
    let reply = app
        .send(
            app.client
                .get(app.url("/v1/shelves/s1"))
                .header("x-forwarded-for", "203.0.113.7")
                .header("x-talentmesh-client-ip", "198.51.100.1"),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("grpc-metadata-x-seen-forwarded-for"),
        Some("127.0.0.1")
    );
    assert_eq!(
        reply.header("grpc-metadata-x-seen-client-ip"),
        Some("127.0.0.1")
    );
}

#[tokio::test]
async fn a_trusted_proxy_reports_the_client_address() {
    let app = app_with(with_config(GatewayConfig {
        trusted_proxies: vec![
            "127.0.0.0/8".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ],
        ..base()
    }))
    .await;
    let reply = app
        .send(
            app.client
                .get(app.url("/v1/shelves/s1"))
                // A caller-made first entry, the real client, then another trusted proxy.
                .header("x-forwarded-for", "198.51.100.1, 203.0.113.7, 10.1.2.3")
                .header("x-talentmesh-client-ip", "198.51.100.1"),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("grpc-metadata-x-seen-forwarded-for"),
        Some("198.51.100.1, 203.0.113.7, 10.1.2.3, 127.0.0.1")
    );
    assert_eq!(
        reply.header("grpc-metadata-x-seen-client-ip"),
        Some("203.0.113.7")
    );
}

// --- finding 3: slow and idle connections -------------------------------------------------------

#[tokio::test]
async fn a_half_sent_request_head_is_closed_within_the_header_timeout() {
    let app = app_with(with_config(GatewayConfig {
        header_timeout: Duration::from_millis(300),
        ..base()
    }))
    .await;
    let mut stream = TcpStream::connect(addr_of(&app.base)).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(b"GET /v1/shelves/s1 HTTP/1.1\r\nhost: x\r\nx-slow: ")
        .await
        .unwrap();
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(closed, "a half-sent request head kept its connection open");
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_http2_preface_is_closed_when_idle() {
    let app = app_with(with_config(GatewayConfig {
        idle_timeout: Duration::from_millis(300),
        ..base()
    }))
    .await;
    let mut stream = TcpStream::connect(addr_of(&app.base)).await.unwrap();
    stream.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(
        closed,
        "a half-sent HTTP/2 preface kept its connection open"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = app_with(with_config(GatewayConfig {
        idle_timeout: Duration::from_millis(300),
        ..base()
    }))
    .await;
    let mut stream = TcpStream::connect(addr_of(&app.base)).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let (bytes, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(closed, "an idle connection stayed open");
    assert!(bytes.starts_with(b"HTTP/1.1 200"), "{bytes:?}");
}

#[tokio::test]
async fn a_stalled_body_gets_408_and_the_connection_closes() {
    let app = app_with(Options {
        body_limit: 4096,
        config: GatewayConfig {
            body_timeout: Duration::from_millis(300),
            ..base()
        },
        ..Options::default()
    })
    .await;
    let mut stream = TcpStream::connect(addr_of(&app.base)).await.unwrap();
    stream
        .write_all(
            b"POST /v1/shelves/s1/books HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
              content-length: 100\r\n\r\n{\"title\":",
        )
        .await
        .unwrap();
    let (bytes, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(closed, "a stalled body kept its connection open");
    let (status, head, json) = parse_response(&bytes);
    assert_eq!(status, 408, "{head}");
    assert_eq!(json["code"], 4, "{json}");
    assert_eq!(
        json["details"][0]["reason"], "REQUEST_BODY_TIMEOUT",
        "{json}"
    );
}

#[tokio::test]
async fn connections_past_the_limit_are_closed_at_once() {
    let app = app_with(with_config(GatewayConfig {
        max_connections: 2,
        ..base()
    }))
    .await;
    let addr = addr_of(&app.base);
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(&addr).await.unwrap();
        // A full exchange, so the connection is surely accepted and counted.
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 12];
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HTTP/1.1 200");
        held.push(stream);
    }
    let mut third = TcpStream::connect(&addr).await.unwrap();
    let _ = third
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await;
    let (bytes, closed) = read_until_closed(&mut third, Duration::from_secs(5)).await;
    assert!(closed && bytes.is_empty(), "a third connection was served");

    // One closed, a new one is served again (once the gateway has seen the close).
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut served = false;
    while !served && Instant::now() < deadline {
        let mut again = TcpStream::connect(&addr).await.unwrap();
        let _ = again
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await;
        let mut buf = [0u8; 12];
        served = matches!(
            tokio::time::timeout(Duration::from_secs(1), again.read_exact(&mut buf)).await,
            Ok(Ok(_))
        ) && &buf == b"HTTP/1.1 200";
        if !served {
            // The pause between probes of a bounded poll (the deadline above ends it).
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(served, "no connection was served after one was given back");
}

// --- finding 4: hyper's own errors and custom verbs ---------------------------------------------

#[tokio::test]
async fn a_request_line_past_64_kib_gets_a_json_414() {
    let app = app().await;
    let mut stream = TcpStream::connect(addr_of(&app.base)).await.unwrap();
    let path = format!("/v1/shelves/{}", "a".repeat(100 * 1024));
    let request = format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let (bytes, _) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    let (status, head, json) = parse_response(&bytes);
    assert_eq!(status, 414, "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    assert_eq!(json["code"], 8, "{json}");
    assert_eq!(json["details"][0]["reason"], "URI_TOO_LONG", "{json}");
}

#[tokio::test]
async fn an_unknown_custom_verb_is_404_not_a_resource() {
    let app = app().await;
    let reply = app.get("/v1/shelves/s1:noSuchVerb").await;
    assert_eq!(reply.status, 404, "{}", reply.json);
    assert_eq!(reply.json["code"], 5);
    // The known verb still works, and an escaped colon is part of an id.
    let archived = app
        .json("POST", "/v1/shelves/s1/books/b1:archive", "{}")
        .await;
    assert_eq!(archived.status, 200, "{}", archived.json);
    let escaped = app.get("/v1/shelves/s1%3Anot-a-verb").await;
    assert_eq!(escaped.status, 200, "{}", escaped.json);
    assert_eq!(escaped.json["name"], "shelves/s1:not-a-verb");
}

// --- finding 5: exposed services only -----------------------------------------------------------

#[tokio::test]
async fn a_service_the_gateway_does_not_expose_gets_no_route() {
    // The backend serves talentmesh.testing.v1 with reflection and is reachable as upstream
    // `testing`; the gateway exposes another service only.
    let app = app_with(with_config(GatewayConfig {
        services: vec!["identity".to_string()],
        ..base()
    }))
    .await;
    assert!(app.gateway.routes().routes().is_empty());
    let refreshed = app.gateway.refresh_from_reflection("testing").await;
    assert!(
        matches!(refreshed, Err(talentmesh_gateway::Error::NotExposed(_))),
        "{refreshed:?}"
    );
    let reply = app.get("/v1/shelves/s1").await;
    assert_eq!(reply.status, 404, "{}", reply.json);
    assert_eq!(reply.called(), "");
}

#[tokio::test]
async fn a_service_may_not_redefine_another_services_contract() {
    // `testing`'s reflection also describes google/api/http.proto, which the gateway has: that
    // file is not taken from it, while its own file is.
    let app = app().await;
    let report = app
        .gateway
        .refresh_from_reflection("testing")
        .await
        .unwrap();
    assert!(
        report.files.iter().any(|f| f == common::ROUTING_PROTO),
        "{:?}",
        report.files
    );
    assert!(
        !report.files.iter().any(|f| f.starts_with("google/")),
        "{:?}",
        report.files
    );
}

#[tokio::test]
async fn an_oversized_authorization_is_431_and_never_reaches_the_upstream() {
    let app = app().await;
    let huge = format!("Bearer {}", "a".repeat(20_000));
    let reply = app
        .send(
            app.client
                .get(app.url("/v1/shelves/s1"))
                .header("authorization", huge),
        )
        .await;
    assert_eq!(reply.status, 431, "{}", reply.json);
    assert!(
        reply.json.to_string().contains("HEADER_TOO_LARGE"),
        "{}",
        reply.json
    );
    // A huge trace context is dropped, not forwarded: the call still succeeds, and the next
    // request on the same upstream connection too.
    let reply = app
        .send(
            app.client
                .get(app.url("/v1/shelves/s1"))
                .header("traceparent", "0".repeat(60_000)),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(app.get("/v1/shelves/s1").await.status, 200);
}

#[tokio::test]
async fn answers_to_requests_with_credentials_are_never_stored() {
    let app = app().await;
    let anonymous = app.get("/v1/shelves/s1").await;
    assert_eq!(anonymous.status, 200);
    assert_eq!(anonymous.header("cache-control"), None);
    let reply = app
        .send(
            app.client
                .get(app.url("/v1/shelves/s1"))
                .header("authorization", "Bearer t"),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn a_query_parameter_that_is_not_utf8_is_400_naming_it() {
    let app = app().await;
    let reply = app.get("/v1/shelves/s1?label=%FF%FE").await;
    assert_eq!(reply.status, 400, "{}", reply.json);
    assert!(
        reply.json.to_string().contains("\"label\""),
        "{}",
        reply.json
    );
}

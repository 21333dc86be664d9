//! The gateway and the gRPC servers as public endpoints, on the real mesh (issue 15): token
//! responses kept out of caches, a gRPC port that closes connections which never finish their
//! HTTP/2 handshake, and the gateway's list of public methods matching the services' own.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::json;
use talentmesh_e2e::Mesh;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSWORD: &str = "correct horse 42";

/// Identity's environment for these tests. The signing-key encryption key is set here too, in
/// case the harness does not set it yet (identity refuses to start without one).
fn identity_env(env: talentmesh_testkit::TestEnv) -> talentmesh_testkit::TestEnv {
    env.set(
        "TALENTMESH_IDENTITY_KEY_ENCRYPTION_KEY",
        "dGFsZW50bWVzaC1nYXRld2F5LWhhcmRlbmluZy10ZXM=",
    )
}

#[tokio::test]
async fn token_responses_are_never_stored() {
    let mesh = Mesh::start_with(identity_env).await;
    let (status, body) = mesh
        .post(
            "/v1/users:register",
            json!({"email": "nostore@example.com", "password": PASSWORD, "role": "ROLE_CANDIDATE"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let http = reqwest::Client::new();
    let login = http
        .post(mesh.url("/v1/sessions:login"))
        .json(&json!({"email": "nostore@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 200);
    let header = |r: &reqwest::Response, name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(header(&login, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(header(&login, "pragma").as_deref(), Some("no-cache"));
    assert_eq!(
        header(&login, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
    let tokens: serde_json::Value = login.json().await.unwrap();
    let refresh = tokens["tokens"]["refreshToken"].as_str().unwrap();

    let renewed = http
        .post(mesh.url("/v1/sessions:refresh"))
        .json(&json!({ "refreshToken": refresh }))
        .send()
        .await
        .unwrap();
    assert_eq!(renewed.status().as_u16(), 200);
    assert_eq!(
        header(&renewed, "cache-control").as_deref(),
        Some("no-store")
    );

    // A response without a credential may be cached as usual.
    let keys = http
        .get(mesh.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(keys.status().as_u16(), 200);
    assert_eq!(header(&keys, "cache-control"), None);
    assert_eq!(
        header(&keys, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
    mesh.stop().await;
}

#[tokio::test]
async fn a_half_open_grpc_connection_is_closed_within_the_handshake_timeout() {
    let mesh =
        Mesh::start_with(|env| identity_env(env).set("TALENTMESH_GRPC_HANDSHAKE_TIMEOUT", "300ms"))
            .await;
    let (_, identity) = mesh
        .services()
        .into_iter()
        .find(|(name, _)| *name == "identity")
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(identity.addr).await.unwrap();
    let started = Instant::now();
    if identity.tls {
        // A mesh-TLS port: the first 5 bytes of a TLS record header (a handshake record of
        // 512 bytes), then nothing: the TLS handshake never completes.
        stream
            .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00])
            .await
            .unwrap();
    } else {
        // Half of the HTTP/2 connection preface, then nothing.
        stream.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
    }
    let mut buf = [0u8; 1024];
    let closed = loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Err(_) => break false,
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            // The server's SETTINGS frame may come first; keep reading.
            Ok(Ok(_)) => continue,
        }
    };
    assert!(closed, "a half-open gRPC connection stayed open");
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(started.elapsed() < Duration::from_secs(5));

    // A real client is unaffected.
    let (status, _) = mesh.get("/.well-known/jwks.json", None).await;
    assert_eq!(status, 200);
    mesh.stop().await;
}

#[test]
fn the_gateways_public_methods_are_the_services_own() {
    let gateway: BTreeSet<&str> = talentmesh_gateway::openapi::PUBLIC_METHODS
        .iter()
        .copied()
        .collect();
    let services: BTreeSet<&str> = talentmesh_identity::grpc::PUBLIC_METHODS
        .iter()
        .chain(talentmesh_company::grpc::PUBLIC_METHODS.iter())
        .chain(talentmesh_job::grpc::PUBLIC_METHODS.iter())
        .copied()
        .collect();
    assert_eq!(gateway, services);
}

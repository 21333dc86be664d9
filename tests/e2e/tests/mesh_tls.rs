//! Connect-native mutual TLS through the whole mesh (issue 15, service identity): even when a
//! rogue instance does get listed under a service's name (as if ACLs had been got round), the
//! sync control plane and the gateway only speak to it over TLS, find that its certificate names
//! another service, and never send it a request, so an admin's bearer token never reaches it.
//!
//! This file runs its mesh with `TALENTMESH_MESH_TLS=connect` whatever the environment says; it
//! needs the agent `dev/servers.sh` starts (ACLs and Connect on) and its management token.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use talentmesh_e2e::Mesh;
use talentmesh_mesh::connect::ConnectIdentity;
use talentmesh_sync::fleet::SYNC_ADMIN_TAG;
use talentmesh_testkit::{consul, consul_addr, consul_token, eventually};

const ADMIN_EMAIL: &str = "root@example.com";
const PASSWORD: &str = "correct horse 42";

/// What reached the rogue instance.
#[derive(Default)]
struct Seen {
    /// Connections that spoke plaintext HTTP/2 (a request, headers and all, would follow).
    plaintext: AtomicUsize,
    /// TLS handshakes the caller completed, i.e. accepted the rogue's certificate.
    handshakes: AtomicUsize,
    /// Connections attempted at all.
    connections: AtomicUsize,
}

/// A TLS server with a valid Connect leaf of `name`, counting what reaches it.
async fn rogue(name: &str) -> (u16, Arc<Seen>) {
    let identity = ConnectIdentity::start(consul(), name);
    assert!(identity.wait_ready(Duration::from_secs(10)).await);
    let acceptor = tokio_rustls::TlsAcceptor::from(identity.server_config().unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Seen::default());
    let counts = seen.clone();
    tokio::spawn(async move {
        let _identity = identity;
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, counts) = (acceptor.clone(), counts.clone());
            tokio::spawn(async move {
                counts.connections.fetch_add(1, Ordering::SeqCst);
                let mut first = [0u8; 14];
                if tcp.peek(&mut first).await.is_ok() && &first == b"PRI * HTTP/2.0" {
                    counts.plaintext.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                if acceptor.accept(tcp).await.is_ok() {
                    counts.handshakes.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    (port, seen)
}

#[tokio::test]
async fn an_admins_token_never_reaches_an_instance_that_is_not_the_service_it_claims() {
    // This file's only test, so no other thread reads the environment meanwhile: the mesh of
    // this process runs with Connect mutual TLS.
    std::env::set_var("TALENTMESH_MESH_TLS", "connect");
    let mesh = Mesh::start_with_sync(|env| {
        env.set("TALENTMESH_IDENTITY_ADMIN_EMAIL", ADMIN_EMAIL)
            .set("TALENTMESH_IDENTITY_ADMIN_PASSWORD", PASSWORD)
    })
    .await;
    let identity_name = format!("identity-e2e-{}", mesh.env.id);
    let rogue_name = format!("rogue-e2e-{}", mesh.env.id);
    let (port, seen) = rogue(&rogue_name).await;
    let rogue_id = format!("{identity_name}-rogue");
    // Listed under identity's name with the sync-admin tag and a passing TTL check: what ACLs
    // prevent (see consul_acl.rs), done here with the management token.
    let resp = reqwest::Client::new()
        .put(format!("{}/v1/agent/service/register", consul_addr()))
        .header("X-Consul-Token", consul_token().expose())
        .json(&serde_json::json!({
            "Name": identity_name,
            "ID": rogue_id,
            "Address": "127.0.0.1",
            "Port": port,
            "Tags": [SYNC_ADMIN_TAG],
            "Check": {"TTL": "10m", "Status": "passing"},
        }))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let listed = eventually(Duration::from_secs(10), || async {
        consul()
            .passing_instances(&identity_name, 0, Duration::from_secs(1))
            .await
            .is_ok_and(|r| r.value.len() == 2)
    })
    .await;

    // The admin opens the sync overview (the control plane asks every sync-admin instance with
    // the admin's token), and calls through the gateway carry the token to identity.
    let admin = mesh.login(ADMIN_EMAIL, PASSWORD, None).await.token;
    let (status, body) = mesh.get("/v1/sync/overview", Some(&admin)).await;
    for _ in 0..6 {
        let _ = mesh.get("/v1/users/me", Some(&admin)).await;
    }
    let _ = consul().deregister(&rogue_id).await;

    assert!(listed, "the rogue instance was never listed");
    assert!(
        seen.connections.load(Ordering::SeqCst) > 0,
        "nothing tried the rogue instance, so the test shows nothing"
    );
    assert_eq!(
        seen.plaintext.load(Ordering::SeqCst),
        0,
        "a caller spoke plaintext to the rogue"
    );
    assert_eq!(
        seen.handshakes.load(Ordering::SeqCst),
        0,
        "a caller accepted a certificate of another service"
    );
    assert_eq!(status, 200, "{body}");
    let identity = body["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "services/identity")
        .unwrap_or_else(|| panic!("identity is not in the overview: {body}"));
    let failed = identity["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["error"] != "")
        .count();
    assert_eq!(failed, 1, "the rogue is reported as failing: {identity}");
    mesh.stop().await;
}

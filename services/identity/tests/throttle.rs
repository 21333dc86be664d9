//! Failed logins slow down the (account, client address) pair that failed, never the account
//! everywhere: nobody can lock someone else out, the admin included (issue 15). The client
//! address is the connection's peer; `x-talentmesh-client-ip` counts only from a configured
//! trusted proxy (the gateway).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{login, register, start};
use talentmesh_mesh::error::rpc_status_of;
use talentmesh_proto::identity::v1 as pb;
use talentmesh_proto::identity::v1::identity_service_client::IdentityServiceClient;
use talentmesh_testkit::TestEnv;
use tonic::transport::Channel;
use tonic::Code;

const PASSWORD: &str = "correct horse 42";

/// A login as the gateway forwards it for a client at `ip`.
async fn login_from(
    client: &mut IdentityServiceClient<Channel>,
    ip: &str,
    email: &str,
    password: &str,
) -> Result<pb::LoginResponse, tonic::Status> {
    let mut req = tonic::Request::new(pb::LoginRequest {
        email: email.into(),
        password: password.into(),
    });
    req.metadata_mut()
        .insert("x-talentmesh-client-ip", ip.parse().unwrap());
    client.login(req).await.map(|r| r.into_inner())
}

fn has_retry_info(status: &tonic::Status) -> bool {
    rpc_status_of(status)
        .details
        .iter()
        .any(|d| d.type_url.ends_with("google.rpc.RetryInfo"))
}

/// The test client connects from loopback, so loopback is the trusted proxy here.
fn behind_a_trusted_proxy() -> TestEnv {
    TestEnv::new("identity")
        .set("TALENTMESH_IDENTITY_THROTTLE_PER_ACCOUNT", "3")
        .set(
            "TALENTMESH_IDENTITY_TRUSTED_PROXIES",
            "127.0.0.0/8, ::1/128",
        )
}

#[tokio::test]
async fn failures_from_one_address_do_not_block_the_right_password_from_another() {
    let app = start(behind_a_trusted_proxy()).await;
    let mut client = app.client().await;
    register(&mut client, "admin-like@example.com", PASSWORD).await;
    for _ in 0..10 {
        let err = login_from(
            &mut client,
            "203.0.113.7",
            "admin-like@example.com",
            "wrong 1",
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err.code(), Code::Unauthenticated | Code::ResourceExhausted),
            "{err:?}"
        );
    }
    let ok = login_from(
        &mut client,
        "198.51.100.9",
        "admin-like@example.com",
        PASSWORD,
    )
    .await
    .expect("the owner logs in from their own address");
    assert!(ok.tokens.is_some());
    app.stop().await;
}

#[tokio::test]
async fn failures_from_one_address_slow_that_address_down() {
    let app = start(behind_a_trusted_proxy()).await;
    let mut client = app.client().await;
    register(&mut client, "lee@example.com", PASSWORD).await;
    for _ in 0..3 {
        let err = login_from(
            &mut client,
            "203.0.113.7",
            "lee@example.com",
            "wrong password 1",
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }
    // The failing address is slowed down, the right password included (else the one attempt
    // let through would confirm a guess).
    let err = login_from(&mut client, "203.0.113.7", "lee@example.com", PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(has_retry_info(&err), "{err:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_client_ip_header_from_an_untrusted_peer_is_ignored() {
    // No trusted proxies: the header is the caller's word and does not move the failures to
    // another address.
    let env = TestEnv::new("identity").set("TALENTMESH_IDENTITY_THROTTLE_PER_ACCOUNT", "3");
    let app = start(env).await;
    let mut client = app.client().await;
    register(&mut client, "max@example.com", PASSWORD).await;
    for i in 0..3 {
        let ip = format!("203.0.113.{i}");
        let err = login_from(&mut client, &ip, "max@example.com", "wrong password 1")
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }
    let err = login_from(&mut client, "198.51.100.9", "max@example.com", PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Code::ResourceExhausted,
        "the failures all came from this peer, whatever the header said"
    );
    // Another account from the same peer is not slowed down by max's failures.
    register(&mut client, "nia@example.com", PASSWORD).await;
    login(&mut client, "nia@example.com", PASSWORD).await;
    app.stop().await;
}

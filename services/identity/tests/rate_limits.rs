//! Registration and login are rate limited per client address and per account, in Redis, for
//! every instance (issue 15): the call over the budget gets RESOURCE_EXHAUSTED with
//! `ErrorInfo.reason = RATE_LIMITED` and a `RetryInfo` delay, and another address keeps its own
//! budget.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{register, start, RATE_VARS};
use prost::Message;
use talentmesh_mesh::error::rpc_status_of;
use talentmesh_proto::google::rpc;
use talentmesh_proto::identity::v1 as pb;
use talentmesh_testkit::TestEnv;
use tonic::Code;

const PASSWORD: &str = "correct horse 42";

/// Identity behind a trusted proxy (loopback, where the test client connects from), so each
/// request names its client address, with budgets of two per hour and per minute.
fn limited() -> TestEnv {
    let mut env = TestEnv::new("identity").set(
        "TALENTMESH_IDENTITY_TRUSTED_PROXIES",
        "127.0.0.0/8, ::1/128",
    );
    for var in RATE_VARS {
        let rate = if var.contains("REGISTER") {
            "2/h"
        } else {
            "2/min"
        };
        env = env.set(var, rate);
    }
    env
}

fn from<T>(msg: T, ip: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut()
        .insert("x-talentmesh-client-ip", ip.parse().unwrap());
    req
}

fn registration(email: &str, ip: &str) -> tonic::Request<pb::RegisterRequest> {
    from(
        pb::RegisterRequest {
            email: email.into(),
            password: PASSWORD.into(),
            role: pb::Role::Candidate as i32,
        },
        ip,
    )
}

/// The `RATE_LIMITED` reason and the retry delay of a refusal.
fn rate_limited(status: &tonic::Status) -> Duration {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let details = rpc_status_of(status).details;
    let info = details
        .iter()
        .find(|d| d.type_url.ends_with("google.rpc.ErrorInfo"))
        .map(|d| rpc::ErrorInfo::decode(d.value.as_slice()).unwrap())
        .expect("ErrorInfo");
    assert_eq!(info.reason, "RATE_LIMITED", "{info:?}");
    let delay = details
        .iter()
        .find(|d| d.type_url.ends_with("google.rpc.RetryInfo"))
        .map(|d| rpc::RetryInfo::decode(d.value.as_slice()).unwrap())
        .and_then(|r| r.retry_delay)
        .expect("RetryInfo.retry_delay");
    Duration::new(delay.seconds as u64, delay.nanos as u32)
}

#[tokio::test]
async fn the_third_registration_from_one_address_in_an_hour_is_rate_limited() {
    let app = start(limited()).await;
    let mut client = app.client().await;
    for i in 0..2 {
        client
            .register(registration(&format!("r{i}@example.com"), "203.0.113.7"))
            .await
            .expect("within the budget");
    }
    let err = client
        .register(registration("r2@example.com", "203.0.113.7"))
        .await
        .unwrap_err();
    let delay = rate_limited(&err);
    // Two per hour refill one every 30 minutes.
    assert!(
        delay <= Duration::from_secs(1800) && delay > Duration::from_secs(1790),
        "{delay:?}"
    );
    assert_eq!(
        app.user_count().await,
        2,
        "the refused call created nothing"
    );
    client
        .register(registration("r2@example.com", "198.51.100.9"))
        .await
        .expect("another address is not affected");
}

#[tokio::test]
async fn the_third_login_to_an_account_from_one_address_in_a_minute_is_rate_limited() {
    let app = start(limited()).await;
    let mut client = app.client().await;
    register(&mut client, "lin@example.com", PASSWORD).await;
    let login = |ip: &str| {
        from(
            pb::LoginRequest {
                email: "lin@example.com".into(),
                password: PASSWORD.into(),
            },
            ip,
        )
    };
    for _ in 0..2 {
        client
            .login(login("203.0.113.7"))
            .await
            .expect("within the budget");
    }
    let err = client.login(login("203.0.113.7")).await.unwrap_err();
    let delay = rate_limited(&err);
    assert!(
        delay <= Duration::from_secs(30) && delay > Duration::from_secs(20),
        "{delay:?}"
    );
    client
        .login(login("198.51.100.9"))
        .await
        .expect("the owner logs in from another address");
}

//! A refresh retried because its answer was lost: within the retry window the same token gets
//! the same new pair and the session goes on; after the window, or once the new refresh token
//! was used, sending it again is reuse and revokes the session. Against the real MySQL and
//! Redis.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{login, register, start, with_bearer, Running};
use talentmesh_mesh::error::rpc_status_of;
use talentmesh_proto::identity::v1 as pb;
use talentmesh_proto::identity::v1::identity_service_client::IdentityServiceClient;
use talentmesh_testkit::TestEnv;
use tonic::transport::Channel;
use tonic::Code;

const PASSWORD: &str = "correct horse 42";
const WINDOW: &str = "TALENTMESH_IDENTITY_REFRESH_RETRY_WINDOW";

async fn refresh(
    client: &mut IdentityServiceClient<Channel>,
    token: &str,
) -> Result<pb::TokenPair, tonic::Status> {
    client
        .refresh(pb::RefreshRequest {
            refresh_token: token.to_string(),
        })
        .await
        .map(|r| r.into_inner().tokens.unwrap())
}

fn reason(status: &tonic::Status) -> Option<String> {
    use prost::Message;
    rpc_status_of(status)
        .details
        .iter()
        .find(|d| d.type_url.ends_with("google.rpc.ErrorInfo"))
        .and_then(|d| talentmesh_proto::google::rpc::ErrorInfo::decode(d.value.as_slice()).ok())
        .map(|i| i.reason)
}

/// Identity with retry window `window`, a client, and a fresh login of a new account.
async fn logged_in(window: &str) -> (Running, IdentityServiceClient<Channel>, pb::TokenPair) {
    let app = start(TestEnv::new("identity").set(WINDOW, window)).await;
    let mut client = app.client().await;
    register(&mut client, "retry@example.com", PASSWORD).await;
    let tokens = login(&mut client, "retry@example.com", PASSWORD).await;
    (app, client, tokens)
}

#[tokio::test]
async fn a_retry_within_the_window_gets_the_same_tokens_and_the_session_goes_on() {
    let (app, mut client, first) = logged_in("30s").await;
    let answer = refresh(&mut client, &first.refresh_token).await.unwrap();
    // The client lost that answer and sends the same token again: the very same pair.
    let again = refresh(&mut client, &first.refresh_token).await.unwrap();
    assert_eq!(again, answer);

    // The session goes on with it.
    client
        .get_current_user(with_bearer(
            pb::GetCurrentUserRequest {},
            &again.access_token,
        ))
        .await
        .unwrap();
    let next = refresh(&mut client, &again.refresh_token).await.unwrap();
    assert_ne!(next.refresh_token, again.refresh_token);
    refresh(&mut client, &next.refresh_token).await.unwrap();

    // The kept answer is sealed: neither token appears in any Redis key or value.
    let mut redis = app.env.redis().await;
    for key in app.env.redis_keys("*").await {
        let value: Option<String> = redis::cmd("GET")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .unwrap_or(None);
        let text = format!("{key} {}", value.unwrap_or_default());
        assert!(!text.contains(&answer.refresh_token), "{key}");
        assert!(!text.contains(&answer.access_token), "{key}");
    }
    app.stop().await;
}

#[tokio::test]
async fn reuse_after_the_window_revokes_the_family() {
    let (app, mut client, first) = logged_in("1s").await;
    let answer = refresh(&mut client, &first.refresh_token).await.unwrap();
    // A quiet period on purpose: the behaviour under test is what happens once the 1 s retry
    // window has passed, and no event marks its end to poll for (asking early would be a
    // retry inside the window and change the outcome).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let err = refresh(&mut client, &first.refresh_token)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(reason(&err).as_deref(), Some("REFRESH_TOKEN_REUSED"));
    let err = refresh(&mut client, &answer.refresh_token)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "the family is revoked");
    app.stop().await;
}

#[tokio::test]
async fn a_retry_after_the_new_token_was_used_is_reuse() {
    let (app, mut client, first) = logged_in("30s").await;
    let answer = refresh(&mut client, &first.refresh_token).await.unwrap();
    // The client did get the answer (it used it): the old token again is a replay.
    let next = refresh(&mut client, &answer.refresh_token).await.unwrap();
    let err = refresh(&mut client, &first.refresh_token)
        .await
        .unwrap_err();
    assert_eq!(reason(&err).as_deref(), Some("REFRESH_TOKEN_REUSED"));
    let err = refresh(&mut client, &next.refresh_token).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "the family is revoked");
    app.stop().await;
}

#[test]
fn the_window_is_bounded() {
    let env = TestEnv::new("identity").set(WINDOW, "10m");
    let err = talentmesh_identity::Config::load(env.env()).unwrap_err();
    assert!(err.to_string().contains(WINDOW), "{err}");
}

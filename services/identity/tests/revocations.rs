//! Sessions ended before their access tokens expire (logout, refresh-token reuse) are listed by
//! ListRevokedSessions for the mesh's verifiers, and identity's own verifier refuses their
//! tokens. Against the real MySQL and Redis.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{login, register, start, with_bearer};
use prost::Message;
use talentmesh_mesh::error::{field_violations_of, rpc_status_of};
use talentmesh_proto::identity::v1 as pb;
use talentmesh_testkit::{eventually_value, TestEnv};
use tonic::transport::Channel;
use tonic::Code;

type Client = pb::identity_service_client::IdentityServiceClient<Channel>;

const PASSWORD: &str = "correct horse 42";

/// The `sid` claim of an access token (read without verifying: the test only needs the id).
fn sid(access_token: &str) -> String {
    let payload = access_token.split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    claims["sid"]
        .as_str()
        .expect("tokens carry sid")
        .to_string()
}

fn reason(status: &tonic::Status) -> Option<String> {
    rpc_status_of(status)
        .details
        .iter()
        .find(|d| d.type_url.ends_with("google.rpc.ErrorInfo"))
        .and_then(|d| talentmesh_proto::google::rpc::ErrorInfo::decode(d.value.as_slice()).ok())
        .map(|i| i.reason)
}

async fn list(
    client: &mut Client,
    page_size: i32,
    page_token: &str,
) -> pb::ListRevokedSessionsResponse {
    client
        .list_revoked_sessions(pb::ListRevokedSessionsRequest {
            page_size,
            page_token: page_token.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

fn ids(page: &pb::ListRevokedSessionsResponse) -> Vec<String> {
    page.revoked_sessions
        .iter()
        .map(|s| s.session_id.clone())
        .collect()
}

async fn logout(client: &mut Client, refresh_token: &str) {
    client
        .logout(pb::LogoutRequest {
            refresh_token: refresh_token.into(),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn logout_lists_the_session_until_its_tokens_expire_and_identity_refuses_them() {
    let app = start(TestEnv::new("identity")).await;
    let mut client = app.client().await;
    register(&mut client, "lena@example.com", PASSWORD).await;
    let ended = login(&mut client, "lena@example.com", PASSWORD).await;
    let kept = login(&mut client, "lena@example.com", PASSWORD).await;
    assert_ne!(
        sid(&ended.access_token),
        sid(&kept.access_token),
        "one sid per login"
    );
    client
        .get_current_user(with_bearer(
            pb::GetCurrentUserRequest {},
            &ended.access_token,
        ))
        .await
        .expect("the token works before the logout");

    let before = chrono::Utc::now().timestamp();
    logout(&mut client, &ended.refresh_token).await;
    let page = list(&mut client, 0, "").await;
    assert_eq!(
        ids(&page),
        vec![sid(&ended.access_token)],
        "only the ended session"
    );
    // Listed until the session's last access token has expired (15 minutes by default).
    let until = page.revoked_sessions[0].expire_time.unwrap().seconds;
    assert!(until >= before + 900, "expires {until}, logout at {before}");
    assert!(!page.next_page_token.is_empty());

    // Identity's own verifier picks the revocation up within its poll interval.
    let refused = eventually_value(Duration::from_secs(10), || {
        let mut client = client.clone();
        let token = ended.access_token.clone();
        async move {
            client
                .get_current_user(with_bearer(pb::GetCurrentUserRequest {}, &token))
                .await
                .err()
        }
    })
    .await
    .expect("the logged-out session's token still worked after 10 s");
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert_eq!(reason(&refused).as_deref(), Some("SESSION_REVOKED"));
    client
        .get_current_user(with_bearer(
            pb::GetCurrentUserRequest {},
            &kept.access_token,
        ))
        .await
        .expect("another session of the same user still works");
    app.stop().await;
}

#[tokio::test]
async fn refresh_token_reuse_lists_the_family() {
    let app =
        start(TestEnv::new("identity").set("TALENTMESH_IDENTITY_REFRESH_RETRY_WINDOW", "0s")).await;
    let mut client = app.client().await;
    register(&mut client, "max@example.com", PASSWORD).await;
    let first = login(&mut client, "max@example.com", PASSWORD).await;
    let spend = pb::RefreshRequest {
        refresh_token: first.refresh_token.clone(),
    };
    client.refresh(spend.clone()).await.unwrap();
    assert!(
        ids(&list(&mut client, 0, "").await).is_empty(),
        "a refresh revokes nothing"
    );
    let err = client.refresh(spend).await.unwrap_err();
    assert_eq!(reason(&err).as_deref(), Some("REFRESH_TOKEN_REUSED"));
    assert_eq!(
        ids(&list(&mut client, 0, "").await),
        vec![sid(&first.access_token)]
    );
    app.stop().await;
}

#[tokio::test]
async fn the_feed_pages_from_its_cursor_and_refuses_a_malformed_page_token() {
    let app = start(TestEnv::new("identity")).await;
    let mut client = app.client().await;
    register(&mut client, "noa@example.com", PASSWORD).await;
    let mut sids = Vec::new();
    for _ in 0..3 {
        let tokens = login(&mut client, "noa@example.com", PASSWORD).await;
        logout(&mut client, &tokens.refresh_token).await;
        sids.push(sid(&tokens.access_token));
    }
    // Pages of one, in the order recorded, each continuing from the last.
    let mut cursor = String::new();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let page = list(&mut client, 1, &cursor).await;
        assert_eq!(page.revoked_sessions.len(), 1);
        seen.extend(ids(&page));
        cursor = page.next_page_token;
    }
    assert_eq!(seen, sids);
    let idle = list(&mut client, 1, &cursor).await;
    assert!(idle.revoked_sessions.is_empty());
    assert_eq!(idle.next_page_token, cursor, "nothing new: the same cursor");
    // A later logout shows up after the cursor, alone.
    let later = login(&mut client, "noa@example.com", PASSWORD).await;
    logout(&mut client, &later.refresh_token).await;
    assert_eq!(
        ids(&list(&mut client, 0, &cursor).await),
        vec![sid(&later.access_token)]
    );

    let err = client
        .list_revoked_sessions(pb::ListRevokedSessionsRequest {
            page_size: 0,
            page_token: "not-a-cursor".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let fields: Vec<String> = field_violations_of(&err)
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, vec!["page_token".to_string()]);
    app.stop().await;
}

//! Who gets an account and which: the bootstrap admin is created, never taken over from an
//! existing account unless the operator says so; look-alike emails (Cyrillic letters in a Latin
//! address) are refused instead of becoming a second account (issue 15).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{register, start, Running};
use talentmesh_mesh::error::field_violations_of;
use talentmesh_proto::identity::v1 as pb;
use talentmesh_testkit::TestEnv;
use tonic::Code;

const PASSWORD: &str = "correct horse 42";
const ADMIN_PASSWORD: &str = "bootstrap secret 9";

async fn roles_after_login(app: &Running, email: &str, password: &str) -> Vec<i32> {
    app.client()
        .await
        .login(pb::LoginRequest {
            email: email.into(),
            password: password.into(),
        })
        .await
        .expect("login")
        .into_inner()
        .user
        .unwrap()
        .roles
}

/// Registers `email` as a candidate, stops, and starts again with `email` as the bootstrap
/// admin (and `extra` variables).
async fn restart_with_admin(email: &str, extra: &[(&str, &str)]) -> Running {
    let app = start(TestEnv::new("identity")).await;
    register(&mut app.client().await, email, PASSWORD).await;
    let Running { service, env } = app;
    service.stop().await;
    let mut env = env
        .set("TALENTMESH_IDENTITY_ADMIN_EMAIL", email)
        .set("TALENTMESH_IDENTITY_ADMIN_PASSWORD", ADMIN_PASSWORD);
    for (k, v) in extra {
        env = env.set(k, *v);
    }
    start(env).await
}

#[tokio::test]
async fn the_bootstrap_admin_does_not_take_over_an_existing_account() {
    let app = restart_with_admin("owner@example.com", &[]).await;
    assert_eq!(
        roles_after_login(&app, "owner@example.com", PASSWORD).await,
        vec![pb::Role::Candidate as i32],
        "the existing account keeps its role"
    );
    let err = app
        .client()
        .await
        .login(pb::LoginRequest {
            email: "owner@example.com".into(),
            password: ADMIN_PASSWORD.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "and its own password");
    assert_eq!(app.user_count().await, 1);
    app.stop().await;
}

#[tokio::test]
async fn the_bootstrap_admin_promotes_an_existing_account_only_when_told() {
    let app = restart_with_admin(
        "owner@example.com",
        &[("TALENTMESH_IDENTITY_ADMIN_PROMOTE_EXISTING", "true")],
    )
    .await;
    let roles = roles_after_login(&app, "owner@example.com", PASSWORD).await;
    assert!(roles.contains(&(pb::Role::Admin as i32)), "{roles:?}");
    app.stop().await;
}

async fn refused_email(app: &Running, email: &str) -> tonic::Status {
    let err = app
        .client()
        .await
        .register(pb::RegisterRequest {
            email: email.into(),
            password: PASSWORD.into(),
            role: pb::Role::Candidate as i32,
        })
        .await
        .expect_err(email);
    assert_eq!(err.code(), Code::InvalidArgument, "{email}: {err:?}");
    let fields: Vec<String> = field_violations_of(&err)
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, vec!["email".to_string()], "{email}");
    err
}

#[tokio::test]
async fn a_cyrillic_look_alike_of_an_existing_address_is_refused() {
    let app = start(TestEnv::new("identity")).await;
    register(&mut app.client().await, "paypal@example.com", PASSWORD).await;
    // U+0430 CYRILLIC SMALL LETTER A in place of both Latin `a`s, in the local part and in the
    // domain (U+0435 CYRILLIC SMALL LETTER IE for `e`).
    refused_email(&app, "p\u{430}yp\u{430}l@example.com").await;
    refused_email(&app, "paypal@\u{435}xample.com").await;
    // A whole-script look-alike: every letter Cyrillic, read as `paypal`.
    refused_email(
        &app,
        "\u{440}\u{430}\u{443}\u{440}\u{430}\u{4cf}@example.com",
    )
    .await;
    assert_eq!(app.user_count().await, 1, "no second account");
    app.stop().await;
}

#[tokio::test]
async fn a_mixed_script_local_part_is_refused_and_compatibility_forms_are_one_account() {
    let app = start(TestEnv::new("identity")).await;
    // Latin with a Greek omicron.
    refused_email(&app, "j\u{3bf}hn.smith@example.com").await;
    // Full-width letters are the same address after NFKC: it is taken, not a new account.
    register(&mut app.client().await, "ann@example.com", PASSWORD).await;
    let err = app
        .client()
        .await
        .register(pb::RegisterRequest {
            email: "\u{ff41}\u{ff4e}\u{ff4e}@example.com".into(),
            password: PASSWORD.into(),
            role: pb::Role::Candidate as i32,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    // Single-script addresses in other scripts are fine.
    register(
        &mut app.client().await,
        "\u{43e}\u{43b}\u{44f}@example.com",
        PASSWORD,
    )
    .await;
    assert_eq!(app.user_count().await, 2);
    app.stop().await;
}

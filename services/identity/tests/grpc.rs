//! Identity over raw gRPC against the real MySQL and Redis: the session life cycle, refresh-token
//! reuse, token forgery, throttling, bad input, key rotation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::{login, register, start, with_bearer};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use talentmesh_mesh::auth::Claims;
use talentmesh_mesh::error::{field_violations_of, rpc_status_of};
use talentmesh_proto::identity::v1 as pb;
use talentmesh_testkit::{sign_ed, TestEnv};
use tonic::Code;

const PASSWORD: &str = "correct horse 42";

fn claims(sub: &str, aud: &str, exp_in: i64) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: sub.into(),
        iss: "talentmesh-identity".into(),
        aud: aud.into(),
        exp: now + exp_in,
        nbf: now - 1,
        iat: now - 1,
        jti: "forged".into(),
        email: "x@example.com".into(),
        roles: vec!["admin".into()],
    }
}

#[tokio::test]
async fn session_life_cycle() {
    let app = start(TestEnv::new("identity")).await;
    let mut client = app.client().await;

    let user = register(&mut client, "  Ann@Example.com ", PASSWORD).await;
    assert_eq!(user.email, "ann@example.com", "email is normalised");
    assert!(user.name.starts_with("users/"));
    assert_eq!(user.roles, vec![pb::Role::Candidate as i32]);

    let tokens = login(&mut client, "ANN@example.com", PASSWORD).await;
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 900, "access tokens live 15 minutes");

    let me = client
        .get_current_user(with_bearer(
            pb::GetCurrentUserRequest {},
            &tokens.access_token,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(me.name, user.name);

    // Refresh rotates: a new pair, and the old refresh token is spent.
    let next = client
        .refresh(pb::RefreshRequest {
            refresh_token: tokens.refresh_token.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    assert_ne!(next.refresh_token, tokens.refresh_token);
    client
        .get_current_user(with_bearer(
            pb::GetCurrentUserRequest {},
            &next.access_token,
        ))
        .await
        .unwrap();

    // Logout ends the family: the live refresh token no longer works.
    client
        .logout(pb::LogoutRequest {
            refresh_token: next.refresh_token.clone(),
        })
        .await
        .unwrap();
    let err = client
        .refresh(pb::RefreshRequest {
            refresh_token: next.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    // Refresh tokens are stored hashed: the raw token appears in no Redis key or value.
    let keys = app.env.redis_keys("rt*").await;
    assert!(keys.iter().all(|k| !k.contains(&tokens.refresh_token)));
    app.stop().await;
}

#[tokio::test]
async fn reusing_a_spent_refresh_token_revokes_the_family() {
    // No retry window: the replay right after the spend is reuse (retries: refresh_retry.rs).
    let app =
        start(TestEnv::new("identity").set("TALENTMESH_IDENTITY_REFRESH_RETRY_WINDOW", "0s")).await;
    let mut client = app.client().await;
    register(&mut client, "bob@example.com", PASSWORD).await;
    let first = login(&mut client, "bob@example.com", PASSWORD).await;
    let second = client
        .refresh(pb::RefreshRequest {
            refresh_token: first.refresh_token.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();

    // A thief replays the first token: refused, and the family is revoked.
    let err = client
        .refresh(pb::RefreshRequest {
            refresh_token: first.refresh_token.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert_eq!(error_reason(&err).as_deref(), Some("REFRESH_TOKEN_REUSED"));

    // The owner's newer token died with the family.
    let err = client
        .refresh(pb::RefreshRequest {
            refresh_token: second.refresh_token,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);

    // A separate login is a separate family and still works.
    let other = login(&mut client, "bob@example.com", PASSWORD).await;
    client
        .refresh(pb::RefreshRequest {
            refresh_token: other.refresh_token,
        })
        .await
        .unwrap();
    app.stop().await;
}

#[tokio::test]
async fn forged_expired_and_missing_tokens_are_unauthenticated() {
    let app = start(TestEnv::new("identity")).await;
    let mut client = app.client().await;
    let user = register(&mut client, "carol@example.com", PASSWORD).await;
    let id = user.name.trim_start_matches("users/").to_string();
    let (kid, pkcs8, public) = app.signing_key().await;

    // Sanity: a token signed with the real key and right claims is accepted, so the refusals
    // below are about what each one changes.
    let good = sign_ed(&kid, &pkcs8, &claims(&id, "talentmesh", 60));
    client
        .get_current_user(with_bearer(pb::GetCurrentUserRequest {}, &good))
        .await
        .expect("a well-formed token verifies");

    let expired = sign_ed(&kid, &pkcs8, &claims(&id, "talentmesh", -120));
    let wrong_aud = sign_ed(&kid, &pkcs8, &claims(&id, "someone-else", 60));
    let other_key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let other_der = other_key.to_pkcs8_der().unwrap();
    let wrong_kid = sign_ed(
        "no-such-key",
        other_der.as_bytes(),
        &claims(&id, "talentmesh", 60),
    );
    let right_kid_wrong_key = sign_ed(&kid, other_der.as_bytes(), &claims(&id, "talentmesh", 60));
    let alg_none = {
        let header =
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#));
        let body =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(&id, "talentmesh", 60)).unwrap());
        format!("{header}.{body}.")
    };
    let hs256_with_public_key = {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(
            &header,
            &claims(&id, "talentmesh", 60),
            &jsonwebtoken::EncodingKey::from_secret(&public),
        )
        .unwrap()
    };

    for (what, token) in [
        ("expired", expired),
        ("wrong audience", wrong_aud),
        ("unknown kid", wrong_kid),
        ("known kid, other key", right_kid_wrong_key),
        ("alg none", alg_none),
        ("HS256 keyed with the public key", hs256_with_public_key),
        ("garbage", "not.a.jwt".to_string()),
    ] {
        let err = client
            .get_current_user(with_bearer(pb::GetCurrentUserRequest {}, &token))
            .await
            .expect_err(what);
        assert_eq!(err.code(), Code::Unauthenticated, "{what}");
    }
    let err = client
        .get_current_user(pb::GetCurrentUserRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "missing token");
    app.stop().await;
}

#[tokio::test]
async fn failed_logins_slow_down_their_address_even_for_the_right_password() {
    // Every call comes from the test's own address: its failures slow down that address's
    // logins to the account (other addresses: throttle.rs).
    let env = TestEnv::new("identity").set("TALENTMESH_IDENTITY_THROTTLE_PER_ACCOUNT", "3");
    let app = start(env).await;
    let mut client = app.client().await;
    register(&mut client, "dave@example.com", PASSWORD).await;
    for _ in 0..3 {
        let err = client
            .login(pb::LoginRequest {
                email: "dave@example.com".into(),
                password: "wrong password 1".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }
    let err = client
        .login(pb::LoginRequest {
            email: "dave@example.com".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    let status = rpc_status_of(&err);
    assert!(
        status
            .details
            .iter()
            .any(|d| d.type_url.ends_with("google.rpc.RetryInfo")),
        "retry info attached: {status:?}"
    );
    // Another account from the same address is not locked by dave's failures.
    register(&mut client, "erin@example.com", PASSWORD).await;
    login(&mut client, "erin@example.com", PASSWORD).await;
    app.stop().await;
}

#[tokio::test]
async fn bad_registrations_name_the_field_and_write_nothing() {
    let app = start(TestEnv::new("identity")).await;
    let mut client = app.client().await;
    register(&mut client, "frank@example.com", PASSWORD).await;
    let cases: Vec<(pb::RegisterRequest, Code, &str)> = vec![
        (
            pb::RegisterRequest {
                email: "not-an-email".into(),
                password: PASSWORD.into(),
                role: 1,
            },
            Code::InvalidArgument,
            "email",
        ),
        (
            pb::RegisterRequest {
                email: "".into(),
                password: PASSWORD.into(),
                role: 1,
            },
            Code::InvalidArgument,
            "email",
        ),
        (
            pb::RegisterRequest {
                email: "gina@example.com".into(),
                password: "short1".into(),
                role: 1,
            },
            Code::InvalidArgument,
            "password",
        ),
        (
            pb::RegisterRequest {
                email: "gina@example.com".into(),
                password: "nodigitshere".into(),
                role: 1,
            },
            Code::InvalidArgument,
            "password",
        ),
        (
            pb::RegisterRequest {
                email: "gina@example.com".into(),
                password: PASSWORD.into(),
                role: 0,
            },
            Code::InvalidArgument,
            "role",
        ),
        (
            pb::RegisterRequest {
                email: "gina@example.com".into(),
                password: PASSWORD.into(),
                role: pb::Role::Admin as i32,
            },
            Code::InvalidArgument,
            "role",
        ),
        (
            pb::RegisterRequest {
                email: "FRANK@example.com".into(),
                password: PASSWORD.into(),
                role: 1,
            },
            Code::AlreadyExists,
            "",
        ),
    ];
    for (req, code, field) in cases {
        let what = format!("{req:?}");
        let err = client.register(req).await.expect_err(&what);
        assert_eq!(err.code(), code, "{what}");
        if !field.is_empty() {
            let fields: Vec<String> = field_violations_of(&err)
                .into_iter()
                .map(|v| v.field)
                .collect();
            assert!(fields.iter().any(|f| f == field), "{what}: {fields:?}");
        }
    }
    assert_eq!(
        app.user_count().await,
        1,
        "no bad registration wrote a user"
    );
    let pool = app.env.mysql().await;
    assert_eq!(
        talentmesh_testkit::scalar_i64(&pool, "SELECT COUNT(*) FROM outbox").await,
        1,
        "only the good registration recorded an event"
    );
    app.stop().await;
}

#[tokio::test]
async fn registrations_and_the_bootstrap_admin_announce_user_registered() {
    let env = TestEnv::new("identity")
        .set("TALENTMESH_IDENTITY_ADMIN_EMAIL", "chief@example.com")
        .set("TALENTMESH_IDENTITY_ADMIN_PASSWORD", "bootstrap secret 9");
    let app = start(env).await;
    let mut client = app.client().await;
    let kim = register(&mut client, "kim@example.com", PASSWORD).await;
    let pool = app.env.mysql().await;
    let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(
        "SELECT subject, envelope FROM outbox WHERE event_type = \
         'talentmesh.events.v1.UserRegistered' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "the bootstrap admin and kim");
    assert_eq!(rows[1].0, kim.name);
    let envelope =
        <talentmesh_proto::events::v1::Envelope as prost::Message>::decode(rows[1].1.as_slice())
            .unwrap();
    assert_eq!(envelope.source, "identity");
    assert_eq!(envelope.entity_version, 1);
    let event = <talentmesh_proto::events::v1::UserRegistered as prost::Message>::decode(
        envelope.payload.unwrap().value.as_slice(),
    )
    .unwrap();
    assert_eq!(event.email, "kim@example.com");
    assert_eq!(event.roles, vec!["candidate".to_string()]);
    // The relay puts both on identity's stream.
    let published = talentmesh_testkit::eventually(std::time::Duration::from_secs(10), || {
        let pool = pool.clone();
        async move {
            talentmesh_testkit::scalar_i64(
                &pool,
                "SELECT COUNT(*) FROM outbox WHERE published_at IS NOT NULL",
            )
            .await
                == 2
        }
    })
    .await;
    assert!(published, "the relay did not publish identity's events");
    app.stop().await;
}

#[tokio::test]
async fn rotated_keys_keep_verifying_old_tokens_and_are_published() {
    let app = start(TestEnv::new("identity")).await;
    let mut client = app.client().await;
    register(&mut client, "hank@example.com", PASSWORD).await;
    let before = login(&mut client, "hank@example.com", PASSWORD).await;
    let old_kid = app.signing_key().await.0;

    // Rotate by inserting a newer key the way another instance would; this instance picks it up
    // when a token names it.
    let new_key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let pool = app.env.mysql().await;
    sqlx::query("INSERT INTO signing_keys (kid, private_pkcs8, public_key, created_at, expires_at) VALUES ('rotated-1', ?, ?, UTC_TIMESTAMP(6) + INTERVAL 1 SECOND, UTC_TIMESTAMP(6) + INTERVAL 1 DAY)")
        .bind(new_key.to_pkcs8_der().unwrap().as_bytes())
        .bind(new_key.verifying_key().to_bytes().as_slice())
        .execute(&pool)
        .await
        .unwrap();
    let me = claims("someone", "talentmesh", 60);
    let with_new = sign_ed(
        "rotated-1",
        new_key.to_pkcs8_der().unwrap().as_bytes(),
        &Claims {
            sub: before_sub(&mut client, &before.access_token).await,
            ..me
        },
    );
    client
        .get_current_user(with_bearer(pb::GetCurrentUserRequest {}, &with_new))
        .await
        .expect("token of the new key verifies");
    client
        .get_current_user(with_bearer(
            pb::GetCurrentUserRequest {},
            &before.access_token,
        ))
        .await
        .expect("token of the old key still verifies");
    let keys = client
        .list_public_keys(pb::ListPublicKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    let kids: Vec<&str> = keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids.first(), Some(&"rotated-1"), "newest first: {kids:?}");
    assert!(kids.contains(&old_kid.as_str()));
    assert!(keys
        .iter()
        .all(|k| k.kty == "OKP" && k.crv == "Ed25519" && k.alg == "EdDSA"));
    app.stop().await;
}

fn error_reason(status: &tonic::Status) -> Option<String> {
    use prost::Message;
    rpc_status_of(status)
        .details
        .iter()
        .find(|d| d.type_url.ends_with("google.rpc.ErrorInfo"))
        .and_then(|d| talentmesh_proto::google::rpc::ErrorInfo::decode(d.value.as_slice()).ok())
        .map(|i| i.reason)
}

async fn before_sub(
    client: &mut talentmesh_proto::identity::v1::identity_service_client::IdentityServiceClient<
        tonic::transport::Channel,
    >,
    token: &str,
) -> String {
    client
        .get_current_user(with_bearer(pb::GetCurrentUserRequest {}, token))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap()
        .name
        .trim_start_matches("users/")
        .to_string()
}

#[tokio::test]
async fn the_bootstrap_admin_may_read_any_account_and_others_may_not() {
    let env = TestEnv::new("identity")
        .set("TALENTMESH_IDENTITY_ADMIN_EMAIL", "root@example.com")
        .set("TALENTMESH_IDENTITY_ADMIN_PASSWORD", "bootstrap secret 9");
    let app = start(env).await;
    let mut client = app.client().await;
    let ivy = register(&mut client, "ivy@example.com", PASSWORD).await;
    let jay = register(&mut client, "jay@example.com", PASSWORD).await;

    let admin = client
        .login(pb::LoginRequest {
            email: "root@example.com".into(),
            password: "bootstrap secret 9".into(),
        })
        .await
        .expect("the bootstrap admin can log in")
        .into_inner();
    assert_eq!(admin.user.unwrap().roles, vec![pb::Role::Admin as i32]);
    let admin_token = admin.tokens.unwrap().access_token;
    let read = client
        .get_user(with_bearer(
            pb::GetUserRequest {
                name: ivy.name.clone(),
            },
            &admin_token,
        ))
        .await
        .expect("an admin reads any account")
        .into_inner();
    assert_eq!(read.user.unwrap().email, "ivy@example.com");

    // Jay may read himself but not Ivy, and cannot tell whether Ivy exists.
    let jay_token = login(&mut client, "jay@example.com", PASSWORD)
        .await
        .access_token;
    client
        .get_user(with_bearer(
            pb::GetUserRequest {
                name: jay.name.clone(),
            },
            &jay_token,
        ))
        .await
        .expect("a user reads their own account");
    for (name, code) in [
        (ivy.name.as_str(), Code::NotFound),
        ("users/does-not-exist", Code::NotFound),
        ("accounts/x", Code::InvalidArgument),
    ] {
        let err = client
            .get_user(with_bearer(
                pb::GetUserRequest { name: name.into() },
                &jay_token,
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{name}");
    }
    app.stop().await;
}

#[tokio::test]
async fn every_served_service_reports_its_health_and_nothing_else_is_reflected() {
    let app = start(TestEnv::new("identity")).await;
    talentmesh_testkit::assert_serving_exactly(
        &app.service,
        &[
            "talentmesh.identity.v1.IdentityService",
            "talentmesh.sync.v1.SyncAdminService",
        ],
    )
    .await;
    app.stop().await;
}
